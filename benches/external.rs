//! Segments evaluated elsewhere, membership kept here: what the engine
//! costs per entity when it holds only keys and membership, and the time to
//! apply a warehouse's result of 1M keys to an external rule.
//!
//! It builds `SEGMENTS_BENCH_SIZE` users (default 10M) with no attributes,
//! and prints the heap (counted by the allocator) and resident memory per
//! entity: for the keys alone, then with one segment whose external rule
//! matches a tenth of them. Then, each beside a baseline from the same run:
//!
//! - `set_1m`: a whole result of 1M keys replacing the last (half of them
//!   new), against `lookup_1m`, finding the same 1M keys' ids (what any
//!   apply must do);
//! - `delta_1m`: a delta of 500k keys added and 500k removed.

mod support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, KindSchema, Row, Schema};
use support::size_or;

#[global_allocator]
static A: support::Counting = support::Counting;

const MIB: f64 = 1024.0 * 1024.0;

/// Resident memory, from /proc (0 where there is none).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn key(i: usize) -> String {
    format!("u{i:09}")
}

fn external(c: &mut Criterion) {
    let n = size_or(10_000_000);
    let m = 1_000_000.min(n / 2).max(2);
    let (heap0, rss0) = (support::live(), rss());
    let schema =
        Schema::new([KindSchema::new("user", Vec::<(&str, FieldType)>::new()).expect("a kind")]).expect("a schema");
    let mut e = Engine::new(schema);
    for start in (0..n).step_by(1_000_000) {
        let keys: Vec<String> = (start..(start + 1_000_000).min(n)).map(key).collect();
        e.insert_many("user", keys.iter().map(|k| (k.as_str(), Row::new())))
            .expect("new keys");
    }
    let (heap1, rss1) = (support::live(), rss());
    let ada = Actor::new("ada", Role::Admin);
    let (seg, _) = e
        .create_segment(&ada, NewSegment::new("churn", "user"))
        .expect("a segment");
    let (rule, _) = e.attach_external_rule(&ada, seg).expect("a rule");
    let tenth: Vec<String> = (0..n).step_by(10).map(key).collect();
    e.set_external_matches(&ada, rule, &tenth).expect("live keys");
    drop(tenth);
    let (heap2, rss2) = (support::live(), rss());
    let per = |bytes: usize| bytes as f64 / n as f64;
    eprintln!(
        "external/{n}: keys only: heap {:.1} B/entity ({:.0} MiB), resident {:.1} B/entity; \
         with a segment holding a tenth: heap {:.1} B/entity, resident {:.1} B/entity",
        per(heap1 - heap0),
        (heap1 - heap0) as f64 / MIB,
        per(rss1.saturating_sub(rss0)),
        per(heap2 - heap0),
        per(rss2.saturating_sub(rss0)),
    );

    // Two results of `m` keys, half of them shared, spread over the table.
    let stride = (n / (m + m / 2)).max(1);
    let a: Vec<String> = (0..m).map(|i| key(i * stride)).collect();
    let b: Vec<String> = (m / 2..m + m / 2).map(|i| key(i * stride)).collect();
    let only_a: Vec<String> = a[..m / 2].to_vec();
    let only_b: Vec<String> = b[m - m / 2..].to_vec();
    e.set_external_matches(&ada, rule, &a).expect("live keys");
    let mut g = c.benchmark_group(format!("external/{n}"));
    g.sample_size(10);
    let table = e.store().table("user").expect("the kind");
    g.bench_function("lookup_1m", |bench| {
        bench.iter(|| black_box(a.iter().filter_map(|k| table.id(k)).count()))
    });
    let mut flip = false;
    g.bench_function("set_1m", |bench| {
        bench.iter(|| {
            flip = !flip;
            let keys = if flip { &b } else { &a };
            black_box(e.set_external_matches(&ada, rule, keys).expect("live keys").len())
        })
    });
    // From `a`: in turn to `b` and back, by deltas.
    e.set_external_matches(&ada, rule, &a).expect("live keys");
    let mut at_b = false;
    g.bench_function("delta_1m", |bench| {
        bench.iter(|| {
            let (added, removed) = if at_b { (&only_a, &only_b) } else { (&only_b, &only_a) };
            at_b = !at_b;
            black_box(
                e.change_external_matches(&ada, rule, added, removed)
                    .expect("live keys")
                    .len(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, external);
criterion_main!(benches);
