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
        let mut entered = &now_in - &was_in;
        let mut exited = was_in - &now_in;
        *members -= &exited;
        *members |= &entered;
        for (source, ids) in &self.gained {
            if entered.is_empty() {
                break;
            }
            let these = &entered & ids;
            entered -= &these;
            out.push(segment, ChangeKind::Entered, cause_of(*source), these);
        }
        debug_assert!(entered.is_empty(), "an entry without a new link");
        match self.exit_cause {
            Some(cause) => out.push(segment, ChangeKind::Exited, cause, exited),
            None => {
                for (source, ids) in &self.lost {
                    if exited.is_empty() {
                        break;
                    }
                    let these = &exited & ids;
                    exited -= &these;
                    out.push(segment, ChangeKind::Exited, cause_of(*source), these);
                }
                debug_assert!(exited.is_empty(), "an exit without a lost link");
            }
        }
    }
}

fn cause_of(source: Source) -> Cause {
    match source {
        Source::Manual => Cause::Manual,
        Source::Rule(r) => Cause::Rule(r),
    }
}
