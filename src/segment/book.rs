//! The book of segments: every segment, rule, link, block, manual link and
//! member, the references between segments, their ranks and their listing
//! order, and the only code that turns rule results into links, links into
//! members, and members into [`Changes`].
//!
//! The book reads bitmaps and rule results; it knows nothing of columns.
//! What a rule matches is computed by the engine, which hands the result
//! to [`Book::relink`] (a set of entities) or [`Book::settle_one`] (one
//! entity's verdict per rule); [`Book::settle`] then turns a call's link
//! changes into membership changes, asking the engine again (through a
//! callback) for the rules that name a segment whose members moved.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::changes::{Cause, ChangeKind, Changes};
use super::membership::Delta;
use super::{RuleId, RuleInfo, SegmentId, SegmentInfo, Source};
use crate::error::SegmentError;
use crate::filter::Plan;
use crate::ids::RelationId;
use crate::value::Timestamp;

/// The link changes of one call, per segment.
pub(crate) type Deltas = BTreeMap<SegmentId, Delta>;

/// A segment's state.
#[derive(Debug, Clone)]
pub(crate) struct SegmentState {
    pub(crate) info: SegmentInfo,
    /// Its kind's index in the schema.
    pub(crate) kind: usize,
    pub(crate) manual: RoaringBitmap,
    pub(crate) members: RoaringBitmap,
    /// 0 for a segment whose rules name no segment; otherwise one more
    /// than the highest rank of the segments they name. Segments settle
    /// in rank order, so a segment settles after those it depends on.
    pub(crate) rank: u32,
}

/// A rule's state.
#[derive(Debug, Clone)]
pub(crate) struct RuleState {
    pub(crate) info: RuleInfo,
    /// Its segment's kind's index in the schema.
    pub(crate) kind: usize,
    pub(crate) plan: Plan,
    pub(crate) links: RoaringBitmap,
    pub(crate) blocked: RoaringBitmap,
    /// For an external rule, what the caller says it matches (blocks
    /// included: they are taken out when linking, as from a filter's
    /// matches).
    pub(crate) external: Option<RoaringBitmap>,
}

impl RuleState {
    /// A rule of `segment` (of kind `kind`) with no links or blocks yet.
    pub(crate) fn new(id: RuleId, segment: SegmentId, kind: usize, filter: crate::Filter, plan: Plan) -> RuleState {
        RuleState {
            info: RuleInfo {
                id,
                segment,
                time_relative: plan.is_time_relative(),
                filter,
                external: false,
            },
            kind,
            plan,
            links: RoaringBitmap::new(),
            blocked: RoaringBitmap::new(),
            external: None,
        }
    }

    /// An external rule of `segment`, matching nothing yet.
    pub(crate) fn external(id: RuleId, segment: SegmentId, kind: usize, plan: Plan) -> RuleState {
        let mut r = RuleState::new(id, segment, kind, crate::Filter::all(), plan);
        r.info.external = true;
        r.external = Some(RoaringBitmap::new());
        r
    }

    /// An external rule's matches among `scope` (all of them when `None`);
    /// `None` for a rule with a filter, which the engine evaluates.
    pub(crate) fn given(&self, scope: Option<&RoaringBitmap>) -> Option<RoaringBitmap> {
        let given = self.external.as_ref()?;
        Some(scope.map_or_else(|| given.clone(), |s| given & s))
    }
}

/// Segments, rules and membership.
///
/// Its fields are private: the engine reads them through the accessors
/// below and changes them only through the book's methods, which keep its
/// invariants: every segment is in the listing order once; a segment's
/// `info.rules` are exactly the rules that feed it; `refs` indexes
/// exactly the segments the rules' plans name; ranks follow the
/// references; members are the manual links and the rules' links; the
/// id counters are past every id handed out.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    segments: BTreeMap<SegmentId, SegmentState>,
    /// The listing order.
    order: Vec<SegmentId>,
    rules: BTreeMap<RuleId, RuleState>,
    /// Per segment: the rules that name it, with the chain of relations of
    /// the nested filter that does.
    refs: BTreeMap<SegmentId, Vec<(RuleId, Vec<RelationId>)>>,
    next_segment: u64,
    next_rule: u64,
}

