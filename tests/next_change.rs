//! `Engine::next_change`: nothing changes before it, and for a single
//! window on a value, something changes exactly at it.

use proptest::prelude::*;
use serde_json::json;

use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};

const HOUR: i64 = 3_600_000_000;

fn leaf() -> impl Strategy<Value = serde_json::Value> {
    let d = (0..48u64).prop_map(|h| json!({"amount": h, "unit": "hours"}));
    prop_oneof![
        d.clone()
            .prop_map(|d| json!({"field": "renewal", "operator": "withinLast", "value": d})),
        d.clone()
            .prop_map(|d| json!({"field": "renewal", "operator": "withinNext", "value": d})),
        d.clone()
            .prop_map(|d| json!({"field": "renewal", "operator": "moreThanAgo", "value": d})),
        d.clone()
            .prop_map(|d| json!({"field": "@lastSeen", "operator": "withinLast", "value": d})),
        d.clone()
            .prop_map(|d| json!({"field": "@firstSeen:login", "operator": "moreThanAgo", "value": d})),
        (d.clone(), 0..4u64).prop_map(|(d, n)| json!({"field": "@count:login", "operator": ">=",
            "value": {"count": n, "withinLast": d}})),
        (1..24u64, 1..4u32).prop_map(|(h, r)| json!({"field": "@change:login", "operator": ">=",
            "value": {"ratio": r, "window": {"amount": h, "unit": "hours"}}})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn nothing_changes_before_next_change(
        rows in prop::collection::vec((prop::option::of(-96..96i64), prop::collection::vec(-96..96i64, 0..4)), 1..12),
        leaves in prop::collection::vec(leaf(), 1..3),
        or in any::<bool>(),
    ) {
        let schema = Schema::builder().kind("account", [("renewal", FieldType::Timestamp)]).build().unwrap();
        let mut e = Engine::new(schema);
        let now: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let at = |h: i64| Timestamp::from_micros(now.as_micros() + h * HOUR / 2);
        for (i, (renewal, events)) in rows.iter().enumerate() {
            let key = format!("a{i}");
            let mut row = Row::new();
            if let Some(r) = renewal {
                row = row.set("renewal", at(*r));
            }
            e.insert("account", &key, row).unwrap();
            for ev in events {
                e.record_events("account", [(&key, "login", at(*ev))]).unwrap();
            }
        }
        // A window on one value flips exactly at its edge; a count changes
        // there, which its comparison may not notice.
        let single = leaves.len() == 1 && !leaves[0]["field"].as_str().unwrap().starts_with("@c");
        let f = Filter::from_json(&json!({"combinator": if or { "or" } else { "and" }, "rules": leaves}).to_string()).unwrap();
        e.create_segment(&Actor::new("ada", Role::Admin), NewSegment::new("s", "account").filter(f.clone())).unwrap();
        let result = |t: Timestamp| e.query("account").evaluate(&f, t).unwrap();
        let here = result(now);
        match e.segments().next_change(now) {
            Some(next) => {
                prop_assert!(next > now);
                let last_quiet = Timestamp::from_micros(next.as_micros() - 1);
                prop_assert_eq!(&result(last_quiet), &here, "changed before {}", next);
                let mid = Timestamp::from_micros(now.as_micros() + (next.as_micros() - now.as_micros()) / 2);
                prop_assert_eq!(&result(mid), &here);
                if single {
                    prop_assert_ne!(&result(next), &here, "nothing changed at {}", next);
                }
            }
            None => {
                for h in [1, 100, 1000] {
                    prop_assert_eq!(&result(at(h)), &here, "changed at +{}h with no next change", h / 2);
                }
            }
        }
    }
}
