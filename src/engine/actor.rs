//! Reads on behalf of an actor: every answer checked against what the
//! actor may see.

use roaring::RoaringBitmap;

use super::{Counts, Draft, Engine, Explanation, MemberExplanation, Preview, Scope, Warning};
use crate::error::{Error, SegmentError};
use crate::eval::Budget;
use crate::filter::Filter;
use crate::segment::{Action, Actor, RuleId, RuleInfo, SegmentId, SegmentInfo, Source};
use crate::value::Timestamp;

/// The engine as one actor sees it: see [`Engine::as_actor`].
///
/// Every read is checked with [`Actor::may_view`]. A segment (or a rule of
/// a segment) the actor may not see is refused with
/// [`SegmentError::Denied`] naming only its id, exactly as if it did not
/// exist, so that no answer tells the actor anything of it; listings leave
/// it out.
#[derive(Debug, Clone, Copy)]
pub struct AsActor<'a> {
    engine: &'a Engine,
    actor: &'a Actor,
}

impl Engine {
    /// The engine's reads on behalf of `actor`, each checked against what
    /// it may see ([`Actor::may_view`]).
    ///
    /// The engine's own reads ([`Engine::members`], [`Engine::count`],
    /// [`Engine::is_member`], [`Engine::segments_of`], [`Engine::links`],
    /// [`Engine::segment`], [`Engine::segments`], [`Engine::scope`],
    /// [`Engine::evaluate`], ...) take no actor and are unchecked: they are
    /// the service's own questions (exports, jobs, alerts). Answer a user's
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
    /// assert_eq!(engine.as_actor(&mo).count(mine)?, 1);
    /// assert_eq!(engine.as_actor(&mo).segments_of("account", "acme")?, [mine]);
    /// // To anyone else the private segment is not there.
    /// let theirs = engine.as_actor(&mia);
    /// assert!(matches!(theirs.count(mine), Err(SegmentError::Denied { .. })));
    /// assert!(theirs.segments_of("account", "acme")?.is_empty());
    /// let naming = Filter::and([in_segments([mine])]);
    /// assert!(theirs.evaluate("account", &naming, Timestamp::now()).is_err());
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn as_actor<'a>(&'a self, actor: &'a Actor) -> AsActor<'a> {
        AsActor { engine: self, actor }
    }
}

