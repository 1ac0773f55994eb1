//! A plan's nodes written as SQL: every condition a two-valued boolean
//! expression (never `NULL`), so that `NOT` is the complement the contract
//! asks for.

use super::mapping::KindMap;
use super::{Dialect, Mapping, Param, Sql, SqlError, SqlValue};
use crate::eval::{numeric_span, Span};
use crate::filter::{
    CmpOp, CountWin, EventCond, EventWhat, FieldTest, PlanNode, Quant, RelCond, StrKind, StrMatch, StrNode, StrPred,
    TagCount, TagsMatch, Test, Window,
};
use crate::ids::SegmentId;
use crate::schema::{FieldId, FieldType, KindId, KindSchema};
use crate::value::{float_key, int_key, key_to_float, key_to_int, Timestamp};
use crate::Plan;

/// Brackets a parameter's index while the text is written: never in a
/// name (identifiers are checked) nor a literal (there are none).
const MARK: char = '\u{1}';

/// How deep segments may be inlined in one another.
const MAX_INLINE_DEPTH: usize = 32;

/// A parameter's SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Int,
    Float,
    Text,
    Bool,
    Timestamp,
}

pub(super) fn type_name(ty: Ty, d: Dialect) -> &'static str {
    use Dialect::*;
    match (ty, d) {
        (Ty::Int, Postgres) => "bigint",
        (Ty::Int, DuckDb | Spark) => "BIGINT",
        (Ty::Int, ClickHouse) => "Int64",
        (Ty::Float, Postgres) => "double precision",
        (Ty::Float, DuckDb | Spark) => "DOUBLE",
        (Ty::Float, ClickHouse) => "Float64",
        (Ty::Text, Postgres) => "text",
        (Ty::Text, DuckDb) => "VARCHAR",
        (Ty::Text, Spark) => "STRING",
        (Ty::Text, ClickHouse) => "String",
        (Ty::Bool, Postgres) => "boolean",
        (Ty::Bool, DuckDb | Spark) => "BOOLEAN",
        (Ty::Bool, ClickHouse) => "Bool",
        (Ty::Timestamp, Postgres) => "timestamptz",
        (Ty::Timestamp, DuckDb | Spark) => "TIMESTAMP",
        (Ty::Timestamp, ClickHouse) => "DateTime64(6, 'UTC')",
    }
}

/// The instants (µs) a dialect can hold: years 1 to 9999, or ClickHouse's
/// `DateTime64` from 1900 to 2299.
fn instant_range(d: Dialect) -> (i64, i64) {
    match d {
        // 1900-01-01T00:00:00Z and 2299-12-31T23:59:59.999999Z.
        Dialect::ClickHouse => (-2_208_988_800_000_000, 10_413_791_999_999_999),
        // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
        _ => (-62_135_596_800_000_000, 253_402_300_799_999_999),
    }
}

pub(super) fn clamp_instant(micros: i128, d: Dialect) -> Timestamp {
    let (lo, hi) = instant_range(d);
    Timestamp::from_micros(micros.clamp(lo as i128, hi as i128) as i64)
}

/// A bound of a range: below every value, above every value, or a value.
enum End {
    Below,
    Above,
    At(SqlValue),
}

struct Cx<'a> {
    mapping: &'a Mapping,
    d: Dialect,
    params: Vec<Param>,
    aliases: usize,
    depth: usize,
}

/// Compiles `plan` to a query of the keys of the entities it matches:
/// `SELECT t0.<key> FROM <table> AS t0 WHERE <condition>`.
///
/// # Errors
///
/// [`SqlError`] if the mapping lacks something the plan reads, an
/// identifier is not safe, or the plan uses what has no SQL form.
pub fn compile(plan: &Plan, mapping: &Mapping, dialect: Dialect) -> Result<Sql, SqlError> {
    let mut cx = Cx::new(mapping, dialect);
    let kind = cx.kind_of(&plan.kind)?;
    let m = mapping.of(kind);
    let cond = cx.node(&plan.root, kind, "t0")?;
    let text = format!(
        "SELECT t0.{} FROM {} AS t0 WHERE {cond}",
        ident(&m.key, dialect)?,
        table(&m.table, dialect)?
    );
    cx.done(text)
}

/// Compiles `plan` to a boolean condition over the kind's table named
/// `alias` in the query it is put in (`FROM accounts AS a ... WHERE
/// <condition>`), true or false for every row, never `NULL`.
///
/// # Errors
///
/// As [`compile`], and [`SqlError::BadIdentifier`] for a bad alias.
pub fn compile_condition(plan: &Plan, mapping: &Mapping, dialect: Dialect, alias: &str) -> Result<Sql, SqlError> {
    let mut cx = Cx::new(mapping, dialect);
    let kind = cx.kind_of(&plan.kind)?;
    let cond = cx.node(&plan.root, kind, &ident(alias, dialect)?)?;
    cx.done(cond)
}

