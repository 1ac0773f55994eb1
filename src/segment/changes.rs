//! The change feed: who entered or exited which segment, and why.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::{RuleId, SegmentId};
use crate::ids::EntityId;
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
pub struct ChangeGroup {
    segment: SegmentId,
    kind: ChangeKind,
    cause: Cause,
    entities: Ids,
}

/// One id without a bitmap: the write path of one entity emits one change
/// per segment, and a bitmap each would cost two allocations.
#[derive(Debug, Clone, PartialEq)]
enum Ids {
    One(u32),
    Many(RoaringBitmap),
}

impl ChangeGroup {
    /// The segment.
    pub fn segment(&self) -> SegmentId {
        self.segment
    }

    /// Entered or exited.
    pub fn kind(&self) -> ChangeKind {
        self.kind
    }

    /// Why.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// The number of entities, at least one.
    pub fn len(&self) -> u64 {
        match &self.entities {
            Ids::One(_) => 1,
            Ids::Many(b) => b.len(),
        }
    }

    /// Always false: a group has at least one entity.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The entities, by id.
    pub fn entities(&self) -> impl Iterator<Item = EntityId> + '_ {
        let (one, many) = match &self.entities {
            Ids::One(id) => (Some(*id), None),
            Ids::Many(b) => (None, Some(b.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten()).map(EntityId)
    }

    /// About how many bytes the group holds in memory.
    pub(crate) fn approx_bytes(&self) -> u64 {
        40 + match &self.entities {
            Ids::One(_) => 0,
            Ids::Many(b) => b.serialized_size() as u64,
        }
    }

    /// The entities as a bitmap.
    pub fn to_bitmap(&self) -> RoaringBitmap {
        match &self.entities {
            Ids::One(id) => RoaringBitmap::from_sorted_iter([*id]).unwrap_or_default(),
            Ids::Many(b) => b.clone(),
        }
    }
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
                entities: Ids::Many(entities),
            });
        }
    }

    pub(crate) fn push_one(&mut self, segment: SegmentId, kind: ChangeKind, cause: Cause, id: u32) {
        self.groups.push(ChangeGroup {
            segment,
            kind,
            cause,
            entities: Ids::One(id),
        });
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
        self.groups.iter().map(ChangeGroup::len).sum()
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every change, in order.
    pub fn iter(&self) -> impl Iterator<Item = Change> + '_ {
        self.groups.iter().flat_map(move |g| {
            g.entities().map(move |entity| Change {
                segment: g.segment,
                entity,
                kind: g.kind,
                cause: g.cause,
                at: self.at,
            })
        })
    }

    /// The entities that changed `kind` in `segment`, whatever the cause.
    pub fn of(&self, segment: SegmentId, kind: ChangeKind) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for g in self.groups.iter().filter(|g| g.segment == segment && g.kind == kind) {
            match &g.entities {
                Ids::One(id) => {
                    out.insert(*id);
                }
                Ids::Many(b) => out |= b,
            }
        }
        out
    }
}
