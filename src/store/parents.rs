//! The child → parent map of each relation between kinds: an index over
//! the child kind's relation field, owned by the [`Store`](super::Store)
//! and kept by its `reparent` and `orphan` as children and parents are
//! written (the engine calls them around each write), and read by
//! quantifiers over related entities.

use roaring::RoaringBitmap;

use super::{Column, Table, NONE};
use crate::schema::Relation;

/// Per relation, the parent id of each child id (`NONE` for none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parents {
    of: Vec<u32>,
}

impl Parents {
    /// The parents of every live child, from the tables.
    pub(crate) fn build(rel: &Relation, tables: &[Table]) -> Parents {
        let child = &tables[rel.child.0 as usize];
        let mut p = Parents::default();
        for id in child.live() {
            p.set(id, resolve(rel, tables, id));
        }
        p
    }

    /// The parent of `child`, if it has one.
    pub(crate) fn of(&self, child: u32) -> Option<u32> {
        self.of.get(child as usize).copied().filter(|&p| p != NONE)
    }

    /// Sets the parent of `child`; returns the previous one.
    pub(crate) fn set(&mut self, child: u32, parent: Option<u32>) -> Option<u32> {
        let i = child as usize;
        if self.of.len() <= i {
            parent?;
            self.of.resize(i + 1, NONE);
        }
        let old = std::mem::replace(&mut self.of[i], parent.unwrap_or(NONE));
        (old != NONE).then_some(old)
    }

    /// The parents of `children`.
    pub(crate) fn parents_of(&self, children: &RoaringBitmap) -> RoaringBitmap {
        if children.len() <= 64 {
            return children.iter().filter_map(|c| self.of(c)).collect();
        }
        // Parents come in no order: mark them in a bitset, then read it in
        // order, which costs a pass over the parent id space but no sort.
        let mut bits: Vec<u64> = Vec::new();
        for c in children {
            if let Some(p) = self.of(c) {
                let w = p as usize / 64;
                if bits.len() <= w {
                    bits.resize(w + 1, 0);
                }
                bits[w] |= 1 << (p % 64);
            }
        }
        from_bits(bits.iter().copied())
    }
}

/// The live parent that the live child `id`'s relation field names.
pub(crate) fn resolve(rel: &Relation, tables: &[Table], id: u32) -> Option<u32> {
    let child = &tables[rel.child.0 as usize];
    let Column::String(col) = child.column(rel.field) else {
        return None;
    };
    let code = *col.codes.get(id as usize)?;
    let key = col.dict.get_index(code as usize).filter(|_| code != NONE)?;
    tables[rel.parent.0 as usize].id(key).map(|p| p.0)
}

/// The live children of the live parent `id`: the child column's
/// dictionary bitmap of its key.
pub(crate) fn children<'t>(rel: &Relation, tables: &'t [Table], id: u32) -> Option<&'t RoaringBitmap> {
    let key = tables[rel.parent.0 as usize].key(super::EntityId(id))?;
    let Column::String(col) = tables[rel.child.0 as usize].column(rel.field) else {
        return None;
    };
    col.dict.get_index_of(key).map(|c| &col.bitmaps[c])
}

/// The ids whose bits are set in a bitset of 64-bit words (id `64w + b`
/// is bit `b` of word `w`), read in order.
pub(crate) fn from_bits(words: impl Iterator<Item = u64>) -> RoaringBitmap {
    let ids = words.enumerate().flat_map(|(w, mut word)| {
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = word.trailing_zeros();
                word &= word - 1;
                w as u32 * 64 + bit
            })
        })
    });
    RoaringBitmap::from_sorted_iter(ids).unwrap_or_default()
}
