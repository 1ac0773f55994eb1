//! Statistics against a naive computation on sorted vectors.

use proptest::prelude::*;
use roaring::RoaringBitmap;
use segments::{stats, FieldType, KindSchema, Row, Table, Value};

fn table(rows: &[(Option<i64>, Option<f64>, Option<u8>)]) -> Table {
    let mut t = Table::new(
        KindSchema::new(
            "account",
            [("n", FieldType::Int), ("x", FieldType::Float), ("s", FieldType::String)],
        )
        .unwrap(),
    );
    for (i, (n, x, s)) in rows.iter().enumerate() {
        let mut r = Row::new();
        if let Some(n) = n {
            r = r.set("n", *n);
        }
        if let Some(x) = x {
            r = r.set("x", *x);
        }
        if let Some(s) = s {
            r = r.set("s", format!("v{s}"));
        }
        t.insert(&format!("k{i}"), r).unwrap();
    }
    t
}

/// Linear interpolation between closest ranks, on sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let x = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (sorted[x.floor() as usize], sorted[x.ceil() as usize]);
    lo + (hi - lo) * x.fract()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn numeric_and_counts_match_a_sort(
        rows in prop::collection::vec(
            (prop::option::of(-1000i64..1000), prop::option::of(-1e6f64..1e6), prop::option::of(0u8..5)),
            0..300,
        ),
        pick in prop::collection::vec(any::<bool>(), 300),
        deleted in prop::collection::vec(0usize..300, 0..10),
        ps in prop::collection::vec(0.0f64..=100.0, 0..4),
    ) {
        let mut t = table(&rows);
        for d in deleted.iter().filter(|&&d| d < rows.len()) {
            let _ = t.delete(&format!("k{d}"));
        }
        let ids: RoaringBitmap = (0..rows.len() as u32).filter(|&i| pick[i as usize]).collect();
        let live: Vec<usize> = (0..rows.len()).filter(|&i| pick[i] && t.live().contains(i as u32)).collect();

        let ints: Vec<i64> = live.iter().filter_map(|&i| rows[i].0).collect();
        let s = stats::numeric(&t, "n", &ids, &ps).unwrap();
        prop_assert_eq!(s.count, live.len() as u64);
        prop_assert_eq!(s.present, ints.len() as u64);
        let mut sorted: Vec<f64> = ints.iter().map(|&v| v as f64).collect();
        sorted.sort_by(f64::total_cmp);
        if ints.is_empty() {
            prop_assert_eq!(s.median, None);
            prop_assert_eq!(s.min, None);
        } else {
            prop_assert_eq!(s.min, Some(Value::Int(*ints.iter().min().unwrap())));
            prop_assert_eq!(s.max, Some(Value::Int(*ints.iter().max().unwrap())));
            prop_assert_eq!(s.sum, Some(ints.iter().sum::<i64>() as f64));
            prop_assert!(close(s.mean.unwrap(), ints.iter().sum::<i64>() as f64 / ints.len() as f64));
            prop_assert!(close(s.median.unwrap(), percentile(&sorted, 50.0)));
            for (&p, &(q, v)) in ps.iter().zip(&s.percentiles) {
                prop_assert_eq!(p, q);
                prop_assert!(close(v, percentile(&sorted, p)), "p{} {} vs {}", p, v, percentile(&sorted, p));
            }
        }

        let floats: Vec<f64> = live.iter().filter_map(|&i| rows[i].1).collect();
        let s = stats::numeric(&t, "x", &ids, &ps).unwrap();
        let mut sorted = floats.clone();
        sorted.sort_by(f64::total_cmp);
        if let (Some(min), Some(max)) = (sorted.first(), sorted.last()) {
            prop_assert_eq!(s.min, Some(Value::Float(*min)));
            prop_assert_eq!(s.max, Some(Value::Float(*max)));
            let sum: f64 = floats.iter().sum();
            prop_assert!((s.sum.unwrap() - sum).abs() <= 1e-6 * floats.len() as f64);
            prop_assert!(close(s.median.unwrap(), percentile(&sorted, 50.0)));
        }

        let c = stats::value_counts(&t, "s", &ids).unwrap();
        let mut want: Vec<(Value, u64)> = (0..5u8)
            .map(|v| (Value::from(format!("v{v}")), live.iter().filter(|&&i| rows[i].2 == Some(v)).count() as u64))
            .filter(|&(_, n)| n > 0)
            .collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| format!("{:?}", a.0).cmp(&format!("{:?}", b.0))));
        prop_assert_eq!(c.values, want);
        prop_assert_eq!(c.missing, live.iter().filter(|&&i| rows[i].2.is_none()).count() as u64);
    }
}

#[test]
fn bool_and_tags_value_counts() {
    let mut t =
        Table::new(KindSchema::new("account", [("paying", FieldType::Bool), ("tags", FieldType::Tags)]).unwrap());
    t.insert(
        "a",
        Row::new()
            .set("paying", true)
            .set("tags", Value::Tags(vec!["vip".into(), "eu".into()])),
    )
    .unwrap();
    t.insert(
        "b",
        Row::new()
            .set("paying", false)
            .set("tags", Value::Tags(vec!["eu".into()])),
    )
    .unwrap();
    t.insert("c", Row::new().set("paying", true)).unwrap();
    let c = stats::value_counts(&t, "paying", t.live()).unwrap();
    assert_eq!(c.values, [(Value::Bool(true), 2), (Value::Bool(false), 1)]);
    assert_eq!(c.missing, 0);
    let c = stats::value_counts(&t, "tags", t.live()).unwrap();
    assert_eq!(c.values, [(Value::from("eu"), 2), (Value::from("vip"), 1)]);
    assert_eq!(c.missing, 1);
}
