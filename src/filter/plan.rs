//! The [`Plan`]: a filter checked against a kind's schema, its nodes and
//! typed tests, and the questions the engine asks of it. Validation, which
//! builds it, is in `validate`.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::ids::{RelationId, SegmentId};
use crate::schema::{FieldId, KindSchema};
use crate::value::Num;

/// A filter checked against one kind's schema: fields resolved to ids,
/// literals typed, negative operators turned into `not` of their positive
/// counterpart. A `Plan` exists only if it is valid, so evaluation never
/// re-checks types.
///
/// # Examples
///
/// ```
/// use segments::{FieldType, Filter, KindSchema, LimitPolicy, Plan};
/// use std::sync::Arc;
///
/// let kind = Arc::new(KindSchema::new("account", [("health", FieldType::Float)])?);
/// let filter = Filter::from_json(r#"{"combinator": "and", "rules": [
///     {"field": "health", "operator": "between", "value": [30, 10]}]}"#)?;
/// let err = Plan::new(&filter, &kind, &LimitPolicy::default()).unwrap_err();
/// assert_eq!(err.to_string(), "rules[0].value (field `health`): low bound 30 is greater than high bound 10");
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) kind: Arc<KindSchema>,
    pub(crate) root: PlanNode,
    conditions: usize,
    /// Whether the plan names segments or relations, which only an
    /// [`Engine`](crate::Engine) can evaluate.
    contextual: bool,
}

/// A node of a plan.
#[derive(Debug, Clone)]
pub(crate) enum PlanNode {
    And(Vec<PlanNode>),
    Or(Vec<PlanNode>),
    /// True where an odd number of children are.
    Xor(Vec<PlanNode>),
    Not(Box<PlanNode>),
    Leaf(Cond),
    Event(EventCond),
    /// A member of any of these segments (of the plan's kind).
    InSegment(Vec<SegmentId>),
    /// A quantifier over the related entities of another kind.
    Related(Box<RelCond>),
}

/// What a plan reads of the kind at the end of a chain of relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NestedRead {
    /// Relation indexes, outermost first.
    pub chain: Vec<RelationId>,
    /// Fields of the innermost child kind (not including the relation field).
    pub fields: Vec<FieldId>,
    /// Events of it; `None` for any event.
    pub events: Vec<Option<String>>,
}

/// `@related:<kind>`: how many of an entity's children match `nested`.
#[derive(Debug, Clone)]
pub(crate) struct RelCond {
    /// The index of the relation in the schema.
    pub relation: RelationId,
    /// The child kind's index.
    pub child: usize,
    pub quant: Quant,
    /// A plan over the child kind.
    pub nested: PlanNode,
}

/// How many children must match.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Quant {
    /// At least one.
    Any,
    /// Every one; true when there are none.
    All,
    /// At least `n`.
    AtLeast(u64),
    /// At least `p` percent, and at least one.
    Percent(f64),
    /// At most `n`.
    AtMost(u64),
    /// At most `p` percent (true when there are none).
    AtMostPercent(f64),
    /// Exactly `n`.
    Exactly(u64),
    /// Exactly `p` percent, and at least one.
    ExactlyPercent(f64),
}

impl Quant {
    /// Whether `matched` of `total` children satisfy the quantifier.
    pub(crate) fn satisfied_by(self, matched: u64, total: u64) -> bool {
        match self {
            Quant::Any => matched > 0,
            Quant::All => matched == total,
            Quant::AtLeast(n) => matched >= n,
            // matched / total >= p / 100, exactly: p is an f64 in 0..=100.
            Quant::Percent(p) => total > 0 && matched as f64 * 100.0 >= p * total as f64,
            Quant::AtMost(n) => matched <= n,
            Quant::AtMostPercent(p) => total == 0 || matched as f64 * 100.0 <= p * total as f64,
            Quant::Exactly(n) => matched == n,
            Quant::ExactlyPercent(p) => total > 0 && matched as f64 * 100.0 == p * total as f64,
        }
    }
}

/// A positive condition on an entity's events.
#[derive(Debug, Clone)]
pub(crate) struct EventCond {
    /// The event name; `None` for any event (first and last seen only).
    pub name: Option<String>,
    pub what: EventWhat,
    /// Only the events whose properties match (`"where"`); `None` for every
    /// event.
    pub props: Option<Arc<PropNode>>,
}

