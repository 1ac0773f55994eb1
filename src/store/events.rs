//! Behavioural data: for each entity, when it did what.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use indexmap::IndexSet;
use roaring::RoaringBitmap;
use smallvec::SmallVec;

use super::Properties;
use crate::error::SnapshotError;
use crate::snapshot::codec::{Dec, Enc};
use crate::value::Value;

/// One event's properties, names as codes of [`EventLog`]'s property names,
/// sorted by code.
pub(crate) type PropSet = Box<[(u32, PVal)]>;

/// A property's value as the log holds it: strings as codes of its string
/// dictionary, so that no value owns heap and a string test is decided once
/// per distinct string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PVal {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(u32),
}

impl PVal {
    /// The value, for a value that is not a string.
    pub(crate) fn scalar(self) -> Option<Value> {
        match self {
            PVal::Int(i) => Some(Value::Int(i)),
            PVal::Float(x) => Some(Value::Float(x)),
            PVal::Bool(b) => Some(Value::Bool(b)),
            PVal::Str(_) => None,
        }
    }
}

/// One entity's instants of one event name: most entities have one or two
/// of each, which are held inline (no allocation of their own, the same 24
/// bytes as an empty `Vec`).
type Times = SmallVec<[i64; 2]>;

/// Makes room for one more entry in a chunk of a timeline, growing it by a
/// quarter rather than doubling it: a chunk holds a day of one event's
/// entries, and a doubled chunk is half empty.
fn room_for_one<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 4).max(4));
    }
}

/// Microseconds in a day: the width of a timeline chunk.
const CHUNK: i64 = 86_400_000_000;

/// One event name's events in time order, in chunks of a day, so that the
/// events of a window are a few contiguous runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timeline {
    /// Per day: `(instant, entity)` sorted by instant.
    chunks: BTreeMap<i64, Vec<(i64, u32)>>,
}

impl Timeline {
    fn insert(&mut self, micros: i64, id: u32) {
        let chunk = self.chunks.entry(micros.div_euclid(CHUNK)).or_default();
        // In-order arrival appends; late events are inserted in place.
        let at = chunk.partition_point(|&(t, _)| t <= micros);
        room_for_one(chunk);
        chunk.insert(at, (micros, id));
    }

    /// Appends without ordering; returns the chunk's day and its sorted
    /// length before, for [`Timeline::settle`].
    fn push(&mut self, micros: i64, id: u32) -> (i64, usize) {
        let day = micros.div_euclid(CHUNK);
        let chunk = self.chunks.entry(day).or_default();
        room_for_one(chunk);
        chunk.push((micros, id));
        (day, chunk.len() - 1)
    }

