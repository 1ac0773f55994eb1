//! The change log: every call's membership changes, numbered, retained as
//! configured, with named consumers' cursors. The engine resolves entries
//! to keys and names when they are read ([`crate::Engine::changes_since`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::changes::{ChangeKind, Changes};
use super::definitions::{DefinitionChange, Edit};
use super::Cause;
use crate::error::LogError;
use crate::ids::{EntityId, SegmentId};
use crate::value::Timestamp;

/// What kind of call caused a change (its [`Cause`] says which link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Trigger {
    /// A write to entities or their events.
    Write,
    /// A manual add or removal, or blocks cleared.
    Manual,
    /// A segment created, or its filter or rules edited.
    DefinitionEdited,
    /// A segment deleted.
    SegmentDeleted,
    /// A refresh: time passed and relative conditions flipped.
    TimePassed,
    /// The matches of an external rule were set or changed
    /// ([`Engine::set_external_matches`](crate::Engine::set_external_matches)).
    External,
}

/// How much of the change log is kept.
///
/// The log keeps the newest changes up to [`Retention::max_changes`],
/// [`Retention::max_bytes`] (of memory, about) and [`Retention::max_age`]
/// (measured back from the newest change). What
/// happens to changes a consumer has not acknowledged yet is the
/// [`Unacked`] policy: kept past the limits ([`Unacked::Keep`], the
/// default), or dropped, the consumer then getting [`LogError::Gap`] when
/// it asks for them ([`Unacked::Drop`]).
///
/// Its serde form: `{"max_changes": 100000, "max_bytes": null,
/// "max_age_micros": null, "unacked": "keep"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    max_changes: Option<u64>,
    max_bytes: Option<u64>,
    #[serde(rename = "max_age_micros", with = "age_micros")]
    max_age: Option<Duration>,
    unacked: Unacked,
}

mod age_micros {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(age: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match age {
            Some(d) => s.serialize_some(&u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_micros))
    }
}

/// What retention does with changes a consumer has not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Unacked {
    /// Keep them, past the limits, until every consumer has acknowledged
    /// them (or is forgotten).
    #[default]
    Keep,
    /// Drop them with the rest; a consumer that asks for them gets
    /// [`LogError::Gap`].
    Drop,
}

impl Default for Retention {
    /// The newest 100,000 changes, of any age; unacknowledged ones kept.
    fn default() -> Retention {
        Retention {
            max_changes: Some(100_000),
            max_bytes: None,
            max_age: None,
            unacked: Unacked::Keep,
        }
    }
}

impl Retention {
    /// Keep at most `n` changes (`None`: no limit by count).
    pub fn max_changes(mut self, n: Option<u64>) -> Retention {
        self.max_changes = n;
        self
    }

    /// Keep at most about `n` bytes of changes in memory (`None`: no limit
    /// by size). A call's changes take about 40 bytes a segment they touch
    /// plus their entities' bitmaps, and 80 more for the call.
    pub fn max_bytes(mut self, n: Option<u64>) -> Retention {
        self.max_bytes = n;
        self
    }

    /// The limit by size.
    pub fn bytes_limit(&self) -> Option<u64> {
        self.max_bytes
    }

    /// Keep changes at most `age` older than the newest (`None`: no limit
    /// by age).
    pub fn max_age(mut self, age: Option<Duration>) -> Retention {
        self.max_age = age;
        self
    }

    /// What happens to changes not yet acknowledged.
    pub fn unacked(mut self, unacked: Unacked) -> Retention {
        self.unacked = unacked;
        self
    }

    /// The limit by count.
    pub fn changes_limit(&self) -> Option<u64> {
        self.max_changes
    }

    /// The limit by age.
    pub fn age_limit(&self) -> Option<Duration> {
        self.max_age
    }

    /// The policy for unacknowledged changes.
    pub fn unacked_policy(&self) -> Unacked {
        self.unacked
    }
}

/// One call's changes in the log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// The sequence number of its first change.
    pub first: u64,
    pub trigger: Trigger,
    pub changes: Changes,
    /// The definition version of each segment its changes name, when they
    /// were made, by segment id.
    pub versions: Vec<(SegmentId, u64)>,
}

