//! A plan bound to one table and one `now`: each leaf becomes the column
//! access that answers it (key ranges of the numeric columns, see
//! `lower`; code sets of the dictionaries; event conditions, see
//! `events`), answered set at a time in `bitmap`; `test` here decides the
//! ids the indexes leave uncertain. Callers that test one entity use
//! `entity`, which binds nothing.

use roaring::RoaringBitmap;

pub(crate) use super::events::EventLeaf;
use super::lower::{numeric_span, Span};
use super::{Env, Meter};
use crate::filter::{Cond, FieldTest, PlanNode, StrMatch, TagCount, Test, TrendTest};
use crate::schema::FieldId;
use crate::schema::FieldType;
use crate::store::{
    BoolColumn, Build, Column, Dictionary, Find, History, NumericColumn, StringColumn, TagsColumn, NONE,
};
use crate::value::Timestamp;
use crate::Table;

pub(crate) enum BoundNode<'a> {
    And(Vec<BoundNode<'a>>),
    Or(Vec<BoundNode<'a>>),
    Xor(Vec<BoundNode<'a>>),
    Not(Box<BoundNode<'a>>),
    Leaf(BoundLeaf<'a>),
}

pub(crate) enum BoundLeaf<'a> {
    /// True where the value is missing.
    Null(&'a RoaringBitmap),
    /// Keys in `lo..=hi`; none when `lo > hi`.
    Range { col: &'a NumericColumn, lo: u64, hi: u64 },
    /// Keys in a sorted set.
    Keys { col: &'a NumericColumn, keys: Vec<u64> },
    /// String codes in a set.
    Codes {
        col: &'a StringColumn,
        codes: Vec<u32>,
        bits: Vec<u64>,
    },
    /// The value is `value`.
    Bool { col: &'a BoolColumn, value: bool },
    /// Tags holding any of `codes`.
    TagsAny { col: &'a TagsColumn, codes: Vec<u32> },
    /// Tags holding all of `codes`; never when a tag is unknown.
    TagsAll {
        col: &'a TagsColumn,
        codes: Vec<u32>,
        impossible: bool,
    },
    /// A match mode: how many of the row's tags are among `hits` (a bitset
    /// of tag codes; `codes` lists them).
    TagsMatch {
        col: &'a TagsColumn,
        codes: Vec<u32>,
        bits: Vec<u64>,
        count: TagCount,
    },
    /// A comparison with other fields of the row, read cell by cell.
    Fields {
        table: &'a Table,
        field: FieldId,
        test: FieldTest,
    },
    /// A condition on events.
    Event(EventLeaf<'a>),
    /// A trend of a tracked field; never without a history.
    Trend {
        history: Option<&'a History>,
        test: TrendTest,
        now: i64,
    },
    /// A condition computed whole when bound (segment membership, a
    /// quantifier over related entities): the live ids that satisfy it.
    Set(RoaringBitmap),
}

pub(crate) fn bind<'a>(node: &PlanNode, table: &'a Table, now: Timestamp, env: &Env) -> BoundNode<'a> {
    if env.meter.spent() {
        // The evaluation gives up; its caller reports why.
        return BoundNode::Leaf(BoundLeaf::Set(RoaringBitmap::new()));
    }
    match node {
        PlanNode::And(xs) => {
            let xs: Vec<BoundNode> = xs.iter().map(|x| bind(x, table, now, env)).collect();
            if contradiction(&xs) {
                // Nothing matches: found without touching a bitmap.
                return BoundNode::Leaf(BoundLeaf::Set(RoaringBitmap::new()));
            }
            BoundNode::And(xs)
        }
        PlanNode::Or(xs) => BoundNode::Or(xs.iter().map(|x| bind(x, table, now, env)).collect()),
        PlanNode::Xor(xs) => BoundNode::Xor(xs.iter().map(|x| bind(x, table, now, env)).collect()),
        PlanNode::Not(x) => BoundNode::Not(Box::new(bind(x, table, now, env))),
        PlanNode::Leaf(c) => BoundNode::Leaf(bind_leaf(c, table, now, env.meter)),
        PlanNode::Event(e) => BoundNode::Leaf(BoundLeaf::Event(EventLeaf::bind(e, table, now))),
        PlanNode::InSegment(ids) => {
            let mut set = RoaringBitmap::new();
            for m in ids.iter().filter_map(|s| env.members(*s)) {
                set |= m;
            }
            BoundNode::Leaf(BoundLeaf::Set(set & table.live()))
        }
        PlanNode::Related(r) => BoundNode::Leaf(BoundLeaf::Set(super::related::ids(r, env, now, table.live()))),
    }
}

/// What the leaves of one `and` require of one column's value.
struct Narrowed {
    /// A leaf holds only where the value is missing.
    missing: bool,
    /// A leaf holds only where there is a value.
    value: bool,
    /// Numeric keys: in `lo..=hi`, among `keys` if any leaf lists them,
    /// and in none of the `out` ranges (the negated leaves').
    lo: u64,
    hi: u64,
    keys: Option<Vec<u64>>,
    out: Vec<(u64, u64)>,
    /// Dictionary words: among these (a bitset of codes), none of the
    /// banned ones.
    words: Option<Vec<u64>>,
    banned: Vec<u64>,
    /// A boolean: this value, and not the banned ones.
    truth: Option<bool>,
    not_truth: [bool; 2],
    clash: bool,
}

impl Narrowed {
    fn new() -> Narrowed {
        Narrowed {
            missing: false,
            value: false,
            lo: 0,
            hi: u64::MAX,
            keys: None,
            out: Vec::new(),
            words: None,
            banned: Vec::new(),
            truth: None,
            not_truth: [false; 2],
            clash: false,
        }
    }

    /// Whether no value (and no missing value) meets every requirement.
    /// Ruled-out ranges past a few dozen are not looked at (the check
    /// stays linear in the leaves).
    fn impossible(&self) -> bool {
        let out = if self.out.len() <= 64 { &self.out[..] } else { &[] };
        let outside = |k: u64| !out.iter().any(|&(a, b)| (a..=b).contains(&k));
        let keys_left = |ks: &Vec<u64>| ks.iter().any(|&k| (self.lo..=self.hi).contains(&k) && outside(k));
        (self.missing && self.value)
            || self.lo > self.hi
            || self.clash
            || self.truth.is_some_and(|t| self.not_truth[t as usize])
            || (self.value && out.iter().any(|&(a, b)| a <= self.lo && self.hi <= b))
            || self.keys.as_ref().is_some_and(|ks| !keys_left(ks))
            || self.words.as_ref().is_some_and(|w| {
                w.iter()
                    .enumerate()
                    .all(|(i, &b)| b & !self.banned.get(i).copied().unwrap_or(0) == 0)
            })
    }
}

/// The leaves an `and` requires, with their sign: its own, those of the
/// `and`s under it, and the negated leaves under a `not` (of a leaf, or of
/// an `or`: none of its leaves may hold).
fn requirements<'b, 'a>(x: &'b BoundNode<'a>, positive: bool, out: &mut Vec<(&'b BoundLeaf<'a>, bool)>) {
    match (x, positive) {
        (BoundNode::Leaf(l), _) => out.push((l, positive)),
        (BoundNode::And(ys), true) | (BoundNode::Or(ys), false) => {
            for y in ys {
                requirements(y, positive, out);
            }
        }
        (BoundNode::Not(y), _) => requirements(y, !positive, out),
        _ => {}
    }
}

/// Whether the leaves an `and` requires cannot all hold for any entity:
/// `paying = true` with `paying = false` (or `paying != true`),
/// `country = "AU"` with `country = "NL"`, `seats < 10` with `seats >
/// 500`, or a value test with `null` on the same field. One pass, a map
/// entry per column: then such a filter answers nothing at once, however
/// many rows there are.
fn contradiction(xs: &[BoundNode]) -> bool {
    let mut leaves = Vec::new();
    for x in xs {
        requirements(x, true, &mut leaves);
    }
    let mut by_column: std::collections::HashMap<*const RoaringBitmap, Narrowed> = Default::default();
    for (l, positive) in leaves {
        let present: &RoaringBitmap = match l {
            BoundLeaf::Set(s) if positive && s.is_empty() => return true,
            BoundLeaf::Null(p) => p,
            BoundLeaf::Range { col, .. } | BoundLeaf::Keys { col, .. } => col.present(),
            BoundLeaf::Codes { col, .. } => col.present(),
            BoundLeaf::Bool { col, .. } => col.present(),
            BoundLeaf::TagsAny { col, .. } | BoundLeaf::TagsAll { col, .. } if positive => col.present(),
            _ => continue,
        };
        let n = by_column.entry(present as *const _).or_insert_with(Narrowed::new);
        match (l, positive) {
            (BoundLeaf::Null(_), true) => n.missing = true,
            // A value test that fails holds where there is no value too,
            // so a negated leaf only rules values out.
            (BoundLeaf::Null(_), false) => n.value = true,
            (BoundLeaf::Range { lo, hi, .. }, true) => {
                n.value = true;
                n.lo = n.lo.max(*lo);
                n.hi = n.hi.min(*hi);
            }
            (BoundLeaf::Range { lo, hi, .. }, false) => n.out.push((*lo, *hi)),
            (BoundLeaf::Keys { keys, .. }, true) => {
                n.value = true;
                n.keys = Some(match n.keys.take() {
                    Some(had) => had.into_iter().filter(|k| keys.binary_search(k).is_ok()).collect(),
                    None => keys.clone(),
                });
            }
            (BoundLeaf::Keys { keys, .. }, false) => n.out.extend(keys.iter().map(|&k| (k, k))),
            (BoundLeaf::Codes { bits, .. }, true) => {
                n.value = true;
                n.words = Some(match n.words.take() {
                    Some(had) => had.iter().zip(bits).map(|(a, b)| a & b).collect(),
                    None => bits.clone(),
                });
            }
            (BoundLeaf::Codes { bits, .. }, false) => {
                n.banned.resize(n.banned.len().max(bits.len()), 0);
                for (b, &x) in n.banned.iter_mut().zip(bits) {
                    *b |= x;
                }
            }
            (BoundLeaf::Bool { value, .. }, true) => {
                n.value = true;
                n.clash |= n.truth.is_some_and(|t| t != *value);
                n.truth = Some(*value);
            }
            (BoundLeaf::Bool { value, .. }, false) => n.not_truth[*value as usize] = true,
            _ => n.value = true,
        }
    }
    by_column.values().any(Narrowed::impossible)
}

/// Whether dictionary code `c` (or [`NONE`], a missing value) is set in
/// the bitset of matching words.
pub(crate) fn code_hit(bits: &[u64], c: u32) -> bool {
    c != NONE && bits[c as usize / 64] >> (c % 64) & 1 == 1
}

/// The dictionary search that answers a string match.
fn find(m: StrMatch) -> Find {
    match m {
        StrMatch::Contains => Find::Contains,
        StrMatch::BeginsWith => Find::Prefix,
        StrMatch::EndsWith => Find::Suffix,
    }
}

/// The codes of the dictionary words that `keep` accepts, sorted, and
/// their bitset; the scan stops (with what it has) once the budget is spent.
fn words_where(dict: &Dictionary, meter: &Meter, keep: impl Fn(&str) -> bool) -> (Vec<u32>, Vec<u64>) {
    let mut codes = Vec::new();
    for (i, w) in dict.iter().enumerate() {
        if i % super::budget::RUN == 0 && meter.spent() {
            break;
        }
        if keep(w) {
            codes.push(i as u32);
        }
    }
    let bits = code_bits(&codes, dict.len());
    (codes, bits)
}

/// The bitset of `codes` (each below `words`), which [`code_hit`] reads.
fn code_bits(codes: &[u32], words: usize) -> Vec<u64> {
    let mut bits = vec![0u64; words.div_ceil(64)];
    for &c in codes {
        bits[c as usize / 64] |= 1 << (c % 64);
    }
    bits
}

fn bind_leaf<'a>(c: &Cond, table: &'a Table, now: Timestamp, meter: &Meter) -> BoundLeaf<'a> {
    let column = table.column(c.field);
    let ty = table.schema().field(c.field).map_or(FieldType::Int, |(_, t)| t);
    match (column, &c.test) {
        (col, Test::Null) => BoundLeaf::Null(col.present()),
        (_, Test::Trend(test)) => BoundLeaf::Trend {
            history: table.history(c.field),
            test: test.clone(),
            now: now.as_micros(),
        },
        (_, Test::Fields(test)) => BoundLeaf::Fields {
            table,
            field: c.field,
            test: test.clone(),
        },
        (Column::String(col), Test::Pred(p)) => {
            let (codes, bits) = words_where(col.dict(), meter, |w| p.matches(w));
            BoundLeaf::Codes { col, codes, bits }
        }
        (Column::Tags(col), Test::TagsMatch(m)) => {
            let (codes, bits) = words_where(col.dict(), meter, |w| m.each.matches(w));
            BoundLeaf::TagsMatch {
                col,
                codes,
                bits,
                count: m.count,
            }
        }
        (Column::Numeric(col), test) => match numeric_span(test, ty, now) {
            Span::Range(lo, hi) => BoundLeaf::Range { col, lo, hi },
            Span::Keys(keys) => BoundLeaf::Keys { col, keys },
        },
        (Column::String(col), test) => {
            let mut codes: Vec<u32> = match test {
                Test::StrEq(s) => col
                    .dict()
                    .get_index_of(s.as_str())
                    .map(|i| i as u32)
                    .into_iter()
                    .collect(),
                Test::StrIn(xs) => xs
                    .iter()
                    .filter_map(|s| col.dict().get_index_of(s.as_str()).map(|i| i as u32))
                    .collect(),
                // Stopped by the budget: no words (the caller reports why).
                // Under a budget, a search builds at most a round of the
                // trigram index.
                Test::Str(m, pat) => {
                    let build = if meter.is_limited() { Build::Round } else { Build::Whole };
                    col.dict()
                        .matching(find(*m), pat, build, &|| meter.spent())
                        .unwrap_or_default()
                }
                _ => Vec::new(),
            };
            codes.sort_unstable();
            codes.dedup();
            let bits = code_bits(&codes, col.dict().len());
            BoundLeaf::Codes { col, codes, bits }
        }
        (Column::Bool(col), Test::Bool(b)) => BoundLeaf::Bool { col, value: *b },
        (Column::Tags(col), Test::TagsAny(tags) | Test::TagsAll(tags)) => {
            let mut codes = Vec::with_capacity(tags.len());
            let mut impossible = false;
            for t in tags {
                match col.dict().get_index_of(t.as_str()) {
                    Some(i) => codes.push(i as u32),
                    None => impossible = true,
                }
            }
            codes.sort_unstable();
            codes.dedup();
            if matches!(c.test, Test::TagsAny(_)) {
                BoundLeaf::TagsAny { col, codes }
            } else {
                BoundLeaf::TagsAll { col, codes, impossible }
            }
        }
        // Validation only builds tests that fit the field's type.
        (_, test) => unreachable!("validation built test {test:?} for a column of another type"),
    }
}

impl BoundLeaf<'_> {
    /// Whether the leaf holds for a live `id`.
    pub(crate) fn test(&self, id: u32) -> bool {
        let i = id as usize;
        match self {
            BoundLeaf::Null(present) => !present.contains(id),
            BoundLeaf::Range { col, lo, hi } => col.key(id).is_some_and(|k| (*lo..=*hi).contains(&k)),
            BoundLeaf::Keys { col, keys } => col.key(id).is_some_and(|k| keys.binary_search(&k).is_ok()),
            BoundLeaf::Codes { col, bits, .. } => col.codes().get(i).is_some_and(|&c| code_hit(bits, c)),
            BoundLeaf::Bool { col, value } => col.value_of(id) == Some(*value),
            BoundLeaf::TagsAny { col, codes } => match col.tags(id) {
                Some(row) => row.iter().any(|t| codes.binary_search(t).is_ok()),
                _ => false,
            },
            BoundLeaf::TagsAll { col, codes, impossible } => match col.tags(id) {
                Some(row) if !impossible => codes.iter().all(|t| row.contains(t)),
                _ => false,
            },
            BoundLeaf::TagsMatch { col, bits, count, .. } => {
                let row = col.tags(id).unwrap_or_default();
                let hits = row.iter().filter(|&&t| code_hit(bits, t)).count() as u64;
                count.satisfied_by(hits, row.len() as u64)
            }
            BoundLeaf::Fields { table, field, test } => super::fields::test(test, table, *field, id),
            BoundLeaf::Event(e) => e.test(id),
            BoundLeaf::Trend { history, test, now } => {
                history.is_some_and(|h| super::trend::holds(test, h.of(id), *now))
            }
            BoundLeaf::Set(ids) => ids.contains(id),
        }
    }
}

impl BoundNode<'_> {
    /// Entity at a time: whether the node holds for a live `id`.
    pub(crate) fn test(&self, id: u32) -> bool {
        match self {
            BoundNode::And(xs) => xs.iter().all(|x| x.test(id)),
            BoundNode::Or(xs) => xs.iter().any(|x| x.test(id)),
            BoundNode::Xor(xs) => xs.iter().filter(|x| x.test(id)).count() % 2 == 1,
            BoundNode::Not(x) => !x.test(id),
            BoundNode::Leaf(l) => l.test(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{field, Filter, Node};
    use crate::{KindSchema, LimitPolicy, Row};

    fn table() -> Table {
        let schema = KindSchema::new(
            "account",
            [
                ("paying", FieldType::Bool),
                ("country", FieldType::String),
                ("seats", FieldType::Int),
            ],
        )
        .expect("a valid schema");
        let mut t = Table::new(schema);
        let rows = (0..200i64).map(|i| {
            let row = Row::new()
                .set("paying", i % 2 == 0)
                .set("country", ["AU", "NL", "US"][(i % 3) as usize]);
            // Every tenth without seats: negated tests hold there.
            let row = if i % 10 == 0 { row } else { row.set("seats", i) };
            (format!("k{i}"), row)
        });
        t.insert_many(rows).expect("valid rows");
        t
    }

    fn bound_empty(t: &Table, rules: Vec<Node>) -> bool {
        let plan = Filter::and(rules)
            .validate(t.schema(), &LimitPolicy::default())
            .expect("a valid filter");
        let env = Env::metered(Meter::unmetered());
        let want = crate::eval::scan(&plan, t, Timestamp::from_micros(0)).expect("same kind");
        let empty = matches!(bind(&plan.root, t, Timestamp::from_micros(0), &env),
            BoundNode::Leaf(BoundLeaf::Set(s)) if s.is_empty());
        // Found early only where the row scan finds nothing too.
        assert!(
            !empty || want.is_empty(),
            "bound to nothing, but {} rows match",
            want.len()
        );
        empty
    }

    #[test]
    fn contradictions_in_an_and_bind_to_nothing() {
        let t = table();
        let nothing: Vec<Vec<Node>> = vec![
            vec![field("paying").eq(true).into(), field("paying").eq(false).into()],
            vec![field("country").eq("AU").into(), field("country").eq("NL").into()],
            vec![
                field("country").is_in(["AU", "US"]).into(),
                field("country").eq("NL").into(),
            ],
            vec![field("seats").lt(10).into(), field("seats").gt(500).into()],
            vec![field("seats").is_in([1, 2]).into(), field("seats").ge(3).into()],
            vec![field("seats").is_in([1, 2]).into(), field("seats").is_in([3]).into()],
            vec![field("seats").is_null().into(), field("seats").ge(3).into()],
            vec![
                field("country").is_null().into(),
                field("country").begins_with("A").into(),
            ],
            vec![
                field("seats").gt(5).into(),
                field("paying").eq(true).into(),
                field("paying").eq(false).into(),
            ],
            // Under nested `and`s, and against negated leaves.
            vec![
                Filter::and([field("seats").gt(5), field("paying").ne(true)]).into(),
                field("paying").eq(true).into(),
            ],
            vec![field("country").not_in(["AU"]).into(), field("country").eq("AU").into()],
            vec![
                field("seats").not_between(0, 100).into(),
                field("seats").between(10, 20).into(),
            ],
            vec![
                field("seats").not_in([3, 4]).into(),
                field("seats").is_in([4, 3]).into(),
            ],
            vec![field("seats").not_null().into(), field("seats").is_null().into()],
            vec![
                Filter::or([field("paying").eq(false), field("seats").lt(3)])
                    .negated()
                    .into(),
                field("paying").eq(false).into(),
            ],
        ];
        for rules in nothing {
            let shown = format!("{rules:?}");
            assert!(bound_empty(&t, rules), "not found early: {shown}");
        }
        let something: Vec<Vec<Node>> = vec![
            vec![field("paying").eq(true).into(), field("country").eq("NL").into()],
            vec![
                field("country").is_in(["AU", "NL"]).into(),
                field("country").eq("NL").into(),
            ],
            vec![field("seats").gt(5).into(), field("seats").lt(10).into()],
            vec![field("seats").is_in([1, 7]).into(), field("seats").ge(3).into()],
            vec![field("seats").is_null().into(), field("country").eq("AU").into()],
            vec![
                Filter::or([field("seats").lt(3), field("seats").gt(100)]).into(),
                field("seats").ge(3).into(),
            ],
            vec![field("paying").ne(true).into(), field("paying").eq(false).into()],
            vec![
                field("country").not_in(["AU"]).into(),
                field("country").is_in(["AU", "NL"]).into(),
            ],
            vec![
                field("seats").not_between(0, 10).into(),
                field("seats").between(5, 20).into(),
            ],
            vec![field("seats").not_in([3]).into(), field("seats").is_in([4, 3]).into()],
            vec![field("paying").ne(true).into(), field("paying").is_null().into()],
            // A negated leaf alone rules out values, not missing ones.
            vec![field("seats").not_between(i64::MIN, i64::MAX).into()],
            vec![
                field("seats").not_between(0, 100).into(),
                field("seats").not_between(50, 300).into(),
            ],
            vec![
                Filter::or([field("paying").eq(false), field("seats").lt(3)])
                    .negated()
                    .into(),
                field("seats").ge(3).into(),
            ],
        ];
        for rules in something {
            let shown = format!("{rules:?}");
            assert!(!bound_empty(&t, rules), "wrongly empty: {shown}");
        }
    }
}
