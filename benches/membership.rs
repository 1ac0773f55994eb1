//! Membership maintenance over the quickstart's accounts.
//!
//! `cargo bench -p segments-benches --bench membership` times, with baselines from the same run:
//!
//! - `update_one`: one entity update with 1,000 segments defined, 100 of
//!   which read the changed field, change events included; against the
//!   same update to a bare table (`update_one_table_only`); and the batch
//!   path, 1,000 accounts in one `upsert_many` (`update_batch_1000`,
//!   against `update_batch_1000_table_only`);
//! - `refresh_100`: a refresh of 100 time-relative segments over 1M
//!   accounts; against evaluating their 100 filters alone;
//! - `rule_edit`: editing the filter of a segment of ~950k members; against
//!   one evaluation of the new filter;
//! - `median`: median and percentiles of a field over ~950k members.
//!
//! `SEGMENTS_BENCH_SIZE=N` changes the number of accounts (default 1M).

#[allow(dead_code)]
#[path = "../examples/data/accounts.rs"]
mod accounts;
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use segments::filter::{field, Node, TimeUnit};
use segments::segment::{Actor, NewSegment, Role, SegmentId};
use segments::{eval, Engine, Filter, LimitPolicy, Row, Timestamp};
use support::size;

fn engine(n: usize) -> Engine {
    accounts::engine(n, 7)
}

fn admin() -> Actor {
    Actor::new("bench", Role::Admin)
}

/// The i-th of 900 filters that do not read `health`.
fn other_filter(i: usize) -> Filter {
    let k = (i / 6) as i64;
    match i % 6 {
        0 => Filter::and([field("nps").lt(k % 11)]),
        1 => Filter::and([field("mrr").gt(100 + 10 * k)]),
        2 => Filter::and([Node::from(field("plan").eq("pro")), field("seats").gt(k * 6).into()]),
        3 => Filter::and([field("score").between(k * 6000, k * 6000 + 50_000)]),
        4 => Filter::and([Node::from(field("country").ne("US")), field("paying").eq(true).into()]),
        _ => Filter::and([field("renewal_at").within_next(k as u64 % 90 + 1, TimeUnit::Days)]),
    }
}

fn update_one(c: &mut Criterion) {
    let n = size();
    let mut e = engine(n);
    let t0 = Instant::now();
    for i in 0..1000 {
        let filter = if i < 100 {
            // Thresholds 1..=100: an account at health 0.5 is in all of them.
            Filter::and([Node::from(field("health").lt(i as i64 + 1)), field("nps").le(10).into()])
        } else {
            other_filter(i - 100)
        };
        e.create_segment(&admin(), NewSegment::new(format!("s{i}"), "account").filter(filter))
            .expect("valid segments");
    }
    eprintln!("membership/{n}: 1,000 segments created in {:.2?}", t0.elapsed());
    let key = "a00000042";
    e.upsert("account", key, Row::new().set("nps", 5i64))
        .expect("a live key");
    let mut table = e.store().table("account").expect("the kind").clone();

    let mut g = c.benchmark_group(format!("membership/{n}"));
    let mut flip = false;
    let mut events = 0u64;
    g.bench_function("update_one", |b| {
        b.iter(|| {
            flip = !flip;
            let health = if flip { 0.5 } else { 99.5 };
            let changes = e
                .upsert("account", key, Row::new().set("health", health))
                .expect("a live key");
            events = events.max(changes.len());
            black_box(changes)
        })
    });
    eprintln!("membership/{n}: update_one emits up to {events} changes a call");
    g.bench_function("update_one_table_only", |b| {
        b.iter(|| {
            flip = !flip;
            let health = if flip { 0.5 } else { 99.5 };
            black_box(table.upsert(key, Row::new().set("health", health)).expect("a live key"))
        })
    });
    // The batch path: 1,000 accounts' health in one call.
    let batch_keys: Vec<String> = (0..1000).map(|i| format!("a{:08}", i * (n / 1000).max(1))).collect();
    let batch = |health: f64| -> Vec<(String, Row)> {
        batch_keys
            .iter()
            .map(|k| (k.clone(), Row::new().set("health", health)))
            .collect()
    };
    g.bench_function("update_batch_1000", |b| {
        b.iter(|| {
            flip = !flip;
            let rows = batch(if flip { 0.5 } else { 99.5 });
            black_box(e.upsert_many("account", rows).expect("live keys"))
        })
    });
    g.bench_function("update_batch_1000_table_only", |b| {
        b.iter(|| {
            flip = !flip;
            let rows = batch(if flip { 0.5 } else { 99.5 });
            black_box(table.upsert_many(rows).expect("live keys"))
        })
    });
    g.finish();
}

fn refresh_and_edit(c: &mut Criterion) {
    let n = size();
    let mut e = engine(n);
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let mut filters = Vec::new();
    for i in 0..100u64 {
        let f = Filter::and([field("last_seen").within_last(i % 60 + 1, TimeUnit::Days)]);
        e.create_segment(
            &admin(),
            NewSegment::new(format!("seen{i}"), "account").filter(f.clone()),
        )
        .expect("valid segments");
        filters.push(f);
    }
    let (big, _) = e
        .create_segment(
            &admin(),
            NewSegment::new("big", "account").filter(Filter::and([field("health").ge(0)])),
        )
        .expect("a valid segment");
    eprintln!(
        "membership/{n}: segment `big` has {} members",
        e.segments().count(big).unwrap_or(0)
    );

    let mut g = c.benchmark_group(format!("membership/{n}"));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    // Each refresh moves the clock an hour, so windows slide and members move.
    let mut hour = 0i64;
    g.bench_function("refresh_100", |b| {
        b.iter(|| {
            hour = (hour + 1) % 48;
            black_box(
                e.refresh(Timestamp::from_micros(now.as_micros() + hour * 3_600_000_000))
                    .unwrap(),
            )
        })
    });
    let table = e.store().table("account").expect("the kind");
    let plans: Vec<_> = filters
        .iter()
        .map(|f| f.validate(table.schema(), &LimitPolicy::default()).expect("valid"))
        .collect();
    g.bench_function("refresh_100_evaluate_only", |b| {
        b.iter(|| {
            for p in &plans {
                black_box(eval::evaluate(p, table, now).expect("same kind"));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("membership/{n}"));
    g.sample_size(20);
    let mut flip = false;
    let mut moved = 0u64;
    g.bench_function("rule_edit", |b| {
        b.iter(|| {
            flip = !flip;
            let f = Filter::and([field("health").ge(if flip { 1 } else { 0 })]);
            let changes = e.set_filter(&admin(), big, Some(f)).expect("a valid filter");
            moved = moved.max(changes.len());
            black_box(changes)
        })
    });
    eprintln!("membership/{n}: rule_edit moves up to {moved} members a call");
    let table = e.store().table("account").expect("the kind");
    let plan = Filter::and([field("health").ge(1)])
        .validate(table.schema(), &LimitPolicy::default())
        .expect("valid");
    g.bench_function("rule_edit_evaluate_only", |b| {
        b.iter(|| black_box(eval::evaluate(&plan, table, now).expect("same kind")))
    });
    let scope = e.query("account").within(big).expect("a segment");
    g.bench_function("median", |b| {
        b.iter(|| black_box(scope.numeric_stats("mrr", &[90.0, 99.0]).expect("a numeric field")))
    });
    g.finish();
    let _: SegmentId = big;
}

criterion_group!(benches, update_one, refresh_and_edit);
criterion_main!(benches);