/// A filter over one event's properties.
#[derive(Debug, Clone)]
pub(crate) enum PropNode {
    And(Vec<PropNode>),
    Or(Vec<PropNode>),
    Xor(Vec<PropNode>),
    Not(Box<PropNode>),
    /// A positive test of the property named `key`.
    Leaf {
        key: String,
        test: Test,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum EventWhat {
    /// A timestamp test on the first instant; `Test::Null` means never.
    First(Test),
    /// A timestamp test on the last instant; `Test::Null` means never.
    Last(Test),
    /// The number of events in the window compared with `n`.
    Count { op: CmpOp, n: u64, window: CountWin },
    /// The count in `[now - w, now]` compared (`Ge` or `Le`) with `ratio`
    /// times the count in `[now - 2w, now - w)`; `w` in microseconds.
    Change { op: CmpOp, ratio: f64, window: i128 },
}

/// The instants an event count counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountWin {
    All,
    /// `[now - d, now]`, `d` in microseconds.
    Last(i128),
    /// `[from, to]` in nanoseconds, exact.
    Between(i128, i128),
}

/// A positive condition on one field.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub field: FieldId,
    pub test: Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn accepts(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    Last,
    Next,
    MoreThanAgo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrMatch {
    Contains,
    BeginsWith,
    EndsWith,
}

impl StrMatch {
    pub(crate) fn matches(self, s: &str, pat: &str) -> bool {
        match self {
            StrMatch::Contains => s.contains(pat),
            StrMatch::BeginsWith => s.starts_with(pat),
            StrMatch::EndsWith => s.ends_with(pat),
        }
    }
}

/// A test of one string: what case-insensitive operators, regular
/// expressions and the rules of a match mode ask of a dictionary word.
#[derive(Debug, Clone)]
pub(crate) struct StrPred {
    pub kind: StrKind,
    /// Compare after lowercasing (patterns are stored lowercased); for a
    /// regex, which ignores case itself, that it was built to.
    pub fold: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum StrKind {
    Eq(String),
    In(Vec<String>),
    Match(StrMatch, String),
    Regex(Box<regex::Regex>),
}

impl StrPred {
    pub(crate) fn matches(&self, s: &str) -> bool {
        if self.fold && !matches!(self.kind, StrKind::Regex(_)) {
            return self.matches_folded(&s.to_lowercase());
        }
        self.matches_folded(s)
    }

    fn matches_folded(&self, s: &str) -> bool {
        match &self.kind {
            StrKind::Eq(x) => s == x,
            StrKind::In(xs) => xs.iter().any(|x| x == s),
            StrKind::Match(m, pat) => m.matches(s, pat),
            StrKind::Regex(r) => r.is_match(s),
        }
    }
}

/// A boolean tree of string tests: the group of a match mode, applied to
/// each tag.
#[derive(Debug, Clone)]
pub(crate) enum StrNode {
    And(Vec<StrNode>),
    Or(Vec<StrNode>),
    Xor(Vec<StrNode>),
    Not(Box<StrNode>),
    Leaf(StrPred),
}

impl StrNode {
    pub(crate) fn matches(&self, s: &str) -> bool {
        match self {
            StrNode::And(xs) => xs.iter().all(|x| x.matches(s)),
            StrNode::Or(xs) => xs.iter().any(|x| x.matches(s)),
            StrNode::Xor(xs) => xs.iter().filter(|x| x.matches(s)).count() % 2 == 1,
            StrNode::Not(x) => !x.matches(s),
            StrNode::Leaf(p) => p.matches(s),
        }
    }
}

/// How many of an entity's tags a match mode asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TagCount {
    Some,
    All,
    None,
    AtLeast(f64),
    AtMost(f64),
    Exactly(f64),
}

impl TagCount {
    /// Whether `matched` of an entity's `total` tags satisfy the mode. A
    /// threshold `0 < t < 1` is a share of the tags; else a count. An entity
    /// without tags satisfies only `none`.
    pub(crate) fn satisfied_by(self, matched: u64, total: u64) -> bool {
        if total == 0 {
            return self == TagCount::None;
        }
        let goal = |t: f64| if t > 0.0 && t < 1.0 { t * total as f64 } else { t };
        let m = matched as f64;
        match self {
            TagCount::Some => matched > 0,
            TagCount::All => matched == total,
            TagCount::None => matched == 0,
            TagCount::AtLeast(t) => m >= goal(t),
            TagCount::AtMost(t) => m <= goal(t),
            TagCount::Exactly(t) => m == goal(t),
        }
    }
}

/// A match mode on a tags field.
#[derive(Debug, Clone)]
pub(crate) struct TagsMatch {
    pub count: TagCount,
    pub each: StrNode,
}

/// A comparison of a field with other fields of the same entity
/// (`"valueSource": "field"`).
#[derive(Debug, Clone)]
pub(crate) enum FieldTest {
    /// `this op other` (numbers, instants, strings or booleans).
    Cmp(CmpOp, FieldId),
    /// `low <= this <= high`; false when a bound is missing.
    Between(FieldId, FieldId),
    /// Equal to one of the fields that have a value.
    In(Vec<FieldId>),
    /// A string match with the other field's string as the pattern.
    Str(StrMatch, FieldId),
}

impl FieldTest {
    /// The other fields it reads.
    pub(crate) fn others(&self) -> Vec<FieldId> {
        match self {
            FieldTest::Cmp(_, f) | FieldTest::Str(_, f) => vec![*f],
            FieldTest::Between(a, b) => vec![*a, *b],
            FieldTest::In(fs) => fs.clone(),
        }
    }
}

/// What a condition tests; a missing value fails every test but `Null`.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Null,
    Num(CmpOp, Num),
    NumBetween(Num, Num),
    NumIn(Vec<Num>),
    /// A timestamp literal in nanoseconds since the epoch, exact.
    Time(CmpOp, i128),
    TimeBetween(i128, i128),
    /// A window of the given length in microseconds, relative to `now`.
    Window(Window, i128),
    StrEq(String),
    StrIn(Vec<String>),
    Str(StrMatch, String),
    Bool(bool),
    TagsAny(Vec<String>),
    TagsAll(Vec<String>),
    /// A string test that scans the dictionary (case-insensitive, regex).
    Pred(StrPred),
    /// A match mode on a tags field.
    TagsMatch(Box<TagsMatch>),
    /// A comparison with other fields.
    Fields(FieldTest),
    /// A trend of a tracked field over a window ending at `now`.
    Trend(TrendTest),
}

/// `@delta`, `@max`, `@min` of a tracked field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrendTest {
    pub what: TrendWhat,
    pub op: CmpOp,
    pub lit: Num,
    /// The window's length in microseconds.
    pub window: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrendWhat {
    /// The value now less the value at the window's start.
    Delta,
    /// The same, as a percentage of the value at the start.
    Percent,
    /// The highest value in force during the window.
    Max,
    /// The lowest.
    Min,
}

impl Plan {
    /// The plan of a validated tree (`validate` builds them).
    pub(super) fn made(kind: Arc<KindSchema>, root: PlanNode, conditions: usize) -> Plan {
        let mut plan = Plan {
            kind,
            root,
            conditions,
            contextual: false,
        };
        let mut contextual = false;
        plan.visit_all(&mut |_, n| contextual |= matches!(n, PlanNode::InSegment(_) | PlanNode::Related(_)));
        plan.contextual = contextual;
        plan
    }

