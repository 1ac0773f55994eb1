//! Ops as values: random ops survive their JSON and binary forms, and a
//! replay of recorded ops (with their instants) rebuilds the same engine,
//! with the same answers, refusals included.

use proptest::prelude::*;
use roaring::RoaringBitmap;
use segments::engine::{DataOp, EventRecord, ManageOp, Op, TimeOp};
use segments::filter::{field, in_segments, TimeUnit};
use segments::segment::{Actor, NewSegment, Role, RuleId, SegmentId, Visibility};
use segments::{Clock, Engine, FieldType, Filter, Row, Schema, Timestamp, Value};

const BASE: i64 = 1_800_000_000_000_000;
const HOUR: i64 = 3_600_000_000;

fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("mrr", FieldType::Int),
                ("health", FieldType::Float),
                ("plan", FieldType::String),
                ("seen", FieldType::Timestamp),
                ("tags", FieldType::Tags),
                ("paying", FieldType::Bool),
            ],
        )
        .build()
        .expect("a valid schema")
}

fn actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::new("ada", Role::Admin)),
        Just(Actor::new("lee", Role::Leader)),
        Just(Actor::new("mo", Role::Member)),
        Just(Actor::new("mia", Role::Member)),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (0i64..2000).prop_map(|n| Filter::and([field("mrr").gt(n)])),
        Just(Filter::and([field("plan").eq("pro")])),
        Just(Filter::or([field("plan").contains("e"), field("health").lt(30.5)])),
        Just(Filter::and([field("seen").within_last(2, TimeUnit::Days)])),
        Just(Filter::and([field("tags").contains_any(["vip"])])),
        Just(Filter::and([field("paying").eq(true)]).negated()),
        (1u64..5).prop_map(|s| Filter::and([in_segments([SegmentId(s)])])),
        Just(Filter::and(Vec::<Filter>::new())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        (-1e6f64..1e6).prop_map(Value::Float),
        "[a-z\u{e9}\u{1F600} ]{0,6}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        (-100i64..100).prop_map(|h| Value::Timestamp(Timestamp::from_micros(BASE + h * HOUR))),
        prop::collection::vec(prop_oneof![Just("vip".to_string()), Just("new".to_string())], 0..3)
            .prop_map(Value::Tags),
    ]
}

/// A cell: mostly a field with a value of its type, sometimes a value of
/// any type or a field the schema does not have.
fn cell() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        3 => (0i64..3000).prop_map(|n| ("mrr", Value::Int(n))),
        2 => (0.0f64..100.0).prop_map(|h| ("health", Value::Float(h))),
        3 => prop_oneof![Just("pro"), Just("free"), Just("team")].prop_map(|p| ("plan", Value::String(p.into()))),
        2 => (-100i64..100).prop_map(|h| ("seen", Value::Timestamp(Timestamp::from_micros(BASE + h * HOUR)))),
        1 => prop::collection::vec(prop_oneof![Just("vip".to_string()), Just("new".to_string())], 0..3)
            .prop_map(|t| ("tags", Value::Tags(t))),
        1 => any::<bool>().prop_map(|b| ("paying", Value::Bool(b))),
        1 => (prop_oneof![Just("mrr"), Just("plan"), Just("nope")], value()),
    ]
}

fn row() -> impl Strategy<Value = Row> {
    prop::collection::vec(cell(), 0..4).prop_map(|cells| cells.into_iter().collect())
}

fn key() -> impl Strategy<Value = String> {
    (0u8..8).prop_map(|k| format!("k{k}"))
}

fn keys() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(key(), 0..4)
}

fn at() -> impl Strategy<Value = Timestamp> {
    (-100i64..100).prop_map(|h| Timestamp::from_micros(BASE + h * HOUR))
}

