//! The checks of management, read only: who may see or change a segment
//! or rule (the one place access is decided), whether a name is free,
//! whether a filter is valid for a rule and names only segments its reader
//! may see and its segment may name, and the listing an actor gets.
//!
//! A [`Guard`] borrows the store, the book and the policy; the management
//! executor asks it before it changes the book, and the read handles ask it
//! before they answer an actor.

use roaring::RoaringBitmap;

use crate::error::SegmentError;
use crate::filter::{LimitPolicy, Plan};
use crate::segment::book::{Book, RuleState, SegmentState};
use crate::segment::{Action, Actor, RuleId, SegmentAccess, SegmentId, SegmentInfo, Visibility};
use crate::store::Store;
use crate::Filter;

/// The engine's parts the checks read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Guard<'a> {
    pub(super) store: &'a Store,
    pub(super) book: &'a Book,
    pub(super) policy: &'a LimitPolicy,
}

impl<'a> Guard<'a> {
    /// The segment named `name` among those listed for `actor`. Names are
    /// compared exactly, as they were saved: case, accents and inner spaces
    /// count, and only the ends of `name` are trimmed (as a name is trimmed
    /// when it is saved). Where several listed segments share the name (a
    /// public one and a private one may), the first in the book's order.
    pub(super) fn named(self, actor: Option<&'a Actor>, name: &str) -> Result<&'a SegmentInfo, SegmentError> {
        let name = name.trim();
        self.listed(actor)
            .find(|s| s.name == name)
            .ok_or_else(|| SegmentError::UnknownSegmentName { name: name.to_string() })
    }

    /// The segments listed for `actor` (every one without), in the book's
    /// order: public ones, its own, and those shared with it.
    pub(super) fn listed(self, actor: Option<&'a Actor>) -> impl Iterator<Item = &'a SegmentInfo> + 'a {
        let book = self.book;
        book.order()
            .iter()
            .filter_map(move |id| book.segment(*id))
            .map(|s| &s.info)
            .filter(move |i| {
                actor.map_or(true, |actor| {
                    i.visibility == Visibility::Public
                        || i.owner == actor.id
                        || i.access.grantees().any(|g| actor.is(g))
                })
            })
    }

    /// The trimmed name, if no other segment of the scope (a visibility
    /// and an owner) has it: public names are unique among public
    /// segments, private names among the owner's private segments.
    pub(super) fn check_name(
        self,
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
    pub(super) fn unnameable_by(self, segment: SegmentId, this: Home<'_>) -> Vec<SegmentId> {
        self.book
            .named_by(segment)
            .into_iter()
            .filter(|id| self.book.segment(*id).is_some_and(|t| !may_name(this, Home::of(t))))
            .collect()
    }

    /// The segments whose rules name `segment` that may not name it, seen
    /// as `this`.
    pub(super) fn unable_to_name(self, segment: SegmentId, this: Home<'_>) -> Vec<SegmentId> {
        self.book
            .naming(segment)
            .into_iter()
            .filter(|id| self.book.segment(*id).is_some_and(|t| !may_name(Home::of(t), this)))
            .collect()
    }

    /// Checks that changing `segment` to `visibility` lets nobody read a
    /// private segment through a rule.
    pub(super) fn check_visibility(
        self,
        actor: &Actor,
        segment: SegmentId,
        visibility: Visibility,
    ) -> Result<(), SegmentError> {
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

    /// Segments for an error message to `actor`: those it may see by name
    /// and id, the others only counted.
    pub(super) fn describe<'b>(self, actor: &Actor, ids: impl Iterator<Item = &'b SegmentId>) -> String {
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
        self,
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

    /// As [`Guard::plan`] for a filter as saved (segments by id), as a
    /// snapshot holds it.
    pub(super) fn validated(
        self,
        filter: &Filter,
        kind: usize,
        segment: SegmentId,
        name: &str,
        reader: Option<Reader<'_>>,
    ) -> Result<Plan, SegmentError> {
        let schema = self.store.schema();
        let plan = Plan::in_schema(filter, schema, schema.kind_arcs()[kind].name(), self.policy).map_err(|source| {
            SegmentError::Filter {
                segment: name.to_string(),
                source: Box::new(source),
            }
        })?;
        self.check_refs(segment, name, kind, &plan, reader)?;
        Ok(plan)
    }

    pub(super) fn segment_ref(self, id: SegmentId) -> Result<&'a SegmentState, SegmentError> {
        self.book
            .segment(id)
            .ok_or(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(id)))
    }

    pub(super) fn rule_ref(self, id: RuleId) -> Result<&'a RuleState, SegmentError> {
        self.book.rule(id).ok_or(SegmentError::UnknownRule { id })
    }

