//! The compiled SQL, run in the real engines, returns exactly the keys that
//! `Engine::evaluate` returns, on the same random data and random filters
//! (the oracle tests' generator, with `@related` quantifiers over users and
//! `@segment` references added): PostgreSQL, DuckDB, ClickHouse (chDB) and
//! Spark (local mode).
//!
//! The engines are driven by `tests/sql/driver.py`, each session in a zone
//! other than UTC; PostgreSQL is reached at `SEGMENTS_PG` (a libpq
//! connection string). The data holds line breaks, letters outside ASCII,
//! NUL (but for PostgreSQL, whose `text` cannot hold it) and -0.0.
//!
//! These tests are `#[ignore]`d, so that a plain `cargo test` reports them
//! as not run; `.ci/run` installs the engines, starts PostgreSQL and runs
//! them with `--include-ignored`. To run them by hand:
//!
//! ```text
//! pip install -r tests/sql/requirements.txt      # DuckDB, chDB, PySpark, psycopg
//! SEGMENTS_PG="host=... user=... dbname=..." cargo test --release --test sql -- --include-ignored
//! ```
//!
//! An engine that is not there is reported as "skipped" on stderr (and is
//! a failure under `CI=true`). `SEGMENTS_SQL_SEED` fixes the seed;
//! `SEGMENTS_SQL_FILTERS` the number of filters.

mod gen;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;

use gen::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use segments::filter::{in_segments, not_in_segments, related, usage_change, Group, Operator, Rule, Threshold};
use segments::segment::{Actor, NewSegment, Role, SegmentId};
use segments::sql::{self, column_type, quote, Dialect, EventTable, Mapping, MembershipTable, SqlError};
use segments::{Engine, FieldType, Filter, IndexConfig, KindSchema, LimitPolicy, Plan, Row, Schema, Timestamp, Value};

const USERS: usize = 160;
const ACCOUNTS: usize = 140;

fn schema() -> Schema {
    let user = KindSchema::new(
        "user",
        [
            ("account_id", FieldType::String),
            ("n", FieldType::Int),
            ("s", FieldType::String),
            ("t", FieldType::Timestamp),
        ],
    )
    .unwrap();
    Schema::new([(*gen::schema()).clone(), user])
        .unwrap()
        .with_relation("user", "account_id", "account")
        .unwrap()
}

fn user_row() -> impl Strategy<Value = Row> {
    let parent = prop_oneof![
        8 => (0..ACCOUNTS + 10).prop_map(|k| Value::from(format!("k{k}"))),
        1 => Just(Value::Null),
    ];
    (
        parent,
        prop_oneof![1 => Just(Value::Null), 5 => (-3i64..5).prop_map(Value::Int)],
        prop_oneof![1 => Just(Value::Null), 5 => prop::sample::select(&["a", "pro", "free"][..]).prop_map(Value::from)],
        prop_oneof![
            1 => Just(Value::Null),
            5 => prop::sample::select(&[-20i64, -1, 0, 3][..]).prop_map(|d| Value::Timestamp(Timestamp::from_micros(NOW + d * DAY)))
        ],
    )
        .prop_map(|(a, n, s, t)| Row::new().set("account_id", a).set("n", n).set("s", s).set("t", t))
}

/// A rule over users, for the filters of `@related:user`.
fn user_rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        (
            prop::sample::select(&[Operator::Lt, Operator::Ge, Operator::Eq, Operator::Ne][..]),
            -2i64..4
        )
            .prop_map(|(op, v)| Rule::new("n", op, Some(segments::filter::Literal::Int(v as i128)))),
        (
            prop::sample::select(&[Operator::Eq, Operator::DoesNotContain][..]),
            prop::sample::select(&["a", "pro"][..])
        )
            .prop_map(|(op, v)| Rule::new("s", op, Some(segments::filter::Literal::from(v)))),
        (prop::sample::select(&["n", "s", "t"][..]), any::<bool>()).prop_map(|(f, n)| Rule::new(
            f,
            if n { Operator::Null } else { Operator::NotNull },
            None
        )),
        prop::sample::select(&[0u64, 7][..]).prop_map(|d| Rule::new(
            "t",
            Operator::WithinLast,
            Some(segments::filter::Literal::Duration(segments::filter::Duration {
                amount: d,
                unit: segments::filter::TimeUnit::Days
            }))
        )),
    ]
}

