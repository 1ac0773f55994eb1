//! The one door: [`Engine::apply`] and its typed halves begin an op
//! (journal it, pin its instant), run it through its executor, record its
//! changes in the change log and finish it (commit, or take its record
//! back on failure). The op values and their forms are in [`crate::op`].

use super::Engine;
use crate::error::{Error, JournalError, SchemaChangeError, SegmentError, StoreError};
use crate::journal::Commit;
use crate::op::{Applied, Created, DataOp, LogOp, ManageOp, Op, OpRef, SchemaOp, TimeOp};
use crate::segment::log::Trigger;
use crate::segment::Changes;
use crate::value::Timestamp;

impl Engine {
    /// Applies an op: the one door every write goes through (the write
    /// methods each build one and apply it). It happens at the engine's
    /// clock; a failed op changes nothing. On an engine opened on a
    /// directory ([`Engine::open`]) the op is journaled before this
    /// returns, durable as the directory's [`Durability`](crate::journal::Durability) says.
    ///
    /// # Errors
    ///
    /// What the method the op stands for refuses, as an [`Error`];
    /// [`Error::Journal`] if the op could not be journaled (it was not
    /// applied).
    pub fn apply(&mut self, op: Op) -> Result<Applied, Error> {
        let (applied, commit) = self.apply_deferred(op)?;
        commit.wait()?;
        Ok(applied)
    }

