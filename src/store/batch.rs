//! Rows checked against the schema and held by column on their way into a
//! table: what a block of JSON Lines or a run of typed rows becomes before
//! `Table::commit` applies it, one column at a time.
//!
//! A batch keeps no allocation per row: its keys are one string end to
//! end, each field's values one vector (strings as codes into the batch's
//! own dictionary), so parsing allocates a few buffers per block, and the
//! memory a load frees afterwards is a few large blocks, not millions of
//! small ones scattered over the allocator's arenas.

use super::dictionary::Dictionary;
use crate::error::StoreError;
use crate::ids::FieldId;
use crate::schema::KindSchema;
use crate::store::row::Row;
use crate::value::{float_key, int_key, FieldType, Timestamp, TimestampError, Value};

/// Where a batch's rows came from, for an error's position.
#[derive(Debug)]
pub(crate) enum Source {
    /// One write: its errors need no position.
    One,
    /// Typed rows; the batch's first is row `first` of the call.
    Rows { first: usize },
    /// JSON Lines: each row's 1-based line.
    Lines(Vec<usize>),
}

/// Rows by column; see the module's docs.
#[derive(Debug)]
pub(crate) struct Batch {
    keys: String,
    /// `key_ends[r]` is where row `r`'s key ends in `keys`.
    key_ends: Vec<usize>,
    pub(crate) source: Source,
    /// By field.
    pub(crate) fields: Vec<FieldCells>,
}

/// One field's cells in a batch.
#[derive(Debug)]
pub(crate) struct FieldCells {
    /// The rows that gave the field as `null`, ascending.
    pub(crate) nulls: Vec<u32>,
    /// The rows that gave it a value, ascending, beside their values.
    pub(crate) rows: Vec<u32>,
    pub(crate) values: Values,
}

/// A field's values in a batch, one per entry of [`FieldCells::rows`].
#[derive(Debug)]
pub(crate) enum Values {
    /// The order-preserving keys of ints, floats or timestamps.
    Num(Vec<u64>),
    /// Codes into `words`, the batch's own dictionary of the field.
    Str {
        codes: Vec<u32>,
        words: Dictionary,
    },
    Bool(Vec<bool>),
    /// Each sorted, deduplicated and non-empty.
    Tags(Vec<Box<[Box<str>]>>),
}

pub(crate) enum CellError {
    /// The value's type is not the field's.
    Mismatch,
    /// A float that is NaN or infinite.
    NonFinite,
}

impl FieldCells {
    fn new(ty: FieldType) -> FieldCells {
        let values = match ty {
            FieldType::Int | FieldType::Float | FieldType::Timestamp => Values::Num(Vec::new()),
            FieldType::String => Values::Str {
                codes: Vec::new(),
                words: Dictionary::new(),
            },
            FieldType::Bool => Values::Bool(Vec::new()),
            FieldType::Tags => Values::Tags(Vec::new()),
        };
        FieldCells {
            nulls: Vec::new(),
            rows: Vec::new(),
            values,
        }
    }

    /// Whether the batch gave this field at all (a value or a null).
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.nulls.is_empty()
    }

    pub(crate) fn null(&mut self, row: u32) {
        self.nulls.push(row);
    }

    /// A number's key, for a numeric field.
    pub(crate) fn num(&mut self, row: u32, key: u64) {
        if let Values::Num(v) = &mut self.values {
            self.rows.push(row);
            v.push(key);
        }
    }

    pub(crate) fn str(&mut self, row: u32, s: &str) {
        let code = self.word(s);
        self.code(row, code);
    }

    /// A string's code in the batch's dictionary of the field (0 for a
    /// field that is not a string).
    pub(crate) fn word(&mut self, s: &str) -> u32 {
        match &mut self.values {
            Values::Str { words, .. } => words.insert_full(s).0 as u32,
            _ => 0,
        }
    }

    /// A string given by its [`FieldCells::word`] code.
    pub(crate) fn code(&mut self, row: u32, code: u32) {
        if let Values::Str { codes, .. } = &mut self.values {
            self.rows.push(row);
            codes.push(code);
        }
    }

    pub(crate) fn bool(&mut self, row: u32, b: bool) {
        if let Values::Bool(v) = &mut self.values {
            self.rows.push(row);
            v.push(b);
        }
    }

    /// Tags as stored: sorted and deduplicated; none is a missing value.
    pub(crate) fn tags(&mut self, row: u32, mut tags: Vec<String>) {
        if tags.is_empty() {
            return self.null(row);
        }
        if let Values::Tags(v) = &mut self.values {
            tags.sort_unstable();
            tags.dedup();
            self.rows.push(row);
            v.push(tags.into_iter().map(String::into_boxed_str).collect());
        }
    }

    fn put(&mut self, row: u32, cell: Typed<'_>) {
        match cell {
            Typed::Null => self.null(row),
            Typed::Num(k) => self.num(row, k),
            Typed::Str(s) => self.str(row, s),
            Typed::Bool(b) => self.bool(row, b),
            Typed::Tags(t) => self.tags(row, t.to_vec()),
        }
    }
}

