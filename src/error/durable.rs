//! Errors of ops, snapshots and a directory's journal.

/// Errors reading an [`Op`](crate::engine::Op) from its JSON or binary form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The form was written by another version of the format.
    #[error("op format version {found} is not supported (this crate reads version {supported})")]
    Version {
        /// The version found.
        found: u32,
        /// The version this crate reads and writes.
        supported: u32,
    },
    /// The JSON form is not an op.
    #[error("op JSON at line {line}, column {column}: {message}")]
    Json {
        /// What is wrong.
        message: String,
        /// Its line, from 1.
        line: usize,
        /// Its column, from 1.
        column: usize,
    },
    /// The binary form is not an op.
    #[error("op bytes: {message}")]
    Binary {
        /// What is wrong.
        message: String,
    },
}

/// Errors from saving or restoring a [snapshot](crate::snapshot).
///
/// A restore that fails returns one of these and builds nothing; saving to a
/// path that fails leaves the file that was there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Reading or writing failed.
    #[error("{during}: {message}")]
    Io {
        /// What was being done, with the path if there is one, e.g.
        /// ``renaming `x.snap.tmp` over `x.snap` ``.
        during: String,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// The input does not start with the snapshot magic bytes.
    #[error("not a segments snapshot: it starts with {found:02x?}, expected {expected:02x?}")]
    NotASnapshot {
        /// The first bytes found (up to 8).
        found: Vec<u8>,
        /// The magic bytes.
        expected: Vec<u8>,
    },
    /// The snapshot is of a format version this library does not read: a
    /// newer one, written by a later release.
    #[error("snapshot format version {found} is not supported: this release reads version {supported}; a newer release of segments wrote it, or the file is corrupt")]
    UnsupportedVersion {
        /// The version in the snapshot.
        found: u32,
        /// The version this library reads and writes.
        supported: u32,
    },
    /// The input's length disagrees with the length in its header: the
    /// snapshot was cut short or has bytes appended.
    #[error("snapshot is {found} bytes long, its header says {expected}: it was truncated or extended")]
    Length {
        /// The length of the input.
        found: u64,
        /// The length the header gives.
        expected: u64,
    },
    /// The checksum does not match: the bytes changed after they were written.
    #[error("snapshot checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the file is corrupt")]
    Checksum {
        /// The CRC-32 stored in the snapshot.
        stored: u32,
        /// The CRC-32 of the bytes read.
        computed: u32,
    },
    /// The payload ends before a value it announces.
    #[error("snapshot byte {offset}: {what}: needs {needed} bytes, {left} remain")]
    Truncated {
        /// The byte offset in the snapshot.
        offset: u64,
        /// The value being read, e.g. ``table `account`, keys``.
        what: String,
        /// The bytes it needs.
        needed: u64,
        /// The bytes left.
        left: u64,
    },
    /// The payload holds a value that cannot be: a duplicate key, an id out
    /// of range, a filter that does not validate, a cycle of segments.
    #[error("snapshot byte {offset}: {what}: {message}")]
    Invalid {
        /// The byte offset in the snapshot where the value starts (or ends,
        /// for checks of a whole section).
        offset: u64,
        /// The value, e.g. ``table `account`, column `health` ``.
        what: String,
        /// What is wrong with it.
        message: String,
    },
}

/// What went wrong opening, writing or recovering an engine's directory
/// ([`Engine::open`](crate::Engine::open)). A write that fails with one
/// of these changed nothing, in memory or on disk, unless it says so
/// ([`JournalError::Poisoned`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// An operation on a file failed.
    #[error("{during} `{path}`: {message}")]
    Io {
        /// What was being done, e.g. `appending to`.
        during: String,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
        /// The operating system's message.
        message: String,
    },
    /// Another engine (in this process or another) has the directory open.
    #[error("`{path}` is open in another engine (its lock file is held); one process per directory")]
    Locked {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// A journal's bytes are damaged before its last record: not a crash
    /// artefact. [`journal::Options::truncate_damaged`](crate::journal::Options::truncate_damaged)
    /// recovers up to the damage and drops the rest.
    #[error("`{path}` is damaged at byte {offset}: {reason}; records after it exist, so it is not a torn write")]
    Damaged {
        /// The journal file.
        path: std::path::PathBuf,
        /// The byte offset of the first bad record.
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The directory's files do not fit together: a journal that does not
    /// start where the snapshot ends, or a gap between journals.
    #[error("`{path}`: {reason}")]
    Inconsistent {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// The directory holds no snapshot that restores.
    #[error("`{path}`: {reason}")]
    Snapshot {
        /// The snapshot file.
        path: std::path::PathBuf,
        /// Why it could not be used.
        reason: String,
    },
    /// The directory holds other kinds than the schema the options give.
    #[error("`{path}` holds other kinds than the schema given to open it")]
    SchemaMismatch {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// A sync of the journal failed after a write had been applied: the
    /// engine's memory may be ahead of the disk, so it refuses every
    /// further write. Reopen the directory to recover what is durable.
    #[error("the journal `{path}` failed to sync ({message}); writes are refused until the directory is reopened")]
    Poisoned {
        /// The journal file.
        path: std::path::PathBuf,
        /// The first failure's message.
        message: String,
    },
}
