//! The JSON form: react-querybuilder's group/rule shape, as the contract fixes it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::ast::{
    Combinator, CountWindow, Duration, EventCount, EventWhere, Filter, Group, Literal, MatchMode, Nested, Node,
    Operator, Rule, TagMatch, Threshold, TimeUnit, Trend, TrendMeasure, UsageChange,
};
use super::path::Path;
use crate::error::FilterError;
use crate::strict_json::{self, StrictError, BIGINT};

impl Filter {
    /// Parses a filter from JSON text.
    ///
    /// Members that react-querybuilder adds for its own use (`id`, `path`,
    /// `valueSource: "value"`, `disabled: false`) are accepted and ignored;
    /// any other unknown member is an error, so that a typo is not silently
    /// dropped, and so is a member named twice in one object. Integer
    /// literals are exact whatever their size within ±2^127 (also written
    /// `{"$bigint": "<digits>"}`); past that, and for numbers with a
    /// fraction or exponent, a literal is the nearest double. JSON nested deeper than 127 arrays and objects is refused
    /// before it is parsed, by a scan that does not recurse, so that input
    /// nested a million deep is an error even on a small stack. Every filter
    /// within [`MAX_DEPTH_CAP`](crate::filter::MAX_DEPTH_CAP) levels of
    /// groups fits.
    ///
    /// # Errors
    ///
    /// [`FilterError::Json`] for invalid JSON, [`FilterError::Shape`] for a
    /// group or rule of the wrong shape, [`FilterError::UnknownOperator`],
    /// and [`FilterError::BadValue`] for a malformed duration; each with the
    /// path of the node.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::Filter;
    ///
    /// let f = Filter::from_json(r#"{"combinator": "and", "rules": [
    ///     {"field": "health", "operator": "<", "value": 30}]}"#)?;
    /// assert_eq!(f.rules.len(), 1);
    /// let err = Filter::from_json(r#"{"combinator": "and", "rules": [
    ///     {"field": "health", "operator": "less", "value": 30}]}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "rules[0].operator: unknown operator `less`");
    /// # Ok::<(), segments::FilterError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Filter, FilterError> {
        check_depth(text)?;
        let v = strict_json::parse(text).map_err(|e| match e {
            StrictError::Syntax(message) => FilterError::Json { message },
            StrictError::Duplicate { path, member } => {
                shape(&Path::root().member(&path), format!("duplicate member `{member}`"))
            }
        })?;
        Filter::from_json_value(&v)
    }

    /// As [`Filter::from_json`], from a parsed JSON value. A value nested
    /// deeper than 127 arrays and objects (which a caller can build in
    /// memory) is refused by a walk that does not recurse, before anything
    /// reads it.
    ///
    /// # Errors
    ///
    /// As [`Filter::from_json`]; [`FilterError::Json`] only for nesting.
    pub fn from_json_value(v: &Value) -> Result<Filter, FilterError> {
        check_value_depth(v)?;
        root_from_json(v)
    }

    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        group_to_json(self)
    }
}

/// The deepest nesting of arrays and objects that filter JSON may have:
/// what serde_json's parser allows.
pub(crate) const MAX_JSON_DEPTH: usize = 127;

