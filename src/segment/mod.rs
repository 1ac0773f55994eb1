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
mod definitions;
pub(crate) mod log;
mod membership;
mod settings;
mod suggest;

pub use changes::{Cause, Change, ChangeGroup, ChangeKind, Changes};
pub use definitions::{DefinitionChange, Edit};
pub use log::{Retention, Trigger, Unacked};
pub use settings::{Settings, MAX_SETTINGS_BYTES, MAX_SETTINGS_DEPTH, MAX_SETTING_KEY_BYTES};
pub use suggest::{SuggestSpec, Suggestion, SuggestionKind};

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

/// Who asks: a user of the host service, with a role and the teams it is
/// in.
///
/// The host is the directory: it says, on every call, who the user is,
/// what role it has and which teams it belongs to, and the engine checks
/// each call against that (a journaled op records the actor as the check
/// saw it, so a replay decides the same). Segments are shared with actors
/// and teams by [`Engine::set_access`](crate::Engine::set_access).
///
/// Its JSON form is `{"id": "kim", "role": "member", "teams": ["emea"]}`,
/// `teams` left out when there are none.
///
/// # Examples
///
/// ```
/// use segments::segment::{Actor, Role};
///
/// let ana = Actor::new("ana", Role::Member).in_teams(["emea", "enterprise"]);
/// assert!(!ana.manages_all());
/// assert!(ana.in_team("emea"));
/// assert!(Actor::new("lee", Role::Leader).manages_all());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The host's id for the user; owners of segments are recorded by it.
    pub id: String,
    /// What the user may do.
    pub role: Role,
    /// The teams it is in, by the host's names for them.
    pub teams: Vec<String>,
}

impl Actor {
    /// An actor in no team.
    pub fn new(id: impl Into<String>, role: Role) -> Actor {
        Actor {
            id: id.into(),
            role,
            teams: Vec::new(),
        }
    }

    /// The actor, in these teams as well.
    #[must_use]
    pub fn in_teams<T: Into<String>>(mut self, teams: impl IntoIterator<Item = T>) -> Actor {
        self.teams.extend(teams.into_iter().map(Into::into));
        self
    }

    /// Whether the actor is in `team`.
    pub fn in_team(&self, team: &str) -> bool {
        self.teams.iter().any(|t| t == team)
    }

    /// Whether the actor manages every segment (admins and leaders).
    pub fn manages_all(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Leader)
    }

    /// Whether a grant names the actor, or a team it is in.
    pub fn is(&self, grantee: &Grantee) -> bool {
        match grantee {
            Grantee::Actor(id) => *id == self.id,
            Grantee::Team(t) => self.in_team(t),
        }
    }

    /// Whether the actor may see `segment`: its definition, its members,
    /// and what any filter reads of it. Public segments are seen by every
    /// actor; a private one by its owner, admins and leaders, and the
    /// actors and teams it is shared with (as viewers or editors).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, Grantee, NewSegment, Role, SegmentAccess, Visibility};
    /// use segments::{Engine, FieldType, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let mo = Actor::new("mo", Role::Member);
    /// let (mine, _) = engine.create_segment(&mo,
    ///     NewSegment::new("Mine", "account").visibility(Visibility::Private))?;
    /// let mia = Actor::new("mia", Role::Member).in_teams(["emea"]);
    /// assert!(mo.may_view(engine.segments().get(mine)?));
    /// assert!(Actor::new("ada", Role::Admin).may_view(engine.segments().get(mine)?));
    /// assert!(!mia.may_view(engine.segments().get(mine)?));
    ///
    /// engine.set_access(&mo, mine, SegmentAccess::new().viewer(Grantee::team("emea")))?;
    /// assert!(mia.may_view(engine.segments().get(mine)?));
    /// assert!(!mia.may_edit(engine.segments().get(mine)?));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn may_view(&self, segment: &SegmentInfo) -> bool {
        segment.visibility == Visibility::Public
            || self.may_edit(segment)
            || segment.access.viewers.iter().any(|g| self.is(g))
    }

    /// Whether the actor may curate `segment`: rename it, edit its filter
    /// and rules, add and remove members, clear blocks, set its settings.
    /// Admins, leaders, its owner, and the actors and teams it names as
    /// editors.
    pub fn may_edit(&self, segment: &SegmentInfo) -> bool {
        self.may_own(segment) || segment.access.editors.iter().any(|g| self.is(g))
    }

    /// Whether the actor may do what only an owner does to `segment`:
    /// delete it, change its visibility, share it, move it in the listing.
    /// Admins, leaders and its owner.
    pub fn may_own(&self, segment: &SegmentInfo) -> bool {
        self.manages_all() || segment.owner == self.id
    }
}

