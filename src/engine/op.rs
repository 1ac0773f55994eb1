//! Every change to an engine's state as one value: an [`Op`].
//!
//! The write methods of [`Engine`] each build an op and apply it; a
//! service (or a journal, or a replica) can as well build, store, send and
//! replay ops itself, through [`Engine::apply`]. A failed op changes
//! nothing.
//!
//! # Forms
//!
//! An op has a versioned JSON form for people ([`Op::to_json`],
//! [`Op::from_json`]) and a compact binary form for journals
//! ([`Op::to_bytes`], [`Op::from_bytes`]: a version byte, then the op in
//! [postcard](https://docs.rs/postcard)'s wire format). Both carry
//! [`OP_FORMAT_VERSION`] and refuse another.
//!
//! The JSON form is `{"v": 3, <family>: {<op>: {<fields>}}}`, the family
//! being `data`, `manage`, `time`, `log` or `schema`. Values in rows are tagged with their
//! type (`{"int": 5}`, `{"float": 2.5}`, `{"string": "pro"}`,
//! `{"bool": true}`, `{"timestamp": "2026-01-01T00:00:00Z"}`, `{"tags": [...]}`,
//! `"null"`); filters are their react-querybuilder JSON; ids are numbers;
//! instants are RFC 3339. Every op:
//!
//! ```text
//! {"v":3,"data":{"insert":{"kind":"account","key":"acme","row":{"mrr":{"int":1200}}}}}
//! {"v":3,"data":{"upsert":{"kind":"account","key":"acme","row":{"plan":{"string":"pro"},"nps":"null"}}}}
//! {"v":3,"data":{"upsert_json":{"kind":"account","json":"{\"key\":\"acme\",\"mrr\":900}"}}}
//! {"v":3,"data":{"clear_field":{"kind":"account","key":"acme","field":"nps"}}}
//! {"v":3,"data":{"insert_many":{"kind":"account","rows":[["a",{"mrr":{"int":1}}],["b",{}]]}}}
//! {"v":3,"data":{"upsert_many":{"kind":"account","rows":[["a",{"mrr":{"int":2}}]]}}}
//! {"v":3,"data":{"insert_json_lines":{"kind":"account","lines":"{\"key\":\"a\"}\n{\"key\":\"b\"}\n"}}}
//! {"v":3,"data":{"upsert_json_lines":{"kind":"account","lines":"{\"key\":\"a\",\"mrr\":5}\n"}}}
//! {"v":3,"data":{"delete":{"kind":"account","key":"acme"}}}
//! {"v":3,"data":{"delete_many":{"kind":"account","keys":["a","b"]}}}
//! {"v":3,"data":{"record_event":{"kind":"account","key":"acme","event":"login","at":"2026-01-01T00:00:00Z"}}}
//! {"v":3,"data":{"record_events":{"kind":"account","events":[{"key":"acme","event":"login","at":"2026-01-01T00:00:00Z"},{"key":"acme","event":"export","at":"2026-01-01T00:05:00Z","properties":{"format":"csv","rows":1200}}]}}}
//! {"v":3,"data":{"drop_events_before":{"kind":"account","before":"2026-01-01T00:00:00Z"}}}
//! {"v":3,"data":{"forget_event":{"kind":"account","event":"legacy_ping"}}}
//! {"v":3,"manage":{"create_segment":{"actor":{"id":"ada","role":"admin"},"segment":{"name":"At risk","kind":"account","filter":{"combinator":"and","rules":[{"field":"health","operator":"<","value":30}]},"visibility":"public"}}}}
//! {"v":3,"manage":{"create_segment":{"actor":{"id":"ada","role":"admin"},"segment":{"name":"VIP","kind":"account","filter":null,"visibility":"private","settings":{"description":"Our largest accounts"}}}}}
//! {"v":3,"manage":{"rename":{"actor":{"id":"ada","role":"admin"},"segment":1,"name":"Churn risk"}}}
//! {"v":3,"manage":{"set_visibility":{"actor":{"id":"ada","role":"admin"},"segment":1,"visibility":"private"}}}
//! {"v":3,"manage":{"set_filter":{"actor":{"id":"ada","role":"admin"},"segment":1,"filter":null}}}
//! {"v":3,"manage":{"delete_segment":{"actor":{"id":"ada","role":"admin"},"segment":1}}}
//! {"v":3,"manage":{"move_segment":{"actor":{"id":"ada","role":"admin"},"segment":1,"position":0}}}
//! {"v":3,"manage":{"reorder":{"actor":{"id":"ada","role":"admin"},"order":[2,1]}}}
//! {"v":3,"manage":{"attach_rule":{"actor":{"id":"ada","role":"admin"},"segment":1,"filter":{"combinator":"and","rules":[]}}}}
//! {"v":3,"manage":{"edit_rule":{"actor":{"id":"ada","role":"admin"},"rule":3,"filter":{"combinator":"or","rules":[]}}}}
//! {"v":3,"manage":{"detach_rule":{"actor":{"id":"ada","role":"admin"},"rule":3}}}
//! {"v":3,"manage":{"add_members":{"actor":{"id":"ada","role":"admin"},"segment":1,"keys":["acme"]}}}
//! {"v":3,"manage":{"add_member_ids":{"actor":{"id":"ada","role":"admin"},"segment":1,"ids":[0,7]}}}
//! {"v":3,"manage":{"remove_members":{"actor":{"id":"ada","role":"admin"},"segment":1,"keys":["acme"]}}}
//! {"v":3,"manage":{"remove_member_ids":{"actor":{"id":"ada","role":"admin"},"segment":1,"ids":[7]}}}
//! {"v":3,"manage":{"clear_blocks":{"actor":{"id":"ada","role":"admin"},"segment":1,"keys":["acme"]}}}
//! {"v":3,"manage":{"clear_all_blocks":{"actor":{"id":"ada","role":"admin"},"segment":1}}}
//! {"v":3,"manage":{"set_access":{"actor":{"id":"mo","role":"member","teams":["emea"]},"segment":2,"access":{"editors":[{"team":"emea"}],"viewers":[{"actor":"kim"}]}}}}
//! {"v":3,"manage":{"set_settings":{"actor":{"id":"ada","role":"admin"},"segment":1,"settings":{"color":"#d33","health":{"nps":0.3,"usage":0.7}},"if_version":4}}}
//! {"v":3,"schema":{"add_field":{"kind":"account","field":"csm","type":"string"}}}
//! {"v":3,"schema":{"remove_field":{"kind":"account","field":"legacy_score"}}}
//! {"v":3,"schema":{"add_relation":{"child":"user","field":"account_id","parent":"account"}}}
//! {"v":3,"time":{"refresh":{"now":"2026-01-01T00:00:00Z"}}}
//! {"v":3,"time":{"refresh_all":{"now":"2026-01-01T00:00:00Z"}}}
//! {"v":3,"time":{"set_clock":{"clock":{"fixed":"2026-01-01T00:00:00Z"}}}}
//! {"v":3,"time":{"set_clock":{"clock":"system"}}}
//! {"v":3,"log":{"ack":{"consumer":"crm-sync","seq":1200}}}
//! {"v":3,"log":{"forget_consumer":{"consumer":"crm-sync"}}}
//! {"v":3,"log":{"set_retention":{"retention":{"max_changes":100000,"max_bytes":null,"max_age_micros":null,"unacked":"keep"}}}}
//! ```
//!
//! (The docs' test `every_documented_op_reads_back` parses each of these
//! lines and writes it back byte for byte.)
//!
//! # Time
//!
//! An op applied with [`Engine::apply`] happens at the engine's clock, as
//! the method it stands for does: that instant is the `at` of its
//! [`Changes`], the creation and update times it sets, and the `now` of
//! relative-time rules it evaluates. [`Engine::apply_at`] applies it at a
//! given instant instead, which is how a replay gets the same answers.

