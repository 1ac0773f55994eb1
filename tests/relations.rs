//! Relations (account rules over their users), segments in segments, and
//! usage change: semantics, JSON forms, cycles, and a model-based proptest
//! that holds the incremental engine to a recomputation from first
//! principles after every write.

use proptest::prelude::*;
use roaring::RoaringBitmap;
use serde_json::json;

use segments::segment::{Actor, ChangeKind, NewSegment, Role, SegmentId};
use segments::{
    Clock, Engine, Error, FieldType, Filter, FilterError, IndexConfig, LimitPolicy, Row, Schema, SchemaError,
    SegmentError, Timestamp,
};

const DAY: i64 = 86_400_000_000;

fn t0() -> Timestamp {
    "2026-11-01T00:00:00Z".parse().unwrap()
}

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("mrr", FieldType::Int), ("parent", FieldType::String)])
        .kind(
            "user",
            [
                ("account_id", FieldType::String),
                ("active", FieldType::Bool),
                ("score", FieldType::Int),
            ],
        )
        .relation("user", "account_id", "account")
        .relation("account", "parent", "account")
        .build()
        .unwrap()
}

fn filter(v: serde_json::Value) -> Filter {
    Filter::from_json(&v.to_string()).unwrap()
}

fn admin() -> Actor {
    Actor::new("ada", Role::Admin)
}

fn keys(e: &Engine, s: SegmentId) -> Vec<String> {
    e.segments().member_keys(s).unwrap().map(String::from).collect()
}

fn user(account: &str, active: bool, score: i64) -> Row {
    Row::new()
        .set("account_id", account)
        .set("active", active)
        .set("score", score)
}

#[test]
fn schema_relation_errors() {
    let base = || {
        Schema::builder()
            .kind("account", [("n", FieldType::Int)])
            .kind("user", [("account_id", FieldType::String), ("age", FieldType::Int)])
    };
    let err = |b: segments::SchemaBuilder| b.build().unwrap_err();
    assert_eq!(
        err(base().relation("user", "nope", "account")),
        SchemaError::UnknownRelationField {
            kind: "user".into(),
            field: "nope".into(),
            parent: "account".into()
        }
    );
    assert_eq!(
        err(base().relation("user", "age", "account")).to_string(),
        "relation from `user` to `account`: field `age` is int, but a relation field holds the parent's key, a string"
    );
    assert_eq!(
        err(base().relation("users", "account_id", "account")),
        SchemaError::UnknownKind(segments::error::UnknownKind::new("users"))
    );
    assert_eq!(
        err(base()
            .relation("user", "account_id", "account")
            .relation("user", "account_id", "account"))
        .to_string(),
        "duplicate relation from `user` to `account`"
    );
}

#[test]
fn quantifiers_and_accounts_without_users() {
    let mut e = Engine::new(schema());
    e.set_clock(Clock::Fixed(t0())).unwrap();
    for a in ["a", "b", "empty"] {
        e.insert("account", a, Row::new()).unwrap();
    }
    e.insert("user", "a1", user("a", true, 1)).unwrap();
    e.insert("user", "a2", user("a", false, 9)).unwrap();
    e.insert("user", "b1", user("b", true, 7)).unwrap();
    e.insert("user", "b2", user("b", true, 8)).unwrap();
    e.insert("user", "stray", user("nobody", true, 1)).unwrap();
    let active = json!({"combinator": "and", "rules": [{"field": "active", "operator": "=", "value": true}]});
    let q = |op: &str, value: serde_json::Value| {
        let f =
            filter(json!({"combinator": "and", "rules": [{"field": "@related:user", "operator": op, "value": value}]}));
        let ids = e.query("account").evaluate(&f, t0()).unwrap();
        assert_eq!(
            ids,
            segments::testing::scan(&e, "account", &f, t0()).unwrap(),
            "{op} {value}"
        );
        let t = e.store().table("account").unwrap();
        let mut k: Vec<&str> = t.keys_of(&ids).collect();
        k.sort_unstable();
        k.join(",")
    };
    assert_eq!(q("any", active.clone()), "a,b");
    assert_eq!(q("none", active.clone()), "empty");
    // `all` holds vacuously for an account without users.
    assert_eq!(q("all", active.clone()), "b,empty");
    assert_eq!(q("atLeast", json!({"count": 2, "filter": active})), "b");
    assert_eq!(q("atLeast", json!({"count": 0, "filter": active})), "a,b,empty");
    // A share needs at least one user.
    assert_eq!(q("atLeast", json!({"percent": 50, "filter": active})), "a,b");
    assert_eq!(q("atLeast", json!({"percent": 51, "filter": active})), "b");
    assert_eq!(q("atLeast", json!({"percent": 0, "filter": active})), "a,b");
    // An empty nested filter: any user at all.
    assert_eq!(q("any", json!({"combinator": "and", "rules": []})), "a,b");
}

