//! The change feed: who entered or exited which segment, and why.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::{RuleId, SegmentId};
use crate::store::EntityId;
use crate::value::Timestamp;

/// Whether an entity entered or exited a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ChangeKind {
    /// It became a member.
    Entered,
    /// It stopped being a member.
    Exited,
}

/// Why membership changed.
///
/// For an entry, the first new link (manual first, then rules by id); for an
/// exit, the first link that went, unless the whole entity or segment went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Cause {
    /// A manual add or removal.
    Manual,
    /// A rule started or stopped matching (or was attached, edited or
    /// detached).
    Rule(RuleId),
    /// The entity was deleted.
    EntityDeleted,
    /// The segment was deleted.
    SegmentDeleted,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Manual => f.write_str("manual"),
            Cause::Rule(r) => r.fmt(f),
            Cause::EntityDeleted => f.write_str("entity deleted"),
            Cause::SegmentDeleted => f.write_str("segment deleted"),
        }
    }
}

/// One membership change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Change {
    /// The segment.
    pub segment: SegmentId,
    /// The entity (of the segment's kind).
    pub entity: EntityId,
    /// Entered or exited.
    pub kind: ChangeKind,
    /// Why.
    pub cause: Cause,
    /// When: the engine's clock at the call, or the `now` given to a refresh.
    pub at: Timestamp,
}

/// The entities of one segment that changed the same way for the same cause.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChangeGroup {
    /// The segment.
    pub segment: SegmentId,
    /// Entered or exited.
    pub kind: ChangeKind,
    /// Why.
    pub cause: Cause,
    /// The entities, never empty.
    pub entities: RoaringBitmap,
}

/// The membership changes one call caused.
///
/// Each (segment, entity) appears at most once: it is the net effect of the
/// call. The order is deterministic: by segment id, then entries before
/// exits, then by cause ([`Cause`]'s order), then by entity id. A call that
/// changes a million memberships returns a few bitmaps, not a million
/// values; [`Changes::iter`] expands them.
///
/// # Examples
///
/// ```
/// use segments::segment::{ChangeKind, Changes};
///
/// let none = Changes::default();
/// assert!(none.is_empty());
/// assert_eq!(none.iter().filter(|c| c.kind == ChangeKind::Entered).count(), 0);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    pub(crate) at: Timestamp,
    pub(crate) groups: Vec<ChangeGroup>,
}

impl Changes {
    pub(crate) fn new(at: Timestamp) -> Changes {
        Changes { at, groups: Vec::new() }
    }

    pub(crate) fn push(&mut self, segment: SegmentId, kind: ChangeKind, cause: Cause, entities: RoaringBitmap) {
        if !entities.is_empty() {
            self.groups.push(ChangeGroup {
                segment,
                kind,
                cause,
                entities,
            });
        }
    }

    /// Puts the groups in the documented order (each segment's own groups
    /// are pushed in order; segments may come in any).
    pub(crate) fn sort(&mut self) {
        self.groups.sort_by_key(|g| (g.segment, g.kind, g.cause));
    }

    /// When the changes happened.
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// The changes grouped by segment, kind and cause, in order.
    pub fn groups(&self) -> &[ChangeGroup] {
        &self.groups
    }

    /// The number of changes.
    pub fn len(&self) -> u64 {
        self.groups.iter().map(|g| g.entities.len()).sum()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every change, in order.
    pub fn iter(&self) -> impl Iterator<Item = Change> + '_ {
        self.groups.iter().flat_map(move |g| {
            g.entities.iter().map(move |id| Change {
                segment: g.segment,
                entity: EntityId(id),
                kind: g.kind,
                cause: g.cause,
                at: self.at,
            })
        })
    }

    /// The entities that changed `kind` in `segment`, whatever the cause.
    pub fn of(&self, segment: SegmentId, kind: ChangeKind) -> RoaringBitmap {
        self.groups
            .iter()
            .filter(|g| g.segment == segment && g.kind == kind)
            .map(|g| &g.entities)
            .fold(RoaringBitmap::new(), |acc, b| acc | b)
    }
}