use std::cell::Cell;
use std::fmt;

use roaring::RoaringBitmap;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::{Clock, Engine};
use crate::error::{Error, JournalError, OpError, SchemaChangeError, SegmentError, StoreError};
use crate::filter::Filter;
use crate::journal::Commit;
use crate::segment::log::Trigger;
use crate::segment::{Actor, Changes, NewSegment, Retention, RuleId, SegmentAccess, SegmentId, Settings, Visibility};
use crate::store::Row;
use crate::value::{Timestamp, Value};

/// The version of the JSON and binary forms of [`Op`] this crate writes.
/// It reads every version from [`OLDEST_OP_FORMAT_VERSION`] on: version 1
/// is version 2 without segment settings (a JSON op of version 1 reads as
/// the same op of version 2; a binary one has its own form of
/// `create_segment`), version 2 is version 3 without event properties (in
/// JSON the same op; in binary, an [`EventRecord`] without them).
pub const OP_FORMAT_VERSION: u32 = 3;

/// The oldest version of the forms of [`Op`] this crate reads.
pub const OLDEST_OP_FORMAT_VERSION: u32 = 1;

/// A change to an engine's state, applied by [`Engine::apply`].
///
/// # Examples
///
/// ```
/// use segments::engine::{DataOp, Op};
/// use segments::{Engine, FieldType, Row, Schema};
///
/// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
/// let op = Op::Data(DataOp::Upsert { kind: "account".into(), key: "acme".into(), row: Row::new().set("mrr", 1200) });
/// let json = op.to_json();
/// assert_eq!(json, r#"{"v":3,"data":{"upsert":{"kind":"account","key":"acme","row":{"mrr":{"int":1200}}}}}"#);
/// let back = Op::from_json(&json)?;
/// assert_eq!(Op::from_bytes(&back.to_bytes())?, op);
/// engine.apply(back)?;
/// assert_eq!(engine.store().table("account")?.len(), 1);
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Op {
    /// A write to entities or their events.
    Data(DataOp),
    /// A change to segments, rules or manual membership, by an actor.
    Manage(ManageOp),
    /// A refresh of time-relative rules, or a change of clock.
    Time(TimeOp),
    /// A consumer's cursor in the change log, or the log's retention.
    Log(LogOp),
    /// A change to the schema of a live engine.
    Schema(SchemaOp),
}

/// A change to the schema of a live engine. Each is the method of
/// [`Engine`] of the same name. It changes no membership: a field added is
/// missing everywhere and no rule reads it yet, a field removed is read by
/// no rule, and a relation added is read by no rule until one is saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SchemaOp {
    /// [`Engine::add_field`].
    AddField {
        /// The kind.
        kind: String,
        /// The new field's name.
        field: String,
        /// Its type.
        #[serde(rename = "type")]
        field_type: crate::FieldType,
    },
    /// [`Engine::remove_field`].
    RemoveField {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
    },
    /// [`Engine::add_relation`].
    AddRelation {
        /// The child kind.
        child: String,
        /// The child's string field that holds the parent's key.
        field: String,
        /// The parent kind.
        parent: String,
    },
}

/// A write to entities or their events. Each is the write method of
/// [`Engine`] of the same name, with the same rules and errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataOp {
    /// [`Engine::insert`].
    Insert {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// Its fields.
        #[serde(with = "row_form")]
        row: Row,
    },
    /// [`Engine::upsert`].
    Upsert {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// The fields written.
        #[serde(with = "row_form")]
        row: Row,
    },
    /// [`Engine::upsert_json`].
    UpsertJson {
        /// The kind.
        kind: String,
        /// One JSON object with a `key` member.
        json: String,
    },
    /// [`Engine::clear_field`].
    ClearField {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// The field made missing.
        field: String,
    },
    /// [`Engine::insert_many`].
    InsertMany {
        /// The kind.
        kind: String,
        /// Keys and fields, in order.
        #[serde(with = "rows_form")]
        rows: Vec<(String, Row)>,
    },
    /// [`Engine::upsert_many`].
    UpsertMany {
        /// The kind.
        kind: String,
        /// Keys and fields written, in order.
        #[serde(with = "rows_form")]
        rows: Vec<(String, Row)>,
    },
    /// [`Engine::load_json_lines`] with [`JsonLines::insert`](super::JsonLines::insert), over these bytes.
    InsertJsonLines {
        /// The kind.
        kind: String,
        /// The JSON Lines text.
        #[serde(with = "bytes_form")]
        lines: Vec<u8>,
    },
    /// [`Engine::load_json_lines`] with [`JsonLines::upsert`](super::JsonLines::upsert), over these bytes.
    UpsertJsonLines {
        /// The kind.
        kind: String,
        /// The JSON Lines text.
        #[serde(with = "bytes_form")]
        lines: Vec<u8>,
    },
    /// [`Engine::delete`].
    Delete {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
    },
    /// [`Engine::delete_many`].
    DeleteMany {
        /// The kind.
        kind: String,
        /// The keys, all live, none twice.
        keys: Vec<String>,
    },
    /// One event without properties (what 0.1's `record_event` journaled):
    /// [`Engine::record_events`] records events as [`DataOp::RecordEvents`].
    RecordEvent {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// The event's name.
        event: String,
        /// When it happened.
        at: Timestamp,
    },
    /// [`Engine::record_events`].
    RecordEvents {
        /// The kind.
        kind: String,
        /// The events, in order.
        events: Vec<EventRecord>,
    },
    /// [`Engine::drop_events_before`].
    DropEventsBefore {
        /// The kind.
        kind: String,
        /// Events before this instant go.
        before: Timestamp,
    },
    /// [`Engine::forget_event`].
    ForgetEvent {
        /// The kind.
        kind: String,
        /// The event name.
        event: String,
    },
}

