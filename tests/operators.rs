//! Every operator on every type it takes, on hand-picked edge cases: missing
//! values, empty tags, i64 extremes, -0.0, equal bounds, timestamps with
//! offsets and sub-microsecond literals, windows exactly at their edges.
//! Each case is checked through the bitmap evaluator, the matcher and the oracle.

use segments::eval::{self, Matcher};
use segments::{EntityId, FieldType, Filter, KindSchema, LimitPolicy, Table, Timestamp};

const NOW: &str = "2026-11-22T12:00:00Z";

fn table() -> Table {
    let kind = KindSchema::new(
        "account",
        [
            ("n", FieldType::Int),
            ("x", FieldType::Float),
            ("s", FieldType::String),
            ("b", FieldType::Bool),
            ("t", FieldType::Timestamp),
            ("g", FieldType::Tags),
        ],
    )
    .unwrap();
    let mut t = Table::new(kind);
    let rows = r#"
{"key": "min", "n": -9223372036854775808, "x": -1e300, "s": "", "b": false, "t": "1970-01-01T00:00:00Z", "g": ["a"]}
{"key": "max", "n": 9223372036854775807, "x": 1e300, "s": "Pro", "b": true, "t": "9999-12-31T23:59:59Z", "g": ["a", "b", "a"]}
{"key": "mid", "n": 5, "x": 2.5, "s": "pro plan", "b": true, "t": "2026-11-22T12:00:00+01:00", "g": ["b", "c"]}
{"key": "zero", "n": 0, "x": -0.0, "s": "pro", "b": false, "t": "2026-11-22T12:00:00Z", "g": []}
{"key": "none", "n": null, "x": null, "s": null, "b": null, "t": null, "g": null}
"#;
    t.insert_json_lines(rows.as_bytes()).unwrap();
    t
}

