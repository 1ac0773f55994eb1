//! Errors of schemas: building one, and changing an engine's.

use super::JournalError;
use crate::value::FieldType;

/// Errors from building a [`Schema`](crate::Schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A kind was declared with an empty (or all-blank) name.
    #[error("kind name is empty")]
    EmptyKindName,
    /// A field the kind does not have.
    #[error("kind `{kind}` has no field `{field}`")]
    UnknownField {
        /// The kind.
        kind: String,
        /// The field named.
        field: String,
    },
    /// A field that cannot be tracked, or a bound out of range.
    #[error("kind `{kind}`, field `{field}`: cannot track: {reason}")]
    NotTrackable {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// Removing a field a relation goes through.
    #[error("field `{field}` of `{kind}` holds a relation's parent key")]
    RelationKey {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
    },
    /// Two kinds share a name.
    #[error("duplicate kind `{kind}`")]
    DuplicateKind {
        /// The repeated name.
        kind: String,
    },
    /// A field was declared with an empty (or all-blank) name.
    #[error("kind `{kind}`: field name is empty")]
    EmptyFieldName {
        /// The kind being declared.
        kind: String,
    },
    /// `key` names the entity key in JSON rows and cannot be a field.
    #[error("kind `{kind}`: field name `key` is reserved for the entity key")]
    ReservedFieldName {
        /// The kind being declared.
        kind: String,
    },
    /// Field names starting with `@` name event conditions in filters
    /// (`@lastSeen`, `@count:login`).
    #[error("kind `{kind}`: field name `{field}` starts with `@`, which is reserved for event conditions")]
    ReservedPrefix {
        /// The kind being declared.
        kind: String,
        /// The field named.
        field: String,
    },
    /// Two fields of one kind share a name.
    #[error("kind `{kind}`: duplicate field `{field}`")]
    DuplicateField {
        /// The kind being declared.
        kind: String,
        /// The repeated name.
        field: String,
    },
    /// A kind name that the schema does not declare.
    #[error(transparent)]
    UnknownKind(#[from] super::UnknownKind),
    /// A field type name that is not one of `int`, `float`, `string`, `bool`,
    /// `timestamp`, `tags`.
    #[error("field `{field}`: unknown type `{found}` (expected int, float, string, bool, timestamp or tags)")]
    UnknownType {
        /// The field being declared.
        field: String,
        /// The type name found.
        found: String,
    },
    /// A relation names a field its child kind does not have.
    #[error("relation from `{kind}` to `{parent}`: kind `{kind}` has no field `{field}`")]
    UnknownRelationField {
        /// The child kind.
        kind: String,
        /// The field named.
        field: String,
        /// The parent kind.
        parent: String,
    },
    /// A relation's field must hold the parent's key, a string.
    #[error("relation from `{kind}` to `{parent}`: field `{field}` is {found}, but a relation field holds the parent's key, a string")]
    RelationFieldType {
        /// The child kind.
        kind: String,
        /// The field named.
        field: String,
        /// The parent kind.
        parent: String,
        /// The field's type.
        found: FieldType,
    },
    /// Two relations from one kind to another: filters could not tell them apart.
    #[error("duplicate relation from `{kind}` to `{parent}`")]
    DuplicateRelation {
        /// The child kind.
        kind: String,
        /// The parent kind.
        parent: String,
    },
    /// A JSON schema document that is not of the expected shape.
    #[error("invalid schema JSON: {message}")]
    Json {
        /// What was wrong.
        message: String,
    },
}

/// Errors from changing a live engine's schema
/// ([`Engine::add_field`](crate::Engine::add_field) and its kin). A refused
/// change changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaChangeError {
    /// The schema the change would make is not valid: an unknown kind or
    /// field, a repeated or reserved name, a relation that cannot be.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Removing a field that rules read.
    #[error("field `{field}` of `{kind}` is read by {rules}")]
    InUse {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
        /// The rules that read it, with their segments: `` rule 3 of `At risk` (segment 1) ``.
        rules: String,
    },
    /// The change could not be journaled: it was not applied.
    #[error(transparent)]
    Journal(#[from] JournalError),
}
