//! A plan bound to one table and one `now`: each leaf becomes the column
//! access that answers it (key ranges of the numeric columns, see
//! `lower`; code sets of the dictionaries; event conditions, see
//! `events`), tested entity at a time here and set at a time in `bitmap`.

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
        PlanNode::And(xs) => BoundNode::And(xs.iter().map(|x| bind(x, table, now, env)).collect()),
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
        if i % super::bitmap::RUN == 0 && meter.spent() {
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
