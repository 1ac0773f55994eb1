//! Segment settings and definition versions through the public API:
//!
//! - random sequences of writes against a model (a map of segment to
//!   version and settings), the settings and versions then surviving a
//!   snapshot and a journal reopen, and each version being one entry of
//!   the definition history;
//! - what the release before settings left (a snapshot of format 2, a
//!   journal of version 1 ops) opens with every segment at the version its
//!   history counts, and no settings;
//! - settings over their limits, and stale writes, refused and changing
//!   nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use segments::engine::{Edit, ManageOp};
use segments::filter::field;
use segments::journal::Options;
use segments::segment::{Actor, NewSegment, Role, SegmentId, Settings, MAX_SETTINGS_BYTES};
use segments::{Engine, Error, FieldType, Filter, Op, Row, Schema, SegmentError, SettingsError};
use serde_json::json;

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("health", FieldType::Float), ("plan", FieldType::String)])
        .build()
        .unwrap()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("segments-settings-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone)]
enum Step {
    Create(Settings),
    Set(usize, Settings),
    /// Over the version the model has plus this offset (0: current).
    SetIf(usize, Settings, i64),
    Rename(usize),
    Attach(usize),
    Delete(usize),
}

fn settings() -> impl Strategy<Value = Settings> {
    prop::collection::btree_map(
        prop::sample::select(&["color", "description", "health", "alerts"][..]),
        prop_oneof![
            "[a-z#0-9 ]{0,8}".prop_map(serde_json::Value::from),
            (0u32..100).prop_map(|n| json!({"weight": n, "parts": [n, n + 1]})),
            any::<bool>().prop_map(serde_json::Value::from),
        ],
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => settings().prop_map(Step::Create),
        3 => (0..6usize, settings()).prop_map(|(i, s)| Step::Set(i, s)),
        3 => (0..6usize, settings(), -1i64..=1).prop_map(|(i, s, d)| Step::SetIf(i, s, d)),
        1 => (0..6usize).prop_map(Step::Rename),
        1 => (0..6usize).prop_map(Step::Attach),
        1 => (0..6usize).prop_map(Step::Delete),
    ]
}

/// What the model expects of each live segment.
#[derive(Debug, Clone, PartialEq)]
struct Expect {
    version: u64,
    settings: Settings,
}

fn state(e: &Engine) -> BTreeMap<SegmentId, Expect> {
    e.segments()
        .iter()
        .map(|s| {
            (
                s.id,
                Expect {
                    version: s.version,
                    settings: s.settings.clone(),
                },
            )
        })
        .collect()
}

fn run(e: &mut Engine, steps: &[Step]) -> BTreeMap<SegmentId, Expect> {
    let admin = Actor::new("ada", Role::Admin);
    let mut model: BTreeMap<SegmentId, Expect> = BTreeMap::new();
    let mut made = 0;
    let pick = |model: &BTreeMap<SegmentId, Expect>, i: usize| model.keys().nth(i % model.len().max(1)).copied();
    for step in steps {
        let before = format!("{:?}", e.segments().iter().collect::<Vec<_>>());
        match step.clone() {
            Step::Create(s) => {
                made += 1;
                let (id, _) = e
                    .create_segment(
                        &admin,
                        NewSegment::new(format!("S{made}"), "account").settings(s.clone()),
                    )
                    .unwrap();
                model.insert(
                    id,
                    Expect {
                        version: 1,
                        settings: s,
                    },
                );
            }
            Step::Set(i, s) => {
                let Some(id) = pick(&model, i) else { continue };
                e.set_settings(&admin, id, s.clone()).unwrap();
                let m = model.get_mut(&id).unwrap();
                m.version += 1;
                m.settings = s;
            }
            Step::SetIf(i, s, d) => {
                let Some(id) = pick(&model, i) else { continue };
                let m = model.get_mut(&id).unwrap();
                let asked = (m.version as i64 + d).max(0) as u64;
                match e.set_settings_if(&admin, id, s.clone(), asked) {
                    Ok(()) => {
                        assert_eq!(asked, m.version);
                        m.version += 1;
                        m.settings = s;
                    }
                    Err(SegmentError::Stale { expected, actual, .. }) => {
                        assert_ne!(asked, m.version);
                        assert_eq!((expected, actual), (asked, m.version));
                        assert_eq!(format!("{:?}", e.segments().iter().collect::<Vec<_>>()), before);
                    }
                    Err(other) => panic!("{other}"),
                }
            }
            Step::Rename(i) => {
                let Some(id) = pick(&model, i) else { continue };
                made += 1;
                e.rename(&admin, id, &format!("R{made}")).unwrap();
                model.get_mut(&id).unwrap().version += 1;
            }
            Step::Attach(i) => {
                let Some(id) = pick(&model, i) else { continue };
                e.attach_rule(&admin, id, Filter::and([field("health").lt(30)]))
                    .unwrap();
                model.get_mut(&id).unwrap().version += 1;
            }
            Step::Delete(i) => {
                let Some(id) = pick(&model, i) else { continue };
                e.delete_segment(&admin, id).unwrap();
                model.remove(&id);
            }
        }
        assert_eq!(state(e), model, "after {step:?}");
    }
    model
}

/// Each segment's version is one more than the entries of its history
/// after its creation.
fn versions_count_history(e: &Engine) {
    // The history is numbered from 1 without gaps, and read in pages.
    let all: Vec<u64> = e.log().definition_history(None).map(|c| c.seq).collect();
    assert_eq!(all, (1..=all.len() as u64).collect::<Vec<_>>());
    let mut paged = Vec::new();
    let mut cursor = 0;
    loop {
        let page = e.log().definition_changes_since(cursor, 3);
        let Some(last) = page.last() else { break };
        cursor = last.seq;
        paged.extend(page.iter().map(|c| c.seq));
    }
    assert_eq!(paged, all);
    assert!(e.log().definition_changes_since(u64::MAX, 10).is_empty());
    for s in e.segments() {
        let edits = e
            .log()
            .definition_history(Some(s.id))
            .filter(|c| !matches!(c.what, Edit::Created { .. }))
            .count() as u64;
        assert_eq!(s.version, 1 + edits, "{}", s.id);
        // The last settings edit holds the settings it has.
        let last = e.log().definition_history(Some(s.id)).filter_map(|c| match &c.what {
            Edit::Settings { to, .. } => Some(to.clone()),
            _ => None,
        });
        if let Some(to) = last.last() {
            assert_eq!(to, s.settings);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn settings_and_versions_follow_the_model_and_survive_snapshots_and_the_journal(
        steps in prop::collection::vec(step(), 1..24),
    ) {
        let mut e = Engine::new(schema());
        e.insert("account", "a", Row::new().set("health", 10.0)).unwrap();
        let model = run(&mut e, &steps);
        versions_count_history(&e);

        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        let restored = Engine::restore(&bytes[..]).unwrap();
        prop_assert_eq!(state(&restored), model.clone());
        versions_count_history(&restored);

        let dir = TempDir::new("model");
        {
            let (mut j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
            j.insert("account", "a", Row::new().set("health", 10.0)).unwrap();
            let m = run(&mut j, &steps);
            prop_assert_eq!(&m, &model);
        }
        let (j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        prop_assert_eq!(state(&j), model);
    }
}

#[test]
fn a_format_2_snapshot_restores_with_versions_counted_from_its_history() {
    let bytes = std::fs::read("tests/fixtures/snapshot-v2.bin").unwrap();
    let e = Engine::restore(&bytes[..]).unwrap();
    let s: Vec<_> = e
        .segments()
        .iter()
        .map(|s| (s.name.clone(), s.version, s.settings.is_empty()))
        .collect();
    // "At risk" was created, then renamed; "Mine" only created.
    assert_eq!(s, [("Churn risk".to_string(), 2, true), ("Mine".to_string(), 1, true)]);
    let risk = e.segments().iter().next().unwrap().id;
    assert_eq!(e.segments().member_keys(risk).unwrap().collect::<Vec<_>>(), ["a", "c"]);
    // Saved again, it is format 3 and reads back the same.
    let mut again = Vec::new();
    e.save(&mut again).unwrap();
    assert_eq!(
        u32::from_le_bytes(again[8..12].try_into().unwrap()),
        segments::snapshot::FORMAT_VERSION
    );
    assert_eq!(state(&Engine::restore(&again[..]).unwrap()), state(&e));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
    }
}

#[test]
fn a_journal_of_version_1_ops_replays_and_takes_settings_after() {
    let dir = TempDir::new("journal-v1");
    copy_dir(Path::new("tests/fixtures/journal-v1"), &dir.0);
    let admin = Actor::new("ada", Role::Admin);
    {
        let (mut e, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        let s: Vec<_> = e.segments().iter().map(|s| (s.name.clone(), s.version)).collect();
        assert_eq!(s, [("Churn risk".to_string(), 2), ("Mine".to_string(), 1)]);
        let risk = e.segments().iter().next().unwrap().id;
        assert_eq!(
            e.segments().member_keys(risk).unwrap().collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        e.set_settings(&admin, risk, [("color", "#d33")].into_iter().collect())
            .unwrap();
    }
    let (e, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
    let risk = e.segments().iter().next().unwrap();
    assert_eq!((risk.version, risk.settings.get("color")), (3, Some(&json!("#d33"))));
}

#[test]
fn settings_over_their_limits_are_refused_and_change_nothing() {
    let mut e = Engine::new(schema());
    let admin = Actor::new("ada", Role::Admin);
    let (id, _) = e.create_segment(&admin, NewSegment::new("S", "account")).unwrap();
    let before = format!("{e:?}");
    let big: Settings = [("k", "x".repeat(MAX_SETTINGS_BYTES))].into_iter().collect();
    let err = e.set_settings(&admin, id, big.clone()).unwrap_err();
    assert!(
        matches!(&err, SegmentError::Settings { segment, source: SettingsError::TooLarge { .. } } if *segment == id),
        "{err}"
    );
    assert!(err.to_string().starts_with("segment 1: settings: "), "{err}");
    let empty_key: Settings = [("", 1)].into_iter().collect();
    assert!(e.set_settings(&admin, id, empty_key).is_err());
    let err = e
        .create_segment(&admin, NewSegment::new("T", "account").settings(big))
        .unwrap_err();
    assert!(matches!(err, SegmentError::Settings { .. }), "{err}");
    assert_eq!(format!("{e:?}"), before);

    // An op from outside is checked the same way, its JSON form too.
    let line = format!(
        r#"{{"v":2,"manage":{{"set_settings":{{"actor":{{"id":"ada","role":"admin"}},"segment":1,"settings":{{"k":"{}"}},"if_version":null}}}}}}"#,
        "x".repeat(MAX_SETTINGS_BYTES)
    );
    assert!(matches!(Op::from_json(&line), Err(segments::OpError::Json { .. })));
    let deep = format!("{}1{}", "[".repeat(40), "]".repeat(40));
    let line = format!(
        r#"{{"v":2,"manage":{{"set_settings":{{"actor":{{"id":"ada","role":"admin"}},"segment":1,"settings":{{"k":{deep}}},"if_version":null}}}}}}"#
    );
    let err = Op::from_json(&line).unwrap_err();
    assert!(err.to_string().contains("nests deeper than 32"), "{err}");
    let op = Op::Manage(ManageOp::SetSettings {
        actor: admin,
        segment: id,
        settings: [("", 1)].into_iter().collect(),
        if_version: None,
    });
    assert!(matches!(
        e.apply(op),
        Err(Error::Segment(SegmentError::Settings { .. }))
    ));
    assert_eq!(format!("{e:?}"), before);
}

#[test]
fn typed_settings_read_back_and_say_what_is_wrong() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Health {
        usage: f64,
        nps: f64,
    }
    let mut s = Settings::new();
    s.insert_typed("health", &Health { usage: 0.7, nps: 0.3 }).unwrap();
    s.insert("color", "#d33");
    assert_eq!(
        s.get_typed::<Health>("health").unwrap(),
        Some(Health { usage: 0.7, nps: 0.3 })
    );
    assert_eq!(s.get_typed::<Health>("missing").unwrap(), None);
    let e = s.get_typed::<Health>("color").unwrap_err();
    assert!(matches!(&e, SettingsError::Type { key, .. } if key == "color"), "{e}");
    assert!(e.to_string().starts_with("key `color`: invalid type: string"), "{e}");
    // A map with keys that are not strings has no JSON form.
    let bad: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
    let before = s.clone();
    assert!(matches!(s.insert_typed("map", &bad), Err(SettingsError::Type { .. })));
    assert_eq!(s, before);
    assert_eq!(Settings::from_json("[1, 2]"), Err(SettingsError::NotAnObject));
    let e = Settings::from_json("{\"a\": }").unwrap_err();
    assert_eq!(e.to_string(), "not JSON: expected value at line 1 column 7");
    assert_eq!(serde_json::to_string(&s).unwrap(), s.to_json());
    assert_eq!(serde_json::from_str::<Settings>(&s.to_json()).unwrap(), s);
}

#[test]
fn each_logged_change_names_the_definition_version_in_force() {
    let mut e = Engine::new(schema());
    let admin = Actor::new("ada", Role::Admin);
    let (s, _) = e
        .create_segment(
            &admin,
            NewSegment::new("Low", "account").filter(Filter::and([field("health").lt(30)])),
        )
        .unwrap();
    e.insert("account", "a", Row::new().set("health", 10.0)).unwrap();
    e.set_settings(&admin, s, [("color", "red")].into_iter().collect())
        .unwrap();
    e.insert("account", "b", Row::new().set("health", 20.0)).unwrap();
    // Version 3: the filter edited, both leave.
    e.set_filter(&admin, s, Some(Filter::and([field("health").lt(5)])))
        .unwrap();
    e.insert("account", "c", Row::new().set("health", 1.0)).unwrap();
    e.delete_segment(&admin, s).unwrap();
    let seen = |e: &Engine| {
        e.log()
            .changes_since(0, 100)
            .unwrap()
            .into_iter()
            .map(|c| (c.key, c.segment.version))
            .collect::<Vec<_>>()
    };
    let want: Vec<(String, u64)> = [("a", 1), ("b", 2), ("a", 3), ("b", 3), ("c", 3), ("c", 3)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(seen(&e), want);
    let json = serde_json::to_value(&e.log().changes_since(0, 1).unwrap()[0]).unwrap();
    assert_eq!(json["segment"], json!({"id": 1, "name": "Low", "version": 1}));
    let mut bytes = Vec::new();
    e.save(&mut bytes).unwrap();
    assert_eq!(seen(&Engine::restore(&bytes[..]).unwrap()), want);
}
