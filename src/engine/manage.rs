//! The executor of management ops: segment definitions, rules, manual
//! membership, settings and sharing.
//!
//! It runs over the parts management needs and no others: the store (read:
//! kinds and keys), the book (written), the dependency index (rules come
//! and go), the policy and the instant the op runs at. Every check it makes
//! before a change is the [`Guard`]'s; the change log, the clock and the
//! journal are the door's (`apply`).

use roaring::RoaringBitmap;

use super::deps::Deps;
use super::guard::{denied, Guard, Home, Reader};
use super::{kind_index, relink, settle, Deltas, RuleState, SegmentState};
use crate::error::SegmentError;
use crate::filter::{Filter, LimitPolicy, Plan};
use crate::op::{Applied, Created, ManageOp};
use crate::segment::book::Book;
use crate::segment::{
    Action, Actor, Changes, Grantee, NewSegment, RuleId, SegmentAccess, SegmentId, SegmentInfo, Settings, Visibility,
};
use crate::segment::{MAX_GRANTEE_BYTES, MAX_GRANTS};
use crate::store::Store;
use crate::value::Timestamp;

/// A management op's executor: the parts it reads and writes.
pub(super) struct Manage<'a> {
    pub(super) store: &'a Store,
    pub(super) book: &'a mut Book,
    pub(super) deps: &'a mut Deps,
    pub(super) policy: &'a LimitPolicy,
    /// The instant the op runs at.
    pub(super) at: Timestamp,
}

