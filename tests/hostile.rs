//! Hostile and careless input: each defect an outside probe found, held
//! shut through the public API.

use segments::engine::JsonLines;
use std::io::{BufReader, Read};
use std::time::{Duration, Instant};

use segments::filter::MAX_DEPTH_CAP;
use segments::segment::{Actor, NewSegment, Role};
use segments::{
    Engine, FieldType, Filter, FilterError, KindSchema, LimitPolicy, Row, Schema, SnapshotError, StoreError, Table,
    Timestamp,
};
use serde_json::json;

fn table() -> Table {
    Table::new(KindSchema::new("account", [("name", FieldType::String), ("seats", FieldType::Int)]).unwrap())
}

/// One JSON line of about `bytes` bytes.
fn long_line(bytes: usize) -> Vec<u8> {
    let mut line = br#"{"key": "a", "name": ""#.to_vec();
    line.resize(bytes, b'x');
    line.extend_from_slice(b"\"}\n");
    line
}

#[test]
fn a_long_line_costs_linear_time() {
    // Through the README's recipe, an 8 KiB BufReader. Quadratic scanning
    // took 8.5 s for 20 MB; linear takes well under a second per 10 MB even
    // in a loaded debug build. Compare 4 MB with 16 MB: 4x the bytes must
    // cost far less than 16x the time.
    let time = |n: usize| {
        let line = long_line(n);
        let mut t = table();
        let start = Instant::now();
        t.insert_json_lines(BufReader::new(&line[..])).unwrap();
        assert_eq!(t.len(), 1);
        start.elapsed()
    };
    let small = time(4 << 20).max(Duration::from_millis(5));
    let big = time(16 << 20);
    assert!(big < small * 10, "4 MB: {small:?}, 16 MB: {big:?}");
}

#[test]
fn a_line_past_the_limit_is_refused_with_its_number() {
    let mut input = b"{\"key\": \"ok\"}\n\n".to_vec();
    input.extend(long_line(5000));
    let mut t = table();
    t.set_max_line_bytes(4096);
    let err = t.insert_json_lines(BufReader::new(&input[..])).unwrap_err();
    assert_eq!(err.to_string(), "line 3: line is longer than 4096 bytes");
    assert!(t.is_empty(), "nothing applied");
    // An endless line stops at the limit instead of filling memory.
    let endless = b"{\"key\": \"".chain(std::io::repeat(b'x'));
    let err = t.insert_json_lines(BufReader::new(endless)).unwrap_err();
    assert!(matches!(err, StoreError::AtLine { line: 1, .. }), "{err}");
    // An earlier bad line is reported first.
    let mut input = b"{\"key\": 1}\n".to_vec();
    input.extend(long_line(5000));
    let err = t.insert_json_lines(BufReader::new(&input[..])).unwrap_err();
    assert!(err.to_string().starts_with("line 1: "), "{err}");
    // Under the limit, lines of any length load, through the engine too.
    let mut e = Engine::new(
        Schema::builder()
            .kind("account", [("name", FieldType::String)])
            .build()
            .unwrap(),
    );
    e.set_max_line_bytes(1 << 20);
    e.load_json_lines("account", BufReader::new(&long_line(100_000)[..]), JsonLines::insert())
        .unwrap();
    let err = e
        .load_json_lines("account", BufReader::new(&long_line(2 << 20)[..]), JsonLines::insert())
        .unwrap_err();
    assert!(matches!(err, StoreError::AtLine { .. }), "{err}");
}

/// A reader that sends a valid header and then zeros forever, counting
/// what it was asked for.
struct Endless {
    header: Vec<u8>,
    sent: u64,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1 << 16);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = self.header.get(self.sent as usize + i).copied().unwrap_or(0);
        }
        self.sent += n as u64;
        Ok(n)
    }
}

