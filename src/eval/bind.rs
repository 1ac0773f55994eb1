//! A plan lowered against one table and one `now`: literals become key
//! ranges of the numeric columns and code sets of the dictionaries.

use roaring::RoaringBitmap;

use crate::filter::{CmpOp, Cond, PNode, Test, Window};
use crate::schema::FieldType;
use crate::store::{BoolColumn, Column, NumericColumn, StringColumn, TagsColumn, NONE};
use crate::value::{floor_key_float, floor_key_int, floor_key_int_i128, floor_key_time, Num, Timestamp};
use crate::Table;

pub(crate) enum BNode<'a> {
    And(Vec<BNode<'a>>),
    Or(Vec<BNode<'a>>),
    Not(Box<BNode<'a>>),
    Leaf(BLeaf<'a>),
}

pub(crate) enum BLeaf<'a> {
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
}

pub(crate) fn bind<'a>(node: &PNode, table: &'a Table, now: Timestamp) -> BNode<'a> {
    match node {
        PNode::And(xs) => BNode::And(xs.iter().map(|x| bind(x, table, now)).collect()),
        PNode::Or(xs) => BNode::Or(xs.iter().map(|x| bind(x, table, now)).collect()),
        PNode::Not(x) => BNode::Not(Box::new(bind(x, table, now))),
        PNode::Leaf(c) => BNode::Leaf(bind_leaf(c, table, now)),
    }
}

/// The key range of `x op lit` given the floor of `lit` in the column's domain.
fn cmp_range(op: CmpOp, (floor, exact): (Option<u64>, bool)) -> (u64, u64) {
    const EMPTY: (u64, u64) = (1, 0);
    match (op, floor) {
        (CmpOp::Eq, Some(f)) if exact => (f, f),
        (CmpOp::Eq, _) => EMPTY,
        (CmpOp::Lt | CmpOp::Le, None) => EMPTY,
        (CmpOp::Lt, Some(f)) if exact => f.checked_sub(1).map_or(EMPTY, |h| (0, h)),
        (CmpOp::Lt | CmpOp::Le, Some(f)) => (0, f),
        (CmpOp::Gt | CmpOp::Ge, None) => (0, u64::MAX),
        (CmpOp::Ge, Some(f)) if exact => (f, u64::MAX),
        (CmpOp::Gt | CmpOp::Ge, Some(f)) => f.checked_add(1).map_or(EMPTY, |l| (l, u64::MAX)),
    }
}

fn intersect((a, b): (u64, u64), (c, d): (u64, u64)) -> (u64, u64) {
    (a.max(c), b.min(d))
}

/// The keys a numeric test accepts: a range, or (for `in`) a sorted set.
pub(crate) enum Span {
    Range(u64, u64),
    Keys(Vec<u64>),
}

