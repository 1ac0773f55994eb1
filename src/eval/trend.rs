//! Trends of tracked fields: the change of a value over a window ending at
//! `now`, and its highest and lowest value in the window, from the changes
//! the table keeps.

use crate::filter::{TrendTest, TrendWhat};
use crate::store::Sample;
use crate::value::{cmp_num, Num};

/// Whether `t` holds for an entity whose changes are `h` (in time order),
/// at `now` (µs).
///
/// The window is `[now - d, now]`; changes after `now` have not happened
/// yet. The value at the window's start is the one in force then (the last
/// change at or before it), or, for an entity whose kept history starts
/// inside the window, its first value. `@delta` is the value now less that
/// one; `@max` and `@min` range over it and every change in the window. A
/// missing value counts for nothing: a delta with a missing end is false,
/// and so is a trend with no value at all.
pub(crate) fn holds(t: &TrendTest, h: &[(i64, Sample)], now: i64) -> bool {
    let start = (now as i128 - t.window).max(i64::MIN as i128) as i64;
    // Changes up to now, and the first one after the window's start.
    let upto = h.partition_point(|&(at, _)| at <= now);
    let h = &h[..upto];
    let Some(&(_, current)) = h.last() else {
        return false;
    };
    let inside = h.partition_point(|&(at, _)| at <= start);
    // The change in force at the window's start, if kept.
    let at_start = inside.checked_sub(1).map(|i| h[i].1);
    match t.what {
        TrendWhat::Delta | TrendWhat::Percent => {
            let base = at_start.or_else(|| h.get(inside).map(|e| e.1));
            let (Some(base), Some(now_v)) = (base.and_then(Sample::num), current.num()) else {
                return false;
            };
            let delta = difference(now_v, base);
            let measured = match t.what {
                TrendWhat::Delta => delta,
                _ => {
                    let b = as_f64(base);
                    if b == 0.0 {
                        return false;
                    }
                    Num::Float(as_f64(delta) / b.abs() * 100.0)
                }
            };
            t.op.accepts(cmp_num(measured, t.lit))
        }
        TrendWhat::Max | TrendWhat::Min => {
            let values = at_start
                .into_iter()
                .chain(h[inside..].iter().map(|e| e.1))
                .filter_map(Sample::num);
            let pick = |a: Num, b: Num| {
                let later_wins = cmp_num(b, a).is_gt() == (t.what == TrendWhat::Max);
                if later_wins {
                    b
                } else {
                    a
                }
            };
            match values.reduce(pick) {
                Some(x) => t.op.accepts(cmp_num(x, t.lit)),
                None => false,
            }
        }
    }
}

/// `a - b`, exactly for two ints.
fn difference(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => Num::Int(a - b),
        (a, b) => Num::Float(as_f64(a) - as_f64(b)),
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    }
}

/// The instants after `now` at which the trend of an entity with changes
/// `h` may change with time alone: when a change happens (one recorded
/// ahead of `now`), and when one becomes the value at the window's start.
pub(crate) fn edges(t: &TrendTest, h: &[(i64, Sample)], now: i64, offer: &mut impl FnMut(i128)) {
    // Changes that reached the window's start before now offer nothing.
    let from = h.partition_point(|&(at, _)| at as i128 + t.window <= now as i128);
    for &(at, _) in &h[from..] {
        offer(at as i128);
        offer(at as i128 + t.window);
    }
}
