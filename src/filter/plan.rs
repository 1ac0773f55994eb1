//! Validation of a [`Filter`] against a kind's schema into a typed [`Plan`].

use std::cmp::Ordering;
use std::sync::Arc;

use super::ast::{Combinator, CountWindow, Filter, Group, Literal, Node, Operator, Rule};
use super::limit::LimitPolicy;
use super::path::Path;
use crate::error::FilterError;
use crate::schema::{FieldId, FieldType, KindSchema};
use crate::value::{cmp_num, parse_rfc3339_nanos, Num, TimestampError};

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
/// assert_eq!(err.to_string(), "rules[0].value: low bound 30 is greater than high bound 10");
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) kind: Arc<KindSchema>,
    pub(crate) root: PNode,
    conditions: usize,
}

/// A node of a plan.
#[derive(Debug, Clone)]
pub(crate) enum PNode {
    And(Vec<PNode>),
    Or(Vec<PNode>),
    Not(Box<PNode>),
    Leaf(Cond),
    Event(EventCond),
}

/// A positive condition on an entity's events.
#[derive(Debug, Clone)]
pub(crate) struct EventCond {
    /// The event name; `None` for any event (first and last seen only).
    pub name: Option<String>,
    pub what: EventWhat,
}

#[derive(Debug, Clone)]
pub(crate) enum EventWhat {
    /// A timestamp test on the first instant; `Test::Null` means never.
    First(Test),
    /// A timestamp test on the last instant; `Test::Null` means never.
    Last(Test),
    /// The number of events in the window compared with `n`.
    Count { op: CmpOp, n: u64, window: CountWin },
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
    pub(crate) fn holds(self, o: Ordering) -> bool {
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
    pub(crate) fn holds(self, s: &str, pat: &str) -> bool {
        match self {
            StrMatch::Contains => s.contains(pat),
            StrMatch::BeginsWith => s.starts_with(pat),
            StrMatch::EndsWith => s.ends_with(pat),
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
}

impl Plan {
    /// Validates `filter` against `kind` within `policy`.
    ///
    /// # Errors
    ///
    /// [`FilterError::TooDeep`] and [`FilterError::TooManyConditions`]
    /// (checked first, without recursion), then for each rule in order:
    /// [`FilterError::UnknownField`], [`FilterError::OperatorNotForType`],
    /// [`FilterError::BadValue`], [`FilterError::EmptyList`],
    /// [`FilterError::InvertedRange`]; each with the path of the node.
    pub fn new(filter: &Filter, kind: &Arc<KindSchema>, policy: &LimitPolicy) -> Result<Plan, FilterError> {
        let conditions = measure(filter, policy)?;
        let root = group_plan(filter, &Path::root(), kind)?;
        Ok(Plan {
            kind: kind.clone(),
            root,
            conditions,
        })
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
            if let PNode::Leaf(c) = n {
                out.push(c.field)
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
            if let PNode::Event(e) = n {
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
        self.visit(&mut |n| {
            rel |= match n {
                PNode::Leaf(c) => matches!(c.test, Test::Window(..)),
                PNode::Event(e) => match &e.what {
                    EventWhat::First(t) | EventWhat::Last(t) => matches!(t, Test::Window(..)),
                    EventWhat::Count { window, .. } => matches!(window, CountWin::Last(_)),
                },
                _ => false,
            }
        });
        rel
    }

    fn visit(&self, f: &mut impl FnMut(&PNode)) {
        let mut stack = vec![&self.root];
        while let Some(n) = stack.pop() {
            match n {
                PNode::And(xs) | PNode::Or(xs) => stack.extend(xs),
                PNode::Not(x) => stack.push(x),
                leaf => f(leaf),
            }
        }
    }
}

impl Filter {
    /// Validates the filter; see [`Plan::new`].
    ///
    /// # Errors
    ///
    /// As [`Plan::new`].
    pub fn validate(&self, kind: &Arc<KindSchema>, policy: &LimitPolicy) -> Result<Plan, FilterError> {
        Plan::new(self, kind, policy)
    }
}

/// Counts the rules and checks the depth with a heap stack, before anything recurses.
fn measure(filter: &Filter, policy: &LimitPolicy) -> Result<usize, FilterError> {
    let mut count = 0usize;
    let mut stack: Vec<(&Group, usize, Path)> = vec![(filter, 1, Path::root())];
    while let Some((g, depth, path)) = stack.pop() {
        if depth > policy.max_depth() {
            return Err(FilterError::TooDeep {
                path: path.to_string(),
                limit: policy.max_depth(),
            });
        }
        for (i, n) in g.rules.iter().enumerate() {
            match n {
                Node::Rule(_) => count += 1,
                Node::Group(h) => stack.push((h, depth + 1, path.rule(i))),
            }
        }
    }
    match policy.max_conditions() {
        Some(limit) if count > limit => Err(FilterError::TooManyConditions { count, limit }),
        _ => Ok(count),
    }
}

fn group_plan(g: &Group, path: &Path, kind: &KindSchema) -> Result<PNode, FilterError> {
    let mut children = Vec::with_capacity(g.rules.len());
    for (i, n) in g.rules.iter().enumerate() {
        let p = path.rule(i);
        children.push(match n {
            Node::Rule(r) => rule_plan(r, &p, kind)?,
            Node::Group(h) => group_plan(h, &p, kind)?,
        });
    }
    let node = match g.combinator {
        Combinator::And => PNode::And(children),
        Combinator::Or => PNode::Or(children),
    };
    Ok(if g.not { PNode::Not(Box::new(node)) } else { node })
}

pub(crate) fn describe_literal(l: Option<&Literal>) -> String {
    match l {
        None => "no value".into(),
        Some(Literal::Bool(b)) => format!("boolean {b}"),
        Some(Literal::Int(i)) => format!("number {i}"),
        Some(Literal::Float(x)) => format!("number {x}"),
        Some(Literal::String(s)) => format!("string {}", serde_json::Value::from(s.as_str())),
        Some(Literal::List(xs)) => format!("an array of {}", xs.len()),
        Some(Literal::Duration(d)) => format!("duration {} {}", d.amount, d.unit.name()),
        Some(Literal::Count(c)) => format!("event count {}", c.count),
    }
}

struct RuleCtx<'a> {
    path: Path,
    rule: &'a Rule,
}

impl RuleCtx<'_> {
    fn bad(&self, path: &Path, expected: &str, found: Option<&Literal>) -> FilterError {
        FilterError::BadValue {
            path: path.to_string(),
            expected: expected.into(),
            found: describe_literal(found),
        }
    }

    fn value_path(&self) -> Path {
        self.path.member("value")
    }

    fn number_at(&self, l: Option<&Literal>, path: &Path) -> Result<Num, FilterError> {
        match l {
            Some(Literal::Int(i)) => Ok(Num::Int(*i)),
            Some(Literal::Float(x)) if x.is_finite() => Ok(Num::Float(*x)),
            _ => Err(self.bad(path, "a number", l)),
        }
    }

    fn string_at<'l>(&self, l: Option<&'l Literal>, path: &Path) -> Result<&'l str, FilterError> {
        match l {
            Some(Literal::String(s)) => Ok(s),
            _ => Err(self.bad(path, "a string", l)),
        }
    }

    fn time_at(&self, l: Option<&Literal>, path: &Path) -> Result<i128, FilterError> {
        match l {
            Some(Literal::String(s)) => parse_rfc3339_nanos(s).map_err(|e| {
                let reason = match e {
                    TimestampError::Parse { reason } => reason,
                    other => other.to_string(),
                };
                FilterError::BadValue {
                    path: path.to_string(),
                    expected: "an RFC 3339 timestamp".into(),
                    found: format!("{} ({reason})", describe_literal(l)),
                }
            }),
            _ => Err(self.bad(path, "an RFC 3339 timestamp", l)),
        }
    }

    fn value(&self) -> Option<&Literal> {
        self.rule.value.as_ref()
    }

    fn list(&self, expected: &str) -> Result<&[Literal], FilterError> {
        match self.value() {
            Some(Literal::List(xs)) if xs.is_empty() => Err(FilterError::EmptyList {
                path: self.value_path().to_string(),
            }),
            Some(Literal::List(xs)) => Ok(xs),
            other => Err(self.bad(&self.value_path(), expected, other)),
        }
    }

    fn each<T>(
        &self,
        expected: &str,
        f: impl Fn(&Self, Option<&Literal>, &Path) -> Result<T, FilterError>,
    ) -> Result<Vec<T>, FilterError> {
        let vp = self.value_path();
        self.list(expected)?
            .iter()
            .enumerate()
            .map(|(i, x)| f(self, Some(x), &vp.index(i)))
            .collect()
    }

    fn pair<T>(
        &self,
        expected: &str,
        f: impl Fn(&Self, Option<&Literal>, &Path) -> Result<T, FilterError>,
        cmp: impl Fn(&T, &T) -> Ordering,
    ) -> Result<(T, T), FilterError> {
        let vp = self.value_path();
        match self.value() {
            Some(Literal::List(xs)) if xs.len() == 2 => {
                let lo = f(self, Some(&xs[0]), &vp.index(0))?;
                let hi = f(self, Some(&xs[1]), &vp.index(1))?;
                if cmp(&lo, &hi) == Ordering::Greater {
                    return Err(FilterError::InvertedRange {
                        path: vp.to_string(),
                        low: literal_text(&xs[0]),
                        high: literal_text(&xs[1]),
                    });
                }
                Ok((lo, hi))
            }
            other => Err(self.bad(&vp, expected, other)),
        }
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Int(i) => i.to_string(),
        Literal::Float(x) => x.to_string(),
        Literal::String(s) => s.clone(),
        other => describe_literal(Some(other)),
    }
}

fn rule_plan(rule: &Rule, path: &Path, kind: &KindSchema) -> Result<PNode, FilterError> {
    let (positive, negated) = match rule.operator.negates() {
        Some(p) => (p, true),
        None => (rule.operator, false),
    };
    let cx = RuleCtx {
        path: path.clone(),
        rule,
    };
    let unknown = || FilterError::UnknownField {
        path: path.member("field").to_string(),
        field: rule.field.clone(),
    };
    let leaf = if let Some(pseudo) = rule.field.strip_prefix('@') {
        let (what, name) = match pseudo.split_once(':') {
            Some((what, name)) if !name.is_empty() => (what, Some(name.to_string())),
            Some(_) => return Err(unknown()),
            None => (pseudo, None),
        };
        let what = match (what, &name) {
            ("firstSeen", _) => EventWhat::First(typed_test(&cx, FieldType::Timestamp, positive)?),
            ("lastSeen", _) => EventWhat::Last(typed_test(&cx, FieldType::Timestamp, positive)?),
            ("count", Some(_)) => count_test(&cx, positive)?,
            _ => return Err(unknown()),
        };
        PNode::Event(EventCond { name, what })
    } else {
        let field = kind.field_id(&rule.field).ok_or_else(unknown)?;
        let ty = kind.field(field).map_or(FieldType::Int, |(_, t)| t);
        PNode::Leaf(Cond {
            field,
            test: typed_test(&cx, ty, positive)?,
        })
    };
    Ok(if negated { PNode::Not(Box::new(leaf)) } else { leaf })
}

fn not_for_type(cx: &RuleCtx, ty: FieldType) -> FilterError {
    FilterError::OperatorNotForType {
        path: cx.path.member("operator").to_string(),
        field: cx.rule.field.clone(),
        field_type: ty,
        operator: cx.rule.operator.name().to_string(),
    }
}

/// `@count:<event>` compared with `=`, `!=`, `<`, `<=`, `>`, `>=`.
fn count_test(cx: &RuleCtx, positive: Operator) -> Result<EventWhat, FilterError> {
    use Operator as O;
    let op = match positive {
        O::Eq => CmpOp::Eq,
        O::Lt => CmpOp::Lt,
        O::Le => CmpOp::Le,
        O::Gt => CmpOp::Gt,
        O::Ge => CmpOp::Ge,
        _ => return Err(not_for_type(cx, FieldType::Int)),
    };
    let vp = cx.value_path();
    let Some(Literal::Count(c)) = cx.value() else {
        return Err(cx.bad(&vp, super::json::COUNT_SHAPE, cx.value()));
    };
    let window = match &c.window {
        CountWindow::AllTime => CountWin::All,
        CountWindow::Last(d) => CountWin::Last(d.amount as i128 * d.unit.micros()),
        CountWindow::Between(a, b) => {
            let bp = vp.member("between");
            let (la, lb) = (Literal::String(a.clone()), Literal::String(b.clone()));
            let lo = cx.time_at(Some(&la), &bp.index(0))?;
            let hi = cx.time_at(Some(&lb), &bp.index(1))?;
            if lo > hi {
                return Err(FilterError::InvertedRange {
                    path: bp.to_string(),
                    low: a.clone(),
                    high: b.clone(),
                });
            }
            CountWin::Between(lo, hi)
        }
    };
    Ok(EventWhat::Count { op, n: c.count, window })
}

/// The test of a positive operator on a value of type `ty`.
fn typed_test(cx: &RuleCtx, ty: FieldType, positive: Operator) -> Result<Test, FilterError> {
    let path = &cx.path;
    let rule = cx.rule;
    let vp = cx.value_path();
    use FieldType as T;
    use Operator as O;
    let cmp = |o: Operator| match o {
        O::Eq => CmpOp::Eq,
        O::Lt => CmpOp::Lt,
        O::Le => CmpOp::Le,
        O::Gt => CmpOp::Gt,
        _ => CmpOp::Ge,
    };
    let test = match (ty, positive) {
        (_, O::Null) => Test::Null,
        (T::Int | T::Float, O::Eq | O::Lt | O::Le | O::Gt | O::Ge) => {
            Test::Num(cmp(positive), cx.number_at(cx.value(), &vp)?)
        }
        (T::Int | T::Float, O::Between) => {
            let (lo, hi) = cx.pair("[low, high] of numbers", RuleCtx::number_at, |a, b| cmp_num(*a, *b))?;
            Test::NumBetween(lo, hi)
        }
        (T::Int | T::Float, O::In) => Test::NumIn(cx.each("an array of numbers", RuleCtx::number_at)?),
        (T::String, O::Eq) => Test::StrEq(cx.string_at(cx.value(), &vp)?.to_string()),
        (T::String, O::In) => {
            Test::StrIn(cx.each("an array of strings", |c, l, p| c.string_at(l, p).map(str::to_string))?)
        }
        (T::String, O::Contains | O::BeginsWith | O::EndsWith) => {
            let m = match positive {
                O::Contains => StrMatch::Contains,
                O::BeginsWith => StrMatch::BeginsWith,
                _ => StrMatch::EndsWith,
            };
            Test::Str(m, cx.string_at(cx.value(), &vp)?.to_string())
        }
        (T::Bool, O::Eq) => match cx.value() {
            Some(Literal::Bool(b)) => Test::Bool(*b),
            other => return Err(cx.bad(&vp, "true or false", other)),
        },
        (T::Timestamp, O::Eq | O::Lt | O::Le | O::Gt | O::Ge) => {
            Test::Time(cmp(positive), cx.time_at(cx.value(), &vp)?)
        }
        (T::Timestamp, O::Between) => {
            let (lo, hi) = cx.pair("[low, high] of RFC 3339 timestamps", RuleCtx::time_at, |a, b| a.cmp(b))?;
            Test::TimeBetween(lo, hi)
        }
        (T::Timestamp, O::WithinLast | O::WithinNext | O::MoreThanAgo) => match cx.value() {
            Some(Literal::Duration(d)) => {
                let w = match positive {
                    O::WithinLast => Window::Last,
                    O::WithinNext => Window::Next,
                    _ => Window::MoreThanAgo,
                };
                Test::Window(w, d.amount as i128 * d.unit.micros())
            }
            other => {
                return Err(cx.bad(
                    &vp,
                    r#"{"amount": <non-negative integer>, "unit": "minutes" | "hours" | "days" | "weeks"}"#,
                    other,
                ))
            }
        },
        (T::Tags, O::ContainsAny | O::ContainsAll) => {
            let tags = cx.each("an array of strings", |c, l, p| c.string_at(l, p).map(str::to_string))?;
            if positive == O::ContainsAny {
                Test::TagsAny(tags)
            } else {
                Test::TagsAll(tags)
            }
        }
        _ => return Err(not_for_type(cx, ty)),
    };
    let _ = (path, rule);
    Ok(test)
}
