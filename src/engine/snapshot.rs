//! Saving the engine to a [snapshot](crate::snapshot) and restoring it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{Read, Write};
use std::path::Path;

use roaring::RoaringBitmap;

use super::{Engine, RuleState, SegmentState};
use crate::error::SnapshotError;
use crate::filter::{Filter, LimitPolicy};
use crate::schema::{FieldType, KindSchema, Schema};
use crate::segment::log::{ChangeLog, Gone};
use crate::segment::{
    Cause, ChangeKind, Changes, Grantee, Retention, RuleId, SegmentAccess, SegmentId, SegmentInfo, Settings, Trigger,
    Unacked, Visibility,
};
use crate::segment::{DefinitionChange, Edit};
use crate::snapshot::codec::{what, Dec, Enc};
use crate::snapshot::{self, io_error};
use crate::store::{IndexConfig, Table};
use crate::value::Timestamp;

use crate::value::Clock;

/// Field types by their code in a snapshot.
const TYPES: [FieldType; 6] = [
    FieldType::Int,
    FieldType::Float,
    FieldType::String,
    FieldType::Bool,
    FieldType::Timestamp,
    FieldType::Tags,
];

/// The fewest bytes a segment takes in a snapshot: id, name length, kind,
/// visibility, owner length, filter rule flag, rule count, two instants and
/// the manual bitmap's length.
const MIN_SEGMENT: usize = 8 + 8 + 4 + 1 + 8 + 1 + 8 + 8 + 8 + 8;
/// Id, segment, filter length, two bitmap lengths.
const MIN_RULE: usize = 8 * 5;

