//! Filters as react-querybuilder holds them, built by the real package.
//!
//! `tests/rqb/shapes.mjs` builds each case with `@react-querybuilder/core`'s
//! own functions (pinned in `tests/rqb/package.json`); `.ci/run` runs it and
//! points `RQB_CASES` at the fresh output, and checks that it matches the
//! checked-in copy `tests/rqb/cases.jsonl`, which a plain `cargo test`
//! reads. Each case is one of:
//!
//! - an equivalence: the UI's form evaluates exactly as a typed form (one
//!   written by hand, or RQB's own `convertFromIC` reading of it);
//! - a model: the UI's form evaluates as a plain computation over the rows
//!   below (field-against-field comparisons, match modes);
//! - an error: the UI's form is refused, with a one-line message naming
//!   what is wrong;
//! - an export: the typed form is exactly what the crate writes back.

use std::collections::BTreeSet;
use std::sync::Arc;

use segments::{eval, FieldType, Filter, KindSchema, LimitPolicy, Table, Timestamp};
use serde_json::{json, Value as Json};

fn cases() -> Vec<Json> {
    let path = std::env::var("RQB_CASES")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rqb/cases.jsonl").into());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a case is JSON"))
        .collect()
}

fn schema() -> Arc<KindSchema> {
    Arc::new(
        KindSchema::new(
            "account",
            [
                ("nps", FieldType::Int),
                ("seats", FieldType::Int),
                ("health", FieldType::Float),
                ("mrr", FieldType::Float),
                ("plan", FieldType::String),
                ("tier", FieldType::String),
                ("paying", FieldType::Bool),
                ("trial", FieldType::Bool),
                ("renewal_at", FieldType::Timestamp),
                ("signup_at", FieldType::Timestamp),
                ("tags", FieldType::Tags),
            ],
        )
        .unwrap(),
    )
}

/// Rows that put values on the cases' boundaries, with missing values in
/// every field, from a fixed-seed generator.
fn rows() -> Vec<Json> {
    let pools: Vec<(&str, Vec<Json>)> = vec![
        (
            "nps",
            vec![
                json!(0),
                json!(3),
                json!(6),
                json!(7),
                json!(8),
                json!(9),
                json!(10),
                json!(50),
            ],
        ),
        (
            "seats",
            vec![
                json!(1),
                json!(2),
                json!(3),
                json!(4),
                json!(9),
                json!(7),
                json!(9007199254740993i64),
                json!(9007199254740992i64),
            ],
        ),
        (
            "health",
            vec![
                json!(0.5),
                json!(2.5),
                json!(2.4),
                json!(7.0),
                json!(30),
                json!(50.25),
                json!(51),
                json!(-1),
            ],
        ),
        (
            "mrr",
            vec![
                json!(-12.75),
                json!(-12.5),
                json!(0),
                json!(8),
                json!(30),
                json!(60.5),
                json!(1000),
            ],
        ),
        (
            "plan",
            vec![
                json!("pro"),
                json!("free"),
                json!("a,b"),
                json!("123"),
                json!("Pro"),
                json!("gold-plus"),
                json!("PRO"),
            ],
        ),
        (
            "tier",
            vec![
                json!("gold"),
                json!("silver"),
                json!("pro"),
                json!("free"),
                json!("bronze"),
                json!("g"),
            ],
        ),
        ("paying", vec![json!(true), json!(false)]),
        ("trial", vec![json!(true), json!(false)]),
        (
            "renewal_at",
            vec![
                json!("2026-11-22T12:00:00Z"),
                json!("2026-11-22T11:59:59.999999Z"),
                json!("2026-11-22T12:00:30Z"),
                json!("2026-11-22T12:00:31Z"),
                json!("2026-11-22T00:00:00Z"),
                json!("2026-11-21T23:59:59Z"),
                json!("2027-01-01T00:00:00Z"),
            ],
        ),
        (
            "signup_at",
            vec![
                json!("2026-01-01T00:00:00Z"),
                json!("2025-12-31T23:59:59Z"),
                json!("2026-06-30T23:59:00Z"),
                json!("2026-06-30T23:59:01Z"),
                json!("2026-11-22T12:00:00Z"),
                json!("2026-03-15T08:00:00Z"),
            ],
        ),
        (
            "tags",
            vec![
                json!(["x"]),
                json!(["y"]),
                json!(["x", "y"]),
                json!(["z"]),
                json!(["x", "z"]),
                json!(["xa", "xb", "y"]),
                json!(["x", "y", "z", "xa"]),
                json!(["w"]),
            ],
        ),
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % n as u64) as usize
    };
    (0..400)
        .map(|i| {
            let mut row = serde_json::Map::new();
            row.insert("key".into(), json!(format!("a{i}")));
            for (field, pool) in &pools {
                // One value in six is missing.
                let k = next(pool.len() + pool.len() / 5 + 1);
                if let Some(v) = pool.get(k) {
                    row.insert(field.to_string(), v.clone());
                }
            }
            Json::Object(row)
        })
        .collect()
}

fn table(rows: &[Json]) -> Table {
    let mut t = Table::new(schema());
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    t.insert_json_lines(text.as_bytes()).unwrap();
    t
}

fn matching(t: &Table, filter: &str, policy: &LimitPolicy) -> Result<BTreeSet<String>, String> {
    let f = Filter::from_json(filter).map_err(|e| e.to_string())?;
    let plan = f.validate(t.schema(), policy).map_err(|e| e.to_string())?;
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let ids = eval::evaluate(&plan, t, now).map_err(|e| e.to_string())?;
    Ok(ids
        .iter()
        .map(|id| t.key(segments::EntityId(id)).unwrap().to_string())
        .collect())
}

