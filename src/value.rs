//! Typed values, timestamps and the order-preserving `u64` keys that numeric
//! columns are indexed by.

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// An instant in UTC at microsecond precision, as PostgreSQL and DuckDB hold
/// it; every year of RFC 3339 (0000 to 9999) fits.
///
/// # Examples
///
/// ```
/// use segments::Timestamp;
///
/// let t: Timestamp = "2026-11-22T13:00:00+01:00".parse()?;
/// assert_eq!(t.to_string(), "2026-11-22T12:00:00Z");
/// # Ok::<(), segments::TimestampError>(())
/// ```
///
/// Its serde form is RFC 3339 text in human-readable formats (JSON:
/// `"2026-11-22T12:00:00Z"`, microseconds shown only when there are any),
/// as input files write it, and the microseconds as an integer in binary
/// ones. JSON input may also give the microseconds as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(i64);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to_datetime() {
            Some(d) if s.is_human_readable() => s.collect_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            // Past chrono's years (and in binary forms): the microseconds.
            _ => s.serialize_i64(self.0),
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp, or microseconds since 1970 as an integer")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("microseconds past the range of a timestamp"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_i64(V)
        }
    }
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// Not RFC 3339.
    #[error("not an RFC 3339 timestamp ({reason})")]
    Parse {
        /// The parser's reason.
        reason: String,
    },
    /// Digits below the microsecond, which the store does not hold; refused
    /// rather than silently rounded.
    #[error("has sub-microsecond digits; timestamps are held at microsecond precision")]
    SubMicrosecond,
}

impl Timestamp {
    /// The instant `micros` microseconds after 1970-01-01T00:00:00Z.
    pub const fn from_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp::from(Utc::now())
    }

    /// The instant as a chrono value, `None` outside chrono's range.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.0)
    }

    /// The instant `d` later, `None` past the range (whole microseconds:
    /// nanoseconds below one are dropped).
    ///
    /// ```
    /// use std::time::Duration;
    /// use segments::Timestamp;
    ///
    /// let t: Timestamp = "2026-11-22T12:00:00Z".parse()?;
    /// let later = t.checked_add(Duration::from_secs(90 * 60)).unwrap();
    /// assert_eq!(later.to_string(), "2026-11-22T13:30:00Z");
    /// assert_eq!(later.duration_since(t), Some(Duration::from_secs(5400)));
    /// assert_eq!(t.checked_sub(Duration::from_micros(1)).unwrap().to_string(), "2026-11-22T11:59:59.999999Z");
    /// # Ok::<(), segments::TimestampError>(())
    /// ```
    pub fn checked_add(self, d: std::time::Duration) -> Option<Timestamp> {
        let micros = i64::try_from(d.as_micros()).ok()?;
        self.0.checked_add(micros).map(Timestamp)
    }

    /// The instant `d` earlier, `None` past the range.
    pub fn checked_sub(self, d: std::time::Duration) -> Option<Timestamp> {
        let micros = i64::try_from(d.as_micros()).ok()?;
        self.0.checked_sub(micros).map(Timestamp)
    }

    /// The instant `d` later, at the end of the range if past it.
    pub fn saturating_add(self, d: std::time::Duration) -> Timestamp {
        self.checked_add(d).unwrap_or(Timestamp(i64::MAX))
    }

    /// The instant `d` earlier, at the start of the range if past it.
    pub fn saturating_sub(self, d: std::time::Duration) -> Timestamp {
        self.checked_sub(d).unwrap_or(Timestamp(i64::MIN))
    }

    /// How long after `earlier` this is; `None` if it is before.
    pub fn duration_since(self, earlier: Timestamp) -> Option<std::time::Duration> {
        let micros = self.0.checked_sub(earlier.0)?;
        u64::try_from(micros).ok().map(std::time::Duration::from_micros)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// Truncates below the microsecond.
    fn from(t: DateTime<Utc>) -> Timestamp {
        Timestamp(t.timestamp_micros())
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        let d = parse_rfc3339(s)?;
        let sub = d.timestamp_subsec_nanos();
        if sub % 1000 != 0 {
            return Err(TimestampError::SubMicrosecond);
        }
        // In i64, not through `parse_rfc3339_nanos`' i128 (a load reads
        // millions): chrono's years, ±262,143, are ±8.3e18 microseconds.
        Ok(Timestamp(d.timestamp() * 1_000_000 + i64::from(sub / 1000)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(d) => f.write_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            None => write!(f, "{}us", self.0),
        }
    }
}

/// Parses RFC 3339, chrono's error as ours.
fn parse_rfc3339(s: &str) -> Result<DateTime<chrono::FixedOffset>, TimestampError> {
    DateTime::parse_from_rfc3339(s).map_err(|e| TimestampError::Parse { reason: e.to_string() })
}

/// Parses RFC 3339 into nanoseconds since the epoch, exactly.
pub(crate) fn parse_rfc3339_nanos(s: &str) -> Result<i128, TimestampError> {
    let d = parse_rfc3339(s)?;
    let secs = d.timestamp() as i128;
    Ok(secs * 1_000_000_000 + d.timestamp_subsec_nanos() as i128)
}

/// Parses a filter's timestamp literal into nanoseconds since the epoch:
/// RFC 3339, or the forms of HTML's `datetime-local` and `date` inputs
/// (`2026-11-22T12:00`, `2026-11-22T12:00:30`, `2026-11-22T12:00:30.5`,
/// `2026-11-22`), which have no offset and are read in UTC (a date at
/// 00:00).
pub(crate) fn parse_filter_time_nanos(s: &str) -> Result<i128, TimestampError> {
    let rfc = match parse_rfc3339_nanos(s) {
        Ok(n) => return Ok(n),
        Err(e) => e,
    };
    let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN)));
    match local {
        Ok(t) => {
            let u = t.and_utc();
            Ok(u.timestamp() as i128 * 1_000_000_000 + u.timestamp_subsec_nanos() as i128)
        }
        Err(_) => Err(rfc),
    }
}

