//! Arrow and Parquet loads against JSON Lines and typed rows: the same
//! rows, loaded each way, give the same table (every value, every index
//! answer); Parquet files written by pyarrow, DuckDB and polars (not by
//! this crate) load as their JSON Lines twin does; bad input is refused
//! with the column or the first bad row, and leaves the table as it was.

use std::sync::Arc;

use proptest::prelude::*;
use segments::arrow_array::builder::{ListBuilder, StringBuilder};
use segments::arrow_array::types::Int8Type;
use segments::arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Date64Array, DictionaryArray, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt64Array, UInt8Array,
};
use segments::parquet::arrow::ArrowWriter;
use segments::{eval, FieldType, Filter, KindSchema, LimitPolicy, Row, StoreError, Table, Timestamp, Value};

fn kind() -> KindSchema {
    KindSchema::new(
        "account",
        [
            ("health", FieldType::Float),
            ("nps", FieldType::Int),
            ("seats", FieldType::Int),
            ("plan", FieldType::String),
            ("paying", FieldType::Bool),
            ("renewal_at", FieldType::Timestamp),
            ("signup", FieldType::Timestamp),
            ("tags", FieldType::Tags),
        ],
    )
    .unwrap()
}

/// Every column nullable, so that batches of one load share a schema.
fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter_with_nullable(cols.into_iter().map(|(n, a)| (n, a, true))).unwrap()
}

fn arr<A: segments::arrow_array::Array + 'static>(a: A) -> ArrayRef {
    Arc::new(a)
}

/// Every live entity, in id order, with every field's value.
fn dump(t: &Table) -> Vec<(String, Vec<Value>)> {
    let fields: Vec<String> = t.schema().fields().map(|(_, n, _)| n.to_string()).collect();
    t.live()
        .iter()
        .map(|id| {
            let id = segments::EntityId(id);
            let key = t.key(id).unwrap().to_string();
            (key, fields.iter().map(|f| t.get(id, f).unwrap()).collect())
        })
        .collect()
}

/// Filters over every field, answered through the indexes.
const FILTERS: &[&str] = &[
    r#"{"combinator":"and","rules":[{"field":"health","operator":"<","value":30}]}"#,
    r#"{"combinator":"and","rules":[{"field":"health","operator":"between","value":[-0.0,50]}]}"#,
    r#"{"combinator":"or","rules":[{"field":"nps","operator":">=","value":7},{"field":"nps","operator":"null"}]}"#,
    r#"{"combinator":"and","rules":[{"field":"seats","operator":">","value":2000000000}]}"#,
    r#"{"combinator":"and","rules":[{"field":"plan","operator":"in","value":["pro","été","日本"]}]}"#,
    r#"{"combinator":"and","rules":[{"field":"paying","operator":"=","value":false}]}"#,
    r#"{"combinator":"and","rules":[{"field":"renewal_at","operator":"<","value":"2026-01-01T00:00:00Z"}]}"#,
    r#"{"combinator":"and","rules":[{"field":"signup","operator":">=","value":"2023-06-01T00:00:00Z"}]}"#,
    r#"{"combinator":"and","rules":[{"field":"tags","operator":"containsAny","value":["vip","a b"]}]}"#,
    r#"{"combinator":"and","not":true,"rules":[{"field":"tags","operator":"notNull"}]}"#,
];

/// Both tables hold the same entities in the same order, and answer every
/// filter alike (and as the row scan does).
fn assert_same(expected: &Table, got: &Table) {
    assert_eq!(dump(expected), dump(got));
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    for f in FILTERS {
        let plan = Filter::from_json(f)
            .unwrap()
            .validate(got.schema(), &LimitPolicy::default())
            .unwrap();
        let want = eval::evaluate(&plan, expected, now).unwrap();
        assert_eq!(eval::evaluate(&plan, got, now).unwrap(), want, "{f}");
        assert_eq!(eval::scan(&plan, got, now).unwrap(), want, "{f}");
    }
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/parquet")
        .join(name)
}

fn from_json_lines() -> Table {
    let mut t = Table::new(kind());
    let text = std::fs::read(fixture("rows.jsonl")).unwrap();
    assert_eq!(t.insert_json_lines(&text[..]).unwrap(), 300);
    t
}

