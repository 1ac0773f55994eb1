//! Lenient loads against a model: random JSON Lines mixing good rows, bad
//! JSON, unknown fields, wrong types, missing, repeated and live keys,
//! blank and too-long lines. The model says which lines apply and which are
//! reported (and why); the table, the engine, and the engine reopened from
//! its journal must all end in the model's state.

use segments::engine::JsonLines;
use std::collections::HashMap;
use std::path::PathBuf;

use proptest::prelude::*;
use segments::journal::Options;
use segments::{Engine, FieldType, KindSchema, Row, Schema, StoreError, Table, Value};

const LIMIT: usize = 80;

#[derive(Debug, Clone)]
enum Line {
    Good(u8, i64),
    BadJson,
    UnknownField(u8),
    WrongType(u8),
    NoKey,
    Blank,
    TooLong(u8),
}

impl Line {
    fn text(&self) -> String {
        match self {
            Line::Good(k, v) => format!(r#"{{"key": "k{k}", "nps": {v}}}"#),
            Line::BadJson => "{nope".into(),
            Line::UnknownField(k) => format!(r#"{{"key": "k{k}", "colour": 1}}"#),
            Line::WrongType(k) => format!(r#"{{"key": "k{k}", "nps": "x"}}"#),
            Line::NoKey => r#"{"nps": 1}"#.into(),
            Line::Blank => "   ".into(),
            Line::TooLong(k) => format!(r#"{{"key": "k{k}",{} "nps": 1}}"#, " ".repeat(LIMIT)),
        }
    }
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        6 => (0u8..12, -5i64..5).prop_map(|(k, v)| Line::Good(k, v)),
        1 => Just(Line::BadJson),
        1 => (0u8..12).prop_map(Line::UnknownField),
        1 => (0u8..12).prop_map(Line::WrongType),
        1 => Just(Line::NoKey),
        1 => Just(Line::Blank),
        1 => (0u8..12).prop_map(Line::TooLong),
    ]
}

fn kind() -> KindSchema {
    KindSchema::new("account", [("nps", FieldType::Int)]).unwrap()
}

/// The state after the load, and the lines reported with whether each was
/// refused for its key (repeated or live).
fn model(before: &HashMap<String, i64>, lines: &[Line], upsert: bool) -> (HashMap<String, i64>, Vec<(usize, bool)>) {
    let mut state = before.clone();
    let mut seen = std::collections::HashSet::new();
    let mut rejected = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let n = i + 1;
        match l {
            Line::Blank => {}
            Line::Good(k, v) => {
                let key = format!("k{k}");
                if seen.contains(&key) || (!upsert && before.contains_key(&key)) {
                    rejected.push((n, true));
                } else {
                    seen.insert(key.clone());
                    state.insert(key, *v);
                }
            }
            _ => rejected.push((n, false)),
        }
    }
    (state, rejected)
}

fn state_of(t: &Table) -> HashMap<String, i64> {
    (0..t.len() as u32 + 64)
        .filter_map(|id| {
            let key = t.key(segments::EntityId(id))?;
            t.id(key)?;
            let v = match t.get(segments::EntityId(id), "nps") {
                Some(Value::Int(v)) => v,
                _ => i64::MIN,
            };
            Some((key.to_string(), v))
        })
        .collect()
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_lenient_load_applies_exactly_the_good_lines(
        existing in prop::collection::btree_map(0u8..12, -5i64..5, 0..6),
        lines in prop::collection::vec(line(), 0..40),
        upsert in any::<bool>(),
        bound in 0usize..6,
        case in any::<u32>(),
    ) {
        let before: HashMap<String, i64> = existing.iter().map(|(k, v)| (format!("k{k}"), *v)).collect();
        let text: String = lines.iter().map(|l| l.text() + "\n").collect();
        let (want, want_rejected) = model(&before, &lines, upsert);

        let mut t = Table::new(kind());
        t.set_max_line_bytes(LIMIT);
        for (k, v) in &before {
            t.insert(k, Row::new().set("nps", *v)).unwrap();
        }
        let got = if upsert {
            t.upsert_json_lines_lenient(text.as_bytes(), bound)
        } else {
            t.insert_json_lines_lenient(text.as_bytes(), bound)
        }
        .unwrap();
        prop_assert_eq!(state_of(&t), want.clone());
        prop_assert_eq!(got.total, want_rejected.len() as u64);
        prop_assert_eq!(got.lines.len(), want_rejected.len().min(bound));
        for (r, (n, for_key)) in got.lines.iter().zip(&want_rejected) {
            prop_assert_eq!(r.line, *n);
            prop_assert_eq!(matches!(r.error, StoreError::DuplicateKey { .. }), *for_key, "{:?}", r.error);
            if let Line::TooLong(_) = lines[n - 1] {
                let too_long = matches!(r.error, StoreError::LineTooLong { .. });
                prop_assert!(too_long, "{:?}", r.error);
            }
        }

        // The engine, and the engine reopened from its journal.
        let dir = TempDir(std::env::temp_dir().join(format!("segments-lenient-{}-{case}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        let schema = Schema::new([kind()]).unwrap();
        {
            let (mut e, _) = Engine::open(&dir.0, Options::new(schema.clone())).unwrap();
            e.set_max_line_bytes(LIMIT);
            for (k, v) in &before {
                e.insert("account", k, Row::new().set("nps", *v)).unwrap();
            }
            let (_, r) = if upsert {
                e.load_json_lines("account", text.as_bytes(), JsonLines::upsert().lenient(bound))
            } else {
                e.load_json_lines("account", text.as_bytes(), JsonLines::insert().lenient(bound))
            }
            .unwrap();
            prop_assert_eq!(r.total, want_rejected.len() as u64);
            prop_assert_eq!(state_of(e.store().table("account").unwrap()), want.clone());
        }
        let (e, _) = Engine::open(&dir.0, Options::new(schema)).unwrap();
        prop_assert_eq!(state_of(e.store().table("account").unwrap()), want);
    }
}

#[test]
fn a_clean_input_loads_as_a_strict_load_does() {
    let text: String = (0..1000)
        .map(|i| format!("{{\"key\": \"k{i}\", \"nps\": {}}}\n", i % 11))
        .collect();
    let mut strict = Table::new(kind());
    strict.insert_json_lines(text.as_bytes()).unwrap();
    let mut lenient = Table::new(kind());
    let r = lenient.insert_json_lines_lenient(text.as_bytes(), 10).unwrap();
    assert_eq!(r.total, 0);
    assert_eq!(state_of(&strict), state_of(&lenient));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A batch delete that reports: the live keys go (and exit their
    /// segments), the others come back once each, in the order given.
    #[test]
    fn deleting_the_present_keys_reports_the_rest(
        existing in prop::collection::btree_set(0u8..12, 0..10),
        asked in prop::collection::vec(0u8..14, 0..16),
    ) {
        use segments::filter::field;
        use segments::segment::{Actor, NewSegment, Role};
        let mut e = Engine::new(Schema::new([kind()]).unwrap());
        let admin = Actor::new("ada", Role::Admin);
        let (all, _) = e.create_segment(&admin, NewSegment::new("All", "account").filter(segments::Filter::and([field("nps").not_null()]))).unwrap();
        for k in &existing {
            e.insert("account", &format!("k{k}"), Row::new().set("nps", 1)).unwrap();
        }
        let keys: Vec<String> = asked.iter().map(|k| format!("k{k}")).collect();
        let (changes, missing) = e.delete_present("account", &keys).unwrap();
        let mut want_missing = Vec::new();
        let mut gone = std::collections::BTreeSet::new();
        for k in &asked {
            let key = format!("k{k}");
            if existing.contains(k) {
                gone.insert(key);
            } else if !want_missing.contains(&key) {
                want_missing.push(key);
            }
        }
        prop_assert_eq!(missing, want_missing);
        prop_assert_eq!(changes.len() as usize, gone.len());
        let left: std::collections::BTreeSet<String> = e.segments().member_keys(all).unwrap().map(String::from).collect();
        let want_left: std::collections::BTreeSet<String> =
            existing.iter().map(|k| format!("k{k}")).filter(|k| !gone.contains(k)).collect();
        prop_assert_eq!(left, want_left);
    }
}

/// A line of an events file.
#[derive(Debug, Clone)]
enum EventLine {
    /// An event of a live entity (`k0`..`k3` are live).
    Good(u8),
    /// An event of no live entity.
    UnknownKey,
    BadJson,
    EmptyName(u8),
    /// A property that is not a scalar.
    NestedProperty(u8),
    Blank,
    TooLong(u8),
}

impl EventLine {
    fn text(&self) -> String {
        let at = "\"at\":\"2026-11-02T09:00:00Z\"";
        match self {
            EventLine::Good(k) => format!(r#"{{"key":"k{k}","event":"login",{at}}}"#),
            EventLine::UnknownKey => format!(r#"{{"key":"nobody","event":"login",{at}}}"#),
            EventLine::BadJson => "{\"key\":".into(),
            EventLine::EmptyName(k) => format!(r#"{{"key":"k{k}","event":" ",{at}}}"#),
            EventLine::NestedProperty(k) => {
                format!(r#"{{"key":"k{k}","event":"login",{at},"properties":{{"a":[1]}}}}"#)
            }
            EventLine::Blank => String::new(),
            EventLine::TooLong(k) => format!(r#"{{"key":"k{k}",{}"event":"login",{at}}}"#, " ".repeat(LIMIT)),
        }
    }
}

fn event_line() -> impl Strategy<Value = EventLine> {
    prop_oneof![
        6 => (0u8..4).prop_map(EventLine::Good),
        1 => Just(EventLine::UnknownKey),
        1 => Just(EventLine::BadJson),
        1 => (0u8..4).prop_map(EventLine::EmptyName),
        1 => (0u8..4).prop_map(EventLine::NestedProperty),
        1 => Just(EventLine::Blank),
        1 => (0u8..4).prop_map(EventLine::TooLong),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Events from JSON Lines: lenient, exactly the good lines are recorded
    /// and the others reported in line order; strict, the first bad line
    /// refuses them all with its number; reopened, the journal holds what
    /// was recorded.
    #[test]
    fn an_events_file_loads_its_good_lines_or_none(
        lines in prop::collection::vec(event_line(), 0..30),
        bound in 0usize..6,
        case in any::<u32>(),
    ) {
        let text: String = lines.iter().map(|l| l.text() + "\n").collect();
        let bad: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !matches!(l, EventLine::Good(_) | EventLine::Blank))
            .map(|(i, _)| i + 1)
            .collect();
        let good = lines.iter().filter(|l| matches!(l, EventLine::Good(_))).count() as u64;

        let dir = TempDir(std::env::temp_dir().join(format!("segments-lenient-events-{}-{case}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        let schema = Schema::new([kind()]).unwrap();
        {
            let (mut e, _) = Engine::open(&dir.0, Options::new(schema.clone())).unwrap();
            e.set_max_line_bytes(LIMIT);
            for k in 0..4 {
                e.insert("account", &format!("k{k}"), Row::new()).unwrap();
            }
            let strict = e.load_json_lines("account", text.as_bytes(), JsonLines::events());
            match (strict, bad.first()) {
                (Ok(_), None) => {
                    prop_assert_eq!(e.store().table("account").unwrap().event_count(), good);
                    return Ok(());
                }
                (Err(StoreError::AtLine { line, .. }), Some(&first)) => {
                    prop_assert_eq!(line, first);
                    prop_assert_eq!(e.store().table("account").unwrap().event_count(), 0);
                }
                (other, first) => prop_assert!(false, "{:?} for the first bad line {:?}", other, first),
            }
            let (_, r) = e.load_json_lines("account", text.as_bytes(), JsonLines::events().lenient(bound)).unwrap();
            prop_assert_eq!(r.total, bad.len() as u64);
            let reported: Vec<usize> = r.lines.iter().map(|l| l.line).collect();
            prop_assert_eq!(&reported[..], &bad[..bad.len().min(bound)]);
            for l in &r.lines {
                let long = matches!(lines[l.line - 1], EventLine::TooLong(_));
                prop_assert_eq!(matches!(l.error, StoreError::LineTooLong { .. }), long, "{:?}", l.error);
            }
            prop_assert_eq!(e.store().table("account").unwrap().event_count(), good);
        }
        let (e, _) = Engine::open(&dir.0, Options::new(schema)).unwrap();
        prop_assert_eq!(e.store().table("account").unwrap().event_count(), good);
    }
}
