//! Errors of filters: parsing and validating one, and evaluating it.

use crate::value::FieldType;

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
    #[error(transparent)]
    UnknownKind(#[from] super::UnknownKind),
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