#[test]
fn parquet_files_other_writers_wrote_load_as_their_json_lines_twin() {
    let want = from_json_lines();
    for name in ["pyarrow.parquet", "duckdb.parquet", "polars.parquet"] {
        let mut t = Table::new(kind());
        let n = t.insert_parquet(std::fs::File::open(fixture(name)).unwrap()).unwrap();
        assert_eq!(n, 300, "{name}");
        assert_same(&want, &t);
        // Into a table that holds keys (the other path): upserting the
        // same rows changes nothing.
        assert_eq!(
            t.upsert_parquet(std::fs::File::open(fixture(name)).unwrap()).unwrap(),
            300
        );
        assert_same(&want, &t);
    }
}

#[test]
fn every_arrow_type_a_field_reads() {
    let keys = || arr(StringArray::from(vec!["a", "b", "c"]));
    let mut tags = ListBuilder::new(StringBuilder::new());
    tags.append_value([Some("x"), Some("y"), Some("x")]);
    tags.append_value(Vec::<Option<&str>>::new());
    tags.append_null();
    let signup: DictionaryArray<Int8Type> = vec![Some("p"), None, Some("p")].into_iter().collect();
    let one = batch(vec![
        ("key", keys()),
        ("health", arr(Float32Array::from(vec![Some(1.5), None, Some(-0.0)]))),
        ("nps", arr(Int8Array::from(vec![Some(-128), Some(0), None]))),
        (
            "seats",
            arr(UInt64Array::from(vec![Some(i64::MAX as u64), None, Some(0)])),
        ),
        ("plan", arr(signup)),
        ("paying", arr(BooleanArray::from(vec![Some(true), None, Some(false)]))),
        (
            "renewal_at",
            arr(TimestampNanosecondArray::from(vec![Some(1_000), Some(-5_000), None]).with_timezone("+05:00")),
        ),
        ("signup", arr(Date32Array::from(vec![Some(1), Some(-1), None]))),
        ("tags", arr(tags.finish())),
    ]);
    let mut t = Table::new(kind());
    assert_eq!(t.insert_arrow([&one]).unwrap(), 3);
    let day = 86_400_000_000;
    let mut want = Table::new(kind());
    want.insert_many([
        (
            "a",
            Row::new()
                .set("health", 1.5)
                .set("nps", -128)
                .set("seats", i64::MAX)
                .set("plan", "p")
                .set("paying", true)
                .set("renewal_at", Timestamp::from_micros(1))
                .set("signup", Timestamp::from_micros(day))
                .set("tags", Value::Tags(vec!["x".into(), "y".into()])),
        ),
        (
            "b",
            Row::new()
                .set("nps", 0)
                .set("renewal_at", Timestamp::from_micros(-5))
                .set("signup", Timestamp::from_micros(-day)),
        ),
        (
            "c",
            Row::new()
                .set("health", -0.0)
                .set("seats", 0)
                .set("plan", "p")
                .set("paying", false),
        ),
    ])
    .unwrap();
    assert_same(&want, &t);

    // The other widths and encodings, upserted over the same keys.
    let two = batch(vec![
        ("key", arr(LargeStringArray::from(vec!["c", "b", "a"]))),
        ("health", arr(Int16Array::from(vec![Some(7), Some(-7), None]))),
        ("nps", arr(UInt8Array::from(vec![255, 1, 2]))),
        ("seats", arr(Int32Array::from(vec![Some(i32::MIN), None, Some(3)]))),
        (
            "plan",
            arr(StringViewArray::from(vec![
                Some("a much longer string than twelve bytes"),
                None,
                Some(""),
            ])),
        ),
        (
            "renewal_at",
            arr(TimestampSecondArray::from(vec![Some(-1), Some(0), Some(1)])),
        ),
        (
            "signup",
            arr(StringArray::from(vec![
                Some("2026-11-22T12:00:00+01:00"),
                None,
                Some("1970-01-01T00:00:00.000001Z"),
            ])),
        ),
    ]);
    t.upsert_arrow([two]).unwrap();
    let three = batch(vec![
        ("key", arr(StringViewArray::from(vec!["a", "d"]))),
        ("health", arr(Float64Array::from(vec![f64::MAX, f64::MIN_POSITIVE]))),
        ("signup", arr(Date64Array::from(vec![Some(1_000), None]))),
        ("renewal_at", arr(TimestampMillisecondArray::from(vec![None, Some(-1)]))),
        ("nps", arr(Int64Array::from(vec![i64::MIN, i64::MAX]))),
    ]);
    t.upsert_arrow([three]).unwrap();
    want.upsert_many([
        (
            "c",
            Row::new()
                .set("health", 7)
                .set("nps", 255)
                .set("seats", i64::from(i32::MIN))
                .set("plan", "a much longer string than twelve bytes")
                .set("renewal_at", Timestamp::from_micros(-1_000_000))
                .set("signup", Timestamp::from_micros(1_795_345_200_000_000)),
        ),
        (
            "b",
            Row::new()
                .set("health", -7)
                .set("nps", 1)
                .set("seats", Value::Null)
                .set("plan", Value::Null)
                .set("renewal_at", Timestamp::from_micros(0))
                .set("signup", Value::Null),
        ),
        (
            "a",
            Row::new()
                .set("health", f64::MAX)
                .set("nps", i64::MIN)
                .set("seats", 3)
                .set("plan", "")
                .set("renewal_at", Value::Null)
                .set("signup", Timestamp::from_micros(1_000_000)),
        ),
        (
            "d",
            Row::new()
                .set("health", f64::MIN_POSITIVE)
                .set("nps", i64::MAX)
                .set("renewal_at", Timestamp::from_micros(-1_000)),
        ),
    ])
    .unwrap();
    assert_same(&want, &t);
}

