//! Snapshots: exact round trips over random states, and every damaged
//! snapshot refused with an error.

use proptest::prelude::*;
use serde_json::json;

use segments::segment::{Actor, NewSegment, Role, SegmentId, Visibility};
use segments::snapshot::{FORMAT_VERSION, MAGIC};
use segments::{
    Clock, Engine, FieldType, Filter, IndexConfig, LimitPolicy, Row, Schema, SnapshotError, Timestamp, Value,
};

const DAY: i64 = 86_400_000_000;

fn t0() -> Timestamp {
    "2026-11-20T12:00:00Z".parse().unwrap()
}

fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("health", FieldType::Float),
                ("nps", FieldType::Int),
                ("plan", FieldType::String),
                ("paying", FieldType::Bool),
                ("renewal", FieldType::Timestamp),
                ("labels", FieldType::Tags),
                ("parent", FieldType::String),
            ],
        )
        .kind(
            "user",
            [
                ("account_id", FieldType::String),
                ("score", FieldType::Int),
                ("active", FieldType::Bool),
            ],
        )
        .relation("user", "account_id", "account")
        .relation("account", "parent", "account")
        .build()
        .unwrap()
}

fn admin() -> Actor {
    Actor::new("ada", Role::Admin)
}

fn filter(v: serde_json::Value) -> Filter {
    Filter::from_json_value(&v).unwrap()
}

/// Account filters of every kind: each type, events, relations, time,
/// segment references (to the first segments, which may or may not exist).
fn account_filters() -> Vec<serde_json::Value> {
    let and = |rules: serde_json::Value| json!({"combinator": "and", "rules": rules});
    vec![
        and(json!([{"field": "health", "operator": "<", "value": 50}])),
        and(json!([{"field": "plan", "operator": "in", "value": ["pro", "enterprise"]}])),
        and(json!([{"field": "labels", "operator": "containsAny", "value": ["vip", "beta"]}])),
        json!({"combinator": "or", "not": true, "rules": [
            {"field": "paying", "operator": "=", "value": false}, {"field": "nps", "operator": ">=", "value": 8}]}),
        and(json!([{"field": "renewal", "operator": "withinNext", "value": {"amount": 10, "unit": "days"}}])),
        and(
            json!([{"field": "@count:login", "operator": ">=", "value": {"count": 1, "withinLast": {"amount": 5, "unit": "days"}}}]),
        ),
        and(json!([{"field": "@related:user", "operator": "atLeast",
            "value": {"count": 1, "filter": {"combinator": "and", "rules": [{"field": "score", "operator": ">", "value": 3}]}}}])),
        and(json!([{"field": "@segment", "operator": "in", "value": [1, 2]}])),
        and(json!([{"field": "@related:account", "operator": "any",
            "value": {"combinator": "and", "rules": [{"field": "health", "operator": ">", "value": 20.5}]}}])),
        and(json!([{"field": "@lastSeen", "operator": "withinLast", "value": {"amount": 3, "unit": "days"}}])),
        and(json!([{"field": "@lastSeen:click", "operator": "withinLast", "value": {"amount": 2, "unit": "days"}}])),
        // Attached to an early segment, a lower id names higher ones: ids
        // are not the order segments settle in.
        json!({"combinator": "or", "rules": [{"field": "@segment", "operator": "in", "value": [3, 4]},
            {"field": "nps", "operator": "<", "value": 2}]}),
    ]
}

fn user_filter() -> serde_json::Value {
    json!({"combinator": "and", "rules": [{"field": "active", "operator": "=", "value": true},
        {"field": "@count:click", "operator": ">=", "value": {"count": 1, "withinLast": {"amount": 2, "unit": "days"}}}]})
}

