//! The read handles (see [the engine's docs](crate::engine#reads-handles)).

use roaring::RoaringBitmap;

use super::{Engine, RuleState, SegmentState};
use crate::error::SegmentError;
use crate::eval::Budget;
use crate::segment::{Action, Actor, RuleId, SegmentId};

/// Reads of segments, rules and membership: see [`Engine::segments`] and
/// [the engine's handles](crate::engine#reads-handles).
///
/// # Examples
///
/// ```
/// use segments::filter::field;
/// use segments::segment::{Actor, NewSegment, Role};
/// use segments::{Engine, FieldType, Filter, Row, Schema};
///
/// let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
/// let mut engine = Engine::new(schema);
/// engine.insert("account", "acme", Row::new().set("health", 20.0))?;
/// let (at_risk, _) = engine.create_segment(&Actor::new("ada", Role::Admin),
///     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])))?;
///
/// let segments = engine.segments();
/// assert_eq!(segments.count(at_risk)?, 1);
/// assert!(segments.is_member(at_risk, "acme")?);
/// assert_eq!(segments.member_keys(at_risk)?.collect::<Vec<_>>(), ["acme"]);
/// assert_eq!(segments.iter().count(), 1);
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Segments<'a> {
    pub(super) engine: &'a Engine,
    pub(super) actor: Option<&'a Actor>,
}

/// A filter evaluated over one kind: see [`Engine::query`].
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub(super) engine: &'a Engine,
    pub(super) actor: Option<&'a Actor>,
    pub(super) kind: &'a str,
    pub(super) budget: Option<&'a Budget>,
    /// [`Query::within`]: the members of one segment of the kind.
    pub(super) within: Option<&'a RoaringBitmap>,
}

/// What a segment builder asks while a filter is edited: see
/// [`Engine::builder`].
#[derive(Debug, Clone, Copy)]
pub struct Builder<'a> {
    pub(super) engine: &'a Engine,
    pub(super) actor: Option<&'a Actor>,
}

/// The change log and the history of segments: see [`Engine::log`].
#[derive(Debug, Clone, Copy)]
pub struct Log<'a> {
    pub(super) engine: &'a Engine,
}

/// The engine as one actor sees it: see [`Engine::as_actor`]. Its handles
/// are the engine's, with the access check inside.
#[derive(Debug, Clone, Copy)]
pub struct ActorView<'a> {
    pub(super) engine: &'a Engine,
    pub(super) actor: &'a Actor,
}

