//! The properties of one event: names to strings, numbers and booleans.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::Value;

/// The most properties one event may carry.
pub const MAX_PROPERTIES: usize = 64;

/// The longest property name, in bytes.
pub const MAX_PROPERTY_NAME_BYTES: usize = 256;

/// The longest string value of a property, in bytes.
pub const MAX_PROPERTY_STRING_BYTES: usize = 4096;

/// What an event carries beside its name and instant: `"format": "csv"`,
/// `"rows": 1200`, `"worth": 99.5`, `"scheduled": true`.
///
/// Values are typed as they were given: [`Value::Int`], [`Value::Float`],
/// [`Value::String`] or [`Value::Bool`] (from JSON: an integer, any other
/// number, a string, `true` / `false`; `null` leaves the property out).
/// A filter over properties (`"where"` in `@count`, `@firstSeen`,
/// `@lastSeen` and `@change`; see [`filter`](crate::filter)) compares a
/// property only with a literal of its kind: a number with a number, a
/// string with a string. Instants are kept as RFC 3339 strings and compared
/// as instants by the time operators.
///
/// Bounded: at most [`MAX_PROPERTIES`] per event, names of 1 to
/// [`MAX_PROPERTY_NAME_BYTES`] bytes, strings of at most
/// [`MAX_PROPERTY_STRING_BYTES`], floats finite; a write breaking a bound
/// is refused ([`StoreError::BadProperty`](crate::StoreError::BadProperty)).
///
/// # Examples
///
/// ```
/// use segments::store::Properties;
/// use segments::Value;
///
/// let p = Properties::new().with("format", "csv").with("rows", 1200);
/// assert_eq!(p.get("format"), Some(&Value::String("csv".into())));
/// assert_eq!(serde_json::to_string(&p)?, r#"{"format":"csv","rows":1200}"#);
/// let back: Properties = serde_json::from_str(r#"{"rows": 1200, "format": "csv"}"#)?;
/// assert_eq!(back, p);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Properties {
    /// Sorted by name, names unique, no `Null`.
    entries: Vec<(String, Value)>,
}

impl Properties {
    /// No properties.
    pub fn new() -> Properties {
        Properties::default()
    }

    /// With property `name` set to `value` (replacing it; `Value::Null`
    /// removes it).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Properties {
        self.insert(name, value);
        self
    }

    /// Sets property `name` to `value` (`Value::Null` removes it); returns
    /// the value it replaced.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let name = name.into();
        let value = value.into();
        match (self.entries.binary_search_by(|(n, _)| n.as_str().cmp(&name)), value) {
            (Ok(i), Value::Null) => Some(self.entries.remove(i).1),
            (Ok(i), v) => Some(std::mem::replace(&mut self.entries[i].1, v)),
            (Err(_), Value::Null) => None,
            (Err(i), v) => {
                self.entries.insert(i, (name, v));
                None
            }
        }
    }

    /// The value of property `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.entries.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok()?;
        Some(&self.entries[i].1)
    }

    /// The properties, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first property that breaks a bound: its name (`""` for the
    /// count) and why.
    pub(crate) fn check(&self) -> Result<(), (String, String)> {
        if self.entries.len() > MAX_PROPERTIES {
            return Err((
                String::new(),
                format!("{} properties, more than {MAX_PROPERTIES}", self.entries.len()),
            ));
        }
        for (name, v) in &self.entries {
            let why = if name.is_empty() || name.len() > MAX_PROPERTY_NAME_BYTES {
                Some(format!("a name must be 1 to {MAX_PROPERTY_NAME_BYTES} bytes"))
            } else {
                match v {
                    Value::Int(_) | Value::Bool(_) => None,
                    Value::Float(x) if x.is_finite() => None,
                    Value::Float(_) => Some("a float must be finite".into()),
                    Value::String(s) if s.len() <= MAX_PROPERTY_STRING_BYTES => None,
                    Value::String(s) => Some(format!(
                        "a string of {} bytes, more than {MAX_PROPERTY_STRING_BYTES}",
                        s.len()
                    )),
                    other => Some(format!(
                        "a property is a string, a number or a boolean, not {}",
                        kind_of(other)
                    )),
                }
            };
            if let Some(why) = why {
                return Err((name.clone(), why));
            }
        }
        Ok(())
    }

    /// The entries, sorted by name.
    pub(crate) fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }

    /// From entries sorted by name, unique, none `Null` (as a snapshot
    /// holds them).
    pub(crate) fn from_sorted(entries: Vec<(String, Value)>) -> Properties {
        Properties { entries }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Int(_) => "an int",
        Value::Float(_) => "a float",
        Value::String(_) => "a string",
        Value::Bool(_) => "a boolean",
        Value::Timestamp(_) => "a timestamp",
        Value::Tags(_) => "tags",
    }
}

