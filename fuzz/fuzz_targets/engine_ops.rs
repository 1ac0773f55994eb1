//! Random sequences of ops (`segments::engine::Op`, decoded from eight bytes
//! each) applied to the engine: each op must survive its JSON and binary
//! forms; after each, a failed op must change nothing; at the end, every rule's links and every segment's
//! members must equal a recomputation, and a snapshot must round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use segments::engine::{DataOp, ManageOp, Op, TimeOp};
use segments::segment::{NewSegment, SegmentId, Visibility};
use segments::{Engine, Row, Timestamp};

#[path = "common.rs"]
mod common;

fn nth_segment(e: &Engine, i: u8) -> Option<SegmentId> {
    let ids: Vec<SegmentId> = e.segments().iter().map(|s| s.id).collect();
    (!ids.is_empty()).then(|| ids[i as usize % ids.len()])
}

/// The op that eight bytes stand for, given the engine's segments and the
/// fuzzer's clock (which the op may move).
fn decode(e: &Engine, op: &[u8], now: &mut i64, serial: &mut u32) -> Option<Op> {
    let a = common::admin();
    let filters = common::account_filters();
    let b: [u8; 6] = [op[2], op[3], op[4], op[5], op[6], op[7]];
    let (x, y) = (op[1], op[2]);
    let data = |d| Some(Op::Data(d));
    let manage = |m| Some(Op::Manage(m));
    match op[0] % 17 {
        0..=3 => data(DataOp::Upsert {
            kind: "account".into(),
            key: format!("a{}", x % 12),
            row: common::account_row(&b, 12),
        }),
        4 => data(DataOp::Delete {
            kind: "account".into(),
            key: format!("a{}", x % 12),
        }),
        5 => data(DataOp::Upsert {
            kind: "user".into(),
            key: format!("u{}", x % 16),
            row: Row::new()
                .set("account_id", format!("a{}", y % 13))
                .set("score", (op[3] % 9) as i64)
                .set("active", op[4] % 2 == 0),
        }),
        6 => data(DataOp::Delete {
            kind: "user".into(),
            key: format!("u{}", x % 16),
        }),
        7 => {
            let (kind, key) = if y % 2 == 0 {
                ("account", format!("a{}", x % 12))
            } else {
                ("user", format!("u{}", x % 16))
            };
            data(DataOp::RecordEvent {
                kind: kind.into(),
                key,
                event: common::EVENTS[op[4] as usize % 3].into(),
                at: Timestamp::from_micros(*now - (op[3] as i64) * common::DAY / 8),
            })
        }
        8 => {
            *now += (x as i64 % 5) * common::DAY / 2 + 1;
            Some(Op::Time(TimeOp::Refresh {
                now: Timestamp::from_micros(*now),
            }))
        }
        9 | 10 => {
            *serial += 1;
            let vis = if y % 2 == 0 { Visibility::Public } else { Visibility::Private };
            let spec = NewSegment::new(format!("s{serial}"), "account")
                .filter(common::filter(&filters[x as usize % filters.len()]))
                .visibility(vis);
            manage(ManageOp::CreateSegment { actor: a, segment: spec })
        }
        11 => nth_segment(e, x).and_then(|s| manage(ManageOp::DeleteSegment { actor: a, segment: s })),
        12 => nth_segment(e, x).and_then(|s| {
            manage(ManageOp::AttachRule {
                actor: a,
                segment: s,
                filter: common::filter(&filters[y as usize % filters.len()]),
            })
        }),
        13 => nth_segment(e, x).and_then(|s| {
            manage(ManageOp::AddMembers {
                actor: a,
                segment: s,
                keys: vec![format!("a{}", y % 12)],
            })
        }),
        14 => nth_segment(e, x).and_then(|s| {
            manage(ManageOp::RemoveMembers {
                actor: a,
                segment: s,
                keys: vec![format!("a{}", y % 12)],
            })
        }),
        15 => data(DataOp::DeleteMany {
            kind: "account".into(),
            keys: vec![format!("a{}", x % 12), format!("a{}", y % 12)],
        }),
        _ => nth_segment(e, x).and_then(|s| {
            match e.segments().get(s).ok().and_then(|i| i.rules.first().copied()) {
                Some(r) => manage(ManageOp::DetachRule { actor: a, rule: r }),
                None => manage(ManageOp::ClearAllBlocks { actor: a, segment: s }),
            }
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut e = common::empty();
    let mut now = common::NOW;
    let mut serial = 0u32;
    for chunk in data.chunks_exact(8) {
        let Some(op) = decode(&e, chunk, &mut now, &mut serial) else { continue };
        // Every op survives both of its forms.
        assert_eq!(Op::from_json(&op.to_json()).as_ref(), Ok(&op));
        assert_eq!(Op::from_bytes(&op.to_bytes()).as_ref(), Ok(&op));
        let before = format!("{e:?}");
        let failed = e.apply_at(op, Timestamp::from_micros(now)).is_err();
        if failed {
            assert_eq!(format!("{e:?}"), before, "a failed call changed the engine");
        }
    }
    if let Err(m) = segments::testing::check_consistency(&e, Timestamp::from_micros(now)) {
        panic!("inconsistent: {m}");
    }
    let mut bytes = Vec::new();
    e.save(&mut bytes).expect("saving to memory");
    let r = Engine::restore(&bytes[..]).expect("a saved engine restores");
    let mut again = Vec::new();
    r.save(&mut again).expect("saving to memory");
    assert_eq!(bytes, again);
});
