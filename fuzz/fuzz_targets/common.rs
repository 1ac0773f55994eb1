#![allow(dead_code)]

//! A small engine shared by the targets: two kinds with a relation each
//! way, every field type, events and a few segments.

use segments::segment::{Actor, NewSegment, Role};
use segments::{Clock, Engine, FieldType, Filter, IndexConfig, LimitPolicy, Row, Schema, Timestamp, Value};

pub const NOW: i64 = 1_795_348_800_000_000;
pub const DAY: i64 = 86_400_000_000;

pub fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("health", FieldType::Float),
                ("nps", FieldType::Int),
                ("plan", FieldType::String),
                ("paying", FieldType::Bool),
                ("renewal", FieldType::Timestamp),
                ("labels", FieldType::Tags),
                ("parent", FieldType::String),
            ],
        )
        .kind("user", [("account_id", FieldType::String), ("score", FieldType::Int), ("active", FieldType::Bool)])
        .relation("user", "account_id", "account")
        .relation("account", "parent", "account")
        .build()
        .expect("a valid schema")
}

pub fn admin() -> Actor {
    Actor::new("fuzz", Role::Admin)
}

pub fn empty() -> Engine {
    let cfg = IndexConfig { fine_buckets: 4, min_bucket: 1, per_id_candidates: 3, ..IndexConfig::default() };
    let mut e = Engine::with_config(schema(), LimitPolicy::default().with_unlimited_conditions(), cfg);
    e.set_clock(Clock::Fixed(Timestamp::from_micros(NOW))).unwrap();
    e
}

pub const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
pub const LABELS: [&str; 4] = ["vip", "beta", "churn", "émigré"];
pub const EVENTS: [&str; 3] = ["login", "click", "export"];

/// An account row from a few bytes.
pub fn account_row(b: &[u8; 6], accounts: u8) -> Row {
    let pick = |i: usize, none: u8| (b[i] % none != 0).then_some(b[i]);
    Row::new()
        .set("health", pick(0, 7).map_or(Value::Null, |x| Value::Float(x as f64 / 2.0 - 10.0)))
        .set("nps", pick(1, 7).map_or(Value::Null, |x| Value::Int(x as i64 % 12 - 1)))
        .set("plan", pick(2, 5).map_or(Value::Null, |x| Value::String(PLANS[x as usize % 4].into())))
        .set("paying", pick(3, 3).map_or(Value::Null, |x| Value::Bool(x % 2 == 0)))
        .set(
            "renewal",
            pick(4, 6).map_or(Value::Null, |x| Value::Timestamp(Timestamp::from_micros(NOW + (x as i64 - 128) * DAY / 4))),
        )
        .set(
            "labels",
            Value::Tags((0..4).filter(|i| b[5] >> i & 1 == 1).map(|i| LABELS[i].to_string()).collect()),
        )
        .set("parent", pick(5, 4).map_or(Value::Null, |x| Value::String(format!("a{}", x % accounts.max(1)))))
}

/// Filters over accounts of every kind.
pub fn account_filters() -> Vec<serde_json::Value> {
    use serde_json::json;
    let and = |rules: serde_json::Value| json!({"combinator": "and", "rules": rules});
    vec![
        and(json!([{"field": "health", "operator": "<", "value": 40}])),
        and(json!([{"field": "plan", "operator": "in", "value": ["pro", "enterprise"]}])),
        and(json!([{"field": "labels", "operator": "containsAny", "value": ["vip", "beta"]}])),
        json!({"combinator": "or", "not": true, "rules": [
            {"field": "paying", "operator": "=", "value": false}, {"field": "nps", "operator": ">=", "value": 8}]}),
        and(json!([{"field": "renewal", "operator": "withinNext", "value": {"amount": 10, "unit": "days"}}])),
        and(json!([{"field": "@count:login", "operator": ">=", "value": {"count": 1, "withinLast": {"amount": 5, "unit": "days"}}}])),
        and(json!([{"field": "@related:user", "operator": "atLeast",
            "value": {"count": 1, "filter": {"combinator": "and", "rules": [{"field": "score", "operator": ">", "value": 3}]}}}])),
        and(json!([{"field": "@segment", "operator": "in", "value": [1, 2]}])),
        and(json!([{"field": "@related:account", "operator": "all",
            "value": {"combinator": "and", "rules": [{"field": "health", "operator": ">", "value": 20.5}]}}])),
        and(json!([{"field": "@lastSeen:click", "operator": "withinLast", "value": {"amount": 2, "unit": "days"}}])),
        and(json!([{"field": "@change:login", "operator": ">=", "value": {"ratio": 1.5, "window": {"amount": 3, "unit": "days"}}}])),
        json!({"combinator": "or", "rules": [{"field": "@segment", "operator": "notIn", "value": [3]},
            {"field": "nps", "operator": "<", "value": 2}]}),
    ]
}

pub fn filter(v: &serde_json::Value) -> Filter {
    Filter::from_json_value(v).expect("a valid filter")
}

/// A populated engine: accounts, users, events and three segments.
pub fn populated() -> Engine {
    let mut e = empty();
    for i in 0..12u8 {
        let b = [i.wrapping_mul(37), i.wrapping_mul(11), i, i.wrapping_mul(5), i.wrapping_mul(91), i.wrapping_mul(13)];
        let _ = e.upsert("account", &format!("a{i}"), account_row(&b, 12));
    }
    for u in 0..20u8 {
        let row = Row::new()
            .set("account_id", format!("a{}", u % 13))
            .set("score", (u % 9) as i64)
            .set("active", u % 3 == 0);
        let _ = e.upsert("user", &format!("u{u}"), row);
        for k in 0..(u % 4) {
            let at = Timestamp::from_micros(NOW - (k as i64 + u as i64) * DAY / 3);
            let _ = e.record_events("user", [(format!("u{u}"), EVENTS[(k % 3) as usize], at)]);
            let _ = e.record_events("account", [(format!("a{}", u % 12), EVENTS[(u % 3) as usize], at)]);
        }
    }
    let filters = account_filters();
    for (i, f) in [0usize, 6, 7].iter().enumerate() {
        let _ = e.create_segment(&admin(), NewSegment::new(format!("s{i}"), "account").filter(filter(&filters[*f])));
    }
    let _ = e.delete("account", "a11");
    e
}
