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
#[derive(Debug, Clone)]
pub(crate) struct Book {
    pub(crate) segments: BTreeMap<SegmentId, SegmentState>,
    /// The listing order.
    pub(crate) order: Vec<SegmentId>,
    pub(crate) rules: BTreeMap<RuleId, RuleState>,
    /// Per segment: the rules that name it, with the chain of relations of
    /// the nested filter that does.
    pub(crate) refs: BTreeMap<SegmentId, Vec<(RuleId, Vec<RelationId>)>>,
    pub(crate) next_segment: u64,
    pub(crate) next_rule: u64,
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
