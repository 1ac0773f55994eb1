//! Every change to an engine's state as one value: an [`Op`].
//!
//! The write methods of [`Engine`](crate::Engine) each build an op and apply it; a
//! service (or a journal, or a replica) can as well build, store, send and
//! replay ops itself, through [`Engine::apply`](crate::Engine::apply). A failed op changes
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
//! An op applied with [`Engine::apply`](crate::Engine::apply) happens at the engine's clock, as
//! the method it stands for does: that instant is the `at` of its
//! [`Changes`], the creation and update times it sets, and the `now` of
//! relative-time rules it evaluates. [`Engine::apply_at`](crate::Engine::apply_at) applies it at a
//! given instant instead, which is how a replay gets the same answers.

mod form;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::error::OpError;
use crate::filter::Filter;
use crate::segment::{Actor, Changes, NewSegment, Retention, RuleId, SegmentAccess, SegmentId, Settings, Visibility};
use crate::store::Row;
use crate::value::{Clock, Timestamp};
use form::{bytes_form, ids_form, new_segment_form, row_form, rows_form, Reading};

/// The version of the JSON and binary forms of [`Op`] this crate writes.
/// It reads every version from [`OLDEST_OP_FORMAT_VERSION`] on: version 1
/// is version 2 without segment settings (a JSON op of version 1 reads as
/// the same op of version 2; a binary one has its own form of
/// `create_segment`), version 2 is version 3 without event properties (in
/// JSON the same op; in binary, an [`EventRecord`] without them).
pub const OP_FORMAT_VERSION: u32 = 3;

/// The oldest version of the forms of [`Op`] this crate reads.
pub const OLDEST_OP_FORMAT_VERSION: u32 = 1;