/// A row's value as a number, an instant or a string, for the models.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Cell {
    Num(f64),
    Time(i64),
    Str(String),
    Bool(bool),
}

fn cell(row: &Json, field: &str) -> Option<Cell> {
    let v = row.get(field)?;
    Some(match v {
        Json::Number(n) => Cell::Num(n.as_f64()?),
        Json::Bool(b) => Cell::Bool(*b),
        Json::String(s) if field.ends_with("_at") => {
            Cell::Time(chrono::DateTime::parse_from_rfc3339(s).ok()?.timestamp_micros())
        }
        Json::String(s) => Cell::Str(s.clone()),
        _ => return None,
    })
}

/// Exact for the rows above: only `seats` holds integers past 2^53, and
/// the models compare it with small numbers alone.
fn model(name: &str, row: &Json) -> bool {
    let words: Vec<&str> = name.split(' ').collect();
    match words.as_slice() {
        ["field", a, op, b] => {
            let this = cell(row, a);
            let others: Vec<Option<Cell>> = b.split(',').map(|f| cell(row, f)).collect();
            let positive = |op: &str| -> bool {
                let Some(x) = this.clone() else { return false };
                match op {
                    "<" | "=" | ">=" | ">" => match &others[0] {
                        Some(y) => match op {
                            "<" => x < *y,
                            "=" => x == *y,
                            ">=" => x >= *y,
                            _ => x > *y,
                        },
                        None => false,
                    },
                    "beginsWith" => {
                        matches!((&x, &others[0]), (Cell::Str(s), Some(Cell::Str(p))) if s.starts_with(p.as_str()))
                    }
                    "between" => match (&others[0], &others[1]) {
                        (Some(lo), Some(hi)) => *lo <= x && x <= *hi,
                        _ => false,
                    },
                    "in" => others.iter().flatten().any(|y| *y == x),
                    other => panic!("no model for {other}"),
                }
            };
            match *op {
                "!=" => !positive("="),
                "notBetween" => !positive("between"),
                "notIn" => !positive("in"),
                op => positive(op),
            }
        }
        ["match", mode, rest @ ..] => {
            let tags: Vec<String> = row
                .get("tags")
                .and_then(Json::as_array)
                .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            let (threshold, pred) = match rest {
                [t, p @ ..] if t.parse::<f64>().is_ok() => (t.parse::<f64>().unwrap(), p),
                p => (0.0, p),
            };
            let hit = |t: &str| match pred {
                ["=", v] => t == *v,
                ["beginsWith", v] => t.starts_with(v),
                ["in", vs] => vs.split(',').any(|v| v == t),
                other => panic!("no model for {other:?}"),
            };
            let total = tags.len() as f64;
            let m = tags.iter().filter(|t| hit(t)).count() as f64;
            if tags.is_empty() {
                return *mode == "none";
            }
            let goal = if threshold > 0.0 && threshold < 1.0 {
                threshold * total
            } else {
                threshold
            };
            match *mode {
                "some" => m > 0.0,
                "all" => m == total,
                "none" => m == 0.0,
                "atLeast" => m >= goal,
                "atMost" => m <= goal,
                "exactly" => m == goal,
                other => panic!("no model for mode {other}"),
            }
        }
        other => panic!("no model for {other:?}"),
    }
}

#[test]
fn every_shape_react_querybuilder_builds_means_what_the_contract_says() {
    let rows = rows();
    let t = table(&rows);
    let strict = LimitPolicy::default();
    let loose = LimitPolicy::default().with_unlimited_conditions();
    let all = rows.len();
    let (mut equivalences, mut trivial, mut models, mut errors, mut exports) = (0, 0, 0, 0, 0);
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let ui = case["ui"].as_str().unwrap();
        if let Some(want) = case.get("error").and_then(Json::as_str) {
            let err = matching(&t, ui, &strict).expect_err(name);
            assert!(err.contains(want), "{name}: {err:?} does not say {want:?}");
            assert!(!err.contains('\n'), "{name}: {err:?} is not one line");
            errors += 1;
            continue;
        }
        let got = matching(&t, ui, &strict).unwrap_or_else(|e| panic!("{name}: {e}\n{ui}"));
        if let Some(m) = case.get("model").and_then(Json::as_str) {
            let want: BTreeSet<String> = rows
                .iter()
                .filter(|r| model(m, r))
                .map(|r| r["key"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(got, want, "{name}\n{ui}");
            trivial += usize::from(want.is_empty() || want.len() == all);
            models += 1;
            continue;
        }
        let typed = case["typed"].as_str().unwrap();
        let want = matching(&t, typed, &loose).unwrap_or_else(|e| panic!("{name} (typed): {e}\n{typed}"));
        assert_eq!(got, want, "{name}\nui: {ui}\ntyped: {typed}");
        if !name.starts_with("empty") && !name.starts_with("muted root") {
            trivial += usize::from(want.is_empty() || want.len() == all);
        }
        equivalences += 1;
        if case.get("export").is_some() {
            let exported = Filter::from_json(typed).unwrap().to_json_value();
            let written: Json = serde_json::from_str(typed).unwrap();
            assert_eq!(exported, written, "{name}: the export is not the typed form");
            // And what RQB saved of it reads back as the same filter.
            assert_eq!(Filter::from_json(ui).unwrap().to_json_value(), written, "{name}");
            exports += 1;
        }
    }
    eprintln!("{equivalences} equivalences, {models} models, {errors} errors, {exports} exports; {trivial} trivial");
    assert!(equivalences >= 60 && models >= 30 && errors >= 15 && exports >= 5);
    // The rows exercise the cases: almost none matches nothing or everything.
    assert!(trivial <= 3, "{trivial} cases matched nothing or everything");
}
