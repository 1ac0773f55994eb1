//! What the benches share. Each bench includes this module and calls what
//! it needs of it.
#![allow(dead_code)]

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
