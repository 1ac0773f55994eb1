//! The columnar entity store: per kind, keys interned to dense ids, the
//! live-id bitmap, and one indexed column per field.

#[cfg(feature = "arrow")]
mod arrow;
mod batch;
mod column;
mod dictionary;
mod events;
mod flat_json;
mod grams;
mod history;
mod json;
mod parents;
mod properties;
mod range_index;
mod row;
mod table;

use roaring::RoaringBitmap;

pub(crate) use column::{BoolColumn, Column, NumericColumn, StringColumn, TagsColumn, NONE};
pub(crate) use dictionary::{Build, Dictionary, Find};
pub(crate) use events::{EventLog, PVal, PropSet};
pub(crate) use history::{History, Sample};
pub(crate) use json::lines;
pub(crate) use parents::{children, from_bits, resolve as resolve_parent, Parents};
pub use properties::{Properties, MAX_PROPERTIES, MAX_PROPERTY_NAME_BYTES, MAX_PROPERTY_STRING_BYTES};
pub(crate) use range_index::union_within;
pub use range_index::IndexConfig;
pub use row::Row;
pub(crate) use table::Written;
pub use table::{EntityId, MemoryUsage, Rejected, RejectedLine, Table, DEFAULT_MAX_LINE_BYTES};

use crate::error::SchemaError;
use crate::schema::{FieldId, Schema};

/// Every kind's [`Table`], by kind name.
///
/// # Examples
///
/// ```
/// use segments::{FieldType, Row, Schema, Store};
///
/// let schema = Schema::builder()
///     .kind("account", [("health", FieldType::Float)])
///     .kind("user", [("email", FieldType::String)])
///     .build()?;
/// let mut store = Store::new(schema);
/// store.table_mut("user")?.insert("u-1", Row::new().set("email", "a@example.com"))?;
/// assert_eq!(store.table("user")?.len(), 1);
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    schema: Schema,
    tables: Vec<Table>,
    /// Per relation of the schema, each child's parent: kept current by
    /// [`Store::reparent`] and [`Store::orphan`], which the engine calls
    /// around each of its writes, and rebuilt whole by
    /// [`Store::rebuild_parents`]. Read by the engine only: an engine's
    /// store is reached from outside as `&Store`, so a write through
    /// [`Store::table_mut`] reaches only a store of one's own, whose
    /// parents nothing reads.
    parents: Vec<Parents>,
}

impl Store {
    /// An empty store with the default [`IndexConfig`].
    pub fn new(schema: Schema) -> Store {
        Store::with_config(schema, IndexConfig::default())
    }