#[test]
fn json_forms_round_trip_and_count_toward_the_limit() {
    let v = json!({"combinator": "and", "rules": [
        {"field": "@segment", "operator": "in", "value": [1, 2]},
        {"field": "@segment", "operator": "notIn", "value": 3},
        {"field": "@related:user", "operator": "any", "value": {"combinator": "or", "rules": [
            {"field": "active", "operator": "=", "value": true},
            {"field": "@lastSeen", "operator": "withinLast", "value": {"amount": 14, "unit": "days"}}]}},
        {"field": "@related:user", "operator": "atLeast", "value": {"percent": 12.5, "filter":
            {"combinator": "and", "rules": [{"field": "score", "operator": ">", "value": 3}]}}},
        {"field": "@change:login", "operator": ">=", "value": {"ratio": 2.0, "window": {"amount": 7, "unit": "days"}}}
    ]});
    let f = filter(v.clone());
    assert_eq!(f.to_json_value(), v);
    let policy = LimitPolicy::default().with_max_conditions(8);
    let plan = segments::Plan::in_schema(&f, &schema(), "account", &policy).unwrap();
    // 5 rules at the top and 3 inside the nested filters.
    assert_eq!(plan.conditions(), 8);
    let tight = LimitPolicy::default().with_max_conditions(7);
    assert_eq!(
        segments::Plan::in_schema(&f, &schema(), "account", &tight).unwrap_err(),
        FilterError::TooManyConditions { count: 8, limit: 7 }
    );
    // A nested filter is one level deeper.
    let shallow = LimitPolicy::default().with_max_depth(1).unwrap();
    assert_eq!(
        segments::Plan::in_schema(&f, &schema(), "account", &shallow)
            .unwrap_err()
            .to_string(),
        "rules[3].value.filter: nesting deeper than the limit of 1"
    );
    assert!(plan.needs_engine());
    assert_eq!(plan.segments(), [SegmentId(1), SegmentId(2), SegmentId(3)]);
}

