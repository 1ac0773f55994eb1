//! JSON rows (`{"key": "acct-1", "health": 25.5}`) decoded straight into
//! typed cells with the kind's schema, without an intermediate `Value` tree.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::batch::{check_key, time_key, Batch, FieldCells, Source};
use crate::error::StoreError;
use crate::schema::{FieldId, FieldType, KindSchema};
use crate::value::{float_key, int_key};

/// Parses the lines of `block` (the first is line `first_line`), skipping
/// blank ones, into one batch per part: the block is split across the
/// available cores, at newlines. On error, the first bad line's.
pub(crate) fn parse_block(schema: &KindSchema, block: &[u8], first_line: usize) -> Result<Vec<Batch>, StoreError> {
    let parts = super::cores();
    if parts == 1 || block.len() < (256 << 10) {
        let mut b = Batch::new(schema, Source::Lines(Vec::new()));
        parse_lines(schema, block, first_line, &mut b)?;
        return Ok(vec![b]);
    }
    // Cut at newlines near equal sizes.
    let mut cuts = vec![0];
    for k in 1..parts {
        let at = (block.len() * k / parts).max(*cuts.last().unwrap_or(&0));
        let cut = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i + 1);
        cuts.push(cut);
    }
    cuts.push(block.len());
    std::thread::scope(|s| {
        let mut line = first_line;
        let handles: Vec<_> = cuts
            .windows(2)
            .map(|w| {
                let part = &block[w[0]..w[1]];
                let start = line;
                let rows = newlines(part);
                line += rows;
                // Made here, so that its buffers are of this thread's
                // arena, not a short-lived worker's.
                let mut b = Batch::for_rows(schema, Source::Lines(Vec::new()), rows + 1, part.len());
                s.spawn(move || parse_lines(schema, part, start, &mut b).map(|()| b))
            })
            .collect();
        // In part order, so the first bad line's error comes first.
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// The lines of `bytes` with where each starts, as
/// `bytes.split(|&b| b == b'\n')` has them (the last runs to the end),
/// found by memchr (SIMD) rather than a byte at a time.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> + '_ {
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .map(move |end| {
            let at = start;
            start = end + 1;
            (at, &bytes[at..end])
        })
}

pub(crate) fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// Parses the lines of `block` into `out`, noting each row's line.
pub(crate) fn parse_lines(
    schema: &KindSchema,
    block: &[u8],
    first_line: usize,
    out: &mut Batch,
) -> Result<(), StoreError> {
    // Checked once here, the lines' strings need no check of their own.
    let text = std::str::from_utf8(block);
    let mut scratch = super::flat_json::Scratch::default();
    for (i, (at, raw)) in lines(block).enumerate() {
        let line = first_line + i;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Valid UTF-8 cut at newlines is valid UTF-8.
        let row = match text {
            Ok(t) => Ok(&t[at..at + raw.len()]),
            Err(_) => Err(raw),
        };
        // The common shape read by the scanner; the rest, and every
        // error, by serde_json.
        let fast = row.is_ok_and(|r| super::flat_json::row(schema, r, out, &mut scratch));
        if !fast {
            parse_row_in(schema, row, out).map_err(|e| StoreError::AtLine {
                line,
                source: Box::new(e),
            })?;
        }
        if let Source::Lines(lines) = &mut out.source {
            lines.push(line);
        }
    }
    Ok(())
}

/// Parses one JSON object into a row of `out`. On error, `out` may hold
/// part of the row: a failed parse discards its batch.
pub(crate) fn parse_row(schema: &KindSchema, text: &str, out: &mut Batch) -> Result<(), StoreError> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    parse_row_in(schema, Ok(text), out)
}

/// Runs the row visitor over one JSON text to its end.
fn visit<'de, R: serde_json::de::Read<'de>>(
    schema: &KindSchema,
    mut de: serde_json::Deserializer<R>,
    out: &mut Batch,
) -> serde_json::Result<Parsed> {
    let parsed = RowSeed { schema, out }.deserialize(&mut de)?;
    de.end()?;
    Ok(parsed)
}

