//! Evaluation of the core issue's segments over the quickstart's accounts.
//!
//! `cargo bench -p segments-benches --bench evaluate` runs 1M and 10M accounts;
//! `SEGMENTS_BENCH_SIZES=1000000 cargo bench -p segments-benches --bench evaluate` runs one size.
//!
//! With `SEGMENTS_PEERS_DIR=DIR` (as written by `shared/bench/peers.py
//! --write DIR`), it also loads `DIR/N/entities.jsonl` for each size through
//! the JSON Lines ingest and times the peers' own filter files on those
//! rows, so that DuckDB's and polars' figures compare with ours on the same
//! data and queries (group `peers_rows/N`).
//! Besides criterion's timings it prints, per size, the load time and the
//! live heap of the table (counted by the allocator) against the raw column
//! bytes (8 per value of each of the 10 fields).

mod support;

#[path = "../examples/data/accounts.rs"]
mod accounts;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use segments::{eval, Filter, KindSchema, LimitPolicy, Plan, Table, Timestamp};

use support::{AT_RISK, MIXED10};

const RANGE_1PCT: &str = r#"{"combinator": "and", "rules": [
    {"field": "score", "operator": "between", "value": [500000, 509999]}]}"#;

fn plan(table: &Table, json: &str) -> Plan {
    Filter::from_json(json)
        .and_then(|f| f.validate(table.schema(), &LimitPolicy::default()))
        .expect("bench filters are valid")
}

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

fn sizes() -> Vec<usize> {
    std::env::var("SEGMENTS_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000, 10_000_000])
}

fn bench(c: &mut Criterion) {
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    for n in sizes() {
        let before = support::live();
        let t = Instant::now();
        let table = accounts::table(n, 20261123);
        let load = t.elapsed();
        let live = support::live() - before;
        let m = table.memory_usage();
        let raw = n * 10 * 8;
        let mb = |b: usize| b as f64 / 1e6;
        eprintln!(
            "[{n} accounts] built in {:.1} s; live heap {:.0} MB = {:.2} x the raw column bytes ({:.0} MB, 8 per value); \
             estimated by the table: keys {:.0} MB, columns {:.0} MB, indexes {:.0} MB",
            load.as_secs_f64(),
            mb(live),
            live as f64 / raw as f64,
            mb(raw),
            mb(m.keys),
            mb(m.columns),
            mb(m.indexes),
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

/// The peers' rows and filters, when `SEGMENTS_PEERS_DIR` names them.
fn peers(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("SEGMENTS_PEERS_DIR") else {
        return;
    };
    for n in sizes() {
        let d = std::path::Path::new(&dir).join(n.to_string());
        let Ok(schema) = std::fs::read_to_string(d.join("schema.json")) else {
            eprintln!("[peers] no {}; skipped", d.join("schema.json").display());
            continue;
        };
        let kind = KindSchema::from_json("account", &schema).expect("peers' schema is valid");
        let mut table = Table::new(kind);
        let t = Instant::now();
        let file = std::fs::File::open(d.join("entities.jsonl")).expect("peers' entities");
        table
            .insert_json_lines(std::io::BufReader::with_capacity(1 << 20, file))
            .expect("peers' rows are valid");
        eprintln!(
            "[peers {n}] loaded {} rows from JSON Lines in {:.2} s",
            table.len(),
            t.elapsed().as_secs_f64()
        );
        let now: Timestamp = std::fs::read_to_string(d.join("now.txt"))
            .expect("now.txt")
            .trim()
            .parse()
            .expect("an RFC 3339 instant");
        let mut g = c.benchmark_group(format!("peers_rows/{n}"));
        g.sample_size(30).measurement_time(Duration::from_secs(4));
        for name in ["at_risk", "mixed10", "range1pct"] {
            let json = std::fs::read_to_string(d.join(format!("{name}.json"))).expect("peers' filter");
            let p = plan(&table, &json);
            eprintln!(
                "[peers {n}] {name}: {} matches",
                eval::evaluate(&p, &table, now).expect("same kind").len()
            );
            g.bench_function(name, |b| b.iter(|| eval::evaluate(black_box(&p), &table, now)));
        }
        g.finish();
        random(c, &table, now, &d, n);
    }
}

/// The fifty random filters of `support::random_filters` over the peers'
/// rows (group `peers_random/N`). Each is also compiled to DuckDB's SQL by
/// the crate, its parameters inlined, and written with its match count
/// to `DIR/N/random.jsonl`, where `benches/peers_random.py` times DuckDB on
/// the same rows, checks the counts and prints the ratios.
fn random(c: &mut Criterion, table: &Table, now: Timestamp, d: &std::path::Path, n: usize) {
    use segments::sql::{self, column_type, Dialect, Mapping};
    let schema = segments::Schema::new([(**table.schema()).clone()]).expect("one kind");
    let mapping = Mapping::new(&schema);
    let columns: serde_json::Map<String, serde_json::Value> = std::iter::once(("key".to_string(), "VARCHAR".into()))
        .chain(
            table
                .schema()
                .fields()
                .map(|(_, name, ty)| (name.to_string(), column_type(ty, Dialect::DuckDb).into())),
        )
        .collect();
    let mut out = serde_json::json!({"columns": columns}).to_string() + "\n";
    let mut g = c.benchmark_group(format!("peers_random/{n}"));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    // The first FILTERS candidates, at most five of them matching nothing
    // and five everything (the contradictions and tautologies random
    // filters are full of; enough to see that they are found early).
    let (mut empty, mut full) = (0, 0);
    let chosen: Vec<(String, Plan, u64)> = support::random_filters::candidates()
        .map(|json| {
            let p = plan(table, &json);
            let m = eval::evaluate(&p, table, now).expect("same kind").len();
            (json, p, m)
        })
        .filter(|&(_, _, m)| {
            if m == 0 {
                empty += 1;
                empty <= 5
            } else if m == table.len() {
                full += 1;
                full <= 5
            } else {
                true
            }
        })
        .take(support::random_filters::FILTERS)
        .collect();
    for (i, (json, p, matches)) in chosen.iter().enumerate() {
        let q = sql::compile(p, &mapping, Dialect::DuckDb).expect("every generated filter compiles");
        let mut text = q.text().to_string();
        // Each placeholder casts its text (`$1::BIGINT`): a quoted string
        // literal in its place is read the same. Highest first, so that
        // `$1` does not eat the start of `$10`.
        for (k, v) in q.bind(now).iter().enumerate().rev() {
            let literal = format!("'{}'", v.to_sql_text(Dialect::DuckDb).replace('\'', "''"));
            text = text.replace(&format!("${}", k + 1), &literal);
        }
        let row = serde_json::json!({"i": i, "filter": json, "sql": text, "matches": matches});
        out += &(row.to_string() + "\n");
        g.bench_function(format!("{i:02}"), |b| {
            b.iter(|| eval::evaluate(black_box(p), table, now))
        });
    }
    g.finish();
    if let Err(e) = std::fs::write(d.join("random.jsonl"), out) {
        eprintln!("[peers {n}] could not write random.jsonl: {e}");
    }
}

criterion_group!(benches, bench, peers);
criterion_main!(benches);
