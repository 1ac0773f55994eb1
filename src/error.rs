//! Error types, one enum per area, and [`Error`] that wraps them all.

use crate::access::{Action, Role, Visibility};
use crate::ids::{RuleId, SegmentId};
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
    #[error("unknown kind `{kind}`")]
    UnknownKind {
        /// The name asked for.
        kind: String,
    },
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

/// Errors from writing to a [`Table`](crate::Table).
///
/// A failed write leaves the table exactly as it was, batches included.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A write to a kind the schema does not declare (through the
    /// [`Engine`](crate::Engine)).
    #[error("unknown kind `{kind}`")]
    UnknownKind {
        /// The kind named.
        kind: String,
    },
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

/// Errors from parsing or validating a [`Filter`](crate::Filter).
///
/// Every variant that concerns one node carries its `path`
/// in the filter tree, e.g. `rules[1].rules[0].value`, so a UI can point at it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// The text is not valid JSON (or nests deeper than the parser allows).
    #[error("invalid JSON: {message}")]
    Json {
        /// The parser's message.
        message: String,
    },
    /// The JSON is valid but not a group or rule of the expected shape.
    #[error("{path}: {message}")]
    Shape {
        /// Where.
        path: String,
        /// What was expected and found.
        message: String,
    },
    /// A rule names a field the kind does not have.
    #[error("{path}: unknown field `{field}`")]
    UnknownField {
        /// Where.
        path: String,
        /// The field named.
        field: String,
    },
    /// An operator name that the contract does not define.
    #[error("{path}: unknown operator `{operator}`")]
    UnknownOperator {
        /// Where.
        path: String,
        /// The operator named.
        operator: String,
    },
    /// An operator that the field's type does not take.
    #[error("{path}: operator `{operator}` does not apply to {field_type} field `{field}`")]
    OperatorNotForType {
        /// Where.
        path: String,
        /// The field.
        field: String,
        /// Its type.
        field_type: FieldType,
        /// The operator.
        operator: String,
    },
    /// A value of the wrong shape or type for the rule.
    #[error("{path} (field `{field}`): expected {expected}, found {found}")]
    BadValue {
        /// Where (ends in `.value`).
        path: String,
        /// The rule's field.
        field: String,
        /// What the operator and field take.
        expected: String,
        /// What was found.
        found: String,
    },
    /// An empty array for `in`, `notIn`, `containsAny`, `containsAll` or `containsNone`.
    #[error("{path} (field `{field}`): the list is empty")]
    EmptyList {
        /// Where.
        path: String,
        /// The rule's field.
        field: String,
    },
    /// `between` or `notBetween` with low > high.
    #[error("{path} (field `{field}`): low bound {low} is greater than high bound {high}")]
    InvertedRange {
        /// Where.
        path: String,
        /// The rule's field.
        field: String,
        /// The low bound as written.
        low: String,
        /// The high bound as written.
        high: String,
    },
    /// An operator that a pseudo-field (`@segment`, `@related:<kind>`,
    /// `@change:<event>`) does not take.
    #[error("{path}: operator `{operator}` does not apply to `{field}` (it takes {allowed})")]
    OperatorNotAllowed {
        /// Where.
        path: String,
        /// The pseudo-field.
        field: String,
        /// The operator.
        operator: String,
        /// The operators it takes.
        allowed: String,
    },
    /// `@related:<kind>` names a kind that is not related to the rule's
    /// kind (or the plan was validated without a schema).
    #[error("{path}: no relation from kind `{kind}` to this filter's kind")]
    UnknownRelation {
        /// Where.
        path: String,
        /// The kind named.
        kind: String,
    },
    /// [`Plan::in_schema`](crate::Plan::in_schema) with a kind the schema lacks.
    #[error("unknown kind `{kind}`")]
    UnknownKind {
        /// The kind named.
        kind: String,
    },
    /// A [`LimitPolicy`](crate::LimitPolicy) depth of 0 or past
    /// [`MAX_DEPTH_CAP`](crate::filter::MAX_DEPTH_CAP).
    #[error("a depth limit of {depth} is out of range: it must be 1 to {cap}")]
    DepthPolicy {
        /// The depth asked for.
        depth: usize,
        /// The cap.
        cap: usize,
    },
    /// More rules than the [`LimitPolicy`](crate::LimitPolicy) allows.
    #[error("too many conditions: {count} (the limit is {limit})")]
    TooManyConditions {
        /// The number of rules in the filter (counted up to `limit + 1` at most
        /// for filters that are also too deep).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A rule a builder left unfinished: no field, operator or value chosen
    /// yet (react-querybuilder's `"~"` placeholder, or `""` as a value).
    #[error("{path}: unfinished rule: {what}")]
    Unfinished {
        /// Where.
        path: String,
        /// What is missing.
        what: String,
    },
    /// A member this crate knows but does not support in this form
    /// (`"valueSource": "expression"`, say).
    #[error("{path}: {what} is not supported")]
    Unsupported {
        /// Where.
        path: String,
        /// What.
        what: String,
    },
    /// A regular expression that does not compile, or is over the size
    /// bounds ([`MAX_REGEX_LEN`](crate::filter::MAX_REGEX_LEN) bytes of
    /// pattern, [`MAX_REGEX_SIZE`](crate::filter::MAX_REGEX_SIZE) bytes
    /// compiled).
    #[error("{path} (field `{field}`): bad regular expression: {message}")]
    BadRegex {
        /// Where.
        path: String,
        /// The rule's field.
        field: String,
        /// The regex crate's message.
        message: String,
    },
    /// Groups nested deeper than the [`LimitPolicy`](crate::LimitPolicy) allows.
    #[error("{path}: nesting deeper than the limit of {limit}")]
    TooDeep {
        /// The first group found past the limit.
        path: String,
        /// The limit.
        limit: usize,
    },
}

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

