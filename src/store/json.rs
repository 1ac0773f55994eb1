//! JSON rows (`{"key": "acct-1", "health": 25.5}`) decoded straight into
//! typed cells with the kind's schema, without an intermediate `Value` tree.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::column::Cell;
use super::prepared::{check_key, num_cell_float, num_cell_int, tags_cell, time_cell, Prepared};
use crate::error::StoreError;
use crate::schema::{FieldId, FieldType, KindSchema};

/// Parses the lines of `block` (the first is line `first_line`), skipping
/// blank ones, into `out` with their line numbers in `lines`; the block is
/// split across the available cores. On error, the first bad line's.
pub(crate) fn parse_block(
    schema: &KindSchema,
    block: &[u8],
    first_line: usize,
    out: &mut Vec<Prepared>,
    lines: &mut Vec<usize>,
) -> Result<(), StoreError> {
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if parts == 1 || block.len() < (256 << 10) {
        return parse_lines(schema, block, first_line, out, lines);
    }
    // Cut at newlines near equal sizes.
    let mut cuts = vec![0];
    for k in 1..parts {
        let at = (block.len() * k / parts).max(*cuts.last().unwrap_or(&0));
        let cut = block[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(block.len(), |i| at + i + 1);
        cuts.push(cut);
    }
    cuts.push(block.len());
    type Part = Result<(Vec<Prepared>, Vec<usize>), StoreError>;
    let results: Vec<Part> = std::thread::scope(|s| {
        let mut line = first_line;
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let part = &block[w[0]..w[1]];
                let start = line;
                line += newlines(part);
                s.spawn(move || {
                    let (mut o, mut l) = (Vec::new(), Vec::new());
                    parse_lines(schema, part, start, &mut o, &mut l).map(|_| (o, l))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for r in results {
        let (o, l) = r?;
        out.extend(o);
        lines.extend(l);
    }
    Ok(())
}

pub(crate) fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

pub(crate) fn parse_lines(
    schema: &KindSchema,
    block: &[u8],
    first_line: usize,
    out: &mut Vec<Prepared>,
    lines: &mut Vec<usize>,
) -> Result<(), StoreError> {
    for (i, raw) in block.split(|&b| b == b'\n').enumerate() {
        let line = first_line + i;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = |e| StoreError::AtLine {
            line,
            source: Box::new(e),
        };
        let text = std::str::from_utf8(raw).map_err(|_| {
            at(StoreError::Io {
                message: "stream did not contain valid UTF-8".into(),
            })
        })?;
        out.push(parse_row(schema, text).map_err(at)?);
        lines.push(line);
    }
    Ok(())
}

/// Parses one JSON object into a prepared row.
pub(crate) fn parse_row(schema: &KindSchema, text: &str) -> Result<Prepared, StoreError> {
    let text = text.trim_end_matches(['\n', '\r']);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = RowSeed { schema }
        .deserialize(&mut de)
        .and_then(|r| de.end().map(|_| r))
        .map_err(|e| {
            // The caller names the line; keep serde's message and column only.
            let mut message = e.to_string();
            if let Some(i) = message.rfind(" at line ") {
                message.truncate(i);
            }
            if e.column() > 0 {
                message = format!("{message} at column {}", e.column());
            }
            StoreError::Json { message }
        })?;
    let key = parsed.key.ok_or(StoreError::MissingKey)?;
    check_key(&key)?;
    if let Some((field, problem)) = parsed.problem {
        let key = key.to_string();
        return Err(match problem {
            Problem::UnknownField => StoreError::UnknownField { key, field },
            Problem::Duplicate => StoreError::DuplicateMember { key, member: field },
            Problem::Mismatch { expected, found } => StoreError::TypeMismatch {
                key,
                field,
                expected,
                found,
            },
            Problem::Timestamp { value, reason } => StoreError::InvalidTimestamp {
                key,
                field,
                value,
                reason,
            },
        });
    }
    Ok(Prepared {
        key: key.into_boxed_str(),
        cells: parsed.cells,
    })
}

struct Parsed {
    key: Option<String>,
    cells: Vec<(FieldId, Option<Cell>)>,
    /// The first problem met, by field name; reported once the key is known.
    problem: Option<(String, Problem)>,
}

enum Problem {
    UnknownField,
    Duplicate,
    Mismatch { expected: FieldType, found: String },
    Timestamp { value: String, reason: String },
}

struct RowSeed<'a> {
    schema: &'a KindSchema,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Parsed;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with a string `key`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut out = Parsed {
            key: None,
            cells: Vec::with_capacity(self.schema.len()),
            problem: None,
        };
        let mut key_seen = false;
        // Fields seen: a mask for most schemas, a vector past 64 fields.
        let mut mask = 0u64;
        let mut wide = if self.schema.len() > 64 {
            vec![false; self.schema.len()]
        } else {
            Vec::new()
        };
        while let Some(member) = map.next_key_seed(MemberSeed { schema: self.schema })? {
            let id = match member {
                Member::Key => {
                    let key = map.next_value::<Option<KeyString>>()?.and_then(|k| k.0);
                    if key_seen {
                        out.problem.get_or_insert(("key".into(), Problem::Duplicate));
                    } else {
                        out.key = key;
                    }
                    key_seen = true;
                    continue;
                }
                Member::Unknown(name) => {
                    map.next_value::<IgnoredAny>()?;
                    out.problem.get_or_insert((name, Problem::UnknownField));
                    continue;
                }
                Member::Field(id) => id,
            };
            let (name, ty) = self.schema.field(id).unwrap_or(("", FieldType::Int));
            let i = id.0 as usize;
            let again = match wide.get_mut(i) {
                Some(seen) => std::mem::replace(seen, true),
                None if i < 64 => {
                    let was = mask & (1 << i) != 0;
                    mask |= 1 << i;
                    was
                }
                None => false,
            };
            if again {
                map.next_value::<IgnoredAny>()?;
                out.problem.get_or_insert((name.to_string(), Problem::Duplicate));
                continue;
            }
            match map.next_value_seed(CellSeed(ty))? {
                Ok(cell) => out.cells.push((id, cell)),
                Err(p) => {
                    out.problem.get_or_insert((name.to_string(), p));
                }
            }
        }
        Ok(out)
    }
}

/// A member name, resolved against the schema without allocating.
enum Member {
    Key,
    Field(FieldId),
    Unknown(String),
}

struct MemberSeed<'a> {
    schema: &'a KindSchema,
}

impl<'de> DeserializeSeed<'de> for MemberSeed<'_> {
    type Value = Member;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberSeed<'_> {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Member, E> {
        if name == "key" {
            return Ok(Member::Key);
        }
        Ok(self
            .schema
            .field_id(name)
            .map_or_else(|| Member::Unknown(name.to_string()), Member::Field))
    }
}

