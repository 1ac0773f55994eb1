//! The executor of time passing: the refreshes that re-evaluate rules at a
//! new `now` (the ops `TimeOp::Refresh` and `TimeOp::RefreshAll`).
//!
//! A refresh reads the store and moves links and members in the book;
//! nothing else. Setting the clock is the door's (`apply`): the clock is
//! the engine's.

use super::{relink, settle, Deltas};
use crate::segment::book::Book;
use crate::segment::{Changes, RuleId};
use crate::store::Store;
use crate::value::Timestamp;

/// Which rules a refresh re-evaluates.
#[derive(Debug, Clone, Copy)]
pub(super) enum Refresh {
    /// Those whose answer depends on `now` (`@ago`, windows, trends).
    TimeRelative,
    /// Every rule.
    All,
}

/// Re-evaluates the rules `which` names at `now`.
pub(super) fn refresh(store: &Store, book: &mut Book, which: Refresh, now: Timestamp) -> Changes {
    let rules: Vec<RuleId> = book
        .rules()
        .values()
        .filter(|r| matches!(which, Refresh::All) || r.info.time_relative)
        .map(|r| r.info.id)
        .collect();
    let mut deltas = Deltas::new();
    for r in rules {
        relink(store, book, r, None, now, &mut deltas);
    }
    settle(store, book, deltas, now)
}