#[test]
fn bad_related_and_segment_rules_name_the_path() {
    let s = schema();
    let p = LimitPolicy::default();
    let check = |v: serde_json::Value, msg: &str| {
        let f = filter(json!({"combinator": "and", "rules": [v]}));
        assert_eq!(
            segments::Plan::in_schema(&f, &s, "account", &p)
                .unwrap_err()
                .to_string(),
            msg
        );
    };
    check(
        json!({"field": "@related:order", "operator": "any", "value": {"combinator": "and", "rules": []}}),
        "rules[0].field: no relation from kind `order` to this filter's kind",
    );
    check(
        json!({"field": "@related:user", "operator": "=", "value": {"combinator": "and", "rules": []}}),
        "rules[0].operator: operator `=` does not apply to `@related:user` (it takes `any`, `none`, `all`, `atLeast`, `atMost` and `exactly`)",
    );
    check(
        json!({"field": "@related:user", "operator": "any", "value": {"combinator": "and", "rules": [
            {"field": "mrr", "operator": ">", "value": 1}]}}),
        "rules[0].value.rules[0].field: unknown field `mrr`",
    );
    check(
        json!({"field": "@related:user", "operator": "atLeast", "value": {"combinator": "and", "rules": []}}),
        r#"rules[0].value (field `@related:user`): expected {"count": <non-negative integer>, "filter": <group>} or {"percent": <0 to 100>, "filter": <group>}, found a nested filter"#,
    );
    check(
        json!({"field": "@segment", "operator": "in", "value": [0]}),
        "rules[0].value[0] (field `@segment`): expected a segment id (a positive integer), found number 0",
    );
    check(
        json!({"field": "@segment", "operator": "=", "value": 1}),
        "rules[0].operator: operator `=` does not apply to `@segment` (it takes `in` and `notIn`)",
    );
    let bad_change = json!({"combinator": "and", "rules": [
        {"field": "@change:login", "operator": ">=", "value": {"ratio": -1, "window": {"amount": 7, "unit": "days"}}}]});
    assert_eq!(
        Filter::from_json(&bad_change.to_string()).unwrap_err().to_string(),
        r#"rules[0].value (field `@change:login`): expected {"ratio": <positive number>, "window": {"amount": <positive integer>, "unit": "minutes" | "hours" | "days" | "weeks"}}, found {"ratio":-1,"window":{"amount":7,"unit":"days"}}"#,
    );
    assert_eq!(
        segments::Plan::in_schema(&filter(json!({"combinator": "and", "rules": []})), &s, "org", &p).unwrap_err(),
        FilterError::UnknownKind(segments::error::UnknownKind::new("org"))
    );
    // Without a schema there are no relations.
    let f = filter(json!({"combinator": "and", "rules": [
        {"field": "@related:user", "operator": "any", "value": {"combinator": "and", "rules": []}}]}));
    let kind = std::sync::Arc::new(s.kind("account").unwrap().clone());
    assert!(matches!(
        f.validate(&kind, &p),
        Err(FilterError::UnknownRelation { .. })
    ));
    // A plan that names segments needs the engine.
    let f = filter(json!({"combinator": "and", "rules": [{"field": "@segment", "operator": "in", "value": 1}]}));
    let plan = f.validate(&kind, &p).unwrap();
    let table = segments::Table::new(s.kind("account").unwrap().clone());
    assert_eq!(
        segments::eval::evaluate(&plan, &table, t0()).unwrap_err(),
        segments::EvalError::NeedsEngine
    );
}

fn in_segment(ids: &[u64], not: bool) -> serde_json::Value {
    json!({"field": "@segment", "operator": if not { "notIn" } else { "in" }, "value": ids})
}

#[test]
fn cycles_are_refused_naming_the_cycle() {
    let mut e = Engine::new(schema());
    let a = admin();
    let seg = |e: &mut Engine, name: &str, rules: Vec<serde_json::Value>| {
        e.create_segment(
            &a,
            NewSegment::new(name, "account").filter(filter(json!({"combinator": "and", "rules": rules}))),
        )
        .map(|(id, _)| id)
    };
    let s1 = seg(&mut e, "A", vec![]).unwrap();
    let s2 = seg(&mut e, "B", vec![in_segment(&[s1.0], false)]).unwrap();
    let s3 = seg(&mut e, "C", vec![in_segment(&[s2.0], true)]).unwrap();
    let before = format!("{e:?}");
    // Direct: A names A.
    let err = e
        .set_filter(
            &a,
            s1,
            Some(filter(json!({"combinator": "and", "rules": [in_segment(&[1], false)]}))),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "segments would depend on themselves: `A` (segment 1) -> `A` (segment 1)"
    );
    // Indirect: A names C, which names B, which names A.
    let err = e
        .attach_rule(
            &a,
            s1,
            filter(json!({"combinator": "and", "rules": [in_segment(&[s3.0], false)]})),
        )
        .unwrap_err();
    assert_eq!(
        err,
        SegmentError::Cycle {
            cycle: "`A` (segment 1) -> `C` (segment 3) -> `B` (segment 2) -> `A` (segment 1)".into()
        }
    );
    // Via a relation filter: A's accounts whose child accounts are in C.
    let via = json!({"combinator": "and", "rules": [{"field": "@related:account", "operator": "any",
        "value": {"combinator": "and", "rules": [in_segment(&[s3.0], false)]}}]});
    assert!(matches!(
        e.set_filter(&a, s1, Some(filter(via))),
        Err(SegmentError::Cycle { .. })
    ));
    assert_eq!(format!("{e:?}"), before, "a refused rule changes nothing");
    // Unknown segments, segments of another kind, deleting a named segment.
    let (users, _) = e.create_segment(&a, NewSegment::new("U", "user")).unwrap();
    assert_eq!(
        seg(&mut e, "D", vec![in_segment(&[99], false)])
            .unwrap_err()
            .to_string(),
        "segment `D`: the filter names segment 99, but no such segment"
    );
    assert_eq!(
        seg(&mut e, "D", vec![in_segment(&[users.0], false)]).unwrap_err().to_string(),
        "segment `D`: the filter names segment 4, but it holds `user` entities where the filter tests `account` entities"
    );
    assert_eq!(
        e.delete_segment(&a, s1).unwrap_err().to_string(),
        "segment 1 is named by the rules of `B` (segment 2)"
    );
    e.delete_segment(&a, s3).unwrap();
    e.delete_segment(&a, s2).unwrap();
    e.delete_segment(&a, s1).unwrap();
}

