//! The bitmap evaluator and the entity-at-a-time evaluator agree with the
//! row-scan oracle on random data (with missing values, updates, deletes and
//! out-of-order events applied) and random filters up to the condition limit and depth 4.

use proptest::prelude::*;
use segments::eval::{self, Matcher};
use segments::Filter;
use segments::{EntityId, IndexConfig, LimitPolicy, Table, Timestamp};

mod gen;

use gen::*;

/// Index granularities, and per-id thresholds of 0 and a few candidates, so
/// that an `and`'s dense, sparse and per-id regimes all meet the oracle on
/// tables this small.
fn config() -> impl Strategy<Value = IndexConfig> {
    prop_oneof![
        Just(IndexConfig {
            fine_buckets: 6,
            groups: 3,
            min_bucket: 1,
            per_id_candidates: 0
        }),
        Just(IndexConfig {
            fine_buckets: 32,
            groups: 4,
            min_bucket: 2,
            per_id_candidates: 3
        }),
        Just(IndexConfig {
            fine_buckets: 16,
            groups: 8,
            min_bucket: 1,
            per_id_candidates: 0
        }),
        Just(IndexConfig::default()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn evaluators_agree_with_the_oracle(
        cfg in config(),
        rows in prop::collection::vec(row(), 0..120),
        ops in ops(140),
        filters in prop::collection::vec(group(), 1..4),
        now_shift in prop::sample::select(&[0i64, 1, -DAY][..]),
    ) {
        let mut table = Table::with_config(schema(), cfg);
        table.insert_many(rows.into_iter().enumerate().map(|(i, r)| (format!("k{i}"), r))).unwrap();
        for op in ops {
            match op {
                Op::Upsert(k, r) => { table.upsert(&format!("k{k}"), r).unwrap(); }
                Op::Clear(k, f) => { let _ = table.clear_field(&format!("k{k}"), f); }
                Op::Delete(k) => { let _ = table.delete(&format!("k{k}")); }
                Op::Event(k, e, d) => { let _ = table.record_event(&format!("k{k}"), e, Timestamp::from_micros(NOW + d)); }
                Op::Events(v) => {
                    let batch: Vec<(String, &str, Timestamp)> =
                        v.iter().map(|(k, e, d)| (format!("k{k}"), *e, Timestamp::from_micros(NOW + d))).collect();
                    let _ = table.record_events(batch);
                }
            }
        }
        let now = Timestamp::from_micros(NOW + now_shift);
        for mut f in filters {
            let mut budget = 10;
            trim(&mut f, &mut budget);
            // Rules nested in match modes count too: no limit on the count.
            let plan = f
                .validate(table.schema(), &LimitPolicy::default().with_unlimited_conditions())
                .expect("generated filters are valid");
            // The JSON form reads back as the same filter.
            prop_assert_eq!(&Filter::from_json_value(&f.to_json_value()).unwrap(), &f);
            let want = eval::scan(&plan, &table, now).unwrap();
            let got = eval::evaluate(&plan, &table, now).unwrap();
            prop_assert_eq!(&got, &want, "filter {}", serde_json::to_string(&f).unwrap());
            let m = Matcher::new(&plan, &table, now).unwrap();
            for id in 0..table.live().max().map_or(0, |m| m + 2) {
                prop_assert_eq!(m.matches(EntityId(id)), want.contains(id), "entity {} filter {}", id, serde_json::to_string(&f).unwrap());
                prop_assert_eq!(eval::matches(&plan, &table, EntityId(id), now).unwrap(), want.contains(id), "one entity {} filter {}", id, serde_json::to_string(&f).unwrap());
            }
            // A scoped evaluation is the plain one intersected with the scope.
            let scope: roaring::RoaringBitmap = (0..200u32).step_by(3).collect();
            prop_assert_eq!(eval::evaluate_within(&plan, &table, now, &scope).unwrap(), &want & &scope);
        }
    }
}