/// One event of [`DataOp::RecordEvents`]. Its JSON form is
/// `{"key", "event", "at", "properties"}`, `properties` left out when empty.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// The entity's key.
    pub key: String,
    /// The event's name.
    pub event: String,
    /// When it happened.
    pub at: Timestamp,
    /// What the event carries (none for [`DataOp::RecordEvent`]).
    pub properties: crate::store::Properties,
}

impl EventRecord {
    /// An event without properties: `key` did `event` at `at`.
    pub fn new(key: impl Into<String>, event: impl Into<String>, at: Timestamp) -> EventRecord {
        EventRecord {
            key: key.into(),
            event: event.into(),
            at,
            properties: crate::store::Properties::new(),
        }
    }

    /// The event carrying `properties`, which a filter's `"where"` tests.
    pub fn with_properties(mut self, properties: crate::store::Properties) -> EventRecord {
        self.properties = properties;
        self
    }
}

/// `(key, event, at)`: an event without properties.
impl<K: AsRef<str>, E: AsRef<str>> From<(K, E, Timestamp)> for EventRecord {
    fn from((key, event, at): (K, E, Timestamp)) -> EventRecord {
        EventRecord::new(key.as_ref(), event.as_ref(), at)
    }
}

/// `(key, event, at, properties)`.
impl<K: AsRef<str>, E: AsRef<str>> From<(K, E, Timestamp, crate::store::Properties)> for EventRecord {
    fn from((key, event, at, properties): (K, E, Timestamp, crate::store::Properties)) -> EventRecord {
        EventRecord::new(key.as_ref(), event.as_ref(), at).with_properties(properties)
    }
}

/// A change to segments, rules or manual membership, on behalf of an
/// actor. Each is the method of [`Engine`] of the same name, with the same
/// access checks and errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ManageOp {
    /// [`Engine::create_segment`]; the new segment's id is in
    /// [`Applied::created`].
    CreateSegment {
        /// Who.
        actor: Actor,
        /// What.
        #[serde(with = "new_segment_form")]
        segment: NewSegment,
    },
    /// [`Engine::rename`].
    Rename {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The new name.
        name: String,
    },
    /// [`Engine::set_visibility`].
    SetVisibility {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Who sees it now.
        visibility: Visibility,
    },
    /// [`Engine::set_filter`].
    SetFilter {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The defining filter, or none.
        filter: Option<Filter>,
    },
    /// [`Engine::delete_segment`].
    DeleteSegment {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
    },
    /// [`Engine::move_segment`].
    MoveSegment {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Its new place in the listing order.
        position: usize,
    },
    /// [`Engine::reorder`].
    Reorder {
        /// Who.
        actor: Actor,
        /// Every segment, in the new order.
        order: Vec<SegmentId>,
    },
    /// [`Engine::attach_rule`]; the new rule's id is in [`Applied::created`].
    AttachRule {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The rule's filter.
        filter: Filter,
    },
    /// [`Engine::edit_rule`].
    EditRule {
        /// Who.
        actor: Actor,
        /// The rule.
        rule: RuleId,
        /// Its new filter.
        filter: Filter,
    },
    /// [`Engine::detach_rule`].
    DetachRule {
        /// Who.
        actor: Actor,
        /// The rule.
        rule: RuleId,
    },
    /// [`Engine::add_members`].
    AddMembers {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' keys.
        keys: Vec<String>,
    },
    /// Adds the entities by id as [`Engine::add_members`] does by key.
    AddMemberIds {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' ids.
        #[serde(with = "ids_form")]
        ids: RoaringBitmap,
    },
    /// [`Engine::remove_members`].
    RemoveMembers {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' keys.
        keys: Vec<String>,
    },
    /// Removes the entities by id as [`Engine::remove_members`] does by key.
    RemoveMemberIds {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' ids.
        #[serde(with = "ids_form")]
        ids: RoaringBitmap,
    },
    /// [`Engine::clear_blocks`].
    ClearBlocks {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' keys.
        keys: Vec<String>,
    },
    /// Clears every block of the segment, as [`Engine::clear_blocks`] does for the keys given.
    ClearAllBlocks {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
    },
    /// [`Engine::set_settings`] and [`Engine::set_settings_if`].
    SetSettings {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Its settings, replacing the ones it had.
        settings: Settings,
        /// The version of the definition the write goes over, or none to
        /// go over any.
        if_version: Option<u64>,
    },
    /// [`Engine::set_access`].
    SetAccess {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Its editors and viewers, replacing the ones it had.
        access: SegmentAccess,
    },
    /// [`Engine::attach_external_rule`]; the new rule's id is in
    /// [`Applied::created`].
    AttachExternalRule {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
    },
    /// [`Engine::set_external_matches`].
    SetExternalMatches {
        /// Who.
        actor: Actor,
        /// The external rule.
        rule: RuleId,
        /// The keys it matches, all of them.
        keys: Vec<String>,
    },
    /// [`Engine::change_external_matches`].
    ChangeExternalMatches {
        /// Who.
        actor: Actor,
        /// The external rule.
        rule: RuleId,
        /// Keys it matches now.
        added: Vec<String>,
        /// Keys it no longer matches.
        removed: Vec<String>,
    },
}

/// A refresh of time-relative rules, or a change of the engine's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimeOp {
    /// [`Engine::refresh`].
    Refresh {
        /// The instant the rules are evaluated at.
        now: Timestamp,
    },
    /// Re-evaluates every rule at `now` (a daily full refresh), where
    /// [`Engine::refresh`] re-evaluates the time-relative ones.
    RefreshAll {
        /// The instant the rules are evaluated at.
        now: Timestamp,
    },
    /// [`Engine::set_clock`].
    SetClock {
        /// The new clock.
        clock: Clock,
    },
}