#[test]
fn restore_reads_no_more_than_the_header_declares() {
    let e = Engine::new(
        Schema::builder()
            .kind("account", [("n", FieldType::Int)])
            .build()
            .unwrap(),
    );
    let mut bytes = Vec::new();
    e.save(&mut bytes).unwrap();
    let declared = bytes.len() as u64;
    // A valid snapshot followed by zeros forever: refused after one extra byte.
    let mut endless = Endless {
        header: bytes.clone(),
        sent: 0,
    };
    let err = Engine::restore(&mut endless).unwrap_err();
    assert!(matches!(err, SnapshotError::Length { .. }), "{err}");
    assert!(
        endless.sent <= declared + (1 << 17),
        "read {} of {declared}",
        endless.sent
    );
    // A header declaring 1 MiB, then zeros forever: reads 1 MiB and a bit.
    let mut header = bytes[..20].to_vec();
    header[12..20].copy_from_slice(&(1u64 << 20).to_le_bytes());
    let mut endless = Endless { header, sent: 0 };
    assert!(Engine::restore(&mut endless).is_err());
    assert!(endless.sent <= (1 << 20) + (1 << 17), "read {}", endless.sent);
    // And the snapshot itself still restores.
    Engine::restore(&bytes[..]).unwrap();
}

/// A group nested `depth` levels, built as a value (no text to scan).
fn deep_value(depth: usize) -> serde_json::Value {
    use serde_json::{Map, Value};
    let group = |rules: Vec<Value>| {
        let mut m = Map::new();
        m.insert("combinator".into(), Value::from("and"));
        m.insert("rules".into(), Value::Array(rules));
        Value::Object(m)
    };
    // Not `json!`, which would serialize `v` again at every level.
    let mut v = group(Vec::new());
    for _ in 1..depth {
        v = group(vec![v]);
    }
    v
}

#[test]
fn a_deep_value_is_an_error_on_a_small_stack() {
    // 16,000 deep aborted the process on an 8 MiB stack; on 256 KiB, 1,000 did.
    let v = deep_value(20_000);
    let got = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let r = Filter::from_json_value(&v).map(drop);
            // Dropping a deep value recurses too: leak it, as this test is about parsing.
            std::mem::forget(v);
            r
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(matches!(got, Err(FilterError::Json { .. })), "{got:?}");
    // Within the cap, values read as text does.
    let ok = deep_value(MAX_DEPTH_CAP);
    assert!(Filter::from_json_value(&ok).is_ok());
}

#[test]
fn a_depth_policy_past_the_cap_is_an_error() {
    assert!(LimitPolicy::default().with_max_depth(MAX_DEPTH_CAP).is_ok());
    let err = LimitPolicy::default().with_max_depth(256).unwrap_err();
    assert_eq!(
        err,
        FilterError::DepthPolicy {
            depth: 256,
            cap: MAX_DEPTH_CAP
        }
    );
    assert!(LimitPolicy::default().with_max_depth(0).is_err());
}

