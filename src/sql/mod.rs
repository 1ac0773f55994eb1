//! Segments compiled to SQL, for data that lives in a warehouse or a
//! cluster: the same filter, with the same meaning, run by PostgreSQL,
//! DuckDB, ClickHouse or Spark SQL.
//!
//! [`compile`] turns a [`Plan`](crate::Plan) into a query (`SELECT key FROM ... WHERE
//! ...`) and [`compile_condition`] into a boolean expression to put in a
//! query of your own. A [`Mapping`] says where the data is: each kind's
//! table, its key column and the column of each field, the table of its
//! events, and where the members of a segment that a filter names are.
//! Literals are never spliced into the text: each is a bound parameter
//! ([`Sql::params`]), with a cast to its type in the text, and identifiers
//! are checked and quoted.
//!
//! # What it means
//!
//! Exactly what [`Query::evaluate`](crate::engine::Query::evaluate) means, as the
//! [filter contract](crate::filter) fixes it; where a dialect's own
//! operator means something else, the compiler writes what does not:
//!
//! - every rule is true or false, never unknown: a positive test on a
//!   missing value is false, and a negative operator (`!=`, `notIn`,
//!   `doesNotContain`, ...) is the complement of its positive one, so true
//!   on a missing value (`NOT COALESCE(x = $1, FALSE)`);
//! - numbers compare exactly across `int` and `float` (`nps < 7.5` is
//!   `nps <= 7` on an integer column; an integer past 2^53 is not rounded
//!   to a float);
//! - strings compare by their bytes (`COLLATE "C"` in PostgreSQL), case
//!   sensitively, and `contains` / `beginsWith` / `endsWith` use the
//!   engine's substring functions, so `%` and `_` are plain characters;
//! - `tags` are arrays (an empty one is a missing value);
//! - instants are microseconds in UTC, and time-relative rules measure from
//!   the `now` given to [`Sql::bind`], never the database's own clock, so a
//!   query compiled once runs at any instant;
//! - an empty `and` is true, an empty `or` false; `xor` counts;
//! - event counts, first and last seen and usage change are computed from
//!   the event table, `@related` quantifiers from the child table (with
//!   `all` true, and `atMost` true, for an entity without children), and
//!   `@segment` from a membership table or the referenced segment's own
//!   filter, inlined.
//!
//! Every subquery is uncorrelated (`key IN (SELECT ...)`), which each of
//! the four engines runs as a semi-join.
//!
//! # What differs
//!
//! Nothing, by design, with these exceptions, which the compiler refuses
//! rather than approximates ([`SqlError::Unsupported`]) or which are the
//! engine's own:
//!
//! - trends of tracked fields (`@delta`, `@max`, `@min`) and `where` over
//!   event properties: the history and the properties are the engine's own
//!   and have no table in a mapping; refused;
//! - regular expressions: a pattern is parsed as the engine parses it (the
//!   `regex` crate's syntax) and written out for the dialect's own regex
//!   engine (POSIX AREs in PostgreSQL, RE2 in DuckDB and ClickHouse,
//!   Java's in Spark) with nothing left to its reading: classes (`.`, `\w`,
//!   `\d`, `[[:alpha:]]`, a letter ignoring case) as their explicit
//!   ranges, so `.` never matches a line break unless `(?s)` says so and
//!   `\w` is Unicode everywhere; characters as code point escapes;
//!   anchors and word boundaries as lookarounds where the dialect's own
//!   differ (PostgreSQL's `\b` is a backspace; Java's `$` also matches
//!   before a final line break). Refused, per dialect: a Unicode word
//!   boundary or word start or end (`\b`, `\<`, `\b{start}`) in DuckDB
//!   and ClickHouse, whose RE2 has only the ASCII one (write `(?-u:\b)`);
//!   a repetition counted past 255 in PostgreSQL or 1,000 in RE2; a class
//!   that matches nothing; CRLF-mode anchors (`(?mR)`);
//! - PostgreSQL's `text` cannot hold U+0000: a literal holding it is
//!   refused for PostgreSQL;
//! - ignoring case lowercases with the engine's `lower`, which agrees with
//!   the library on ASCII; outside ASCII it depends on the engine (and on
//!   PostgreSQL's collation);
//! - instants outside the dialect's range (years 1 to 9999; for ClickHouse's
//!   `DateTime64`, 1900 to 2299) cannot be stored there, and a bound past
//!   it is clamped to it.
//!
//! # Examples
//!
//! ```
//! use segments::sql::{self, Dialect, Mapping};
//! use segments::{FieldType, Filter, LimitPolicy, Plan, Schema, Timestamp};
//!
//! let schema = Schema::builder()
//!     .kind("account", [("health", FieldType::Float), ("plan", FieldType::String)])
//!     .build()?;
//! let filter = Filter::from_json(r#"{"combinator": "and", "rules": [
//!     {"field": "health", "operator": "<", "value": 30},
//!     {"field": "plan", "operator": "!=", "value": "free"}]}"#)?;
//! let plan = Plan::in_schema(&filter, &schema, "account", &LimitPolicy::default())?;
//!
//! let mapping = Mapping::new(&schema).table("account", "crm.accounts")?.key("account", "id")?;
//! let q = sql::compile(&plan, &mapping, Dialect::Postgres)?;
//! assert_eq!(
//!     q.text(),
//!     r#"SELECT t0."id" FROM "crm"."accounts" AS t0 WHERE (COALESCE(t0."health" < $1::double precision, FALSE) AND (NOT (COALESCE(t0."plan" = $2::text, FALSE))))"#
//! );
//! let now: Timestamp = "2026-11-22T12:00:00Z".parse()?;
//! assert_eq!(q.bind(now), [sql::SqlValue::Float(30.0), sql::SqlValue::Text("free".into())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compile;
mod mapping;
mod regex;

