//! The change log's reading end: changes resolved to keys and names,
//! consumers' cursors, and net deltas for a sync.

use serde::{Deserialize, Serialize};

use super::read::Log;
use super::Engine;
use crate::error::{Error, LogError};
use crate::ids::SegmentId;
use crate::op::LogOp;
use crate::segment::log::Entry;
use crate::segment::{Cause, ChangeKind, Retention, Trigger};
use crate::value::Timestamp;

/// A segment as a change names it: its id and its name (its current name,
/// or its last one if it was deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentName {
    /// The id.
    pub id: SegmentId,
    /// The name.
    pub name: String,
    /// The version of its definition when the change was made
    /// ([`SegmentInfo::version`](crate::segment::SegmentInfo::version)):
    /// which filter, rules and settings were in force. 0 if not known (a
    /// change logged before versions were).
    pub version: u64,
}

/// One change of the log, self-describing: fit to post to a webhook as it
/// is. Its JSON:
///
/// ```text
/// {"seq":17,"segment":{"id":1,"name":"At risk","version":1},"entityKind":"account","key":"acme",
///  "change":"entered","cause":{"rule":1},"trigger":"write","at":"2026-11-22T12:00:00Z"}
/// ```
///
/// `change` is `entered` or `exited`; `cause` says which link ([`Cause`]:
/// `{"rule": <id>}`, `"manual"`, `"entityDeleted"`, `"segmentDeleted"`),
/// `trigger` what kind of call ([`Trigger`]: `"write"`, `"manual"`,
/// `"definitionEdited"`, `"segmentDeleted"`, `"timePassed"`); `at` is the
/// instant of the call in RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LoggedChange {
    /// Its sequence number: consecutive over every change the engine made,
    /// across restarts of an engine on a directory.
    pub seq: u64,
    /// The segment.
    pub segment: SegmentName,
    /// The segment's kind of entity.
    pub entity_kind: String,
    /// The entity's key.
    pub key: String,
    /// Entered or exited.
    pub change: ChangeKind,
    /// Which link came or went.
    pub cause: Cause,
    /// What kind of call made the change.
    pub trigger: Trigger,
    /// When.
    pub at: Timestamp,
}

/// The net change of one segment's membership over a stretch of the log:
/// what a sync to a CRM applies. An entity that entered and left again
/// (or left and came back) is in neither list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncDelta {
    /// The keys that are members now and were not before, in key order.
    pub entered: Vec<String>,
    /// The keys that were members before and are not now, in key order.
    pub exited: Vec<String>,
    /// The sequence number the delta runs up to: the cursor for the next
    /// sync.
    pub upto: u64,
}

/// A page of a subscription to chosen segments ([`Log::changes_of`](crate::engine::Log::changes_of)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The chosen segments' changes, in order.
    pub changes: Vec<LoggedChange>,
    /// How far the log was read: acknowledge this, not the last change's
    /// sequence number, so that the other segments' changes in between are
    /// not read again.
    pub read_to: u64,
}

impl Engine {
    /// Deprecated: `engine.log().seq(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().seq(..)`")]
    pub fn log_seq(&self) -> u64 {
        self.log().seq()
    }

    /// Deprecated: `engine.log().oldest(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().oldest(..)`")]
    pub fn log_oldest(&self) -> u64 {
        self.log().oldest()
    }

    /// Deprecated: `engine.log().retention(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().retention(..)`")]
    pub fn log_retention(&self) -> Retention {
        self.log().retention()
    }

    /// Deprecated: `engine.log().changes_since(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().changes_since(..)`")]
    pub fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<LoggedChange>, LogError> {
        self.log().changes_since(after, limit)
    }

    /// Deprecated: `engine.log().changes_for(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().changes_for(..)`")]
    pub fn changes_for(&self, consumer: &str, limit: usize) -> Result<Vec<LoggedChange>, LogError> {
        self.log().changes_for(consumer, limit)
    }

    /// Deprecated: `engine.log().changes_of(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().changes_of(..)`")]
    pub fn changes_of(&self, segments: &[SegmentId], after: u64, limit: usize) -> Result<Subscription, LogError> {
        self.log().changes_of(segments, after, limit)
    }

    /// Deprecated: `engine.log().cursor(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().cursor(..)`")]
    pub fn cursor(&self, consumer: &str) -> u64 {
        self.log().cursor(consumer)
    }

    /// Deprecated: `engine.log().consumers(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().consumers(..)`")]
    pub fn consumers(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.log().consumers()
    }

    /// Records that `consumer` has handled every change up to `seq`: its
    /// cursor moves there (never back). A write: journaled on an engine
    /// opened on a directory, so that the consumer resumes from it after a
    /// restart.
    ///
    /// # Errors
    ///
    /// [`LogError::Ahead`] for a sequence number past the newest change,
    /// [`LogError::EmptyConsumer`]; [`Error::Journal`] if it could not be
    /// journaled.
    pub fn ack(&mut self, consumer: &str, seq: u64) -> Result<(), Error> {
        self.apply_log(LogOp::Ack {
            consumer: consumer.to_string(),
            seq,
        })
    }

