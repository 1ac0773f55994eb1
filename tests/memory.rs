//! `Table::memory_usage` against the allocator's own count: the estimate a
//! service sizes its machines by must be near the heap the table holds.
//! (One test in this binary, so that no other thread allocates meanwhile.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use segments::{FieldType, KindSchema, Table};

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
