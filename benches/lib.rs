//! The benches of `segments` (`benches/*.rs`, criterion) and the tests of
//! its Arrow and Parquet loads (`benches/tests/`): a workspace member of
//! their own, so that the heavy dependencies they need (criterion, SQLite,
//! arrow-rs) stay out of what the library's examples compile. No code.
//!
//! ```text
//! cargo bench -p segments-benches --bench membership
//! cargo test --release --workspace
//! ```
