//! Filters: the AST users write (react-querybuilder's JSON), the limit
//! policy, and validation into a typed [`Plan`].
//!
//! # Pseudo-fields
//!
//! Fields that start with `@` are not columns:
//!
//! - `@count:<event>`, `@firstSeen[:<event>]`, `@lastSeen[:<event>]` and
//!   `@change:<event>` test an entity's events;
//! - `@segment` with `in` / `notIn` tests membership of saved segments;
//! - `@related:<kind>` quantifies over related entities (below).
//!
//! # Relations
//!
//! When the schema declares that kind `user` belongs to kind `account`
//! ([`Schema::with_relation`](crate::Schema::with_relation)), an account
//! rule on `@related:user` tests each account's users against a nested
//! filter: `any`, `none`, `all` (true for an account without users) and
//! `atLeast` a count or a share (false for an account without users).
//! Each rule of the nested filter counts toward the [`LimitPolicy`], and
//! its groups are one level deeper than the rule holding them.
//!
//! ```
//! use segments::filter::{field, related, TimeUnit};
//! use segments::{FieldType, Filter, LimitPolicy, Plan, Schema};
//!
//! let schema = Schema::builder()
//!     .kind("account", [("mrr", FieldType::Int)])
//!     .kind("user", [("account_id", FieldType::String)])
//!     .relation("user", "account_id", "account")
//!     .build()?;
//! let dormant = Filter::and([related("user").none(Filter::and([
//!     field("@lastSeen").within_last(14, TimeUnit::Days)]))]);
//! let plan = Plan::in_schema(&dormant, &schema, "account", &LimitPolicy::default())?;
//! assert_eq!(plan.conditions(), 2);
//! assert!(plan.needs_engine());
//! # Ok::<(), segments::Error>(())
//! ```

mod ast;
mod builder;
mod json;
mod limit;
mod path;
mod plan;
mod validate;

pub use ast::{
    Combinator, CountWindow, Duration, EventCount, EventWhere, Filter, Group, Literal, MatchMode, Nested, Node,
    Operator, Rule, TagMatch, Threshold, TimeUnit, UsageChange,
};
pub use builder::{field, in_segments, not_in_segments, other_field, related, usage_change, FieldRef, RelatedRef};
pub use limit::{LimitPolicy, MAX_DEPTH_CAP};
pub(crate) use path::Path;
pub use plan::Plan;
pub(crate) use plan::{
    CmpOp, Cond, CountWin, EventCond, EventWhat, FieldTest, PlanNode, PropNode, Quant, RelCond, StrMatch, TagCount,
    Test, Window,
};
pub(crate) use validate::deeper_than;
pub use validate::{MAX_REGEX_LEN, MAX_REGEX_SIZE};
