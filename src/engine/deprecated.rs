//! The write methods and reads folded in 0.2.0, kept one release as
//! forwarders. Each says what replaces it; the guide's
//! [upgrading](crate::guide::upgrading) chapter lists them all.

use std::io::BufRead;
use std::path::Path;

use roaring::RoaringBitmap;

use super::load::JsonLines;
use super::Engine;
use crate::error::{Error, JournalError, SchemaError, SegmentError, SnapshotError, StoreError};
use crate::filter::LimitPolicy;
use crate::op::{DataOp, LogOp, ManageOp, TimeOp};
use crate::segment::{Actor, Changes, SegmentId};
use crate::store::{Properties, Rejected, Table};
use crate::value::Timestamp;

impl Engine {
    /// Deprecated: `engine.record_events(kind, [(key, event, at)])`.
    #[deprecated(since = "0.2.0", note = "use `engine.record_events(kind, [(key, event, at)])`")]
    pub fn record_event(&mut self, kind: &str, key: &str, event: &str, at: Timestamp) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::RecordEvent {
            kind: kind.into(),
            key: key.into(),
            event: event.into(),
            at,
        })
    }

    /// Deprecated: `engine.record_events(kind, [(key, event, at, properties)])`.
    #[deprecated(since = "0.2.0", note = "use `engine.record_events(kind, [(key, event, at, properties)])`")]
    pub fn record_event_with(
        &mut self,
        kind: &str,
        key: &str,
        event: &str,
        at: Timestamp,
        properties: Properties,
    ) -> Result<Changes, StoreError> {
        self.record_events(kind, [(key, event, at, properties)])
            .map_err(|e| match e {
                StoreError::InRow { source, .. } => *source,
                e => e,
            })
    }

    /// Deprecated: `engine.record_events(kind, events)`, which takes
    /// `(key, event, at, properties)` tuples too.
    #[deprecated(since = "0.2.0", note = "use `engine.record_events(kind, events)`")]
    pub fn record_events_with<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        kind: &str,
        events: impl IntoIterator<Item = (K, E, Timestamp, Properties)>,
    ) -> Result<Changes, StoreError> {
        self.record_events(kind, events)
    }

    /// Deprecated: `engine.load_json_lines(kind, reader, JsonLines::events())`.
    #[deprecated(since = "0.2.0", note = "use `engine.load_json_lines(kind, reader, JsonLines::events())`")]
    pub fn record_events_json_lines(&mut self, kind: &str, reader: impl BufRead) -> Result<Changes, StoreError> {
        Ok(self.load_json_lines(kind, reader, JsonLines::events())?.0)
    }

    /// Deprecated: `engine.load_json_lines(kind, reader, JsonLines::insert())`.
    #[deprecated(since = "0.2.0", note = "use `engine.load_json_lines(kind, reader, JsonLines::insert())`")]
    pub fn insert_json_lines(&mut self, kind: &str, reader: impl BufRead) -> Result<Changes, StoreError> {
        Ok(self.load_json_lines(kind, reader, JsonLines::insert())?.0)
    }

    /// Deprecated: `engine.load_json_lines(kind, reader, JsonLines::upsert())`.
    #[deprecated(since = "0.2.0", note = "use `engine.load_json_lines(kind, reader, JsonLines::upsert())`")]
    pub fn upsert_json_lines(&mut self, kind: &str, reader: impl BufRead) -> Result<Changes, StoreError> {
        Ok(self.load_json_lines(kind, reader, JsonLines::upsert())?.0)
    }

    /// Deprecated: `engine.load_json_lines(kind, reader, JsonLines::insert().lenient(bound))`.
    #[deprecated(since = "0.2.0", note = "use `load_json_lines(kind, reader, JsonLines::insert().lenient(bound))`")]
    pub fn insert_json_lines_lenient(
        &mut self,
        kind: &str,
        reader: impl BufRead,
        bound: usize,
    ) -> Result<(Changes, Rejected), StoreError> {
        self.load_json_lines(kind, reader, JsonLines::insert().lenient(bound))
    }

    /// Deprecated: `engine.load_json_lines(kind, reader, JsonLines::upsert().lenient(bound))`.
    #[deprecated(since = "0.2.0", note = "use `load_json_lines(kind, reader, JsonLines::upsert().lenient(bound))`")]
    pub fn upsert_json_lines_lenient(
        &mut self,
        kind: &str,
        reader: impl BufRead,
        bound: usize,
    ) -> Result<(Changes, Rejected), StoreError> {
        self.load_json_lines(kind, reader, JsonLines::upsert().lenient(bound))
    }

    /// Deprecated: `engine.drop_events_before(kind, now - max_age)`.
    #[deprecated(since = "0.2.0", note = "use `engine.drop_events_before(kind, now - max_age)`")]
    pub fn expire_events(&mut self, kind: &str, max_age: std::time::Duration) -> Result<Changes, StoreError> {
        let age = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
        let before = Timestamp::from_micros(self.now().as_micros().saturating_sub(age));
        self.drop_events_before(kind, before)
    }

    /// Deprecated: `engine.apply(Op::Manage(ManageOp::AddMemberIds { .. }))`,
    /// or [`Engine::add_members`] by key.
    #[deprecated(since = "0.2.0", note = "use `engine.apply(Op::Manage(ManageOp::AddMemberIds { .. }))`")]
    pub fn add_member_ids(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        ids: &RoaringBitmap,
    ) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::AddMemberIds {
            actor: actor.clone(),
            segment,
            ids: ids.clone(),
        })
    }

    /// Deprecated: `engine.apply(Op::Manage(ManageOp::RemoveMemberIds { .. }))`,
    /// or [`Engine::remove_members`] by key.
    #[deprecated(since = "0.2.0", note = "use `engine.apply(Op::Manage(ManageOp::RemoveMemberIds { .. }))`")]
    pub fn remove_member_ids(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        ids: &RoaringBitmap,
    ) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::RemoveMemberIds {
            actor: actor.clone(),
            segment,
            ids: ids.clone(),
        })
    }

    /// Deprecated: [`Engine::clear_blocks`] with the keys
    /// [`Segments::blocks`](crate::engine::Segments::blocks) names, or
    /// `engine.apply(Op::Manage(ManageOp::ClearAllBlocks { .. }))`.
    #[deprecated(since = "0.2.0", note = "use `engine.clear_blocks(actor, segment, keys)`")]
    pub fn clear_all_blocks(&mut self, actor: &Actor, segment: SegmentId) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::ClearAllBlocks {
            actor: actor.clone(),
            segment,
        })
    }

    /// Deprecated: `engine.apply(Op::Time(TimeOp::RefreshAll { now }))`.
    #[deprecated(since = "0.2.0", note = "use `engine.apply(Op::Time(TimeOp::RefreshAll { now }))`")]
    pub fn refresh_all(&mut self, now: Timestamp) -> Result<Changes, JournalError> {
        self.apply_time(TimeOp::RefreshAll { now })
    }

    /// Deprecated: `engine.apply(Op::Log(LogOp::ForgetConsumer { consumer }))`.
    #[deprecated(since = "0.2.0", note = "use `engine.apply(Op::Log(LogOp::ForgetConsumer { consumer }))`")]
    pub fn forget_consumer(&mut self, consumer: &str) -> Result<(), Error> {
        self.apply_log(LogOp::ForgetConsumer {
            consumer: consumer.to_string(),
        })
    }

    /// Deprecated: `Engine::restore(bytes)`.
    #[deprecated(since = "0.2.0", note = "use `Engine::restore(bytes)`")]
    pub fn restore_from_bytes(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        Engine::restore_bytes(bytes)
    }

    /// Deprecated: `Engine::restore(File::open(path)?)`.
    #[deprecated(since = "0.2.0", note = "use `Engine::restore(File::open(path)?)`")]
    pub fn restore_from_path(path: impl AsRef<Path>) -> Result<Engine, SnapshotError> {
        Engine::restore_file(path.as_ref())
    }

    /// Deprecated: `engine.log().journal_seq()`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().journal_seq()`")]
    pub fn seq(&self) -> u64 {
        self.log().journal_seq()
    }

    /// Deprecated: `engine.store().table(kind)`.
    #[deprecated(since = "0.2.0", note = "use `engine.store().table(kind)`")]
    pub fn table(&self, kind: &str) -> Result<&Table, SchemaError> {
        self.store.table(kind)
    }

    /// Deprecated: `engine.segments().next_change(now)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().next_change(now)`")]
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.segments().next_change(now)
    }

    /// Deprecated: `engine.builder().policy()`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().policy()`")]
    pub fn policy(&self) -> &LimitPolicy {
        &self.policy
    }

    /// Deprecated: `segments::testing::scan(&engine, kind, filter, now)`.
    #[cfg(feature = "testing")]
    #[deprecated(since = "0.2.0", note = "use `segments::testing::scan(&engine, kind, filter, now)`")]
    pub fn scan(&self, kind: &str, filter: &crate::Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
        super::testing::scan(self, kind, filter, now)
    }

    /// Deprecated: `segments::testing::check_consistency(&engine, now)`.
    #[cfg(feature = "testing")]
    #[deprecated(since = "0.2.0", note = "use `segments::testing::check_consistency(&engine, now)`")]
    pub fn check_consistency(&self, now: Timestamp) -> Result<(), super::testing::Inconsistency> {
        super::testing::check_consistency(self, now)
    }
}
