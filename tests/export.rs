//! Exports through the public API: pages concatenate to the whole export,
//! in the order asked for (checked against a sort written here), values
//! print as input files write them, JSON Lines read back into the same
//! rows, pages do not shift when members come and go, and bad input is a
//! typed error.

use proptest::prelude::*;
use segments::engine::{Export, ExportFormat, ExportOrder};
use segments::segment::{Actor, NewSegment, Role, SegmentId, Visibility};
use segments::{Engine, ExportError, FieldType, Row, Schema, Table, Timestamp, Value};

fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("n", FieldType::Int),
                ("x", FieldType::Float),
                ("s", FieldType::String),
                ("b", FieldType::Bool),
                ("t", FieldType::Timestamp),
                ("g", FieldType::Tags),
            ],
        )
        .build()
        .unwrap()
}

const FIELDS: [&str; 6] = ["n", "x", "s", "b", "t", "g"];

type Cell = (
    Option<i64>,
    Option<f64>,
    Option<String>,
    Option<bool>,
    Option<i64>,
    Vec<String>,
);

fn cell() -> impl Strategy<Value = Cell> {
    (
        prop::option::of(-5i64..5),
        prop::option::of(prop_oneof![Just(-1.5), Just(0.0), Just(2.25), Just(1e21)]),
        prop::option::of(prop_oneof![
            Just("a,b".to_string()),
            Just("q\"uote".into()),
            Just("é\nline".into()),
            Just("z".into())
        ]),
        prop::option::of(any::<bool>()),
        prop::option::of(0i64..4),
        prop::collection::vec(prop_oneof![Just("x".to_string()), Just("y, z".into())], 0..3),
    )
}

fn engine(rows: &[Cell], members: &[bool]) -> (Engine, SegmentId) {
    let mut e = Engine::new(schema());
    let admin = Actor::new("ada", Role::Admin);
    let (seg, _) = e.create_segment(&admin, NewSegment::new("S", "account")).unwrap();
    for (i, (n, x, s, b, t, g)) in rows.iter().enumerate() {
        let mut r = Row::new();
        if let Some(n) = n {
            r = r.set("n", *n);
        }
        if let Some(x) = x {
            r = r.set("x", *x);
        }
        if let Some(s) = s {
            r = r.set("s", s.as_str());
        }
        if let Some(b) = b {
            r = r.set("b", *b);
        }
        if let Some(t) = t {
            r = r.set("t", Timestamp::from_micros(1_800_000_000_000_000 + t * 1_500_000));
        }
        r = r.set("g", Value::Tags(g.clone()));
        e.insert("account", &format!("k{:02}", (i * 7) % 100), r).unwrap();
    }
    let keys: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| members.get(*i).copied().unwrap_or(true))
        .map(|(i, _)| format!("k{:02}", (i * 7) % 100))
        .collect();
    e.add_members(&admin, seg, keys).unwrap();
    (e, seg)
}

/// Every page of an export, concatenated (CSV headers dropped after the
/// first).
fn all_pages(e: &Engine, seg: SegmentId, spec: &Export, limit: usize) -> String {
    let mut out = String::new();
    let mut token = None;
    let mut first = true;
    for _ in 0..1000 {
        let mut page = Vec::new();
        token = e
            .segments()
            .export(seg, &spec.clone().limit(limit).after(token), &mut page)
            .unwrap();
        let page = String::from_utf8(page).unwrap();
        let body = if first || !page.starts_with("key,") {
            page.as_str()
        } else {
            &page[page.find('\n').unwrap() + 1..]
        };
        out.push_str(body);
        first = false;
        if token.is_none() {
            return out;
        }
    }
    panic!("the pages never end");
}