/// A typed row's value, checked for its field.
#[derive(Clone, Copy)]
enum Typed<'a> {
    Null,
    Num(u64),
    Str(&'a str),
    Bool(bool),
    Tags(&'a [String]),
}

/// `v` checked for a field of type `ty`.
fn typed(ty: FieldType, v: &Value) -> Result<Typed<'_>, CellError> {
    Ok(match (ty, v) {
        (_, Value::Null) => Typed::Null,
        (FieldType::Int, Value::Int(i)) => Typed::Num(int_key(*i)),
        (FieldType::Float, Value::Int(i)) => Typed::Num(float_key(*i as f64)),
        (FieldType::Float, Value::Float(x)) if x.is_finite() => Typed::Num(float_key(*x)),
        (FieldType::Float, Value::Float(_)) => return Err(CellError::NonFinite),
        (FieldType::String, Value::String(s)) => Typed::Str(s),
        (FieldType::Bool, Value::Bool(b)) => Typed::Bool(*b),
        (FieldType::Timestamp, Value::Timestamp(t)) => Typed::Num(int_key(t.as_micros())),
        (FieldType::Tags, Value::Tags(tags)) => Typed::Tags(tags),
        _ => return Err(CellError::Mismatch),
    })
}

/// The key a timestamp in text is stored as.
pub(crate) fn time_key(s: &str) -> Result<u64, String> {
    s.parse::<Timestamp>()
        .map(|t| int_key(t.as_micros()))
        .map_err(|e: TimestampError| e.to_string())
}

impl Batch {
    pub(crate) fn new(schema: &KindSchema, source: Source) -> Batch {
        Batch {
            keys: String::new(),
            key_ends: Vec::new(),
            source,
            fields: schema.fields().map(|(_, _, ty)| FieldCells::new(ty)).collect(),
        }
    }

    /// An empty batch with room for `rows` rows of `bytes` bytes of input,
    /// so that the buffers a parse fills are allocated by the thread that
    /// makes the batch, not by the worker that fills it.
    pub(crate) fn for_rows(schema: &KindSchema, source: Source, rows: usize, bytes: usize) -> Batch {
        let share = bytes / (schema.fields().count() + 1).max(1);
        let mut b = Batch::new(schema, source);
        if let Source::Lines(l) = &mut b.source {
            l.reserve(rows);
        }
        b.keys.reserve(share);
        b.key_ends.reserve(rows);
        for f in &mut b.fields {
            f.nulls.reserve(16);
            f.rows.reserve(rows);
            match &mut f.values {
                Values::Num(v) => v.reserve(rows),
                Values::Str { codes, words } => {
                    codes.reserve(rows);
                    *words = Dictionary::with_capacity(rows);
                    words.reserve_bytes(share);
                }
                Values::Bool(v) => v.reserve(rows),
                Values::Tags(v) => v.reserve(rows),
            }
        }
        b
    }

