//! The ids of everything an engine holds, in one low module that every
//! other module may import (and that imports none of them): entities,
//! fields, kinds, relations, segments and rules.
//!
//! Ids are plain numbers on purpose, and their tuple constructor is public:
//! they travel as numbers in every outside form (the `@segment` values of
//! a filter, the JSON of an [`Op`](crate::engine::Op), the change feed,
//! the bitmaps an evaluation returns), so a service must be able to turn a
//! stored number back into one. Building one names nothing by itself: an
//! id the engine did not hand out is refused by every call that takes it
//! ([`SegmentError::UnknownSegment`](crate::error::SegmentError::UnknownSegment),
//! `UnknownRule`, an unknown entity), so a fabricated id cannot break an
//! invariant.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The dense id of an entity within its kind.
///
/// Ids are handed out in order of first insertion. A key keeps its id for the
/// life of the table: deleting an entity drops the id from the live set, and
/// inserting the same key again brings the same id back. An id is never given
/// to another key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityId(pub u32);

/// The position of a field within its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FieldId(pub u32);

impl FieldId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// The position of a relation between kinds within its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RelationId(pub u32);

impl RelationId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// The position of a kind within its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KindId(pub u32);

/// The id of a segment, unique within an engine and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SegmentId(pub u64);

/// The id of a rule, unique within an engine and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleId(pub u64);

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "segment {}", self.0)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}", self.0)
    }
}
