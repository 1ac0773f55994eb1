//! Time passing: the refreshes that re-evaluate rules at a new `now`
//! (writes, as the ops `TimeOp::Refresh` and `TimeOp::RefreshAll`).

use super::{Deltas, Engine};
use crate::segment::{Changes, RuleId};
use crate::value::Timestamp;

impl Engine {
    /// Re-evaluates the time-relative rules at `now`.
    pub(super) fn exec_refresh(&mut self, now: Timestamp) -> Changes {
        let rules: Vec<RuleId> = self
            .book
            .rules()
            .values()
            .filter(|r| r.info.time_relative)
            .map(|r| r.info.id)
            .collect();
        self.reevaluate(rules, now)
    }

    /// Re-evaluates every rule at `now`.
    pub(super) fn exec_refresh_all(&mut self, now: Timestamp) -> Changes {
        let rules: Vec<RuleId> = self.book.rules().keys().copied().collect();
        self.reevaluate(rules, now)
    }

    fn reevaluate(&mut self, rules: Vec<RuleId>, now: Timestamp) -> Changes {
        let mut deltas = Deltas::new();
        for r in rules {
            self.relink(r, None, now, &mut deltas);
        }
        self.settle(deltas, now)
    }
}