impl<'a> AsActor<'a> {
    /// The actor.
    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    fn seen(&self, segment: SegmentId) -> Result<&'a super::SegmentState, SegmentError> {
        self.engine.visible(self.actor, segment, Action::View)
    }

    /// A segment's definition (as [`Engine::view`]).
    ///
    /// # Errors
    ///
    /// [`SegmentError::Denied`] for a segment the actor may not see or that
    /// does not exist; [`SegmentError::UnknownSegment`] for admins and
    /// leaders.
    pub fn segment(&self, segment: SegmentId) -> Result<&'a SegmentInfo, SegmentError> {
        Ok(&self.seen(segment)?.info)
    }

    /// The segments listed for the actor (as [`Engine::list`]).
    pub fn list(&self) -> impl Iterator<Item = &'a SegmentInfo> + 'a {
        self.engine.list(self.actor)
    }

    /// A rule of a segment the actor may see.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Denied`] for a rule of a segment the actor may not
    /// see or that does not exist; [`SegmentError::UnknownRule`] for admins
    /// and leaders.
    pub fn rule(&self, rule: RuleId) -> Result<&'a RuleInfo, SegmentError> {
        self.engine.rule_visible(self.actor, rule, Action::View)?;
        self.engine.rule(rule)
    }

    /// As [`Engine::export`], for a segment the actor may see.
    ///
    /// # Errors
    ///
    /// [`ExportError::Denied`](crate::error::ExportError::Denied) for a segment the actor may not see or that
    /// does not exist ([`ExportError::UnknownSegment`](crate::error::ExportError::UnknownSegment) for admins and
    /// leaders); otherwise as [`Engine::export`].
    pub fn export(
        &self,
        segment: SegmentId,
        spec: &super::Export,
        out: impl std::io::Write,
    ) -> Result<Option<String>, crate::error::ExportError> {
        let s = self.seen(segment).map_err(|e| match e {
            SegmentError::UnknownSegment { id } => crate::error::ExportError::UnknownSegment { id },
            _ => crate::error::ExportError::Denied {
                actor: self.actor.id.clone(),
                id: segment,
            },
        })?;
        self.engine.export_members(segment, s.kind, spec, out)
    }

    /// A segment's members.
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`].
    pub fn members(&self, segment: SegmentId) -> Result<&'a RoaringBitmap, SegmentError> {
        Ok(&self.seen(segment)?.members)
    }

    /// The keys of a segment's members, by id.
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`].
    pub fn member_keys(&self, segment: SegmentId) -> Result<impl Iterator<Item = &'a str> + 'a, SegmentError> {
        self.seen(segment)?;
        self.engine.member_keys(segment)
    }

    /// The number of members.
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`].
    pub fn count(&self, segment: SegmentId) -> Result<u64, SegmentError> {
        Ok(self.members(segment)?.len())
    }

    /// Whether the entity `key` is a member (an unknown key is not).
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`].
    pub fn is_member(&self, segment: SegmentId, key: &str) -> Result<bool, SegmentError> {
        self.seen(segment)?;
        self.engine.is_member(segment, key)
    }

    /// The segments the actor may see that the entity `key` of `kind` is
    /// in, in the listing order.
    ///
    /// # Errors
    ///
    /// As [`Engine::segments_of`].
    pub fn segments_of(&self, kind: &str, key: &str) -> Result<Vec<SegmentId>, SegmentError> {
        let mut ids = self.engine.segments_of(kind, key)?;
        ids.retain(|id| self.seen(*id).is_ok());
        Ok(ids)
    }

    /// Why the entity `key` is in a segment (as [`Engine::links`]).
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`], and [`SegmentError::UnknownKey`].
    pub fn links(&self, segment: SegmentId, key: &str) -> Result<Vec<Source>, SegmentError> {
        self.seen(segment)?;
        self.engine.links(segment, key)
    }

    /// The rules of a segment blocked from linking `key` (as [`Engine::blocks`]).
    ///
    /// # Errors
    ///
    /// As [`AsActor::links`].
    pub fn blocks(&self, segment: SegmentId, key: &str) -> Result<Vec<RuleId>, SegmentError> {
        self.seen(segment)?;
        self.engine.blocks(segment, key)
    }

    /// The entities a rule links (as [`Engine::rule_links`]).
    ///
    /// # Errors
    ///
    /// As [`AsActor::rule`].
    pub fn rule_links(&self, rule: RuleId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.engine.rule_visible(self.actor, rule, Action::View)?;
        self.engine.rule_links(rule)
    }

    /// The entities a rule is blocked from linking (as [`Engine::rule_blocks`]).
    ///
    /// # Errors
    ///
    /// As [`AsActor::rule`].
    pub fn rule_blocks(&self, rule: RuleId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.engine.rule_visible(self.actor, rule, Action::View)?;
        self.engine.rule_blocks(rule)
    }

    /// A segment's manual links (as [`Engine::manual_links`]).
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`].
    pub fn manual_links(&self, segment: SegmentId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.seen(segment)?;
        self.engine.manual_links(segment)
    }

    /// A view restricted to a segment's members (as [`Engine::scope`]);
    /// filters evaluated through it may name only segments the actor may
    /// see.
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`].
    pub fn scope(&self, segment: SegmentId) -> Result<Scope<'a>, SegmentError> {
        Ok(self.engine.scope_of(self.seen(segment)?, Some(self.actor)))
    }

    /// Evaluates a filter (as [`Engine::evaluate`]) that may name only
    /// segments the actor may see.
    ///
    /// # Errors
    ///
    /// As [`Engine::evaluate`], and [`Error::Segment`] with
    /// [`SegmentError::Denied`] for a filter that names a segment the actor
    /// may not see (or that does not exist).
    pub fn evaluate(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
        self.evaluate_with(kind, filter, now, &Budget::unlimited())
    }

    /// As [`AsActor::evaluate`], under a [`Budget`] (see
    /// [`Engine::evaluate_with`]).
    ///
    /// # Errors
    ///
    /// As [`AsActor::evaluate`] and [`Engine::evaluate_with`].
    pub fn evaluate_with(
        &self,
        kind: &str,
        filter: &Filter,
        now: Timestamp,
        budget: &Budget,
    ) -> Result<RoaringBitmap, Error> {
        self.engine
            .evaluate_in(kind, filter, now, None, Some(self.actor), budget)
    }

    /// [`Engine::counts`] on behalf of the actor: the filter may name only
    /// segments it may see.
    ///
    /// # Errors
    ///
    /// As [`AsActor::evaluate`].
    pub fn counts(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<Counts, Error> {
        self.engine.counts_in(kind, filter, now, Some(self.actor))
    }

    /// [`Engine::explain`] on behalf of the actor.
    ///
    /// # Errors
    ///
    /// As [`AsActor::evaluate`] and [`Engine::explain`].
    pub fn explain(&self, kind: &str, filter: &Filter, key: &str, now: Timestamp) -> Result<Explanation, Error> {
        self.engine.explain_in(kind, filter, key, now, Some(self.actor))
    }

    /// [`Engine::explain_member`] for a segment the actor may see.
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`] and [`Engine::explain_member`].
    pub fn explain_member(&self, segment: SegmentId, key: &str, now: Timestamp) -> Result<MemberExplanation, Error> {
        self.seen(segment)?;
        self.engine.explain_member(segment, key, now)
    }

    /// [`Engine::preview`] of a draft on a segment the actor may see, whose
    /// filter names only segments it may see.
    ///
    /// # Errors
    ///
    /// As [`AsActor::segment`] and [`Engine::preview`].
    pub fn preview(&self, draft: &Draft, sample: usize, now: Timestamp) -> Result<Preview, Error> {
        let segment = match draft {
            Draft::NewSegment { .. } => None,
            Draft::EditRule { rule, .. } | Draft::DetachRule { rule } => Some(self.rule(*rule)?.segment),
            Draft::AttachRule { segment, .. } => Some(*segment),
        };
        if let Some(s) = segment {
            self.seen(s)?;
        }
        self.engine.preview_in(draft, sample, now, Some(self.actor))
    }

    /// [`Engine::check`] on behalf of the actor.
    ///
    /// # Errors
    ///
    /// As [`AsActor::evaluate`].
    pub fn check(&self, kind: &str, filter: &Filter) -> Result<Vec<Warning>, Error> {
        self.engine.check_in(kind, filter, Some(self.actor))
    }
}