    /// Orders a chunk whose first `sorted` entries were in order: sorts the
    /// rest and merges the two runs.
    fn settle(&mut self, day: i64, sorted: usize) {
        let Some(chunk) = self.chunks.get_mut(&day) else { return };
        chunk[sorted..].sort_unstable();
        if sorted == 0 || chunk[sorted - 1] <= chunk[sorted] {
            return;
        }
        let mut merged = Vec::with_capacity(chunk.len());
        let (a, b) = chunk.split_at(sorted);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i] <= b[j] {
                merged.push(a[i]);
                i += 1;
            } else {
                merged.push(b[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        *chunk = merged;
    }

    fn remove(&mut self, micros: i64, id: u32) {
        let day = micros.div_euclid(CHUNK);
        if let Some(chunk) = self.chunks.get_mut(&day) {
            let from = chunk.partition_point(|&(t, _)| t < micros);
            if let Some(i) = chunk[from..].iter().position(|&e| e == (micros, id)) {
                chunk.remove(from + i);
            }
            if chunk.is_empty() {
                self.chunks.remove(&day);
            }
        }
    }

    /// The events with instants in `from..=to`, as runs of the chunks.
    pub(crate) fn window(&self, from: i64, to: i64) -> impl Iterator<Item = &[(i64, u32)]> + '_ {
        let days = (from <= to).then(|| from.div_euclid(CHUNK)..=to.div_euclid(CHUNK));
        days.into_iter().flat_map(|d| self.chunks.range(d)).map(move |(_, c)| {
            let a = c.partition_point(|&(t, _)| t < from);
            let b = c.partition_point(|&(t, _)| t <= to);
            &c[a..b.max(a)]
        })
    }

    /// An upper bound of the number of events in `from..=to`: the sizes of
    /// the chunks the window touches.
    pub(crate) fn estimate(&self, from: i64, to: i64) -> u64 {
        if from > to {
            return 0;
        }
        self.chunks
            .range(from.div_euclid(CHUNK)..=to.div_euclid(CHUNK))
            .map(|(_, c)| c.len() as u64)
            .sum()
    }

    fn heap_bytes(&self) -> usize {
        self.chunks.values().map(|c| c.capacity() * 16 + 64).sum()
    }
}

/// The events of one kind's entities, by event name.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventLog {
    names: IndexSet<Box<str>>,
    /// Per name, per entity id: the instants in microseconds, sorted
    /// (events may arrive out of order; equal instants are kept).
    times: Vec<Vec<Times>>,
    /// Per name: the entities with at least one such event.
    has: Vec<RoaringBitmap>,
    /// Per name: its events in time order.
    timelines: Vec<Timeline>,
    /// The entities with any event, and their first and last instants.
    any: RoaringBitmap,
    any_first: Vec<i64>,
    any_last: Vec<i64>,
    total: u64,
    /// Property names, interned.
    keys: IndexSet<Box<str>>,
    /// String values of properties, interned.
    strs: IndexSet<Box<str>>,
    /// Per name, for the entities with a property on any event of it: the
    /// properties of each event, aligned with `times`.
    props: Vec<HashMap<u32, Vec<Option<PropSet>>>>,
}

impl EventLog {
    /// The index of an event name, if any event of it was recorded.
    pub(crate) fn name(&self, name: &str) -> Option<usize> {
        self.names.get_index_of(name)
    }