/// `s` quoted as one identifier, if it is safe: letters, digits, `_`, `$`
/// and `-`, 1 to 128 bytes.
pub(super) fn ident(s: &str, d: Dialect) -> Result<String, SqlError> {
    let ok = !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '-'));
    if !ok {
        return Err(SqlError::BadIdentifier(s.to_string()));
    }
    // A safe name needs no escaping inside the quotes.
    Ok(match d {
        Dialect::Spark => format!("`{s}`"),
        _ => format!("\"{s}\""),
    })
}

pub(super) fn table(s: &str, d: Dialect) -> Result<String, SqlError> {
    let parts: Result<Vec<String>, SqlError> = s
        .split('.')
        .map(|p| ident(p, d).map_err(|_| SqlError::BadIdentifier(s.to_string())))
        .collect();
    Ok(parts?.join("."))
}

/// Whether bound `a` reads more plainly than `b`, the bound next to it
/// (`30.0` than `29.999999999999996`, `1000` than `1001`, midnight than a
/// microsecond before).
fn plainer(a: &SqlValue, b: &SqlValue) -> bool {
    let zeros = |mut m: i64| {
        let mut z = 0;
        while m != 0 && m % 10 == 0 && z < 18 {
            m /= 10;
            z += 1;
        }
        z
    };
    match (a, b) {
        (SqlValue::Float(a), SqlValue::Float(b)) => format!("{a:?}").len() < format!("{b:?}").len(),
        (SqlValue::Timestamp(a), SqlValue::Timestamp(b)) => zeros(a.as_micros()) > zeros(b.as_micros()),
        (SqlValue::Int(a), SqlValue::Int(b)) => zeros(*a) > zeros(*b),
        _ => false,
    }
}

fn cmp_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// `x` as a condition that is false where `x` is unknown.
fn known(x: String) -> String {
    format!("COALESCE({x}, FALSE)")
}

fn all_of(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "TRUE".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" AND ")),
    }
}

fn any_of(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "FALSE".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" OR ")),
    }
}

/// True where an odd number of `parts` are (false for none).
fn odd_of(parts: Vec<String>) -> String {
    if parts.is_empty() {
        return "FALSE".into();
    }
    let ones: Vec<String> = parts
        .into_iter()
        .map(|p| format!("(CASE WHEN {p} THEN 1 ELSE 0 END)"))
        .collect();
    format!("(({}) % 2 = 1)", ones.join(" + "))
}

fn not(x: String) -> String {
    format!("(NOT ({x}))")
}

