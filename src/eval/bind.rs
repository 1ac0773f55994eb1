//! A plan lowered against one table and one `now`: literals become key
//! ranges of the numeric columns and code sets of the dictionaries.

use roaring::RoaringBitmap;

use super::{Env, Meter};
use crate::filter::{CmpOp, Cond, CountWin, EventCond, EventWhat, PlanNode, StrMatch, Test, Window};
use crate::schema::FieldType;
use crate::store::{BoolColumn, Build, Column, EventLog, Find, NumericColumn, StringColumn, TagsColumn, NONE};
use crate::value::{
    floor_key_float, floor_key_int, floor_key_int_i128, floor_key_time, int_key, key_to_int, Num, Timestamp,
};
use crate::Table;

pub(crate) enum BoundNode<'a> {
    And(Vec<BoundNode<'a>>),
    Or(Vec<BoundNode<'a>>),
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
    /// A condition on events.
    Event(EventLeaf<'a>),
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

fn bind_leaf<'a>(c: &Cond, table: &'a Table, now: Timestamp, meter: &Meter) -> BoundLeaf<'a> {
    let column = table.column(c.field);
    let ty = table.schema().field(c.field).map_or(FieldType::Int, |(_, t)| t);
    match (column, &c.test) {
        (col, Test::Null) => BoundLeaf::Null(col.present()),
        (Column::Numeric(col), test) => match numeric_span(test, ty, now) {
            Span::Range(lo, hi) => BoundLeaf::Range { col, lo, hi },
            Span::Keys(keys) => BoundLeaf::Keys { col, keys },
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
                // Stopped by the budget: no words (the caller reports why).
                // Under a budget, a search builds at most a round of the
                // trigram index.
                Test::Str(m, pat) => {
                    let build = if meter.is_limited() { Build::Round } else { Build::Whole };
                    col.dict
                        .matching(find(*m), pat, build, &|| meter.spent())
                        .unwrap_or_default()
                }
                _ => Vec::new(),
            };
            codes.sort_unstable();
            codes.dedup();
            let mut bits = vec![0u64; col.dict.len().div_ceil(64)];
            for &c in &codes {
                bits[c as usize / 64] |= 1 << (c % 64);
            }
            BoundLeaf::Codes { col, codes, bits }
        }
        (Column::Bool(col), Test::Bool(b)) => BoundLeaf::Bool { col, value: *b },
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
            BoundLeaf::Range { col, lo, hi } => col.present.contains(id) && (*lo..=*hi).contains(&col.keys[i]),
            BoundLeaf::Keys { col, keys } => col.present.contains(id) && keys.binary_search(&col.keys[i]).is_ok(),
            BoundLeaf::Codes { col, bits, .. } => col.codes.get(i).is_some_and(|&c| code_hit(bits, c)),
            BoundLeaf::Bool { col, value } => col.has.get(id) && col.value.get(id) == *value,
            BoundLeaf::TagsAny { col, codes } => match col.rows.get(i) {
                Some(Some(row)) => row.iter().any(|t| codes.binary_search(t).is_ok()),
                _ => false,
            },
            BoundLeaf::TagsAll { col, codes, impossible } => match col.rows.get(i) {
                Some(Some(row)) if !impossible => codes.iter().all(|t| row.contains(t)),
                _ => false,
            },
            BoundLeaf::Event(e) => e.test(id),
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
            BoundNode::Not(x) => !x.test(id),
            BoundNode::Leaf(l) => l.test(id),
        }
    }
}
