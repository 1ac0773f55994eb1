//! Parquet loads: any bytes given to `Table::insert_parquet` are loaded
//! whole or refused with an error, never a panic (arrow-rs's own panics on
//! damaged files are contained at the crate's boundary), and a refused load
//! leaves the table as it was. Seeds: the test fixtures, written by
//! pyarrow, DuckDB and polars.

#![no_main]

use libfuzzer_sys::fuzz_target;
use segments::{FieldType, KindSchema, Table};

fn table() -> Table {
    let kind = KindSchema::new(
        "account",
        [
            ("health", FieldType::Float),
            ("nps", FieldType::Int),
            ("plan", FieldType::String),
            ("paying", FieldType::Bool),
            ("at", FieldType::Timestamp),
            ("tags", FieldType::Tags),
        ],
    )
    .expect("a valid kind");
    Table::new(kind)
}

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys's panic hook aborts on every panic, also on those the
    // crate contains (arrow-rs panics on some damaged files). A panic that
    // escapes `insert_parquet` still fails the run: libfuzzer-sys aborts on
    // any panic out of this closure.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let bytes = bytes::Bytes::copy_from_slice(data);
    let mut t = table();
    if t.insert_parquet(bytes).is_err() {
        assert!(t.is_empty(), "a refused load leaves the table empty");
    }
});
