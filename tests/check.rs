//! Static checks, case by case, and a property: whatever a check reports as
//! matching nothing (or everything) evaluates so on random data.

use proptest::prelude::*;
use segments::engine::{Warning, WarningCode as W};
use segments::filter::{field, in_segments, Combinator, Group, Node, Rule};
use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, Filter, IndexConfig, LimitPolicy, Row, Schema, Timestamp, Value};

fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("nps", FieldType::Int),
                ("health", FieldType::Float),
                ("plan", FieldType::String),
                ("paying", FieldType::Bool),
                ("tags", FieldType::Tags),
                ("renewal_at", FieldType::Timestamp),
            ],
        )
        .build()
        .unwrap()
}

fn engine() -> Engine {
    let mut e = Engine::new(schema());
    e.insert(
        "account",
        "a",
        Row::new()
            .set("nps", 3)
            .set("plan", "pro")
            .set("tags", Value::Tags(vec!["x".into()])),
    )
    .unwrap();
    e.insert("account", "b", Row::new().set("nps", 9).set("plan", "free"))
        .unwrap();
    e.record_events("account", [("a", "login", Timestamp::now())]).unwrap();
    e
}

fn codes(e: &Engine, f: &Filter) -> Vec<(W, String)> {
    e.builder()
        .check("account", f)
        .unwrap()
        .into_iter()
        .map(|w: Warning| (w.code, w.path))
        .collect()
}

fn json(s: &str) -> Filter {
    Filter::from_json(s).unwrap()
}

