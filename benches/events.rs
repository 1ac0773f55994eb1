//! Event conditions over 1M accounts with 50M events.
//!
//! `cargo bench -p segments-benches --bench events` times, with baselines from the same run:
//!
//! - `login_ge3_14d`: "did `login` at least 3 times in the last 14 days";
//!   against `last_seen_login_7d` ("`@lastSeen:login` within 7 days");
//! - `record_one`: recording one event with 1,000 segments defined, 100 of
//!   which read that event; against the same record on a bare table.
//!
//! `SEGMENTS_BENCH_SIZE=N` changes the number of accounts (default 1M);
//! there are 50 events per account, over 10 names and the last 90 days.

#[allow(dead_code)]
#[path = "../examples/data/accounts.rs"]
mod accounts;
mod support;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::filter::{field, Node};
use segments::segment::{Actor, NewSegment, Role};
use segments::{eval, Clock, Engine, Filter, LimitPolicy, Row, Schema, Timestamp};
use support::size;

const NAMES: [&str; 10] = [
    "login", "view", "export", "invite", "search", "share", "comment", "upload", "download", "billing",
];
const DAY: i64 = 86_400_000_000;

fn count_filter(name: &str, n: u64, days: u64) -> Filter {
    Filter::from_json(&format!(
        r#"{{"combinator": "and", "rules": [{{"field": "@count:{name}", "operator": ">=",
            "value": {{"count": {n}, "withinLast": {{"amount": {days}, "unit": "days"}}}}}}]}}"#
    ))
    .expect("a valid filter")
}

fn bench(c: &mut Criterion) {
    let n = size();
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let schema = Schema::new([accounts::kind()]).expect("a valid schema");
    let mut e = Engine::new(schema);
    e.set_clock(Clock::Fixed(now)).unwrap();
    let mut r = accounts::Rng::new(11);
    let keys: Vec<String> = (0..n).map(|i| format!("a{i:08}")).collect();
    e.insert_many("account", keys.iter().map(|k| (k.as_str(), accounts::row(&mut r))))
        .expect("generated rows are valid");
    let t0 = Instant::now();
    let per_chunk = 1_000_000;
    let total = n * 50;
    let mut done = 0;
    while done < total {
        let m = per_chunk.min(total - done);
        let batch: Vec<(&str, &str, Timestamp)> = (0..m)
            .map(|_| {
                let k = &keys[r.range(0, n as i64) as usize];
                let name = NAMES[r.range(0, 10) as usize];
                (
                    k.as_str(),
                    name,
                    Timestamp::from_micros(now.as_micros() - r.range(0, 90 * DAY)),
                )
            })
            .collect();
        e.record_events("account", batch).expect("live keys");
        done += m;
    }
    let table = e.store().table("account").expect("the kind");
    eprintln!(
        "events/{n}: {} events recorded in {:.2?}; {} MB of event heap",
        table.event_count(),
        t0.elapsed(),
        table.memory_usage().events >> 20
    );

    let policy = LimitPolicy::default();
    let ge3 = count_filter("login", 3, 14)
        .validate(table.schema(), &policy)
        .expect("valid");
    let last7 = Filter::and([field("@lastSeen:login").within_last(7, segments::filter::TimeUnit::Days)])
        .validate(table.schema(), &policy)
        .expect("valid");
    eprintln!(
        "events/{n}: login >= 3 in 14 days matches {}; last login within 7 days matches {}",
        eval::evaluate(&ge3, table, now).map_or(0, |b| b.len()),
        eval::evaluate(&last7, table, now).map_or(0, |b| b.len())
    );
    let mut g = c.benchmark_group(format!("events/{n}"));
    g.sample_size(20);
    g.bench_function("login_ge3_14d", |b| {
        b.iter(|| black_box(eval::evaluate(&ge3, table, now)))
    });
    g.bench_function("last_seen_login_7d", |b| {
        b.iter(|| black_box(eval::evaluate(&last7, table, now)))
    });
    g.finish();

    let admin = Actor::new("bench", Role::Admin);
    for i in 0..1000usize {
        let f = if i < 100 {
            count_filter("login", 1 + (i % 10) as u64, 1 + (i / 10) as u64)
        } else {
            Filter::and([
                Node::from(field("nps").lt((i % 11) as i64)),
                field("seats").gt(i as i64).into(),
            ])
        };
        e.create_segment(&admin, NewSegment::new(format!("s{i}"), "account").filter(f))
            .expect("valid segments");
    }
    let mut bare = e.store().table("account").expect("the kind").clone();
    let mut g = c.benchmark_group(format!("events/{n}"));
    let mut events = 0u64;
    g.bench_function("record_one", |b| {
        b.iter(|| {
            let changes = e
                .record_events("account", [("a00000042", "login", now)])
                .expect("a live key");
            events = events.max(changes.len());
            black_box(changes)
        })
    });
    eprintln!("events/{n}: record_one emits up to {events} changes a call");
    g.bench_function("record_one_table_only", |b| {
        b.iter(|| black_box(bare.record_event("a00000042", "login", now).expect("a live key")))
    });
    g.finish();
    let _ = Row::new();
}

criterion_group!(benches, bench);
criterion_main!(benches);
