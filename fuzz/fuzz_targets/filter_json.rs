//! Filter JSON: parse, validate against a schema with relations, evaluate
//! through the indexes, and compare with the row-by-row scan.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use segments::{Engine, Filter, Timestamp};

#[path = "common.rs"]
mod common;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(common::populated)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(filter) = Filter::from_json(text) else { return };
    // The JSON form reads back as the same filter.
    let again = Filter::from_json(&filter.to_json_value().to_string()).expect("a filter's own JSON parses");
    assert_eq!(again, filter);
    let e = engine();
    let now = Timestamp::from_micros(common::NOW);
    for kind in ["account", "user"] {
        let fast = e.query(kind).evaluate(&filter, now);
        let slow = segments::testing::scan(&e, kind, &filter, now);
        match (fast, slow) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "indexes and scan disagree on {text}"),
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!("one path failed: {a:?} vs {b:?}"),
        }
    }
});
