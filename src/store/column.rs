//! One typed column per field, with the indexes each keeps current on every write.

use super::batch::{FieldCells, Values};
use super::dictionary::Dictionary;
use super::{add_coded, add_ids};
use roaring::RoaringBitmap;

use super::range_index::{IndexConfig, RangeHits, RangeIndex};
use crate::error::SnapshotError;
use crate::schema::FieldType;
use crate::snapshot::codec::{Dec, Enc};
use crate::value::{key_to_float, key_to_int, Timestamp, Value};

/// A dense bitset by id, for O(1) tests of one entity (bool columns).
#[derive(Debug, Clone, Default)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    pub(crate) fn get(&self, id: u32) -> bool {
        self.0.get(id as usize / 64).is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    fn set(&mut self, id: u32, on: bool) {
        let i = id as usize / 64;
        if i >= self.0.len() {
            if !on {
                return;
            }
            self.0.resize(i + 1, 0);
        }
        if on {
            self.0[i] |= 1 << (id % 64);
        } else {
            self.0[i] &= !(1 << (id % 64));
        }
    }

    fn bytes(&self) -> usize {
        self.0.capacity() * 8
    }

    fn reserve_exact(&mut self, ids: usize) {
        self.0.reserve_exact(ids.div_ceil(64).saturating_sub(self.0.len()));
    }
}