impl Engine {
    /// Writes a snapshot of the whole state to `out` (see
    /// [`crate::snapshot`] for what it holds and its format).
    ///
    /// The same state always gives the same bytes.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`] if writing fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{Engine, FieldType, Row, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// engine.insert("account", "a", Row::new().set("health", 12.0))?;
    /// let mut first = Vec::new();
    /// engine.save(&mut first)?;
    /// let mut second = Vec::new();
    /// Engine::restore(&first[..])?.save(&mut second)?;
    /// assert_eq!(first, second);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn save(&self, mut out: impl Write) -> Result<(), SnapshotError> {
        snapshot::frame(&self.payload(), &mut out).map_err(|e| io_error("writing the snapshot", &e))
    }

    /// Writes a snapshot to the file at `path`, replacing it only once the
    /// new one is complete: the bytes go to a temporary file in the same
    /// directory, which is synced to disk and then renamed over `path`. A
    /// crash or an error midway leaves the old file as it was.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`], naming the step and the path, if creating,
    /// writing, syncing or renaming fails.
    pub fn save_to_path(&self, path: impl AsRef<Path>) -> Result<(), SnapshotError> {
        let payload = self.payload();
        snapshot::write_atomically(path.as_ref(), |f| snapshot::frame(&payload, f))
    }

    /// Restores an engine from a snapshot read from `input` (a file, a
    /// byte slice, a socket): its header first, then no more than the
    /// length the header declares, and then the input must end.
    ///
    /// # Errors
    ///
    /// [`SnapshotError::Io`] if reading fails;
    /// [`SnapshotError::NotASnapshot`], [`SnapshotError::UnsupportedVersion`],
    /// [`SnapshotError::Length`] or [`SnapshotError::Checksum`] for a
    /// damaged frame; [`SnapshotError::Truncated`] or
    /// [`SnapshotError::Invalid`], with the byte offset and the value, for a
    /// payload that does not decode to a valid state.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{Engine, FieldType, Row, Schema};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// engine.insert("account", "acme", Row::new().set("mrr", 900))?;
    /// let path = std::env::temp_dir().join(format!("segments-doc-restore-{}.snap", std::process::id()));
    /// engine.save_to_path(&path)?;
    /// let restored = Engine::restore(std::fs::File::open(&path)?)?;
    /// assert_eq!(restored.store().table("account")?.len(), 1);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(input: impl Read) -> Result<Engine, SnapshotError> {
        Engine::restore_bytes(&snapshot::read_all(input, 0)?)
    }

    /// Restores an engine from the snapshot file at `path` (a regular file:
    /// a device, a FIFO or a directory is refused before it is read), the
    /// path named in a read's error.
    pub(super) fn restore_file(path: &Path) -> Result<Engine, SnapshotError> {
        let reading = || format!("reading `{}`", path.display());
        let (file, len) = crate::journal::open_regular(path).map_err(|e| io_error(reading(), &e))?;
        let bytes = snapshot::read_all(file, len).map_err(|e| match e {
            SnapshotError::Io { kind, message, .. } => SnapshotError::Io {
                during: reading(),
                kind,
                message,
            },
            other => other,
        })?;
        Engine::restore_bytes(&bytes)
    }

    /// Restores an engine from the bytes of a whole snapshot.
    pub(super) fn restore_bytes(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let (payload, base, version) = snapshot::unframe(bytes)?;
        decode(&mut Dec::new(payload, base), version)
    }

    pub(super) fn payload(&self) -> Vec<u8> {
        self.payload_into(Vec::new())
    }

    /// The payload, written into `buf` (cleared first): a buffer kept from
    /// the last checkpoint is neither grown again nor faulted in again.
    pub(super) fn payload_into(&self, mut buf: Vec<u8>) -> Vec<u8> {
        buf.clear();
        let mut e = Enc { buf };
        match self.policy.max_conditions() {
            None => e.u8(0),
            Some(n) => {
                e.u8(1);
                e.len(n);
            }
        }
        e.len(self.policy.max_depth());
        let cfg = self
            .store
            .tables()
            .first()
            .map_or(IndexConfig::default(), |t| *t.config());
        e.len(cfg.fine_buckets);
        e.len(cfg.groups);
        e.len(cfg.min_bucket);
        e.u64(cfg.per_id_candidates);
        match self.clock {
            Clock::System => e.u8(0),
            Clock::Fixed(t) => {
                e.u8(1);
                e.i64(t.as_micros());
            }
        }

        let schema = self.store.schema();
        e.len(schema.kinds().len());
        for k in schema.kinds() {
            e.str(k.name());
            e.len(k.len());
            for (_, name, ty) in k.fields() {
                e.str(name);
                e.u8(TYPES.iter().position(|&t| t == ty).unwrap_or(0) as u8);
            }
            e.len(k.tracked_fields().len());
            for (field, keep) in k.tracked_fields() {
                e.str(field);
                e.len(keep);
            }
        }
        e.len(schema.relations().len());
        for rel in schema.relations() {
            let child = &schema.kind_arcs()[rel.child.0 as usize];
            e.str(child.name());
            e.str(child.field(rel.field).map_or("", |f| f.0));
            e.str(schema.kind_arcs()[rel.parent.0 as usize].name());
        }
        for t in self.store.tables() {
            t.encode(&mut e);
        }

        let (next_segment, next_rule) = self.book.counters();
        e.u64(next_segment);
        e.u64(next_rule);
        e.len(self.book.segments().len());
        for s in self.book.segments().values() {
            let i = &s.info;
            e.u64(i.id.0);
            e.str(&i.name);
            e.u32(s.kind as u32);
            e.u8(match i.visibility {
                Visibility::Public => 0,
                Visibility::Private => 1,
            });
            e.str(&i.owner);
            e.bool(i.filter_rule.is_some());
            e.u64(i.filter_rule.map_or(0, |r| r.0));
            e.len(i.rules.len());
            for r in &i.rules {
                e.u64(r.0);
            }
            e.i64(i.created.as_micros());
            e.i64(i.updated.as_micros());
            e.str(&i.settings.to_json());
            encode_access(&mut e, &i.access);
            e.bitmap(&s.manual);
        }
        e.len(self.book.order().len());
        for s in self.book.order() {
            e.u64(s.0);
        }
        e.len(self.book.rules().len());
        for r in self.book.rules().values() {
            e.u64(r.info.id.0);
            e.u64(r.info.segment.0);
            e.str(&r.info.filter.to_json_value().to_string());
            e.bitmap(&r.links);
            e.bitmap(&r.blocked);
            e.bool(r.external.is_some());
            if let Some(given) = &r.external {
                e.bitmap(given);
            }
        }
        encode_log(&self.log, &mut e);
        encode_history(self.log.definitions(), &mut e);
        e.buf
    }
}

const TRIGGERS: [Trigger; 6] = [
    Trigger::Write,
    Trigger::Manual,
    Trigger::DefinitionEdited,
    Trigger::SegmentDeleted,
    Trigger::TimePassed,
    Trigger::External,
];

