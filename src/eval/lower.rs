//! Literals lowered to the keys a numeric column holds: a test on a
//! number, an instant or a time window becomes a key range (or a sorted
//! set of keys, for `in`).

use crate::filter::{CmpOp, Test, Window};
use crate::schema::FieldType;
use crate::value::{floor_key_float, floor_key_int, floor_key_int_i128, floor_key_time, Num, Timestamp};

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
