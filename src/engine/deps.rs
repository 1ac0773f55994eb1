//! The dependency index: per kind, which rules read which field or event
//! (their own kind's, or a related kind's through a nested filter), so that
//! a write re-evaluates only the rules it can change.

use std::collections::BTreeMap;
use std::ops::Index;

use crate::filter::Plan;
use crate::schema::{FieldId, Relation, RelationId, Schema};
use crate::segment::RuleId;

/// The index of every kind: it owns its lists and keeps them current as
/// rules are indexed and unindexed (every list sorted by rule id, each
/// nested read listed under the kind it reads).
#[derive(Debug, Clone)]
pub(super) struct Deps(Vec<KindDeps>);

impl Deps {
    /// An empty index over `schema`'s kinds.
    pub(super) fn new(schema: &Schema) -> Deps {
        Deps(schema.kinds().map(|k| KindDeps::new(k.len())).collect())
    }

    /// Indexes a rule of `kind` under everything its plan reads: its own
    /// kind's fields and events, the related kinds' fields and events.
    pub(super) fn index(&mut self, relations: &[Relation], rule: RuleId, kind: usize, plan: &Plan) {
        self.0[kind].add(rule, plan);
        for nr in plan.nested_reads() {
            let Some(&last) = nr.chain.last() else { continue };
            let child = relations[last.index()].child.0 as usize;
            self.0[child].nested.push(NestedDep {
                rule,
                chain: nr.chain,
                fields: nr.fields,
                events: nr.events,
            });
        }
    }

    /// Undoes [`Deps::index`].
    pub(super) fn unindex(&mut self, rule: RuleId, kind: usize, plan: &Plan) {
        self.0[kind].remove(rule, plan);
        for d in &mut self.0 {
            d.nested.retain(|n| n.rule != rule);
        }
    }
}

impl Index<usize> for Deps {
    type Output = KindDeps;

    fn index(&self, kind: usize) -> &KindDeps {
        &self.0[kind]
    }
}

/// Every list is sorted by rule id.
#[derive(Debug, Clone)]
pub(super) struct KindDeps {
    /// Per field: the rules that read it.
    fields: Vec<Vec<RuleId>>,
    /// Per event name: the rules that read it.
    events: BTreeMap<String, Vec<RuleId>>,
    /// The rules that read any event (`@firstSeen`, `@lastSeen`).
    any_event: Vec<RuleId>,
    /// Every rule over the kind.
    all: Vec<RuleId>,
    /// Rules of other kinds whose nested filters read this kind, by id.
    pub(super) nested: Vec<NestedDep>,
}

/// A rule that quantifies over this kind through a chain of relations.
#[derive(Debug, Clone)]
pub(super) struct NestedDep {
    pub rule: RuleId,
    /// Relation indexes, outermost first; the last one's child is this kind.
    pub chain: Vec<RelationId>,
    /// The fields of this kind the nested filter reads.
    pub fields: Vec<FieldId>,
    /// The events; `None` for any event.
    pub events: Vec<Option<String>>,
}

impl NestedDep {
    /// Whether a write of `fields` (or a change of the relation field
    /// `relation_field`) can change the rule's result.
    pub(super) fn reads_fields(&self, fields: &[FieldId], relation_field: FieldId) -> bool {
        fields
            .iter()
            .any(|f| *f == relation_field || self.fields.binary_search(f).is_ok())
    }

    /// Whether the rule reads event `name`.
    pub(super) fn reads_event(&self, name: &str) -> bool {
        self.events.iter().any(|e| e.as_deref().map_or(true, |e| e == name))
    }
}

fn insert(list: &mut Vec<RuleId>, rule: RuleId) {
    let at = list.partition_point(|&x| x < rule);
    list.insert(at, rule);
}

fn remove(list: &mut Vec<RuleId>, rule: RuleId) {
    list.retain(|&x| x != rule);
}

impl KindDeps {
    pub(super) fn new(fields: usize) -> KindDeps {
        KindDeps {
            fields: vec![Vec::new(); fields],
            events: BTreeMap::new(),
            any_event: Vec::new(),
            all: Vec::new(),
            nested: Vec::new(),
        }
    }

    /// Indexes `rule` under what `plan` reads.
    pub(super) fn add(&mut self, rule: RuleId, plan: &Plan) {
        for f in plan.fields() {
            insert(&mut self.fields[f.index()], rule);
        }
        for e in plan.events() {
            match e {
                Some(name) => insert(self.events.entry(name).or_default(), rule),
                None => insert(&mut self.any_event, rule),
            }
        }
        insert(&mut self.all, rule);
    }

    /// Removes `rule`, indexed under what `plan` reads.
    pub(super) fn remove(&mut self, rule: RuleId, plan: &Plan) {
        for f in plan.fields() {
            remove(&mut self.fields[f.index()], rule);
        }
        for e in plan.events() {
            match e {
                Some(name) => {
                    if let Some(list) = self.events.get_mut(&name) {
                        remove(list, rule);
                    }
                }
                None => remove(&mut self.any_event, rule),
            }
        }
        remove(&mut self.all, rule);
    }

    /// The rules that read any of `fields`, sorted, each once.
    pub(super) fn of_fields(&self, fields: &[FieldId]) -> Vec<RuleId> {
        let mut out: Vec<RuleId> = fields.iter().flat_map(|f| &self.fields[f.index()]).copied().collect();
        if fields.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// The rules that read event `name` by name, sorted.
    pub(super) fn of_named_event(&self, name: &str) -> &[RuleId] {
        self.events.get(name).map_or(&[][..], Vec::as_slice)
    }

    /// The rules that read event `name` or any event, sorted.
    pub(super) fn of_event(&self, name: &str) -> Vec<RuleId> {
        let named = self.of_named_event(name);
        let mut out: Vec<RuleId> = named.iter().chain(&self.any_event).copied().collect();
        out.sort_unstable();
        out
    }

    /// The rules that read any event (`@firstSeen`, `@lastSeen`).
    pub(super) fn any_event(&self) -> &[RuleId] {
        &self.any_event
    }

    /// Every rule over the kind.
    pub(super) fn all(&self) -> &[RuleId] {
        &self.all
    }
}