    /// Whether the plan names segments (`@segment`) or related kinds
    /// (`@related:<kind>`): then only an [`Engine`](crate::Engine), which
    /// holds them, evaluates it.
    pub fn needs_engine(&self) -> bool {
        self.contextual
    }

    /// The segments the plan names, sorted, each once, with those named
    /// inside nested filters over related kinds.
    pub fn segments(&self) -> Vec<SegmentId> {
        let mut out: Vec<SegmentId> = self.segment_refs().into_iter().map(|(_, s)| s).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// What the plan reads of related kinds: per chain of relations
    /// (outermost first), the fields and events of the innermost child kind
    /// that its nested filter reads, the relation's own field included.
    pub(crate) fn nested_reads(&self) -> Vec<NestedRead> {
        let mut out: Vec<NestedRead> = Vec::new();
        self.visit_all(&mut |chain, n| {
            let mut entry = |chain: &[RelationId]| -> usize {
                match out.iter().position(|r| r.chain == chain) {
                    Some(i) => i,
                    None => {
                        out.push(NestedRead {
                            chain: chain.to_vec(),
                            fields: Vec::new(),
                            events: Vec::new(),
                        });
                        out.len() - 1
                    }
                }
            };
            if let PlanNode::Related(r) = n {
                let mut c = chain.to_vec();
                c.push(r.relation);
                entry(&c);
            }
            if chain.is_empty() {
                return;
            }
            let i = entry(chain);
            match n {
                PlanNode::Leaf(c) => {
                    out[i].fields.push(c.field);
                    if let Test::Fields(t) = &c.test {
                        out[i].fields.extend(t.others());
                    }
                }
                PlanNode::Event(e) => out[i].events.push(e.name.clone()),
                _ => {}
            }
        });
        for r in &mut out {
            r.fields.sort_unstable();
            r.fields.dedup();
            r.events.sort_unstable();
            r.events.dedup();
        }
        out
    }

    /// The segments the plan names, each with the chain of relations
    /// (outermost first) of the nested filter that names it.
    pub(crate) fn segment_refs(&self) -> Vec<(Vec<RelationId>, SegmentId)> {
        let mut out = Vec::new();
        self.visit_all(&mut |chain, n| {
            if let PlanNode::InSegment(ids) = n {
                out.extend(ids.iter().map(|s| (chain.to_vec(), *s)))
            }
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every leaf with the chain of relations (outermost first) it sits under.
    pub(crate) fn visit_all(&self, f: &mut impl FnMut(&[RelationId], &PlanNode)) {
        let mut stack: Vec<(&PlanNode, Vec<RelationId>)> = vec![(&self.root, Vec::new())];
        while let Some((n, chain)) = stack.pop() {
            match n {
                PlanNode::And(xs) | PlanNode::Or(xs) | PlanNode::Xor(xs) => {
                    stack.extend(xs.iter().map(|x| (x, chain.clone())))
                }
                PlanNode::Not(x) => stack.push((x, chain)),
                PlanNode::Related(r) => {
                    f(&chain, n);
                    let mut c = chain.clone();
                    c.push(r.relation);
                    stack.push((&r.nested, c));
                }
                leaf => f(&chain, leaf),
            }
        }
    }

    /// The kind the plan was validated against.
    pub fn kind(&self) -> &Arc<KindSchema> {
        &self.kind
    }

    /// The number of conditions (rules) in the filter.
    pub fn conditions(&self) -> usize {
        self.conditions
    }

    /// The fields the plan reads, sorted, each once.
    pub fn fields(&self) -> Vec<FieldId> {
        let mut out = Vec::new();
        self.visit(&mut |n| {
            if let PlanNode::Leaf(c) = n {
                out.push(c.field);
                if let Test::Fields(t) = &c.test {
                    out.extend(t.others());
                }
            }
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The events the plan reads, sorted, each once; `None` stands for any
    /// event (`@firstSeen`, `@lastSeen`).
    pub fn events(&self) -> Vec<Option<String>> {
        let mut out = Vec::new();
        self.visit(&mut |n| {
            if let PlanNode::Event(e) = n {
                out.push(e.name.clone())
            }
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether a condition is relative to `now` (`withinLast`, `withinNext`,
    /// `moreThanAgo`, an event count `withinLast`), so that results change
    /// with time alone.
    pub fn is_time_relative(&self) -> bool {
        let mut rel = false;
        self.visit_all(&mut |_, n| rel |= n.is_time_relative_leaf());
        rel
    }

    /// The leaves of the plan's own kind (not inside nested filters).
    fn visit(&self, f: &mut impl FnMut(&PlanNode)) {
        self.visit_all(&mut |chain, n| {
            if chain.is_empty() {
                f(n)
            }
        });
    }
}

impl PlanNode {
    /// Whether this leaf's result changes with `now` alone.
    pub(crate) fn is_time_relative_leaf(&self) -> bool {
        match self {
            PlanNode::Leaf(c) => matches!(c.test, Test::Window(..) | Test::Trend(_)),
            PlanNode::Event(e) => match &e.what {
                EventWhat::First(t) | EventWhat::Last(t) => matches!(t, Test::Window(..)),
                EventWhat::Count { window, .. } => matches!(window, CountWin::Last(_)),
                EventWhat::Change { .. } => true,
            },
            _ => false,
        }
    }
}