#[test]
fn duplicate_members_are_errors() {
    // Entity rows.
    let mut t = table();
    for (row, member) in [
        (r#"{"key":"a","key":"b"}"#, "key"),
        (r#"{"key":"a","seats":1,"seats":2}"#, "seats"),
        (r#"{"seats":1,"key":"a","name":"x","seats":1}"#, "seats"),
    ] {
        let err = t
            .insert_json_lines(format!("{{\"key\":\"ok\"}}\n{row}\n").as_bytes())
            .unwrap_err();
        assert_eq!(err.to_string(), format!("line 2: key `a`: duplicate member `{member}`"));
        assert!(t.upsert_json(row).is_err());
    }
    assert!(t.is_empty());
    // Filters: a rule with two values, a group with two combinators.
    let err =
        Filter::from_json(r#"{"combinator":"and","rules":[{"field":"seats","operator":"<","value":1,"value":9}]}"#)
            .unwrap_err();
    assert_eq!(err.to_string(), "rules[0]: duplicate member `value`");
    let err = Filter::from_json(r#"{"combinator":"and","combinator":"or","rules":[]}"#).unwrap_err();
    assert_eq!(err.to_string(), "filter: duplicate member `combinator`");
    // Schemas.
    let err = KindSchema::from_json("account", r#"{"fields": {"a": "int", "a": "float"}}"#).unwrap_err();
    assert!(err.to_string().contains("fields: duplicate member `a`"), "{err}");
}

#[test]
fn keys_may_not_hold_control_characters() {
    let mut t = table();
    for key in ["a\nFAKE", "tab\there", "nul\u{0}", "del\u{7f}", "c1\u{85}"] {
        let row = json!({"key": key}).to_string();
        let err = t.insert_json_lines(row.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, StoreError::AtLine { source, .. } if matches!(**source, StoreError::InvalidKey { .. })),
            "{key:?}: {err}"
        );
        assert!(!err.to_string().contains('\n'), "the message prints on one line: {err}");
        assert!(matches!(t.insert(key, Row::new()), Err(StoreError::InvalidKey { .. })));
    }
    assert!(t.is_empty());
    // Other Unicode is fine.
    t.insert("ünïcødé – 日本", Row::new()).unwrap();
}

#[test]
fn integer_literals_past_64_bits_compare_exactly() {
    let schema = Schema::builder()
        .kind("account", [("seats", FieldType::Int), ("mrr", FieldType::Float)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    e.insert("account", "min", Row::new().set("seats", i64::MIN)).unwrap();
    e.insert("account", "max", Row::new().set("seats", i64::MAX)).unwrap();
    e.insert("account", "two64", Row::new().set("mrr", 18446744073709551616.0))
        .unwrap();
    let now = Timestamp::now();
    let keys = |f: &str| {
        let f = Filter::from_json(f).unwrap();
        let ids = e.query("account").evaluate(&f, now).unwrap();
        e.store()
            .table("account")
            .unwrap()
            .keys_of(&ids)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let rule = |field: &str, op: &str, v: &str| {
        format!(r#"{{"combinator":"and","rules":[{{"field":"{field}","operator":"{op}","value":{v}}}]}}"#)
    };
    assert!(keys(&rule("seats", "=", "-9223372036854775809")).is_empty());
    assert_eq!(
        keys(&rule("seats", "!=", "-9223372036854775809")),
        ["min", "max", "two64"]
    );
    assert_eq!(keys(&rule("seats", ">", "-9223372036854775809")), ["min", "max"]);
    assert!(keys(&rule("seats", ">=", "9223372036854775808")).is_empty());
    assert!(keys(&rule("mrr", "=", "18446744073709551617")).is_empty());
    assert_eq!(keys(&rule("mrr", "<", "18446744073709551617")), ["two64"]);
    assert_eq!(keys(&rule("mrr", "=", "18446744073709551616")), ["two64"]);
    assert_eq!(
        keys(&rule("mrr", "=", r#"{"$bigint": "18446744073709551616"}"#)),
        ["two64"]
    );
    // Saved filters keep such literals exactly, through their JSON.
    let f = Filter::from_json(&rule("mrr", "<", "18446744073709551617")).unwrap();
    assert_eq!(Filter::from_json(&f.to_json_value().to_string()).unwrap(), f);
    let admin = Actor::new("ada", Role::Admin);
    e.create_segment(&admin, NewSegment::new("Big", "account").filter(f))
        .unwrap();
    let mut bytes = Vec::new();
    e.save(&mut bytes).unwrap();
    let back = Engine::restore(&bytes[..]).unwrap();
    assert_eq!(back.segments().iter().next().unwrap().name, "Big");
    assert_eq!(
        back.segments()
            .count(back.segments().iter().next().unwrap().id)
            .unwrap(),
        1
    );
}

/// Re-frames `bytes` after an edit: the CRC-32 over everything before it.
fn recrc(bytes: &mut [u8]) {
    let end = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_snapshot_that_contradicts_itself_restores_consistent() {
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Float)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    e.set_clock(segments::Clock::Fixed(now)).unwrap();
    e.insert("account", "a", Row::new().set("health", 10.0)).unwrap();
    e.insert("account", "b", Row::new().set("health", 70.0)).unwrap();
    let admin = Actor::new("ada", Role::Admin);
    let low =
        Filter::from_json(r#"{"combinator":"and","rules":[{"field":"health","operator":"<","value":30}]}"#).unwrap();
    let (s, _) = e
        .create_segment(&admin, NewSegment::new("Low", "account").filter(low))
        .unwrap();
    let mut bytes = Vec::new();
    e.save(&mut bytes).unwrap();
    // The stored value 10.0 becomes 50.0, the checksum made to match. Float
    // columns store order-preserving keys: a positive float's bits with the
    // top bit set.
    let key = |x: f64| (x.to_bits() | 1 << 63).to_le_bytes();
    let (old, new) = (key(10.0), key(50.0));
    let at = bytes.windows(8).position(|w| w == old).expect("the value is stored");
    bytes[at..at + 8].copy_from_slice(&new);
    recrc(&mut bytes);
    let back = Engine::restore(&bytes[..]).unwrap();
    assert_eq!(
        back.store()
            .table("account")
            .unwrap()
            .get(segments::EntityId(0), "health"),
        Some(50.0.into())
    );
    segments::testing::check_consistency(&back, now).unwrap();
    assert!(
        !back.segments().is_member(s, "a").unwrap(),
        "membership follows the data, not the file"
    );
    // Every single-byte edit with a matching checksum either is refused or
    // restores an engine that passes its own consistency check.
    let mut clean = Vec::new();
    e.save(&mut clean).unwrap();
    for i in 20..clean.len() - 4 {
        for flip in [1u8, 0x80] {
            let mut b = clean.clone();
            b[i] ^= flip;
            recrc(&mut b);
            if let Ok(r) = Engine::restore(&b[..]) {
                segments::testing::check_consistency(&r, now).unwrap_or_else(|m| panic!("byte {i} ^ {flip:#x}: {m}"));
            }
        }
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_save_removes_temp_files_that_dead_processes_left() {
    let dir = std::env::temp_dir().join(format!("segments-stale-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("engine.snap");
    let e = Engine::new(
        Schema::builder()
            .kind("account", [("n", FieldType::Int)])
            .build()
            .unwrap(),
    );
    e.save_to_path(&path).unwrap();
    // pid 4194305 is past Linux's pid_max, so never alive; pid 1 always is.
    let dead = dir.join("engine.snap.tmp-4194305-0");
    let alive = dir.join("engine.snap.tmp-1-3");
    let other = dir.join("other.snap.tmp-4194305-0");
    let odd = dir.join("engine.snap.tmp-x-0");
    for f in [&dead, &alive, &other, &odd] {
        std::fs::write(f, b"partial").unwrap();
    }
    e.save_to_path(&path).unwrap();
    assert!(!dead.exists(), "a dead process's temp file stays");
    for f in [&alive, &other, &odd] {
        assert!(f.exists(), "{} was removed", f.display());
    }
    Engine::restore(std::fs::File::open(&path).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn substring_operators_agree_with_the_row_scan_at_every_selectivity() {
    // 20,000 rows, 12,000 distinct words: rare patterns take the union of
    // a few word bitmaps, common ones a pass over the rows' codes, and a
    // selective `and` hands down a sparse candidate set.
    let mut t =
        Table::new(KindSchema::new("account", [("email", FieldType::String), ("seats", FieldType::Int)]).unwrap());
    let rows: Vec<(String, Row)> = (0..20_000u32)
        .map(|i| {
            let w = i % 12_000;
            let mut row = Row::new().set("seats", i64::from(i % 100));
            if i % 7 != 0 {
                row = row.set(
                    "email",
                    format!("u{w}.{}@{}.com", w % 13, ["acme", "globex", "initech"][w as usize % 3]),
                );
            }
            (format!("k{i}"), row)
        })
        .collect();
    t.insert_many(rows).unwrap();
    for k in (0..20_000).step_by(11) {
        t.delete(&format!("k{k}")).unwrap();
    }
    let now = Timestamp::now();
    let mut checked = 0;
    for op in [
        "contains",
        "doesNotContain",
        "beginsWith",
        "doesNotBeginWith",
        "endsWith",
        "doesNotEndWith",
    ] {
        for pat in ["u1234.", "u1", "acme", ".com", "@", "x", "3@initech.com", "u"] {
            for with_and in [false, true] {
                let rule = json!({"field": "email", "operator": op, "value": pat});
                let f = if with_and {
                    json!({"combinator": "and", "rules": [{"field": "seats", "operator": "=", "value": 3}, rule]})
                } else {
                    json!({"combinator": "and", "rules": [rule]})
                };
                let plan = Filter::from_json(&f.to_string())
                    .unwrap()
                    .validate(t.schema(), &LimitPolicy::default())
                    .unwrap();
                let got = segments::eval::evaluate(&plan, &t, now).unwrap();
                let want = segments::eval::scan(&plan, &t, now).unwrap();
                assert_eq!(got, want, "{op} {pat:?} (and: {with_and})");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 6 * 8 * 2);
}

#[test]
fn substring_operators_through_the_trigram_index_agree_with_the_row_scan() {
    // 200,000 words of about 100 bytes pass the 16 MiB from which a
    // dictionary is searched through its trigram index. Some patterns have
    // few candidates (checked one by one), some many (the arena is
    // scanned), some a trigram no word has, some fewer than three bytes.
    // Under a budget a search builds a round of the index (131,072 words on
    // two cores) and scans the rest; without one it builds all of it.
    let pad = "x".repeat(70);
    let word = |i: u32| {
        let h = i.wrapping_mul(0x9E37_79B9);
        format!(
            "u{i}.{h:08x}{pad}@{}.com",
            ["acme", "globex", "initech"][i as usize % 3]
        )
    };
    let mut t = Table::new(KindSchema::new("account", [("email", FieldType::String)]).unwrap());
    t.insert_many((0..200_000u32).map(|i| (format!("k{i}"), Row::new().set("email", word(i)))))
        .unwrap();
    // The first pattern matches a word past the first round of the index.
    let patterns = [
        "u199999.",
        "u1234.",
        "@acme",
        "zzz",
        "x",
        "u7",
        "globex.com",
        "9e37",
        "3.0",
    ];
    let check = |t: &Table, budget: Option<&segments::eval::Budget>| {
        for op in ["contains", "doesNotContain", "beginsWith", "endsWith"] {
            for pat in patterns {
                let rule = json!({"field": "email", "operator": op, "value": pat});
                let plan = Filter::from_json(&json!({"combinator": "and", "rules": [rule]}).to_string())
                    .unwrap()
                    .validate(t.schema(), &LimitPolicy::default())
                    .unwrap();
                let now = Timestamp::now();
                let got = match budget {
                    Some(b) => segments::eval::evaluate_with(&plan, t, now, b).unwrap(),
                    None => segments::eval::evaluate(&plan, t, now).unwrap(),
                };
                assert_eq!(
                    got,
                    segments::eval::scan(&plan, t, now).unwrap(),
                    "{op} {pat:?} ({budget:?})"
                );
            }
        }
    };
    let roomy = segments::eval::Budget::timeout(Duration::from_secs(3600));
    check(&t, Some(&roomy));
    check(&t, None);
    // Words written after the index was built are found through it too.
    t.insert_many((200_000..201_000u32).map(|i| (format!("k{i}"), Row::new().set("email", word(i)))))
        .unwrap();
    t.upsert("k3", Row::new().set("email", "u1234.zzz")).unwrap();
    check(&t, None);
    check(&t, Some(&roomy));
}

/// A table where one `or` of `n` two-byte `contains` patterns takes a
/// while: each pattern is a pass over 200,000 words.
fn slow_filter(n: usize) -> (Table, Filter, segments::Plan) {
    let mut t = Table::new(KindSchema::new("account", [("email", FieldType::String)]).unwrap());
    t.insert_many((0..200_000u32).map(|i| (format!("k{i}"), Row::new().set("email", format!("user{i}@example.com")))))
        .unwrap();
    let rules: Vec<_> = (0..n)
        .map(|k| json!({"field": "email", "operator": "contains", "value": format!("{}q", k % 10)}))
        .collect();
    let filter = Filter::from_json(&json!({"combinator": "or", "rules": rules}).to_string()).unwrap();
    let plan = filter
        .validate(t.schema(), &LimitPolicy::default().with_unlimited_conditions())
        .unwrap();
    (t, filter, plan)
}

#[test]
fn an_evaluation_gives_up_at_its_deadline() {
    use segments::eval::{self, Budget};
    use segments::EvalError;
    let (t, _, plan) = slow_filter(2000);
    let now = Timestamp::now();
    let start = Instant::now();
    assert!(eval::evaluate(&plan, &t, now).unwrap().is_empty());
    let whole = start.elapsed();
    assert!(
        whole > Duration::from_millis(100),
        "the unbounded evaluation took only {whole:?}"
    );

    let limit = whole / 10;
    let start = Instant::now();
    let got = eval::evaluate_with(&plan, &t, now, &Budget::timeout(limit));
    let took = start.elapsed();
    assert!(matches!(got, Err(EvalError::DeadlineExceeded { .. })), "{got:?}");
    assert!(
        took < whole / 3,
        "gave up after {took:?} of {whole:?} (deadline {limit:?})"
    );

    // A deadline already past is refused before any work; a generous one
    // gives the same answer as no budget.
    let past = eval::evaluate_with(&plan, &t, now, &Budget::deadline(Instant::now()));
    assert!(matches!(past, Err(EvalError::DeadlineExceeded { .. })), "{past:?}");
    let roomy = Budget::timeout(Duration::from_secs(3600));
    assert_eq!(
        eval::evaluate_with(&plan, &t, now, &roomy).unwrap(),
        eval::evaluate(&plan, &t, now).unwrap()
    );
}

#[test]
fn an_engine_evaluation_is_cancelled_from_another_thread() {
    use segments::eval::{Budget, CancelToken};
    use segments::{Error, EvalError};
    let (t, filter, _) = slow_filter(2000);
    let mut engine = Engine::with_config(
        Schema::new([t.schema().as_ref().clone()]).unwrap(),
        LimitPolicy::default().with_unlimited_conditions(),
        segments::IndexConfig::default(),
    );
    for (key, row) in
        (0..200_000u32).map(|i| (format!("k{i}"), Row::new().set("email", format!("user{i}@example.com"))))
    {
        engine.upsert("account", &key, row).unwrap();
    }
    let engine = std::sync::RwLock::new(engine);
    let now = Timestamp::now();
    let start = Instant::now();
    engine.read().unwrap().query("account").evaluate(&filter, now).unwrap();
    let whole = start.elapsed();

    let token = CancelToken::new();
    let budget = Budget::unlimited().with_cancel(&token);
    let (got, took) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let start = Instant::now();
            let got = engine
                .read()
                .unwrap()
                .query("account")
                .budget(&budget)
                .evaluate(&filter, now);
            (got, start.elapsed())
        });
        std::thread::sleep(whole / 10);
        token.cancel();
        reader.join().unwrap()
    });
    assert!(matches!(got, Err(Error::Eval(EvalError::Cancelled))), "{got:?}");
    assert!(took < whole / 2, "cancelled after {took:?} of {whole:?}");
    // Nothing changed, and a writer gets the lock.
    engine.write().unwrap().upsert("account", "new", Row::new()).unwrap();
}

#[test]
fn an_engine_reads_every_line_of_json_lines_through_a_small_buffer() {
    // The engine reads JSON Lines whole before applying them (the op carries
    // the text): reading must not stop early on chunks longer than the line
    // limit, only on a line longer than it.
    let schema = Schema::builder()
        .kind("account", [("seats", FieldType::Int)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema.clone());
    e.set_max_line_bytes(40);
    let text: String = (0..10_000)
        .map(|i| format!("{{\"key\":\"k{i}\",\"seats\":{i}}}\n"))
        .collect();
    e.load_json_lines(
        "account",
        BufReader::with_capacity(1024, text.as_bytes()),
        JsonLines::insert(),
    )
    .unwrap();
    assert_eq!(e.store().table("account").unwrap().len(), 10_000);
    // A line past the limit in the middle: refused with its number, nothing loaded.
    let mut bad = text.clone();
    bad.insert_str(
        bad.find("{\"key\":\"k5000\"").unwrap(),
        &format!("{{\"key\":\"long\",\"seats\":{}}}\n", "1".repeat(60)),
    );
    let mut e = Engine::new(schema);
    e.set_max_line_bytes(40);
    let err = e
        .load_json_lines(
            "account",
            BufReader::with_capacity(1024, bad.as_bytes()),
            JsonLines::insert(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::AtLine { line: 5001, source } if matches!(**source, StoreError::LineTooLong { limit: 40 })),
        "{err:?}"
    );
    assert_eq!(e.store().table("account").unwrap().len(), 0);
}

fn text_table() -> Table {
    let mut t = Table::new(KindSchema::new("account", [("s", FieldType::String), ("g", FieldType::Tags)]).unwrap());
    for i in 0..2_000 {
        let s = format!("{}b", "a".repeat(i % 64 + 1));
        t.insert(
            &format!("k{i}"),
            Row::new()
                .set("s", s.as_str())
                .set("g", segments::Value::Tags(vec![s.clone()])),
        )
        .unwrap();
    }
    t
}

fn regex_rule(pattern: &str) -> Result<segments::Plan, FilterError> {
    let t = text_table();
    let f = json!({"combinator": "and", "rules": [{"field": "s", "operator": "matchesRegex", "value": pattern}]});
    Filter::from_json(&f.to_string()).and_then(|f| f.validate(t.schema(), &LimitPolicy::default()))
}

#[test]
fn a_regex_is_bounded_in_size_and_linear_in_time() {
    let long = "a".repeat(segments::filter::MAX_REGEX_LEN + 1);
    let e = regex_rule(&long).unwrap_err();
    assert!(
        matches!(&e, FilterError::BadRegex { path, field, .. } if path == "rules[0].value" && field == "s"),
        "{e}"
    );
    // Small to write, huge once compiled.
    let e = regex_rule("(?:a{1000}){1000}").unwrap_err();
    assert!(matches!(e, FilterError::BadRegex { .. }), "{e}");
    assert!(!e.to_string().contains('\n'));
    let e = regex_rule("(unclosed").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("rules[0].value (field `s`): bad regular expression"),
        "{e}"
    );
    // What backtracking engines take exponential time on is linear here.
    let t = text_table();
    let plan = regex_rule("^(a|aa)*c$").unwrap();
    let started = Instant::now();
    let ids = segments::eval::evaluate(&plan, &t, Timestamp::now()).unwrap();
    assert!(ids.is_empty());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[test]
fn match_modes_nested_a_hundred_thousand_deep_are_errors_not_crashes() {
    // As JSON text: refused before it is parsed.
    let mut text = String::from(r#"{"combinator": "and", "rules": []}"#);
    for _ in 0..100_000 {
        text = format!(
            r#"{{"combinator": "and", "rules": [{{"field": "g", "operator": "=", "match": {{"mode": "some"}}, "value": {text}}}]}}"#
        );
        if text.len() > 4_000_000 {
            break;
        }
    }
    assert!(matches!(Filter::from_json(&text), Err(FilterError::Json { .. })));
    // Built in Rust: validation measures without recursion, and dropping
    // does not recurse either, on a small stack.
    let got = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let t = text_table();
            let mut f = Filter::and(Vec::<segments::filter::Node>::new());
            for _ in 0..100_000 {
                f = Filter::and([segments::filter::field("g").matching(segments::filter::MatchMode::Some, None, f)]);
            }
            let r = f
                .validate(t.schema(), &LimitPolicy::default().with_unlimited_conditions())
                .map(drop);
            drop(f);
            r
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(matches!(got, Err(FilterError::TooDeep { .. })), "{got:?}");
}

#[test]
fn independent_combinators_by_the_hundred_thousand_are_flat_and_bounded() {
    let t = text_table();
    let mut rules = Vec::new();
    for i in 0..100_000 {
        if i > 0 {
            rules.push(json!(if i % 3 == 0 { "or" } else { "and" }));
        }
        rules.push(json!({"field": "s", "operator": "beginsWith", "value": "aa", "muted": i % 2 == 1}));
    }
    let text = json!({"rules": rules}).to_string();
    let f = Filter::from_json(&text).unwrap();
    // Muted rules do not count; the rest is over the default limit.
    assert!(matches!(
        f.validate(t.schema(), &LimitPolicy::default()),
        Err(FilterError::TooManyConditions { count: 50_000, .. })
    ));
    let plan = f
        .validate(t.schema(), &LimitPolicy::default().with_unlimited_conditions())
        .unwrap();
    let started = Instant::now();
    let n = segments::eval::evaluate(&plan, &t, Timestamp::now()).unwrap().len();
    // Every key but those whose string is "ab" (i % 64 == 0: 32 of them).
    assert_eq!(n, 2_000 - 32);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A value nested 100,000 deep, built in Rust (no parser would make it).
fn deep_setting() -> serde_json::Value {
    let mut v = serde_json::Value::from(0);
    for _ in 0..100_000 {
        v = serde_json::Value::Array(vec![v]);
    }
    v
}

/// Takes a deep value apart without recursion.
fn unnest(mut v: serde_json::Value) {
    while let serde_json::Value::Array(mut a) = v {
        v = a.pop().unwrap_or(serde_json::Value::Null);
    }
}

#[test]
fn settings_deeper_than_any_stack_are_refused_at_every_door_without_recursing() {
    use segments::segment::{Settings, MAX_SETTINGS_DEPTH};
    let got = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(|| {
            let mut e = Engine::new(
                Schema::builder()
                    .kind("account", [("mrr", FieldType::Int)])
                    .build()
                    .unwrap(),
            );
            let admin = Actor::new("ada", Role::Admin);
            let (s, _) = e.create_segment(&admin, NewSegment::new("S", "account")).unwrap();
            let mut out = Vec::new();
            // Read from a JSON value.
            let object = serde_json::Value::Object([("k".to_string(), deep_setting())].into_iter().collect());
            out.push(Settings::from_json_value(&object).map(drop).map_err(|e| e.to_string()));
            if let serde_json::Value::Object(mut m) = object {
                unnest(m.remove("k").unwrap());
            }
            // Saved with a segment, set, and written as an op; each
            // refused value is dropped without recursion too.
            let deep = || {
                let mut d = Settings::new();
                d.insert("k", deep_setting());
                d
            };
            let op = segments::Op::Manage(segments::ManageOp::CreateSegment {
                actor: admin.clone(),
                segment: NewSegment::new("T", "account").settings(deep()),
            });
            out.push(if op.to_json().is_empty() {
                Err("no JSON".into())
            } else {
                Ok(())
            });
            out.push(e.apply(op).map(drop).map_err(|e| e.to_string()));
            out.push(
                e.create_segment(&admin, NewSegment::new("T", "account").settings(deep()))
                    .map(drop)
                    .map_err(|e| e.to_string()),
            );
            out.push(e.set_settings(&admin, s, deep()).map_err(|e| e.to_string()));
            let d = deep();
            assert_eq!(d.to_json(), "{}");
            assert!(serde_json::to_string(&d).is_err());
            drop(d);
            out
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    let want = format!("nests deeper than {MAX_SETTINGS_DEPTH}");
    for (i, r) in got.iter().enumerate() {
        assert!(
            r.as_ref().is_err_and(|e| e.contains(&want) || e == "no JSON"),
            "{i}: {r:?}"
        );
    }
}
