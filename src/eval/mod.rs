//! Evaluation of a [`Plan`] against a [`Table`] at an instant `now`.
//!
//! Two evaluators, and an oracle that checks both:
//!
//! - set at a time ([`evaluate`], [`evaluate_within`]): the plan is bound
//!   to the table's columns (`bind`: key ranges, dictionary codes, event
//!   windows), answered through the indexes (`bitmap`), and the ids the
//!   indexes leave uncertain are tested one by one with the bound leaves;
//! - entity at a time ([`matches`], [`Matcher`]): each condition reads the
//!   one entity's cell (`entity`), with nothing bound ahead; the write path
//!   tests each written entity this way against the rules that read it;
//! - [`scan`]: the row-by-row oracle (`oracle`), written apart from both,
//!   which tests hold them to.
//!
//! All three give the same answer for every plan, table and `now`.
//!
//! # Which to use
//!
//! A service with an [`Engine`](crate::Engine) evaluates through it:
//! [`Query::evaluate`](crate::engine::Query::evaluate) for its own
//! questions, the same through
//! [`Engine::as_actor`](crate::Engine::as_actor) on behalf of a user,
//! [`Query::within`](crate::engine::Query::within) a segment, and
//! [`Query::budget`](crate::engine::Query::budget) under a [`Budget`];
//! those validate the filter (the one way: [`Plan::in_schema`]) and resolve
//! segments and related kinds. The functions here are for a bare [`Table`]
//! without an engine: [`evaluate`] (or [`evaluate_with`], under a budget)
//! for a set of ids, [`matches`] or a [`Matcher`] for one entity at a time,
//! and [`scan`], the oracle, for tests.

mod bind;
mod bitmap;
mod budget;
mod entity;
mod events;
mod fields;
mod lower;
mod next;
mod oracle;
mod related;
mod trend;

use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::error::EvalError;
use crate::filter::{Plan, PlanNode};
use crate::ids::SegmentId;
use crate::schema::Relation;
pub(crate) use crate::store::{from_bits, Parents};
use crate::store::{EntityId, Table};
use crate::value::Timestamp;
pub(crate) use budget::Meter;
pub use budget::{Budget, CancelToken};
pub(crate) use events::EventLeaf;
pub(crate) use lower::{numeric_span, Span};
pub(crate) use next::next_flip;

/// What a plan that names segments or related kinds reads besides its own
/// table: every kind's table, the parent of each child per relation, and
/// the members of segments.
pub(crate) struct Env<'a> {
    pub tables: &'a [Table],
    pub relations: &'a [Relation],
    pub parents: &'a [Parents],
    pub segments: &'a dyn Members,
    /// What the evaluation may still spend.
    pub meter: &'a Meter<'a>,
}

/// Where the members of segments come from.
pub(crate) trait Members {
    /// The members of `segment`, if it exists.
    fn members(&self, segment: SegmentId) -> Option<&RoaringBitmap>;
}

/// No segments at all.
struct NoSegments;

impl Members for NoSegments {
    fn members(&self, _: SegmentId) -> Option<&RoaringBitmap> {
        None
    }
}

impl Env<'_> {
    /// The context of a plan that needs none ([`Plan::needs_engine`] is false).
    pub(crate) fn none() -> Env<'static> {
        Env::metered(Meter::unmetered())
    }

    /// As [`Env::none`], under a budget.
    pub(crate) fn metered<'a>(meter: &'a Meter<'a>) -> Env<'a> {
        Env {
            tables: &[],
            relations: &[],
            parents: &[],
            segments: &NoSegments,
            meter,
        }
    }

    /// The members of `segment`, if it exists.
    pub(crate) fn members(&self, segment: SegmentId) -> Option<&RoaringBitmap> {
        self.segments.members(segment)
    }

    /// Whether `id` is a member of any of `segments`.
    pub(crate) fn in_segments(&self, segments: &[SegmentId], id: u32) -> bool {
        segments
            .iter()
            .any(|s| self.members(*s).is_some_and(|m| m.contains(id)))
    }
}

