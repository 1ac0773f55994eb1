//! One entity kind's entities: keys, the live set and the columns.

use std::io::BufRead;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::batch::{Batch, Origin, Source};
use super::column::Column;
use super::dictionary::Dictionary;
use super::events::EventLog;
use super::history::{History, Sample};
use super::json::newlines;
use super::properties::Properties;
use super::range_index::IndexConfig;
use super::row::Row;
pub use crate::ids::EntityId;

#[cfg(feature = "arrow")]
mod arrow;
mod codec;
mod lenient;

pub use lenient::{Rejected, RejectedLine};

use crate::error::StoreError;
use crate::schema::{FieldId, FieldType, KindSchema};
use crate::value::{Timestamp, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Insert,
    Upsert,
}

impl Mode {
    pub(crate) fn of(upsert: bool) -> Mode {
        if upsert {
            Mode::Upsert
        } else {
            Mode::Insert
        }
    }
}

/// What a successful write touched, for the engine's incremental maintenance.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The entities written, in batch order.
    pub(crate) ids: Vec<u32>,
    /// The entities that were not live before the write.
    pub(crate) born: Vec<u32>,
    /// The fields written (set or cleared), sorted, each once.
    pub(crate) fields: Vec<FieldId>,
}

/// Heap bytes of a table, estimated from capacities and roaring's serialized sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    /// Keys and the key → id map.
    pub keys: usize,
    /// Column data: numeric keys, dictionary codes and words, presence bitmaps.
    pub columns: usize,
    /// Indexes: range buckets and cumulative bitmaps, value → ids bitmaps.
    pub indexes: usize,
    /// Events: instants per entity and event name, and their properties.
    pub events: usize,
    /// The changes kept of tracked fields.
    pub history: usize,
}

impl MemoryUsage {
    /// All of it.
    pub fn total(&self) -> usize {
        self.keys + self.columns + self.indexes + self.events + self.history
    }
}

/// The entities of one kind: external keys interned to dense [`EntityId`]s,
/// the live-id bitmap, and one indexed column per field.
///
/// Every write keeps every index current. Every write is atomic: a call that
/// returns an error has changed nothing, batches included.
///
/// # Examples
///
/// ```
/// use segments::{FieldType, KindSchema, Row, Table};
///
/// let mut accounts = Table::new(KindSchema::new("account", [("health", FieldType::Float)])?);
/// accounts.insert("acct-1", Row::new().set("health", 25.5))?;
/// accounts.upsert("acct-2", Row::new())?;
/// accounts.delete("acct-1")?;
/// assert_eq!(accounts.len(), 1);
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    schema: Arc<KindSchema>,
    cfg: IndexConfig,
    /// Every key given an id, the id its code.
    keys: Dictionary,
    live: RoaringBitmap,
    columns: Vec<Column>,
    events: EventLog,
    /// Per field: the changes kept, for tracked fields.
    history: Vec<Option<History>>,
    /// Ids are `u32`s; a unit test lowers this to reach the limit.
    max_keys: u64,
    max_line_bytes: usize,
}

/// The default longest line of JSON Lines input: 64 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 << 20;

impl Table {
    /// An empty table with the default [`IndexConfig`].
    pub fn new(schema: impl Into<Arc<KindSchema>>) -> Table {
        Table::with_config(schema, IndexConfig::default())
    }

