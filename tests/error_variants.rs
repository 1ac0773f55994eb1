//! Error variants not produced elsewhere in the tests, each produced through
//! the public API, with a message that says what was wrong and where.
//! (Together with the other test files, every variant of every error type
//! is produced by some test.)

use serde_json::json;

use segments::eval;
use segments::segment::{Actor, NewSegment, Role};
use segments::{
    Engine, Error, EvalError, FieldType, Filter, FilterError, KindSchema, LimitPolicy, Row, Schema, SchemaError,
    SegmentError, SnapshotError, StoreError, Table, Timestamp,
};

fn kind() -> KindSchema {
    KindSchema::new(
        "account",
        [
            ("health", FieldType::Float),
            ("renewal", FieldType::Timestamp),
            ("owner", FieldType::String),
        ],
    )
    .unwrap()
}

#[test]
fn schema_variants() {
    let e = KindSchema::from_json("account", r#"{"fields": {"health": "decimal"}}"#).unwrap_err();
    assert!(matches!(&e, SchemaError::UnknownType { field, found } if field == "health" && found == "decimal"));
    assert_eq!(
        e.to_string(),
        "field `health`: unknown type `decimal` (expected int, float, string, bool, timestamp or tags)"
    );

    let users = KindSchema::new("user", [("account_id", FieldType::Int)]).unwrap();
    let e = Schema::new([kind(), users])
        .unwrap()
        .with_relation("user", "account_id", "account")
        .unwrap_err();
    assert!(matches!(e, SchemaError::RelationFieldType { .. }));
    assert_eq!(
        e.to_string(),
        "relation from `user` to `account`: field `account_id` is int, but a relation field holds the parent's key, a string"
    );

    let e = Schema::new([kind()])
        .unwrap()
        .with_relation("account", "owner", "account")
        .unwrap()
        .with_relation("account", "owner", "account")
        .unwrap_err();
    assert!(matches!(e, SchemaError::DuplicateRelation { .. }));
    assert_eq!(e.to_string(), "duplicate relation from `account` to `account`");
}

#[test]
fn store_variants() {
    let mut t = Table::new(kind());
    t.insert("a", Row::new()).unwrap();
    let e = t.insert("a", Row::new()).unwrap_err();
    assert_eq!(e, StoreError::DuplicateKey { key: "a".into() });
    assert_eq!(e.to_string(), "key `a`: duplicate key");

    let e = t.upsert_json(r#"{"key": "b", "renewal": "next tuesday"}"#).unwrap_err();
    assert!(matches!(&e, StoreError::InvalidTimestamp { key, field, value, .. }
        if key == "b" && field == "renewal" && value == "next tuesday"));
    assert!(
        e.to_string()
            .starts_with("key `b`, field `renewal`: invalid timestamp `next tuesday`: "),
        "{e}"
    );

    let e = t.record_event("a", "", Timestamp::now()).unwrap_err();
    assert_eq!(e, StoreError::EmptyEventName { key: "a".into() });
    assert_eq!(e.to_string(), "key `a`: event name is empty");

    let e = t.upsert_json(r#"{"health": 3}"#).unwrap_err();
    assert_eq!(e, StoreError::MissingKey);
    assert_eq!(e.to_string(), "missing or non-string `key`");
    // Nothing was written by the failures.
    assert_eq!(t.len(), 1);
}

#[test]
fn filter_and_segment_variants() {
    let schema = Schema::new([kind()]).unwrap();
    let f = Filter::from_json_value(&json!({"combinator": "and", "rules": [
        {"field": "health", "operator": "<", "value": 3},
        {"field": "@segment", "operator": "<", "value": 1}]}))
    .unwrap();
    let e = segments::Plan::in_schema(&f, &schema, "account", &LimitPolicy::default()).unwrap_err();
    assert!(
        matches!(&e, FilterError::OperatorNotAllowed { path, field, operator, .. }
        if path == "rules[1].operator" && field == "@segment" && operator == "<")
    );
    assert!(
        e.to_string()
            .starts_with("rules[1].operator: operator `<` does not apply to `@segment` (it takes "),
        "{e}"
    );

    let mut engine = Engine::new(schema);
    let admin = Actor::new("ada", Role::Admin);
    let (named, _) = engine
        .create_segment(&admin, NewSegment::new("Named", "account"))
        .unwrap();
    let naming = Filter::from_json_value(&json!({"combinator": "and", "rules": [
        {"field": "@segment", "operator": "in", "value": [named.0]}]}))
    .unwrap();
    let (by, _) = engine
        .create_segment(&admin, NewSegment::new("Naming", "account").filter(naming))
        .unwrap();
    let e = engine.delete_segment(&admin, named).unwrap_err();
    assert!(matches!(e, SegmentError::InUse { segment, .. } if segment == named));
    assert_eq!(
        e.to_string(),
        format!("{named} is named by the rules of `Naming` ({by})")
    );
    assert!(engine.segments().get(named).is_ok(), "a refused delete deleted");
}

#[test]
fn the_wrapper_carries_every_area() {
    let t = Table::new(kind());
    let plan = Filter::and([segments::filter::field("health").lt(1)])
        .validate(
            &std::sync::Arc::new(KindSchema::new("user", [("health", FieldType::Float)]).unwrap()),
            &LimitPolicy::default(),
        )
        .unwrap();
    let e: Error = eval::evaluate(&plan, &t, Timestamp::now()).unwrap_err().into();
    assert!(matches!(e, Error::Eval(EvalError::KindMismatch { .. })));
    assert_eq!(
        e.to_string(),
        "the plan is for kind `user` but the table holds kind `account` (or another schema of it)"
    );
    let e: Error = Engine::restore(&b"nope"[..]).unwrap_err().into();
    assert!(matches!(e, Error::Snapshot(SnapshotError::NotASnapshot { .. })));
}
