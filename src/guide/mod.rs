//! The guide: how to use the crate, one chapter a module, each example a
//! doctest that runs.
//!
//! | chapter | what it covers |
//! | --- | --- |
//! | [`tables`] | a `Table` of one kind: keys, typed rows, JSON Lines, Arrow and Parquet, evaluation into bitmaps |
//! | [`segments`] | the `Engine`: segments, rules, links and the cause of every change; roles and visibility |
//! | [`filters`] | the filter JSON as react-querybuilder holds it, events, trends, relations, segments in segments, time |
//! | [`builder`] | a builder UI's backend: live counts, explain, preview, checks, suggestions |
//! | [`durability`] | snapshots, and a directory whose journal survives crashes |
//! | [`changes`] | the change log, consumers and cursors, exports, history, a schema that grows, the whole flow of a service |
//! | [`hostile`] | sharing an engine across threads, what hostile input costs, fuzzing |
//! | [`sql`] | the same filters compiled to PostgreSQL, DuckDB, ClickHouse and Spark; external rules |
//! | [`command`] | the `segment` example, per the crate's [contract](crate::contract) |
//! | [`performance`] | how the indexes and the evaluator make it fast |
//! | [`upgrading`] | from 0.1: the read handles and the folded writes, name by name |
//!
//! The module map, and the invariant each part owns, is the repository's
//! `ARCHITECTURE.md`; measurements, each with its command, are in its
//! `BENCHMARKS.md`.

pub mod tables {
    #![doc = include_str!("tables.md")]
}
pub mod segments {
    #![doc = include_str!("segments.md")]
}
pub mod filters {
    #![doc = include_str!("filters.md")]
}
pub mod builder {
    #![doc = include_str!("builder.md")]
}
pub mod durability {
    #![doc = include_str!("durability.md")]
}
pub mod changes {
    #![doc = include_str!("changes.md")]
}
pub mod hostile {
    #![doc = include_str!("hostile.md")]
}
pub mod sql {
    #![doc = include_str!("sql.md")]
}
pub mod command {
    #![doc = include_str!("command.md")]
}
pub mod performance {
    #![doc = include_str!("performance.md")]
}
pub mod upgrading {
    #![doc = include_str!("upgrading.md")]
}