    /// Sets how much of the log is kept (applied at once).
    ///
    /// # Errors
    ///
    /// [`Error::Journal`].
    pub fn set_log_retention(&mut self, retention: Retention) -> Result<(), Error> {
        self.apply_log(LogOp::SetRetention { retention })
    }

    /// Deprecated: `engine.log().sync_delta(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().sync_delta(..)`")]
    pub fn sync_delta(&self, segment: SegmentId, after: u64) -> Result<SyncDelta, LogError> {
        self.log().sync_delta(segment, after)
    }

    /// The name and kind of a segment about to be deleted, for its changes
    /// in the log.
    pub(super) fn gone(&self, segment: SegmentId) -> Option<(SegmentId, String, usize, u64)> {
        let s = self.book.segment(segment)?;
        Some((segment, s.info.name.clone(), s.kind, s.info.version))
    }

    /// The definition version of each segment `changes` name, sorted by
    /// segment id: of a live segment, or of one the op being logged
    /// deleted (`gone`).
    pub(super) fn versions_of(
        &self,
        changes: &crate::segment::Changes,
        gone: Option<&(SegmentId, String, usize, u64)>,
    ) -> Vec<(SegmentId, u64)> {
        let mut out: Vec<(SegmentId, u64)> = changes.groups().iter().map(|g| (g.segment(), 0)).collect();
        out.sort_unstable();
        out.dedup();
        for (s, v) in &mut out {
            *v = match self.book.segment(*s) {
                Some(x) => x.info.version,
                None => gone.filter(|g| g.0 == *s).map_or(0, |g| g.3),
            };
        }
        out
    }

    /// The segment's name and kind index, live or deleted.
    fn segment_label(&self, segment: SegmentId) -> (String, Option<usize>) {
        match self.book.segment(segment) {
            Some(s) => (s.info.name.clone(), Some(s.kind)),
            None => match self.log.gone().get(&segment) {
                Some(g) => (g.name.clone(), Some(g.kind)),
                None => (String::new(), None),
            },
        }
    }

    /// The kind index of a segment, live or deleted (while the log names
    /// it).
    pub(super) fn segment_kind(&self, segment: SegmentId) -> Option<usize> {
        match self.book.segment(segment) {
            Some(s) => Some(s.kind),
            None => self.log.gone().get(&segment).map(|g| g.kind),
        }
    }

    fn resolve(&self, e: Entry) -> LoggedChange {
        let (name, kind) = self.segment_label(e.segment);
        let (entity_kind, key) = match kind {
            Some(k) => {
                let t = self.table_at(k);
                (
                    t.schema().name().to_string(),
                    t.key_any(e.entity).map(str::to_string).unwrap_or_default(),
                )
            }
            None => (String::new(), String::new()),
        };
        LoggedChange {
            seq: e.seq,
            segment: SegmentName {
                id: e.segment,
                name,
                version: e.version,
            },
            entity_kind,
            key,
            change: e.kind,
            cause: e.cause,
            trigger: e.trigger,
            at: e.at,
        }
    }
}

impl<'a> Log<'a> {
    /// The sequence number of the newest change in the log (0 before the
    /// first). Changes are numbered from 1, consecutively, in the order the
    /// calls made them (and within a call in [`Changes`](crate::segment::Changes)
    /// order).
    pub fn seq(&self) -> u64 {
        self.engine.log.last()
    }

    /// The sequence number of the last op journaled (0 for an in-memory
    /// engine, or a new directory): ops, not changes, so it moves with
    /// every write, including those that change no membership.
    pub fn journal_seq(&self) -> u64 {
        self.engine.journal_seq()
    }

    /// The oldest sequence number the log still holds (the next one, if
    /// it holds none).
    pub fn oldest(&self) -> u64 {
        self.engine.log.oldest()
    }

    /// How much of the log is kept.
    pub fn retention(&self) -> Retention {
        self.engine.log.retention()
    }

    /// Up to `limit` changes after sequence number `after`, in order: what
    /// a consumer reads from its cursor. Reading changes nothing; see
    /// [`Engine::ack`].
    ///
    /// # Errors
    ///
    /// [`LogError::Gap`] if retention dropped changes after `after`;
    /// [`LogError::Ahead`] if `after` is past the newest change.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::segment::{Actor, ChangeKind, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let admin = Actor::new("ada", Role::Admin);
    /// engine.create_segment(&admin,
    ///     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])))?;
    /// engine.insert("account", "acme", Row::new().set("health", 20))?;
    /// engine.upsert("account", "acme", Row::new().set("health", 90))?;
    ///
    /// let changes = engine.log().changes_for("webhook", 100)?;
    /// assert_eq!(changes.len(), 2);
    /// assert_eq!((changes[0].seq, changes[0].change, changes[0].key.as_str()), (1, ChangeKind::Entered, "acme"));
    /// assert_eq!(changes[1].segment.name, "At risk");
    /// let json = serde_json::to_string(&changes[1]).unwrap();
    /// assert!(json.contains(r#""change":"exited""#) && json.contains(r#""trigger":"write""#));
    ///
    /// // Acknowledged, they are not read again by that consumer.
    /// engine.ack("webhook", changes[1].seq)?;
    /// assert!(engine.log().changes_for("webhook", 100)?.is_empty());
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn changes_since(&self, after: u64, limit: usize) -> Result<Vec<LoggedChange>, LogError> {
        Ok(self
            .engine
            .log
            .since(after, limit)?
            .into_iter()
            .map(|e| self.engine.resolve(e))
            .collect())
    }

