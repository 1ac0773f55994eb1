//! Errors of the change log and of exports.

/// What went wrong reading the change log or moving a consumer's cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Changes after `after` were dropped by retention: a consumer resuming
    /// there would miss them.
    #[error(
        "the changes after {after} are no longer kept: the oldest kept is {oldest} \
         (a new consumer starts from now with `engine.ack(consumer, engine.log().seq())`)"
    )]
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
    #[error(transparent)]
    UnknownSegment(#[from] super::UnknownSegment),
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
