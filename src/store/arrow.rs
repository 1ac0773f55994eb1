//! Arrow record batches read into [`Batch`]es, column by column: no row is
//! built, and a dictionary-encoded string column has each distinct word
//! looked up once, not once a row.
//!
//! A record batch's `key` column gives the keys; every other column names
//! a field of the kind. Which Arrow types each field type reads is in
//! [`Table::insert_arrow`](crate::Table::insert_arrow)'s docs; a column of
//! another type is refused before any row is read. A value its type allows
//! but the field cannot hold (an unsigned integer past `i64`, a float that
//! is not finite, a timestamp finer than a microsecond) is an error of its
//! row, as in JSON Lines; the first bad row is reported.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, ArrowPrimitiveType, Date32Type, Date64Type, Float16Type, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayAccessor, RecordBatch};
use arrow_buffer::ArrowNativeType;
use arrow_schema::{DataType, TimeUnit};

use super::batch::{check_key, time_key, Batch, FieldCells, Source};
use crate::error::StoreError;
use crate::schema::{FieldId, FieldType, KindSchema};
use crate::value::{float_key, int_key};

/// The most rows one [`Batch`] takes from a record batch: larger ones are
/// read a slice at a time (row numbers within a batch are `u32`).
const MAX_ROWS: usize = 1 << 20;

/// The name of the column that holds the keys.
pub(crate) const KEY_COLUMN: &str = "key";

/// Reads `rb` (rows `first..` of the call) into batches of at most
/// [`MAX_ROWS`] rows. On error, the first bad row's, counted from the
/// call's first row.
pub(crate) fn read_record_batch(schema: &KindSchema, rb: &RecordBatch, first: usize) -> Result<Vec<Batch>, StoreError> {
    let columns = columns(schema, rb)?;
    let mut out = Vec::with_capacity(rb.num_rows().div_ceil(MAX_ROWS));
    let mut at = 0;
    while at < rb.num_rows() {
        let len = MAX_ROWS.min(rb.num_rows() - at);
        let slice = rb.slice(at, len);
        out.push(read_slice(schema, &columns, &slice, first + at)?);
        at += len;
    }
    Ok(out)
}

/// What each column of a record batch is: the key column's position, and
/// every other column's field, checked to read its Arrow type.
struct Columns {
    key: usize,
    fields: Vec<(usize, FieldId, FieldType)>,
}

fn columns(schema: &KindSchema, rb: &RecordBatch) -> Result<Columns, StoreError> {
    let mut key = None;
    let mut fields = Vec::new();
    let mut seen = vec![false; schema.len()];
    for (i, col) in rb.schema().fields().iter().enumerate() {
        let name = col.name();
        if name == KEY_COLUMN {
            if key.replace(i).is_some() {
                return Err(StoreError::DuplicateColumn { column: name.clone() });
            }
            if !is_string(col.data_type()) {
                return Err(StoreError::ColumnType {
                    column: name.clone(),
                    expected: "string keys".into(),
                    found: col.data_type().to_string(),
                });
            }
            continue;
        }
        let Some(f) = schema.field_id(name) else {
            return Err(StoreError::UnknownColumn { column: name.clone() });
        };
        if std::mem::replace(&mut seen[f.index()], true) {
            return Err(StoreError::DuplicateColumn { column: name.clone() });
        }
        let ty = schema.field(f).map_or(FieldType::Int, |(_, t)| t);
        if !reads(ty, col.data_type()) {
            return Err(StoreError::ColumnType {
                column: name.clone(),
                expected: format!("{ty} values"),
                found: col.data_type().to_string(),
            });
        }
        fields.push((i, f, ty));
    }
    let key = key.ok_or(StoreError::NoKeyColumn)?;
    Ok(Columns { key, fields })
}

