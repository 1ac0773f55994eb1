//! Random operation sequences on the engine: after each, a failed call must
//! change nothing; at the end, every rule's links and every segment's
//! members must equal a recomputation, and a snapshot must round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use segments::segment::{NewSegment, SegmentId, Visibility};
use segments::{Clock, Engine, Row, Timestamp};

#[path = "common.rs"]
mod common;

fn nth_segment(e: &Engine, i: u8) -> Option<SegmentId> {
    let ids: Vec<SegmentId> = e.segments().map(|s| s.id).collect();
    (!ids.is_empty()).then(|| ids[i as usize % ids.len()])
}

fuzz_target!(|data: &[u8]| {
    let mut e = common::empty();
    let a = common::admin();
    let filters = common::account_filters();
    let mut now = common::NOW;
    let mut serial = 0u32;
    for op in data.chunks_exact(8) {
        let b: [u8; 6] = [op[2], op[3], op[4], op[5], op[6], op[7]];
        let (x, y) = (op[1], op[2]);
        let before = format!("{e:?}");
        let failed = match op[0] % 16 {
            0..=3 => e.upsert("account", &format!("a{}", x % 12), common::account_row(&b, 12)).is_err(),
            4 => e.delete("account", &format!("a{}", x % 12)).is_err(),
            5 => {
                let row = Row::new()
                    .set("account_id", format!("a{}", y % 13))
                    .set("score", (op[3] % 9) as i64)
                    .set("active", op[4] % 2 == 0);
                e.upsert("user", &format!("u{}", x % 16), row).is_err()
            }
            6 => e.delete("user", &format!("u{}", x % 16)).is_err(),
            7 => {
                let (kind, key) = if y % 2 == 0 { ("account", format!("a{}", x % 12)) } else { ("user", format!("u{}", x % 16)) };
                let at = Timestamp::from_micros(now - (op[3] as i64) * common::DAY / 8);
                e.record_event(kind, &key, common::EVENTS[op[4] as usize % 3], at).is_err()
            }
            8 => {
                now += (x as i64 % 5) * common::DAY / 2 + 1;
                e.set_clock(Clock::Fixed(Timestamp::from_micros(now)));
                e.refresh(Timestamp::from_micros(now));
                false
            }
            9 | 10 => {
                serial += 1;
                let vis = if y % 2 == 0 { Visibility::Public } else { Visibility::Private };
                let spec = NewSegment::new(format!("s{serial}"), "account")
                    .filter(common::filter(&filters[x as usize % filters.len()]))
                    .visibility(vis);
                e.create_segment(&a, spec).is_err()
            }
            11 => match nth_segment(&e, x) {
                Some(s) => e.delete_segment(&a, s).is_err(),
                None => false,
            },
            12 => match nth_segment(&e, x) {
                Some(s) => e.attach_rule(&a, s, common::filter(&filters[y as usize % filters.len()])).is_err(),
                None => false,
            },
            13 => match nth_segment(&e, x) {
                Some(s) => e.add_members(&a, s, [format!("a{}", y % 12)]).is_err(),
                None => false,
            },
            14 => match nth_segment(&e, x) {
                Some(s) => e.remove_members(&a, s, [format!("a{}", y % 12)]).is_err(),
                None => false,
            },
            _ => match nth_segment(&e, x) {
                Some(s) => {
                    let keep = e.segment(s).map(|i| i.rules.first().copied()).ok().flatten();
                    match keep {
                        Some(r) => e.detach_rule(&a, r).is_err(),
                        None => e.clear_all_blocks(&a, s).is_err(),
                    }
                }
                None => false,
            },
        };
        if failed {
            assert_eq!(format!("{e:?}"), before, "a failed call changed the engine");
        }
    }
    if let Err(m) = e.check_consistency(Timestamp::from_micros(now)) {
        panic!("inconsistent: {m}");
    }
    let mut bytes = Vec::new();
    e.save(&mut bytes).expect("saving to memory");
    let r = Engine::restore_from_bytes(&bytes).expect("a saved engine restores");
    let mut again = Vec::new();
    r.save(&mut again).expect("saving to memory");
    assert_eq!(bytes, again);
});
