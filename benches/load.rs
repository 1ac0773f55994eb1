//! Lenient JSON Lines loads against the strict load in the same run, on
//! 200,000 lines of three fields (`SEGMENTS_BENCH_SIZE` to change): a clean
//! input, and one with a bad line in a hundred; and the same rows loaded
//! from Arrow record batches and from a Parquet file in memory.

mod support;

use std::hint::black_box;
use std::time::Duration;

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use segments::parquet::arrow::ArrowWriter;
use segments::{FieldType, KindSchema, Table};

fn kind() -> KindSchema {
    KindSchema::new(
        "account",
        [
            ("nps", FieldType::Int),
            ("plan", FieldType::String),
            ("health", FieldType::Float),
        ],
    )
    .expect("a valid schema")
}

fn lines(n: usize, bad_every: Option<usize>) -> Vec<u8> {
    let plans = ["free", "pro", "team", "enterprise"];
    let mut out = String::with_capacity(n * 64);
    for i in 0..n {
        if bad_every.is_some_and(|k| i % k == k - 1) {
            out.push_str(&format!("{{\"key\": \"a{i}\", \"nps\": \"not a number\"}}\n"));
        } else {
            out.push_str(&format!(
                "{{\"key\": \"a{i}\", \"nps\": {}, \"plan\": \"{}\", \"health\": {}.5}}\n",
                i % 11,
                plans[i % 4],
                i % 100
            ));
        }
    }
    out.into_bytes()
}

/// The rows of `lines(n, None)` as record batches of 64Ki rows.
fn record_batches(n: usize) -> Vec<RecordBatch> {
    let plans = ["free", "pro", "team", "enterprise"];
    (0..n)
        .step_by(1 << 16)
        .map(|start| {
            let rows = start..n.min(start + (1 << 16));
            let cols: [(&str, ArrayRef); 4] = [
                (
                    "key",
                    Arc::new(rows.clone().map(|i| format!("a{i}")).map(Some).collect::<StringArray>()),
                ),
                (
                    "nps",
                    Arc::new(rows.clone().map(|i| (i % 11) as i64).collect::<Int64Array>()),
                ),
                (
                    "plan",
                    Arc::new(rows.clone().map(|i| Some(plans[i % 4])).collect::<StringArray>()),
                ),
                (
                    "health",
                    Arc::new(rows.map(|i| (i % 100) as f64 + 0.5).collect::<Float64Array>()),
                ),
            ];
            RecordBatch::try_from_iter(cols).expect("equal lengths")
        })
        .collect()
}

/// `batches` as a Parquet file (arrow-rs's defaults: dictionary pages,
/// no compression).
fn parquet_file(batches: &[RecordBatch]) -> bytes::Bytes {
    let mut file = Vec::new();
    let mut w = ArrowWriter::try_new(&mut file, batches[0].schema(), None).expect("a schema");
    for b in batches {
        w.write(b).expect("written");
    }
    w.close().expect("closed");
    file.into()
}

fn bench(c: &mut Criterion) {
    let n = support::size_or(200_000);
    let clean = lines(n, None);
    let batches = record_batches(n);
    let parquet = parquet_file(&batches);
    let dirty = lines(n, Some(100));
    let mut g = c.benchmark_group(format!("load/{n}"));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("strict_clean", |b| {
        b.iter(|| {
            let mut t = Table::new(kind());
            t.insert_json_lines(black_box(&clean[..])).expect("clean");
            t
        })
    });
    g.bench_function("arrow", |b| {
        b.iter(|| {
            let mut t = Table::new(kind());
            t.insert_arrow(black_box(&batches)).expect("clean");
            t
        })
    });
    g.bench_function("parquet", |b| {
        b.iter(|| {
            let mut t = Table::new(kind());
            t.insert_parquet(black_box(parquet.clone())).expect("clean");
            t
        })
    });
    g.bench_function("lenient_clean", |b| {
        b.iter(|| {
            let mut t = Table::new(kind());
            t.insert_json_lines_lenient(black_box(&clean[..]), 100).expect("loads")
        })
    });
    g.bench_function("lenient_one_percent_bad", |b| {
        b.iter(|| {
            let mut t = Table::new(kind());
            t.insert_json_lines_lenient(black_box(&dirty[..]), 100).expect("loads")
        })
    });
    g.finish();
}

/// With `SEGMENTS_PEERS_DIR=DIR` (as `shared/bench/peers.py --write DIR`
/// leaves it) and `SEGMENTS_BENCH_SIZES` (default 1000000), the load of
/// `DIR/N/entities.jsonl` from the file, timed to a queryable table
/// (indexes built), as `benches/peers_load.py` times DuckDB and polars on
/// the same file (group `peers_load/N`); and, where `peers_load.py
/// --write-parquet` wrote it, the load of `DIR/N/entities.parquet`.
fn peers(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("SEGMENTS_PEERS_DIR") else {
        return;
    };
    let sizes = std::env::var("SEGMENTS_BENCH_SIZES").unwrap_or_else(|_| "1000000".into());
    for n in sizes.split(',').filter_map(|x| x.trim().parse::<usize>().ok()) {
        let d = std::path::Path::new(&dir).join(n.to_string());
        let Ok(schema) = std::fs::read_to_string(d.join("schema.json")) else {
            eprintln!("[peers_load] no {}; skipped", d.join("schema.json").display());
            continue;
        };
        let kind = KindSchema::from_json("account", &schema).expect("peers' schema is valid");
        let path = d.join("entities.jsonl");
        let mut g = c.benchmark_group(format!("peers_load/{n}"));
        g.sample_size(10)
            .measurement_time(Duration::from_secs(if n > 2_000_000 { 60 } else { 10 }));
        g.bench_function("insert_json_lines", |b| {
            b.iter(|| {
                let file = std::fs::File::open(&path).expect("peers' entities");
                let mut t = Table::new(kind.clone());
                t.insert_json_lines(std::io::BufReader::with_capacity(1 << 20, file))
                    .expect("peers' rows are valid");
                t
            })
        });
        let parquet = d.join("entities.parquet");
        if parquet.exists() {
            g.bench_function("insert_parquet", |b| {
                b.iter(|| {
                    let file = std::fs::File::open(&parquet).expect("peers' entities");
                    let mut t = Table::new(kind.clone());
                    t.insert_parquet(file).expect("peers' rows are valid");
                    t
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench, peers);
criterion_main!(benches);