impl Call {
    /// The definition version of `segment` when the call ran; 0 if not
    /// known (a log restored from a snapshot older than versions).
    pub(crate) fn version_of(&self, segment: SegmentId) -> u64 {
        self.versions
            .binary_search_by_key(&segment, |v| v.0)
            .map_or(0, |i| self.versions[i].1)
    }

    fn end(&self) -> u64 {
        self.first + self.changes.len()
    }

    fn bytes(&self) -> u64 {
        80 + 16 * self.versions.len() as u64 + self.changes.groups().iter().map(|g| g.approx_bytes()).sum::<u64>()
    }
}

/// A segment's name and kind, kept for reading its changes after it is
/// deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gone {
    pub name: String,
    pub kind: usize,
    /// How many kept groups of changes name it: at zero it is forgotten.
    pub refs: u64,
}

/// The log itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChangeLog {
    calls: VecDeque<Call>,
    /// The sequence number the next change gets (the first is 1).
    next: u64,
    /// The sequence number of the oldest change kept (`next` if none).
    oldest: u64,
    retention: Retention,
    /// Each consumer's cursor: the last sequence number it acknowledged.
    consumers: BTreeMap<String, u64>,
    /// Deleted segments that changes in the log name.
    gone: HashMap<SegmentId, Gone>,
    retained: u64,
    retained_bytes: u64,
    /// Every change to a segment's definition, oldest first, kept whole
    /// (retention trims membership changes only).
    definitions: Vec<DefinitionChange>,
}

impl Default for ChangeLog {
    fn default() -> ChangeLog {
        ChangeLog {
            calls: VecDeque::new(),
            next: 1,
            oldest: 1,
            retention: Retention::default(),
            consumers: BTreeMap::new(),
            gone: HashMap::new(),
            retained: 0,
            retained_bytes: 0,
            definitions: Vec::new(),
        }
    }
}

/// A change as the log holds it, before its names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub seq: u64,
    pub segment: SegmentId,
    /// The segment's definition version then; 0 if not known.
    pub version: u64,
    pub entity: EntityId,
    pub kind: ChangeKind,
    pub cause: Cause,
    pub trigger: Trigger,
    pub at: Timestamp,
}

impl ChangeLog {
    /// A log restored from its parts.
    pub(crate) fn from_parts(
        calls: VecDeque<Call>,
        next: u64,
        oldest: u64,
        retention: Retention,
        consumers: BTreeMap<String, u64>,
        gone: HashMap<SegmentId, Gone>,
    ) -> ChangeLog {
        let retained = calls.iter().map(|c| c.changes.len()).sum();
        let retained_bytes = calls.iter().map(Call::bytes).sum();
        let mut gone = gone;
        for g in calls.iter().flat_map(|c| c.changes.groups()) {
            if let Some(x) = gone.get_mut(&g.segment()) {
                x.refs += 1;
            }
        }
        gone.retain(|_, g| g.refs > 0);
        ChangeLog {
            retained_bytes,
            calls,
            next,
            oldest,
            retention,
            consumers,
            gone,
            retained,
            definitions: Vec::new(),
        }
    }

    /// The definition history read back from a snapshot.
    pub(crate) fn restore_definitions(&mut self, definitions: Vec<DefinitionChange>) {
        self.definitions = definitions;
    }

    /// The calls kept, oldest first.
    pub(crate) fn calls(&self) -> &VecDeque<Call> {
        &self.calls
    }

    /// The sequence number the next change gets.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// The sequence number of the oldest change kept (the next one if
    /// none is).
    pub(crate) fn oldest(&self) -> u64 {
        self.oldest
    }

    /// What the log keeps.
    pub(crate) fn retention(&self) -> Retention {
        self.retention
    }

    /// Keeps changes as `retention` says from now on, and drops at once
    /// what it no longer keeps.
    pub(crate) fn set_retention(&mut self, retention: Retention) {
        self.retention = retention;
        self.trim();
    }

    /// Each consumer's cursor.
    pub(crate) fn consumers(&self) -> &BTreeMap<String, u64> {
        &self.consumers
    }

