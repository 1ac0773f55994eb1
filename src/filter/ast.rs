//! The filter tree as a user writes it: groups of rules, react-querybuilder's shape.

use std::fmt;

/// How a group combines its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Combinator {
    /// Every rule holds; an empty `and` matches every entity.
    And,
    /// Some rule holds; an empty `or` matches none.
    Or,
    /// An odd number of rules hold (as MySQL's `XOR`, which
    /// react-querybuilder's SQL export uses); an empty `xor` matches none.
    Xor,
}

impl Combinator {
    /// `and` or `or`.
    pub fn name(self) -> &'static str {
        match self {
            Combinator::And => "and",
            Combinator::Or => "or",
            Combinator::Xor => "xor",
        }
    }

    /// Parses [`Combinator::name`].
    pub fn from_name(s: &str) -> Option<Combinator> {
        Some(match s {
            "and" => Combinator::And,
            "or" => Combinator::Or,
            "xor" => Combinator::Xor,
            _ => return None,
        })
    }
}

/// A group: rules and nested groups, combined, optionally negated.
///
/// The root of a filter is a group; [`Filter`] is its name there.
///
/// Dropping a group is iterative, so a tree of any depth built in Rust is
/// freed without recursion; validation refuses one deeper than its
/// [`LimitPolicy`](crate::LimitPolicy) before it recurses. `Clone`, `Debug`,
/// `PartialEq` and serialization do recurse: use them on validated trees.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// How the rules combine.
    pub combinator: Combinator,
    /// Whether the group's result is complemented (within the live entities).
    pub not: bool,
    /// The rules and groups, in order.
    pub rules: Vec<Node>,
}

/// The root group of a filter.
pub type Filter = Group;

/// One entry of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A condition on one field.
    Rule(Rule),
    /// A nested group.
    Group(Group),
}

/// A condition: `field operator value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The field's name.
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The value; `None` for `null` and `notNull`.
    pub value: Option<Literal>,
    /// Whether a string operator ignores case (`"caseInsensitive": true`,
    /// as Unleash's constraints and PostHog's `icontains`): both sides are
    /// compared after Unicode lowercasing. Only string operators
    /// (`=`, `!=`, `in`, `notIn`, `contains`, `beginsWith`, `endsWith`,
    /// `matchesRegex` and their negations) take it.
    pub case_insensitive: bool,
}

/// A value in a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `true` or `false`.
    Bool(bool),
    /// An integer, exactly as written (JSON integers fit).
    Int(i128),
    /// A number with a fraction or exponent.
    Float(f64),
    /// A string (also timestamps, in RFC 3339).
    String(String),
    /// An array: `[low, high]`, or the values of `in` and the tags operators.
    List(Vec<Literal>),
    /// A duration for `withinLast`, `withinNext` and `moreThanAgo`.
    Duration(Duration),
    /// An event count in a window, for the `@count:<event>` pseudo-field.
    Count(EventCount),
    /// A usage change between two windows, for the `@change:<event>` pseudo-field.
    Change(UsageChange),
    /// A filter over related entities, for `any`, `none`, `all`,
    /// `atLeast`, `atMost` and `exactly` on `@related:<kind>`.
    Nested(Box<Nested>),
    /// Another field of the same entity (`"valueSource": "field"`): the
    /// rule compares the two fields' values.
    Field(String),
    /// A match mode on a tags field (`"match": {"mode": ..., "threshold":
    /// ...}` with a group as the value): how many of the entity's tags the
    /// group matches.
    Match(Box<TagMatch>),
    /// A trend over a window, for `@delta:<field>`, `@max:<field>` and
    /// `@min:<field>`.
    Trend(Trend),
    /// A value of an event pseudo-field (`@count`, `@firstSeen`,
    /// `@lastSeen`, `@change`) narrowed to the events whose properties
    /// match a filter (`"where"`).
    Where(Box<EventWhere>),
}

