//! Segment definitions, rules, manual membership and roles.

use roaring::RoaringBitmap;

use super::{Deltas, Engine, RuleState, SegmentState};
use crate::error::SegmentError;
use crate::filter::{Filter, Plan};
use crate::segment::{
    Action, Actor, Changes, Grantee, NewSegment, RuleId, SegmentAccess, SegmentId, SegmentInfo, Settings, Visibility,
};
use crate::segment::{MAX_GRANTEE_BYTES, MAX_GRANTS};

impl Engine {
    pub(super) fn exec_create_segment(
        &mut self,
        actor: &Actor,
        spec: NewSegment,
    ) -> Result<(SegmentId, Changes), SegmentError> {
        if spec.visibility == Visibility::Public && !actor.manages_all() {
            return Err(denied(actor, Action::CreatePublic, "segments".into()));
        }
        let kind = self
            .kind_index(&spec.kind)
            .ok_or_else(|| SegmentError::UnknownKind(crate::error::UnknownKind::new(spec.kind.clone())))?;
        let name = self.check_name(&spec.name, (spec.visibility, &actor.id), None)?;
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
            Some(f) => Some(self.plan(f, kind, id, &name, Some(reader))?),
            None => None,
        };
        let at = self.now();
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

    pub(super) fn exec_rename(&mut self, actor: &Actor, segment: SegmentId, name: &str) -> Result<(), SegmentError> {
        let s = self.managed(actor, segment, Action::Rename)?;
        let name = self.check_name(name, (s.info.visibility, &s.info.owner), Some(segment))?;
        let at = self.now();
        let s = self.info_mut(segment)?;
        s.name = name;
        s.updated = at;
        Ok(())
    }

    pub(super) fn exec_set_settings(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        settings: Settings,
        if_version: Option<u64>,
    ) -> Result<(), SegmentError> {
        let s = self.managed(actor, segment, Action::EditSettings)?;
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
        let at = self.now();
        let s = self.info_mut(segment)?;
        s.settings = settings;
        s.updated = at;
        Ok(())
    }

    pub(super) fn exec_set_visibility(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        visibility: Visibility,
    ) -> Result<(), SegmentError> {
        let s = self.managed(actor, segment, Action::SetVisibility)?;
        if visibility == Visibility::Public && !actor.manages_all() {
            return Err(denied(
                actor,
                Action::SetVisibility,
                format!("{segment} `{}`", s.info.name),
            ));
        }
        if visibility != s.info.visibility {
            self.check_name(&s.info.name, (visibility, &s.info.owner), Some(segment))?;
            self.check_visibility(actor, segment, visibility)?;
        }
        let at = self.now();
        let s = self.info_mut(segment)?;
        s.visibility = visibility;
        s.updated = at;
        Ok(())
    }

