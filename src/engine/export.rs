//! Streaming a segment's members out: chosen fields, CSV or JSON Lines,
//! ordered by key or by a field, a page at a time behind a cursor token.

use std::cmp::Ordering;
use std::io::Write;

use roaring::RoaringBitmap;

use super::read::Segments;
use super::Engine;
use crate::error::{ExportError, SegmentError};
use crate::ids::{EntityId, SegmentId};
use crate::store::Table;
use crate::value::{cmp_num, Num, Value};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row: `key`, then the fields. A missing
    /// value is an empty cell; timestamps in RFC 3339; tags as a JSON
    /// array.
    #[default]
    Csv,
    /// One JSON object a line: `{"key": ..., "<field>": <value>, ...}`, a
    /// missing value `null`, timestamps in RFC 3339, tags as arrays: the
    /// form [`Engine::load_json_lines`](crate::Engine::load_json_lines)
    /// reads back. A page has no header, so pages concatenate.
    JsonLines,
}

/// The order members are exported in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExportOrder {
    /// By key, byte-wise.
    #[default]
    Key,
    /// By a field's value (numbers exactly, strings byte-wise, false before
    /// true, instants, tags by their JSON), missing values last, ties by
    /// key; `descending` reverses the values (missing still last).
    Field {
        /// The field.
        field: String,
        /// Largest first.
        descending: bool,
    },
}

/// What to export, and which page.
///
/// ```
/// use segments::engine::{Export, ExportFormat};
/// use segments::segment::{Actor, NewSegment, Role};
/// use segments::{Engine, FieldType, Row, Schema};
///
/// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int), ("plan", FieldType::String)]).build()?;
/// let mut engine = Engine::new(schema);
/// let admin = Actor::new("ada", Role::Admin);
/// let (all, _) = engine.create_segment(&admin, NewSegment::new("All", "account"))?;
/// for (k, mrr) in [("c", 30), ("a", 10), ("b", 20)] {
///     engine.insert("account", k, Row::new().set("mrr", mrr).set("plan", "pro, annual"))?;
/// }
/// engine.add_members(&admin, all, ["a", "b", "c"])?;
///
/// let spec = Export::new(["mrr", "plan"]).limit(2);
/// let mut page = Vec::new();
/// let next = engine.segments().export(all, &spec, &mut page)?;
/// assert_eq!(String::from_utf8(page).unwrap(), "key,mrr,plan\na,10,\"pro, annual\"\nb,20,\"pro, annual\"\n");
///
/// let mut rest = Vec::new();
/// let end = engine.segments().export(all, &spec.clone().after(next), &mut rest)?;
/// assert_eq!(String::from_utf8(rest).unwrap(), "key,mrr,plan\nc,30,\"pro, annual\"\n");
/// assert_eq!(end, None);
///
/// let json = Export::new(["mrr"]).format(ExportFormat::JsonLines);
/// let mut lines = Vec::new();
/// engine.segments().export(all, &json, &mut lines)?;
/// assert!(String::from_utf8(lines).unwrap().starts_with("{\"key\":\"a\",\"mrr\":10}\n"));
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    fields: Vec<String>,
    format: ExportFormat,
    order: ExportOrder,
    limit: usize,
    after: Option<String>,
}

impl Export {
    /// The members' keys and these fields, as CSV, by key, every member.
    pub fn new<F: Into<String>>(fields: impl IntoIterator<Item = F>) -> Export {
        Export {
            fields: fields.into_iter().map(Into::into).collect(),
            format: ExportFormat::Csv,
            order: ExportOrder::Key,
            limit: usize::MAX,
            after: None,
        }
    }

    /// The format.
    pub fn format(mut self, format: ExportFormat) -> Export {
        self.format = format;
        self
    }

    /// The order.
    pub fn order(mut self, order: ExportOrder) -> Export {
        self.order = order;
        self
    }

    /// At most `n` members a page.
    pub fn limit(mut self, n: usize) -> Export {
        self.limit = n;
        self
    }

