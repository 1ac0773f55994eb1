//! What the benches share.

/// The number of entities to bench with: `SEGMENTS_BENCH_SIZE`, or 1M.
pub fn size() -> usize {
    std::env::var("SEGMENTS_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}