/// A key: `Some` for a string, `None` for any other JSON value.
struct KeyString(Option<String>);

impl<'de> de::Deserialize<'de> for KeyString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<KeyString, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyString, E> {
                Ok(KeyString(Some(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<KeyString, E> {
                Ok(KeyString(Some(s)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<KeyString, E> {
                Ok(KeyString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<KeyString, E> {
                Ok(KeyString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<KeyString, E> {
                Ok(KeyString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<KeyString, E> {
                Ok(KeyString(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<KeyString, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KeyString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<KeyString, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(KeyString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Decodes one member's value for a field of the given type. A value of the
/// wrong type is consumed and reported as `Err(Problem)`, not as a parse error.
struct CellSeed(FieldType);

type CellResult = Result<Option<Cell>, Problem>;

impl CellSeed {
    fn mismatch(&self, found: impl Into<String>) -> CellResult {
        Err(Problem::Mismatch {
            expected: self.0,
            found: found.into(),
        })
    }
}

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = CellResult;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<CellResult, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = CellResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} value", self.0)
    }

    fn visit_unit<E: de::Error>(self) -> Result<CellResult, E> {
        Ok(Ok(None))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<CellResult, E> {
        Ok(match self.0 {
            FieldType::Bool => Ok(Some(Cell::Bool(b))),
            _ => self.mismatch(format!("boolean {b}")),
        })
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<CellResult, E> {
        Ok(match self.0 {
            FieldType::Int => Ok(Some(num_cell_int(i))),
            FieldType::Float => Ok(Some(num_cell_float(i as f64))),
            _ => self.mismatch(format!("number {i}")),
        })
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<CellResult, E> {
        Ok(match self.0 {
            FieldType::Int => match i64::try_from(u) {
                Ok(i) => Ok(Some(num_cell_int(i))),
                Err(_) => self.mismatch(format!("integer {u} beyond the i64 range")),
            },
            FieldType::Float => Ok(Some(num_cell_float(u as f64))),
            _ => self.mismatch(format!("number {u}")),
        })
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<CellResult, E> {
        Ok(match self.0 {
            FieldType::Float => Ok(Some(num_cell_float(x))),
            FieldType::Int => self.mismatch(format!("non-integer number {x:?}")),
            _ => self.mismatch(format!("number {x:?}")),
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<CellResult, E> {
        Ok(match self.0 {
            FieldType::String => Ok(Some(Cell::Str(s.into()))),
            FieldType::Timestamp => time_cell(s).map(Some).map_err(|reason| Problem::Timestamp {
                value: s.to_string(),
                reason,
            }),
            _ => self.mismatch(format!("string {}", serde_json::Value::from(s))),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CellResult, A::Error> {
        if self.0 != FieldType::Tags {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(self.mismatch("array"));
        }
        let mut tags = Vec::new();
        let mut bad = None;
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            match v {
                serde_json::Value::String(s) => tags.push(s),
                other => {
                    bad.get_or_insert(other);
                }
            }
        }
        Ok(match bad {
            Some(v) => self.mismatch(format!("array holding {v}")),
            None => Ok(tags_cell(tags)),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CellResult, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.mismatch("object"))
    }
}