#[derive(Debug, Clone)]
enum Op {
    Account(
        u8,
        Option<f64>,
        Option<i64>,
        Option<u8>,
        Option<bool>,
        Option<i64>,
        Vec<u8>,
        Option<u8>,
    ),
    DeleteAccount(u8),
    User(u8, u8, Option<i64>, bool),
    DeleteUser(u8),
    Event(bool, u8, u8, i64),
    Tick(i64),
    Create(usize, bool),
    CreateUsers,
    Delete(u8),
    Move(u8, u8),
    Attach(u8, usize),
    Detach(u8),
    Rename(u8, u8),
    Private(u8),
    Add(u8, u8),
    Remove(u8, u8),
    Unblock(u8),
    Settings(u8, u8),
    Share(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            0..12u8,
            prop::option::of(-5.0..120.0f64),
            prop::option::of(-3..12i64),
            prop::option::of(0..4u8),
            prop::option::of(any::<bool>()),
            prop::option::of(-20..20i64),
            prop::collection::vec(0..4u8, 0..3),
            prop::option::of(0..12u8),
        )
            .prop_map(|(k, h, n, p, b, r, l, par)| Op::Account(k, h, n, p, b, r, l, par)),
        1 => (0..12u8).prop_map(Op::DeleteAccount),
        3 => (0..16u8, 0..12u8, prop::option::of(0..8i64), any::<bool>()).prop_map(|(u, a, s, x)| Op::User(u, a, s, x)),
        1 => (0..16u8).prop_map(Op::DeleteUser),
        4 => (any::<bool>(), 0..16u8, 0..3u8, 0..10i64).prop_map(|(acc, k, n, d)| Op::Event(acc, k, n, d)),
        1 => (0..4i64).prop_map(Op::Tick),
        3 => (0..12usize, any::<bool>()).prop_map(|(f, p)| Op::Create(f, p)),
        1 => Just(Op::CreateUsers),
        1 => (0..8u8).prop_map(Op::Delete),
        1 => (0..8u8, 0..8u8).prop_map(|(s, p)| Op::Move(s, p)),
        2 => (0..8u8, 0..12usize).prop_map(|(s, f)| Op::Attach(s, f)),
        1 => (0..8u8).prop_map(Op::Detach),
        1 => (0..8u8, 0..8u8).prop_map(|(s, n)| Op::Rename(s, n)),
        1 => (0..8u8).prop_map(Op::Private),
        2 => (0..8u8, 0..12u8).prop_map(|(s, k)| Op::Add(s, k)),
        2 => (0..8u8, 0..12u8).prop_map(|(s, k)| Op::Remove(s, k)),
        1 => (0..8u8).prop_map(Op::Unblock),
        1 => (0..8u8, 0..4u8).prop_map(|(s, v)| Op::Settings(s, v)),
        1 => (0..8u8, 0..4u8).prop_map(|(s, v)| Op::Share(s, v)),
    ]
}

const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
const LABELS: [&str; 4] = ["vip", "beta", "churn-risk", "émigré"];
const EVENTS: [&str; 3] = ["login", "click", "export"];

fn nth_segment(e: &Engine, i: u8) -> Option<SegmentId> {
    let ids: Vec<SegmentId> = e.segments().iter().map(|s| s.id).collect();
    (!ids.is_empty()).then(|| ids[i as usize % ids.len()])
}

