//! The one door: [`Engine::apply`] and its typed halves begin an op
//! (journal it, pin its instant), run it through its executor, record its
//! changes in the change log and finish it (commit, or take its record
//! back on failure). The op values and their forms are in [`crate::op`].

use super::time::{self, Refresh};
use super::{data, manage, reshape, Engine};
use crate::error::{Error, JournalError, SchemaChangeError, SegmentError, StoreError};
use crate::journal::Commit;
use crate::op::{Applied, DataOp, LogOp, ManageOp, Op, OpRef, SchemaOp, TimeOp};
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
        let out = reshape::run(&mut self.store, &mut self.book, &mut self.deps, &self.policy, op);
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

    /// Runs a data op through its executor, over the parts it needs.
    pub(super) fn run_data(&mut self, op: DataOp) -> Result<Changes, StoreError> {
        let at = self.now();
        let mut run = data::DataRun {
            store: &mut self.store,
            book: &mut self.book,
            deps: &self.deps,
            at,
        };
        run.run(op)
    }

    /// Runs a management op through its executor, over the parts it needs.
    pub(super) fn run_manage(&mut self, op: ManageOp) -> Result<Applied, SegmentError> {
        let at = self.now();
        let mut run = manage::Manage {
            store: &self.store,
            book: &mut self.book,
            deps: &mut self.deps,
            policy: &self.policy,
            at,
        };
        run.run(op)
    }

    /// Runs a time op.
    pub(super) fn run_time(&mut self, op: TimeOp) -> Changes {
        match op {
            TimeOp::Refresh { now } => time::refresh(&self.store, &mut self.book, Refresh::TimeRelative, now),
            TimeOp::RefreshAll { now } => time::refresh(&self.store, &mut self.book, Refresh::All, now),
            TimeOp::SetClock { clock } => {
                // Stamped with the instant the change was made at.
                let at = self.now();
                self.clock = clock;
                Changes::new(at)
            }
        }
    }
}