/// `{"by": 10, "withinLast": {"amount": 30, "unit": "days"}}`: the value of a
/// rule on a tracked field's trend (see [the filter docs](crate::filter#trends)).
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// What is compared, and with what number.
    pub measure: TrendMeasure,
    /// The window, ending at `now`.
    pub window: Duration,
}

/// What a [`Trend`] compares.
#[derive(Debug, Clone, PartialEq)]
pub enum TrendMeasure {
    /// `"by"`: the change over the window (`@delta`), in the field's units.
    By(Box<Literal>),
    /// `"percent"`: the change over the window (`@delta`) as a percentage of
    /// the value it started from.
    Percent(Box<Literal>),
    /// `"value"`: the highest (`@max`) or lowest (`@min`) value in the window.
    Value(Box<Literal>),
}

/// The value of a rule on an event pseudo-field that counts only the events
/// whose [`Properties`](crate::store::Properties) match `filter`.
///
/// In JSON, `"where"` is a member of the value: `{"count": 2, "withinLast":
/// ..., "where": <group>}` on `@count:<event>`, `{"ratio": ..., "window":
/// ..., "where": <group>}` on `@change:<event>`, and `{"value": <what the
/// operator takes>, "where": <group>}` on `@firstSeen:<event>` and
/// `@lastSeen:<event>` (just `{"where": <group>}` with `null` and
/// `notNull`). The group's rules name properties as fields.
#[derive(Debug, Clone, PartialEq)]
pub struct EventWhere {
    /// What the rule takes without `"where"` (`None` for `null` and
    /// `notNull`).
    pub value: Option<Literal>,
    /// The filter each event's properties are tested against.
    pub filter: Group,
}

/// The value of a rule with a match mode: a group tested against each tag
/// of a tags field (its rules name the tags field itself and test the tag
/// as a string), and how many tags must pass.
#[derive(Debug, Clone, PartialEq)]
pub struct TagMatch {
    /// How many tags must match.
    pub mode: MatchMode,
    /// For `atLeast`, `atMost` and `exactly`: a count (a non-negative
    /// integer), or a share of the entity's tags when `0 < t < 1`.
    pub threshold: Option<f64>,
    /// The group each tag is tested against.
    pub filter: Group,
}

/// react-querybuilder's match modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchMode {
    /// At least one tag matches.
    Some,
    /// Every tag matches, and there is at least one.
    All,
    /// No tag matches (true when there are none).
    None,
    /// At least the threshold.
    AtLeast,
    /// At most the threshold (and at least one tag).
    AtMost,
    /// Exactly the threshold (and at least one tag).
    Exactly,
}

impl MatchMode {
    /// The JSON name: `some`, `all`, `none`, `atLeast`, `atMost`, `exactly`.
    pub fn name(self) -> &'static str {
        match self {
            MatchMode::Some => "some",
            MatchMode::All => "all",
            MatchMode::None => "none",
            MatchMode::AtLeast => "atLeast",
            MatchMode::AtMost => "atMost",
            MatchMode::Exactly => "exactly",
        }
    }

    /// Parses [`MatchMode::name`].
    pub fn from_name(s: &str) -> Option<MatchMode> {
        Some(match s {
            "some" => MatchMode::Some,
            "all" => MatchMode::All,
            "none" => MatchMode::None,
            "atLeast" => MatchMode::AtLeast,
            "atMost" => MatchMode::AtMost,
            "exactly" => MatchMode::Exactly,
            _ => return None,
        })
    }
}

/// The value of a rule on `@related:<kind>`: a filter over the related
/// entities and, for `atLeast`, how many of them must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Nested {
    /// For `atLeast`, `atMost` and `exactly`: a count or a share; `None`
    /// for `any`, `none`, `all`.
    pub threshold: Option<Threshold>,
    /// The filter each related entity is tested against.
    pub filter: Group,
}

/// How many related entities `atLeast`, `atMost` or `exactly` ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// `{"count": n, "filter": ...}`: `n` of them.
    Count(u64),
    /// `{"percent": p, "filter": ...}`: `p`% of them. With no related
    /// entities at all, `atLeast` and `exactly` are false and `atMost` true.
    Percent(f64),
}

