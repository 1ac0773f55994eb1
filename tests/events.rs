//! Event conditions at the edges: windows exactly at `now - d`, events at
//! the same instant, out-of-order arrival, deleted and revived entities, and
//! their JSON form.

use segments::{eval, FieldType, Filter, FilterError, KindSchema, LimitPolicy, Row, SchemaError, Table, Timestamp};

const NOW: i64 = 1_800_000_000_000_000;
const DAY: i64 = 86_400_000_000;

fn at(offset: i64) -> Timestamp {
    Timestamp::from_micros(NOW + offset)
}

fn table() -> Table {
    let mut t = Table::new(KindSchema::new("user", [("plan", FieldType::String)]).unwrap());
    for k in ["a", "b", "c", "d"] {
        t.insert(k, Row::new()).unwrap();
    }
    t
}

/// The keys matching a filter, by every evaluator (which must agree).
fn keys(t: &Table, json: &str) -> Vec<String> {
    let plan = Filter::from_json(json)
        .and_then(|f| f.validate(t.schema(), &LimitPolicy::default()))
        .unwrap_or_else(|e| panic!("{json}: {e}"));
    let now = at(0);
    let got = eval::evaluate(&plan, t, now).unwrap();
    assert_eq!(got, eval::scan(&plan, t, now).unwrap(), "oracle: {json}");
    let one: roaring::RoaringBitmap = t
        .live()
        .iter()
        .filter(|&i| eval::matches(&plan, t, segments::EntityId(i), now).unwrap())
        .collect();
    assert_eq!(got, one, "one at a time: {json}");
    t.keys_of(&got).map(String::from).collect()
}

