//! The appending end of a journal file, and group commit: writers that
//! wait for durability at about the same time share one `fsync`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::format;
use super::io;
use super::Durability;
use crate::error::JournalError;
use crate::value::Timestamp;

/// Where a record went: its place in the file and in the stream of all the
/// bytes ever appended (which only grows, so that a rolled-back record's
/// bytes are never taken for a later one's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    /// The file's length before the record.
    start: u64,
    /// The stream position after the record.
    end: u64,
}

/// The state writers and the syncer share.
#[derive(Debug, Default)]
struct Progress {
    /// Bytes ever appended (rolled-back ones included).
    written: u64,
    /// The stream position up to which the file is durable.
    synced: u64,
    /// A sync is under way.
    syncing: bool,
    /// The first sync that failed: every later write is refused.
    failed: Option<String>,
    /// The interval syncer should stop.
    closing: bool,
}

/// Shared by the journal, its interval syncer and the [`Commit`]s handed
/// out.
#[derive(Debug)]
struct Shared {
    file: File,
    path: PathBuf,
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        // A writer that panicked mid-update leaves counters that are still
        // safe to read: recover the guard.
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until the stream is durable up to `end`, syncing if nobody
    /// else is: whoever syncs covers everything written so far.
    fn wait(&self, end: u64) -> Result<(), JournalError> {
        let mut p = self.lock();
        loop {
            if let Some(message) = &p.failed {
                return Err(self.poisoned(message));
            }
            if p.synced >= end {
                return Ok(());
            }
            if p.syncing {
                p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            p = self.sync_locked(p);
        }
    }

    /// Syncs what has been written, releasing the lock meanwhile.
    fn sync_locked<'a>(&'a self, mut p: MutexGuard<'a, Progress>) -> MutexGuard<'a, Progress> {
        p.syncing = true;
        let upto = p.written;
        drop(p);
        let r = self.file.sync_data();
        let mut p = self.lock();
        p.syncing = false;
        match r {
            Ok(()) => p.synced = p.synced.max(upto),
            Err(e) => {
                p.failed.get_or_insert_with(|| e.to_string());
            }
        }
        self.changed.notify_all();
        p
    }

    fn poisoned(&self, message: &str) -> JournalError {
        JournalError::Poisoned {
            path: self.path.clone(),
            message: message.to_string(),
        }
    }
}

/// A promise that an op's record becomes durable: [`Commit::wait`] blocks
/// until it is. Returned by
/// [`Engine::apply_deferred`](crate::Engine::apply_deferred), so that a
/// writer can release the engine's lock before it waits and concurrent
/// writers share one sync (group commit).
#[derive(Debug, Clone)]
#[must_use = "an op is durable only once its commit has been waited for"]
pub struct Commit {
    shared: Option<Arc<Shared>>,
    end: u64,
}

impl Commit {
    /// A commit with nothing to wait for (an in-memory engine, or a mode
    /// that does not sync on commit).
    pub(crate) fn done() -> Commit {
        Commit { shared: None, end: 0 }
    }

    /// Blocks until the op is durable, syncing the journal unless another
    /// writer's sync covers it.
    ///
    /// # Errors
    ///
    /// [`JournalError::Poisoned`] if a sync failed.
    pub fn wait(self) -> Result<(), JournalError> {
        match &self.shared {
            Some(s) => s.wait(self.end),
            None => Ok(()),
        }
    }
}

/// The journal file being appended to.
#[derive(Debug)]
pub(crate) struct Journal {
    shared: Arc<Shared>,
    durability: Durability,
    /// Where the records end (the next one goes there).
    len: u64,
    /// The file's length: past `len` it holds zeros written ahead, so that
    /// appends overwrite allocated blocks and a sync need not also write
    /// the file's new size.
    allocated: u64,
    /// The sequence number of the last record.
    seq: u64,
    /// The sequence number before the file's first record.
    base: u64,
    buf: Vec<u8>,
    syncer: Option<JoinHandle<()>>,
}

impl Journal {
    /// Takes over an open journal file whose records end at `len` (zeros
    /// after it, up to `allocated`) and whose last record is `seq`.
    pub(crate) fn new(
        file: File,
        path: PathBuf,
        base: u64,
        (len, allocated): (u64, u64),
        seq: u64,
        durability: Durability,
    ) -> Journal {
        let shared = Arc::new(Shared {
            file,
            path,
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
        });
        let syncer = match durability {
            Durability::Interval(every) => Some(spawn_syncer(shared.clone(), every)),
            _ => None,
        };
        Journal {
            shared,
            durability,
            len,
            allocated: allocated.max(len),
            seq,
            base,
            buf: Vec::new(),
            syncer,
        }
    }