    /// An empty store with the given index granularity.
    pub fn with_config(schema: Schema, cfg: IndexConfig) -> Store {
        let tables = schema
            .kind_arcs()
            .iter()
            .map(|k| Table::with_config(k.clone(), cfg))
            .collect();
        let parents = vec![Parents::default(); schema.relations().len()];
        Store {
            schema,
            tables,
            parents,
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// A kind's table.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownKind`].
    pub fn table(&self, kind: &str) -> Result<&Table, SchemaError> {
        let i = self.index_of(kind)?;
        Ok(&self.tables[i])
    }

    /// A kind's table, to write to.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownKind`].
    pub fn table_mut(&mut self, kind: &str) -> Result<&mut Table, SchemaError> {
        let i = self.index_of(kind)?;
        Ok(&mut self.tables[i])
    }

    pub(crate) fn tables(&self) -> &[Table] {
        &self.tables
    }

    pub(crate) fn tables_mut(&mut self) -> &mut [Table] {
        &mut self.tables
    }

    /// Takes `schema`: the same kinds, one of which gained or lost a field,
    /// or more relations.
    pub(crate) fn reshape(&mut self, schema: Schema) {
        for (t, k) in self.tables.iter_mut().zip(schema.kind_arcs()) {
            if !std::sync::Arc::ptr_eq(t.schema(), k) {
                t.reshape(k.clone());
            }
        }
        self.schema = schema;
        // A relation added: its parents, from the tables as they are.
        for rel in &self.schema.relations()[self.parents.len()..] {
            self.parents.push(Parents::build(rel, &self.tables));
        }
    }

    /// Per relation of the schema, each child's parent.
    pub(crate) fn parents(&self) -> &[Parents] {
        &self.parents
    }

    /// Builds every relation's parents again from the tables (a restore).
    pub(crate) fn rebuild_parents(&mut self) {
        self.parents = self
            .schema
            .relations()
            .iter()
            .map(|rel| Parents::build(rel, &self.tables))
            .collect();
    }

    /// After a write to kind `k`: sets the parents of the children written
    /// (`ids`, for relations whose field is among `fields` or all when
    /// `born` is non-empty) and of the children of parents born. Returns, per
    /// relation, the parents that written children left.
    pub(crate) fn reparent(&mut self, k: usize, ids: &[u32], fields: &[FieldId], born: &[u32]) -> Vec<RoaringBitmap> {
        let mut left = vec![RoaringBitmap::new(); self.parents.len()];
        let tables = &self.tables;
        let relations = self.schema.relations();
        for ((rel, parents), left) in relations.iter().zip(&mut self.parents).zip(&mut left) {
            if rel.child.0 as usize == k && (!born.is_empty() || fields.contains(&rel.field)) {
                for &id in ids {
                    let now = resolve_parent(rel, tables, id);
                    if let Some(old) = parents.set(id, now) {
                        if Some(old) != now {
                            left.insert(old);
                        }
                    }
                }
            }
            if rel.parent.0 as usize == k {
                // Born parents adopt the children that already named them.
                for &p in born {
                    for c in children(rel, tables, p).into_iter().flatten() {
                        parents.set(c, Some(p));
                    }
                }
            }
        }
        left
    }

    /// Before deleting entity `id` of kind `k`: it leaves its parents, and
    /// its children lose it. Returns, per relation, the parent it left.
    pub(crate) fn orphan(&mut self, k: usize, id: u32) -> Vec<RoaringBitmap> {
        let mut left = vec![RoaringBitmap::new(); self.parents.len()];
        let tables = &self.tables;
        let relations = self.schema.relations();
        for ((rel, parents), left) in relations.iter().zip(&mut self.parents).zip(&mut left) {
            if rel.child.0 as usize == k {
                if let Some(old) = parents.set(id, None) {
                    left.insert(old);
                }
            }
            if rel.parent.0 as usize == k {
                // Still live here: its children are those naming its key.
                for c in children(rel, tables, id).into_iter().flatten() {
                    parents.set(c, None);
                }
            }
        }
        left
    }

    fn index_of(&self, kind: &str) -> Result<usize, SchemaError> {
        self.schema
            .kind_id(kind)
            .map(|k| k.0 as usize)
            .ok_or_else(|| SchemaError::UnknownKind(crate::error::UnknownKind::new(kind)))
    }
}

/// The heap a bitmap holds, estimated from its containers: its vector of
/// containers (about 32 bytes each), each container's own allocation (an
/// array's or run's values, a bitset's 8 KiB) with the allocator's
/// overhead. The serialized size understates it several times for the
/// one-id bitmaps of a column of distinct words.
///
/// Not roaring's byte counts as they are: its statistics count an array's
/// capacity at four bytes a value (they are `u16`s) and a bitset at its
/// 65,536 bits as bytes, eight times its 8 KiB.
pub(crate) fn bitmap_heap(b: &RoaringBitmap) -> usize {
    let s = b.statistics();
    if s.n_containers == 0 {
        return 0;
    }
    // The containers' vector (one allocation) and each container's store
    // (another), each with the allocator's 16 bytes of overhead; array
    // stores' bytes as the statistics count them, bitsets' 8 KiB.
    let allocations = 1 + (s.n_array_containers + s.n_run_containers + s.n_bitset_containers) as u64;
    let bytes = s.n_bytes_array_containers + s.n_bytes_run_containers + s.n_bitset_containers as u64 * 8192;
    (s.n_containers as u64 * 32 + bytes + allocations * 16) as usize
}

/// The threads to share work among: the machine's cores, at most eight.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

/// Runs `f` on each item on `threads` threads (this one among them),
/// each taking the next item left: pieces of uneven work (columns, of
/// which only some have indexes to build) are shared evenly, which fixed
/// shares are not.
pub(crate) fn by_turns<I>(items: I, threads: usize, f: impl Fn(I::Item) + Sync)
where
    I: Iterator + Send,
    I::Item: Send,
{
    let left = std::sync::Mutex::new(items);
    let next = || left.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next();
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| {
                while let Some(item) = next() {
                    f(item);
                }
            });
        }
        while let Some(item) = next() {
            f(item);
        }
    });
}

