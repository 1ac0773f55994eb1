//! Validation of a [`Filter`] against a kind's schema into a typed
//! [`Plan`]: the one way to validate (the engine calls it for every filter
//! it saves or evaluates). Counts and depth are measured with a heap stack
//! before anything recurses; each error carries the path of its node.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use super::ast::{
    Combinator, CountWindow, EventWhere, Filter, Group, Literal, MatchMode, Node, Operator, Rule, TagMatch, Threshold,
    TrendMeasure,
};
use super::limit::LimitPolicy;
use super::path::Path;
use super::plan::{
    CmpOp, Cond, CountWin, EventCond, EventWhat, FieldTest, Plan, PlanNode, PropNode, Quant, RelCond, StrKind,
    StrMatch, StrNode, StrPred, TagCount, TagsMatch, Test, TrendTest, TrendWhat, Window,
};
use crate::error::FilterError;
use crate::ids::SegmentId;
use crate::schema::{FieldId, FieldType, KindSchema, Schema};
use crate::value::{cmp_num, parse_filter_time_nanos, Num, TimestampError};

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
    ///
    /// Without a [`Schema`], a plan cannot name related kinds: use
    /// [`Plan::in_schema`] for `@related:<kind>`.
    pub fn new(filter: &Filter, kind: &Arc<KindSchema>, policy: &LimitPolicy) -> Result<Plan, FilterError> {
        let conditions = measure(filter, policy)?;
        let cx = Kinds { schema: None, kind: 0 };
        let root = group_plan(filter, &Path::root(), kind, &cx)?;
        Ok(Plan::made(kind.clone(), root, conditions))
    }

    /// Validates `filter` against kind `kind` of `schema`, where rules may
    /// also quantify over related kinds (`@related:<kind>`).
    ///
    /// # Errors
    ///
    /// As [`Plan::new`], and [`FilterError::UnknownKind`] for a kind the
    /// schema does not have.
    pub fn in_schema(filter: &Filter, schema: &Schema, kind: &str, policy: &LimitPolicy) -> Result<Plan, FilterError> {
        let k = schema
            .kind_id(kind)
            .ok_or_else(|| FilterError::UnknownKind(crate::error::UnknownKind::new(kind)))?;
        let conditions = measure(filter, policy)?;
        let cx = Kinds {
            schema: Some(schema),
            kind: k.0 as usize,
        };
        let arc = &schema.kind_arcs()[k.0 as usize];
        let root = group_plan(filter, &Path::root(), arc, &cx)?;
        Ok(Plan::made(arc.clone(), root, conditions))
    }
}

/// The schema (when validating within one) and the index of the kind at hand.
pub(super) struct Kinds<'a> {
    pub(super) schema: Option<&'a Schema>,
    pub(super) kind: usize,
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

/// Whether `filter` nests groups (nested filters of rules included) deeper
/// than `levels`, by a heap stack: what may be done to a filter before it is
/// validated (a journal serializing it, say) must not recurse into one
/// that validation refuses.
pub(crate) fn deeper_than(filter: &Filter, levels: usize) -> bool {
    let mut stack: Vec<(&Group, usize)> = vec![(filter, 1)];
    while let Some((g, depth)) = stack.pop() {
        if depth > levels {
            return true;
        }
        for n in &g.rules {
            match n {
                Node::Rule(r) => {
                    if let Some(g) = Group::nested_in(r) {
                        stack.push((g, depth + 1));
                    }
                }
                Node::Group(h) => stack.push((h, depth + 1)),
            }
        }
    }
    false
}

/// Counts the rules and checks the depth with a heap stack, before anything recurses.
pub(super) fn measure(filter: &Filter, policy: &LimitPolicy) -> Result<usize, FilterError> {
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
                Node::Rule(r) => {
                    count += 1;
                    let p = path.rule(i).member("value");
                    match &r.value {
                        Some(Literal::Nested(nested)) => {
                            let p = if nested.threshold.is_some() {
                                p.member("filter")
                            } else {
                                p
                            };
                            stack.push((&nested.filter, depth + 1, p));
                        }
                        Some(Literal::Match(m)) => stack.push((&m.filter, depth + 1, p)),
                        Some(Literal::Where(w)) => stack.push((&w.filter, depth + 1, p.member("where"))),
                        _ => {}
                    }
                }
                Node::Group(h) => stack.push((h, depth + 1, path.rule(i))),
            }
        }
    }
    match policy.max_conditions() {
        Some(limit) if count > limit => Err(FilterError::TooManyConditions { count, limit }),
        _ => Ok(count),
    }
}

pub(super) fn group_plan(g: &Group, path: &Path, kind: &KindSchema, kinds: &Kinds) -> Result<PlanNode, FilterError> {
    let mut children = Vec::with_capacity(g.rules.len());
    for (i, n) in g.rules.iter().enumerate() {
        let p = path.rule(i);
        children.push(match n {
            Node::Rule(r) => rule_plan(r, &p, kind, kinds)?,
            Node::Group(h) => group_plan(h, &p, kind, kinds)?,
        });
    }
    let node = match g.combinator {
        Combinator::And => PlanNode::And(children),
        Combinator::Or => PlanNode::Or(children),
        Combinator::Xor => PlanNode::Xor(children),
    };
    Ok(if g.not { PlanNode::Not(Box::new(node)) } else { node })
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
        Some(Literal::Change(c)) => format!("usage change ratio {}", c.ratio),
        Some(Literal::Nested(_)) => "a nested filter".into(),
        Some(Literal::Field(f)) => format!("field `{f}`"),
        Some(Literal::Match(_)) => "a match mode".into(),
        Some(Literal::Where(w)) => format!("{} with a property filter", describe_literal(w.value.as_ref())),
        Some(Literal::Trend(_)) => "a trend".into(),
    }
}