/// Whom a segment is shared with: an actor, or every actor in a team.
///
/// Its JSON form is `{"actor": "kim"}` or `{"team": "emea"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// One actor, by id.
    Actor(String),
    /// Every actor in the team, by the host's name for it.
    Team(String),
}

impl Grantee {
    /// An actor, by id.
    pub fn actor(id: impl Into<String>) -> Grantee {
        Grantee::Actor(id.into())
    }

    /// A team, by name.
    pub fn team(name: impl Into<String>) -> Grantee {
        Grantee::Team(name.into())
    }
}

impl fmt::Display for Grantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grantee::Actor(a) => write!(f, "actor `{a}`"),
            Grantee::Team(t) => write!(f, "team `{t}`"),
        }
    }
}

/// The most grants (editors and viewers together) a segment has.
pub const MAX_GRANTS: usize = 1024;

/// The longest an actor's id or a team's name in a grant is, in bytes.
pub const MAX_GRANTEE_BYTES: usize = 256;

/// Whom a segment is shared with beyond its owner, admins and leaders:
/// editors, who may curate it ([`Actor::may_edit`]), and viewers, who may
/// see it ([`Actor::may_view`]; everybody sees a public segment). Each list
/// is kept sorted, without repeats.
///
/// Its JSON form is `{"editors": [{"team": "emea"}], "viewers": [{"actor": "kim"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SegmentAccess {
    /// Who may curate it.
    pub editors: Vec<Grantee>,
    /// Who may see it.
    pub viewers: Vec<Grantee>,
}

impl SegmentAccess {
    /// Shared with nobody.
    pub fn new() -> SegmentAccess {
        SegmentAccess::default()
    }

    /// Also editable by `g`.
    #[must_use]
    pub fn editor(mut self, g: Grantee) -> SegmentAccess {
        self.editors.push(g);
        self.normalized()
    }

    /// Also visible to `g`.
    #[must_use]
    pub fn viewer(mut self, g: Grantee) -> SegmentAccess {
        self.viewers.push(g);
        self.normalized()
    }

    /// Whether it shares with nobody.
    pub fn is_empty(&self) -> bool {
        self.editors.is_empty() && self.viewers.is_empty()
    }

    /// Every grantee, editor or viewer.
    pub fn grantees(&self) -> impl Iterator<Item = &Grantee> + '_ {
        self.editors.iter().chain(&self.viewers)
    }

    /// Whether `g` is an editor or a viewer.
    pub fn grants(&self, g: &Grantee) -> bool {
        self.grantees().any(|x| x == g)
    }

    /// Sorted, without repeats.
    pub(crate) fn normalized(mut self) -> SegmentAccess {
        self.editors.sort();
        self.editors.dedup();
        self.viewers.sort();
        self.viewers.dedup();
        self
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
    /// When its definition last changed: name, visibility, filter, rules,
    /// settings or access.
    pub updated: Timestamp,
    /// The version of its definition: 1 when created, one more at each
    /// change of name, visibility, filter, rules, settings or access (each entry
    /// of its [`definition_history`](crate::Engine::definition_history)).
    /// [`Engine::set_settings_if`](crate::Engine::set_settings_if) writes
    /// only over the version the caller read.
    pub version: u64,
    /// Its settings: the service's, kept with it.
    pub settings: Settings,
    /// Whom it is shared with.
    pub access: SegmentAccess,
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
    /// Whether it is external: its matches are given by the caller
    /// ([`Engine::set_external_matches`](crate::Engine::set_external_matches)),
    /// computed elsewhere (a warehouse query, say), not by a filter; its
    /// `filter` is then an empty `and`, never evaluated.
    #[serde(default)]
    pub external: bool,
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
