//! Statistics of a field over a set of entities: a segment's members, an
//! evaluation's result, or the whole kind.

use roaring::RoaringBitmap;

use crate::error::StatsError;
use crate::schema::{FieldId, FieldType};
use crate::store::{Column, Table};
use crate::value::{key_to_float, key_to_int, Timestamp, Value};

/// Statistics of an int, float or timestamp field.
///
/// Means, medians and percentiles are `f64`; for a timestamp field they are
/// microseconds since the Unix epoch (see [`Timestamp::from_micros`]). Ints
/// beyond 2^53 lose precision in them; `min` and `max` are exact.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NumericStats {
    /// The live entities asked about.
    pub count: u64,
    /// Those that have a value.
    pub present: u64,
    /// The smallest value.
    pub min: Option<Value>,
    /// The largest value.
    pub max: Option<Value>,
    /// The sum (ints summed exactly, then rounded); `None` for timestamps.
    pub sum: Option<f64>,
    /// The mean.
    pub mean: Option<f64>,
    /// The median: the mean of the two middle values when their number is even.
    pub median: Option<f64>,
    /// The percentiles asked for, `(p, value)`, interpolated linearly between
    /// the closest ranks (as numpy's default and DuckDB's `quantile_cont`).
    pub percentiles: Vec<(f64, f64)>,
}

/// How often each value of a string, tags or bool field occurs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ValueCounts {
    /// The live entities asked about.
    pub count: u64,
    /// Those without a value (for tags: without any tag).
    pub missing: u64,
    /// Each value (each tag) and the entities that have it, most frequent
    /// first, ties by value.
    pub values: Vec<(Value, u64)>,
}

fn resolve(table: &Table, field: &str) -> Result<(FieldId, FieldType), StatsError> {
    let f = table.schema().field_id(field).ok_or_else(|| StatsError::UnknownField {
        kind: table.schema().name().to_string(),
        field: field.to_string(),
    })?;
    let ty = table.schema().field(f).map_or(FieldType::Int, |(_, t)| t);
    Ok((f, ty))
}

/// Numeric statistics of `field` over the live entities in `ids`.
///
/// # Errors
///
/// [`StatsError::UnknownField`], [`StatsError::WrongType`] for a field that
/// is not int, float or timestamp, [`StatsError::BadPercentile`].
///
/// # Examples
///
/// ```
/// use segments::{stats, FieldType, KindSchema, Row, Table, Value};
///
/// let mut t = Table::new(KindSchema::new("account", [("mrr", FieldType::Int)])?);
/// for (k, v) in [("a", 10i64), ("b", 20), ("c", 30), ("d", 40)] {
///     t.insert(k, Row::new().set("mrr", v))?;
/// }
/// t.insert("e", Row::new())?;
/// let s = stats::numeric(&t, "mrr", t.live(), &[90.0])?;
/// assert_eq!((s.count, s.present), (5, 4));
/// assert_eq!(s.min, Some(Value::Int(10)));
/// assert_eq!(s.median, Some(25.0));
/// assert_eq!(s.percentiles, [(90.0, 37.0)]);
/// # Ok::<(), segments::Error>(())
/// ```
pub fn numeric(
    table: &Table,
    field: &str,
    ids: &RoaringBitmap,
    percentiles: &[f64],
) -> Result<NumericStats, StatsError> {
    let (f, ty) = resolve(table, field)?;
    if let Some(&bad) = percentiles.iter().find(|p| !(0.0..=100.0).contains(*p)) {
        return Err(StatsError::BadPercentile { value: bad });
    }
    let Column::Numeric(col) = table.column(f) else {
        return Err(StatsError::WrongType {
            field: field.to_string(),
            field_type: ty,
            wanted: "numeric statistics take an int, float or timestamp field",
        });
    };
    let scope = ids & table.live();
    let mut keys: Vec<u64> = (&scope & col.present())
        .iter()
        .map(|id| col.keys()[id as usize])
        .collect();
    let n = keys.len();
    let decode = |k: u64| match ty {
        FieldType::Float => key_to_float(k),
        _ => key_to_int(k) as f64,
    };
    let typed = |k: u64| match ty {
        FieldType::Int => Value::Int(key_to_int(k)),
        FieldType::Float => Value::Float(key_to_float(k)),
        _ => Value::Timestamp(Timestamp::from_micros(key_to_int(k))),
    };
    let mut out = NumericStats {
        count: scope.len(),
        present: n as u64,
        min: None,
        max: None,
        sum: None,
        mean: None,
        median: None,
        percentiles: Vec::new(),
    };
    if n == 0 {
        return Ok(out);
    }
    // Ints sum exactly; floats with Neumaier's compensation.
    let (sum, mean) = match ty {
        FieldType::Float => {
            let (mut s, mut c) = (0.0f64, 0.0f64);
            for &k in &keys {
                let x = key_to_float(k);
                let t = s + x;
                c += if s.abs() >= x.abs() { (s - t) + x } else { (x - t) + s };
                s = t;
            }
            (s + c, (s + c) / n as f64)
        }
        _ => {
            let s: i128 = keys.iter().map(|&k| key_to_int(k) as i128).sum();
            (s as f64, (s as f64) / n as f64)
        }
    };
    out.sum = (ty != FieldType::Timestamp).then_some(sum);
    out.mean = Some(mean);
    // The ranks every asked statistic needs, found by successive selection
    // (linear time each) rather than a full sort.
    let position = |p: f64| p / 100.0 * (n - 1) as f64;
    let mut ranks = vec![0, n - 1, (n - 1) / 2, n / 2];
    for &p in percentiles {
        let x = position(p);
        ranks.push(x.floor() as usize);
        ranks.push(x.ceil() as usize);
    }
    ranks.sort_unstable();
    ranks.dedup();
    // After placing rank `r`, everything past it is at least as large, so
    // the next rank is found in `keys[r + 1..]` and `keys[r]` stays put.
    let mut start = 0;
    for &r in &ranks {
        keys[start..].select_nth_unstable(r - start);
        start = r + 1;
    }
    out.min = Some(typed(keys[0]));
    out.max = Some(typed(keys[n - 1]));
    out.median = Some((decode(keys[(n - 1) / 2]) + decode(keys[n / 2])) / 2.0);
    out.percentiles = percentiles
        .iter()
        .map(|&p| {
            let x = position(p);
            let (lo, hi) = (decode(keys[x.floor() as usize]), decode(keys[x.ceil() as usize]));
            (p, lo + (hi - lo) * x.fract())
        })
        .collect();
    Ok(out)
}

