//! Set-at-a-time evaluation over the indexes, in three-valued logic.
//!
//! Each node yields the ids it surely matches and the ids it may match (the
//! edge buckets of a numeric range). `not`, `and` and `or` combine the pairs
//! as Kleene's logic does, which never puts a wrong id in `sure` nor loses
//! one from `sure ∪ maybe`; the root's `maybe` is then settled entity at a
//! time.
//!
//! An `and` evaluates its children most selective first, in one of three
//! regimes chosen by how many candidates its running result leaves:
//! - dense: the child is evaluated over everything and intersected once;
//! - sparse (under a eighth of the live set): the candidates are handed
//!   down, so that the child's bitmap operations probe their array
//!   containers instead of combining dense bitmaps;
//! - tiny (a few thousand): each candidate is tested against every remaining
//!   child on the columns. Only here is a per-id test cheaper than a bitmap
//!   operation: at ten million rows each one is a cache miss.

use roaring::RoaringBitmap;

use super::bind::{code_hit, BLeaf, BNode};
use super::Meter;
use crate::store::union_within;

/// Candidates fewer than the live set over this divisor are sparse.
const SPARSE: u64 = 8;
/// Candidates at most `IndexConfig::per_id_candidates`, or the live set over
/// this divisor, are tested per id.
const TINY_DIVISOR: u64 = 4096;

#[derive(Debug, Default)]
pub(crate) struct Tri {
    pub sure: RoaringBitmap,
    pub maybe: RoaringBitmap,
}

pub(crate) struct Ctx<'a> {
    pub live: &'a RoaringBitmap,
    pub live_len: u64,
    /// `IndexConfig::per_id_candidates`.
    pub per_id: u64,
    /// What the evaluation may still spend: once spent, every node answers
    /// nothing and the caller reports why.
    pub meter: &'a Meter<'a>,
}

/// Rows or ids a long loop goes through between two checks of the budget.
pub(crate) const RUN: usize = 1 << 16;

