//! Writes to entities, each followed by the membership changes it caused.

use std::collections::BTreeMap;
use std::io::BufRead;

use roaring::RoaringBitmap;

use super::{Deltas, Engine};
use crate::error::StoreError;
use crate::segment::{Cause, Changes, Delta, RuleId, Source};
use crate::store::{Row, Table, Written};
use crate::value::Timestamp;

impl Engine {
    /// Inserts an entity (see [`Table::insert`]) and brings it into every
    /// segment whose rules it matches.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::insert`] refuses; then
    /// nothing changed.
    pub fn insert(&mut self, kind: &str, key: &str, row: Row) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.write_one(key, &row, false))
    }

    /// Inserts or updates an entity (see [`Table::upsert`]) and re-evaluates,
    /// for it alone, the rules that read the fields written.
    ///
    /// # Errors
    ///
    /// As [`Engine::insert`], with [`Table::upsert`]'s rules.
    pub fn upsert(&mut self, kind: &str, key: &str, row: Row) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.write_one(key, &row, true))
    }

    /// Upserts one JSON object (see [`Table::upsert_json`]).
    ///
    /// # Errors
    ///
    /// As [`Engine::upsert`], plus what [`Table::upsert_json`] refuses.
    pub fn upsert_json(&mut self, kind: &str, json: &str) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.upsert_json_report(json))
    }

    /// Makes a field of an entity missing (see [`Table::clear_field`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::clear_field`] refuses.
    pub fn clear_field(&mut self, kind: &str, key: &str, field: &str) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.clear_field_report(key, field))
    }

    /// Inserts a batch, all or none (see [`Table::insert_many`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::insert_many`] refuses.
    pub fn insert_many<K: AsRef<str>>(
        &mut self,
        kind: &str,
        rows: impl IntoIterator<Item = (K, Row)>,
    ) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.write_many(rows, false))
    }

    /// Upserts a batch, all or none (see [`Table::upsert_many`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::upsert_many`] refuses.
    pub fn upsert_many<K: AsRef<str>>(
        &mut self,
        kind: &str,
        rows: impl IntoIterator<Item = (K, Row)>,
    ) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.write_many(rows, true))
    }

    /// Sets the longest line of JSON Lines input every kind accepts (see
    /// [`Table::set_max_line_bytes`]).
    pub fn set_max_line_bytes(&mut self, limit: usize) {
        for t in self.store.tables_mut() {
            t.set_max_line_bytes(limit);
        }
    }

    /// Inserts JSON Lines, all or none (see [`Table::insert_json_lines`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::insert_json_lines`] refuses.
    pub fn insert_json_lines(&mut self, kind: &str, reader: impl BufRead) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.write_json_lines(reader, false))
    }

    /// Upserts JSON Lines, all or none (see [`Table::upsert_json_lines`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::upsert_json_lines`] refuses.
    pub fn upsert_json_lines(&mut self, kind: &str, reader: impl BufRead) -> Result<Changes, StoreError> {
        self.write(kind, |t| t.write_json_lines(reader, true))
    }

    /// Deletes an entity: it exits every segment
    /// ([`Cause::EntityDeleted`]), and its manual links and blocks go.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or [`StoreError::UnknownKey`].
    pub fn delete(&mut self, kind: &str, key: &str) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let id = self.store.tables()[k]
            .id(key)
            .ok_or_else(|| StoreError::UnknownKey { key: key.to_string() })?
            .0;
        let left = self.orphan(k, id);
        self.store.tables_mut()[k].delete(key)?;
        let at = self.now();
        let mut deltas = Deltas::new();
        for (sid, seg) in self.segments.iter_mut().filter(|(_, s)| s.kind == k) {
            let mut d = Delta::with_exit_cause(Cause::EntityDeleted);
            let one = || RoaringBitmap::from_sorted_iter([id]).unwrap_or_default();
            if seg.manual.remove(id) {
                d.lost(Source::Manual, one());
            }
            for rule in &seg.info.rules {
                let Some(r) = self.rules.get_mut(rule) else { continue };
                r.blocked.remove(id);
                if r.links.remove(id) {
                    d.lost(Source::Rule(r.info.id), one());
                }
            }
            if !d.is_empty() {
                deltas.insert(*sid, d);
            }
        }
        // Rules over its parents count it no more.
        let gone = RoaringBitmap::from_sorted_iter([id]).unwrap_or_default();
        for (r, scope) in self.nested_scopes(k, &gone, &left, |_| true) {
            self.relink(r, Some(&scope), at, &mut deltas);
        }
        Ok(self.settle(deltas, at))
    }

    /// Records that entity `key` did `event` at `at` (see
    /// [`Table::record_event`]) and re-evaluates, for it alone, the rules
    /// that read that event or any event.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::record_event`] refuses.
    pub fn record_event(&mut self, kind: &str, key: &str, event: &str, at: Timestamp) -> Result<Changes, StoreError> {
        self.record_events(kind, [(key, event, at)])
    }

    /// Records a batch of events, all or none (see [`Table::record_events`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::record_events`] refuses.
    pub fn record_events<K: AsRef<str>, E: AsRef<str>>(
        &mut self,
        kind: &str,
        events: impl IntoIterator<Item = (K, E, Timestamp)>,
    ) -> Result<Changes, StoreError> {
        let k = self.kind_for_write(kind)?;
        let events: Vec<(K, E, Timestamp)> = events.into_iter().collect();
        let ids = self.store.tables_mut()[k].record_slice(&events)?;
        let now = self.now();
        let nested = if self.deps[k].nested.is_empty() {
            Vec::new()
        } else {
            let did: RoaringBitmap = ids.iter().map(|id| id.0).collect();
            let names: Vec<&str> = events.iter().map(|(_, e, _)| e.as_ref()).collect();
            self.nested_scopes(k, &did, &[], |d| names.iter().any(|n| d.reads_event(n)))
        };
        if let ([id], [(_, event, _)], true) = (&ids[..], &events[..], nested.is_empty()) {
            // One event: no bitmap per rule, just the rules to test.
            let rules = self.deps[k].of_event(event.as_ref());
            return Ok(self.relink_one(&rules, id.0, now));
        }
        // The rules that read each event name, with the entities that did it.
        let mut touched: BTreeMap<RuleId, RoaringBitmap> = BTreeMap::new();
        for (id, (_, event, _)) in ids.iter().zip(&events) {
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

    pub(super) fn kind_for_write(&self, kind: &str) -> Result<usize, StoreError> {
        self.kind_index(kind)
            .ok_or_else(|| StoreError::UnknownKind { kind: kind.to_string() })
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
        let at = self.now();
        let left = if self.parents.is_empty() {
            Vec::new()
        } else {
            self.reparent(k, &w.ids, &w.fields, &w.born)
        };
        let nested = if self.deps[k].nested.is_empty() {
            Vec::new()
        } else {
            let relations = self.store.schema().relations();
            let written: RoaringBitmap = w.ids.iter().copied().collect();
            self.nested_scopes(k, &written, &left, |d| {
                let field = d.chain.last().map(|&r| relations[r].field);
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
