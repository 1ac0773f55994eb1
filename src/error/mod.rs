//! Error types, one enum per area, each in the file of its area, and
//! [`Error`] that wraps them all.

mod durable;
mod filter;
mod log;
mod schema;
mod segment;
mod store;

pub use durable::{JournalError, OpError, SnapshotError};
pub use filter::{EvalError, FilterError};
pub use log::{ExportError, LogError};
pub use schema::{SchemaChangeError, SchemaError};
pub use segment::{SegmentError, SettingsError, StatsError};
pub use store::StoreError;

/// Any error of this crate, for callers that want one type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema error.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A write error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A filter error.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// An evaluation error.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A segment error.
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A statistics error.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// A snapshot error.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Reading an op.
    #[error(transparent)]
    Op(#[from] OpError),
    /// A journal or directory error.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A change log error.
    #[error(transparent)]
    Log(#[from] LogError),
    /// An export error.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A settings error.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A schema change error.
    #[error(transparent)]
    SchemaChange(#[from] SchemaChangeError),
}