    /// An empty table with the given index granularity.
    pub fn with_config(schema: impl Into<Arc<KindSchema>>, cfg: IndexConfig) -> Table {
        let schema = schema.into();
        let columns = schema.fields().map(|(_, _, t)| Column::new(t, cfg)).collect();
        let history = histories(&schema);
        Table {
            schema,
            cfg,
            keys: Dictionary::new(),
            live: RoaringBitmap::new(),
            columns,
            events: EventLog::default(),
            history,
            max_keys: u32::MAX as u64,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Sets the longest line [`Table::insert_json_lines`] and
    /// [`Table::upsert_json_lines`] accept, in bytes (default
    /// [`DEFAULT_MAX_LINE_BYTES`]); a longer line is refused with
    /// [`StoreError::LineTooLong`] as soon as that many bytes of it are
    /// read, so that a hostile input costs at most this much memory per
    /// line. A runtime setting: snapshots do not keep it.
    pub fn set_max_line_bytes(&mut self, limit: usize) {
        self.max_line_bytes = limit.max(1);
    }

    /// The longest line of JSON Lines input accepted, in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// The index configuration.
    pub fn config(&self) -> &IndexConfig {
        &self.cfg
    }

    /// The kind's schema.
    pub fn schema(&self) -> &Arc<KindSchema> {
        &self.schema
    }

    /// Takes `schema`, which is this table's with one field added last (a
    /// column of missing values) or one removed (its column dropped).
    pub(crate) fn reshape(&mut self, schema: Arc<KindSchema>) {
        if schema.len() > self.columns.len() {
            if let Some((_, name, ty)) = schema.fields().last() {
                self.columns.push(Column::new(ty, self.cfg));
                self.history.push(schema.tracked(name).map(History::new));
            }
        } else {
            // The one field of the old schema the new one lacks.
            let gone = self.schema.fields().position(|(_, n, _)| schema.field_id(n).is_none());
            if let Some(i) = gone {
                self.columns.remove(i);
                self.history.remove(i);
            }
        }
        self.schema = schema;
    }

    /// Records, for the tracked fields among `fields` (all of them for the
    /// `born`), the current value of each of `ids` at `now` where it
    /// changed.
    pub(crate) fn stamp_history(&mut self, ids: &[u32], fields: &[FieldId], born: &[u32], now: Timestamp) {
        if self.history.iter().all(Option::is_none) {
            return;
        }
        for f in 0..self.history.len() {
            let field = FieldId(f as u32);
            let written = fields.contains(&field);
            if self.history[f].is_none() || (!written && born.is_empty()) {
                continue;
            }
            let stamp: Vec<(u32, Sample)> = ids
                .iter()
                .filter(|id| written || born.contains(id))
                .map(|&id| (id, Sample::of(&self.value(id, field))))
                .collect();
            if let Some(h) = &mut self.history[f] {
                for (id, v) in stamp {
                    h.stamp(id, now.as_micros(), v);
                }
            }
        }
    }

    /// The changes kept of a tracked field, if it is one.
    pub(crate) fn history(&self, field: FieldId) -> Option<&History> {
        self.history.get(field.index()).and_then(Option::as_ref)
    }

    /// The changes kept of the tracked field `field` of entity `id`, in
    /// time order: each value (`Value::Null` where it was cleared) with the
    /// instant of the write that made it. Empty for a field that is not
    /// tracked. Kept by an [`Engine`](crate::Engine)'s writes.
    pub fn field_history(&self, id: EntityId, field: &str) -> Vec<(Timestamp, Value)> {
        let Some(h) = self.schema.field_id(field).and_then(|f| self.history(f)) else {
            return Vec::new();
        };
        if !self.live.contains(id.0) {
            return Vec::new();
        }
        h.of(id.0)
            .iter()
            .map(|&(t, v)| (Timestamp::from_micros(t), v.to_value()))
            .collect()
    }

    /// The number of live entities.
    pub fn len(&self) -> u64 {
        self.live.len()
    }

    /// Whether no entity is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The ids of the live entities.
    pub fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    /// The id of a live entity.
    pub fn id(&self, key: &str) -> Option<EntityId> {
        self.keys
            .get_index_of(key)
            .map(|i| i as u32)
            .filter(|&i| self.live.contains(i))
            .map(EntityId)
    }

    /// The key of a live entity.
    pub fn key(&self, id: EntityId) -> Option<&str> {
        if self.live.contains(id.0) {
            self.keys.get_index(id.0 as usize)
        } else {
            None
        }
    }

    /// The key an id was given, whether the entity is live or deleted (ids
    /// are never given to another key): to name the entity of an
    /// [`EntityDeleted`](crate::segment::Cause::EntityDeleted) change.
    pub fn key_any(&self, id: EntityId) -> Option<&str> {
        self.keys.get_index(id.0 as usize)
    }

    /// How many ids have been given out (live and deleted): every id is
    /// below this.
    pub(crate) fn ids_given(&self) -> usize {
        self.keys.len()
    }

    /// The id a key was given, whether the entity is live or deleted.
    pub fn id_any(&self, key: &str) -> Option<EntityId> {
        self.keys.get_index_of(key).map(|i| EntityId(i as u32))
    }

    /// The keys of the live ids in `ids`, in id order.
    pub fn keys_of<'a>(&'a self, ids: &'a RoaringBitmap) -> impl Iterator<Item = &'a str> + 'a {
        ids.iter().filter_map(move |i| self.key(EntityId(i)))
    }

    /// The value of a field of a live entity; `None` if either is unknown.
    pub fn get(&self, id: EntityId, field: &str) -> Option<Value> {
        let f = self.schema.field_id(field)?;
        self.live.contains(id.0).then(|| self.value(id.0, f))
    }

    pub(crate) fn value(&self, id: u32, f: FieldId) -> Value {
        let ty = self.schema.field(f).map(|(_, t)| t).unwrap_or(FieldType::Int);
        self.columns[f.index()].value(id, ty)
    }

    /// Whether a live entity holds `word` in the string or tags field `f`.
    pub(crate) fn has_word(&self, f: FieldId, word: &str) -> bool {
        let (dict, bitmaps) = match self.column(f) {
            Column::String(c) => (c.dict(), c.bitmaps()),
            Column::Tags(c) => (c.dict(), c.bitmaps()),
            _ => return false,
        };
        dict.get_index_of(word)
            .and_then(|i| bitmaps.get(i))
            .is_some_and(|b| !b.is_disjoint(self.live()))
    }

    pub(crate) fn column(&self, f: FieldId) -> &Column {
        &self.columns[f.index()]
    }

    /// Inserts a new entity; fields left out of `row` are missing.
    ///
    /// # Errors
    ///
    /// An empty key, a key that is already live, an unknown field, or a value
    /// of the wrong type (see [`StoreError`]).
    pub fn insert(&mut self, key: &str, row: Row) -> Result<EntityId, StoreError> {
        self.write_one(key, &row, false).map(|w| EntityId(w.ids[0]))
    }

    /// Inserts or updates an entity: the fields in `row` are set, a
    /// [`Value::Null`] clears its field, the others keep their values.
    ///
    /// # Errors
    ///
    /// As [`Table::insert`], but an existing key is not an error.
    pub fn upsert(&mut self, key: &str, row: Row) -> Result<EntityId, StoreError> {
        self.write_one(key, &row, true).map(|w| EntityId(w.ids[0]))
    }

    /// Makes a field of a live entity missing.
    ///
    /// # Errors
    ///
    /// An unknown key or field.
    pub fn clear_field(&mut self, key: &str, field: &str) -> Result<(), StoreError> {
        self.clear_field_report(key, field).map(|_| ())
    }

    pub(crate) fn clear_field_report(&mut self, key: &str, field: &str) -> Result<Written, StoreError> {
        let id = self
            .id(key)
            .ok_or_else(|| StoreError::UnknownKey { key: key.to_string() })?;
        let f = self.schema.field_id(field).ok_or_else(|| StoreError::UnknownField {
            key: key.to_string(),
            field: field.to_string(),
        })?;
        self.columns[f.index()].clear(id.0);
        Ok(Written {
            ids: vec![id.0],
            born: Vec::new(),
            fields: vec![f],
        })
    }

    /// Deletes a live entity: it leaves the live set and every column.
    ///
    /// # Errors
    ///
    /// An unknown key.
    pub fn delete(&mut self, key: &str) -> Result<EntityId, StoreError> {
        let id = self
            .id(key)
            .ok_or_else(|| StoreError::UnknownKey { key: key.to_string() })?;
        for c in &mut self.columns {
            c.clear(id.0);
        }
        for h in self.history.iter_mut().flatten() {
            h.clear(id.0);
        }
        self.events.clear(id.0);
        self.live.remove(id.0);
        Ok(id)
    }

    /// Records that the live entity `key` did `event` at `at`. Events may
    /// arrive in any order; two events at the same instant both count.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKey`], or [`StoreError::EmptyEventName`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{FieldType, KindSchema, Row, Table, Timestamp};
    ///
    /// let mut t = Table::new(KindSchema::new("user", [("email", FieldType::String)])?);
    /// let u = t.insert("u-1", Row::new())?;
    /// t.record_event("u-1", "login", "2026-11-20T09:00:00Z".parse()?)?;
    /// t.record_event("u-1", "login", "2026-11-18T09:00:00Z".parse()?)?;
    /// assert_eq!(t.event_times(u, "login").count(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_event(&mut self, key: &str, event: &str, at: Timestamp) -> Result<EntityId, StoreError> {
        let id = self.event_target(key, event)?;
        self.events.record(id.0, event, at.as_micros(), None);
        Ok(id)
    }

