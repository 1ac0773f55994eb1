//! The engine shared across threads: readers evaluating segments while a
//! writer changes the data, behind a `RwLock`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;

use segments::filter::field;
use segments::segment::{Actor, NewSegment, Role, SegmentId};
use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};

/// Compile-time: an engine can be moved to and shared between threads.
const _: () = {
    const fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Engine>();
    send_sync::<segments::Store>();
    send_sync::<segments::Plan>();
    send_sync::<segments::Error>();
};

const ACCOUNTS: usize = 500;
const STEPS: i64 = 150;

fn key(i: usize) -> String {
    format!("a{i:04}")
}

#[test]
fn readers_never_see_a_write_half_done() {
    let schema = Schema::builder()
        .kind("account", [("version", FieldType::Int), ("health", FieldType::Float)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    e.set_clock(segments::Clock::Fixed(Timestamp::from_micros(0))).unwrap();
    e.insert_many(
        "account",
        (0..ACCOUNTS).map(|i| (key(i), Row::new().set("version", 0).set("health", i as f64))),
    )
    .unwrap();
    let admin = Actor::new("ada", Role::Admin);
    let even = Filter::and([field("version").is_in([0i64, 2, 4, 6, 8])]);
    let odd = Filter::and([field("version").is_in([1i64, 3, 5, 7, 9])]);
    let (seg_even, _) = e
        .create_segment(&admin, NewSegment::new("even", "account").filter(even.clone()))
        .unwrap();
    let (seg_odd, _) = e
        .create_segment(&admin, NewSegment::new("odd", "account").filter(odd.clone()))
        .unwrap();
    let (seg_low, _) = e
        .create_segment(
            &admin,
            NewSegment::new("low", "account").filter(Filter::and([field("health").lt(100)])),
        )
        .unwrap();

    let engine = Arc::new(RwLock::new(e));
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (engine, done, reads) = (engine.clone(), done.clone(), reads.clone());
            let (even, odd) = (even.clone(), odd.clone());
            thread::spawn(move || {
                let mut seen_versions = std::collections::BTreeSet::new();
                while !done.load(Ordering::Acquire) || seen_versions.is_empty() {
                    let e = engine.read().unwrap();
                    let check = |s: SegmentId| e.segments().members(s).unwrap().clone();
                    let (ev, od) = (check(seg_even), check(seg_odd));
                    // One version for all: every account is in exactly one
                    // of the two segments, and all in the same one.
                    assert_eq!(ev.len() + od.len(), ACCOUNTS as u64, "reader {r}: a mixed state");
                    assert!(ev.is_empty() || od.is_empty(), "reader {r}: versions mixed");
                    // Segments agree with a fresh evaluation of the data.
                    let now = e.now();
                    assert_eq!(e.query("account").evaluate(&even, now).unwrap(), ev);
                    assert_eq!(e.query("account").evaluate(&odd, now).unwrap(), od);
                    let t = e.store().table("account").unwrap();
                    let v = t.get(t.id(&key(0)).unwrap(), "version");
                    let last = t.get(t.id(&key(ACCOUNTS - 1)).unwrap(), "version");
                    assert_eq!(v, last, "reader {r}: first and last account disagree");
                    // The moving segment holds exactly the accounts below 100.
                    let low = e.segments().members(seg_low).unwrap();
                    let want = e
                        .query("account")
                        .evaluate(&Filter::and([field("health").lt(100)]), now)
                        .unwrap();
                    assert_eq!(low, &want, "reader {r}: `low` out of date");
                    seen_versions.insert(format!("{v:?}"));
                    reads.fetch_add(1, Ordering::Relaxed);
                    drop(e);
                    thread::yield_now();
                }
                seen_versions
            })
        })
        .collect();

    // The writer: each step moves every account to the next version, one
    // write call per account, and shifts `health` so that `low` changes:
    // all under one write lock, as a service would for one logical change.
    for step in 1..=STEPS {
        let mut e = engine.write().unwrap();
        for i in 0..ACCOUNTS {
            let health = ((i as i64 + step * 37) % ACCOUNTS as i64) as f64;
            e.upsert(
                "account",
                &key(i),
                Row::new().set("version", step % 10).set("health", health),
            )
            .unwrap();
        }
        drop(e);
        // Let a reader in between steps, so reads and writes interleave.
        let before = reads.load(Ordering::Relaxed);
        while reads.load(Ordering::Relaxed) == before && !readers.iter().all(|h| h.is_finished()) {
            thread::yield_now();
        }
    }
    done.store(true, Ordering::Release);
    let mut versions = std::collections::BTreeSet::new();
    for h in readers {
        versions.extend(h.join().unwrap());
    }
    // Every version was seen whole by some reader.
    assert_eq!(versions.len(), 10, "{versions:?}");
}
