//! What event properties and field trends cost, over 1M accounts, each
//! against a baseline measured in the same run:
//!
//! - `export_30d_where_csv`: "did `export` with `format` = `csv` in the
//!   last 30 days", against `export_30d`, the same count without `where`
//!   (5 `export` events per account, each with two properties);
//! - `record_100k_with_properties` against `record_100k` (the same events,
//!   no properties);
//! - `delta_health_30d`: "`health` fell by 10 or more in 30 days", against
//!   `health_lt_30` (a range on the column itself), over 10 changes kept per
//!   account;
//! - `upsert_100k_tracked` against `upsert_100k_untracked`: the same writes
//!   to a tracked and an untracked field.
//!
//! It prints the heap per event with and without properties and per kept
//! change. `SEGMENTS_BENCH_SIZE=N` changes the number of accounts.

#[allow(dead_code)]
#[path = "../examples/data/accounts.rs"]
mod accounts;
mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::store::Properties;
use segments::{eval, Clock, Engine, FieldType, Filter, LimitPolicy, Row, Schema, Timestamp};
use support::size;

const DAY: i64 = 86_400_000_000;
const FORMATS: [&str; 4] = ["csv", "pdf", "xlsx", "json"];

fn plan(e: &Engine, json: &str) -> segments::Plan {
    let table = e.store().table("account").expect("the kind");
    Filter::from_json(json)
        .and_then(|f| f.validate(table.schema(), &LimitPolicy::default()))
        .expect("a valid filter")
}

