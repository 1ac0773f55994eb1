//! Snapshot restore: the input as a whole snapshot, and as a payload framed
//! with a correct checksum (so that the decoder itself is reached). What
//! restores must save and restore again to the same bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use segments::snapshot::{FORMAT_VERSION, MAGIC};
use segments::{Engine, Timestamp};

#[path = "common.rs"]
mod common;

fn check(bytes: &[u8]) {
    let Ok(e) = Engine::restore(bytes) else { return };
    let mut first = Vec::new();
    e.save(&mut first).expect("saving to memory");
    let r = Engine::restore(&first[..]).expect("a saved engine restores");
    let mut second = Vec::new();
    r.save(&mut second).expect("saving to memory");
    assert_eq!(first, second);
    let now = Timestamp::from_micros(common::NOW);
    for f in common::account_filters() {
        let _ = r.query("account").evaluate(&common::filter(&f), now);
    }
    let _ = r.segments().next_change(now);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut framed = MAGIC.to_vec();
    framed.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    framed.extend_from_slice(&(data.len() as u64).to_le_bytes());
    framed.extend_from_slice(data);
    let crc = crc32fast::hash(&framed);
    framed.extend_from_slice(&crc.to_le_bytes());
    check(&framed);
});