/// Value counts of a string, tags or bool `field` over the live entities in `ids`.
///
/// # Errors
///
/// [`StatsError::UnknownField`], [`StatsError::WrongType`] for a numeric or
/// timestamp field.
///
/// # Examples
///
/// ```
/// use segments::{stats, FieldType, KindSchema, Row, Table, Value};
///
/// let mut t = Table::new(KindSchema::new("account", [("plan", FieldType::String)])?);
/// for (k, v) in [("a", "pro"), ("b", "free"), ("c", "pro")] {
///     t.insert(k, Row::new().set("plan", v))?;
/// }
/// t.insert("d", Row::new())?;
/// let c = stats::value_counts(&t, "plan", t.live())?;
/// assert_eq!(c.values, [(Value::from("pro"), 2), (Value::from("free"), 1)]);
/// assert_eq!(c.missing, 1);
/// # Ok::<(), segments::Error>(())
/// ```
pub fn value_counts(table: &Table, field: &str, ids: &RoaringBitmap) -> Result<ValueCounts, StatsError> {
    let (f, ty) = resolve(table, field)?;
    let scope = ids & table.live();
    let column = table.column(f);
    let mut values: Vec<(Value, u64)> = match column {
        Column::String(col) => per_code(col.bitmaps(), &scope, |id| {
            col.codes()
                .get(id as usize)
                .filter(|&&c| c != crate::store::NONE)
                .map_or(&[][..], std::slice::from_ref)
        })
        .map(|(code, n)| (Value::String(col.dict()[code as usize].to_string()), n))
        .collect(),
        Column::Tags(col) => per_code(col.bitmaps(), &scope, |id| col.tags(id).unwrap_or(&[]))
            .map(|(code, n)| (Value::String(col.dict()[code as usize].to_string()), n))
            .collect(),
        Column::Bool(col) => [(false, col.with(false)), (true, col.with(true))]
            .into_iter()
            .map(|(v, b)| (Value::Bool(v), b.intersection_len(&scope)))
            .filter(|&(_, n)| n > 0)
            .collect(),
        Column::Numeric(_) => {
            return Err(StatsError::WrongType {
                field: field.to_string(),
                field_type: ty,
                wanted: "value counts take a string, tags or bool field",
            })
        }
    };
    // One column holds one type of value: strings, or booleans.
    let by_value = |a: &Value, b: &Value| match (a, b) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    };
    values.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| by_value(&a.0, &b.0)));
    Ok(ValueCounts {
        count: scope.len(),
        missing: scope.len() - scope.intersection_len(column.present()),
        values,
    })
}

