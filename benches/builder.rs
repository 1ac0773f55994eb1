//! The builder's backend on the quickstart's accounts: all the counts of a
//! 10-condition filter (`Engine::counts`), a preview of a 10-condition edit
//! (`Engine::preview`) and one explanation (`Engine::explain`), each beside
//! the baseline of one plain evaluation of the same filter in the same run.
//!
//! `cargo bench -p segments-benches --bench builder` runs 1M accounts;
//! `SEGMENTS_BENCH_SIZES=1000000,10000000 cargo bench -p segments-benches --bench builder` more.

mod support;

#[path = "../examples/data/accounts.rs"]
mod accounts;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::engine::Draft;
use segments::segment::{Actor, NewSegment, Role};
use segments::{Filter, Timestamp};
use support::{AT_RISK, MIXED10};

fn sizes() -> Vec<usize> {
    std::env::var("SEGMENTS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000])
}

fn bench(c: &mut Criterion) {
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let mixed10 = Filter::from_json(MIXED10).expect("a valid filter");
    for n in sizes() {
        let mut e = accounts::engine(n, 20261123);
        let admin = Actor::new("bench", Role::Admin);
        let at_risk = Filter::from_json(AT_RISK).expect("a valid filter");
        let (seg, _) = e
            .create_segment(&admin, NewSegment::new("At risk", "account").filter(at_risk))
            .expect("a valid segment");
        let rule = e.segments().get(seg).expect("just made").rules[0];
        let edit = Draft::EditRule {
            rule,
            filter: mixed10.clone(),
        };
        let counts = e.builder().counts("account", &mixed10, now).expect("valid");
        let preview = e.builder().preview(&edit, 20, now).expect("valid");
        eprintln!(
            "[{n} accounts] mixed10 matches {}; preview of At risk -> mixed10: {} -> {} ({} in, {} out)",
            counts.matches, preview.before, preview.after, preview.entering, preview.exiting
        );
        let label = if n % 1_000_000 == 0 {
            format!("{}M", n / 1_000_000)
        } else {
            n.to_string()
        };
        let mut g = c.benchmark_group(format!("builder/{label}"));
        g.sample_size(20).measurement_time(Duration::from_secs(5));
        // The baseline: one evaluation of the same filter.
        g.bench_function("evaluate_mixed10", |b| {
            b.iter(|| e.query("account").evaluate(black_box(&mixed10), now).expect("valid"))
        });
        g.bench_function("counts_mixed10", |b| {
            b.iter(|| e.builder().counts("account", black_box(&mixed10), now).expect("valid"))
        });
        g.bench_function("preview_edit_mixed10", |b| {
            b.iter(|| e.builder().preview(black_box(&edit), 20, now).expect("valid"))
        });
        g.bench_function("explain_mixed10", |b| {
            b.iter(|| {
                e.builder()
                    .explain("account", black_box(&mixed10), "a00000042", now)
                    .expect("valid")
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
