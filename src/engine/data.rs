//! Writes to entities, each followed by the membership changes it caused.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::{Deltas, Engine};
use crate::error::StoreError;
use crate::segment::{Changes, RuleId};
use crate::store::{Table, Written};
use crate::value::Timestamp;

impl Engine {
    /// Sets the longest line of JSON Lines input every kind accepts (see
    /// [`Table::set_max_line_bytes`]).
    pub fn set_max_line_bytes(&mut self, limit: usize) {
        for t in self.store.tables_mut() {
            t.set_max_line_bytes(limit);
        }
    }

    /// Deletes live, distinct entities (checked first, so that a refusal
    /// changes nothing): each exits every segment
    /// ([`Cause::EntityDeleted`]), and their manual links and blocks go.
    pub(super) fn delete_keys(&mut self, kind: &str, keys: &[String]) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let table = &self.store.tables()[k];
        let mut gone = RoaringBitmap::new();
        for key in keys {
            let id = table
                .id(key)
                .ok_or_else(|| StoreError::UnknownKey { key: key.clone() })?
                .0;
            if !gone.insert(id) {
                return Err(StoreError::DuplicateKey { key: key.clone() });
            }
        }
        // Every relation let go while all of them are still live.
        let mut left = vec![RoaringBitmap::new(); self.store.parents().len()];
        for id in &gone {
            for (all, l) in left.iter_mut().zip(self.store.orphan(k, id)) {
                *all |= l;
            }
        }
        for key in keys {
            self.store.tables_mut()[k].delete(key)?;
        }
        let at = self.now();
        let mut deltas = self.book.forget(k, &gone);
        // Rules over their parents count them no more.
        for (r, scope) in self.nested_scopes(k, &gone, &left, |_| true) {
            self.relink(r, Some(&scope), at, &mut deltas);
        }
        Ok(self.settle(deltas, at))
    }

    /// Records events, all or none, and re-evaluates the rules that read them.
    pub(super) fn record<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        kind: &str,
        events: &[(K, E, Timestamp)],
        props: Option<&[crate::store::Properties]>,
    ) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let ids = self.store.tables_mut()[k].record_slice(events, props)?;
        let now = self.now();
        let nested = if self.deps[k].nested.is_empty() {
            Vec::new()
        } else {
            let did: RoaringBitmap = ids.iter().map(|id| id.0).collect();
            let names: Vec<&str> = events.iter().map(|(_, e, _)| e.as_ref()).collect();
            self.nested_scopes(k, &did, &[], |d| names.iter().any(|n| d.reads_event(n)))
        };
        if let ([id], [(_, event, _)], true) = (&ids[..], events, nested.is_empty()) {
            // One event: no bitmap per rule, just the rules to test.
            let rules = self.deps[k].of_event(event.as_ref());
            return Ok(self.relink_one(&rules, id.0, now));
        }
        // The rules that read each event name, with the entities that did it.
        let mut touched: BTreeMap<RuleId, RoaringBitmap> = BTreeMap::new();
        for (id, (_, event, _)) in ids.iter().zip(events) {
            for r in self.deps[k].of_event(event.as_ref()) {
                touched.entry(r).or_default().insert(id.0);
            }
        }
        let mut deltas = Deltas::new();
        for (r, scope) in touched.into_iter().chain(nested) {
            self.relink(r, Some(&scope), now, &mut deltas);
        }
        Ok(self.settle(deltas, now))
    }

    /// Drops a kind's events before `before` and re-evaluates, for the
    /// entities that lost some, the rules that read those events (nested
    /// ones of parent kinds too).
    pub(super) fn drop_events(&mut self, kind: &str, before: Timestamp) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let lost = self.store.tables_mut()[k].drop_events_before(before);
        let now = self.now();
        let mut touched: BTreeMap<RuleId, RoaringBitmap> = BTreeMap::new();
        let mut did = RoaringBitmap::new();
        for (name, who) in &lost {
            for r in self.deps[k].of_event(name) {
                *touched.entry(r).or_default() |= who;
            }
            did |= who;
        }
        let nested = if self.deps[k].nested.is_empty() || did.is_empty() {
            Vec::new()
        } else {
            self.nested_scopes(k, &did, &[], |d| lost.iter().any(|(n, _)| d.reads_event(n)))
        };
        let mut deltas = Deltas::new();
        for (r, scope) in touched.into_iter().chain(nested) {
            self.relink(r, Some(&scope), now, &mut deltas);
        }
        Ok(self.settle(deltas, now))
    }

    /// Forgets an event name of a kind, refused while rules read it by
    /// name; the rules that read any event are re-evaluated for the
    /// entities that had one.
    pub(super) fn exec_forget_event(&mut self, kind: &str, event: &str) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let any: Vec<RuleId> = self.deps[k].any_event().to_vec();
        let mut readers: Vec<RuleId> = self.deps[k].of_named_event(event).to_vec();
        for d in &self.deps[k].nested {
            if d.events.iter().any(|e| e.as_deref() == Some(event)) {
                readers.push(d.rule);
            }
        }
        if !readers.is_empty() {
            readers.sort_unstable();
            readers.dedup();
            let rules = self.describe_rules(&readers);
            return Err(StoreError::EventInUse {
                event: event.to_string(),
                rules,
            });
        }
        let did = self.store.tables_mut()[k].forget_event(event);
        let now = self.now();
        let mut deltas = Deltas::new();
        if !did.is_empty() {
            let nested = if self.deps[k].nested.is_empty() {
                Vec::new()
            } else {
                self.nested_scopes(k, &did, &[], |d| d.reads_event(event))
            };
            let direct = any.into_iter().map(|r| (r, did.clone()));
            for (r, scope) in direct.chain(nested) {
                self.relink(r, Some(&scope), now, &mut deltas);
            }
        }
        Ok(self.settle(deltas, now))
    }

    pub(super) fn kind_for_write(&self, kind: &str) -> Result<usize, StoreError> {
        self.kind_index(kind)
            .ok_or_else(|| StoreError::UnknownKind(crate::error::UnknownKind::new(kind)))
    }

    pub(super) fn write(
        &mut self,
        kind: &str,
        op: impl FnOnce(&mut Table) -> Result<Written, StoreError>,
    ) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let written = op(&mut self.store.tables_mut()[k])?;
        Ok(self.after_write(k, &written))
    }

    /// Re-evaluates, for the entities written, the rules that read a field
    /// written; and for entities new to the live set, every rule of the kind.
    fn after_write(&mut self, k: usize, w: &Written) -> Changes {
        let at = self.now();
        self.store.tables_mut()[k].stamp_history(&w.ids, &w.fields, &w.born, at);
        let left = if self.store.parents().is_empty() {
            Vec::new()
        } else {
            self.store.reparent(k, &w.ids, &w.fields, &w.born)
        };
        let nested = if self.deps[k].nested.is_empty() {
            Vec::new()
        } else {
            let relations = self.store.schema().relations();
            let written: RoaringBitmap = w.ids.iter().copied().collect();
            self.nested_scopes(k, &written, &left, |d| {
                let field = d.chain.last().map(|&r| relations[r.index()].field);
                !w.born.is_empty() || field.is_some_and(|f| d.reads_fields(&w.fields, f))
            })
        };
        let deps = &self.deps[k];
        if let ([id], true) = (&w.ids[..], nested.is_empty()) {
            let id = *id;
            // A new entity is tested against every rule of its kind.
            let rules = if w.born.is_empty() {
                deps.of_fields(&w.fields)
            } else {
                deps.all().to_vec()
            };
            return self.relink_one(&rules, id, at);
        }
        let reading = deps.of_fields(&w.fields);
        let ids: RoaringBitmap = w.ids.iter().copied().collect();
        let born: RoaringBitmap = w.born.iter().copied().collect();
        let others: Vec<RuleId> = if born.is_empty() {
            Vec::new()
        } else {
            deps.all()
                .iter()
                .filter(|r| reading.binary_search(r).is_err())
                .copied()
                .collect()
        };
        let mut deltas = Deltas::new();
        for &r in &reading {
            self.relink(r, Some(&ids), at, &mut deltas);
        }
        for r in others {
            self.relink(r, Some(&born), at, &mut deltas);
        }
        for (r, scope) in nested {
            self.relink(r, Some(&scope), at, &mut deltas);
        }
        self.settle(deltas, at)
    }
}
