//! The cost of keeping the engine on a directory.
//!
//! `cargo bench -p segments-benches --bench journal` times, with baselines from the same run:
//!
//! - `update_one`: one entity update with 1,000 segments defined, on an
//!   engine opened on a directory in `Durability::Os` (`update_one_os`)
//!   against the same update in memory (`update_one_memory`, a clone of the
//!   same state);
//! - `full_commit`: one-row upserts in `Durability::Full`, each durable
//!   before the next: one writer (`full_1_writer`), and four writers
//!   behind a mutex sharing syncs (`full_4_writers`, group commit), against
//!   SQLite in WAL mode with `synchronous=FULL` doing the same one-row
//!   writes, one transaction each (`sqlite_wal_full`); 64 writes an
//!   iteration;
//! - `replay`: opening a directory whose snapshot holds 1,000 accounts
//!   (`SEGMENTS_REPLAY_ACCOUNTS` to change) and whose journal holds
//!   100,000 one-entity upserts (a throughput in ops per second).
//! - `checkpoint`: a checkpoint of 100,000 accounts
//!   (`SEGMENTS_CHECKPOINT_ACCOUNTS` to change) after one op, whole
//!   (`checkpoint`), and the part that holds the engine when the file is
//!   written in the background (`start_checkpoint`: the writers' pause);
//!   against cloning the engine (`clone_only`).
//!
//! `SEGMENTS_BENCH_SIZE=N` changes the number of accounts (default 100k).
//! The directories go to `SEGMENTS_BENCH_DIR`, or the system's temporary
//! directory (which must be on a real disk for `full_commit` to mean
//! anything).

#[allow(dead_code)]
#[path = "../examples/data/accounts.rs"]
mod accounts;
mod support;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use segments::filter::{field, Node};
use segments::journal::{Durability, Options};
use segments::segment::{Actor, NewSegment, Role};
use segments::{DataOp, Engine, Filter, Op, Row, Schema};
use support::size_or;

fn dir(name: &str) -> PathBuf {
    let base = std::env::var_os("SEGMENTS_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let d = base.join(format!("segments-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn schema() -> Schema {
    Schema::new([accounts::kind()]).expect("a valid schema")
}

fn rows(n: usize) -> Vec<(String, Row)> {
    let mut r = accounts::Rng::new(7);
    (0..n).map(|i| (format!("a{i:08}"), accounts::row(&mut r))).collect()
}

fn update_one(c: &mut Criterion) {
    let n = size_or(100_000);
    let d = dir("update");
    let options = Options::new(schema()).durability(Durability::Os).checkpoint_bytes(None);
    let (mut e, _) = Engine::open(&d, options).expect("a fresh directory");
    e.insert_many("account", rows(n)).expect("generated rows are valid");
    let admin = Actor::new("bench", Role::Admin);
    for i in 0..1000 {
        let filter = if i < 100 {
            Filter::and([Node::from(field("health").lt(i as i64 + 1)), field("nps").le(10).into()])
        } else {
            Filter::and([field("mrr").gt(100 + i as i64)])
        };
        e.create_segment(&admin, NewSegment::new(format!("s{i}"), "account").filter(filter))
            .expect("valid segments");
    }
    e.checkpoint().expect("a checkpoint");
    let mut memory = e.clone();
    let key = "a00000042";
    let mut g = c.benchmark_group(format!("journal/{n}"));
    let mut flip = false;
    g.bench_function("update_one_os", |b| {
        b.iter(|| {
            flip = !flip;
            let health = if flip { 0.5 } else { 99.5 };
            black_box(
                e.upsert("account", key, Row::new().set("health", health))
                    .expect("a live key"),
            )
        })
    });
    g.bench_function("update_one_memory", |b| {
        b.iter(|| {
            flip = !flip;
            let health = if flip { 0.5 } else { 99.5 };
            black_box(
                memory
                    .upsert("account", key, Row::new().set("health", health))
                    .expect("a live key"),
            )
        })
    });
    g.finish();
    drop(e);
    let _ = std::fs::remove_dir_all(&d);
}

const WRITES: u64 = 64;

fn upsert(i: u64) -> Op {
    Op::Data(DataOp::Upsert {
        kind: "account".into(),
        key: format!("a{:08}", i % 1000),
        row: Row::new().set("mrr", (i % 5000) as i64),
    })
}

fn full_commit(c: &mut Criterion) {
    let d = dir("full");
    let options = Options::new(schema())
        .durability(Durability::Full)
        .checkpoint_bytes(Some(16 << 20));
    let (e, _) = Engine::open(&d, options).expect("a fresh directory");
    let e = Mutex::new(e);
    let mut g = c.benchmark_group("journal/full_commit");
    g.throughput(Throughput::Elements(WRITES));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(8));
    let mut i = 0u64;
    g.bench_function("full_1_writer", |b| {
        b.iter(|| {
            for _ in 0..WRITES {
                i += 1;
                e.lock().unwrap().apply(upsert(i)).expect("a valid op");
            }
        })
    });
    g.bench_function("full_4_writers", |b| {
        b.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                std::thread::scope(|s| {
                    for w in 0..4u64 {
                        let e = &e;
                        s.spawn(move || {
                            for k in 0..WRITES / 4 {
                                let (_, commit) = e
                                    .lock()
                                    .unwrap()
                                    .apply_deferred(upsert(w * 100 + k))
                                    .expect("a valid op");
                                commit.wait().expect("a sync");
                            }
                        });
                    }
                });
            }
            t0.elapsed()
        })
    });
    let sq = dir("sqlite");
    std::fs::create_dir_all(&sq).expect("a directory");
    let db = rusqlite::Connection::open(sq.join("bench.db")).expect("sqlite opens");
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE account (key TEXT PRIMARY KEY, mrr INTEGER);",
    )
    .expect("sqlite set up");
    let mut stmt = db
        .prepare("INSERT INTO account (key, mrr) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET mrr = excluded.mrr")
        .expect("a statement");
    let mut j = 0u64;
    g.bench_function("sqlite_wal_full", |b| {
        b.iter(|| {
            for _ in 0..WRITES {
                j += 1;
                // Autocommit: one transaction, one sync, per write.
                stmt.execute(rusqlite::params![format!("a{:08}", j % 1000), (j % 5000) as i64])
                    .expect("an insert");
            }
        })
    });
    g.finish();
    drop(stmt);
    drop(db);
    drop(e);
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(&sq);
}

