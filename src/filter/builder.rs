//! Building filters in Rust.

use super::ast::{
    Combinator, Duration, Filter, Group, Literal, MatchMode, Nested, Node, Operator, Rule, TagMatch, Threshold,
    TimeUnit, UsageChange,
};
use crate::ids::SegmentId;
use crate::value::Timestamp;

impl Group {
    /// A group in which every rule must hold.
    pub fn and<N: Into<Node>>(rules: impl IntoIterator<Item = N>) -> Group {
        Group {
            combinator: Combinator::And,
            not: false,
            rules: rules.into_iter().map(Into::into).collect(),
        }
    }

    /// A group in which some rule must hold.
    pub fn or<N: Into<Node>>(rules: impl IntoIterator<Item = N>) -> Group {
        Group {
            combinator: Combinator::Or,
            not: false,
            rules: rules.into_iter().map(Into::into).collect(),
        }
    }

    /// A group in which an odd number of rules must hold.
    pub fn xor<N: Into<Node>>(rules: impl IntoIterator<Item = N>) -> Group {
        Group {
            combinator: Combinator::Xor,
            not: false,
            rules: rules.into_iter().map(Into::into).collect(),
        }
    }

    /// The same group with its `not` flag flipped.
    #[must_use]
    pub fn negated(mut self) -> Group {
        self.not = !self.not;
        self
    }
}

impl From<Rule> for Node {
    fn from(r: Rule) -> Node {
        Node::Rule(r)
    }
}

impl From<Group> for Node {
    fn from(g: Group) -> Node {
        Node::Group(g)
    }
}

impl Rule {
    /// A rule from its three parts.
    pub fn new(field: impl Into<String>, operator: Operator, value: Option<Literal>) -> Rule {
        Rule {
            field: field.into(),
            operator,
            value,
            case_insensitive: false,
        }
    }

    /// The same rule, ignoring case (`"caseInsensitive": true`).
    #[must_use]
    pub fn ignoring_case(mut self) -> Rule {
        self.case_insensitive = true;
        self
    }
    /// The same rule on an event pseudo-field, counting only the events
    /// whose properties match `filter` (its rules name properties): see
    /// [`EventWhere`](super::EventWhere).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::{field, Literal, TimeUnit};
    /// use segments::Filter;
    ///
    /// let csv = field("@lastSeen:export")
    ///     .within_last(30, TimeUnit::Days)
    ///     .where_properties(Filter::and([field("format").eq("csv")]));
    /// assert!(matches!(csv.value, Some(Literal::Where(_))));
    /// let json = Filter::and([csv]).to_json_value().to_string();
    /// assert!(json.contains(r#""where":{"combinator":"and","rules":[{"field":"format""#));
    /// assert_eq!(Filter::from_json(&json)?.to_json_value().to_string(), json);
    /// # Ok::<(), segments::Error>(())
    /// ```
    #[must_use]
    pub fn where_properties(mut self, filter: Group) -> Rule {
        let value = self.value.take();
        self.value = Some(Literal::Where(Box::new(super::EventWhere { value, filter })));
        self
    }
}

/// Starts a rule on a field: `field("health").lt(30)`.
///
/// # Examples
///
/// ```
/// use segments::filter::{field, Filter, Node, TimeUnit};
///
/// // Rules and groups mix in one group as `Node`s.
/// let at_risk = Filter::and([
///     Node::from(field("health").lt(30)),
///     Filter::or([field("nps").lt(7), field("mrr").gt(1000)]).into(),
///     field("plan").is_in(["pro", "enterprise"]).into(),
///     field("last_seen").within_last(14, TimeUnit::Days).into(),
/// ]);
/// assert_eq!(at_risk.rules.len(), 4);
/// ```
pub fn field(name: impl Into<String>) -> FieldRef {
    FieldRef(name.into())
}

/// A field name waiting for its operator; see [`field`].
#[derive(Debug, Clone)]
pub struct FieldRef(String);

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(self, value: impl Into<Literal>) -> Rule {
            Rule::new(self.0, Operator::$op, Some(value.into()))
        }
    )*};
}

