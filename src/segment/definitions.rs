//! The history of segments' definitions: who changed which segment, when,
//! from what to what. The change log ([`super::log`]) keeps it whole,
//! beside the membership changes it trims.

use serde::{Deserialize, Serialize};

use crate::filter::Filter;
use crate::ids::{RuleId, SegmentId};
use crate::segment::{SegmentAccess, Settings, Visibility};
use crate::value::Timestamp;

/// A change to a segment's definition, as [`Log::definition_history`](crate::engine::Log::definition_history)
/// lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DefinitionChange {
    /// Its place in the engine's definition history, from 1 without gaps:
    /// the cursor of
    /// [`Log::definition_changes_since`](crate::engine::Log::definition_changes_since).
    pub seq: u64,
    /// When (the instant the call ran at).
    pub at: Timestamp,
    /// The id of the actor that made it.
    pub actor: String,
    /// The segment.
    pub segment: SegmentId,
    /// What changed.
    pub what: Edit,
}

/// What a [`DefinitionChange`] changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Edit {
    /// The segment was created.
    Created {
        /// Its name.
        name: String,
        /// Its defining filter.
        filter: Option<Filter>,
    },
    /// Renamed.
    Renamed {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Who sees it.
    Visibility {
        /// Before.
        from: Visibility,
        /// After.
        to: Visibility,
    },
    /// The defining filter.
    Filter {
        /// Before.
        from: Option<Filter>,
        /// After.
        to: Option<Filter>,
    },
    /// A rule attached.
    RuleAttached {
        /// The rule.
        rule: RuleId,
        /// Its filter.
        filter: Filter,
    },
    /// A rule's filter replaced.
    RuleEdited {
        /// The rule.
        rule: RuleId,
        /// Before.
        from: Filter,
        /// After.
        to: Filter,
    },
    /// A rule detached.
    RuleDetached {
        /// The rule.
        rule: RuleId,
        /// Its filter.
        filter: Filter,
    },
    /// Whom it is shared with.
    Access {
        /// Before.
        from: SegmentAccess,
        /// After.
        to: SegmentAccess,
    },
    /// Its settings replaced.
    Settings {
        /// Before.
        from: Settings,
        /// After.
        to: Settings,
    },
    /// The segment was deleted.
    Deleted,
}

impl Edit {
    /// Whether the edit makes a new version of the definition: every edit
    /// but the creation (version 1) and the deletion.
    pub(crate) fn is_revision(&self) -> bool {
        !matches!(self, Edit::Created { .. } | Edit::Deleted)
    }
}
