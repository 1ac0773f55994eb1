//! How long an evaluation may run: a deadline, a cancellation token, or both.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::EvalError;

/// A flag that stops the evaluations it was given to, from any thread.
///
/// Clones share the flag: keep one, hand one to the evaluation (through a
/// [`Budget`]), and call [`CancelToken::cancel`] when its answer is no
/// longer wanted (the user closed the page, a writer is waiting).
///
/// # Examples
///
/// ```
/// use segments::eval::CancelToken;
///
/// let token = CancelToken::new();
/// let handed_out = token.clone();
/// token.cancel();
/// assert!(handed_out.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every evaluation holding a clone of this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called on it or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What an evaluation may spend: until a deadline, until a token is
/// cancelled, or without bound ([`Budget::unlimited`], the default).
///
/// An evaluation checks its budget before each condition and each step of
/// the bitmap evaluation, and every 65,536 words or rows of its long loops
/// (a dictionary search, the trigram index's build, a pass over a column's
/// rows), so it gives up soon after the deadline or the cancellation (a
/// few milliseconds at ten million entities: one bitmap operation), and
/// answers [`EvalError::DeadlineExceeded`] or [`EvalError::Cancelled`]. An
/// evaluation changes nothing, so giving up leaves everything as it was.
///
/// A search of a large dictionary under a budget builds at most a round of
/// its trigram index (131,072 words on two cores, tens of milliseconds)
/// and scans the words the index does not cover yet; without a budget the
/// first search builds the whole index (about 0.4 s per million words).
///
/// Only evaluations that answer a question take a budget
/// ([`eval::evaluate_with`](crate::eval::evaluate_with),
/// [`Engine::evaluate_with`](crate::Engine::evaluate_with),
/// [`AsActor::evaluate_with`](crate::engine::AsActor::evaluate_with) and
/// [`Scope::evaluate_with`](crate::engine::Scope::evaluate_with)). The
/// evaluations that keep membership current (a write, a refresh, saving a
/// rule) always finish: stopping one half-way would leave members that no
/// longer agree with the rules. Their cost is bounded by the filter limits
/// ([`LimitPolicy`](crate::LimitPolicy)): each condition costs at most a
/// pass over the kind's rows or its dictionary.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use segments::eval::{self, Budget, CancelToken};
/// use segments::{EvalError, FieldType, Filter, KindSchema, LimitPolicy, Row, Table, Timestamp};
///
/// let mut t = Table::new(KindSchema::new("account", [("email", FieldType::String)])?);
/// t.insert("a", Row::new().set("email", "ann@example.com"))?;
/// let plan = Filter::from_json(r#"{"combinator": "and", "rules": [
///     {"field": "email", "operator": "contains", "value": "@example"}]}"#)?
///     .validate(t.schema(), &LimitPolicy::default())?;
///
/// let ids = eval::evaluate_with(&plan, &t, Timestamp::now(), &Budget::timeout(Duration::from_secs(1)))?;
/// assert_eq!(ids.len(), 1);
///
/// let token = CancelToken::new();
/// token.cancel();
/// let refused = eval::evaluate_with(&plan, &t, Timestamp::now(), &Budget::unlimited().with_cancel(&token));
/// assert_eq!(refused, Err(EvalError::Cancelled));
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Budget {
    deadline: Option<Instant>,
    cancel: Option<CancelToken>,
}

impl Budget {
    /// No bound.
    pub const fn unlimited() -> Budget {
        Budget {
            deadline: None,
            cancel: None,
        }
    }

    /// Until `deadline`.
    pub fn deadline(deadline: Instant) -> Budget {
        Budget::unlimited().with_deadline(deadline)
    }

    /// For `d` from now (a duration too large for the clock is no bound).
    pub fn timeout(d: Duration) -> Budget {
        Budget {
            deadline: Instant::now().checked_add(d),
            cancel: None,
        }
    }

