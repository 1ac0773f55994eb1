//! The random data and filters that the oracle tests and the SQL
//! differential tests share: every operator of the contract, missing values,
//! updates, deletes and events out of order, groups nested to depth 4.

#![allow(dead_code)]

use std::sync::Arc;

use proptest::prelude::*;
use segments::filter::{
    field, other_field, Combinator, CountWindow, Duration, EventCount, Group, Literal, MatchMode, Node, Operator, Rule,
    TimeUnit,
};
use segments::{FieldType, KindSchema, Row, Timestamp, Value};

pub const NOW: i64 = 1_795_000_000_000_000; // 2026-11-18T...
pub const DAY: i64 = 86_400_000_000;

pub fn schema() -> Arc<KindSchema> {
    Arc::new(
        KindSchema::new(
            "account",
            [
                ("i", FieldType::Int),
                ("f", FieldType::Float),
                ("s", FieldType::String),
                ("b", FieldType::Bool),
                ("t", FieldType::Timestamp),
                ("g", FieldType::Tags),
                ("j", FieldType::Int),
            ],
        )
        .unwrap(),
    )
}

pub const INTS: &[i64] = &[i64::MIN, -3, -1, 0, 1, 2, 3, 5, 8, i64::MAX];
pub const FLOATS: &[f64] = &[-1e300, -2.5, -0.0, 0.0, 0.5, 1.0, 2.5, 3.0, 9007199254740992.0, 1e300];
/// Strings, with line breaks, letters outside ASCII (some that case
/// folding or `\w` treat differently from ASCII) and a NUL among them.
pub const STRINGS: &[&str] = &[
    "",
    "a",
    "ab",
    "ba",
    "pro",
    "free",
    "enterprise",
    "Pro",
    "e\nb",
    "line\nbreak\n",
    "straße",
    "École",
    "日本",
    "ab cd",
    "nul\0ab",
];
pub const TAGS: &[&str] = &["x", "y", "z", "w"];
pub const TIMES: &[i64] = &[-20 * DAY, -14 * DAY, -DAY - 1, -1, 0, 1, 14 * DAY, 60 * DAY, 61 * DAY];

pub fn value_for(field: &str) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match field {
        "i" => prop::sample::select(INTS).prop_map(Value::Int).boxed(),
        "j" => (-50i64..50).prop_map(Value::Int).boxed(),
        "f" => prop_oneof![
            prop::sample::select(FLOATS).prop_map(Value::Float),
            (-40i64..40).prop_map(|x| Value::Float(x as f64 / 4.0)),
        ]
        .boxed(),
        "s" => prop::sample::select(STRINGS).prop_map(Value::from).boxed(),
        "b" => any::<bool>().prop_map(Value::Bool).boxed(),
        "t" => prop::sample::select(TIMES)
            .prop_map(|d| Value::Timestamp(Timestamp::from_micros(NOW + d)))
            .boxed(),
        _ => prop::sample::subsequence(TAGS, 0..=3)
            .prop_map(|t| Value::Tags(t.into_iter().map(String::from).collect()))
            .boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 6 => v].boxed()
}

pub const FIELDS: &[&str] = &["i", "f", "s", "b", "t", "g", "j"];

pub fn row() -> impl Strategy<Value = Row> {
    let cells: Vec<_> = FIELDS
        .iter()
        .map(|f| (any::<bool>(), value_for(f)).prop_map(move |(set, v)| (set, f.to_string(), v)))
        .collect();
    cells.prop_map(|cs| {
        cs.into_iter()
            .filter(|(set, _, _)| *set)
            .map(|(_, f, v)| (f, v))
            .collect()
    })
}