fn data_op() -> impl Strategy<Value = DataOp> {
    let kind = || prop_oneof![9 => Just("account".to_string()), 1 => Just("nokind".to_string())];
    prop_oneof![
        (kind(), key(), row()).prop_map(|(kind, key, row)| DataOp::Insert { kind, key, row }),
        (kind(), key(), row()).prop_map(|(kind, key, row)| DataOp::Upsert { kind, key, row }),
        (kind(), key(), 0i64..3000).prop_map(|(kind, key, mrr)| DataOp::UpsertJson {
            kind,
            json: format!(r#"{{"key": "{key}", "mrr": {mrr}}}"#)
        }),
        (kind(), key(), prop_oneof![Just("mrr"), Just("plan"), Just("nope")]).prop_map(|(kind, key, f)| {
            DataOp::ClearField {
                kind,
                key,
                field: f.into(),
            }
        }),
        (kind(), prop::collection::vec((key(), row()), 0..4))
            .prop_map(|(kind, rows)| DataOp::InsertMany { kind, rows }),
        (kind(), prop::collection::vec((key(), row()), 0..4))
            .prop_map(|(kind, rows)| DataOp::UpsertMany { kind, rows }),
        (kind(), prop::collection::vec((key(), 0i64..3000), 0..4)).prop_map(|(kind, rows)| {
            let lines: String = rows
                .iter()
                .map(|(k, m)| format!("{{\"key\":\"{k}\",\"mrr\":{m}}}\n"))
                .collect();
            DataOp::UpsertJsonLines {
                kind,
                lines: lines.into_bytes(),
            }
        }),
        (kind(), key()).prop_map(|(kind, key)| DataOp::InsertJsonLines {
            kind,
            lines: format!("{{\"key\":\"{key}\",\"plan\":\"pro\"}}\n").into_bytes()
        }),
        (kind(), key()).prop_map(|(kind, key)| DataOp::Delete { kind, key }),
        (kind(), keys()).prop_map(|(kind, keys)| DataOp::DeleteMany { kind, keys }),
        (kind(), key(), at()).prop_map(|(kind, key, at)| DataOp::RecordEvent {
            kind,
            key,
            event: "login".into(),
            at
        }),
        (
            kind(),
            prop::collection::vec(
                (
                    key(),
                    at(),
                    prop::option::of((any::<i64>(), "[a-z]{0,3}", any::<bool>()))
                ),
                0..3
            )
        )
            .prop_map(|(kind, evs)| DataOp::RecordEvents {
                kind,
                events: evs
                    .into_iter()
                    .map(|(key, at, p)| EventRecord {
                        key,
                        event: "view".into(),
                        at,
                        properties: p.map_or_else(segments::store::Properties::new, |(i, s, b)| {
                            segments::store::Properties::new()
                                .with("n", i)
                                .with("s", s)
                                .with("b", b)
                                .with("x", 0.25)
                        }),
                    })
                    .collect()
            }),
    ]
}

fn manage_op() -> impl Strategy<Value = ManageOp> {
    let seg = || (1u64..10).prop_map(SegmentId);
    let rule = || (1u64..9).prop_map(RuleId);
    let ids = || prop::collection::vec(0u32..10, 0..3).prop_map(|v| v.into_iter().collect::<RoaringBitmap>());
    prop_oneof![
        6 => (actor(), prop_oneof![Just("Big"), Just("Pro"), Just(" vip "), Just("")], prop::option::of(filter()), any::<bool>()).prop_map(|(actor, name, f, private)| {
            let mut spec = NewSegment::new(name.to_string(), "account")
                .visibility(if private { Visibility::Private } else { Visibility::Public });
            spec.filter = f;
            ManageOp::CreateSegment { actor, segment: spec }
        }),
        1 => (actor(), seg(), "[a-z]{0,4}").prop_map(|(actor, segment, name)| ManageOp::Rename { actor, segment, name }),
        1 => (actor(), seg(), any::<bool>()).prop_map(|(actor, segment, p)| ManageOp::SetVisibility {
            actor,
            segment,
            visibility: if p { Visibility::Private } else { Visibility::Public }
        }),
        1 => (actor(), seg(), prop::option::of(filter())).prop_map(|(actor, segment, filter)| ManageOp::SetFilter { actor, segment, filter }),
        1 => (actor(), seg()).prop_map(|(actor, segment)| ManageOp::DeleteSegment { actor, segment }),
        1 => (actor(), seg(), 0usize..6).prop_map(|(actor, segment, position)| ManageOp::MoveSegment { actor, segment, position }),
        1 => (actor(), prop::collection::vec(seg(), 0..5)).prop_map(|(actor, order)| ManageOp::Reorder { actor, order }),
        2 => (actor(), seg(), filter()).prop_map(|(actor, segment, filter)| ManageOp::AttachRule { actor, segment, filter }),
        1 => (actor(), rule(), filter()).prop_map(|(actor, rule, filter)| ManageOp::EditRule { actor, rule, filter }),
        1 => (actor(), rule()).prop_map(|(actor, rule)| ManageOp::DetachRule { actor, rule }),
        2 => (actor(), seg(), keys()).prop_map(|(actor, segment, keys)| ManageOp::AddMembers { actor, segment, keys }),
        1 => (actor(), seg(), ids()).prop_map(|(actor, segment, ids)| ManageOp::AddMemberIds { actor, segment, ids }),
        2 => (actor(), seg(), keys()).prop_map(|(actor, segment, keys)| ManageOp::RemoveMembers { actor, segment, keys }),
        1 => (actor(), seg(), ids()).prop_map(|(actor, segment, ids)| ManageOp::RemoveMemberIds { actor, segment, ids }),
        1 => (actor(), seg(), keys()).prop_map(|(actor, segment, keys)| ManageOp::ClearBlocks { actor, segment, keys }),
        1 => (actor(), seg()).prop_map(|(actor, segment)| ManageOp::ClearAllBlocks { actor, segment }),
    ]
}

fn time_op() -> impl Strategy<Value = TimeOp> {
    prop_oneof![
        at().prop_map(|now| TimeOp::Refresh { now }),
        at().prop_map(|now| TimeOp::RefreshAll { now }),
        prop_oneof![Just(Clock::System), at().prop_map(Clock::Fixed)].prop_map(|clock| TimeOp::SetClock { clock }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => data_op().prop_map(Op::Data),
        5 => manage_op().prop_map(Op::Manage),
        1 => time_op().prop_map(Op::Time),
    ]
}

/// What applying an op answered, comparable across engines.
fn outcome(engine: &mut Engine, op: Op, at: Timestamp) -> Result<String, String> {
    engine
        .apply_at(op, at)
        .map(|a| format!("{:?} {:?}", a.created, a.changes))
        .map_err(|e| e.to_string())
}

fn snapshot(engine: &Engine) -> Vec<u8> {
    let mut bytes = Vec::new();
    engine.save(&mut bytes).expect("saving to memory");
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn ops_survive_their_json_and_binary_forms(op in op()) {
        let json = op.to_json();
        prop_assert_eq!(Op::from_json(&json), Ok(op.clone()), "{}", json);
        prop_assert_eq!(Op::from_bytes(&op.to_bytes()), Ok(op.clone()));
        prop_assert!(!json.contains('\n'), "one line: {}", json);
    }

    /// Damaged forms are errors, never panics: every byte of a valid binary
    /// form flipped, truncated at every length, and the JSON form cut short.
    #[test]
    fn damaged_forms_are_errors(op in op(), flip in 1u8..=255) {
        let bytes = op.to_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= flip;
            let _ = Op::from_bytes(&b);
            let _ = Op::from_bytes(&bytes[..i]);
        }
        let json = op.to_json();
        for cut in (0..json.len()).step_by(7).filter(|&c| json.is_char_boundary(c)) {
            prop_assert!(Op::from_json(&json[..cut]).is_err(), "{}", &json[..cut]);
        }
    }

    #[test]
    fn a_replay_of_recorded_ops_rebuilds_the_same_engine(ops in prop::collection::vec((op(), 0i64..3), 1..60)) {
        // The service's engine, with each op's instant recorded beside it.
        let mut live = Engine::new(schema());
        let mut now = BASE;
        let mut log = Vec::new();
        let mut answers = Vec::new();
        for (op, step) in ops {
            now += step * HOUR;
            let at = Timestamp::from_micros(now);
            log.push((op.to_json(), op.to_bytes(), at));
            answers.push(outcome(&mut live, op, at));
        }
        // Replays from either form answer alike, and end in the same state.
        let mut from_json = Engine::new(schema());
        let mut from_bytes = Engine::new(schema());
        for ((json, bytes, at), want) in log.iter().zip(&answers) {
            let op = Op::from_json(json).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&outcome(&mut from_json, op, *at), want, "{}", json);
            let op = Op::from_bytes(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&outcome(&mut from_bytes, op, *at), want, "{}", json);
        }
        // Time-relative rules are as of the last refresh: bring all three
        // to the end, then the live engine must agree with its own data.
        let end = Timestamp::from_micros(now);
        let refresh = Op::Time(TimeOp::Refresh { now: end });
        let want = outcome(&mut live, refresh.clone(), end);
        prop_assert_eq!(outcome(&mut from_json, refresh.clone(), end), want.clone());
        prop_assert_eq!(outcome(&mut from_bytes, refresh, end), want);
        segments::testing::check_consistency(&live, end).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(snapshot(&from_json), snapshot(&live));
        prop_assert_eq!(snapshot(&from_bytes), snapshot(&live));
    }
}

