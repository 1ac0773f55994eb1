//! How rules depend on one another and on other kinds: segments that name
//! segments (ranks, cycles), rules that quantify over related kinds, and the
//! parent of each child.

use roaring::RoaringBitmap;

use super::deps::NestedDep;
use super::manage::{denied, may_name, Home, Reader};
use super::Engine;
use crate::error::SegmentError;
use crate::filter::Plan;
use crate::ids::RelationId;
use crate::segment::{Action, RuleId, SegmentId};
use crate::store::Parents;

impl Engine {
    /// Indexes a rule under everything it reads: its own kind's fields and
    /// events, the related kinds' fields and events, the segments it names.
    pub(super) fn index_rule(&mut self, rule: RuleId, kind: usize, plan: &Plan) {
        self.deps[kind].add(rule, plan);
        let relations = self.store.schema().relations();
        for nr in plan.nested_reads() {
            let Some(&last) = nr.chain.last() else { continue };
            let child = relations[last.index()].child.0 as usize;
            self.deps[child].nested.push(NestedDep {
                rule,
                chain: nr.chain,
                fields: nr.fields,
                events: nr.events,
            });
        }
    }

    /// Undoes [`Engine::index_rule`].
    pub(super) fn unindex_rule(&mut self, rule: RuleId, kind: usize, plan: &Plan) {
        self.deps[kind].remove(rule, plan);
        for d in &mut self.deps {
            d.nested.retain(|n| n.rule != rule);
        }
    }

    /// Checks the segments a new plan of `segment`'s rule names: each
    /// exists, is of the kind the plan tests there, and naming it makes no
    /// cycle. With a `reader`, each is one the actor may see (else
    /// [`SegmentError::Denied`], the same whether it exists or not), and
    /// for a saved rule, one that everybody who sees `segment` may see: a
    /// public segment, or a private one of the same owner named by a
    /// private segment.
    pub(super) fn check_refs(
        &self,
        segment: SegmentId,
        segment_name: &str,
        kind: usize,
        plan: &Plan,
        reader: Option<Reader<'_>>,
    ) -> Result<(), SegmentError> {
        let relations = self.store.schema().relations();
        let name = |id: SegmentId| {
            self.book
                .segment(id)
                .map_or(segment_name.to_string(), |s| s.info.name.clone())
        };
        for (chain, s) in plan.segment_refs() {
            let want = chain.last().map_or(kind, |&r| relations[r.index()].child.0 as usize);
            let found = self.book.segment(s);
            if let Some(r) = reader {
                if !r.actor.manages_all() && !found.is_some_and(|t| r.actor.may_view(&t.info)) {
                    return Err(denied(r.actor, Action::View, s.to_string()));
                }
                if let (Some(t), Some(home)) = (found, r.home) {
                    if !may_name(home, Home::of(t)) {
                        return Err(SegmentError::BadReference {
                            segment: name(segment),
                            referenced: s,
                            problem: format!(
                                "it is private to `{}`: a public segment may name only public segments, \
                                 a private one also its owner's private segments shared with everyone it is",
                                t.info.owner
                            ),
                        });
                    }
                }
            }
            let Some(target) = found else {
                return Err(SegmentError::BadReference {
                    segment: name(segment),
                    referenced: s,
                    problem: "no such segment".into(),
                });
            };
            if target.kind != want {
                let kinds = self.store.schema().kind_arcs();
                return Err(SegmentError::BadReference {
                    segment: name(segment),
                    referenced: s,
                    problem: format!(
                        "it holds `{}` entities where the filter tests `{}` entities",
                        kinds[target.kind].name(),
                        kinds[want].name()
                    ),
                });
            }
            if let Some(path) = self.book.path_between(s, segment) {
                let mut cycle = vec![segment];
                cycle.extend(path);
                let text: Vec<String> = cycle.iter().map(|id| format!("`{}` ({id})", name(*id))).collect();
                return Err(SegmentError::Cycle {
                    cycle: text.join(" -> "),
                });
            }
        }
        Ok(())
    }

