//! A directory that keeps an engine's state across restarts and crashes:
//! snapshots, and an append-only journal of every [`Op`](crate::Op)
//! applied since the newest one.
//!
//! [`Engine::open`](crate::Engine::open) opens (or creates) the directory,
//! restores the newest snapshot and replays the journal after it. From then
//! on every write, through a method or [`Engine::apply`](crate::Engine::apply),
//! appends its op to the journal before its result is returned; an op that
//! fails is taken back out. A [checkpoint](crate::Engine::checkpoint)
//! writes a snapshot and starts a fresh journal, on request or once the
//! journal passes [`Options::checkpoint_bytes`].
//!
//! ```
//! use segments::journal::{Durability, Options};
//! use segments::{Engine, FieldType, Row, Schema};
//!
//! let dir = std::env::temp_dir().join(format!("segments-doc-journal-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
//! let options = Options::new(schema).durability(Durability::Full);
//! {
//!     let (mut engine, report) = Engine::open(&dir, options.clone())?;
//!     assert_eq!(report.replayed, 0);
//!     engine.insert("account", "acme", Row::new().set("mrr", 300))?;
//! } // dropped without a checkpoint: the insert is in the journal only
//! let (engine, report) = Engine::open(&dir, options)?;
//! assert_eq!(report.replayed, 1);
//! assert!(engine.store().table("account")?.id("acme").is_some());
//! # drop(engine);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), segments::Error>(())
//! ```
//!
//! # What each durability mode can lose
//!
//! | mode | a write returns after | a process crash loses | a power loss or OS crash loses |
//! | --- | --- | --- | --- |
//! | [`Durability::Full`] | its record is synced (`fdatasync`) | nothing acknowledged | nothing acknowledged |
//! | [`Durability::Interval`] | its record is written; a thread syncs every interval | nothing acknowledged | the last interval's writes |
//! | [`Durability::Os`] | its record is written | nothing acknowledged | what the OS had not yet written back |
//!
//! A write that returned an error was not applied and is not in the
//! journal. A write in flight when the process died may or may not be
//! recovered, and either way recovery yields a prefix of the ops
//! attempted: never a later op without the ones before it.
//!
//! Group commit: in [`Durability::Full`], writers that wait for their
//! records at the same time share one sync. Behind a lock,
//! [`Engine::apply_deferred`](crate::Engine::apply_deferred) applies an op
//! and hands back a [`Commit`] to wait on after the lock is released; a
//! writer with many ops applies each deferred and waits on the last
//! commit only (a sync covers every record before it).
//!
//! # Recovery
//!
//! On open: the newest snapshot that restores, then every journal record
//! after it, each op at the instant it first ran at, so that replay gives
//! the same answers. A torn or checksum-failing *last* record is what a
//! crash mid-write leaves: it is cut off and reported
//! ([`OpenReport::truncated`]). Damage with intact records after it is not
//! a crash: open fails with [`JournalError::Damaged`] naming the file and
//! byte offset, unless [`Options::truncate_damaged`] asks to recover up to
//! it.
//!
//! # Files
//!
//! - `LOCK`: held (an advisory OS lock) while an engine has the directory
//!   open; a second open fails with [`JournalError::Locked`].
//! - `snapshot-<seq>.snap`: the state after op `<seq>` (20 digits), in the
//!   [snapshot format](crate::snapshot).
//! - `journal-<seq>.log`: the ops after op `<seq>`. A header (magic
//!   `SEGJRNL\0`, format version, `<seq>`, CRC-32), then records: length
//!   (u32), CRC-32 of the body (u32), and the body: sequence number (u64),
//!   the instant the op ran at (i64 µs), the op's [binary
//!   form](crate::Op::to_bytes). Little-endian.
//!
//! Old snapshots and journals are removed only once a newer snapshot is
//! durable.

pub(crate) mod format;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::JournalError;
use crate::filter::LimitPolicy;
use crate::schema::Schema;
use crate::store::IndexConfig;

pub use writer::Commit;
pub(crate) use writer::{Journal, Mark};

/// When a journal record becomes durable (see the [module
/// docs](self#what-each-durability-mode-can-lose) for what each can lose).
/// The names follow SQLite's `synchronous` and redb's `Durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Every write returns once its record is synced to the device; writers
    /// waiting together share one sync.
    #[default]
    Full,
    /// Writes return once written; a background thread syncs at this
    /// interval.
    Interval(Duration),
    /// Writes return once written; the OS writes them back when it will
    /// (the journal is synced at checkpoints and on close).
    Os,
}

/// How to open a directory: the schema and settings of a new one, and how
/// to write and recover.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) schema: Schema,
    pub(crate) policy: LimitPolicy,
    pub(crate) index: IndexConfig,
    pub(crate) durability: Durability,
    pub(crate) checkpoint_bytes: Option<u64>,
    pub(crate) truncate_damaged: bool,
}

impl Options {
    /// Options for a directory of entities of `schema`: durability
    /// [`Durability::Full`], a checkpoint once the journal passes 64 MiB,
    /// damage refused.
    ///
    /// An existing directory must hold the same kinds, in the same order
    /// ([`JournalError::SchemaMismatch`] otherwise); its fields and
    /// relations are its own (as [`Engine::add_field`](crate::Engine::add_field)
    /// and its kin grew them), as are its limit policy and index
    /// configuration: those given here are for a new one.
    pub fn new(schema: Schema) -> Options {
        Options {
            schema,
            policy: LimitPolicy::default(),
            index: IndexConfig::default(),
            durability: Durability::Full,
            checkpoint_bytes: Some(64 << 20),
            truncate_damaged: false,
        }
    }

