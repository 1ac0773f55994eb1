//! `Table::memory_usage` against the allocator's own count: the estimate a
//! service sizes its machines by must be near the heap the table holds.
//! (One test in this binary, running each check in turn, so that no other
//! thread allocates meanwhile.)

use segments::engine::JsonLines;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use segments::{Engine, FieldType, KindSchema, Schema, Table};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: defers to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - layout.size() as isize, Ordering::Relaxed);
        System.realloc(ptr, layout, new)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn memory_usage_is_near_the_heap_held() {
    the_estimate_is_near_the_heap_the_table_holds();
    a_mixed_load_holds_what_memory_usage_says();
}

fn the_estimate_is_near_the_heap_the_table_holds() {
    let kind = KindSchema::new(
        "account",
        [
            ("health", FieldType::Float),
            ("seats", FieldType::Int),
            ("plan", FieldType::String),
            ("paying", FieldType::Bool),
            ("email", FieldType::String),
        ],
    )
    .unwrap();
    let n = 300_000;
    let mut text = String::new();
    for i in 0..n {
        let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        text += &format!(
            "{{\"key\":\"acct-{i:07}\",\"health\":{},\"seats\":{},\"plan\":\"{}\",\"paying\":{},\"email\":\"u{}@example.com\"}}\n",
            h % 1000,
            h % 977,
            ["free", "pro", "team"][(h % 3) as usize],
            h % 2 == 0,
            h % 100_000
        );
    }
    let before = LIVE.load(Ordering::Relaxed);
    let mut t = Table::new(kind);
    t.insert_json_lines(text.as_bytes()).unwrap();
    let held = (LIVE.load(Ordering::Relaxed) - before) as f64;
    let m = t.memory_usage();
    let estimated = m.total() as f64;
    let ratio = estimated / held;
    assert!(
        (0.8..1.25).contains(&ratio),
        "estimated {estimated} bytes (keys {}, columns {}, indexes {}) for {held} held: {ratio:.2}x",
        m.keys,
        m.columns,
        m.indexes
    );
    drop(t);
}

/// A service's mixed load (accounts, users with string keys related to
/// them, events on the users): what `memory_usage` says is near the heap
/// the engine holds, and the heap per user stays where the fixes of an
/// outside check put it (a bitmap a distinct value made at its size, an
/// entity's few instants of an event held inline).
fn a_mixed_load_holds_what_memory_usage_says() {
    let schema = Schema::builder()
        .kind("account", [("name", FieldType::String), ("mrr", FieldType::Float)])
        .kind(
            "user",
            [
                ("account_id", FieldType::String),
                ("email", FieldType::String),
                ("score", FieldType::Int),
            ],
        )
        .relation("user", "account_id", "account")
        .build()
        .unwrap();
    let (accounts, users, events) = (20_000, 100_000, 400_000);
    let h = |i: usize| ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize;
    let mut batches: Vec<(&str, bool, String)> = Vec::new();
    let mut text = String::new();
    for i in 0..accounts {
        text += &format!(
            "{{\"key\":\"acct-{i}\",\"name\":\"Company {i}\",\"mrr\":{}.5}}\n",
            h(i) % 5000
        );
    }
    batches.push(("account", false, std::mem::take(&mut text)));
    for chunk in 0..4 {
        for i in chunk * users / 4..(chunk + 1) * users / 4 {
            text += &format!(
                "{{\"key\":\"user-{i}\",\"account_id\":\"acct-{}\",\"email\":\"user{i}@example.com\",\"score\":{}}}\n",
                h(i) % accounts,
                h(i) % 1000
            );
        }
        batches.push(("user", false, std::mem::take(&mut text)));
    }
    for chunk in 0..4 {
        for i in chunk * events / 4..(chunk + 1) * events / 4 {
            text += &format!(
                "{{\"key\":\"user-{}\",\"event\":\"{}\",\"at\":{}}}\n",
                h(i) % users,
                ["login", "export", "invite", "search"][i % 4],
                1_790_000_000_000_000u64 + (h(i + 7) as u64 % 10_000_000) * 1_000_000
            );
        }
        batches.push(("user", true, std::mem::take(&mut text)));
    }
    let before = LIVE.load(Ordering::Relaxed);
    let mut e = Engine::new(schema);
    for (kind, is_events, text) in &batches {
        if *is_events {
            e.load_json_lines(kind, text.as_bytes(), JsonLines::events()).unwrap();
        } else {
            e.load_json_lines(kind, text.as_bytes(), JsonLines::insert()).unwrap();
        }
    }
    let held = (LIVE.load(Ordering::Relaxed) - before) as f64;
    let usage: usize = ["account", "user"]
        .iter()
        .map(|k| e.store().table(k).unwrap().memory_usage().total())
        .sum();
    let ratio = usage as f64 / held;
    let per_user = held / users as f64;
    println!("held {held} bytes, memory_usage {usage} ({ratio:.2}x), {per_user:.0} bytes a user");
    // With bitmaps built by inserting again (192 bytes of heap for the
    // bitmap of one email, against 66 made at its size) this load holds
    // 621 bytes a user and memory_usage says 0.81x of it; after the fixes,
    // 467 bytes and 1.05x.
    assert!(
        (0.9..1.1).contains(&ratio),
        "memory_usage {usage} for {held} held: {ratio:.2}x"
    );
    assert!(per_user < 560.0, "{per_user:.0} bytes a user");
    drop(e);
}