    /// This budget, also ending at `deadline` (the earlier one wins).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Instant) -> Budget {
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        self
    }

    /// This budget, also ending when `token` is cancelled.
    #[must_use]
    pub fn with_cancel(mut self, token: &CancelToken) -> Budget {
        self.cancel = Some(token.clone());
        self
    }

    /// The deadline, if any.
    pub fn deadline_at(&self) -> Option<Instant> {
        self.deadline
    }

    fn is_unlimited(&self) -> bool {
        self.deadline.is_none() && self.cancel.is_none()
    }
}

const RUNNING: u8 = 0;
const LATE: u8 = 1;
const CANCELLED: u8 = 2;

/// Rows or ids a long loop goes through between two checks of the budget.
pub(crate) const RUN: usize = 1 << 16;

/// One evaluation's reading of its budget: once spent, it stays spent, and
/// every loop that asks gives up.
#[derive(Debug)]
pub(crate) struct Meter<'a> {
    budget: &'a Budget,
    started: Option<Instant>,
    state: AtomicU8,
}

/// The meter of evaluations without a budget.
static UNMETERED: Meter<'static> = Meter {
    budget: &Budget::unlimited(),
    started: None,
    state: AtomicU8::new(RUNNING),
};

impl<'a> Meter<'a> {
    /// A meter for one evaluation under `budget`, starting now.
    pub(crate) fn new(budget: &'a Budget) -> Meter<'a> {
        Meter {
            budget,
            started: (!budget.is_unlimited()).then(Instant::now),
            state: AtomicU8::new(RUNNING),
        }
    }

    /// The meter that never runs out.
    pub(crate) fn unmetered() -> &'static Meter<'static> {
        &UNMETERED
    }

    /// Whether the evaluation has a bound at all.
    pub(crate) fn is_limited(&self) -> bool {
        !self.budget.is_unlimited()
    }

    /// Whether the budget is spent (and the evaluation should give up).
    pub(crate) fn spent(&self) -> bool {
        if self.state.load(Ordering::Relaxed) != RUNNING {
            return true;
        }
        if self.budget.is_unlimited() {
            return false;
        }
        let state = if self.budget.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            CANCELLED
        } else if self.budget.deadline.is_some_and(|d| Instant::now() >= d) {
            LATE
        } else {
            return false;
        };
        self.state.store(state, Ordering::Relaxed);
        true
    }

    /// Runs `work` under `budget`: refused before any work when the budget
    /// is spent already, and its (maybe partial) answer kept from the
    /// caller when the budget ran out during it.
    pub(crate) fn run<T>(budget: &Budget, work: impl FnOnce(&Meter) -> T) -> Result<T, EvalError> {
        let meter = Meter::new(budget);
        meter.verdict()?;
        let out = work(&meter);
        meter.verdict().map(|()| out)
    }

    /// What the evaluation comes to: `Ok` if the budget held to the end.
    pub(crate) fn verdict(&self) -> Result<(), EvalError> {
        let spent = self.spent();
        match self.state.load(Ordering::Relaxed) {
            _ if !spent => Ok(()),
            CANCELLED => Err(EvalError::Cancelled),
            _ => Err(EvalError::DeadlineExceeded {
                elapsed: self.started.map_or(Duration::ZERO, |s| s.elapsed()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_stays_spent() {
        let unlimited = Budget::unlimited();
        let m = Meter::new(&unlimited);
        assert!(!m.spent());
        assert_eq!(m.verdict(), Ok(()));

        let past = Budget::deadline(Instant::now());
        let m = Meter::new(&past);
        assert!(m.spent());
        assert!(matches!(m.verdict(), Err(EvalError::DeadlineExceeded { .. })));

        let token = CancelToken::new();
        let b = Budget::timeout(Duration::from_secs(3600)).with_cancel(&token);
        let m = Meter::new(&b);
        assert!(!m.spent());
        token.cancel();
        assert!(m.spent());
        assert_eq!(m.verdict(), Err(EvalError::Cancelled));

        let later = Instant::now() + Duration::from_secs(60);
        let sooner = Instant::now();
        assert_eq!(
            Budget::deadline(later).with_deadline(sooner).deadline_at(),
            Some(sooner)
        );
        assert!(Budget::timeout(Duration::MAX).deadline_at().is_none());
        assert!(!Meter::unmetered().spent());
    }
}