#[test]
fn column_errors_come_before_any_row() {
    let mut t = Table::new(kind());
    let cases: Vec<(RecordBatch, &str)> = vec![
        (batch(vec![("nps", arr(Int64Array::from(vec![1])))]), "no `key` column"),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("mrr", arr(Int64Array::from(vec![1]))),
            ]),
            "column `mrr`: not a field of the kind",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("nps", arr(Int64Array::from(vec![1]))),
                ("nps", arr(Int64Array::from(vec![2]))),
            ]),
            "column `nps`: given twice",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("key", arr(StringArray::from(vec!["b"]))),
            ]),
            "column `key`: given twice",
        ),
        (
            batch(vec![("key", arr(Int64Array::from(vec![1])))]),
            "column `key`: expected string keys, found Arrow type Int64",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("nps", arr(Float64Array::from(vec![1.0]))),
            ]),
            "column `nps`: expected int values, found Arrow type Float64",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("plan", arr(Int64Array::from(vec![1]))),
            ]),
            "column `plan`: expected string values, found Arrow type Int64",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("tags", arr(StringArray::from(vec!["x"]))),
            ]),
            "column `tags`: expected tags values, found Arrow type Utf8",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["a"]))),
                ("paying", arr(Int8Array::from(vec![1]))),
            ]),
            "column `paying`: expected bool values, found Arrow type Int8",
        ),
    ];
    for (b, message) in cases {
        assert_eq!(t.insert_arrow([&b]).unwrap_err().to_string(), message);
        assert!(t.is_empty());
    }
}