    /// Records that entity `key` did `event` at `at`, with properties that
    /// filters can test (`"where"` in `@count`, `@firstSeen`, `@lastSeen`
    /// and `@change`).
    ///
    /// # Errors
    ///
    /// As [`Table::record_event`], and [`StoreError::BadProperty`] for a
    /// property past the bounds of [`Properties`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::store::Properties;
    /// use segments::{FieldType, KindSchema, Row, Table};
    ///
    /// let mut t = Table::new(KindSchema::new("account", [("plan", FieldType::String)])?);
    /// let acme = t.insert("acme", Row::new())?;
    /// t.record_event_with("acme", "export", "2026-11-20T09:00:00Z".parse()?, Properties::new().with("format", "csv"))?;
    /// let (_, props) = t.event_properties(acme, "export").next().unwrap();
    /// assert_eq!(props.get("format").map(|v| v.to_string()), Some("csv".to_string()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_event_with(
        &mut self,
        key: &str,
        event: &str,
        at: Timestamp,
        properties: Properties,
    ) -> Result<EntityId, StoreError> {
        let id = self.event_target(key, event)?;
        check_properties(key, event, &properties)?;
        self.events.record(id.0, event, at.as_micros(), Some(&properties));
        Ok(id)
    }

    /// Records a batch of events, all or none.
    ///
    /// # Errors
    ///
    /// [`StoreError::InRow`] naming the first bad event (0-based), with what
    /// [`Table::record_event`] would say of it.
    pub fn record_events<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        events: impl IntoIterator<Item = (K, E, Timestamp)>,
    ) -> Result<Vec<EntityId>, StoreError> {
        let events: Vec<(K, E, Timestamp)> = events.into_iter().collect();
        self.record_slice(&events, None)
    }

    /// Records a batch of events with properties, all or none.
    ///
    /// # Errors
    ///
    /// [`StoreError::InRow`] naming the first bad event (0-based), with what
    /// [`Table::record_event_with`] would say of it.
    pub fn record_events_with<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        events: impl IntoIterator<Item = (K, E, Timestamp, Properties)>,
    ) -> Result<Vec<EntityId>, StoreError> {
        let (events, props): (Vec<(K, E, Timestamp)>, Vec<Properties>) =
            events.into_iter().map(|(k, e, t, p)| ((k, e, t), p)).unzip();
        self.record_slice(&events, Some(&props))
    }

    /// As [`Table::record_events`], for a batch the caller keeps; `props`,
    /// when given, holds each event's properties.
    pub(crate) fn record_slice<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        events: &[(K, E, Timestamp)],
        props: Option<&[Properties]>,
    ) -> Result<Vec<EntityId>, StoreError> {
        let mut ids = Vec::with_capacity(events.len());
        let prop = |i: usize| props.and_then(|p| p.get(i));
        for (i, (key, event, _)) in events.iter().enumerate() {
            let checked = self.event_target(key.as_ref(), event.as_ref()).and_then(|id| {
                prop(i).map_or(Ok(()), |p| check_properties(key.as_ref(), event.as_ref(), p))?;
                Ok(id)
            });
            ids.push(checked.map_err(|e| StoreError::InRow {
                row: i,
                source: Box::new(e),
            })?);
        }
        match (&ids[..], events) {
            ([id], [(_, event, at)]) => self.events.record(id.0, event.as_ref(), at.as_micros(), prop(0)),
            _ => self.events.record_batch(
                ids.iter()
                    .zip(events)
                    .enumerate()
                    .map(|(i, (id, (_, event, at)))| (id.0, event.as_ref(), at.as_micros(), prop(i))),
            ),
        }
        Ok(ids)
    }

    /// Forgets every event before `before`; returns, per event name that
    /// lost any, the entities that lost some.
    pub(crate) fn drop_events_before(&mut self, before: Timestamp) -> Vec<(String, RoaringBitmap)> {
        self.events.drop_before(before.as_micros())
    }

    /// Forgets event name `event` and every event of it; returns the
    /// entities that had one.
    pub(crate) fn forget_event(&mut self, event: &str) -> RoaringBitmap {
        self.events.forget_name(event)
    }

    fn event_target(&self, key: &str, event: &str) -> Result<EntityId, StoreError> {
        let id = self
            .id(key)
            .ok_or_else(|| StoreError::UnknownKey { key: key.to_string() })?;
        if event.trim().is_empty() {
            return Err(StoreError::EmptyEventName { key: key.to_string() });
        }
        Ok(id)
    }

    /// The instants at which entity `id` did `event`, in order.
    pub fn event_times(&self, id: EntityId, event: &str) -> impl Iterator<Item = Timestamp> + '_ {
        let times = match self.events.name(event) {
            Some(n) if self.live.contains(id.0) => self.events.times(n, id.0),
            _ => &[],
        };
        times.iter().map(|&t| Timestamp::from_micros(t))
    }

    /// The events of name `event` of entity `id`, in order, each with its
    /// properties (empty for an event recorded without).
    pub fn event_properties(&self, id: EntityId, event: &str) -> impl Iterator<Item = (Timestamp, Properties)> + '_ {
        let (times, props) = match self.events.name(event) {
            Some(n) if self.live.contains(id.0) => (self.events.times(n, id.0), self.events.props(n, id.0)),
            _ => (&[][..], None),
        };
        times.iter().enumerate().map(move |(i, &t)| {
            let set = props.and_then(|p| p.get(i)).and_then(Option::as_ref);
            (Timestamp::from_micros(t), self.events.to_properties(set))
        })
    }

    /// The names of the events recorded, in order of first appearance.
    pub fn event_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.events.names()
    }

    /// The number of events held.
    pub fn event_count(&self) -> u64 {
        self.events.len()
    }

    pub(crate) fn events(&self) -> &EventLog {
        &self.events
    }

    /// Inserts a batch of new entities, all or none.
    ///
    /// # Errors
    ///
    /// [`StoreError::InRow`] naming the first bad row (0-based) with what
    /// [`Table::insert`] would say of it, or a key repeated in the batch.
    pub fn insert_many<K: AsRef<str>>(
        &mut self,
        rows: impl IntoIterator<Item = (K, Row)>,
    ) -> Result<usize, StoreError> {
        self.write_many(rows, false).map(|w| w.ids.len())
    }

    /// Upserts a batch, all or none; a key may appear once in a batch.
    ///
    /// # Errors
    ///
    /// As [`Table::insert_many`], but existing keys are not an error.
    pub fn upsert_many<K: AsRef<str>>(
        &mut self,
        rows: impl IntoIterator<Item = (K, Row)>,
    ) -> Result<usize, StoreError> {
        self.write_many(rows, true).map(|w| w.ids.len())
    }

    /// Inserts new entities from JSON Lines: one object a line,
    /// `{"key": "acct-1", "health": 25.5}`, `null` or a missing member for a
    /// missing value; blank lines are skipped. All or none.
    ///
    /// # Errors
    ///
    /// [`StoreError::AtLine`] naming the first bad line (1-based): invalid
    /// JSON, a missing, empty or duplicate key, an unknown field, a value of
    /// the wrong type or an unparsable timestamp; or [`StoreError::Io`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{FieldType, KindSchema, Table};
    ///
    /// let mut t = Table::new(KindSchema::new("account", [("nps", FieldType::Int)])?);
    /// let n = t.insert_json_lines("{\"key\": \"a\", \"nps\": 9}\n\n{\"key\": \"b\"}\n".as_bytes())?;
    /// assert_eq!(n, 2);
    /// let err = t.insert_json_lines("{\"key\": \"c\", \"nps\": 9.5}".as_bytes()).unwrap_err();
    /// assert_eq!(err.to_string(), "line 1: key `c`, field `nps`: expected int, found non-integer number 9.5");
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn insert_json_lines(&mut self, reader: impl BufRead) -> Result<usize, StoreError> {
        self.write_json_lines(reader, false).map(|w| w.ids.len())
    }

    /// As [`Table::insert_json_lines`], with [`Table::upsert`]'s semantics.
    ///
    /// # Errors
    ///
    /// As [`Table::insert_json_lines`], but existing keys are not an error.
    pub fn upsert_json_lines(&mut self, reader: impl BufRead) -> Result<usize, StoreError> {
        self.write_json_lines(reader, true).map(|w| w.ids.len())
    }

    /// Upserts one JSON object, as one line of [`Table::upsert_json_lines`].
    ///
    /// # Errors
    ///
    /// As [`Table::upsert`], plus invalid JSON and a missing key.
    pub fn upsert_json(&mut self, json: &str) -> Result<EntityId, StoreError> {
        self.upsert_json_report(json).map(|w| EntityId(w.ids[0]))
    }

    pub(crate) fn upsert_json_report(&mut self, json: &str) -> Result<Written, StoreError> {
        let mut b = Batch::new(&self.schema, Source::One);
        super::json::parse_row(&self.schema, json, &mut b)?;
        self.commit(&[b], Mode::Upsert, false)
    }

    pub(crate) fn write_one(&mut self, key: &str, row: &Row, upsert: bool) -> Result<Written, StoreError> {
        let mut b = Batch::new(&self.schema, Source::One);
        b.push_row(&self.schema, key, row)?;
        self.commit(&[b], Mode::of(upsert), false)
    }

    pub(crate) fn write_many<K: AsRef<str>>(
        &mut self,
        rows: impl IntoIterator<Item = (K, Row)>,
        upsert: bool,
    ) -> Result<Written, StoreError> {
        // Batches of a bounded size, so that rows number within a `u32`.
        const ROWS: usize = 1 << 20;
        let schema = self.schema.clone();
        let mut batches = vec![Batch::new(&schema, Source::Rows { first: 0 })];
        for (i, (key, row)) in rows.into_iter().enumerate() {
            let b = match batches.last_mut() {
                Some(b) if b.len() < ROWS => b,
                _ => {
                    batches.push(Batch::new(&schema, Source::Rows { first: i }));
                    batches.last_mut().unwrap_or_else(|| unreachable!("just pushed"))
                }
            };
            b.push_row(&schema, key.as_ref(), &row).map_err(|e| StoreError::InRow {
                row: i,
                source: Box::new(e),
            })?;
        }
        self.commit(&batches, Mode::of(upsert), false)
    }

    /// Reads JSON Lines whole into memory, no line past the line limit:
    /// reading stops inside the first line longer than that (loading the
    /// bytes read then reports it, after the errors of the lines before).
    pub(crate) fn read_lines(&self, mut reader: impl BufRead) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        let mut line_start = 0;
        // Reading stops at the first line past the limit (loading then reports it).
        while let Chunk::Read { too_long: false } = read_chunk(
            &mut reader,
            &mut out,
            usize::MAX,
            &mut line_start,
            self.max_line_bytes,
            1,
        )? {}
        Ok(out)
    }

    /// Writes JSON Lines, all or none, a block at a time ([`Table::write_blocks`]).
    pub(crate) fn write_json_lines(&mut self, reader: impl BufRead, upsert: bool) -> Result<Written, StoreError> {
        let schema = self.schema.clone();
        let limit = self.max_line_bytes;
        self.write_blocks(Mode::of(upsert), 0, |put| json_blocks(&schema, reader, limit, put))
    }

    /// Writes the batches `produce` hands to its callback, all or none.
    ///
    /// Into a table that has never held a key (a load at start-up), each
    /// handful is applied as soon as it is made, on a thread of its own,
    /// while `produce` (on this thread) makes the next; the keys are
    /// appended unindexed, and they and the columns' indexes are built once
    /// at the end (the keys in the order of their slots in the hash table,
    /// not one cache miss a key), and the input is never held whole. A
    /// key repeated is found then, and located through the batches'
    /// [`Origin`]s. A failure empties the table again, which is all it
    /// held. Into any other
    /// table, every batch is made before any is applied. An error of
    /// `produce` is of input after the batches it handed over, so a key
    /// those repeat is reported first. `rows` is how many rows to make room
    /// for at once (0 if not known).
    pub(crate) fn write_blocks(
        &mut self,
        mode: Mode,
        rows: usize,
        produce: impl FnOnce(&mut dyn FnMut(Vec<Batch>) -> Result<(), StoreError>) -> Result<(), StoreError>,
    ) -> Result<Written, StoreError> {
        let schema = self.schema.clone();
        if self.keys.len() == 0 {
            self.keys.reserve_unindexed(rows);
            // Making runs ahead of the commits by one handful: the
            // commits overlap with the next handful's making.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Batch>>(1);
            let table = &mut *self;
            let ncols = table.columns.len();
            let (made, (committed, origins)) = std::thread::scope(|s| {
                let committer = s.spawn(move || {
                    let mut written = Written::default();
                    let mut fields = vec![false; ncols];
                    let mut origins = Vec::new();
                    for batches in rx {
                        let mut next = table.keys.len() as u32;
                        for b in &batches {
                            origins.push(b.origin(next));
                            next += b.len() as u32;
                        }
                        match table.commit(&batches, mode, true) {
                            Ok(w) => {
                                written.ids.extend(w.ids);
                                written.born.extend(w.born);
                                for f in w.fields {
                                    fields[f.index()] = true;
                                }
                            }
                            Err(e) => return (Err(e), origins),
                        }
                    }
                    written.fields = (0..ncols as u32).filter(|&f| fields[f as usize]).map(FieldId).collect();
                    (Ok::<_, StoreError>(written), origins)
                });
                // A send fails only once the committer has stopped at an
                // error, which comes first: it is of earlier input.
                let made = produce(&mut |batches| {
                    tx.send(batches).map_err(|_| StoreError::Io {
                        message: "the load stopped".into(),
                    })
                });
                drop(tx);
                let committed = committer.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                (made, committed)
            });
            let written = committed.and_then(|w| made.map(|()| w));
            self.keys.shrink_to_fit();
            for c in &mut self.columns {
                c.shrink_to_fit();
            }
            // The keys are indexed once, in the order of their slots, on
            // one core while the columns' indexes are built on the others.
            let indexed = written.is_ok() && {
                let (keys, columns, cfg) = (&mut self.keys, &mut self.columns, self.cfg);
                std::thread::scope(|s| {
                    let indexing = s.spawn(|| keys.index_all());
                    finish_bulk(columns, cfg);
                    indexing.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
                })
            };
            if indexed {
                return written;
            }
            // A key repeated in the input read so far is its first error.
            let repeat = self.keys.first_repeat().map(|c| {
                let key = self.keys.get_index(c).unwrap_or_default().to_string();
                Origin::locate(&origins, c as u32, StoreError::DuplicateKey { key })
            });
            self.keys = Dictionary::new();
            self.live = RoaringBitmap::new();
            self.columns = schema.fields().map(|(_, _, t)| Column::new(t, self.cfg)).collect();
            return Err(repeat.or(written.err()).unwrap_or_else(|| StoreError::Io {
                message: "the keys could not be indexed".into(),
            }));
        }
        let mut held = Vec::new();
        let made = produce(&mut |batches| {
            held.extend(batches);
            Ok(())
        });
        if let Err(e) = made {
            // A key the input before the bad part repeats is the first error.
            self.check_keys(&held, mode)?;
            return Err(e);
        }
        self.commit(&held, mode, false)
    }

    /// Interns the keys of `batches` ([`intern_keys`]).
    fn intern(&mut self, batches: &[Batch], mode: Mode) -> Result<Vec<Vec<u32>>, StoreError> {
        intern_keys(&mut self.keys, &self.live, self.max_keys, batches, mode)
    }

    /// The error [`Table::commit`] would find among the keys of
    /// `batches`, if any; the table is left as it was.
    fn check_keys(&mut self, batches: &[Batch], mode: Mode) -> Result<(), StoreError> {
        let old_len = self.keys.len();
        self.intern(batches, mode)?;
        self.keys.truncate(old_len);
        self.keys.shrink_to_fit();
        Ok(())
    }

    /// Applies batches of rows, all or none; with `defer`, a numeric
    /// column's index is left to [`finish_bulk`], which the caller runs.
    ///
    /// Keys are interned first, each hashed once; a key that breaks a rule
    /// (repeated in the call, already live for an insert, or one too many)
    /// rolls the new keys back, so the table is as it was. Only then are
    /// values written, which cannot fail: column by column, the columns
    /// shared among the cores.
    fn commit(&mut self, batches: &[Batch], mode: Mode, defer: bool) -> Result<Written, StoreError> {
        let old_len = self.keys.len();
        let n: usize = batches.iter().map(Batch::len).sum();
        // A load into a table that held no key (`defer`): every key must be
        // new, so each id is the next in turn. The keys are appended
        // unindexed, and indexed once at the end of the load
        // ([`Table::write_blocks`]): a key that repeats fails the load
        // then, which empties the table.
        let ids = if defer {
            push_keys(&mut self.keys, self.max_keys, batches)?;
            let mut next = old_len as u32;
            batches
                .iter()
                .map(|b| {
                    let these: Vec<u32> = (next..next + b.len() as u32).collect();
                    next += b.len() as u32;
                    these
                })
                .collect()
        } else {
            self.intern(batches, mode)?
        };

        // A large batch writes numeric columns raw and rebuilds their indexes once.
        let bulk = defer || (n >= 4096 && n as u64 * 4 >= self.live.len());
        if bulk && !defer {
            let end = ids.iter().flatten().max().map_or(0, |&m| m as usize + 1);
            for c in &mut self.columns {
                c.reserve_exact(end);
            }
            // `reserve` sized the key entries to the hash table's power-of-two
            // capacity; give back what the load did not use.
            self.keys.shrink_to_fit();
        }
        let upsert = mode == Mode::Upsert;
        let (cfg, finish) = (self.cfg, bulk && !defer);
        let fill = |f: usize, c: &mut Column| {
            for (b, these) in batches.iter().zip(&ids) {
                c.apply(these, &b.fields[f], bulk, upsert);
            }
            if finish {
                c.finish_bulk(cfg);
            }
        };
        let threads = if n >= 4096 { super::cores() } else { 1 };
        super::by_turns(self.columns.iter_mut().enumerate(), threads, |(f, c)| fill(f, c));
        let mut born = Vec::new();
        for &id in ids.iter().flatten() {
            if id as usize >= old_len || !self.live.contains(id) {
                born.push(id);
            }
        }
        super::add_ids(&mut self.live, &born);
        let fields = (0..self.columns.len() as u32)
            .filter(|&f| batches.iter().any(|b| !b.fields[f as usize].is_empty()))
            .map(FieldId)
            .collect();
        Ok(Written {
            ids: ids.concat(),
            born,
            fields,
        })
    }

    /// Estimated heap bytes: what the table's structures hold, the
    /// allocator's overhead of each allocation included.
    ///
    /// A process's resident memory after a load is more than this by what
    /// its allocator keeps of the load's freed transient buffers. With
    /// glibc's malloc (per-thread arenas, a sliding `mmap` threshold) a
    /// mixed load of 100k accounts, 500k users and 2M events sits at about
    /// 1.2x this estimate; `MALLOC_ARENA_MAX=1` brings it to about 1.13x
    /// and `MALLOC_TRIM_THRESHOLD_=131072` to about 1.05x (see
    /// BENCHMARKS.md), as would an allocator that returns freed memory
    /// (jemalloc, mimalloc) chosen by the service.
    pub fn memory_usage(&self) -> MemoryUsage {
        let mut m = MemoryUsage {
            keys: self.keys.heap_bytes() + super::bitmap_heap(&self.live),
            events: self.events.heap_bytes(),
            history: self.history.iter().flatten().map(History::heap_bytes).sum(),
            ..MemoryUsage::default()
        };
        for c in &self.columns {
            let (data, index) = c.heap_bytes();
            m.columns += data;
            m.indexes += index;
        }
        m
    }

    #[cfg(test)]
    pub(crate) fn check_indexes(&self) {
        for c in &self.columns {
            if let Column::Numeric(n) = c {
                n.index.check(&n.keys, &n.present);
            }
            assert!(c.present().is_subset(&self.live));
        }
    }
}

