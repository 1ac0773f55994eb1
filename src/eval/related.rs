//! Quantifiers over related entities: an account rule over its users.
//!
//! A child belongs to the live parent whose key its relation field holds.
//! [`Parents`] keeps that parent per child id, so that a set of matching
//! children maps to their parents in one pass over the set (in id order,
//! so the reads are sequential). One parent's children are the child
//! column's dictionary bitmap of the parent's key, which is how the
//! entity-at-a-time path finds them.

use roaring::RoaringBitmap;

use super::Env;
use crate::filter::{Quant, RelCond};

use crate::store::{children, Parents};
use crate::value::{Timestamp, Value};
use crate::Table;

/// The parents in `scope` (live) for which the quantifier holds.
pub(crate) fn ids(r: &RelCond, env: &Env, now: Timestamp, scope: &RoaringBitmap) -> RoaringBitmap {
    let parents = &env.parents[r.relation.index()];
    let child = &env.tables[r.child];
    let matched = super::eval_node(&r.nested, child, now, None, env);
    let out = match r.quant {
        Quant::Any => parents.parents_of(&matched),
        Quant::AtLeast(0) => scope.clone(),
        Quant::All => {
            let failing = child.live() - &matched;
            scope - parents.parents_of(&failing)
        }
        Quant::AtLeast(n) => {
            let counts = count(parents, &matched);
            let hits = counts.iter().enumerate().filter(|&(_, &c)| u64::from(c) >= n);
            RoaringBitmap::from_sorted_iter(hits.map(|(p, _)| p as u32)).unwrap_or_default()
        }
        // The rest need every parent's count, those without children too.
        _ => {
            let counts = count(parents, &matched);
            let totals = count(parents, child.live());
            let at = |v: &[u32], p: u32| u64::from(v.get(p as usize).copied().unwrap_or(0));
            let hits = scope
                .iter()
                .filter(|&p| r.quant.satisfied_by(at(&counts, p), at(&totals, p)));
            RoaringBitmap::from_sorted_iter(hits).unwrap_or_default()
        }
    };
    out & scope
}

/// The number of `children` per parent id.
fn count(parents: &Parents, children: &RoaringBitmap) -> Vec<u32> {
    let mut counts: Vec<u32> = Vec::new();
    for c in children {
        if let Some(p) = parents.of(c) {
            let p = p as usize;
            if counts.len() <= p {
                counts.resize(p + 1, 0);
            }
            counts[p] += 1;
        }
    }
    counts
}

/// The matching and all children of the live parent `id`; with `first`,
/// the count stops at the first match.
fn count_children(r: &RelCond, env: &Env, id: u32, now: Timestamp, first: bool) -> (u64, u64) {
    let rel = &env.relations[r.relation.index()];
    let child = &env.tables[r.child];
    let kids = children(rel, env.tables, id);
    let hits = kids
        .into_iter()
        .flatten()
        .filter(|&c| super::entity::matches(&r.nested, child, c, now, env));
    let matched = if first { hits.take(1).count() } else { hits.count() } as u64;
    (matched, kids.map_or(0, RoaringBitmap::len))
}

/// The matching and all children of the live parent `id`.
pub(crate) fn counts(r: &RelCond, env: &Env, id: u32, now: Timestamp) -> (u64, u64) {
    count_children(r, env, id, now, false)
}

/// Entity at a time: whether the quantifier holds for the live parent `id`.
pub(crate) fn matches(r: &RelCond, env: &Env, id: u32, now: Timestamp) -> bool {
    let (matched, total) = count_children(r, env, id, now, r.quant == Quant::Any);
    r.quant.satisfied_by(matched, total)
}

/// From first principles, for the oracle: the live children whose relation
/// field's value is the parent's key, each tested by `test`.
pub(crate) fn oracle(r: &RelCond, env: &Env, id: u32, test: impl Fn(&Table, u32) -> bool) -> bool {
    let rel = &env.relations[r.relation.index()];
    let child = &env.tables[r.child];
    let Some(key) = env.tables[rel.parent.0 as usize].key(crate::EntityId(id)) else {
        return false;
    };
    let (mut matched, mut total) = (0, 0);
    for c in child.live() {
        if child.value(c, rel.field) == Value::String(key.to_string()) {
            total += 1;
            matched += u64::from(test(child, c));
        }
    }
    r.quant.satisfied_by(matched, total)
}