impl<S: Into<String>, V: Into<Value>> FromIterator<(S, V)> for Properties {
    fn from_iter<I: IntoIterator<Item = (S, V)>>(iter: I) -> Properties {
        let mut p = Properties::new();
        for (n, v) in iter {
            p.insert(n, v);
        }
        p
    }
}

/// A JSON object of plain values (`{"format": "csv"}`); in a binary form, a
/// sequence of names and tagged values.
impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let mut m = s.serialize_map(Some(self.entries.len()))?;
            for (n, v) in &self.entries {
                match v {
                    Value::Int(i) => m.serialize_entry(n, i)?,
                    Value::Float(x) => m.serialize_entry(n, x)?,
                    Value::String(x) => m.serialize_entry(n, x)?,
                    Value::Bool(b) => m.serialize_entry(n, b)?,
                    other => m.serialize_entry(n, &other.to_string())?,
                }
            }
            m.end()
        } else {
            let mut q = s.serialize_seq(Some(self.entries.len()))?;
            for e in &self.entries {
                q.serialize_element(e)?;
            }
            q.end()
        }
    }
}

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Properties, D::Error> {
        if d.is_human_readable() {
            d.deserialize_map(JsonVisitor)
        } else {
            d.deserialize_seq(BinaryVisitor)
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Properties;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of strings, numbers and booleans")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Properties, A::Error> {
        let mut p = Reading::default();
        while let Some(name) = m.next_key::<String>()? {
            let v = match m.next_value::<serde_json::Value>()? {
                serde_json::Value::Null => Value::Null,
                serde_json::Value::Bool(b) => Value::Bool(b),
                serde_json::Value::String(s) => Value::String(s),
                serde_json::Value::Number(n) => match (n.as_i64(), n.is_f64()) {
                    (Some(i), _) => Value::Int(i),
                    (None, true) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    (None, false) => {
                        return Err(de::Error::custom(format_args!(
                            "property `{name}`: integer {n} is past 64 bits"
                        )))
                    }
                },
                other => {
                    let what = if other.is_array() { "an array" } else { "an object" };
                    return Err(de::Error::custom(format_args!(
                        "property `{name}`: expected a string, a number, a boolean or null, found {what}"
                    )));
                }
            };
            p.add(name, v)?;
        }
        Ok(p.properties)
    }
}

struct BinaryVisitor;

impl<'de> Visitor<'de> for BinaryVisitor {
    type Value = Properties;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence of named values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut q: A) -> Result<Properties, A::Error> {
        let mut p = Reading::default();
        while let Some((n, v)) = q.next_element::<(String, Value)>()? {
            p.add(n, v)?;
        }
        Ok(p.properties)
    }
}

/// Properties read one named value at a time, in either form: a name
/// given twice is refused, also when its first value was `null` (which
/// leaves no entry to find).
#[derive(Default)]
struct Reading {
    properties: Properties,
    /// The names read with `null`: rare, so only they are kept aside.
    nulls: std::collections::HashSet<String>,
}

impl Reading {
    fn add<E: de::Error>(&mut self, name: String, value: Value) -> Result<(), E> {
        if self.properties.get(&name).is_some() || self.nulls.contains(&name) {
            return Err(E::custom(format_args!("duplicate property `{name}`")));
        }
        if matches!(value, Value::Null) {
            self.nulls.insert(name);
        } else {
            self.properties.insert(name, value);
        }
        Ok(())
    }
}