/// Adds `ids` to `bm`. Ids that ascend past the bitmap's highest (a load)
/// are appended in one pass; `RoaringBitmap::push` would look for the
/// maximum of a dense container on every call, and `insert` searches.
pub(crate) fn add_ids(bm: &mut RoaringBitmap, ids: &[u32]) {
    let Some(&first) = ids.first() else { return };
    if bm.is_empty() {
        // Made at its size: a bitmap built by inserting holds room for
        // four containers and four ids a container, 192 bytes of heap for
        // one id against 66 (a column of distinct values has a bitmap a
        // value).
        *bm = sorted_bitmap(&ascending(ids), &mut Vec::new());
        return;
    }
    if ids.len() < 16 {
        for &id in ids {
            bm.insert(id);
        }
        return;
    }
    let rising = ids.windows(2).all(|w| w[0] < w[1]);
    if rising && bm.max().map_or(true, |m| m < first) {
        if ids.len() >= 1024 {
            // Containers made at their size, then moved in (the one they
            // may share with `bm` merged).
            *bm |= sorted_bitmap(ids, &mut Vec::new());
        } else {
            // Cannot fail: checked above.
            let _ = bm.append(ids.iter().copied());
        }
    } else if let Ok(more) = RoaringBitmap::from_sorted_iter(ascending(ids).iter().copied()) {
        *bm |= more;
    }
}

/// `ids` in ascending order, each once: as they are if they are so
/// already, else a sorted copy.
fn ascending(ids: &[u32]) -> std::borrow::Cow<'_, [u32]> {
    if ids.windows(2).all(|w| w[0] < w[1]) {
        return std::borrow::Cow::Borrowed(ids);
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    std::borrow::Cow::Owned(sorted)
}

/// A bitmap of `ids`, which ascend, each container allocated once at its
/// size. `RoaringBitmap::append` pushes an id at a time into containers
/// that grow by doubling: for the range index's buckets, a few dozen ids a
/// container in each of thousands of buckets, that is mostly reallocation.
/// This writes the containers through [`Containers`] (`buf` is its
/// scratch). Ids that do not ascend are collected the slow way, so the set
/// is right for any input.
pub(crate) fn sorted_bitmap(ids: &[u32], buf: &mut Vec<u8>) -> RoaringBitmap {
    if !ids.windows(2).all(|w| w[0] < w[1]) {
        return ids.iter().copied().collect();
    }
    // At most two bytes an id: a bitset container holds over 4,096.
    buf.clear();
    buf.reserve(2 * ids.len());
    let mut out = Containers::new(buf);
    let mut s = 0;
    while s < ids.len() {
        let key = ids[s] >> 16;
        let e = s + ids[s..].partition_point(|&id| id >> 16 == key);
        let these = &ids[s..e];
        if these.len() > Containers::ARRAY_MAX {
            let mut words = [0u64; 1024];
            for &id in these {
                words[(id as u16 >> 6) as usize] |= 1 << (id & 63);
            }
            out.bitset(key as u16, &words, these.len());
        } else {
            out.array(key as u16, these.iter().map(|&id| id as u16));
        }
        s = e;
    }
    out.finish().unwrap_or_else(|| ids.iter().copied().collect())
}

/// A bitmap written container by container, in ascending keys, as
/// roaring's portable serialized form (the one every roaring
/// implementation reads) and read back, which allocates each container
/// once at its size.
pub(crate) struct Containers<'a> {
    /// Each container's key and cardinality.
    heads: Vec<(u16, usize)>,
    /// Their values, one after another, as the format has them: a
    /// scratch buffer the caller keeps for its room.
    data: &'a mut Vec<u8>,
}

