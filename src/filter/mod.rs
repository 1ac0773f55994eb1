//! Filters: the AST users write (react-querybuilder's JSON), the limit
//! policy, and validation into a typed [`Plan`].
//!
//! # Pseudo-fields
//!
//! Fields that start with `@` are not columns:
//!
//! - `@count:<event>`, `@firstSeen[:<event>]`, `@lastSeen[:<event>]` and
//!   `@change:<event>` test an entity's events, those of a named event
//!   narrowed by their properties with `"where"` (below);
//! - `@delta:<field>`, `@max:<field>` and `@min:<field>` test how a
//!   tracked field moved over a window (below);
//! - `@segment` with `in` / `notIn` tests membership of saved segments;
//! - `@related:<kind>` quantifies over related entities (below).
//!
//! # Event properties
//!
//! Events may carry [`Properties`](crate::store::Properties) (recorded with
//! [`Engine::record_events`](crate::Engine::record_events), or from
//! JSON Lines with a `properties` object). A rule on `@count:<event>`,
//! `@firstSeen:<event>`, `@lastSeen:<event>` or `@change:<event>` counts
//! only the events whose properties match a filter when its value has a
//! `"where"` group; the group's rules name properties as fields:
//!
//! ```json
//! {"field": "@count:export", "operator": ">=", "value": {"count": 3,
//!   "withinLast": {"amount": 30, "unit": "days"},
//!   "where": {"combinator": "and", "rules": [
//!     {"field": "format", "operator": "=", "value": "csv"},
//!     {"field": "rows", "operator": ">", "value": 1000}]}}}
//! ```
//!
//! On `@firstSeen:<event>` and `@lastSeen:<event>` the value is wrapped:
//! `{"value": {"amount": 7, "unit": "days"}, "where": ...}`, and just
//! `{"where": ...}` with `null` / `notNull` (never / ever did such an event).
//! Properties are typed as recorded, so each property rule is typed by its
//! literal: a number compares numbers (ints and floats, exactly), a string
//! strings (`=`, `in`, `contains`, ... and their negations, case-sensitive
//! unless `caseInsensitive`), a boolean booleans; `<`, `<=`, `>`, `>=` and
//! `between` with RFC 3339 strings compare instants held as strings. A
//! property of another type, or absent, is a missing value: positive
//! operators are false on it, negative ones true, `null` holds. Time windows
//! relative to `now` (`withinLast`, ...) are refused inside `"where"`, and so
//! are pseudo-fields and field references. Each rule of the group counts
//! toward the [`LimitPolicy`].
//!
//! # Trends
//!
//! A schema may track a numeric field
//! ([`KindSchema::tracking`](crate::KindSchema::tracking), or
//! `"track": {"health": 90}` in a schema file): each entity then keeps its
//! last changes of that field (at most the bound given), each with the
//! instant of the engine write that made it. Three pseudo-fields read them,
//! over a window that ends at `now`, with `<`, `<=`, `>` or `>=`:
//!
//! | field | value | true when |
//! |---|---|---|
//! | `@delta:<f>` | `{"by": x, "withinLast": d}` | the value now less the value at the window's start compares with `x` |
//! | `@delta:<f>` | `{"percent": p, "withinLast": d}` | that change, as a percentage of the start value, compares with `p` |
//! | `@max:<f>` | `{"value": x, "withinLast": d}` | the highest value in force during the window compares with `x` |
//! | `@min:<f>` | `{"value": x, "withinLast": d}` | the lowest does |
//!
//! The value at the window's start is the one in force then (the last
//! change at or before `now - d`); for an entity whose kept changes begin
//! inside the window, its first change. A delta needs both ends present and,
//! for a percentage, a start other than zero; a cleared value counts for
//! nothing. "Rose by at least 10 in 30 days" is `@delta:health >= {"by": 10,
//! ...}`, "fell by 20%" `@delta:health <= {"percent": -20, ...}`, "was above
//! 80 at any time in the window" `@max:health > {"value": 80, ...}`, and
//! "crossed below 50 within the window" is `@max:health >= {"value": 50,
//! ...}` and `health < 50`. Trends are relative to `now`:
//! [`Engine::refresh`](crate::Engine::refresh) keeps them current and
//! [`Segments::next_change`](crate::engine::Segments::next_change) says when.
//!
//! ```
//! use segments::segment::{Actor, NewSegment, Role};
//! use segments::{Clock, Engine, FieldType, Filter, Row, Schema, Timestamp};
//!
//! let schema = Schema::builder()
//!     .kind("account", [("engagement", FieldType::Float)])
//!     .track("engagement", 90)
//!     .build()?;
//! let mut engine = Engine::new(schema);
//! let day = |d: i64| Timestamp::from_micros(1_798_761_600_000_000 + d * 86_400_000_000);
//! engine.set_clock(Clock::Fixed(day(0)))?;
//! engine.insert("account", "acme", Row::new().set("engagement", 40.0))?;
//! engine.insert("account", "globex", Row::new().set("engagement", 70.0))?;
//! let rising = Filter::from_json(r#"{"combinator": "and", "rules": [{"field": "@delta:engagement",
//!     "operator": ">=", "value": {"percent": 25, "withinLast": {"amount": 30, "unit": "days"}}}]}"#)?;
//! let (id, _) = engine.create_segment(&Actor::new("ada", Role::Admin),
//!     NewSegment::new("Increasing engagement", "account").filter(rising))?;
//! engine.set_clock(Clock::Fixed(day(10)))?;
//! engine.upsert("account", "acme", Row::new().set("engagement", 55.0))?; // +37.5%
//! engine.upsert("account", "globex", Row::new().set("engagement", 75.0))?; // +7%
//! assert_eq!(engine.segments().member_keys(id)?.collect::<Vec<_>>(), ["acme"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
    CmpOp, Cond, CountWin, EventCond, EventWhat, FieldTest, PlanNode, PropNode, Quant, RelCond, StrKind, StrMatch,
    StrNode, StrPred, TagCount, TagsMatch, Test, TrendTest, TrendWhat, Window,
};
pub(crate) use validate::deeper_than;
pub use validate::{MAX_REGEX_LEN, MAX_REGEX_SIZE};