fn check_kind(plan: &Plan, table: &Table) -> Result<(), EvalError> {
    if plan.needs_engine() {
        return Err(EvalError::NeedsEngine);
    }
    if Arc::ptr_eq(plan.kind(), table.schema()) || **plan.kind() == **table.schema() {
        Ok(())
    } else {
        Err(EvalError::KindMismatch {
            plan_kind: plan.kind().name().to_string(),
            table_kind: table.schema().name().to_string(),
        })
    }
}

/// The ids of the live entities that match `plan` at `now`.
///
/// `now` is the instant that `withinLast`, `withinNext` and `moreThanAgo`
/// measure from; plans without them ignore it.
///
/// # Errors
///
/// [`EvalError::KindMismatch`] when the plan was validated against another
/// kind than the table's; [`EvalError::NeedsEngine`] for a plan that names
/// segments or related kinds ([`Plan::needs_engine`]): evaluate those with
/// [`Query::evaluate`](crate::engine::Query::evaluate).
///
/// # Examples
///
/// ```
/// use segments::{eval, FieldType, Filter, KindSchema, LimitPolicy, Row, Table, Timestamp};
///
/// let mut t = Table::new(KindSchema::new("account", [("health", FieldType::Float)])?);
/// t.insert("a", Row::new().set("health", 25.0))?;
/// t.insert("b", Row::new().set("health", 80.0))?;
/// t.insert("c", Row::new())?;
/// let plan = Filter::from_json(r#"{"combinator": "and", "rules": [
///     {"field": "health", "operator": "<", "value": 30}]}"#)?
///     .validate(t.schema(), &LimitPolicy::default())?;
/// let ids = eval::evaluate(&plan, &t, Timestamp::now())?;
/// assert_eq!(t.keys_of(&ids).collect::<Vec<_>>(), ["a"]);
/// # Ok::<(), segments::Error>(())
/// ```
pub fn evaluate(plan: &Plan, table: &Table, now: Timestamp) -> Result<RoaringBitmap, EvalError> {
    check_kind(plan, table)?;
    Ok(evaluate_in(plan, table, now, None, &Env::none()))
}

/// As [`evaluate`], under a [`Budget`]: it gives up, with an error, once
/// the budget's deadline passes or its token is cancelled.
///
/// # Errors
///
/// As [`evaluate`]; [`EvalError::DeadlineExceeded`] and
/// [`EvalError::Cancelled`] when the budget ran out (an expired budget is
/// refused before any work).
pub fn evaluate_with(plan: &Plan, table: &Table, now: Timestamp, budget: &Budget) -> Result<RoaringBitmap, EvalError> {
    check_kind(plan, table)?;
    Meter::run(budget, |meter| {
        evaluate_in(plan, table, now, None, &Env::metered(meter))
    })
}

/// As [`evaluate`], restricted to the ids in `within` (a segment, say).
///
/// # Errors
///
/// As [`evaluate`].
pub fn evaluate_within(
    plan: &Plan,
    table: &Table,
    now: Timestamp,
    within: &RoaringBitmap,
) -> Result<RoaringBitmap, EvalError> {
    check_kind(plan, table)?;
    Ok(evaluate_in(plan, table, now, Some(within), &Env::none()))
}

/// As [`evaluate_within`] (or [`evaluate`] without a scope), for a plan
/// known to be of the table's kind.
pub(crate) fn evaluate_in(
    plan: &Plan,
    table: &Table,
    now: Timestamp,
    within: Option<&RoaringBitmap>,
    env: &Env,
) -> RoaringBitmap {
    eval_node(&plan.root, table, now, within, env)
}

pub(crate) fn eval_node(
    node: &PlanNode,
    table: &Table,
    now: Timestamp,
    within: Option<&RoaringBitmap>,
    env: &Env,
) -> RoaringBitmap {
    let scoped;
    let within = match within {
        Some(w) => {
            scoped = w & table.live();
            Some(&scoped)
        }
        None => None,
    };
    let root = bind::bind(node, table, now, env);
    let cx = bitmap::SetEval {
        live: table.live(),
        live_len: table.len(),
        per_id: table.config().per_id_candidates,
        meter: env.meter,
    };
    let t = cx.eval(&root, within);
    let mut out = t.sure;
    // A tight loop over a vector lets the (cache-missing) column reads of
    // successive ids overlap, which interleaving them with roaring's
    // iterator and inserts does not.
    let mut maybe: Vec<u32> = t.maybe.iter().collect();
    let (mut k, mut stopped) = (0, false);
    maybe.retain(|&id| {
        k += 1;
        stopped = stopped || (k % bitmap::RUN == 0 && env.meter.spent());
        !stopped && root.test(id)
    });
    out |= RoaringBitmap::from_sorted_iter(maybe).unwrap_or_default();
    out
}

