//! Questions about segments and their members, refreshes, and scoped views.

use roaring::RoaringBitmap;

use super::guard::Reader;
use super::read::{Query, Segments};
use super::{Engine, RuleState};
use crate::error::{Error, SegmentError, StatsError};
use crate::eval::{self, Budget, Meter};
use crate::filter::{Filter, Plan};
use crate::segment::{Action, Actor, RuleId, RuleInfo, SegmentId, SegmentInfo, Source};
use crate::stats::{self, NumericStats, ValueCounts};
use crate::store::Table;
use crate::value::Timestamp;

impl Engine {
    /// Deprecated: `engine.segments().get(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().get(segment)`")]
    pub fn segment(&self, segment: SegmentId) -> Result<&SegmentInfo, SegmentError> {
        self.segments().get(segment)
    }

    /// Deprecated: `engine.as_actor(actor).segments().get(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.as_actor(actor).segments().get(segment)`")]
    pub fn view(&self, actor: &Actor, segment: SegmentId) -> Result<&SegmentInfo, SegmentError> {
        Ok(&self.guard().visible(actor, segment, Action::View)?.info)
    }

    /// Deprecated: `engine.as_actor(actor).segments().iter()`.
    #[deprecated(since = "0.2.0", note = "use `engine.as_actor(actor).segments().iter()`")]
    pub fn list<'a>(&'a self, actor: &'a Actor) -> impl Iterator<Item = &'a SegmentInfo> + 'a {
        self.as_actor(actor).segments().iter()
    }

    /// Deprecated: `engine.segments().rule(rule)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().rule(rule)`")]
    pub fn rule(&self, rule: RuleId) -> Result<&RuleInfo, SegmentError> {
        self.segments().rule(rule)
    }

    /// Deprecated: `engine.segments().members(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().members(segment)`")]
    pub fn members(&self, segment: SegmentId) -> Result<&RoaringBitmap, SegmentError> {
        self.segments().members(segment)
    }

    /// Deprecated: `engine.segments().member_keys(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().member_keys(segment)`")]
    pub fn member_keys(&self, segment: SegmentId) -> Result<impl Iterator<Item = &str> + '_, SegmentError> {
        self.segments().member_keys(segment)
    }

    /// Deprecated: `engine.segments().count(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().count(segment)`")]
    pub fn count(&self, segment: SegmentId) -> Result<u64, SegmentError> {
        self.segments().count(segment)
    }

    /// Deprecated: `engine.segments().is_member(segment, key)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().is_member(segment, key)`")]
    pub fn is_member(&self, segment: SegmentId, key: &str) -> Result<bool, SegmentError> {
        self.segments().is_member(segment, key)
    }

    /// Deprecated: `engine.segments().segments_of(kind, key)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().segments_of(kind, key)`")]
    pub fn segments_of(&self, kind: &str, key: &str) -> Result<Vec<SegmentId>, SegmentError> {
        self.segments().segments_of(kind, key)
    }

    /// Deprecated: `engine.segments().links(segment, key)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().links(segment, key)`")]
    pub fn links(&self, segment: SegmentId, key: &str) -> Result<Vec<Source>, SegmentError> {
        self.segments().links(segment, key)
    }

    /// Deprecated: `engine.segments().blocks(segment, key)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().blocks(segment, key)`")]
    pub fn blocks(&self, segment: SegmentId, key: &str) -> Result<Vec<RuleId>, SegmentError> {
        self.segments().blocks(segment, key)
    }

    /// Deprecated: `engine.segments().rule_links(rule)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().rule_links(rule)`")]
    pub fn rule_links(&self, rule: RuleId) -> Result<&RoaringBitmap, SegmentError> {
        self.segments().rule_links(rule)
    }

    /// Deprecated: `engine.segments().rule_blocks(rule)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().rule_blocks(rule)`")]
    pub fn rule_blocks(&self, rule: RuleId) -> Result<&RoaringBitmap, SegmentError> {
        self.segments().rule_blocks(rule)
    }

    /// Deprecated: `engine.segments().manual_links(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().manual_links(segment)`")]
    pub fn manual_links(&self, segment: SegmentId) -> Result<&RoaringBitmap, SegmentError> {
        self.segments().manual_links(segment)
    }

    /// Deprecated: `engine.query(kind).evaluate(filter, now)`.
    #[deprecated(since = "0.2.0", note = "use `engine.query(kind).evaluate(filter, now)`")]
    pub fn evaluate(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
        self.query(kind).evaluate(filter, now)
    }

    /// Deprecated: `engine.query(kind).budget(budget).evaluate(filter, now)`.
    #[deprecated(since = "0.2.0", note = "use `engine.query(kind).budget(b).evaluate(f, now)`")]
    pub fn evaluate_with(
        &self,
        kind: &str,
        filter: &Filter,
        now: Timestamp,
        budget: &Budget,
    ) -> Result<RoaringBitmap, Error> {
        self.query(kind).budget(budget).evaluate(filter, now)
    }

    pub(super) fn evaluate_in(
        &self,
        kind: &str,
        filter: &Filter,
        now: Timestamp,
        within: Option<&RoaringBitmap>,
        actor: Option<&Actor>,
        budget: &Budget,
    ) -> Result<RoaringBitmap, Error> {
        let (table, plan) = self.unsaved_plan(kind, filter, actor)?;
        let ids = Meter::run(budget, |meter| {
            self.with_env(meter, |env| eval::evaluate_in(&plan, table, now, within, env))
        })?;
        Ok(ids)
    }

    /// Validates a filter that is evaluated without being saved, and the
    /// segments it names (with an actor, only segments it may see).
    pub(super) fn unsaved_plan(
        &self,
        kind: &str,
        filter: &Filter,
        actor: Option<&Actor>,
    ) -> Result<(&Table, Plan), Error> {
        let table = self.store.table(kind)?;
        let resolved = self.guard().resolve_names(filter, actor)?;
        let filter = resolved.as_ref().unwrap_or(filter);
        let plan = Plan::in_schema(filter, self.store.schema(), kind, &self.policy)?;
        let k = self.kind_index(kind).unwrap_or(0);
        let reader = actor.map(|actor| Reader { actor, home: None });
        self.guard()
            .check_refs(SegmentId(0), "(unsaved filter)", k, &plan, reader)?;
        Ok((table, plan))
    }

    /// Runs `f` with the context that plans naming segments and related
    /// kinds read.
    pub(super) fn with_env<R>(&self, meter: &Meter, f: impl FnOnce(&eval::Env) -> R) -> R {
        let mut env = super::env(&self.store, &self.book);
        env.meter = meter;
        f(&env)
    }

    /// Deprecated: `engine.query(kind).within(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.query(kind).within(segment)`")]
    pub fn scope(&self, segment: SegmentId) -> Result<Scope<'_>, SegmentError> {
        #[allow(deprecated)]
        self.segments().scope(segment)
    }

    pub(super) fn scope_of<'a>(&'a self, s: &'a super::SegmentState, actor: Option<&'a Actor>) -> Scope<'a> {
        Scope {
            engine: self,
            kind: &s.info.kind,
            table: self.table_at(s.kind),
            members: &s.members,
            actor,
        }
    }

    pub(super) fn live_id(&self, k: usize, kind: &str, key: &str) -> Result<u32, SegmentError> {
        // `Table::id` answers for live entities only.
        self.table_at(k)
            .id(key)
            .map(|id| id.0)
            .ok_or_else(|| SegmentError::UnknownKey {
                kind: kind.to_string(),
                key: key.to_string(),
            })
    }

    pub(super) fn rules_of<'a>(
        &'a self,
        ids: impl Iterator<Item = &'a RuleId> + 'a,
    ) -> impl Iterator<Item = &'a RuleState> + 'a {
        ids.filter_map(|r| self.book.rule(*r))
    }
}