fn related_rule() -> BoxedStrategy<Rule> {
    let nested = (any::<bool>(), prop::collection::vec(user_rule(), 0..3)).prop_map(|(or, rs)| {
        if or {
            Group::or(rs)
        } else {
            Group::and(rs)
        }
    });
    (
        0..8usize,
        0u64..3,
        prop::sample::select(&[0.0, 50.0, 100.0, 33.3][..]),
        nested,
    )
        .prop_map(|(q, n, p, f)| {
            let r = related("user");
            match q {
                0 => r.any(f),
                1 => r.none(f),
                2 => r.all(f),
                3 => r.at_least(n, f),
                4 => r.at_most(n, f),
                5 => r.exactly(n, f),
                6 => r.at_least_percent(p, f),
                _ => r.with_threshold(
                    if n == 0 { Operator::AtMost } else { Operator::Exactly },
                    Threshold::Percent(p),
                    f,
                ),
            }
        })
        .boxed()
}

/// The segments the data set has: 1 to 4 follow rules; 5 holds manual
/// members only.
const SEGMENTS: u64 = 5;

fn segment_rule() -> BoxedStrategy<Rule> {
    (prop::collection::btree_set(1..=SEGMENTS, 1..3), any::<bool>())
        .prop_map(|(ids, neg)| {
            let ids = ids.into_iter().map(SegmentId);
            if neg {
                not_in_segments(ids)
            } else {
                in_segments(ids)
            }
        })
        .boxed()
}

/// `@change:<event>`: usage that grew or fell over a window.
fn change_rule() -> BoxedStrategy<Rule> {
    (
        prop::sample::select(&["login", "export", "never"][..]),
        prop::sample::select(&[0.5, 1.0, 2.0, 0.25][..]),
        prop::sample::select(&[1u64, 14, 30][..]),
    )
        .prop_map(|(event, ratio, days)| {
            usage_change(
                event,
                ratio,
                segments::filter::Duration {
                    amount: days,
                    unit: segments::filter::TimeUnit::Days,
                },
            )
        })
        .boxed()
}

fn any_rule() -> BoxedStrategy<Rule> {
    prop_oneof![12 => gen::rule(), 2 => related_rule(), 1 => segment_rule(), 1 => change_rule()].boxed()
}

fn draw<S: Strategy>(runner: &mut TestRunner, s: S) -> S::Value {
    s.new_tree(runner).expect("a value").current()
}

struct Data {
    engine: Engine,
    filters: Vec<Filter>,
    now: Timestamp,
    /// Segments 1 to 4, by their filters, for inlining.
    rules: Vec<(SegmentId, Plan)>,
}

fn policy() -> LimitPolicy {
    LimitPolicy::default().with_unlimited_conditions()
}

/// PostgreSQL's `text` cannot hold U+0000: its data has none (its filters
/// that name one are refused).
fn without_nul(r: Row, d: Dialect) -> Row {
    if d != Dialect::Postgres {
        return r;
    }
    r.iter()
        .map(|(f, v)| match v {
            Value::String(s) => (f.to_string(), Value::String(s.replace('\0', "\u{1}"))),
            v => (f.to_string(), v.clone()),
        })
        .collect()
}