/// A change to the change log's consumers or retention (see
/// [`Log::changes_since`](crate::engine::Log::changes_since)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LogOp {
    /// [`Engine::ack`].
    Ack {
        /// The consumer's name.
        consumer: String,
        /// The last sequence number it has handled.
        seq: u64,
    },
    /// Forgets a consumer: retention no longer keeps changes for it.
    /// [`LogError::UnknownConsumer`](crate::LogError::UnknownConsumer) for a consumer it does not know.
    ForgetConsumer {
        /// The consumer's name.
        consumer: String,
    },
    /// [`Engine::set_log_retention`].
    SetRetention {
        /// How much of the log to keep.
        retention: Retention,
    },
}

/// An op by reference, with the same serde form as [`Op`]: how a write is
/// journaled without copying its op.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OpRef<'a> {
    Data(&'a DataOp),
    Manage(&'a ManageOp),
    Time(&'a TimeOp),
    Log(&'a LogOp),
    Schema(&'a SchemaOp),
}

impl OpRef<'_> {
    /// Whether the op carries a filter nested past what any policy
    /// validates: such an op is refused by validation, and is not to be
    /// serialized (which recurses) on the way.
    pub(crate) fn too_deep(&self) -> bool {
        let deep = |f: &Filter| crate::filter::deeper_than(f, crate::filter::MAX_DEPTH_CAP);
        match self {
            OpRef::Manage(ManageOp::CreateSegment { segment, .. }) => {
                segment.filter.as_ref().is_some_and(deep) || segment.settings.too_deep()
            }
            OpRef::Manage(ManageOp::SetSettings { settings, .. }) => settings.too_deep(),
            OpRef::Manage(ManageOp::SetFilter { filter, .. }) => filter.as_ref().is_some_and(deep),
            OpRef::Manage(ManageOp::AttachRule { filter, .. } | ManageOp::EditRule { filter, .. }) => deep(filter),
            _ => false,
        }
    }

    /// The binary form, as [`Op::to_bytes`] gives it.
    pub(crate) fn to_bytes(&self, out: &mut Vec<u8>) {
        out.clear();
        out.push(OP_FORMAT_VERSION as u8);
        // Writing to a vector only fails on what cannot be serialized,
        // which no part of an op is.
        if let Ok(bytes) = postcard::to_extend(self, std::mem::take(out)) {
            *out = bytes;
        }
    }
}

/// What an op created, besides its membership changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Created {
    /// [`ManageOp::CreateSegment`]'s segment.
    Segment(SegmentId),
    /// [`ManageOp::AttachRule`]'s rule.
    Rule(RuleId),
}

/// What applying an op did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Applied {
    /// The membership changes it caused (none for an op that changes no
    /// membership, such as a rename).
    pub changes: Changes,
    /// What it created, if anything.
    pub created: Option<Created>,
}

impl Applied {
    fn changes(changes: Changes) -> Applied {
        Applied { changes, created: None }
    }
}

/// The JSON form: the version beside the op.
#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    v: u32,
    #[serde(flatten)]
    op: T,
}

impl Op {
    /// The versioned JSON form, on one line (see the [module
    /// docs](crate::engine::op) for every op's).
    pub fn to_json(&self) -> String {
        let v = Versioned {
            v: OP_FORMAT_VERSION,
            op: self,
        };
        // Every part of an op serializes (maps have string keys).
        serde_json::to_string(&v).unwrap_or_default()
    }

    /// An op from its JSON form.
    ///
    /// # Errors
    ///
    /// [`OpError::Version`] for another version, [`OpError::Json`] for
    /// text that is not an op, with where.
    pub fn from_json(text: &str) -> Result<Op, OpError> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let json_error = |e: serde_json::Error| OpError::Json {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        };
        let Version { v } = serde_json::from_str(text).map_err(json_error)?;
        if !(OLDEST_OP_FORMAT_VERSION..=OP_FORMAT_VERSION).contains(&v) {
            return Err(OpError::Version {
                found: v,
                supported: OP_FORMAT_VERSION,
            });
        }
        let Versioned { op, .. } = serde_json::from_str::<Versioned<Op>>(text).map_err(json_error)?;
        Ok(op)
    }

    /// The binary form: the version as one byte, then the op in postcard's
    /// wire format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.as_ref().to_bytes(&mut out);
        out
    }

    /// The op by reference (the same serde form).
    fn as_ref(&self) -> OpRef<'_> {
        match self {
            Op::Data(op) => OpRef::Data(op),
            Op::Manage(op) => OpRef::Manage(op),
            Op::Time(op) => OpRef::Time(op),
            Op::Log(op) => OpRef::Log(op),
            Op::Schema(op) => OpRef::Schema(op),
        }
    }

    /// An op from its binary form.
    ///
    /// # Errors
    ///
    /// [`OpError::Version`] for another version, [`OpError::Binary`] for
    /// bytes that are not an op (or have bytes left over after it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Op, OpError> {
        let (&v, rest) = bytes.split_first().ok_or_else(|| OpError::Binary {
            message: "empty".into(),
        })?;
        if !(OLDEST_OP_FORMAT_VERSION..=OP_FORMAT_VERSION).contains(&u32::from(v)) {
            return Err(OpError::Version {
                found: u32::from(v),
                supported: OP_FORMAT_VERSION,
            });
        }
        let reading = Reading::new(u32::from(v));
        let read = postcard::take_from_bytes::<Op>(rest);
        drop(reading);
        let (op, left) = read.map_err(|e| OpError::Binary { message: e.to_string() })?;
        if !left.is_empty() {
            return Err(OpError::Binary {
                message: format!("{} bytes after the op", left.len()),
            });
        }
        Ok(op)
    }
}

impl Engine {
    /// Applies an op: the one door every write goes through (the write
    /// methods each build one and apply it). It happens at the engine's
    /// clock; a failed op changes nothing. On an engine opened on a
    /// directory ([`Engine::open`]) the op is journaled before this
    /// returns, durable as the directory's [`Durability`](crate::journal::Durability) says.
    ///
    /// # Errors
    ///
    /// What the method the op stands for refuses, as an [`Error`];
    /// [`Error::Journal`] if the op could not be journaled (it was not
    /// applied).
    pub fn apply(&mut self, op: Op) -> Result<Applied, Error> {
        let (applied, commit) = self.apply_deferred(op)?;
        commit.wait()?;
        Ok(applied)
    }