/// Refuses JSON nested deeper than [`MAX_JSON_DEPTH`], without parsing it.
fn check_depth(text: &str) -> Result<(), FilterError> {
    let mut depth = 0usize;
    let mut strings = strict_json::Strings::default();
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if strings.skips(b) {
            continue;
        }
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    let before = &text.as_bytes()[..i];
                    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
                    let column = i - before.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1) + 1;
                    return Err(FilterError::Json {
                        message: format!(
                            "nested deeper than {MAX_JSON_DEPTH} arrays and objects at byte {i} (line {line}, column {column})"
                        ),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a value nested deeper than [`MAX_JSON_DEPTH`], with a heap stack.
fn check_value_depth(v: &Value) -> Result<(), FilterError> {
    let mut stack = vec![(v, 1usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if depth > MAX_JSON_DEPTH {
            return Err(FilterError::Json {
                message: format!("nested deeper than {MAX_JSON_DEPTH} arrays and objects"),
            });
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    Ok(())
}

fn shape(path: &Path, message: impl Into<String>) -> FilterError {
    FilterError::Shape {
        path: path.to_string(),
        message: message.into(),
    }
}

/// `got`, or a shape error at `path.member` saying what was expected and found.
fn expect<T>(got: Option<T>, val: &Value, path: &Path, member: &str, expected: &str) -> Result<T, FilterError> {
    got.ok_or_else(|| {
        shape(
            &path.member(member),
            format!("expected {expected}, found {}", describe(val)),
        )
    })
}

pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {}", Value::from(s.as_str())),
        Value::Array(a) => format!("an array of {}", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// Members react-querybuilder adds that never change what a node means.
fn bookkeeping(name: &str) -> bool {
    matches!(name, "id" | "path" | "meta")
}

/// A member that must be a boolean.
fn flag(val: &Value, path: &Path, member: &str) -> Result<bool, FilterError> {
    expect(val.as_bool(), val, path, member, "a boolean")
}

/// The placeholder react-querybuilder uses for "nothing chosen yet".
const PLACEHOLDER: &str = "~";

fn unfinished(path: &Path, what: impl Into<String>) -> FilterError {
    FilterError::Unfinished {
        path: path.to_string(),
        what: what.into(),
    }
}

/// Whether a node is muted (`"muted": true`): left out as if absent.
fn muted(v: &Value, path: &Path) -> Result<bool, FilterError> {
    match v.as_object().and_then(|o| o.get("muted")) {
        None => Ok(false),
        Some(m) => flag(m, path, "muted"),
    }
}

/// The root group; a muted root is left out, which leaves the empty `and`.
fn root_from_json(v: &Value) -> Result<Group, FilterError> {
    let path = Path::root();
    if muted(v, &path)? {
        // Still a group of the right shape, so that a typo is not hidden.
        group_from_json(v, &path)?;
        return Ok(Group::empty());
    }
    group_from_json(v, &path)
}

fn group_from_json(v: &Value, path: &Path) -> Result<Group, FilterError> {
    let obj = v
        .as_object()
        .ok_or_else(|| shape(path, format!("expected a group object, found {}", describe(v))))?;
    let mut combinator = None;
    let mut not = false;
    let mut rules = None;
    for (name, val) in obj {
        match name.as_str() {
            "combinator" => {
                combinator = Some(val.as_str().and_then(Combinator::from_name).ok_or_else(|| {
                    shape(
                        &path.member("combinator"),
                        format!("expected \"and\", \"or\" or \"xor\", found {}", describe(val)),
                    )
                })?)
            }
            "not" => not = flag(val, path, "not")?,
            "rules" => rules = Some(expect(val.as_array(), val, path, "rules", "an array")?),
            // A lock on editing, not on evaluation; muting is read by the parent.
            "disabled" | "muted" => {
                flag(val, path, name)?;
            }
            other if bookkeeping(other) => {}
            other => return Err(shape(&path.member(other), "unknown member of a group")),
        }
    }
    let rules = rules.ok_or_else(|| shape(path, "a group needs `rules`"))?;
    let Some(combinator) = combinator else {
        return independent(rules, not, path);
    };
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        if r.is_string() {
            return Err(shape(
                &path.rule(i),
                format!(
                    "expected a rule or group object, found {} (combinators between rules go in a group without `combinator`)",
                    describe(r)
                ),
            ));
        }
        if let Some(n) = node_from_json(r, &path.rule(i))? {
            out.push(n);
        }
    }
    Ok(Group {
        combinator,
        not,
        rules: out,
    })
}

/// A rule or group; `None` when it is muted.
fn node_from_json(v: &Value, path: &Path) -> Result<Option<Node>, FilterError> {
    match v.as_object() {
        Some(_) if muted(v, path)? => Ok(None),
        Some(o) if o.contains_key("rules") => Ok(Some(Node::Group(group_from_json(v, path)?))),
        Some(o) => Ok(Some(Node::Rule(rule_from_json(o, path)?))),
        None => Err(shape(
            path,
            format!("expected a rule or group object, found {}", describe(v)),
        )),
    }
}

/// A group with independent combinators, `[node, "and", node, "or", node]`,
/// read with SQL's precedence: `and` binds tighter than `xor`, `xor`
/// tighter than `or`. A muted node leaves out the combinator before it (or
/// after it, for the first node), as react-querybuilder's exports do.
fn independent(items: &[Value], not: bool, path: &Path) -> Result<Group, FilterError> {
    let mut nodes: Vec<Option<Node>> = Vec::with_capacity(items.len() / 2 + 1);
    let mut ops: Vec<Combinator> = Vec::with_capacity(items.len() / 2);
    for (i, item) in items.iter().enumerate() {
        let p = path.rule(i);
        if i % 2 == 0 {
            if item.is_string() {
                return Err(shape(
                    &p,
                    format!("expected a rule or group object, found {}", describe(item)),
                ));
            }
            nodes.push(node_from_json(item, &p)?);
        } else {
            let c = item.as_str().and_then(Combinator::from_name).ok_or_else(|| {
                shape(
                    &p,
                    format!(
                        "expected \"and\", \"or\" or \"xor\" between two rules (a group without `combinator` alternates rules and combinators), found {}",
                        describe(item)
                    ),
                )
            })?;
            ops.push(c);
        }
    }
    if !items.is_empty() && items.len() % 2 == 0 {
        return Err(shape(&path.rule(items.len() - 1), "a combinator needs a rule after it"));
    }
    // Leave out muted nodes with their combinator.
    let mut kept: Vec<Node> = Vec::with_capacity(nodes.len());
    let mut between: Vec<Combinator> = Vec::with_capacity(ops.len());
    for (k, n) in nodes.into_iter().enumerate() {
        if let Some(n) = n {
            if !kept.is_empty() {
                // The combinator just before this node: a muted node took
                // the one before it (or, first, the one after it) away.
                between.push(ops[k - 1]);
            }
            kept.push(n);
        }
    }
    // Or of xors of ands.
    let mut ors: Vec<Vec<Vec<Node>>> = vec![vec![Vec::new()]];
    for (k, n) in kept.into_iter().enumerate() {
        if k > 0 {
            match between[k - 1] {
                Combinator::And => {}
                Combinator::Xor => ors.last_mut().map_or((), |x| x.push(Vec::new())),
                Combinator::Or => ors.push(vec![Vec::new()]),
            }
        }
        if let Some(run) = ors.last_mut().and_then(|x| x.last_mut()) {
            run.push(n);
        }
    }
    let group = |combinator, mut rules: Vec<Node>| -> Node {
        if rules.len() == 1 {
            rules.pop().unwrap_or(Node::Group(Group::empty()))
        } else {
            Node::Group(Group {
                combinator,
                not: false,
                rules,
            })
        }
    };
    let mut ors: Vec<Node> = ors
        .into_iter()
        .map(|xors| {
            group(
                Combinator::Xor,
                xors.into_iter().map(|ands| group(Combinator::And, ands)).collect(),
            )
        })
        .collect();
    // The outermost level is the group itself, with the group's `not`.
    let (combinator, rules) = if ors.len() > 1 {
        (Combinator::Or, ors)
    } else {
        match ors.pop() {
            Some(Node::Group(mut g)) if !g.not => (g.combinator, std::mem::take(&mut g.rules)),
            Some(n) => (Combinator::And, vec![n]),
            None => (Combinator::And, Vec::new()),
        }
    };
    Ok(Group { combinator, not, rules })
}

fn rule_from_json(obj: &Map<String, Value>, path: &Path) -> Result<Rule, FilterError> {
    let mut field = None;
    let mut operator = None;
    let mut value = None;
    let mut from_field = false;
    let mut matching = None;
    let mut case_insensitive = false;
    let mut unknown: Option<&str> = None;
    for (name, val) in obj {
        match name.as_str() {
            "field" => field = Some(expect(val.as_str(), val, path, "field", "a string")?),
            "operator" => operator = Some(expect(val.as_str(), val, path, "operator", "a string")?),
            "value" => value = Some(val),
            "valueSource" => match val.as_str() {
                Some("value") => from_field = false,
                Some("field") => from_field = true,
                Some(other) => {
                    return Err(FilterError::Unsupported {
                        path: path.member("valueSource").to_string(),
                        what: format!("valueSource `{other}` (the sources are `value` and `field`)"),
                    })
                }
                None => {
                    return Err(shape(
                        &path.member("valueSource"),
                        format!("expected \"value\" or \"field\", found {}", describe(val)),
                    ))
                }
            },
            "match" => matching = Some(val),
            "caseInsensitive" => case_insensitive = flag(val, path, "caseInsensitive")?,
            "disabled" | "muted" => {
                flag(val, path, name)?;
            }
            other if bookkeeping(other) => {}
            other => unknown = unknown.or(Some(other)),
        }
    }
    if let Some(member) = unknown {
        let message = match field {
            Some(f) => format!("unknown member of the rule on field `{f}`"),
            None => "unknown member of a rule".to_string(),
        };
        return Err(shape(&path.member(member), message));
    }
    let field = field.ok_or_else(|| shape(path, "a rule needs a `field`"))?;
    if field == PLACEHOLDER || field.is_empty() {
        return Err(unfinished(&path.member("field"), "no field chosen"));
    }
    let op_text = operator.ok_or_else(|| shape(path, "a rule needs an `operator`"))?;
    if let Some(m) = matching {
        // A match mode: the operator is ignored, the value is a group.
        if from_field {
            return Err(FilterError::Unsupported {
                path: path.member("valueSource").to_string(),
                what: "valueSource `field` with a match mode".into(),
            });
        }
        let value = match_from_json(m, value, field, path)?;
        return Ok(Rule {
            field: field.to_string(),
            operator: Operator::from_name(op_text).unwrap_or(Operator::Eq),
            value: Some(value),
            case_insensitive,
        });
    }
    if op_text == PLACEHOLDER || op_text.is_empty() {
        return Err(unfinished(
            &path.member("operator"),
            format!("no operator chosen for field `{field}`"),
        ));
    }
    let operator = Operator::from_name(op_text).ok_or_else(|| FilterError::UnknownOperator {
        path: path.member("operator").to_string(),
        operator: op_text.to_string(),
    })?;
    let vp = path.member("value");
    let value = match (operator, value) {
        // A property filter on `@lastSeen:<event>` `null` and the like.
        (Operator::Null | Operator::NotNull, Some(v @ Value::Object(o))) if o.contains_key("where") => {
            Some(literal_from_json(v, &vp, field)?)
        }
        // Builders send "" or null with the operators that take no value.
        (Operator::Null | Operator::NotNull, _) => None,
        (_, None) => None,
        (_, Some(Value::String(s))) if s.is_empty() || s == PLACEHOLDER => {
            return Err(unfinished(&vp, format!("no value for field `{field}`")))
        }
        (_, Some(v)) if from_field => Some(field_refs(v, operator, field, &vp)?),
        (_, Some(v)) => Some(literal_from_json(v, &vp, field)?),
    };
    Ok(Rule {
        field: field.to_string(),
        operator,
        value,
        case_insensitive,
    })
}

/// Whether an operator takes a list (so that a text value is split on commas).
fn takes_list(op: Operator) -> bool {
    use Operator as O;
    matches!(
        op,
        O::In | O::NotIn | O::Between | O::NotBetween | O::ContainsAny | O::ContainsAll | O::ContainsNone
    )
}

/// A list as a text input writes it: split on commas, `\,` for a literal
/// comma, each item's surrounding spaces ignored, empty items dropped.
pub(crate) fn split_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The value of a rule with `"valueSource": "field"`: a field name, or for
/// the list operators a list of them (an array or a comma-separated text).
fn field_refs(v: &Value, op: Operator, field: &str, path: &Path) -> Result<Literal, FilterError> {
    let bad = |p: &Path, x: &Value| FilterError::BadValue {
        path: p.to_string(),
        field: field.to_string(),
        expected: "a field name (valueSource is `field`)".into(),
        found: describe(x),
    };
    match v {
        Value::String(s) if takes_list(op) => {
            Ok(Literal::List(split_list(s).into_iter().map(Literal::Field).collect()))
        }
        Value::String(s) => Ok(Literal::Field(s.trim().to_string())),
        Value::Array(xs) => xs
            .iter()
            .enumerate()
            .map(|(i, x)| match x.as_str() {
                Some(s) if !s.trim().is_empty() => Ok(Literal::Field(s.trim().to_string())),
                _ => Err(bad(&path.index(i), x)),
            })
            .collect::<Result<_, _>>()
            .map(Literal::List),
        other => Err(bad(path, other)),
    }
}

const MATCH_SHAPE: &str =
    r#"{"mode": "some" | "all" | "none" | "atLeast" | "atMost" | "exactly", "threshold": <number>}"#;

/// `"match": {"mode": m, "threshold": t}` with a group as the value.
fn match_from_json(m: &Value, value: Option<&Value>, field: &str, path: &Path) -> Result<Literal, FilterError> {
    let mp = path.member("match");
    let bad = |found: String| FilterError::BadValue {
        path: mp.to_string(),
        field: field.to_string(),
        expected: MATCH_SHAPE.into(),
        found,
    };
    let o = m.as_object().ok_or_else(|| bad(describe(m)))?;
    let mut mode = None;
    let mut threshold = None;
    for (name, val) in o {
        match name.as_str() {
            "mode" => {
                mode = Some(
                    val.as_str()
                        .and_then(MatchMode::from_name)
                        .ok_or_else(|| bad(format!("mode {}", describe(val))))?,
                )
            }
            "threshold" => {
                threshold = match val {
                    Value::Null => None,
                    Value::String(s) => Some(
                        s.trim()
                            .parse::<f64>()
                            .map_err(|_| bad(format!("threshold {}", describe(val))))?,
                    ),
                    v => Some(v.as_f64().ok_or_else(|| bad(format!("threshold {}", describe(v))))?),
                }
            }
            _ => return Err(shape(&mp.member(name), "unknown member of a match mode")),
        }
    }
    let mode = mode.ok_or_else(|| bad("no mode".into()))?;
    let vp = path.member("value");
    let filter = match value {
        Some(v @ Value::Object(_)) => group_from_json(v, &vp)?,
        Some(Value::String(s)) if s.is_empty() || s == PLACEHOLDER => {
            return Err(unfinished(
                &vp,
                format!("no group for the match mode of field `{field}`"),
            ))
        }
        Some(other) => {
            return Err(FilterError::BadValue {
                path: vp.to_string(),
                field: field.to_string(),
                expected: "a group tested against each tag".into(),
                found: describe(other),
            })
        }
        None => {
            return Err(unfinished(
                &vp,
                format!("no group for the match mode of field `{field}`"),
            ))
        }
    };
    Ok(Literal::Match(Box::new(TagMatch {
        mode,
        threshold,
        filter,
    })))
}

fn literal_from_json(v: &Value, path: &Path, field: &str) -> Result<Literal, FilterError> {
    Ok(match v {
        Value::Array(items) => Literal::List(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| match x {
                    Value::Object(o) if bigint(o).is_some() => literal_from_json(x, &path.index(i), field),
                    Value::Array(_) | Value::Object(_) => Err(FilterError::BadValue {
                        path: path.index(i).to_string(),
                        field: field.to_string(),
                        expected: "a number, string or boolean".into(),
                        found: describe(x),
                    }),
                    x => literal_from_json(x, &path.index(i), field),
                })
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) if o.contains_key(BIGINT) => Literal::Int(bigint(o).ok_or_else(|| FilterError::BadValue {
            path: path.to_string(),
            field: field.to_string(),
            expected: r#"{"$bigint": "<an integer>"}"#.into(),
            found: Value::Object(o.clone()).to_string(),
        })?),
        Value::Object(o) if o.contains_key("where") => {
            let filter = group_from_json(&o["where"], &path.member("where"))?;
            let rest: Map<String, Value> = o
                .iter()
                .filter(|(k, _)| *k != "where")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let value = match (rest.len(), rest.get("value")) {
                (0, _) => None,
                (1, Some(v)) => Some(literal_from_json(v, &path.member("value"), field)?),
                _ => Some(literal_from_json(&Value::Object(rest), path, field)?),
            };
            Literal::Where(Box::new(EventWhere { value, filter }))
        }
        Value::Object(o) if o.contains_key("rules") => Literal::Nested(Box::new(Nested {
            threshold: None,
            filter: group_from_json(v, path)?,
        })),
        Value::Object(o) if o.contains_key("filter") => Literal::Nested(Box::new(threshold_from_json(o, path, field)?)),
        Value::Object(o) if o.contains_key("ratio") => {
            Literal::Change(change_from_json(o).ok_or_else(|| FilterError::BadValue {
                path: path.to_string(),
                field: field.to_string(),
                expected: CHANGE_SHAPE.into(),
                found: Value::Object(o.clone()).to_string(),
            })?)
        }
        Value::Object(o) if ["by", "percent"].iter().any(|k| o.contains_key(*k)) || o.contains_key("value") => {
            Literal::Trend(trend_from_json(o, path, field)?)
        }
        Value::Object(o) if o.contains_key("count") => {
            Literal::Count(count_from_json(o).ok_or_else(|| FilterError::BadValue {
                path: path.to_string(),
                field: field.to_string(),
                expected: COUNT_SHAPE.into(),
                found: Value::Object(o.clone()).to_string(),
            })?)
        }
        Value::Object(o) => Literal::Duration(duration_from_json(o).ok_or_else(|| FilterError::BadValue {
            path: path.to_string(),
            field: field.to_string(),
            expected: r#"{"amount": <non-negative integer>, "unit": "minutes" | "hours" | "days" | "weeks"}"#.into(),
            found: Value::Object(o.clone()).to_string(),
        })?),
        scalar => scalar_literal(scalar).ok_or_else(|| FilterError::BadValue {
            path: path.to_string(),
            field: field.to_string(),
            expected: "a value".into(),
            found: describe(scalar),
        })?,
    })
}

/// The integer of `{"$bigint": "<digits>"}`, react-querybuilder's form of a
/// BigInt and the form [`Filter::from_json`] gives integer literals past 64
/// bits.
fn bigint(o: &Map<String, Value>) -> Option<i128> {
    match (o.len(), o.get(BIGINT)) {
        (1, Some(Value::String(s))) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scalar_literal(v: &Value) -> Option<Literal> {
    Some(match v {
        Value::Bool(b) => Literal::Bool(*b),
        Value::String(s) => Literal::String(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Literal::Int(i.into()),
            (None, Some(u)) => Literal::Int(u.into()),
            _ => Literal::Float(n.as_f64()?),
        },
        _ => return None,
    })
}

pub(crate) const COUNT_SHAPE: &str = r#"{"count": <non-negative integer>} with "withinLast": <duration> or "between": [<RFC 3339>, <RFC 3339>], or neither"#;

fn count_from_json(o: &Map<String, Value>) -> Option<EventCount> {
    let count = o.get("count")?.as_u64()?;
    let window = match (o.len(), o.get("withinLast"), o.get("between")) {
        (1, None, None) => CountWindow::AllTime,
        (2, Some(Value::Object(d)), None) => CountWindow::Last(duration_from_json(d)?),
        (2, None, Some(Value::Array(xs))) if xs.len() == 2 => {
            CountWindow::Between(xs[0].as_str()?.to_string(), xs[1].as_str()?.to_string())
        }
        _ => return None,
    };
    Some(EventCount { count, window })
}

pub(crate) const THRESHOLD_SHAPE: &str =
    r#"{"count": <non-negative integer>, "filter": <group>} or {"percent": <0 to 100>, "filter": <group>}"#;

pub(crate) const CHANGE_SHAPE: &str = r#"{"ratio": <positive number>, "window": {"amount": <positive integer>, "unit": "minutes" | "hours" | "days" | "weeks"}}"#;

fn threshold_from_json(o: &Map<String, Value>, path: &Path, field: &str) -> Result<Nested, FilterError> {
    let bad = || FilterError::BadValue {
        path: path.to_string(),
        field: field.to_string(),
        expected: THRESHOLD_SHAPE.into(),
        found: format!(
            "an object with members {}",
            o.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    if o.len() != 2 {
        return Err(bad());
    }
    let threshold = match (o.get("count"), o.get("percent")) {
        (Some(c), None) => Threshold::Count(c.as_u64().ok_or_else(bad)?),
        (None, Some(p)) => match p.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => Threshold::Percent(p),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    let filter = match o.get("filter") {
        Some(f) => group_from_json(f, &path.member("filter"))?,
        None => return Err(bad()),
    };
    Ok(Nested {
        threshold: Some(threshold),
        filter,
    })
}

pub(crate) const TREND_SHAPE: &str = r#"{"by": <number>, "withinLast": <duration>}, {"percent": <number>, "withinLast": <duration>} or {"value": <number>, "withinLast": <duration>}"#;

fn trend_from_json(o: &Map<String, Value>, path: &Path, field: &str) -> Result<Trend, FilterError> {
    let bad = || FilterError::BadValue {
        path: path.to_string(),
        field: field.to_string(),
        expected: TREND_SHAPE.into(),
        found: Value::Object(o.clone()).to_string(),
    };
    if o.len() != 2 {
        return Err(bad());
    }
    let window = o
        .get("withinLast")
        .and_then(Value::as_object)
        .and_then(duration_from_json)
        .ok_or_else(bad)?;
    let (name, v) = o.iter().find(|(k, _)| *k != "withinLast").ok_or_else(bad)?;
    let number = match v {
        Value::Number(_) => literal_from_json(v, &path.member(name), field)?,
        Value::Object(b) if b.contains_key(BIGINT) => literal_from_json(v, &path.member(name), field)?,
        _ => return Err(bad()),
    };
    let measure = match name.as_str() {
        "by" => TrendMeasure::By(Box::new(number)),
        "percent" => TrendMeasure::Percent(Box::new(number)),
        "value" => TrendMeasure::Value(Box::new(number)),
        _ => return Err(bad()),
    };
    Ok(Trend { measure, window })
}

fn change_from_json(o: &Map<String, Value>) -> Option<UsageChange> {
    if o.len() != 2 {
        return None;
    }
    let ratio = o.get("ratio")?.as_f64().filter(|r| r.is_finite() && *r > 0.0)?;
    let window = duration_from_json(o.get("window")?.as_object()?).filter(|d| d.amount > 0)?;
    Some(UsageChange { ratio, window })
}

fn duration_from_json(o: &Map<String, Value>) -> Option<Duration> {
    if o.len() != 2 {
        return None;
    }
    Some(Duration {
        amount: o.get("amount")?.as_u64()?,
        unit: TimeUnit::from_name(o.get("unit")?.as_str()?)?,
    })
}

fn group_to_json(g: &Group) -> Value {
    let mut m = Map::new();
    m.insert("combinator".into(), g.combinator.name().into());
    if g.not {
        m.insert("not".into(), true.into());
    }
    let rules = g
        .rules
        .iter()
        .map(|n| match n {
            Node::Group(g) => group_to_json(g),
            Node::Rule(r) => rule_to_json(r),
        })
        .collect();
    m.insert("rules".into(), Value::Array(rules));
    Value::Object(m)
}

fn rule_to_json(r: &Rule) -> Value {
    let mut m = Map::new();
    m.insert("field".into(), r.field.clone().into());
    m.insert("operator".into(), r.operator.name().into());
    let is_field = |l: &Literal| matches!(l, Literal::Field(_));
    match &r.value {
        Some(Literal::Match(t)) => {
            let mut mm = Map::new();
            mm.insert("mode".into(), t.mode.name().into());
            if let Some(x) = t.threshold {
                mm.insert("threshold".into(), f64_to_json(x));
            }
            m.insert("match".into(), Value::Object(mm));
            m.insert("value".into(), group_to_json(&t.filter));
        }
        Some(v) => {
            let fields = match v {
                Literal::List(xs) => !xs.is_empty() && xs.iter().all(is_field),
                other => is_field(other),
            };
            if fields {
                m.insert("valueSource".into(), "field".into());
            }
            m.insert("value".into(), literal_to_json(v));
        }
        None => {}
    }
    if r.case_insensitive {
        m.insert("caseInsensitive".into(), true.into());
    }
    Value::Object(m)
}

/// A finite number as JSON: an integer when it is one (as JavaScript
/// writes it), else the shortest decimal that reads back the same.
fn f64_to_json(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        (x as i64).into()
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

fn literal_to_json(l: &Literal) -> Value {
    match l {
        Literal::Bool(b) => (*b).into(),
        Literal::Int(i) => match (i64::try_from(*i), u64::try_from(*i)) {
            (Ok(x), _) => x.into(),
            (_, Ok(x)) => x.into(),
            // Beyond 64 bits, exactly.
            _ => serde_json::json!({ BIGINT: i.to_string() }),
        },
        Literal::Float(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        Literal::String(s) | Literal::Field(s) => s.clone().into(),
        // Written by `rule_to_json`, beside the `match` member.
        Literal::Match(t) => group_to_json(&t.filter),
        Literal::List(xs) => Value::Array(xs.iter().map(literal_to_json).collect()),
        Literal::Duration(d) => serde_json::json!({"amount": d.amount, "unit": d.unit.name()}),
        Literal::Count(c) => match &c.window {
            CountWindow::AllTime => serde_json::json!({"count": c.count}),
            CountWindow::Last(d) => serde_json::json!({
                "count": c.count,
                "withinLast": {"amount": d.amount, "unit": d.unit.name()},
            }),
            CountWindow::Between(a, b) => serde_json::json!({"count": c.count, "between": [a, b]}),
        },
        Literal::Change(c) => serde_json::json!({
            "ratio": c.ratio,
            "window": {"amount": c.window.amount, "unit": c.window.unit.name()},
        }),
        Literal::Trend(t) => {
            let (name, n) = match &t.measure {
                TrendMeasure::By(n) => ("by", n),
                TrendMeasure::Percent(n) => ("percent", n),
                TrendMeasure::Value(n) => ("value", n),
            };
            serde_json::json!({
                name: literal_to_json(n),
                "withinLast": {"amount": t.window.amount, "unit": t.window.unit.name()},
            })
        }
        Literal::Where(w) => {
            let filter = group_to_json(&w.filter);
            let mut m = match w.value.as_ref().map(literal_to_json) {
                Some(Value::Object(m)) if matches!(w.value, Some(Literal::Count(_) | Literal::Change(_))) => m,
                Some(v) => Map::from_iter([("value".to_string(), v)]),
                None => Map::new(),
            };
            m.insert("where".into(), filter);
            Value::Object(m)
        }
        Literal::Nested(n) => match n.threshold {
            None => group_to_json(&n.filter),
            Some(Threshold::Count(c)) => serde_json::json!({"count": c, "filter": group_to_json(&n.filter)}),
            Some(Threshold::Percent(p)) => serde_json::json!({"percent": p, "filter": group_to_json(&n.filter)}),
        },
    }
}

/// A filter's serde form is its JSON: as a JSON value in human-readable
/// formats, as JSON text in binary ones (which cannot hold a value of any
/// shape).
impl Serialize for Group {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = group_to_json(self);
        if s.is_human_readable() {
            v.serialize(s)
        } else {
            s.serialize_str(&v.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for Group {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Group, D::Error> {
        if d.is_human_readable() {
            // Strictly: a member named twice is refused, as in JSON text.
            let v = crate::strict_json::from_deserializer(d)?;
            Filter::from_json_value(&v).map_err(D::Error::custom)
        } else {
            let text = String::deserialize(d)?;
            Filter::from_json(&text).map_err(D::Error::custom)
        }
    }
}
