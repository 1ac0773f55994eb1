//! An embedded engine for customer segmentation: an in-memory columnar
//! store of entities (accounts, users, ...) with typed attributes, filters in
//! react-querybuilder's JSON, and an evaluator that turns a filter into a
//! [`RoaringBitmap`](roaring::RoaringBitmap) of entity ids through
//! per-column indexes.
//!
//! ```
//! use segments::filter::{field, Node, TimeUnit};
//! use segments::{eval, FieldType, Filter, KindSchema, LimitPolicy, Row, Table, Timestamp};
//!
//! // A kind of entity and its typed fields.
//! let mut accounts = Table::new(KindSchema::new("account", [
//!     ("health", FieldType::Float),
//!     ("nps", FieldType::Int),
//!     ("plan", FieldType::String),
//!     ("last_seen", FieldType::Timestamp),
//! ])?);
//!
//! // Entities, by key; any field may be missing.
//! let now: Timestamp = "2026-11-22T12:00:00Z".parse()?;
//! accounts.insert("acct-1", Row::new().set("health", 25.5).set("nps", 3i64).set("plan", "pro")
//!     .set("last_seen", Timestamp::from_micros(now.as_micros() - 3_600_000_000)))?;
//! accounts.insert("acct-2", Row::new().set("health", 80.0).set("plan", "free"))?;
//! accounts.upsert_json(r#"{"key": "acct-3", "health": 12, "nps": 9, "plan": "enterprise"}"#)?;
//!
//! // A filter, as a query builder sends it or built in Rust...
//! let from_ui = Filter::from_json(r#"{"combinator": "and", "rules": [
//!     {"field": "health", "operator": "<", "value": 30},
//!     {"field": "plan", "operator": "in", "value": ["pro", "enterprise"]}]}"#)?;
//! let in_rust = Filter::and([
//!     Node::from(field("health").lt(30)),
//!     field("last_seen").within_last(14, TimeUnit::Days).into(),
//! ]);
//!
//! // ... validated once against the schema into a typed plan...
//! let policy = LimitPolicy::default();
//! let plan = from_ui.validate(accounts.schema(), &policy)?;
//!
//! // ... and evaluated at an explicit `now` into a bitmap of ids.
//! let ids = eval::evaluate(&plan, &accounts, now)?;
//! assert_eq!(accounts.keys_of(&ids).collect::<Vec<_>>(), ["acct-1", "acct-3"]);
//! let recent = eval::evaluate(&in_rust.validate(accounts.schema(), &policy)?, &accounts, now)?;
//! assert_eq!(accounts.keys_of(&recent).collect::<Vec<_>>(), ["acct-1"]);
//!
//! // Writes keep every index current.
//! accounts.upsert("acct-3", Row::new().set("health", 95.0))?;
//! assert_eq!(eval::evaluate(&plan, &accounts, now)?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The manual is the [`guide`], a chapter a module; the module map, with
//! the state and invariant each part owns, is the repository's
//! `ARCHITECTURE.md`.
//!
//! Segments with link-based membership, through the [`Engine`]:
//!
//! ```
//! use segments::filter::field;
//! use segments::segment::{Actor, Cause, ChangeKind, NewSegment, Role};
//! use segments::{Engine, FieldType, Filter, Row, Schema};
//!
//! let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
//! let mut engine = Engine::new(schema);
//! engine.insert("account", "acme", Row::new().set("health", 22.0))?;
//! let admin = Actor::new("ada", Role::Admin);
//!
//! // A segment's filter is a rule: it links the entities it matches.
//! let (at_risk, changes) = engine.create_segment(&admin,
//!     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])))?;
//! assert_eq!(changes.len(), 1);
//!
//! // A manual removal unlinks acme and blocks the filter from adding it back.
//! engine.remove_members(&admin, at_risk, ["acme"])?;
//! assert!(engine.upsert("account", "acme", Row::new().set("health", 10.0))?.is_empty());
//!
//! // A rule attached later is not blocked.
//! let (rule, changes) = engine.attach_rule(&admin, at_risk, Filter::and([field("health").lt(15)]))?;
//! let c = changes.iter().next().unwrap();
//! assert_eq!((c.kind, c.cause), (ChangeKind::Entered, Cause::Rule(rule)));
//! # Ok::<(), segments::Error>(())
//! ```
//!
//! Semantics follow [the contract](crate::contract): a rule is true or false
//! for every entity; positive operators are false on missing values and
//! negative operators are their exact complements; numbers compare exactly
//! across int and float; timestamps are instants at microsecond precision.
//!
//! Cargo features, all off by default: `arrow` (loads from Arrow record
//! batches, `Table::insert_arrow`), `parquet` (loads from Parquet files,
//! `Table::insert_parquet`; implies `arrow`), both needing Rust 1.88; and
//! `testing` ([`testing`]: the row-scan oracle over an engine and a
//! consistency check, for tests).

#![forbid(unsafe_code)]
#![doc(test(attr(deny(deprecated))))]
#![warn(missing_docs)]

pub mod contract {
    //! The contract: JSON formats and semantics of filters, entity files and
    //! schemas, and of the `segment` command.
    //!
    #![doc = include_str!("contract.md")]
}
mod access;
pub mod engine;
pub mod error;
pub mod eval;
pub mod filter;
pub mod guide;
mod ids;
pub mod journal;
pub mod op;
pub mod schema;
pub mod segment;
pub mod snapshot;
pub mod sql;
pub mod stats;
pub mod store;
mod strict_json;
pub mod value;

/// The arrow-rs crate the Arrow loads take record batches of (feature `arrow`).
#[cfg(feature = "arrow")]
pub use arrow_array;
/// Hooks for tests (feature `testing`): the row-scan oracle over an engine
/// and a check of every invariant it keeps.
#[cfg(feature = "testing")]
pub use engine::testing;
pub use engine::Engine;
pub use error::{
    Error, EvalError, ExportError, FilterError, JournalError, LogError, OpError, SchemaChangeError, SchemaError,
    SegmentError, SettingsError, SnapshotError, StatsError, StoreError,
};
pub use filter::{Filter, LimitPolicy, Plan};
pub use op::{DataOp, LogOp, ManageOp, Op, SchemaOp, TimeOp};
/// The arrow-rs crate the Parquet loads read with (feature `parquet`).
#[cfg(feature = "parquet")]
pub use parquet;
pub use schema::{FieldId, FieldType, KindId, KindSchema, Relation, RelationId, Schema, SchemaBuilder};
pub use store::{EntityId, IndexConfig, MemoryUsage, Rejected, RejectedLine, Row, Store, Table};
pub use value::{Clock, Timestamp, TimestampError, Value};

/// The README's examples, compiled and run as doctests so that they cannot
/// drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