impl<'a> Cx<'a> {
    fn new(mapping: &'a Mapping, d: Dialect) -> Cx<'a> {
        Cx {
            mapping,
            d,
            params: Vec::new(),
            aliases: 0,
            depth: 0,
        }
    }

    /// The query, its placeholders numbered in the order they appear and
    /// only the parameters it uses (a branch decided at compile time may
    /// have made some and dropped them).
    fn done(self, text: String) -> Result<Sql, SqlError> {
        if self.d == Dialect::Postgres {
            for p in &self.params {
                if let Param::Value(SqlValue::Text(s)) = p {
                    if s.contains('\0') {
                        return Err(SqlError::Unsupported {
                            what: format!("the literal {s:?}"),
                            why: "PostgreSQL's text cannot hold U+0000".into(),
                        });
                    }
                }
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut params = Vec::new();
        let mut number: Vec<Option<usize>> = vec![None; self.params.len()];
        let mut rest = text.as_str();
        while let Some(start) = rest.find(MARK) {
            out.push_str(&rest[..start]);
            let after = &rest[start + MARK.len_utf8()..];
            let end = after.find(MARK).unwrap_or(after.len());
            let old: usize = after[..end].parse().unwrap_or(0);
            let n = *number[old].get_or_insert_with(|| {
                params.push(self.params[old].clone());
                params.len()
            });
            out.push_str(&n.to_string());
            rest = after.get(end + MARK.len_utf8()..).unwrap_or("");
        }
        out.push_str(rest);
        Ok(Sql {
            text: out,
            params,
            dialect: self.d,
        })
    }

    /// The mapping's id of the plan's kind, which must be the schema's.
    fn kind_of(&self, kind: &KindSchema) -> Result<KindId, SqlError> {
        let schema = &self.mapping.schema;
        let id = schema
            .kind_id(kind.name())
            .ok_or_else(|| SqlError::UnknownKind(crate::error::UnknownKind::new(kind.name())))?;
        let mapped = schema
            .kind(kind.name())
            .map_err(|_| SqlError::UnknownKind(crate::error::UnknownKind::new(kind.name())))?;
        if !mapped.fields().eq(kind.fields()) {
            return Err(SqlError::Unsupported {
                what: format!("kind `{}`", kind.name()),
                why: "the plan was made with other fields than the mapping's schema has".into(),
            });
        }
        Ok(id)
    }

    fn kind_schema(&self, kind: KindId) -> &'a KindSchema {
        &self.mapping.schema.kind_arcs()[kind.0 as usize]
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    /// A placeholder for `p`, cast to `ty`; numbered by [`Cx::done`].
    fn param(&mut self, p: Param, ty: Ty) -> String {
        self.params.push(p);
        let n = format!("{MARK}{}{MARK}", self.params.len() - 1);
        let t = type_name(ty, self.d);
        match self.d {
            Dialect::Postgres | Dialect::DuckDb => format!("${n}::{t}"),
            Dialect::ClickHouse => format!("{{p{n}:{t}}}"),
            Dialect::Spark => format!("CAST(:p{n} AS {t})"),
        }
    }

    fn value(&mut self, v: SqlValue) -> String {
        let ty = v.kind();
        self.param(Param::Value(v), ty)
    }

    fn text(&mut self, s: &str) -> String {
        self.value(SqlValue::Text(s.to_string()))
    }

    fn double(&self, x: &str) -> String {
        format!("CAST({x} AS {})", type_name(Ty::Float, self.d))
    }

    fn column(&self, map: &KindMap, alias: &str, field: FieldId) -> Result<String, SqlError> {
        Ok(format!("{alias}.{}", ident(&map.columns[field.index()], self.d)?))
    }

    fn node(&mut self, n: &PlanNode, kind: KindId, a: &str) -> Result<String, SqlError> {
        Ok(match n {
            PlanNode::And(xs) => {
                let parts = xs.iter().map(|x| self.node(x, kind, a)).collect::<Result<_, _>>()?;
                all_of(parts)
            }
            PlanNode::Or(xs) => {
                let parts = xs.iter().map(|x| self.node(x, kind, a)).collect::<Result<_, _>>()?;
                any_of(parts)
            }
            PlanNode::Xor(xs) => {
                let parts = xs.iter().map(|x| self.node(x, kind, a)).collect::<Result<_, _>>()?;
                odd_of(parts)
            }
            PlanNode::Not(x) => not(self.node(x, kind, a)?),
            PlanNode::Leaf(c) => self.leaf(kind, a, c.field, &c.test)?,
            PlanNode::Event(e) => self.event(kind, a, e)?,
            PlanNode::InSegment(ids) => self.in_segments(kind, a, ids)?,
            PlanNode::Related(r) => self.related(kind, a, r)?,
        })
    }

    fn leaf(&mut self, kind: KindId, a: &str, field: FieldId, test: &Test) -> Result<String, SqlError> {
        let ks = self.kind_schema(kind);
        let map = self.mapping.of(kind);
        let (name, ty) = ks.field(field).ok_or_else(|| SqlError::UnknownField {
            kind: ks.name().to_string(),
            field: format!("#{}", field.0),
        })?;
        let col = self.column(map, a, field)?;
        Ok(match test {
            Test::Null if ty == FieldType::Tags => format!("({col} IS NULL OR {} = 0)", self.cardinality(&col)),
            Test::Null => format!("({col} IS NULL)"),
            Test::Num(..) | Test::NumBetween(..) | Test::NumIn(_) | Test::Time(..) | Test::TimeBetween(..) => {
                self.span(&col, ty, test)
            }
            Test::Window(w, d) => self.window(&col, *w, *d),
            Test::StrEq(s) => {
                let p = self.text(s);
                known(format!("{col} = {p}"))
            }
            Test::StrIn(xs) => {
                let ps: Vec<String> = xs.iter().map(|x| self.text(x)).collect();
                known(format!("{col} IN ({})", ps.join(", ")))
            }
            Test::Str(m, pat) => {
                let p = self.text(pat);
                known(self.str_match(&col, *m, &p))
            }
            Test::Bool(b) => {
                let p = self.value(SqlValue::Bool(*b));
                known(format!("{col} = {p}"))
            }
            Test::TagsAny(xs) => {
                let list = self.text_list(xs);
                known(match self.d {
                    Dialect::Postgres => format!("{col} && {list}"),
                    Dialect::DuckDb => format!("list_has_any({col}, {list})"),
                    Dialect::ClickHouse => format!("hasAny({col}, {list})"),
                    Dialect::Spark => format!("arrays_overlap({col}, {list})"),
                })
            }
            Test::TagsAll(xs) => {
                let list = self.text_list(xs);
                known(match self.d {
                    Dialect::Postgres => format!("{col} @> {list}"),
                    Dialect::DuckDb => format!("list_has_all({col}, {list})"),
                    Dialect::ClickHouse => format!("hasAll({col}, {list})"),
                    Dialect::Spark => format!("size(array_except({list}, {col})) = 0"),
                })
            }
            Test::Pred(p) => known(self.pred(&col, p)?),
            Test::TagsMatch(m) => self.tags_match(&col, m)?,
            Test::Fields(f) => self.fields(kind, a, (&col, ty), f)?,
            Test::Trend(_) => {
                return Err(SqlError::Unsupported {
                    what: format!("a trend of `{name}`"),
                    why: "the history of a tracked field is kept by the engine, not in a table".into(),
                })
            }
        })
    }

    fn cardinality(&self, col: &str) -> String {
        match self.d {
            Dialect::Postgres => format!("cardinality({col})"),
            Dialect::DuckDb => format!("len({col})"),
            Dialect::ClickHouse => format!("length({col})"),
            // `size(NULL)` is -1 unless ANSI mode is on.
            Dialect::Spark => format!("(CASE WHEN {col} IS NULL THEN NULL ELSE size({col}) END)"),
        }
    }

    /// An array literal of text parameters.
    fn text_list(&mut self, xs: &[String]) -> String {
        let ps: Vec<String> = xs.iter().map(|x| self.text(x)).collect();
        let ps = ps.join(", ");
        match self.d {
            Dialect::Postgres => format!("ARRAY[{ps}]"),
            Dialect::DuckDb | Dialect::ClickHouse => format!("[{ps}]"),
            Dialect::Spark => format!("array({ps})"),
        }
    }

    /// `x` matched against pattern `p` (both SQL expressions), by bytes.
    fn str_match(&self, x: &str, m: StrMatch, p: &str) -> String {
        match (m, self.d) {
            (StrMatch::Contains, Dialect::Postgres) => format!("strpos({x}, {p}) > 0"),
            (StrMatch::Contains, Dialect::DuckDb) => format!("contains({x}, {p})"),
            (StrMatch::Contains, Dialect::ClickHouse) => format!("position({x}, {p}) > 0"),
            (StrMatch::Contains, Dialect::Spark) => format!("contains({x}, {p})"),
            (StrMatch::BeginsWith, Dialect::Postgres | Dialect::DuckDb) => format!("starts_with({x}, {p})"),
            (StrMatch::BeginsWith, Dialect::ClickHouse) => format!("startsWith({x}, {p})"),
            (StrMatch::BeginsWith, Dialect::Spark) => format!("startswith({x}, {p})"),
            (StrMatch::EndsWith, Dialect::Postgres) => format!("right({x}, char_length({p})) = {p}"),
            (StrMatch::EndsWith, Dialect::DuckDb) => format!("ends_with({x}, {p})"),
            (StrMatch::EndsWith, Dialect::ClickHouse) => format!("endsWith({x}, {p})"),
            (StrMatch::EndsWith, Dialect::Spark) => format!("endswith({x}, {p})"),
        }
    }

    fn lower(&self, x: &str) -> String {
        match self.d {
            Dialect::ClickHouse => format!("lowerUTF8({x})"),
            _ => format!("lower({x})"),
        }
    }

    /// A dictionary-scanning string test on expression `x`.
    fn pred(&mut self, x: &str, p: &StrPred) -> Result<String, SqlError> {
        if let StrKind::Regex(r) = &p.kind {
            let pattern = super::regex::translate(r.as_str(), p.fold, self.d).map_err(|why| SqlError::Unsupported {
                what: format!("the pattern `{}`", r.as_str()),
                why,
            })?;
            let q = self.text(&pattern);
            return Ok(match self.d {
                Dialect::Postgres => format!("{x} ~ {q}"),
                Dialect::DuckDb => format!("regexp_matches({x}, {q})"),
                Dialect::ClickHouse => format!("match({x}, {q})"),
                Dialect::Spark => format!("{x} RLIKE {q}"),
            });
        }
        let s = if p.fold { self.lower(x) } else { x.to_string() };
        Ok(match &p.kind {
            StrKind::Eq(v) => {
                let q = self.text(v);
                format!("{s} = {q}")
            }
            StrKind::In(vs) => {
                let qs: Vec<String> = vs.iter().map(|v| self.text(v)).collect();
                format!("{s} IN ({})", qs.join(", "))
            }
            StrKind::Match(m, v) => {
                let q = self.text(v);
                self.str_match(&s, *m, &q)
            }
            StrKind::Regex(_) => unreachable!("handled above"),
        })
    }

    fn str_node(&mut self, n: &StrNode, x: &str) -> Result<String, SqlError> {
        let mut each = |xs: &[StrNode]| xs.iter().map(|c| self.str_node(c, x)).collect::<Result<Vec<_>, _>>();
        Ok(match n {
            StrNode::And(xs) => all_of(each(xs)?),
            StrNode::Or(xs) => any_of(each(xs)?),
            StrNode::Xor(xs) => odd_of(each(xs)?),
            StrNode::Not(c) => not(self.str_node(c, x)?),
            StrNode::Leaf(p) => known(self.pred(x, p)?),
        })
    }

    /// A match mode: how many tags pass `each`, against how many there are.
    fn tags_match(&mut self, col: &str, m: &TagsMatch) -> Result<String, SqlError> {
        let each = self.str_node(&m.each, "x")?;
        let matched = match self.d {
            Dialect::Postgres => format!("(SELECT count(*) FROM unnest({col}) AS u(x) WHERE {each})"),
            // Python-style lambdas: DuckDB 1.3 on; 2.0 refuses the arrow.
            Dialect::DuckDb => format!("COALESCE(len(list_filter({col}, lambda x: {each})), 0)"),
            Dialect::ClickHouse => format!("arrayCount(x -> {each}, {col})"),
            Dialect::Spark => format!("(CASE WHEN {col} IS NULL THEN 0 ELSE size(filter({col}, x -> {each})) END)"),
        };
        let total = format!("COALESCE({}, 0)", self.cardinality(col));
        let some = format!("{total} > 0");
        let goal = |cx: &mut Cx, t: f64, op: &str| {
            let fm = cx.double(&matched);
            if t > 0.0 && t < 1.0 {
                let p = cx.value(SqlValue::Float(t));
                let ft = cx.double(&total);
                format!("{fm} {op} {p} * {ft}")
            } else {
                let p = cx.value(SqlValue::Float(t));
                format!("{fm} {op} {p}")
            }
        };
        Ok(match m.count {
            TagCount::Some => format!("({matched} > 0)"),
            TagCount::All => format!("({some} AND {matched} = {total})"),
            TagCount::None => format!("({matched} = 0)"),
            TagCount::AtLeast(t) => format!("({some} AND {})", goal(self, t, ">=")),
            TagCount::AtMost(t) => format!("({some} AND {})", goal(self, t, "<=")),
            TagCount::Exactly(t) => format!("({some} AND {})", goal(self, t, "=")),
        })
    }

    /// The bound of a numeric or instant column of type `ty` at key `k`
    /// (as the engine orders values).
    fn end(&self, ty: FieldType, k: u64, upper: bool) -> End {
        match ty {
            FieldType::Float => {
                if k < float_key(-f64::MAX) {
                    End::Below
                } else if k > float_key(f64::MAX) {
                    End::Above
                } else {
                    let x = key_to_float(k);
                    // The key just below 0.0's is -0.0's bits, which no
                    // value has: the bound is the float next to zero.
                    let x = if x == 0.0 && k != float_key(0.0) {
                        if upper {
                            -f64::from_bits(1)
                        } else {
                            0.0
                        }
                    } else {
                        x
                    };
                    End::At(SqlValue::Float(x))
                }
            }
            FieldType::Timestamp => {
                let (lo, hi) = instant_range(self.d);
                let t = key_to_int(k);
                if t < lo {
                    End::Below
                } else if t > hi {
                    End::Above
                } else {
                    End::At(SqlValue::Timestamp(Timestamp::from_micros(t)))
                }
            }
            _ => End::At(SqlValue::Int(key_to_int(k))),
        }
    }

    /// `x` in the key range `lo..=hi` of a column of type `ty`.
    fn range(&mut self, x: &str, ty: FieldType, lo: u64, hi: u64) -> String {
        if lo > hi {
            return "FALSE".into();
        }
        let mut parts = Vec::new();
        if lo != 0 {
            match self.end(ty, lo, false) {
                End::Below => {}
                End::Above => return "FALSE".into(),
                End::At(v) => match self.end(ty, lo - 1, true) {
                    // `> 30` reads better than `>= 30.000000000000004`.
                    End::At(w) if plainer(&w, &v) => {
                        let p = self.value(w);
                        parts.push(format!("{x} > {p}"));
                    }
                    _ => {
                        let p = self.value(v);
                        parts.push(format!("{x} >= {p}"));
                    }
                },
            }
        }
        if hi != u64::MAX {
            match self.end(ty, hi, true) {
                End::Above => {}
                End::Below => return "FALSE".into(),
                End::At(v) => match self.end(ty, hi + 1, false) {
                    End::At(w) if plainer(&w, &v) => {
                        let p = self.value(w);
                        parts.push(format!("{x} < {p}"));
                    }
                    _ => {
                        let p = self.value(v);
                        parts.push(format!("{x} <= {p}"));
                    }
                },
            }
        }
        if parts.is_empty() {
            return format!("({x} IS NOT NULL)");
        }
        known(parts.join(" AND "))
    }

    /// A numeric or instant test on `x` of type `ty`, lowered as the
    /// engine lowers it.
    fn span(&mut self, x: &str, ty: FieldType, test: &Test) -> String {
        match numeric_span(test, ty, Timestamp::from_micros(0)) {
            Span::Range(lo, hi) => self.range(x, ty, lo, hi),
            Span::Keys(keys) => {
                let mut ps = Vec::new();
                for k in keys {
                    if let End::At(v) = self.end(ty, k, false) {
                        ps.push(self.value(v));
                    }
                }
                if ps.is_empty() {
                    "FALSE".into()
                } else if ty == FieldType::Float && self.d == Dialect::ClickHouse {
                    // ClickHouse's `IN` tells -0.0 from 0.0 (the engine does
                    // not), and it rewrites a chain of three `=` or more
                    // into an `IN`: each value as a range of one.
                    let eqs: Vec<String> = ps.iter().map(|p| format!("({x} >= {p} AND {x} <= {p})")).collect();
                    known(any_of(eqs))
                } else {
                    known(format!("{x} IN ({})", ps.join(", ")))
                }
            }
        }
    }

    fn since_now(&mut self, d: i128) -> String {
        self.param(Param::SinceNow(d), Ty::Timestamp)
    }

    /// A time window on instant expression `x`, measured from `now`.
    fn window(&mut self, x: &str, w: Window, d: i128) -> String {
        known(match w {
            Window::Last => {
                let (lo, hi) = (self.since_now(-d), self.since_now(0));
                format!("{x} >= {lo} AND {x} <= {hi}")
            }
            Window::Next => {
                let (lo, hi) = (self.since_now(0), self.since_now(d));
                format!("{x} >= {lo} AND {x} <= {hi}")
            }
            Window::MoreThanAgo => {
                let lo = self.since_now(-d);
                format!("{x} < {lo}")
            }
        })
    }

    /// `a op b` for two columns, exactly.
    fn compare(&mut self, op: CmpOp, (a, ta): (&str, FieldType), (b, tb): (&str, FieldType)) -> String {
        let o = cmp_sql(op);
        match (ta, tb) {
            (FieldType::Int, FieldType::Float) => {
                format!("({a} IS NOT NULL AND {b} IS NOT NULL AND {} {o} 0)", self.sign(a, b))
            }
            (FieldType::Float, FieldType::Int) => {
                format!("({a} IS NOT NULL AND {b} IS NOT NULL AND 0 {o} {})", self.sign(b, a))
            }
            (FieldType::String, _) if self.d == Dialect::Postgres && op != CmpOp::Eq => {
                known(format!("{a} COLLATE \"C\" {o} {b} COLLATE \"C\""))
            }
            _ => known(format!("{a} {o} {b}")),
        }
    }

    /// -1, 0 or 1 as integer `i` is below, at or above float `f`, exactly
    /// (both known): by their floats, then, where those are equal (so `f`
    /// is integral), by integers.
    fn sign(&mut self, i: &str, f: &str) -> String {
        let fi = self.double(i);
        let int = type_name(Ty::Int, self.d);
        let top = self.value(SqlValue::Float(9_223_372_036_854_775_808.0));
        // Unknown values stop first: no cast is ever of a float out of
        // the integers' range.
        format!(
            "(CASE WHEN {i} IS NULL OR {f} IS NULL THEN NULL WHEN {fi} < {f} THEN -1 WHEN {fi} > {f} THEN 1 \
             WHEN {f} >= {top} THEN -1 WHEN {i} < CAST({f} AS {int}) THEN -1 WHEN {i} > CAST({f} AS {int}) THEN 1 \
             ELSE 0 END)"
        )
    }

    fn fields(&mut self, kind: KindId, a: &str, this: (&str, FieldType), f: &FieldTest) -> Result<String, SqlError> {
        let ks = self.kind_schema(kind);
        let map = self.mapping.of(kind);
        let other = |cx: &Cx, id: FieldId| -> Result<(String, FieldType), SqlError> {
            let ty = ks.field(id).map(|(_, t)| t).ok_or_else(|| SqlError::UnknownField {
                kind: ks.name().to_string(),
                field: format!("#{}", id.0),
            })?;
            Ok((cx.column(map, a, id)?, ty))
        };
        Ok(match f {
            FieldTest::Cmp(op, id) => {
                let (b, tb) = other(self, *id)?;
                self.compare(*op, this, (&b, tb))
            }
            FieldTest::Between(lo, hi) => {
                let (l, tl) = other(self, *lo)?;
                let (h, th) = other(self, *hi)?;
                let above = self.compare(CmpOp::Ge, this, (&l, tl));
                let below = self.compare(CmpOp::Le, this, (&h, th));
                format!("({above} AND {below})")
            }
            FieldTest::In(ids) => {
                let mut parts = Vec::new();
                for id in ids {
                    let (b, tb) = other(self, *id)?;
                    parts.push(self.compare(CmpOp::Eq, this, (&b, tb)));
                }
                any_of(parts)
            }
            FieldTest::Str(m, id) => {
                let (b, _) = other(self, *id)?;
                known(self.str_match(this.0, *m, &b))
            }
        })
    }

    /// `<key> IN (<sub>)`, false where unknown.
    fn member(key: &str, sub: &str) -> String {
        known(format!("{key} IN ({sub})"))
    }

    fn event(&mut self, kind: KindId, a: &str, e: &EventCond) -> Result<String, SqlError> {
        let ks = self.kind_schema(kind);
        let map = self.mapping.of(kind);
        let what = e.name.as_deref().unwrap_or("any event");
        if e.props.is_some() {
            return Err(SqlError::Unsupported {
                what: format!("`where` on `{what}`"),
                why: "event properties are kept by the engine, not in the event table".into(),
            });
        }
        let ev = map
            .events
            .as_ref()
            .ok_or_else(|| SqlError::NoEvents(ks.name().to_string()))?;
        let key = format!("{a}.{}", ident(&map.key, self.d)?);
        let v = self.alias("e");
        let (ek, at) = (
            format!("{v}.{}", ident(&ev.key, self.d)?),
            format!("{v}.{}", ident(&ev.at, self.d)?),
        );
        let mut wheres = vec![format!("{ek} IS NOT NULL")];
        if let Some(n) = &e.name {
            let p = self.text(n);
            wheres.push(format!("{v}.{} = {p}", ident(&ev.name, self.d)?));
        }
        let from = format!("FROM {} AS {v}", table(&ev.table, self.d)?);
        let select = |wheres: &[String]| format!("SELECT {ek} {from} WHERE {}", wheres.join(" AND "));
        Ok(match &e.what {
            EventWhat::First(t) | EventWhat::Last(t) => {
                let agg = if matches!(e.what, EventWhat::First(_)) {
                    format!("MIN({at})")
                } else {
                    format!("MAX({at})")
                };
                let test = match t {
                    Test::Null => return Ok(not(Self::member(&key, &select(&wheres)))),
                    Test::Window(w, d) => self.window(&agg, *w, *d),
                    t => self.span(&agg, FieldType::Timestamp, t),
                };
                let sub = format!("{} GROUP BY {ek} HAVING {test}", select(&wheres));
                Self::member(&key, &sub)
            }
            EventWhat::Count { op, n, window } => {
                match *window {
                    CountWin::All => {}
                    CountWin::Last(d) => wheres.push(self.window(&at, Window::Last, d)),
                    CountWin::Between(lo, hi) => {
                        // Instants are whole microseconds: the bounds rounded inwards.
                        let lo = lo.div_euclid(1000) + i128::from(lo.rem_euclid(1000) != 0);
                        let hi = hi.div_euclid(1000);
                        let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                        let (lo, hi) = (int_key(clamp(lo)), int_key(clamp(hi)));
                        wheres.push(self.range(&at, FieldType::Timestamp, lo, hi));
                    }
                }
                let n = *n;
                let having = |cx: &mut Cx, o: &str, n: u64| {
                    let p = cx.value(SqlValue::Int(n.min(i64::MAX as u64) as i64));
                    format!("{} GROUP BY {ek} HAVING COUNT(*) {o} {p}", select(&wheres))
                };
                match op {
                    CmpOp::Eq if n == 0 => not(Self::member(&key, &select(&wheres))),
                    CmpOp::Eq => Self::member(&key, &having(self, "=", n)),
                    CmpOp::Lt if n == 0 => "FALSE".into(),
                    CmpOp::Lt => not(Self::member(&key, &having(self, ">=", n))),
                    CmpOp::Le => not(Self::member(&key, &having(self, ">", n))),
                    CmpOp::Gt => Self::member(&key, &having(self, ">", n)),
                    CmpOp::Ge if n == 0 => "TRUE".into(),
                    CmpOp::Ge => Self::member(&key, &having(self, ">=", n)),
                }
            }
            EventWhat::Change { op, ratio, window } => {
                let w = *window;
                wheres.push(self.window(&at, Window::Last, 2 * w));
                let mid = self.since_now(-w);
                let last = self.double(&format!("SUM(CASE WHEN {at} >= {mid} THEN 1 ELSE 0 END)"));
                let before = self.double(&format!("SUM(CASE WHEN {at} < {mid} THEN 1 ELSE 0 END)"));
                let r = self.value(SqlValue::Float(*ratio));
                let sub = format!(
                    "{} GROUP BY {ek} HAVING {last} {} {r} * {before}",
                    select(&wheres),
                    cmp_sql(*op)
                );
                Self::member(&key, &sub)
            }
        })
    }

    fn in_segments(&mut self, kind: KindId, a: &str, ids: &[SegmentId]) -> Result<String, SqlError> {
        let map = self.mapping.of(kind);
        let key = format!("{a}.{}", ident(&map.key, self.d)?);
        let mut parts = Vec::new();
        let mut listed = Vec::new();
        for id in ids {
            match self.mapping.inline.get(id) {
                Some(plan) => {
                    if self.depth >= MAX_INLINE_DEPTH {
                        return Err(SqlError::TooDeep(MAX_INLINE_DEPTH));
                    }
                    let inner = self.kind_of(&plan.kind)?;
                    if inner != kind {
                        return Err(SqlError::Unsupported {
                            what: format!("segment {}", id.0),
                            why: format!("its filter is over kind `{}`", plan.kind.name()),
                        });
                    }
                    let s = self.alias("s");
                    self.depth += 1;
                    let cond = self.node(&plan.root, kind, &s);
                    self.depth -= 1;
                    let sub = format!(
                        "SELECT {s}.{} FROM {} AS {s} WHERE {}",
                        ident(&map.key, self.d)?,
                        table(&map.table, self.d)?,
                        cond?
                    );
                    parts.push(Self::member(&key, &sub));
                }
                None if self.mapping.membership.is_some() => listed.push(*id),
                None => return Err(SqlError::UnknownSegment(id.0)),
            }
        }
        if let (false, Some(m)) = (listed.is_empty(), &self.mapping.membership) {
            let v = self.alias("m");
            let ps: Vec<String> = listed
                .iter()
                .map(|id| self.value(SqlValue::Int(id.0.min(i64::MAX as u64) as i64)))
                .collect();
            let sub = format!(
                "SELECT {v}.{k} FROM {} AS {v} WHERE {v}.{k} IS NOT NULL AND {v}.{} IN ({})",
                table(&m.table, self.d)?,
                ident(&m.segment, self.d)?,
                ps.join(", "),
                k = ident(&m.key, self.d)?,
            );
            parts.push(Self::member(&key, &sub));
        }
        Ok(any_of(parts))
    }

    fn related(&mut self, kind: KindId, a: &str, r: &RelCond) -> Result<String, SqlError> {
        let rel = self.mapping.schema.relations()[r.relation.index()];
        let parent = self.mapping.of(kind);
        let child = KindId(r.child as u32);
        let cmap = self.mapping.of(child);
        let key = format!("{a}.{}", ident(&parent.key, self.d)?);
        let c = self.alias("c");
        let fk = self.column(cmap, &c, rel.field)?;
        let from = format!("FROM {} AS {c} WHERE {fk} IS NOT NULL", table(&cmap.table, self.d)?);
        let nested = self.node(&r.nested, child, &c)?;
        if r.quant == Quant::Any {
            return Ok(Self::member(&key, &format!("SELECT {fk} {from} AND {nested}")));
        }
        let (ra, rb) = (self.alias("r"), self.alias("r"));
        let m = format!("COALESCE({rb}.m, 0)");
        let total = format!("{ra}.total");
        let int = |cx: &mut Cx, n: u64| cx.value(SqlValue::Int(n.min(i64::MAX as u64) as i64));
        let share = |cx: &mut Cx, p: f64, o: &str| {
            let hundred = cx.value(SqlValue::Float(100.0));
            let p = cx.value(SqlValue::Float(p));
            format!("{} * {hundred} {o} {p} * {}", cx.double(&m), cx.double(&total))
        };
        let q = match r.quant {
            Quant::Any => format!("{m} > 0"),
            Quant::All => format!("{m} = {total}"),
            Quant::AtLeast(n) => format!("{m} >= {}", int(self, n)),
            Quant::AtMost(n) => format!("{m} <= {}", int(self, n)),
            Quant::Exactly(n) => format!("{m} = {}", int(self, n)),
            Quant::Percent(p) => format!("{total} > 0 AND {}", share(self, p, ">=")),
            Quant::AtMostPercent(p) => format!("({total} = 0 OR {})", share(self, p, "<=")),
            Quant::ExactlyPercent(p) => format!("{total} > 0 AND {}", share(self, p, "=")),
        };
        let groups =
            |what: &str, extra: &str| format!("SELECT {fk} AS fk, COUNT(*) AS {what} {from}{extra} GROUP BY {fk}");
        let joined = |cond: &str| {
            format!(
                "SELECT {ra}.fk FROM ({}) AS {ra} LEFT JOIN ({}) AS {rb} ON {ra}.fk = {rb}.fk WHERE {cond}",
                groups("total", ""),
                groups("m", &format!(" AND {nested}"))
            )
        };
        // Entities without children are in no group: where the quantifier
        // holds of none of none, the members are those whose groups fail it.
        Ok(if r.quant.satisfied_by(0, 0) {
            not(Self::member(&key, &joined(&format!("NOT ({q})"))))
        } else {
            Self::member(&key, &joined(&q))
        })
    }
}