    /// As [`Engine::apply`], returning before the op is durable, with the
    /// [`Commit`] to wait on: a writer behind a lock releases it before it
    /// waits, so that writers waiting together share one sync (group
    /// commit). Waiting on a commit also makes every op before it durable.
    /// Until then a crash may lose the op (and the ops after it, never
    /// the ones before); an in-memory engine's commits are done at once.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Mutex;
    /// use segments::journal::Options;
    /// use segments::{DataOp, Engine, FieldType, Op, Row, Schema};
    ///
    /// let dir = std::env::temp_dir().join(format!("segments-doc-deferred-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
    /// let engine = Mutex::new(Engine::open(&dir, Options::new(schema))?.0);
    /// std::thread::scope(|s| {
    ///     for t in 0..4 {
    ///         let engine = &engine;
    ///         s.spawn(move || {
    ///             let op = Op::Data(DataOp::Insert {
    ///                 kind: "account".into(), key: format!("k{t}"), row: Row::new().set("mrr", t) });
    ///             let (_, commit) = engine.lock().unwrap().apply_deferred(op).unwrap();
    ///             commit.wait().unwrap(); // the lock is free meanwhile
    ///         });
    ///     }
    /// });
    /// assert_eq!(engine.lock().unwrap().store().table("account")?.len(), 4);
    /// # drop(engine);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn apply_deferred(&mut self, op: Op) -> Result<(Applied, Commit), Error> {
        match op {
            Op::Data(op) => {
                let (c, commit) = self.apply_data_deferred(op)?;
                Ok((Applied::changes(c), commit))
            }
            Op::Manage(op) => Ok(self.apply_manage_deferred(op)?),
            Op::Time(op) => {
                let (c, commit) = self.apply_time_deferred(op)?;
                Ok((Applied::changes(c), commit))
            }
            Op::Log(op) => {
                let ((), commit) = self.apply_log_deferred(op)?;
                Ok((Applied::changes(Changes::new(self.now())), commit))
            }
            Op::Schema(op) => {
                let ((), commit) = self.apply_schema_deferred(op)?;
                Ok((Applied::changes(Changes::new(self.now())), commit))
            }
        }
    }

    /// A schema op through the journal, durable on return.
    pub(super) fn apply_schema(&mut self, op: SchemaOp) -> Result<(), SchemaChangeError> {
        let ((), commit) = self.apply_schema_deferred(op)?;
        commit.wait()?;
        Ok(())
    }

    fn apply_schema_deferred(&mut self, op: SchemaOp) -> Result<((), Commit), SchemaChangeError> {
        let started = self.begin(OpRef::Schema(&op))?;
        let out = self.exec_schema(op);
        if out.is_ok() {
            self.version = self.version.wrapping_add(1);
        }
        self.finish(started, out)
    }

    /// A log op through the journal, durable on return.
    pub(super) fn apply_log(&mut self, op: LogOp) -> Result<(), Error> {
        let ((), commit) = self.apply_log_deferred(op)?;
        commit.wait()?;
        Ok(())
    }

    fn apply_log_deferred(&mut self, op: LogOp) -> Result<((), Commit), Error> {
        let started = self.begin(OpRef::Log(&op))?;
        let out = match op {
            LogOp::Ack { consumer, seq } => self.log.ack(&consumer, seq),
            LogOp::ForgetConsumer { consumer } => self.log.forget(&consumer),
            LogOp::SetRetention { retention } => {
                self.log.set_retention(retention);
                Ok(())
            }
        }
        .map_err(Error::from);
        self.finish(started, out)
    }

    /// A data op through the journal, durable on return.
    pub(super) fn apply_data(&mut self, op: DataOp) -> Result<Changes, StoreError> {
        let (c, commit) = self.apply_data_deferred(op)?;
        commit.wait()?;
        Ok(c)
    }

    /// A management op through the journal, durable on return.
    pub(super) fn apply_manage(&mut self, op: ManageOp) -> Result<Applied, SegmentError> {
        let (a, commit) = self.apply_manage_deferred(op)?;
        commit.wait()?;
        Ok(a)
    }

    /// A time op through the journal, durable on return. On a journal that
    /// fails, the op does not happen and the journal's error is returned.
    pub(super) fn apply_time(&mut self, op: TimeOp) -> Result<Changes, JournalError> {
        let (c, commit) = self.apply_time_deferred(op)?;
        commit.wait()?;
        Ok(c)
    }

    fn apply_data_deferred(&mut self, op: DataOp) -> Result<(Changes, Commit), StoreError> {
        let started = self.begin(OpRef::Data(&op))?;
        let out = self.run_data(op);
        if let Ok(c) = &out {
            self.version = self.version.wrapping_add(1);
            let versions = self.versions_of(c, None);
            self.log.record(Trigger::Write, c, versions);
        }
        self.finish(started, out)
    }

    fn apply_manage_deferred(&mut self, op: ManageOp) -> Result<(Applied, Commit), SegmentError> {
        let started = self.begin(OpRef::Manage(&op))?;
        let (trigger, gone) = match &op {
            ManageOp::DeleteSegment { segment, .. } => (Trigger::SegmentDeleted, self.gone(*segment)),
            ManageOp::AddMembers { .. }
            | ManageOp::AddMemberIds { .. }
            | ManageOp::RemoveMembers { .. }
            | ManageOp::RemoveMemberIds { .. }
            | ManageOp::ClearBlocks { .. }
            | ManageOp::ClearAllBlocks { .. } => (Trigger::Manual, None),
            ManageOp::SetExternalMatches { .. } | ManageOp::ChangeExternalMatches { .. } => (Trigger::External, None),
            _ => (Trigger::DefinitionEdited, None),
        };
        let pending = self.pending_edit(&op);
        let out = self.run_manage(op);
        if let Ok(a) = &out {
            if let Some(p) = pending {
                self.recorded_edit(p, a.created);
            }
            let versions = self.versions_of(&a.changes, gone.as_ref());
            self.log.record(trigger, &a.changes, versions);
            if let Some((id, name, kind, _)) = gone {
                // Its changes in the log still name it.
                self.log.segment_gone(id, name, kind);
            }
        }
        self.finish(started, out)
    }

    fn apply_time_deferred(&mut self, op: TimeOp) -> Result<(Changes, Commit), JournalError> {
        let started = self.begin(OpRef::Time(&op))?;
        let out: Result<Changes, JournalError> = Ok(self.run_time(op));
        if let Ok(c) = &out {
            let versions = self.versions_of(c, None);
            self.log.record(Trigger::TimePassed, c, versions);
        }
        self.finish(started, out)
    }

    /// As [`Engine::apply`], at the instant `at`: the op runs as if the
    /// clock said `at`, and the clock is left as it was (unless the op sets
    /// it). How a replay of ops recorded with their instants gets the same
    /// answers.
    ///
    /// # Errors
    ///
    /// As [`Engine::apply`].
    pub fn apply_at(&mut self, op: Op, at: Timestamp) -> Result<Applied, Error> {
        // The op runs at `at`; the clock itself is left alone (a change of
        // clock the op makes stays).
        let pinned = self.pinned.replace(at);
        let out = self.apply(op);
        self.pinned = pinned;
        out
    }

    /// Runs a data op: the one function that runs entity writes.
    pub(super) fn run_data(&mut self, op: DataOp) -> Result<Changes, StoreError> {
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
            DataOp::ForgetEvent { kind, event } => self.exec_forget_event(&kind, &event),
        }
    }

    /// Runs a management op: the one function that runs them.
    pub(super) fn run_manage(&mut self, op: ManageOp) -> Result<Applied, SegmentError> {
        let changes = |c: Changes| Applied::changes(c);
        let nothing = |e: &Engine| Applied::changes(Changes::new(e.now()));
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
                let ids = self.ids_of(&actor, segment, &keys)?;
                changes(self.add_manual(segment, ids))
            }
            ManageOp::AddMemberIds { actor, segment, ids } => {
                self.check_ids(&actor, segment, &ids)?;
                changes(self.add_manual(segment, ids))
            }
            ManageOp::RemoveMembers { actor, segment, keys } => {
                let ids = self.ids_of(&actor, segment, &keys)?;
                changes(self.remove_manual(segment, &ids))
            }
            ManageOp::RemoveMemberIds { actor, segment, ids } => {
                self.check_ids(&actor, segment, &ids)?;
                changes(self.remove_manual(segment, &ids))
            }
            ManageOp::ClearBlocks { actor, segment, keys } => {
                let ids = self.ids_of(&actor, segment, &keys)?;
                changes(self.unblock(segment, Some(ids))?)
            }
            ManageOp::ClearAllBlocks { actor, segment } => {
                self.managed(&actor, segment, crate::segment::Action::EditMembers)?;
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

    /// Runs a time op.
    pub(super) fn run_time(&mut self, op: TimeOp) -> Changes {
        match op {
            TimeOp::Refresh { now } => self.exec_refresh(now),
            TimeOp::RefreshAll { now } => self.exec_refresh_all(now),
            TimeOp::SetClock { clock } => {
                // Stamped with the instant the change was made at.
                let at = self.now();
                self.clock = clock;
                Changes::new(at)
            }
        }
    }
}
