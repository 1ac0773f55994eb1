//! Standard and suggested segments: ordinary definitions, built from the data.

use segments::filter::{Duration, TimeUnit};
use segments::segment::{Actor, NewSegment, Role, SuggestSpec, SuggestionKind};
use segments::{Clock, Engine, Error, FieldType, Row, Schema, StatsError, Timestamp};

const DAY: i64 = 86_400_000_000;

fn engine() -> (Engine, Timestamp) {
    let schema = Schema::builder()
        .kind("account", [("score", FieldType::Int)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    let now: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
    e.set_clock(Clock::Fixed(now)).unwrap();
    for i in 1..=100i64 {
        let key = format!("a{i}");
        e.insert("account", &key, Row::new().set("score", i)).unwrap();
        // a1..a10 log in 4 times this week and once the week before: up.
        // a11..a20 log in once this week and 4 times before: down.
        let (this, before) = match i {
            1..=10 => (4, 1),
            11..=20 => (1, 4),
            21..=30 => (2, 2),
            _ => (0, 0),
        };
        for k in 0..this {
            e.record_events(
                "account",
                [(&key, "login", Timestamp::from_micros(now.as_micros() - DAY - k))],
            )
            .unwrap();
        }
        for k in 0..before {
            e.record_events(
                "account",
                [(&key, "login", Timestamp::from_micros(now.as_micros() - 10 * DAY - k))],
            )
            .unwrap();
        }
    }
    e.insert("account", "unscored", Row::new()).unwrap();
    (e, now)
}

#[test]
fn standard_segments_are_every_entity_and_the_active_ones() {
    let (mut e, _) = engine();
    let admin = Actor::new("ada", Role::Admin);
    let std = e
        .builder()
        .standard_segments(
            "account",
            Duration {
                amount: 7,
                unit: TimeUnit::Days,
            },
        )
        .unwrap();
    let ids: Vec<_> = std
        .into_iter()
        .map(|s| e.create_segment(&admin, s).unwrap().0)
        .collect();
    assert_eq!(e.segments().count(ids[0]).unwrap(), 101);
    assert_eq!(e.segments().count(ids[1]).unwrap(), 30);
    assert!(matches!(
        e.builder().standard_segments(
            "nope",
            Duration {
                amount: 7,
                unit: TimeUnit::Days
            }
        ),
        Err(segments::SchemaError::UnknownKind(_))
    ));
}

#[test]
fn suggestions_come_from_the_data_and_save_as_they_are() {
    let (mut e, _) = engine();
    let spec = SuggestSpec {
        score_field: Some("score".into()),
        quantile: 0.1,
        usage_event: Some("login".into()),
        ..SuggestSpec::default()
    };
    let got = e.builder().suggest_segments("account", &spec).unwrap();
    let names: Vec<&str> = got.iter().map(|s| s.segment.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "High engagement",
            "Low engagement",
            "Recently active",
            "Usage of login up",
            "Usage of login down"
        ]
    );
    // Each says what it is in code, not only in its name.
    let kinds: Vec<SuggestionKind> = got.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SuggestionKind::HighEngagement,
            SuggestionKind::LowEngagement,
            SuggestionKind::RecentlyActive,
            SuggestionKind::UsageUp,
            SuggestionKind::UsageDown
        ]
    );
    // Percentiles of 1..=100 by linear interpolation: 10.9 and 90.1.
    assert!(
        got[0].reason.starts_with("top 10% by `score`: score >= 90.1"),
        "{}",
        got[0].reason
    );
    assert!(
        got[1].reason.starts_with("bottom 10% by `score`: score <= 10.9"),
        "{}",
        got[1].reason
    );
    let members: Vec<u64> = got.iter().map(|s| s.members).collect();
    assert_eq!(members, [10, 10, 30, 10, 10]);
    let admin = Actor::new("ada", Role::Admin);
    for s in got {
        let (id, _) = e.create_segment(&admin, s.segment.clone()).unwrap();
        assert_eq!(e.segments().count(id).unwrap(), s.members, "{}", s.segment.name);
    }
    let up = e.segments().named("Usage of login up").unwrap().id;
    let mut keys: Vec<String> = e.segments().member_keys(up).unwrap().map(String::from).collect();
    keys.sort();
    assert_eq!(keys.len(), 10);
    assert!(keys.iter().all(|k| k[1..].parse::<u32>().unwrap() <= 10));
}

#[test]
fn suggestion_errors() {
    let (e, _) = engine();
    let bad_q = SuggestSpec {
        score_field: Some("score".into()),
        quantile: 0.7,
        ..SuggestSpec::default()
    };
    assert!(matches!(
        e.builder().suggest_segments("account", &bad_q),
        Err(Error::Stats(StatsError::BadPercentile { .. }))
    ));
    let bad_ratio = SuggestSpec {
        usage_event: Some("login".into()),
        usage_ratio: 0.5,
        ..SuggestSpec::default()
    };
    assert_eq!(
        e.builder().suggest_segments("account", &bad_ratio).unwrap_err().to_string(),
        "usage_ratio (field `login`): expected a ratio above 1 and a window of at least one unit, found ratio 0.5, window 7 days"
    );
    let unknown = SuggestSpec {
        score_field: Some("nps".into()),
        ..SuggestSpec::default()
    };
    assert!(matches!(
        e.builder().suggest_segments("account", &unknown),
        Err(Error::Stats(StatsError::UnknownField { .. }))
    ));
    // Nothing to suggest from: no score field, no such event.
    let quiet = SuggestSpec {
        usage_event: Some("export".into()),
        ..SuggestSpec::default()
    };
    let got = e.builder().suggest_segments("account", &quiet).unwrap();
    assert_eq!(got.len(), 1);
    let _ = NewSegment::new("x", "account");
}