/// Appends the keys of `batches` to `keys` unindexed (a load into an
/// empty table, which indexes them at its end), no more than `max_keys`
/// in all.
fn push_keys(keys: &mut Dictionary, max_keys: u64, batches: &[Batch]) -> Result<(), StoreError> {
    for b in batches {
        for r in 0..b.len() {
            // Pushed even when one too many: a key repeated up to here
            // (found at the end) is the first error.
            keys.push_unindexed(b.key(r));
            if keys.len() as u64 > max_keys {
                return Err(StoreError::Full { max: max_keys });
            }
        }
    }
    Ok(())
}

/// Interns the keys of `batches`, each hashed once, and gives their ids,
/// batch by batch. A key that breaks a rule (repeated in the call, already
/// live for an insert, or one too many) rolls the new keys back and is the
/// error, at its row.
fn intern_keys(
    keys: &mut Dictionary,
    live: &RoaringBitmap,
    max_keys: u64,
    batches: &[Batch],
    mode: Mode,
) -> Result<Vec<Vec<u32>>, StoreError> {
    let old_len = keys.len();
    keys.reserve(batches.iter().map(Batch::len).sum());
    // Old ids the call writes: each at most once.
    let mut touched = RoaringBitmap::new();
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(batches.len());
    let mut failure = None;
    'rows: for b in batches {
        let mut these = Vec::with_capacity(b.len());
        for r in 0..b.len() {
            // Checked as the batch was made.
            let key = b.key(r);
            let (id, added) = keys.insert_full(key);
            if keys.len() as u64 > max_keys {
                failure = Some(StoreError::Full { max: max_keys });
                break 'rows;
            }
            let id = id as u32;
            // A key seen before is new in this call (repeated), or
            // old and either repeated or, for an insert, live.
            let dup = !added
                && ((id as usize) >= old_len || !touched.insert(id) || (mode == Mode::Insert && live.contains(id)));
            if dup {
                let key = key.to_string();
                failure = Some(b.locate(r, StoreError::DuplicateKey { key }));
                break 'rows;
            }
            these.push(id);
        }
        ids.push(these);
    }
    if let Some(e) = failure {
        keys.truncate(old_len);
        return Err(e);
    }
    Ok(ids)
}