macro_rules! list {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name<L: Into<Literal>>(self, values: impl IntoIterator<Item = L>) -> Rule {
            Rule::new(self.0, Operator::$op, Some(Literal::List(values.into_iter().map(Into::into).collect())))
        }
    )*};
}

macro_rules! pair {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(self, low: impl Into<Literal>, high: impl Into<Literal>) -> Rule {
            Rule::new(self.0, Operator::$op, Some(Literal::List(vec![low.into(), high.into()])))
        }
    )*};
}

macro_rules! window {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(self, amount: u64, unit: TimeUnit) -> Rule {
            Rule::new(self.0, Operator::$op, Some(Literal::Duration(Duration { amount, unit })))
        }
    )*};
}

impl FieldRef {
    unary! {
        /// `=`
        eq => Eq,
        /// `!=`
        ne => Ne,
        /// `<`
        lt => Lt,
        /// `<=`
        le => Le,
        /// `>`
        gt => Gt,
        /// `>=`
        ge => Ge,
        /// `contains`
        contains => Contains,
        /// `doesNotContain`
        does_not_contain => DoesNotContain,
        /// `beginsWith`
        begins_with => BeginsWith,
        /// `doesNotBeginWith`
        does_not_begin_with => DoesNotBeginWith,
        /// `endsWith`
        ends_with => EndsWith,
        /// `doesNotEndWith`
        does_not_end_with => DoesNotEndWith,
    }
    list! {
        /// `in`
        is_in => In,
        /// `notIn`
        not_in => NotIn,
        /// `containsAny`
        contains_any => ContainsAny,
        /// `containsAll`
        contains_all => ContainsAll,
        /// `containsNone`
        contains_none => ContainsNone,
    }
    pair! {
        /// `between`, inclusive.
        between => Between,
        /// `notBetween`
        not_between => NotBetween,
    }
    window! {
        /// `withinLast`
        within_last => WithinLast,
        /// `withinNext`
        within_next => WithinNext,
        /// `moreThanAgo`
        more_than_ago => MoreThanAgo,
    }

    /// `matchesRegex`: the string matches `pattern` (unanchored).
    pub fn matches_regex(self, pattern: &str) -> Rule {
        Rule::new(self.0, Operator::MatchesRegex, Some(Literal::String(pattern.into())))
    }

    /// A match mode on a tags field: how many of the tags `filter` (whose
    /// rules name this same field) matches; `threshold` for `atLeast`,
    /// `atMost` and `exactly`.
    ///
    /// ```
    /// use segments::filter::{field, Filter, MatchMode};
    ///
    /// // At least two tags that start with "beta-".
    /// let r = field("tags").matching(MatchMode::AtLeast, Some(2.0),
    ///     Filter::and([field("tags").begins_with("beta-")]));
    /// assert_eq!(r.value.is_some(), true);
    /// ```
    pub fn matching(self, mode: MatchMode, threshold: Option<f64>, filter: Filter) -> Rule {
        Rule::new(
            self.0,
            Operator::Eq,
            Some(Literal::Match(Box::new(TagMatch {
                mode,
                threshold,
                filter,
            }))),
        )
    }

    /// `null`: the value is missing.
    pub fn is_null(self) -> Rule {
        Rule::new(self.0, Operator::Null, None)
    }

    /// `notNull`: the value is present.
    pub fn not_null(self) -> Rule {
        Rule::new(self.0, Operator::NotNull, None)
    }
}

macro_rules! literal_from {
    ($($t:ty => |$x:ident| $e:expr),* $(,)?) => {$(
        impl From<$t> for Literal {
            fn from($x: $t) -> Literal {
                $e
            }
        }
    )*};
}

literal_from! {
    i32 => |x| Literal::Int(x.into()),
    i64 => |x| Literal::Int(x.into()),
    u32 => |x| Literal::Int(x.into()),
    u64 => |x| Literal::Int(x.into()),
    f64 => |x| Literal::Float(x),
    bool => |x| Literal::Bool(x),
    &str => |x| Literal::String(x.to_string()),
    String => |x| Literal::String(x),
    Timestamp => |x| Literal::String(x.to_string()),
    Duration => |x| Literal::Duration(x),
}