    /// As [`Engine::apply`], returning before the op is durable, with the
    /// [`Commit`] to wait on: a writer behind a lock releases it before it
    /// waits, so that writers waiting together share one sync (group
    /// commit). Waiting on a commit also makes every op before it durable.
    /// Until then a crash may lose the op (and the ops after it, never
    /// the ones before); an in-memory engine's commits are done at once.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use segments::journal::Options;
    /// use segments::{DataOp, Engine, FieldType, Op, Row, Schema};
    ///
    /// let dir = std::env::temp_dir().join(format!("segments-doc-deferred-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
    /// let engine = Mutex::new(Engine::open(&dir, Options::new(schema))?.0);
    /// std::thread::scope(|s| {
    ///     for t in 0..4 {
    ///         let engine = &engine;
    ///         s.spawn(move || {
    ///             let op = Op::Data(DataOp::Insert {
    ///                 kind: "account".into(), key: format!("k{t}"), row: Row::new().set("mrr", t) });
    ///             let (_, commit) = engine.lock().unwrap().apply_deferred(op).unwrap();
    ///             commit.wait().unwrap(); // the lock is free meanwhile
    ///         });
    ///     }
    /// });
    /// assert_eq!(engine.lock().unwrap().store().table("account")?.len(), 4);
    /// # drop(engine);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn apply_deferred(&mut self, op: Op) -> Result<(Applied, Commit), Error> {
        match op {
            Op::Data(op) => {
                let (c, commit) = self.apply_data_deferred(op)?;
                Ok((Applied::changes(c), commit))
            }
            Op::Manage(op) => Ok(self.apply_manage_deferred(op)?),
            Op::Time(op) => {
                let (c, commit) = self.apply_time_deferred(op)?;
                Ok((Applied::changes(c), commit))
            }
            Op::Log(op) => {
                let ((), commit) = self.apply_log_deferred(op)?;
                Ok((Applied::changes(Changes::new(self.now())), commit))
            }
            Op::Schema(op) => {
                let ((), commit) = self.apply_schema_deferred(op)?;
                Ok((Applied::changes(Changes::new(self.now())), commit))
            }
        }
    }

    /// A schema op through the journal, durable on return.
    pub(super) fn apply_schema(&mut self, op: SchemaOp) -> Result<(), SchemaChangeError> {
        let ((), commit) = self.apply_schema_deferred(op)?;
        commit.wait()?;
        Ok(())
    }

    fn apply_schema_deferred(&mut self, op: SchemaOp) -> Result<((), Commit), SchemaChangeError> {
        let started = self.begin(OpRef::Schema(&op))?;
        let out = self.exec_schema(op);
        if out.is_ok() {
            self.version = self.version.wrapping_add(1);
        }
        self.finish(started, out)
    }

    /// A log op through the journal, durable on return.
    pub(super) fn apply_log(&mut self, op: LogOp) -> Result<(), Error> {
        let ((), commit) = self.apply_log_deferred(op)?;
        commit.wait()?;
        Ok(())
    }

    fn apply_log_deferred(&mut self, op: LogOp) -> Result<((), Commit), Error> {
        let started = self.begin(OpRef::Log(&op))?;
        let out = match op {
            LogOp::Ack { consumer, seq } => self.log.ack(&consumer, seq),
            LogOp::ForgetConsumer { consumer } => self.log.forget(&consumer),
            LogOp::SetRetention { retention } => {
                self.log.retention = retention;
                self.log.trim();
                Ok(())
            }
        }
        .map_err(Error::from);
        self.finish(started, out)
    }

    /// A data op through the journal, durable on return.
    pub(super) fn apply_data(&mut self, op: DataOp) -> Result<Changes, StoreError> {
        let (c, commit) = self.apply_data_deferred(op)?;
        commit.wait()?;
        Ok(c)
    }

    /// A management op through the journal, durable on return.
    pub(super) fn apply_manage(&mut self, op: ManageOp) -> Result<Applied, SegmentError> {
        let (a, commit) = self.apply_manage_deferred(op)?;
        commit.wait()?;
        Ok(a)
    }

    /// A time op through the journal, durable on return. On a journal that
    /// fails, the op does not happen and the journal's error is returned.
    pub(super) fn apply_time(&mut self, op: TimeOp) -> Result<Changes, JournalError> {
        let (c, commit) = self.apply_time_deferred(op)?;
        commit.wait()?;
        Ok(c)
    }

    fn apply_data_deferred(&mut self, op: DataOp) -> Result<(Changes, Commit), StoreError> {
        let started = self.begin(OpRef::Data(&op))?;
        let out = self.run_data(op);
        if let Ok(c) = &out {
            self.version = self.version.wrapping_add(1);
            let versions = self.versions_of(c, None);
            self.log.record(Trigger::Write, c, versions);
        }
        self.finish(started, out)
    }

    fn apply_manage_deferred(&mut self, op: ManageOp) -> Result<(Applied, Commit), SegmentError> {
        let started = self.begin(OpRef::Manage(&op))?;
        let (trigger, gone) = match &op {
            ManageOp::DeleteSegment { segment, .. } => (Trigger::SegmentDeleted, self.gone(*segment)),
            ManageOp::AddMembers { .. }
            | ManageOp::AddMemberIds { .. }
            | ManageOp::RemoveMembers { .. }
            | ManageOp::RemoveMemberIds { .. }
            | ManageOp::ClearBlocks { .. }
            | ManageOp::ClearAllBlocks { .. } => (Trigger::Manual, None),
            ManageOp::SetExternalMatches { .. } | ManageOp::ChangeExternalMatches { .. } => (Trigger::External, None),
            _ => (Trigger::DefinitionEdited, None),
        };
        let pending = self.pending_edit(&op);
        let out = self.run_manage(op);
        if let Ok(a) = &out {
            if let Some(p) = pending {
                self.recorded_edit(p, a.created);
            }
            let versions = self.versions_of(&a.changes, gone.as_ref());
            self.log.record(trigger, &a.changes, versions);
            if let Some((id, name, kind, _)) = gone {
                // Its changes in the log still name it.
                self.log.segment_gone(id, name, kind);
            }
        }
        self.finish(started, out)
    }

    fn apply_time_deferred(&mut self, op: TimeOp) -> Result<(Changes, Commit), JournalError> {
        let started = self.begin(OpRef::Time(&op))?;
        let out: Result<Changes, JournalError> = Ok(self.run_time(op));
        if let Ok(c) = &out {
            let versions = self.versions_of(c, None);
            self.log.record(Trigger::TimePassed, c, versions);
        }
        self.finish(started, out)
    }

    /// As [`Engine::apply`], at the instant `at`: the op runs as if the
    /// clock said `at`, and the clock is left as it was (unless the op sets
    /// it). How a replay of ops recorded with their instants gets the same
    /// answers.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`].
    pub fn apply_at(&mut self, op: Op, at: Timestamp) -> Result<Applied, Error> {
        // The op runs at `at`; the clock itself is left alone (a change of
        // clock the op makes stays).
        let pinned = self.pinned.replace(at);
        let out = self.apply(op);
        self.pinned = pinned;
        out
    }

    /// Runs a data op: the one function that runs entity writes.
    pub(super) fn run_data(&mut self, op: DataOp) -> Result<Changes, StoreError> {
        match op {
            DataOp::Insert { kind, key, row } => self.write(&kind, |t| t.write_one(&key, &row, false)),
            DataOp::Upsert { kind, key, row } => self.write(&kind, |t| t.write_one(&key, &row, true)),
            DataOp::UpsertJson { kind, json } => self.write(&kind, |t| t.upsert_json_report(&json)),
            DataOp::ClearField { kind, key, field } => self.write(&kind, |t| t.clear_field_report(&key, &field)),
            DataOp::InsertMany { kind, rows } => self.write(&kind, |t| t.write_many(rows, false)),
            DataOp::UpsertMany { kind, rows } => self.write(&kind, |t| t.write_many(rows, true)),
            DataOp::InsertJsonLines { kind, lines } => self.write(&kind, |t| t.write_json_lines(&lines[..], false)),
            DataOp::UpsertJsonLines { kind, lines } => self.write(&kind, |t| t.write_json_lines(&lines[..], true)),
            DataOp::Delete { kind, key } => self.delete_keys(&kind, &[key]),
            DataOp::DeleteMany { kind, keys } => self.delete_keys(&kind, &keys),
            DataOp::RecordEvent { kind, key, event, at } => self.record(&kind, &[(key, event, at)], None),
            DataOp::RecordEvents { kind, events } => {
                let (events, props): (Vec<(String, String, Timestamp)>, Vec<_>) = events
                    .into_iter()
                    .map(|e| ((e.key, e.event, e.at), e.properties))
                    .unzip();
                let props = props.iter().any(|p| !p.is_empty()).then_some(&props[..]);
                self.record(&kind, &events, props)
            }
            DataOp::DropEventsBefore { kind, before } => self.drop_events(&kind, before),
            DataOp::ForgetEvent { kind, event } => self.exec_forget_event(&kind, &event),
        }
    }

    /// Runs a management op: the one function that runs them.
    pub(super) fn run_manage(&mut self, op: ManageOp) -> Result<Applied, SegmentError> {
        let changes = |c: Changes| Applied::changes(c);
        let nothing = |e: &Engine| Applied::changes(Changes::new(e.now()));
        Ok(match op {
            ManageOp::CreateSegment { actor, segment } => {
                let (id, c) = self.exec_create_segment(&actor, segment)?;
                Applied {
                    changes: c,
                    created: Some(Created::Segment(id)),
                }
            }
            ManageOp::Rename { actor, segment, name } => {
                self.exec_rename(&actor, segment, &name)?;
                nothing(self)
            }
            ManageOp::SetVisibility {
                actor,
                segment,
                visibility,
            } => {
                self.exec_set_visibility(&actor, segment, visibility)?;
                nothing(self)
            }
            ManageOp::SetFilter { actor, segment, filter } => changes(self.exec_set_filter(&actor, segment, filter)?),
            ManageOp::DeleteSegment { actor, segment } => changes(self.exec_delete_segment(&actor, segment)?),
            ManageOp::MoveSegment {
                actor,
                segment,
                position,
            } => {
                self.exec_move_segment(&actor, segment, position)?;
                nothing(self)
            }
            ManageOp::Reorder { actor, order } => {
                self.exec_reorder(&actor, &order)?;
                nothing(self)
            }
            ManageOp::AttachRule { actor, segment, filter } => {
                let (id, c) = self.exec_attach_rule(&actor, segment, filter)?;
                Applied {
                    changes: c,
                    created: Some(Created::Rule(id)),
                }
            }
            ManageOp::EditRule { actor, rule, filter } => changes(self.exec_edit_rule(&actor, rule, filter)?),
            ManageOp::DetachRule { actor, rule } => changes(self.exec_detach_rule(&actor, rule)?),
            ManageOp::AddMembers { actor, segment, keys } => {
                let ids = self.ids_of(&actor, segment, &keys)?;
                changes(self.add_manual(segment, ids))
            }
            ManageOp::AddMemberIds { actor, segment, ids } => {
                self.check_ids(&actor, segment, &ids)?;
                changes(self.add_manual(segment, ids))
            }
            ManageOp::RemoveMembers { actor, segment, keys } => {
                let ids = self.ids_of(&actor, segment, &keys)?;
                changes(self.remove_manual(segment, &ids))
            }
            ManageOp::RemoveMemberIds { actor, segment, ids } => {
                self.check_ids(&actor, segment, &ids)?;
                changes(self.remove_manual(segment, &ids))
            }
            ManageOp::ClearBlocks { actor, segment, keys } => {
                let ids = self.ids_of(&actor, segment, &keys)?;
                changes(self.unblock(segment, Some(ids))?)
            }
            ManageOp::ClearAllBlocks { actor, segment } => {
                self.managed(&actor, segment, crate::segment::Action::EditMembers)?;
                changes(self.unblock(segment, None)?)
            }
            ManageOp::SetSettings {
                actor,
                segment,
                settings,
                if_version,
            } => {
                self.exec_set_settings(&actor, segment, settings, if_version)?;
                nothing(self)
            }
            ManageOp::SetAccess { actor, segment, access } => {
                self.exec_set_access(&actor, segment, access)?;
                nothing(self)
            }
            ManageOp::AttachExternalRule { actor, segment } => {
                let (id, c) = self.exec_attach_external_rule(&actor, segment)?;
                Applied {
                    changes: c,
                    created: Some(Created::Rule(id)),
                }
            }
            ManageOp::SetExternalMatches { actor, rule, keys } => {
                changes(self.exec_external_matches(&actor, rule, &keys)?)
            }
            ManageOp::ChangeExternalMatches {
                actor,
                rule,
                added,
                removed,
            } => changes(self.exec_external_matches_change(&actor, rule, &added, &removed)?),
        })
    }

    /// Runs a time op.
    pub(super) fn run_time(&mut self, op: TimeOp) -> Changes {
        match op {
            TimeOp::Refresh { now } => self.exec_refresh(now),
            TimeOp::RefreshAll { now } => self.exec_refresh_all(now),
            TimeOp::SetClock { clock } => {
                // Stamped with the instant the change was made at.
                let at = self.now();
                self.clock = clock;
                Changes::new(at)
            }
        }
    }
}