/// Reads JSON Lines in blocks of about 4 MiB and hands each block's parsed
/// batches to `apply`, in input order; each block is split across the
/// cores. Each byte is searched for a newline once, so a long line costs
/// linear time, and no line grows past `limit`.
fn json_blocks(
    schema: &KindSchema,
    mut reader: impl BufRead,
    limit: usize,
    mut apply: impl FnMut(Vec<Batch>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    const BLOCK: usize = 4 << 20;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (64 << 10));
    let mut first_line = 1;
    // Where the unfinished last line of `buf` starts.
    let mut line_start = 0;
    loop {
        let eof = loop {
            // A reader over memory hands out all of it at once: take a
            // block at a time, so that no more than a block is copied.
            let read = read_chunk(&mut reader, &mut buf, BLOCK, &mut line_start, limit, first_line);
            let too_long = match read {
                Ok(Chunk::End) => break true,
                Ok(Chunk::Read { too_long }) => too_long,
                Err(e) => {
                    // Earlier lines' errors come first.
                    feed(schema, &buf[..line_start], first_line, &mut apply)?;
                    return Err(e);
                }
            };
            if too_long {
                let done = &buf[..line_start];
                feed(schema, done, first_line, &mut apply)?;
                return Err(StoreError::AtLine {
                    line: first_line + newlines(done),
                    source: Box::new(StoreError::LineTooLong { limit }),
                });
            }
            if buf.len() >= BLOCK && line_start > 0 {
                break false;
            }
        };
        let end = if eof { buf.len() } else { line_start };
        feed(schema, &buf[..end], first_line, &mut apply)?;
        first_line += newlines(&buf[..end]);
        buf.drain(..end);
        line_start = 0;
        if eof {
            return Ok(());
        }
    }
}