/// Another field of the same entity as a rule's value
/// (`"valueSource": "field"`): `field("mrr").gt(other_field("mrr_last_year"))`.
pub fn other_field(name: &str) -> Literal {
    Literal::Field(name.to_string())
}

/// A quantifier over the entities of kind `kind` related to the filter's
/// kind (`@related:<kind>`), e.g. an account's users.
///
/// # Examples
///
/// ```
/// use segments::filter::{field, related, TimeUnit};
/// use segments::Filter;
///
/// // Accounts with no user active in the last 14 days.
/// let dormant = Filter::and([related("user").none(Filter::and([
///     field("@lastSeen").within_last(14, TimeUnit::Days)]))]);
/// assert_eq!(dormant.to_json_value()["rules"][0]["operator"], "none");
/// ```
pub fn related(kind: &str) -> RelatedRef {
    RelatedRef(format!("@related:{kind}"))
}

/// See [`related`].
#[derive(Debug, Clone)]
pub struct RelatedRef(String);

impl RelatedRef {
    fn rule(self, op: Operator, threshold: Option<Threshold>, filter: Filter) -> Rule {
        Rule::new(
            self.0,
            op,
            Some(Literal::Nested(Box::new(Nested { threshold, filter }))),
        )
    }

    /// `any`: at least one related entity matches.
    pub fn any(self, filter: Filter) -> Rule {
        self.rule(Operator::Any, None, filter)
    }

    /// `none`: no related entity matches.
    pub fn none(self, filter: Filter) -> Rule {
        self.rule(Operator::None, None, filter)
    }

    /// `all`: every related entity matches (true when there are none).
    pub fn all(self, filter: Filter) -> Rule {
        self.rule(Operator::All, None, filter)
    }

    /// `atLeast` a count.
    pub fn at_least(self, count: u64, filter: Filter) -> Rule {
        self.rule(Operator::AtLeast, Some(Threshold::Count(count)), filter)
    }

    /// `atLeast` a share, in percent (and at least one entity).
    pub fn at_least_percent(self, percent: f64, filter: Filter) -> Rule {
        self.rule(Operator::AtLeast, Some(Threshold::Percent(percent)), filter)
    }

    /// `atMost` a count (true for an entity without related entities).
    pub fn at_most(self, count: u64, filter: Filter) -> Rule {
        self.rule(Operator::AtMost, Some(Threshold::Count(count)), filter)
    }

    /// `exactly` a count.
    pub fn exactly(self, count: u64, filter: Filter) -> Rule {
        self.rule(Operator::Exactly, Some(Threshold::Count(count)), filter)
    }

    /// A quantifier with a count or share threshold: `atLeast`, `atMost`
    /// or `exactly`.
    pub fn with_threshold(self, operator: Operator, threshold: Threshold, filter: Filter) -> Rule {
        self.rule(operator, Some(threshold), filter)
    }
}

/// `@segment in [ids]`: a member of any of the segments.
pub fn in_segments(ids: impl IntoIterator<Item = SegmentId>) -> Rule {
    segment_rule(Operator::In, ids)
}

/// `@segment notIn [ids]`: a member of none of the segments.
pub fn not_in_segments(ids: impl IntoIterator<Item = SegmentId>) -> Rule {
    segment_rule(Operator::NotIn, ids)
}

fn segment_rule(op: Operator, ids: impl IntoIterator<Item = SegmentId>) -> Rule {
    let ids = ids.into_iter().map(|s| Literal::Int(s.0.into())).collect();
    Rule::new("@segment", op, Some(Literal::List(ids)))
}

/// `@change:<event>`: the count of `event` in the last `window` against
/// `ratio` times the count in the window before it; `>=` when `ratio >= 1`
/// (usage grew), `<=` otherwise (usage fell).
pub fn usage_change(event: &str, ratio: f64, window: Duration) -> Rule {
    let op = if ratio >= 1.0 { Operator::Ge } else { Operator::Le };
    Rule::new(
        format!("@change:{event}"),
        op,
        Some(Literal::Change(UsageChange { ratio, window })),
    )
}

impl Filter {
    /// A filter that matches every entity (an empty `and`).
    pub fn all() -> Filter {
        Group::and(Vec::<Node>::new())
    }
}