#[test]
fn a_change_reaches_every_dependent_segment_in_the_same_call() {
    let mut e = Engine::new(schema());
    e.set_clock(Clock::Fixed(t0())).unwrap();
    let a = admin();
    e.insert("account", "acme", Row::new().set("mrr", 10)).unwrap();
    let mk = |e: &mut Engine, name: &str, kind: &str, v: serde_json::Value| {
        e.create_segment(&a, NewSegment::new(name, kind).filter(filter(v)))
            .unwrap()
            .0
    };
    let power = mk(
        &mut e,
        "Power users",
        "user",
        json!({"combinator": "and", "rules": [{"field": "score", "operator": ">=", "value": 8}]}),
    );
    let with_power = mk(
        &mut e,
        "Has power users",
        "account",
        json!({"combinator": "and", "rules": [{"field": "@related:user", "operator": "any",
            "value": {"combinator": "and", "rules": [in_segment(&[power.0], false)]}}]}),
    );
    let big = mk(
        &mut e,
        "Big",
        "account",
        json!({"combinator": "and", "rules": [{"field": "mrr", "operator": ">", "value": 100}]}),
    );
    let upsell = mk(
        &mut e,
        "Upsell",
        "account",
        json!({"combinator": "and", "rules": [in_segment(&[with_power.0], false), in_segment(&[big.0], true)]}),
    );
    // One user write: the user enters Power users, its account enters Has
    // power users and then Upsell, in one call.
    let ch = e.insert("user", "u1", user("acme", true, 9)).unwrap();
    let got: Vec<(SegmentId, ChangeKind)> = ch.iter().map(|c| (c.segment, c.kind)).collect();
    assert_eq!(
        got,
        [
            (power, ChangeKind::Entered),
            (with_power, ChangeKind::Entered),
            (upsell, ChangeKind::Entered)
        ]
    );
    // The account grows: it enters Big and so leaves Upsell.
    let ch = e.upsert("account", "acme", Row::new().set("mrr", 500)).unwrap();
    let got: Vec<(SegmentId, ChangeKind)> = ch.iter().map(|c| (c.segment, c.kind)).collect();
    assert_eq!(got, [(big, ChangeKind::Entered), (upsell, ChangeKind::Exited)]);
    // Moving the user to another account moves the account's membership.
    e.insert("account", "beta", Row::new().set("mrr", 1)).unwrap();
    let ch = e.upsert("user", "u1", Row::new().set("account_id", "beta")).unwrap();
    let moved: Vec<(SegmentId, String, ChangeKind)> = ch
        .iter()
        .map(|c| {
            (
                c.segment,
                e.store().table("account").unwrap().key(c.entity).unwrap().to_string(),
                c.kind,
            )
        })
        .collect();
    assert_eq!(
        moved,
        [
            (with_power, "beta".into(), ChangeKind::Entered),
            (with_power, "acme".into(), ChangeKind::Exited),
            (upsell, "beta".into(), ChangeKind::Entered),
        ]
    );
    assert_eq!(keys(&e, upsell), ["beta"]);
    segments::testing::check_consistency(&e, t0()).unwrap();
}