impl Manage<'_> {
    /// The checks, over the parts as they are now.
    fn guard(&self) -> Guard<'_> {
        Guard {
            store: self.store,
            book: self.book,
            policy: self.policy,
        }
    }

    /// Runs a management op: the one function that runs them.
    pub(super) fn run(&mut self, op: ManageOp) -> Result<Applied, SegmentError> {
        let changes = |c: Changes| Applied::changes(c);
        let nothing = |e: &Manage| Applied::changes(Changes::new(e.at));
        Ok(match op {
            ManageOp::CreateSegment { actor, segment } => {
                let (id, c) = self.exec_create_segment(&actor, segment)?;
                Applied {
                    changes: c,
                    created: Some(Created::Segment(id)),
                }
            }
            ManageOp::Rename { actor, segment, name } => {
                self.exec_rename(&actor, segment, &name)?;
                nothing(self)
            }
            ManageOp::SetVisibility {
                actor,
                segment,
                visibility,
            } => {
                self.exec_set_visibility(&actor, segment, visibility)?;
                nothing(self)
            }
            ManageOp::SetFilter { actor, segment, filter } => changes(self.exec_set_filter(&actor, segment, filter)?),
            ManageOp::DeleteSegment { actor, segment } => changes(self.exec_delete_segment(&actor, segment)?),
            ManageOp::MoveSegment {
                actor,
                segment,
                position,
            } => {
                self.exec_move_segment(&actor, segment, position)?;
                nothing(self)
            }
            ManageOp::Reorder { actor, order } => {
                self.exec_reorder(&actor, &order)?;
                nothing(self)
            }
            ManageOp::AttachRule { actor, segment, filter } => {
                let (id, c) = self.exec_attach_rule(&actor, segment, filter)?;
                Applied {
                    changes: c,
                    created: Some(Created::Rule(id)),
                }
            }
            ManageOp::EditRule { actor, rule, filter } => changes(self.exec_edit_rule(&actor, rule, filter)?),
            ManageOp::DetachRule { actor, rule } => changes(self.exec_detach_rule(&actor, rule)?),
            ManageOp::AddMembers { actor, segment, keys } => {
                let ids = self.guard().ids_of(&actor, segment, &keys)?;
                changes(self.add_manual(segment, ids))
            }
            ManageOp::AddMemberIds { actor, segment, ids } => {
                self.guard().check_ids(&actor, segment, &ids)?;
                changes(self.add_manual(segment, ids))
            }
            ManageOp::RemoveMembers { actor, segment, keys } => {
                let ids = self.guard().ids_of(&actor, segment, &keys)?;
                changes(self.remove_manual(segment, &ids))
            }
            ManageOp::RemoveMemberIds { actor, segment, ids } => {
                self.guard().check_ids(&actor, segment, &ids)?;
                changes(self.remove_manual(segment, &ids))
            }
            ManageOp::ClearBlocks { actor, segment, keys } => {
                let ids = self.guard().ids_of(&actor, segment, &keys)?;
                changes(self.unblock(segment, Some(ids))?)
            }
            ManageOp::ClearAllBlocks { actor, segment } => {
                self.guard().managed(&actor, segment, Action::EditMembers)?;
                changes(self.unblock(segment, None)?)
            }
            ManageOp::SetSettings {
                actor,
                segment,
                settings,
                if_version,
            } => {
                self.exec_set_settings(&actor, segment, settings, if_version)?;
                nothing(self)
            }
            ManageOp::SetAccess { actor, segment, access } => {
                self.exec_set_access(&actor, segment, access)?;
                nothing(self)
            }
            ManageOp::AttachExternalRule { actor, segment } => {
                let (id, c) = self.exec_attach_external_rule(&actor, segment)?;
                Applied {
                    changes: c,
                    created: Some(Created::Rule(id)),
                }
            }
            ManageOp::SetExternalMatches { actor, rule, keys } => {
                changes(self.exec_external_matches(&actor, rule, &keys)?)
            }
            ManageOp::ChangeExternalMatches {
                actor,
                rule,
                added,
                removed,
            } => changes(self.exec_external_matches_change(&actor, rule, &added, &removed)?),
        })
    }

    fn exec_create_segment(&mut self, actor: &Actor, spec: NewSegment) -> Result<(SegmentId, Changes), SegmentError> {
        if spec.visibility == Visibility::Public && !actor.manages_all() {
            return Err(denied(actor, Action::CreatePublic, "segments".into()));
        }
        let kind = kind_index(self.store, &spec.kind)
            .ok_or_else(|| SegmentError::UnknownKind(crate::error::UnknownKind::new(spec.kind.clone())))?;
        let name = self
            .guard()
            .check_name(&spec.name, (spec.visibility, &actor.id), None)?;
        let id = self.book.next_segment();
        spec.settings
            .check()
            .map_err(|source| SegmentError::Settings { segment: id, source })?;
        let none = SegmentAccess::new();
        let reader = Reader {
            actor,
            home: Some(Home {
                visibility: spec.visibility,
                owner: &actor.id,
                access: &none,
            }),
        };
        let rule = match spec.filter {
            Some(f) => Some(self.guard().plan(f, kind, id, &name, Some(reader))?),
            None => None,
        };
        let at = self.at;
        let id = self.book.add_segment(|id| SegmentState {
            info: SegmentInfo {
                id,
                name,
                kind: spec.kind,
                visibility: spec.visibility,
                owner: actor.id.clone(),
                filter_rule: None,
                rules: Vec::new(),
                created: at,
                updated: at,
                version: 1,
                settings: spec.settings,
                access: SegmentAccess::new(),
            },
            kind,
            manual: RoaringBitmap::new(),
            members: RoaringBitmap::new(),
            rank: 0,
        });
        let changes = match rule {
            Some((filter, plan)) => {
                let (rule, changes) = self.add_rule(id, filter, plan, at);
                if let Some(info) = self.book.info_mut(id) {
                    info.filter_rule = Some(rule);
                }
                changes
            }
            _ => Changes::new(at),
        };
        Ok((id, changes))
    }

    fn exec_rename(&mut self, actor: &Actor, segment: SegmentId, name: &str) -> Result<(), SegmentError> {
        let s = self.guard().managed(actor, segment, Action::Rename)?;
        let name = self
            .guard()
            .check_name(name, (s.info.visibility, &s.info.owner), Some(segment))?;
        let at = self.at;
        let s = self.info_mut(segment)?;
        s.name = name;
        s.updated = at;
        Ok(())
    }

    fn exec_set_settings(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        settings: Settings,
        if_version: Option<u64>,
    ) -> Result<(), SegmentError> {
        let s = self.guard().managed(actor, segment, Action::EditSettings)?;
        if let Some(expected) = if_version.filter(|&v| v != s.info.version) {
            return Err(SegmentError::Stale {
                segment,
                expected,
                actual: s.info.version,
            });
        }
        settings
            .check()
            .map_err(|source| SegmentError::Settings { segment, source })?;
        let at = self.at;
        let s = self.info_mut(segment)?;
        s.settings = settings;
        s.updated = at;
        Ok(())
    }

    fn exec_set_visibility(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        visibility: Visibility,
    ) -> Result<(), SegmentError> {
        let s = self.guard().managed(actor, segment, Action::SetVisibility)?;
        if visibility == Visibility::Public && !actor.manages_all() {
            return Err(denied(
                actor,
                Action::SetVisibility,
                format!("{segment} `{}`", s.info.name),
            ));
        }
        if visibility != s.info.visibility {
            self.guard()
                .check_name(&s.info.name, (visibility, &s.info.owner), Some(segment))?;
            self.guard().check_visibility(actor, segment, visibility)?;
        }
        let at = self.at;
        let s = self.info_mut(segment)?;
        s.visibility = visibility;
        s.updated = at;
        Ok(())
    }

    fn exec_set_filter(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        filter: Option<Filter>,
    ) -> Result<Changes, SegmentError> {
        let s = self.guard().managed(actor, segment, Action::EditFilter)?;
        let current = s.info.filter_rule;
        let at = self.at;
        match (filter, current) {
            (Some(f), Some(rule)) => self.replace_rule(actor, rule, f, at),
            (Some(f), None) => {
                let reader = Reader::of(actor, s);
                let (f, plan) = self.guard().plan(f, s.kind, segment, &s.info.name, Some(reader))?;
                let (rule, changes) = self.add_rule(segment, f, plan, at);
                self.info_mut(segment)?.filter_rule = Some(rule);
                Ok(changes)
            }
            (None, Some(rule)) => {
                self.info_mut(segment)?.filter_rule = None;
                Ok(self.drop_rule(rule, at))
            }
            (None, None) => Ok(Changes::new(at)),
        }
    }

    fn exec_delete_segment(&mut self, actor: &Actor, segment: SegmentId) -> Result<Changes, SegmentError> {
        self.guard().managed(actor, segment, Action::Delete)?;
        let naming = self.book.naming(segment);
        if !naming.is_empty() {
            return Err(SegmentError::InUse {
                segment,
                by: self.guard().describe(actor, naming.iter()),
            });
        }
        let at = self.at;
        let (rules, out) = self
            .book
            .remove_segment(segment, at)
            .ok_or(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(segment)))?;
        for r in rules {
            self.unregister(r);
        }
        self.book.rerank();
        Ok(out)
    }

    fn exec_move_segment(&mut self, actor: &Actor, segment: SegmentId, position: usize) -> Result<(), SegmentError> {
        self.guard().managed(actor, segment, Action::Move)?;
        self.book.move_segment(segment, position)
    }

    fn exec_reorder(&mut self, actor: &Actor, order: &[SegmentId]) -> Result<(), SegmentError> {
        if !actor.manages_all() {
            return Err(denied(actor, Action::Reorder, "segments".into()));
        }
        self.book.reorder(order)
    }

    fn exec_attach_rule(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        filter: Filter,
    ) -> Result<(RuleId, Changes), SegmentError> {
        let s = self.guard().managed(actor, segment, Action::EditRules)?;
        let (filter, plan) = self
            .guard()
            .plan(filter, s.kind, segment, &s.info.name, Some(Reader::of(actor, s)))?;
        let at = self.at;
        Ok(self.add_rule(segment, filter, plan, at))
    }

    fn exec_attach_external_rule(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
    ) -> Result<(RuleId, Changes), SegmentError> {
        let s = self.guard().managed(actor, segment, Action::EditRules)?;
        let plan = self
            .guard()
            .validated(&Filter::all(), s.kind, segment, &s.info.name, None)?;
        let at = self.at;
        Ok(self.add_rule_state(segment, at, |id, kind| RuleState::external(id, segment, kind, plan)))
    }

    /// Sets what external rule `rule` matches to `keys`.
    fn exec_external_matches(&mut self, actor: &Actor, rule: RuleId, keys: &[String]) -> Result<Changes, SegmentError> {
        let set = self.guard().external_ids(actor, rule, keys)?;
        let at = self.at;
        let mut deltas = Deltas::new();
        if let Some(given) = self.book.external_mut(rule) {
            *given = set;
        }
        relink(self.store, self.book, rule, None, at, &mut deltas);
        Ok(settle(self.store, self.book, deltas, at))
    }

    /// Adds `added` to what external rule `rule` matches and takes out
    /// `removed`; relinks only those.
    fn exec_external_matches_change(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        added: &[String],
        removed: &[String],
    ) -> Result<Changes, SegmentError> {
        let added = self.guard().external_ids(actor, rule, added)?;
        let removed = self.guard().external_ids(actor, rule, removed)?;
        if let Some(both) = (&added & &removed).min() {
            let key = self.store.tables()[self.guard().rule_ref(rule)?.kind]
                .key(crate::EntityId(both))
                .unwrap_or("");
            return Err(SegmentError::External {
                rule,
                reason: format!("key `{key}` is both added and removed"),
            });
        }
        let at = self.at;
        if let Some(given) = self.book.external_mut(rule) {
            *given |= &added;
            *given -= &removed;
        }
        let scope = added | removed;
        let mut deltas = Deltas::new();
        relink(self.store, self.book, rule, Some(&scope), at, &mut deltas);
        Ok(settle(self.store, self.book, deltas, at))
    }

    fn exec_edit_rule(&mut self, actor: &Actor, rule: RuleId, filter: Filter) -> Result<Changes, SegmentError> {
        let segment = self.guard().rule_visible(actor, rule, Action::EditRules)?;
        self.guard().managed(actor, segment, Action::EditRules)?;
        if self.guard().rule_ref(rule)?.external.is_some() {
            return Err(SegmentError::External {
                rule,
                reason: "is external: its matches are given, it has no filter to edit".into(),
            });
        }
        let at = self.at;
        self.replace_rule(actor, rule, filter, at)
    }

    fn exec_detach_rule(&mut self, actor: &Actor, rule: RuleId) -> Result<Changes, SegmentError> {
        let segment = self.guard().rule_visible(actor, rule, Action::EditRules)?;
        self.guard().managed(actor, segment, Action::EditRules)?;
        let at = self.at;
        let s = self.info_mut(segment)?;
        if s.filter_rule == Some(rule) {
            s.filter_rule = None;
        }
        Ok(self.drop_rule(rule, at))
    }

    // ---- internals ----

    fn unblock(&mut self, segment: SegmentId, only: Option<RoaringBitmap>) -> Result<Changes, SegmentError> {
        let at = self.at;
        self.guard().segment_ref(segment)?;
        let mut deltas = Deltas::new();
        for (rule, freed) in self.book.unblock(segment, only.as_ref()) {
            relink(self.store, self.book, rule, Some(&freed), at, &mut deltas);
        }
        Ok(settle(self.store, self.book, deltas, at))
    }

    /// A segment's description, to edit ([`Book::info_mut`](crate::segment::book::Book::info_mut)).
    fn info_mut(&mut self, id: SegmentId) -> Result<&mut SegmentInfo, SegmentError> {
        self.book
            .info_mut(id)
            .ok_or(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(id)))
    }

    fn exec_set_access(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        access: SegmentAccess,
    ) -> Result<(), SegmentError> {
        let s = self.guard().managed(actor, segment, Action::Share)?;
        let access = access.normalized();
        let grants = access.editors.len() + access.viewers.len();
        if grants > MAX_GRANTS {
            return Err(SegmentError::BadAccess {
                segment,
                problem: format!("{grants} grants, over the limit of {MAX_GRANTS}"),
            });
        }
        if let Some(g) = access.grantees().find(|g| {
            let (Grantee::Actor(n) | Grantee::Team(n)) = g;
            n.is_empty() || n.len() > MAX_GRANTEE_BYTES
        }) {
            return Err(SegmentError::BadAccess {
                segment,
                problem: format!("{g}: names are 1 to {MAX_GRANTEE_BYTES} bytes"),
            });
        }
        if s.info.visibility == Visibility::Private {
            // Nobody reads a private segment through another: whoever a
            // segment is shared with is shared every private segment it
            // names, and no segment that names this one is shared with
            // anyone this one is not.
            let this = Home {
                access: &access,
                ..Home::of(s)
            };
            let named = self.guard().unnameable_by(segment, this);
            if !named.is_empty() {
                return Err(SegmentError::BadAccess {
                    segment,
                    problem: format!(
                        "its rules name {}, which are not shared with all of them",
                        self.guard().describe(actor, named.iter())
                    ),
                });
            }
            let naming = self.guard().unable_to_name(segment, this);
            if !naming.is_empty() {
                return Err(SegmentError::BadAccess {
                    segment,
                    problem: format!(
                        "{} name it and are shared with others",
                        self.guard().describe(actor, naming.iter())
                    ),
                });
            }
        }
        let at = self.at;
        let s = self.info_mut(segment)?;
        s.access = access;
        s.updated = at;
        Ok(())
    }

    fn add_manual(&mut self, segment: SegmentId, ids: RoaringBitmap) -> Changes {
        let at = self.at;
        let deltas = self.book.add_manual(segment, ids);
        settle(self.store, self.book, deltas, at)
    }

    fn remove_manual(&mut self, segment: SegmentId, ids: &RoaringBitmap) -> Changes {
        let at = self.at;
        let deltas = self.book.remove_manual(segment, ids);
        settle(self.store, self.book, deltas, at)
    }

    /// Registers a validated rule on a segment and links its matches.
    fn add_rule(&mut self, segment: SegmentId, filter: Filter, plan: Plan, at: Timestamp) -> (RuleId, Changes) {
        self.add_rule_state(segment, at, |id, kind| RuleState::new(id, segment, kind, filter, plan))
    }

    /// Registers the rule `make` makes (given its id and kind) on a
    /// segment and links its matches.
    fn add_rule_state(
        &mut self,
        segment: SegmentId,
        at: Timestamp,
        make: impl FnOnce(RuleId, usize) -> RuleState,
    ) -> (RuleId, Changes) {
        let (id, added) = self.book.add_rule(segment, at, make);
        let Some((kind, plan)) = added.map(|r| (r.kind, r.plan.clone())) else {
            return (id, Changes::new(at));
        };
        self.deps.index(self.store.schema().relations(), id, kind, &plan);
        let mut deltas = Deltas::new();
        relink(self.store, self.book, id, None, at, &mut deltas);
        (id, settle(self.store, self.book, deltas, at))
    }

    fn replace_rule(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        filter: Filter,
        at: Timestamp,
    ) -> Result<Changes, SegmentError> {
        let segment = self.guard().rule_segment(rule)?;
        let s = self.guard().segment_ref(segment)?;
        let (filter, plan) = self
            .guard()
            .plan(filter, s.kind, segment, &s.info.name, Some(Reader::of(actor, s)))?;
        let kind = s.kind;
        let old = self.guard().rule_ref(rule)?.plan.clone();
        self.deps.unindex(rule, kind, &old);
        self.deps.index(self.store.schema().relations(), rule, kind, &plan);
        self.book.replan(rule, Some(filter), plan);
        self.info_mut(segment)?.updated = at;
        let mut deltas = Deltas::new();
        relink(self.store, self.book, rule, None, at, &mut deltas);
        Ok(settle(self.store, self.book, deltas, at))
    }

    /// Unregisters a rule; its links go.
    fn drop_rule(&mut self, rule: RuleId, at: Timestamp) -> Changes {
        let Some(r) = self.unregister(rule) else {
            return Changes::new(at);
        };
        let deltas = self.book.detach(r, at);
        self.book.rerank();
        settle(self.store, self.book, deltas, at)
    }

    /// Removes a rule and its index entries; the caller reranks once.
    fn unregister(&mut self, rule: RuleId) -> Option<RuleState> {
        let r = self.book.take_rule(rule)?;
        self.deps.unindex(rule, r.kind, &r.plan);
        Some(r)
    }
}