#[test]
fn each_warning_case_by_case() {
    let e = engine();
    let root = || "filter".to_string();
    let at = |p: &str| p.to_string();
    let cases: Vec<(Filter, Vec<(W, String)>)> = vec![
        (
            Filter::and([field("nps").lt(5), field("nps").gt(10)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").lt(5), field("nps").ge(5)]),
            vec![(W::Contradiction, root())],
        ),
        (Filter::and([field("nps").le(5), field("nps").ge(5)]), vec![]),
        (
            Filter::and([field("health").between(1.0, 2.0), field("health").gt(2.0)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("plan").eq("pro"), field("plan").eq("free")]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("plan").is_in(["pro", "x"]), field("plan").is_in(["free", "y"])]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("plan").is_in(["pro", "x"]), field("plan").is_in(["pro", "y"])]),
            vec![],
        ),
        (
            Filter::and([field("nps").is_in([1, 2]), field("nps").gt(4)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("paying").eq(true), field("paying").eq(false)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").is_null(), field("nps").gt(1)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").lt(5), field("nps").gt(10)]).negated(),
            vec![(W::AlwaysTrue, root())],
        ),
        // An `or` is no contradiction; nor is a negated rule alone, which
        // a missing value satisfies.
        (Filter::or([field("nps").lt(5), field("nps").gt(10)]), vec![]),
        (
            Filter::and([field("plan").ne("pro"), field("plan").not_in(["free"])]),
            vec![],
        ),
        (Filter::and([field("nps").ne(3), field("nps").is_null()]), vec![]),
        // A negated rule against a positive one on the same field.
        (
            Filter::and([field("plan").eq("pro"), field("plan").ne("pro")]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").eq(3), field("nps").ne(3)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("plan").eq("free"), field("plan").not_in(["free"])]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").is_in([1, 2]), field("nps").not_in([2, 1])]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").is_in([1, 2]), field("nps").not_in([2])]),
            vec![],
        ),
        (
            Filter::and([field("nps").ge(3), field("nps").le(4), field("nps").not_in([3, 4])]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([
                field("health").ge(1.5),
                field("health").le(1.5),
                field("health").ne(1.5),
            ]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([
                field("paying").not_null(),
                field("paying").ne(true),
                field("paying").ne(false),
            ]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").gt(3), field("nps").not_between(0, 10)]),
            vec![],
        ),
        // An empty range of integers, though not of numbers.
        (
            Filter::and([field("nps").gt(3), field("nps").lt(4)]),
            vec![(W::Contradiction, root())],
        ),
        (
            Filter::and([field("nps").gt(3), field("nps").lt(3.5)]),
            vec![(W::Contradiction, root())],
        ),
        (Filter::and([field("nps").gt(3), field("nps").lt(5)]), vec![]),
        (Filter::and([field("health").gt(3), field("health").lt(4)]), vec![]),
        (
            json(
                r#"{"combinator": "and", "rules": [{"field": "nps", "operator": "between", "value": [-9223372036854775808, 9223372036854775807]}]}"#,
            ),
            vec![(W::SameAsNotNull, at("rules[0]"))],
        ),
        (
            Filter::and([field("nps").eq(2.5)]),
            vec![(W::AlwaysFalse, at("rules[0]"))],
        ),
        (
            Filter::and([field("nps").ne(2.5)]),
            vec![(W::AlwaysTrue, at("rules[0]"))],
        ),
        (
            Filter::and([Node::from(field("nps").lt(5)), Filter::or(Vec::<Node>::new()).into()]),
            vec![(W::AlwaysFalse, at("rules[1]"))],
        ),
        (Filter::or(Vec::<Node>::new()), vec![(W::AlwaysFalse, root())]),
        (Filter::and(Vec::<Node>::new()), vec![]),
        (
            Filter::and([Node::from(Filter::and(Vec::<Node>::new()))]),
            vec![(W::AlwaysTrue, at("rules[0]"))],
        ),
        (
            Filter::and([field("nps").lt(5), field("nps").lt(5)]),
            vec![(W::Duplicate, at("rules[1]"))],
        ),
        (
            Filter::and([Node::from(Filter::and([field("nps").lt(5)]).negated())]).negated(),
            vec![(W::DoubleNegation, root())],
        ),
        (
            Filter::and([
                Node::from(field("nps").lt(5)),
                Filter::or([field("nps").lt(5), field("plan").eq("pro")]).into(),
            ]),
            vec![(W::Absorbed, at("rules[1]"))],
        ),
        (
            Filter::or([
                Node::from(field("nps").lt(5)),
                Filter::and([field("nps").lt(5), field("plan").eq("pro")]).into(),
            ]),
            vec![(W::Absorbed, at("rules[1]"))],
        ),
        (
            Filter::and([
                field("@count:export").ge(segments::filter::Literal::Count(segments::filter::EventCount {
                    count: 1,
                    window: segments::filter::CountWindow::AllTime,
                })),
            ]),
            vec![(W::UnknownEvent, at("rules[0]"))],
        ),
        (Filter::and([field("@lastSeen:login").not_null()]), vec![]),
        (
            Filter::and([field("plan").eq("gold")]),
            vec![(W::UnknownValue, at("rules[0]"))],
        ),
        (
            Filter::and([field("tags").contains_any(["x", "q"])]),
            vec![(W::UnknownValue, at("rules[0]"))],
        ),
        (Filter::and([field("tags").contains_any(["x"])]), vec![]),
    ];
    for (f, want) in cases {
        assert_eq!(codes(&e, &f), want, "{}", f.to_json_value());
    }
}

#[test]
fn an_empty_segment_is_named() {
    let mut e = engine();
    let admin = Actor::new("ada", Role::Admin);
    let (s, _) = e
        .create_segment(
            &admin,
            NewSegment::new("None", "account").filter(Filter::and([field("nps").gt(100)])),
        )
        .unwrap();
    let w = e.builder().check("account", &Filter::and([in_segments([s])])).unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].code, W::EmptySegment);
    assert_eq!(serde_json::to_value(&w[0]).unwrap()["code"], "emptySegment");
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        (0i64..10).prop_map(|v| field("nps").lt(v)),
        (0i64..10).prop_map(|v| field("nps").gt(v)),
        (0i64..10).prop_map(|v| field("nps").eq(v)),
        (0i64..5, 0i64..10).prop_map(|(a, b)| field("nps").between(a, a + b)),
        prop::collection::vec(0i64..10, 1..3).prop_map(|v| field("nps").is_in(v)),
        (0i64..4).prop_map(|v| field("health").ge(v as f64 / 2.0)),
        (0i64..4).prop_map(|v| field("health").le(v as f64 / 2.0)),
        prop::sample::select(&["pro", "free", "team"][..]).prop_map(|v| field("plan").eq(v)),
        prop::collection::vec(prop::sample::select(&["pro", "free", "team"][..]), 1..3)
            .prop_map(|v| field("plan").is_in(v)),
        any::<bool>().prop_map(|v| field("paying").eq(v)),
        prop::sample::select(&["nps", "plan", "paying"][..]).prop_map(|f| field(f).is_null()),
        prop::sample::select(&["nps", "plan", "paying"][..]).prop_map(|f| field(f).not_null()),
        (0i64..10).prop_map(|v| field("nps").ne(v)),
        prop::collection::vec(0i64..10, 1..3).prop_map(|v| field("nps").not_in(v)),
        prop::sample::select(&["pro", "free", "team"][..]).prop_map(|v| field("plan").ne(v)),
        any::<bool>().prop_map(|v| field("paying").ne(v)),
    ]
}