// ---- the serde forms of the parts that have no derive of their own ----

impl Serialize for Clock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Form {
            System,
            Fixed(Timestamp),
        }
        match *self {
            Clock::System => Form::System,
            Clock::Fixed(t) => Form::Fixed(t),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Clock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Clock, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Form {
            System,
            Fixed(Timestamp),
        }
        Ok(match Form::deserialize(d)? {
            Form::System => Clock::System,
            Form::Fixed(t) => Clock::Fixed(t),
        })
    }
}

/// A row as a map from field to tagged value, in its order (a field set
/// twice appears twice, so that the last still wins).
mod row_form {
    use super::*;

    pub(super) fn serialize<S: Serializer>(row: &Row, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(row.len()))?;
        for (field, value) in row.iter() {
            m.serialize_entry(field, value)?;
        }
        m.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Row, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from field to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Row, A::Error> {
                let mut row = Row::new();
                while let Some((field, value)) = m.next_entry::<String, Value>()? {
                    row = row.set(field, value);
                }
                Ok(row)
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// Rows as `[key, row]` pairs.
mod rows_form {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Pair(String, #[serde(with = "row_form")] Row);

    #[derive(Serialize)]
    struct PairRef<'a>(&'a str, #[serde(with = "row_form")] &'a Row);

    pub(super) fn serialize<S: Serializer>(rows: &[(String, Row)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(rows.iter().map(|(k, r)| PairRef(k, r)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Row)>, D::Error> {
        let pairs = Vec::<Pair>::deserialize(d)?;
        Ok(pairs.into_iter().map(|Pair(k, r)| (k, r)).collect())
    }
}

/// JSON Lines text: a string when it is UTF-8 (as it must be to load), an
/// array of bytes otherwise, so that any input round-trips; bytes in
/// binary formats.
mod bytes_form {
    use super::*;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) if s.is_human_readable() => s.serialize_str(text),
            _ => s.serialize_bytes(bytes),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                Ok(v.as_bytes().to_vec())
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(BytesVisitor)
        } else {
            d.deserialize_bytes(BytesVisitor)
        }
    }
}

/// Entity ids as an ascending list of numbers.
mod ids_form {
    use super::*;

    pub(super) fn serialize<S: Serializer>(ids: &RoaringBitmap, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RoaringBitmap, D::Error> {
        Ok(Vec::<u32>::deserialize(d)?.into_iter().collect())
    }
}

/// A new segment's name, kind, filter, visibility and settings. JSON
/// leaves out settings that are empty (and reads their absence as empty);
/// the binary form always has them, except version 1's, which had none.
mod new_segment_form {
    use super::*;

    #[derive(Serialize)]
    struct Ref<'a> {
        name: &'a str,
        kind: &'a str,
        filter: &'a Option<Filter>,
        visibility: Visibility,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "present")]
        settings: Option<&'a Settings>,
    }

    #[derive(Deserialize)]
    struct Owned {
        name: String,
        kind: String,
        filter: Option<Filter>,
        visibility: Visibility,
        #[serde(default)]
        settings: Settings,
    }

    #[derive(Deserialize)]
    struct OwnedV1 {
        name: String,
        kind: String,
        filter: Option<Filter>,
        visibility: Visibility,
    }

    pub(super) fn serialize<S: Serializer>(n: &NewSegment, s: S) -> Result<S::Ok, S::Error> {
        // A binary form holds every field; JSON leaves empty settings out.
        let settings = (!s.is_human_readable() || !n.settings.is_empty()).then_some(&n.settings);
        Ref {
            name: &n.name,
            kind: &n.kind,
            filter: &n.filter,
            visibility: n.visibility,
            settings,
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NewSegment, D::Error> {
        let o = if !d.is_human_readable() && reading() == 1 {
            let o = OwnedV1::deserialize(d)?;
            Owned {
                name: o.name,
                kind: o.kind,
                filter: o.filter,
                visibility: o.visibility,
                settings: Settings::new(),
            }
        } else {
            Owned::deserialize(d)?
        };
        let mut n = NewSegment::new(o.name, o.kind)
            .visibility(o.visibility)
            .settings(o.settings);
        n.filter = o.filter;
        Ok(n)
    }
}

/// A field that is left out when `None` written as its value when not: not
/// as an option, which a binary form would tag.
fn present<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => v.serialize(s),
        None => s.serialize_unit(),
    }
}

thread_local! {
    /// The version of the binary form [`Op::from_bytes`] is reading (the
    /// current one otherwise).
    static READING: Cell<u32> = const { Cell::new(OP_FORMAT_VERSION) };
}

/// The version of the binary form being read.
fn reading() -> u32 {
    READING.with(Cell::get)
}

/// An actor's serde form: `{"id", "role", "teams"}`, JSON leaving out no
/// teams (and reading their absence as none); the binary form always has
/// them, except version 1's, which had none.
mod actor_form {
    use super::*;
    use crate::segment::Role;