impl Default for Book {
    fn default() -> Book {
        Book {
            segments: BTreeMap::new(),
            order: Vec::new(),
            rules: BTreeMap::new(),
            refs: BTreeMap::new(),
            next_segment: 1,
            next_rule: 1,
        }
    }
}

impl crate::eval::Members for Book {
    fn members(&self, segment: SegmentId) -> Option<&RoaringBitmap> {
        self.segments.get(&segment).map(|s| &s.members)
    }
}

/// Reads.
impl Book {
    /// Every segment, by id.
    pub(crate) fn segments(&self) -> &BTreeMap<SegmentId, SegmentState> {
        &self.segments
    }

    /// One segment.
    pub(crate) fn segment(&self, id: SegmentId) -> Option<&SegmentState> {
        self.segments.get(&id)
    }

    /// Every rule, by id.
    pub(crate) fn rules(&self) -> &BTreeMap<RuleId, RuleState> {
        &self.rules
    }

    /// Rules for an error message to the service (schema and event changes
    /// have no actor), each with its segment: `` rule 3 of `At risk` (segment 1) ``.
    pub(crate) fn describe_rules(&self, rules: &[RuleId]) -> String {
        rules
            .iter()
            .map(|r| {
                let s = self.rules.get(r).and_then(|r| self.segment(r.info.segment));
                match s {
                    Some(s) => format!("{r} of `{}` ({})", s.info.name, s.info.id),
                    None => r.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One rule.
    pub(crate) fn rule(&self, id: RuleId) -> Option<&RuleState> {
        self.rules.get(&id)
    }

    /// The listing order.
    pub(crate) fn order(&self) -> &[SegmentId] {
        &self.order
    }

    /// The id the next segment created gets.
    pub(crate) fn next_segment(&self) -> SegmentId {
        SegmentId(self.next_segment)
    }

    /// The id counters of segments and rules, as a snapshot keeps them.
    pub(crate) fn counters(&self) -> (u64, u64) {
        (self.next_segment, self.next_rule)
    }

    /// The segments that `segment`'s rules name, ascending.
    pub(crate) fn named_by(&self, segment: SegmentId) -> Vec<SegmentId> {
        let Some(s) = self.segments.get(&segment) else {
            return Vec::new();
        };
        let mut out: Vec<SegmentId> = s
            .info
            .rules
            .iter()
            .filter_map(|r| self.rules.get(r))
            .flat_map(|r| r.plan.segments())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The segments whose rules name `segment`, ascending.
    pub(crate) fn naming(&self, segment: SegmentId) -> Vec<SegmentId> {
        let mut out: Vec<SegmentId> = self
            .refs
            .get(&segment)
            .into_iter()
            .flatten()
            .filter_map(|(r, _)| self.rules.get(r).map(|r| r.info.segment))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A chain of references from `from` to `to` (both included), if any:
    /// naming `from` from `to` would close it into a cycle.
    pub(crate) fn path_between(&self, from: SegmentId, to: SegmentId) -> Option<Vec<SegmentId>> {
        // Depth-first over the segments each segment's rules name, with a
        // heap stack and the way back to `from`.
        let mut came: BTreeMap<SegmentId, SegmentId> = BTreeMap::new();
        let mut stack = vec![from];
        let mut seen = std::collections::BTreeSet::from([from]);
        while let Some(s) = stack.pop() {
            if s == to {
                let mut path = vec![s];
                let mut at = s;
                while let Some(&p) = came.get(&at) {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            for next in self.named_by(s) {
                if seen.insert(next) {
                    came.insert(next, s);
                    stack.push(next);
                }
            }
        }
        None
    }
}

/// Changes to segments and rules, each keeping the book's invariants.
impl Book {
    /// Adds a segment made for the next id (`make` is given it) at the end
    /// of the listing order, with no rule yet.
    pub(crate) fn add_segment(&mut self, make: impl FnOnce(SegmentId) -> SegmentState) -> SegmentId {
        let id = SegmentId(self.next_segment);
        self.next_segment += 1;
        let mut state = make(id);
        state.info.id = id;
        state.info.rules.clear();
        state.members = state.manual.clone();
        self.segments.insert(id, state);
        self.order.push(id);
        // Rank 0: it has no rules, and nothing names it yet.
        id
    }

    /// A segment's description, to edit: its name, visibility, settings,
    /// sharing, filter rule, times and version. Its rules, members and
    /// rank stay the book's.
    pub(crate) fn info_mut(&mut self, id: SegmentId) -> Option<&mut SegmentInfo> {
        let s = self.segments.get_mut(&id)?;
        Some(&mut s.info)
    }

    /// Moves `segment` to `position` in the listing order.
    pub(crate) fn move_segment(&mut self, segment: SegmentId, position: usize) -> Result<(), SegmentError> {
        if !self.segments.contains_key(&segment) {
            return Err(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(segment)));
        }
        if position >= self.order.len() {
            return Err(SegmentError::Position {
                position,
                len: self.order.len(),
            });
        }
        self.order.retain(|&x| x != segment);
        self.order.insert(position, segment);
        Ok(())
    }

    /// Sets the listing order, which must list every segment once.
    pub(crate) fn reorder(&mut self, order: &[SegmentId]) -> Result<(), SegmentError> {
        let mut seen = std::collections::BTreeSet::new();
        for id in order {
            if !self.segments.contains_key(id) {
                return Err(SegmentError::NotAPermutation {
                    problem: format!("{id} does not exist"),
                });
            }
            if !seen.insert(*id) {
                return Err(SegmentError::NotAPermutation {
                    problem: format!("{id} is listed twice"),
                });
            }
        }
        if let Some(missing) = self.order.iter().find(|id| !seen.contains(id)) {
            return Err(SegmentError::NotAPermutation {
                problem: format!("{missing} is missing"),
            });
        }
        self.order = order.to_vec();
        Ok(())
    }

    /// Takes the next rule id and, if `segment` exists, adds the rule
    /// `make` makes (given its id and the segment's kind) to it, with the
    /// references its plan makes, and reranks. The id is taken either
    /// way, as a replay takes it.
    pub(crate) fn add_rule(
        &mut self,
        segment: SegmentId,
        at: Timestamp,
        make: impl FnOnce(RuleId, usize) -> RuleState,
    ) -> (RuleId, Option<&RuleState>) {
        let id = RuleId(self.next_rule);
        self.next_rule += 1;
        let Some(s) = self.segments.get_mut(&segment) else {
            return (id, None);
        };
        s.info.rules.push(id);
        s.info.updated = at;
        let mut state = make(id, s.kind);
        state.info.id = id;
        state.info.segment = segment;
        self.index_refs(id, &state.plan);
        self.rules.insert(id, state);
        self.rerank();
        (id, self.rules.get(&id))
    }

    /// Gives `rule` a new plan (and filter, unless `None`): its references
    /// follow, and the ranks. Returns the plan it had.
    pub(crate) fn replan(&mut self, rule: RuleId, filter: Option<crate::Filter>, plan: Plan) -> Option<Plan> {
        let named = self.rules.get(&rule)?.plan.segments();
        self.unindex_refs(rule, named);
        self.index_refs(rule, &plan);
        let r = self.rules.get_mut(&rule)?;
        r.info.time_relative = plan.is_time_relative();
        if let Some(f) = filter {
            r.info.filter = f;
        }
        let old = std::mem::replace(&mut r.plan, plan);
        self.rerank();
        Some(old)
    }

    /// Takes a rule out of the book (its references with it), leaving its
    /// segment's rule list and links to [`Book::detach`]; the caller
    /// reranks once it has taken out what it takes.
    pub(crate) fn take_rule(&mut self, rule: RuleId) -> Option<RuleState> {
        let r = self.rules.remove(&rule)?;
        self.unindex_refs(rule, r.plan.segments());
        Some(r)
    }

    /// What external rule `rule` is given to match, to change.
    pub(crate) fn external_mut(&mut self, rule: RuleId) -> Option<&mut RoaringBitmap> {
        self.rules.get_mut(&rule)?.external.as_mut()
    }

    /// Counts one more revision of a segment's definition.
    pub(crate) fn count_revision(&mut self, segment: SegmentId) {
        if let Some(s) = self.segments.get_mut(&segment) {
            s.info.version += 1;
        }
    }

    /// Recomputes every segment's rank (the graph is acyclic).
    pub(crate) fn rerank(&mut self) {
        let ids: Vec<SegmentId> = self.segments.keys().copied().collect();
        let mut rank: BTreeMap<SegmentId, u32> = BTreeMap::new();
        for id in ids {
            // Iterative post-order: a segment's rank once all it names are ranked.
            let mut stack = vec![(id, false)];
            while let Some((s, expanded)) = stack.pop() {
                if rank.contains_key(&s) {
                    continue;
                }
                let named = self.named_by(s);
                if expanded {
                    let r = named
                        .iter()
                        .filter_map(|n| rank.get(n))
                        .map(|r| r + 1)
                        .max()
                        .unwrap_or(0);
                    rank.insert(s, r);
                } else {
                    stack.push((s, true));
                    stack.extend(named.into_iter().filter(|n| !rank.contains_key(n)).map(|n| (n, false)));
                }
            }
        }
        for (id, s) in &mut self.segments {
            s.rank = rank.get(id).copied().unwrap_or(0);
        }
    }

    fn index_refs(&mut self, rule: RuleId, plan: &Plan) {
        for (chain, s) in plan.segment_refs() {
            self.refs.entry(s).or_default().push((rule, chain));
        }
    }

    /// Takes `rule` out of the references of the segments it `named`.
    fn unindex_refs(&mut self, rule: RuleId, named: Vec<SegmentId>) {
        for s in named {
            if let Some(list) = self.refs.get_mut(&s) {
                list.retain(|(r, _)| *r != rule);
                if list.is_empty() {
                    self.refs.remove(&s);
                }
            }
        }
    }
}

/// Restoring from a snapshot: the counters first, then every segment,
/// the order, every rule and each segment's rule list; then, once the
/// rules' links are known again, each segment's members.
impl Book {
    /// Sets the id counters.
    pub(crate) fn restore_counters(&mut self, next_segment: u64, next_rule: u64) {
        (self.next_segment, self.next_rule) = (next_segment, next_rule);
    }

    /// Whether the book holds segment `id`.
    pub(crate) fn has_segment(&self, id: SegmentId) -> bool {
        self.segments.contains_key(&id)
    }

    /// Adds a segment as saved, with no rules yet and not yet in the order.
    pub(crate) fn restore_segment(&mut self, mut state: SegmentState) {
        state.info.rules.clear();
        self.segments.insert(state.info.id, state);
    }

    /// Sets the order; false (and nothing set) unless it lists every
    /// segment once.
    pub(crate) fn restore_order(&mut self, order: Vec<SegmentId>) -> bool {
        let distinct: std::collections::BTreeSet<SegmentId> = order.iter().copied().collect();
        if distinct.len() != order.len() || !distinct.iter().eq(self.segments.keys()) {
            return false;
        }
        self.order = order;
        true
    }

    /// Adds a rule as saved, with its references.
    pub(crate) fn restore_rule(&mut self, state: RuleState) {
        let id = state.info.id;
        self.index_refs(id, &state.plan);
        self.rules.insert(id, state);
    }

    /// Sets every segment's rule list (`lists`, as saved) after checking
    /// that each lists exactly the rules that feed it, its filter rule
    /// among them; then ranks. The error names the segment and what is
    /// wrong.
    pub(crate) fn restore_rule_lists(&mut self, lists: Vec<(SegmentId, Vec<RuleId>)>) -> Result<(), (String, String)> {
        let mut fed: BTreeMap<SegmentId, std::collections::BTreeSet<RuleId>> = BTreeMap::new();
        for r in self.rules.values() {
            fed.entry(r.info.segment).or_default().insert(r.info.id);
        }
        for (id, listed) in lists {
            let set: std::collections::BTreeSet<RuleId> = listed.iter().copied().collect();
            let feeding = fed.remove(&id).unwrap_or_default();
            let Some(s) = self.segments.get_mut(&id) else {
                return Err(("segments".into(), "lost".into()));
            };
            if set.len() != listed.len() || set != feeding {
                return Err((
                    format!("{id}"),
                    format!("lists rules {listed:?}, but the rules that feed it are {feeding:?}"),
                ));
            }
            if let Some(f) = s.info.filter_rule.filter(|f| !set.contains(f)) {
                return Err((format!("{id}"), format!("its filter rule {f} is not one of its rules")));
            }
            s.info.rules = listed;
        }
        self.rerank();
        Ok(())
    }

    /// Sets a segment's members from its manual links and its rules'
    /// links, as they are now.
    pub(crate) fn rederive_members(&mut self, id: SegmentId) {
        let Some(s) = self.segments.get(&id) else { return };
        let mut members = s.manual.clone();
        for r in s.info.rules.iter().filter_map(|r| self.rules.get(r)) {
            members |= &r.links;
        }
        if let Some(s) = self.segments.get_mut(&id) {
            s.members = members;
        }
    }
}

/// Links and membership.
impl Book {
    /// Records what `rule` now matches among `scope` (every entity when
    /// `None`) as its links, less its blocks, and the links gained and lost
    /// in `deltas`.
    pub(crate) fn relink(
        &mut self,
        rule: RuleId,
        scope: Option<&RoaringBitmap>,
        mut matched: RoaringBitmap,
        deltas: &mut Deltas,
    ) {
        let Some(r) = self.rules.get_mut(&rule) else { return };
        matched -= &r.blocked;
        let (gained, lost) = match scope {
            Some(s) => {
                let old = &r.links & s;
                let gained = &matched - &old;
                let lost = old - &matched;
                r.links |= &gained;
                r.links -= &lost;
                (gained, lost)
            }
            None => {
                let gained = &matched - &r.links;
                let lost = &r.links - &matched;
                r.links = matched;
                (gained, lost)
            }
        };
        if gained.is_empty() && lost.is_empty() {
            return;
        }
        let source = Source::Rule(rule);
        let d = deltas.entry(r.info.segment).or_default();
        d.gained(source, gained);
        d.lost(source, lost);
    }

    /// Links `ids` into `segment` by hand.
    pub(crate) fn add_manual(&mut self, segment: SegmentId, ids: RoaringBitmap) -> Deltas {
        let mut deltas = Deltas::new();
        if let Some(s) = self.segments.get_mut(&segment) {
            let new = ids - &s.manual;
            s.manual |= &new;
            let mut d = Delta::default();
            d.gained(Source::Manual, new);
            deltas.insert(segment, d);
        }
        deltas
    }

    /// Removes `ids` from `segment` by hand: every link of theirs goes, and
    /// every rule of the segment is blocked from linking them again.
    pub(crate) fn remove_manual(&mut self, segment: SegmentId, ids: &RoaringBitmap) -> Deltas {
        let mut deltas = Deltas::new();
        if let Some(s) = self.segments.get_mut(&segment) {
            let mut d = Delta::with_exit_cause(Cause::Manual);
            d.lost(Source::Manual, &s.manual & ids);
            s.manual -= ids;
            for rule in &s.info.rules {
                let Some(r) = self.rules.get_mut(rule) else { continue };
                d.lost(Source::Rule(r.info.id), &r.links & ids);
                r.links -= ids;
                r.blocked |= ids;
            }
            deltas.insert(segment, d);
        }
        deltas
    }

    /// Lifts the blocks of `segment`'s rules for `only` (every block when
    /// `None`): the rules and the entities freed, to re-evaluate.
    pub(crate) fn unblock(&mut self, segment: SegmentId, only: Option<&RoaringBitmap>) -> Vec<(RuleId, RoaringBitmap)> {
        let Some(s) = self.segments.get(&segment) else {
            return Vec::new();
        };
        let mut freed = Vec::new();
        for rule in &s.info.rules {
            let Some(r) = self.rules.get_mut(rule) else { continue };
            let ids = match only {
                Some(ids) => &r.blocked & ids,
                None => r.blocked.clone(),
            };
            if !ids.is_empty() {
                r.blocked -= &ids;
                freed.push((*rule, ids));
            }
        }
        freed
    }

    /// Forgets the deleted entities `gone` of kind `kind`: their manual
    /// links, rule links and blocks go, and they exit
    /// ([`Cause::EntityDeleted`]).
    pub(crate) fn forget(&mut self, kind: usize, gone: &RoaringBitmap) -> Deltas {
        let mut deltas = Deltas::new();
        for (sid, seg) in self.segments.iter_mut().filter(|(_, s)| s.kind == kind) {
            let mut d = Delta::with_exit_cause(Cause::EntityDeleted);
            d.lost(Source::Manual, &seg.manual & gone);
            seg.manual -= gone;
            for rule in &seg.info.rules {
                let Some(r) = self.rules.get_mut(rule) else { continue };
                r.blocked -= gone;
                d.lost(Source::Rule(r.info.id), &r.links & gone);
                r.links -= gone;
                if let Some(given) = &mut r.external {
                    *given -= gone;
                }
            }
            if !d.is_empty() {
                deltas.insert(*sid, d);
            }
        }
        deltas
    }

    /// A rule taken off its segment at `at`: its links go.
    pub(crate) fn detach(&mut self, r: RuleState, at: Timestamp) -> Deltas {
        let mut deltas = Deltas::new();
        if let Some(s) = self.segments.get_mut(&r.info.segment) {
            s.info.rules.retain(|&x| x != r.info.id);
            s.info.updated = at;
            let mut d = Delta::default();
            d.lost(Source::Rule(r.info.id), r.links);
            deltas.insert(r.info.segment, d);
        }
        deltas
    }

    /// Removes a segment from the book and the listing: its members exit
    /// ([`Cause::SegmentDeleted`]). Its rules are returned, for the caller
    /// to unregister.
    pub(crate) fn remove_segment(&mut self, segment: SegmentId, at: Timestamp) -> Option<(Vec<RuleId>, Changes)> {
        let s = self.segments.remove(&segment)?;
        self.order.retain(|&x| x != segment);
        let mut out = Changes::new(at);
        out.push(segment, ChangeKind::Exited, Cause::SegmentDeleted, s.members);
        Some((s.info.rules, out))
    }

    /// The one-entity path: each rule's verdict on entity `id` (whether it
    /// matches, in rule order) becomes its link, and the links the
    /// membership changes, with no bitmap built unless membership changes.
    /// Only for rules whose segments neither name segments nor are named
    /// ([`Book::settles_alone`]).
    pub(crate) fn settle_one(&mut self, verdicts: &[(RuleId, bool)], id: u32, at: Timestamp) -> Changes {
        // (segment, rule, linked now) for each link that changed, in rule order.
        let mut flips: Vec<(SegmentId, RuleId, bool)> = Vec::new();
        for &(rule, matches) in verdicts {
            let Some(r) = self.rules.get_mut(&rule) else { continue };
            let now_linked = matches && !r.blocked.contains(id);
            if now_linked != r.links.contains(id) {
                if now_linked {
                    r.links.insert(id);
                } else {
                    r.links.remove(id);
                }
                flips.push((r.info.segment, rule, now_linked));
            }
        }
        // Stable: each segment's flips stay in rule order, so the first is the cause.
        flips.sort_by_key(|f| f.0);
        let mut out = Changes::new(at);
        out.groups.reserve(flips.len());
        let mut rest = &flips[..];
        while let Some(&(segment, ..)) = rest.first() {
            let n = rest.iter().take_while(|f| f.0 == segment).count();
            let group = &rest[..n];
            rest = &rest[n..];
            let Some(s) = self.segments.get_mut(&segment) else {
                continue;
            };
            let was = s.members.contains(id);
            // A gained link makes a member; only a lost one needs a look at the others.
            let is = group.iter().any(|f| f.2)
                || s.manual.contains(id)
                || s.info
                    .rules
                    .iter()
                    .any(|r| self.rules.get(r).is_some_and(|r| r.links.contains(id)));
            if was == is {
                continue;
            }
            let Some(&(_, cause, _)) = group.iter().find(|f| f.2 == is) else {
                continue;
            };
            if is {
                s.members.insert(id);
                out.push_one(segment, ChangeKind::Entered, Cause::Rule(cause), id);
            } else {
                s.members.remove(id);
                out.push_one(segment, ChangeKind::Exited, Cause::Rule(cause), id);
            }
        }
        out
    }

    /// Whether the rules' segments neither name segments nor are named:
    /// then one entity's changes need no ordering ([`Book::settle_one`]).
    pub(crate) fn settles_alone(&self, rules: &[RuleId]) -> bool {
        self.refs.is_empty()
            || rules.iter().all(|r| {
                self.rules.get(r).map_or(true, |r| {
                    let s = r.info.segment;
                    !self.refs.contains_key(&s) && self.segments.get(&s).map_or(true, |s| s.rank == 0)
                })
            })
    }

    /// Turns the link changes of a call into membership changes.
    ///
    /// Segments settle in rank order; each change of a segment's members
    /// re-evaluates the rules that name it: `reeval(book, rule, chain,
    /// moved)` answers, for the entities that moved (lifted along the
    /// rule's chain of relations), the scope to re-evaluate and what the
    /// rule matches there. So a change reaches every segment that depends
    /// on it, and each segment settles once with its net change.
    pub(crate) fn settle(
        &mut self,
        mut deltas: Deltas,
        at: Timestamp,
        mut reeval: impl FnMut(&Book, RuleId, &[RelationId], &RoaringBitmap) -> Option<(RoaringBitmap, RoaringBitmap)>,
    ) -> Changes {
        let mut out = Changes::new(at);
        while let Some(id) = self.next_to_settle(&deltas) {
            let Some(delta) = deltas.remove(&id) else { break };
            let Some(seg) = self.segments.get_mut(&id) else {
                continue;
            };
            let first = out.groups.len();
            let rules = &self.rules;
            let (manual, rule_ids) = (&seg.manual, &seg.info.rules);
            delta.finish(
                id,
                &mut seg.members,
                |t| {
                    let mut linked = t & manual;
                    for r in rule_ids.iter().filter_map(|r| rules.get(r)) {
                        if linked.len() == t.len() {
                            break;
                        }
                        linked |= t & &r.links;
                    }
                    linked
                },
                &mut out,
            );
            if out.groups.len() > first {
                if let Some(dependents) = self.refs.get(&id).cloned() {
                    let mut moved = RoaringBitmap::new();
                    for g in &out.groups[first..] {
                        moved |= g.to_bitmap();
                    }
                    for (rule, chain) in dependents {
                        if let Some((scope, matched)) = reeval(self, rule, &chain, &moved) {
                            self.relink(rule, Some(&scope), matched, &mut deltas);
                        }
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The pending segment of lowest (rank, id).
    fn next_to_settle(&self, deltas: &Deltas) -> Option<SegmentId> {
        if self.refs.is_empty() {
            return deltas.keys().next().copied();
        }
        deltas
            .keys()
            .min_by_key(|id| (self.segments.get(id).map_or(0, |s| s.rank), **id))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    //! The one-entity path against the batch path, on the same book.

    use proptest::prelude::*;

    use super::*;
    use crate::segment::Visibility;
    use crate::{FieldType, KindSchema, LimitPolicy};

    /// A book of three segments with three rules each; `links`, `manual`
    /// and `blocked` say, per rule or segment, whether entity 7 is linked,
    /// manually linked, blocked (other entities are linked by some rules).
    fn book(links: &[bool; 9], blocked: &[bool; 9], manual: &[bool; 3]) -> Book {
        let kind = std::sync::Arc::new(KindSchema::new("account", [("a", FieldType::Int)]).expect("a valid schema"));
        let plan = crate::Filter::and(Vec::<crate::Filter>::new())
            .validate(&kind, &LimitPolicy::default())
            .expect("a valid filter");
        let mut b = Book::default();
        for s in 0..3u64 {
            let id = SegmentId(s + 1);
            let rules: Vec<RuleId> = (0..3).map(|r| RuleId(s * 3 + r + 1)).collect();
            let mut members = RoaringBitmap::new();
            let mut seg_manual = RoaringBitmap::new();
            if manual[s as usize] {
                seg_manual.insert(7);
                members.insert(7);
            }
            for (i, &r) in rules.iter().enumerate() {
                let k = s as usize * 3 + i;
                let mut state = RuleState::new(r, id, 0, crate::Filter::and(Vec::<crate::Filter>::new()), plan.clone());
                state.links.insert(100 + k as u32);
                members.insert(100 + k as u32);
                if blocked[k] {
                    state.blocked.insert(7);
                } else if links[k] {
                    state.links.insert(7);
                    members.insert(7);
                }
                b.rules.insert(r, state);
            }
            let info = SegmentInfo {
                id,
                name: format!("s{s}"),
                kind: "account".into(),
                visibility: Visibility::Public,
                owner: "ada".into(),
                filter_rule: None,
                rules,
                created: Timestamp::from_micros(0),
                updated: Timestamp::from_micros(0),
                version: 1,
                settings: crate::segment::Settings::new(),
                access: crate::segment::SegmentAccess::new(),
            };
            b.segments.insert(
                id,
                SegmentState {
                    info,
                    kind: 0,
                    manual: seg_manual,
                    members,
                    rank: 0,
                },
            );
            b.order.push(id);
        }
        b
    }

    fn state(b: &Book) -> Vec<(RoaringBitmap, RoaringBitmap)> {
        b.segments
            .values()
            .map(|s| (s.members.clone(), s.manual.clone()))
            .chain(b.rules.values().map(|r| (r.links.clone(), r.blocked.clone())))
            .collect()
    }

    proptest! {
        #[test]
        fn one_entity_and_batch_paths_agree(
            links in any::<[bool; 9]>(),
            blocked in any::<[bool; 9]>(),
            manual in any::<[bool; 3]>(),
            verdicts in any::<[bool; 9]>(),
        ) {
            let at = Timestamp::from_micros(5);
            let verdicts: Vec<(RuleId, bool)> = verdicts.iter().enumerate().map(|(k, &v)| (RuleId(k as u64 + 1), v)).collect();
            let mut one = book(&links, &blocked, &manual);
            prop_assert!(one.settles_alone(&verdicts.iter().map(|v| v.0).collect::<Vec<_>>()));
            let by_one = one.settle_one(&verdicts, 7, at);
            let mut batch = book(&links, &blocked, &manual);
            let scope = RoaringBitmap::from_iter([7]);
            let mut deltas = Deltas::new();
            for &(rule, v) in &verdicts {
                let matched = if v { scope.clone() } else { RoaringBitmap::new() };
                batch.relink(rule, Some(&scope), matched, &mut deltas);
            }
            let by_batch = batch.settle(deltas, at, |_, _, _, _| None);
            // The same changes (one path stores a single id, the other a bitmap).
            prop_assert_eq!(by_one.at(), by_batch.at());
            prop_assert_eq!(by_one.iter().collect::<Vec<_>>(), by_batch.iter().collect::<Vec<_>>());
            prop_assert_eq!(state(&one), state(&batch));
            // Members are manual links and rule links.
            for s in one.segments.values() {
                let mut linked = s.manual.clone();
                for r in &s.info.rules {
                    linked |= &one.rules[r].links;
                }
                prop_assert_eq!(&s.members, &linked);
            }
        }
    }
}