    pub(super) fn exec_set_filter(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        filter: Option<Filter>,
    ) -> Result<Changes, SegmentError> {
        let s = self.managed(actor, segment, Action::EditFilter)?;
        let current = s.info.filter_rule;
        let at = self.now();
        match (filter, current) {
            (Some(f), Some(rule)) => self.replace_rule(actor, rule, f, at),
            (Some(f), None) => {
                let reader = Reader::of(actor, s);
                let (f, plan) = self.plan(f, s.kind, segment, &s.info.name, Some(reader))?;
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

    pub(super) fn exec_delete_segment(&mut self, actor: &Actor, segment: SegmentId) -> Result<Changes, SegmentError> {
        self.managed(actor, segment, Action::Delete)?;
        let naming = self.book.naming(segment);
        if !naming.is_empty() {
            return Err(SegmentError::InUse {
                segment,
                by: self.describe(actor, naming.iter()),
            });
        }
        let at = self.now();
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

    pub(super) fn exec_move_segment(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        position: usize,
    ) -> Result<(), SegmentError> {
        self.managed(actor, segment, Action::Move)?;
        self.book.move_segment(segment, position)
    }

    pub(super) fn exec_reorder(&mut self, actor: &Actor, order: &[SegmentId]) -> Result<(), SegmentError> {
        if !actor.manages_all() {
            return Err(denied(actor, Action::Reorder, "segments".into()));
        }
        self.book.reorder(order)
    }

    pub(super) fn exec_attach_rule(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        filter: Filter,
    ) -> Result<(RuleId, Changes), SegmentError> {
        let s = self.managed(actor, segment, Action::EditRules)?;
        let (filter, plan) = self.plan(filter, s.kind, segment, &s.info.name, Some(Reader::of(actor, s)))?;
        let at = self.now();
        Ok(self.add_rule(segment, filter, plan, at))
    }

    pub(super) fn exec_attach_external_rule(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
    ) -> Result<(RuleId, Changes), SegmentError> {
        let s = self.managed(actor, segment, Action::EditRules)?;
        let plan = self.validated(&Filter::all(), s.kind, segment, &s.info.name, None)?;
        let at = self.now();
        Ok(self.add_rule_state(segment, at, |id, kind| RuleState::external(id, segment, kind, plan)))
    }

    /// The external rule `rule`'s segment and its kind's ids of `keys`, if
    /// `actor` may edit its rules.
    fn external_ids(&self, actor: &Actor, rule: RuleId, keys: &[String]) -> Result<RoaringBitmap, SegmentError> {
        let segment = self.rule_visible(actor, rule, Action::EditRules)?;
        let s = self.managed(actor, segment, Action::EditRules)?;
        if self.rule_ref(rule)?.external.is_none() {
            return Err(SegmentError::External {
                rule,
                reason: "has a filter: only an external rule's matches are given".into(),
            });
        }
        let table = self.table_at(s.kind);
        let mut ids = RoaringBitmap::new();
        for key in keys {
            match table.id(key) {
                Some(id) => ids.insert(id.0),
                None => {
                    return Err(SegmentError::UnknownKey {
                        kind: s.info.kind.clone(),
                        key: key.clone(),
                    })
                }
            };
        }
        Ok(ids)
    }

    /// Sets what external rule `rule` matches to `keys`.
    pub(super) fn exec_external_matches(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        keys: &[String],
    ) -> Result<Changes, SegmentError> {
        let set = self.external_ids(actor, rule, keys)?;
        let at = self.now();
        let mut deltas = Deltas::new();
        if let Some(given) = self.book.external_mut(rule) {
            *given = set;
        }
        self.relink(rule, None, at, &mut deltas);
        Ok(self.settle(deltas, at))
    }

    /// Adds `added` to what external rule `rule` matches and takes out
    /// `removed`; relinks only those.
    pub(super) fn exec_external_matches_change(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        added: &[String],
        removed: &[String],
    ) -> Result<Changes, SegmentError> {
        let added = self.external_ids(actor, rule, added)?;
        let removed = self.external_ids(actor, rule, removed)?;
        if let Some(both) = (&added & &removed).min() {
            let key = self
                .table_at(self.rule_ref(rule)?.kind)
                .key(crate::EntityId(both))
                .unwrap_or("");
            return Err(SegmentError::External {
                rule,
                reason: format!("key `{key}` is both added and removed"),
            });
        }
        let at = self.now();
        if let Some(given) = self.book.external_mut(rule) {
            *given |= &added;
            *given -= &removed;
        }
        let scope = added | removed;
        let mut deltas = Deltas::new();
        self.relink(rule, Some(&scope), at, &mut deltas);
        Ok(self.settle(deltas, at))
    }

    pub(super) fn exec_edit_rule(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        filter: Filter,
    ) -> Result<Changes, SegmentError> {
        let segment = self.rule_visible(actor, rule, Action::EditRules)?;
        self.managed(actor, segment, Action::EditRules)?;
        if self.rule_ref(rule)?.external.is_some() {
            return Err(SegmentError::External {
                rule,
                reason: "is external: its matches are given, it has no filter to edit".into(),
            });
        }
        let at = self.now();
        self.replace_rule(actor, rule, filter, at)
    }

    pub(super) fn exec_detach_rule(&mut self, actor: &Actor, rule: RuleId) -> Result<Changes, SegmentError> {
        let segment = self.rule_visible(actor, rule, Action::EditRules)?;
        self.managed(actor, segment, Action::EditRules)?;
        let at = self.now();
        let s = self.info_mut(segment)?;
        if s.filter_rule == Some(rule) {
            s.filter_rule = None;
        }
        Ok(self.drop_rule(rule, at))
    }

    // ---- internals ----

    pub(super) fn unblock(&mut self, segment: SegmentId, only: Option<RoaringBitmap>) -> Result<Changes, SegmentError> {
        let at = self.now();
        self.segment_ref(segment)?;
        let mut deltas = Deltas::new();
        for (rule, freed) in self.book.unblock(segment, only.as_ref()) {
            self.relink(rule, Some(&freed), at, &mut deltas);
        }
        Ok(self.settle(deltas, at))
    }

    /// The trimmed name, if no other segment of the scope (a visibility
    /// and an owner) has it: public names are unique among public
    /// segments, private names among the owner's private segments.
    fn check_name(
        &self,
        name: &str,
        (visibility, owner): (Visibility, &str),
        except: Option<SegmentId>,
    ) -> Result<String, SegmentError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(SegmentError::EmptyName);
        }
        let same_scope =
            |i: &SegmentInfo| i.visibility == visibility && (visibility == Visibility::Public || i.owner == owner);
        match self
            .book
            .segments()
            .values()
            .find(|s| s.info.name == name && Some(s.info.id) != except && same_scope(&s.info))
        {
            Some(s) => Err(SegmentError::DuplicateName {
                name: name.to_string(),
                existing: s.info.id,
            }),
            None => Ok(name.to_string()),
        }
    }

    /// The segments `segment`'s rules name that a segment seen as `this`
    /// (its visibility, owner and sharing, as they would be) may not name.
    fn unnameable_by(&self, segment: SegmentId, this: Home<'_>) -> Vec<SegmentId> {
        self.book
            .named_by(segment)
            .into_iter()
            .filter(|id| self.book.segment(*id).is_some_and(|t| !may_name(this, Home::of(t))))
            .collect()
    }

    /// The segments whose rules name `segment` that may not name it, seen
    /// as `this`.
    fn unable_to_name(&self, segment: SegmentId, this: Home<'_>) -> Vec<SegmentId> {
        self.book
            .naming(segment)
            .into_iter()
            .filter(|id| self.book.segment(*id).is_some_and(|t| !may_name(Home::of(t), this)))
            .collect()
    }

    /// Checks that changing `segment` to `visibility` lets nobody read a
    /// private segment through a rule.
    fn check_visibility(&self, actor: &Actor, segment: SegmentId, visibility: Visibility) -> Result<(), SegmentError> {
        let s = self.segment_ref(segment)?;
        let this = Home {
            visibility,
            ..Home::of(s)
        };
        let problem = match visibility {
            Visibility::Public => {
                let named = self.unnameable_by(segment, this);
                if named.is_empty() {
                    return Ok(());
                }
                format!("its rules name the private {}", self.describe(actor, named.iter()))
            }
            Visibility::Private => {
                let naming = self.unable_to_name(segment, this);
                if naming.is_empty() {
                    return Ok(());
                }
                format!(
                    "it is named by the rules of {}, public, of other owners or shared with others",
                    self.describe(actor, naming.iter())
                )
            }
        };
        Err(SegmentError::VisibilityConflict {
            segment,
            visibility,
            problem,
        })
    }

    /// Rules for an error message to the service (schema and event changes
    /// have no actor), each with its segment: `` rule 3 of `At risk` (segment 1) ``.
    pub(super) fn describe_rules(&self, rules: &[RuleId]) -> String {
        rules
            .iter()
            .map(|r| {
                let s = self.book.rules().get(r).and_then(|r| self.book.segment(r.info.segment));
                match s {
                    Some(s) => format!("{r} of `{}` ({})", s.info.name, s.info.id),
                    None => r.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Segments for an error message to `actor`: those it may see by name
    /// and id, the others only counted.
    pub(super) fn describe<'a>(&self, actor: &Actor, ids: impl Iterator<Item = &'a SegmentId>) -> String {
        let mut named = Vec::new();
        let mut hidden = 0;
        for s in ids.filter_map(|id| self.book.segment(*id)) {
            if actor.may_view(&s.info) {
                named.push(format!("`{}` ({})", s.info.name, s.info.id));
            } else {
                hidden += 1;
            }
        }
        match hidden {
            0 => {}
            1 => named.push("1 segment the actor may not see".into()),
            n => named.push(format!("{n} segments the actor may not see")),
        }
        named.join(", ")
    }

    /// Validates a filter for a rule of `segment` (named `name`, of `kind`),
    /// and the segments it names: with a `reader`, only segments it may see,
    /// and only as the information-flow rule allows. Segments named by name
    /// are resolved first; the filter comes back with their ids, as saved.
    pub(super) fn plan(
        &self,
        filter: Filter,
        kind: usize,
        segment: SegmentId,
        name: &str,
        reader: Option<Reader<'_>>,
    ) -> Result<(Filter, Plan), SegmentError> {
        let filter = self
            .resolve_names(&filter, reader.as_ref().map(|r| r.actor))?
            .unwrap_or(filter);
        let plan = self.validated(&filter, kind, segment, name, reader)?;
        Ok((filter, plan))
    }

    /// As [`Engine::plan`] for a filter as saved (segments by id), as a
    /// snapshot holds it.
    pub(super) fn validated(
        &self,
        filter: &Filter,
        kind: usize,
        segment: SegmentId,
        name: &str,
        reader: Option<Reader<'_>>,
    ) -> Result<Plan, SegmentError> {
        let schema = self.store.schema();
        let plan =
            Plan::in_schema(filter, schema, schema.kind_arcs()[kind].name(), &self.policy).map_err(|source| {
                SegmentError::Filter {
                    segment: name.to_string(),
                    source: Box::new(source),
                }
            })?;
        self.check_refs(segment, name, kind, &plan, reader)?;
        Ok(plan)
    }

    pub(super) fn segment_ref(&self, id: SegmentId) -> Result<&SegmentState, SegmentError> {
        self.book
            .segment(id)
            .ok_or(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(id)))
    }

    /// A segment's description, to edit ([`Book::info_mut`](crate::segment::book::Book::info_mut)).
    fn info_mut(&mut self, id: SegmentId) -> Result<&mut SegmentInfo, SegmentError> {
        self.book
            .info_mut(id)
            .ok_or(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(id)))
    }

    pub(super) fn rule_ref(&self, id: RuleId) -> Result<&RuleState, SegmentError> {
        self.book.rule(id).ok_or(SegmentError::UnknownRule { id })
    }

    fn rule_segment(&self, rule: RuleId) -> Result<SegmentId, SegmentError> {
        Ok(self.rule_ref(rule)?.info.segment)
    }

    /// The segment, if `actor` may see it; otherwise the one refusal that
    /// is the same whether the segment exists or not.
    pub(super) fn visible(
        &self,
        actor: &Actor,
        segment: SegmentId,
        action: Action,
    ) -> Result<&SegmentState, SegmentError> {
        match self.book.segment(segment) {
            Some(s) if actor.may_view(&s.info) => Ok(s),
            // Admins and leaders see every segment: nothing to hide.
            _ if actor.manages_all() => Err(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(segment))),
            _ => Err(denied(actor, action, segment.to_string())),
        }
    }

    /// The segment of `rule`, if `actor` may see it; otherwise a refusal
    /// that is the same whether the rule exists or not.
    pub(super) fn rule_visible(&self, actor: &Actor, rule: RuleId, action: Action) -> Result<SegmentId, SegmentError> {
        match self.book.rule(rule) {
            Some(r)
                if self
                    .book
                    .segments()
                    .get(&r.info.segment)
                    .is_some_and(|s| actor.may_view(&s.info)) =>
            {
                Ok(r.info.segment)
            }
            _ if actor.manages_all() => Err(SegmentError::UnknownRule { id: rule }),
            _ => Err(denied(actor, action, rule.to_string())),
        }
    }

    /// The segment, if `actor` may take `action` on it: it may see it, and
    /// may edit it ([`Actor::may_edit`]) or, for what only owners do
    /// (delete, visibility, sharing, moving), own it ([`Actor::may_own`]).
    pub(super) fn managed(
        &self,
        actor: &Actor,
        segment: SegmentId,
        action: Action,
    ) -> Result<&SegmentState, SegmentError> {
        let s = self.visible(actor, segment, action)?;
        let owners_only = matches!(
            action,
            Action::Delete | Action::SetVisibility | Action::Share | Action::Move
        );
        if actor.may_own(&s.info) || (!owners_only && actor.may_edit(&s.info)) {
            Ok(s)
        } else {
            Err(denied(actor, action, format!("{segment} `{}`", s.info.name)))
        }
    }

    pub(super) fn exec_set_access(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        access: SegmentAccess,
    ) -> Result<(), SegmentError> {
        let s = self.managed(actor, segment, Action::Share)?;
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
            let named = self.unnameable_by(segment, this);
            if !named.is_empty() {
                return Err(SegmentError::BadAccess {
                    segment,
                    problem: format!(
                        "its rules name {}, which are not shared with all of them",
                        self.describe(actor, named.iter())
                    ),
                });
            }
            let naming = self.unable_to_name(segment, this);
            if !naming.is_empty() {
                return Err(SegmentError::BadAccess {
                    segment,
                    problem: format!(
                        "{} name it and are shared with others",
                        self.describe(actor, naming.iter())
                    ),
                });
            }
        }
        let at = self.now();
        let s = self.info_mut(segment)?;
        s.access = access;
        s.updated = at;
        Ok(())
    }

    pub(super) fn ids_of<K: AsRef<str>>(
        &self,
        actor: &Actor,
        segment: SegmentId,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<RoaringBitmap, SegmentError> {
        let s = self.managed(actor, segment, Action::EditMembers)?;
        let table = self.table_at(s.kind);
        let mut ids = RoaringBitmap::new();
        for key in keys {
            let key = key.as_ref();
            match table.id(key) {
                Some(id) => ids.insert(id.0),
                None => {
                    return Err(SegmentError::UnknownKey {
                        kind: s.info.kind.clone(),
                        key: key.to_string(),
                    })
                }
            };
        }
        Ok(ids)
    }

    pub(super) fn check_ids(&self, actor: &Actor, segment: SegmentId, ids: &RoaringBitmap) -> Result<(), SegmentError> {
        let s = self.managed(actor, segment, Action::EditMembers)?;
        match (ids - self.table_at(s.kind).live()).min() {
            Some(id) => Err(SegmentError::UnknownEntity {
                kind: s.info.kind.clone(),
                id,
            }),
            None => Ok(()),
        }
    }

    pub(super) fn add_manual(&mut self, segment: SegmentId, ids: RoaringBitmap) -> Changes {
        let at = self.now();
        let deltas = self.book.add_manual(segment, ids);
        self.settle(deltas, at)
    }

    pub(super) fn remove_manual(&mut self, segment: SegmentId, ids: &RoaringBitmap) -> Changes {
        let at = self.now();
        let deltas = self.book.remove_manual(segment, ids);
        self.settle(deltas, at)
    }

    /// Registers a validated rule on a segment and links its matches.
    fn add_rule(&mut self, segment: SegmentId, filter: Filter, plan: Plan, at: crate::Timestamp) -> (RuleId, Changes) {
        self.add_rule_state(segment, at, |id, kind| RuleState::new(id, segment, kind, filter, plan))
    }

    /// Registers the rule `make` makes (given its id and kind) on a
    /// segment and links its matches.
    fn add_rule_state(
        &mut self,
        segment: SegmentId,
        at: crate::Timestamp,
        make: impl FnOnce(RuleId, usize) -> RuleState,
    ) -> (RuleId, Changes) {
        let (id, added) = self.book.add_rule(segment, at, make);
        let Some((kind, plan)) = added.map(|r| (r.kind, r.plan.clone())) else {
            return (id, Changes::new(at));
        };
        self.index_rule(id, kind, &plan);
        let mut deltas = Deltas::new();
        self.relink(id, None, at, &mut deltas);
        (id, self.settle(deltas, at))
    }

    fn replace_rule(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        filter: Filter,
        at: crate::Timestamp,
    ) -> Result<Changes, SegmentError> {
        let segment = self.rule_segment(rule)?;
        let s = self.segment_ref(segment)?;
        let (filter, plan) = self.plan(filter, s.kind, segment, &s.info.name, Some(Reader::of(actor, s)))?;
        let kind = s.kind;
        let old = self.rule_ref(rule)?.plan.clone();
        self.unindex_rule(rule, kind, &old);
        self.index_rule(rule, kind, &plan);
        self.book.replan(rule, Some(filter), plan);
        self.info_mut(segment)?.updated = at;
        let mut deltas = Deltas::new();
        self.relink(rule, None, at, &mut deltas);
        Ok(self.settle(deltas, at))
    }

    /// Unregisters a rule; its links go.
    fn drop_rule(&mut self, rule: RuleId, at: crate::Timestamp) -> Changes {
        let Some(r) = self.unregister(rule) else {
            return Changes::new(at);
        };
        let deltas = self.book.detach(r, at);
        self.book.rerank();
        self.settle(deltas, at)
    }

    /// Removes a rule and its index entries; the caller reranks once.
    fn unregister(&mut self, rule: RuleId) -> Option<RuleState> {
        let r = self.book.take_rule(rule)?;
        self.unindex_rule(rule, r.kind, &r.plan);
        Some(r)
    }
}

/// On whose behalf a filter is saved or evaluated: the actor that asks,
/// and for a saved filter, who sees its results (the visibility and owner
/// of its segment).
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'a> {
    pub(super) actor: &'a Actor,
    pub(super) home: Option<Home<'a>>,
}

/// Who sees a segment: its visibility, owner and grants.
#[derive(Debug, Clone, Copy)]
pub(super) struct Home<'a> {
    pub(super) visibility: Visibility,
    pub(super) owner: &'a str,
    pub(super) access: &'a SegmentAccess,
}

impl<'a> Home<'a> {
    pub(super) fn of(s: &'a SegmentState) -> Home<'a> {
        Home {
            visibility: s.info.visibility,
            owner: &s.info.owner,
            access: &s.info.access,
        }
    }
}

impl<'a> Reader<'a> {
    /// `actor`, saving a rule of `segment`.
    pub(super) fn of(actor: &'a Actor, segment: &'a SegmentState) -> Reader<'a> {
        Reader {
            actor,
            home: Some(Home::of(segment)),
        }
    }
}

/// Whether a segment of `home` may name a segment of `target`, so that
/// everybody who sees the one may see the other: a public segment names
/// only public segments, a private one also its owner's private segments
/// that are shared with everyone it is shared with.
pub(super) fn may_name(home: Home<'_>, target: Home<'_>) -> bool {
    target.visibility == Visibility::Public
        || (home.visibility == Visibility::Private
            && target.owner == home.owner
            && home.access.grantees().all(|g| target.access.grants(g)))
}

pub(super) fn denied(actor: &Actor, action: Action, target: String) -> SegmentError {
    SegmentError::Denied {
        actor: actor.id.clone(),
        role: actor.role,
        action,
        target,
    }
}