/// Absent dictionary code.
pub(crate) const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct NumericColumn {
    pub(super) keys: Vec<u64>,
    pub(super) present: RoaringBitmap,
    pub(super) index: RangeIndex,
    /// Set while a bulk load writes keys without maintaining the index.
    stale: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct StringColumn {
    pub(super) codes: Vec<u32>,
    pub(super) dict: Dictionary,
    pub(super) bitmaps: Vec<RoaringBitmap>,
    pub(super) present: RoaringBitmap,
}

#[derive(Debug, Clone)]
pub(crate) struct BoolColumn {
    pub(super) trues: RoaringBitmap,
    pub(super) falses: RoaringBitmap,
    pub(super) present: RoaringBitmap,
    /// Presence and value, densely, for per-id tests.
    pub(super) has: Bits,
    pub(super) value: Bits,
}

#[derive(Debug, Clone)]
pub(crate) struct TagsColumn {
    pub(super) rows: Vec<Option<Box<[u32]>>>,
    pub(super) dict: Dictionary,
    pub(super) bitmaps: Vec<RoaringBitmap>,
    pub(super) present: RoaringBitmap,
}

impl NumericColumn {
    /// The ids with a value.
    pub(crate) fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The key of `id`'s value, if it has one.
    pub(crate) fn key(&self, id: u32) -> Option<u64> {
        self.present.contains(id).then(|| self.keys[id as usize])
    }

    /// The ids whose keys are in `lo..=hi` (among `within`), all of them
    /// sure: the ids of the range index's edge buckets are checked against
    /// their keys ([`RangeIndex::range_exact`]).
    pub(crate) fn range(&self, lo: u64, hi: u64, within: Option<&RoaringBitmap>) -> RangeHits {
        RangeHits {
            sure: self.index.range_exact(lo, hi, &self.keys, &self.present, within),
            maybe: RoaringBitmap::new(),
        }
    }

    /// About how many ids have keys in `lo..=hi`.
    pub(crate) fn estimate(&self, lo: u64, hi: u64) -> u64 {
        self.index.estimate(lo, hi)
    }

    /// The keys of every id, in id order (meaningless where absent).
    pub(crate) fn keys(&self) -> &[u64] {
        &self.keys
    }
}

impl StringColumn {
    /// A batch's words' codes in the column's dictionary, each new one
    /// given its (empty) bitmap.
    fn intern(&mut self, words: &Dictionary) -> Vec<u32> {
        words
            .iter()
            .map(|w| {
                let (code, added) = self.dict.insert_full(w);
                if added {
                    self.bitmaps.push(RoaringBitmap::new());
                }
                code as u32
            })
            .collect()
    }

    /// The ids with a value.
    pub(crate) fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The dictionary of its words.
    pub(crate) fn dict(&self) -> &Dictionary {
        &self.dict
    }

    /// Each id's word code ([`NONE`] where absent), in id order.
    pub(crate) fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The ids holding each word, by code.
    pub(crate) fn bitmaps(&self) -> &[RoaringBitmap] {
        &self.bitmaps
    }
}

impl BoolColumn {
    /// The ids with a value.
    pub(crate) fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The ids whose value is `value`.
    pub(crate) fn with(&self, value: bool) -> &RoaringBitmap {
        if value {
            &self.trues
        } else {
            &self.falses
        }
    }

    /// `id`'s value, if it has one.
    pub(crate) fn value_of(&self, id: u32) -> Option<bool> {
        self.has.get(id).then(|| self.value.get(id))
    }
}

impl TagsColumn {
    /// The dictionary of its tags.
    pub(crate) fn dict(&self) -> &Dictionary {
        &self.dict
    }

    /// The ids with at least one tag.
    pub(crate) fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// `id`'s tag codes, sorted, if it has any.
    pub(crate) fn tags(&self, id: u32) -> Option<&[u32]> {
        self.rows.get(id as usize).and_then(|r| r.as_deref())
    }

    /// The ids holding each tag, by code.
    pub(crate) fn bitmaps(&self) -> &[RoaringBitmap] {
        &self.bitmaps
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Column {
    Numeric(NumericColumn),
    String(StringColumn),
    Bool(BoolColumn),
    Tags(TagsColumn),
}

impl Column {
    pub(crate) fn new(ty: FieldType, cfg: IndexConfig) -> Column {
        match ty {
            FieldType::Int | FieldType::Float | FieldType::Timestamp => Column::Numeric(NumericColumn {
                keys: Vec::new(),
                present: RoaringBitmap::new(),
                index: RangeIndex::new(cfg),
                stale: false,
            }),
            FieldType::String => Column::String(StringColumn {
                codes: Vec::new(),
                dict: Dictionary::new(),
                bitmaps: Vec::new(),
                present: RoaringBitmap::new(),
            }),
            FieldType::Bool => Column::Bool(BoolColumn {
                trues: RoaringBitmap::new(),
                falses: RoaringBitmap::new(),
                present: RoaringBitmap::new(),
                has: Bits::default(),
                value: Bits::default(),
            }),
            FieldType::Tags => Column::Tags(TagsColumn {
                rows: Vec::new(),
                dict: Dictionary::new(),
                bitmaps: Vec::new(),
                present: RoaringBitmap::new(),
            }),
        }
    }

    pub(crate) fn present(&self) -> &RoaringBitmap {
        match self {
            Column::Numeric(c) => &c.present,
            Column::String(c) => &c.present,
            Column::Bool(c) => &c.present,
            Column::Tags(c) => &c.present,
        }
    }

    /// Stores a batch's cells of this column's field, its row `r` being
    /// entity `ids[r]`; values replace what an entity had, and a `null`
    /// clears it with `upsert` (an insert's entities have nothing to clear).
    /// With `bulk`, a numeric column defers its index to
    /// [`Column::finish_bulk`]. Ids that come in ascending order past the
    /// column's (a load) are appended to the bitmaps, not searched for.
    pub(crate) fn apply(&mut self, ids: &[u32], cells: &FieldCells, bulk: bool, upsert: bool) {
        if upsert {
            for &r in &cells.nulls {
                self.clear(ids[r as usize]);
            }
        }
        if let Some(first) = fresh_run(ids) {
            if self.apply_fresh(first, cells, bulk) {
                return;
            }
        }
        let end = cells
            .rows
            .iter()
            .map(|&r| ids[r as usize] as usize + 1)
            .max()
            .unwrap_or(0);
        let rows = cells.rows.iter().map(|&r| ids[r as usize]);
        // Every id the cells give a value; each comes once in a call.
        let present = || -> Vec<u32> { rows.clone().collect() };
        match (self, &cells.values) {
            (Column::Numeric(c), Values::Num(keys)) => {
                if c.keys.len() < end {
                    c.keys.resize(end, 0);
                }
                let fresh = bulk || c.stale;
                if fresh {
                    add_ids(&mut c.present, &present());
                }
                for (id, &k) in rows.clone().zip(keys) {
                    let i = id as usize;
                    let old = std::mem::replace(&mut c.keys[i], k);
                    if fresh {
                        c.stale = true;
                    } else if c.present.contains(id) {
                        c.index.update(id, old, k, &c.keys, &c.present);
                    } else {
                        // The index reads presence: mark it before inserting.
                        c.present.insert(id);
                        c.index.insert(id, k, &c.keys, &c.present);
                    }
                }
            }
            (Column::String(c), Values::Str { codes, words }) => {
                if c.codes.len() < end {
                    c.codes.resize(end, NONE);
                }
                let global = c.intern(words);
                let mut adds = Vec::with_capacity(codes.len());
                for (id, &local) in rows.clone().zip(codes) {
                    let code = global[local as usize];
                    let old = std::mem::replace(&mut c.codes[id as usize], code);
                    if old != code {
                        if old != NONE {
                            c.bitmaps[old as usize].remove(id);
                        }
                        adds.push((code, id));
                    }
                }
                add_coded(&mut c.bitmaps, &adds);
                add_ids(&mut c.present, &present());
            }
            (Column::Bool(c), Values::Bool(values)) => {
                let (mut trues, mut falses) = (Vec::new(), Vec::new());
                for (id, &b) in rows.clone().zip(values) {
                    if b {
                        c.falses.remove(id);
                        trues.push(id);
                    } else {
                        c.trues.remove(id);
                        falses.push(id);
                    }
                    c.has.set(id, true);
                    c.value.set(id, b);
                }
                add_ids(&mut c.trues, &trues);
                add_ids(&mut c.falses, &falses);
                add_ids(&mut c.present, &present());
            }
            (Column::Tags(c), Values::Tags(values)) => {
                if c.rows.len() < end {
                    c.rows.resize(end, None);
                }
                let mut adds = Vec::new();
                for (id, tags) in rows.clone().zip(values) {
                    let i = id as usize;
                    if let Some(old) = c.rows[i].take() {
                        for &t in old.iter() {
                            c.bitmaps[t as usize].remove(id);
                        }
                    }
                    let mut codes = Vec::with_capacity(tags.len());
                    for t in tags.iter() {
                        let (code, added) = c.dict.insert_full(t);
                        if added {
                            c.bitmaps.push(RoaringBitmap::new());
                        }
                        adds.push((code as u32, id));
                        codes.push(code as u32);
                    }
                    c.rows[i] = Some(codes.into_boxed_slice());
                }
                add_coded(&mut c.bitmaps, &adds);
                add_ids(&mut c.present, &present());
            }
            // A batch's cells are made for their field's type.
            (col, _) => debug_assert!(false, "cells of another type for a {} column", col.kind_name()),
        }
    }

    /// [`Column::apply`] to rows whose ids are `first..` in turn and past
    /// every id the column holds a value of (a load's new entities): the
    /// values are appended, with nothing old to look up or take out of an
    /// index. False, and nothing done, where that does not hold or the
    /// column's kind has no such path.
    ///
    /// Presence is added as ids, never by `insert_range`: that makes run
    /// containers, and roaring 0.12's `Iter::next_many` (which the range
    /// index's build reads presence with) overflows on a run of a whole
    /// container, 65,536 ids: it panics in a debug build and yields none
    /// of them in a release one.
    fn apply_fresh(&mut self, first: u32, cells: &FieldCells, bulk: bool) -> bool {
        let start = first as usize;
        let Some(&last) = cells.rows.last() else {
            return false;
        };
        let end = start + last as usize + 1;
        // Rows ascend and come once: as many as the run is long, they are all of it.
        let whole = cells.rows.len() == last as usize + 1;
        // Ascending: `add_ids` makes them array and bitset containers.
        let ids = || -> Vec<u32> { cells.rows.iter().map(|&r| first + r).collect() };
        match (self, &cells.values) {
            (Column::Numeric(c), Values::Num(keys)) if c.keys.len() <= start && (bulk || c.stale) => {
                c.stale = true;
                c.keys.resize(start, 0);
                if whole {
                    c.keys.extend_from_slice(keys);
                } else {
                    c.keys.resize(end, 0);
                    for (&r, &k) in cells.rows.iter().zip(keys) {
                        c.keys[start + r as usize] = k;
                    }
                }
                add_ids(&mut c.present, &ids());
                true
            }
            (Column::String(c), Values::Str { codes, words }) if c.codes.len() <= start => {
                let global = c.intern(words);
                c.codes.resize(end, NONE);
                let mut adds = Vec::with_capacity(codes.len());
                for (&r, &local) in cells.rows.iter().zip(codes) {
                    let (id, code) = (first + r, global[local as usize]);
                    c.codes[id as usize] = code;
                    adds.push((code, id));
                }
                add_coded(&mut c.bitmaps, &adds);
                add_ids(&mut c.present, &ids());
                true
            }
            _ => false,
        }
    }

    /// Gives back room that growing left unused.
    pub(crate) fn shrink_to_fit(&mut self) {
        match self {
            Column::Numeric(c) => c.keys.shrink_to_fit(),
            Column::String(c) => c.codes.shrink_to_fit(),
            Column::Bool(c) => {
                c.has.0.shrink_to_fit();
                c.value.0.shrink_to_fit();
            }
            Column::Tags(c) => c.rows.shrink_to_fit(),
        }
    }

    /// Removes any value of `id`.
    pub(crate) fn clear(&mut self, id: u32) {
        let i = id as usize;
        match self {
            Column::Numeric(c) => {
                if c.present.remove(id) && !c.stale {
                    c.index.remove(id, c.keys[i]);
                }
            }
            Column::String(c) => {
                if c.present.remove(id) {
                    let old = std::mem::replace(&mut c.codes[i], NONE);
                    c.bitmaps[old as usize].remove(id);
                }
            }
            Column::Bool(c) => {
                c.present.remove(id);
                c.trues.remove(id);
                c.falses.remove(id);
                c.has.set(id, false);
                c.value.set(id, false);
            }
            Column::Tags(c) => {
                if c.present.remove(id) {
                    if let Some(old) = c.rows[i].take() {
                        for &t in old.iter() {
                            c.bitmaps[t as usize].remove(id);
                        }
                    }
                }
            }
        }
    }

    /// Makes room for ids below `ids` without the slack of doubling (a bulk
    /// load knows its size; doubling would leave up to half of a column unused).
    pub(crate) fn reserve_exact(&mut self, ids: usize) {
        match self {
            Column::Numeric(c) => c.keys.reserve_exact(ids.saturating_sub(c.keys.len())),
            Column::String(c) => c.codes.reserve_exact(ids.saturating_sub(c.codes.len())),
            Column::Bool(c) => {
                c.has.reserve_exact(ids);
                c.value.reserve_exact(ids);
            }
            Column::Tags(c) => c.rows.reserve_exact(ids.saturating_sub(c.rows.len())),
        }
    }

    /// Rebuilds what a bulk load deferred.
    pub(crate) fn finish_bulk(&mut self, cfg: IndexConfig) {
        if let Column::Numeric(c) = self {
            if c.stale {
                c.index = RangeIndex::build(cfg, &c.keys, &c.present);
                c.stale = false;
            }
        }
    }

    /// The value of `id`, decoded for a field of type `ty`.
    pub(crate) fn value(&self, id: u32, ty: FieldType) -> Value {
        if !self.present().contains(id) {
            return Value::Null;
        }
        let i = id as usize;
        match self {
            Column::Numeric(c) => {
                let k = c.keys[i];
                match ty {
                    FieldType::Int => Value::Int(key_to_int(k)),
                    FieldType::Float => Value::Float(key_to_float(k)),
                    _ => Value::Timestamp(Timestamp::from_micros(key_to_int(k))),
                }
            }
            Column::String(c) => Value::String(c.dict[c.codes[i] as usize].to_string()),
            Column::Bool(c) => Value::Bool(c.trues.contains(id)),
            Column::Tags(c) => Value::Tags(
                c.rows[i]
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .map(|&t| c.dict[t as usize].to_string())
                    .collect(),
            ),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Column::Numeric(_) => "numeric",
            Column::String(_) => "string",
            Column::Bool(_) => "bool",
            Column::Tags(_) => "tags",
        }
    }

    /// (column data, index) heap bytes, estimated.
    pub(crate) fn heap_bytes(&self) -> (usize, usize) {
        let bm = super::bitmap_heap;
        let dict = |d: &Dictionary| d.heap_bytes();
        match self {
            Column::Numeric(c) => (c.keys.capacity() * 8 + bm(&c.present), c.index.heap_bytes()),
            Column::String(c) => (
                c.codes.capacity() * 4 + bm(&c.present) + dict(&c.dict),
                c.bitmaps.capacity() * std::mem::size_of::<RoaringBitmap>() + c.bitmaps.iter().map(bm).sum::<usize>(),
            ),
            Column::Bool(c) => (
                bm(&c.present) + c.has.bytes() + c.value.bytes(),
                bm(&c.trues) + bm(&c.falses),
            ),
            Column::Tags(c) => (
                c.rows.capacity() * 16
                    + c.rows.iter().flatten().map(|r| r.len() * 4).sum::<usize>()
                    + bm(&c.present)
                    + dict(&c.dict),
                c.bitmaps.capacity() * std::mem::size_of::<RoaringBitmap>() + c.bitmaps.iter().map(bm).sum::<usize>(),
            ),
        }
    }
}

/// The next `n` fixed-size values of a snapshot, for ids in `present`.
fn fixed<'a>(
    d: &mut Dec<'a>,
    present: &RoaringBitmap,
    size: usize,
    what: &dyn Fn() -> String,
) -> Result<&'a [u8], SnapshotError> {
    let n = usize::try_from(present.len()).unwrap_or(usize::MAX);
    d.bytes(n.saturating_mul(size), what)
}

/// The first of `ids` if they are `first, first + 1, ...` in turn.
fn fresh_run(ids: &[u32]) -> Option<u32> {
    let (&first, &last) = (ids.first()?, ids.last()?);
    let contiguous =
        (last as usize).checked_sub(first as usize) == Some(ids.len() - 1) && ids.windows(2).all(|w| w[0] < w[1]);
    contiguous.then_some(first)
}

/// Room for ids up to the highest in `present`.
fn slots(present: &RoaringBitmap) -> usize {
    present.max().map_or(0, |m| m as usize + 1)
}

fn dict_encode(e: &mut Enc, dict: &Dictionary) {
    e.len(dict.len());
    for s in dict.iter() {
        e.str(s);
    }
}

fn dict_decode(d: &mut Dec, what: &dyn Fn() -> String) -> Result<Dictionary, SnapshotError> {
    let n = d.count(8, &|| format!("{}, dictionary size", what()))?;
    let mut dict = Dictionary::with_capacity(n);
    for i in 0..n {
        let at = d.offset();
        let s = d.str(&|| format!("{}, dictionary word {i}", what()))?;
        if !dict.insert_full(s).1 {
            return Err(d.invalid_at(at, what(), format!("dictionary word `{s}` appears twice")));
        }
    }
    Ok(dict)
}

impl Column {
    /// Writes the column for a snapshot: the present ids, then their values
    /// in id order (dictionary codes after the dictionary).
    pub(crate) fn encode(&self, e: &mut Enc) {
        e.bitmap(self.present());
        match self {
            Column::Numeric(c) => {
                e.buf.reserve(c.present.len() as usize * 8);
                for id in &c.present {
                    e.u64(c.keys[id as usize]);
                }
            }
            Column::String(c) => {
                dict_encode(e, &c.dict);
                e.buf.reserve(c.present.len() as usize * 4);
                for id in &c.present {
                    e.u32(c.codes[id as usize]);
                }
            }
            Column::Bool(c) => e.bitmap(&c.trues),
            Column::Tags(c) => {
                dict_encode(e, &c.dict);
                for id in &c.present {
                    let row = c.rows[id as usize].as_deref().unwrap_or(&[]);
                    e.len(row.len());
                    for &t in row {
                        e.u32(t);
                    }
                }
            }
        }
    }

    /// Reads what [`Column::encode`] wrote, for a field of type `ty` of a
    /// table whose live ids are `live`. A numeric column comes back with its
    /// index to build ([`Column::finish_bulk`]).
    pub(crate) fn decode(
        ty: FieldType,
        cfg: IndexConfig,
        live: &RoaringBitmap,
        d: &mut Dec,
        what: &dyn Fn() -> String,
    ) -> Result<Column, SnapshotError> {
        let at = d.offset();
        let present = d.bitmap(u64::from(u32::MAX) + 1, &|| format!("{}, present ids", what()))?;
        d.subset(at, &present, live, "live", &|| format!("{}, present ids", what()))?;
        let mut col = Column::new(ty, cfg);
        match &mut col {
            Column::Numeric(c) => {
                let at = d.offset();
                let raw = fixed(d, &present, 8, &|| format!("{}, values", what()))?;
                let mut keys = vec![0u64; slots(&present)];
                let float = ty == FieldType::Float;
                for (id, b) in present.iter().zip(raw.chunks_exact(8)) {
                    let mut k = [0u8; 8];
                    k.copy_from_slice(b);
                    let k = u64::from_le_bytes(k);
                    if float && !key_to_float(k).is_finite() {
                        return Err(d.invalid_at(
                            at,
                            what(),
                            format!("entity {id} holds a value that is not a finite number"),
                        ));
                    }
                    keys[id as usize] = k;
                }
                c.keys = keys;
                c.present = present;
                c.stale = true;
            }
            Column::String(c) => {
                c.dict = dict_decode(d, what)?;
                c.bitmaps = vec![RoaringBitmap::new(); c.dict.len()];
                let at = d.offset();
                let raw = fixed(d, &present, 4, &|| format!("{}, values", what()))?;
                c.codes = vec![NONE; slots(&present)];
                let mut pairs = Vec::with_capacity(present.len() as usize);
                for (id, b) in present.iter().zip(raw.chunks_exact(4)) {
                    let code = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if code as usize >= c.dict.len() {
                        return Err(d.invalid_at(
                            at,
                            what(),
                            format!("entity {id} holds word {code}, past the dictionary's end"),
                        ));
                    }
                    pairs.push((code, id));
                    c.codes[id as usize] = code;
                }
                add_coded(&mut c.bitmaps, &pairs);
                c.present = present;
            }
            Column::Bool(c) => {
                let at = d.offset();
                let trues = d.bitmap(u64::from(u32::MAX) + 1, &|| format!("{}, true ids", what()))?;
                d.subset(at, &trues, &present, "present", &|| format!("{}, true ids", what()))?;
                for id in &present {
                    c.has.set(id, true);
                    c.value.set(id, trues.contains(id));
                }
                c.falses = &present - &trues;
                c.trues = trues;
                c.present = present;
            }
            Column::Tags(c) => {
                c.dict = dict_decode(d, what)?;
                c.bitmaps = vec![RoaringBitmap::new(); c.dict.len()];
                c.rows = vec![None; slots(&present)];
                let mut pairs = Vec::new();
                for id in &present {
                    let at = d.offset();
                    let n = d.count(4, &|| format!("{}, entity {id}, tag count", what()))?;
                    let raw = d.bytes(n * 4, &|| format!("{}, entity {id}, tags", what()))?;
                    let codes: Vec<u32> = raw
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    let words: Option<Vec<&str>> = codes.iter().map(|&t| c.dict.get_index(t as usize)).collect();
                    let ok = match &words {
                        Some(w) => !w.is_empty() && w.windows(2).all(|p| p[0] < p[1]),
                        None => false,
                    };
                    if !ok {
                        return Err(d.invalid_at(
                            at,
                            what(),
                            format!("entity {id}: tags must be one or more dictionary words, sorted and distinct, found codes {codes:?}"),
                        ));
                    }
                    pairs.extend(codes.iter().map(|&t| (t, id)));
                    c.rows[id as usize] = Some(codes.into_boxed_slice());
                }
                add_coded(&mut c.bitmaps, &pairs);
                c.present = present;
            }
        }
        Ok(col)
    }
}