    /// The page after the one that returned `token` (`None`: the first).
    /// Pages are by position, not by count: members that come or go
    /// between pages do not shift the others, and none is repeated.
    pub fn after(mut self, token: Option<String>) -> Export {
        self.after = token;
        self
    }
}

/// A comparable form of a value, for ordering.
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Num(Num),
    Text(String),
    Bool(bool),
    Time(i64),
    Missing,
}

fn sort_key(v: Value) -> SortKey {
    match v {
        Value::Null => SortKey::Missing,
        Value::Int(i) => SortKey::Num(Num::Int(i128::from(i))),
        Value::Float(x) => SortKey::Num(Num::Float(x)),
        Value::String(s) => SortKey::Text(s),
        Value::Bool(b) => SortKey::Bool(b),
        Value::Timestamp(t) => SortKey::Time(t.as_micros()),
        Value::Tags(t) if t.is_empty() => SortKey::Missing,
        v @ Value::Tags(_) => SortKey::Text(v.to_string()),
    }
}

fn cmp_keys(a: &SortKey, b: &SortKey, descending: bool) -> Ordering {
    let o = match (a, b) {
        (SortKey::Missing, SortKey::Missing) => return Ordering::Equal,
        (SortKey::Missing, _) => return Ordering::Greater,
        (_, SortKey::Missing) => return Ordering::Less,
        (SortKey::Num(x), SortKey::Num(y)) => cmp_num(*x, *y),
        (SortKey::Text(x), SortKey::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (SortKey::Bool(x), SortKey::Bool(y)) => x.cmp(y),
        (SortKey::Time(x), SortKey::Time(y)) => x.cmp(y),
        // One field has one type: not reached.
        _ => Ordering::Equal,
    };
    if descending {
        o.reverse()
    } else {
        o
    }
}

/// A page token: the position of the last member of a page, as the JSON
/// of `[key]` or `[key, value]` in hex (opaque to callers, and free of
/// characters a URL would escape).
fn token(key: &str, value: Option<&Value>) -> String {
    let json = match value {
        None => serde_json::json!([key]),
        Some(v) => serde_json::json!([key, v]),
    };
    json.to_string().bytes().map(|b| format!("{b:02x}")).collect()
}

fn untoken(t: &str) -> Result<(String, Option<Value>), ExportError> {
    let bad = |reason: &str| ExportError::BadToken {
        token: t.chars().take(64).collect(),
        reason: reason.to_string(),
    };
    if t.len() % 2 != 0 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("not a page token"));
    }
    let bytes: Vec<u8> = (0..t.len() / 2)
        .filter_map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
        .collect();
    let (key, value): (String, Option<Value>) = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Array(a)) if !a.is_empty() && a.len() <= 2 => {
            let key = a[0].as_str().ok_or_else(|| bad("not a page token"))?.to_string();
            let value = match a.get(1) {
                Some(v) => Some(serde_json::from_value(v.clone()).map_err(|_| bad("not a page token"))?),
                None => None,
            };
            (key, value)
        }
        _ => return Err(bad("not a page token")),
    };
    Ok((key, value))
}

/// How many sorted runs an engine keeps for paged exports (the latest
/// ones, each a `u32` a member).
const RUNS: usize = 4;

/// Members sorted for an export, kept between its pages so that a page
/// costs a binary search and its own rows, not a sort of the segment.
/// A run is valid while the segment's members are the same and no data
/// or schema write has happened (the engine's version): acknowledgements,
/// refreshes and edits of other segments between pages keep it.
#[derive(Default)]
pub(super) struct Runs(std::sync::Mutex<Vec<Run>>);

/// A cache, not state: an engine's debug form is the same with or
/// without it.
impl std::fmt::Debug for Runs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runs")
    }
}

#[derive(Debug)]
struct Run {
    segment: SegmentId,
    order: ExportOrder,
    version: u64,
    members: RoaringBitmap,
    ids: std::sync::Arc<Vec<u32>>,
}