fn encode_log(log: &ChangeLog, e: &mut Enc) {
    e.u64(log.next());
    e.u64(log.oldest());
    let r = log.retention();
    e.bool(r.changes_limit().is_some());
    e.u64(r.changes_limit().unwrap_or(0));
    e.bool(r.bytes_limit().is_some());
    e.u64(r.bytes_limit().unwrap_or(0));
    e.bool(r.age_limit().is_some());
    e.u64(
        r.age_limit()
            .map_or(0, |a| u64::try_from(a.as_micros()).unwrap_or(u64::MAX)),
    );
    e.u8(match r.unacked_policy() {
        Unacked::Keep => 0,
        Unacked::Drop => 1,
    });
    e.len(log.consumers().len());
    for (name, seq) in log.consumers() {
        e.str(name);
        e.u64(*seq);
    }
    let mut gone: Vec<_> = log.gone().iter().collect();
    gone.sort_by_key(|(id, _)| **id);
    e.len(gone.len());
    for (id, g) in gone {
        e.u64(id.0);
        e.str(&g.name);
        e.u32(g.kind as u32);
    }
    e.len(log.calls().len());
    for call in log.calls() {
        e.u64(call.first);
        e.u8(TRIGGERS.iter().position(|&t| t == call.trigger).unwrap_or(0) as u8);
        e.i64(call.changes.at().as_micros());
        e.len(call.changes.groups().len());
        for g in call.changes.groups() {
            e.u64(g.segment().0);
            e.u8(match g.kind() {
                ChangeKind::Entered => 0,
                ChangeKind::Exited => 1,
            });
            match g.cause() {
                Cause::Manual => e.u8(0),
                Cause::Rule(r) => {
                    e.u8(1);
                    e.u64(r.0);
                }
                Cause::EntityDeleted => e.u8(2),
                Cause::SegmentDeleted => e.u8(3),
            }
            e.bitmap(&g.to_bitmap());
        }
        e.len(call.versions.len());
        for (s, v) in &call.versions {
            e.u64(s.0);
            e.u64(*v);
        }
    }
}

fn encode_history(history: &[DefinitionChange], e: &mut Enc) {
    let filter = |e: &mut Enc, f: &Filter| e.str(&f.to_json_value().to_string());
    let maybe = |e: &mut Enc, f: &Option<Filter>| {
        e.bool(f.is_some());
        if let Some(f) = f {
            e.str(&f.to_json_value().to_string());
        }
    };
    let vis = |v: Visibility| match v {
        Visibility::Public => 0,
        Visibility::Private => 1,
    };
    e.len(history.len());
    for c in history {
        e.i64(c.at.as_micros());
        e.str(&c.actor);
        e.u64(c.segment.0);
        match &c.what {
            Edit::Created { name, filter: f } => {
                e.u8(0);
                e.str(name);
                maybe(e, f);
            }
            Edit::Renamed { from, to } => {
                e.u8(1);
                e.str(from);
                e.str(to);
            }
            Edit::Visibility { from, to } => {
                e.u8(2);
                e.u8(vis(*from));
                e.u8(vis(*to));
            }
            Edit::Filter { from, to } => {
                e.u8(3);
                maybe(e, from);
                maybe(e, to);
            }
            Edit::RuleAttached { rule, filter: f } => {
                e.u8(4);
                e.u64(rule.0);
                filter(e, f);
            }
            Edit::RuleEdited { rule, from, to } => {
                e.u8(5);
                e.u64(rule.0);
                filter(e, from);
                filter(e, to);
            }
            Edit::RuleDetached { rule, filter: f } => {
                e.u8(6);
                e.u64(rule.0);
                filter(e, f);
            }
            Edit::Deleted => e.u8(7),
            Edit::Settings { from, to } => {
                e.u8(8);
                e.str(&from.to_json());
                e.str(&to.to_json());
            }
            Edit::Access { from, to } => {
                e.u8(9);
                encode_access(e, from);
                encode_access(e, to);
            }
        }
    }
}

fn encode_access(e: &mut Enc, a: &SegmentAccess) {
    for list in [&a.editors, &a.viewers] {
        e.len(list.len());
        for g in list {
            match g {
                Grantee::Actor(n) => {
                    e.u8(0);
                    e.str(n);
                }
                Grantee::Team(n) => {
                    e.u8(1);
                    e.str(n);
                }
            }
        }
    }
}

fn decode_access(d: &mut Dec, ctx: &str) -> Result<SegmentAccess, SnapshotError> {
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        let n = d.count(9, what!("{ctx}, grant count"))?;
        for _ in 0..n {
            let tag = d.u8(what!("{ctx}, grant"))?;
            let name = d.str(what!("{ctx}, grant"))?.to_string();
            list.push(match tag {
                0 => Grantee::Actor(name),
                1 => Grantee::Team(name),
                b => return Err(d.invalid(ctx, format!("unknown grantee tag {b}"))),
            });
        }
    }
    let [editors, viewers] = lists;
    Ok(SegmentAccess { editors, viewers }.normalized())
}