    /// The rules of other kinds to re-evaluate after children of kind `k`
    /// changed, with the parents to re-evaluate them for.
    pub(super) fn nested_scopes(
        &self,
        k: usize,
        changed: &RoaringBitmap,
        left: &[RoaringBitmap],
        reads: impl Fn(&NestedDep) -> bool,
    ) -> Vec<(RuleId, RoaringBitmap)> {
        let mut out: Vec<(RuleId, RoaringBitmap)> = Vec::new();
        for d in self.deps[k].nested.iter().filter(|d| reads(d)) {
            let Some(&last) = d.chain.last() else { continue };
            let scope = parents_along(
                self.store.parents(),
                &d.chain,
                changed,
                left.get(last.index()).filter(|l| !l.is_empty()),
            );
            if scope.is_empty() {
                continue;
            }
            match out.iter_mut().find(|(r, _)| *r == d.rule) {
                Some((_, s)) => *s |= scope,
                None => out.push((d.rule, scope)),
            }
        }
        out
    }
}

/// Maps ids of the innermost kind of `chain` up to the outermost parent
/// kind through `parents`; `extra` joins the parents found at the first
/// step (the parents that children had before a write).
pub(super) fn parents_along(
    parents: &[Parents],
    chain: &[RelationId],
    ids: &RoaringBitmap,
    extra: Option<&RoaringBitmap>,
) -> RoaringBitmap {
    let mut cur = ids.clone();
    for (i, &rel) in chain.iter().rev().enumerate() {
        cur = parents[rel.index()].parents_of(&cur);
        if i == 0 {
            if let Some(e) = extra {
                cur |= e;
            }
        }
    }
    cur
}

impl Engine {
    /// `filter` with the segments its `@segment` rules name by name (a
    /// string, or strings in the list) replaced by their ids; `None` when it
    /// names none by name. With an `actor`, only the segments listed for it
    /// are found (a private segment of another is as unknown as a missing
    /// one). A filter deeper than the policy is left to validation, which
    /// refuses it before anything recurses.
    pub(super) fn resolve_names(
        &self,
        filter: &crate::Filter,
        actor: Option<&crate::segment::Actor>,
    ) -> Result<Option<crate::Filter>, SegmentError> {
        if crate::filter::deeper_than(filter, self.policy.max_depth()) || !names_segments(filter) {
            return Ok(None);
        }
        let mut out = filter.clone();
        self.resolve_in(&mut out, actor)?;
        Ok(Some(out))
    }

    fn resolve_in(&self, g: &mut crate::Filter, actor: Option<&crate::segment::Actor>) -> Result<(), SegmentError> {
        use crate::filter::{Literal, Node};
        let find = |name: &str| -> Result<Literal, SegmentError> {
            let found = match actor {
                Some(a) => self
                    .as_actor(a)
                    .segments()
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.id),
                None => self.segments().iter().find(|s| s.name == name).map(|s| s.id),
            };
            found
                .map(|id| Literal::Int(id.0.into()))
                .ok_or_else(|| SegmentError::UnknownSegmentName { name: name.to_string() })
        };
        for n in &mut g.rules {
            match n {
                Node::Group(h) => self.resolve_in(h, actor)?,
                Node::Rule(r) if r.field == "@segment" => match &mut r.value {
                    Some(Literal::String(s)) => r.value = Some(find(s)?),
                    Some(Literal::List(xs)) => {
                        for x in xs.iter_mut() {
                            if let Literal::String(s) = x {
                                *x = find(s)?;
                            }
                        }
                    }
                    _ => {}
                },
                Node::Rule(r) => match &mut r.value {
                    Some(Literal::Nested(nested)) => self.resolve_in(&mut nested.filter, actor)?,
                    Some(Literal::Match(m)) => self.resolve_in(&mut m.filter, actor)?,
                    Some(Literal::Where(w)) => self.resolve_in(&mut w.filter, actor)?,
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

/// Whether an `@segment` rule anywhere in `filter` names a segment by name.
fn names_segments(filter: &crate::Filter) -> bool {
    use crate::filter::{Literal, Node};
    let mut stack = vec![filter];
    while let Some(g) = stack.pop() {
        for n in &g.rules {
            match n {
                Node::Group(h) => stack.push(h),
                Node::Rule(r) => match &r.value {
                    Some(Literal::String(_)) if r.field == "@segment" => return true,
                    Some(Literal::List(xs))
                        if r.field == "@segment" && xs.iter().any(|x| matches!(x, Literal::String(_))) =>
                    {
                        return true
                    }
                    _ => stack.extend(crate::Filter::nested_in(r)),
                },
            }
        }
    }
    false
}