#[derive(Debug, Clone)]
pub enum Op {
    Upsert(usize, Row),
    Clear(usize, &'static str),
    Delete(usize),
    /// An event at `NOW + offset`: out of order, sometimes at the same instant.
    Event(usize, &'static str, i64),
    /// A batch of them, recorded all or none.
    Events(Vec<(usize, &'static str, i64)>),
}

pub const EVENTS: &[&str] = &["login", "export"];

pub fn ops(keys: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..keys, row()).prop_map(|(k, r)| Op::Upsert(k, r)),
            1 => (0..keys, prop::sample::select(FIELDS)).prop_map(|(k, f)| Op::Clear(k, f)),
            1 => (0..keys).prop_map(Op::Delete),
            4 => (0..keys, prop::sample::select(EVENTS), prop::sample::select(TIMES), -1i64..=1)
                .prop_map(|(k, e, d, jitter)| Op::Event(k, e, d + jitter)),
            1 => prop::collection::vec((0..keys, prop::sample::select(EVENTS), prop::sample::select(TIMES), -1i64..=1), 1..12)
                .prop_map(|v| Op::Events(v.into_iter().map(|(k, e, d, j)| (k, e, d + j)).collect())),
        ],
        0..60,
    )
}

pub fn num_lit() -> impl Strategy<Value = Literal> {
    prop_oneof![
        prop::sample::select(INTS).prop_map(|i| Literal::Int(i as i128)),
        (-6i64..10).prop_map(|i| Literal::Int(i as i128)),
        prop::sample::select(FLOATS).prop_map(Literal::Float),
        (-20i64..20).prop_map(|x| Literal::Float(x as f64 / 4.0)),
        Just(Literal::Int(1i128 << 64)),
        Just(Literal::Int(-(1i128 << 63) - 1)),
        Just(Literal::Int((1i128 << 53) + 1)),
    ]
}

pub fn time_lit() -> impl Strategy<Value = Literal> {
    (
        prop::sample::select(TIMES),
        prop::sample::select(&[0i64, 1, -1][..]),
        any::<bool>(),
    )
        .prop_map(|(d, e, offset)| {
            let t = Timestamp::from_micros(NOW + d + e).to_datetime().unwrap();
            Literal::String(if offset {
                t.with_timezone(&chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap())
                    .to_rfc3339()
            } else {
                t.to_rfc3339()
            })
        })
}

/// `[a, b]` in ascending order, compared exactly (f64 alone cannot tell
/// -2^63 from -2^63 - 1).
pub fn order(a: Literal, b: Literal) -> Literal {
    fn exact(l: &Literal) -> (f64, i128) {
        match l {
            Literal::Int(i) => (*i as f64, *i),
            // Floats here are integral beyond 2^53 and within i128.
            Literal::Float(x) => (*x, x.floor() as i128),
            Literal::String(s) => {
                let t = chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
                (t as f64, t as i128)
            }
            _ => (0.0, 0),
        }
    }
    let (ka, kb) = (exact(&a), exact(&b));
    let a_first = match ka.0.partial_cmp(&kb.0).unwrap() {
        std::cmp::Ordering::Equal => ka.1 <= kb.1,
        o => o.is_lt(),
    };
    if a_first {
        Literal::List(vec![a, b])
    } else {
        Literal::List(vec![b, a])
    }
}

/// The comparison operators over `lit`, and `between` / `notBetween` over
/// two ordered `lit`s: the rules numeric and timestamp fields share.
pub const CMP: &[Operator] = &[
    Operator::Eq,
    Operator::Ne,
    Operator::Lt,
    Operator::Le,
    Operator::Gt,
    Operator::Ge,
];

pub fn compare<S: Strategy<Value = Literal>>(field: &'static str, lit: fn() -> S) -> impl Strategy<Value = Rule> {
    prop_oneof![
        (prop::sample::select(CMP), lit()).prop_map(move |(op, v)| Rule::new(field, op, Some(v))),
        (
            prop::sample::select(&[Operator::Between, Operator::NotBetween][..]),
            lit(),
            lit()
        )
            .prop_map(move |(op, a, b)| Rule::new(field, op, Some(order(a, b)))),
    ]
}

pub fn rule() -> impl Strategy<Value = Rule> {
    let numeric = |f: &'static str| {
        prop_oneof![
            2 => compare(f, num_lit),
            1 => (
                prop::sample::select(&[Operator::In, Operator::NotIn][..]),
                prop::collection::vec(num_lit(), 1..4)
            )
                .prop_map(move |(op, v)| Rule::new(f, op, Some(Literal::List(v)))),
        ]
    };
    // A string rule of one of `ops` against one of `values`, ignoring case or not.
    let on_s = |ops: &'static [Operator], values: &'static [&'static str]| {
        (prop::sample::select(ops), prop::sample::select(values), any::<bool>()).prop_map(|(op, v, fold)| {
            let r = Rule::new("s", op, Some(Literal::from(v)));
            if fold {
                r.ignoring_case()
            } else {
                r
            }
        })
    };
    let string = prop_oneof![
        on_s(
            &[
                Operator::Eq,
                Operator::Ne,
                Operator::Contains,
                Operator::DoesNotContain,
                Operator::BeginsWith,
                Operator::DoesNotBeginWith,
                Operator::EndsWith,
                Operator::DoesNotEndWith
            ],
            &["a", "b", "pro", "Pro", "PRO", "zz", "ent", "A"]
        ),
        on_s(
            &[Operator::MatchesRegex, Operator::DoesNotMatchRegex],
            &[
                "^p",
                "o$",
                "[ab]+",
                "(?i)pro",
                "^$",
                "^(a|ba)$",
                "e.*e",
                "e.b",
                "(?s)e.b",
                "\\bab",
                "(?-u:\\b)ab",
                "\\Bb",
                "\\w+$",
                "^\\w",
                "[[:alpha:]]+$",
                "(?m)^b",
                "k$",
                "(?i)ÉCOLE",
                "ß",
                "\\x00",
                "\\s",
            ]
        ),
        (
            prop::sample::select(&[Operator::In, Operator::NotIn][..]),
            prop::sample::subsequence(STRINGS, 1..4)
        )
            .prop_map(|(op, v)| Rule::new(
                "s",
                op,
                Some(Literal::List(v.into_iter().map(Literal::from).collect()))
            )),
    ];
    let boolean = (prop::sample::select(&[Operator::Eq, Operator::Ne][..]), any::<bool>())
        .prop_map(|(op, v)| Rule::new("b", op, Some(Literal::Bool(v))));
    let time = prop_oneof![
        2 => compare("t", time_lit),
        1 => (
            prop::sample::select(&[Operator::WithinLast, Operator::WithinNext, Operator::MoreThanAgo][..]),
            prop::sample::select(&[0u64, 1, 14, 60][..]),
            prop::sample::select(&[TimeUnit::Minutes, TimeUnit::Hours, TimeUnit::Days, TimeUnit::Weeks][..])
        )
            .prop_map(|(op, amount, unit)| Rule::new(
                "t",
                op,
                Some(Literal::Duration(Duration { amount, unit }))
            )),
    ];
    let tags = (
        prop::sample::select(&[Operator::ContainsAny, Operator::ContainsAll, Operator::ContainsNone][..]),
        prop::sample::subsequence(&["x", "y", "z", "v"][..], 1..3),
    )
        .prop_map(|(op, v)| Rule::new("g", op, Some(Literal::List(v.into_iter().map(Literal::from).collect()))));
    let seen = prop::sample::select(
        &[
            "@firstSeen",
            "@lastSeen",
            "@firstSeen:login",
            "@lastSeen:export",
            "@lastSeen:never",
        ][..],
    );
    let seen = prop_oneof![
        2 => seen.clone().prop_flat_map(|f| compare(f, time_lit)),
        1 => (
            seen.clone(),
            prop::sample::select(&[Operator::WithinLast, Operator::WithinNext, Operator::MoreThanAgo][..]),
            prop::sample::select(&[0u64, 1, 14][..]),
            prop::sample::select(&[TimeUnit::Minutes, TimeUnit::Days][..])
        )
            .prop_map(|(f, op, amount, unit)| Rule::new(f, op, Some(Literal::Duration(Duration { amount, unit })))),
        1 => (seen, any::<bool>())
            .prop_map(|(f, n)| Rule::new(f, if n { Operator::Null } else { Operator::NotNull }, None)),
    ];
    let window = prop_oneof![
        Just(CountWindow::AllTime),
        (
            prop::sample::select(&[0u64, 1, 14, 60][..]),
            prop::sample::select(&[TimeUnit::Minutes, TimeUnit::Days][..])
        )
            .prop_map(|(amount, unit)| CountWindow::Last(Duration { amount, unit })),
        (time_lit(), time_lit()).prop_map(|(a, b)| match order(a, b) {
            Literal::List(xs) => match (&xs[0], &xs[1]) {
                (Literal::String(a), Literal::String(b)) => CountWindow::Between(a.clone(), b.clone()),
                _ => CountWindow::AllTime,
            },
            _ => CountWindow::AllTime,
        }),
    ];
    let count = (
        prop::sample::select(&["@count:login", "@count:export", "@count:never"][..]),
        prop::sample::select(CMP),
        0u64..4,
        window,
    )
        .prop_map(|(f, op, count, window)| Rule::new(f, op, Some(Literal::Count(EventCount { count, window }))));
    // A match mode: a group of string rules on the tags field itself.
    let tag_rule = (
        prop::sample::select(
            &[
                Operator::Eq,
                Operator::Ne,
                Operator::In,
                Operator::BeginsWith,
                Operator::MatchesRegex,
            ][..],
        ),
        prop::sample::select(&["x", "y", "z", "v", "X"][..]),
    )
        .prop_map(|(op, v)| match op {
            Operator::In => Rule::new("g", op, Some(Literal::List(vec![Literal::from(v), Literal::from("w")]))),
            op => Rule::new("g", op, Some(Literal::from(v))),
        });
    let matching = (
        prop::sample::select(
            &[
                MatchMode::Some,
                MatchMode::All,
                MatchMode::None,
                MatchMode::AtLeast,
                MatchMode::AtMost,
                MatchMode::Exactly,
            ][..],
        ),
        prop::sample::select(&[0.0, 1.0, 2.0, 0.5, 0.25][..]),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(tag_rule, 0..3),
    )
        .prop_map(|(mode, t, or, not, rules)| {
            let mut g = if or { Group::or(rules) } else { Group::and(rules) };
            g.not = not;
            field("g").matching(mode, Some(t), g)
        });
    // Another field of the same entity as the value.
    let fields = prop_oneof![
        (
            prop::sample::select(CMP),
            prop::sample::select(&[("i", "j"), ("j", "f"), ("f", "i"), ("t", "t")][..])
        )
            .prop_map(|(op, (a, b))| Rule::new(a, op, Some(other_field(b)))),
        (
            any::<bool>(),
            prop::sample::select(&[("j", "i", "f"), ("f", "j", "i")][..])
        )
            .prop_map(|(neg, (a, lo, hi))| {
                Rule::new(
                    a,
                    if neg { Operator::NotBetween } else { Operator::Between },
                    Some(Literal::List(vec![other_field(lo), other_field(hi)])),
                )
            }),
        any::<bool>().prop_map(|neg| Rule::new(
            "j",
            if neg { Operator::NotIn } else { Operator::In },
            Some(Literal::List(vec![other_field("i"), other_field("f")]))
        )),
        prop::sample::select(&[Operator::Eq, Operator::Ne, Operator::Contains, Operator::EndsWith][..])
            .prop_map(|op| Rule::new("s", op, Some(other_field("s")))),
    ];
    let null = (prop::sample::select(FIELDS), any::<bool>())
        .prop_map(|(f, n)| Rule::new(f, if n { Operator::Null } else { Operator::NotNull }, None));
    prop_oneof![
        3 => numeric("i"), 3 => numeric("f"), 2 => numeric("j"),
        3 => string, 1 => boolean, 2 => time, 1 => tags, 1 => null, 2 => seen, 2 => count,
        1 => matching, 1 => fields,
    ]
}