fn decode_history(d: &mut Dec) -> Result<Vec<DefinitionChange>, SnapshotError> {
    fn settings(d: &mut Dec, i: usize) -> Result<Settings, SnapshotError> {
        let at = d.offset();
        let text = d.str(what!("definition history, change {i}, settings"))?;
        Settings::from_json(text)
            .map_err(|e| d.invalid_at(at, format!("definition history, change {i}"), e.to_string()))
    }
    fn filter(d: &mut Dec, i: usize) -> Result<Filter, SnapshotError> {
        let at = d.offset();
        let text = d.str(what!("definition history, change {i}, filter"))?;
        Filter::from_json(text).map_err(|e| d.invalid_at(at, format!("definition history, change {i}"), e.to_string()))
    }
    fn maybe(d: &mut Dec, i: usize) -> Result<Option<Filter>, SnapshotError> {
        if d.bool(what!("definition history, change {i}, filter"))? {
            filter(d, i).map(Some)
        } else {
            Ok(None)
        }
    }
    fn vis(d: &mut Dec, i: usize) -> Result<Visibility, SnapshotError> {
        match d.u8(what!("definition history, change {i}, visibility"))? {
            0 => Ok(Visibility::Public),
            1 => Ok(Visibility::Private),
            b => Err(d.invalid(
                format!("definition history, change {i}"),
                format!("unknown visibility tag {b}"),
            )),
        }
    }
    let n = d.count(18, what!("definition history, change count"))?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = Timestamp::from_micros(d.i64(what!("definition history, change {i}"))?);
        let actor = d.str(what!("definition history, change {i}, actor"))?.to_string();
        let segment = SegmentId(d.u64(what!("definition history, change {i}, segment"))?);
        let what = match d.u8(what!("definition history, change {i}, tag"))? {
            0 => Edit::Created {
                name: d.str(what!("definition history, change {i}, name"))?.to_string(),
                filter: maybe(d, i)?,
            },
            1 => Edit::Renamed {
                from: d.str(what!("definition history, change {i}, name"))?.to_string(),
                to: d.str(what!("definition history, change {i}, name"))?.to_string(),
            },
            2 => Edit::Visibility {
                from: vis(d, i)?,
                to: vis(d, i)?,
            },
            3 => Edit::Filter {
                from: maybe(d, i)?,
                to: maybe(d, i)?,
            },
            4 => Edit::RuleAttached {
                rule: RuleId(d.u64(what!("definition history, change {i}, rule"))?),
                filter: filter(d, i)?,
            },
            5 => Edit::RuleEdited {
                rule: RuleId(d.u64(what!("definition history, change {i}, rule"))?),
                from: filter(d, i)?,
                to: filter(d, i)?,
            },
            6 => Edit::RuleDetached {
                rule: RuleId(d.u64(what!("definition history, change {i}, rule"))?),
                filter: filter(d, i)?,
            },
            7 => Edit::Deleted,
            8 => Edit::Settings {
                from: settings(d, i)?,
                to: settings(d, i)?,
            },
            9 => Edit::Access {
                from: decode_access(d, &format!("definition history, change {i}"))?,
                to: decode_access(d, &format!("definition history, change {i}"))?,
            },
            b => return Err(d.invalid(format!("definition history, change {i}"), format!("unknown tag {b}"))),
        };
        out.push(DefinitionChange {
            seq: i as u64 + 1,
            at,
            actor,
            segment,
            what,
        });
    }
    Ok(out)
}