fn data(seed: u64, filters: usize, d: Dialect) -> Data {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let mut e = Engine::with_config(schema(), policy(), IndexConfig::default());
    e.set_clock(segments::Clock::Fixed(Timestamp::from_micros(NOW)))
        .unwrap();
    let rows = draw(&mut runner, prop::collection::vec(row(), ACCOUNTS - 20..ACCOUNTS));
    e.insert_many(
        "account",
        rows.into_iter()
            .enumerate()
            .map(|(i, r)| (format!("k{i}"), without_nul(r, d))),
    )
    .unwrap();
    for op in draw(&mut runner, ops(ACCOUNTS)) {
        match op {
            Op::Upsert(k, r) => {
                e.upsert("account", &format!("k{k}"), without_nul(r, d)).unwrap();
            }
            Op::Clear(k, f) => {
                let _ = e.clear_field("account", &format!("k{k}"), f);
            }
            Op::Delete(k) => {
                let _ = e.delete("account", &format!("k{k}"));
            }
            Op::Event(k, ev, d) => {
                let _ = e.record_events("account", [(&format!("k{k}"), ev, Timestamp::from_micros(NOW + d))]);
            }
            Op::Events(v) => {
                let batch: Vec<(String, &str, Timestamp)> = v
                    .iter()
                    .map(|(k, ev, d)| (format!("k{k}"), *ev, Timestamp::from_micros(NOW + d)))
                    .collect();
                let _ = e.record_events("account", batch);
            }
        }
    }
    let users = draw(&mut runner, prop::collection::vec(user_row(), USERS));
    e.insert_many("user", users.into_iter().enumerate().map(|(i, r)| (format!("u{i}"), r)))
        .unwrap();
    let admin = Actor::new("ada", Role::Admin);
    let mut rules = Vec::new();
    for i in 1..=SEGMENTS {
        let spec = NewSegment::new(format!("s{i}"), "account");
        let spec = if i < SEGMENTS {
            let mut f = draw(&mut runner, gen::group());
            trim(&mut f, &mut 6);
            spec.filter(f)
        } else {
            spec
        };
        let (id, _) = e.create_segment(&admin, spec).unwrap();
        assert_eq!(id, SegmentId(i), "segments are numbered from 1");
        if let Some(rule) = e.segments().get(id).unwrap().filter_rule {
            let f = &e.segments().rule(rule).unwrap().filter;
            let plan = Plan::in_schema(f, e.store().schema(), "account", &policy()).unwrap();
            rules.push((id, plan));
        }
    }
    let manual: Vec<String> = (0..ACCOUNTS).step_by(3).map(|k| format!("k{k}")).collect();
    let live: Vec<&String> = manual
        .iter()
        .filter(|k| e.store().table("account").unwrap().id(k).is_some())
        .collect();
    e.add_members(&admin, SegmentId(SEGMENTS), live).unwrap();
    // A manual add and a manual removal on a rule's segment: the membership
    // table holds what the engine holds, not only what the rule says.
    let _ = e.add_members(&admin, SegmentId(1), ["k1"]);
    let _ = e.remove_members(&admin, SegmentId(2), ["k2"]);

    let filters = (0..filters)
        .map(|_| {
            let mut f = draw(&mut runner, group_of(any_rule));
            trim(&mut f, &mut 10);
            f
        })
        .collect();
    // The segments are current at the instant the queries are bound at.
    let shift = draw(&mut runner, prop::sample::select(&[0i64, 1, -DAY][..]));
    let now = Timestamp::from_micros(NOW + shift);
    e.set_clock(segments::Clock::Fixed(now)).unwrap();
    e.refresh(now).unwrap();
    Data {
        engine: e,
        filters,
        now,
        rules,
    }
}

/// A cell as the driver reads it; a float zero as -0.0 where `negative`
/// (the engine holds them as one value).
fn cell(v: Option<Value>, negative: bool) -> serde_json::Value {
    match v {
        None | Some(Value::Null) => serde_json::Value::Null,
        Some(Value::Int(i)) => i.into(),
        Some(Value::Float(x)) if x == 0.0 && negative => (-0.0f64).into(),
        Some(Value::Float(x)) => x.into(),
        Some(Value::String(s)) => s.into(),
        Some(Value::Bool(b)) => b.into(),
        Some(Value::Timestamp(t)) => serde_json::json!({"us": t.as_micros()}),
        Some(Value::Tags(t)) if t.is_empty() => serde_json::Value::Null,
        Some(Value::Tags(t)) => t.into_iter().collect::<Vec<_>>().into(),
    }
}

/// The tables of `e` as `dialect` holds them, with the mapping to them.
fn tables(e: &Engine, d: Dialect) -> (Vec<serde_json::Value>, Mapping) {
    let schema = e.store().schema();
    let mut out = Vec::new();
    let key_type = match d {
        Dialect::ClickHouse => "String".to_string(),
        d => column_type(FieldType::String, d),
    };
    for kind in schema.kinds() {
        let table = e.store().table(kind.name()).unwrap();
        let mut columns = vec![serde_json::json!([quote("key", d).unwrap(), key_type])];
        for (_, name, ty) in kind.fields() {
            columns.push(serde_json::json!([quote(name, d).unwrap(), column_type(ty, d)]));
        }
        let rows: Vec<serde_json::Value> = table
            .live()
            .iter()
            .map(|id| {
                let id = segments::EntityId(id);
                let mut row = vec![serde_json::Value::from(table.key(id).unwrap())];
                row.extend(
                    kind.fields()
                        .map(|(_, name, _)| cell(table.get(id, name), id.0 % 2 == 0)),
                );
                serde_json::Value::Array(row)
            })
            .collect();
        out.push(serde_json::json!({"name": quote(kind.name(), d).unwrap(), "columns": columns, "rows": rows}));
    }
    let accounts = e.store().table("account").unwrap();
    let mut events = Vec::new();
    for id in accounts.live().iter() {
        let id = segments::EntityId(id);
        for name in EVENTS.iter().chain(["never"].iter()) {
            for at in accounts.event_times(id, name) {
                events.push(serde_json::json!([accounts.key(id).unwrap(), name, {"us": at.as_micros()}]));
            }
        }
    }
    let text = column_type(FieldType::String, d);
    let at = column_type(FieldType::Timestamp, d);
    out.push(serde_json::json!({"name": quote("account_events", d).unwrap(), "columns": [
        [quote("key", d).unwrap(), text], [quote("name", d).unwrap(), text], [quote("at", d).unwrap(), at]], "rows": events}));
    let mut members = Vec::new();
    for s in e.segments() {
        for k in e.segments().member_keys(s.id).unwrap() {
            members.push(serde_json::json!([s.id.0, k]));
        }
    }
    out.push(serde_json::json!({"name": quote("members", d).unwrap(), "columns": [
        [quote("segment", d).unwrap(), column_type(FieldType::Int, d)], [quote("key", d).unwrap(), text]], "rows": members}));
    let mapping = Mapping::new(schema)
        .events("account", EventTable::new("account_events"))
        .unwrap()
        .membership(MembershipTable::new("members"));
    (out, mapping)
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn python() -> String {
    std::env::var("SEGMENTS_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether the engine can be reached from here; if not, why.
fn available(engine: &str) -> Result<(), String> {
    let module = match engine {
        "postgres" => {
            if std::env::var("SEGMENTS_PG").is_err() {
                return Err("SEGMENTS_PG is not set".into());
            }
            "psycopg"
        }
        "duckdb" => "duckdb",
        "clickhouse" => "chdb",
        _ => "pyspark",
    };
    let ok = Command::new(python())
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "python module `{module}` is not installed (pip install -r tests/sql/requirements.txt)"
        ))
    }
}