/// The write methods are the ops: a method call and the op it stands for
/// answer alike on twin engines.
#[test]
fn a_method_and_its_op_answer_alike() {
    let ada = Actor::new("ada", Role::Admin);
    let mut a = Engine::new(schema());
    let mut b = Engine::new(schema());
    for e in [&mut a, &mut b] {
        e.set_clock(Clock::Fixed(Timestamp::from_micros(BASE))).unwrap();
    }
    let row = Row::new().set("mrr", 1500).set("plan", "pro");
    let by_method = a.upsert("account", "acme", row.clone()).unwrap();
    let by_op = b
        .apply(Op::Data(DataOp::Upsert {
            kind: "account".into(),
            key: "acme".into(),
            row,
        }))
        .unwrap();
    assert_eq!(by_op.changes, by_method);
    let spec = NewSegment::new("Big", "account").filter(Filter::and([field("mrr").gt(1000)]));
    let (id, changes) = a.create_segment(&ada, spec.clone()).unwrap();
    let applied = b
        .apply(Op::Manage(ManageOp::CreateSegment {
            actor: ada.clone(),
            segment: spec,
        }))
        .unwrap();
    assert_eq!(applied.created, Some(segments::engine::Created::Segment(id)));
    assert_eq!(applied.changes, changes);
    assert_eq!(changes.len(), 1);
    // Refusals too, and the error is the method's.
    let refused = a.delete("account", "nobody").unwrap_err();
    let op_refused = b
        .apply(Op::Data(DataOp::Delete {
            kind: "account".into(),
            key: "nobody".into(),
        }))
        .unwrap_err();
    assert_eq!(op_refused, segments::Error::Store(refused));
    assert_eq!(snapshot(&a), snapshot(&b));
}

