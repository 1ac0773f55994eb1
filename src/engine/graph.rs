//! How a write of children reaches the rules of their parents: the
//! parents along a chain of relations, and the nested rules to re-evaluate
//! for them. (Segments that name segments, ranks and cycles are the
//! book's; the checks of the segments a plan names are the guard's.)

use roaring::RoaringBitmap;

use super::deps::{Deps, NestedDep};
use crate::ids::RelationId;
use crate::segment::RuleId;
use crate::store::{Parents, Store};

/// The rules of other kinds to re-evaluate after children of kind `k`
/// changed, with the parents to re-evaluate them for.
pub(super) fn nested_scopes(
    store: &Store,
    deps: &Deps,
    k: usize,
    changed: &RoaringBitmap,
    left: &[RoaringBitmap],
    reads: impl Fn(&NestedDep) -> bool,
) -> Vec<(RuleId, RoaringBitmap)> {
    let mut out: Vec<(RuleId, RoaringBitmap)> = Vec::new();
    for d in deps[k].nested.iter().filter(|d| reads(d)) {
        let Some(&last) = d.chain.last() else { continue };
        let scope = parents_along(
            store.parents(),
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
