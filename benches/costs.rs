//! Costs that must not grow with the data, each beside a baseline from the
//! same run:
//!
//! - `writes/string_write/<n>`: upserting one new user whose `email` is
//!   one of the column's `n` distinct values (1k, 100k, 1M), against
//!   `writes/int_write/<n>`, the same upsert setting an int field only. The
//!   ratio should not grow with `n`.
//! - `export/200000/page`: one page of 1,000 members, half-way through a
//!   200,000-member segment ordered by a field, against
//!   `export/200000/whole`, the whole export; and
//!   `export/200000/first_after_a_write`, a write of entity data and then
//!   the first page (which sorts the members), and
//!   `export/200000/page_after_a_refresh`, a refresh that changes no member
//!   and then a page (which does not). Paging through is then one sort and a
//!   page's rows a page, not a sort a page.
//!
//! Before criterion's timings it prints the memory of a service's mixed
//! load through the engine (the shape an outside check found at 2.44x
//! the table): 100k accounts, 500k users with string keys related to
//! them, 2M events on the users, from JSON Lines, in batches of 100k
//! lines. It gives the tables' `memory_usage`, the heap they hold and the
//! peak heap during the load (counted by the allocator, above the input),
//! and the resident memory after the load; `SEGMENTS_BENCH_SIZE` scales
//! the users (default 500k; accounts and events in proportion).

mod support;

use segments::engine::JsonLines;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use segments::engine::{Export, ExportOrder};
use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, Row, Schema};

#[global_allocator]
static ALLOCATOR: support::Counting = support::Counting;

/// Resident memory, from /proc (0 where there is none).
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// The highest resident memory of the process so far, from /proc (0
/// where there is none).
fn peak_rss() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn mixed_schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("name", FieldType::String),
                ("plan", FieldType::String),
                ("mrr", FieldType::Float),
                ("health", FieldType::Int),
            ],
        )
        .kind(
            "user",
            [
                ("account_id", FieldType::String),
                ("email", FieldType::String),
                ("role", FieldType::String),
                ("score", FieldType::Int),
                ("active", FieldType::Bool),
            ],
        )
        .relation("user", "account_id", "account")
        .build()
        .expect("valid schema")
}

/// JSON Lines of the mixed load, in batches of at most `batch` lines:
/// accounts, then users, then events.
fn mixed_lines(users: usize, batch: usize) -> Vec<(&'static str, bool, Vec<u8>)> {
    let accounts = users / 5;
    let events = users * 4;
    let h = |i: usize| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    let mut out = Vec::new();
    let mut push = |kind: &'static str, is_events: bool, n: usize, line: &dyn Fn(usize) -> String| {
        for start in (0..n).step_by(batch) {
            let mut text = Vec::new();
            for i in start..(start + batch).min(n) {
                text.extend_from_slice(line(i).as_bytes());
                text.push(b'\n');
            }
            out.push((kind, is_events, text));
        }
    };
    push("account", false, accounts, &|i| {
        format!(
            "{{\"key\":\"acct-{i:07}\",\"name\":\"Company {i}\",\"plan\":\"{}\",\"mrr\":{}.5,\"health\":{}}}",
            ["free", "pro", "team", "enterprise"][(h(i) % 4) as usize],
            h(i) % 5000,
            h(i) % 101
        )
    });
    push("user", false, users, &|i| {
        format!(
            "{{\"key\":\"user-{i:08}\",\"account_id\":\"acct-{:07}\",\"email\":\"user{i}@example.com\",\"role\":\"{}\",\"score\":{},\"active\":{}}}",
            h(i) as usize % accounts,
            ["admin", "member", "viewer"][(h(i) % 3) as usize],
            h(i) % 1000,
            h(i) % 2 == 0
        )
    });
    push("user", true, events, &|i| {
        format!(
            "{{\"key\":\"user-{:08}\",\"event\":\"{}\",\"at\":{}}}",
            h(i) as usize % users,
            ["login", "export", "invite", "search"][i % 4],
            1_790_000_000_000_000u64 + (h(i + 7) % 10_000_000) * 1_000_000
        )
    });
    out
}