impl Ctx<'_> {
    pub(crate) fn eval(&self, node: &BNode, within: Option<&RoaringBitmap>) -> Tri {
        if self.meter.spent() {
            return Tri::default();
        }
        match node {
            BNode::Leaf(l) => self.leaf(l, within),
            BNode::Not(x) => {
                let t = self.eval(x, within);
                let mut sure = within.unwrap_or(self.live).clone();
                sure -= &t.sure;
                sure -= &t.maybe;
                Tri { sure, maybe: t.maybe }
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

    fn sparse(&self, n: u64) -> bool {
        n.saturating_mul(SPARSE) < self.live_len
    }

    fn tiny(&self, n: u64) -> bool {
        n <= self.per_id.max(self.live_len / TINY_DIVISOR)
    }

    fn and(&self, xs: &[BNode], within: Option<&RoaringBitmap>) -> Tri {
        let mut order: Vec<(u64, &BNode)> = xs.iter().map(|x| (self.estimate(x), x)).collect();
        order.sort_by_key(|(e, _)| *e);
        let mut acc: Option<Tri> = None;
        for (k, (_, x)) in order.iter().enumerate() {
            let Some(a) = acc.as_mut() else {
                acc = Some(self.eval(x, within));
                continue;
            };
            let cand_len = a.sure.len() + a.maybe.len();
            if cand_len == 0 {
                return Tri::default();
            }
            if self.tiny(cand_len) {
                let rest: Vec<&BNode> = order[k..].iter().map(|(_, x)| *x).collect();
                let keep = |bm: &RoaringBitmap| {
                    RoaringBitmap::from_sorted_iter(bm.iter().filter(|&id| rest.iter().all(|x| x.test(id))))
                        .unwrap_or_default()
                };
                return Tri {
                    sure: keep(&a.sure),
                    maybe: keep(&a.maybe),
                };
            }
            let cand = self.sparse(cand_len).then(|| &a.sure | &a.maybe);
            let t = self.eval(x, cand.as_ref().or(within));
            // (As ∪ Am) ∩ (Ts ∪ Tm) less As ∩ Ts is (As ∩ Tm) ∪ (Am ∩ (Ts ∪ Tm)):
            // every term has a (small) maybe set as an operand, so the only
            // operation on two dense bitmaps is As ∩ Ts itself.
            let mut maybe = &a.sure & &t.maybe;
            if !a.maybe.is_empty() {
                maybe |= &a.maybe & &t.sure;
                maybe |= &a.maybe & &t.maybe;
            }
            a.sure &= &t.sure;
            a.maybe = maybe;
        }
        acc.unwrap_or_else(|| Tri {
            sure: within.unwrap_or(self.live).clone(),
            maybe: RoaringBitmap::new(),
        })
    }

    fn leaf(&self, l: &BLeaf, within: Option<&RoaringBitmap>) -> Tri {
        let exact = |sure| Tri {
            sure,
            maybe: RoaringBitmap::new(),
        };
        if let Some(w) = within.filter(|w| self.tiny(w.len())) {
            return exact(RoaringBitmap::from_sorted_iter(w.iter().filter(|&id| l.test(id))).unwrap_or_default());
        }
        let restrict = |bm: &RoaringBitmap| match within {
            Some(w) => w & bm,
            None => bm.clone(),
        };
        match l {
            BLeaf::Null(present) => exact(within.unwrap_or(self.live) - *present),
            BLeaf::Event(e) => exact(e.ids(within.unwrap_or(self.live))),
            BLeaf::Set(ids) => exact(restrict(ids)),
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
            BLeaf::Codes { col, codes, bits } => {
                // Many words (a `contains` most words share): one pass over the
                // rows' codes beats a union of as many bitmaps.
                if codes.len() as u64 * MANY_WORDS > col.codes.len() as u64 {
                    exact(scan_codes(&col.codes, bits, within, self.meter))
                } else {
                    exact(union_of(&col.bitmaps, codes, within))
                }
            }
            BLeaf::Bool { col, value } => exact(restrict(if *value { &col.trues } else { &col.falses })),
            BLeaf::TagsAny { col, codes } => exact(union_of(&col.bitmaps, codes, within)),
            BLeaf::TagsAll { col, codes, impossible } => {
                if *impossible || codes.is_empty() {
                    return Tri::default();
                }
                let mut acc = restrict(&col.bitmaps[codes[0] as usize]);
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
            BNode::Leaf(l) => self.leaf_estimate(l),
            BNode::Not(x) => match &**x {
                BNode::Leaf(l) if !matches!(l, BLeaf::Range { .. } | BLeaf::Keys { .. }) => {
                    self.live_len.saturating_sub(self.leaf_estimate(l))
                }
                _ => self.live_len,
            },
            BNode::And(xs) => xs.iter().map(|x| self.estimate(x)).min().unwrap_or(self.live_len),
            BNode::Or(xs) => xs.iter().map(|x| self.estimate(x)).sum::<u64>().min(self.live_len),
        }
    }

    fn leaf_estimate(&self, l: &BLeaf) -> u64 {
        match l {
            BLeaf::Null(present) => self.live_len.saturating_sub(present.len()),
            BLeaf::Event(e) => e.estimate(self.live_len),
            BLeaf::Set(ids) => ids.len(),
            BLeaf::Range { col, lo, hi } => col.index.estimate(*lo, *hi),
            BLeaf::Keys { col, keys } => keys.iter().map(|&k| col.index.estimate(k, k)).sum(),
            BLeaf::Codes { col, codes, .. } if codes.len() as u64 * MANY_WORDS > col.codes.len() as u64 => {
                // Estimated from the share of words, without a pass over them.
                col.present.len() * codes.len() as u64 / col.dict.len().max(1) as u64
            }
            BLeaf::Codes { col, codes, .. } => lens(&col.bitmaps, codes).sum(),
            BLeaf::Bool { col, value } => {
                if *value {
                    col.trues.len()
                } else {
                    col.falses.len()
                }
            }
            BLeaf::TagsAny { col, codes } => lens(&col.bitmaps, codes).sum(),
            BLeaf::TagsAll { col, codes, .. } => lens(&col.bitmaps, codes).min().unwrap_or(0),
        }
    }
}

/// A string leaf with more than one word in this many rows is answered
/// by a pass over the rows' codes rather than a union of word bitmaps.
const MANY_WORDS: u64 = 32;

/// The ids whose code is set in `bits`, restricted to `within`.
fn scan_codes(codes: &[u32], bits: &[u64], within: Option<&RoaringBitmap>, meter: &Meter) -> RoaringBitmap {
    let hit = |c: u32| code_hit(bits, c);
    match within {
        Some(w) if w.len() < codes.len() as u64 / 16 => {
            RoaringBitmap::from_sorted_iter(w.iter().filter(|&id| codes.get(id as usize).is_some_and(|&c| hit(c))))
                .unwrap_or_default()
        }
        _ => {
            // Once the budget is spent the remaining rows are skipped.
            let words = codes.chunks(64).enumerate().map(|(k, chunk)| {
                if k % (RUN / 64) == 0 && meter.spent() {
                    return 0;
                }
                chunk
                    .iter()
                    .enumerate()
                    .fold(0u64, |w, (i, &c)| w | (hit(c) as u64) << i)
            });
            let mut out = super::from_bits(words);
            if let Some(w) = within {
                out &= w;
            }
            out
        }
    }
}

/// The union of the dictionary bitmaps of `codes`, restricted to `within`.
fn union_of(bitmaps: &[RoaringBitmap], codes: &[u32], within: Option<&RoaringBitmap>) -> RoaringBitmap {
    let bms: Vec<&RoaringBitmap> = codes.iter().map(|&c| &bitmaps[c as usize]).collect();
    union_within(&bms, within)
}

fn lens<'a>(bms: &'a [RoaringBitmap], codes: &'a [u32]) -> impl Iterator<Item = u64> + 'a {
    codes.iter().map(|&c| bms[c as usize].len())
}