fn seed() -> u64 {
    std::env::var("SEGMENTS_SQL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
        })
}

fn agree(engine: &str, d: Dialect, filters: usize) {
    if let Err(why) = available(engine) {
        assert!(!ci(), "{engine} must run under CI: {why}");
        // Past the test harness's capture, so that a run asked for by name
        // shows it: the test did not run.
        let _ = writeln!(std::io::stderr(), "skipped: {engine}: {why}");
        return;
    }
    let filters = std::env::var("SEGMENTS_SQL_FILTERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(filters);
    let seed = seed();
    let data = data(seed, filters, d);
    let e = &data.engine;
    let (tables, mapping) = tables(e, d);
    let inline = data
        .rules
        .iter()
        .fold(mapping.clone(), |m, (id, plan)| m.inline_segment(*id, plan.clone()));
    let mut queries = Vec::new();
    let mut wants = Vec::new();
    let mut refused = 0;
    for (i, f) in data.filters.iter().enumerate() {
        let plan = Plan::in_schema(f, e.store().schema(), "account", &policy()).expect("generated filters are valid");
        // Every other filter inlines the segments that follow rules alone.
        let inlined = i % 2 == 1 && plan.segments().iter().all(|s| s.0 < SEGMENTS && s.0 != 1 && s.0 != 2);
        let q = match sql::compile(&plan, if inlined { &inline } else { &mapping }, d) {
            Ok(q) => q,
            Err(SqlError::Unsupported { why, .. }) if refused_in(d, &why) => {
                refused += 1;
                continue;
            }
            Err(e) => panic!("{} does not compile for {d}: {e}", serde_json::to_string(f).unwrap()),
        };
        let want: BTreeSet<String> = e
            .store()
            .table("account")
            .unwrap()
            .keys_of(&e.query("account").evaluate(f, data.now).unwrap())
            .map(String::from)
            .collect();
        let params: Vec<String> = q.bind(data.now).iter().map(|v| v.to_sql_text(d)).collect();
        queries.push(serde_json::json!({"text": q.text(), "params": params}));
        wants.push((f, q, want));
    }
    let job = serde_json::json!({"engine": engine, "tables": tables, "queries": queries});
    let dir = std::env::temp_dir().join(format!("segments-sql-{engine}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("job.json");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(job.to_string().as_bytes()))
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sql/driver.py");
    let out = Command::new(python())
        .arg(script)
        .arg(&path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the {engine} driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), wants.len(), "one answer per query");
    let mut wrong = Vec::new();
    for ((f, q, want), answer) in wants.iter().zip(&answers) {
        let got: Result<BTreeSet<String>, String> = match answer.get("keys") {
            Some(keys) => Ok(keys
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string())
                .collect()),
            None => Err(answer["error"].as_str().unwrap_or("?").to_string()),
        };
        if got.as_ref() != Ok(want) {
            wrong.push(format!(
                "filter {}\n  sql {}\n  params {:?}\n  engine {:?}\n  {engine} {:?}",
                serde_json::to_string(f).unwrap(),
                q.text(),
                q.bind(data.now),
                want,
                got
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        wrong.is_empty(),
        "{} of {} filters differ in {engine} (SEGMENTS_SQL_SEED={seed}); the first:\n{}",
        wrong.len(),
        wants.len(),
        wrong.iter().take(3).cloned().collect::<Vec<_>>().join("\n")
    );
    eprintln!(
        "{engine}: {} filters agree, {refused} refused as documented (seed {seed})",
        wants.len()
    );
}

/// Whether a refusal is one the SQL docs list for the dialect: U+0000 in
/// PostgreSQL, a Unicode word boundary in RE2.
fn refused_in(d: Dialect, why: &str) -> bool {
    match d {
        Dialect::Postgres => why.contains("U+0000"),
        Dialect::DuckDb | Dialect::ClickHouse => why.contains("word boundary"),
        Dialect::Spark => false,
    }
}

#[test]
#[ignore = "needs PostgreSQL (Debian's postgresql; SEGMENTS_PG) and psycopg (pip install -r tests/sql/requirements.txt): .ci/run starts it; see the module docs"]
fn postgres_returns_what_the_engine_returns() {
    agree("postgres", Dialect::Postgres, 1000);
}

#[test]
#[ignore = "needs DuckDB for Python (pip install -r tests/sql/requirements.txt): .ci/run installs it; see the module docs"]
fn duckdb_returns_what_the_engine_returns() {
    agree("duckdb", Dialect::DuckDb, 1000);
}

#[test]
#[ignore = "needs chDB for Python (pip install -r tests/sql/requirements.txt): .ci/run installs it; see the module docs"]
fn clickhouse_returns_what_the_engine_returns() {
    agree("clickhouse", Dialect::ClickHouse, 200);
}

#[test]
#[ignore = "needs Java 17 and PySpark (pip install -r tests/sql/requirements.txt): .ci/run installs them; see the module docs"]
fn spark_returns_what_the_engine_returns() {
    agree("spark", Dialect::Spark, 200);
}

/// What the dialects cannot say is refused at compile time, with the
/// reason; the rest compiles. (The engines above check the meaning.)
#[test]
fn refusals_are_per_dialect_and_say_why() {
    let schema = gen::schema();
    let schema = Schema::new([(*schema).clone()]).unwrap();
    let mapping = Mapping::new(&schema);
    let compile = |json: &str, d: Dialect| {
        let f = Filter::from_json(json).unwrap();
        let plan = Plan::in_schema(&f, &schema, "account", &policy()).unwrap();
        sql::compile(&plan, &mapping, d)
    };
    let nul = r#"{"combinator":"and","rules":[{"field":"s","operator":"=","value":"a\u0000b"}]}"#;
    let err = compile(nul, Dialect::Postgres).unwrap_err();
    assert!(
        matches!(&err, SqlError::Unsupported { why, .. } if why.contains("U+0000")),
        "{err}"
    );
    for d in [Dialect::DuckDb, Dialect::ClickHouse, Dialect::Spark] {
        assert!(compile(nul, d).is_ok(), "{d}");
    }
    let boundary = r#"{"combinator":"and","rules":[{"field":"s","operator":"matchesRegex","value":"\\bab"}]}"#;
    let ascii = r#"{"combinator":"and","rules":[{"field":"s","operator":"matchesRegex","value":"(?-u:\\b)ab"}]}"#;
    for d in Dialect::ALL {
        let re2 = matches!(d, Dialect::DuckDb | Dialect::ClickHouse);
        let got = compile(boundary, d);
        assert_eq!(got.is_err(), re2, "{d}: {got:?}");
        if let Err(e) = got {
            assert!(
                e.to_string().contains("(?-u:\\b)"),
                "the error says what to write instead: {e}"
            );
        }
        assert!(compile(ascii, d).is_ok(), "{d}");
    }
    // Text as ClickHouse reads a query parameter: escaped.
    let text = sql::SqlValue::Text("a\\b\nc".into());
    assert_eq!(text.to_sql_text(Dialect::ClickHouse), "a\\\\b\\nc");
    assert_eq!(text.to_sql_text(Dialect::DuckDb), "a\\b\nc");
    let at = sql::SqlValue::Timestamp("2026-11-22T12:00:00Z".parse().unwrap());
    assert_eq!(at.to_sql_text(Dialect::Spark), "2026-11-22 12:00:00.000000+00:00");
    assert_eq!(at.to_sql_text(Dialect::Postgres), "2026-11-22 12:00:00.000000+00");
    assert_eq!(at.to_sql_text(Dialect::DuckDb), "2026-11-22 12:00:00.000000");
}
