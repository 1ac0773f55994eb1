//! Entity at a time without binding: each condition reads the one entity's
//! cell and compares it with the literal, so testing one entity costs a few
//! column reads whatever the size of the dictionaries.
//!
//! The one per-entity evaluator: the write path tests each written entity
//! against each rule that reads the written fields with it, and
//! [`super::matches`] and [`super::Matcher`] are it for callers. (The set
//! evaluator binds once, dictionary codes and key ranges, and tests the
//! ids its indexes leave uncertain with the bound leaves: see `bind`.)

use super::lower::{numeric_span, Span};
use super::Env;
use roaring::RoaringBitmap;

use crate::filter::{PlanNode, Quant, RelCond, Test};
use crate::schema::FieldType;
use crate::store::{children, Column, NONE};
use crate::value::Timestamp;
use crate::Table;

/// Whether `node` holds for the live entity `id` at `now`.
pub(crate) fn matches(node: &PlanNode, table: &Table, id: u32, now: Timestamp, env: &Env) -> bool {
    match node {
        PlanNode::And(xs) => xs.iter().all(|x| matches(x, table, id, now, env)),
        PlanNode::Or(xs) => xs.iter().any(|x| matches(x, table, id, now, env)),
        PlanNode::Xor(xs) => xs.iter().filter(|x| matches(x, table, id, now, env)).count() % 2 == 1,
        PlanNode::Not(x) => !matches(x, table, id, now, env),
        PlanNode::InSegment(ids) => env.in_segments(ids, id),
        PlanNode::Related(r) => related_matches(r, env, id, now),
        PlanNode::Event(e) => super::events::EventLeaf::bind(e, table, now).test(id),
        PlanNode::Leaf(c) => {
            let column = table.column(c.field);
            let i = id as usize;
            match (column, &c.test) {
                (col, Test::Null) => !col.present().contains(id),
                (_, Test::Trend(t)) => table
                    .history(c.field)
                    .is_some_and(|h| super::trend::holds(t, h.of(id), now.as_micros())),
                (_, Test::Fields(t)) => super::fields::test(t, table, c.field, id),
                (Column::Numeric(col), test) => {
                    let Some(key) = col.key(id) else {
                        return false;
                    };
                    let ty = table.schema().field(c.field).map_or(FieldType::Int, |(_, t)| t);
                    match numeric_span(test, ty, now) {
                        Span::Range(lo, hi) => (lo..=hi).contains(&key),
                        Span::Keys(keys) => keys.binary_search(&key).is_ok(),
                    }
                }
                (Column::String(col), test) => {
                    let Some(s) = col
                        .codes()
                        .get(i)
                        .filter(|&&c| c != NONE)
                        .and_then(|&c| col.dict().get_index(c as usize))
                    else {
                        return false;
                    };
                    match test {
                        Test::StrEq(x) => s == x.as_str(),
                        Test::StrIn(xs) => xs.iter().any(|x| s == x.as_str()),
                        Test::Str(m, pat) => m.matches(s, pat),
                        Test::Pred(p) => p.matches(s),
                        _ => false,
                    }
                }
                (Column::Bool(col), Test::Bool(b)) => col.value_of(id) == Some(*b),
                (Column::Tags(col), test) => {
                    let Some(row) = col.tags(id) else {
                        // No tags: only the match mode `none` holds.
                        return matches!(test, Test::TagsMatch(m) if m.count.satisfied_by(0, 0));
                    };
                    let has = |t: &String| {
                        col.dict()
                            .get_index_of(t.as_str())
                            .is_some_and(|code| row.contains(&(code as u32)))
                    };
                    match test {
                        Test::TagsAny(tags) => tags.iter().any(has),
                        Test::TagsAll(tags) => tags.iter().all(has),
                        Test::TagsMatch(m) => {
                            let hits = row
                                .iter()
                                .filter(|&&t| col.dict().get_index(t as usize).is_some_and(|w| m.each.matches(w)))
                                .count();
                            m.count.satisfied_by(hits as u64, row.len() as u64)
                        }
                        _ => false,
                    }
                }
                _ => false,
            }
        }
    }
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
        .filter(|&c| matches(&r.nested, child, c, now, env));
    let matched = if first { hits.take(1).count() } else { hits.count() } as u64;
    (matched, kids.map_or(0, RoaringBitmap::len))
}

/// The matching and all children of the live parent `id`.
pub(crate) fn related_counts(r: &RelCond, env: &Env, id: u32, now: Timestamp) -> (u64, u64) {
    count_children(r, env, id, now, false)
}

/// Entity at a time: whether the quantifier holds for the live parent `id`.
fn related_matches(r: &RelCond, env: &Env, id: u32, now: Timestamp) -> bool {
    let (matched, total) = count_children(r, env, id, now, r.quant == Quant::Any);
    r.quant.satisfied_by(matched, total)
}