/// The mixed load's memory, printed once.
fn mixed_memory() {
    let users = support::size_or(500_000);
    let batches = mixed_lines(users, 100_000);
    let input: usize = batches.iter().map(|(_, _, t)| t.len()).sum();
    let before = support::live();
    let rss_before = rss();
    support::reset_peak();
    let start = std::time::Instant::now();
    let mut e = Engine::new(mixed_schema());
    let mut phase = false;
    for (kind, is_events, text) in &batches {
        if *is_events && !phase {
            phase = true;
            let usage: usize = ["account", "user"]
                .iter()
                .map(|k| e.store().table(k).expect("a kind").memory_usage().total())
                .sum();
            eprintln!(
                "  before the events: memory_usage {:.1} MB, heap held {:.1} MB, resident {:.1} MB",
                usage as f64 / 1e6,
                (support::live() - before) as f64 / 1e6,
                rss().saturating_sub(rss_before) as f64 / 1e6
            );
            for k in ["account", "user"] {
                eprintln!("  {k}: {:?}", e.store().table(k).expect("a kind").memory_usage());
            }
        }
        if *is_events {
            e.load_json_lines(kind, &text[..], JsonLines::events())
                .expect("valid events");
        } else {
            e.load_json_lines(kind, &text[..], JsonLines::insert())
                .expect("valid rows");
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let (peak, held) = (support::peak() - before, support::live() - before);
    let rss_after = rss().saturating_sub(rss_before);
    let rss_peak = peak_rss().saturating_sub(rss_before);
    let usage: usize = ["account", "user"]
        .iter()
        .map(|k| e.store().table(k).expect("a kind").memory_usage().total())
        .sum();
    let events = e.store().table("user").expect("users").memory_usage().events;
    let mb = |b: usize| b as f64 / 1e6;
    eprintln!(
        "mixed load: {} accounts, {users} users, {} events ({:.0} MB of JSON) in {secs:.1} s; tables' memory_usage \
         {:.1} MB (user events {:.1} MB); heap held {:.1} MB ({:.2}x); peak heap above the input {:.1} MB ({:.2}x); \
         resident after the load, above before it, {:.1} MB ({:.2}x); its peak {:.1} MB ({:.2}x)",
        users / 5,
        users * 4,
        mb(input),
        mb(usage),
        mb(events),
        mb(held),
        held as f64 / usage as f64,
        mb(peak),
        peak as f64 / usage as f64,
        mb(rss_after),
        rss_after as f64 / usage as f64,
        mb(rss_peak),
        rss_peak as f64 / usage as f64,
    );
}

fn schema() -> Schema {
    Schema::builder()
        .kind("user", [("email", FieldType::String), ("score", FieldType::Int)])
        .build()
        .expect("valid schema")
}

/// `n` users with distinct emails and scores.
fn users(n: usize) -> Engine {
    let mut e = Engine::new(schema());
    e.insert_many(
        "user",
        (0..n).map(|i| {
            let score = (i as i64).wrapping_mul(7_919) % 100_003;
            (
                format!("u{i}"),
                Row::new()
                    .set("email", format!("user{i}@example.com"))
                    .set("score", score),
            )
        }),
    )
    .expect("bench rows are valid");
    e
}

fn writes(c: &mut Criterion) {
    mixed_memory();
    let mut g = c.benchmark_group("writes");
    g.sample_size(30);
    for n in [1_000, 100_000, 1_000_000] {
        let mut e = users(n);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("string_write", n), |b| {
            b.iter(|| {
                i += 1;
                // One of the column's values: their number stays `n`.
                let row = Row::new().set("email", format!("user{}@example.com", i % n));
                black_box(e.upsert("user", &format!("s{i}"), row).expect("a valid write"))
            })
        });
        g.bench_function(BenchmarkId::new("int_write", n), |b| {
            b.iter(|| {
                i += 1;
                black_box(
                    e.upsert("user", &format!("i{i}"), Row::new().set("score", 5))
                        .expect("a valid write"),
                )
            })
        });
    }
    g.finish();
}

fn paging(c: &mut Criterion) {
    let n = 200_000;
    let mut e = users(n);
    let admin = Actor::new("ada", Role::Admin);
    let (all, _) = e
        .create_segment(&admin, NewSegment::new("All", "user"))
        .expect("a new segment");
    e.add_members(&admin, all, (0..n).map(|i| format!("u{i}")))
        .expect("members");
    let order = ExportOrder::Field {
        field: "score".into(),
        descending: false,
    };
    let spec = Export::new(["email", "score"]).order(order);
    let page = spec.clone().limit(1_000);
    // The token of the page half-way through.
    let mut token = None;
    for _ in 0..100 {
        token = e
            .segments()
            .export(all, &page.clone().after(token), std::io::sink())
            .expect("a page");
    }
    let mut g = c.benchmark_group(format!("export/{n}"));
    g.sample_size(20);
    g.bench_function("page", |b| {
        b.iter(|| {
            black_box(
                e.segments()
                    .export(all, &page.clone().after(token.clone()), std::io::sink())
                    .expect("a page"),
            )
        })
    });
    g.bench_function("whole", |b| {
        b.iter(|| black_box(e.segments().export(all, &spec, std::io::sink()).expect("the export")))
    });
    g.bench_function("page_after_a_refresh", |b| {
        b.iter(|| {
            // A write that changes no data and no member: the order holds.
            e.refresh(segments::Timestamp::from_micros(1_800_000_000_000_000))
                .expect("a refresh");
            black_box(
                e.segments()
                    .export(all, &page.clone().after(token.clone()), std::io::sink())
                    .expect("a page"),
            )
        })
    });
    g.bench_function("first_after_a_write", |b| {
        b.iter(|| {
            e.upsert("user", "u0", Row::new().set("score", 1))
                .expect("a valid write");
            black_box(e.segments().export(all, &page, std::io::sink()).expect("a page"))
        })
    });
    g.finish();
}

criterion_group!(benches, writes, paging);
criterion_main!(benches);