/// Applies `op`; errors (unknown keys, names in use, ...) are part of the
/// game and leave the engine as it was.
fn apply(e: &mut Engine, op: &Op, now: &mut Timestamp, serial: &mut u32) -> String {
    let a = admin();
    let key = |k: u8| format!("a{k}");
    let result: Result<String, segments::Error> =
        (|| -> Result<Option<segments::segment::Changes>, segments::Error> {
            Ok(Some(match op {
                Op::Account(k, h, n, p, b, r, l, par) => {
                    let labels: Vec<String> = l.iter().map(|&i| LABELS[i as usize].to_string()).collect();
                    let row = Row::new()
                        .set("health", h.map_or(Value::Null, Value::Float))
                        .set("nps", n.map_or(Value::Null, Value::Int))
                        .set(
                            "plan",
                            p.map_or(Value::Null, |p| Value::String(PLANS[p as usize].into())),
                        )
                        .set("paying", b.map_or(Value::Null, Value::Bool))
                        .set(
                            "renewal",
                            r.map_or(Value::Null, |d| {
                                Value::Timestamp(Timestamp::from_micros(now.as_micros() + d * DAY))
                            }),
                        )
                        .set("labels", Value::Tags(labels))
                        .set("parent", par.map_or(Value::Null, |p| Value::String(key(p))));
                    e.upsert("account", &key(*k), row)?
                }
                Op::DeleteAccount(k) => e.delete("account", &key(*k))?,
                Op::User(u, acct, s, x) => e.upsert(
                    "user",
                    &format!("u{u}"),
                    Row::new()
                        .set("account_id", key(*acct))
                        .set("score", s.map_or(Value::Null, Value::Int))
                        .set("active", *x),
                )?,
                Op::DeleteUser(u) => e.delete("user", &format!("u{u}"))?,
                Op::Event(acc, k, n, d) => {
                    let at = Timestamp::from_micros(now.as_micros() - d * DAY / 2);
                    let (kind, key) = if *acc {
                        ("account", key(*k % 6))
                    } else {
                        ("user", format!("u{k}"))
                    };
                    e.record_events(kind, [(&key, EVENTS[*n as usize], at)])?
                }
                Op::Tick(d) => {
                    *now = Timestamp::from_micros(now.as_micros() + d * DAY + 1);
                    e.set_clock(Clock::Fixed(*now)).unwrap();
                    e.refresh(*now).unwrap()
                }
                Op::Create(f, private) => {
                    *serial += 1;
                    let vis = if *private {
                        Visibility::Private
                    } else {
                        Visibility::Public
                    };
                    let spec = NewSegment::new(format!("segment {serial}"), "account")
                        .filter(filter(account_filters()[*f].clone()))
                        .visibility(vis);
                    e.create_segment(&a, spec)?.1
                }
                Op::CreateUsers => {
                    *serial += 1;
                    let spec = NewSegment::new(format!("users {serial}"), "user").filter(filter(user_filter()));
                    e.create_segment(&a, spec)?.1
                }
                Op::Delete(s) => match nth_segment(e, *s) {
                    Some(s) => e.delete_segment(&a, s)?,
                    None => return Ok(None),
                },
                Op::Move(s, p) => match nth_segment(e, *s) {
                    Some(s) => {
                        e.move_segment(&a, s, *p as usize)?;
                        return Ok(None);
                    }
                    None => return Ok(None),
                },
                Op::Attach(s, f) => match nth_segment(e, *s) {
                    Some(s) if e.segments().get(s)?.kind == "account" => {
                        e.attach_rule(&a, s, filter(account_filters()[*f].clone()))?.1
                    }
                    _ => return Ok(None),
                },
                Op::Detach(s) => match nth_segment(e, *s).and_then(|s| e.segments().get(s).ok()?.rules.last().copied())
                {
                    Some(r) => e.detach_rule(&a, r)?,
                    None => return Ok(None),
                },
                Op::Rename(s, n) => match nth_segment(e, *s) {
                    Some(s) => {
                        e.rename(&a, s, &format!("renamed {n}"))?;
                        return Ok(None);
                    }
                    None => return Ok(None),
                },
                Op::Settings(s, v) => match nth_segment(e, *s) {
                    Some(s) => {
                        let settings: segments::segment::Settings = match v {
                            0 => segments::segment::Settings::new(),
                            1 => [("color", json!("#d33"))].into_iter().collect(),
                            2 => [("weights", json!({"usage": 0.5, "parts": [1, 2, {"x": null}]}))]
                                .into_iter()
                                .collect(),
                            _ => [("description", json!("Émigré accounts")), ("n", json!(3))]
                                .into_iter()
                                .collect(),
                        };
                        e.set_settings(&a, s, settings)?;
                        return Ok(None);
                    }
                    None => return Ok(None),
                },
                Op::Share(s, v) => match nth_segment(e, *s) {
                    Some(s) => {
                        use segments::segment::{Grantee, SegmentAccess};
                        let access = match v {
                            0 => SegmentAccess::new(),
                            1 => SegmentAccess::new().viewer(Grantee::actor("kim")),
                            2 => SegmentAccess::new().editor(Grantee::team("emea")),
                            _ => SegmentAccess::new()
                                .editor(Grantee::actor("mo"))
                                .viewer(Grantee::team("ops")),
                        };
                        e.set_access(&a, s, access)?;
                        return Ok(None);
                    }
                    None => return Ok(None),
                },
                Op::Private(s) => match nth_segment(e, *s) {
                    Some(s) => {
                        e.set_visibility(&a, s, Visibility::Private)?;
                        return Ok(None);
                    }
                    None => return Ok(None),
                },
                Op::Add(s, k) | Op::Remove(s, k) => {
                    let Some(s) = nth_segment(e, *s) else { return Ok(None) };
                    let key = if e.segments().get(s)?.kind == "account" {
                        key(*k)
                    } else {
                        format!("u{k}")
                    };
                    if matches!(op, Op::Add(..)) {
                        e.add_members(&a, s, [key])?
                    } else {
                        e.remove_members(&a, s, [key])?
                    }
                }
                Op::Unblock(s) => match nth_segment(e, *s) {
                    Some(s) => {
                        e.apply(segments::Op::Manage(segments::ManageOp::ClearAllBlocks {
                            actor: a.clone(),
                            segment: s,
                        }))?
                        .changes
                    }
                    None => return Ok(None),
                },
            }))
        })()
        .map(|c| c.map(|c| format!("{c:?}")).unwrap_or_default());
    match result {
        Ok(changes) => changes,
        Err(err) => format!("error: {err}"),
    }
}