/// One field's value in a typed row.
///
/// `Null`, and `Tags` with no element, are missing values.
///
/// Its serde form is tagged with its type (`{"int": 5}`, `{"float": 2.5}`,
/// `{"string": "pro"}`, `{"bool": true}`,
/// `{"timestamp": "2026-11-22T12:00:00Z"}`, `{"tags": ["a"]}`, `"null"`), so
/// that it reads back as the same variant. It prints ([`fmt::Display`]) as
/// input files write values, and [`Value::to_json`] gives the plain JSON
/// an entity row holds.
///
/// ```
/// use segments::{Timestamp, Value};
///
/// let t: Timestamp = "2026-11-22T12:00:00Z".parse()?;
/// assert_eq!(Value::Timestamp(t).to_string(), "2026-11-22T12:00:00Z");
/// assert_eq!(Value::Tags(vec!["a".into(), "b\"c".into()]).to_string(), r#"["a","b\"c"]"#);
/// assert_eq!(Value::Float(2.5).to_string(), "2.5");
/// assert_eq!(Value::Null.to_string(), "null");
/// assert_eq!(Value::Timestamp(t).to_json(), serde_json::json!("2026-11-22T12:00:00Z"));
/// # Ok::<(), segments::TimestampError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// A missing value.
    Null,
    /// For `int` fields.
    Int(i64),
    /// For `float` fields (an `Int` is accepted there too).
    Float(f64),
    /// For `string` fields.
    String(String),
    /// For `bool` fields.
    Bool(bool),
    /// For `timestamp` fields.
    Timestamp(Timestamp),
    /// For `tags` fields.
    Tags(Vec<String>),
}