/// `{"ratio": 2, "window": {"amount": 7, "unit": "days"}}`: the value of a
/// rule on `@change:<event>`. The count of the last window is compared with
/// `ratio` times the count of the window before it: `>=` finds usage that
/// grew by at least that ratio, `<=` (with a ratio below 1) usage that fell.
/// An entity without the event in either window matches neither.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsageChange {
    /// The factor, finite and positive.
    pub ratio: f64,
    /// The length of each of the two windows.
    pub window: Duration,
}

/// `{"count": 3, "withinLast": {"amount": 14, "unit": "days"}}`: the value of
/// a rule on `@count:<event>`, compared with the rule's operator.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventCount {
    /// The number of events to compare with.
    pub count: u64,
    /// Which events count.
    pub window: CountWindow,
}

/// Which events an [`EventCount`] counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CountWindow {
    /// Every event ever recorded (no window member).
    AllTime,
    /// `"withinLast": duration`: events in `[now - d, now]`.
    Last(Duration),
    /// `"between": [from, to]`: events in `[from, to]`, RFC 3339 instants.
    Between(String, String),
}

/// `{"amount": 14, "unit": "days"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration {
    /// How many units.
    pub amount: u64,
    /// The unit.
    pub unit: TimeUnit,
}

/// The unit of a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// 60 seconds.
    Minutes,
    /// 60 minutes.
    Hours,
    /// 24 hours.
    Days,
    /// 7 days.
    Weeks,
}

impl TimeUnit {
    /// The JSON name: `minutes`, `hours`, `days`, `weeks`.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
            TimeUnit::Weeks => "weeks",
        }
    }

    /// Parses [`TimeUnit::name`].
    pub fn from_name(s: &str) -> Option<TimeUnit> {
        Some(match s {
            "minutes" => TimeUnit::Minutes,
            "hours" => TimeUnit::Hours,
            "days" => TimeUnit::Days,
            "weeks" => TimeUnit::Weeks,
            _ => return None,
        })
    }

    /// Microseconds in one unit.
    pub fn micros(self) -> i128 {
        const MIN: i128 = 60_000_000;
        match self {
            TimeUnit::Minutes => MIN,
            TimeUnit::Hours => 60 * MIN,
            TimeUnit::Days => 24 * 60 * MIN,
            TimeUnit::Weeks => 7 * 24 * 60 * MIN,
        }
    }
}

