//! JSON text read strictly into a [`serde_json::Value`]: a member named
//! twice in one object is an error with its path (serde_json keeps the last
//! silently), and an integer literal outside 64 bits keeps its exact value
//! (serde_json rounds it to the nearest double).
//!
//! Such an integer, within `i128`, becomes `{"$bigint": "<digits>"}`, the
//! form react-querybuilder writes a BigInt in; filter literals read it back
//! as an exact integer. Past `i128` it stays the nearest double.
//!
//! The caller bounds the nesting first: the reader recurses once per level.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The member under which a big integer is kept.
pub(crate) const BIGINT: &str = "$bigint";

/// Why text did not read.
#[derive(Debug)]
pub(crate) enum StrictError {
    /// Not JSON (serde_json's message, with line and column).
    Syntax(String),
    /// A member named twice: the object's path (`rules[0]`, empty for the
    /// root) and the member.
    Duplicate { path: String, member: String },
}

/// Parses `text` into a value, strictly.
pub(crate) fn parse(text: &str) -> Result<Value, StrictError> {
    let ctx = Ctx {
        path: RefCell::new(Vec::new()),
        duplicate: RefCell::new(None),
        numbers: number_tokens(text),
        next_number: Cell::new(0),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = Seed { ctx: &ctx }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|_| v));
    match (result, ctx.duplicate.into_inner()) {
        (_, Some((path, member))) => Err(StrictError::Duplicate { path, member }),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(StrictError::Syntax(e.to_string())),
    }
}

/// Reads a value from any serde deserializer, refusing a member named twice
/// in one object (with its path) as [`parse`] does. Integers past 64 bits
/// are as the deserializer gives them: there is no text to read them from.
pub(crate) fn from_deserializer<'de, D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let ctx = Ctx {
        path: RefCell::new(Vec::new()),
        duplicate: RefCell::new(None),
        numbers: Vec::new(),
        next_number: Cell::new(0),
    };
    Seed { ctx: &ctx }.deserialize(d)
}

/// The text of every number token, in order, found by a scan that skips
/// strings (JSON's only other tokens are `true`, `false`, `null` and
/// punctuation).
fn number_tokens(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut strings = Strings::default();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if strings.skips(b) {
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                i += 1;
            }
            out.push(&text[start..i]);
        } else {
            i += 1;
        }
    }
    out
}

/// Tells, byte by byte, which bytes of JSON text belong to strings (their
/// quotes included), so that a scan can look at the structure alone.
#[derive(Debug, Default)]
pub(crate) struct Strings {
    inside: bool,
    escaped: bool,
}

impl Strings {
    /// Whether `b`, the next byte of the text, is part of a string.
    pub(crate) fn skips(&mut self, b: u8) -> bool {
        if self.inside {
            match b {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.inside = false,
                _ => {}
            }
            true
        } else {
            self.inside = b == b'"';
            self.inside
        }
    }
}

struct Ctx<'t> {
    path: RefCell<Vec<Part>>,
    duplicate: RefCell<Option<(String, String)>>,
    numbers: Vec<&'t str>,
    next_number: Cell<usize>,
}

enum Part {
    Member(String),
    Index(usize),
}

impl Ctx<'_> {
    fn path(&self) -> String {
        let mut out = String::new();
        for p in self.path.borrow().iter() {
            match p {
                Part::Member(m) if out.is_empty() => out.push_str(m),
                Part::Member(m) => {
                    out.push('.');
                    out.push_str(m);
                }
                Part::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// The text of the number being visited.
    fn number(&self) -> Option<&str> {
        let i = self.next_number.get();
        self.next_number.set(i + 1);
        self.numbers.get(i).copied()
    }
}

#[derive(Clone, Copy)]
struct Seed<'a, 't> {
    ctx: &'a Ctx<'t>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        self.ctx.number();
        Ok(Value::from(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        self.ctx.number();
        Ok(Value::from(n))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        let text = self.ctx.number();
        // An integer literal that serde_json read as a double: keep it exact.
        if let Some(t) = text.filter(|t| !t.contains(['.', 'e', 'E'])) {
            if let Ok(i) = t.parse::<i128>() {
                return Ok(Value::Object(Map::from_iter([(
                    BIGINT.to_string(),
                    Value::from(i.to_string()),
                )])));
            }
        }
        Ok(serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::from(s))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            self.ctx.path.borrow_mut().push(Part::Index(out.len()));
            let next = seq.next_element_seed(self);
            self.ctx.path.borrow_mut().pop();
            match next? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(member) = map.next_key::<String>()? {
            if out.contains_key(&member) {
                let path = self.ctx.path();
                let error = match path.as_str() {
                    "" => de::Error::custom(format_args!("duplicate member `{member}`")),
                    p => de::Error::custom(format_args!("{p}: duplicate member `{member}`")),
                };
                *self.ctx.duplicate.borrow_mut() = Some((path, member));
                return Err(error);
            }
            self.ctx.path.borrow_mut().push(Part::Member(member.clone()));
            let v = map.next_value_seed(self);
            self.ctx.path.borrow_mut().pop();
            out.insert(member, v?);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_with_their_path() {
        let e = parse(r#"{"rules": [{"a": 1}, {"value": 1, "value": 2}]}"#).unwrap_err();
        assert!(
            matches!(&e, StrictError::Duplicate { path, member } if path == "rules[1]" && member == "value"),
            "{e:?}"
        );
        let e = parse(r#"{"k": 1, "k": 1}"#).unwrap_err();
        assert!(
            matches!(&e, StrictError::Duplicate { path, .. } if path.is_empty()),
            "{e:?}"
        );
        assert!(parse(r#"{"a": {"k": 1}, "b": {"k": 1}}"#).is_ok());
    }

    #[test]
    fn big_integers_stay_exact_and_small_numbers_are_untouched() {
        let v = parse(r#"[-9223372036854775809, 18446744073709551617, 1, -2, 2.5, 1e3, "-7"]"#);
        let v = v.unwrap();
        assert_eq!(v[0][BIGINT], "-9223372036854775809");
        assert_eq!(v[1][BIGINT], "18446744073709551617");
        assert_eq!((v[2].clone(), v[3].clone()), (Value::from(1), Value::from(-2)));
        assert_eq!(v[4], Value::from(2.5));
        assert_eq!(v[5], Value::from(1000.0));
        assert_eq!(v[6], "-7");
        assert!(matches!(parse("[1e400]"), Err(StrictError::Syntax(_))));
        let huge = "1".repeat(50);
        assert!(parse(&huge).unwrap().is_f64());
    }
}
