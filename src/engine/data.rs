//! The executor of data ops: writes to entities, each followed by the
//! membership changes it caused.
//!
//! It runs over the parts a data write needs and no others: the store
//! (written), the book (its links and members move), the dependency index
//! (which rules read what, read only) and the instant the op runs at. The
//! change log, the clock and the journal are the door's (`apply`).

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use super::deps::Deps;
use super::graph::nested_scopes;
use super::{relink, relink_one, settle, Deltas};
use crate::error::StoreError;
use crate::op::DataOp;
use crate::segment::book::Book;
use crate::segment::{Changes, RuleId};
use crate::store::{Store, Table, Written};
use crate::value::Timestamp;

/// A data op's executor: the parts it reads and writes.
pub(super) struct DataRun<'a> {
    pub(super) store: &'a mut Store,
    pub(super) book: &'a mut Book,
    pub(super) deps: &'a Deps,
    /// The instant the op runs at.
    pub(super) at: Timestamp,
}

impl DataRun<'_> {
    /// Runs a data op: the one function that runs entity writes.
    pub(super) fn run(&mut self, op: DataOp) -> Result<Changes, StoreError> {
        match op {
            DataOp::Insert { kind, key, row } => self.write(&kind, |t| t.write_one(&key, &row, false)),
            DataOp::Upsert { kind, key, row } => self.write(&kind, |t| t.write_one(&key, &row, true)),
            DataOp::UpsertJson { kind, json } => self.write(&kind, |t| t.upsert_json_report(&json)),
            DataOp::ClearField { kind, key, field } => self.write(&kind, |t| t.clear_field_report(&key, &field)),
            DataOp::InsertMany { kind, rows } => self.write(&kind, |t| t.write_many(rows, false)),
            DataOp::UpsertMany { kind, rows } => self.write(&kind, |t| t.write_many(rows, true)),
            DataOp::InsertJsonLines { kind, lines } => self.write(&kind, |t| t.write_json_lines(&lines[..], false)),
            DataOp::UpsertJsonLines { kind, lines } => self.write(&kind, |t| t.write_json_lines(&lines[..], true)),
            DataOp::Delete { kind, key } => self.delete_keys(&kind, &[key]),
            DataOp::DeleteMany { kind, keys } => self.delete_keys(&kind, &keys),
            DataOp::RecordEvent { kind, key, event, at } => self.record(&kind, &[(key, event, at)], None),
            DataOp::RecordEvents { kind, events } => {
                let (events, props): (Vec<(String, String, Timestamp)>, Vec<_>) = events
                    .into_iter()
                    .map(|e| ((e.key, e.event, e.at), e.properties))
                    .unzip();
                let props = props.iter().any(|p| !p.is_empty()).then_some(&props[..]);
                self.record(&kind, &events, props)
            }
            DataOp::DropEventsBefore { kind, before } => self.drop_events(&kind, before),
            DataOp::ForgetEvent { kind, event } => self.forget_event(&kind, &event),
        }
    }

    fn relink(&mut self, rule: RuleId, scope: &RoaringBitmap, deltas: &mut Deltas) {
        relink(self.store, self.book, rule, Some(scope), self.at, deltas);
    }

    fn settle(&mut self, deltas: Deltas) -> Changes {
        settle(self.store, self.book, deltas, self.at)
    }

    /// Deletes live, distinct entities (checked first, so that a refusal
    /// changes nothing): each exits every segment
    /// ([`Cause::EntityDeleted`]), and their manual links and blocks go.
    fn delete_keys(&mut self, kind: &str, keys: &[String]) -> Result<Changes, StoreError> {
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
        let mut deltas = self.book.forget(k, &gone);
        // Rules over their parents count them no more.
        for (r, scope) in nested_scopes(self.store, self.deps, k, &gone, &left, |_| true) {
            self.relink(r, &scope, &mut deltas);
        }
        Ok(self.settle(deltas))
    }

    /// Records events, all or none, and re-evaluates the rules that read them.
    fn record<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        kind: &str,
        events: &[(K, E, Timestamp)],
        props: Option<&[crate::store::Properties]>,
    ) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let ids = self.store.tables_mut()[k].record_slice(events, props)?;
        let nested = if self.deps[k].nested.is_empty() {
            Vec::new()
        } else {
            let did: RoaringBitmap = ids.iter().map(|id| id.0).collect();
            let names: Vec<&str> = events.iter().map(|(_, e, _)| e.as_ref()).collect();
            nested_scopes(self.store, self.deps, k, &did, &[], |d| {
                names.iter().any(|n| d.reads_event(n))
            })
        };
        if let ([id], [(_, event, _)], true) = (&ids[..], events, nested.is_empty()) {
            // One event: no bitmap per rule, just the rules to test.
            let rules = self.deps[k].of_event(event.as_ref());
            return Ok(relink_one(self.store, self.book, &rules, id.0, self.at));
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
            self.relink(r, &scope, &mut deltas);
        }
        Ok(self.settle(deltas))
    }

    /// Drops a kind's events before `before` and re-evaluates, for the
    /// entities that lost some, the rules that read those events (nested
    /// ones of parent kinds too).
    fn drop_events(&mut self, kind: &str, before: Timestamp) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let lost = self.store.tables_mut()[k].drop_events_before(before);
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
            nested_scopes(self.store, self.deps, k, &did, &[], |d| {
                lost.iter().any(|(n, _)| d.reads_event(n))
            })
        };
        let mut deltas = Deltas::new();
        for (r, scope) in touched.into_iter().chain(nested) {
            self.relink(r, &scope, &mut deltas);
        }
        Ok(self.settle(deltas))
    }

    /// Forgets an event name of a kind, refused while rules read it by
    /// name; the rules that read any event are re-evaluated for the
    /// entities that had one.
    fn forget_event(&mut self, kind: &str, event: &str) -> Result<Changes, StoreError> {
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
            let rules = self.book.describe_rules(&readers);
            return Err(StoreError::EventInUse {
                event: event.to_string(),
                rules,
            });
        }
        let did = self.store.tables_mut()[k].forget_event(event);
        let mut deltas = Deltas::new();
        if !did.is_empty() {
            let nested = if self.deps[k].nested.is_empty() {
                Vec::new()
            } else {
                nested_scopes(self.store, self.deps, k, &did, &[], |d| d.reads_event(event))
            };
            let direct = any.into_iter().map(|r| (r, did.clone()));
            for (r, scope) in direct.chain(nested) {
                self.relink(r, &scope, &mut deltas);
            }
        }
        Ok(self.settle(deltas))
    }

    fn kind_for_write(&self, kind: &str) -> Result<usize, StoreError> {
        super::kind_for_write(self.store, kind)
    }

    fn write(
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
        let at = self.at;
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
            nested_scopes(self.store, self.deps, k, &written, &left, |d| {
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
            return relink_one(self.store, self.book, &rules, id, self.at);
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
            self.relink(r, &ids, &mut deltas);
        }
        for r in others {
            self.relink(r, &born, &mut deltas);
        }
        for (r, scope) in nested {
            self.relink(r, &scope, &mut deltas);
        }
        self.settle(deltas)
    }
}