    #[derive(Serialize)]
    struct Ref<'a> {
        id: &'a str,
        role: Role,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "present")]
        teams: Option<&'a [String]>,
    }

    #[derive(Deserialize)]
    struct Owned {
        id: String,
        role: Role,
        #[serde(default)]
        teams: Vec<String>,
    }

    #[derive(Deserialize)]
    struct OwnedV1 {
        id: String,
        role: Role,
    }

    impl Serialize for Actor {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let teams = (!s.is_human_readable() || !self.teams.is_empty()).then_some(&self.teams[..]);
            Ref {
                id: &self.id,
                role: self.role,
                teams,
            }
            .serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for Actor {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
            if !d.is_human_readable() && reading() == 1 {
                let o = OwnedV1::deserialize(d)?;
                return Ok(Actor::new(o.id, o.role));
            }
            let o = Owned::deserialize(d)?;
            Ok(Actor::new(o.id, o.role).in_teams(o.teams))
        }
    }
}

/// Sets [`READING`] while it lives (reset on any exit, a panic too).
struct Reading(u32);

impl Reading {
    fn new(v: u32) -> Reading {
        Reading(READING.with(|r| r.replace(v)))
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        READING.with(|r| r.set(self.0));
    }
}

/// An [`EventRecord`]'s serde form: JSON leaves out no properties; the
/// binary form always has them, except before version 3.
mod event_form {
    use super::*;
    use crate::store::Properties;

