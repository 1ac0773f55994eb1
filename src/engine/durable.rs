//! An engine on a directory: open and recover, journal every op before its
//! result is returned, checkpoint. See [`crate::journal`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Engine;
use crate::error::{JournalError, SnapshotError};
use crate::journal::{
    self, format, io, journal_name, snapshot_name, CheckpointReport, Commit, DirLock, Durability, Journal, Mark,
    OpenReport, Options, Truncation,
};
use crate::op::OpRef;
use crate::value::Timestamp;
use crate::Op;

/// What an engine opened on a directory keeps besides its state.
#[derive(Debug)]
pub(crate) struct Durable {
    dir: PathBuf,
    journal: Journal,
    durability: Durability,
    checkpoint_bytes: Option<u64>,
    /// The journal length past which the next automatic checkpoint runs.
    next_checkpoint: Option<u64>,
    /// A reused buffer for ops' binary forms.
    buf: Vec<u8>,
    /// A checkpoint writing its snapshot in the background; it hands its
    /// buffer back for the next one.
    pending: Option<std::thread::JoinHandle<Written>>,
    /// The last checkpoint's payload buffer, kept (the size of a
    /// snapshot) so that the next encodes without growing or faulting in a
    /// new one: the writers' pause of a checkpoint at 1M accounts is 67 ms
    /// with it, 117 ms without.
    spare: Vec<u8>,
    /// The size of the newest snapshot, to size the first buffer.
    snapshot_bytes: u64,
    // Dropped last: the lock is held until the journal is closed.
    _lock: DirLock,
}

/// What a background checkpoint ends with: its report, and its buffer for
/// the next one.
type Written = (Result<CheckpointReport, JournalError>, Vec<u8>);

/// A write in progress: its record's place, and the pin to put back.
pub(super) struct Started {
    mark: Option<Mark>,
    pinned: Option<Timestamp>,
}