fn decode_log(d: &mut Dec, engine: &Engine, format: u32) -> Result<ChangeLog, SnapshotError> {
    let next = d.u64(what!("change log, next sequence number"))?;
    let oldest = d.u64(what!("change log, oldest sequence number"))?;
    let mut retention = Retention::default();
    let has_max = d.bool(what!("change log, retention"))?;
    let max = d.u64(what!("change log, retention"))?;
    retention = retention.max_changes(has_max.then_some(max));
    let has_bytes = d.bool(what!("change log, retention"))?;
    let bytes = d.u64(what!("change log, retention"))?;
    retention = retention.max_bytes(has_bytes.then_some(bytes));
    let has_age = d.bool(what!("change log, retention"))?;
    let age = d.u64(what!("change log, retention"))?;
    retention = retention.max_age(has_age.then(|| std::time::Duration::from_micros(age)));
    retention = retention.unacked(match d.u8(what!("change log, retention"))? {
        0 => Unacked::Keep,
        1 => Unacked::Drop,
        b => return Err(d.invalid("change log, retention", format!("unknown policy tag {b}"))),
    });
    if next == 0 || oldest == 0 || oldest > next {
        return Err(d.invalid(
            "change log",
            format!("oldest sequence number {oldest} and next {next} do not fit"),
        ));
    }
    let n = d.count(9, what!("change log, consumer count"))?;
    let mut consumers = BTreeMap::new();
    for i in 0..n {
        let name = d.str(what!("change log, consumer {i}"))?.to_string();
        let seq = d.u64(what!("change log, consumer `{name}`"))?;
        if seq >= next || name.is_empty() || consumers.insert(name.clone(), seq).is_some() {
            return Err(d.invalid(
                format!("change log, consumer `{name}`"),
                "a duplicate, or a cursor past the log",
            ));
        }
    }
    let kinds = engine.store.tables().len();
    let n = d.count(20, what!("change log, deleted segment count"))?;
    let mut gone = HashMap::new();
    for i in 0..n {
        let id = SegmentId(d.u64(what!("change log, deleted segment {i}"))?);
        let name = d.str(what!("change log, {id}, name"))?.to_string();
        let kind = d.u32(what!("change log, {id}, kind"))? as usize;
        if kind >= kinds || engine.book.has_segment(id) {
            return Err(d.invalid(
                format!("change log, {id}"),
                "a kind out of range, or a segment that is not deleted",
            ));
        }
        gone.insert(id, Gone { name, kind, refs: 0 });
    }
    let n = d.count(25, what!("change log, call count"))?;
    let mut calls = VecDeque::with_capacity(n);
    let mut expect = oldest;
    for i in 0..n {
        let first = d.u64(what!("change log, call {i}"))?;
        let t = d.u8(what!("change log, call {i}, trigger"))?;
        let trigger = *TRIGGERS
            .get(t as usize)
            .ok_or_else(|| d.invalid(format!("change log, call {i}"), format!("unknown trigger tag {t}")))?;
        let at = Timestamp::from_micros(d.i64(what!("change log, call {i}, instant"))?);
        let mut changes = Changes::new(at);
        let groups = d.count(20, what!("change log, call {i}, group count"))?;
        for j in 0..groups {
            let segment = SegmentId(d.u64(what!("change log, call {i}, group {j}"))?);
            let kind = match d.u8(what!("change log, call {i}, group {j}"))? {
                0 => ChangeKind::Entered,
                1 => ChangeKind::Exited,
                b => return Err(d.invalid(format!("change log, call {i}"), format!("unknown change tag {b}"))),
            };
            let cause = match d.u8(what!("change log, call {i}, group {j}, cause"))? {
                0 => Cause::Manual,
                1 => Cause::Rule(RuleId(d.u64(what!("change log, call {i}, group {j}, rule"))?)),
                2 => Cause::EntityDeleted,
                3 => Cause::SegmentDeleted,
                b => return Err(d.invalid(format!("change log, call {i}"), format!("unknown cause tag {b}"))),
            };
            let kind_of = engine
                .book
                .segments()
                .get(&segment)
                .map(|s| s.kind)
                .or_else(|| gone.get(&segment).map(|g| g.kind))
                .ok_or_else(|| {
                    d.invalid(
                        format!("change log, call {i}"),
                        format!("names {segment}, which is unknown"),
                    )
                })?;
            let below = engine.store.tables()[kind_of].ids_given() as u64;
            let ids = d.bitmap(below, what!("change log, call {i}, group {j}, entities"))?;
            if ids.is_empty() {
                return Err(d.invalid(format!("change log, call {i}"), "an empty group"));
            }
            changes.push(segment, kind, cause, ids);
        }
        if first != expect || changes.is_empty() {
            return Err(d.invalid(
                format!("change log, call {i}"),
                format!("starts at {first}, expected {expect}, or changes nothing"),
            ));
        }
        expect = first + changes.len();
        let mut versions = Vec::new();
        if format >= 3 {
            let n = d.count(16, what!("change log, call {i}, version count"))?;
            for _ in 0..n {
                let s = SegmentId(d.u64(what!("change log, call {i}, versions"))?);
                let v = d.u64(what!("change log, call {i}, versions"))?;
                if versions.last().is_some_and(|&(p, _)| p >= s) {
                    return Err(d.invalid(format!("change log, call {i}"), "versions out of order"));
                }
                versions.push((s, v));
            }
        }
        calls.push_back(crate::segment::log::Call {
            first,
            trigger,
            changes,
            versions,
        });
    }
    if expect != next {
        return Err(d.invalid("change log", format!("the calls end at {expect}, the log at {next}")));
    }
    Ok(ChangeLog::from_parts(calls, next, oldest, retention, consumers, gone))
}