impl Runs {
    /// The `members` of `segment` sorted by `order` at `version`, kept or
    /// made by `sort`.
    fn get(
        &self,
        segment: SegmentId,
        order: &ExportOrder,
        version: u64,
        members: &RoaringBitmap,
        sort: impl FnOnce() -> Vec<u32>,
    ) -> std::sync::Arc<Vec<u32>> {
        // A poisoned lock only means another export panicked mid-way; the
        // runs it holds are whole or absent.
        let mut runs = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.retain(|r| r.version == version);
        if let Some(r) = runs
            .iter()
            .find(|r| r.segment == segment && r.order == *order && r.members == *members)
        {
            return r.ids.clone();
        }
        runs.retain(|r| r.segment != segment || r.order != *order);
        drop(runs);
        let ids = std::sync::Arc::new(sort());
        let mut runs = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if runs.len() >= RUNS {
            runs.remove(0);
        }
        runs.push(Run {
            segment,
            order: order.clone(),
            version,
            members: members.clone(),
            ids: ids.clone(),
        });
        ids
    }
}

impl Engine {
    /// Deprecated: `engine.segments().export(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.segments().export(..)`")]
    pub fn export(&self, segment: SegmentId, spec: &Export, out: impl Write) -> Result<Option<String>, ExportError> {
        self.segments().export(segment, spec, out)
    }

    /// Exports the members of `segment` (of the kind at `kind`).
    pub(super) fn export_members(
        &self,
        segment: SegmentId,
        kind: usize,
        spec: &Export,
        out: impl Write,
    ) -> Result<Option<String>, ExportError> {
        let table = self.table_at(kind);
        check_fields(table, spec)?;
        let empty = RoaringBitmap::new();
        let members = self.guard().segment_ref(segment).map_or(&empty, |s| &s.members);
        let sorted = self.exports.get(segment, &spec.order, self.version, members, || {
            sorted(table, members, &spec.order)
        });
        export_rows(table, &sorted, spec, out)
    }
}

/// Refuses an export of a field the kind lacks.
fn check_fields(table: &Table, spec: &Export) -> Result<(), ExportError> {
    for f in spec.fields.iter().chain(match &spec.order {
        ExportOrder::Field { field, .. } => Some(field),
        ExportOrder::Key => None,
    }) {
        if table.schema().field_id(f).is_none() {
            return Err(ExportError::UnknownField { field: f.clone() });
        }
    }
    Ok(())
}

/// What a member sorts by: its order's value, then its key.
fn position<'t>(table: &'t Table, id: u32, order: &ExportOrder) -> (SortKey, &'t str) {
    let sk = match order {
        ExportOrder::Key => SortKey::Missing,
        ExportOrder::Field { field, .. } => sort_key(table.get(EntityId(id), field).unwrap_or(Value::Null)),
    };
    (sk, table.key(EntityId(id)).unwrap_or_default())
}

fn cmp_positions(a: &(SortKey, &str), b: &(SortKey, &str), order: &ExportOrder) -> Ordering {
    let descending = matches!(order, ExportOrder::Field { descending: true, .. });
    cmp_keys(&a.0, &b.0, descending).then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
}

/// The live members `ids` of `table`, sorted by `order`.
fn sorted(table: &Table, ids: &RoaringBitmap, order: &ExportOrder) -> Vec<u32> {
    let live = ids & table.live();
    let mut rows: Vec<((SortKey, &str), u32)> = live.iter().map(|id| (position(table, id, order), id)).collect();
    rows.sort_unstable_by(|a, b| cmp_positions(&a.0, &b.0, order));
    rows.into_iter().map(|(_, id)| id).collect()
}