impl fmt::Display for Value {
    /// Strings as they are, numbers and bools as JSON writes them,
    /// timestamps in RFC 3339, tags as a JSON array, a missing value as
    /// `null`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => f.write_str(s),
            Value::Timestamp(t) => t.fmt(f),
            other => f.write_str(&other.to_json().to_string()),
        }
    }
}

impl Value {
    /// The value as an entity row's JSON holds it: `null`, a number, a
    /// string, a bool, an RFC 3339 string, an array of strings. (A float
    /// that is not finite, which no column holds, is `null`.)
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Int(i) => J::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Bool(b) => J::Bool(*b),
            Value::Timestamp(t) => match t.to_datetime() {
                Some(d) => J::String(d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
                None => J::from(t.as_micros()),
            },
            Value::Tags(tags) => J::Array(tags.iter().map(|t| J::String(t.clone())).collect()),
        }
    }

    /// A short description of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Bool(_) => "bool",
            Value::Timestamp(_) => "timestamp",
            Value::Tags(_) => "tags",
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident $(as $c:ty)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value {
                Value::$v((x $(as $c)?).into())
            }
        }
    )*};
}
value_from!(i64 => Int, i32 => Int as i64, u32 => Int as i64, f64 => Float, bool => Bool,
            String => String, &str => String, Timestamp => Timestamp, Vec<String> => Tags);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Value {
        x.map_or(Value::Null, Into::into)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Value {
        Value::Timestamp(t.into())
    }
}

impl<const N: usize> From<[&str; N]> for Value {
    fn from(tags: [&str; N]) -> Value {
        Value::Tags(tags.iter().map(|t| t.to_string()).collect())
    }
}

