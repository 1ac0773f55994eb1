//! Set-at-a-time evaluation over the indexes, in three-valued logic.
//!
//! Each node yields the ids it surely matches and the ids it may match (the
//! edge buckets of a numeric range, or an `and` that stopped early because
//! its candidates were few). `not`, `and` and `or` combine the pairs as
//! Kleene's logic does, which never puts a wrong id in `sure` nor loses one
//! from `sure ∪ maybe`; the root's `maybe` is then settled entity at a time.

use roaring::{MultiOps, RoaringBitmap};

use super::bind::{BLeaf, BNode};

/// An `and` whose candidates are at most this many, plus the live set over
/// this divisor, checks its remaining children per candidate.
const FEW: u64 = 1024;
const FEW_DIVISOR: u64 = 4096;

#[derive(Debug, Default)]
pub(crate) struct Tri {
    pub sure: RoaringBitmap,
    pub maybe: RoaringBitmap,
}

pub(crate) struct Ctx<'a> {
    pub live: &'a RoaringBitmap,
    pub live_len: u64,
}

impl Ctx<'_> {
    pub(crate) fn eval(&self, node: &BNode, within: Option<&RoaringBitmap>) -> Tri {
        match node {
            BNode::Leaf(l) => self.leaf(l, within),
            BNode::Not(x) => {
                let t = self.eval(x, within);
                let mut sure = within.unwrap_or(self.live).clone();
                sure -= &t.sure;
                sure -= &t.maybe;
                Tri {
                    sure,
                    maybe: t.maybe,
                }
            }
            BNode::Or(xs) => {
                let mut out = Tri::default();
                for x in xs {
                    let t = self.eval(x, within);
                    out.sure |= t.sure;
                    out.maybe |= t.maybe;
                }
                out.maybe -= &out.sure;
                out
            }
            BNode::And(xs) => self.and(xs, within),
        }
    }

    fn and(&self, xs: &[BNode], within: Option<&RoaringBitmap>) -> Tri {
        let mut order: Vec<(u64, &BNode)> = xs.iter().map(|x| (self.estimate(x), x)).collect();
        order.sort_by_key(|(e, _)| *e);
        let few = FEW + self.live_len / FEW_DIVISOR;
        let mut acc: Option<Tri> = None;
        for (_, x) in order {
            let cand = acc.as_ref().map(|t| &t.sure | &t.maybe);
            if let Some(c) = &cand {
                if c.is_empty() {
                    return Tri::default();
                }
                if c.len() <= few {
                    return Tri {
                        sure: RoaringBitmap::new(),
                        maybe: cand.unwrap_or_default(),
                    };
                }
            }
            let t = self.eval(x, cand.as_ref().or(within));
            acc = Some(match acc {
                None => t,
                Some(a) => {
                    let sure = a.sure & &t.sure;
                    let mut maybe = t.sure | t.maybe;
                    maybe -= &sure;
                    Tri { sure, maybe }
                }
            });
        }
        acc.unwrap_or_else(|| Tri {
            sure: within.unwrap_or(self.live).clone(),
            maybe: RoaringBitmap::new(),
        })
    }

    fn leaf(&self, l: &BLeaf, within: Option<&RoaringBitmap>) -> Tri {
        let restrict = |bm: RoaringBitmap| match within {
            Some(w) => bm & w,
            None => bm,
        };
        let exact = |sure| Tri {
            sure,
            maybe: RoaringBitmap::new(),
        };
        match l {
            BLeaf::Null(present) => {
                let mut sure = within.unwrap_or(self.live).clone();
                sure -= *present;
                exact(sure)
            }
            BLeaf::Range { col, lo, hi } => {
                let h = col.index.range(*lo, *hi, &col.present, within);
                Tri {
                    sure: h.sure,
                    maybe: h.maybe,
                }
            }
            BLeaf::Keys { col, keys } => {
                let mut out = Tri::default();
                for &k in keys {
                    let h = col.index.range(k, k, &col.present, within);
                    out.sure |= h.sure;
                    out.maybe |= h.maybe;
                }
                out.maybe -= &out.sure;
                out
            }
            BLeaf::Codes { col, codes, .. } => exact(restrict(
                codes.iter().map(|&c| &col.bitmaps[c as usize]).union(),
            )),
            BLeaf::Bool(bm) => exact(match within {
                Some(w) => *bm & w,
                None => (*bm).clone(),
            }),
            BLeaf::TagsAny { col, codes } => exact(restrict(
                codes.iter().map(|&c| &col.bitmaps[c as usize]).union(),
            )),
            BLeaf::TagsAll {
                col,
                codes,
                impossible,
            } => {
                if *impossible || codes.is_empty() {
                    return Tri::default();
                }
                let mut acc = restrict(col.bitmaps[codes[0] as usize].clone());
                for &c in &codes[1..] {
                    acc &= &col.bitmaps[c as usize];
                }
                exact(acc)
            }
        }
    }

    /// An estimate of how many ids a node matches, to order an `and`.
    fn estimate(&self, node: &BNode) -> u64 {
        match node {
            BNode::Leaf(l) => self.leaf_estimate(l).unwrap_or(self.live_len),
            BNode::Not(x) => match &**x {
                BNode::Leaf(l) if !matches!(l, BLeaf::Range { .. } | BLeaf::Keys { .. }) => self
                    .live_len
                    .saturating_sub(self.leaf_estimate(l).unwrap_or(0)),
                _ => self.live_len,
            },
            BNode::And(xs) => xs
                .iter()
                .map(|x| self.estimate(x))
                .min()
                .unwrap_or(self.live_len),
            BNode::Or(xs) => xs
                .iter()
                .map(|x| self.estimate(x))
                .sum::<u64>()
                .min(self.live_len),
        }
    }

    fn leaf_estimate(&self, l: &BLeaf) -> Option<u64> {
        Some(match l {
            BLeaf::Null(present) => self.live_len.saturating_sub(present.len()),
            BLeaf::Range { col, lo, hi } => col.index.estimate(*lo, *hi),
            BLeaf::Keys { col, keys } => keys.iter().map(|&k| col.index.estimate(k, k)).sum(),
            BLeaf::Codes { col, codes, .. } => {
                codes.iter().map(|&c| col.bitmaps[c as usize].len()).sum()
            }
            BLeaf::Bool(bm) => bm.len(),
            BLeaf::TagsAny { col, codes } => {
                codes.iter().map(|&c| col.bitmaps[c as usize].len()).sum()
            }
            BLeaf::TagsAll { col, codes, .. } => codes
                .iter()
                .map(|&c| col.bitmaps[c as usize].len())
                .min()
                .unwrap_or(0),
        })
    }
}