#[test]
fn the_first_bad_row_is_reported_over_columns_and_batches() {
    let good = batch(vec![
        ("key", arr(StringArray::from(vec!["a", "b"]))),
        ("nps", arr(Int64Array::from(vec![1, 2]))),
    ]);
    // Row 3 of the call (row 1 of the second batch) has a bad float; row 2
    // a bad int, in a later column: row 2 is reported.
    let bad = batch(vec![
        ("key", arr(StringArray::from(vec!["c", "d", "e"]))),
        ("health", arr(Float64Array::from(vec![1.0, f64::NAN, f64::INFINITY]))),
        ("seats", arr(UInt64Array::from(vec![u64::MAX, 1, 1]))),
    ]);
    let mut t = Table::new(kind());
    let e = t.insert_arrow([&good, &bad]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "row 2: key `c`, field `seats`: expected int, found integer 18446744073709551615 beyond the i64 range"
    );
    assert!(matches!(&e, StoreError::InRow { row: 2, .. }));
    assert!(t.is_empty(), "a failed load into an empty table leaves it empty");

    let cases: Vec<(RecordBatch, &str)> = vec![
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["c", "d"]))),
                ("health", arr(Float64Array::from(vec![1.0, f64::NAN]))),
            ]),
            "row 3: key `d`, field `health`: float is not finite",
        ),
        (
            batch(vec![("key", arr(StringArray::from(vec![Some("c"), None])))]),
            "row 3: missing or non-string `key`",
        ),
        (batch(vec![("key", arr(StringArray::from(vec!["c", ""])))]), "row 3: entity key is empty"),
        (
            // A row's key is judged before its values, as in a JSON line.
            batch(vec![
                ("key", arr(StringArray::from(vec![Some("c"), None]))),
                ("health", arr(Float64Array::from(vec![1.0, f64::NAN]))),
            ]),
            "row 3: missing or non-string `key`",
        ),
        (
            // Of two bad values in one row, the first column's.
            batch(vec![
                ("key", arr(StringArray::from(vec!["c", "d"]))),
                ("health", arr(Float64Array::from(vec![1.0, f64::NAN]))),
                ("seats", arr(UInt64Array::from(vec![1, u64::MAX]))),
            ]),
            "row 3: key `d`, field `health`: float is not finite",
        ),
        (
            batch(vec![("key", arr(StringArray::from(vec!["c", "d\ne"])))]),
            "row 3: key \"d\\ne\": a key may not contain control characters",
        ),
        (batch(vec![("key", arr(StringArray::from(vec!["c", "a"])))]), "row 3: key `a`: duplicate key"),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["c", "d"]))),
                ("renewal_at", arr(TimestampNanosecondArray::from(vec![1_000, 1_001]))),
            ]),
            "row 3: key `d`, field `renewal_at`: invalid timestamp `1001 ns`: finer than a microsecond",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["c", "d"]))),
                ("renewal_at", arr(TimestampSecondArray::from(vec![0, i64::MAX]))),
            ]),
            "row 3: key `d`, field `renewal_at`: invalid timestamp `9223372036854775807 s`: past the range of a timestamp",
        ),
        (
            batch(vec![
                ("key", arr(StringArray::from(vec!["c", "d"]))),
                ("signup", arr(StringArray::from(vec!["2026-01-01T00:00:00Z", "yesterday"]))),
            ]),
            "row 3: key `d`, field `signup`: invalid timestamp `yesterday`:",
        ),
        (
            {
                let mut tags = ListBuilder::new(StringBuilder::new());
                tags.append_value([Some("x")]);
                tags.append_value([Some("x"), None]);
                batch(vec![("key", arr(StringArray::from(vec!["c", "d"]))), ("tags", arr(tags.finish()))])
            },
            "row 3: key `d`, field `tags`: expected tags, found array holding null",
        ),
    ];
    for (bad, message) in cases {
        // Into an empty table (the streaming path) and into one holding
        // keys: the same error, and the table as it was.
        for holding in [false, true] {
            let mut t = Table::new(kind());
            let before = if holding {
                t.insert_arrow([&good]).unwrap();
                t.insert_arrow([batch(vec![("key", arr(StringArray::from(vec!["z"])))])])
                    .unwrap();
                t.insert_arrow([&bad]).unwrap_err().to_string()
            } else {
                t.insert_arrow([&good, &bad]).unwrap_err().to_string()
            };
            if holding {
                // Counted from the call's first row: the bad batch alone.
                let shifted = message.replacen("row 3", "row 1", 1);
                assert!(before.starts_with(&shifted), "{before} / {shifted}");
                assert_eq!(t.len(), 3);
                assert_eq!(t.get(t.id("a").unwrap(), "nps"), Some(Value::Int(1)));
                assert_eq!(t.id("c"), None);
            } else {
                assert!(before.starts_with(message), "{before} / {message}");
                assert!(t.is_empty());
            }
        }
    }
}

/// A key may appear once in a load, in any of its batches, for an upsert
/// too: into an empty table (where batches are applied as they come) as
/// into one holding keys.
#[test]
fn a_key_repeated_in_a_later_batch_is_refused() {
    let one = batch(vec![("key", arr(StringArray::from(vec!["a", "b"])))]);
    let two = batch(vec![("key", arr(StringArray::from(vec!["c", "a"])))]);
    for holding in [false, true] {
        let mut t = Table::new(kind());
        if holding {
            t.insert_arrow([batch(vec![("key", arr(StringArray::from(vec!["z"])))])])
                .unwrap();
        }
        let e = t.upsert_arrow([&one, &two]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "row 3: key `a`: duplicate key",
            "holding keys: {holding}"
        );
        assert_eq!(t.len(), u64::from(holding));
    }
}

