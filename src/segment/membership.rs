//! Link bookkeeping for one segment: the links gained and lost in one call,
//! turned into entries and exits with their causes.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::changes::{Cause, ChangeKind, Changes};
use super::{SegmentId, Source};

/// The link changes one call made in one segment.
#[derive(Debug, Default)]
pub(crate) struct Delta {
    gained: BTreeMap<Source, RoaringBitmap>,
    lost: BTreeMap<Source, RoaringBitmap>,
    /// The cause of every exit, when one action removed the entities
    /// whatever linked them (manual removal, deletion).
    exit_cause: Option<Cause>,
}

impl Delta {
    pub(crate) fn with_exit_cause(cause: Cause) -> Delta {
        Delta {
            exit_cause: Some(cause),
            ..Delta::default()
        }
    }

    pub(crate) fn gained(&mut self, source: Source, ids: RoaringBitmap) {
        if !ids.is_empty() {
            *self.gained.entry(source).or_default() |= ids;
        }
    }

    pub(crate) fn lost(&mut self, source: Source, ids: RoaringBitmap) {
        if !ids.is_empty() {
            *self.lost.entry(source).or_default() |= ids;
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.gained.is_empty() && self.lost.is_empty()
    }

    /// Updates `members` to the links' new state and reports the net change.
    ///
    /// `linked(t)` must return the ids of `t` that hold at least one link
    /// after the call.
    pub(crate) fn finish(
        self,
        segment: SegmentId,
        members: &mut RoaringBitmap,
        linked: impl FnOnce(&RoaringBitmap) -> RoaringBitmap,
        out: &mut Changes,
    ) {
        if self.is_empty() {
            return;
        }
        let touched = self
            .gained
            .values()
            .chain(self.lost.values())
            .fold(RoaringBitmap::new(), |acc, b| acc | b);
        let now_in = linked(&touched);
        let was_in = &touched & &*members;
        let entered = &now_in - &was_in;
        let exited = was_in - &now_in;
        *members -= &exited;
        *members |= &entered;
        attribute(segment, ChangeKind::Entered, entered, &self.gained, out);
        match self.exit_cause {
            Some(cause) => out.push(segment, ChangeKind::Exited, cause, exited),
            None => attribute(segment, ChangeKind::Exited, exited, &self.lost, out),
        }
    }
}

/// Reports `ids` as changes of `kind`, each caused by the first source (in
/// source order) whose link change covers it.
fn attribute(
    segment: SegmentId,
    kind: ChangeKind,
    mut ids: RoaringBitmap,
    by: &BTreeMap<Source, RoaringBitmap>,
    out: &mut Changes,
) {
    for (source, changed) in by {
        if ids.is_empty() {
            break;
        }
        let these = &ids & changed;
        ids -= &these;
        out.push(segment, kind, cause_of(*source), these);
    }
    debug_assert!(ids.is_empty(), "a change of membership without a change of link");
}

fn cause_of(source: Source) -> Cause {
    match source {
        Source::Manual => Cause::Manual,
        Source::Rule(r) => Cause::Rule(r),
    }
}
