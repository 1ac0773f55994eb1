//! Event conditions bound to a table's events at `now`: counts in a
//! window, first and last seen, usage change; set at a time and entity at
//! a time.

use roaring::RoaringBitmap;

use super::lower::{numeric_span, Span};
use crate::filter::{CmpOp, CountWin, EventCond, EventWhat, Test};
use crate::schema::FieldType;
use crate::store::EventLog;
use crate::value::{int_key, key_to_int, Timestamp};
use crate::Table;

/// An event condition bound to a table's events at `now`.
pub(crate) struct EventLeaf<'a> {
    log: &'a EventLog,
    /// The event's index; `None` for any event.
    name: Option<usize>,
    /// A named event that was never recorded: nobody has one.
    unknown: bool,
    test: EventTest,
}

enum EventTest {
    /// Never did it.
    Never,
    /// The first (or last) instant's key is in `lo..=hi`.
    First(u64, u64),
    Last(u64, u64),
    /// The number of instants in `from..=to` (microseconds) compared with `n`.
    Count {
        op: CmpOp,
        n: u64,
        from: i64,
        to: i64,
    },
    /// The count in `[mid, to]` compared with `ratio` times the count in
    /// `[from, mid)`, with at least one event in `[from, to]`.
    Change {
        op: CmpOp,
        ratio: f64,
        from: i64,
        mid: i64,
        to: i64,
    },
}

impl<'a> EventLeaf<'a> {
    pub(crate) fn bind(e: &EventCond, table: &'a Table, now: Timestamp) -> EventLeaf<'a> {
        let log = table.events();
        let name = e.name.as_deref().and_then(|n| log.name(n));
        let unknown = e.name.is_some() && name.is_none();
        let range = |t: &Test| match t {
            Test::Null => None,
            t => match numeric_span(t, FieldType::Timestamp, now) {
                Span::Range(lo, hi) => Some((lo, hi)),
                Span::Keys(_) => Some((1, 0)),
            },
        };
        let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        let test = match &e.what {
            EventWhat::First(t) => range(t).map_or(EventTest::Never, |(lo, hi)| EventTest::First(lo, hi)),
            EventWhat::Last(t) => range(t).map_or(EventTest::Never, |(lo, hi)| EventTest::Last(lo, hi)),
            EventWhat::Count { op, n, window } => {
                let now_us = now.as_micros() as i128;
                let (from, to) = match *window {
                    CountWin::All => (i64::MIN, i64::MAX),
                    CountWin::Last(d) => (clamp(now_us - d), clamp(now_us)),
                    // Instants are whole microseconds: round the bounds inwards.
                    CountWin::Between(lo, hi) => (
                        clamp(lo.div_euclid(1000) + i128::from(lo.rem_euclid(1000) != 0)),
                        clamp(hi.div_euclid(1000)),
                    ),
                };
                EventTest::Count {
                    op: *op,
                    n: *n,
                    from,
                    to,
                }
            }
            EventWhat::Change { op, ratio, window } => {
                let now_us = now.as_micros() as i128;
                EventTest::Change {
                    op: *op,
                    ratio: *ratio,
                    from: clamp(now_us - 2 * window),
                    mid: clamp(now_us - window),
                    to: clamp(now_us),
                }
            }
        };
        EventLeaf {
            log,
            name,
            unknown,
            test,
        }
    }

    /// Whether the condition holds for a live `id`.
    pub(crate) fn test(&self, id: u32) -> bool {
        let span = if self.unknown {
            None
        } else {
            self.log.span(self.name, id)
        };
        match self.test {
            EventTest::Never => span.is_none(),
            EventTest::First(lo, hi) => span.is_some_and(|(f, _)| (lo..=hi).contains(&int_key(f))),
            EventTest::Last(lo, hi) => span.is_some_and(|(_, l)| (lo..=hi).contains(&int_key(l))),
            EventTest::Count { op, n, from, to } => op.accepts(self.count(id, from, to).cmp(&n)),
            EventTest::Change {
                op,
                ratio,
                from,
                mid,
                to,
            } => {
                let last = self.count(id, mid, to);
                let before = self.count(id, from, mid.saturating_sub(1));
                change_holds(op, ratio, last, before)
            }
        }
    }

    fn count(&self, id: u32, from: i64, to: i64) -> u64 {
        match (self.unknown, self.name) {
            (false, Some(n)) => {
                let ts = self.log.times(n, id);
                (ts.partition_point(|&t| t <= to) - ts.partition_point(|&t| t < from)) as u64
            }
            _ => 0,
        }
    }

    /// Whether an entity without any such event satisfies the condition.
    fn holds_for_none(&self) -> bool {
        match self.test {
            EventTest::Never => true,
            EventTest::First(..) | EventTest::Last(..) => false,
            EventTest::Count { op, n, .. } => op.accepts(0.cmp(&n)),
            EventTest::Change { .. } => false,
        }
    }

    fn who(&self) -> Option<&'a RoaringBitmap> {
        (!self.unknown).then(|| self.log.who(self.name))
    }

