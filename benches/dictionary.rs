//! Hostile-input costs: `contains` over a dictionary of N distinct words
//! (SEGMENTS_BENCH_SIZE, default 10M), against the per-word scan it
//! replaced, measured in the same run (after a first search that builds
//! the trigram index, timed once); and one JSON line of 5 to 40 MB
//! through an 8 KiB `BufReader`.
//!
//! Before criterion's timings it prints, once, the load of the N distinct
//! one-field rows from JSON Lines: seconds, the table's live heap and the
//! peak heap during the load (both counted by the allocator, above the
//! input), and their ratio.

mod support;

use std::hint::black_box;
use std::io::BufReader;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use segments::{eval, stats, FieldType, Filter, KindSchema, LimitPolicy, Table, Timestamp};

fn schema() -> KindSchema {
    KindSchema::new("account", [("email", FieldType::String)]).expect("valid schema")
}

/// The `i`th distinct word: an email-like string of about 28 bytes.
fn word(i: usize) -> String {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("user{i}.{:08x}@example.com", h >> 32)
}

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

fn load(n: usize) -> Table {
    let mut json = Vec::with_capacity(n * 48);
    for i in 0..n {
        json.extend_from_slice(format!("{{\"key\":\"k{i}\",\"email\":\"{}\"}}\n", word(i)).as_bytes());
    }
    let before = support::live();
    support::reset_peak();
    let start = Instant::now();
    let mut t = Table::new(schema());
    t.insert_json_lines(&json[..]).expect("bench rows are valid");
    let secs = start.elapsed().as_secs_f64();
    let (peak, table) = (support::peak() - before, support::live() - before);
    let mb = |b: usize| b as f64 / 1e6;
    eprintln!(
        "load of {n} distinct one-field rows ({:.0} MB of JSON): {secs:.1} s; live heap of the table {:.0} MB \
         (its own estimate {:.0} MB); peak heap of the load above the input {:.0} MB; peak / table = {:.2}",
        mb(json.len()),
        mb(table),
        mb(t.memory_usage().total()),
        mb(peak),
        peak as f64 / table.max(1) as f64
    );
    t
}

/// The first `contains` of three bytes or more builds the trigram index
/// (of a dictionary past 16 MiB): its time and the heap it adds, once;
/// before it, three searches under a budget, which build a round each.
fn first_search(table: &Table, now: Timestamp) {
    let f = Filter::from_json(
        r#"{"combinator":"and","rules":[{"field":"email","operator":"contains","value":"user777."}]}"#,
    )
    .and_then(|f| f.validate(table.schema(), &LimitPolicy::default()))
    .expect("valid filter");
    // Under a budget, a search builds one round of the index and scans
    // the words it does not cover yet.
    let budget = eval::Budget::timeout(std::time::Duration::from_secs(60));
    for k in 1..=3 {
        let start = Instant::now();
        let ids = eval::evaluate_with(&f, table, now, &budget).map(|ids| ids.len());
        eprintln!(
            "contains under a budget, search {k}: {:.1} ms, {ids:?} ids",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    let (before, start) = (support::live(), Instant::now());
    let ids = eval::evaluate(&f, table, now).map(|ids| ids.len());
    let secs = start.elapsed().as_secs_f64();
    let added = support::live().saturating_sub(before) as f64 / 1e6;
    eprintln!(
        "first contains (builds the trigram index): {secs:.2} s, {ids:?} ids; the index holds {added:.0} MB \
         of heap (the table's estimate is now {:.0} MB)",
        table.memory_usage().total() as f64 / 1e6
    );
}

fn contains(c: &mut Criterion) {
    let n = support::size_or(10_000_000);
    let table = load(n);
    let words: Vec<String> = (0..n).map(word).collect();
    let now = Timestamp::now();
    first_search(&table, now);
    let mut g = c.benchmark_group(format!("contains/{n}"));
    g.sample_size(20);
    // A selective pattern (one word in a million), and one that every word has.
    for (name, pat) in [("rare", "user12345."), ("common", "@example")] {
        let f = Filter::from_json(&format!(
            r#"{{"combinator":"and","rules":[{{"field":"email","operator":"contains","value":"{pat}"}}]}}"#
        ))
        .and_then(|f| f.validate(table.schema(), &LimitPolicy::default()))
        .expect("valid filter");
        g.bench_function(BenchmarkId::new("engine", name), |b| {
            b.iter(|| black_box(eval::evaluate(&f, &table, now).map(|ids| ids.len())))
        });
        // The baseline: the per-word scan the engine did before.
        g.bench_function(BenchmarkId::new("scan_baseline", name), |b| {
            b.iter(|| black_box(words.iter().filter(|w| w.contains(pat)).count()))
        });
    }
    g.finish();
    // Autocomplete: the 10 most held values with a prefix, against a scan
    // of every word for the prefix in the same run.
    let mut g = c.benchmark_group(format!("suggest/{n}"));
    g.sample_size(20);
    for (name, prefix) in [("rare", "user12345."), ("thousand", "user9999"), ("short", "us")] {
        g.bench_function(BenchmarkId::new("engine", name), |b| {
            b.iter(|| black_box(stats::value_suggestions(&table, "email", prefix, 10).map(|v| v.len())))
        });
        g.bench_function(BenchmarkId::new("scan_baseline", name), |b| {
            b.iter(|| black_box(words.iter().filter(|w| w.starts_with(prefix)).count()))
        });
    }
    g.finish();
}

/// Building the trigram index of 1M distinct words (31 MB of them): the
/// first search of a fresh copy of the table, against a scan of the same
/// words (the search it replaces) in the same run.
fn trigram_build(c: &mut Criterion) {
    let n = 1_000_000;
    let mut table = Table::new(schema());
    table
        .insert_many((0..n).map(|i| (format!("k{i}"), segments::Row::new().set("email", word(i)))))
        .expect("bench rows are valid");
    let f = Filter::from_json(
        r#"{"combinator":"and","rules":[{"field":"email","operator":"contains","value":"user777."}]}"#,
    )
    .and_then(|f| f.validate(table.schema(), &LimitPolicy::default()))
    .expect("valid filter");
    let words: Vec<String> = (0..n).map(word).collect();
    let now = Timestamp::now();
    let mut g = c.benchmark_group("trigram_build/1000000");
    g.sample_size(10);
    g.bench_function("first_search", |b| {
        b.iter_batched(
            || table.clone(),
            |t| black_box(eval::evaluate(&f, &t, now).map(|ids| ids.len())),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("scan_baseline", |b| {
        b.iter(|| black_box(words.iter().filter(|w| w.contains("user777.")).count()))
    });
    g.finish();
}

fn long_line(c: &mut Criterion) {
    let mut g = c.benchmark_group("long_line");
    g.sample_size(10);
    for mb in [5usize, 10, 20, 40] {
        let mut line = br#"{"key": "a", "email": ""#.to_vec();
        line.resize(mb << 20, b'x');
        line.extend_from_slice(b"\"}\n");
        g.throughput(criterion::Throughput::Bytes(line.len() as u64));
        g.bench_function(BenchmarkId::from_parameter(format!("{mb}MB")), |b| {
            b.iter(|| {
                let mut t = Table::new(schema());
                black_box(t.insert_json_lines(BufReader::new(&line[..])))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, contains, trigram_build, long_line);
criterion_main!(benches);