pub fn group() -> impl Strategy<Value = Group> {
    group_of(|| rule().boxed())
}

/// Random groups of the rules `rule` makes, nested up to depth 4.
pub fn group_of(rule: fn() -> BoxedStrategy<Rule>) -> impl Strategy<Value = Group> {
    let combinator = || {
        prop::sample::select(
            &[
                Combinator::And,
                Combinator::And,
                Combinator::Or,
                Combinator::Or,
                Combinator::Xor,
            ][..],
        )
    };
    let leaf =
        (combinator(), any::<bool>(), prop::collection::vec(rule(), 0..4)).prop_map(|(combinator, not, rs)| Group {
            combinator,
            not,
            rules: rs.into_iter().map(Node::Rule).collect(),
        });
    // Depth 4 at most: the root plus three levels of nesting.
    leaf.prop_recursive(3, 10, 3, move |inner| {
        (
            combinator(),
            any::<bool>(),
            prop::collection::vec(
                prop_oneof![2 => rule().prop_map(Node::Rule), 1 => inner.prop_map(Node::Group)],
                0..4,
            ),
        )
            .prop_map(|(combinator, not, rules)| Group { combinator, not, rules })
    })
}

/// Trims a filter to at most `max` rules, keeping its shape.
pub fn trim(g: &mut Group, budget: &mut usize) {
    g.rules.retain_mut(|n| match n {
        Node::Rule(_) if *budget > 0 => {
            *budget -= 1;
            true
        }
        Node::Rule(_) => false,
        Node::Group(h) => {
            trim(h, budget);
            true
        }
    });
}
