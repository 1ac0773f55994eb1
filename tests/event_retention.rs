//! Event retention and event ingest from JSON Lines, through the public
//! API:
//!
//! - dropping events before an instant leaves segments exactly as an
//!   engine built from scratch with only the events kept (which knows
//!   nothing of the drop), for window counts, first and last seen, usage
//!   change and `@related` rules over children's events; the changes it
//!   returns are the difference;
//! - JSON Lines events are the same as the same events recorded one by
//!   one, all or none, with the line of the first error.

use segments::engine::JsonLines;
use std::collections::BTreeSet;

use proptest::prelude::*;
use segments::filter::{field, related};
use segments::segment::{Actor, ChangeKind, NewSegment, Role};
use segments::{Engine, FieldType, Filter, Row, Schema, StoreError, Timestamp};

const DAY: i64 = 86_400_000_000;
const NOW: i64 = 1_800_000_000_000_000;

fn t(day: i64) -> Timestamp {
    Timestamp::from_micros(NOW + day * DAY)
}

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("mrr", FieldType::Int)])
        .kind("user", [("account_id", FieldType::String)])
        .relation("user", "account_id", "account")
        .build()
        .unwrap()
}

fn rule_json(field: &str, op: &str, value: &str) -> Filter {
    Filter::from_json(&format!(
        r#"{{"combinator":"and","rules":[{{"field":"{field}","operator":"{op}","value":{value}}}]}}"#
    ))
    .unwrap()
}