    /// Creates a journal file that starts after op `base`, durable
    /// before it returns.
    pub(crate) fn create(path: &Path, base: u64, durability: Durability) -> Result<Journal, JournalError> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| io("creating", path, &e))?;
        write_header(&mut file, path, base)?;
        Ok(Journal::new(
            file,
            path.to_path_buf(),
            base,
            (format::HEADER as u64, format::HEADER as u64),
            base,
            durability,
        ))
    }

    /// Heads the existing file at `path` again, emptied, as a journal that
    /// starts after op `base`: the newest journal when a kill left it
    /// without a whole header. Durable before it returns.
    pub(crate) fn rehead(path: &Path, base: u64) -> Result<(), JournalError> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(|e| io("opening", path, &e))?;
        write_header(&mut file, path, base)
    }

    /// The sequence number of the last record.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The sequence number before the file's first record.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// The file's length.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends the record of the next op (not yet durable). A failed append
    /// leaves the file as it was.
    pub(crate) fn append(&mut self, at: Timestamp, op: &[u8]) -> Result<Mark, JournalError> {
        if let Some(message) = &self.shared.lock().failed {
            return Err(self.shared.poisoned(message));
        }
        self.buf.clear();
        format::record(self.seq + 1, at, op, &mut self.buf);
        if self.buf.len() - format::FRAME > format::MAX_RECORD {
            return Err(JournalError::Io {
                during: "appending to".into(),
                path: self.shared.path.clone(),
                kind: std::io::ErrorKind::InvalidInput,
                message: format!(
                    "an op of {} bytes is over the record limit of {} bytes: split it",
                    self.buf.len(),
                    format::MAX_RECORD
                ),
            });
        }
        let start = self.len;
        let end = start + self.buf.len() as u64;
        // Zeros ahead pay where every commit syncs (the sync then need not
        // write the file's size); elsewhere they cost more than they save
        // (a write into a page the OS is writing back waits for it).
        if end > self.allocated && self.durability == Durability::Full {
            self.grow(end);
        }
        if let Err(e) = self.write_at(start, &self.buf) {
            // A short write may have left part of the record: cut it off.
            if end > self.allocated {
                let _ = self.shared.file.set_len(self.allocated);
            } else {
                let _ = self.write_at(start, &vec![0; self.buf.len()]);
            }
            return Err(io("appending to", &self.shared.path, &e));
        }
        self.allocated = self.allocated.max(end);
        self.len += self.buf.len() as u64;
        self.seq += 1;
        let mut p = self.shared.lock();
        p.written += self.buf.len() as u64;
        Ok(Mark { start, end: p.written })
    }

    /// Takes back the last record (its op failed): the file is cut back to
    /// where it was. If the cut fails the record stays, harmless: replayed,
    /// its op fails again and changes nothing.
    pub(crate) fn rollback(&mut self, mark: Mark) {
        let n = (self.len - mark.start) as usize;
        if self.write_at(mark.start, &vec![0; n]).is_ok() {
            self.len = mark.start;
            self.seq -= 1;
        }
    }

    /// Writes `bytes` at `offset` (one `pwrite` where there is one).
    #[cfg(unix)]
    fn write_at(&self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.shared.file, bytes, offset)
    }

    /// Writes `bytes` at `offset`.
    #[cfg(not(unix))]
    fn write_at(&self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let mut f = &self.shared.file;
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(bytes)
    }

    /// Writes zeros ahead of the records (in [`Durability::Full`]), to at least `end`: in steps that
    /// double with the file (4 KiB to 4 MiB), so that a small journal stays
    /// small. If the zeros cannot be written (a full disk), the file is left
    /// as it was and the record is written at the end as it is.
    fn grow(&mut self, end: u64) {
        let step = self.allocated.clamp(4 << 10, 4 << 20);
        let target = end.max(self.allocated + step);
        let zeros = vec![0u8; (target - self.allocated) as usize];
        if self.write_at(self.allocated, &zeros).is_ok() {
            self.allocated = target;
        } else {
            let _ = self.shared.file.set_len(self.allocated);
        }
    }

    /// What the caller waits on before the op counts as durable, by the
    /// journal's mode.
    pub(crate) fn commit(&self, mark: Mark) -> Commit {
        match self.durability {
            Durability::Full => Commit {
                shared: Some(self.shared.clone()),
                end: mark.end,
            },
            Durability::Interval(_) | Durability::Os => Commit::done(),
        }
    }

    /// Makes everything written so far durable.
    pub(crate) fn sync(&self) -> Result<(), JournalError> {
        let end = self.shared.lock().written;
        self.shared.wait(end)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        {
            let mut p = self.shared.lock();
            p.closing = true;
        }
        self.shared.changed.notify_all();
        if let Some(t) = self.syncer.take() {
            let _ = t.join();
        }
        // A clean close leaves nothing for the OS to lose.
        let _ = self.sync();
    }
}

/// Syncs `every` interval until the journal closes.
/// Writes the header of a journal that starts after op `base` at the
/// file's current position and makes it durable.
fn write_header(file: &mut std::fs::File, path: &Path, base: u64) -> Result<(), JournalError> {
    file.write_all(&format::header(base))
        .and_then(|()| file.sync_all())
        .map_err(|e| io("writing the header of", path, &e))
}

fn spawn_syncer(shared: Arc<Shared>, every: Duration) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut p = shared.lock();
        loop {
            let (q, _) = shared
                .changed
                .wait_timeout_while(p, every, |p| !p.closing)
                .unwrap_or_else(|e| e.into_inner());
            p = q;
            if p.closing {
                return;
            }
            if p.written > p.synced && !p.syncing && p.failed.is_none() {
                p = shared.sync_locked(p);
            }
        }
    })
}