#[test]
fn bad_parquet_is_an_error_not_a_panic() {
    let mut t = Table::new(kind());
    let e = t.insert_parquet(bytes::Bytes::from_static(b"not parquet")).unwrap_err();
    assert!(matches!(e, StoreError::Arrow { .. }), "{e}");
    // A real file cut short, and one with a byte flipped in every page.
    let whole = std::fs::read(fixture("pyarrow.parquet")).unwrap();
    for cut in [whole.len() / 2, whole.len() - 9, 8] {
        let bytes = bytes::Bytes::from(whole[..cut].to_vec());
        assert!(t.insert_parquet(bytes).is_err());
        assert!(t.is_empty());
    }
    for at in (4..whole.len() - 8).step_by(97) {
        let mut bytes = whole.clone();
        bytes[at] ^= 0x5a;
        // Either refused or loaded whole; never a panic.
        let mut t = Table::new(kind());
        if t.insert_parquet(bytes::Bytes::from(bytes)).is_err() {
            assert!(t.is_empty());
        }
    }
}

/// Damaged files that made arrow-rs panic (found by mutating the fixtures;
/// `fuzz/fuzz_targets/parquet_load.rs` searches for more): each is an
/// error naming the damage, and the table is left as it was.
#[test]
fn a_parquet_file_that_makes_the_reader_panic_is_an_error() {
    for (name, mutations) in [
        ("pyarrow.parquet", &[(5668usize, 195u8)][..]),
        ("duckdb.parquet", &[(31, 175)][..]),
        ("pyarrow.parquet", &[(7083, 138), (11630, 201)][..]),
        ("polars.parquet", &[(7404, 189), (8130, 13), (8461, 183)][..]),
    ] {
        let mut bytes = std::fs::read(fixture(name)).unwrap();
        for &(at, v) in mutations {
            bytes[at] = v;
        }
        let mut t = from_json_lines();
        let before = t.len();
        let e = t.upsert_parquet(bytes::Bytes::from(bytes)).unwrap_err();
        assert!(
            matches!(&e, StoreError::Arrow { message } if message.starts_with("a damaged Parquet file")),
            "{name} {mutations:?}: {e}"
        );
        assert_eq!(t.len(), before);
        assert_same(&from_json_lines(), &t);
    }
}

/// A row of optional values, as both a typed row and Arrow columns.
#[derive(Debug, Clone)]
struct Gen {
    health: Option<f64>,
    nps: Option<i64>,
    plan: Option<String>,
    paying: Option<bool>,
    at: Option<i64>,
    tags: Option<Vec<String>>,
}

fn gen_row() -> impl Strategy<Value = Gen> {
    (
        proptest::option::of(prop_oneof![-1e6f64..1e6, Just(0.0), Just(-0.0)]),
        proptest::option::of(any::<i64>()),
        proptest::option::of("[a-c]{0,2}"),
        proptest::option::of(any::<bool>()),
        proptest::option::of(-(1i64 << 50)..(1i64 << 50)),
        proptest::option::of(proptest::collection::vec("[x-z]", 0..3)),
    )
        .prop_map(|(health, nps, plan, paying, at, tags)| Gen {
            health,
            nps,
            plan,
            paying,
            at,
            tags,
        })
}

fn record_batch(keys: &[String], rows: &[Gen]) -> RecordBatch {
    let mut tags = ListBuilder::new(StringBuilder::new());
    for r in rows {
        match &r.tags {
            Some(t) => tags.append_value(t.iter().map(Some)),
            None => tags.append_null(),
        }
    }
    let plan: DictionaryArray<Int8Type> = rows.iter().map(|r| r.plan.as_deref()).collect();
    batch(vec![
        ("key", arr(StringArray::from(keys.to_vec()))),
        ("health", arr(rows.iter().map(|r| r.health).collect::<Float64Array>())),
        ("nps", arr(rows.iter().map(|r| r.nps).collect::<Int64Array>())),
        ("plan", arr(plan)),
        ("paying", arr(rows.iter().map(|r| r.paying).collect::<BooleanArray>())),
        (
            "renewal_at",
            arr(rows
                .iter()
                .map(|r| r.at)
                .collect::<segments::arrow_array::TimestampMicrosecondArray>()),
        ),
        ("tags", arr(tags.finish())),
    ])
}