fn is_string(dt: &DataType) -> bool {
    matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_int(dt: &DataType) -> bool {
    dt.is_integer()
}

/// Whether a field of type `ty` reads a column of Arrow type `dt`.
fn reads(ty: FieldType, dt: &DataType) -> bool {
    match ty {
        FieldType::Int => is_int(dt),
        FieldType::Float => is_int(dt) || dt.is_floating(),
        FieldType::String => {
            is_string(dt) || matches!(dt, DataType::Dictionary(k, v) if k.is_dictionary_key_type() && is_string(v))
        }
        FieldType::Bool => *dt == DataType::Boolean,
        FieldType::Timestamp => {
            is_string(dt) || matches!(dt, DataType::Timestamp(..) | DataType::Date32 | DataType::Date64)
        }
        FieldType::Tags => match dt {
            DataType::List(item) | DataType::LargeList(item) => is_string(item.data_type()),
            _ => false,
        },
    }
}

/// A value the field cannot hold, at row `.0` of the slice.
type Bad = (u32, BadValue);

enum BadValue {
    Mismatch(String),
    NonFinite,
    Timestamp { value: String, reason: String },
}

fn read_slice(schema: &KindSchema, columns: &Columns, rb: &RecordBatch, first: usize) -> Result<Batch, StoreError> {
    let mut b = Batch::new(schema, Source::Rows { first });
    let mut first_bad: Option<(u32, StoreError)> = None;
    let keys = rb.column(columns.key);
    if let Err((r, e)) = read_keys(keys.as_ref(), &mut b) {
        first_bad = Some((r, e));
    }
    for &(i, f, ty) in &columns.fields {
        let before = first_bad.as_ref().map_or(u32::MAX, |(r, _)| *r);
        if let Err((r, bad)) = read_column(ty, rb.column(i).as_ref(), b.field(f), before) {
            if r < before {
                let field = rb.schema_ref().fields()[i].name().clone();
                let key = b.key(r as usize).to_string();
                let e = match bad {
                    BadValue::Mismatch(found) => StoreError::TypeMismatch {
                        key,
                        field,
                        expected: ty,
                        found,
                    },
                    BadValue::NonFinite => StoreError::NonFiniteFloat { key, field },
                    BadValue::Timestamp { value, reason } => StoreError::InvalidTimestamp {
                        key,
                        field,
                        value,
                        reason,
                    },
                };
                first_bad = Some((r, e));
            }
        }
    }
    match first_bad {
        Some((r, e)) => Err(b.locate(r as usize, e)),
        None => Ok(b),
    }
}

/// Pushes every row's key; the rows past a bad key get empty ones, so
/// that a later column's error can still be placed (only an earlier one
/// is reported).
fn read_keys(keys: &dyn Array, b: &mut Batch) -> Result<(), (u32, StoreError)> {
    let mut bad = None;
    let mut push = |b: &mut Batch, r: usize, k: Option<&str>| {
        match k {
            None => {
                bad.get_or_insert((r as u32, StoreError::MissingKey));
            }
            Some(k) => {
                if bad.is_none() {
                    if let Err(e) = check_key(k) {
                        bad = Some((r as u32, e));
                    }
                }
                b.push_key(k);
            }
        }
        b.end_row();
    };
    match keys.data_type() {
        DataType::Utf8 => strings(keys.as_string::<i32>(), |r, k| push(b, r, k)),
        DataType::LargeUtf8 => strings(keys.as_string::<i64>(), |r, k| push(b, r, k)),
        _ => strings(keys.as_string_view(), |r, k| push(b, r, k)),
    }
    bad.map_or(Ok(()), Err)
}

/// Calls `f` with each row's string, `None` where it is null.
fn strings<'a, A: ArrayAccessor<Item = &'a str>>(a: A, mut f: impl FnMut(usize, Option<&'a str>)) {
    if a.null_count() == 0 {
        for r in 0..a.len() {
            f(r, Some(a.value(r)));
        }
    } else {
        for r in 0..a.len() {
            f(r, a.is_valid(r).then(|| a.value(r)));
        }
    }
}

/// Reads one column into the field's cells; stops at the first bad row
/// before `before` (a row at or past it would not be reported).
fn read_column(ty: FieldType, a: &dyn Array, cells: &mut FieldCells, before: u32) -> Result<(), Bad> {
    let dt = a.data_type().clone();
    match ty {
        FieldType::Int => ints(
            a,
            cells,
            before,
            |i| Ok(int_key(i)),
            |u| match i64::try_from(u) {
                Ok(i) => Ok(int_key(i)),
                Err(_) => Err(BadValue::Mismatch(format!("integer {u} beyond the i64 range"))),
            },
        ),
        FieldType::Float => match dt {
            DataType::Float16 => nums::<Float16Type>(a, cells, before, |x| float(x.to_f64())),
            DataType::Float32 => nums::<Float32Type>(a, cells, before, |x| float(f64::from(x))),
            DataType::Float64 => nums::<Float64Type>(a, cells, before, float),
            _ => ints(
                a,
                cells,
                before,
                |i| Ok(float_key(i as f64)),
                |u| Ok(float_key(u as f64)),
            ),
        },
        FieldType::Timestamp => match dt {
            DataType::Timestamp(unit, _) => {
                let (per, name) = match unit {
                    TimeUnit::Second => (-1_000_000, "s"),
                    TimeUnit::Millisecond => (-1_000, "ms"),
                    TimeUnit::Microsecond => (1, "us"),
                    TimeUnit::Nanosecond => (1_000, "ns"),
                };
                let conv = move |v: i64| micros(v, per, name);
                match unit {
                    TimeUnit::Second => nums::<TimestampSecondType>(a, cells, before, conv),
                    TimeUnit::Millisecond => nums::<TimestampMillisecondType>(a, cells, before, conv),
                    TimeUnit::Microsecond => nums::<TimestampMicrosecondType>(a, cells, before, conv),
                    TimeUnit::Nanosecond => nums::<TimestampNanosecondType>(a, cells, before, conv),
                }
            }
            DataType::Date32 => nums::<Date32Type>(a, cells, before, |d| micros(i64::from(d), -86_400_000_000, "days")),
            DataType::Date64 => nums::<Date64Type>(a, cells, before, |ms| micros(ms, -1_000, "ms")),
            _ => {
                let mut bad = None;
                let mut put = |r: usize, s: Option<&str>| match s {
                    _ if bad.is_some() || r as u32 >= before => {}
                    None => cells.null(r as u32),
                    Some(s) => match time_key(s) {
                        Ok(k) => cells.num(r as u32, k),
                        Err(reason) => {
                            bad = Some((
                                r as u32,
                                BadValue::Timestamp {
                                    value: s.to_string(),
                                    reason,
                                },
                            ))
                        }
                    },
                };
                match dt {
                    DataType::Utf8 => strings(a.as_string::<i32>(), &mut put),
                    DataType::LargeUtf8 => strings(a.as_string::<i64>(), &mut put),
                    _ => strings(a.as_string_view(), &mut put),
                }
                bad.map_or(Ok(()), Err)
            }
        },
        FieldType::String => {
            if let Some(d) = a.as_any_dictionary_opt() {
                // Each distinct word looked up once.
                let values = d.values();
                let mut codes: Vec<Option<u32>> = Vec::with_capacity(values.len());
                let mut word = |_: usize, s: Option<&str>| codes.push(s.map(|s| cells.word(s)));
                match values.data_type() {
                    DataType::Utf8 => strings(values.as_string::<i32>(), &mut word),
                    DataType::LargeUtf8 => strings(values.as_string::<i64>(), &mut word),
                    _ => strings(values.as_string_view(), &mut word),
                }
                match dt {
                    DataType::Dictionary(ref k, _) => match k.as_ref() {
                        DataType::Int8 => dict_rows::<Int8Type>(a, &codes, cells),
                        DataType::Int16 => dict_rows::<Int16Type>(a, &codes, cells),
                        DataType::Int32 => dict_rows::<Int32Type>(a, &codes, cells),
                        DataType::Int64 => dict_rows::<Int64Type>(a, &codes, cells),
                        DataType::UInt8 => dict_rows::<UInt8Type>(a, &codes, cells),
                        DataType::UInt16 => dict_rows::<UInt16Type>(a, &codes, cells),
                        DataType::UInt32 => dict_rows::<UInt32Type>(a, &codes, cells),
                        _ => dict_rows::<UInt64Type>(a, &codes, cells),
                    },
                    _ => unreachable!("a dictionary array has a dictionary type"),
                }
                return Ok(());
            }
            let mut put = |r: usize, s: Option<&str>| match s {
                Some(s) => cells.str(r as u32, s),
                None => cells.null(r as u32),
            };
            match dt {
                DataType::Utf8 => strings(a.as_string::<i32>(), &mut put),
                DataType::LargeUtf8 => strings(a.as_string::<i64>(), &mut put),
                _ => strings(a.as_string_view(), &mut put),
            }
            Ok(())
        }
        FieldType::Bool => {
            let a = a.as_boolean();
            for r in 0..a.len() {
                if a.is_valid(r) {
                    cells.bool(r as u32, a.value(r));
                } else {
                    cells.null(r as u32);
                }
            }
            Ok(())
        }
        FieldType::Tags => match dt {
            DataType::List(_) => tags(a.as_list::<i32>(), cells, before),
            _ => tags(a.as_list::<i64>(), cells, before),
        },
    }
}

/// A dictionary column's rows by their keys: `codes` holds each
/// dictionary value's code, `None` for a null value.
fn dict_rows<K: ArrowDictionaryKeyType>(a: &dyn Array, codes: &[Option<u32>], cells: &mut FieldCells) {
    let d = a.as_dictionary::<K>();
    for (r, k) in d.keys().iter().enumerate() {
        match k.and_then(|k| codes.get(k.as_usize()).copied().flatten()) {
            Some(c) => cells.code(r as u32, c),
            None => cells.null(r as u32),
        }
    }
}

fn float(x: f64) -> Result<u64, BadValue> {
    if x.is_finite() {
        Ok(float_key(x))
    } else {
        Err(BadValue::NonFinite)
    }
}

/// `v` in units of `name` as microseconds: `per` of them make a
/// microsecond, or (negative) one of them is `-per` microseconds.
fn micros(v: i64, per: i64, name: &str) -> Result<u64, BadValue> {
    let us = if per > 0 {
        if v % per != 0 {
            return Err(BadValue::Timestamp {
                value: format!("{v} {name}"),
                reason: "finer than a microsecond".into(),
            });
        }
        Some(v / per)
    } else {
        v.checked_mul(-per)
    };
    us.map(int_key).ok_or_else(|| BadValue::Timestamp {
        value: format!("{v} {name}"),
        reason: "past the range of a timestamp".into(),
    })
}

/// A primitive column's values through `key`; nulls as nulls.
fn nums<T: ArrowPrimitiveType>(
    a: &dyn Array,
    cells: &mut FieldCells,
    before: u32,
    key: impl Fn(T::Native) -> Result<u64, BadValue>,
) -> Result<(), Bad> {
    let a = a.as_primitive::<T>();
    let values = a.values();
    let nulls = a.nulls().filter(|n| n.null_count() > 0);
    for (r, &v) in values.iter().enumerate() {
        if nulls.is_some_and(|n| n.is_null(r)) {
            cells.null(r as u32);
            continue;
        }
        match key(v) {
            Ok(k) => cells.num(r as u32, k),
            Err(bad) if (r as u32) < before => return Err((r as u32, bad)),
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// An integer column of any width and sign, through `signed` or `unsigned`.
fn ints(
    a: &dyn Array,
    cells: &mut FieldCells,
    before: u32,
    signed: impl Fn(i64) -> Result<u64, BadValue>,
    unsigned: impl Fn(u64) -> Result<u64, BadValue>,
) -> Result<(), Bad> {
    match a.data_type() {
        DataType::Int8 => nums::<Int8Type>(a, cells, before, |v| signed(v.into())),
        DataType::Int16 => nums::<Int16Type>(a, cells, before, |v| signed(v.into())),
        DataType::Int32 => nums::<Int32Type>(a, cells, before, |v| signed(v.into())),
        DataType::Int64 => nums::<Int64Type>(a, cells, before, signed),
        DataType::UInt8 => nums::<UInt8Type>(a, cells, before, |v| signed(v.into())),
        DataType::UInt16 => nums::<UInt16Type>(a, cells, before, |v| signed(v.into())),
        DataType::UInt32 => nums::<UInt32Type>(a, cells, before, |v| signed(v.into())),
        _ => nums::<UInt64Type>(a, cells, before, unsigned),
    }
}

/// A list-of-strings column as tags: an empty list (or a null) is a
/// missing value; a null element is refused, as `null` in a JSON array.
fn tags<O: arrow_array::OffsetSizeTrait>(
    a: &arrow_array::GenericListArray<O>,
    cells: &mut FieldCells,
    before: u32,
) -> Result<(), Bad> {
    for r in 0..a.len() {
        if a.is_null(r) {
            cells.null(r as u32);
            continue;
        }
        let item = a.value(r);
        let mut tags = Vec::with_capacity(item.len());
        let mut null = false;
        let mut put = |_: usize, s: Option<&str>| match s {
            Some(s) => tags.push(s.to_string()),
            None => null = true,
        };
        match item.data_type() {
            DataType::Utf8 => strings(item.as_string::<i32>(), &mut put),
            DataType::LargeUtf8 => strings(item.as_string::<i64>(), &mut put),
            _ => strings(item.as_string_view(), &mut put),
        }
        if null {
            if (r as u32) < before {
                return Err((r as u32, BadValue::Mismatch("array holding null".into())));
            }
            return Ok(());
        }
        cells.tags(r as u32, tags);
    }
    Ok(())
}
