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

use super::bind::{code_hit, BoundLeaf, BoundNode};
use super::Meter;
use crate::filter::TagCount;
use crate::store::union_within;

/// Candidates fewer than the live set over this divisor are sparse.
const SPARSE: u64 = 8;
/// Candidates at most `IndexConfig::per_id_candidates`, or the live set over
/// this divisor, are tested per id.
const TINY_DIVISOR: u64 = 4096;

#[derive(Debug, Default)]
pub(crate) struct Bracket {
    pub sure: RoaringBitmap,
    pub maybe: RoaringBitmap,
}

pub(crate) struct SetEval<'a> {
    pub live: &'a RoaringBitmap,
    pub live_len: u64,
    /// `IndexConfig::per_id_candidates`.
    pub per_id: u64,
    /// What the evaluation may still spend: once spent, every node answers
    /// nothing and the caller reports why.
    pub meter: &'a Meter<'a>,
}

pub(crate) use super::budget::RUN;

impl SetEval<'_> {
    pub(crate) fn eval(&self, node: &BoundNode, within: Option<&RoaringBitmap>) -> Bracket {
        if self.meter.spent() {
            return Bracket::default();
        }
        match node {
            BoundNode::Leaf(l) => self.leaf(l, within),
            BoundNode::Not(x) => {
                let t = self.eval(x, within);
                let mut sure = within.unwrap_or(self.live).clone();
                sure -= &t.sure;
                sure -= &t.maybe;
                Bracket { sure, maybe: t.maybe }
            }
            BoundNode::Or(xs) => {
                let mut out = Bracket::default();
                for x in xs {
                    let t = self.eval(x, within);
                    out.sure |= t.sure;
                    out.maybe |= t.maybe;
                }
                out.maybe -= &out.sure;
                out
            }
            BoundNode::Xor(xs) => {
                // Where every child is known, the parity of the sure sets;
                // where any child may match, unknown.
                let mut out = Bracket::default();
                for x in xs {
                    let t = self.eval(x, within);
                    out.sure ^= t.sure;
                    out.maybe |= t.maybe;
                }
                out.sure -= &out.maybe;
                out
            }
            BoundNode::And(xs) => self.and(xs, within),
        }
    }

    /// The ids of `ids` that `keep` accepts, tested one at a time; the loop
    /// stops once the budget is spent.
    fn filter_ids(&self, ids: &RoaringBitmap, keep: impl Fn(u32) -> bool) -> RoaringBitmap {
        let within_budget = ids
            .iter()
            .enumerate()
            .take_while(|(k, _)| k % RUN != 0 || !self.meter.spent())
            .map(|(_, id)| id);
        RoaringBitmap::from_sorted_iter(within_budget.filter(|&id| keep(id))).unwrap_or_default()
    }

    fn sparse(&self, n: u64) -> bool {
        n.saturating_mul(SPARSE) < self.live_len
    }

    fn tiny(&self, n: u64) -> bool {
        n <= self.per_id.max(self.live_len / TINY_DIVISOR)
    }

    fn and(&self, xs: &[BoundNode], within: Option<&RoaringBitmap>) -> Bracket {
        let mut order: Vec<(u64, &BoundNode)> = xs.iter().map(|x| (self.estimate(x), x)).collect();
        order.sort_by_key(|(e, _)| *e);
        let mut acc: Option<Bracket> = None;
        for (k, (_, x)) in order.iter().enumerate() {
            let Some(a) = acc.as_mut() else {
                acc = Some(self.eval(x, within));
                continue;
            };
            let cand_len = a.sure.len() + a.maybe.len();
            if cand_len == 0 {
                return Bracket::default();
            }
            if self.tiny(cand_len) {
                let rest: Vec<&BoundNode> = order[k..].iter().map(|(_, x)| *x).collect();
                let keep = |bm: &RoaringBitmap| self.filter_ids(bm, |id| rest.iter().all(|x| x.test(id)));
                return Bracket {
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
        acc.unwrap_or_else(|| Bracket {
            sure: within.unwrap_or(self.live).clone(),
            maybe: RoaringBitmap::new(),
        })
    }

    fn leaf(&self, l: &BoundLeaf, within: Option<&RoaringBitmap>) -> Bracket {
        let exact = |sure| Bracket {
            sure,
            maybe: RoaringBitmap::new(),
        };
        if let Some(w) = within.filter(|w| self.tiny(w.len())) {
            return exact(self.filter_ids(w, |id| l.test(id)));
        }
        let restrict = |bm: &RoaringBitmap| match within {
            Some(w) => w & bm,
            None => bm.clone(),
        };
        match l {
            BoundLeaf::Null(present) => exact(within.unwrap_or(self.live) - *present),
            BoundLeaf::Event(e) => exact(e.ids(within.unwrap_or(self.live))),
            BoundLeaf::Set(ids) => exact(restrict(ids)),
            BoundLeaf::Range { col, lo, hi } => {
                let h = col.range(*lo, *hi, within);
                Bracket {
                    sure: h.sure,
                    maybe: h.maybe,
                }
            }
            BoundLeaf::Keys { col, keys } => {
                let mut out = Bracket::default();
                for &k in keys {
                    let h = col.range(k, k, within);
                    out.sure |= h.sure;
                    out.maybe |= h.maybe;
                }
                out.maybe -= &out.sure;
                out
            }
            BoundLeaf::Codes { col, codes, bits } => {
                // Many words (a `contains` most words share): one pass over the
                // rows' codes beats a union of as many bitmaps.
                if codes.len() as u64 * MANY_WORDS > col.codes().len() as u64 {
                    exact(scan_codes(col.codes(), bits, within, self.meter))
                } else {
                    exact(union_of(col.bitmaps(), codes, within))
                }
            }
            BoundLeaf::Bool { col, value } => exact(restrict(col.with(*value))),
            BoundLeaf::Fields { .. } => exact(self.filter_ids(within.unwrap_or(self.live), |id| l.test(id))),
            BoundLeaf::Trend { history, .. } => match history {
                Some(h) => exact(self.filter_ids(&(within.unwrap_or(self.live) & h.who()), |id| l.test(id))),
                None => exact(RoaringBitmap::new()),
            },
            BoundLeaf::TagsMatch { col, codes, count, .. } => {
                let some = union_of(col.bitmaps(), codes, within);
                match count {
                    TagCount::Some => exact(some),
                    TagCount::None => exact(within.unwrap_or(self.live) - some),
                    // Every tag must match: the rows with one hit at least.
                    TagCount::All => exact(self.filter_ids(&some, |id| l.test(id))),
                    TagCount::AtLeast(t) if *t > 0.0 => exact(self.filter_ids(&some, |id| l.test(id))),
                    _ => exact(self.filter_ids(&restrict(col.present()), |id| l.test(id))),
                }
            }
            BoundLeaf::TagsAny { col, codes } => exact(union_of(col.bitmaps(), codes, within)),
            BoundLeaf::TagsAll { col, codes, impossible } => {
                if *impossible || codes.is_empty() {
                    return Bracket::default();
                }
                let mut acc = restrict(&col.bitmaps()[codes[0] as usize]);
                for &c in &codes[1..] {
                    acc &= &col.bitmaps()[c as usize];
                }
                exact(acc)
            }
        }
    }

    /// An estimate of how many ids a node matches, to order an `and`.
    fn estimate(&self, node: &BoundNode) -> u64 {
        match node {
            BoundNode::Leaf(l) => self.leaf_estimate(l),
            BoundNode::Not(x) => match &**x {
                BoundNode::Leaf(l) if !matches!(l, BoundLeaf::Range { .. } | BoundLeaf::Keys { .. }) => {
                    self.live_len.saturating_sub(self.leaf_estimate(l))
                }
                _ => self.live_len,
            },
            BoundNode::And(xs) => xs.iter().map(|x| self.estimate(x)).min().unwrap_or(self.live_len),
            BoundNode::Or(xs) | BoundNode::Xor(xs) => {
                xs.iter().map(|x| self.estimate(x)).sum::<u64>().min(self.live_len)
            }
        }
    }

    fn leaf_estimate(&self, l: &BoundLeaf) -> u64 {
        match l {
            BoundLeaf::Null(present) => self.live_len.saturating_sub(present.len()),
            BoundLeaf::Event(e) => e.estimate(self.live_len),
            BoundLeaf::Set(ids) => ids.len(),
            BoundLeaf::Range { col, lo, hi } => col.estimate(*lo, *hi),
            BoundLeaf::Keys { col, keys } => keys.iter().map(|&k| col.estimate(k, k)).sum(),
            BoundLeaf::Codes { col, codes, .. } if codes.len() as u64 * MANY_WORDS > col.codes().len() as u64 => {
                // Estimated from the share of words, without a pass over them.
                col.present().len() * codes.len() as u64 / col.dict().len().max(1) as u64
            }
            BoundLeaf::Codes { col, codes, .. } => lens(col.bitmaps(), codes).sum(),
            BoundLeaf::Bool { col, value } => col.with(*value).len(),
            BoundLeaf::TagsAny { col, codes } => lens(col.bitmaps(), codes).sum(),
            BoundLeaf::TagsAll { col, codes, .. } => lens(col.bitmaps(), codes).min().unwrap_or(0),
            BoundLeaf::TagsMatch { col, codes, count, .. } => match count {
                TagCount::None => self.live_len,
                TagCount::AtMost(_) | TagCount::Exactly(_) => col.present().len(),
                _ => lens(col.bitmaps(), codes).sum::<u64>().min(col.present().len()),
            },
            // Read cell by cell: last in an `and`, over its fewest candidates.
            BoundLeaf::Fields { .. } => self.live_len,
            BoundLeaf::Trend { history, .. } => history.map_or(0, |h| h.who().len()),
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

#[cfg(test)]
mod tests {
    //! The three-valued logic and the `and` strategies, against the
    //! entity-at-a-time test of the same bound tree.

    use proptest::prelude::*;
    use roaring::RoaringBitmap;

    use super::{SetEval, RUN};
    use crate::eval::{bind, Env, Meter};
    use crate::filter::{field, Filter, Node};
    use crate::{FieldType, IndexConfig, KindSchema, LimitPolicy, Row, Table, Timestamp};

    /// 5,000 rows over two ints (with missing values) and a string, in
    /// coarse buckets so that ranges cut through them and leave `maybe` ids.
    fn table() -> Table {
        let schema = KindSchema::new(
            "account",
            [("a", FieldType::Int), ("b", FieldType::Int), ("s", FieldType::String)],
        )
        .expect("a valid schema");
        let cfg = IndexConfig {
            fine_buckets: 16,
            groups: 4,
            min_bucket: 8,
            per_id_candidates: 0,
        };
        let mut t = Table::with_config(schema, cfg);
        let rows = (0..5000u32).map(|i| {
            let h = i.wrapping_mul(2_654_435_761);
            let mut row = Row::new().set("s", ["x", "y", "z"][(h % 3) as usize]);
            if h % 7 != 0 {
                row = row.set("a", i64::from(h % 100));
            }
            if h % 5 != 0 {
                row = row.set("b", i64::from((h >> 8) % 50));
            }
            (format!("k{i}"), row)
        });
        t.insert_many(rows).expect("valid rows");
        for k in (0..5000).step_by(13) {
            t.delete(&format!("k{k}")).expect("a live key");
        }
        t
    }

    fn leaf() -> impl Strategy<Value = Node> {
        prop_oneof![
            (0i64..100).prop_map(|n| field("a").lt(n).into()),
            (0i64..100).prop_map(|n| field("a").ge(n).into()),
            (0i64..50, 0i64..50).prop_map(|(x, y)| field("b").between(x.min(y), x.max(y)).into()),
            (0i64..50).prop_map(|n| field("b").ne(n).into()),
            prop_oneof![Just("x"), Just("y")].prop_map(|s| field("s").eq(s).into()),
            Just(field("a").is_null().into()),
        ]
    }

    fn tree() -> impl Strategy<Value = Node> {
        leaf().prop_recursive(3, 16, 4, |inner| {
            (prop::collection::vec(inner, 0..4), any::<bool>(), any::<bool>()).prop_map(|(xs, or, not)| {
                let g = if or { Filter::or(xs) } else { Filter::and(xs) };
                Node::from(if not { g.negated() } else { g })
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// `sure` holds only matching ids, `sure ∪ maybe` every matching id,
        /// both within the scope, whatever regime each `and` takes.
        #[test]
        fn sure_and_maybe_bracket_the_truth(root in tree(), per_id in prop_oneof![Just(0u64), Just(50), Just(u64::MAX)], scoped in any::<bool>()) {
            let t = table();
            let plan = Filter::and([root]).validate(t.schema(), &LimitPolicy::default().with_unlimited_conditions())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let env = Env::metered(Meter::unmetered());
            let bound = bind::bind(&plan.root, &t, Timestamp::from_micros(0), &env);
            let cx = SetEval { live: t.live(), live_len: t.len(), per_id, meter: Meter::unmetered() };
            let within: Option<RoaringBitmap> = scoped.then(|| t.live().iter().filter(|id| id % 3 != 1).collect());
            let tri = cx.eval(&bound, within.as_ref());
            prop_assert!((&tri.sure & &tri.maybe).is_empty(), "sure and maybe overlap");
            let scope = within.as_ref().unwrap_or(t.live());
            prop_assert!(tri.sure.is_subset(scope) && tri.maybe.is_subset(scope), "outside the scope");
            for id in scope {
                let truth = bound.test(id);
                prop_assert!(!tri.sure.contains(id) || truth, "id {} is sure but does not match", id);
                prop_assert!(!truth || tri.sure.contains(id) || tri.maybe.contains(id), "id {} matches but was lost", id);
            }
            // And the settled answer is the row-scan oracle's.
            let got = crate::eval::evaluate_in(&plan, &t, Timestamp::from_micros(0), within.as_ref(), &env);
            let mut want = crate::eval::scan(&plan, &t, Timestamp::from_micros(0)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Some(w) = &within {
                want &= w;
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_spent_budget_answers_nothing() {
        let t = table();
        let plan = Filter::and([field("a").lt(50)])
            .validate(t.schema(), &LimitPolicy::default())
            .expect("a valid filter");
        let budget = crate::eval::Budget::deadline(std::time::Instant::now());
        let meter = Meter::new(&budget);
        let env = Env::metered(&meter);
        let bound = bind::bind(&plan.root, &t, Timestamp::from_micros(0), &env);
        let cx = SetEval {
            live: t.live(),
            live_len: t.len(),
            per_id: 0,
            meter: &meter,
        };
        let tri = cx.eval(&bound, None);
        assert!(tri.sure.is_empty() && tri.maybe.is_empty());
        assert!(RUN.is_power_of_two());
    }
}
