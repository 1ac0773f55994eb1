//! The row-scan oracle: every live entity, every condition, from first
//! principles on decoded values. Slow and obviously right; tests hold the
//! index-based evaluators to it.

use roaring::RoaringBitmap;

use super::Env;
use crate::filter::{
    CmpOp, CountWin, EventCond, EventWhat, PlanNode, PropNode, RelCond, Test, TrendTest, TrendWhat, Window,
};
use crate::schema::FieldId;
use crate::store::{EntityId, Properties};
use crate::value::{cmp_num, Num, Timestamp, Value};
use crate::Table;

pub(crate) fn scan(root: &PlanNode, table: &Table, now: Timestamp, env: &Env) -> RoaringBitmap {
    table
        .live()
        .iter()
        .filter(|&id| matches_row(root, table, id, now, env))
        .collect()
}

fn matches_row(node: &PlanNode, table: &Table, id: u32, now: Timestamp, env: &Env) -> bool {
    match node {
        PlanNode::And(xs) => xs.iter().all(|x| matches_row(x, table, id, now, env)),
        PlanNode::Or(xs) => xs.iter().any(|x| matches_row(x, table, id, now, env)),
        PlanNode::Xor(xs) => xs.iter().filter(|x| matches_row(x, table, id, now, env)).count() % 2 == 1,
        PlanNode::Not(x) => !matches_row(x, table, id, now, env),
        PlanNode::InSegment(ids) => env.in_segments(ids, id),
        PlanNode::Related(r) => related(r, env, id, |child, c| matches_row(&r.nested, child, c, now, env)),
        PlanNode::Leaf(c) => match &c.test {
            Test::Fields(t) => super::fields::test(t, table, c.field, id),
            Test::Trend(t) => trend(t, table, c.field, id, now),
            t => test(t, &table.value(id, c.field), now),
        },
        PlanNode::Event(e) => event(e, table, id, now),
    }
}

/// An event condition from the entity's event list, read in full.
fn event(e: &EventCond, table: &Table, id: u32, now: Timestamp) -> bool {
    let names: Vec<String> = match &e.name {
        Some(n) => vec![n.clone()],
        None => table.event_names().map(String::from).collect(),
    };
    // Every event of the names, its properties read by name.
    let times: Vec<i128> = names
        .iter()
        .flat_map(|n| table.event_properties(EntityId(id), n))
        .filter(|(_, p)| e.props.as_deref().map_or(true, |f| properties(f, p, now)))
        .map(|(t, _)| t.as_micros() as i128 * 1000)
        .collect();
    let as_value = |t: Option<&i128>| match t {
        Some(&ns) => Value::Timestamp(Timestamp::from_micros((ns / 1000) as i64)),
        None => Value::Null,
    };
    let now_ns = now.as_micros() as i128 * 1000;
    match &e.what {
        EventWhat::First(t) => test(t, &as_value(times.iter().min()), now),
        EventWhat::Last(t) => test(t, &as_value(times.iter().max()), now),
        EventWhat::Count { op, n, window } => {
            let inside = |t: i128| match *window {
                CountWin::All => true,
                CountWin::Last(d) => now_ns - d * 1000 <= t && t <= now_ns,
                CountWin::Between(lo, hi) => lo <= t && t <= hi,
            };
            let count = times.iter().filter(|&&t| inside(t)).count() as u64;
            op.accepts(count.cmp(n))
        }
        EventWhat::Change { op, ratio, window } => {
            let w = window * 1000;
            let last = times.iter().filter(|&&t| now_ns - w <= t && t <= now_ns).count() as u64;
            let before = times.iter().filter(|&&t| now_ns - 2 * w <= t && t < now_ns - w).count() as u64;
            let grew_or_fell = match op {
                CmpOp::Ge => last as f64 >= ratio * before as f64,
                _ => last as f64 <= ratio * before as f64,
            };
            last + before > 0 && grew_or_fell
        }
    }
}

/// A trend from the entity's history as the public API gives it, walked in
/// full: the value in force at each instant is the last change at or before it.
fn trend(t: &TrendTest, table: &Table, field: FieldId, id: u32, now: Timestamp) -> bool {
    let Some((name, _)) = table.schema().field(field) else {
        return false;
    };
    let now = now.as_micros() as i128;
    let start = now - t.window;
    let changes: Vec<(i128, Option<Num>)> = table
        .field_history(EntityId(id), name)
        .into_iter()
        .map(|(at, v)| {
            let n = match v {
                Value::Int(i) => Some(Num::Int(i as i128)),
                Value::Float(x) => Some(Num::Float(x)),
                _ => None,
            };
            (at.as_micros() as i128, n)
        })
        .filter(|(at, _)| *at <= now)
        .collect();
    let in_force = |s: i128| changes.iter().rfind(|(at, _)| *at <= s).map(|c| c.1);
    let Some(current) = changes.last().map(|c| c.1) else {
        return false;
    };
    let first_inside = changes.iter().find(|(at, _)| *at > start).map(|c| c.1);
    let f = |n: Num| match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    };
    match t.what {
        TrendWhat::Delta | TrendWhat::Percent => {
            let base = in_force(start).or(first_inside);
            let (Some(Some(b)), Some(c)) = (base, current) else {
                return false;
            };
            let delta = match (c, b) {
                (Num::Int(c), Num::Int(b)) => Num::Int(c - b),
                (c, b) => Num::Float(f(c) - f(b)),
            };
            let x = if t.what == TrendWhat::Delta {
                delta
            } else if f(b) == 0.0 {
                return false;
            } else {
                Num::Float(f(delta) / f(b).abs() * 100.0)
            };
            t.op.accepts(cmp_num(x, t.lit))
        }
        TrendWhat::Max | TrendWhat::Min => {
            let mut seen: Vec<Num> = in_force(start).flatten().into_iter().collect();
            seen.extend(changes.iter().filter(|(at, _)| *at > start).filter_map(|c| c.1));
            let best = seen.into_iter().reduce(|a, b| {
                let b_wins = if t.what == TrendWhat::Max {
                    cmp_num(b, a).is_gt()
                } else {
                    cmp_num(b, a).is_lt()
                };
                if b_wins {
                    b
                } else {
                    a
                }
            });
            best.is_some_and(|x| t.op.accepts(cmp_num(x, t.lit)))
        }
    }
}

