//! Event properties, through the public API:
//!
//! - event conditions narrowed by a property filter (`"where"` in
//!   `@count`, `@firstSeen`, `@lastSeen`, `@change`) hold exactly where a
//!   model written here says, from the events and properties it recorded
//!   (not from the crate's oracle), for the evaluator, the row-scan oracle,
//!   saved segments, a restored snapshot and a replayed journal;
//! - JSON Lines ingest of properties, all or none, with the line of the
//!   first error; bounds; the filter's JSON form and its errors.

use segments::engine::JsonLines;
use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use segments::journal::Options;
use segments::segment::{Actor, NewSegment, Role, SegmentId};
use segments::store::{Properties, MAX_PROPERTIES};
use segments::{eval, Clock, Engine, FieldType, Filter, FilterError, LimitPolicy, Row, Schema, StoreError, Timestamp};

const DAY: i64 = 86_400_000_000;
const NOW: i64 = 1_800_000_000_000_000;
const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

fn t(micros: i64) -> Timestamp {
    Timestamp::from_micros(NOW + micros)
}

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("mrr", FieldType::Int)])
        .build()
        .unwrap()
}

/// One event's properties as the model holds them.
#[derive(Debug, Clone, Default)]
struct P {
    format: Option<&'static str>,
    /// `Ok(int)` or `Err(float)`.
    rows: Option<Result<i64, f64>>,
    paid: Option<bool>,
}

impl P {
    fn rows(&self) -> Option<f64> {
        self.rows.map(|r| r.map_or_else(|x| x, |i| i as f64))
    }

    fn to_properties(&self) -> Properties {
        let mut p = Properties::new();
        if let Some(f) = self.format {
            p.insert("format", f);
        }
        match self.rows {
            Some(Ok(i)) => {
                p.insert("rows", i);
            }
            Some(Err(x)) => {
                p.insert("rows", x);
            }
            None => {}
        }
        if let Some(b) = self.paid {
            p.insert("paid", b);
        }
        p
    }
}

fn props() -> impl Strategy<Value = P> {
    (
        prop::option::of(prop::sample::select(vec!["csv", "pdf"])),
        prop::option::of(prop_oneof![
            (0i64..6).prop_map(Ok),
            (0i64..6).prop_map(|i| Err(i as f64 + 0.5))
        ]),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(format, rows, paid)| P { format, rows, paid })
}