struct RuleCtx<'a> {
    path: Path,
    rule: &'a Rule,
}

/// A number as a text input writes it: surrounding spaces ignored, the
/// whole text a finite number.
fn number_text(s: &str) -> Option<Num> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i128>() {
        return Some(Num::Int(i));
    }
    // Rust's float syntax also reads "inf" and "NaN": only finite numbers
    // written with digits count.
    let x = t.parse::<f64>().ok().filter(|x| x.is_finite())?;
    t.bytes().any(|b| b.is_ascii_digit()).then_some(Num::Float(x))
}

impl RuleCtx<'_> {
    fn bad(&self, path: &Path, expected: &str, found: Option<&Literal>) -> FilterError {
        FilterError::BadValue {
            path: path.to_string(),
            field: self.rule.field.clone(),
            expected: expected.into(),
            found: describe_literal(found),
        }
    }

    fn value_path(&self) -> Path {
        self.path.member("value")
    }

    /// A number: a JSON number, or text that is one (`"30"`, `" 2.5 "`).
    fn number_at(&self, l: Option<&Literal>, path: &Path) -> Result<Num, FilterError> {
        match l {
            Some(Literal::Int(i)) => Ok(Num::Int(*i)),
            Some(Literal::Float(x)) if x.is_finite() => Ok(Num::Float(*x)),
            Some(Literal::String(s)) => number_text(s).ok_or_else(|| self.bad(path, "a number", l)),
            _ => Err(self.bad(path, "a number", l)),
        }
    }

    /// A string: a JSON string, or a JSON number compared as its text.
    fn string_at(&self, l: Option<&Literal>, path: &Path) -> Result<String, FilterError> {
        match l {
            Some(Literal::String(s)) => Ok(s.clone()),
            Some(Literal::Int(i)) => Ok(i.to_string()),
            Some(Literal::Float(x)) if x.is_finite() => Ok(serde_json::Value::from(*x).to_string()),
            _ => Err(self.bad(path, "a string", l)),
        }
    }

    /// `true` or `false`, as JSON or as text.
    fn bool_at(&self, l: Option<&Literal>, path: &Path) -> Result<bool, FilterError> {
        match l {
            Some(Literal::Bool(b)) => Ok(*b),
            Some(Literal::String(s)) if s.trim() == "true" => Ok(true),
            Some(Literal::String(s)) if s.trim() == "false" => Ok(false),
            _ => Err(self.bad(path, "true or false", l)),
        }
    }

    fn time_at(&self, l: Option<&Literal>, path: &Path) -> Result<i128, FilterError> {
        const EXPECTED: &str = "an RFC 3339 timestamp (or a date-time or date without offset, read in UTC)";
        match l {
            Some(Literal::String(s)) => parse_filter_time_nanos(s).map_err(|e| {
                let reason = match e {
                    TimestampError::Parse { reason } => reason,
                    other => other.to_string(),
                };
                FilterError::BadValue {
                    path: path.to_string(),
                    field: self.rule.field.clone(),
                    expected: EXPECTED.into(),
                    found: format!("{} ({reason})", describe_literal(l)),
                }
            }),
            _ => Err(self.bad(path, EXPECTED, l)),
        }
    }

    fn value(&self) -> Option<&Literal> {
        self.rule.value.as_ref()
    }

    /// The items of a list: an array, one text split on commas, or (for
    /// `in` and `notIn`) a single value.
    fn list(&self, expected: &str) -> Result<Cow<'_, [Literal]>, FilterError> {
        let items = match self.value() {
            Some(Literal::List(xs)) => Cow::Borrowed(&xs[..]),
            Some(Literal::String(s)) => {
                Cow::Owned(super::json::split_list(s).into_iter().map(Literal::String).collect())
            }
            Some(l @ (Literal::Int(_) | Literal::Float(_) | Literal::Bool(_)))
                if matches!(self.rule.operator, Operator::In | Operator::NotIn) =>
            {
                Cow::Owned(vec![l.clone()])
            }
            other => return Err(self.bad(&self.value_path(), expected, other)),
        };
        if items.is_empty() {
            return Err(FilterError::EmptyList {
                path: self.value_path().to_string(),
                field: self.rule.field.clone(),
            });
        }
        Ok(items)
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
        let xs = match self.value() {
            Some(Literal::List(_) | Literal::String(_)) => self.list(expected)?,
            other => return Err(self.bad(&vp, expected, other)),
        };
        if xs.len() != 2 {
            return Err(self.bad(&vp, expected, self.value()));
        }
        let lo = f(self, Some(&xs[0]), &vp.index(0))?;
        let hi = f(self, Some(&xs[1]), &vp.index(1))?;
        if cmp(&lo, &hi) == Ordering::Greater {
            return Err(FilterError::InvertedRange {
                path: vp.to_string(),
                field: self.rule.field.clone(),
                low: literal_text(&xs[0]),
                high: literal_text(&xs[1]),
            });
        }
        Ok((lo, hi))
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