macro_rules! operators {
    ($($(#[$doc:meta])* $v:ident = $name:literal,)*) => {
        /// Every operator of the contract, by its react-querybuilder name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operator {
            $($(#[$doc])* $v,)*
        }

        impl Operator {
            /// Every operator.
            pub const ALL: &'static [Operator] = &[$(Operator::$v,)*];

            /// The JSON name, e.g. `<=` or `beginsWith`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operator::$v => $name,)*
                }
            }

            /// Parses [`Operator::name`].
            pub fn from_name(s: &str) -> Option<Operator> {
                match s {
                    $($name => Some(Operator::$v),)*
                    _ => None,
                }
            }
        }
    };
}

operators! {
    /// `=`
    Eq = "=",
    /// `!=`, the complement of `=`.
    Ne = "!=",
    /// `<`
    Lt = "<",
    /// `<=`
    Le = "<=",
    /// `>`
    Gt = ">",
    /// `>=`
    Ge = ">=",
    /// `between [low, high]`, inclusive.
    Between = "between",
    /// The complement of `between`.
    NotBetween = "notBetween",
    /// One of a list.
    In = "in",
    /// The complement of `in`.
    NotIn = "notIn",
    /// Substring, case-sensitive.
    Contains = "contains",
    /// The complement of `contains`.
    DoesNotContain = "doesNotContain",
    /// Prefix, case-sensitive.
    BeginsWith = "beginsWith",
    /// The complement of `beginsWith`.
    DoesNotBeginWith = "doesNotBeginWith",
    /// Suffix, case-sensitive.
    EndsWith = "endsWith",
    /// The complement of `endsWith`.
    DoesNotEndWith = "doesNotEndWith",
    /// `now - d <= t <= now`.
    WithinLast = "withinLast",
    /// `now <= t <= now + d`.
    WithinNext = "withinNext",
    /// `t < now - d`.
    MoreThanAgo = "moreThanAgo",
    /// The tags hold at least one of the list.
    ContainsAny = "containsAny",
    /// The tags hold all of the list.
    ContainsAll = "containsAll",
    /// The complement of `containsAny`.
    ContainsNone = "containsNone",
    /// The value is missing.
    Null = "null",
    /// The complement of `null`.
    NotNull = "notNull",
    /// Some related entity matches the nested filter.
    Any = "any",
    /// No related entity matches: the complement of `any`.
    None = "none",
    /// Every related entity matches (true when there are none).
    All = "all",
    /// At least a count or a share of the related entities match.
    AtLeast = "atLeast",
    /// At most a count or a share of the related entities match.
    AtMost = "atMost",
    /// Exactly a count or a share of the related entities match.
    Exactly = "exactly",
    /// The string matches a regular expression (the `regex` crate's
    /// syntax, unanchored: use `^` and `$` to anchor), in linear time.
    MatchesRegex = "matchesRegex",
    /// The complement of `matchesRegex`.
    DoesNotMatchRegex = "doesNotMatchRegex",
}

impl Operator {
    /// The positive operator this one complements, if it is negative.
    pub fn negates(self) -> Option<Operator> {
        Some(match self {
            Operator::Ne => Operator::Eq,
            Operator::NotBetween => Operator::Between,
            Operator::NotIn => Operator::In,
            Operator::DoesNotContain => Operator::Contains,
            Operator::DoesNotBeginWith => Operator::BeginsWith,
            Operator::DoesNotEndWith => Operator::EndsWith,
            Operator::ContainsNone => Operator::ContainsAny,
            Operator::NotNull => Operator::Null,
            Operator::None => Operator::Any,
            Operator::DoesNotMatchRegex => Operator::MatchesRegex,
            _ => return None,
        })
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Group {
    /// An empty `and`, which matches every entity.
    pub(crate) fn empty() -> Group {
        Group {
            combinator: Combinator::And,
            not: false,
            rules: Vec::new(),
        }
    }

    /// The group nested in a rule's value (`@related` or a match mode).
    pub(crate) fn nested_in(rule: &Rule) -> Option<&Group> {
        match &rule.value {
            Some(Literal::Nested(n)) => Some(&n.filter),
            Some(Literal::Match(m)) => Some(&m.filter),
            Some(Literal::Where(w)) => Some(&w.filter),
            _ => None,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Move nested groups onto a heap stack so that a deep tree is freed
        // without one stack frame per level.
        let mut stack: Vec<Group> = Vec::new();
        let take = |rules: &mut Vec<Node>, stack: &mut Vec<Group>| {
            for node in rules.drain(..) {
                match node {
                    Node::Group(g) => stack.push(g),
                    Node::Rule(Rule {
                        value: Some(Literal::Nested(mut n)),
                        ..
                    }) => stack.push(std::mem::replace(&mut n.filter, Group::empty())),
                    Node::Rule(Rule {
                        value: Some(Literal::Match(mut m)),
                        ..
                    }) => stack.push(std::mem::replace(&mut m.filter, Group::empty())),
                    Node::Rule(Rule {
                        value: Some(Literal::Where(mut w)),
                        ..
                    }) => stack.push(std::mem::replace(&mut w.filter, Group::empty())),
                    Node::Rule(_) => {}
                }
            }
        };
        take(&mut self.rules, &mut stack);
        while let Some(mut g) = stack.pop() {
            take(&mut g.rules, &mut stack);
        }
    }
}
