#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! segments
pub mod error;
pub mod eval;
pub mod filter;
pub mod schema;
pub mod store;
pub mod value;
pub use error::*;
pub use filter::{Filter, LimitPolicy, Plan};
pub use schema::*;
pub use store::{EntityId, IndexConfig, MemoryUsage, Row, Store, Table};
pub use value::{Timestamp, TimestampError, Value};