impl Engine {
    /// Opens the directory `dir` (creating it if need be), restores its
    /// newest snapshot and replays the journal after it: the engine as it
    /// was after the last op acknowledged before a crash or a clean close.
    /// From then on every write is journaled (see [`crate::journal`] for the
    /// files, the durability modes and what recovery does).
    ///
    /// # Errors
    ///
    /// [`JournalError::Locked`] if another engine has the directory open;
    /// [`JournalError::Damaged`] for damage before a journal's last record
    /// (a torn last record is cut off and reported instead);
    /// [`JournalError::Snapshot`], [`JournalError::Inconsistent`] and
    /// [`JournalError::SchemaMismatch`] for a directory whose files do not
    /// fit; [`JournalError::Io`] naming the step and the file.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<(Engine, OpenReport), JournalError> {
        let started = Instant::now();
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, &e))?;
        let lock = journal::lock(&dir)?;
        let mut listing = journal::list(&dir)?;
        let created = listing.snapshots.is_empty();
        let (mut engine, snapshot_seq, snapshot) = if created {
            // A new directory gets its first journal, then its first
            // snapshot: a directory with a snapshot always has the journal
            // that starts at it. An open that died in between left that
            // journal without a record.
            match listing.journals.as_slice() {
                [] => {}
                [(0, path)] if holds_no_record(path)? => {
                    std::fs::remove_file(path).map_err(|e| io("removing", path, &e))?;
                    listing.journals.clear();
                }
                [(_, path), ..] => {
                    return Err(JournalError::Inconsistent {
                        path: path.clone(),
                        reason: "a journal without any snapshot to start from".into(),
                    })
                }
            }
            let engine = Engine::with_config(options.schema.clone(), options.policy, options.index);
            let first = Journal::create(&dir.join(journal_name(0)), 0, options.durability)?;
            journal::sync_dir(&dir)?;
            drop(first);
            let path = dir.join(snapshot_name(0));
            write_snapshot(&engine, &path)?;
            listing = journal::list(&dir)?;
            (engine, 0, path)
        } else {
            newest_snapshot(&listing.snapshots)?
        };
        // The directory's schema is its own (fields and relations grow and
        // shrink by schema ops); it must be of the same kinds.
        let kinds = |s: &crate::Schema| s.kinds().map(|k| k.name().to_string()).collect::<Vec<_>>();
        if kinds(engine.store.schema()) != kinds(&options.schema) {
            return Err(JournalError::SchemaMismatch { path: dir });
        }
        let mut report = OpenReport {
            created,
            snapshot,
            snapshot_seq,
            replayed: 0,
            refused: 0,
            truncated: None,
            seq: snapshot_seq,
            elapsed: Default::default(),
        };
        let mut journals: Vec<&(u64, PathBuf)> = listing.journals.iter().filter(|(b, _)| *b >= snapshot_seq).collect();
        if journals.first().map(|(b, _)| *b) != Some(snapshot_seq) {
            // A checkpoint creates the journal that starts at its snapshot
            // before it writes the snapshot: without it, whatever was
            // acknowledged after the snapshot is gone.
            let path = dir.join(journal_name(snapshot_seq));
            let reason = "missing: the journal that starts at the newest snapshot (the writes after it)".to_string();
            if !options.truncate_damaged {
                return Err(JournalError::Damaged {
                    path,
                    offset: 0,
                    reason,
                });
            }
            // Recovering to the snapshot: journals after the gap cannot
            // be replayed and go with it.
            for (_, later) in journals.drain(..) {
                std::fs::remove_file(later).map_err(|e| io("removing", later, &e))?;
            }
            report.truncated = Some(Truncation {
                path,
                offset: 0,
                bytes: 0,
                reason,
            });
        }
        let mut tail: Option<(u64, PathBuf, (u64, u64))> = None;
        for (i, (base, path)) in journals.iter().enumerate() {
            if *base != report.seq {
                return Err(JournalError::Inconsistent {
                    path: path.clone(),
                    reason: format!(
                        "the journal starts after op {base}, but the state before it ends at op {}",
                        report.seq
                    ),
                });
            }
            let last = i + 1 == journals.len();
            let len = replay(&mut engine, path, *base, last, options.truncate_damaged, &mut report)?;
            if report.truncated.is_some() && !last {
                // Recovering up to damage: the later journals go with it.
                for (_, later) in &journals[i + 1..] {
                    std::fs::remove_file(later).map_err(|e| io("removing", later, &e))?;
                }
                tail = Some((*base, path.clone(), len));
                break;
            }
            tail = Some((*base, path.clone(), len));
        }
        let journal = match tail {
            Some((base, path, len)) => {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| io("opening", &path, &e))?;
                Journal::new(file, path, base, len, report.seq, options.durability)
            }
            None => Journal::create(&dir.join(journal_name(report.seq)), report.seq, options.durability)?,
        };
        journal::sync_dir(&dir)?;
        remove_older(&dir, snapshot_seq)?;
        engine.durable = Some(Box::new(Durable {
            next_checkpoint: options.checkpoint_bytes.map(|b| journal.len().max(b)),
            dir,
            journal,
            durability: options.durability,
            checkpoint_bytes: options.checkpoint_bytes,
            buf: Vec::new(),
            pending: None,
            spare: Vec::new(),
            snapshot_bytes: std::fs::metadata(&report.snapshot).map_or(0, |m| m.len()),
            _lock: lock,
        }));
        report.elapsed = started.elapsed();
        Ok((engine, report))
    }

    /// The sequence number of the last op journaled (0 in memory).
    pub(super) fn journal_seq(&self) -> u64 {
        self.durable.as_deref().map_or(0, |d| d.journal.seq())
    }

    /// Whether the engine was opened on a directory, and which.
    pub fn directory(&self) -> Option<&Path> {
        self.durable.as_deref().map(|d| d.dir.as_path())
    }

    /// Writes a snapshot of the state and starts a fresh journal; the old
    /// snapshot and journal are removed once the new snapshot is durable.
    /// Does nothing on an in-memory engine or when no op has been journaled
    /// since the last checkpoint (returns `None`). Returns once the
    /// snapshot is durable; [`Engine::start_checkpoint`] returns as soon as
    /// the state is encoded and writes the file in the background, as the
    /// automatic checkpoints past [`Options::checkpoint_bytes`] do.
    ///
    /// # Errors
    ///
    /// [`JournalError::Io`] naming the step and file (also for an earlier
    /// background checkpoint that failed); the directory is left
    /// recoverable (the old snapshot and journals stay until the new
    /// snapshot is durable).
    pub fn checkpoint(&mut self) -> Result<Option<CheckpointReport>, JournalError> {
        match self.start_checkpoint()? {
            Some(_) => self.wait_checkpoint(),
            None => Ok(None),
        }
    }

    /// Starts a checkpoint: the journal is rotated and the state encoded
    /// while the engine is borrowed (the writers' pause, in the report);
    /// the snapshot is written, synced and the old files removed on a
    /// thread of its own. [`Engine::wait_checkpoint`] waits for it; the
    /// next checkpoint, and closing the engine, wait for it too.
    ///
    /// # Errors
    ///
    /// As [`Engine::checkpoint`], for the steps done before it returns and
    /// for a previous background checkpoint that failed.
    pub fn start_checkpoint(&mut self) -> Result<Option<CheckpointReport>, JournalError> {
        let started = Instant::now();
        self.wait_checkpoint()?;
        let Some(d) = self.durable.as_deref_mut() else {
            return Ok(None);
        };
        let seq = d.journal.seq();
        if seq == d.journal.base() {
            return Ok(None);
        }
        // The old journal whole and durable, then the new one in place:
        // from here, ops go to the new journal whatever happens next.
        d.journal.sync()?;
        let fresh = Journal::create(&d.dir.join(journal_name(seq)), seq, d.durability)?;
        journal::sync_dir(&d.dir)?;
        d.journal = fresh;
        let dir = d.dir.clone();
        let path = dir.join(snapshot_name(seq));
        let mut spare = std::mem::take(&mut d.spare);
        if spare.capacity() == 0 {
            // The first checkpoint since open: sized as the last snapshot.
            spare.reserve(d.snapshot_bytes as usize + d.snapshot_bytes as usize / 8);
        }
        let payload = self.payload_into(spare);
        let pause = started.elapsed();
        let report = CheckpointReport {
            snapshot: path.clone(),
            seq,
            bytes: payload.len() as u64,
            pause,
            elapsed: pause,
        };
        let returned = report.clone();
        let thread = std::thread::spawn(move || {
            let done = (|| -> Result<CheckpointReport, JournalError> {
                crate::snapshot::write_atomically(&path, |f| crate::snapshot::frame(&payload, f))
                    .map_err(|e| snapshot_io(&path, e))?;
                journal::sync_dir(&dir)?;
                remove_older(&dir, seq)?;
                Ok(CheckpointReport {
                    elapsed: started.elapsed(),
                    bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                    ..report
                })
            })();
            (done, payload)
        });
        let report = CheckpointReport { bytes: 0, ..returned };
        if let Some(d) = self.durable.as_deref_mut() {
            d.pending = Some(thread);
        }
        Ok(Some(report))
    }

    /// Waits for a checkpoint started in the background to be durable;
    /// its report (`None` if none was under way).
    ///
    /// # Errors
    ///
    /// What the background checkpoint failed with.
    pub fn wait_checkpoint(&mut self) -> Result<Option<CheckpointReport>, JournalError> {
        let Some(d) = self.durable.as_deref_mut() else {
            return Ok(None);
        };
        let Some(thread) = d.pending.take() else {
            return Ok(None);
        };
        let (report, spare) = thread.join().unwrap_or_else(|_| {
            (
                Err(JournalError::Inconsistent {
                    path: d.dir.clone(),
                    reason: "the checkpoint thread panicked".into(),
                }),
                Vec::new(),
            )
        });
        d.spare = spare;
        let report = report?;
        d.snapshot_bytes = report.bytes;
        Ok(Some(report))
    }

    /// Appends a write's op to the journal (on an engine opened on a
    /// directory) and pins the clock at the instant it runs at, so that a
    /// replay runs it at the same instant.
    pub(super) fn begin(&mut self, op: OpRef<'_>) -> Result<Started, JournalError> {
        let pinned = self.pinned;
        // Refused by validation whatever the state: nothing to journal, and
        // serializing it would recurse.
        if self.durable.is_none() || op.too_deep() {
            return Ok(Started { mark: None, pinned });
        }
        let at = self.now();
        let Some(d) = self.durable.as_deref_mut() else {
            return Ok(Started { mark: None, pinned });
        };
        op.to_bytes(&mut d.buf);
        let mark = d.journal.append(at, &d.buf)?;
        self.pinned = Some(at);
        Ok(Started {
            mark: Some(mark),
            pinned,
        })
    }

    /// Ends a write begun with [`Engine::begin`]: a failed op's record is
    /// taken back; a done one's commit is handed out, and a checkpoint runs
    /// if the journal has grown past its size.
    pub(super) fn finish<T, E>(&mut self, started: Started, out: Result<T, E>) -> Result<(T, Commit), E> {
        self.pinned = started.pinned;
        let (Some(mark), Some(d)) = (started.mark, self.durable.as_deref_mut()) else {
            return out.map(|t| (t, Commit::done()));
        };
        let t = match out {
            Ok(t) => t,
            Err(e) => {
                d.journal.rollback(mark);
                return Err(e);
            }
        };
        let commit = d.journal.commit(mark);
        if d.next_checkpoint.is_some_and(|n| d.journal.len() > n) {
            let grown = d.journal.len();
            // A checkpoint that fails leaves the journal as it was: retry
            // once it has grown as much again.
            if self.start_checkpoint().is_err() {
                if let Some(d) = self.durable.as_deref_mut() {
                    d.next_checkpoint = d.checkpoint_bytes.map(|b| grown.saturating_add(b));
                }
            }
        }
        Ok((t, commit))
    }
}