/// Whether an event's properties match a property filter.
fn properties(f: &PropNode, p: &Properties, now: Timestamp) -> bool {
    match f {
        PropNode::And(xs) => xs.iter().all(|x| properties(x, p, now)),
        PropNode::Or(xs) => xs.iter().any(|x| properties(x, p, now)),
        PropNode::Xor(xs) => xs.iter().filter(|x| properties(x, p, now)).count() % 2 == 1,
        PropNode::Not(x) => !properties(x, p, now),
        PropNode::Leaf { key, test } => property_test(test, p.get(key), now),
    }
}

/// Whether an event's property (`None`: the event does not carry it)
/// passes a positive test, as a field's value would, with a string read as
/// an RFC 3339 instant by the time tests: by [`test`], the oracle's own
/// reading of a value.
fn property_test(t: &Test, v: Option<&Value>, now: Timestamp) -> bool {
    let timed = matches!(t, Test::Time(..) | Test::TimeBetween(..) | Test::Window(..));
    match v {
        None => test(t, &Value::Null, now),
        Some(Value::String(s)) if timed => s
            .parse::<Timestamp>()
            .is_ok_and(|ts| test(t, &Value::Timestamp(ts), now)),
        Some(v) => test(t, v, now),
    }
}

pub(crate) fn test(t: &Test, v: &Value, now: Timestamp) -> bool {
    let num = match v {
        Value::Int(i) => Some(Num::Int(*i as i128)),
        Value::Float(x) => Some(Num::Float(*x)),
        _ => None,
    };
    let nanos = match v {
        Value::Timestamp(t) => Some(t.as_micros() as i128 * 1000),
        _ => None,
    };
    let now_ns = now.as_micros() as i128 * 1000;
    match (t, v) {
        (Test::Null, v) => matches!(v, Value::Null),
        // From the decoded tags: count the ones the group matches.
        (Test::TagsMatch(m), Value::Tags(tags)) => {
            let hits = tags.iter().filter(|t| m.each.matches(t)).count() as u64;
            m.count.satisfied_by(hits, tags.len() as u64)
        }
        (Test::TagsMatch(m), Value::Null) => m.count.satisfied_by(0, 0),
        (_, Value::Null) => false,
        (Test::Num(op, lit), _) => num.is_some_and(|n| op.accepts(cmp_num(n, *lit))),
        (Test::NumBetween(lo, hi), _) => {
            num.is_some_and(|n| CmpOp::Ge.accepts(cmp_num(n, *lo)) && CmpOp::Le.accepts(cmp_num(n, *hi)))
        }
        (Test::NumIn(xs), _) => num.is_some_and(|n| xs.iter().any(|x| cmp_num(n, *x).is_eq())),
        (Test::Time(op, lit), _) => nanos.is_some_and(|t| op.accepts(t.cmp(lit))),
        (Test::TimeBetween(lo, hi), _) => nanos.is_some_and(|t| *lo <= t && t <= *hi),
        (Test::Window(w, d), _) => nanos.is_some_and(|t| {
            let d = d * 1000;
            match w {
                Window::Last => now_ns - d <= t && t <= now_ns,
                Window::Next => now_ns <= t && t <= now_ns + d,
                Window::MoreThanAgo => t < now_ns - d,
            }
        }),
        (Test::StrEq(s), Value::String(x)) => x == s,
        (Test::StrIn(xs), Value::String(x)) => xs.iter().any(|s| s == x),
        (Test::Str(m, pat), Value::String(x)) => m.matches(x, pat),
        (Test::Pred(p), Value::String(x)) => p.matches(x),
        (Test::Bool(b), Value::Bool(x)) => b == x,
        (Test::TagsAny(xs), Value::Tags(tags)) => xs.iter().any(|t| tags.contains(t)),
        (Test::TagsAll(xs), Value::Tags(tags)) => !tags.is_empty() && xs.iter().all(|t| tags.contains(t)),
        _ => false,
    }
}

/// From first principles, for the oracle: the live children whose relation
/// field's value is the parent's key, each tested by `test`.
fn related(r: &RelCond, env: &Env, id: u32, test: impl Fn(&Table, u32) -> bool) -> bool {
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