#[test]
fn usage_change_compares_two_windows() {
    let mut e = Engine::new(schema());
    let now = t0();
    for u in ["up", "down", "flat", "new", "none"] {
        e.insert("user", u, Row::new()).unwrap();
    }
    let at = |days: f64| Timestamp::from_micros(now.as_micros() - (days * DAY as f64) as i64);
    let ev = [
        ("up", 10.0),
        ("up", 2.0),
        ("up", 1.0), // 1 before, 2 last
        ("down", 12.0),
        ("down", 11.0),
        ("down", 8.0),
        ("down", 3.0), // 3 before, 1 last
        ("flat", 9.0),
        ("flat", 2.0),
        ("new", 0.5),
        ("none", 30.0),
    ];
    for (u, d) in ev {
        e.record_events("user", [(u, "login", at(d))]).unwrap();
    }
    // The window edge: exactly 7 days ago is in the last window.
    e.record_events("user", [("flat", "login", at(7.0))]).unwrap();
    let q = |op: &str, ratio: f64| {
        let f = filter(
            json!({"combinator": "and", "rules": [{"field": "@change:login", "operator": op,
            "value": {"ratio": ratio, "window": {"amount": 7, "unit": "days"}}}]}),
        );
        let ids = e.query("user").evaluate(&f, now).unwrap();
        assert_eq!(ids, segments::testing::scan(&e, "user", &f, now).unwrap());
        let t = e.store().table("user").unwrap();
        let mut k: Vec<&str> = t.keys_of(&ids).collect();
        k.sort_unstable();
        k.join(",")
    };
    assert_eq!(q(">=", 2.0), "flat,new,up");
    assert_eq!(q("<=", 0.5), "down");
}

// ---- the model-based proptest ----

#[derive(Debug, Clone)]
enum Op {
    Account(u8, i64),
    User(u8, u8, bool, i64),
    MoveUser(u8, u8),
    DeleteUser(u8),
    DeleteAccount(u8),
    SetParent(u8, u8),
    Login(u8, i64),
    Tick(i64),
    Batch(Vec<(u8, u8, bool, i64)>),
    AddManual(u8),
    RemoveManual(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6u8, 0..200i64).prop_map(|(a, m)| Op::Account(a, m)),
        (0..12u8, 0..7u8, any::<bool>(), 0..10i64).prop_map(|(u, a, x, s)| Op::User(u, a, x, s)),
        (0..12u8, 0..7u8).prop_map(|(u, a)| Op::MoveUser(u, a)),
        (0..12u8).prop_map(Op::DeleteUser),
        (0..6u8).prop_map(Op::DeleteAccount),
        (0..6u8, 0..7u8).prop_map(|(a, p)| Op::SetParent(a, p)),
        (0..12u8, 0..20i64).prop_map(|(u, d)| Op::Login(u, d)),
        (1..6i64).prop_map(Op::Tick),
        prop::collection::vec((0..12u8, 0..7u8, any::<bool>(), 0..10i64), 0..5).prop_map(Op::Batch),
        (0..6u8).prop_map(Op::AddManual),
        (0..6u8).prop_map(Op::RemoveManual),
    ]
}

fn account_key(a: u8) -> String {
    format!("a{a}")
}