/// Rules on one field, with their literals in a small range, and one row
/// for each class of values they can tell apart (and one missing value):
/// an `and` of them matches none of these rows exactly when it can match
/// no row at all.
fn one_field() -> impl Strategy<Value = (Vec<Rule>, Vec<Row>)> {
    let nps = prop_oneof![
        (0i64..10).prop_map(|v| field("nps").lt(v)),
        (0i64..10).prop_map(|v| field("nps").le(v)),
        (0i64..10).prop_map(|v| field("nps").gt(v)),
        (0i64..10).prop_map(|v| field("nps").ge(v)),
        (0i64..10).prop_map(|v| field("nps").eq(v)),
        (0i64..10).prop_map(|v| field("nps").ne(v)),
        (0i64..10).prop_map(|v| field("nps").lt(v as f64 + 0.5)),
        (0i64..10).prop_map(|v| field("nps").gt(v as f64 + 0.5)),
        (0i64..5, 0i64..4).prop_map(|(a, b)| field("nps").between(a, a + b)),
        prop::collection::vec(0i64..10, 1..3).prop_map(|v| field("nps").is_in(v)),
        prop::collection::vec(0i64..10, 1..4).prop_map(|v| field("nps").not_in(v)),
        Just(field("nps").is_null()),
        Just(field("nps").not_null()),
    ];
    let plans = || prop::sample::select(&["pro", "free", "team"][..]);
    let plan = prop_oneof![
        plans().prop_map(|v| field("plan").eq(v)),
        plans().prop_map(|v| field("plan").ne(v)),
        prop::collection::vec(plans(), 1..3).prop_map(|v| field("plan").is_in(v)),
        prop::collection::vec(plans(), 1..4).prop_map(|v| field("plan").not_in(v)),
        Just(field("plan").is_null()),
        Just(field("plan").not_null()),
    ];
    let paying = prop_oneof![
        any::<bool>().prop_map(|v| field("paying").eq(v)),
        any::<bool>().prop_map(|v| field("paying").ne(v)),
        Just(field("paying").is_null()),
        Just(field("paying").not_null()),
    ];
    let rows = |name: &'static str, values: Vec<Value>| {
        let mut rows: Vec<Row> = values.into_iter().map(|v| Row::new().set(name, v)).collect();
        rows.push(Row::new());
        rows
    };
    prop_oneof![
        prop::collection::vec(nps, 1..5).prop_map(move |r| (r, rows("nps", (-1i64..12).map(Value::from).collect()))),
        prop::collection::vec(plan, 1..5).prop_map(move |r| (
            r,
            rows("plan", ["pro", "free", "team", "other"].map(Value::from).to_vec())
        )),
        prop::collection::vec(paying, 1..4).prop_map(move |r| (r, rows("paying", vec![true.into(), false.into()]))),
    ]
}

