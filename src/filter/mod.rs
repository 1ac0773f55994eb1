//! Filters: the AST users write (react-querybuilder's JSON), the limit
//! policy, and validation into a typed [`Plan`].

mod ast;
mod builder;
mod json;
mod limit;
mod path;
mod plan;

pub use ast::{
    Combinator, CountWindow, Duration, EventCount, Filter, Group, Literal, Nested, Node, Operator, Rule, Threshold,
    TimeUnit, UsageChange,
};
pub use builder::{field, in_segments, not_in_segments, related, usage_change, FieldRef, RelatedRef};
pub use limit::{LimitPolicy, MAX_DEPTH_CAP};
pub use plan::Plan;
pub(crate) use plan::{CmpOp, Cond, CountWin, EventCond, EventWhat, PNode, Quant, RelCond, Test, Window};