fn check(t: &Table, filter: &str, want: &[&str]) {
    let now: Timestamp = NOW.parse().unwrap();
    let f = Filter::from_json(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let plan = f
        .validate(t.schema(), &LimitPolicy::default())
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort_unstable();
    let sorted = |ids: &roaring::RoaringBitmap| {
        let mut v: Vec<String> = t.keys_of(ids).map(String::from).collect();
        v.sort_unstable();
        v
    };
    let got = eval::evaluate(&plan, t, now).unwrap();
    assert_eq!(sorted(&got), want, "evaluate: {filter}");
    assert_eq!(sorted(&eval::scan(&plan, t, now).unwrap()), want, "oracle: {filter}");
    let m = Matcher::new(&plan, t, now).unwrap();
    let by_one: roaring::RoaringBitmap = t.live().iter().filter(|&i| m.matches(EntityId(i))).collect();
    assert_eq!(sorted(&by_one), want, "matcher: {filter}");
    let unbound: roaring::RoaringBitmap = t
        .live()
        .iter()
        .filter(|&i| eval::matches(&plan, t, EntityId(i), now).unwrap())
        .collect();
    assert_eq!(sorted(&unbound), want, "one entity: {filter}");
}

fn rule(field: &str, op: &str, value: &str) -> String {
    if value.is_empty() {
        format!(r#"{{"combinator": "and", "rules": [{{"field": "{field}", "operator": "{op}"}}]}}"#)
    } else {
        format!(r#"{{"combinator": "and", "rules": [{{"field": "{field}", "operator": "{op}", "value": {value}}}]}}"#)
    }
}

const ALL: &[&str] = &["min", "max", "mid", "zero", "none"];

#[test]
fn every_operator_on_every_type() {
    let t = table();
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // int
        ("n", "=", "5", &["mid"]),
        ("n", "!=", "5", &["min", "max", "zero", "none"]),
        ("n", "<", "0", &["min"]),
        ("n", "<=", "0", &["min", "zero"]),
        ("n", ">", "5", &["max"]),
        ("n", ">=", "5", &["mid", "max"]),
        ("n", "=", "5.0", &["mid"]),
        ("n", "=", "5.5", &[]),
        ("n", "<", "5.5", &["min", "mid", "zero"]),
        ("n", ">", "-0.5", &["max", "mid", "zero"]),
        ("n", ">", "9223372036854775807", &[]),
        ("n", ">=", "9223372036854775807", &["max"]),
        ("n", "<", "-9223372036854775808", &[]),
        ("n", "<=", "-9223372036854775808", &["min"]),
        ("n", "<", "18446744073709551615", &["min", "max", "mid", "zero"]),
        ("n", ">", "1e30", &[]),
        ("n", "<", "-1e30", &[]),
        ("n", "between", "[0, 5]", &["mid", "zero"]),
        ("n", "between", "[5, 5]", &["mid"]),
        ("n", "between", "[0.5, 4.5]", &[]),
        ("n", "notBetween", "[0, 5]", &["min", "max", "none"]),
        ("n", "in", "[0, 5, 7, 5.5]", &["mid", "zero"]),
        ("n", "notIn", "[0]", &["min", "max", "mid", "none"]),
        ("n", "null", "", &["none"]),
        ("n", "notNull", "", &["min", "max", "mid", "zero"]),
        // float
        ("x", "=", "0", &["zero"]),
        ("x", "=", "-0.0", &["zero"]),
        ("x", "<", "0", &["min"]),
        ("x", "<=", "0", &["min", "zero"]),
        ("x", ">", "2", &["mid", "max"]),
        ("x", ">=", "1e300", &["max"]),
        ("x", "<", "-1e300", &[]),
        ("x", "!=", "2.5", &["min", "max", "zero", "none"]),
        ("x", "between", "[2.5, 2.5]", &["mid"]),
        ("x", "notBetween", "[-1, 3]", &["min", "max", "none"]),
        ("x", "in", "[2.5, 0]", &["mid", "zero"]),
        ("x", "notIn", "[2.5, 0]", &["min", "max", "none"]),
        ("x", "<", "9223372036854775807", &["min", "mid", "zero"]),
        // string
        ("s", "=", r#""pro""#, &["zero"]),
        // `""` as a value is an unfinished rule; the empty string is `in [""]`.
        ("s", "in", r#"[""]"#, &["min"]),
        ("s", "!=", r#""pro""#, &["min", "max", "mid", "none"]),
        ("s", "contains", r#""pro""#, &["mid", "zero"]),
        ("s", "doesNotContain", r#""pro""#, &["min", "max", "none"]),
        ("s", "beginsWith", r#""Pro""#, &["max"]),
        ("s", "doesNotBeginWith", r#""pro""#, &["min", "max", "none"]),
        ("s", "endsWith", r#""plan""#, &["mid"]),
        ("s", "doesNotEndWith", r#""plan""#, &["min", "max", "zero", "none"]),
        ("s", "in", r#"["pro", "Pro", "nobody"]"#, &["max", "zero"]),
        ("s", "notIn", r#"["pro"]"#, &["min", "max", "mid", "none"]),
        ("s", "null", "", &["none"]),
        // bool
        ("b", "=", "true", &["max", "mid"]),
        ("b", "!=", "true", &["min", "zero", "none"]),
        ("b", "=", "false", &["min", "zero"]),
        ("b", "!=", "false", &["max", "mid", "none"]),
        ("b", "notNull", "", &["min", "max", "mid", "zero"]),
        // timestamp
        ("t", "=", r#""2026-11-22T11:00:00Z""#, &["mid"]),
        ("t", "=", r#""2026-11-22T12:00:00+01:00""#, &["mid"]),
        ("t", "!=", r#""2026-11-22T11:00:00Z""#, &["min", "max", "zero", "none"]),
        ("t", "<", r#""2026-11-22T12:00:00Z""#, &["min", "mid"]),
        ("t", "<=", r#""2026-11-22T07:00:00-05:00""#, &["min", "mid", "zero"]),
        ("t", ">", r#""2026-11-22T11:00:00Z""#, &["max", "zero"]),
        ("t", ">=", r#""2026-11-22T12:00:00Z""#, &["max", "zero"]),
        ("t", "<", r#""2026-11-22T11:00:00.0000001Z""#, &["min", "mid"]),
        ("t", "=", r#""2026-11-22T11:00:00.0000001Z""#, &[]),
        ("t", ">", r#""2026-11-22T10:59:59.9999999Z""#, &["max", "mid", "zero"]),
        ("t", "between", r#"["2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z"]"#, &["mid", "zero"]),
        ("t", "notBetween", r#"["2026-11-22T11:00:00Z", "2026-11-22T12:00:00Z"]"#, &["min", "max", "none"]),
        // Windows measured from now = 12:00Z: mid sits exactly at now - 1h.
        ("t", "withinLast", r#"{"amount": 1, "unit": "hours"}"#, &["mid", "zero"]),
        ("t", "withinLast", r#"{"amount": 59, "unit": "minutes"}"#, &["zero"]),
        ("t", "withinLast", r#"{"amount": 0, "unit": "days"}"#, &["zero"]),
        ("t", "withinNext", r#"{"amount": 0, "unit": "days"}"#, &["zero"]),
        ("t", "withinNext", r#"{"amount": 1, "unit": "weeks"}"#, &["zero"]),
        ("t", "moreThanAgo", r#"{"amount": 1, "unit": "hours"}"#, &["min"]),
        ("t", "moreThanAgo", r#"{"amount": 0, "unit": "minutes"}"#, &["min", "mid"]),
        ("t", "moreThanAgo", r#"{"amount": 18446744073709551615, "unit": "weeks"}"#, &[]),
        ("t", "withinLast", r#"{"amount": 18446744073709551615, "unit": "weeks"}"#, &["min", "mid", "zero"]),
        ("t", "null", "", &["none"]),
        // tags: an empty array is missing; duplicates collapse
        ("g", "containsAny", r#"["a"]"#, &["min", "max"]),
        ("g", "containsAny", r#"["zzz"]"#, &[]),
        ("g", "containsAll", r#"["a", "b"]"#, &["max"]),
        ("g", "containsAll", r#"["b", "b"]"#, &["max", "mid"]),
        ("g", "containsAll", r#"["a", "zzz"]"#, &[]),
        ("g", "containsNone", r#"["a"]"#, &["mid", "zero", "none"]),
        ("g", "containsNone", r#"["zzz"]"#, ALL),
        ("g", "null", "", &["zero", "none"]),
        ("g", "notNull", "", &["min", "max", "mid"]),
    ];
    for (field, op, value, want) in cases {
        check(&t, &rule(field, op, value), want);
    }
}

#[test]
fn groups_empty_negated_and_nested() {
    let t = table();
    check(&t, r#"{"combinator": "and", "rules": []}"#, ALL);
    check(&t, r#"{"combinator": "or", "rules": []}"#, &[]);
    check(&t, r#"{"combinator": "and", "not": true, "rules": []}"#, &[]);
    check(&t, r#"{"combinator": "or", "not": true, "rules": []}"#, ALL);
    // not complements within all entities, missing values included.
    check(
        &t,
        r#"{"combinator": "and", "not": true, "rules": [{"field": "n", "operator": ">", "value": 0}]}"#,
        &["min", "zero", "none"],
    );
    check(
        &t,
        r#"{"combinator": "or", "rules": [
            {"field": "b", "operator": "=", "value": true},
            {"combinator": "and", "not": true, "rules": [
                {"field": "s", "operator": "contains", "value": "pro"},
                {"field": "g", "operator": "null"}]}]}"#,
        &["min", "max", "mid", "none"],
    );
}

#[test]
fn deleted_and_reinserted_entities() {
    let mut t = table();
    t.delete("mid").unwrap();
    check(&t, &rule("n", ">=", "5"), &["max"]);
    check(&t, &rule("n", "null", ""), &["none"]);
    check(
        &t,
        r#"{"combinator": "and", "rules": []}"#,
        &["min", "max", "zero", "none"],
    );
    let id = t.insert("mid", segments::Row::new().set("n", 7i64)).unwrap();
    assert_eq!(t.id("mid"), Some(id));
    check(&t, &rule("n", ">=", "5"), &["max", "mid"]);
    check(&t, &rule("x", "null", ""), &["mid", "none"]);
}
