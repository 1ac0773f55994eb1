//! What the benches share. Each bench includes this module and calls what
//! it needs of it.
#![allow(dead_code)]

pub mod random_filters;

/// The number of entities to bench with: `SEGMENTS_BENCH_SIZE`, or 1M.
pub fn size() -> usize {
    size_or(1_000_000)
}

/// `SEGMENTS_BENCH_SIZE`, or `default`.
pub fn size_or(default: usize) -> usize {
    std::env::var("SEGMENTS_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The core issue's 10-condition segment over the quickstart's accounts.
pub const MIXED10: &str = r#"{"combinator": "and", "rules": [
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

/// Its two-condition "At risk" segment.
pub const AT_RISK: &str = r#"{"combinator": "and", "rules": [
    {"field": "health", "operator": "<", "value": 30},
    {"field": "nps", "operator": "<", "value": 7}]}"#;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes and their peak, so that a table's memory is
/// measured exactly: the resident set would also count what a load
/// allocated and freed. A bench opts in with
/// `#[global_allocator] static A: support::Counting = support::Counting;`.
/// This is the project's only `unsafe`, in bench binaries alone; every call
/// goes to the system allocator unchanged.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Live heap bytes now.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The highest live heap since the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak from what is live now.
pub fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