/// Errors from evaluating a [`Plan`](crate::Plan).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The plan was validated against another kind or schema than the table's.
    #[error("the plan is for kind `{plan_kind}` but the table holds kind `{table_kind}` (or another schema of it)")]
    KindMismatch {
        /// The kind the plan was validated against.
        plan_kind: String,
        /// The table's kind.
        table_kind: String,
    },
    /// The plan names segments (`@segment`) or related kinds
    /// (`@related:<kind>`), which only an [`Engine`](crate::Engine) holds.
    #[error("the plan names segments or related kinds: evaluate it with an Engine")]
    NeedsEngine,
    /// The evaluation was cancelled through its budget's
    /// [`CancelToken`](crate::eval::CancelToken).
    #[error("the evaluation was cancelled")]
    Cancelled,
    /// The evaluation ran past its budget's deadline and gave up.
    #[error("the evaluation ran past its deadline and gave up after {elapsed:?}")]
    DeadlineExceeded {
        /// How long it had run when it gave up.
        elapsed: std::time::Duration,
    },
}

/// Errors from managing segments, their rules and their members, and from
/// asking about them.
///
/// A refused call changes nothing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// No segment has this id (or it was deleted).
    #[error("no {id}")]
    UnknownSegment {
        /// The id asked for.
        id: SegmentId,
    },
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
    #[error("unknown kind `{kind}`")]
    UnknownKind {
        /// The kind named.
        kind: String,
    },
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

/// What went wrong reading the change log or moving a consumer's cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Changes after `after` were dropped by retention: a consumer resuming
    /// there would miss them.
    #[error("the changes after {after} are no longer kept: the oldest kept is {oldest}")]
    Gap {
        /// The sequence number asked after.
        after: u64,
        /// The oldest sequence number kept.
        oldest: u64,
    },
    /// A sequence number past the newest change.
    #[error("sequence number {seq} is past the newest change, {last}")]
    Ahead {
        /// The sequence number given.
        seq: u64,
        /// The newest change's.
        last: u64,
    },
    /// No consumer has this name.
    #[error("no consumer `{consumer}`")]
    UnknownConsumer {
        /// The name.
        consumer: String,
    },
    /// A consumer's name must not be empty.
    #[error("a consumer's name must not be empty")]
    EmptyConsumer,
    /// Retention dropped changes after this instant: history as of it
    /// cannot be told.
    #[error("the log no longer holds every change after {at}: it starts at {oldest}")]
    NotRetained {
        /// The instant asked about.
        at: crate::value::Timestamp,
        /// The instant of the oldest change kept.
        oldest: crate::value::Timestamp,
    },
    /// A count series that cannot be made.
    #[error("bad count series: {reason}")]
    BadSeries {
        /// Why.
        reason: String,
    },
    /// A key the segment's kind never had.
    #[error("unknown key `{key}`")]
    UnknownKey {
        /// The key.
        key: String,
    },
}

/// What went wrong exporting a segment's members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// No segment has this id.
    #[error("no {id}")]
    UnknownSegment {
        /// The id.
        id: crate::ids::SegmentId,
    },
    /// The actor may not see the segment.
    #[error("{actor} may not see {id}")]
    Denied {
        /// The actor's id.
        actor: String,
        /// The segment.
        id: crate::ids::SegmentId,
    },
    /// A field (to export or to order by) the segment's kind does not have.
    #[error("unknown field `{field}`")]
    UnknownField {
        /// The field.
        field: String,
    },
    /// A page token this export did not give.
    #[error("bad page token `{token}`: {reason}")]
    BadToken {
        /// The token (its first 64 characters).
        token: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Writing the output failed.
    #[error("writing the export: {message}")]
    Io {
        /// The error's message.
        message: String,
    },
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