fn decode(d: &mut Dec, version: u32) -> Result<Engine, SnapshotError> {
    let policy = match d.u8(what!("limit policy"))? {
        0 => LimitPolicy::default().with_unlimited_conditions(),
        1 => LimitPolicy::default().with_max_conditions(d.usize(what!("limit policy, conditions"))?),
        b => return Err(d.invalid("limit policy", format!("unknown condition limit tag {b}"))),
    };
    let depth = d.usize(what!("limit policy, depth"))?;
    let policy = policy
        .with_max_depth(depth)
        .map_err(|e| d.invalid("limit policy", e.to_string()))?;
    let cfg = IndexConfig {
        fine_buckets: d.usize(what!("index configuration"))?,
        groups: d.usize(what!("index configuration"))?,
        min_bucket: d.usize(what!("index configuration"))?,
        per_id_candidates: d.u64(what!("index configuration"))?,
    };
    let clock = match d.u8(what!("clock"))? {
        0 => Clock::System,
        1 => Clock::Fixed(Timestamp::from_micros(d.i64(what!("clock"))?)),
        b => return Err(d.invalid("clock", format!("unknown clock tag {b}"))),
    };

    let schema = decode_schema(d, version)?;
    let mut engine = Engine::with_config(schema, policy, cfg);
    engine.clock = clock;
    let kinds = engine.store.schema().kind_arcs().to_vec();
    for (k, kind) in kinds.into_iter().enumerate() {
        engine.store.tables_mut()[k] = Table::decode(kind, cfg, d, version)?;
    }
    engine.store.rebuild_parents();

    let next_segment = d.u64(what!("segment counter"))?;
    let next_rule = d.u64(what!("rule counter"))?;
    engine.book.restore_counters(next_segment, next_rule);
    let rule_lists = decode_segments(&mut engine, d, version)?;
    decode_order(&mut engine, d)?;
    decode_rules(&mut engine, d, version)?;

    // Each segment lists exactly the rules that feed it.
    let at = d.offset();
    engine
        .book
        .restore_rule_lists(rule_lists)
        .map_err(|(what, problem)| d.invalid_at(at, what, problem))?;
    if version >= 2 {
        engine.log = decode_log(d, &engine, version)?;
        let definitions = decode_history(d)?;
        engine.log.restore_definitions(definitions);
    }
    // A segment's version is not saved: it counts its revisions in the
    // history, which is kept whole.
    for c in engine.log.definitions().iter().filter(|c| c.what.is_revision()) {
        engine.book.count_revision(c.segment);
    }
    d.finish()?;
    engine.rederive();
    Ok(engine)
}