use std::fmt;

pub use compile::{compile, compile_condition};
pub use mapping::{EventTable, Mapping, MembershipTable};

use crate::value::Timestamp;

/// The SQL engines the compiler writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL 12 or later: `$1` placeholders with casts.
    Postgres,
    /// DuckDB: `$1` placeholders with casts.
    DuckDb,
    /// ClickHouse: typed `{p1:Int64}` placeholders.
    ClickHouse,
    /// Spark SQL 3.4 or later: named `:p1` placeholders with casts (as
    /// `spark.sql(query, args)` binds them).
    Spark,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 4] = [Dialect::Postgres, Dialect::DuckDb, Dialect::ClickHouse, Dialect::Spark];

    /// The dialect's name as `--sql` takes it: `postgres`, `duckdb`,
    /// `clickhouse`, `spark`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::DuckDb => "duckdb",
            Dialect::ClickHouse => "clickhouse",
            Dialect::Spark => "spark",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dialect {
    type Err = SqlError;

    fn from_str(s: &str) -> Result<Dialect, SqlError> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.name() == s || (s == "postgresql" && *d == Dialect::Postgres))
            .ok_or_else(|| SqlError::UnknownDialect(s.to_string()))
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// A 64-bit integer (`bigint`, `Int64`).
    Int(i64),
    /// A finite 64-bit float (`double precision`, `Float64`).
    Float(f64),
    /// A string (`text`, `String`).
    Text(String),
    /// A boolean.
    Bool(bool),
    /// An instant, microseconds in UTC (`timestamptz`, `TIMESTAMP`,
    /// `DateTime64(6, 'UTC')`). [`SqlValue::to_sql_text`] gives the text
    /// form the placeholder's cast reads.
    Timestamp(Timestamp),
}

impl SqlValue {
    /// The value as text that the placeholder's cast reads in `dialect`,
    /// for clients that bind every parameter as text: digits, `true` /
    /// `false`, the string itself, or the instant in UTC,
    /// `2026-11-22 12:00:00.000000`, with its zone where the cast would
    /// read a bare instant in the session's zone: `+00` for PostgreSQL's
    /// `timestamptz`, `+00:00` for Spark's `TIMESTAMP` (DuckDB's
    /// `TIMESTAMP` and ClickHouse's `DateTime64(6, 'UTC')` have a zone of
    /// their own, whatever the session's). ClickHouse reads a query
    /// parameter's text in its escaped (TabSeparated) form, so there a
    /// string's backslashes, line breaks, tabs and NULs come escaped
    /// (`a\b` is `a\\b`).
    pub fn to_sql_text(&self, dialect: Dialect) -> String {
        match self {
            SqlValue::Text(s) if dialect == Dialect::ClickHouse => {
                let mut out = String::with_capacity(s.len());
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\r' => out.push_str("\\r"),
                        '\0' => out.push_str("\\0"),
                        c => out.push(c),
                    }
                }
                out
            }
            SqlValue::Timestamp(_) if matches!(dialect, Dialect::Postgres | Dialect::Spark) => {
                let mut t = self.to_sql_text(Dialect::DuckDb);
                t.push_str(if dialect == Dialect::Postgres { "+00" } else { "+00:00" });
                t
            }
            SqlValue::Int(i) => i.to_string(),
            SqlValue::Float(x) => format!("{x:?}"),
            SqlValue::Text(s) => s.clone(),
            SqlValue::Bool(b) => b.to_string(),
            SqlValue::Timestamp(t) => t
                .to_datetime()
                .map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        }
    }

    /// The SQL type name of the value in `dialect`, as its placeholders
    /// cast to.
    pub fn type_name(&self, dialect: Dialect) -> &'static str {
        compile::type_name(self.kind(), dialect)
    }

    fn kind(&self) -> compile::Ty {
        match self {
            SqlValue::Int(_) => compile::Ty::Int,
            SqlValue::Float(_) => compile::Ty::Float,
            SqlValue::Text(_) => compile::Ty::Text,
            SqlValue::Bool(_) => compile::Ty::Bool,
            SqlValue::Timestamp(_) => compile::Ty::Timestamp,
        }
    }
}

