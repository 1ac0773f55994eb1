//! Inputs the fuzzers (`fuzz/`) found, kept as tests.

use serde_json::json;

use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, Filter, Row, Schema, SegmentError, Timestamp};

fn engine() -> Engine {
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Float)])
        .kind("user", [("score", FieldType::Int)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    e.insert("account", "a", Row::new().set("health", 10.0)).unwrap();
    e.insert("user", "u", Row::new().set("score", 1)).unwrap();
    e
}

/// filter_json: a user filter naming an account segment was refused by
/// `Engine::evaluate` but scanned by the oracle, `Engine::scan`.
#[test]
fn the_scan_refuses_a_segment_of_another_kind_as_evaluate_does() {
    let mut e = engine();
    let admin = Actor::new("ada", Role::Admin);
    let (s, _) = e
        .create_segment(&admin, NewSegment::new("accounts", "account"))
        .unwrap();
    let f = Filter::from_json_value(&json!({"combinator": "and", "rules": [
        {"field": "@segment", "operator": "in", "value": [s.0]}]}))
    .unwrap();
    let now = Timestamp::now();
    let fast = e.query("user").evaluate(&f, now).unwrap_err();
    let slow = segments::testing::scan(&e, "user", &f, now).unwrap_err();
    assert_eq!(fast, slow);
    assert!(
        matches!(fast, segments::Error::Segment(SegmentError::BadReference { .. })),
        "{fast}"
    );
}