    /// The ids of `scope` (live ids) that satisfy the condition: only the
    /// entities with such events are tested.
    pub(crate) fn ids(&self, scope: &RoaringBitmap) -> RoaringBitmap {
        let with: RoaringBitmap = match self.who() {
            Some(who) => who & scope,
            None => RoaringBitmap::new(),
        };
        if let Some(out) = self
            .count_by_timeline(scope, &with)
            .or_else(|| self.span_by_timeline(scope, &with))
        {
            return out;
        }
        if self.holds_for_none() {
            let fail: Vec<u32> = with.iter().filter(|&id| !self.test(id)).collect();
            scope - RoaringBitmap::from_sorted_iter(fail).unwrap_or_default()
        } else {
            RoaringBitmap::from_sorted_iter(with.iter().filter(|&id| self.test(id))).unwrap_or_default()
        }
    }

    /// A windowed count over many entities: the window's events, read in
    /// time order from the name's timeline, counted per entity in a dense
    /// array; instead of a search in each entity's own list, which is a
    /// cache miss per entity. `None` when testing each entity is cheaper.
    fn count_by_timeline(&self, scope: &RoaringBitmap, with: &RoaringBitmap) -> Option<RoaringBitmap> {
        let (&EventTest::Count { op, n, from, to }, Some(name), false) = (&self.test, self.name, self.unknown) else {
            return None;
        };
        if from == i64::MIN && to == i64::MAX {
            return None;
        }
        let line = self.log.timeline(name);
        // A timeline entry costs a few ns, an entity's own search ~100 ns.
        if line.estimate(from, to) > with.len().saturating_mul(16) {
            return None;
        }
        let len = scope.max().map_or(0, |m| m as usize + 1);
        let mut counts = vec![0u32; len];
        for run in line.window(from, to) {
            for &(_, id) in run {
                if let Some(c) = counts.get_mut(id as usize) {
                    *c += 1;
                }
            }
        }
        let holds = |c: u32| op.accepts(u64::from(c).cmp(&n));
        if holds(0) {
            // Those without events hold; drop those whose count fails.
            let fail = counts.iter().enumerate().filter(|&(_, &c)| c > 0 && !holds(c));
            Some(scope - RoaringBitmap::from_sorted_iter(fail.map(|(id, _)| id as u32)).unwrap_or_default())
        } else {
            let hit = counts.iter().enumerate().filter(|&(_, &c)| c > 0 && holds(c));
            Some(RoaringBitmap::from_sorted_iter(hit.map(|(id, _)| id as u32)).unwrap_or_default() & scope)
        }
    }

    /// First or last seen of a named event in a bounded range, over many
    /// entities, from the timeline: the last instant is in `[lo, hi]` when
    /// some event is and none is later (the first: none is earlier).
    fn span_by_timeline(&self, scope: &RoaringBitmap, with: &RoaringBitmap) -> Option<RoaringBitmap> {
        let (lo, hi, last) = match self.test {
            EventTest::First(lo, hi) => (lo, hi, false),
            EventTest::Last(lo, hi) => (lo, hi, true),
            _ => return None,
        };
        let (Some(name), false) = (self.name, self.unknown) else {
            return None;
        };
        if lo > hi {
            return Some(RoaringBitmap::new());
        }
        let (lo, hi) = (key_to_int(lo), key_to_int(hi));
        let (beyond_from, beyond_to) = if last {
            (hi.saturating_add(1), i64::MAX)
        } else {
            (i64::MIN, lo.saturating_sub(1))
        };
        let line = self.log.timeline(name);
        let cost = line.estimate(lo, hi) + line.estimate(beyond_from, beyond_to);
        if cost > with.len().saturating_mul(16) {
            return None;
        }
        let len = scope.max().map_or(0, |m| m as usize + 1);
        let mark = |from: i64, to: i64| {
            let mut bits = vec![0u64; len.div_ceil(64)];
            for run in line.window(from, to) {
                for &(_, id) in run {
                    if let Some(w) = bits.get_mut(id as usize / 64) {
                        *w |= 1 << (id % 64);
                    }
                }
            }
            bits
        };
        let inside = mark(lo, hi);
        let beyond = mark(beyond_from, beyond_to);
        Some(super::from_bits(inside.iter().zip(&beyond).map(|(&a, &b)| a & !b)) & scope)
    }

    /// An estimate of how many of `live` ids satisfy the condition.
    pub(crate) fn estimate(&self, live: u64) -> u64 {
        let with = self.who().map_or(0, RoaringBitmap::len);
        if self.holds_for_none() {
            live.saturating_sub(with) + with / 2
        } else {
            with
        }
    }
}

/// Whether a usage change from `before` to `last` events satisfies `op`
/// (`Ge` or `Le`) `ratio`: `last op ratio × before`, and some event at all.
pub(crate) fn change_holds(op: CmpOp, ratio: f64, last: u64, before: u64) -> bool {
    last + before > 0 && op.accepts((last as f64).total_cmp(&(ratio * before as f64)))
}
