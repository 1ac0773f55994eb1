//! A store of several kinds through the public API: each kind its own
//! table, ids and indexes; plans bound to their kind.

use segments::filter::field;
use segments::{eval, FieldType, Filter, LimitPolicy, Row, Schema, SchemaError, Store, Timestamp, Value};

fn store() -> Store {
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Float), ("plan", FieldType::String)])
        .kind(
            "user",
            [
                ("email", FieldType::String),
                ("last_seen", FieldType::Timestamp),
                ("admin", FieldType::Bool),
            ],
        )
        .build()
        .unwrap();
    Store::new(schema)
}

#[test]
fn kinds_are_separate_tables() {
    let mut s = store();
    s.table_mut("account")
        .unwrap()
        .insert_many([
            ("a1", Row::new().set("health", 20.0)),
            ("a2", Row::new().set("plan", "pro")),
        ])
        .unwrap();
    let users = s.table_mut("user").unwrap();
    users
        .insert("u1", Row::new().set("email", "x@example.com").set("admin", true))
        .unwrap();
    // The same key in two kinds names two entities; each kind has its own ids.
    users.insert("a1", Row::new().set("admin", false)).unwrap();
    assert_eq!(s.table("account").unwrap().len(), 2);
    assert_eq!(s.table("user").unwrap().len(), 2);
    assert_eq!(s.table("user").unwrap().id("a1").map(|i| i.0), Some(1));
    assert_eq!(s.table("account").unwrap().id("a1").map(|i| i.0), Some(0));

    let now = Timestamp::now();
    let users = s.table("user").unwrap();
    let admins = Filter::and([field("admin").eq(true)])
        .validate(users.schema(), &LimitPolicy::default())
        .unwrap();
    let ids = eval::evaluate(&admins, users, now).unwrap();
    assert_eq!(users.keys_of(&ids).collect::<Vec<_>>(), ["u1"]);
    // A plan for users cannot run over accounts.
    assert!(eval::evaluate(&admins, s.table("account").unwrap(), now).is_err());
    // A plan for accounts cannot name a user field.
    let accounts = s.table("account").unwrap();
    assert!(Filter::and([field("email").not_null()])
        .validate(accounts.schema(), &LimitPolicy::default())
        .is_err());

    assert_eq!(
        s.table("org").unwrap_err(),
        SchemaError::UnknownKind { kind: "org".into() }
    );
    assert!(s.table_mut("org").is_err());
    assert_eq!(
        s.schema().kinds().map(|k| k.name()).collect::<Vec<_>>(),
        ["account", "user"]
    );
}

#[test]
fn upsert_clear_and_delete_are_seen_by_every_evaluator() {
    let mut s = store();
    let t = s.table_mut("account").unwrap();
    t.insert("a", Row::new().set("health", 10.0).set("plan", "pro"))
        .unwrap();
    t.upsert("a", Row::new().set("health", 50.0)).unwrap();
    assert_eq!(
        t.get(t.id("a").unwrap(), "plan"),
        Some(Value::from("pro")),
        "upsert keeps other fields"
    );
    t.upsert("a", Row::new().set("plan", Value::Null)).unwrap();
    assert_eq!(t.get(t.id("a").unwrap(), "plan"), Some(Value::Null), "null clears");
    t.clear_field("a", "health").unwrap();
    let plan = Filter::and([field("health").is_null(), field("plan").is_null()])
        .validate(t.schema(), &LimitPolicy::default())
        .unwrap();
    let now = Timestamp::now();
    assert_eq!(eval::evaluate(&plan, t, now).unwrap().len(), 1);
    assert_eq!(eval::scan(&plan, t, now).unwrap().len(), 1);
    let id = t.delete("a").unwrap();
    assert_eq!(eval::evaluate(&plan, t, now).unwrap().len(), 0);
    assert!(!eval::matches(&plan, t, id, now).unwrap());
    assert_eq!(t.key(id), None);
    assert_eq!(t.get(id, "health"), None);
}