    /// Deleted segments that changes in the log name.
    pub(crate) fn gone(&self) -> &HashMap<SegmentId, Gone> {
        &self.gone
    }

    /// The definition history, oldest first.
    pub(crate) fn definitions(&self) -> &[DefinitionChange] {
        &self.definitions
    }

    /// Appends a change to `segment`'s definition, numbered after the last.
    pub(crate) fn record_definition(&mut self, at: Timestamp, actor: String, segment: SegmentId, what: Edit) {
        self.definitions.push(DefinitionChange {
            seq: self.definitions.len() as u64 + 1,
            at,
            actor,
            segment,
            what,
        });
    }

    /// The sequence number of the newest change (0 before the first).
    pub(crate) fn last(&self) -> u64 {
        self.next - 1
    }

    /// Appends a call's changes, then applies retention.
    /// Logs a call's changes, with the definition version of each segment
    /// they name (sorted by segment id).
    pub(crate) fn record(&mut self, trigger: Trigger, changes: &Changes, versions: Vec<(SegmentId, u64)>) {
        let n = changes.len();
        if n == 0 {
            return;
        }
        let call = Call {
            first: self.next,
            trigger,
            changes: changes.clone(),
            versions,
        };
        self.retained_bytes += call.bytes();
        self.calls.push_back(call);
        self.next += n;
        self.retained += n;
        self.trim();
    }

    /// Drops the oldest calls past the limits (whole calls: a call's
    /// changes go together).
    pub(crate) fn trim(&mut self) {
        let newest = self.calls.back().map(|c| c.changes.at());
        let keep_from = match self.retention.unacked {
            // Nothing a consumer still needs goes.
            Unacked::Keep => self.consumers.values().min().map_or(u64::MAX, |&c| c + 1),
            Unacked::Drop => u64::MAX,
        };
        while let Some(front) = self.calls.front() {
            let over_count = self.retention.max_changes.is_some_and(|m| self.retained > m)
                || self.retention.max_bytes.is_some_and(|m| self.retained_bytes > m);
            let over_age = match (self.retention.max_age, newest) {
                (Some(age), Some(newest)) => front.changes.at().saturating_add(age) < newest,
                _ => false,
            };
            if !(over_count || over_age) || front.end() > keep_from {
                break;
            }
            self.retained -= front.changes.len();
            self.retained_bytes -= front.bytes();
            if let Some(call) = self.calls.pop_front() {
                // Deleted segments no kept change names any more are
                // forgotten.
                for g in call.changes.groups() {
                    if let Some(x) = self.gone.get_mut(&g.segment()) {
                        x.refs -= 1;
                        if x.refs == 0 {
                            self.gone.remove(&g.segment());
                        }
                    }
                }
            }
        }
        self.oldest = self.calls.front().map_or(self.next, |c| c.first);
    }

    /// Keeps a deleted segment's name and kind for as long as kept changes
    /// name it (its deletion's own changes recorded first).
    pub(crate) fn segment_gone(&mut self, segment: SegmentId, name: String, kind: usize) {
        let refs = self
            .calls
            .iter()
            .flat_map(|c| c.changes.groups())
            .filter(|g| g.segment() == segment)
            .count() as u64;
        if refs > 0 {
            self.gone.insert(segment, Gone { name, kind, refs });
        }
    }