fn state(ops: &[Op]) -> (Engine, Timestamp, u32) {
    let cfg = IndexConfig {
        fine_buckets: 8,
        min_bucket: 2,
        ..IndexConfig::default()
    };
    let mut e = Engine::with_config(schema(), LimitPolicy::default().with_max_conditions(20), cfg);
    let mut now = t0();
    e.set_clock(Clock::Fixed(now)).unwrap();
    let mut serial = 0;
    for op in ops {
        apply(&mut e, op, &mut now, &mut serial);
    }
    (e, now, serial)
}

fn save(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.save(&mut out).unwrap();
    out
}

/// Everything a caller can observe, as text.
fn observe(e: &Engine, now: Timestamp) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "{:?} {:?} {:?}",
        e.builder().policy(),
        e.now(),
        e.segments().next_change(now)
    ));
    for kind in ["account", "user"] {
        let t = e.store().table(kind).unwrap();
        line(format!("{kind}: live {:?}, {:?}", t.live(), t.config()));
        let mut id = 0;
        while let Some(k) = t.key_any(segments::EntityId(id)) {
            let fields: Vec<String> = t.schema().fields().map(|(_, name, _)| name.to_string()).collect();
            let values: Vec<Option<Value>> = fields.iter().map(|f| t.get(segments::EntityId(id), f)).collect();
            let events: Vec<(String, Vec<Timestamp>)> = t
                .event_names()
                .map(|n| (n.to_string(), t.event_times(segments::EntityId(id), n).collect()))
                .collect();
            line(format!("  {id} {k}: {values:?} {events:?}"));
            id += 1;
        }
        line(format!("  events {}", t.event_count()));
    }
    for s in e.as_actor(&admin()).segments().iter() {
        line(format!("{s:?}"));
        line(format!("  members {:?}", e.segments().members(s.id).unwrap()));
        line(format!("  manual {:?}", e.segments().manual_links(s.id).unwrap()));
        for r in &s.rules {
            line(format!("  {:?}", e.segments().rule(*r).unwrap()));
            line(format!("    links {:?}", e.segments().rule_links(*r).unwrap()));
            line(format!("    blocks {:?}", e.segments().rule_blocks(*r).unwrap()));
        }
    }
    for (i, f) in account_filters().into_iter().enumerate() {
        for at in [now, Timestamp::from_micros(now.as_micros() + 3 * DAY)] {
            line(format!(
                "filter {i} at {at}: {:?}",
                e.query("account")
                    .evaluate(&filter(f.clone()), at)
                    .map_err(|e| e.to_string())
            ));
        }
    }
    line(format!(
        "users: {:?}",
        e.query("user").evaluate(&filter(user_filter()), now)
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    /// A restored engine saves to the same bytes, shows the same state,
    /// passes the consistency check, and answers the same writes with the
    /// same changes as the original.
    #[test]
    fn a_restored_engine_is_the_same_engine(
        ops in prop::collection::vec(op(), 0..45),
        more in prop::collection::vec(op(), 0..12),
    ) {
        let (mut e, mut now, mut serial) = state(&ops);
        let bytes = save(&e);
        let mut r = Engine::restore(&bytes[..]).unwrap();
        prop_assert_eq!(save(&r), bytes.clone(), "save(restore(save(s))) != save(s)");
        prop_assert_eq!(observe(&r, now), observe(&e, now));
        segments::testing::check_consistency(&r, now)?;

        let (mut now2, mut serial2) = (now, serial);
        for op in &more {
            let a = apply(&mut e, op, &mut now, &mut serial);
            let b = apply(&mut r, op, &mut now2, &mut serial2);
            prop_assert_eq!(a, b, "after {:?}", op);
        }
        prop_assert_eq!(observe(&r, now), observe(&e, now));
        prop_assert_eq!(save(&r), save(&e));
    }

    /// A payload changed anywhere but checksummed again (as a forger or a
    /// bug would) is refused or restored, never a panic; what is restored
    /// can be used.
    #[test]
    fn a_checksummed_but_corrupt_payload_never_panics(
        ops in prop::collection::vec(op(), 0..25),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let (e, now, _) = state(&ops);
        let bytes = save(&e);
        let mut payload = bytes[20..bytes.len() - 4].to_vec();
        for (i, b) in &edits {
            let i = i.index(payload.len());
            payload[i] = *b;
        }
        if let Some(c) = cut {
            payload.truncate(c.index(payload.len() + 1));
        }
        if let Ok(r) = Engine::restore(&reframe(&payload)[..]) {
            let _ = observe(&r, now);
            let again = save(&r);
            prop_assert!(Engine::restore(&again[..]).is_ok());
        }
    }
}

/// Frames `payload` as a version 1 snapshot with a correct checksum.
fn reframe(payload: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A small state that uses every part of the format.
fn rich() -> (Engine, Timestamp) {
    use Op::*;
    let ops = vec![
        Account(1, Some(10.5), Some(9), Some(2), Some(true), Some(3), vec![0, 3], None),
        Account(2, Some(80.0), None, Some(3), Some(false), None, vec![1], Some(1)),
        Account(3, None, Some(4), None, None, Some(-2), vec![], Some(2)),
        User(1, 1, Some(5), true),
        User(2, 2, None, false),
        Event(false, 1, 0, 1),
        Event(false, 1, 1, 2),
        Event(true, 2, 2, 3),
        Create(0, false),
        Create(6, true),
        Create(7, false),
        CreateUsers,
        Add(0, 2),
        Remove(0, 1),
        DeleteAccount(3),
        Tick(1),
        Settings(0, 2),
        Share(1, 3),
    ];
    let (e, now, _) = state(&ops);
    (e, now)
}

#[test]
fn the_rich_state_uses_every_part_of_the_format() {
    let (e, _) = rich();
    let blocked: u64 = e
        .segments()
        .iter()
        .flat_map(|s| s.rules.clone())
        .map(|r| e.segments().rule_blocks(r).unwrap().len())
        .sum();
    assert!(blocked > 0, "no blocks");
    assert!(e.segments().iter().any(|s| s.visibility == Visibility::Private));
    assert!(e
        .segments()
        .iter()
        .any(|s| !e.segments().manual_links(s.id).unwrap().is_empty()));
    let accounts = e.store().table("account").unwrap();
    assert!(
        accounts.key_any(segments::EntityId(2)).is_some() && accounts.live().len() == 2,
        "a deleted key"
    );
    assert!(accounts.event_count() > 0 && e.store().table("user").unwrap().event_count() > 0);
    assert!(e.segments().iter().any(|s| !s.settings.is_empty()), "no settings");
    assert!(e.segments().iter().any(|s| !s.access.is_empty()), "no sharing");
    assert!(e.segments().iter().any(|s| s.version > 1), "no edits");
}

#[test]
fn every_bit_flip_and_every_truncation_is_refused() {
    let (e, _) = rich();
    let bytes = save(&e);
    assert!(bytes.len() > 1000, "{} bytes", bytes.len());
    let mut flipped = bytes.clone();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            flipped[i] ^= 1 << bit;
            let got = Engine::restore(&flipped[..]);
            assert!(got.is_err(), "flipping bit {bit} of byte {i} was not noticed");
            flipped[i] ^= 1 << bit;
        }
    }
    for len in 0..bytes.len() {
        assert!(
            Engine::restore(&bytes[..len]).is_err(),
            "a cut at {len} was not noticed"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        Engine::restore(&longer[..]),
        Err(SnapshotError::Length { .. })
    ));
}