/// Segments over every quantifier, both relations, events and references.
fn define(e: &mut Engine) -> Vec<SegmentId> {
    let a = admin();
    let mut ids = Vec::new();
    let mut mk = |e: &mut Engine, kind: &str, v: serde_json::Value| {
        let id = e
            .create_segment(&a, NewSegment::new(format!("s{}", ids.len()), kind).filter(filter(v)))
            .unwrap()
            .0;
        ids.push(id);
        id
    };
    // Created first, made to name later segments last: ids do not give the
    // order in which segments must settle.
    let early = mk(e, "account", json!({"combinator": "and", "rules": []}));
    let active = json!({"combinator": "and", "rules": [{"field": "active", "operator": "=", "value": true}]});
    let rel = |op: &str, v: serde_json::Value| json!({"combinator": "and", "rules": [{"field": "@related:user", "operator": op, "value": v}]});
    let any_active = mk(e, "account", rel("any", active.clone()));
    let all_scored = mk(
        e,
        "account",
        rel(
            "all",
            json!({"combinator": "and", "rules": [{"field": "score", "operator": ">", "value": 4}]}),
        ),
    );
    let logins = mk(
        e,
        "account",
        rel(
            "atLeast",
            json!({"count": 2, "filter": {"combinator": "and", "rules": [
        {"field": "@count:login", "operator": ">=", "value": {"count": 1, "withinLast": {"amount": 7, "unit": "days"}}}]}}),
        ),
    );
    let _half = mk(e, "account", rel("atLeast", json!({"percent": 50, "filter": active})));
    let high = mk(
        e,
        "user",
        json!({"combinator": "and", "rules": [{"field": "score", "operator": ">", "value": 6}]}),
    );
    let with_high = mk(
        e,
        "account",
        rel(
            "any",
            json!({"combinator": "and", "rules": [in_segment(&[high.0], false)]}),
        ),
    );
    let _mix = mk(
        e,
        "account",
        json!({"combinator": "and", "rules": [
        in_segment(&[any_active.0], false), in_segment(&[all_scored.0], true)]}),
    );
    let chain = mk(
        e,
        "account",
        json!({"combinator": "or", "rules": [
        in_segment(&[with_high.0, logins.0], false), {"field": "mrr", "operator": ">", "value": 150}]}),
    );
    let _parents = mk(
        e,
        "account",
        json!({"combinator": "and", "rules": [{"field": "@related:account", "operator": "any",
        "value": {"combinator": "and", "rules": [in_segment(&[with_high.0], false)]}}]}),
    );
    let _none = mk(
        e,
        "account",
        json!({"combinator": "and", "rules": [{"field": "@related:user", "operator": "none",
        "value": {"combinator": "and", "rules": [{"field": "@lastSeen", "operator": "withinLast", "value": {"amount": 3, "unit": "days"}}]}}]}),
    );
    e.set_filter(
        &a,
        early,
        Some(filter(json!({"combinator": "or", "rules": [
        in_segment(&[chain.0], true), {"field": "mrr", "operator": "<", "value": 20}]}))),
    )
    .unwrap();
    ids
}

fn snapshot(e: &Engine, segs: &[SegmentId]) -> Vec<RoaringBitmap> {
    segs.iter().map(|s| e.segments().members(*s).unwrap().clone()).collect()
}

