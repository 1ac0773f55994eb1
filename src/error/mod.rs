//! Error types, one enum per area, each in the file of its area, and
//! [`Error`] that wraps them all.
//!
//! What more than one area can report is defined once, here, and carried
//! by each area's enum as a variant of the same name: [`UnknownKind`] (a
//! kind the schema does not declare) and [`UnknownSegment`] (an id no
//! segment has). [`Error::unknown_kind`] and [`Error::unknown_segment`]
//! find them whichever area raised them.
//!
//! ```
//! use segments::error::{StoreError, UnknownKind};
//! use segments::{Engine, Error, FieldType, Row, Schema};
//!
//! let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
//! let err = engine.insert("acount", "a", Row::new()).unwrap_err();
//! assert_eq!(err, StoreError::UnknownKind(UnknownKind::new("acount")));
//! assert_eq!(Error::from(err).unknown_kind().map(|u| u.kind.as_str()), Some("acount"));
//! # Ok::<(), segments::Error>(())
//! ```

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

use crate::ids::SegmentId;

/// A kind the schema (or an SQL mapping) does not declare: the one
/// definition that [`SchemaError`], [`StoreError`], [`FilterError`],
/// [`SegmentError`] and [`SqlError`](crate::sql::SqlError) carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{kind}`")]
pub struct UnknownKind {
    /// The kind named.
    pub kind: String,
}

impl UnknownKind {
    /// The error for the kind `kind`.
    pub fn new(kind: impl Into<String>) -> UnknownKind {
        UnknownKind { kind: kind.into() }
    }
}

/// An id that no segment has (never had, or deleted): the one definition
/// that [`SegmentError`] and [`ExportError`] carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no {id}")]
pub struct UnknownSegment {
    /// The id asked for.
    pub id: SegmentId,
}

impl UnknownSegment {
    /// The error for the id `id`.
    pub fn new(id: SegmentId) -> UnknownSegment {
        UnknownSegment { id }
    }
}

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

impl Error {
    /// The kind that was not found, whichever area reported it.
    pub fn unknown_kind(&self) -> Option<&UnknownKind> {
        match self {
            Error::Schema(SchemaError::UnknownKind(u))
            | Error::SchemaChange(SchemaChangeError::Schema(SchemaError::UnknownKind(u)))
            | Error::Store(StoreError::UnknownKind(u))
            | Error::Filter(FilterError::UnknownKind(u))
            | Error::Segment(SegmentError::UnknownKind(u)) => Some(u),
            _ => None,
        }
    }

    /// The segment id that was not found, whichever area reported it.
    pub fn unknown_segment(&self) -> Option<&UnknownSegment> {
        match self {
            Error::Segment(SegmentError::UnknownSegment(u)) | Error::Export(ExportError::UnknownSegment(u)) => Some(u),
            _ => None,
        }
    }
}
