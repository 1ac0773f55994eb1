//! Event conditions bound to a table's events at `now`: counts in a
//! window, first and last seen, usage change; set at a time and entity at
//! a time.

use std::borrow::Cow;
use std::cell::OnceCell;

use roaring::RoaringBitmap;

use super::lower::{numeric_span, Span};
use crate::filter::{CmpOp, CountWin, EventCond, EventWhat, PropNode, Test};
use crate::schema::FieldType;
use crate::store::{EventLog, PVal, PropSet};
use crate::value::{float_key, int_key, key_to_int, Timestamp, Value};
use crate::Table;

/// An event condition bound to a table's events at `now`.
pub(crate) struct EventLeaf<'a> {
    log: &'a EventLog,
    /// The event's index; `None` for any event.
    name: Option<usize>,
    /// A named event that was never recorded: nobody has one.
    unknown: bool,
    test: EventTest,
    /// Only the events whose properties match.
    props: Option<Bound>,
    now: Timestamp,
}

/// A property filter with its names resolved to the log's codes.
enum Bound {
    And(Vec<Bound>),
    Or(Vec<Bound>),
    Xor(Vec<Bound>),
    Not(Box<Bound>),
    Leaf(PropLeaf),
}

/// One property test, bound.
struct PropLeaf {
    /// `None`: no event ever carried the property.
    key: Option<u32>,
    test: Test,
    /// The answer for an event without the property.
    missing: bool,
    /// The answer for each string of the log's dictionary, as a bitset:
    /// decided once per distinct string, the first time one is met.
    strs: OnceCell<Vec<u64>>,
}

impl Bound {
    fn bind(p: &PropNode, log: &EventLog, now: Timestamp) -> Bound {
        let all = |xs: &[PropNode]| xs.iter().map(|x| Bound::bind(x, log, now)).collect();
        match p {
            PropNode::And(xs) => Bound::And(all(xs)),
            PropNode::Or(xs) => Bound::Or(all(xs)),
            PropNode::Xor(xs) => Bound::Xor(all(xs)),
            PropNode::Not(x) => Bound::Not(Box::new(Bound::bind(x, log, now))),
            PropNode::Leaf { key, test } => Bound::Leaf(PropLeaf {
                key: log.prop_key(key),
                missing: property_test(test, None, now),
                test: test.clone(),
                strs: OnceCell::new(),
            }),
        }
    }

    fn matches(&self, set: &[(u32, PVal)], log: &EventLog, now: Timestamp) -> bool {
        match self {
            Bound::And(xs) => xs.iter().all(|x| x.matches(set, log, now)),
            Bound::Or(xs) => xs.iter().any(|x| x.matches(set, log, now)),
            Bound::Xor(xs) => xs.iter().filter(|x| x.matches(set, log, now)).count() % 2 == 1,
            Bound::Not(x) => !x.matches(set, log, now),
            Bound::Leaf(l) => {
                let v = l
                    .key
                    .and_then(|c| set.binary_search_by_key(&c, |e| e.0).ok())
                    .map(|i| set[i].1);
                match v {
                    None => l.missing,
                    Some(PVal::Str(c)) => {
                        let bits = l.strs.get_or_init(|| {
                            let words = log.strings();
                            let mut bits = vec![0u64; words.len().div_ceil(64)];
                            for (i, w) in words.iter().enumerate() {
                                if property_test(&l.test, Some(&Value::String(w.to_string())), now) {
                                    bits[i / 64] |= 1 << (i % 64);
                                }
                            }
                            bits
                        });
                        bits.get(c as usize / 64).is_some_and(|b| b >> (c % 64) & 1 == 1)
                    }
                    Some(v) => property_test(&l.test, v.scalar().as_ref(), now),
                }
            }
        }
    }
}

