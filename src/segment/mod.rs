//! Segments: their ids and definitions, who may manage them, the sources
//! that link entities into them, and the change feed.
//!
//! The [`Engine`](crate::Engine) owns segments and keeps their membership
//! current; this module holds the vocabulary it speaks.
//!
//! # The membership model
//!
//! An entity is a member of a segment while at least one **link** holds it
//! there. A link has a [`Source`]: a rule (the segment's defining filter or
//! another rule attached to it) or a manual add.
//!
//! - A rule links the live entities that match it and unlinks those that stop
//!   matching.
//! - A manual add links an entity manually. No rule removes that link.
//! - A manual removal drops every link of the entity, manual or not, and
//!   **blocks** every rule attached to the segment at that moment from
//!   linking it again. A rule attached later is not blocked. Blocks last until
//!   they are cleared (or the rule, the segment or the entity is deleted).
//!   A manual add does not clear blocks: the entity is then a member through
//!   its manual link only.
//! - Deleting an entity drops its links and blocks everywhere.
//!
//! Every call that changes membership returns [`Changes`]: one
//! [`Change`] per entity that entered or exited a segment, with its
//! [`Cause`]. A link that comes or goes without changing membership (a
//! second rule matching a member, say) is not reported.

pub(crate) mod book;
mod changes;
pub(crate) mod log;
mod membership;
mod settings;
mod suggest;

pub use changes::{Cause, Change, ChangeGroup, ChangeKind, Changes};
pub use log::{Retention, Trigger, Unacked};
pub use settings::{Settings, MAX_SETTINGS_BYTES, MAX_SETTINGS_DEPTH, MAX_SETTING_KEY_BYTES};
pub use suggest::{SuggestSpec, Suggestion};

use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::access::{Action, Role, Visibility};
pub use crate::ids::{RuleId, SegmentId};

use crate::filter::Filter;
use crate::value::Timestamp;

/// What links an entity into a segment.
///
/// Ordered manual first, then rules by id: the order in which causes are
/// reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Added by hand.
    Manual,
    /// Matched by a rule.
    Rule(RuleId),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Manual => f.write_str("manual"),
            Source::Rule(r) => r.fmt(f),
        }
    }
}

/// Who asks: a user of the host service, with a role.
///
/// # Examples
///
/// ```
/// use segments::segment::{Actor, Role};
///
/// let ana = Actor::new("ana", Role::Member);
/// assert!(!ana.manages_all());
/// assert!(Actor::new("lee", Role::Leader).manages_all());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The host's id for the user; owners of segments are recorded by it.
    pub id: String,
    /// What the user may do.
    pub role: Role,
}

impl Actor {
    /// An actor.
    pub fn new(id: impl Into<String>, role: Role) -> Actor {
        Actor { id: id.into(), role }
    }

    /// Whether the actor manages every segment (admins and leaders).
    pub fn manages_all(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Leader)
    }

    /// Whether the actor may see `segment`: its definition, its members,
    /// and what any filter reads of it. Public segments are seen by every
    /// actor; a private one by its owner, admins and leaders.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, NewSegment, Role, Visibility};
    /// use segments::{Engine, FieldType, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let mo = Actor::new("mo", Role::Member);
    /// let (mine, _) = engine.create_segment(&mo,
    ///     NewSegment::new("Mine", "account").visibility(Visibility::Private))?;
    /// let info = engine.segment(mine)?;
    /// assert!(mo.may_view(info));
    /// assert!(Actor::new("ada", Role::Admin).may_view(info));
    /// assert!(!Actor::new("mia", Role::Member).may_view(info));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn may_view(&self, segment: &SegmentInfo) -> bool {
        segment.visibility == Visibility::Public || segment.owner == self.id || self.manages_all()
    }
}

/// A segment's definition, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SegmentInfo {
    /// Its id.
    pub id: SegmentId,
    /// Its name, trimmed; unique within its visibility scope: among the
    /// public segments for a public one, among its owner's private segments
    /// for a private one.
    pub name: String,
    /// The kind of entity it holds.
    pub kind: String,
    /// Who sees it.
    pub visibility: Visibility,
    /// The id of the actor that created it.
    pub owner: String,
    /// The rule of its defining filter, if it has one.
    pub filter_rule: Option<RuleId>,
    /// Every rule that feeds it, the defining one included, by id.
    pub rules: Vec<RuleId>,
    /// When it was created (the engine's clock).
    pub created: Timestamp,
    /// When its definition last changed: name, visibility, filter, rules
    /// or settings.
    pub updated: Timestamp,
    /// The version of its definition: 1 when created, one more at each
    /// change of name, visibility, filter, rules or settings (each entry
    /// of its [`definition_history`](crate::Engine::definition_history)).
    /// [`Engine::set_settings_if`](crate::Engine::set_settings_if) writes
    /// only over the version the caller read.
    pub version: u64,
    /// Its settings: the service's, kept with it.
    pub settings: Settings,
}

/// A rule, as attached to a segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RuleInfo {
    /// Its id.
    pub id: RuleId,
    /// The segment it feeds.
    pub segment: SegmentId,
    /// Its filter, as given.
    pub filter: Filter,
    /// Whether it reads the time (`withinLast` and friends), so that
    /// [`Engine::refresh`](crate::Engine::refresh) re-evaluates it.
    pub time_relative: bool,
}

/// A new segment: a name, a kind, and optionally a defining filter and a
/// visibility (public unless set).
///
/// # Examples
///
/// ```
/// use segments::filter::field;
/// use segments::segment::{NewSegment, Visibility};
/// use segments::Filter;
///
/// let spec = NewSegment::new("At risk", "account")
///     .filter(Filter::and([field("health").lt(30)]))
///     .visibility(Visibility::Private);
/// assert_eq!(spec.name, "At risk");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewSegment {
    /// The name; trimmed when saved.
    pub name: String,
    /// The entity kind.
    pub kind: String,
    /// The defining filter, if any.
    pub filter: Option<Filter>,
    /// Public unless set.
    pub visibility: Visibility,
    /// Its settings, none unless set.
    pub settings: Settings,
}

impl NewSegment {
    /// A public segment without a filter (members come from rules attached
    /// later and manual adds).
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> NewSegment {
        NewSegment {
            name: name.into(),
            kind: kind.into(),
            filter: None,
            visibility: Visibility::Public,
            settings: Settings::new(),
        }
    }

    /// Sets the defining filter.
    #[must_use]
    pub fn filter(mut self, filter: Filter) -> NewSegment {
        self.filter = Some(filter);
        self
    }

    /// Sets the visibility.
    #[must_use]
    pub fn visibility(mut self, visibility: Visibility) -> NewSegment {
        self.visibility = visibility;
        self
    }

    /// Sets its settings.
    #[must_use]
    pub fn settings(mut self, settings: Settings) -> NewSegment {
        self.settings = settings;
        self
    }
}