fn properties(c: &mut Criterion) {
    let n = size();
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let mut e = Engine::new(Schema::new([accounts::kind()]).expect("a valid schema"));
    e.set_clock(Clock::Fixed(now)).unwrap();
    let mut r = accounts::Rng::new(5);
    let keys: Vec<String> = (0..n).map(|i| format!("a{i:08}")).collect();
    e.insert_many("account", keys.iter().map(|k| (k.as_str(), accounts::row(&mut r))))
        .expect("generated rows are valid");
    let at = |r: &mut accounts::Rng| Timestamp::from_micros(now.as_micros() - r.range(0, 90 * DAY));
    let props = |r: &mut accounts::Rng| {
        Properties::new()
            .with("format", FORMATS[r.range(0, 4) as usize])
            .with("rows", r.range(0, 10_000))
    };
    let before = e.store().table("account").expect("the kind").memory_usage().events;
    for chunk in keys.chunks(200_000) {
        let batch: Vec<_> = chunk
            .iter()
            .flat_map(|k| (0..5).map(move |_| k))
            .map(|k| (k.as_str(), "export", at(&mut r), props(&mut r)))
            .collect();
        e.record_events("account", batch).expect("live keys");
    }
    let with = e.store().table("account").expect("the kind").memory_usage().events - before;
    // The same number of events without properties, for the heap they take.
    let mut bare = Engine::new(Schema::new([accounts::kind()]).expect("a valid schema"));
    bare.insert_many("account", keys.iter().map(|k| (k.as_str(), Row::new())))
        .expect("valid rows");
    for chunk in keys.chunks(200_000) {
        let batch: Vec<_> = chunk
            .iter()
            .flat_map(|k| (0..5).map(move |_| k))
            .map(|k| (k.as_str(), "export", at(&mut r)))
            .collect();
        bare.record_events("account", batch).expect("live keys");
    }
    let without = bare.store().table("account").expect("the kind").memory_usage().events;
    let events = 5.0 * n as f64;
    eprintln!(
        "trends/{n}: {} events; heap per event {:.1} bytes with two properties, {:.1} without",
        5 * n,
        with as f64 / events,
        without as f64 / events
    );

    let csv = plan(
        &e,
        r#"{"combinator":"and","rules":[{"field":"@count:export","operator":">=","value":{"count":1,
            "withinLast":{"amount":30,"unit":"days"},
            "where":{"combinator":"and","rules":[{"field":"format","operator":"=","value":"csv"}]}}}]}"#,
    );
    let all = plan(
        &e,
        r#"{"combinator":"and","rules":[{"field":"@count:export","operator":">=","value":{"count":1,
            "withinLast":{"amount":30,"unit":"days"}}}]}"#,
    );
    let table = e.store().table("account").expect("the kind");
    eprintln!(
        "trends/{n}: export in 30 days matches {}, with format = csv {}",
        eval::evaluate(&all, table, now).map_or(0, |b| b.len()),
        eval::evaluate(&csv, table, now).map_or(0, |b| b.len())
    );
    let mut g = c.benchmark_group(format!("trends/{n}"));
    g.sample_size(10);
    g.bench_function("export_30d", |b| b.iter(|| black_box(eval::evaluate(&all, table, now))));
    g.bench_function("export_30d_where_csv", |b| {
        b.iter(|| black_box(eval::evaluate(&csv, table, now)))
    });
    let sample: Vec<&str> = keys.iter().step_by((n / 100_000).max(1)).map(String::as_str).collect();
    g.bench_function("record_100k", |b| {
        b.iter_batched(
            || bare.clone(),
            |mut e| {
                let batch: Vec<_> = sample.iter().map(|k| (*k, "view", now)).collect();
                black_box(e.record_events("account", batch).expect("live keys"));
                e
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("record_100k_with_properties", |b| {
        b.iter_batched(
            || bare.clone(),
            |mut e| {
                let batch: Vec<_> = sample
                    .iter()
                    .map(|k| (*k, "view", now, Properties::new().with("format", "csv").with("rows", 3)))
                    .collect();
                black_box(e.record_events("account", batch).expect("live keys"));
                e
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn trends(c: &mut Criterion) {
    let n = size();
    let now = accounts::NOW_MICROS;
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Float), ("score", FieldType::Float)])
        .track("health", 32)
        .build()
        .expect("a valid schema");
    let mut e = Engine::new(schema);
    let mut r = accounts::Rng::new(9);
    let keys: Vec<String> = (0..n).map(|i| format!("a{i:08}")).collect();
    // Ten rounds of writes, three days apart: ten changes kept per account.
    for round in 0..10i64 {
        e.set_clock(Clock::Fixed(Timestamp::from_micros(now - (27 - 3 * round) * DAY)))
            .unwrap();
        let rows = keys.iter().map(|k| {
            let h = r.range(0, 100) as f64;
            (k.as_str(), Row::new().set("health", h).set("score", h))
        });
        e.upsert_many("account", rows).expect("valid rows");
    }
    let table = e.store().table("account").expect("the kind");
    let kept: usize = (0..n as u32)
        .map(|i| table.field_history(segments::EntityId(i), "health").len())
        .sum();
    eprintln!(
        "trends/{n}: {kept} changes kept; history heap {:.1} bytes per change",
        table.memory_usage().history as f64 / kept as f64
    );
    let at = Timestamp::from_micros(now);
    let fell = plan(
        &e,
        r#"{"combinator":"and","rules":[{"field":"@delta:health","operator":"<=","value":{"by":-10,
            "withinLast":{"amount":30,"unit":"days"}}}]}"#,
    );
    let low = plan(
        &e,
        r#"{"combinator":"and","rules":[{"field":"health","operator":"<","value":30}]}"#,
    );
    eprintln!(
        "trends/{n}: fell by 10 in 30 days matches {}, health < 30 {}",
        eval::evaluate(&fell, table, at).map_or(0, |b| b.len()),
        eval::evaluate(&low, table, at).map_or(0, |b| b.len())
    );
    let mut g = c.benchmark_group(format!("trends/{n}"));
    g.sample_size(10);
    g.bench_function("health_lt_30", |b| {
        b.iter(|| black_box(eval::evaluate(&low, table, at)))
    });
    g.bench_function("delta_health_30d", |b| {
        b.iter(|| black_box(eval::evaluate(&fell, table, at)))
    });
    let sample: Vec<&str> = keys.iter().step_by((n / 100_000).max(1)).map(String::as_str).collect();
    e.set_clock(Clock::Fixed(at)).unwrap();
    // Each round writes new values (the last one plus one), so that every
    // write of the tracked field is a change kept (and, past the bound, the
    // oldest dropped).
    let mut v = 0.0;
    for (name, field) in [("upsert_100k_tracked", "health"), ("upsert_100k_untracked", "score")] {
        g.bench_function(name, |b| {
            b.iter(|| {
                v += 1.0;
                let rows = sample.iter().map(|k| (*k, Row::new().set(field, v)));
                black_box(e.upsert_many("account", rows).expect("valid rows"))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, properties, trends);
criterion_main!(benches);