impl<'a> Containers<'a> {
    /// A container past this many values is a bitset in the format.
    pub(crate) const ARRAY_MAX: usize = 4096;

    /// Writes the containers' values into `buf`, a scratch buffer (its
    /// contents are dropped, its room kept).
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Containers<'a> {
        buf.clear();
        Containers {
            heads: Vec::new(),
            data: buf,
        }
    }

    /// A container of at most [`Self::ARRAY_MAX`] ascending values, its
    /// key above every key written before; an empty one is skipped.
    pub(crate) fn array(&mut self, key: u16, values: impl ExactSizeIterator<Item = u16>) {
        let at = self.data.len();
        let n = values.len();
        if n == 0 {
            return;
        }
        self.data.resize(at + 2 * n, 0);
        for (d, v) in self.data[at..].chunks_exact_mut(2).zip(values) {
            d.copy_from_slice(&v.to_le_bytes());
        }
        self.heads.push((key, n));
    }

    /// A container of the values whose bits `words` set (1,024 words, 64
    /// values each), its key above every key written before; an empty one
    /// is skipped. Meant for sparse containers: the words that hold a
    /// value are found in a pass with no branch, and each is read two
    /// values at a time whatever it holds (in a container of a few hundred
    /// values, few words hold more), with no popcount (not in the baseline
    /// x86-64 target, and slow without it).
    pub(crate) fn words(&mut self, key: u16, words: &[u64; 1024]) {
        let mut nonzero = [0u64; 16];
        for (m, chunk) in nonzero.iter_mut().zip(words.chunks_exact(64)) {
            *m = chunk
                .iter()
                .enumerate()
                .fold(0, |m, (j, &w)| m | u64::from(w != 0) << j);
        }
        // `k` counts the values so far; a write past a word's last value
        // is overwritten by the next one. A word starts at `k` of at most
        // `ARRAY_MAX` and adds at most 64.
        let mut vals = [0u16; Self::ARRAY_MAX + 64];
        let mut k = 0;
        'words: for (s, &summary) in nonzero.iter().enumerate() {
            let mut m = summary;
            while m != 0 {
                if k > Self::ARRAY_MAX {
                    break 'words;
                }
                let i = s * 64 + m.trailing_zeros() as usize;
                m &= m - 1;
                let base = (i as u32) << 6;
                // Not zero: a value for sure, and mostly no other.
                let mut x = words[i];
                vals[k] = (base + x.trailing_zeros()) as u16;
                k += 1;
                x &= x.wrapping_sub(1);
                vals[k] = (base + x.trailing_zeros()) as u16;
                k += usize::from(x != 0);
                x &= x.wrapping_sub(1);
                while x != 0 {
                    vals[k] = (base + x.trailing_zeros()) as u16;
                    k += 1;
                    x &= x - 1;
                }
            }
        }
        if k > Self::ARRAY_MAX {
            let len = words.iter().map(|w| w.count_ones() as usize).sum();
            self.bitset(key, words, len);
        } else {
            self.array(key, vals[..k].iter().copied());
        }
    }

    /// A container of more than [`Self::ARRAY_MAX`] values, `len` of
    /// them, as 1,024 words of bits; its key above every key written before.
    pub(crate) fn bitset(&mut self, key: u16, words: &[u64; 1024], len: usize) {
        let at = self.data.len();
        self.data.resize(at + 8192, 0);
        for (d, w) in self.data[at..].chunks_exact_mut(8).zip(words) {
            d.copy_from_slice(&w.to_le_bytes());
        }
        self.heads.push((key, len));
    }

    /// The bitmap; `None` if roaring refused the form (it cannot, for
    /// containers written as documented).
    pub(crate) fn finish(self) -> Option<RoaringBitmap> {
        let Containers { heads, data } = self;
        let size = 8 + 8 * heads.len();
        let mut header = Vec::with_capacity(size);
        // Cookie 12346: no run containers, offsets present.
        header.extend_from_slice(&12346u32.to_le_bytes());
        header.extend_from_slice(&(heads.len() as u32).to_le_bytes());
        for &(key, n) in &heads {
            header.extend_from_slice(&key.to_le_bytes());
            header.extend_from_slice(&((n - 1) as u16).to_le_bytes());
        }
        let mut offset = size;
        for &(_, n) in &heads {
            header.extend_from_slice(&(offset as u32).to_le_bytes());
            offset += if n > Self::ARRAY_MAX { 8192 } else { 2 * n };
        }
        // The values are read where they were written, after the header.
        RoaringBitmap::deserialize_unchecked_from(std::io::Read::chain(&header[..], &data[..])).ok()
    }
}