    /// Records a batch: as [`EventLog::record`] each, with the timelines
    /// appended to and ordered once at the end (a bulk load of history
    /// arrives in any order).
    pub(crate) fn record_batch<'e>(
        &mut self,
        events: impl Iterator<Item = (u32, &'e str, i64, Option<&'e Properties>)>,
    ) {
        let mut dirty: BTreeMap<(usize, i64), usize> = BTreeMap::new();
        for (id, name, micros, props) in events {
            let n = self.add(id, name, micros, props);
            let (day, before) = self.timelines[n].push(micros, id);
            dirty.entry((n, day)).or_insert(before);
        }
        for ((n, day), sorted) in dirty {
            self.timelines[n].settle(day, sorted);
        }
    }

    pub(crate) fn record(&mut self, id: u32, name: &str, micros: i64, props: Option<&Properties>) {
        let n = self.add(id, name, micros, props);
        self.timelines[n].insert(micros, id);
    }

    /// Records an event everywhere but in its name's timeline; returns the
    /// name's index.
    fn add(&mut self, id: u32, name: &str, micros: i64, props: Option<&Properties>) -> usize {
        let n = match self.names.get_index_of(name) {
            Some(n) => n,
            None => {
                self.names.insert(name.into());
                self.times.push(Vec::new());
                self.has.push(RoaringBitmap::new());
                self.timelines.push(Timeline::default());
                self.props.push(HashMap::new());
                self.names.len() - 1
            }
        };
        let set = props.filter(|p| !p.is_empty()).map(|p| self.intern(p));
        let i = id as usize;
        let per = &mut self.times[n];
        if per.len() <= i {
            per.resize_with(i + 1, Times::new);
        }
        let ts = &mut per[i];
        let at = ts.partition_point(|&t| t <= micros);
        ts.insert(at, micros);
        let len = ts.len();
        match (set, self.props[n].get_mut(&id)) {
            (set, Some(aligned)) => aligned.insert(at, set),
            (Some(set), None) => {
                let mut aligned = vec![None; len - 1];
                aligned.insert(at, Some(set));
                self.props[n].insert(id, aligned);
            }
            (None, None) => {}
        }
        self.has[n].insert(id);
        if self.any_first.len() <= i {
            self.any_first.resize(i + 1, i64::MAX);
            self.any_last.resize(i + 1, i64::MIN);
        }
        self.any_first[i] = self.any_first[i].min(micros);
        self.any_last[i] = self.any_last[i].max(micros);
        self.any.insert(id);
        self.total += 1;
        n
    }

    /// Forgets every event of an entity (it was deleted).
    pub(crate) fn clear(&mut self, id: u32) {
        if !self.any.remove(id) {
            return;
        }
        let i = id as usize;
        for props in &mut self.props {
            props.remove(&id);
        }
        for ((per, has), line) in self.times.iter_mut().zip(&mut self.has).zip(&mut self.timelines) {
            if let Some(ts) = per.get_mut(i) {
                self.total -= ts.len() as u64;
                for &t in ts.iter() {
                    line.remove(t, id);
                }
                *ts = Times::new();
            }
            has.remove(id);
        }
        self.any_first[i] = i64::MAX;
        self.any_last[i] = i64::MIN;
    }

    /// Forgets the event name and every event of it; returns the entities
    /// that had one.
    pub(crate) fn forget_name(&mut self, name: &str) -> RoaringBitmap {
        let Some(n) = self.names.get_index_of(name) else {
            return RoaringBitmap::new();
        };
        self.names.shift_remove_index(n);
        let per = self.times.remove(n);
        let who = self.has.remove(n);
        self.timelines.remove(n);
        self.props.remove(n);
        for id in &who {
            self.total -= per[id as usize].len() as u64;
        }
        self.respan(&who);
        who
    }

    /// The first and last instants of `ids` computed again from their
    /// events (some were forgotten).
    fn respan(&mut self, ids: &RoaringBitmap) {
        for id in ids {
            let i = id as usize;
            let (mut first, mut last) = (i64::MAX, i64::MIN);
            for per in &self.times {
                if let Some(ts) = per.get(i).filter(|ts| !ts.is_empty()) {
                    first = first.min(ts[0]);
                    last = last.max(ts[ts.len() - 1]);
                }
            }
            self.any_first[i] = first;
            self.any_last[i] = last;
            if first == i64::MAX {
                self.any.remove(id);
            }
        }
    }

    /// Forgets every event before the instant `cut` (microseconds);
    /// returns, per event name that lost any, the entities that lost some.
    pub(crate) fn drop_before(&mut self, cut: i64) -> Vec<(String, RoaringBitmap)> {
        let mut lost = Vec::new();
        let mut touched = RoaringBitmap::new();
        for n in 0..self.names.len() {
            let mut who = RoaringBitmap::new();
            for id in &self.has[n] {
                let ts = &mut self.times[n][id as usize];
                let k = ts.partition_point(|&t| t < cut);
                if k > 0 {
                    ts.drain(..k);
                    self.total -= k as u64;
                    who.insert(id);
                    if let Some(aligned) = self.props[n].get_mut(&id) {
                        aligned.drain(..k);
                        if aligned.iter().all(Option::is_none) {
                            self.props[n].remove(&id);
                        }
                    }
                }
            }
            if who.is_empty() {
                continue;
            }
            for id in &who {
                if self.times[n][id as usize].is_empty() {
                    self.times[n][id as usize] = Times::new();
                    self.has[n].remove(id);
                }
            }
            let line = &mut self.timelines[n].chunks;
            let day = cut.div_euclid(CHUNK);
            *line = line.split_off(&day);
            if let Some(c) = line.get_mut(&day) {
                c.drain(..c.partition_point(|&(t, _)| t < cut));
                if c.is_empty() {
                    line.remove(&day);
                }
            }
            touched |= &who;
            lost.push((self.names[n].to_string(), who));
        }
        self.respan(&touched);
        lost
    }

    /// The instants of event `name` (an index) of entity `id`, sorted.
    pub(crate) fn times(&self, name: usize, id: u32) -> &[i64] {
        self.times[name].get(id as usize).map_or(&[], |t| t.as_slice())
    }

    /// The properties of the events of `name` (an index) of entity `id`,
    /// aligned with [`EventLog::times`]; `None` when none of them has any.
    pub(crate) fn props(&self, name: usize, id: u32) -> Option<&[Option<PropSet>]> {
        self.props[name].get(&id).map(Vec::as_slice)
    }

    /// The code of a property name, if any event carried it.
    pub(crate) fn prop_key(&self, key: &str) -> Option<u32> {
        self.keys.get_index_of(key).map(|k| k as u32)
    }

    /// The name of a property code.
    pub(crate) fn prop_name(&self, code: u32) -> &str {
        self.keys.get_index(code as usize).map_or("", |k| k)
    }

    /// The string values of properties, by code.
    pub(crate) fn strings(&self) -> &IndexSet<Box<str>> {
        &self.strs
    }

    /// A value as a [`Value`].
    pub(crate) fn value(&self, v: PVal) -> Value {
        match v {
            PVal::Str(c) => Value::String(self.strs.get_index(c as usize).map_or("", |s| s).to_string()),
            v => v.scalar().unwrap_or(Value::Null),
        }
    }

    /// The properties as a [`Properties`].
    pub(crate) fn to_properties(&self, set: Option<&PropSet>) -> Properties {
        let mut entries: Vec<(String, Value)> = set
            .into_iter()
            .flat_map(|s| s.iter())
            .map(|&(k, v)| (self.prop_name(k).to_string(), self.value(v)))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Properties::from_sorted(entries)
    }

    fn intern_value(&mut self, v: &Value) -> PVal {
        match v {
            Value::Int(i) => PVal::Int(*i),
            Value::Float(x) => PVal::Float(*x),
            Value::Bool(b) => PVal::Bool(*b),
            Value::String(s) => PVal::Str(match self.strs.get_index_of(s.as_str()) {
                Some(c) => c as u32,
                None => self.strs.insert_full(s.as_str().into()).0 as u32,
            }),
            // Properties are checked on the way in.
            _ => PVal::Bool(false),
        }
    }

    fn intern(&mut self, p: &Properties) -> PropSet {
        let mut set: Vec<(u32, PVal)> = p
            .entries()
            .iter()
            .map(|(k, v)| {
                let code = match self.keys.get_index_of(k.as_str()) {
                    Some(c) => c,
                    None => self.keys.insert_full(k.as_str().into()).0,
                };
                (code as u32, self.intern_value(v))
            })
            .collect();
        set.sort_by_key(|e| e.0);
        set.into_boxed_slice()
    }

    /// The events of name `name` (an index) in time order.
    pub(crate) fn timeline(&self, name: usize) -> &Timeline {
        &self.timelines[name]
    }

    /// The entities with an event of `name`, or with any event.
    pub(crate) fn who(&self, name: Option<usize>) -> &RoaringBitmap {
        match name {
            Some(n) => &self.has[n],
            None => &self.any,
        }
    }

    /// The first and last instants of `name` (or of any event) for `id`.
    pub(crate) fn span(&self, name: Option<usize>, id: u32) -> Option<(i64, i64)> {
        match name {
            Some(n) => {
                let ts = self.times(n, id);
                Some((*ts.first()?, *ts.last()?))
            }
            None => self
                .any
                .contains(id)
                .then(|| (self.any_first[id as usize], self.any_last[id as usize])),
        }
    }

    /// The number of events recorded.
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// The names of the events recorded, in order of first appearance.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.names.iter().map(|n| &**n)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let times: usize = self
            .times
            .iter()
            .map(|per| {
                per.capacity() * std::mem::size_of::<Times>()
                    + per
                        .iter()
                        .filter(|t| t.spilled())
                        .map(|t| t.capacity() * 8)
                        .sum::<usize>()
            })
            .sum();
        times
            + self.any_first.capacity() * 16
            + self.has.iter().map(super::bitmap_heap).sum::<usize>()
            + self.timelines.iter().map(Timeline::heap_bytes).sum::<usize>()
            + self.props.iter().map(props_heap).sum::<usize>()
            + self.strs.iter().map(|s| s.len() + 40).sum::<usize>()
    }
}