impl Engine {
    /// Recomputes, in rank order, what a snapshot's data determines rather
    /// than trusting the file: the links of every rule (its matches less its
    /// blocks) and every segment's members. A time-relative rule's links are
    /// as of its last refresh, which the data does not determine: they are
    /// kept as saved (they were checked to be live and unblocked).
    fn rederive(&mut self) {
        let mut order: Vec<(u32, SegmentId)> = self.book.segments().iter().map(|(id, s)| (s.rank, *id)).collect();
        order.sort_unstable();
        let now = self.now();
        // A rule that names no segment matches what the data alone says:
        // those are evaluated first, shared among the cores.
        let alone: Vec<RuleId> = self
            .book
            .rules()
            .iter()
            .filter(|(_, r)| !r.plan.is_time_relative() && r.plan.segments().is_empty())
            .map(|(id, _)| *id)
            .collect();
        let threads = crate::store::cores().min(alone.len().max(1));
        let (store, book) = (&self.store, &self.book);
        let mut matched: BTreeMap<RuleId, Option<RoaringBitmap>> = std::thread::scope(|s| {
            let handles: Vec<_> = alone
                .chunks(alone.len().div_ceil(threads).max(1))
                .map(|chunk| {
                    s.spawn(move || {
                        chunk
                            .iter()
                            .map(|&r| (r, super::matches_of(store, book, r, None, now)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (_, id) in order {
            let Some(s) = self.book.segment(id) else { continue };
            let rules = s.info.rules.clone();
            for rule in &rules {
                // Its changes are not changes: the engine is being built.
                let mut deltas = super::Deltas::new();
                match matched.remove(rule) {
                    Some(Some(m)) => self.book.relink(*rule, None, m, &mut deltas),
                    Some(None) => {}
                    None if self.book.rule(*rule).is_some_and(|r| !r.plan.is_time_relative()) => {
                        super::relink(&self.store, &mut self.book, *rule, None, now, &mut deltas);
                    }
                    None => {}
                }
            }
            self.book.rederive_members(id);
        }
    }
}

fn decode_schema(d: &mut Dec, version: u32) -> Result<Schema, SnapshotError> {
    let n = d.count(16, what!("schema, kind count"))?;
    let mut kinds = Vec::with_capacity(n);
    for i in 0..n {
        let at = d.offset();
        let name = d.str(what!("schema, kind {i}, name"))?;
        let nf = d.count(9, what!("schema, kind `{name}`, field count"))?;
        let mut fields = Vec::with_capacity(nf);
        for j in 0..nf {
            let field = d.str(what!("schema, kind `{name}`, field {j}"))?;
            let code = d.u8(what!("schema, kind `{name}`, field `{field}`, type"))?;
            let ty = *TYPES.get(code as usize).ok_or_else(|| {
                d.invalid(
                    format!("schema, kind `{name}`, field `{field}`"),
                    format!("unknown type code {code}"),
                )
            })?;
            fields.push((field, ty));
        }
        let mut kind =
            KindSchema::new(name, fields).map_err(|e| d.invalid_at(at, format!("schema, kind {i}"), e.to_string()))?;
        if version >= 4 {
            let nt = d.count(9, what!("schema, kind `{name}`, tracked field count"))?;
            for _ in 0..nt {
                let at = d.offset();
                let field = d.str(what!("schema, kind `{name}`, tracked field"))?;
                let keep = d.usize(what!("schema, kind `{name}`, tracked field `{field}`"))?;
                kind = kind
                    .tracking(field, keep)
                    .map_err(|e| d.invalid_at(at, format!("schema, kind `{name}`"), e.to_string()))?;
            }
        }
        kinds.push(kind);
    }
    let at = d.offset();
    let mut schema = Schema::new(kinds).map_err(|e| d.invalid_at(at, "schema", e.to_string()))?;
    let n = d.count(24, what!("schema, relation count"))?;
    for i in 0..n {
        let at = d.offset();
        let child = d.str(what!("schema, relation {i}"))?;
        let field = d.str(what!("schema, relation {i}"))?;
        let parent = d.str(what!("schema, relation {i}"))?;
        schema = schema
            .with_relation(child, field, parent)
            .map_err(|e| d.invalid_at(at, format!("schema, relation {i}"), e.to_string()))?;
    }
    Ok(schema)
}

/// An id of a segment or rule: above the one before (ids are saved in
/// order, each once) and below the counter that hands them out.
fn next_id(d: &mut Dec, last: &mut u64, counter: u64, what: &str) -> Result<u64, SnapshotError> {
    let at = d.offset();
    let id = d.u64(what!("{what}, id"))?;
    if id <= *last || id >= counter {
        return Err(d.invalid_at(
            at,
            what,
            format!("id {id} out of order or not below the counter {counter}"),
        ));
    }
    *last = id;
    Ok(id)
}

/// Reads the segments; returns each one's rule list, checked once the
/// rules are read.
fn decode_segments(
    engine: &mut Engine,
    d: &mut Dec,
    format: u32,
) -> Result<Vec<(SegmentId, Vec<RuleId>)>, SnapshotError> {
    let n = d.count(MIN_SEGMENT, what!("segment count"))?;
    let mut names = HashSet::with_capacity(n);
    let mut lists = Vec::with_capacity(n);
    let mut last = 0;
    for i in 0..n {
        let id = SegmentId(next_id(
            d,
            &mut last,
            engine.book.counters().0,
            &format!("segment {i}"),
        )?);
        let name_at = d.offset();
        let name = d.str(what!("{id}, name"))?;
        if name.trim() != name || name.is_empty() {
            return Err(d.invalid_at(name_at, format!("{id}"), format!("name `{name}` is blank or untrimmed")));
        }
        let at = d.offset();
        let kind = d.u32(what!("{id}, kind"))? as usize;
        let kind_name = engine
            .store
            .schema()
            .kind_arcs()
            .get(kind)
            .map(|k| k.name().to_string())
            .ok_or_else(|| d.invalid_at(at, format!("{id}"), format!("kind {kind} does not exist")))?;
        let visibility = match d.u8(what!("{id}, visibility"))? {
            0 => Visibility::Public,
            1 => Visibility::Private,
            b => return Err(d.invalid(format!("{id}"), format!("unknown visibility {b}"))),
        };
        let owner = d.str(what!("{id}, owner"))?.to_string();
        // Names are unique per scope: among public segments, and among each
        // owner's private ones.
        let scope = match visibility {
            Visibility::Public => None,
            Visibility::Private => Some(owner.clone()),
        };
        if !names.insert((scope, name)) {
            return Err(d.invalid_at(
                name_at,
                format!("{id}"),
                format!("name `{name}` is repeated in its scope"),
            ));
        }
        let has_filter = d.bool(what!("{id}, filter rule"))?;
        let filter_rule = RuleId(d.u64(what!("{id}, filter rule"))?);
        let nr = d.count(8, what!("{id}, rule count"))?;
        let mut rules = Vec::with_capacity(nr);
        for _ in 0..nr {
            rules.push(RuleId(d.u64(what!("{id}, rules"))?));
        }
        let created = Timestamp::from_micros(d.i64(what!("{id}, created"))?);
        let updated = Timestamp::from_micros(d.i64(what!("{id}, updated"))?);
        // Before version 3, no settings or sharing. The version is counted
        // from the definition history once it is read.
        let (settings, access) = if format >= 3 {
            let at = d.offset();
            let text = d.str(what!("{id}, settings"))?;
            let settings =
                Settings::from_json(text).map_err(|e| d.invalid_at(at, format!("{id}, settings"), e.to_string()))?;
            let access = decode_access(d, &format!("{id}, access"))?;
            (settings, access)
        } else {
            (Settings::new(), SegmentAccess::new())
        };
        let at = d.offset();
        let table = &engine.store.tables()[kind];
        let manual = d.bitmap(
            table.live().max().map_or(0, |m| m as u64 + 1),
            what!("{id}, manual links"),
        )?;
        d.subset(at, &manual, table.live(), "live", what!("{id}, manual links"))?;
        engine.book.restore_segment(SegmentState {
            info: SegmentInfo {
                id,
                name: name.to_string(),
                kind: kind_name,
                visibility,
                owner,
                filter_rule: has_filter.then_some(filter_rule),
                rules: Vec::new(),
                created,
                updated,
                version: 1,
                settings,
                access,
            },
            kind,
            manual,
            members: RoaringBitmap::new(),
            rank: 0,
        });
        lists.push((id, rules));
    }
    Ok(lists)
}

fn decode_order(engine: &mut Engine, d: &mut Dec) -> Result<(), SnapshotError> {
    let at = d.offset();
    let n = d.count(8, what!("segment order"))?;
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        order.push(SegmentId(d.u64(what!("segment order"))?));
    }
    if !engine.book.restore_order(order) {
        return Err(d.invalid_at(at, "segment order", "is not an order of the segments"));
    }
    Ok(())
}

fn decode_rules(engine: &mut Engine, d: &mut Dec, version: u32) -> Result<(), SnapshotError> {
    let n = d.count(MIN_RULE, what!("rule count"))?;
    let mut last = 0;
    for i in 0..n {
        let id = RuleId(next_id(d, &mut last, engine.book.counters().1, &format!("rule {i}"))?);
        let at = d.offset();
        let segment = SegmentId(d.u64(what!("{id}, segment"))?);
        let Some(s) = engine.book.segment(segment) else {
            return Err(d.invalid_at(at, format!("{id}"), format!("feeds {segment}, which does not exist")));
        };
        let (kind, name) = (s.kind, s.info.name.clone());
        let at = d.offset();
        let text = d.str(what!("{id}, filter"))?;
        let filter = Filter::from_json(text).map_err(|e| d.invalid_at(at, format!("{id}, filter"), e.to_string()))?;
        let plan = engine
            .guard()
            .validated(&filter, kind, segment, &name, None)
            .map_err(|e| d.invalid_at(at, format!("{id}, filter"), e.to_string()))?;
        let live = engine.store.tables()[kind].live();
        let below = live.max().map_or(0, |m| m as u64 + 1);
        let at = d.offset();
        let links = d.bitmap(below, what!("{id}, links"))?;
        d.subset(at, &links, live, "live", what!("{id}, links"))?;
        let at = d.offset();
        let blocked = d.bitmap(below, what!("{id}, blocks"))?;
        d.subset(at, &blocked, live, "live", what!("{id}, blocks"))?;
        if let Some(both) = (&links & &blocked).min() {
            return Err(d.invalid_at(at, format!("{id}"), format!("entity {both} is both linked and blocked")));
        }
        let given = if version >= 5 && d.bool(what!("{id}, external"))? {
            let at = d.offset();
            let given = d.bitmap(below, what!("{id}, external matches"))?;
            d.subset(at, &given, live, "live", what!("{id}, external matches"))?;
            Some(given)
        } else {
            None
        };
        engine.deps.index(engine.store.schema().relations(), id, kind, &plan);
        let mut state = match given {
            Some(given) => {
                let mut r = RuleState::external(id, segment, kind, plan);
                r.external = Some(given);
                r
            }
            None => RuleState::new(id, segment, kind, filter, plan),
        };
        (state.links, state.blocked) = (links, blocked);
        engine.book.restore_rule(state);
    }
    Ok(())
}