/// A property filter, with its JSON and its meaning.
#[derive(Debug, Clone)]
enum PF {
    FormatEq(&'static str),
    FormatNe(&'static str),
    FormatIn,
    FormatNull,
    RowsGt(f64),
    RowsBetween(i64, i64),
    RowsNe(i64),
    Paid(bool),
    And(Vec<PF>),
    Or(Vec<PF>),
    Not(Box<PF>),
}

impl PF {
    fn holds(&self, p: &P) -> bool {
        match self {
            PF::FormatEq(f) => p.format == Some(*f),
            PF::FormatNe(f) => p.format != Some(*f),
            PF::FormatIn => p.format.is_some(),
            PF::FormatNull => p.format.is_none(),
            PF::RowsGt(x) => p.rows().is_some_and(|r| r > *x),
            PF::RowsBetween(a, b) => p.rows().is_some_and(|r| *a as f64 <= r && r <= *b as f64),
            PF::RowsNe(x) => p.rows() != Some(*x as f64),
            PF::Paid(b) => p.paid == Some(*b),
            PF::And(xs) => xs.iter().all(|x| x.holds(p)),
            PF::Or(xs) => xs.iter().any(|x| x.holds(p)),
            PF::Not(x) => !x.holds(p),
        }
    }

    fn json(&self) -> String {
        let rule = |f: &str, op: &str, v: &str| format!(r#"{{"field":"{f}","operator":"{op}","value":{v}}}"#);
        let group = |c: &str, xs: &[PF], not: bool| {
            let rules: Vec<String> = xs.iter().map(PF::json).collect();
            format!(r#"{{"combinator":"{c}","not":{not},"rules":[{}]}}"#, rules.join(","))
        };
        match self {
            PF::FormatEq(f) => rule("format", "=", &format!("\"{f}\"")),
            PF::FormatNe(f) => rule("format", "!=", &format!("\"{f}\"")),
            PF::FormatIn => rule("format", "in", r#"["csv","pdf"]"#),
            PF::FormatNull => r#"{"field":"format","operator":"null"}"#.into(),
            PF::RowsGt(x) => rule("rows", ">", &x.to_string()),
            PF::RowsBetween(a, b) => rule("rows", "between", &format!("[{a},{b}]")),
            PF::RowsNe(x) => rule("rows", "!=", &x.to_string()),
            PF::Paid(b) => rule("paid", "=", &b.to_string()),
            PF::And(xs) => group("and", xs, false),
            PF::Or(xs) => group("or", xs, false),
            PF::Not(x) => group("and", std::slice::from_ref(x), true),
        }
    }

    /// As the value of `"where"`: a group.
    fn group(&self) -> String {
        match self {
            PF::And(_) | PF::Or(_) | PF::Not(_) => self.json(),
            leaf => format!(r#"{{"combinator":"and","rules":[{}]}}"#, leaf.json()),
        }
    }
}

fn pf() -> impl Strategy<Value = PF> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["csv", "pdf"]).prop_map(PF::FormatEq),
        prop::sample::select(vec!["csv", "pdf"]).prop_map(PF::FormatNe),
        Just(PF::FormatIn),
        Just(PF::FormatNull),
        prop_oneof![(0i64..6).prop_map(|i| i as f64), (0i64..6).prop_map(|i| i as f64 + 0.5)].prop_map(PF::RowsGt),
        (0i64..4, 0i64..4).prop_map(|(a, d)| PF::RowsBetween(a, a + d)),
        (0i64..6).prop_map(PF::RowsNe),
        any::<bool>().prop_map(PF::Paid),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..3).prop_map(PF::And),
            prop::collection::vec(inner.clone(), 1..3).prop_map(PF::Or),
            inner.prop_map(|x| PF::Not(Box::new(x))),
        ]
    })
}

/// An event condition on `export` narrowed by a property filter.
#[derive(Debug, Clone)]
enum Cond {
    /// `@count:export` `op` n, in the last `days` (all time when `None`).
    Count(&'static str, u64, Option<i64>),
    /// `@firstSeen:export` within the last `days`.
    FirstWithin(i64),
    /// `@lastSeen:export` more than `days` ago.
    LastBefore(i64),
    /// `@lastSeen:export` null: never did it.
    Never,
    /// `@change:export` `>=` (`true`) or `<=` ratio, 7-day windows.
    Change(bool, f64),
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        (
            prop::sample::select(vec![">=", "<", "=", "!="]),
            0u64..3,
            prop::option::of(1i64..20)
        )
            .prop_map(|(op, n, d)| Cond::Count(op, n, d)),
        (1i64..20).prop_map(Cond::FirstWithin),
        (1i64..20).prop_map(Cond::LastBefore),
        Just(Cond::Never),
        (any::<bool>(), prop::sample::select(vec![0.5, 1.0, 2.0])).prop_map(|(g, r)| Cond::Change(g, r)),
    ]
}