fn replay(c: &mut Criterion) {
    const OPS: u64 = 100_000;
    let d = dir("replay");
    let options = || Options::new(schema()).durability(Durability::Os).checkpoint_bytes(None);
    {
        let (mut e, _) = Engine::open(&d, options()).expect("a fresh directory");
        e.insert_many("account", rows(size_or_var("SEGMENTS_REPLAY_ACCOUNTS", 1000)))
            .expect("generated rows are valid");
        e.checkpoint().expect("a checkpoint");
        for i in 0..OPS {
            e.apply(upsert(i)).expect("a valid op");
        }
    }
    let mut g = c.benchmark_group("journal/replay");
    g.throughput(Throughput::Elements(OPS));
    g.sample_size(10);
    g.bench_function(
        format!(
            "open_100k_ops_{}_accounts",
            size_or_var("SEGMENTS_REPLAY_ACCOUNTS", 1000)
        ),
        |b| {
            b.iter(|| {
                let (e, report) = Engine::open(&d, options()).expect("the directory opens");
                assert_eq!(report.replayed, OPS);
                black_box(e)
            })
        },
    );
    g.finish();
    let _ = std::fs::remove_dir_all(&d);
}

fn checkpoint(c: &mut Criterion) {
    let n = size_or_var("SEGMENTS_CHECKPOINT_ACCOUNTS", 100_000);
    let d = dir("checkpoint");
    let options = Options::new(schema()).durability(Durability::Os).checkpoint_bytes(None);
    let (mut e, _) = Engine::open(&d, options).expect("a fresh directory");
    e.insert_many("account", rows(n)).expect("generated rows are valid");
    let mut g = c.benchmark_group("journal/checkpoint");
    g.sample_size(10);
    let mut i = 0;
    g.bench_function(format!("{n}_accounts"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                i += 1;
                e.apply(upsert(i)).expect("a valid op");
                let t0 = Instant::now();
                black_box(e.checkpoint().expect("a checkpoint"));
                spent += t0.elapsed();
            }
            spent
        })
    });
    // The writers' pause of a checkpoint that writes its file in the
    // background: the journal rotated and the state encoded.
    g.bench_function(format!("{n}_accounts_pause"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                i += 1;
                e.apply(upsert(i)).expect("a valid op");
                let t0 = Instant::now();
                black_box(e.start_checkpoint().expect("a checkpoint"));
                spent += t0.elapsed();
                e.wait_checkpoint().expect("a durable checkpoint");
            }
            spent
        })
    });
    // What a checkpoint that wrote a copy in the background would hold the
    // engine for.
    g.bench_function(format!("{n}_accounts_clone_only"), |b| b.iter(|| black_box(e.clone())));
    g.finish();
    drop(e);
    let _ = std::fs::remove_dir_all(&d);
}

fn size_or_var(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

criterion_group!(benches, update_one, full_commit, replay, checkpoint);
criterion_main!(benches);