/// A rule's positive operator, whether the rule negates it, and the
/// context its errors are reported in.
fn split_rule<'a>(rule: &'a Rule, path: &Path) -> (Operator, bool, RuleCtx<'a>) {
    let (positive, negated) = match rule.operator.negates() {
        Some(p) => (p, true),
        None => (rule.operator, false),
    };
    let cx = RuleCtx {
        path: path.clone(),
        rule,
    };
    (positive, negated, cx)
}

/// `""` as the value: a rule a builder left unfinished.
fn unfinished_value(rule: &Rule, path: &Path) -> Result<(), FilterError> {
    if matches!(&rule.value, Some(Literal::String(s)) if s.is_empty())
        && !matches!(rule.operator, Operator::Null | Operator::NotNull)
    {
        return Err(FilterError::Unfinished {
            path: path.member("value").to_string(),
            what: format!("no value for field `{}`", rule.field),
        });
    }
    Ok(())
}

fn rule_plan(rule: &Rule, path: &Path, kind: &KindSchema, kinds: &Kinds) -> Result<PlanNode, FilterError> {
    if let Some(Literal::Where(w)) = &rule.value {
        return where_plan(rule, w, path, kind, kinds);
    }
    let (positive, negated, cx) = split_rule(rule, path);
    let unknown = || FilterError::UnknownField {
        path: path.member("field").to_string(),
        field: rule.field.clone(),
    };
    // As a builder writes an unfinished rule; the JSON reader refuses it too.
    unfinished_value(rule, path)?;
    let is_field = |l: &Literal| matches!(l, Literal::Field(_));
    let from_field = match &rule.value {
        Some(Literal::List(xs)) => !xs.is_empty() && xs.iter().all(is_field),
        Some(l) => is_field(l),
        None => false,
    };
    if rule.field.starts_with('@') {
        let what = match &rule.value {
            Some(Literal::Match(_)) => Some("a match mode"),
            _ if from_field => Some("valueSource `field`"),
            _ if rule.case_insensitive => Some("caseInsensitive"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(FilterError::Unsupported {
                path: path.to_string(),
                what: format!("{what} on `{}`", rule.field),
            });
        }
    }
    let leaf = if let Some(pseudo) = rule.field.strip_prefix('@') {
        let (what, name) = match pseudo.split_once(':') {
            Some((what, name)) if !name.is_empty() => (what, Some(name.to_string())),
            Some(_) => return Err(unknown()),
            None => (pseudo, None),
        };
        let what = match (what, &name) {
            ("segment", None) => segment_test(&cx, positive)?,
            ("related", Some(child)) => related_test(&cx, positive, child, kinds)?,
            ("firstSeen", _) => EventWhat::First(typed_test(&cx, FieldType::Timestamp, positive)?).into(),
            ("lastSeen", _) => EventWhat::Last(typed_test(&cx, FieldType::Timestamp, positive)?).into(),
            ("count", Some(_)) => count_test(&cx, positive)?.into(),
            ("delta" | "max" | "min", Some(f)) => trend_test(&cx, positive, what, f, kind)?,
            ("change", Some(_)) => change_test(&cx, positive)?.into(),
            _ => return Err(unknown()),
        };
        match what {
            Pseudo::Event(what) => PlanNode::Event(EventCond {
                name,
                what,
                props: None,
            }),
            Pseudo::Node(n) => n,
        }
    } else {
        let field = kind.field_id(&rule.field).ok_or_else(unknown)?;
        let ty = kind.field(field).map_or(FieldType::Int, |(_, t)| t);
        if let Some(Literal::Match(m)) = &rule.value {
            // The operator is ignored: no negation either.
            return Ok(PlanNode::Leaf(Cond {
                field,
                test: tags_match_test(&cx, ty, m)?,
            }));
        }
        let test = if from_field {
            field_test(&cx, kind, ty, positive)?
        } else {
            typed_test(&cx, ty, positive)?
        };
        PlanNode::Leaf(Cond { field, test })
    };
    Ok(if negated { PlanNode::Not(Box::new(leaf)) } else { leaf })
}

/// An event pseudo-field narrowed by a property filter: the rule without
/// it, planned as usual, with the filter on its event condition.
fn where_plan(
    rule: &Rule,
    w: &EventWhere,
    path: &Path,
    kind: &KindSchema,
    kinds: &Kinds,
) -> Result<PlanNode, FilterError> {
    let wp = path.member("value").member("where");
    let named = rule
        .field
        .strip_prefix('@')
        .and_then(|p| p.split_once(':'))
        .is_some_and(|(what, name)| !name.is_empty() && matches!(what, "count" | "change" | "firstSeen" | "lastSeen"));
    if !named || matches!(w.value, Some(Literal::Where(_))) {
        return Err(FilterError::Unsupported {
            path: wp.to_string(),
            what: format!(
                "a property filter on `{}` (`where` narrows the events of `@count:<event>`, \
                 `@firstSeen:<event>`, `@lastSeen:<event>` and `@change:<event>`, once)",
                rule.field
            ),
        });
    }
    let props = prop_group(&w.filter, &wp)?;
    let inner = Rule {
        field: rule.field.clone(),
        operator: rule.operator,
        value: w.value.clone(),
        case_insensitive: rule.case_insensitive,
    };
    let mut node = rule_plan(&inner, path, kind, kinds)?;
    let props = Arc::new(props);
    let mut at = &mut node;
    loop {
        match at {
            PlanNode::Not(x) => at = x,
            PlanNode::Event(e) => {
                e.props = Some(props);
                break;
            }
            _ => break,
        }
    }
    Ok(node)
}

/// A property filter: each rule names a property and is typed by its
/// literal (see [`prop_type`]).
fn prop_group(g: &Group, path: &Path) -> Result<PropNode, FilterError> {
    let mut children = Vec::with_capacity(g.rules.len());
    for (i, n) in g.rules.iter().enumerate() {
        let p = path.rule(i);
        children.push(match n {
            Node::Group(h) => prop_group(h, &p)?,
            Node::Rule(r) => prop_rule(r, &p)?,
        });
    }
    let node = match g.combinator {
        Combinator::And => PropNode::And(children),
        Combinator::Or => PropNode::Or(children),
        Combinator::Xor => PropNode::Xor(children),
    };
    Ok(if g.not { PropNode::Not(Box::new(node)) } else { node })
}

fn prop_rule(rule: &Rule, path: &Path) -> Result<PropNode, FilterError> {
    if rule.field.is_empty() || rule.field.starts_with('@') {
        return Err(FilterError::Unsupported {
            path: path.member("field").to_string(),
            what: format!(
                "field `{}` in a property filter (its rules name the event's properties)",
                rule.field
            ),
        });
    }
    if !matches!(
        rule.value,
        None | Some(
            Literal::Bool(_)
                | Literal::Int(_)
                | Literal::Float(_)
                | Literal::String(_)
                | Literal::List(_)
                | Literal::Duration(_)
        )
    ) {
        return Err(FilterError::Unsupported {
            path: path.member("value").to_string(),
            what: format!("{} in a property filter", describe_literal(rule.value.as_ref())),
        });
    }
    let (positive, negated, cx) = split_rule(rule, path);
    unfinished_value(rule, path)?;
    if matches!(
        positive,
        Operator::WithinLast | Operator::WithinNext | Operator::MoreThanAgo
    ) {
        // It would make the rule relative to `now` through every event's
        // property, which refreshes do not follow.
        return Err(FilterError::Unsupported {
            path: path.member("operator").to_string(),
            what: format!(
                "`{}` in a property filter (compare instants with `<`, `>` or `between`)",
                rule.operator.name()
            ),
        });
    }
    let test = typed_test(&cx, prop_type(rule, positive), positive)?;
    let leaf = PropNode::Leaf {
        key: rule.field.clone(),
        test,
    };
    Ok(if negated { PropNode::Not(Box::new(leaf)) } else { leaf })
}

/// The type a property rule tests, read from its operator and literal
/// (properties are typed as they were recorded, not by a schema): a number
/// tests numbers (ints and floats alike, exactly), a boolean booleans, a
/// string strings, except that an order (`<`, `between`) tests instants,
/// which properties hold as RFC 3339 strings.
fn prop_type(rule: &Rule, positive: Operator) -> FieldType {
    use Operator as O;
    let first = match &rule.value {
        Some(Literal::List(xs)) => xs.first(),
        v => v.as_ref(),
    };
    match (positive, first) {
        (_, Some(Literal::Bool(_))) => FieldType::Bool,
        (_, Some(Literal::Int(_) | Literal::Float(_))) => FieldType::Float,
        (O::Lt | O::Le | O::Gt | O::Ge | O::Between, Some(Literal::String(_))) => FieldType::Timestamp,
        _ => FieldType::String,
    }
}

fn not_for_type(cx: &RuleCtx, ty: FieldType) -> FilterError {
    FilterError::OperatorNotForType {
        path: cx.path.member("operator").to_string(),
        field: cx.rule.field.clone(),
        field_type: ty,
        operator: cx.rule.operator.name().to_string(),
    }
}

/// What a pseudo-field rule became.
enum Pseudo {
    Event(EventWhat),
    Node(PlanNode),
}

impl From<EventWhat> for Pseudo {
    fn from(w: EventWhat) -> Pseudo {
        Pseudo::Event(w)
    }
}

fn not_allowed(cx: &RuleCtx, allowed: &str) -> FilterError {
    FilterError::OperatorNotAllowed {
        path: cx.path.member("operator").to_string(),
        field: cx.rule.field.clone(),
        operator: cx.rule.operator.name().to_string(),
        allowed: allowed.into(),
    }
}

/// `@segment` with `in` or `notIn`: a segment id or a list of them.
fn segment_test(cx: &RuleCtx, positive: Operator) -> Result<Pseudo, FilterError> {
    if positive != Operator::In {
        return Err(not_allowed(cx, "`in` and `notIn`"));
    }
    let vp = cx.value_path();
    let id = |l: &Literal, p: &Path| match l {
        Literal::Int(i) if *i >= 1 && *i <= u64::MAX as i128 => Ok(SegmentId(*i as u64)),
        other => Err(cx.bad(p, "a segment id (a positive integer)", Some(other))),
    };
    let mut ids = match cx.value() {
        Some(Literal::List(xs)) if xs.is_empty() => {
            return Err(FilterError::EmptyList {
                path: vp.to_string(),
                field: cx.rule.field.clone(),
            })
        }
        Some(Literal::List(xs)) => xs
            .iter()
            .enumerate()
            .map(|(i, x)| id(x, &vp.index(i)))
            .collect::<Result<Vec<_>, _>>()?,
        Some(l) => vec![id(l, &vp)?],
        None => return Err(cx.bad(&vp, "a segment id or a list of them", None)),
    };
    ids.sort_unstable();
    ids.dedup();
    Ok(Pseudo::Node(PlanNode::InSegment(ids)))
}

/// `@related:<child>` with `any`, `none`, `all` or `atLeast`.
fn related_test(cx: &RuleCtx, positive: Operator, child: &str, kinds: &Kinds) -> Result<Pseudo, FilterError> {
    let vp = cx.value_path();
    let no_relation = || FilterError::UnknownRelation {
        path: cx.path.member("field").to_string(),
        kind: child.to_string(),
    };
    let schema = kinds.schema.ok_or_else(no_relation)?;
    let c = schema.kind_id(child).ok_or_else(no_relation)?;
    let parent = crate::schema::KindId(kinds.kind as u32);
    let relation = schema.relation(c, parent).ok_or_else(no_relation)?;
    let nested = match cx.value() {
        Some(Literal::Nested(n)) => n,
        other => return Err(cx.bad(&vp, "a nested filter (a group)", other)),
    };
    let quant = match (positive, nested.threshold) {
        (Operator::Any, None) => Quant::Any,
        (Operator::All, None) => Quant::All,
        (Operator::AtLeast, Some(Threshold::Count(n))) => Quant::AtLeast(n),
        (Operator::AtLeast, Some(Threshold::Percent(p))) if (0.0..=100.0).contains(&p) => Quant::Percent(p),
        (Operator::AtMost, Some(Threshold::Count(n))) => Quant::AtMost(n),
        (Operator::AtMost, Some(Threshold::Percent(p))) if (0.0..=100.0).contains(&p) => Quant::AtMostPercent(p),
        (Operator::Exactly, Some(Threshold::Count(n))) => Quant::Exactly(n),
        (Operator::Exactly, Some(Threshold::Percent(p))) if (0.0..=100.0).contains(&p) => Quant::ExactlyPercent(p),
        (Operator::AtLeast | Operator::AtMost | Operator::Exactly, _) => {
            return Err(cx.bad(&vp, super::json::THRESHOLD_SHAPE, cx.value()))
        }
        (Operator::Any | Operator::All, Some(_)) => {
            return Err(cx.bad(
                &vp,
                "a group (a threshold goes with `atLeast`, `atMost` and `exactly`)",
                cx.value(),
            ))
        }
        _ => {
            return Err(not_allowed(
                cx,
                "`any`, `none`, `all`, `atLeast`, `atMost` and `exactly`",
            ))
        }
    };
    let fp = if nested.threshold.is_some() {
        vp.member("filter")
    } else {
        vp
    };
    let child_kinds = Kinds {
        schema: Some(schema),
        kind: c.0 as usize,
    };
    let child_schema = &schema.kind_arcs()[c.0 as usize];
    let nested = group_plan(&nested.filter, &fp, child_schema, &child_kinds)?;
    Ok(Pseudo::Node(PlanNode::Related(Box::new(RelCond {
        relation,
        child: c.0 as usize,
        quant,
        nested,
    }))))
}

/// `@delta:<field>`, `@max:<field>`, `@min:<field>` of a tracked numeric
/// field, compared with `<`, `<=`, `>`, `>=`.
fn trend_test(cx: &RuleCtx, positive: Operator, what: &str, f: &str, kind: &KindSchema) -> Result<Pseudo, FilterError> {
    let field = kind.field_id(f).ok_or_else(|| FilterError::UnknownField {
        path: cx.path.member("field").to_string(),
        field: cx.rule.field.clone(),
    })?;
    if kind.tracked(f).is_none() {
        return Err(FilterError::Unsupported {
            path: cx.path.member("field").to_string(),
            what: format!(
                "`{}`: the schema does not track `{f}` (see KindSchema::tracking)",
                cx.rule.field
            ),
        });
    }
    let op = match positive {
        Operator::Lt => CmpOp::Lt,
        Operator::Le => CmpOp::Le,
        Operator::Gt => CmpOp::Gt,
        Operator::Ge => CmpOp::Ge,
        _ => return Err(not_allowed(cx, "`<`, `<=`, `>` and `>=`")),
    };
    let vp = cx.value_path();
    let Some(Literal::Trend(t)) = cx.value() else {
        return Err(cx.bad(&vp, super::json::TREND_SHAPE, cx.value()));
    };
    let (tw, n, member) = match (what, &t.measure) {
        ("delta", TrendMeasure::By(n)) => (TrendWhat::Delta, n, "by"),
        ("delta", TrendMeasure::Percent(n)) => (TrendWhat::Percent, n, "percent"),
        ("max", TrendMeasure::Value(n)) => (TrendWhat::Max, n, "value"),
        ("min", TrendMeasure::Value(n)) => (TrendWhat::Min, n, "value"),
        ("delta", _) => {
            return Err(cx.bad(
                &vp,
                r#"{"by": <number>} or {"percent": <number>}, with "withinLast": <duration>"#,
                cx.value(),
            ))
        }
        _ => return Err(cx.bad(&vp, r#"{"value": <number>, "withinLast": <duration>}"#, cx.value())),
    };
    let lit = cx.number_at(Some(n), &vp.member(member))?;
    Ok(Pseudo::Node(PlanNode::Leaf(Cond {
        field,
        test: Test::Trend(TrendTest {
            what: tw,
            op,
            lit,
            window: t.window.amount as i128 * t.window.unit.micros(),
        }),
    })))
}

/// `@change:<event>` with `>=` (grew) or `<=` (fell).
fn change_test(cx: &RuleCtx, positive: Operator) -> Result<EventWhat, FilterError> {
    let op = match positive {
        Operator::Ge => CmpOp::Ge,
        Operator::Le => CmpOp::Le,
        _ => return Err(not_allowed(cx, "`>=` and `<=`")),
    };
    match cx.value() {
        Some(Literal::Change(c)) if c.ratio.is_finite() && c.ratio > 0.0 && c.window.amount > 0 => {
            Ok(EventWhat::Change {
                op,
                ratio: c.ratio,
                window: c.window.amount as i128 * c.window.unit.micros(),
            })
        }
        other => Err(cx.bad(&cx.value_path(), super::json::CHANGE_SHAPE, other)),
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
                    field: cx.rule.field.clone(),
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
    let fold = rule.case_insensitive;
    if fold && ty != T::String && positive != O::Null {
        return Err(FilterError::Unsupported {
            path: path.member("caseInsensitive").to_string(),
            what: format!(
                "caseInsensitive on {ty} field `{}` (it applies to string fields)",
                rule.field
            ),
        });
    }
    let lower = |s: String| if fold { s.to_lowercase() } else { s };
    let pred = |kind| Test::Pred(StrPred { kind, fold });
    let test = match (ty, positive) {
        (_, O::Null) => Test::Null,
        (T::String, O::MatchesRegex) => {
            let pattern = cx.string_at(cx.value(), &vp)?;
            Test::Pred(StrPred {
                kind: StrKind::Regex(Box::new(compile_regex(cx, &pattern, fold)?)),
                fold,
            })
        }
        (T::String, O::Eq) if fold => pred(StrKind::Eq(lower(cx.string_at(cx.value(), &vp)?))),
        (T::String, O::In) if fold => pred(StrKind::In(
            cx.each("an array of strings", |c, l, p| c.string_at(l, p).map(lower))?,
        )),
        (T::String, O::Contains | O::BeginsWith | O::EndsWith) if fold => pred(StrKind::Match(
            str_match(positive),
            lower(cx.string_at(cx.value(), &vp)?),
        )),
        (T::Int | T::Float, O::Eq | O::Lt | O::Le | O::Gt | O::Ge) => {
            Test::Num(cmp(positive), cx.number_at(cx.value(), &vp)?)
        }
        (T::Int | T::Float, O::Between) => {
            let (lo, hi) = cx.pair("[low, high] of numbers", RuleCtx::number_at, |a, b| cmp_num(*a, *b))?;
            Test::NumBetween(lo, hi)
        }
        (T::Int | T::Float, O::In) => Test::NumIn(cx.each("an array of numbers", RuleCtx::number_at)?),
        (T::String, O::Eq) => Test::StrEq(cx.string_at(cx.value(), &vp)?),
        (T::String, O::In) => Test::StrIn(cx.each("an array of strings", RuleCtx::string_at)?),
        (T::String, O::Contains | O::BeginsWith | O::EndsWith) => {
            Test::Str(str_match(positive), cx.string_at(cx.value(), &vp)?)
        }
        (T::Bool, O::Eq) => Test::Bool(cx.bool_at(cx.value(), &vp)?),
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
            let tags = cx.each("an array of strings", RuleCtx::string_at)?;
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

fn str_match(op: Operator) -> StrMatch {
    match op {
        Operator::Contains => StrMatch::Contains,
        Operator::BeginsWith => StrMatch::BeginsWith,
        _ => StrMatch::EndsWith,
    }
}

/// The longest pattern `matchesRegex` takes, in bytes.
pub const MAX_REGEX_LEN: usize = 4096;
/// The most memory one compiled pattern of `matchesRegex` may take, in
/// bytes (the regex crate's size limits, for the program and for its lazy
/// DFA).
pub const MAX_REGEX_SIZE: usize = 1 << 20;

/// A pattern of the `regex` crate (linear time in the text), bounded in
/// size so that no filter can make one take much memory or time to build.
fn compile_regex(cx: &RuleCtx, pattern: &str, fold: bool) -> Result<regex::Regex, FilterError> {
    let bad = |message: String| FilterError::BadRegex {
        path: cx.value_path().to_string(),
        field: cx.rule.field.clone(),
        message,
    };
    if pattern.len() > MAX_REGEX_LEN {
        return Err(bad(format!(
            "the pattern is {} bytes, over the limit of {MAX_REGEX_LEN}",
            pattern.len()
        )));
    }
    regex::RegexBuilder::new(pattern)
        .case_insensitive(fold)
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(MAX_REGEX_SIZE)
        .build()
        // The crate's messages span lines; errors here are one line.
        .map_err(|e| bad(e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")))
}

/// A match mode on a tags field: each tag tested against the group.
fn tags_match_test(cx: &RuleCtx, ty: FieldType, m: &TagMatch) -> Result<Test, FilterError> {
    if ty != FieldType::Tags {
        return Err(FilterError::Unsupported {
            path: cx.path.member("match").to_string(),
            what: format!(
                "a match mode on {ty} field `{}` (match modes apply to tags fields)",
                cx.rule.field
            ),
        });
    }
    let bad_threshold = || FilterError::BadValue {
        path: cx.path.member("match").member("threshold").to_string(),
        field: cx.rule.field.clone(),
        expected: "a count (a non-negative integer) or a share of the tags (between 0 and 1)".into(),
        found: match m.threshold {
            Some(t) => format!("number {t}"),
            None => "no threshold".into(),
        },
    };
    let threshold = || match m.threshold {
        Some(t) if t.is_finite() && t >= 0.0 && (t < 1.0 || t.fract() == 0.0) => Ok(t),
        _ => Err(bad_threshold()),
    };
    let count = match m.mode {
        MatchMode::Some => TagCount::Some,
        MatchMode::All => TagCount::All,
        MatchMode::None => TagCount::None,
        MatchMode::AtLeast => TagCount::AtLeast(threshold()?),
        MatchMode::AtMost => TagCount::AtMost(threshold()?),
        MatchMode::Exactly => TagCount::Exactly(threshold()?),
    };
    let each = str_group(&m.filter, &cx.value_path(), &cx.rule.field)?;
    Ok(Test::TagsMatch(Box::new(TagsMatch { count, each })))
}

/// The group of a match mode as a test of one tag (a string).
fn str_group(g: &Group, path: &Path, tags_field: &str) -> Result<StrNode, FilterError> {
    let mut children = Vec::with_capacity(g.rules.len());
    for (i, n) in g.rules.iter().enumerate() {
        let p = path.rule(i);
        children.push(match n {
            Node::Group(h) => str_group(h, &p, tags_field)?,
            Node::Rule(r) => str_rule(r, &p, tags_field)?,
        });
    }
    let node = match g.combinator {
        Combinator::And => StrNode::And(children),
        Combinator::Or => StrNode::Or(children),
        Combinator::Xor => StrNode::Xor(children),
    };
    Ok(if g.not { StrNode::Not(Box::new(node)) } else { node })
}

fn str_rule(rule: &Rule, path: &Path, tags_field: &str) -> Result<StrNode, FilterError> {
    if rule.field != tags_field {
        return Err(FilterError::BadValue {
            path: path.member("field").to_string(),
            field: rule.field.clone(),
            expected: format!("the tags field `{tags_field}` (the rules of a match mode test each tag)"),
            found: format!("field `{}`", rule.field),
        });
    }
    if matches!(rule.value, Some(Literal::Field(_) | Literal::Match(_))) {
        return Err(FilterError::Unsupported {
            path: path.member("value").to_string(),
            what: "a field reference or match mode inside a match mode".into(),
        });
    }
    let (positive, negated, cx) = split_rule(rule, path);
    unfinished_value(rule, path)?;
    if positive == Operator::Null {
        return Err(not_allowed(&cx, "string operators (a tag is never missing)"));
    }
    let pred = match typed_test(&cx, FieldType::String, positive)? {
        Test::StrEq(s) => StrPred {
            kind: StrKind::Eq(s),
            fold: false,
        },
        Test::StrIn(xs) => StrPred {
            kind: StrKind::In(xs),
            fold: false,
        },
        Test::Str(m, s) => StrPred {
            kind: StrKind::Match(m, s),
            fold: false,
        },
        Test::Pred(p) => p,
        _ => return Err(not_allowed(&cx, "string operators")),
    };
    let leaf = StrNode::Leaf(pred);
    Ok(if negated { StrNode::Not(Box::new(leaf)) } else { leaf })
}

/// A comparison with other fields of the entity (`"valueSource": "field"`).
fn field_test(cx: &RuleCtx, kind: &KindSchema, ty: FieldType, positive: Operator) -> Result<Test, FilterError> {
    use FieldType as T;
    use Operator as O;
    if cx.rule.case_insensitive {
        return Err(FilterError::Unsupported {
            path: cx.path.member("caseInsensitive").to_string(),
            what: "caseInsensitive with valueSource `field`".into(),
        });
    }
    let comparable = |other: FieldType| match ty {
        T::Int | T::Float => matches!(other, T::Int | T::Float),
        T::Tags => false,
        t => t == other,
    };
    let resolve = |l: &Literal, p: &Path| -> Result<FieldId, FilterError> {
        let Literal::Field(name) = l else {
            return Err(cx.bad(p, "a field name (valueSource is `field`)", Some(l)));
        };
        let id = kind.field_id(name).ok_or_else(|| FilterError::UnknownField {
            path: p.to_string(),
            field: name.clone(),
        })?;
        let other = kind.field(id).map_or(T::Int, |(_, t)| t);
        if !comparable(other) {
            return Err(FilterError::BadValue {
                path: p.to_string(),
                field: cx.rule.field.clone(),
                expected: format!("a field comparable with {ty} field `{}`", cx.rule.field),
                found: format!("{other} field `{name}`"),
            });
        }
        Ok(id)
    };
    let vp = cx.value_path();
    let one = || match cx.value() {
        Some(l @ Literal::Field(_)) => resolve(l, &vp),
        other => Err(cx.bad(&vp, "a field name (valueSource is `field`)", other)),
    };
    let many = || -> Result<Vec<FieldId>, FilterError> {
        match cx.value() {
            Some(l @ Literal::Field(_)) => Ok(vec![resolve(l, &vp)?]),
            Some(Literal::List(xs)) => xs.iter().enumerate().map(|(i, x)| resolve(x, &vp.index(i))).collect(),
            other => Err(cx.bad(&vp, "a list of field names (valueSource is `field`)", other)),
        }
    };
    let cmp = match positive {
        O::Eq => Some(CmpOp::Eq),
        O::Lt => Some(CmpOp::Lt),
        O::Le => Some(CmpOp::Le),
        O::Gt => Some(CmpOp::Gt),
        O::Ge => Some(CmpOp::Ge),
        _ => None,
    };
    Ok(Test::Fields(match (ty, positive) {
        (_, O::Null) => return Ok(Test::Null),
        (T::Int | T::Float | T::Timestamp, O::Eq | O::Lt | O::Le | O::Gt | O::Ge) | (T::String | T::Bool, O::Eq) => {
            FieldTest::Cmp(cmp.unwrap_or(CmpOp::Eq), one()?)
        }
        (T::Int | T::Float | T::Timestamp, O::Between) => match many()?.as_slice() {
            [lo, hi] => FieldTest::Between(*lo, *hi),
            _ => return Err(cx.bad(&vp, "[low, high] as two field names", cx.value())),
        },
        (T::Int | T::Float | T::String, O::In) => FieldTest::In(many()?),
        (T::String, O::Contains | O::BeginsWith | O::EndsWith) => FieldTest::Str(str_match(positive), one()?),
        _ => return Err(not_for_type(cx, ty)),
    }))
}

#[cfg(test)]
mod tests {
    //! The measure taken before anything recurses, and the order of the
    //! checks: limits first, then each rule in order, each error at its path.

    use super::*;
    use crate::filter::{field, TimeUnit};
    use crate::schema::KindSchema;

    fn kind() -> Arc<KindSchema> {
        Arc::new(KindSchema::new("account", [("n", FieldType::Int), ("s", FieldType::String)]).expect("a valid schema"))
    }

    /// `depth` groups nested one in another, each with one rule.
    fn nested(depth: usize) -> Filter {
        let mut g = Filter::and([field("n").gt(0)]);
        for _ in 1..depth {
            g = Filter::and([Node::from(field("n").gt(0)), Node::from(g)]);
        }
        g
    }

    #[test]
    fn measure_counts_every_rule_and_finds_the_first_group_too_deep() {
        let p = LimitPolicy::default().with_unlimited_conditions();
        assert_eq!(measure(&nested(7), &p), Ok(7));
        let deep = nested(p.max_depth() + 1);
        match measure(&deep, &p) {
            Err(FilterError::TooDeep { path, limit }) => {
                assert_eq!(limit, p.max_depth());
                assert_eq!(path.matches("rules[1]").count(), p.max_depth(), "{path}");
            }
            other => panic!("{other:?}"),
        }
        // 100,000 nested groups are refused without recursing.
        let mut g = Filter::and(Vec::<Node>::new());
        for _ in 0..100_000 {
            g = Filter::and([Node::from(g)]);
        }
        assert!(matches!(measure(&g, &p), Err(FilterError::TooDeep { .. })));
        drop_deep(g);
    }

    /// Drops a deep tree without recursing (the AST's drop would).
    fn drop_deep(mut g: Filter) {
        let mut stack = std::mem::take(&mut g.rules);
        while let Some(n) = stack.pop() {
            if let Node::Group(mut h) = n {
                stack.append(&mut h.rules);
            }
        }
    }

    #[test]
    fn the_limit_counts_nested_rules_and_comes_before_rule_errors() {
        let p = LimitPolicy::default().with_max_conditions(2);
        let three = Filter::and([field("nope").gt(0), field("n").gt(1), field("n").gt(2)]);
        assert_eq!(
            Plan::new(&three, &kind(), &p).unwrap_err(),
            FilterError::TooManyConditions { count: 3, limit: 2 }
        );
        let ok = Filter::and([field("n").gt(0), field("s").eq("x")]);
        assert!(Plan::new(&ok, &kind(), &p).is_ok());
    }

    #[test]
    fn the_first_bad_rule_in_order_is_named_by_its_path() {
        let p = LimitPolicy::default();
        let f = Filter::and([
            Node::from(field("n").gt(0)),
            Node::from(Filter::or([
                Node::from(field("s").within_last(3, TimeUnit::Days)),
                Node::from(field("nope").gt(0)),
            ])),
        ]);
        let e = Plan::new(&f, &kind(), &p).unwrap_err();
        assert!(
            matches!(&e, FilterError::OperatorNotForType { path, .. } if path == "rules[1].rules[0].operator"),
            "{e:?}"
        );
    }
}