    #[derive(Serialize)]
    struct Ref<'a> {
        key: &'a str,
        event: &'a str,
        at: Timestamp,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "present")]
        properties: Option<&'a Properties>,
    }

    #[derive(Deserialize)]
    struct Owned {
        key: String,
        event: String,
        at: Timestamp,
        #[serde(default)]
        properties: Properties,
    }

    #[derive(Deserialize)]
    struct OwnedV2 {
        key: String,
        event: String,
        at: Timestamp,
    }

    impl Serialize for EventRecord {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let properties = (!s.is_human_readable() || !self.properties.is_empty()).then_some(&self.properties);
            Ref {
                key: &self.key,
                event: &self.event,
                at: self.at,
                properties,
            }
            .serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for EventRecord {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventRecord, D::Error> {
            if !d.is_human_readable() && reading() < 3 {
                let o = OwnedV2::deserialize(d)?;
                return Ok(EventRecord {
                    key: o.key,
                    event: o.event,
                    at: o.at,
                    properties: Properties::new(),
                });
            }
            let o = Owned::deserialize(d)?;
            Ok(EventRecord {
                key: o.key,
                event: o.event,
                at: o.at,
                properties: o.properties,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module docs show every op's JSON: each line reads back as an op
    /// that writes the same line, and goes through the binary form intact.
    #[test]
    fn every_documented_op_reads_back() {
        let docs = include_str!("op.rs");
        let lines: Vec<&str> = docs
            .lines()
            .filter_map(|l| l.strip_prefix("//! "))
            .filter(|l| l.starts_with("{\"v\":3"))
            .collect();
        let mut families = std::collections::BTreeSet::new();
        for line in &lines {
            let op = Op::from_json(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(op.to_json(), *line);
            assert_eq!(Op::from_bytes(&op.to_bytes()), Ok(op.clone()), "{line}");
            // The variant's name, to count them.
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let family = v.as_object().and_then(|o| o.iter().find(|(k, _)| *k != "v"));
            if let Some((f, inner)) = family {
                if let Some((name, _)) = inner.as_object().and_then(|o| o.iter().next()) {
                    families.insert(format!("{f}.{name}"));
                }
            }
        }
        // 14 data ops, 18 management ops, 3 time ops, 3 log ops, 3 schema ops.
        assert_eq!(families.len(), 41, "{families:?}");
    }

    /// Ops written by the release before settings (version 1) read back
    /// as the same ops, with no settings: a journal it left replays.
    #[test]
    fn version_1_ops_read_back() {
        let fixture = include_str!("../../tests/fixtures/ops-v1.hex");
        let ops: Vec<Op> = fixture
            .lines()
            .map(|l| {
                let bytes: Vec<u8> = (0..l.len() / 2)
                    .map(|i| u8::from_str_radix(&l[2 * i..2 * i + 2], 16).unwrap())
                    .collect();
                Op::from_bytes(&bytes).unwrap()
            })
            .collect();
        let admin = Actor::new("ada", crate::segment::Role::Admin);
        let mo = Actor::new("mo", crate::segment::Role::Member);
        let filter =
            Filter::from_json(r#"{"combinator":"and","rules":[{"field":"health","operator":"<","value":30}]}"#)
                .unwrap();
        assert_eq!(
            ops,
            [
                Op::Manage(ManageOp::CreateSegment {
                    actor: admin,
                    segment: NewSegment::new("At risk", "account").filter(filter),
                }),
                Op::Manage(ManageOp::CreateSegment {
                    actor: mo,
                    segment: NewSegment::new("Mine", "account").visibility(Visibility::Private),
                }),
            ]
        );
        // Written again, they are the current version, and hold their settings.
        let with = Op::Manage(ManageOp::CreateSegment {
            actor: Actor::new("ada", crate::segment::Role::Admin),
            segment: NewSegment::new("S", "account").settings([("color", "red")].into_iter().collect()),
        });
        assert_eq!(u32::from(with.to_bytes()[0]), OP_FORMAT_VERSION);
        assert_eq!(Op::from_bytes(&with.to_bytes()), Ok(with.clone()));
        assert_eq!(Op::from_json(&with.to_json()), Ok(with));
        // A JSON op of version 1 reads as the same op.
        let v1 = r#"{"v":1,"manage":{"rename":{"actor":{"id":"ada","role":"admin"},"segment":1,"name":"X"}}}"#;
        assert_eq!(Op::from_json(v1).unwrap().to_json(), v1.replace("\"v\":1", "\"v\":3"));
    }

    #[test]
    fn versions_and_damage_are_refused() {
        let op = Op::Time(TimeOp::Refresh {
            now: Timestamp::from_micros(5),
        });
        assert_eq!(
            Op::from_json(r#"{"v":4,"time":{"refresh":{"now":5}}}"#),
            Err(OpError::Version { found: 4, supported: 3 })
        );
        assert!(matches!(
            Op::from_json(r#"{"v":0,"time":{"refresh":{"now":5}}}"#),
            Err(OpError::Version { found: 0, .. })
        ));
        let mut bytes = op.to_bytes();
        bytes[0] = 9;
        assert!(matches!(Op::from_bytes(&bytes), Err(OpError::Version { found: 9, .. })));
        let mut long = op.to_bytes();
        long.push(0);
        assert!(matches!(Op::from_bytes(&long), Err(OpError::Binary { .. })));
        assert!(matches!(Op::from_bytes(&[]), Err(OpError::Binary { .. })));
        let cut = op.to_bytes();
        assert!(matches!(
            Op::from_bytes(&cut[..cut.len() - 1]),
            Err(OpError::Binary { .. })
        ));
        let e = Op::from_json(r#"{"v":1,"time":{"refresh":{"now":"soon"}}}"#).unwrap_err();
        assert!(matches!(e, OpError::Json { line: 1, .. }), "{e}");
        // A row keeps a field set twice, in order, so the last still wins.
        let row = Row::new().set("a", 1).set("a", 2);
        let op = Op::Data(DataOp::Upsert {
            kind: "k".into(),
            key: "x".into(),
            row,
        });
        assert_eq!(Op::from_json(&op.to_json()), Ok(op.clone()));
        assert_eq!(Op::from_bytes(&op.to_bytes()), Ok(op));
        // JSON Lines that are not UTF-8 still round-trip.
        let op = Op::Data(DataOp::InsertJsonLines {
            kind: "k".into(),
            lines: vec![b'{', 0xff, b'}'],
        });
        assert_eq!(Op::from_json(&op.to_json()), Ok(op.clone()));
        assert_eq!(Op::from_bytes(&op.to_bytes()), Ok(op));
    }
}