fn group() -> impl Strategy<Value = Group> {
    let comb = || prop::sample::select(&[Combinator::And, Combinator::And, Combinator::Or][..]);
    let leaf = (comb(), any::<bool>(), prop::collection::vec(rule(), 0..4)).prop_map(|(c, not, rules)| Group {
        combinator: c,
        not,
        rules: rules.into_iter().map(Node::Rule).collect(),
    });
    leaf.prop_recursive(2, 8, 3, move |inner| {
        (
            comb(),
            any::<bool>(),
            prop::collection::vec(
                prop_oneof![2 => rule().prop_map(Node::Rule), 1 => inner.prop_map(Node::Group)],
                0..4,
            ),
        )
            .prop_map(|(c, not, rules)| Group {
                combinator: c,
                not,
                rules,
            })
    })
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::of(0i64..10),
        prop::option::of(0i64..4),
        prop::option::of(prop::sample::select(&["pro", "free", "team"][..])),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(n, h, p, b)| {
            let mut r = Row::new();
            if let Some(n) = n {
                r = r.set("nps", n);
            }
            if let Some(h) = h {
                r = r.set("health", h as f64 / 2.0);
            }
            if let Some(p) = p {
                r = r.set("plan", p);
            }
            if let Some(b) = b {
                r = r.set("paying", b);
            }
            r
        })
}

/// The node at a path such as `rules[1].rules[0]`, as a filter of its own.
fn at(f: &Filter, path: &str) -> Filter {
    if path == "filter" {
        return f.clone();
    }
    let mut g = f;
    let steps: Vec<usize> = path
        .split('.')
        .map(|s| s.trim_start_matches("rules[").trim_end_matches(']').parse().unwrap())
        .collect();
    for (k, i) in steps.iter().enumerate() {
        match &g.rules[*i] {
            Node::Group(h) => g = h,
            Node::Rule(r) => {
                assert_eq!(k + 1, steps.len());
                return Filter::and([r.clone()]);
            }
        }
    }
    g.clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn what_a_check_calls_always_false_or_true_is_so_on_random_data(
        rows in prop::collection::vec(row(), 0..60),
        f in group(),
    ) {
        // The random filters can have more conditions than the default
        // limit of ten.
        let policy = LimitPolicy::default().with_unlimited_conditions();
        let mut e = Engine::with_config(schema(), policy, IndexConfig::default());
        for (i, r) in rows.into_iter().enumerate() {
            e.insert("account", &format!("k{i}"), r).unwrap();
        }
        let now = Timestamp::now();
        let live = e.store().table("account").unwrap().len();
        for w in e.builder().check("account", &f).unwrap() {
            let sub = at(&f, &w.path);
            let n = e.query("account").evaluate(&sub, now).unwrap().len();
            match w.code {
                W::Contradiction | W::AlwaysFalse => prop_assert_eq!(n, 0, "{:?} {}", w, sub.to_json_value()),
                W::AlwaysTrue => prop_assert_eq!(n, live, "{:?} {}", w, sub.to_json_value()),
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// The other way: an `and` of rules on one field that can match no
    /// value is reported as a contradiction.
    #[test]
    fn an_and_on_one_field_that_can_never_match_is_a_contradiction((rules, rows) in one_field()) {
        let policy = LimitPolicy::default().with_unlimited_conditions();
        let mut e = Engine::with_config(schema(), policy, IndexConfig::default());
        for (i, r) in rows.into_iter().enumerate() {
            e.insert("account", &format!("k{i}"), r).unwrap();
        }
        let f = Filter::and(rules);
        let never = e.query("account").evaluate(&f, Timestamp::now()).unwrap().is_empty();
        let warnings = e.builder().check("account", &f).unwrap();
        let flagged = warnings
            .iter()
            .any(|w| matches!(w.code, W::Contradiction | W::AlwaysFalse));
        prop_assert_eq!(flagged, never, "{} {:?}", f.to_json_value(), warnings);
    }
}
