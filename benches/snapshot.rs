//! Snapshot save and restore of the quickstart's accounts.
//!
//! `cargo bench -p segments-benches --bench snapshot` builds 1M accounts with ten fields and 100
//! segments (with manual adds and removes, so links and blocks are saved
//! too), then times, with throughput in bytes of snapshot:
//!
//! - `save`: the whole engine to a buffer;
//! - `restore`: the buffer back to an engine, indexes rebuilt;
//! - `crc32_only`: the checksum of the same bytes, the floor of any
//!   checked restore (baseline);
//! - `reload_from_rows`: what a service without snapshots does instead:
//!   insert the same rows and create the same segments (baseline).
//!
//! `SEGMENTS_BENCH_SIZE=N` changes the number of accounts (default 1M).

#[allow(dead_code)]
#[path = "../examples/data/accounts.rs"]
mod accounts;
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use segments::filter::{field, Node, TimeUnit};
use segments::segment::{Actor, NewSegment, Role};
use segments::{Clock, Engine, Filter, Row, Schema, Timestamp};
use support::size;

fn admin() -> Actor {
    Actor::new("bench", Role::Admin)
}

/// The i-th of 100 segment filters, over every field.
fn filter(i: usize) -> Filter {
    let k = (i / 10) as i64;
    match i % 10 {
        0 => Filter::and([field("health").lt(10 + 8 * k)]),
        1 => Filter::and([field("nps").le(k)]),
        2 => Filter::and([field("mrr").gt(100 + 100 * k)]),
        3 => Filter::and([Node::from(field("plan").eq("pro")), field("seats").gt(k * 6).into()]),
        4 => Filter::and([Node::from(field("country").ne("US")), field("paying").eq(true).into()]),
        5 => Filter::and([field("last_seen").within_last(k as u64 * 3 + 1, TimeUnit::Days)]),
        6 => Filter::and([field("renewal_at").within_next(k as u64 * 9 + 1, TimeUnit::Days)]),
        7 => Filter::and([field("score").between(k * 6000, k * 6000 + 50_000)]),
        8 => Filter::or([Node::from(field("health").gt(90 - k)), field("nps").ge(10).into()]),
        _ => Filter::and([field("paying").eq(false)]),
    }
}

fn rows(n: usize) -> Vec<(String, Row)> {
    let mut r = accounts::Rng::new(7);
    (0..n).map(|i| (format!("a{i:08}"), accounts::row(&mut r))).collect()
}

fn build(rows: Vec<(String, Row)>) -> Engine {
    let schema = Schema::new([accounts::kind()]).expect("a valid schema");
    let mut e = Engine::new(schema);
    e.set_clock(Clock::Fixed(Timestamp::from_micros(accounts::NOW_MICROS)))
        .unwrap();
    e.insert_many("account", rows).expect("generated rows are valid");
    for i in 0..100 {
        let (s, _) = e
            .create_segment(&admin(), NewSegment::new(format!("s{i}"), "account").filter(filter(i)))
            .expect("valid segments");
        let keys: Vec<String> = (0..50)
            .map(|j| format!("a{:08}", (i * 7919 + j * 104_729) % 1000))
            .collect();
        if i % 2 == 0 {
            e.add_members(&admin(), s, keys).expect("live keys");
        } else {
            e.remove_members(&admin(), s, keys).expect("live keys");
        }
    }
    e
}

fn snapshot(c: &mut Criterion) {
    let n = size();
    let t0 = Instant::now();
    let e = build(rows(n));
    eprintln!("snapshot/{n}: engine built in {:.2?}", t0.elapsed());
    let mut bytes = Vec::new();
    e.save(&mut bytes).expect("writing to memory");
    eprintln!(
        "snapshot/{n}: {} bytes ({:.1} MB)",
        bytes.len(),
        bytes.len() as f64 / 1e6
    );

    let mut g = c.benchmark_group(format!("snapshot/{n}"));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut out = Vec::with_capacity(bytes.len());
    g.bench_function("save", |b| {
        b.iter(|| {
            out.clear();
            e.save(&mut out).expect("writing to memory");
            black_box(out.len())
        })
    });
    g.bench_function("restore", |b| {
        // Dropping the engine is not part of restoring it.
        b.iter_with_large_drop(|| Engine::restore(&bytes[..]).expect("a valid snapshot"))
    });
    g.bench_function("crc32_only", |b| b.iter(|| black_box(crc32fast::hash(&bytes))));
    g.bench_function("reload_from_rows", |b| {
        b.iter_batched(|| rows(n), build, criterion::BatchSize::LargeInput)
    });
    g.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