/// Parses whole lines (the first is line `first_line`) and hands their
/// batches to `apply`. At a bad line, the lines before it are handed on
/// first, so that an error of theirs found later (a key repeated) is
/// still the one reported: the first bad line's.
fn feed(
    schema: &KindSchema,
    lines: &[u8],
    first_line: usize,
    apply: &mut impl FnMut(Vec<Batch>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    match super::json::parse_block(schema, lines, first_line) {
        Ok(batches) => apply(batches),
        Err(e) => {
            if let StoreError::AtLine { line, .. } = &e {
                let before = line.saturating_sub(first_line);
                let cut = match before {
                    0 => 0,
                    n => memchr::memchr_iter(b'\n', lines)
                        .nth(n - 1)
                        .map_or(lines.len(), |i| i + 1),
                };
                if let Ok(good) = super::json::parse_block(schema, &lines[..cut], first_line) {
                    apply(good)?;
                }
            }
            Err(e)
        }
    }
}

/// What [`read_chunk`] did.
enum Chunk {
    /// The input is at its end.
    End,
    /// A chunk was appended; `too_long` if a line in it, or the unfinished
    /// last line, is longer than the limit.
    Read { too_long: bool },
}

/// Appends the reader's next chunk (at most `max` bytes of it) to `buf`,
/// searching each new byte for a newline once: `line_start` is where the
/// unfinished last line of `buf` starts, and stays at the start of a line
/// found too long. `first_line` is the number of `buf`'s first line, for
/// an I/O error's.
fn read_chunk(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    line_start: &mut usize,
    limit: usize,
    first_line: usize,
) -> Result<Chunk, StoreError> {
    let chunk = loop {
        match reader.fill_buf() {
            Ok(c) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(StoreError::AtLine {
                    line: first_line + newlines(buf),
                    source: Box::new(StoreError::Io { message: e.to_string() }),
                })
            }
        }
    };
    if chunk.is_empty() {
        return Ok(Chunk::End);
    }
    let n = chunk.len().min(max);
    let old = buf.len();
    buf.extend_from_slice(&chunk[..n]);
    reader.consume(n);
    for i in memchr::memchr_iter(b'\n', &buf[old..]) {
        if old + i - *line_start > limit {
            return Ok(Chunk::Read { too_long: true });
        }
        *line_start = old + i + 1;
    }
    Ok(Chunk::Read {
        too_long: buf.len() - *line_start > limit,
    })
}