impl Engine {
    /// Reads of segments, rules and membership, unchecked (the service's
    /// own); [`ActorView::segments`] for an actor's.
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            engine: self,
            actor: None,
        }
    }

    /// A filter evaluated over `kind`'s entities, unchecked;
    /// [`ActorView::query`] for an actor's.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::eval::Budget;
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("health", FieldType::Float)]).build()?);
    /// engine.insert("account", "acme", Row::new().set("health", 20.0))?;
    /// let filter = Filter::and([field("health").lt(30)]);
    /// let now = Timestamp::now();
    /// assert_eq!(engine.query("account").evaluate(&filter, now)?.len(), 1);
    /// // Under a budget, a question too costly stops with an error.
    /// let budget = Budget::unlimited();
    /// assert_eq!(engine.query("account").budget(&budget).evaluate(&filter, now)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query<'a>(&'a self, kind: &'a str) -> Query<'a> {
        Query {
            engine: self,
            actor: None,
            kind,
            budget: None,
            within: None,
        }
    }

    /// What a segment builder asks, unchecked; [`ActorView::builder`] for
    /// an actor's.
    pub fn builder(&self) -> Builder<'_> {
        Builder {
            engine: self,
            actor: None,
        }
    }

    /// The change log, consumers' cursors, sync deltas and the history of
    /// membership and of definitions.
    pub fn log(&self) -> Log<'_> {
        Log { engine: self }
    }

    /// The engine as `actor` sees it: the same handles, each read checked
    /// against what it may see ([`Actor::may_view`]).
    ///
    /// The engine's own handles ([`Engine::segments`], [`Engine::query`],
    /// [`Engine::builder`]) take no actor and are unchecked: they are the
    /// service's own questions (exports, jobs, alerts). Answer a user's
    /// questions through this view. Writes take their actor and are always
    /// checked.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::{field, in_segments};
    /// use segments::segment::{Actor, NewSegment, Role, Visibility};
    /// use segments::{Engine, FieldType, Filter, Row, Schema, SegmentError, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// engine.insert("account", "acme", Row::new().set("health", 20.0))?;
    /// let (mo, mia) = (Actor::new("mo", Role::Member), Actor::new("mia", Role::Member));
    /// let (mine, _) = engine.create_segment(&mo, NewSegment::new("Mine", "account")
    ///     .filter(Filter::and([field("health").lt(30)])).visibility(Visibility::Private))?;
    ///
    /// assert_eq!(engine.as_actor(&mo).segments().count(mine)?, 1);
    /// assert_eq!(engine.as_actor(&mo).segments().segments_of("account", "acme")?, [mine]);
    /// // To anyone else the private segment is not there.
    /// let theirs = engine.as_actor(&mia).segments();
    /// assert!(matches!(theirs.count(mine), Err(SegmentError::Denied { .. })));
    /// assert!(theirs.segments_of("account", "acme")?.is_empty());
    /// assert_eq!(theirs.iter().count(), 0);
    /// let naming = Filter::and([in_segments([mine])]);
    /// assert!(engine.as_actor(&mia).query("account").evaluate(&naming, Timestamp::now()).is_err());
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn as_actor<'a>(&'a self, actor: &'a Actor) -> ActorView<'a> {
        ActorView { engine: self, actor }
    }
}

impl<'a> ActorView<'a> {
    /// The actor.
    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// Reads of the segments the actor may see.
    pub fn segments(&self) -> Segments<'a> {
        Segments {
            engine: self.engine,
            actor: Some(self.actor),
        }
    }

    /// A filter over `kind` that may name only segments the actor may see.
    pub fn query<'b>(&'b self, kind: &'b str) -> Query<'b> {
        Query {
            engine: self.engine,
            actor: Some(self.actor),
            kind,
            budget: None,
            within: None,
        }
    }

    /// The builder's questions on behalf of the actor.
    pub fn builder(&self) -> Builder<'a> {
        Builder {
            engine: self.engine,
            actor: Some(self.actor),
        }
    }
}

impl<'a> Segments<'a> {
    /// The segment, if the reader may see it: the one lookup of every
    /// read of a segment.
    pub(super) fn seen(&self, segment: SegmentId) -> Result<&'a SegmentState, SegmentError> {
        match self.actor {
            Some(a) => self.engine.guard().visible(a, segment, Action::View),
            None => self.engine.guard().segment_ref(segment),
        }
    }

    /// The rule, if the reader may see its segment.
    pub(super) fn seen_rule(&self, rule: RuleId) -> Result<&'a RuleState, SegmentError> {
        if let Some(a) = self.actor {
            self.engine.guard().rule_visible(a, rule, Action::View)?;
        }
        self.engine.guard().rule_ref(rule)
    }
}

impl<'a> Builder<'a> {
    /// The segments as this builder's reader sees them: checked when it
    /// has an actor.
    pub(super) fn segments(&self) -> Segments<'a> {
        Segments {
            engine: self.engine,
            actor: self.actor,
        }
    }
}

impl<'a> Query<'a> {
    /// The same query, stopped with an error once it has spent `budget`
    /// (see [`Budget`]).
    pub fn budget(self, budget: &'a Budget) -> Query<'a> {
        Query {
            budget: Some(budget),
            ..self
        }
    }
}

impl<'a> IntoIterator for Segments<'a> {
    type Item = &'a crate::segment::SegmentInfo;
    type IntoIter = Box<dyn Iterator<Item = &'a crate::segment::SegmentInfo> + 'a>;

    /// The segments the reader may see, in the listing order
    /// ([`Segments::iter`]).
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