    /// When records become durable.
    pub fn durability(mut self, durability: Durability) -> Options {
        self.durability = durability;
        self
    }

    /// Checkpoint automatically once the journal is this long (`None`:
    /// only on request).
    pub fn checkpoint_bytes(mut self, bytes: Option<u64>) -> Options {
        self.checkpoint_bytes = bytes;
        self
    }

    /// On damage before a journal's last record, recover the ops up to it
    /// and drop the rest (reported in [`OpenReport::truncated`]) rather
    /// than refuse to open.
    pub fn truncate_damaged(mut self, yes: bool) -> Options {
        self.truncate_damaged = yes;
        self
    }

    /// The filter limits of a new directory.
    pub fn policy(mut self, policy: LimitPolicy) -> Options {
        self.policy = policy;
        self
    }

    /// The index configuration of a new directory.
    pub fn index_config(mut self, index: IndexConfig) -> Options {
        self.index = index;
        self
    }
}

/// What [`Engine::open`](crate::Engine::open) found and did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenReport {
    /// Whether the directory was created.
    pub created: bool,
    /// The snapshot restored.
    pub snapshot: PathBuf,
    /// The sequence number of the last op the snapshot holds.
    pub snapshot_seq: u64,
    /// Journal records replayed.
    pub replayed: u64,
    /// Of those, records whose op failed again (ops that failed when first
    /// applied and whose record could not be taken back); they changed
    /// nothing.
    pub refused: u64,
    /// A cut made to a journal: a torn last record, or (with
    /// [`Options::truncate_damaged`]) damage.
    pub truncated: Option<Truncation>,
    /// The sequence number of the last op applied.
    pub seq: u64,
    /// How long the open took.
    pub elapsed: Duration,
}

/// A journal cut short on open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// The journal file.
    pub path: PathBuf,
    /// The byte offset it was cut at.
    pub offset: u64,
    /// The bytes cut off.
    pub bytes: u64,
    /// What was wrong at the offset.
    pub reason: String,
}

/// What a checkpoint did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CheckpointReport {
    /// The snapshot written.
    pub snapshot: PathBuf,
    /// The sequence number of the last op it holds.
    pub seq: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// How long writers were held up (the engine was borrowed).
    pub pause: Duration,
    /// How long the checkpoint took in all.
    pub elapsed: Duration,
}

/// The name of the snapshot after op `seq`.
pub(crate) fn snapshot_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.snap")
}

/// The name of the journal after op `seq`.
pub(crate) fn journal_name(seq: u64) -> String {
    format!("journal-{seq:020}.log")
}

/// The snapshots and journals in a directory, each by its sequence number,
/// in order.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub snapshots: Vec<(u64, PathBuf)>,
    pub journals: Vec<(u64, PathBuf)>,
}

pub(crate) fn io(during: &str, path: &Path, e: &std::io::Error) -> JournalError {
    JournalError::Io {
        during: during.into(),
        path: path.to_path_buf(),
        kind: e.kind(),
        message: e.to_string(),
    }
}

/// Opens `path` for reading if it is a regular file (a link to one is
/// followed), with its length: anything else in its place (a device such
/// as `/dev/zero`, which never ends; a FIFO, whose opening waits for a
/// writer; a directory) is refused before it is opened.
pub(crate) fn open_regular(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let refuse = |meta: &std::fs::Metadata| {
        // Links are followed: what is left is a directory or a special file.
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "a device, FIFO or socket"
        };
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file but {what}"),
        )
    };
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refuse(&meta));
    }
    let file = std::fs::File::open(path)?;
    // What was opened, in case the name changed hands in between.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse(&meta));
    }
    Ok((file, meta.len()))
}

/// Reads a regular file whole, no further than the length it had when it
/// was opened (see [`open_regular`]).
pub(crate) fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Lists a directory's snapshots and journals (other files are left alone).
pub(crate) fn list(dir: &Path) -> Result<Listing, JournalError> {
    let mut out = Listing::default();
    let entries = std::fs::read_dir(dir).map_err(|e| io("listing", dir, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io("listing", dir, &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let seq_of = |prefix: &str, suffix: &str| {
            name.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(suffix))
                .filter(|d| d.len() == 20 && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u64>().ok())
        };
        if let Some(seq) = seq_of("snapshot-", ".snap") {
            out.snapshots.push((seq, entry.path()));
        } else if let Some(seq) = seq_of("journal-", ".log") {
            out.journals.push((seq, entry.path()));
        }
    }
    out.snapshots.sort();
    out.journals.sort();
    Ok(out)
}

/// Syncs a directory, so that files created or renamed in it stay.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    match std::fs::File::open(dir) {
        Ok(d) => d.sync_all().map_err(|e| io("syncing", dir, &e)),
        // Not every platform can open a directory.
        Err(_) => Ok(()),
    }
}

/// The held lock of a directory, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: std::fs::File,
}

/// Takes the directory's lock, or says who has it.
pub(crate) fn lock(dir: &Path) -> Result<DirLock, JournalError> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io("opening", &path, &e))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(fs4::TryLockError::WouldBlock) => Err(JournalError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(fs4::TryLockError::Error(e)) => Err(io("locking", &path, &e)),
    }
}