#[test]
fn delete_many_is_all_or_none() {
    let ada = Actor::new("ada", Role::Admin);
    let mut e = Engine::new(schema());
    for k in ["a", "b", "c"] {
        e.insert("account", k, Row::new().set("mrr", 2000)).unwrap();
    }
    let (s, _) = e
        .create_segment(
            &ada,
            NewSegment::new("Big", "account").filter(Filter::and([field("mrr").gt(1000)])),
        )
        .unwrap();
    let before = snapshot(&e);
    assert!(e.delete_many("account", ["a", "zz"]).is_err());
    assert!(e.delete_many("account", ["a", "a"]).is_err());
    assert_eq!(snapshot(&e), before, "a refused batch changes nothing");
    let changes = e.delete_many("account", ["a", "c"]).unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(e.segments().member_keys(s).unwrap().collect::<Vec<_>>(), ["b"]);
    segments::testing::check_consistency(&e, e.now()).unwrap();
}

/// A filter inside an op's JSON is read as strictly as `Filter::from_json`
/// reads it: a member named twice is refused (serde_json alone keeps the
/// last), with the place it was found. So is a filter read through serde
/// on its own.
#[test]
fn a_filter_with_a_member_named_twice_is_refused_inside_an_op() {
    let op = Op::Manage(ManageOp::CreateSegment {
        actor: Actor::new("ada", Role::Admin),
        segment: NewSegment::new("s", "account").filter(Filter::and([field("mrr").gt(3)])),
    });
    let json = op.to_json();
    assert_eq!(Op::from_json(&json), Ok(op));
    let twice = json.replacen(r#""combinator":"and""#, r#""combinator":"and","combinator":"or""#, 1);
    assert_ne!(twice, json);
    let err = Op::from_json(&twice).unwrap_err().to_string();
    assert!(err.contains("duplicate member `combinator`"), "{err}");
    let inner = json.replacen(r#""operator":">""#, r#""operator":">","operator":"<""#, 1);
    assert_ne!(inner, json);
    let err = Op::from_json(&inner).unwrap_err().to_string();
    assert!(err.contains("rules[0]: duplicate member `operator`"), "{err}");
    let text = r#"{"combinator":"and","rules":[],"combinator":"or"}"#;
    let err = serde_json::from_str::<Filter>(text).unwrap_err().to_string();
    assert!(err.contains("duplicate member `combinator`"), "{err}");
    assert!(Filter::from_json(text).is_err());
}
