//! The JSON form: react-querybuilder's group/rule shape, as the contract fixes it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::ast::{
    Combinator, CountWindow, Duration, EventCount, Filter, Group, Literal, Nested, Node, Operator, Rule, Threshold,
    TimeUnit, UsageChange,
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
        group_from_json(v, &Path::root())
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

/// Members react-querybuilder emits for its own bookkeeping.
fn ignorable(name: &str, v: &Value) -> bool {
    match name {
        "id" | "path" => true,
        "valueSource" => v == "value",
        "disabled" => v == &Value::Bool(false),
        _ => false,
    }
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
                combinator = Some(match val.as_str() {
                    Some("and") => Combinator::And,
                    Some("or") => Combinator::Or,
                    _ => {
                        return Err(shape(
                            &path.member("combinator"),
                            format!("expected \"and\" or \"or\", found {}", describe(val)),
                        ))
                    }
                })
            }
            "not" => not = expect(val.as_bool(), val, path, "not", "a boolean")?,
            "rules" => rules = Some(expect(val.as_array(), val, path, "rules", "an array")?),
            other if ignorable(other, val) => {}
            other => return Err(shape(&path.member(other), "unknown member of a group")),
        }
    }
    let combinator = combinator.ok_or_else(|| shape(path, "a group needs a `combinator`"))?;
    let rules = rules.ok_or_else(|| shape(path, "a group needs `rules`"))?;
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let p = path.rule(i);
        match r.as_object() {
            Some(o) if o.contains_key("rules") => out.push(Node::Group(group_from_json(r, &p)?)),
            Some(o) => out.push(Node::Rule(rule_from_json(o, &p)?)),
            None => {
                return Err(shape(
                    &p,
                    format!("expected a rule or group object, found {}", describe(r)),
                ))
            }
        }
    }
    Ok(Group {
        combinator,
        not,
        rules: out,
    })
}

fn rule_from_json(obj: &Map<String, Value>, path: &Path) -> Result<Rule, FilterError> {
    let mut field = None;
    let mut operator = None;
    let mut value = None;
    for (name, val) in obj {
        match name.as_str() {
            "field" => field = Some(expect(val.as_str(), val, path, "field", "a string")?),
            "operator" => {
                let s = expect(val.as_str(), val, path, "operator", "a string")?;
                operator = Some(Operator::from_name(s).ok_or_else(|| FilterError::UnknownOperator {
                    path: path.member("operator").to_string(),
                    operator: s.to_string(),
                })?);
            }
            "value" => value = Some(val),
            other if ignorable(other, val) => {}
            other => return Err(shape(&path.member(other), "unknown member of a rule")),
        }
    }
    let field = field.ok_or_else(|| shape(path, "a rule needs a `field`"))?;
    let operator = operator.ok_or_else(|| shape(path, "a rule needs an `operator`"))?;
    let value = match (operator, value) {
        // Builders send "" or null with the operators that take no value.
        (Operator::Null | Operator::NotNull, _) => None,
        (_, None) => None,
        (_, Some(v)) => Some(literal_from_json(v, &path.member("value"))?),
    };
    Ok(Rule {
        field: field.to_string(),
        operator,
        value,
    })
}

fn literal_from_json(v: &Value, path: &Path) -> Result<Literal, FilterError> {
    Ok(match v {
        Value::Array(items) => Literal::List(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| match x {
                    Value::Object(o) if bigint(o).is_some() => literal_from_json(x, &path.index(i)),
                    Value::Array(_) | Value::Object(_) => Err(FilterError::BadValue {
                        path: path.index(i).to_string(),
                        expected: "a number, string or boolean".into(),
                        found: describe(x),
                    }),
                    x => literal_from_json(x, &path.index(i)),
                })
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) if o.contains_key(BIGINT) => Literal::Int(bigint(o).ok_or_else(|| FilterError::BadValue {
            path: path.to_string(),
            expected: r#"{"$bigint": "<an integer>"}"#.into(),
            found: Value::Object(o.clone()).to_string(),
        })?),
        Value::Object(o) if o.contains_key("rules") => Literal::Nested(Box::new(Nested {
            threshold: None,
            filter: group_from_json(v, path)?,
        })),
        Value::Object(o) if o.contains_key("filter") => Literal::Nested(Box::new(threshold_from_json(o, path)?)),
        Value::Object(o) if o.contains_key("ratio") => {
            Literal::Change(change_from_json(o).ok_or_else(|| FilterError::BadValue {
                path: path.to_string(),
                expected: CHANGE_SHAPE.into(),
                found: Value::Object(o.clone()).to_string(),
            })?)
        }
        Value::Object(o) if o.contains_key("count") => {
            Literal::Count(count_from_json(o).ok_or_else(|| FilterError::BadValue {
                path: path.to_string(),
                expected: COUNT_SHAPE.into(),
                found: Value::Object(o.clone()).to_string(),
            })?)
        }
        Value::Object(o) => Literal::Duration(duration_from_json(o).ok_or_else(|| FilterError::BadValue {
            path: path.to_string(),
            expected: r#"{"amount": <non-negative integer>, "unit": "minutes" | "hours" | "days" | "weeks"}"#.into(),
            found: Value::Object(o.clone()).to_string(),
        })?),
        scalar => scalar_literal(scalar).ok_or_else(|| FilterError::BadValue {
            path: path.to_string(),
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

fn threshold_from_json(o: &Map<String, Value>, path: &Path) -> Result<Nested, FilterError> {
    let bad = || FilterError::BadValue {
        path: path.to_string(),
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
            Node::Rule(r) => {
                let mut m = Map::new();
                m.insert("field".into(), r.field.clone().into());
                m.insert("operator".into(), r.operator.name().into());
                if let Some(v) = &r.value {
                    m.insert("value".into(), literal_to_json(v));
                }
                Value::Object(m)
            }
        })
        .collect();
    m.insert("rules".into(), Value::Array(rules));
    Value::Object(m)
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
        Literal::String(s) => s.clone().into(),
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
            let v = Value::deserialize(d)?;
            Filter::from_json_value(&v).map_err(D::Error::custom)
        } else {
            let text = String::deserialize(d)?;
            Filter::from_json(&text).map_err(D::Error::custom)
        }
    }
}