/// Rebuilds the indexes a bulk load deferred. Columns are independent:
/// they are rebuilt on all cores, each core taking the next column left
/// (only numeric columns have work, and not the same: fixed shares of the
/// columns left one core with twice the other's).
fn finish_bulk(columns: &mut [Column], cfg: IndexConfig) {
    let threads = super::cores().min(columns.len()).max(1);
    super::by_turns(columns.iter_mut(), threads, |c| c.finish_bulk(cfg));
}

/// An empty history for each tracked field of `schema`, by field.
fn histories(schema: &KindSchema) -> Vec<Option<History>> {
    schema
        .fields()
        .map(|(_, n, _)| schema.tracked(n).map(History::new))
        .collect()
}

/// Refuses properties past the bounds of [`Properties`].
fn check_properties(key: &str, event: &str, p: &Properties) -> Result<(), StoreError> {
    p.check().map_err(|(property, reason)| StoreError::BadProperty {
        key: key.to_string(),
        event: event.to_string(),
        property,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_stay_exact_through_bulk_loads_updates_and_deletes() {
        let kind = KindSchema::new(
            "k",
            [("n", FieldType::Int), ("x", FieldType::Float), ("s", FieldType::String)],
        )
        .unwrap();
        let cfg = IndexConfig {
            fine_buckets: 16,
            groups: 4,
            min_bucket: 2,
            per_id_candidates: 0,
        };
        let mut t = Table::with_config(kind, cfg);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // A bulk load (numeric indexes built once), then single writes.
        let rows: Vec<(String, Row)> = (0..5000)
            .map(|i| {
                (
                    format!("k{i}"),
                    Row::new()
                        .set("n", (next() % 100) as i64)
                        .set("x", (next() % 1000) as f64 / 7.0),
                )
            })
            .collect();
        t.insert_many(rows).unwrap();
        t.check_indexes();
        for _ in 0..20_000 {
            let key = format!("k{}", next() % 6000);
            match next() % 5 {
                0 => {
                    let _ = t.delete(&key);
                }
                1 => {
                    let _ = t.clear_field(&key, "n");
                }
                // Ascending values, the worst case for equal-depth buckets.
                2 => {
                    let v = 1000 + (next() % 50) as i64 + t.len() as i64;
                    t.upsert(&key, Row::new().set("n", v)).unwrap();
                }
                _ => {
                    let s = ["a", "b", "c"][(next() % 3) as usize];
                    t.upsert(
                        &key,
                        Row::new()
                            .set("n", (next() % 100) as i64)
                            .set("x", next() as f64)
                            .set("s", s),
                    )
                    .unwrap();
                }
            }
        }
        t.check_indexes();
    }

    #[test]
    fn a_full_table_refuses_new_keys_and_keeps_old_ones_writable() {
        let kind = KindSchema::new("k", [("n", FieldType::Int)]).unwrap();
        let mut t = Table::new(kind);
        t.max_keys = 2;
        t.insert_many([("a", Row::new()), ("b", Row::new())]).unwrap();
        assert_eq!(t.insert("c", Row::new()), Err(StoreError::Full { max: 2 }));
        assert_eq!(
            t.upsert_many([("a", Row::new()), ("c", Row::new())]),
            Err(StoreError::Full { max: 2 })
        );
        // A deleted key keeps its id, so it can come back when the table is full.
        t.delete("a").unwrap();
        assert_eq!(t.insert("a", Row::new().set("n", 1i64)), Ok(EntityId(0)));
        assert_eq!(t.len(), 2);
    }
}