fn typed(r: &Gen) -> Row {
    let opt = |v: Option<Value>| v.unwrap_or(Value::Null);
    Row::new()
        .set("health", opt(r.health.map(Value::Float)))
        .set("nps", opt(r.nps.map(Value::Int)))
        .set("plan", opt(r.plan.clone().map(Value::String)))
        .set("paying", opt(r.paying.map(Value::Bool)))
        .set(
            "renewal_at",
            opt(r.at.map(|m| Value::Timestamp(Timestamp::from_micros(m)))),
        )
        .set("tags", opt(r.tags.clone().map(Value::Tags)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Loads and upserts of random rows in several batches, through Arrow,
    /// through Parquet bytes (written by arrow-rs) and as typed rows, give
    /// the same table.
    #[test]
    fn arrow_parquet_and_typed_rows_agree(
        first in proptest::collection::vec(gen_row(), 0..300),
        second in proptest::collection::vec(gen_row(), 0..60),
        split in 0usize..300,
    ) {
        let keys: Vec<String> = (0..first.len()).map(|i| format!("k{i}")).collect();
        let split = split.min(first.len());
        let mut want = Table::new(kind());
        want.insert_many(keys.iter().zip(&first).map(|(k, r)| (k.as_str(), typed(r)))).unwrap();
        let batches = [
            record_batch(&keys[..split], &first[..split]),
            record_batch(&keys[split..], &first[split..]),
        ];
        let mut by_arrow = Table::new(kind());
        by_arrow.insert_arrow(&batches).unwrap();
        assert_same(&want, &by_arrow);

        let mut file = Vec::new();
        let mut w = ArrowWriter::try_new(&mut file, batches[0].schema(), None).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        w.close().unwrap();
        let mut by_parquet = Table::new(kind());
        by_parquet.insert_parquet(bytes::Bytes::from(file)).unwrap();
        assert_same(&want, &by_parquet);

        // Upserts over old and new keys: nulls clear, values replace.
        let keys2: Vec<String> = (0..second.len()).map(|i| format!("k{}", i * 7 % 350)).collect();
        let mut seen = std::collections::HashSet::new();
        let (keys2, second): (Vec<String>, Vec<Gen>) = keys2
            .into_iter()
            .zip(second)
            .filter(|(k, _)| seen.insert(k.clone()))
            .unzip();
        want.upsert_many(keys2.iter().zip(&second).map(|(k, r)| (k.as_str(), typed(r)))).unwrap();
        by_arrow.upsert_arrow([record_batch(&keys2, &second)]).unwrap();
        assert_same(&want, &by_arrow);
    }
}

/// One record batch covering whole 65,536-id containers, every row with a
/// value: the range index sees each id (roaring 0.12's `next_many` loses a
/// container that is one run of 65,536, the shape `insert_range` makes).
#[test]
fn a_batch_of_whole_containers_is_indexed_whole() {
    let n = 3 * 65_536 + 17;
    let keys: StringArray = (0..n).map(|i| Some(format!("k{i}"))).collect();
    let nps: Int64Array = (0..n).map(|i| Some((i % 11) as i64)).collect();
    let plan: StringArray = (0..n).map(|i| Some(["free", "pro"][i % 2])).collect();
    let rb = batch(vec![
        ("key", Arc::new(keys) as ArrayRef),
        ("nps", Arc::new(nps)),
        ("plan", Arc::new(plan)),
    ]);
    let mut t = Table::new(kind());
    assert_eq!(t.insert_arrow([&rb]).unwrap(), n);
    let now = Timestamp::from_micros(0);
    for (f, want) in [
        (r#"{"rules":[{"field":"nps","operator":">=","value":0}]}"#, n),
        (
            r#"{"rules":[{"field":"nps","operator":"<","value":5}]}"#,
            (0..n).filter(|i| i % 11 < 5).count(),
        ),
        (r#"{"rules":[{"field":"plan","operator":"=","value":"pro"}]}"#, n / 2),
        (r#"{"rules":[{"field":"plan","operator":"notNull"}]}"#, n),
    ] {
        let p = Filter::from_json(f)
            .unwrap()
            .validate(t.schema(), &LimitPolicy::default())
            .unwrap();
        let got = eval::evaluate(&p, &t, now).unwrap();
        assert_eq!(got.len() as usize, want, "{f}");
        assert_eq!(got, eval::scan(&p, &t, now).unwrap(), "{f}");
    }
}