/// An engine seen through one segment: deprecated with
/// [`Segments::scope`](crate::engine::Segments::scope), which returns it;
/// [`Query::within`](crate::engine::Query::within) replaces both.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    engine: &'a Engine,
    kind: &'a str,
    table: &'a Table,
    members: &'a RoaringBitmap,
    /// Through an actor's view: filters may name only segments this actor
    /// may see.
    actor: Option<&'a Actor>,
}

impl<'a> Scope<'a> {
    /// The segment's members.
    pub fn members(&self) -> &'a RoaringBitmap {
        self.members
    }

    /// The members that match `filter` at `now`.
    ///
    /// # Errors
    ///
    /// As [`Query::evaluate`](crate::engine::Query::evaluate); through an
    /// actor's view, also [`SegmentError::Denied`] for a filter that names
    /// a segment the actor may not see.
    pub fn evaluate(&self, filter: &Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
        self.evaluate_with(filter, now, &Budget::unlimited())
    }

    /// As [`Scope::evaluate`], under a [`Budget`] (see
    /// [`Query::evaluate`](crate::engine::Query::evaluate)).
    ///
    /// # Errors
    ///
    /// As [`Scope::evaluate`] and [`Query::evaluate`](crate::engine::Query::evaluate).
    pub fn evaluate_with(&self, filter: &Filter, now: Timestamp, budget: &Budget) -> Result<RoaringBitmap, Error> {
        self.engine
            .evaluate_in(self.kind, filter, now, Some(self.members), self.actor, budget)
    }

    /// Numeric statistics of the members (see [`stats::numeric`]).
    ///
    /// # Errors
    ///
    /// As [`stats::numeric`].
    pub fn numeric_stats(&self, field: &str, percentiles: &[f64]) -> Result<NumericStats, StatsError> {
        stats::numeric(self.table, field, self.members, percentiles)
    }

    /// Value counts of the members (see [`stats::value_counts`]).
    ///
    /// # Errors
    ///
    /// As [`stats::value_counts`].
    pub fn value_counts(&self, field: &str) -> Result<ValueCounts, StatsError> {
        stats::value_counts(self.table, field, self.members)
    }
}

