//! Crash tests with real processes: a child process applies a stream of ops
//! to a directory and is killed with SIGKILL at a random moment; the
//! directory, reopened, must hold exactly the ops acknowledged before the
//! kill (with `Durability::Full`), perhaps with the one in flight, and in
//! the other modes a prefix of the ops attempted. Compared with a model
//! that applied the same ops in memory, by the bytes of a snapshot of each.
//!
//! The child is this test binary run again with `SEGMENTS_CRASH_CHILD` set
//! (the test `child` does nothing otherwise).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use segments::filter::field;
use segments::journal::{Durability, Options};
use segments::segment::{Actor, NewSegment, Role, SegmentId};
use segments::{DataOp, Engine, FieldType, Filter, LogOp, ManageOp, Op, Row, Schema, TimeOp, Timestamp};

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("mrr", FieldType::Int), ("seen", FieldType::Timestamp)])
        .build()
        .unwrap()
}

fn t(i: u64) -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000 + i as i64 * 1_000_000)
}

/// A small deterministic generator (the ops must be the same in the child
/// and in the model).
fn mix(i: u64) -> u64 {
    let mut x = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `i`th op: mostly entity writes (some in batches), and segment
/// management, manual membership, rule edits and refreshes.
fn op(i: u64) -> Op {
    let admin = Actor::new("ada", Role::Admin);
    let h = mix(i);
    let key = |n: u64| format!("k{}", n % 300);
    let segment = SegmentId(1 + (h >> 20) % 4);
    match h % 100 {
        0..=49 => Op::Data(DataOp::Upsert {
            kind: "account".into(),
            key: key(h >> 8),
            row: Row::new().set("mrr", ((h >> 16) % 1000) as i64).set("seen", t(i)),
        }),
        50..=59 => Op::Data(DataOp::UpsertMany {
            kind: "account".into(),
            rows: (0..20)
                .map(|j| {
                    (
                        key((h >> 8) + j * 7),
                        Row::new().set("mrr", ((h >> (j % 40)) % 1000) as i64),
                    )
                })
                .collect(),
        }),
        60..=67 => Op::Data(DataOp::Delete {
            kind: "account".into(),
            key: key(h >> 8),
        }),
        68..=70 => Op::Manage(ManageOp::CreateSegment {
            actor: admin,
            segment: NewSegment::new(format!("s{i}"), "account")
                .filter(Filter::and([field("mrr").ge(((h >> 12) % 1000) as i64)])),
        }),
        71..=78 => Op::Manage(ManageOp::AddMembers {
            actor: admin,
            segment,
            keys: vec![key(h >> 8), key(h >> 9)],
        }),
        79..=86 => Op::Manage(ManageOp::RemoveMembers {
            actor: admin,
            segment,
            keys: vec![key(h >> 8)],
        }),
        87..=91 => Op::Manage(ManageOp::SetFilter {
            actor: admin,
            segment,
            filter: Some(Filter::and([
                field("seen").within_last(1 + (h >> 30) % 50, segments::filter::TimeUnit::Minutes)
            ])),
        }),
        92..=94 => Op::Manage(ManageOp::ClearAllBlocks { actor: admin, segment }),
        // A consumer's cursor (refused while the log is shorter).
        95 => Op::Log(LogOp::Ack {
            consumer: "webhook".into(),
            seq: i / 2,
        }),
        _ => Op::Time(TimeOp::Refresh { now: t(i) }),
    }
}

fn bytes(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.save(&mut out).unwrap();
    out
}

fn options(mode: Durability) -> Options {
    // Small checkpoints, so that kills land in them too.
    Options::new(schema()).durability(mode).checkpoint_bytes(Some(48 << 10))
}

fn mode_of(n: u64) -> Durability {
    match n % 4 {
        0 | 1 => Durability::Full,
        2 => Durability::Interval(Duration::from_millis(2)),
        _ => Durability::Os,
    }
}

/// The child: opens the directory and applies ops from `START` on,
/// printing `ack <i>` once each returns, until it is killed.
#[test]
fn child() {
    let Ok(dir) = std::env::var("SEGMENTS_CRASH_CHILD") else {
        return;
    };
    let start: u64 = std::env::var("SEGMENTS_CRASH_START").unwrap().parse().unwrap();
    let mode = mode_of(std::env::var("SEGMENTS_CRASH_MODE").unwrap().parse().unwrap());
    let (mut e, _) = Engine::open(&dir, options(mode)).unwrap();
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(out, "open").unwrap();
    out.flush().unwrap();
    for i in start.. {
        let _ = e.apply_at(op(i), t(i));
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn killed_at_random_moments_nothing_acknowledged_is_lost() {
    let kills: u64 = std::env::var("SEGMENTS_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(200);
    let dir: PathBuf = std::env::temp_dir().join(format!("segments-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exe = std::env::current_exe().unwrap();
    let mut model = Engine::new(schema());
    // The next op the directory has not seen.
    let mut next = 0u64;
    let started = Instant::now();
    let mut in_flight_recovered = 0;
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env("SEGMENTS_CRASH_CHILD", &dir)
            .env("SEGMENTS_CRASH_START", next.to_string())
            .env("SEGMENTS_CRASH_MODE", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acked = None;
            let mut opened = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "open" {
                    opened = true;
                } else if let Some(i) = line.strip_prefix("ack ") {
                    acked = i.parse::<u64>().ok();
                }
            }
            (opened, acked)
        });
        // Kill it at a random moment: while it opens, or after some ops.
        std::thread::sleep(Duration::from_micros(mix(round ^ 0xC0FFEE) % 40_000));
        child.kill().unwrap();
        child.wait().unwrap();
        let (_, acked) = reader.join().unwrap();
        // The ops acknowledged: next..=acked. The one after may have been
        // in flight.
        let acked_until = acked.map_or(next, |a| a + 1);
        let (engine, _) = Engine::open(&dir, options(Durability::Full))
            .unwrap_or_else(|e| panic!("round {round}: the directory does not open: {e}"));
        let got = bytes(&engine);
        drop(engine);
        // The state must be the model after some prefix: at least every
        // acknowledged op in the full mode, at most one op past them.
        let least = if matches!(mode_of(round), Durability::Full) {
            acked_until
        } else {
            next
        };
        while next < least {
            let _ = model.apply_at(op(next), t(next));
            next += 1;
        }
        let mut matched = bytes(&model) == got;
        while !matched && next <= acked_until {
            let _ = model.apply_at(op(next), t(next));
            next += 1;
            matched = bytes(&model) == got;
            if matched && next > acked_until {
                in_flight_recovered += 1;
            }
        }
        assert!(
            matched,
            "round {round} ({:?}): the reopened state is no prefix of the ops between {least} and {}",
            mode_of(round),
            acked_until + 1
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{kills} kills in {:.1?}: {next} ops, {in_flight_recovered} in-flight ops recovered",
        started.elapsed()
    );
    assert!(next > kills, "the children applied ops between kills ({next} ops)");
}