/// The order-preserving key of an `i64` (and of a timestamp's microseconds).
pub(crate) fn int_key(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

pub(crate) fn key_to_int(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

/// The order-preserving key of a finite `f64`; `-0.0` shares `0.0`'s key.
pub(crate) fn float_key(v: f64) -> u64 {
    let v = if v == 0.0 { 0.0 } else { v };
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

pub(crate) fn key_to_float(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// A number as written in a filter: exact for every JSON integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i128),
    Float(f64),
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Compares two numbers exactly, whatever their types (no rounding of large
/// integers to floats). Both must be finite.
pub(crate) fn cmp_num(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).reverse(),
    }
}

fn cmp_int_float(i: i128, f: f64) -> Ordering {
    // Every finite f64 beyond +-2^126 is outside i128's use here (JSON
    // integers are at most 2^64), so the sign decides.
    const LIMIT: f64 = 8.507_059_173_023_462e37; // 2^126
    if f >= LIMIT {
        return Ordering::Less;
    }
    if f <= -LIMIT {
        return Ordering::Greater;
    }
    let fl = f.floor();
    match i.cmp(&(fl as i128)) {
        Ordering::Equal if f != fl => Ordering::Less,
        o => o,
    }
}

/// The greatest key of the column's domain whose value is <= `x`, and whether
/// that value equals `x`. `None` when every value of the domain is > `x`.
pub(crate) fn floor_key_int(x: Num) -> (Option<u64>, bool) {
    match x {
        Num::Int(i) => floor_key_int_i128(i, true),
        // `as` saturates, so floats far outside i64 clamp like integers do.
        Num::Float(f) => floor_key_int_i128(f.floor() as i128, f.floor() == f),
    }
}

/// As [`floor_key_int`], for a float column.
pub(crate) fn floor_key_float(x: Num) -> (Option<u64>, bool) {
    match x {
        Num::Float(f) => (Some(float_key(f)), true),
        Num::Int(i) => {
            let f = i as f64;
            match cmp_num(Num::Float(f), Num::Int(i)) {
                Ordering::Equal => (Some(float_key(f)), true),
                Ordering::Less => (Some(float_key(f)), false),
                // Rounded up: the float just below is the floor.
                Ordering::Greater => (Some(float_key(f) - 1), false),
            }
        }
    }
}

/// As [`floor_key_int`], for a timestamp column (microseconds) and a literal
/// in nanoseconds.
pub(crate) fn floor_key_time(nanos: i128) -> (Option<u64>, bool) {
    let micros = nanos.div_euclid(1000);
    floor_key_int_i128(micros, nanos.rem_euclid(1000) == 0)
}

pub(crate) fn floor_key_int_i128(v: i128, exact: bool) -> (Option<u64>, bool) {
    if v > i64::MAX as i128 {
        (Some(int_key(i64::MAX)), false)
    } else if v < i64::MIN as i128 {
        (None, false)
    } else {
        (Some(int_key(v as i64)), exact)
    }
}

/// Where the engine's time comes from: when changes happened, when segments
/// were created, and the `now` of relative-time rules on writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system's clock.
    #[default]
    System,
    /// A fixed instant, for tests and replays.
    Fixed(Timestamp),
}

impl Clock {
    /// The current instant by this clock.
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A timestamp reads as its nanoseconds (`parse_rfc3339_nanos`) do,
        /// in microseconds, or fails where they are not whole microseconds.
        #[test]
        fn timestamps_read_as_their_nanoseconds(
            y in 0u32..10_000, mo in 1u32..13, d in 1u32..32, h in 0u32..24, mi in 0u32..60, s in 0u32..61,
            frac in "(\\.[0-9]{1,9})?", zone in prop::sample::select(vec!["Z", "+00:00", "-23:59", "+05:30", "z"]),
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}");
            let want = parse_rfc3339_nanos(&text).map(|n| (n % 1000 == 0).then_some((n / 1000) as i64));
            let got = text.parse::<Timestamp>();
            match want {
                Ok(Some(us)) => prop_assert_eq!(got, Ok(Timestamp(us))),
                Ok(None) => prop_assert_eq!(got, Err(TimestampError::SubMicrosecond)),
                Err(e) => prop_assert_eq!(got, Err(e)),
            }
        }
    }

    #[test]
    fn keys_preserve_order() {
        let ints = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in ints.windows(2) {
            assert!(int_key(w[0]) < int_key(w[1]));
            assert_eq!(key_to_int(int_key(w[0])), w[0]);
        }
        let floats = [
            f64::MIN,
            -1e300,
            -1.5,
            -f64::MIN_POSITIVE,
            0.0,
            5e-324,
            1.0,
            2.5,
            f64::MAX,
        ];
        for w in floats.windows(2) {
            assert!(float_key(w[0]) < float_key(w[1]), "{} {}", w[0], w[1]);
            assert_eq!(key_to_float(float_key(w[0])), w[0]);
        }
        assert_eq!(float_key(-0.0), float_key(0.0));
        // Adjacent floats have adjacent keys.
        assert_eq!(float_key(1.0) + 1, float_key(1.0000000000000002));
        // The bit pattern of -0.0 keeps a slot of its own that no stored value uses.
        assert_eq!(float_key(-0.0) - 2, float_key(-5e-324));
    }

    #[test]
    fn exact_comparison_of_large_integers_and_floats() {
        let big = (1i128 << 53) + 1;
        assert_eq!(
            cmp_num(Num::Int(big), Num::Float(9007199254740992.0)),
            Ordering::Greater
        );
        assert_eq!(cmp_num(Num::Float(2.5), Num::Int(2)), Ordering::Greater);
        assert_eq!(cmp_num(Num::Float(-2.5), Num::Int(-2)), Ordering::Less);
        assert_eq!(cmp_num(Num::Int(3), Num::Float(3.0)), Ordering::Equal);
        assert_eq!(cmp_num(Num::Int(i64::MAX as i128), Num::Float(1e300)), Ordering::Less);
    }

    #[test]
    fn floors() {
        assert_eq!(floor_key_int(Num::Float(6.5)), (Some(int_key(6)), false));
        assert_eq!(floor_key_int(Num::Float(-6.5)), (Some(int_key(-7)), false));
        assert_eq!(floor_key_int(Num::Int(1 << 70)), (Some(int_key(i64::MAX)), false));
        assert_eq!(floor_key_int(Num::Int(-(1 << 70))), (None, false));
        let big = (1i128 << 53) + 1;
        let (k, exact) = floor_key_float(Num::Int(big));
        assert!(!exact);
        assert_eq!(key_to_float(k.unwrap()), 9007199254740992.0);
        assert_eq!(floor_key_time(1500), (Some(int_key(1)), false));
        assert_eq!(floor_key_time(-1500), (Some(int_key(-2)), false));
    }

    #[test]
    fn timestamps_parse_with_offsets_and_refuse_nanos() {
        let a: Timestamp = "2026-01-01T01:00:00+01:00".parse().unwrap();
        let b: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(
            "2026-01-01T00:00:00.000001Z".parse::<Timestamp>().unwrap().as_micros() - b.as_micros(),
            1
        );
        assert_eq!(
            "2026-01-01T00:00:00.0000001Z".parse::<Timestamp>(),
            Err(TimestampError::SubMicrosecond)
        );
        assert!(matches!(
            "yesterday".parse::<Timestamp>(),
            Err(TimestampError::Parse { .. })
        ));
        assert!("9999-12-31T23:59:59Z".parse::<Timestamp>().is_ok());
        assert!("0000-01-01T00:00:00Z".parse::<Timestamp>().is_ok());
    }
}

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// A signed 64-bit integer.
    Int,
    /// A finite 64-bit float.
    Float,
    /// A UTF-8 string.
    String,
    /// `true` or `false`.
    Bool,
    /// An instant, held at microsecond precision in UTC.
    Timestamp,
    /// A set of strings; an empty set is a missing value.
    Tags,
}