impl<'a> Segments<'a> {
    /// When to call [`Engine::refresh`] next: the earliest instant after
    /// `now` at which a relative-time condition of some rule (a window on a
    /// field, first or last seen, an event count or usage change over a
    /// sliding window, in nested filters too) changes its answer for some
    /// live entity, if no data changes. `None` if none ever will. Through
    /// an actor's view, only the rules of segments the actor may see count.
    ///
    /// No membership changes before that instant; one may not change at it
    /// (a condition that flips may not change its rule's answer). Each call
    /// reads every value and event instant that a relative-time condition
    /// looks at: it costs about one evaluation per such condition.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::{field, TimeUnit};
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("renewal", FieldType::Timestamp)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let renewal: Timestamp = "2026-12-20T00:00:00Z".parse()?;
    /// engine.insert("account", "a", Row::new().set("renewal", renewal))?;
    /// let soon = Filter::and([field("renewal").within_next(30, TimeUnit::Days)]);
    /// engine.create_segment(&Actor::new("ada", Role::Admin), NewSegment::new("Renewing", "account").filter(soon))?;
    /// // It enters 30 days before the renewal.
    /// let now: Timestamp = "2026-11-01T00:00:00Z".parse()?;
    /// assert_eq!(engine.segments().next_change(now), Some("2026-11-20T00:00:00Z".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        let engine = self.engine;
        let relations = engine.store.schema().relations();
        let mut best: Option<i64> = None;
        let rules = engine.book.rules().values().filter(|r| r.info.time_relative);
        for r in rules.filter(|r| self.seen(r.info.segment).is_ok()) {
            r.plan.visit_all(&mut |chain, leaf| {
                if !leaf.is_time_relative_leaf() {
                    return;
                }
                let kind = chain
                    .last()
                    .map_or(r.kind, |&rel| relations[rel.index()].child.0 as usize);
                if let Some(t) = eval::next_flip(leaf, engine.table_at(kind), now.as_micros()) {
                    best = Some(best.map_or(t, |b| b.min(t)));
                }
            });
        }
        best.map(Timestamp::from_micros)
    }

    /// The segments the reader may see, in the listing order. The engine's
    /// own handle lists every segment; an actor's lists the public ones,
    /// its own private ones, and the private ones shared with it or a
    /// team it is in (others' private segments are not listed, whatever
    /// the role).
    pub fn iter(&self) -> impl Iterator<Item = &'a SegmentInfo> + 'a {
        self.engine.guard().listed(self.actor)
    }

    /// A segment's definition.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`]; through an actor's view,
    /// [`SegmentError::Denied`] for a segment the actor may not see or that
    /// does not exist (the same error for both, so that a refusal tells
    /// nothing of segments the actor may not see), and
    /// [`SegmentError::UnknownSegment`] for admins and leaders.
    pub fn get(&self, segment: SegmentId) -> Result<&'a SegmentInfo, SegmentError> {
        Ok(&self.seen(segment)?.info)
    }

    /// The segment named `name`, among those [`Segments::iter`] lists:
    /// through an actor's view, public segments, its own and those shared
    /// with it, so that a private segment of another is as unknown as a
    /// missing one (an admin, too, reaches others' private segments by id
    /// only).
    ///
    /// Names are compared exactly as saved: case-sensitive (`"At risk"`
    /// and `"At Risk"` are two names), accents and inner spaces count, and
    /// only the ends of `name` are trimmed, as a name is trimmed when it is
    /// saved. Public names are unique among public segments and private
    /// names among their owner's private segments, so a name finds one
    /// segment except where a public and a private one share it; then the
    /// first in the segments' order. `@segment` rules that name a segment
    /// by name resolve it the same way. A service that creates its
    /// segments at start-up looks each up first:
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::error::SegmentError;
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Schema};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// let admin = Actor::new("ada", Role::Admin);
    /// for _start in 0..2 {
    ///     let big = match engine.segments().named("Big") {
    ///         Ok(s) => s.id,
    ///         Err(SegmentError::UnknownSegmentName { .. }) => {
    ///             let f = Filter::and([field("mrr").ge(1000)]);
    ///             engine.create_segment(&admin, NewSegment::new("Big", "account").filter(f))?.0
    ///         }
    ///         Err(e) => return Err(e.into()),
    ///     };
    ///     assert_eq!(engine.segments().get(big)?.name, "Big");
    /// }
    /// assert_eq!(engine.segments().iter().count(), 1);
    /// assert!(engine.segments().named("big").is_err());
    /// # Ok::<(), segments::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegmentName`] when no segment (that the actor
    /// may see) has the name.
    pub fn named(&self, name: &str) -> Result<&'a SegmentInfo, SegmentError> {
        self.engine.guard().named(self.actor, name)
    }

    /// A rule.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownRule`]; through an actor's view,
    /// [`SegmentError::Denied`] for a rule of a segment the actor may not
    /// see or that does not exist.
    pub fn rule(&self, rule: RuleId) -> Result<&'a RuleInfo, SegmentError> {
        Ok(&self.seen_rule(rule)?.info)
    }

    /// A segment's members.
    ///
    /// # Errors
    ///
    /// As [`Segments::get`].
    pub fn members(&self, segment: SegmentId) -> Result<&'a RoaringBitmap, SegmentError> {
        Ok(&self.seen(segment)?.members)
    }

    /// The keys of a segment's members, by id.
    ///
    /// # Errors
    ///
    /// As [`Segments::get`].
    pub fn member_keys(&self, segment: SegmentId) -> Result<impl Iterator<Item = &'a str> + 'a, SegmentError> {
        let s = self.seen(segment)?;
        Ok(self.engine.table_at(s.kind).keys_of(&s.members))
    }

    /// The number of members.
    ///
    /// # Errors
    ///
    /// As [`Segments::get`].
    pub fn count(&self, segment: SegmentId) -> Result<u64, SegmentError> {
        Ok(self.members(segment)?.len())
    }

    /// Whether the entity `key` is a member (an unknown key is not).
    ///
    /// # Errors
    ///
    /// As [`Segments::get`].
    pub fn is_member(&self, segment: SegmentId, key: &str) -> Result<bool, SegmentError> {
        let s = self.seen(segment)?;
        Ok(self
            .engine
            .table_at(s.kind)
            .id(key)
            .is_some_and(|id| s.members.contains(id.0)))
    }

    /// The segments the entity `key` of `kind` is in, in the listing order
    /// (through an actor's view, those it may see).
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownKind`], [`SegmentError::UnknownKey`] for a key
    /// that is not live.
    pub fn segments_of(&self, kind: &str, key: &str) -> Result<Vec<SegmentId>, SegmentError> {
        let e = self.engine;
        let k = e
            .kind_index(kind)
            .ok_or_else(|| SegmentError::UnknownKind(crate::error::UnknownKind::new(kind)))?;
        let id = e.live_id(k, kind, key)?;
        Ok(e.book
            .order()
            .iter()
            .filter(|s| {
                e.book
                    .segment(**s)
                    .is_some_and(|s| s.kind == k && s.members.contains(id))
            })
            .filter(|s| self.actor.is_none() || self.seen(**s).is_ok())
            .copied()
            .collect())
    }

    /// Why the entity `key` is in a segment: its links, manual first, then
    /// rules by id. Empty when it is not a member.
    ///
    /// # Errors
    ///
    /// As [`Segments::get`], and [`SegmentError::UnknownKey`].
    pub fn links(&self, segment: SegmentId, key: &str) -> Result<Vec<Source>, SegmentError> {
        let s = self.seen(segment)?;
        let id = self.engine.live_id(s.kind, &s.info.kind, key)?;
        let mut out = Vec::new();
        if s.manual.contains(id) {
            out.push(Source::Manual);
        }
        out.extend(
            self.engine
                .rules_of(s.info.rules.iter())
                .filter(|r| r.links.contains(id))
                .map(|r| Source::Rule(r.info.id)),
        );
        Ok(out)
    }

    /// The rules of a segment that a manual removal blocks from linking the
    /// entity `key`, by id.
    ///
    /// # Errors
    ///
    /// As [`Segments::links`].
    pub fn blocks(&self, segment: SegmentId, key: &str) -> Result<Vec<RuleId>, SegmentError> {
        let s = self.seen(segment)?;
        let id = self.engine.live_id(s.kind, &s.info.kind, key)?;
        Ok(self
            .engine
            .rules_of(s.info.rules.iter())
            .filter(|r| r.blocked.contains(id))
            .map(|r| r.info.id)
            .collect())
    }

    /// The entities a rule links (before manual links are added).
    ///
    /// # Errors
    ///
    /// As [`Segments::rule`].
    pub fn rule_links(&self, rule: RuleId) -> Result<&'a RoaringBitmap, SegmentError> {
        Ok(&self.seen_rule(rule)?.links)
    }

    /// The entities a rule is blocked from linking.
    ///
    /// # Errors
    ///
    /// As [`Segments::rule`].
    pub fn rule_blocks(&self, rule: RuleId) -> Result<&'a RoaringBitmap, SegmentError> {
        Ok(&self.seen_rule(rule)?.blocked)
    }

    /// A segment's manual links.
    ///
    /// # Errors
    ///
    /// As [`Segments::get`].
    pub fn manual_links(&self, segment: SegmentId) -> Result<&'a RoaringBitmap, SegmentError> {
        Ok(&self.seen(segment)?.manual)
    }

    /// Deprecated: `engine.query(kind).within(segment)`.
    #[deprecated(since = "0.2.0", note = "use `engine.query(kind).within(segment)`")]
    pub fn scope(&self, segment: SegmentId) -> Result<Scope<'a>, SegmentError> {
        Ok(self.engine.scope_of(self.seen(segment)?, self.actor))
    }
}

impl<'a> Query<'a> {
    /// The same query over the members of `segment` only (an "active
    /// segment"): evaluations and statistics see no other entity.
    ///
    /// # Errors
    ///
    /// As [`Segments::get`] (through an actor's view,
    /// [`SegmentError::Denied`] for a segment it may not see), and
    /// [`SegmentError::OtherKind`] for a segment of another kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// for (k, mrr) in [("a", 100i64), ("b", 2000), ("c", 5000)] {
    ///     engine.insert("account", k, Row::new().set("mrr", mrr))?;
    /// }
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (big, _) = engine.create_segment(&admin,
    ///     NewSegment::new("Big", "account").filter(Filter::and([field("mrr").ge(1000)])))?;
    /// let big_ones = engine.query("account").within(big)?;
    /// let ids = big_ones.evaluate(&Filter::and([field("mrr").lt(3000)]), Timestamp::now())?;
    /// assert_eq!(ids.len(), 1);
    /// assert_eq!(big_ones.numeric_stats("mrr", &[])?.median, Some(3500.0));
    /// assert!(engine.query("user").within(big).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn within(self, segment: SegmentId) -> Result<Query<'a>, SegmentError> {
        let s = Segments {
            engine: self.engine,
            actor: self.actor,
        }
        .seen(segment)?;
        if s.info.kind != self.kind {
            return Err(SegmentError::OtherKind {
                segment,
                kind: s.info.kind.clone(),
                expected: self.kind.to_string(),
            });
        }
        Ok(Query {
            within: Some(&s.members),
            ..self
        })
    }

    /// Numeric statistics of the query's entities (see [`stats::numeric`]):
    /// the kind's live entities, or the members of [`Query::within`]'s
    /// segment.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] for an unknown kind; as [`stats::numeric`].
    pub fn numeric_stats(&self, field: &str, percentiles: &[f64]) -> Result<NumericStats, Error> {
        let table = self.engine.store.table(self.kind)?;
        Ok(stats::numeric(
            table,
            field,
            self.within.unwrap_or(table.live()),
            percentiles,
        )?)
    }

    /// Value counts of the query's entities (see [`stats::value_counts`]).
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] for an unknown kind; as [`stats::value_counts`].
    pub fn value_counts(&self, field: &str) -> Result<ValueCounts, Error> {
        let table = self.engine.store.table(self.kind)?;
        Ok(stats::value_counts(table, field, self.within.unwrap_or(table.live()))?)
    }

    /// Evaluates a filter over the kind at `now` (over the members of
    /// [`Query::within`]'s segment only, if given), without saving it.
    ///
    /// The engine's own query is unchecked: a filter may name (`@segment`)
    /// any segment, private ones included. Through an actor's view it may
    /// name only segments the actor may see.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] for an unknown kind, [`Error::Filter`] for a filter
    /// that does not validate, [`Error::Segment`] for one that names a
    /// segment that does not exist or holds another kind (through an
    /// actor's view, [`SegmentError::Denied`] for one it may not see). Under
    /// a [`Query::budget`], [`Error::Eval`] with
    /// [`EvalError::DeadlineExceeded`](crate::EvalError::DeadlineExceeded)
    /// or [`EvalError::Cancelled`](crate::EvalError::Cancelled).
    pub fn evaluate(&self, filter: &Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
        let unlimited = Budget::unlimited();
        let budget = self.budget.unwrap_or(&unlimited);
        self.engine
            .evaluate_in(self.kind, filter, now, self.within, self.actor, budget)
    }
}