impl Drop for Durable {
    /// Closing waits for a checkpoint under way (its files are then
    /// complete or absent, never half-removed).
    fn drop(&mut self) {
        if let Some(t) = self.pending.take() {
            let _ = t.join();
        }
    }
}

/// Writes a snapshot file atomically.
fn write_snapshot(engine: &Engine, path: &Path) -> Result<(), JournalError> {
    engine.save_to_path(path).map_err(|e| snapshot_io(path, e))
}

fn snapshot_io(path: &Path, e: SnapshotError) -> JournalError {
    match e {
        SnapshotError::Io { during, kind, message } => JournalError::Io {
            during,
            path: path.to_path_buf(),
            kind,
            message,
        },
        other => JournalError::Snapshot {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

/// The newest snapshot that restores, with its sequence number and path.
fn newest_snapshot(snapshots: &[(u64, PathBuf)]) -> Result<(Engine, u64, PathBuf), JournalError> {
    let mut first_error = None;
    for (seq, path) in snapshots.iter().rev() {
        match Engine::restore_file(path) {
            Ok(engine) => return Ok((engine, *seq, path.clone())),
            Err(e) => {
                first_error.get_or_insert_with(|| snapshot_io(path, e));
            }
        }
    }
    Err(first_error.unwrap_or(JournalError::Inconsistent {
        path: PathBuf::new(),
        reason: "no snapshot".into(),
    }))
}

/// Replays one journal file into `engine`; returns where its records end
/// and the file's length (zeros written ahead after the records), after any
/// cut.
fn replay(
    engine: &mut Engine,
    path: &Path,
    base: u64,
    last: bool,
    truncate_damaged: bool,
    report: &mut OpenReport,
) -> Result<(u64, u64), JournalError> {
    let bytes = journal::read_regular(path).map_err(|e| io("reading", path, &e))?;
    let stored = match format::read_header(&bytes) {
        Ok(stored) => stored,
        Err(reason) if !(truncate_damaged || last && holds_nothing(&bytes)) => {
            return Err(JournalError::Damaged {
                path: path.to_path_buf(),
                offset: 0,
                reason: format!("its header: {reason}"),
            })
        }
        // The newest journal, created by a rotation or an open that died
        // before its header was whole, holds no record; or, recovering up
        // to damage, none of its records can be trusted, so the state is
        // the one before it (the snapshot, or the journals before it).
        // Either way it is headed again, emptied, and the cut reported.
        Err(reason) => {
            Journal::rehead(path, base)?;
            report.seq = base;
            report.truncated = Some(Truncation {
                path: path.to_path_buf(),
                offset: 0,
                bytes: bytes.len() as u64,
                reason: format!("its header: {reason}"),
            });
            return Ok((format::HEADER as u64, format::HEADER as u64));
        }
    };
    if stored != base {
        return Err(JournalError::Inconsistent {
            path: path.to_path_buf(),
            reason: format!("its header says it starts after op {stored}, its name after op {base}"),
        });
    }
    let mut offset = format::HEADER;
    let mut seq = base;
    while offset < bytes.len() {
        let bad = match format::read_record(&bytes, offset, seq + 1) {
            Ok(r) => match Op::from_bytes(r.op) {
                Ok(op) => {
                    if engine.apply_at(op, r.at).is_err() {
                        report.refused += 1;
                    }
                    report.replayed += 1;
                    seq += 1;
                    offset = r.end;
                    continue;
                }
                Err(e) => format!("the op of record {}: {e}", seq + 1),
            },
            Err(reason) => reason,
        };
        if bytes[offset..].iter().all(|&b| b == 0) {
            // The zeros written ahead of the records: their clean end.
            report.seq = seq;
            return Ok((offset as u64, bytes.len() as u64));
        }
        let torn = last && !format::intact_after(&bytes, offset, seq);
        if !torn && !truncate_damaged {
            return Err(JournalError::Damaged {
                path: path.to_path_buf(),
                offset: offset as u64,
                reason: bad,
            });
        }
        cut(path, offset as u64)?;
        report.truncated = Some(Truncation {
            path: path.to_path_buf(),
            offset: offset as u64,
            bytes: (bytes.len() - offset) as u64,
            reason: bad,
        });
        report.seq = seq;
        return Ok((offset as u64, offset as u64));
    }
    report.seq = seq;
    Ok((bytes.len() as u64, bytes.len() as u64))
}

/// Whether a journal file holds no record: nothing but zeros (written
/// ahead) follows where its header ends, or would end.
fn holds_no_record(path: &Path) -> Result<bool, JournalError> {
    let bytes = journal::read_regular(path).map_err(|e| io("reading", path, &e))?;
    Ok(bytes.get(format::HEADER..).unwrap_or_default().iter().all(|&b| b == 0))
}

/// Whether a journal's bytes hold nothing at all: shorter than a header,
/// or all zeros (a file created and not yet written).
fn holds_nothing(bytes: &[u8]) -> bool {
    bytes.len() < format::HEADER || bytes.iter().all(|&b| b == 0)
}

/// Cuts a journal file at `offset`, durably.
/// Writes a journal's header over whatever the file holds, durably.
fn cut(path: &Path, offset: u64) -> Result<(), JournalError> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io("opening", path, &e))?;
    f.set_len(offset)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("truncating", path, &e))
}

/// Removes the snapshots and journals that the snapshot after op `seq`
/// (durable by now) makes unneeded.
fn remove_older(dir: &Path, seq: u64) -> Result<(), JournalError> {
    let listing = journal::list(dir)?;
    for (s, path) in listing.snapshots.iter().chain(&listing.journals) {
        if *s < seq {
            std::fs::remove_file(path).map_err(|e| io("removing", path, &e))?;
        }
    }
    Ok(())
}