/// The column type a field of type `ty` has in `dialect`, as the compiler
/// expects it: `tags` an array of strings; `timestamp` an instant in UTC
/// with microseconds. Every field may be missing (`NULL`; in ClickHouse
/// `Nullable(...)`, but for `tags`, whose empty array is its missing
/// value).
///
/// ```
/// use segments::sql::{column_type, Dialect};
/// use segments::FieldType;
///
/// assert_eq!(column_type(FieldType::Tags, Dialect::Postgres), "text[]");
/// assert_eq!(column_type(FieldType::Timestamp, Dialect::ClickHouse), "Nullable(DateTime64(6, 'UTC'))");
/// ```
pub fn column_type(ty: crate::FieldType, dialect: Dialect) -> String {
    use crate::FieldType as F;
    let base = match ty {
        F::Int => compile::Ty::Int,
        F::Float => compile::Ty::Float,
        F::String => compile::Ty::Text,
        F::Bool => compile::Ty::Bool,
        F::Timestamp => compile::Ty::Timestamp,
        F::Tags => {
            return match dialect {
                Dialect::Postgres => "text[]",
                Dialect::DuckDb => "VARCHAR[]",
                Dialect::ClickHouse => "Array(String)",
                Dialect::Spark => "ARRAY<STRING>",
            }
            .to_string()
        }
    };
    let name = compile::type_name(base, dialect);
    match dialect {
        Dialect::ClickHouse => format!("Nullable({name})"),
        _ => name.to_string(),
    }
}

/// `name` quoted as an identifier of `dialect` (double quotes; backticks
/// for Spark), or a table's dotted name part by part, if it is safe:
/// 1 to 128 bytes of letters, digits, `_`, `$` and `-` a part.
///
/// # Errors
///
/// [`SqlError::BadIdentifier`] if it is not.
pub fn quote(name: &str, dialect: Dialect) -> Result<String, SqlError> {
    compile::table(name, dialect)
}

/// A parameter of a compiled query: a value, or an instant relative to the
/// `now` that [`Sql::bind`] is given.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A value fixed by the filter.
    Value(SqlValue),
    /// `now` plus this many microseconds (negative: before now), clamped
    /// to the dialect's range of instants.
    SinceNow(i128),
}

/// A compiled query or condition: its text, with placeholders, and its
/// parameters in placeholder order (`$1` or `p1` is the first).
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    text: String,
    params: Vec<Param>,
    dialect: Dialect,
}

impl Sql {
    /// The text, with placeholders.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parameters, in placeholder order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The dialect it is written in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The parameters' values at `now`, in placeholder order: what to bind.
    pub fn bind(&self, now: Timestamp) -> Vec<SqlValue> {
        self.params
            .iter()
            .map(|p| match p {
                Param::Value(v) => v.clone(),
                Param::SinceNow(d) => {
                    SqlValue::Timestamp(compile::clamp_instant(now.as_micros() as i128 + d, self.dialect))
                }
            })
            .collect()
    }

    /// The names of the placeholders, in order: `$1`, `$2`, ... or `p1`,
    /// `p2`, ... (ClickHouse and Spark name them).
    pub fn placeholder_names(&self) -> Vec<String> {
        (1..=self.params.len())
            .map(|i| match self.dialect {
                Dialect::Postgres | Dialect::DuckDb => format!("${i}"),
                Dialect::ClickHouse | Dialect::Spark => format!("p{i}"),
            })
            .collect()
    }
}

impl fmt::Display for Sql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a plan could not be compiled, or a mapping not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The plan uses something that has no SQL form here.
    #[error("{what} has no SQL form: {why}")]
    Unsupported {
        /// What: the condition, by its field.
        what: String,
        /// Why.
        why: String,
    },
    /// A kind the mapping does not know.
    #[error(transparent)]
    UnknownKind(#[from] crate::error::UnknownKind),
    /// A field the kind does not have.
    #[error("kind `{kind}` has no field `{field}`")]
    UnknownField {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
    },
    /// An identifier that is not safe to quote.
    #[error("identifier `{0}` must be 1 to 128 bytes of letters, digits, `_`, `$` or `-` (with `.` between the parts of a table's name)")]
    BadIdentifier(String),
    /// The plan reads events of a kind whose mapping has no event table.
    #[error("kind `{0}` has no event table in the mapping")]
    NoEvents(String),
    /// The plan names a segment the mapping cannot find.
    #[error("segment {0} has no membership table and no filter in the mapping")]
    UnknownSegment(u64),
    /// Segments inlined in one another too deep (or in a cycle).
    #[error("segments inlined more than {0} deep (a cycle in the mapping?)")]
    TooDeep(usize),
    /// A dialect name that is not one of `postgres`, `duckdb`,
    /// `clickhouse`, `spark`.
    #[error("unknown SQL dialect `{0}`: expected postgres, duckdb, clickhouse or spark")]
    UnknownDialect(String),
}