impl Cond {
    fn json(&self, pf: &PF) -> String {
        let w = pf.group();
        let (field, op, value) = match self {
            Cond::Count(op, n, d) => {
                let win = d.map_or(String::new(), |d| {
                    format!(r#","withinLast":{{"amount":{d},"unit":"days"}}"#)
                });
                ("@count:export", *op, format!(r#"{{"count":{n}{win},"where":{w}}}"#))
            }
            Cond::FirstWithin(d) => (
                "@firstSeen:export",
                "withinLast",
                format!(r#"{{"value":{{"amount":{d},"unit":"days"}},"where":{w}}}"#),
            ),
            Cond::LastBefore(d) => (
                "@lastSeen:export",
                "moreThanAgo",
                format!(r#"{{"value":{{"amount":{d},"unit":"days"}},"where":{w}}}"#),
            ),
            Cond::Never => ("@lastSeen:export", "null", format!(r#"{{"where":{w}}}"#)),
            Cond::Change(g, r) => (
                "@change:export",
                if *g { ">=" } else { "<=" },
                format!(r#"{{"ratio":{r},"window":{{"amount":7,"unit":"days"}},"where":{w}}}"#),
            ),
        };
        format!(r#"{{"combinator":"and","rules":[{{"field":"{field}","operator":"{op}","value":{value}}}]}}"#)
    }

    /// The model: from the instants (µs relative to NOW) of the matching events.
    fn holds(&self, ts: &[i64], now: i64) -> bool {
        let count = |from: i64, to: i64| ts.iter().filter(|&&t| from <= t && t <= to).count() as u64;
        match self {
            Cond::Count(op, n, d) => {
                let c = match d {
                    Some(d) => count(now - d * DAY, now),
                    None => ts.len() as u64,
                };
                match *op {
                    ">=" => c >= *n,
                    "<" => c < *n,
                    "=" => c == *n,
                    _ => c != *n,
                }
            }
            Cond::FirstWithin(d) => ts.iter().min().is_some_and(|&f| now - d * DAY <= f && f <= now),
            Cond::LastBefore(d) => ts.iter().max().is_some_and(|&l| l < now - d * DAY),
            Cond::Never => ts.is_empty(),
            Cond::Change(grew, r) => {
                let w = 7 * DAY;
                let last = count(now - w, now);
                let before = ts.iter().filter(|&&t| now - 2 * w <= t && t < now - w).count() as u64;
                let ok = if *grew {
                    last as f64 >= r * before as f64
                } else {
                    last as f64 <= r * before as f64
                };
                last + before > 0 && ok
            }
        }
    }
}

/// Events: (entity, day offset in hours, properties).
fn events() -> impl Strategy<Value = Vec<(usize, i64, P)>> {
    prop::collection::vec((0..KEYS.len(), -30 * 24i64..2, props()), 0..40)
}

fn model(events: &[(usize, i64, P)], c: &Cond, pf: &PF, now: i64) -> Vec<String> {
    let mut per: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (k, h, p) in events {
        if pf.holds(p) {
            per.entry(*k).or_default().push(h * 3_600_000_000);
        }
    }
    (0..KEYS.len())
        .filter(|k| c.holds(per.get(k).map_or(&[][..], Vec::as_slice), now))
        .map(|k| KEYS[k].to_string())
        .collect()
}

fn engine() -> Engine {
    let mut e = Engine::new(schema());
    e.set_clock(Clock::Fixed(t(0))).unwrap();
    for k in KEYS {
        e.insert("account", k, Row::new()).unwrap();
    }
    e
}

fn record(e: &mut Engine, events: &[(usize, i64, P)]) {
    // Half one at a time, half in one batch: both paths.
    let (one, batch) = events.split_at(events.len() / 2);
    for (k, h, p) in one {
        e.record_events(
            "account",
            [(KEYS[*k], "export", t(h * 3_600_000_000), p.to_properties())],
        )
        .unwrap();
    }
    let batch: Vec<_> = batch
        .iter()
        .map(|(k, h, p)| (KEYS[*k], "export", t(h * 3_600_000_000), p.to_properties()))
        .collect();
    e.record_events("account", batch).unwrap();
}

fn members(e: &Engine, s: SegmentId) -> Vec<String> {
    e.segments().member_keys(s).unwrap().map(String::from).collect()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("segments-props-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn property_filters_hold_where_the_model_says(
        evs in events(),
        conds in prop::collection::vec((cond(), pf()), 1..4),
        later in 0i64..10,
    ) {
        let mut e = engine();
        let admin = Actor::new("ada", Role::Admin);
        let mut segs = Vec::new();
        for (i, (c, f)) in conds.iter().enumerate() {
            let filter = Filter::from_json(&c.json(f)).unwrap();
            let (id, _) = e.create_segment(&admin, NewSegment::new(format!("s{i}"), "account").filter(filter)).unwrap();
            segs.push(id);
        }
        // Segments exist before the events: each write keeps them current.
        record(&mut e, &evs);
        for ((c, f), &s) in conds.iter().zip(&segs) {
            let want = model(&evs, c, f, 0);
            prop_assert_eq!(members(&e, s), want.clone(), "{}", c.json(f));
            let filter = Filter::from_json(&c.json(f)).unwrap();
            let plan = filter.validate(e.store().table("account").unwrap().schema(), &LimitPolicy::default()).unwrap();
            let table = e.store().table("account").unwrap();
            let got = eval::evaluate(&plan, table, t(0)).unwrap();
            prop_assert_eq!(&got, &eval::scan(&plan, table, t(0)).unwrap());
            let keys: Vec<String> = table.keys_of(&got).map(String::from).collect();
            prop_assert_eq!(keys, want);
        }

        // Nothing changes before next_change: not just before it, nor
        // halfway there.
        let next = e.segments().next_change(t(0)).map_or(later * DAY, |n| n.as_micros() - NOW);
        for at in [next - 1, next / 2] {
            if at > 0 {
                for (c, f) in &conds {
                    prop_assert_eq!(model(&evs, c, f, at), model(&evs, c, f, 0), "{} before next_change {}", c.json(f), next);
                }
            }
        }

        // Time passes: the relative ones follow, as refresh says.
        let now = later * DAY;
        e.set_clock(Clock::Fixed(t(now))).unwrap();
        e.refresh(t(now)).unwrap();
        for ((c, f), &s) in conds.iter().zip(&segs) {
            prop_assert_eq!(members(&e, s), model(&evs, c, f, now), "{} later", c.json(f));
        }

        // A snapshot keeps every property.
        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        let r = Engine::restore(&bytes[..]).unwrap();
        for &s in &segs {
            prop_assert_eq!(members(&r, s), members(&e, s));
        }
        let table = r.store().table("account").unwrap();
        for (k, _, _) in &evs {
            let id = table.id(KEYS[*k]).unwrap();
            let a: Vec<_> = table.event_properties(id, "export").collect();
            let b: Vec<_> = e.store().table("account").unwrap().event_properties(id, "export").collect();
            prop_assert_eq!(a, b);
        }

        // Retention drops events with their properties, and the rest keep theirs.
        let cut = -10 * DAY;
        e.drop_events_before("account", t(cut)).unwrap();
        let kept: Vec<_> = evs.iter().filter(|(_, h, _)| h * 3_600_000_000 >= cut).cloned().collect();
        for ((c, f), &s) in conds.iter().zip(&segs) {
            prop_assert_eq!(members(&e, s), model(&kept, c, f, now), "{} after the drop", c.json(f));
        }
    }
}

#[test]
fn the_journal_replays_properties_and_old_forms_still_read() {
    let dir = TempDir::new("journal");
    let evs: Vec<(usize, i64, P)> = vec![
        (
            0,
            -5,
            P {
                format: Some("csv"),
                rows: Some(Ok(3)),
                paid: None,
            },
        ),
        (
            1,
            -6,
            P {
                format: Some("pdf"),
                rows: Some(Err(2.5)),
                paid: Some(true),
            },
        ),
        (0, -7, P::default()),
    ];
    let csv = Filter::from_json(&Cond::Count(">=", 1, None).json(&PF::FormatEq("csv"))).unwrap();
    let admin = Actor::new("ada", Role::Admin);
    {
        let (mut j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        for k in KEYS {
            j.insert("account", k, Row::new()).unwrap();
        }
        record(&mut j, &evs);
        j.create_segment(&admin, NewSegment::new("csv", "account").filter(csv.clone()))
            .unwrap();
    }
    let (j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
    let s = j.segments().iter().next().unwrap().id;
    assert_eq!(members(&j, s), ["a"]);
    let id = j.store().table("account").unwrap().id("b").unwrap();
    let (_, p) = j
        .store()
        .table("account")
        .unwrap()
        .event_properties(id, "export")
        .next()
        .unwrap();
    assert_eq!(
        p,
        Properties::new()
            .with("format", "pdf")
            .with("rows", 2.5)
            .with("paid", true)
    );

    // A journal written by the release before (ops of form version 2,
    // events without properties) replays, and takes properties after.
    let old = TempDir::new("v2");
    std::fs::create_dir_all(&old.0).unwrap();
    for f in std::fs::read_dir("tests/fixtures/journal-v2").unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), old.0.join(f.file_name())).unwrap();
    }
    let opts = || {
        Options::new(
            Schema::builder()
                .kind("account", [("health", FieldType::Float)])
                .build()
                .unwrap(),
        )
    };
    {
        let (mut o, _) = Engine::open(&old.0, opts()).unwrap();
        let s = o.segments().iter().next().unwrap().id;
        assert_eq!(members(&o, s), ["a"]);
        assert_eq!(o.store().table("account").unwrap().event_count(), 4);
        o.record_events(
            "account",
            [("b", "export", t(0), Properties::new().with("format", "csv"))],
        )
        .unwrap();
        assert_eq!(members(&o, s), ["a", "b"]);
    }
    let (o, _) = Engine::open(&old.0, opts()).unwrap();
    let id = o.store().table("account").unwrap().id("b").unwrap();
    let props: Vec<_> = o
        .store()
        .table("account")
        .unwrap()
        .event_properties(id, "export")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(props, [Properties::new(), Properties::new().with("format", "csv")]);

    // And a format 3 snapshot restores, its events without properties.
    let bytes = std::fs::read("tests/fixtures/snapshot-v3.bin").unwrap();
    let r = Engine::restore(&bytes[..]).unwrap();
    assert_eq!(members(&r, r.segments().iter().next().unwrap().id), ["a"]);
    assert_eq!(r.store().table("account").unwrap().event_count(), 4);
}

#[test]
fn ops_carry_properties_in_json_and_binary() {
    use segments::engine::{DataOp, EventRecord};
    use segments::Op;
    let op = Op::Data(DataOp::RecordEvents {
        kind: "account".into(),
        events: vec![
            EventRecord {
                key: "a".into(),
                event: "export".into(),
                at: t(0),
                properties: Properties::new()
                    .with("format", "csv")
                    .with("rows", 3)
                    .with("worth", 9.5),
            },
            EventRecord {
                key: "b".into(),
                event: "export".into(),
                at: t(1),
                properties: Properties::new(),
            },
        ],
    });
    let json = op.to_json();
    assert!(
        json.contains(r#""properties":{"format":"csv","rows":3,"worth":9.5}"#),
        "{json}"
    );
    assert_eq!(json.matches("properties").count(), 1, "{json}");
    assert_eq!(Op::from_json(&json).unwrap(), op);
    assert_eq!(Op::from_bytes(&op.to_bytes()).unwrap(), op);
}

fn lines_engine() -> Engine {
    let mut e = engine();
    e.record_events("account", [("a", "login", t(0))]).unwrap();
    e
}

#[test]
fn json_lines_take_properties_all_or_none() {
    let mut e = lines_engine();
    let good = concat!(
        r#"{"key":"a","event":"export","at":"2027-01-15T08:00:00Z","properties":{"format":"csv","rows":1200,"worth":99.5,"paid":true,"note":null}}"#,
        "\n",
        r#"{"key":"b","event":"export","at":1800000000000000}"#,
        "\n"
    );
    e.load_json_lines("account", good.as_bytes(), JsonLines::events())
        .unwrap();
    let table = e.store().table("account").unwrap();
    let (_, p) = table.event_properties(table.id("a").unwrap(), "export").next().unwrap();
    assert_eq!(
        p,
        Properties::new()
            .with("format", "csv")
            .with("rows", 1200)
            .with("worth", 99.5)
            .with("paid", true)
    );

    let before = e.store().table("account").unwrap().event_count();
    for (bad, want) in [
        (
            r#"{"key":"a","event":"x","at":1,"properties":{"nested":{"a":1}}}"#,
            "line 2: invalid JSON: property `nested`: expected a string, a number, a boolean or null, found an object",
        ),
        (
            r#"{"key":"a","event":"x","at":1,"properties":{"p":1,"p":2}}"#,
            "line 2: invalid JSON: duplicate property `p`",
        ),
        (
            r#"{"key":"a","event":"x","at":1,"properties":{"p":null,"p":2}}"#,
            "line 2: invalid JSON: duplicate property `p`",
        ),
        (
            r#"{"key":"a","event":"x","at":1,"properties":{"":1}}"#,
            "line 2: key `a`, event `x`, property ``: a name must be 1 to 256 bytes",
        ),
        (
            r#"{"key":"a","event":"x","at":1,"properties":{"big":18446744073709551615}}"#,
            "line 2: invalid JSON: property `big`: integer 18446744073709551615 is past 64 bits",
        ),
    ] {
        let input = format!("{{\"key\":\"b\",\"event\":\"x\",\"at\":1}}\n{bad}\n");
        let err = e
            .load_json_lines("account", input.as_bytes(), JsonLines::events())
            .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with(want), "{text}\nwanted {want}");
        assert_eq!(e.store().table("account").unwrap().event_count(), before, "{bad}");
    }
}

#[test]
fn bounds_are_refused_and_change_nothing() {
    let mut e = lines_engine();
    let before = format!("{e:?}");
    let many: Properties = (0..=MAX_PROPERTIES).map(|i| (format!("p{i}"), i as i64)).collect();
    // One event is a batch of one: its error names row 0.
    let err = e.record_events("account", [("a", "export", t(0), many)]).unwrap_err();
    assert!(
        matches!(&err, StoreError::InRow { row: 0, source } if matches!(**source, StoreError::BadProperty { .. })),
        "{err}"
    );
    let err = e
        .record_events(
            "account",
            [("a", "export", t(0), Properties::new().with("x", f64::NAN))],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 0: key `a`, event `export`, property `x`: a float must be finite"
    );
    let err = e
        .record_events("account", [("a", "export", t(0), Properties::new().with("when", t(0)))])
        .unwrap_err();
    assert!(err.to_string().ends_with("not a timestamp"), "{err}");
    let batch = vec![
        ("a", "export", t(0), Properties::new()),
        ("b", "export", t(0), Properties::new().with("s", "x".repeat(5000))),
    ];
    let err = e.record_events("account", batch).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("row 1: key `b`, event `export`, property `s`: a string of 5000 bytes"),
        "{err}"
    );
    assert_eq!(format!("{e:?}"), before);
}

fn parse(json: &str) -> Result<Filter, FilterError> {
    let f = Filter::from_json(json)?;
    segments::Plan::in_schema(&f, &schema(), "account", &LimitPolicy::default())?;
    Ok(f)
}

#[test]
fn where_reads_and_writes_back_in_each_form() {
    for (c, f) in [
        (Cond::Count(">=", 2, Some(7)), PF::FormatEq("csv")),
        (Cond::FirstWithin(3), PF::RowsGt(2.5)),
        (Cond::LastBefore(3), PF::Not(Box::new(PF::Paid(true)))),
        (Cond::Never, PF::Or(vec![PF::FormatNull, PF::RowsBetween(1, 2)])),
        (Cond::Change(true, 2.0), PF::FormatIn),
    ] {
        let json = c.json(&f);
        let filter = parse(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        let again = Filter::from_json(&filter.to_json_value().to_string()).unwrap();
        assert_eq!(again, filter, "{json}");
    }
}

#[test]
fn where_is_refused_where_it_means_nothing() {
    let rule = |field: &str, op: &str, value: &str| {
        format!(r#"{{"combinator":"and","rules":[{{"field":"{field}","operator":"{op}","value":{value}}}]}}"#)
    };
    let w = r#"{"combinator":"and","rules":[{"field":"format","operator":"=","value":"csv"}]}"#;
    for (json, want) in [
        (
            rule("@lastSeen", "null", &format!(r#"{{"where":{w}}}"#)),
            "rules[0].value.where: a property filter on `@lastSeen` (",
        ),
        (
            rule("mrr", ">", &format!(r#"{{"value":3,"where":{w}}}"#)),
            "rules[0].value.where: a property filter on `mrr` (",
        ),
        (
            rule(
                "@count:export",
                ">=",
                r#"{"count":1,"where":{"combinator":"and","rules":[{"field":"@count:x","operator":">=","value":{"count":1}}]}}"#,
            ),
            "rules[0].value.where.rules[0].field: field `@count:x` in a property filter (its rules name the event's properties) is not supported",
        ),
        (
            rule(
                "@count:export",
                ">=",
                r#"{"count":1,"where":{"combinator":"and","rules":[{"field":"due","operator":"withinLast","value":{"amount":1,"unit":"days"}}]}}"#,
            ),
            "rules[0].value.where.rules[0].operator: `withinLast` in a property filter (compare instants with `<`, `>` or `between`) is not supported",
        ),
        (
            rule(
                "@count:export",
                ">=",
                r#"{"count":1,"where":{"combinator":"and","rules":[{"field":"rows","operator":"contains","value":3}]}}"#,
            ),
            "rules[0].value.where.rules[0].operator: operator `contains` does not apply to float field `rows`",
        ),
        (
            rule("@count:export", ">=", &format!(r#"{{"where":{w}}}"#)),
            "rules[0].value (field `@count:export`): expected {\"count\"",
        ),
    ] {
        let err = parse(&json).unwrap_err().to_string();
        assert!(err.starts_with(want), "{json}\n{err}\nwanted {want}");
    }
    // Each rule of a property filter counts toward the limit.
    let eleven: Vec<String> = (0..10)
        .map(|i| format!(r#"{{"field":"rows","operator":">","value":{i}}}"#))
        .collect();
    let json = rule(
        "@count:export",
        ">=",
        &format!(
            r#"{{"count":1,"where":{{"combinator":"and","rules":[{}]}}}}"#,
            eleven.join(",")
        ),
    );
    assert!(matches!(
        parse(&json),
        Err(FilterError::TooManyConditions { count: 11, limit: 10 })
    ));
}

#[test]
fn instants_in_properties_compare_as_instants() {
    let mut e = engine();
    for (k, due) in [
        ("a", "2027-01-10T00:00:00Z"),
        ("b", "2027-02-10T00:00:00Z"),
        ("c", "soon"),
    ] {
        e.record_events("account", [(k, "invoice", t(0), Properties::new().with("due", due))])
            .unwrap();
    }
    let f = Filter::from_json(
        r#"{"combinator":"and","rules":[{"field":"@count:invoice","operator":">=","value":{"count":1,
            "where":{"combinator":"and","rules":[{"field":"due","operator":"<","value":"2027-02-01T00:00:00Z"}]}}}]}"#,
    )
    .unwrap();
    let plan = f
        .validate(e.store().table("account").unwrap().schema(), &LimitPolicy::default())
        .unwrap();
    let table = e.store().table("account").unwrap();
    let got = eval::evaluate(&plan, table, t(0)).unwrap();
    assert_eq!(table.keys_of(&got).collect::<Vec<_>>(), ["a"]);
}