/// A change to an engine's state, applied by [`Engine::apply`](crate::Engine::apply).
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
/// [`Engine`](crate::Engine) of the same name. It changes no membership: a field added is
/// missing everywhere and no rule reads it yet, a field removed is read by
/// no rule, and a relation added is read by no rule until one is saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SchemaOp {
    /// [`Engine::add_field`](crate::Engine::add_field).
    AddField {
        /// The kind.
        kind: String,
        /// The new field's name.
        field: String,
        /// Its type.
        #[serde(rename = "type")]
        field_type: crate::FieldType,
    },
    /// [`Engine::remove_field`](crate::Engine::remove_field).
    RemoveField {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
    },
    /// [`Engine::add_relation`](crate::Engine::add_relation).
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
/// [`Engine`](crate::Engine) of the same name, with the same rules and errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DataOp {
    /// [`Engine::insert`](crate::Engine::insert).
    Insert {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// Its fields.
        #[serde(with = "row_form")]
        row: Row,
    },
    /// [`Engine::upsert`](crate::Engine::upsert).
    Upsert {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// The fields written.
        #[serde(with = "row_form")]
        row: Row,
    },
    /// [`Engine::upsert_json`](crate::Engine::upsert_json).
    UpsertJson {
        /// The kind.
        kind: String,
        /// One JSON object with a `key` member.
        json: String,
    },
    /// [`Engine::clear_field`](crate::Engine::clear_field).
    ClearField {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
        /// The field made missing.
        field: String,
    },
    /// [`Engine::insert_many`](crate::Engine::insert_many).
    InsertMany {
        /// The kind.
        kind: String,
        /// Keys and fields, in order.
        #[serde(with = "rows_form")]
        rows: Vec<(String, Row)>,
    },
    /// [`Engine::upsert_many`](crate::Engine::upsert_many).
    UpsertMany {
        /// The kind.
        kind: String,
        /// Keys and fields written, in order.
        #[serde(with = "rows_form")]
        rows: Vec<(String, Row)>,
    },
    /// [`Engine::load_json_lines`](crate::Engine::load_json_lines) with [`JsonLines::insert`](crate::engine::JsonLines::insert), over these bytes.
    InsertJsonLines {
        /// The kind.
        kind: String,
        /// The JSON Lines text.
        #[serde(with = "bytes_form")]
        lines: Vec<u8>,
    },
    /// [`Engine::load_json_lines`](crate::Engine::load_json_lines) with [`JsonLines::upsert`](crate::engine::JsonLines::upsert), over these bytes.
    UpsertJsonLines {
        /// The kind.
        kind: String,
        /// The JSON Lines text.
        #[serde(with = "bytes_form")]
        lines: Vec<u8>,
    },
    /// [`Engine::delete`](crate::Engine::delete).
    Delete {
        /// The kind.
        kind: String,
        /// The entity's key.
        key: String,
    },
    /// [`Engine::delete_many`](crate::Engine::delete_many).
    DeleteMany {
        /// The kind.
        kind: String,
        /// The keys, all live, none twice.
        keys: Vec<String>,
    },
    /// One event without properties (what 0.1's `record_event` journaled):
    /// [`Engine::record_events`](crate::Engine::record_events) records events as [`DataOp::RecordEvents`].
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
    /// [`Engine::record_events`](crate::Engine::record_events).
    RecordEvents {
        /// The kind.
        kind: String,
        /// The events, in order.
        events: Vec<EventRecord>,
    },
    /// [`Engine::drop_events_before`](crate::Engine::drop_events_before).
    DropEventsBefore {
        /// The kind.
        kind: String,
        /// Events before this instant go.
        before: Timestamp,
    },
    /// [`Engine::forget_event`](crate::Engine::forget_event).
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
/// actor. Each is the method of [`Engine`](crate::Engine) of the same name, with the same
/// access checks and errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ManageOp {
    /// [`Engine::create_segment`](crate::Engine::create_segment); the new segment's id is in
    /// [`Applied::created`].
    CreateSegment {
        /// Who.
        actor: Actor,
        /// What.
        #[serde(with = "new_segment_form")]
        segment: NewSegment,
    },
    /// [`Engine::rename`](crate::Engine::rename).
    Rename {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The new name.
        name: String,
    },
    /// [`Engine::set_visibility`](crate::Engine::set_visibility).
    SetVisibility {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Who sees it now.
        visibility: Visibility,
    },
    /// [`Engine::set_filter`](crate::Engine::set_filter).
    SetFilter {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The defining filter, or none.
        filter: Option<Filter>,
    },
    /// [`Engine::delete_segment`](crate::Engine::delete_segment).
    DeleteSegment {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
    },
    /// [`Engine::move_segment`](crate::Engine::move_segment).
    MoveSegment {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Its new place in the listing order.
        position: usize,
    },
    /// [`Engine::reorder`](crate::Engine::reorder).
    Reorder {
        /// Who.
        actor: Actor,
        /// Every segment, in the new order.
        order: Vec<SegmentId>,
    },
    /// [`Engine::attach_rule`](crate::Engine::attach_rule); the new rule's id is in [`Applied::created`].
    AttachRule {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The rule's filter.
        filter: Filter,
    },
    /// [`Engine::edit_rule`](crate::Engine::edit_rule).
    EditRule {
        /// Who.
        actor: Actor,
        /// The rule.
        rule: RuleId,
        /// Its new filter.
        filter: Filter,
    },
    /// [`Engine::detach_rule`](crate::Engine::detach_rule).
    DetachRule {
        /// Who.
        actor: Actor,
        /// The rule.
        rule: RuleId,
    },
    /// [`Engine::add_members`](crate::Engine::add_members).
    AddMembers {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' keys.
        keys: Vec<String>,
    },
    /// Adds the entities by id as [`Engine::add_members`](crate::Engine::add_members) does by key.
    AddMemberIds {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' ids.
        #[serde(with = "ids_form")]
        ids: RoaringBitmap,
    },
    /// [`Engine::remove_members`](crate::Engine::remove_members).
    RemoveMembers {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' keys.
        keys: Vec<String>,
    },
    /// Removes the entities by id as [`Engine::remove_members`](crate::Engine::remove_members) does by key.
    RemoveMemberIds {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' ids.
        #[serde(with = "ids_form")]
        ids: RoaringBitmap,
    },
    /// [`Engine::clear_blocks`](crate::Engine::clear_blocks).
    ClearBlocks {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// The entities' keys.
        keys: Vec<String>,
    },
    /// Clears every block of the segment, as [`Engine::clear_blocks`](crate::Engine::clear_blocks) does for the keys given.
    ClearAllBlocks {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
    },
    /// [`Engine::set_settings`](crate::Engine::set_settings) and [`Engine::set_settings_if`](crate::Engine::set_settings_if).
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
    /// [`Engine::set_access`](crate::Engine::set_access).
    SetAccess {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
        /// Its editors and viewers, replacing the ones it had.
        access: SegmentAccess,
    },
    /// [`Engine::attach_external_rule`](crate::Engine::attach_external_rule); the new rule's id is in
    /// [`Applied::created`].
    AttachExternalRule {
        /// Who.
        actor: Actor,
        /// The segment.
        segment: SegmentId,
    },
    /// [`Engine::set_external_matches`](crate::Engine::set_external_matches).
    SetExternalMatches {
        /// Who.
        actor: Actor,
        /// The external rule.
        rule: RuleId,
        /// The keys it matches, all of them.
        keys: Vec<String>,
    },
    /// [`Engine::change_external_matches`](crate::Engine::change_external_matches).
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
    /// [`Engine::refresh`](crate::Engine::refresh).
    Refresh {
        /// The instant the rules are evaluated at.
        now: Timestamp,
    },
    /// Re-evaluates every rule at `now` (a daily full refresh), where
    /// [`Engine::refresh`](crate::Engine::refresh) re-evaluates the time-relative ones.
    RefreshAll {
        /// The instant the rules are evaluated at.
        now: Timestamp,
    },
    /// [`Engine::set_clock`](crate::Engine::set_clock).
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
    /// [`Engine::ack`](crate::Engine::ack).
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
    /// [`Engine::set_log_retention`](crate::Engine::set_log_retention).
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
    pub(crate) fn changes(changes: Changes) -> Applied {
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
    /// docs](crate::op) for every op's).
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The module docs show every op's JSON: each line reads back as an op
    /// that writes the same line, and goes through the binary form intact.
    #[test]
    fn every_documented_op_reads_back() {
        let docs = include_str!("mod.rs");
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
