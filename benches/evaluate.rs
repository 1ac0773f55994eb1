//! Evaluation of the core issue's segments over the quickstart's accounts.
//!
//! `cargo bench --bench evaluate` runs 1M and 10M accounts;
//! `SEGMENTS_BENCH_SIZES=1000000 cargo bench --bench evaluate` runs one size.
//! Besides criterion's timings it prints, per size, the load time and the
//! memory of the table (estimated from its structures, and as the growth of
//! the process's resident set) against the raw column bytes (8 per value).

#[path = "../examples/data/accounts.rs"]
mod accounts;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use segments::{eval, Filter, LimitPolicy, Plan, Table, Timestamp};

const MIXED10: &str = r#"{"combinator": "and", "rules": [
    {"field": "health", "operator": "<", "value": 30},
    {"combinator": "or", "rules": [
        {"field": "nps", "operator": "<", "value": 7},
        {"field": "mrr", "operator": ">", "value": 1000}]},
    {"field": "plan", "operator": "in", "value": ["pro", "enterprise"]},
    {"field": "country", "operator": "!=", "value": "US"},
    {"field": "paying", "operator": "=", "value": true},
    {"field": "last_seen", "operator": "withinLast", "value": {"amount": 14, "unit": "days"}},
    {"field": "renewal_at", "operator": "withinNext", "value": {"amount": 60, "unit": "days"}},
    {"field": "seats", "operator": "between", "value": [10, 500]},
    {"field": "mrr", "operator": "<", "value": 4000}]}"#;
const AT_RISK: &str = r#"{"combinator": "and", "rules": [
    {"field": "health", "operator": "<", "value": 30},
    {"field": "nps", "operator": "<", "value": 7}]}"#;
const RANGE_1PCT: &str = r#"{"combinator": "and", "rules": [
    {"field": "score", "operator": "between", "value": [500000, 509999]}]}"#;

fn plan(table: &Table, json: &str) -> Plan {
    Filter::from_json(json)
        .and_then(|f| f.validate(table.schema(), &LimitPolicy::default()))
        .expect("bench filters are valid")
}

/// Resident set size of this process, in bytes (Linux; 0 elsewhere).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<usize>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn sizes() -> Vec<usize> {
    std::env::var("SEGMENTS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000, 10_000_000])
}

fn bench(c: &mut Criterion) {
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    for n in sizes() {
        let before = rss();
        let t = Instant::now();
        let table = accounts::table(n, 20261123);
        let load = t.elapsed();
        let grown = rss().saturating_sub(before);
        let m = table.memory_usage();
        let raw = n * 10 * 8;
        eprintln!(
            "[{n} accounts] built in {:.1} s; memory estimated {:.0} MB (keys {:.0}, columns {:.0}, indexes {:.0}), \
             resident growth {:.0} MB; raw column bytes {:.0} MB; columns+indexes / raw = {:.2}, all / raw = {:.2}, resident / raw = {:.2}",
            load.as_secs_f64(),
            m.total() as f64 / 1e6,
            m.keys as f64 / 1e6,
            m.columns as f64 / 1e6,
            m.indexes as f64 / 1e6,
            grown as f64 / 1e6,
            raw as f64 / 1e6,
            (m.columns + m.indexes) as f64 / raw as f64,
            m.total() as f64 / raw as f64,
            grown as f64 / raw as f64,
        );

        let label = if n % 1_000_000 == 0 {
            format!("{}M", n / 1_000_000)
        } else {
            n.to_string()
        };
        let mut g = c.benchmark_group(format!("evaluate/{label}"));
        g.sample_size(30).measurement_time(Duration::from_secs(4));
        for (name, json) in [("mixed10", MIXED10), ("at_risk", AT_RISK), ("range1pct", RANGE_1PCT)] {
            let p = plan(&table, json);
            let want = eval::scan(&p, &table, now).expect("same kind");
            assert_eq!(eval::evaluate(&p, &table, now).expect("same kind"), want, "{name}");
            eprintln!("[{n} accounts] {name}: {} matches", want.len());
            g.bench_function(name, |b| b.iter(|| eval::evaluate(black_box(&p), &table, now)));
        }
        g.finish();

        // The baseline in the same run: the same segment, row by row.
        let mut g = c.benchmark_group(format!("oracle/{label}"));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(if n > 2_000_000 { 20 } else { 5 }));
        let p = plan(&table, MIXED10);
        g.bench_function("mixed10", |b| b.iter(|| eval::scan(black_box(&p), &table, now)));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
