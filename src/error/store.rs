//! Errors of writes to a table.

use super::JournalError;
use crate::value::FieldType;

/// Errors from writing to a [`Table`](crate::Table).
///
/// A failed write leaves the table exactly as it was, batches included.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A write to a kind the schema does not declare (through the
    /// [`Engine`](crate::Engine)).
    #[error(transparent)]
    UnknownKind(#[from] super::UnknownKind),
    /// The entity key is empty.
    #[error("entity key is empty")]
    EmptyKey,
    /// An entity key with a control character (a newline, a tab, U+0000,
    /// ...): keys are printed one a line, so they may hold none.
    #[error("key {key:?}: a key may not contain control characters")]
    InvalidKey {
        /// The key, shown escaped.
        key: String,
    },
    /// A JSON row that names a member twice (`{"key": "a", "key": "b"}`).
    #[error("key `{key}`: duplicate member `{member}`")]
    DuplicateMember {
        /// The row's (first) key.
        key: String,
        /// The member named twice.
        member: String,
    },
    /// A line of JSON Lines input longer than the table's limit
    /// ([`Table::set_max_line_bytes`](crate::Table::set_max_line_bytes)).
    #[error("line is longer than {limit} bytes")]
    LineTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// `insert` of a key that is already live, or a key repeated in one batch.
    #[error("key `{key}`: duplicate key")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// An update, clear or delete of a key that is not live.
    #[error("key `{key}`: no such entity")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A row names a field the kind does not have.
    #[error("key `{key}`: unknown field `{field}`")]
    UnknownField {
        /// The row's key.
        key: String,
        /// The unknown field.
        field: String,
    },
    /// A value of the wrong type for its field.
    #[error("key `{key}`, field `{field}`: expected {expected}, found {found}")]
    TypeMismatch {
        /// The row's key.
        key: String,
        /// The field.
        field: String,
        /// The field's type.
        expected: FieldType,
        /// A short description of what was found.
        found: String,
    },
    /// A float that is NaN or infinite.
    #[error("key `{key}`, field `{field}`: float is not finite")]
    NonFiniteFloat {
        /// The row's key.
        key: String,
        /// The field.
        field: String,
    },
    /// A timestamp that is unparsable or outside what the store holds.
    #[error("key `{key}`, field `{field}`: invalid timestamp `{value}`: {reason}")]
    InvalidTimestamp {
        /// The row's key.
        key: String,
        /// The field.
        field: String,
        /// The text found.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// An event with an empty name.
    #[error("key `{key}`: event name is empty")]
    EmptyEventName {
        /// The entity's key.
        key: String,
    },
    /// A JSON row without a `key` member, or with a key that is not a string.
    #[error("missing or non-string `key`")]
    MissingKey,
    /// A JSON row that is not valid JSON or not an object.
    #[error("invalid JSON: {message}")]
    Json {
        /// The parser's message.
        message: String,
    },
    /// An Arrow record batch (or a Parquet file) with a column that names
    /// no field of the kind.
    #[error("column `{column}`: not a field of the kind")]
    UnknownColumn {
        /// The column's name.
        column: String,
    },
    /// An Arrow record batch with two columns of one name.
    #[error("column `{column}`: given twice")]
    DuplicateColumn {
        /// The column's name.
        column: String,
    },
    /// An Arrow record batch without a `key` column.
    #[error("no `key` column")]
    NoKeyColumn,
    /// An Arrow column whose type cannot hold its field's values.
    #[error("column `{column}`: expected {expected}, found Arrow type {found}")]
    ColumnType {
        /// The column's name.
        column: String,
        /// What the field takes.
        expected: String,
        /// The column's Arrow type.
        found: String,
    },
    /// Decoding Arrow or Parquet input failed (a corrupt file, an
    /// unsupported encoding, a reader's error).
    #[error("Arrow/Parquet: {message}")]
    Arrow {
        /// The decoder's message.
        message: String,
    },
    /// Reading the input failed.
    #[error("read failed: {message}")]
    Io {
        /// The I/O error's message.
        message: String,
    },
    /// The kind already holds `u32::MAX` keys.
    #[error("the table is full: at most {max} keys per kind")]
    Full {
        /// The maximum number of keys.
        max: u64,
    },
    /// An error in one row of a batch; the whole batch was refused.
    #[error("row {row}: {source}")]
    InRow {
        /// The row's 0-based position in the batch.
        row: usize,
        /// What was wrong with it.
        source: Box<StoreError>,
    },
    /// An event property past the bounds of
    /// [`Properties`](crate::store::Properties).
    #[error("key `{key}`, event `{event}`, property `{property}`: {reason}")]
    BadProperty {
        /// The entity's key.
        key: String,
        /// The event's name.
        event: String,
        /// The property's name (empty when there are too many).
        property: String,
        /// What was wrong.
        reason: String,
    },
    /// Forgetting an event name that rules read by name.
    #[error("event `{event}` is read by {rules}")]
    EventInUse {
        /// The event name.
        event: String,
        /// The rules that read it, with their segments: `` rule 3 of `Active` (segment 1) ``.
        rules: String,
    },
    /// An error on one line of JSON Lines input; the whole input was refused.
    #[error("line {line}: {source}")]
    AtLine {
        /// The 1-based line number.
        line: usize,
        /// What was wrong with it.
        source: Box<StoreError>,
    },
    /// The write could not be journaled (on an engine opened on a
    /// directory): it was not applied.
    #[error(transparent)]
    Journal(#[from] JournalError),
}