/// The order a test expects: by the field (missing last), ties by key.
fn expected_order(t: &Table, ids: &roaring::RoaringBitmap, field: Option<(&str, bool)>) -> Vec<String> {
    let mut keys: Vec<(Option<Value>, String)> = ids
        .iter()
        .map(|id| {
            let id = segments::EntityId(id);
            let v = field
                .and_then(|(f, _)| t.get(id, f))
                .filter(|v| !matches!(v, Value::Null) && !matches!(v, Value::Tags(g) if g.is_empty()));
            (v, t.key(id).unwrap().to_string())
        })
        .collect();
    let desc = field.is_some_and(|(_, d)| d);
    keys.sort_by(|(a, ka), (b, kb)| {
        let o = match (a, b) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Greater,
            (_, None) => std::cmp::Ordering::Less,
            (Some(a), Some(b)) => {
                let o = match (a, b) {
                    (Value::Int(x), Value::Int(y)) => x.cmp(y),
                    (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap(),
                    (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
                    (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
                    (x, y) => x.to_string().cmp(&y.to_string()),
                };
                if desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        o.then_with(|| ka.cmp(kb))
    });
    keys.into_iter().map(|(_, k)| k).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pages_concatenate_to_the_whole_export_in_order(
        rows in prop::collection::vec(cell(), 0..30),
        members in prop::collection::vec(any::<bool>(), 30),
        limit in 1usize..8,
        order in 0usize..7,
        desc in any::<bool>(),
    ) {
        let (e, seg) = engine(&rows, &members);
        let t = e.store().table("account").unwrap();
        let ord = if order == 6 { ExportOrder::Key } else { ExportOrder::Field { field: FIELDS[order].into(), descending: desc } };
        for format in [ExportFormat::Csv, ExportFormat::JsonLines] {
            let spec = Export::new(FIELDS).format(format).order(ord.clone());
            let whole = all_pages(&e, seg, &spec, usize::MAX);
            prop_assert_eq!(all_pages(&e, seg, &spec, limit), whole.clone());
            // Read back with a real CSV reader, or as JSON: the keys in the
            // expected order, and every value as the table holds it.
            let want = expected_order(t, e.segments().members(seg).unwrap(), (order < 6).then(|| (FIELDS[order], desc)));
            let mut got_keys = vec![];
            match format {
                ExportFormat::Csv => {
                    let mut r = csv::Reader::from_reader(whole.as_bytes());
                    prop_assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), ["key", "n", "x", "s", "b", "t", "g"]);
                    for rec in r.records() {
                        let rec = rec.unwrap();
                        let id = t.id(&rec[0]).unwrap();
                        for (i, f) in FIELDS.iter().enumerate() {
                            let shown = match t.get(id, f) {
                                None | Some(Value::Null) => String::new(),
                                Some(v) => v.to_string(),
                            };
                            prop_assert_eq!(&rec[i + 1], shown.as_str());
                        }
                        got_keys.push(rec[0].to_string());
                    }
                }
                _ => {
                    let mut back = Table::new(schema().kinds().next().unwrap().clone());
                    for line in whole.lines() {
                        let v: serde_json::Value = serde_json::from_str(line).unwrap();
                        got_keys.push(v["key"].as_str().unwrap().to_string());
                    }
                    back.upsert_json_lines(whole.as_bytes()).unwrap();
                    for k in &got_keys {
                        for f in FIELDS {
                            prop_assert_eq!(back.get(back.id(k).unwrap(), f), t.get(t.id(k).unwrap(), f), "{} {}", k, f);
                        }
                    }
                }
            }
            prop_assert_eq!(got_keys, want.clone());
        }
    }
}

/// A write between two pages of an export.
#[derive(Debug, Clone)]
enum Write {
    /// The ordering field of key `k` set to a value.
    Set(usize, i64),
    Add(usize),
    Remove(usize),
    Delete(usize),
    /// A write that changes no entity's data: a refresh.
    Refresh,
    Nothing,
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (0usize..30, -5i64..5).prop_map(|(k, v)| Write::Set(k, v)),
        1 => (0usize..30).prop_map(Write::Add),
        1 => (0usize..30).prop_map(Write::Remove),
        1 => (0usize..30).prop_map(Write::Delete),
        1 => Just(Write::Refresh),
        3 => Just(Write::Nothing),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Later pages are served from the order the first page sorted: with
    /// writes of every kind between the pages, each page is what an engine
    /// that never exported (a clone, which keeps no sorted order) gives
    /// for the same token.
    #[test]
    fn a_page_after_writes_is_what_a_fresh_export_gives(
        rows in prop::collection::vec(cell(), 1..30),
        writes in prop::collection::vec(write(), 1..12),
        limit in 1usize..5,
        by_key in any::<bool>(),
    ) {
        let (mut e, seg) = engine(&rows, &[]);
        let admin = Actor::new("ada", Role::Admin);
        let order = if by_key {
            ExportOrder::Key
        } else {
            ExportOrder::Field { field: "n".into(), descending: false }
        };
        let spec = Export::new(["n"]).order(order).limit(limit);
        let key = |k: usize| format!("k{:02}", (k * 7) % 100);
        let mut token = None;
        for w in writes {
            let mut cached = Vec::new();
            let next = e.segments().export(seg, &spec.clone().after(token.clone()), &mut cached).unwrap();
            let mut fresh = Vec::new();
            let want = e.clone().segments().export(seg, &spec.clone().after(token.clone()), &mut fresh).unwrap();
            prop_assert_eq!(String::from_utf8(cached).unwrap(), String::from_utf8(fresh).unwrap());
            prop_assert_eq!(&next, &want);
            token = next;
            match w {
                Write::Set(k, v) => { let _ = e.upsert("account", &key(k), Row::new().set("n", v)); }
                Write::Add(k) => { let _ = e.add_members(&admin, seg, [key(k)]); }
                Write::Remove(k) => { let _ = e.remove_members(&admin, seg, [key(k)]); }
                Write::Delete(k) => { let _ = e.delete("account", &key(k)); }
                Write::Refresh => { e.refresh(Timestamp::from_micros(1_800_000_000_000_000)).unwrap(); }
                Write::Nothing => {}
            }
            if token.is_none() {
                break;
            }
        }
    }
}

#[test]
fn members_that_come_and_go_between_pages_shift_nothing() {
    let rows: Vec<Cell> = (0..10).map(|i| (Some(i), None, None, None, None, vec![])).collect();
    let (mut e, seg) = engine(&rows, &[]);
    let admin = Actor::new("ada", Role::Admin);
    let spec = Export::new(["n"]).order(ExportOrder::Field {
        field: "n".into(),
        descending: false,
    });
    let mut page = Vec::new();
    let token = e.segments().export(seg, &spec.clone().limit(4), &mut page).unwrap();
    // The first member goes, a new one comes before the cursor.
    let first = String::from_utf8(page).unwrap();
    let k0 = first.lines().nth(1).unwrap().split(',').next().unwrap().to_string();
    e.remove_members(&admin, seg, [k0]).unwrap();
    e.insert("account", "new", Row::new().set("n", 0)).unwrap();
    e.add_members(&admin, seg, ["new"]).unwrap();
    let mut rest = Vec::new();
    assert!(e
        .segments()
        .export(seg, &spec.after(token), &mut rest)
        .unwrap()
        .is_none());
    let rest = String::from_utf8(rest).unwrap();
    let ns: Vec<&str> = rest.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(ns, ["4", "5", "6", "7", "8", "9"]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let (e, seg) = engine(&[(Some(1), None, None, None, None, vec![])], &[]);
    let mut out = Vec::new();
    assert_eq!(
        e.segments().export(seg, &Export::new(["nope"]), &mut out).unwrap_err(),
        ExportError::UnknownField { field: "nope".into() }
    );
    let by_n = ExportOrder::Field {
        field: "n".into(),
        descending: false,
    };
    assert!(matches!(
        e.segments()
            .export(seg, &Export::new(["n"]).after(Some("zz".into())), &mut out),
        Err(ExportError::BadToken { .. })
    ));
    assert!(matches!(
        e.segments().export(SegmentId(99), &Export::new(["n"]), &mut out),
        Err(ExportError::UnknownSegment(_))
    ));
    // A token of one order given to another.
    let rows: Vec<Cell> = (0..3).map(|i| (Some(i), None, None, None, None, vec![])).collect();
    let (e, seg) = engine(&rows, &[]);
    let token = e
        .segments()
        .export(seg, &Export::new(["n"]).limit(1), &mut out)
        .unwrap();
    assert!(matches!(
        e.segments()
            .export(seg, &Export::new(["n"]).order(by_n).after(token), &mut out),
        Err(ExportError::BadToken { .. })
    ));
    // A private segment, for another member.
    let mut e = Engine::new(schema());
    let owner = Actor::new("mo", Role::Member);
    let (private, _) = e
        .create_segment(
            &owner,
            NewSegment::new("Mine", "account").visibility(Visibility::Private),
        )
        .unwrap();
    let other = Actor::new("eve", Role::Member);
    assert!(matches!(
        e.as_actor(&other)
            .segments()
            .export(private, &Export::new(["n"]), &mut out),
        Err(ExportError::Denied { .. })
    ));
    assert!(e
        .as_actor(&owner)
        .segments()
        .export(private, &Export::new(["n"]), &mut out)
        .is_ok());
}