/// Writes the page of `spec` from the members `rows`, sorted by its order.
fn export_rows(table: &Table, rows: &[u32], spec: &Export, out: impl Write) -> Result<Option<String>, ExportError> {
    let after = spec.after.as_deref().map(untoken).transpose()?;
    let start = match &after {
        None => 0,
        Some((key, value)) => {
            let pos = match (&spec.order, value) {
                (ExportOrder::Key, None) => SortKey::Missing,
                (ExportOrder::Field { .. }, Some(v)) => sort_key(v.clone()),
                _ => {
                    return Err(ExportError::BadToken {
                        token: spec.after.clone().unwrap_or_default(),
                        reason: "a token of an export in another order".into(),
                    })
                }
            };
            let probe = (pos, key.as_str());
            rows.partition_point(|&id| {
                cmp_positions(&position(table, id, &spec.order), &probe, &spec.order) != Ordering::Greater
            })
        }
    };
    let page = &rows[start..rows.len().min(start.saturating_add(spec.limit))];
    let io = |e: std::io::Error| ExportError::Io { message: e.to_string() };
    let fields: Vec<&str> = spec.fields.iter().map(String::as_str).collect();
    match spec.format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let csv_io = |e: csv::Error| ExportError::Io { message: e.to_string() };
            w.write_record(std::iter::once("key").chain(fields.iter().copied()))
                .map_err(csv_io)?;
            for &id in page {
                let key = table.key(EntityId(id)).unwrap_or_default();
                let mut record = vec![key.to_string()];
                for f in &fields {
                    record.push(match table.get(EntityId(id), f) {
                        None | Some(Value::Null) => String::new(),
                        Some(v) => v.to_string(),
                    });
                }
                w.write_record(&record).map_err(csv_io)?;
            }
            w.flush().map_err(io)?;
        }
        ExportFormat::JsonLines => {
            let mut out = std::io::BufWriter::new(out);
            for &id in page {
                let key = table.key(EntityId(id)).unwrap_or_default();
                // Written member by member: the key first, then the fields
                // in the order asked for.
                let mut line = String::from("{\"key\":");
                line.push_str(&serde_json::Value::String(key.to_string()).to_string());
                for f in &fields {
                    let v = table.get(EntityId(id), f).unwrap_or(Value::Null);
                    line.push(',');
                    line.push_str(&serde_json::Value::String(f.to_string()).to_string());
                    line.push(':');
                    line.push_str(&v.to_json().to_string());
                }
                line.push('}');
                out.write_all(line.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(io)?;
            }
            out.flush().map_err(io)?;
        }
    }
    let more = start + page.len() < rows.len();
    Ok(match page.last() {
        Some(&id) if more => {
            let key = table.key(EntityId(id)).unwrap_or_default();
            Some(match &spec.order {
                ExportOrder::Key => token(key, None),
                ExportOrder::Field { field, .. } => {
                    token(key, Some(&table.get(EntityId(id), field).unwrap_or(Value::Null)))
                }
            })
        }
        _ => None,
    })
}

impl<'a> Segments<'a> {
    /// Writes one page of a segment's members to `out`: their keys and
    /// `spec`'s fields, in its format and order. Returns the token of the
    /// next page (`None` after the last one). Unchecked, as
    /// [`Segments::members`](crate::engine::Segments::members); [`AsActor::export`](crate::engine::AsActor::export)
    /// checks the actor may see the segment.
    ///
    /// The first page sorts the members; the order is kept for the pages
    /// after it while the members are the same and no entity data is
    /// written, so that paging through a segment costs one sort, and each
    /// later page a binary search and its rows.
    ///
    /// # Errors
    ///
    /// [`ExportError::UnknownSegment`] (through an actor's view,
    /// [`ExportError::Denied`] for a segment the actor may not see or that
    /// does not exist, and [`ExportError::UnknownSegment`] for admins and
    /// leaders), [`ExportError::UnknownField`], [`ExportError::BadToken`]
    /// for a token this export did not give (or one of another order),
    /// [`ExportError::Io`] if writing fails.
    pub fn export(&self, segment: SegmentId, spec: &Export, out: impl Write) -> Result<Option<String>, ExportError> {
        let s = self.seen(segment).map_err(|e| match (e, self.actor) {
            (SegmentError::Denied { .. }, Some(actor)) => ExportError::Denied {
                actor: actor.id.clone(),
                id: segment,
            },
            _ => ExportError::UnknownSegment(crate::error::UnknownSegment::new(segment)),
        })?;
        self.engine.export_members(segment, s.kind, spec, out)
    }
}