/// The heap of one name's properties: the per-entity vectors and each
/// event's set, strings included.
fn props_heap(props: &HashMap<u32, Vec<Option<PropSet>>>) -> usize {
    props.capacity() * 32
        + props
            .values()
            .map(|v| {
                v.capacity() * 16
                    + v.iter()
                        .flatten()
                        .map(|s| s.len() * std::mem::size_of::<(u32, PVal)>())
                        .sum::<usize>()
            })
            .sum::<usize>()
}

/// The snapshot version from which event logs hold properties.
const PROPS_SINCE: u32 = 4;

impl EventLog {
    /// Writes the log for a snapshot: the property names, then per event
    /// name the entities that did it, each one's instants and, flagged, the
    /// properties of each of its events.
    pub(crate) fn encode(&self, e: &mut Enc) {
        e.len(self.keys.len());
        for k in &self.keys {
            e.str(k);
        }
        e.len(self.names.len());
        for (n, name) in self.names.iter().enumerate() {
            e.str(name);
            e.bitmap(&self.has[n]);
            for id in &self.has[n] {
                let ts = self.times(n, id);
                e.len(ts.len());
                for &t in ts {
                    e.i64(t);
                }
                match self.props(n, id) {
                    None => e.u8(0),
                    Some(sets) => {
                        e.u8(1);
                        for set in sets {
                            let set = set.as_deref().unwrap_or(&[]);
                            e.len(set.len());
                            for (k, v) in set {
                                e.u32(*k);
                                encode_value(e, &self.value(*v));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reads what [`EventLog::encode`] wrote, for a table whose live ids
    /// are `live`, and rebuilds the timelines and first and last instants.
    pub(crate) fn decode(
        live: &RoaringBitmap,
        d: &mut Dec,
        version: u32,
        what: &dyn Fn() -> String,
    ) -> Result<EventLog, SnapshotError> {
        let mut log = EventLog::default();
        if version >= PROPS_SINCE {
            let n = d.count(8, &|| format!("{}, property names", what()))?;
            for _ in 0..n {
                let at = d.offset();
                let k = d.str(&|| format!("{}, property name", what()))?;
                if k.is_empty() || k.len() > super::properties::MAX_PROPERTY_NAME_BYTES || !log.keys.insert(k.into()) {
                    return Err(d.invalid_at(at, what(), format!("property name `{k}` is empty, too long or twice")));
                }
            }
        }
        let n = d.count(16, &|| format!("{}, event names", what()))?;
        for _ in 0..n {
            let at = d.offset();
            let name = d.str(&|| format!("{}, event name", what()))?;
            if name.is_empty() || log.names.contains(name) {
                let why = if name.is_empty() { "is empty" } else { "appears twice" };
                return Err(d.invalid_at(at, what(), format!("event name `{name}` {why}")));
            }
            let of = |part: &str| format!("{}, event `{name}`, {part}", what());
            let at = d.offset();
            let has = d.bitmap(u64::from(u32::MAX) + 1, &|| of("entities"))?;
            d.subset(at, &has, live, "live", &|| of("entities"))?;
            let mut per = vec![Times::new(); has.max().map_or(0, |m| m as usize + 1)];
            let mut props = HashMap::new();
            let mut line = Vec::new();
            for id in &has {
                let at = d.offset();
                let count = d.count(8, &|| of(&format!("entity {id}, count")))?;
                let raw = d.bytes(count * 8, &|| of(&format!("entity {id}, instants")))?;
                // Collected at its size: inline up to two instants.
                let ts: Times = raw
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect();
                if ts.is_empty() || ts.windows(2).any(|w| w[0] > w[1]) {
                    return Err(d.invalid_at(
                        at,
                        of(&format!("entity {id}")),
                        "instants must be one or more, in order",
                    ));
                }
                line.extend(ts.iter().map(|&t| (t, id)));
                let i = id as usize;
                if log.any_first.len() <= i {
                    log.any_first.resize(i + 1, i64::MAX);
                    log.any_last.resize(i + 1, i64::MIN);
                }
                log.any_first[i] = log.any_first[i].min(ts[0]);
                log.any_last[i] = log.any_last[i].max(ts[ts.len() - 1]);
                log.total += ts.len() as u64;
                if version >= PROPS_SINCE && d.u8(&|| of(&format!("entity {id}, properties flag")))? == 1 {
                    let mut sets = Vec::with_capacity(ts.len());
                    for j in 0..ts.len() {
                        let of = || of(&format!("entity {id}, event {j}, properties"));
                        let at = d.offset();
                        let count = d.count(2, &of)?;
                        let mut set = Vec::with_capacity(count);
                        for _ in 0..count {
                            let k = d.u32(&of)?;
                            if k as usize >= log.keys.len() || set.last().is_some_and(|&(p, _)| p >= k) {
                                return Err(d.invalid_at(at, of(), "property codes unknown or out of order"));
                            }
                            let v = decode_value(d, &of)?;
                            set.push((k, log.intern_value(&v)));
                        }
                        if count > super::properties::MAX_PROPERTIES {
                            return Err(d.invalid_at(at, of(), "too many properties"));
                        }
                        sets.push((!set.is_empty()).then(|| set.into_boxed_slice()));
                    }
                    props.insert(id, sets);
                }
                per[i] = ts;
            }
            line.sort_unstable();
            let mut timeline = Timeline::default();
            let mut rest = &line[..];
            while let Some(&(t, _)) = rest.first() {
                let day = t.div_euclid(CHUNK);
                let n = rest.partition_point(|e| e.0.div_euclid(CHUNK) == day);
                timeline.chunks.insert(day, rest[..n].to_vec());
                rest = &rest[n..];
            }
            log.any |= &has;
            log.names.insert(name.into());
            log.times.push(per);
            log.has.push(has);
            log.timelines.push(timeline);
            log.props.push(props);
        }
        Ok(log)
    }
}

fn encode_value(e: &mut Enc, v: &Value) {
    match v {
        Value::Int(i) => {
            e.u8(0);
            e.i64(*i);
        }
        Value::Float(x) => {
            e.u8(1);
            e.u64(x.to_bits());
        }
        Value::String(s) => {
            e.u8(2);
            e.str(s);
        }
        Value::Bool(b) => e.u8(3 + u8::from(*b)),
        // Never stored: properties are checked on the way in.
        _ => e.u8(5),
    }
}

fn decode_value(d: &mut Dec, what: &dyn Fn() -> String) -> Result<Value, SnapshotError> {
    let at = d.offset();
    Ok(match d.u8(what)? {
        0 => Value::Int(d.i64(what)?),
        1 => {
            let x = f64::from_bits(d.u64(what)?);
            if !x.is_finite() {
                return Err(d.invalid_at(at, what(), "a float property is not finite"));
            }
            Value::Float(x)
        }
        2 => {
            let s = d.str(what)?;
            if s.len() > super::properties::MAX_PROPERTY_STRING_BYTES {
                return Err(d.invalid_at(at, what(), "a string property is too long"));
            }
            Value::String(s.to_string())
        }
        3 => Value::Bool(false),
        4 => Value::Bool(true),
        t => return Err(d.invalid_at(at, what(), format!("unknown property value tag {t}"))),
    })
}