/// Whether a property's value (`None`: the event does not carry it)
/// passes a positive test: as a field's value would, with a string read as
/// an RFC 3339 instant by the time tests. Numbers and instants are tested
/// as the indexes test a column, through the keys the test is lowered to
/// ([`numeric_span`]); the oracle has a test of its own, by comparison.
pub(crate) fn property_test(test: &Test, v: Option<&Value>, now: Timestamp) -> bool {
    let in_span = |ty: FieldType, key: u64| match numeric_span(test, ty, now) {
        Span::Range(lo, hi) => lo <= key && key <= hi,
        Span::Keys(keys) => keys.binary_search(&key).is_ok(),
    };
    let numeric = matches!(test, Test::Num(..) | Test::NumBetween(..) | Test::NumIn(_));
    let timed = matches!(test, Test::Time(..) | Test::TimeBetween(..) | Test::Window(..));
    match (test, v) {
        (Test::Null, v) => v.map_or(true, |v| matches!(v, Value::Null)),
        (_, None | Some(Value::Null)) => false,
        (_, Some(Value::Int(i))) if numeric => in_span(FieldType::Int, int_key(*i)),
        (_, Some(Value::Float(x))) if numeric => in_span(FieldType::Float, float_key(*x)),
        (_, Some(Value::String(s))) if timed => s
            .parse::<Timestamp>()
            .is_ok_and(|t| in_span(FieldType::Timestamp, int_key(t.as_micros()))),
        (Test::StrEq(want), Some(Value::String(s))) => s == want,
        (Test::StrIn(wants), Some(Value::String(s))) => wants.iter().any(|w| w == s),
        (Test::Str(m, pat), Some(Value::String(s))) => m.matches(s, pat),
        (Test::Pred(p), Some(Value::String(s))) => p.matches(s),
        (Test::Bool(want), Some(Value::Bool(b))) => b == want,
        _ => false,
    }
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
            props: e.props.as_deref().map(|p| Bound::bind(p, log, now)),
            now,
        }
    }

    /// The instants of the events that count for `id` (of the named
    /// event, whose properties match), sorted.
    pub(crate) fn times(&self, id: u32) -> Cow<'a, [i64]> {
        let (Some(n), false) = (self.name, self.unknown) else {
            return Cow::Borrowed(&[]);
        };
        let ts = self.log.times(n, id);
        let Some(props) = &self.props else {
            return Cow::Borrowed(ts);
        };
        Cow::Owned(
            ts.iter()
                .enumerate()
                .filter(|&(i, _)| self.keeps(props, n, id, i))
                .map(|(_, &t)| t)
                .collect(),
        )
    }

    /// Whether event `i` of `id` (of name `n`) has matching properties.
    fn keeps(&self, props: &Bound, n: usize, id: u32, i: usize) -> bool {
        self.keeps_in(props, self.log.props(n, id), i)
    }

    /// As [`EventLeaf::keeps`], with the entity's properties looked up.
    fn keeps_in(&self, props: &Bound, sets: Option<&[Option<PropSet>]>, i: usize) -> bool {
        let set = sets.and_then(|s| s[i].as_deref()).unwrap_or(&[]);
        props.matches(set, self.log, self.now)
    }

    /// The first and last instants that count for `id`: with a property
    /// filter, scanned from each end to the first event it keeps.
    pub(crate) fn span(&self, id: u32) -> Option<(i64, i64)> {
        if self.unknown {
            return None;
        }
        let (Some(props), Some(n)) = (&self.props, self.name) else {
            return self.log.span(self.name, id);
        };
        let ts = self.log.times(n, id);
        let first = (0..ts.len()).find(|&i| self.keeps(props, n, id, i))?;
        let last = (first..ts.len()).rev().find(|&i| self.keeps(props, n, id, i))?;
        Some((ts[first], ts[last]))
    }

    /// Whether the condition holds for a live `id`.
    pub(crate) fn test(&self, id: u32) -> bool {
        let span = self.span(id);
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

    /// The events that count for `id` in `from..=to`: the window found by
    /// search, then only its events tested against a property filter.
    fn count(&self, id: u32, from: i64, to: i64) -> u64 {
        let (Some(n), false) = (self.name, self.unknown) else {
            return 0;
        };
        let ts = self.log.times(n, id);
        let (a, b) = (ts.partition_point(|&t| t < from), ts.partition_point(|&t| t <= to));
        match &self.props {
            None => b.saturating_sub(a) as u64,
            Some(props) => {
                let sets = self.log.props(n, id);
                (a..b).filter(|&i| self.keeps_in(props, sets, i)).count() as u64
            }
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
        let (&EventTest::Count { op, n, from, to }, Some(name), false, None) =
            (&self.test, self.name, self.unknown, &self.props)
        else {
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
        let (Some(name), false, None) = (self.name, self.unknown, &self.props) else {
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