    pub(super) fn rule_segment(self, rule: RuleId) -> Result<SegmentId, SegmentError> {
        Ok(self.rule_ref(rule)?.info.segment)
    }

    /// The segment, if `actor` may see it; otherwise the one refusal that
    /// is the same whether the segment exists or not.
    pub(super) fn visible(
        self,
        actor: &Actor,
        segment: SegmentId,
        action: Action,
    ) -> Result<&'a SegmentState, SegmentError> {
        match self.book.segment(segment) {
            Some(s) if actor.may_view(&s.info) => Ok(s),
            // Admins and leaders see every segment: nothing to hide.
            _ if actor.manages_all() => Err(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(segment))),
            _ => Err(denied(actor, action, segment.to_string())),
        }
    }

    /// The segment of `rule`, if `actor` may see it; otherwise a refusal
    /// that is the same whether the rule exists or not.
    pub(super) fn rule_visible(self, actor: &Actor, rule: RuleId, action: Action) -> Result<SegmentId, SegmentError> {
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
        self,
        actor: &Actor,
        segment: SegmentId,
        action: Action,
    ) -> Result<&'a SegmentState, SegmentError> {
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

    pub(super) fn ids_of<K: AsRef<str>>(
        self,
        actor: &Actor,
        segment: SegmentId,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<RoaringBitmap, SegmentError> {
        let s = self.managed(actor, segment, Action::EditMembers)?;
        let table = &self.store.tables()[s.kind];
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

    pub(super) fn check_ids(self, actor: &Actor, segment: SegmentId, ids: &RoaringBitmap) -> Result<(), SegmentError> {
        let s = self.managed(actor, segment, Action::EditMembers)?;
        match (ids - self.store.tables()[s.kind].live()).min() {
            Some(id) => Err(SegmentError::UnknownEntity {
                kind: s.info.kind.clone(),
                id,
            }),
            None => Ok(()),
        }
    }

    /// The external rule `rule`'s segment and its kind's ids of `keys`, if
    /// `actor` may edit its rules.
    pub(super) fn external_ids(
        self,
        actor: &Actor,
        rule: RuleId,
        keys: &[String],
    ) -> Result<RoaringBitmap, SegmentError> {
        let segment = self.rule_visible(actor, rule, Action::EditRules)?;
        let s = self.managed(actor, segment, Action::EditRules)?;
        if self.rule_ref(rule)?.external.is_none() {
            return Err(SegmentError::External {
                rule,
                reason: "has a filter: only an external rule's matches are given".into(),
            });
        }
        let table = &self.store.tables()[s.kind];
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

    /// Checks the segments a new plan of `segment`'s rule names: each
    /// exists, is of the kind the plan tests there, and naming it makes no
    /// cycle. With a `reader`, each is one the actor may see (else
    /// [`SegmentError::Denied`], the same whether it exists or not), and
    /// for a saved rule, one that everybody who sees `segment` may see: a
    /// public segment, or a private one of the same owner named by a
    /// private segment.
    pub(super) fn check_refs(
        self,
        segment: SegmentId,
        segment_name: &str,
        kind: usize,
        plan: &Plan,
        reader: Option<Reader<'_>>,
    ) -> Result<(), SegmentError> {
        let relations = self.store.schema().relations();
        let name = |id: SegmentId| {
            self.book
                .segment(id)
                .map_or(segment_name.to_string(), |s| s.info.name.clone())
        };
        for (chain, s) in plan.segment_refs() {
            let want = chain.last().map_or(kind, |&r| relations[r.index()].child.0 as usize);
            let found = self.book.segment(s);
            if let Some(r) = reader {
                if !r.actor.manages_all() && !found.is_some_and(|t| r.actor.may_view(&t.info)) {
                    return Err(denied(r.actor, Action::View, s.to_string()));
                }
                if let (Some(t), Some(home)) = (found, r.home) {
                    if !may_name(home, Home::of(t)) {
                        return Err(SegmentError::BadReference {
                            segment: name(segment),
                            referenced: s,
                            problem: format!(
                                "it is private to `{}`: a public segment may name only public segments, \
                                 a private one also its owner's private segments shared with everyone it is",
                                t.info.owner
                            ),
                        });
                    }
                }
            }
            let Some(target) = found else {
                return Err(SegmentError::BadReference {
                    segment: name(segment),
                    referenced: s,
                    problem: "no such segment".into(),
                });
            };
            if target.kind != want {
                let kinds = self.store.schema().kind_arcs();
                return Err(SegmentError::BadReference {
                    segment: name(segment),
                    referenced: s,
                    problem: format!(
                        "it holds `{}` entities where the filter tests `{}` entities",
                        kinds[target.kind].name(),
                        kinds[want].name()
                    ),
                });
            }
            if let Some(path) = self.book.path_between(s, segment) {
                let mut cycle = vec![segment];
                cycle.extend(path);
                let text: Vec<String> = cycle.iter().map(|id| format!("`{}` ({id})", name(*id))).collect();
                return Err(SegmentError::Cycle {
                    cycle: text.join(" -> "),
                });
            }
        }
        Ok(())
    }

    /// `filter` with the segments its `@segment` rules name by name (a
    /// string, or strings in the list) replaced by their ids; `None` when it
    /// names none by name. With an `actor`, only the segments listed for it
    /// are found (a private segment of another is as unknown as a missing
    /// one). A filter deeper than the policy is left to validation, which
    /// refuses it before anything recurses.
    pub(super) fn resolve_names(
        self,
        filter: &crate::Filter,
        actor: Option<&crate::segment::Actor>,
    ) -> Result<Option<crate::Filter>, SegmentError> {
        if crate::filter::deeper_than(filter, self.policy.max_depth()) || !names_segments(filter) {
            return Ok(None);
        }
        let mut out = filter.clone();
        self.resolve_in(&mut out, actor)?;
        Ok(Some(out))
    }

    pub(super) fn resolve_in(
        self,
        g: &mut crate::Filter,
        actor: Option<&crate::segment::Actor>,
    ) -> Result<(), SegmentError> {
        use crate::filter::{Literal, Node};
        let find = |name: &str| -> Result<Literal, SegmentError> {
            self.named(actor, name).map(|s| Literal::Int(s.id.0.into()))
        };
        for n in &mut g.rules {
            match n {
                Node::Group(h) => self.resolve_in(h, actor)?,
                Node::Rule(r) if r.field == "@segment" => match &mut r.value {
                    Some(Literal::String(s)) => r.value = Some(find(s)?),
                    Some(Literal::List(xs)) => {
                        for x in xs.iter_mut() {
                            if let Literal::String(s) = x {
                                *x = find(s)?;
                            }
                        }
                    }
                    _ => {}
                },
                Node::Rule(r) => match &mut r.value {
                    Some(Literal::Nested(nested)) => self.resolve_in(&mut nested.filter, actor)?,
                    Some(Literal::Match(m)) => self.resolve_in(&mut m.filter, actor)?,
                    Some(Literal::Where(w)) => self.resolve_in(&mut w.filter, actor)?,
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

/// Whether an `@segment` rule anywhere in `filter` names a segment by name.
fn names_segments(filter: &crate::Filter) -> bool {
    use crate::filter::{Literal, Node};
    let mut stack = vec![filter];
    while let Some(g) = stack.pop() {
        for n in &g.rules {
            match n {
                Node::Group(h) => stack.push(h),
                Node::Rule(r) => match &r.value {
                    Some(Literal::String(_)) if r.field == "@segment" => return true,
                    Some(Literal::List(xs))
                        if r.field == "@segment" && xs.iter().any(|x| matches!(x, Literal::String(_))) =>
                    {
                        return true
                    }
                    _ => stack.extend(crate::Filter::nested_in(r)),
                },
            }
        }
    }
    false
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