    /// Empties the batch, keeping its buffers for the next rows.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.key_ends.clear();
        for f in &mut self.fields {
            f.nulls.clear();
            f.rows.clear();
            match &mut f.values {
                Values::Num(v) => v.clear(),
                Values::Str { codes, words } => {
                    codes.clear();
                    words.truncate(0);
                }
                Values::Bool(v) => v.clear(),
                Values::Tags(v) => v.clear(),
            }
        }
    }

    /// The number of whole rows.
    pub(crate) fn len(&self) -> usize {
        self.key_ends.len()
    }

    /// The row being written: the next to end.
    pub(crate) fn row(&self) -> u32 {
        self.key_ends.len() as u32
    }

    /// Row `r`'s key.
    pub(crate) fn key(&self, r: usize) -> &str {
        let start = if r == 0 { 0 } else { self.key_ends[r - 1] };
        self.keys.get(start..self.key_ends[r]).unwrap_or_default()
    }

    /// The key given so far to the row being written.
    pub(crate) fn pending_key(&self) -> &str {
        let start = self.key_ends.last().copied().unwrap_or(0);
        self.keys.get(start..).unwrap_or_default()
    }

    /// Appends to the key of the row being written.
    pub(crate) fn push_key(&mut self, s: &str) {
        self.keys.push_str(s);
    }

    /// Ends the row being written (its key is what was pushed).
    pub(crate) fn end_row(&mut self) {
        self.key_ends.push(self.keys.len());
    }

    pub(crate) fn field(&mut self, f: FieldId) -> &mut FieldCells {
        &mut self.fields[f.index()]
    }

    /// Adds one typed row, type-checked against the schema.
    pub(crate) fn push_row(&mut self, schema: &KindSchema, key: &str, row: &Row) -> Result<(), StoreError> {
        check_key(key)?;
        let r = self.row();
        // Every value is checked; where a field is set twice, the last wins.
        let mut cells = Vec::with_capacity(row.len());
        for (field, value) in row.iter() {
            let Some(f) = schema.field_id(field) else {
                return Err(StoreError::UnknownField {
                    key: key.to_string(),
                    field: field.to_string(),
                });
            };
            let ty = schema.field(f).map_or(FieldType::Int, |(_, t)| t);
            let cell = typed(ty, value).map_err(|why| match why {
                CellError::Mismatch => StoreError::TypeMismatch {
                    key: key.to_string(),
                    field: field.to_string(),
                    expected: ty,
                    found: value.type_name().to_string(),
                },
                CellError::NonFinite => StoreError::NonFiniteFloat {
                    key: key.to_string(),
                    field: field.to_string(),
                },
            })?;
            cells.push((f, cell));
        }
        let mut seen = vec![false; self.fields.len()];
        for &(f, cell) in cells.iter().rev() {
            if !std::mem::replace(&mut seen[f.index()], true) {
                self.fields[f.index()].put(r, cell);
            }
        }
        self.push_key(key);
        self.end_row();
        Ok(())
    }

    /// `e`, placed at row `r` of this batch.
    pub(crate) fn locate(&self, r: usize, e: StoreError) -> StoreError {
        match &self.source {
            Source::One => e,
            Source::Rows { first } => StoreError::InRow {
                row: first + r,
                source: Box::new(e),
            },
            Source::Lines(lines) => StoreError::AtLine {
                line: lines.get(r).copied().unwrap_or(0),
                source: Box::new(e),
            },
        }
    }
}

/// Where a batch's rows came from, kept after the batch is applied for
/// an error found only later (a key repeated across a load, found when
/// the keys are indexed at its end): the id of its first row, and its
/// source with the line numbers as runs (mostly one a batch), not one a
/// row.
#[derive(Debug)]
pub(crate) struct Origin {
    first_id: u32,
    source: OriginSource,
}

#[derive(Debug)]
enum OriginSource {
    One,
    Rows {
        first: usize,
    },
    /// `(row, line)` where each run of consecutive lines starts.
    Lines(Vec<(usize, usize)>),
}

impl Batch {
    /// Where this batch's rows came from, its first row taking id `first_id`.
    pub(crate) fn origin(&self, first_id: u32) -> Origin {
        let source = match &self.source {
            Source::One => OriginSource::One,
            Source::Rows { first } => OriginSource::Rows { first: *first },
            Source::Lines(lines) => {
                let mut runs: Vec<(usize, usize)> = Vec::new();
                for (r, &line) in lines.iter().enumerate() {
                    match runs.last() {
                        Some(&(r0, l0)) if l0 + (r - r0) == line => {}
                        _ => runs.push((r, line)),
                    }
                }
                OriginSource::Lines(runs)
            }
        };
        Origin { first_id, source }
    }
}

impl Origin {
    /// `e` placed at the row that took `id`, among the rows of `origins`
    /// (ascending by first id, as batches are applied).
    pub(crate) fn locate(origins: &[Origin], id: u32, e: StoreError) -> StoreError {
        let Some(o) = origins
            .partition_point(|o| o.first_id <= id)
            .checked_sub(1)
            .map(|i| &origins[i])
        else {
            return e;
        };
        let r = (id - o.first_id) as usize;
        match &o.source {
            OriginSource::One => e,
            OriginSource::Rows { first } => StoreError::InRow {
                row: first + r,
                source: Box::new(e),
            },
            OriginSource::Lines(runs) => {
                let line = runs
                    .partition_point(|&(r0, _)| r0 <= r)
                    .checked_sub(1)
                    .map_or(0, |i| runs[i].1 + (r - runs[i].0));
                StoreError::AtLine {
                    line,
                    source: Box::new(e),
                }
            }
        }
    }
}

/// What a key may be: non-empty, without control characters (so that keys
/// print one a line). Every way rows enter a batch checks this (typed
/// rows, JSON, Arrow), so `Table::commit` need not.
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        Err(StoreError::EmptyKey)
    } else if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) && key.chars().any(char::is_control) {
        Err(StoreError::InvalidKey { key: key.to_string() })
    } else {
        Ok(())
    }
}