/// Counts per dictionary code: by intersecting each code's bitmap when the
/// scope is large, by reading each entity's codes when it is small.
fn per_code<'a>(
    bitmaps: &'a [RoaringBitmap],
    scope: &'a RoaringBitmap,
    codes_of: impl Fn(u32) -> &'a [u32],
) -> impl Iterator<Item = (u32, u64)> + 'a {
    let counts: Vec<u64> = if scope.len() < bitmaps.len() as u64 {
        let mut counts = vec![0u64; bitmaps.len()];
        for id in scope {
            for &c in codes_of(id) {
                counts[c as usize] += 1;
            }
        }
        counts
    } else {
        bitmaps.iter().map(|b| b.intersection_len(scope)).collect()
    };
    counts
        .into_iter()
        .enumerate()
        .filter(|&(_, n)| n > 0)
        .map(|(c, n)| (c as u32, n))
}

/// Values of a string or tags field that start with `prefix` (all values
/// for `""`), the most held first (ties by value), at most `limit`: what a
/// builder offers as a user types. The dictionary's prefix search is
/// indexed, so this is fast on millions of distinct values; the count of
/// each value found is its bitmap's, among the live entities.
///
/// # Errors
///
/// [`StatsError::UnknownField`], and [`StatsError::WrongType`] for a field
/// that is not a string or tags field.
///
/// # Examples
///
/// ```
/// use segments::{stats, FieldType, KindSchema, Row, Table};
///
/// let mut t = Table::new(KindSchema::new("account", [("plan", FieldType::String)])?);
/// for (k, p) in [("a", "pro"), ("b", "pro"), ("c", "premium"), ("d", "free")] {
///     t.insert(k, Row::new().set("plan", p))?;
/// }
/// assert_eq!(stats::value_suggestions(&t, "plan", "pr", 10)?, [("pro".to_string(), 2), ("premium".to_string(), 1)]);
/// # Ok::<(), segments::Error>(())
/// ```
pub fn value_suggestions(
    table: &Table,
    field: &str,
    prefix: &str,
    limit: usize,
) -> Result<Vec<(String, u64)>, StatsError> {
    let (f, ty) = resolve(table, field)?;
    let (dict, bitmaps) = match table.column(f) {
        Column::String(c) => (c.dict(), c.bitmaps()),
        Column::Tags(c) => (c.dict(), c.bitmaps()),
        _ => {
            return Err(StatsError::WrongType {
                field: field.to_string(),
                field_type: ty,
                wanted: "value suggestions take a string or tags field",
            })
        }
    };
    let codes: Vec<u32> = if prefix.is_empty() {
        (0..dict.len() as u32).collect()
    } else {
        dict.matching(crate::store::Find::Prefix, prefix, crate::store::Build::Whole, &|| {
            false
        })
        .unwrap_or_default()
    };
    // A column's word bitmaps hold live entities only (a delete clears the
    // entity's cells), so a word's count is its bitmap's length.
    let counted: Vec<(u32, u64)> = codes
        .into_iter()
        .filter_map(|c| {
            let n = bitmaps.get(c as usize)?.len();
            (n > 0).then_some((c, n))
        })
        .collect();
    let word = |c: u32| dict.get_index(c as usize).unwrap_or_default();
    let mut out: Vec<(&str, u64)> = if counted.len() <= limit {
        counted.into_iter().map(|(c, n)| (word(c), n)).collect()
    } else if limit == 0 {
        Vec::new()
    } else {
        // The `limit`-th highest count; every word above it is in, and the
        // smallest of the words at it fill the rest (a bounded heap, so a
        // prefix that millions of words share costs one pass).
        let mut ns: Vec<u64> = counted.iter().map(|&(_, n)| n).collect();
        let (_, &mut t, _) = ns.select_nth_unstable_by(limit - 1, |a, b| b.cmp(a));
        let mut above: Vec<(&str, u64)> = counted
            .iter()
            .filter(|&&(_, n)| n > t)
            .map(|&(c, n)| (word(c), n))
            .collect();
        let need = limit - above.len();
        let mut ties: std::collections::BinaryHeap<&str> = std::collections::BinaryHeap::with_capacity(need + 1);
        for &(c, n) in &counted {
            if n == t {
                let w = word(c);
                if ties.len() < need {
                    ties.push(w);
                } else if ties.peek().is_some_and(|&top| w < top) {
                    ties.pop();
                    ties.push(w);
                }
            }
        }
        above.extend(ties.into_iter().map(|w| (w, t)));
        above
    };
    out.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    Ok(out.into_iter().map(|(s, n)| (s.to_string(), n)).collect())
}
