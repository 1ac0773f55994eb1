//! Errors of segments, their settings and statistics over them.

use super::{FilterError, JournalError};
use crate::access::{Action, Role, Visibility};
use crate::ids::{RuleId, SegmentId};
use crate::value::FieldType;

/// Errors from managing segments, their rules and their members, and from
/// asking about them.
///
/// A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// A segment of another kind than the question's
    /// ([`Query::within`](crate::engine::Query::within)).
    #[error("{segment} holds `{kind}` entities, not `{expected}`")]
    OtherKind {
        /// The segment.
        segment: SegmentId,
        /// Its kind.
        kind: String,
        /// The kind asked about.
        expected: String,
    },
    /// No segment has this id (or it was deleted).
    #[error(transparent)]
    UnknownSegment(#[from] super::UnknownSegment),
    /// `@segment` names a segment by a name that no segment has (or none
    /// the actor may see: the same error, so that it tells nothing of
    /// others' private segments).
    #[error("no segment named `{name}`")]
    UnknownSegmentName {
        /// The name.
        name: String,
    },
    /// No rule has this id (or it was detached).
    #[error("no {id}")]
    UnknownRule {
        /// The id asked for.
        id: RuleId,
    },
    /// A segment over a kind the schema does not declare.
    #[error(transparent)]
    UnknownKind(#[from] super::UnknownKind),
    /// A name that is empty once trimmed.
    #[error("segment name is empty")]
    EmptyName,
    /// A name another segment has.
    #[error("a segment named `{name}` already exists ({existing})")]
    DuplicateName {
        /// The name, trimmed.
        name: String,
        /// The segment that has it.
        existing: SegmentId,
    },
    /// The actor's role does not allow the action, or the actor may not
    /// see the segment or rule it names. For a segment the actor may not
    /// see, `target` holds only its id, and the error is the same whether
    /// the segment exists or not: a refusal tells nothing of what the actor
    /// may not see.
    #[error("actor `{actor}` ({role:?}) may not {action} {target}")]
    Denied {
        /// The actor's id.
        actor: String,
        /// The actor's role.
        role: Role,
        /// What it tried.
        action: Action,
        /// On what: a segment, or `segments`.
        target: String,
    },
    /// A filter that does not validate against the segment's kind.
    #[error("segment `{segment}`: {source}")]
    Filter {
        /// The segment's name.
        segment: String,
        /// What was wrong, with its path in the filter (boxed: a filter
        /// error names paths and fields, and results stay small).
        source: Box<FilterError>,
    },
    /// A key that is not a live entity of the segment's kind.
    #[error("{kind} `{key}`: no such entity")]
    UnknownKey {
        /// The kind.
        kind: String,
        /// The key.
        key: String,
    },
    /// An external rule asked for what only a rule with a filter takes, or
    /// the reverse; or external matches that contradict themselves.
    #[error("{rule}: {reason}")]
    External {
        /// The rule.
        rule: crate::ids::RuleId,
        /// What was wrong.
        reason: String,
    },
    /// An id that is not a live entity of the segment's kind.
    #[error("{kind} entity {id}: no such entity")]
    UnknownEntity {
        /// The kind.
        kind: String,
        /// The first such id.
        id: u32,
    },
    /// A position past the end of the listing.
    #[error("position {position} is out of range (there are {len} segments)")]
    Position {
        /// The position asked for.
        position: usize,
        /// The number of segments.
        len: usize,
    },
    /// A reorder that does not name every segment exactly once.
    #[error("reorder must list every segment exactly once: {problem}")]
    NotAPermutation {
        /// What was wrong.
        problem: String,
    },
    /// A rule names (`@segment`) a segment that does not exist or holds
    /// another kind of entity than the filter tests there.
    #[error("segment `{segment}`: the filter names {referenced}, but {problem}")]
    BadReference {
        /// The segment whose rule names it.
        segment: String,
        /// The segment named.
        referenced: SegmentId,
        /// What is wrong with it.
        problem: String,
    },
    /// Saving the rule would make segments depend on themselves.
    #[error("segments would depend on themselves: {cycle}")]
    Cycle {
        /// The cycle, from the segment being saved back to itself:
        /// `` `A` (segment 1) -> `B` (segment 2) -> `A` (segment 1) ``.
        cycle: String,
    },
    /// A segment that other segments' rules name cannot be deleted.
    #[error("{segment} is named by the rules of {by}")]
    InUse {
        /// The segment.
        segment: SegmentId,
        /// The segments that name it that the actor may see, e.g.
        /// `` `Churn risk` (segment 4) ``; others are only counted.
        by: String,
    },
    /// A change of visibility that would let a segment's viewers read a
    /// private segment through a rule: a public segment may name only
    /// public segments, a private one also its owner's private segments.
    #[error("{segment} cannot be made {visibility}: {problem}")]
    VisibilityConflict {
        /// The segment.
        segment: SegmentId,
        /// The visibility asked for.
        visibility: Visibility,
        /// Which rules stand in the way.
        problem: String,
    },
    /// A sharing that would let someone read a private segment through
    /// another, or that is over its limits.
    #[error("{segment} cannot be shared so: {problem}")]
    BadAccess {
        /// The segment.
        segment: SegmentId,
        /// What stands in the way.
        problem: String,
    },
    /// Settings over their limits.
    #[error("{segment}: settings: {source}")]
    Settings {
        /// The segment (`segment 0` for one not created yet).
        segment: SegmentId,
        /// What was wrong.
        source: SettingsError,
    },
    /// A write that expected another version of the segment's definition:
    /// someone changed it since the caller read it.
    #[error("{segment} is at version {actual}, not {expected}: it changed since it was read")]
    Stale {
        /// The segment.
        segment: SegmentId,
        /// The version the caller read.
        expected: u64,
        /// The version it is at.
        actual: u64,
    },
    /// The write could not be journaled (on an engine opened on a
    /// directory): it was not applied.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Errors from a segment's [`Settings`](crate::segment::Settings).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// Settings are a JSON object.
    #[error("settings are a JSON object")]
    NotAnObject,
    /// Text that is not JSON.
    #[error("not JSON: {message}")]
    Json {
        /// serde_json's message, with the line and column.
        message: String,
    },
    /// A key that is empty or too long.
    #[error("key `{key}`: {reason}")]
    BadKey {
        /// The key (its first 64 characters).
        key: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A value that nests too deep.
    #[error("key `{key}`: nests deeper than {limit}")]
    TooDeep {
        /// The key.
        key: String,
        /// The most allowed.
        limit: usize,
    },
    /// Settings over the size limit.
    #[error("{bytes} bytes of JSON (or more), over the limit of {limit}")]
    TooLarge {
        /// Their size (counting stops past the limit).
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A value that is not of the type asked for, or a type that has no
    /// JSON form.
    #[error("key `{key}`: {message}")]
    Type {
        /// The key.
        key: String,
        /// serde's message.
        message: String,
    },
}

/// Errors from statistics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A field the kind does not have.
    #[error("kind `{kind}`: unknown field `{field}`")]
    UnknownField {
        /// The kind.
        kind: String,
        /// The field named.
        field: String,
    },
    /// Numeric statistics of a field that is not int, float or timestamp, or
    /// value counts of one that is not string, tags or bool.
    #[error("field `{field}` is {field_type}: {wanted}")]
    WrongType {
        /// The field.
        field: String,
        /// Its type.
        field_type: FieldType,
        /// What the statistic takes.
        wanted: &'static str,
    },
    /// A percentile outside 0 to 100 (or NaN).
    #[error("percentile {value} is not between 0 and 100")]
    BadPercentile {
        /// The value given.
        value: f64,
    },
}