/// Segments over every kind of event condition.
fn filters() -> Vec<(&'static str, &'static str, Filter)> {
    vec![
        ("count", "account", rule_json("@count:login", ">=", r#"{"count":2}"#)),
        (
            "count 30d",
            "account",
            rule_json(
                "@count:login",
                ">=",
                r#"{"count":1,"withinLast":{"amount":30,"unit":"days"}}"#,
            ),
        ),
        ("first", "account", rule_json("@firstSeen", "notNull", "null")),
        (
            "last",
            "account",
            rule_json("@lastSeen:export", "withinLast", r#"{"amount":20,"unit":"days"}"#),
        ),
        (
            "usage",
            "account",
            rule_json(
                "@change:login",
                "<=",
                r#"{"ratio":0.5,"window":{"amount":14,"unit":"days"}}"#,
            ),
        ),
        (
            "users",
            "account",
            Filter::and([related("user").any(rule_json("@count:login", ">=", r#"{"count":1}"#))]),
        ),
        ("never", "user", Filter::and([field("@lastSeen").is_null()])),
    ]
}

type Ev = (bool, usize, &'static str, i64);

fn build(events: &[Ev]) -> Engine {
    let mut e = Engine::new(schema());
    e.set_clock(segments::Clock::Fixed(t(0))).unwrap();
    for a in 0..4 {
        e.insert("account", &format!("a{a}"), Row::new()).unwrap();
        e.insert("user", &format!("u{a}"), Row::new().set("account_id", format!("a{a}")))
            .unwrap();
    }
    let admin = Actor::new("ada", Role::Admin);
    for (name, kind, f) in filters() {
        e.create_segment(&admin, NewSegment::new(name, kind).filter(f)).unwrap();
    }
    let acc: Vec<_> = events
        .iter()
        .filter(|e| !e.0)
        .map(|&(_, k, n, d)| (format!("a{k}"), n, t(d)))
        .collect();
    let usr: Vec<_> = events
        .iter()
        .filter(|e| e.0)
        .map(|&(_, k, n, d)| (format!("u{k}"), n, t(d)))
        .collect();
    e.record_events("account", acc).unwrap();
    e.record_events("user", usr).unwrap();
    e
}

fn members(e: &Engine) -> BTreeSet<(String, String)> {
    e.segments()
        .iter()
        .flat_map(|s| {
            e.segments()
                .member_keys(s.id)
                .unwrap()
                .map(|k| (s.name.clone(), k.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn dropping_events_is_building_without_them(
        events in prop::collection::vec(
            (any::<bool>(), 0..4usize, prop::sample::select(&["login", "export"][..]), -60i64..=0),
            0..40,
        ),
        cut in -70i64..=5,
    ) {
        let mut e = build(&events);
        let before = members(&e);
        let changes = e.drop_events_before("account", t(cut)).unwrap();
        let changes_users = e.drop_events_before("user", t(cut)).unwrap();
        let kept: Vec<Ev> = events.iter().copied().filter(|ev| ev.3 >= cut).collect();
        let fresh = build(&kept);
        let after = members(&e);
        prop_assert_eq!(&after, &members(&fresh));
        let want_events = fresh.store().table("account").unwrap().event_count() + fresh.store().table("user").unwrap().event_count();
        prop_assert_eq!(e.store().table("account").unwrap().event_count() + e.store().table("user").unwrap().event_count(), want_events);
        // The changes returned are the difference, exits and entries.
        let name = |id| e.segments().get(id).unwrap().name.clone();
        let key = |c: &segments::segment::Change| {
            let kind = e.segments().get(c.segment).unwrap().kind.clone();
            e.store().table(&kind).unwrap().key(c.entity).unwrap().to_string()
        };
        let mut exited = BTreeSet::new();
        let mut entered = BTreeSet::new();
        for c in changes.iter().chain(changes_users.iter()) {
            let k = (name(c.segment), key(&c));
            match c.kind {
                ChangeKind::Exited => { exited.insert(k); }
                ChangeKind::Entered => { entered.insert(k); }
            }
        }
        prop_assert_eq!(exited, before.difference(&after).cloned().collect::<BTreeSet<_>>());
        prop_assert_eq!(entered, after.difference(&before).cloned().collect::<BTreeSet<_>>());
        // And through a snapshot.
        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        prop_assert_eq!(members(&Engine::restore(&bytes[..]).unwrap()), after);
    }
}

#[test]
fn expiry_is_a_drop_at_the_clock_less_the_age() {
    let mut e = build(&[
        (false, 0, "login", -40),
        (false, 0, "login", -10),
        (false, 1, "login", -5),
    ]);
    let before = Timestamp::from_micros(e.now().as_micros() - 30 * 86_400 * 1_000_000);
    e.drop_events_before("account", before).unwrap();
    let t0 = e.store().table("account").unwrap();
    assert_eq!(t0.event_count(), 2);
    let a0 = t0.id("a0").unwrap();
    assert_eq!(t0.event_times(a0, "login").collect::<Vec<_>>(), [t(-10)]);
}

#[test]
fn json_lines_events_are_recorded_events_all_or_none() {
    let lines = [
        r#"{"key":"a0","event":"login","at":"2027-01-15T08:00:00Z"}"#.to_string(),
        String::new(),
        format!(r#"{{"key":"a1","event":"export","at":{}}}"#, t(-3).as_micros()),
        r#"{"key":"a0","event":"login","at":"2027-01-14T08:00:00Z","properties":{}}"#.to_string(),
    ]
    .join("\n");
    let mut a = build(&[]);
    let (changes, _) = a
        .load_json_lines("account", lines.as_bytes(), JsonLines::events())
        .unwrap();
    let mut b = build(&[]);
    let one = |s: &str| s.parse::<Timestamp>().unwrap();
    let by_one = b
        .record_events(
            "account",
            [
                ("a0", "login", one("2027-01-15T08:00:00Z")),
                ("a1", "export", t(-3)),
                ("a0", "login", one("2027-01-14T08:00:00Z")),
            ],
        )
        .unwrap();
    assert_eq!(members(&a), members(&b));
    assert_eq!(changes.len(), by_one.len());
    assert_eq!(a.store().table("account").unwrap().event_count(), 3);

    let before = format!("{:?}", a.clone());
    let cases = [
        ("{\"key\":\"a0\",\"event\":\"login\",\"at\":\"2027-01-15T08:00:00Z\"}\n{\"key\":\"zz\",\"event\":\"login\",\"at\":5}", "line 2: key `zz`: no such entity"),
        ("\n\n{\"key\":\"a0\",\"event\":\" \",\"at\":5}", "line 3: key `a0`: event name is empty"),
        ("{\"key\":\"a0\",\"event\":\"login\"}", "line 1: invalid JSON: missing field `at` at line 1 column 28"),
        ("{\"key\":\"a0\",\"event\":\"login\",\"at\":\"soon\"}", "line 1: invalid JSON: not an RFC 3339 timestamp"),
        ("{\"key\":\"a0\",\"event\":\"login\",\"at\":5,\"who\":1}", "line 1: invalid JSON: unknown field `who`"),
        ("{\"key\":\"a0\",\"event\":\"login\",\"at\":5,\"properties\":{\"format\":[\"csv\"]}}", "line 1: invalid JSON: property `format`: expected a string"),
        ("[1]", "line 1: invalid JSON: invalid type"),
    ];
    for (input, want) in cases {
        let err = a
            .load_json_lines("account", input.as_bytes(), JsonLines::events())
            .unwrap_err();
        assert!(matches!(err, StoreError::AtLine { .. }), "{err:?}");
        assert!(err.to_string().starts_with(want), "{err} / {want}");
        assert_eq!(format!("{:?}", a.clone()), before, "{input}");
    }
    assert!(matches!(
        a.load_json_lines("team", "".as_bytes(), JsonLines::events()),
        Err(StoreError::UnknownKind(_))
    ));
}

#[test]
fn forgetting_an_event_name_is_building_without_it_and_refused_while_read() {
    let events: Vec<Ev> = vec![
        (false, 0, "login", -3),
        (false, 1, "export", -2),
        (false, 2, "export", -50),
        (true, 3, "export", -1),
        (true, 2, "login", -4),
    ];
    let mut e = build(&events);
    let before = format!("{:?}", e.clone());
    // `login` is read by name (counts, usage change, the users' rule).
    let err = e.forget_event("account", "login").unwrap_err();
    assert!(matches!(err, StoreError::EventInUse { .. }), "{err}");
    for name in ["count", "count 30d", "usage"] {
        assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
    }
    let err = e.forget_event("user", "login").unwrap_err();
    assert!(err.to_string().contains("`users`"), "{err}");
    assert_eq!(format!("{:?}", e.clone()), before);
    // `export` is read by name by `last` only: detach it, then it goes.
    let admin = Actor::new("ada", Role::Admin);
    assert!(e.forget_event("account", "export").is_err());
    let last = e.segments().iter().find(|s| s.name == "last").unwrap().id;
    e.delete_segment(&admin, last).unwrap();
    let changes = e.forget_event("account", "export").unwrap();
    e.forget_event("user", "export").unwrap();
    let kept: Vec<Ev> = events.iter().copied().filter(|ev| ev.2 != "export").collect();
    let mut fresh = build(&kept);
    let last = fresh.segments().iter().find(|s| s.name == "last").unwrap().id;
    fresh.delete_segment(&admin, last).unwrap();
    assert_eq!(members(&e), members(&fresh));
    // a1 and a2 had only `export`: they leave "first" (any event).
    let first = e.segments().iter().find(|s| s.name == "first").unwrap().id;
    let left: BTreeSet<_> = changes
        .iter()
        .filter(|c| c.segment == first && c.kind == ChangeKind::Exited)
        .map(|c| e.store().table("account").unwrap().key(c.entity).unwrap().to_string())
        .collect();
    assert_eq!(left, ["a1".to_string(), "a2".to_string()].into_iter().collect());
    // Forgetting a name never recorded changes nothing.
    assert!(e.forget_event("account", "never").unwrap().is_empty());
}

#[test]
fn a_rule_that_reads_an_event_by_name_and_any_event_still_holds_the_name() {
    let mut e = build(&[(false, 0, "login", -3)]);
    let admin = Actor::new("ada", Role::Admin);
    let both = Filter::and([
        rule_json("@count:login", ">=", r#"{"count":1}"#),
        rule_json("@lastSeen", "notNull", "null"),
    ]);
    e.create_segment(&admin, NewSegment::new("both", "account").filter(both))
        .unwrap();
    // The other segments that read `login` by name go first.
    for name in ["count", "count 30d", "usage", "users"] {
        let id = e.segments().iter().find(|s| s.name == name).unwrap().id;
        e.delete_segment(&admin, id).unwrap();
    }
    let before = format!("{:?}", e.clone());
    let err = e.forget_event("account", "login").unwrap_err();
    assert!(err.to_string().contains("`both`"), "{err}");
    assert_eq!(format!("{:?}", e.clone()), before);
}