    /// Up to `limit` changes after `consumer`'s cursor (from the start of
    /// the log for a consumer that has not acknowledged anything yet).
    /// Delivery is at least once: a consumer that handles changes and dies
    /// before its [`Engine::ack`] reads them again.
    ///
    /// # Errors
    ///
    /// As [`Log::changes_since`](crate::engine::Log::changes_since).
    pub fn changes_for(&self, consumer: &str, limit: usize) -> Result<Vec<LoggedChange>, LogError> {
        self.engine
            .log()
            .changes_since(self.engine.log().cursor(consumer), limit)
    }

    /// A subscription: up to `limit` changes after `after` of the chosen
    /// `segments` only, in order, with how far the log was read
    /// ([`Subscription::read_to`]), which a consumer acknowledges
    /// ([`Engine::ack`]) so that the other segments' changes are not read
    /// again. Segments not (or no longer) in the engine simply have no
    /// new changes.
    ///
    /// # Errors
    ///
    /// As [`Log::changes_since`](crate::engine::Log::changes_since).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (risk, _) = engine.create_segment(&admin,
    ///     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])))?;
    /// engine.create_segment(&admin,
    ///     NewSegment::new("Healthy", "account").filter(Filter::and([field("health").ge(30)])))?;
    /// engine.insert("account", "acme", Row::new().set("health", 20))?;
    /// engine.upsert("account", "acme", Row::new().set("health", 90))?;
    ///
    /// let page = engine.log().changes_of(&[risk], engine.log().cursor("alerts"), 100)?;
    /// assert_eq!(page.changes.len(), 2); // entered and exited At risk, not Healthy
    /// engine.ack("alerts", page.read_to)?;
    /// assert!(engine.log().changes_of(&[risk], engine.log().cursor("alerts"), 100)?.changes.is_empty());
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn changes_of(&self, segments: &[SegmentId], after: u64, limit: usize) -> Result<Subscription, LogError> {
        let mut chosen = segments.to_vec();
        chosen.sort_unstable();
        chosen.dedup();
        let (entries, read_to) = self.engine.log.since_of(after, limit, &chosen)?;
        Ok(Subscription {
            changes: entries.into_iter().map(|e| self.engine.resolve(e)).collect(),
            read_to,
        })
    }

    /// A consumer's cursor: the last sequence number it acknowledged (0 if
    /// none).
    pub fn cursor(&self, consumer: &str) -> u64 {
        self.engine.log.consumers().get(consumer).copied().unwrap_or(0)
    }

    /// The consumers and their cursors, by name.
    pub fn consumers(&self) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.engine.log.consumers().iter().map(|(k, &v)| (k.as_str(), v))
    }

    /// The net change of `segment`'s membership after sequence number
    /// `after`, as keys: what a CRM sync applies since its last run.
    ///
    /// # Errors
    ///
    /// As [`Log::changes_since`](crate::engine::Log::changes_since).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Row, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (vip, _) = engine.create_segment(&admin, NewSegment::new("VIP", "account"))?;
    /// for k in ["a", "b", "c"] {
    ///     engine.insert("account", k, Row::new())?;
    /// }
    /// engine.add_members(&admin, vip, ["a", "b"])?;
    /// let last_sync = engine.log().seq();
    /// engine.add_members(&admin, vip, ["c"])?;
    /// engine.remove_members(&admin, vip, ["a", "c"])?; // c came and went
    /// let delta = engine.log().sync_delta(vip, last_sync)?;
    /// assert_eq!((delta.entered, delta.exited), (vec![], vec!["a".to_string()]));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn sync_delta(&self, segment: SegmentId, after: u64) -> Result<SyncDelta, LogError> {
        let (entered, exited) = self.engine.log.net(segment, after)?;
        let table = self.engine.segment_kind(segment).map(|k| self.engine.table_at(k));
        let keys = |ids: Vec<u32>| -> Vec<String> {
            let mut keys: Vec<String> = ids
                .into_iter()
                .map(|id| {
                    table
                        .and_then(|t| t.key_any(crate::ids::EntityId(id)))
                        .map(str::to_string)
                        .unwrap_or_default()
                })
                .collect();
            keys.sort();
            keys
        };
        Ok(SyncDelta {
            entered: keys(entered),
            exited: keys(exited),
            upto: self.engine.log.last(),
        })
    }
}