fn rule(field: &str, op: &str, value: &str) -> String {
    format!(r#"{{"combinator": "and", "rules": [{{"field": "{field}", "operator": "{op}", "value": {value}}}]}}"#)
}

#[test]
fn a_window_includes_both_edges_exactly() {
    let mut t = table();
    t.record_event("a", "login", at(-14 * DAY)).unwrap(); // exactly now - 14 days: in
    t.record_event("b", "login", at(-14 * DAY - 1)).unwrap(); // a microsecond before: out
    t.record_event("c", "login", at(0)).unwrap(); // exactly now: in
    t.record_event("d", "login", at(1)).unwrap(); // a microsecond after now: out
    let within = r#"{"count": 1, "withinLast": {"amount": 14, "unit": "days"}}"#;
    assert_eq!(keys(&t, &rule("@count:login", ">=", within)), ["a", "c"]);
    assert_eq!(
        keys(&t, &rule("@count:login", "=", &within.replace("1,", "0,"))),
        ["b", "d"]
    );
    let seen = r#"{"amount": 14, "unit": "days"}"#;
    assert_eq!(keys(&t, &rule("@lastSeen", "withinLast", seen)), ["a", "c"]);
    assert_eq!(keys(&t, &rule("@lastSeen:login", "moreThanAgo", seen)), ["b"]);
    let between = format!(r#"{{"count": 1, "between": ["{}", "{}"]}}"#, at(-14 * DAY), at(0));
    assert_eq!(keys(&t, &rule("@count:login", ">=", &between)), ["a", "c"]);
}

#[test]
fn events_at_the_same_instant_all_count() {
    let mut t = table();
    for _ in 0..3 {
        t.record_event("a", "export", at(-DAY)).unwrap();
    }
    t.record_event("b", "export", at(-DAY)).unwrap();
    let three = r#"{"count": 3, "withinLast": {"amount": 7, "unit": "days"}}"#;
    assert_eq!(keys(&t, &rule("@count:export", ">=", three)), ["a"]);
    assert_eq!(keys(&t, &rule("@count:export", "<", three)), ["b", "c", "d"]);
    assert_eq!(keys(&t, &rule("@count:export", "=", r#"{"count": 3}"#)), ["a"]);
}

#[test]
fn out_of_order_arrival_keeps_first_and_last_right() {
    let mut t = table();
    for d in [-2, -9, 0, -30, -5] {
        t.record_event("a", "login", at(d * DAY)).unwrap();
    }
    t.record_event("a", "view", at(-40 * DAY)).unwrap();
    let a = t.id("a").unwrap();
    let times: Vec<i64> = t.event_times(a, "login").map(|x| (x.as_micros() - NOW) / DAY).collect();
    assert_eq!(times, [-30, -9, -5, -2, 0]);
    let first = |f: &str, d: i64| keys(&t, &rule(f, "=", &format!("\"{}\"", at(d * DAY))));
    assert_eq!(first("@firstSeen:login", -30), ["a"]);
    assert_eq!(first("@lastSeen:login", 0), ["a"]);
    assert_eq!(first("@firstSeen", -40), ["a"], "any event: the earliest of all names");
    let never = r#"{"combinator": "and", "rules": [{"field": "@lastSeen", "operator": "null"}]}"#;
    assert_eq!(keys(&t, never), ["b", "c", "d"]);
}

#[test]
fn a_deleted_entity_forgets_its_events() {
    let mut t = table();
    t.record_event("a", "login", at(-30 * DAY)).unwrap();
    t.delete("a").unwrap();
    assert!(t.record_event("a", "login", at(0)).is_err(), "not live");
    t.upsert("a", Row::new()).unwrap();
    assert_eq!(t.event_count(), 0);
    t.record_event("a", "login", at(-DAY)).unwrap();
    let first = rule("@firstSeen", "=", &format!("\"{}\"", at(-DAY)));
    assert_eq!(
        keys(&t, &first),
        ["a"],
        "the revived entity's first event is the new one"
    );
    assert_eq!(keys(&t, &rule("@count:login", "=", r#"{"count": 1}"#)), ["a"]);
    let window = r#"{"count": 1, "withinLast": {"amount": 60, "unit": "days"}}"#;
    assert_eq!(
        keys(&t, &rule("@count:login", "=", window)),
        ["a"],
        "counted in a window too"
    );
}

#[test]
fn an_event_never_recorded_counts_zero() {
    let t = table();
    assert_eq!(
        keys(&t, &rule("@count:signup", "=", r#"{"count": 0}"#)),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        keys(&t, &rule("@count:signup", ">", r#"{"count": 0}"#)),
        Vec::<String>::new()
    );
    let never = r#"{"combinator": "and", "rules": [{"field": "@firstSeen:signup", "operator": "notNull"}]}"#;
    assert!(keys(&t, never).is_empty());
}

#[test]
fn event_rules_round_trip_through_json() {
    for value in [
        r#"{"count":3}"#,
        r#"{"count":3,"withinLast":{"amount":14,"unit":"days"}}"#,
        r#"{"count":0,"between":["2026-01-01T00:00:00Z","2026-02-01T00:00:00Z"]}"#,
    ] {
        let json = rule("@count:login", ">=", value);
        let f = Filter::from_json(&json).unwrap();
        assert_eq!(Filter::from_json(&serde_json::to_string(&f).unwrap()).unwrap(), f);
    }
}

#[test]
fn event_rule_errors_name_the_path() {
    let t = table();
    let err = |json: &str| -> FilterError {
        Filter::from_json(json)
            .and_then(|f| f.validate(t.schema(), &LimitPolicy::default()))
            .unwrap_err()
    };
    assert_eq!(
        err(&rule("@count:login", ">=", r#"{"count": -1}"#)).to_string(),
        r#"rules[0].value (field `@count:login`): expected {"count": <non-negative integer>} with "withinLast": <duration> or "between": [<RFC 3339>, <RFC 3339>], or neither, found {"count":-1}"#
    );
    assert_eq!(
        err(&rule("@count:login", "contains", r#"{"count": 1}"#)).to_string(),
        "rules[0].operator: operator `contains` does not apply to int field `@count:login`"
    );
    assert_eq!(
        err(&rule("@count:login", ">=", "3")).to_string(),
        r#"rules[0].value (field `@count:login`): expected {"count": <non-negative integer>} with "withinLast": <duration> or "between": [<RFC 3339>, <RFC 3339>], or neither, found number 3"#
    );
    assert_eq!(
        err(&rule(
            "@count:login",
            ">=",
            r#"{"count": 1, "between": ["2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z"]}"#
        ))
        .to_string(),
        "rules[0].value.between (field `@count:login`): low bound 2026-02-01T00:00:00Z is greater than high bound 2026-01-01T00:00:00Z"
    );
    assert_eq!(
        err(&rule(
            "@count:login",
            ">=",
            r#"{"count": 1, "between": ["yesterday", "2026-01-01T00:00:00Z"]}"#
        ))
        .to_string(),
        r#"rules[0].value.between[0] (field `@count:login`): expected an RFC 3339 timestamp (or a date-time or date without offset, read in UTC), found string "yesterday" (premature end of input)"#
    );
    for field in ["@count", "@count:", "@lastTime", "@firstSeen:"] {
        assert_eq!(
            err(&rule(field, "=", "1")).to_string(),
            format!("rules[0].field: unknown field `{field}`")
        );
    }
    assert_eq!(
        err(&rule("@lastSeen", "<", "5")).to_string(),
        "rules[0].value (field `@lastSeen`): expected an RFC 3339 timestamp (or a date-time or date without offset, read in UTC), found number 5"
    );
    let e = KindSchema::new("user", [("@x", FieldType::Int)]).unwrap_err();
    assert!(matches!(e, SchemaError::ReservedPrefix { .. }));
    assert_eq!(
        e.to_string(),
        "kind `user`: field name `@x` starts with `@`, which is reserved for event conditions"
    );
}

#[test]
fn event_write_errors_change_nothing() {
    let mut t = table();
    t.record_event("a", "login", at(0)).unwrap();
    let e = t.record_event("zz", "login", at(0)).unwrap_err();
    assert_eq!(e.to_string(), "key `zz`: no such entity");
    let e = t.record_event("a", " ", at(0)).unwrap_err();
    assert_eq!(e.to_string(), "key `a`: event name is empty");
    let e = t.record_events([("a", "login", at(1)), ("b", "", at(2))]).unwrap_err();
    assert_eq!(e.to_string(), "row 1: key `b`: event name is empty");
    assert_eq!(t.event_count(), 1);
}

#[test]
fn first_and_last_seen_look_past_the_window() {
    let mut t = table();
    // `a`: in the window and after it; `b`: in it only; `c`: before and in it.
    t.record_events([
        ("a", "login", at(-DAY)),
        ("a", "login", at(DAY)),
        ("b", "login", at(-DAY)),
        ("c", "login", at(-30 * DAY)),
        ("c", "login", at(-2 * DAY)),
    ])
    .unwrap();
    let last = rule("@lastSeen:login", "withinLast", r#"{"amount": 7, "unit": "days"}"#);
    assert_eq!(keys(&t, &last), ["b", "c"], "a's last login is tomorrow");
    let first = rule("@firstSeen:login", "withinLast", r#"{"amount": 7, "unit": "days"}"#);
    assert_eq!(keys(&t, &first), ["a", "b"], "c's first login is a month ago");
}