    /// Every kept group of changes with a change after `after`, with the
    /// sequence number of its first change and its call, in order.
    fn groups_after(&self, after: u64) -> impl Iterator<Item = (u64, &Call, &super::changes::ChangeGroup)> + '_ {
        let start = self.calls.partition_point(|c| c.end() <= after + 1);
        self.calls.iter().skip(start).flat_map(move |call| {
            let mut seq = call.first;
            call.changes.groups().iter().filter_map(move |g| {
                let first = seq;
                seq += g.len();
                (seq > after + 1).then_some((first, call, g))
            })
        })
    }

    /// Up to `limit` changes after `after`, in order.
    ///
    /// # Errors
    ///
    /// [`LogError::Gap`] if changes after `after` were dropped;
    /// [`LogError::Ahead`] if `after` is past the newest change.
    pub(crate) fn since(&self, after: u64, limit: usize) -> Result<Vec<Entry>, LogError> {
        self.check(after)?;
        Ok(self.entries_after(after, |_| true).take(limit).collect())
    }

    /// As [`ChangeLog::since`], only the changes of `segments` (sorted),
    /// skipping the other segments' groups whole; and how far the log was
    /// read: the last entry's sequence number when `limit` stopped the
    /// read, else the newest change's.
    pub(crate) fn since_of(
        &self,
        after: u64,
        limit: usize,
        segments: &[SegmentId],
    ) -> Result<(Vec<Entry>, u64), LogError> {
        self.check(after)?;
        let out: Vec<Entry> = self
            .entries_after(after, |s| segments.binary_search(&s).is_ok())
            .take(limit)
            .collect();
        let scanned = match out.last() {
            Some(e) if out.len() == limit => e.seq,
            _ => self.last(),
        };
        Ok((out, scanned))
    }

    /// The entries after `after`, in order, of the segments `keep` accepts
    /// (groups of other segments skipped whole).
    fn entries_after<'a>(
        &'a self,
        after: u64,
        keep: impl Fn(SegmentId) -> bool + 'a,
    ) -> impl Iterator<Item = Entry> + 'a {
        self.groups_after(after)
            .filter(move |(_, _, g)| keep(g.segment()))
            .flat_map(move |(first, call, g)| {
                (first..)
                    .zip(g.entities())
                    .filter(move |(seq, _)| *seq > after)
                    .map(move |(seq, entity)| Entry {
                        seq,
                        segment: g.segment(),
                        version: call.version_of(g.segment()),
                        entity,
                        kind: g.kind(),
                        cause: g.cause(),
                        trigger: call.trigger,
                        at: call.changes.at(),
                    })
            })
    }

    /// Checks that the changes after `after` are all kept.
    pub(crate) fn check(&self, after: u64) -> Result<(), LogError> {
        if after > self.last() {
            return Err(LogError::Ahead {
                seq: after,
                last: self.last(),
            });
        }
        if after + 1 < self.oldest {
            return Err(LogError::Gap {
                after,
                oldest: self.oldest,
            });
        }
        Ok(())
    }

    /// Moves a consumer's cursor to `seq` (never back).
    pub(crate) fn ack(&mut self, consumer: &str, seq: u64) -> Result<(), LogError> {
        if seq > self.last() {
            return Err(LogError::Ahead { seq, last: self.last() });
        }
        if consumer.is_empty() {
            return Err(LogError::EmptyConsumer);
        }
        let c = self.consumers.entry(consumer.to_string()).or_insert(0);
        *c = (*c).max(seq);
        self.trim();
        Ok(())
    }

    /// Forgets a consumer (its changes need not be kept for it any more).
    pub(crate) fn forget(&mut self, consumer: &str) -> Result<(), LogError> {
        self.consumers
            .remove(consumer)
            .ok_or_else(|| LogError::UnknownConsumer {
                consumer: consumer.to_string(),
            })?;
        self.trim();
        Ok(())
    }

    /// The changes of `segment` after `after` folded into each entity's
    /// net change: `(entered, exited)` ids.
    pub(crate) fn net(&self, segment: SegmentId, after: u64) -> Result<(Vec<u32>, Vec<u32>), LogError> {
        self.check(after)?;
        // Per entity: (a member before the window, a member after it).
        let mut seen: BTreeMap<u32, (bool, bool)> = BTreeMap::new();
        for (first, _, g) in self.groups_after(after).filter(|(_, _, g)| g.segment() == segment) {
            let entered = g.kind() == ChangeKind::Entered;
            for (_, e) in (first..).zip(g.entities()).filter(|(seq, _)| *seq > after) {
                let s = seen.entry(e.0).or_insert((!entered, entered));
                s.1 = entered;
            }
        }
        let entered = seen.iter().filter(|(_, &(b, a))| !b && a).map(|(&e, _)| e).collect();
        let exited = seen.iter().filter(|(_, &(b, a))| b && !a).map(|(&e, _)| e).collect();
        Ok((entered, exited))
    }
}