/// The row-scan oracle: tests every live entity against every condition on
/// its decoded values. For tests and checks; use [`evaluate`] otherwise.
///
/// # Errors
///
/// As [`evaluate`].
pub fn scan(plan: &Plan, table: &Table, now: Timestamp) -> Result<RoaringBitmap, EvalError> {
    check_kind(plan, table)?;
    Ok(oracle::scan(&plan.root, table, now, &Env::none()))
}

/// The oracle with a context, for the engine's checks.
#[cfg(feature = "testing")]
pub(crate) fn scan_in(plan: &Plan, table: &Table, now: Timestamp, env: &Env) -> RoaringBitmap {
    oracle::scan(&plan.root, table, now, env)
}

/// A plan held against one table and one `now`, to test entities one at a
/// time.
///
/// It checks the plan's kind once; each [`Matcher::matches`] then reads
/// only the cells the plan names, through the same per-entity evaluator
/// that keeps memberships current on every write (and that [`matches`]
/// uses once). To test many entities, [`evaluate_within`] with the ids is
/// faster: it works set at a time through the indexes.
///
/// # Examples
///
/// ```
/// use segments::{eval::Matcher, FieldType, Filter, KindSchema, LimitPolicy, Row, Table, Timestamp};
/// use segments::filter::field;
///
/// let mut t = Table::new(KindSchema::new("account", [("plan", FieldType::String)])?);
/// let a = t.insert("a", Row::new().set("plan", "pro"))?;
/// let plan = Filter::and([field("plan").ne("free")]).validate(t.schema(), &LimitPolicy::default())?;
/// assert!(Matcher::new(&plan, &t, Timestamp::now())?.matches(a));
/// # Ok::<(), segments::Error>(())
/// ```
pub struct Matcher<'a> {
    table: &'a Table,
    root: PlanNode,
    now: Timestamp,
}

impl<'a> Matcher<'a> {
    /// Holds `plan` against `table` at `now`.
    ///
    /// # Errors
    ///
    /// As [`evaluate`].
    pub fn new(plan: &Plan, table: &'a Table, now: Timestamp) -> Result<Matcher<'a>, EvalError> {
        check_kind(plan, table)?;
        Ok(Matcher {
            table,
            root: plan.root.clone(),
            now,
        })
    }

    /// Whether entity `id` is live and matches.
    pub fn matches(&self, id: EntityId) -> bool {
        matches_node(&self.root, self.table, id.0, self.now, &Env::none())
    }
}

/// Whether one entity is live and matches `plan` at `now`.
///
/// Nothing is bound ahead: each condition reads the entity's cell, so one
/// test costs a few column reads whatever the dictionaries hold. To test
/// many entities, [`evaluate_within`] works set at a time and is faster.
///
/// # Errors
///
/// As [`evaluate`].
pub fn matches(plan: &Plan, table: &Table, id: EntityId, now: Timestamp) -> Result<bool, EvalError> {
    check_kind(plan, table)?;
    Ok(table.live().contains(id.0) && entity::matches(&plan.root, table, id.0, now, &Env::none()))
}

/// Whether one node of a plan holds for the live entity `id`.
pub(crate) fn matches_node(node: &PlanNode, table: &Table, id: u32, now: Timestamp, env: &Env) -> bool {
    table.live().contains(id) && entity::matches(node, table, id, now, env)
}

/// How many of the live entity `id`'s related entities match the nested
/// filter of `r`, and how many there are.
pub(crate) fn related_counts(r: &crate::filter::RelCond, env: &Env, id: u32, now: Timestamp) -> (u64, u64) {
    entity::related_counts(r, env, id, now)
}

/// As [`matches`] for a plan known to be of the table's kind.
pub(crate) fn matches_unchecked(plan: &Plan, table: &Table, id: u32, now: Timestamp, env: &Env) -> bool {
    table.live().contains(id) && entity::matches(&plan.root, table, id, now, env)
}
