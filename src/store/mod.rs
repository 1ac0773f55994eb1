//! The columnar entity store: per kind, keys interned to dense ids, the
//! live-id bitmap, and one indexed column per field.

#[cfg(feature = "arrow")]
mod arrow;
mod batch;
mod column;
mod dictionary;
mod events;
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
pub(crate) use parents::{children, from_bits, resolve as resolve_parent, Parents};
pub use properties::{Properties, MAX_PROPERTIES, MAX_PROPERTY_NAME_BYTES, MAX_PROPERTY_STRING_BYTES};
pub(crate) use range_index::union_within;
pub use range_index::IndexConfig;
pub use row::Row;
pub(crate) use table::Written;
pub use table::{EntityId, MemoryUsage, Rejected, RejectedLine, Table, DEFAULT_MAX_LINE_BYTES};

use crate::error::SchemaError;
use crate::schema::Schema;

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
        Store { schema, tables }
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
    }

    fn index_of(&self, kind: &str) -> Result<usize, SchemaError> {
        self.schema
            .kind_id(kind)
            .map(|k| k.0 as usize)
            .ok_or_else(|| SchemaError::UnknownKind { kind: kind.to_string() })
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
    let allocations = (s.n_array_containers + s.n_run_containers + s.n_bitset_containers) as u64;
    let words = s.n_bytes_array_containers / 2 + s.n_bytes_run_containers + s.n_bitset_containers as u64 * 8192;
    (s.n_containers as u64 * 32 + words + allocations * 16) as usize
}

/// The threads to share work among: the machine's cores, at most eight.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

/// Adds `ids` to `bm`. Ids that ascend past the bitmap's highest (a load)
/// are appended in one pass; `RoaringBitmap::push` would look for the
/// maximum of a dense container on every call, and `insert` searches.
pub(crate) fn add_ids(bm: &mut RoaringBitmap, ids: &[u32]) {
    let Some(&first) = ids.first() else { return };
    if ids.len() < 16 {
        for &id in ids {
            bm.insert(id);
        }
        return;
    }
    let ascending = ids.windows(2).all(|w| w[0] < w[1]);
    if ascending && bm.max().map_or(true, |m| m < first) {
        // Cannot fail: checked above.
        let _ = bm.append(ids.iter().copied());
    } else {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if let Ok(more) = RoaringBitmap::from_sorted_iter(sorted) {
            *bm |= more;
        }
    }
}

/// Adds each id to the bitmap its code names: `pairs[i] = (code, id)`,
/// grouped by a counting sort so that each bitmap is appended to once.
pub(crate) fn add_coded(bitmaps: &mut [RoaringBitmap], pairs: &[(u32, u32)]) {
    if pairs.is_empty() {
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