fn apply(e: &mut Engine, op: &Op, now: &mut Timestamp, manual: SegmentId) -> Result<segments::segment::Changes, Error> {
    let a = admin();
    Ok(match op {
        Op::Account(k, m) => e.upsert("account", &account_key(*k), Row::new().set("mrr", *m))?,
        Op::User(u, k, x, s) => e.upsert("user", &format!("u{u}"), user(&account_key(*k), *x, *s))?,
        Op::MoveUser(u, k) => e.upsert("user", &format!("u{u}"), Row::new().set("account_id", account_key(*k)))?,
        Op::DeleteUser(u) => e.delete("user", &format!("u{u}"))?,
        Op::DeleteAccount(k) => e.delete("account", &account_key(*k))?,
        Op::SetParent(k, p) => e.upsert("account", &account_key(*k), Row::new().set("parent", account_key(*p)))?,
        Op::Login(u, d) => e.record_events(
            "user",
            [(
                &format!("u{u}"),
                "login",
                Timestamp::from_micros(now.as_micros() - d * DAY / 2),
            )],
        )?,
        Op::Tick(d) => {
            *now = Timestamp::from_micros(now.as_micros() + d * DAY);
            e.set_clock(Clock::Fixed(*now)).unwrap();
            e.refresh(*now).unwrap()
        }
        Op::Batch(rows) => e.upsert_many(
            "user",
            rows.iter()
                .map(|(u, k, x, s)| (format!("u{u}"), user(&account_key(*k), *x, *s))),
        )?,
        Op::AddManual(k) => e.add_members(&a, manual, [account_key(*k)])?,
        Op::RemoveManual(k) => e.remove_members(&a, manual, [account_key(*k)])?,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// After every write, every rule's links and every segment's members
    /// equal a recomputation from first principles, and the changes the
    /// call reported are exactly the net difference in membership.
    #[test]
    fn incremental_membership_equals_recomputation(ops in prop::collection::vec(op(), 1..60), tiny in any::<bool>()) {
        let cfg = if tiny { IndexConfig { per_id_candidates: 3, ..IndexConfig::default() } } else { IndexConfig::default() };
        let mut e = Engine::with_config(schema(), LimitPolicy::default().with_unlimited_conditions(), cfg);
        let mut now = t0();
        e.set_clock(Clock::Fixed(now)).unwrap();
        let mut segs = define(&mut e);
        // A manually edited segment that a rule-fed one names.
        let a = admin();
        let (manual, _) = e.create_segment(&a, NewSegment::new("manual", "account")).unwrap();
        let (named, _) = e.create_segment(&a, NewSegment::new("named", "account").filter(filter(
            json!({"combinator": "or", "rules": [in_segment(&[manual.0], false), in_segment(&[segs[0].0], false)]})))).unwrap();
        segs.push(manual);
        segs.push(named);
        for op in &ops {
            let before = snapshot(&e, &segs);
            let dbg = format!("{e:?}");
            match apply(&mut e, op, &mut now, manual) {
                Ok(ch) => {
                    segments::testing::check_consistency(&e, now).map_err(|m| TestCaseError::fail(format!("after {op:?}: {m}")))?;
                    let after = snapshot(&e, &segs);
                    for (i, s) in segs.iter().enumerate() {
                        prop_assert_eq!(ch.of(*s, ChangeKind::Entered), &after[i] - &before[i], "entered {:?} after {:?}", s, op);
                        prop_assert_eq!(ch.of(*s, ChangeKind::Exited), &before[i] - &after[i], "exited {:?} after {:?}", s, op);
                    }
                }
                Err(_) => prop_assert_eq!(format!("{e:?}"), dbg, "a failed call changed the engine"),
            }
        }
    }
}

// ---- the oracle, over relations and segment references ----

fn nested_pool() -> Vec<serde_json::Value> {
    vec![
        json!({"field": "active", "operator": "=", "value": true}),
        json!({"field": "score", "operator": ">", "value": 4}),
        json!({"field": "score", "operator": "null"}),
        json!({"field": "@count:login", "operator": ">=", "value": {"count": 2, "withinLast": {"amount": 5, "unit": "days"}}}),
        json!({"field": "@lastSeen", "operator": "moreThanAgo", "value": {"amount": 3, "unit": "days"}}),
        json!({"field": "@change:login", "operator": ">=", "value": {"ratio": 1.5, "window": {"amount": 3, "unit": "days"}}}),
        json!({"field": "@segment", "operator": "in", "value": 1}),
    ]
}

fn quantifier() -> impl Strategy<Value = serde_json::Value> {
    let nested = (prop::collection::vec(0..7usize, 0..3), any::<bool>(), any::<bool>()).prop_map(|(ix, or, not)| {
        let pool = nested_pool();
        let rules: Vec<serde_json::Value> = ix.into_iter().map(|i| pool[i].clone()).collect();
        json!({"combinator": if or { "or" } else { "and" }, "not": not, "rules": rules})
    });
    (0..6usize, nested, 0..4u64, 0..=100u32).prop_map(|(q, f, n, p)| {
        let (op, value) = match q {
            0 => ("any", f),
            1 => ("none", f),
            2 => ("all", f),
            3 => ("atLeast", json!({"count": n, "filter": f})),
            _ => ("atLeast", json!({"percent": p, "filter": f})),
        };
        json!({"field": "@related:user", "operator": op, "value": value})
    })
}

fn top_rule() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        quantifier(),
        Just(json!({"field": "mrr", "operator": ">", "value": 50})),
        Just(in_segment(&[2], false)),
        Just(in_segment(&[2], true)),
        quantifier().prop_map(|q| json!({"field": "@related:account", "operator": "any",
            "value": {"combinator": "and", "rules": [q]}})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// `Engine::evaluate` (through the indexes, parents and bitmaps) equals
    /// the oracle (every account, its users found by comparing keys).
    #[test]
    fn evaluation_over_relations_equals_the_oracle(
        accounts in prop::collection::vec((0..300i64, prop::option::of(0..8u8)), 1..8),
        users in prop::collection::vec((prop::option::of(0..9u8), any::<bool>(), prop::option::of(0..10i64), prop::collection::vec(0..12i64, 0..5)), 0..30),
        rules in prop::collection::vec(top_rule(), 0..4),
        or in any::<bool>(),
        tiny in any::<bool>(),
    ) {
        let cfg = if tiny { IndexConfig { per_id_candidates: 3, ..IndexConfig::default() } } else { IndexConfig::default() };
        let mut e = Engine::with_config(schema(), LimitPolicy::default().with_unlimited_conditions(), cfg);
        let now = t0();
        e.set_clock(Clock::Fixed(now)).unwrap();
        for (i, (mrr, parent)) in accounts.iter().enumerate() {
            let mut row = Row::new().set("mrr", *mrr);
            if let Some(p) = parent {
                row = row.set("parent", account_key(*p));
            }
            e.upsert("account", &account_key(i as u8), row).unwrap();
        }
        for (i, (acct, active, score, logins)) in users.iter().enumerate() {
            let mut row = Row::new().set("active", *active);
            if let Some(a) = acct {
                row = row.set("account_id", account_key(*a));
            }
            if let Some(s) = score {
                row = row.set("score", *s);
            }
            let key = format!("u{i}");
            e.upsert("user", &key, row).unwrap();
            for d in logins {
                e.record_events("user", [(&key, "login", Timestamp::from_micros(now.as_micros() - d * DAY / 2))]).unwrap();
            }
        }
        let a = admin();
        e.create_segment(&a, NewSegment::new("engaged users", "user").filter(filter(
            json!({"combinator": "and", "rules": [{"field": "score", "operator": ">=", "value": 5}]})))).unwrap();
        e.create_segment(&a, NewSegment::new("big accounts", "account").filter(filter(
            json!({"combinator": "and", "rules": [{"field": "mrr", "operator": ">=", "value": 100}]})))).unwrap();
        let f = filter(json!({"combinator": if or { "or" } else { "and" }, "rules": rules}));
        prop_assert_eq!(e.query("account").evaluate(&f, now).unwrap(), segments::testing::scan(&e, "account", &f, now).unwrap());
    }
}

#[test]
fn the_deepest_filter_allowed_reads_back_from_its_json_and_its_snapshot() {
    use segments::filter::{related, MAX_DEPTH_CAP};
    // The most JSON per level: `{"count", "filter"}` nesting, and a leaf
    // whose value holds an object.
    let leaf = json!({"field": "@count:login", "operator": ">=",
        "value": {"count": 1, "withinLast": {"amount": 7, "unit": "days"}}});
    let mut g = json!({"combinator": "and", "rules": [leaf]});
    for _ in 1..MAX_DEPTH_CAP {
        g = json!({"combinator": "and", "rules": [{"field": "@related:account", "operator": "atLeast",
            "value": {"count": 1, "filter": g}}]});
    }
    let f = Filter::from_json(&g.to_string()).unwrap();
    let policy = LimitPolicy::default()
        .with_unlimited_conditions()
        .with_max_depth(MAX_DEPTH_CAP)
        .unwrap();
    assert!(LimitPolicy::default().with_max_depth(MAX_DEPTH_CAP + 1).is_err());
    segments::Plan::in_schema(&f, &schema(), "account", &policy).unwrap();
    assert_eq!(Filter::from_json(&f.to_json_value().to_string()).unwrap(), f);

    let mut e = Engine::with_config(schema(), policy, IndexConfig::default());
    let (s, _) = e
        .create_segment(&admin(), NewSegment::new("deep", "account").filter(f.clone()))
        .unwrap();
    let mut bytes = Vec::new();
    e.save(&mut bytes).unwrap();
    let r = Engine::restore(&bytes[..]).unwrap();
    assert_eq!(
        r.segments().rule(r.segments().get(s).unwrap().rules[0]).unwrap().filter,
        f
    );

    // One level more is refused, however it was built.
    let deeper = Filter::and([related("account").at_least(1, f)]);
    assert_eq!(
        segments::Plan::in_schema(&deeper, &schema(), "account", &policy)
            .unwrap_err()
            .to_string()
            .rsplit(": ")
            .next(),
        Some("nesting deeper than the limit of 31")
    );
}
