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
        SchemaError::UnknownKind(segments::error::UnknownKind::new("org"))
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

/// A load of many blocks (the library parses ahead of its commits) is
/// all or none, and its error is the first bad line's, whichever stage
/// finds it: a key repeated far apart is found while interning, a broken
/// line while parsing, and the earlier of the two is the one reported.
#[test]
fn a_load_of_many_blocks_reports_its_first_bad_line_and_keeps_nothing() {
    use segments::{KindSchema, StoreError, Table};
    let schema = KindSchema::new("account", [("mrr", FieldType::Int), ("plan", FieldType::String)]).unwrap();
    let n = 200_000;
    let lines: Vec<String> = (0..n)
        .map(|i| format!("{{\"key\":\"k{i}\",\"mrr\":{i},\"plan\":\"p{}\"}}", i % 7))
        .collect();
    let with = |edits: &[(usize, &str)]| {
        let mut ls = lines.clone();
        for &(at, text) in edits {
            ls[at] = text.to_string();
        }
        ls.join("\n")
    };
    let load = |text: &str| {
        let mut t = Table::new(schema.clone());
        let r = t.insert_json_lines(text.as_bytes());
        (t, r)
    };
    let at_line = |r: Result<usize, StoreError>| match r {
        Err(StoreError::AtLine { line, .. }) => line,
        other => panic!("expected a line's error, got {other:?}"),
    };
    // The whole file: every row, as a row-by-row load has it.
    let (t, r) = load(&lines.join("\n"));
    assert_eq!(r.unwrap(), n);
    let mut one_by_one = Table::new(schema.clone());
    for i in 0..n {
        one_by_one
            .insert(
                &format!("k{i}"),
                Row::new().set("mrr", i as i64).set("plan", format!("p{}", i % 7)),
            )
            .unwrap();
    }
    for i in (0..n).step_by(997) {
        let k = format!("k{i}");
        let (a, b) = (t.id(&k).unwrap(), one_by_one.id(&k).unwrap());
        assert_eq!(a, b, "the same ids");
        assert_eq!(t.get(a, "mrr"), one_by_one.get(b, "mrr"));
        assert_eq!(t.get(a, "plan"), one_by_one.get(b, "plan"));
    }
    // A key repeated 150,000 lines later (several blocks on).
    let dup = with(&[(160_000, "{\"key\":\"k10000\",\"mrr\":1}")]);
    let (t, r) = load(&dup);
    assert_eq!(at_line(r), 160_001);
    assert_eq!(t.len(), 0, "a failed load keeps nothing");
    // Blank lines before it (in its block and in earlier ones): still its line.
    let gaps = with(&[
        (20_000, ""),
        (159_990, ""),
        (159_991, "  "),
        (160_000, "{\"key\":\"k10000\",\"mrr\":1}"),
    ]);
    assert_eq!(at_line(load(&gaps).1), 160_001);
    // A broken line late in the file.
    let (t, r) = load(&with(&[(190_000, "{\"key\":\"x\",\"mrr\":")]));
    assert_eq!(at_line(r), 190_001);
    assert_eq!(t.len(), 0);
    // Both: the repeated key comes first.
    let (t, r) = load(&with(&[(150_000, "{\"key\":\"k3\"}"), (150_400, "not json")]));
    assert_eq!(at_line(r), 150_001);
    assert_eq!(t.len(), 0);
    // The same into a table that holds keys (parsed whole, then applied).
    let mut t = Table::new(schema.clone());
    t.insert("before", Row::new().set("mrr", 1i64)).unwrap();
    let r = t.insert_json_lines(with(&[(150_000, "{\"key\":\"k3\"}"), (150_400, "not json")]).as_bytes());
    assert_eq!(at_line(r), 150_001);
    let r = t.insert_json_lines(with(&[(150_000, "{\"key\":\"before\"}"), (150_400, "not json")]).as_bytes());
    assert_eq!(at_line(r), 150_001, "a key the table holds is a repeat too");
    assert_eq!(t.len(), 1, "a failed load changes nothing");
    // An upsert may not repeat a key either, however far apart (a load
    // into an empty table once took the second as an update when the two
    // fell in different blocks), into an empty table or one holding keys.
    for holding in [false, true] {
        let mut t = Table::new(schema.clone());
        if holding {
            t.insert("before", Row::new().set("mrr", 1i64)).unwrap();
        }
        let r = t.upsert_json_lines(dup.as_bytes());
        assert_eq!(at_line(r), 160_001, "holding keys: {holding}");
        assert_eq!(t.len(), u64::from(holding));
    }
    // And the table takes a good load after a failed one.
    let mut t = Table::new(schema);
    assert!(t.insert_json_lines(dup.as_bytes()).is_err());
    assert_eq!(t.insert_json_lines(lines.join("\n").as_bytes()).unwrap(), n);
}
