//! Who may do what, in words the errors use too: roles, visibilities and
//! the actions on segments. A low module (it imports none of the crate's
//! others), re-exported from [`segment`](crate::segment).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an actor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Manages every segment.
    Admin,
    /// Manages every segment.
    Leader,
    /// Manages only the segments it created, which are private to it.
    Member,
}

/// Who sees a segment in listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Visibility {
    /// Every actor.
    Public,
    /// Its owner only.
    Private,
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        })
    }
}

/// An action on segments, as named in [`SegmentError::Denied`](crate::SegmentError::Denied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Create a public segment.
    CreatePublic,
    /// See a segment.
    View,
    /// Rename a segment.
    Rename,
    /// Set, edit or remove a segment's defining filter.
    EditFilter,
    /// Change a segment's visibility.
    SetVisibility,
    /// Delete a segment.
    Delete,
    /// Move a segment in the listing order.
    Move,
    /// Reorder every segment.
    Reorder,
    /// Attach, edit or detach a rule.
    EditRules,
    /// Add or remove members by hand, or clear blocks.
    EditMembers,
    /// Set a segment's settings.
    EditSettings,
    /// Share a segment with editors and viewers.
    Share,
}

impl Action {
    /// The action's name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Action::CreatePublic => "create a public segment",
            Action::View => "view",
            Action::Rename => "rename",
            Action::EditFilter => "edit the filter of",
            Action::SetVisibility => "change the visibility of",
            Action::Delete => "delete",
            Action::Move => "move",
            Action::Reorder => "reorder the segments",
            Action::EditRules => "edit the rules of",
            Action::EditMembers => "edit the members of",
            Action::EditSettings => "edit the settings of",
            Action::Share => "share",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