impl FieldType {
    /// The name used in schema JSON: `int`, `float`, `string`, `bool`, `timestamp`, `tags`.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::String => "string",
            FieldType::Bool => "bool",
            FieldType::Timestamp => "timestamp",
            FieldType::Tags => "tags",
        }
    }

    /// Parses a type name as [`FieldType::name`] writes it.
    pub fn from_name(name: &str) -> Option<FieldType> {
        Some(match name {
            "int" => FieldType::Int,
            "float" => FieldType::Float,
            "string" => FieldType::String,
            "bool" => FieldType::Bool,
            "timestamp" => FieldType::Timestamp,
            "tags" => FieldType::Tags,
            _ => return None,
        })
    }

    /// Whether the type is `int` or `float`.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::Int | FieldType::Float)
    }
}

impl FieldType {
    /// The operators a rule on a field of this type takes, by their JSON
    /// names (`caseInsensitive` applies to the string ones).
    pub fn operators(self) -> &'static [&'static str] {
        const NUMBERS: &[&str] = &[
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "between",
            "notBetween",
            "in",
            "notIn",
            "null",
            "notNull",
        ];
        match self {
            FieldType::Int | FieldType::Float => NUMBERS,
            FieldType::String => &[
                "=",
                "!=",
                "in",
                "notIn",
                "contains",
                "doesNotContain",
                "beginsWith",
                "doesNotBeginWith",
                "endsWith",
                "doesNotEndWith",
                "matchesRegex",
                "doesNotMatchRegex",
                "null",
                "notNull",
            ],
            FieldType::Bool => &["=", "!=", "null", "notNull"],
            FieldType::Timestamp => &[
                "=",
                "!=",
                "<",
                "<=",
                ">",
                ">=",
                "between",
                "notBetween",
                "withinLast",
                "withinNext",
                "moreThanAgo",
                "null",
                "notNull",
            ],
            FieldType::Tags => &["containsAny", "containsAll", "containsNone", "null", "notNull"],
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