/// As [`parse_row`], over text checked to be UTF-8 or bytes not yet checked.
fn parse_row_in(schema: &KindSchema, row: Result<&str, &[u8]>, out: &mut Batch) -> Result<(), StoreError> {
    let parsed = match row {
        Ok(s) => {
            let s = s.strip_suffix('\r').unwrap_or(s);
            visit(schema, serde_json::Deserializer::from_str(s), out)
        }
        Err(b) => {
            let b = b.strip_suffix(b"\r").unwrap_or(b);
            visit(schema, serde_json::Deserializer::from_slice(b), out)
        }
    };
    // Bytes that are not UTF-8 are reported as such, wherever they are
    // (text already checked is not checked again).
    let not_utf8 = || match row {
        Ok(_) => None,
        Err(b) => std::str::from_utf8(b).is_err().then(|| StoreError::Io {
            message: "stream did not contain valid UTF-8".into(),
        }),
    };
    let parsed = parsed.map_err(|e| {
        if let Some(e) = not_utf8() {
            return e;
        }
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
    if !parsed.key {
        return Err(StoreError::MissingKey);
    }
    let key = out.pending_key();
    check_key(key)?;
    if let Some((field, problem)) = parsed.problem {
        if let Some(e) = not_utf8() {
            return Err(e);
        }
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
    out.end_row();
    Ok(())
}

/// What a row's parse found besides its cells, which went into the batch.
struct Parsed {
    /// Whether a string key was given.
    key: bool,
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
    out: &'a mut Batch,
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
            key: false,
            problem: None,
        };
        let batch = self.out;
        let row = batch.row();
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
                    if key_seen {
                        map.next_value::<IgnoredAny>()?;
                        out.problem.get_or_insert(("key".into(), Problem::Duplicate));
                    } else {
                        out.key = map.next_value_seed(KeySeed(&mut *batch))?;
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
            let seed = CellSeed {
                ty,
                row,
                cells: batch.field(id),
            };
            if let Err(p) = map.next_value_seed(seed)? {
                out.problem.get_or_insert((name.to_string(), p));
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

/// A key, written into the batch if it is a string (true); any other JSON
/// value is read and ignored (false): a row without a string key.
struct KeySeed<'a>(&'a mut Batch);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<bool, E> {
        self.0.push_key(s);
        Ok(true)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<bool, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// Decodes one member's value for a field of the given type into the
/// batch. A value of the wrong type is consumed and reported as
/// `Err(Problem)`, not as a parse error.
struct CellSeed<'a> {
    ty: FieldType,
    row: u32,
    cells: &'a mut FieldCells,
}

type CellResult = Result<(), Problem>;

impl CellSeed<'_> {
    fn mismatch(&self, found: impl Into<String>) -> CellResult {
        Err(Problem::Mismatch {
            expected: self.ty,
            found: found.into(),
        })
    }
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_> {
    type Value = CellResult;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<CellResult, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = CellResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} value", self.ty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<CellResult, E> {
        self.cells.null(self.row);
        Ok(Ok(()))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<CellResult, E> {
        Ok(match self.ty {
            FieldType::Bool => {
                self.cells.bool(self.row, b);
                Ok(())
            }
            _ => self.mismatch(format!("boolean {b}")),
        })
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<CellResult, E> {
        Ok(match self.ty {
            FieldType::Int => {
                self.cells.num(self.row, int_key(i));
                Ok(())
            }
            FieldType::Float => {
                self.cells.num(self.row, float_key(i as f64));
                Ok(())
            }
            _ => self.mismatch(format!("number {i}")),
        })
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<CellResult, E> {
        Ok(match self.ty {
            FieldType::Int => match i64::try_from(u) {
                Ok(i) => {
                    self.cells.num(self.row, int_key(i));
                    Ok(())
                }
                Err(_) => self.mismatch(format!("integer {u} beyond the i64 range")),
            },
            FieldType::Float => {
                self.cells.num(self.row, float_key(u as f64));
                Ok(())
            }
            _ => self.mismatch(format!("number {u}")),
        })
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<CellResult, E> {
        Ok(match self.ty {
            FieldType::Float => {
                self.cells.num(self.row, float_key(x));
                Ok(())
            }
            FieldType::Int => self.mismatch(format!("non-integer number {x:?}")),
            _ => self.mismatch(format!("number {x:?}")),
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<CellResult, E> {
        Ok(match self.ty {
            FieldType::String => {
                self.cells.str(self.row, s);
                Ok(())
            }
            FieldType::Timestamp => match time_key(s) {
                Ok(k) => {
                    self.cells.num(self.row, k);
                    Ok(())
                }
                Err(reason) => Err(Problem::Timestamp {
                    value: s.to_string(),
                    reason,
                }),
            },
            _ => self.mismatch(format!("string {}", serde_json::Value::from(s))),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CellResult, A::Error> {
        if self.ty != FieldType::Tags {
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
            None => {
                self.cells.tags(self.row, tags);
                Ok(())
            }
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CellResult, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.mismatch("object"))
    }
}