/// Adds each id to the bitmap its code names: `pairs[i] = (code, id)`,
/// grouped by a counting sort so that each bitmap is appended to once.
pub(crate) fn add_coded(bitmaps: &mut [RoaringBitmap], pairs: &[(u32, u32)]) {
    if pairs.is_empty() {
        return;
    }
    if pairs.len() < bitmaps.len() / 8 {
        // Few pairs among many codes (a write of a few rows to a column of
        // many distinct values): sorted, in time of the pairs alone, not
        // of the codes.
        let mut sorted = pairs.to_vec();
        sorted.sort_unstable();
        let mut ids = Vec::new();
        for (i, &(code, id)) in sorted.iter().enumerate() {
            ids.push(id);
            if sorted.get(i + 1).map_or(true, |next| next.0 != code) {
                add_ids(&mut bitmaps[code as usize], &ids);
                ids.clear();
            }
        }
        return;
    }
    let mut start = vec![0usize; bitmaps.len() + 1];
    for &(c, _) in pairs {
        start[c as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut at = start.clone();
    let mut grouped = vec![0u32; pairs.len()];
    for &(c, id) in pairs {
        grouped[at[c as usize]] = id;
        at[c as usize] += 1;
    }
    for (c, bm) in bitmaps.iter_mut().enumerate() {
        add_ids(bm, &grouped[start[c]..start[c + 1]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The lines and their starts, as `split` has them, for any bytes.
        #[test]
        fn lines_are_split_at_newlines(bytes in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), any::<u8>()], 0..64)) {
            let want: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            let got: Vec<(usize, &[u8])> = lines(&bytes).collect();
            prop_assert_eq!(got.iter().map(|&(_, l)| l).collect::<Vec<_>>(), want);
            for &(at, l) in &got {
                prop_assert_eq!(&bytes[at..at + l.len()], l);
            }
        }

        /// Dense and sparse containers, ids near the top of the range, and
        /// input out of order or repeated: the same set as roaring's own.
        #[test]
        fn sorted_bitmap_is_the_set_of_its_ids(
            mut ids in proptest::collection::vec(
                prop_oneof![0u32..200_000, (0u32..8).prop_map(|i| u32::MAX - i)], 0..12_000),
            dense in 0u32..3,
            sort in any::<bool>(),
        ) {
            // A container with more than 4,096 ids is a bitset in the format.
            ids.extend((0..5_000 * dense).map(|i| (1 << 17) + i * 3));
            if sort {
                ids.sort_unstable();
                ids.dedup();
            }
            let want: RoaringBitmap = ids.iter().copied().collect();
            let got = sorted_bitmap(&ids, &mut Vec::new());
            prop_assert_eq!(got.len(), want.len());
            prop_assert!(got.iter().eq(want.iter()));
            prop_assert_eq!(got.serialized_size(), want.serialized_size());
        }

        /// Both paths of `add_coded` (few pairs among many codes, and many)
        /// add exactly each pair's id to its code's bitmap.
        #[test]
        fn add_coded_adds_each_id_to_its_code(
            codes in 1usize..200,
            pairs in proptest::collection::vec((0u32..200, 0u32..100_000), 0..300),
        ) {
            let pairs: Vec<(u32, u32)> = pairs.into_iter().map(|(c, id)| (c % codes as u32, id)).collect();
            let mut got = vec![RoaringBitmap::new(); codes];
            add_coded(&mut got, &pairs);
            let mut want = vec![RoaringBitmap::new(); codes];
            for &(c, id) in &pairs {
                want[c as usize].insert(id);
            }
            prop_assert_eq!(got, want);
        }
    }
}