#[test]
fn each_damage_gets_its_own_error() {
    let (e, _) = rich();
    let bytes = save(&e);

    let e1 = Engine::restore(&b"{\"accounts\": []}"[..]).unwrap_err();
    assert!(matches!(e1, SnapshotError::NotASnapshot { .. }));
    assert!(e1.to_string().starts_with("not a segments snapshot"), "{e1}");

    let mut newer = bytes.clone();
    newer[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e2 = Engine::restore(&newer[..]).unwrap_err();
    assert_eq!(
        e2,
        SnapshotError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        }
    );
    assert_eq!(
        e2.to_string(),
        format!(
            "snapshot format version {} is not supported: this release reads version {FORMAT_VERSION}; \
         a newer release of segments wrote it, or the file is corrupt",
            FORMAT_VERSION + 1
        )
    );

    let e3 = Engine::restore(&bytes[..bytes.len() - 10]).unwrap_err();
    assert!(matches!(e3, SnapshotError::Length { .. }), "{e3}");
    assert!(e3.to_string().contains("truncated"), "{e3}");

    let mut flipped = bytes.clone();
    flipped[100] ^= 4;
    let e4 = Engine::restore(&flipped[..]).unwrap_err();
    assert!(matches!(e4, SnapshotError::Checksum { .. }), "{e4}");
    assert!(e4.to_string().contains("corrupt"), "{e4}");

    // Past the checksum: a payload cut short, with its frame mended. A cut
    // inside a number is truncation; one inside a counted run is an
    // impossible count.
    let payload = &bytes[20..bytes.len() - 4];
    let e5 = Engine::restore(&reframe(&payload[..12])[..]).unwrap_err();
    assert!(
        matches!(
            e5,
            SnapshotError::Truncated {
                offset: 29,
                needed: 8,
                left: 3,
                ..
            }
        ),
        "{e5}"
    );
    assert_eq!(
        e5.to_string(),
        "snapshot byte 29: limit policy, depth: needs 8 bytes, 3 remain"
    );
    let e5b = Engine::restore(&reframe(&payload[..payload.len() - 3])[..]).unwrap_err();
    // The last value read is 3 bytes short, whatever section ends the
    // payload.
    let nums: Vec<u64> = e5b
        .to_string()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (needed, left) = (nums[nums.len() - 2], nums[nums.len() - 1]);
    assert!(e5b.to_string().ends_with(" remain") && needed - left == 3, "{e5b}");

    // A duplicate key, at its offset, named.
    let mut dup = payload.to_vec();
    let first = find(&dup, b"\x02\0\0\0\0\0\0\0a1").unwrap();
    let second = find(&dup, b"\x02\0\0\0\0\0\0\0a2").unwrap();
    dup[second + 9] = b'1';
    let e6 = Engine::restore(&reframe(&dup)[..]).unwrap_err();
    assert_eq!(
        e6,
        SnapshotError::Invalid {
            offset: 20 + second as u64,
            what: "table `account`, key 1".into(),
            message: "key `a1` appears twice".into()
        }
    );
    assert!(first < second);
    assert_eq!(
        e6.to_string(),
        format!(
            "snapshot byte {}: table `account`, key 1: key `a1` appears twice",
            20 + second
        )
    );

    // A filter that no longer validates.
    let mut bad = payload.to_vec();
    let at = find(&bad, b"\"health\"").unwrap();
    bad[at + 1..at + 7].copy_from_slice(b"wealth");
    let e7 = Engine::restore(&reframe(&bad)[..]).unwrap_err();
    assert!(
        matches!(&e7, SnapshotError::Invalid { what, message, .. } if what.ends_with(", filter") && message.contains("unknown field `wealth`")),
        "{e7}"
    );
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_huge_count_is_refused_before_allocating() {
    // An empty schema's snapshot, then a kind count of 2^60.
    let e = Engine::new(Schema::new([]).unwrap());
    let bytes = save(&e);
    let mut payload = bytes[20..bytes.len() - 4].to_vec();
    // Policy (1 + 8 + 8), index config (32), clock (1): the kind count follows.
    let at = 1 + 8 + 8 + 32 + 1;
    payload[at..at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    let err = Engine::restore(&reframe(&payload)[..]).unwrap_err();
    assert!(
        matches!(&err, SnapshotError::Invalid { what, message, .. }
            if what == "schema, kind count" && message.starts_with("a count of 1152921504606846976 needs at least")),
        "{err}"
    );
}

#[test]
fn save_to_path_replaces_the_file_and_restore_from_path_reads_it() {
    let dir = std::env::temp_dir().join(format!("segments-snapshot-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("engine.snap");
    let (e, now) = rich();
    e.save_to_path(&path).unwrap();
    let (empty, _, _) = state(&[]);
    empty.save_to_path(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), save(&empty));
    e.save_to_path(&path).unwrap();
    let r = Engine::restore(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(observe(&r, now), observe(&e, now));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a temporary file was left");

    #[allow(deprecated)] // the path form names the path in its error
    let missing = Engine::restore_from_path(dir.join("nothing.snap")).unwrap_err();
    assert!(
        matches!(&missing, SnapshotError::Io { kind: std::io::ErrorKind::NotFound, during, .. } if during.contains("nothing.snap")),
        "{missing}"
    );
    let nowhere = e.save_to_path(dir.join("no/such/dir/x.snap")).unwrap_err();
    assert!(
        matches!(&nowhere, SnapshotError::Io { during, .. } if during.starts_with("creating")),
        "{nowhere}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_error_wrapper_carries_snapshot_errors() {
    let err: segments::Error = Engine::restore(&b"xyz"[..]).unwrap_err().into();
    assert!(matches!(
        err,
        segments::Error::Snapshot(SnapshotError::NotASnapshot { .. })
    ));
    let short: segments::Error = Engine::restore(&b""[..]).unwrap_err().into();
    assert!(matches!(
        short,
        segments::Error::Snapshot(SnapshotError::Length { found: 0, .. })
    ));
}

#[test]
fn a_restored_engine_settles_segments_in_the_order_they_depend_on_each_other() {
    // Segment 1 names segment 2 (a lower id names a higher one). An account
    // that leaves segment 1's own condition and enters segment 2 in one
    // write stays in segment 1 without a blip: segment 2 must settle first.
    let a = admin();
    let mut e = Engine::new(schema());
    e.set_clock(Clock::Fixed(t0())).unwrap();
    e.upsert("account", "a1", Row::new().set("nps", 1).set("health", 80.0))
        .unwrap();
    let (first, _) = e.create_segment(&a, NewSegment::new("first", "account")).unwrap();
    let low = filter(json!({"combinator": "and", "rules": [{"field": "health", "operator": "<", "value": 50}]}));
    let (second, _) = e
        .create_segment(&a, NewSegment::new("second", "account").filter(low))
        .unwrap();
    let names = json!({"combinator": "or", "rules": [{"field": "@segment", "operator": "in", "value": [second.0]},
        {"field": "nps", "operator": "<", "value": 2}]});
    e.attach_rule(&a, first, filter(names)).unwrap();
    assert!(e.segments().is_member(first, "a1").unwrap());

    let mut r = Engine::restore(&save(&e)[..]).unwrap();
    for engine in [&mut e, &mut r] {
        let changes = engine
            .upsert("account", "a1", Row::new().set("nps", 5).set("health", 10.0))
            .unwrap();
        let touched: Vec<SegmentId> = changes.iter().map(|c| c.segment).collect();
        assert_eq!(touched, vec![second], "{changes:?}");
    }
}
