//! Quantifiers over related entities: an account rule over its users.
//!
//! A child belongs to the live parent whose key its relation field holds.
//! [`Parents`] keeps that parent per child id, so that a set of matching
//! children maps to their parents in one pass over the set (in id order,
//! so the reads are sequential). One parent's children are the child
//! column's dictionary bitmap of the parent's key, which is how the
//! entity-at-a-time path ([`super::entity`]) finds them. This module is
//! the set-at-a-time half.

use roaring::RoaringBitmap;

use super::Env;
use crate::filter::{Quant, RelCond};

use crate::store::Parents;
use crate::value::Timestamp;

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