/// Lowers a test on a numeric column of type `ty` to the keys it accepts at `now`.
pub(crate) fn numeric_span(test: &Test, ty: FieldType, now: Timestamp) -> Span {
    let num_floor = |x: Num| match ty {
        FieldType::Float => floor_key_float(x),
        _ => floor_key_int(x),
    };
    let now_us = now.as_micros() as i128;
    let us = |v: i128| floor_key_int_i128(v, true);
    let (lo, hi) = match test {
        Test::Num(op, x) => cmp_range(*op, num_floor(*x)),
        Test::NumBetween(a, b) => intersect(cmp_range(CmpOp::Ge, num_floor(*a)), cmp_range(CmpOp::Le, num_floor(*b))),
        Test::NumIn(xs) => {
            let mut keys: Vec<u64> = xs
                .iter()
                .filter_map(|x| match num_floor(*x) {
                    (Some(k), true) => Some(k),
                    _ => None,
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            return Span::Keys(keys);
        }
        Test::Time(op, nanos) => cmp_range(*op, floor_key_time(*nanos)),
        Test::TimeBetween(a, b) => intersect(
            cmp_range(CmpOp::Ge, floor_key_time(*a)),
            cmp_range(CmpOp::Le, floor_key_time(*b)),
        ),
        Test::Window(Window::Last, d) => {
            intersect(cmp_range(CmpOp::Ge, us(now_us - d)), cmp_range(CmpOp::Le, us(now_us)))
        }
        Test::Window(Window::Next, d) => {
            intersect(cmp_range(CmpOp::Ge, us(now_us)), cmp_range(CmpOp::Le, us(now_us + d)))
        }
        Test::Window(Window::MoreThanAgo, d) => cmp_range(CmpOp::Lt, us(now_us - d)),
        _ => (1, 0),
    };
    Span::Range(lo, hi)
}

fn bind_leaf<'a>(c: &Cond, table: &'a Table, now: Timestamp) -> BLeaf<'a> {
    let column = table.column(c.field);
    let ty = table.schema().field(c.field).map_or(FieldType::Int, |(_, t)| t);
    match (column, &c.test) {
        (col, Test::Null) => BLeaf::Null(col.present()),
        (Column::Numeric(col), test) => match numeric_span(test, ty, now) {
            Span::Range(lo, hi) => BLeaf::Range { col, lo, hi },
            Span::Keys(keys) => BLeaf::Keys { col, keys },
        },
        (Column::String(col), test) => {
            let mut codes: Vec<u32> = match test {
                Test::StrEq(s) => col
                    .dict
                    .get_index_of(s.as_str())
                    .map(|i| i as u32)
                    .into_iter()
                    .collect(),
                Test::StrIn(xs) => xs
                    .iter()
                    .filter_map(|s| col.dict.get_index_of(s.as_str()).map(|i| i as u32))
                    .collect(),
                Test::Str(m, pat) => col
                    .dict
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| m.holds(s, pat))
                    .map(|(i, _)| i as u32)
                    .collect(),
                _ => Vec::new(),
            };
            codes.sort_unstable();
            codes.dedup();
            let mut bits = vec![0u64; col.dict.len().div_ceil(64)];
            for &c in &codes {
                bits[c as usize / 64] |= 1 << (c % 64);
            }
            BLeaf::Codes { col, codes, bits }
        }
        (Column::Bool(col), Test::Bool(b)) => BLeaf::Bool { col, value: *b },
        (Column::Tags(col), Test::TagsAny(tags) | Test::TagsAll(tags)) => {
            let mut codes = Vec::with_capacity(tags.len());
            let mut impossible = false;
            for t in tags {
                match col.dict.get_index_of(t.as_str()) {
                    Some(i) => codes.push(i as u32),
                    None => impossible = true,
                }
            }
            codes.sort_unstable();
            codes.dedup();
            if matches!(c.test, Test::TagsAny(_)) {
                BLeaf::TagsAny { col, codes }
            } else {
                BLeaf::TagsAll { col, codes, impossible }
            }
        }
        // Validation only builds tests that fit the field's type.
        (_, test) => unreachable!("validation built test {test:?} for a column of another type"),
    }
}

impl BLeaf<'_> {
    /// Whether the leaf holds for a live `id`.
    pub(crate) fn test(&self, id: u32) -> bool {
        let i = id as usize;
        match self {
            BLeaf::Null(present) => !present.contains(id),
            BLeaf::Range { col, lo, hi } => col.present.contains(id) && (*lo..=*hi).contains(&col.keys[i]),
            BLeaf::Keys { col, keys } => col.present.contains(id) && keys.binary_search(&col.keys[i]).is_ok(),
            BLeaf::Codes { col, bits, .. } => match col.codes.get(i) {
                Some(&c) if c != NONE => bits[c as usize / 64] >> (c % 64) & 1 == 1,
                _ => false,
            },
            BLeaf::Bool { col, value } => col.has.get(id) && col.value.get(id) == *value,
            BLeaf::TagsAny { col, codes } => match col.rows.get(i) {
                Some(Some(row)) => row.iter().any(|t| codes.binary_search(t).is_ok()),
                _ => false,
            },
            BLeaf::TagsAll { col, codes, impossible } => match col.rows.get(i) {
                Some(Some(row)) if !impossible => codes.iter().all(|t| row.contains(t)),
                _ => false,
            },
        }
    }
}

impl BNode<'_> {
    /// Entity at a time: whether the node holds for a live `id`.
    pub(crate) fn test(&self, id: u32) -> bool {
        match self {
            BNode::And(xs) => xs.iter().all(|x| x.test(id)),
            BNode::Or(xs) => xs.iter().any(|x| x.test(id)),
            BNode::Not(x) => !x.test(id),
            BNode::Leaf(l) => l.test(id),
        }
    }
}
