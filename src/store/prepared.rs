//! A row checked against the schema and ready to apply, and the cells its
//! values are stored as: shared by typed rows (`table`) and JSON rows
//! (`json`), so that neither imports the other's types.

use super::column::Cell;
use crate::error::StoreError;
use crate::ids::FieldId;
use crate::value::{float_key, int_key, FieldType, Timestamp, TimestampError, Value};

/// A row checked against the schema, ready to apply.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) key: Box<str>,
    pub(crate) cells: Vec<(FieldId, Option<Cell>)>,
}

pub(crate) enum CellError {
    /// The value's type is not the field's.
    Mismatch,
    /// A float that is NaN or infinite.
    NonFinite,
}

/// The cell a value of a field of type `ty` is stored as (`None`: missing).
pub(crate) fn typed_cell(ty: FieldType, v: &Value) -> Result<Option<Cell>, CellError> {
    Ok(Some(match (ty, v) {
        (_, Value::Null) => return Ok(None),
        (FieldType::Int, Value::Int(i)) => num_cell_int(*i),
        (FieldType::Float, Value::Int(i)) => num_cell_float(*i as f64),
        (FieldType::Float, Value::Float(x)) if x.is_finite() => num_cell_float(*x),
        (FieldType::Float, Value::Float(_)) => return Err(CellError::NonFinite),
        (FieldType::String, Value::String(s)) => Cell::Str(s.as_str().into()),
        (FieldType::Bool, Value::Bool(b)) => Cell::Bool(*b),
        (FieldType::Timestamp, Value::Timestamp(t)) => Cell::Num(int_key(t.as_micros())),
        (FieldType::Tags, Value::Tags(tags)) => return Ok(tags_cell(tags.clone())),
        _ => return Err(CellError::Mismatch),
    }))
}

pub(crate) fn num_cell_int(i: i64) -> Cell {
    Cell::Num(int_key(i))
}

pub(crate) fn num_cell_float(x: f64) -> Cell {
    Cell::Num(float_key(x))
}

pub(crate) fn time_cell(s: &str) -> Result<Cell, String> {
    s.parse::<Timestamp>()
        .map(|t| Cell::Num(int_key(t.as_micros())))
        .map_err(|e: TimestampError| e.to_string())
}

/// Tags as stored: sorted and deduplicated; none is a missing value.
pub(crate) fn tags_cell(mut tags: Vec<String>) -> Option<Cell> {
    tags.sort_unstable();
    tags.dedup();
    (!tags.is_empty()).then(|| Cell::Tags(tags.into_iter().map(String::into_boxed_str).collect()))
}

/// What a key may be: non-empty, without control characters (so that keys
/// print one a line).
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        Err(StoreError::EmptyKey)
    } else if key.chars().any(char::is_control) {
        Err(StoreError::InvalidKey { key: key.to_string() })
    } else {
        Ok(())
    }
}
