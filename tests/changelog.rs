//! The change log through the public API: it holds exactly what the calls
//! returned, numbered from 1 without gaps, self-describing; it survives
//! snapshots and reopening a directory; consumers resume from their
//! cursors and see every change at least once; retention keeps what a
//! consumer has not acknowledged, or drops it with a typed error; sync
//! deltas are the net change.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use proptest::prelude::*;
use segments::filter::field;
use segments::journal::Options;
use segments::segment::{Actor, Cause, ChangeKind, Changes, NewSegment, Retention, Role, SegmentId, Trigger, Unacked};
use segments::{Engine, Error, FieldType, Filter, LogError, LogOp, Op, Row, Schema, Timestamp};

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("mrr", FieldType::Int)])
        .kind("user", [("age", FieldType::Int)])
        .build()
        .unwrap()
}

fn admin() -> Actor {
    Actor::new("ada", Role::Admin)
}

fn t(n: i64) -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000 + n * 1_000_000)
}

#[derive(Debug, Clone)]
enum Step {
    Upsert(u8, i64),
    Delete(u8),
    Create(i64),
    DeleteSegment(u8),
    Rename(u8),
    Add(u8, u8),
    Remove(u8, u8),
    SetFilter(u8, i64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..12, 0i64..1000).prop_map(|(k, v)| Step::Upsert(k, v)),
        1 => (0u8..12).prop_map(Step::Delete),
        1 => (0i64..1000).prop_map(Step::Create),
        1 => (1u8..5).prop_map(Step::DeleteSegment),
        1 => (1u8..5).prop_map(Step::Rename),
        2 => (1u8..5, 0u8..12).prop_map(|(s, k)| Step::Add(s, k)),
        2 => (1u8..5, 0u8..12).prop_map(|(s, k)| Step::Remove(s, k)),
        1 => (1u8..5, 0i64..1000).prop_map(|(s, v)| Step::SetFilter(s, v)),
    ]
}

/// Runs a step; returns what the call returned (or nothing if it failed)
/// and the trigger the log should give its changes.
fn run(e: &mut Engine, s: &Step, i: usize) -> Option<(Changes, Trigger)> {
    let a = admin();
    let key = |k: u8| format!("k{k}");
    let seg = |s: u8| SegmentId(u64::from(s));
    let got = match s {
        Step::Upsert(k, v) => e
            .upsert("account", &key(*k), Row::new().set("mrr", *v))
            .ok()
            .map(|c| (c, Trigger::Write)),
        Step::Delete(k) => e.delete("account", &key(*k)).ok().map(|c| (c, Trigger::Write)),
        Step::Create(v) => e
            .create_segment(
                &a,
                NewSegment::new(format!("s{i}"), "account").filter(Filter::and([field("mrr").ge(*v)])),
            )
            .ok()
            .map(|(_, c)| (c, Trigger::DefinitionEdited)),
        Step::DeleteSegment(s) => e.delete_segment(&a, seg(*s)).ok().map(|c| (c, Trigger::SegmentDeleted)),
        Step::Rename(s) => e
            .rename(&a, seg(*s), &format!("r{i}"))
            .ok()
            .map(|()| (Changes::default(), Trigger::DefinitionEdited)),
        Step::Add(s, k) => e.add_members(&a, seg(*s), [key(*k)]).ok().map(|c| (c, Trigger::Manual)),
        Step::Remove(s, k) => e
            .remove_members(&a, seg(*s), [key(*k)])
            .ok()
            .map(|c| (c, Trigger::Manual)),
        Step::SetFilter(s, v) => e
            .set_filter(&a, seg(*s), Some(Filter::and([field("mrr").lt(*v)])))
            .ok()
            .map(|c| (c, Trigger::DefinitionEdited)),
    };
    got
}

/// What the log must say of one change, from what the call returned.
type Want = (SegmentId, String, ChangeKind, Cause, Trigger, Timestamp);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The log is the concatenation of every call's returned changes, in
    /// order, each resolved to its key and segment name, and a restored
    /// engine holds the same log.
    #[test]
    fn the_log_is_what_the_calls_returned(steps in prop::collection::vec(step(), 0..60)) {
        let mut e = Engine::new(schema());
        let mut want: Vec<Want> = vec![];
        // The name each segment had when it was last seen alive.
        let mut names: HashMap<SegmentId, String> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            e.set_clock(segments::Clock::Fixed(t(i as i64))).unwrap();
            for info in e.segments() {
                names.insert(info.id, info.name.clone());
            }
            if let Some((changes, trigger)) = run(&mut e, s, i) {
                let table = e.store().table("account").unwrap();
                for c in changes.iter() {
                    let key = table.key_any(c.entity).unwrap().to_string();
                    want.push((c.segment, key, c.kind, c.cause, trigger, c.at));
                }
            }
        }
        for info in e.segments() {
            names.insert(info.id, info.name.clone());
        }
        prop_assert_eq!(e.log().seq(), want.len() as u64);
        let got = e.log().changes_since(0, usize::MAX).unwrap();
        prop_assert_eq!(got.len(), want.len());
        for (n, (g, w)) in got.iter().zip(&want).enumerate() {
            prop_assert_eq!(g.seq, n as u64 + 1);
            prop_assert_eq!((g.segment.id, &g.key, g.change, g.cause, g.trigger, g.at), (w.0, &w.1, w.2, w.3, w.4, w.5));
            prop_assert_eq!(&g.segment.name, &names[&w.0]);
            prop_assert_eq!(g.entity_kind.as_str(), "account");
        }
        // Paging gives the same changes.
        let mut paged = vec![];
        let mut after = 0;
        loop {
            let page = e.log().changes_since(after, 7).unwrap();
            if page.is_empty() { break; }
            after = page.last().unwrap().seq;
            paged.extend(page);
        }
        prop_assert_eq!(&paged, &got);
        let mut bytes = vec![];
        e.save(&mut bytes).unwrap();
        let r = Engine::restore(&bytes[..]).unwrap();
        prop_assert_eq!(r.log().changes_since(0, usize::MAX).unwrap(), got);
    }

    /// A sync delta is the difference between the members at the cursor
    /// and now.
    #[test]
    fn a_sync_delta_is_the_net_change(before in prop::collection::vec(step(), 0..30), after in prop::collection::vec(step(), 0..30), s in 1u64..4) {
        let mut e = Engine::new(schema());
        let members = |e: &Engine| -> BTreeSet<String> {
            match e.segments().members(SegmentId(s)) {
                Ok(m) => e.store().table("account").unwrap().keys_of(m).map(str::to_string).collect(),
                Err(_) => BTreeSet::new(),
            }
        };
        for (i, st) in before.iter().enumerate() {
            run(&mut e, st, i);
        }
        let cursor = e.log().seq();
        let then = members(&e);
        for (i, st) in after.iter().enumerate() {
            run(&mut e, st, 100 + i);
        }
        let now = members(&e);
        let d = e.log().sync_delta(SegmentId(s), cursor).unwrap();
        let entered: Vec<String> = now.difference(&then).cloned().collect();
        let exited: Vec<String> = then.difference(&now).cloned().collect();
        prop_assert_eq!(d.entered, entered);
        prop_assert_eq!(d.exited, exited);
        prop_assert_eq!(d.upto, e.log().seq());
    }
}

/// The issue's history: the clock goes back between writes. `members_at`
/// undoes every change stamped after the instant; `count_series` gives the
/// same sizes.
#[test]
fn count_series_equals_members_at_when_the_clock_goes_back() {
    let mut e = Engine::new(schema());
    let (s, _) = e
        .create_segment(&admin(), NewSegment::new("manual", "account"))
        .unwrap();
    for k in 0..5 {
        e.insert("account", &format!("a{k}"), Row::new()).unwrap();
    }
    e.set_clock(segments::Clock::Fixed(t(100))).unwrap();
    e.add_members(&admin(), s, ["a0", "a1"]).unwrap();
    e.set_clock(segments::Clock::Fixed(t(50))).unwrap();
    e.add_members(&admin(), s, ["a2", "a3", "a4"]).unwrap();
    e.set_clock(segments::Clock::Fixed(t(200))).unwrap();
    e.remove_members(&admin(), s, ["a0"]).unwrap();
    let at: Vec<u64> = [25, 75, 150, 250]
        .iter()
        .map(|&i| e.log().members_at(s, t(i)).unwrap().len())
        .collect();
    assert_eq!(at, [0, 3, 5, 4]);
    let series = e
        .log()
        .count_series(s, t(25), t(250), std::time::Duration::from_secs(25))
        .unwrap();
    for (when, size) in series {
        assert_eq!(size, e.log().members_at(s, when).unwrap().len(), "at {when}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any history, with the clock moved forward and back between steps:
    /// every point of `count_series` is the size of `members_at` there.
    #[test]
    fn count_series_is_the_size_of_members_at(
        steps in prop::collection::vec((step(), 0i64..60), 0..40),
        s in 1u64..4,
        step_secs in 1u64..15,
    ) {
        let mut e = Engine::new(schema());
        for (i, (st, clock)) in steps.iter().enumerate() {
            e.set_clock(segments::Clock::Fixed(t(*clock))).unwrap();
            run(&mut e, st, i);
        }
        let series = e
            .log().count_series(SegmentId(s), t(-1), t(61), std::time::Duration::from_secs(step_secs))
            .unwrap();
        for (when, size) in series {
            prop_assert_eq!(size, e.log().members_at(SegmentId(s), when).unwrap().len(), "at {}", when);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// History read back from the log equals what the engine held at each
    /// instant: members, sizes, and each entity's periods of membership.
    #[test]
    fn history_is_what_the_engine_held(steps in prop::collection::vec(step(), 0..50), s in 1u64..4) {
        let mut e = Engine::new(schema());
        // Members of segment `s` after each step (at t(i)).
        let mut held: Vec<roaring::RoaringBitmap> = vec![];
        for (i, st) in steps.iter().enumerate() {
            e.set_clock(segments::Clock::Fixed(t(10 * i as i64))).unwrap();
            run(&mut e, st, i);
            held.push(e.segments().members(SegmentId(s)).cloned().unwrap_or_default());
        }
        for (i, want) in held.iter().enumerate() {
            // Between this step and the next.
            prop_assert_eq!(&e.log().members_at(SegmentId(s), t(10 * i as i64 + 5)).unwrap(), want, "after step {}", i);
        }
        if !held.is_empty() {
            let series = e.log().count_series(SegmentId(s), t(5), t(10 * (held.len() as i64 - 1) + 5), std::time::Duration::from_secs(10)).unwrap();
            prop_assert_eq!(series.iter().map(|p| p.1).collect::<Vec<_>>(), held.iter().map(|m| m.len()).collect::<Vec<_>>());
        }
        // Periods, against the steps at which each entity was a member.
        let table = e.store().table("account").unwrap();
        for k in 0..12u8 {
            let key = format!("k{k}");
            let Some(id) = table.id_any(&key) else { continue };
            let Ok(periods) = e.log().membership_periods(SegmentId(s), &key) else { continue };
            for (i, m) in held.iter().enumerate() {
                let at = t(10 * i as i64 + 5);
                let inside = periods.iter().any(|p| p.from.map_or(true, |f| f <= at) && p.to.map_or(true, |to| at < to));
                prop_assert_eq!(inside, m.contains(id.0), "{} after step {}: {:?}", key, i, periods);
            }
        }
    }
}

#[test]
fn history_past_retention_is_refused_and_definitions_are_kept() {
    let mut e = Engine::new(schema());
    e.set_clock(segments::Clock::Fixed(t(0))).unwrap();
    e.set_log_retention(Retention::default().max_changes(Some(2)).unacked(Unacked::Drop))
        .unwrap();
    let (s, _) = e
        .create_segment(
            &admin(),
            NewSegment::new("Big", "account").filter(Filter::and([field("mrr").ge(5)])),
        )
        .unwrap();
    for i in 0..5 {
        e.set_clock(segments::Clock::Fixed(t(10 + i))).unwrap();
        e.insert("account", &format!("k{i}"), Row::new().set("mrr", 9)).unwrap();
    }
    assert!(matches!(
        e.log().members_at(s, t(11)),
        Err(LogError::NotRetained { .. })
    ));
    assert_eq!(e.log().members_at(s, t(13)).unwrap().len(), 4);
    e.set_clock(segments::Clock::Fixed(t(100))).unwrap();
    e.rename(&admin(), s, "Bigger").unwrap();
    e.set_filter(&admin(), s, Some(Filter::and([field("mrr").ge(7)])))
        .unwrap();
    let (r, _) = e.attach_rule(&admin(), s, Filter::and([field("mrr").lt(0)])).unwrap();
    e.detach_rule(&admin(), r).unwrap();
    assert!(e.rename(&admin(), s, "").is_err(), "a refused edit is not history");
    e.delete_segment(&admin(), s).unwrap();
    use segments::engine::Edit;
    let kinds: Vec<String> = e
        .log()
        .definition_history(Some(s))
        .map(|c| {
            format!(
                "{}:{}",
                c.actor,
                serde_json::to_value(&c.what)
                    .unwrap()
                    .as_object()
                    .map_or("deleted".to_string(), |o| o.keys().next().unwrap().clone())
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ada:created",
            "ada:renamed",
            "ada:filter",
            "ada:rule_attached",
            "ada:rule_detached",
            "ada:deleted"
        ]
    );
    match &e.log().definition_history(Some(s)).nth(2).unwrap().what {
        Edit::Filter { from, to } => {
            assert_eq!(from.as_ref().unwrap(), &Filter::and([field("mrr").ge(5)]));
            assert_eq!(to.as_ref().unwrap(), &Filter::and([field("mrr").ge(7)]));
        }
        other => panic!("{other:?}"),
    }
    let mut bytes = vec![];
    e.save(&mut bytes).unwrap();
    let r = Engine::restore(&bytes[..]).unwrap();
    assert!(r.log().definition_history(None).eq(e.log().definition_history(None)));
}

#[test]
fn a_change_is_self_describing_json() {
    let mut e = Engine::new(schema());
    e.set_clock(segments::Clock::Fixed("2026-11-22T12:00:00Z".parse().unwrap()))
        .unwrap();
    let (s, _) = e
        .create_segment(
            &admin(),
            NewSegment::new("At risk", "account").filter(Filter::and([field("mrr").lt(30)])),
        )
        .unwrap();
    e.insert("account", "acme", Row::new().set("mrr", 10)).unwrap();
    e.delete_segment(&admin(), s).unwrap();
    let got: Vec<String> = e
        .log()
        .changes_since(0, 10)
        .unwrap()
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
    assert_eq!(
        got,
        [
            r#"{"seq":1,"segment":{"id":1,"name":"At risk","version":1},"entityKind":"account","key":"acme","change":"entered","cause":{"rule":1},"trigger":"write","at":"2026-11-22T12:00:00Z"}"#,
            r#"{"seq":2,"segment":{"id":1,"name":"At risk","version":1},"entityKind":"account","key":"acme","change":"exited","cause":"segmentDeleted","trigger":"segmentDeleted","at":"2026-11-22T12:00:00Z"}"#,
        ]
    );
    let back: segments::engine::LoggedChange = serde_json::from_str(&got[1]).unwrap();
    assert_eq!(back, e.log().changes_since(1, 1).unwrap()[0]);
}

#[test]
fn cursors_move_forward_and_name_errors() {
    let mut e = Engine::new(schema());
    let (s, _) = e.create_segment(&admin(), NewSegment::new("All", "account")).unwrap();
    for k in 0..5 {
        e.insert("account", &format!("k{k}"), Row::new()).unwrap();
    }
    e.add_members(&admin(), s, ["k0", "k1", "k2"]).unwrap();
    assert_eq!(e.log().seq(), 3);
    assert!(matches!(
        e.ack("crm", 4),
        Err(Error::Log(LogError::Ahead { seq: 4, last: 3 }))
    ));
    assert!(matches!(e.ack("", 1), Err(Error::Log(LogError::EmptyConsumer))));
    assert!(matches!(e.log().changes_since(9, 1), Err(LogError::Ahead { .. })));
    e.ack("crm", 2).unwrap();
    e.ack("crm", 1).unwrap(); // never back
    assert_eq!(e.log().cursor("crm"), 2);
    assert_eq!(
        e.log()
            .changes_for("crm", 10)
            .unwrap()
            .iter()
            .map(|c| c.seq)
            .collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(e.log().consumers().collect::<Vec<_>>(), [("crm", 2)]);
    let forget = || Op::Log(LogOp::ForgetConsumer { consumer: "crm".into() });
    e.apply(forget()).unwrap();
    assert!(matches!(
        e.apply(forget()),
        Err(Error::Log(LogError::UnknownConsumer { .. }))
    ));
}

#[test]
fn retention_keeps_unacknowledged_changes_or_drops_them_with_an_error() {
    for policy in [Unacked::Keep, Unacked::Drop] {
        let mut e = Engine::new(schema());
        e.set_log_retention(Retention::default().max_changes(Some(10)).unacked(policy))
            .unwrap();
        let (s, _) = e.create_segment(&admin(), NewSegment::new("All", "account")).unwrap();
        for k in 0..40 {
            e.insert("account", &format!("k{k}"), Row::new()).unwrap();
        }
        e.ack("slow", 0).unwrap();
        for k in 0..40 {
            e.add_members(&admin(), s, [format!("k{k}")]).unwrap();
        }
        assert_eq!(e.log().seq(), 40);
        match policy {
            Unacked::Keep => {
                assert_eq!(e.log().changes_for("slow", 100).unwrap().len(), 40);
                // Acknowledged, they go down to the limit.
                e.ack("slow", 35).unwrap();
                assert_eq!(e.log().oldest(), 31);
                assert_eq!(e.log().changes_for("slow", 100).unwrap().len(), 5);
            }
            _ => {
                assert_eq!(e.log().oldest(), 31);
                assert_eq!(
                    e.log().changes_for("slow", 100).unwrap_err(),
                    LogError::Gap { after: 0, oldest: 31 }
                );
                assert_eq!(e.log().changes_since(30, 100).unwrap().len(), 10);
            }
        }
    }
}

#[test]
fn retention_by_size_keeps_the_newest_calls_within_the_bytes() {
    let mut e = Engine::new(schema());
    let (s, _) = e.create_segment(&admin(), NewSegment::new("All", "account")).unwrap();
    for k in 0..200 {
        e.insert("account", &format!("k{k}"), Row::new()).unwrap();
    }
    e.set_log_retention(Retention::default().max_changes(None).max_bytes(Some(2_000)))
        .unwrap();
    for k in 0..200 {
        e.add_members(&admin(), s, [format!("k{k}")]).unwrap();
    }
    // One change a call, about 120 bytes each: between 10 and 20 kept.
    let kept = e.log().seq() - e.log().oldest() + 1;
    assert!((10..=20).contains(&kept), "{kept} kept");
    let newest = e.log().changes_since(e.log().oldest() - 1, usize::MAX).unwrap();
    assert_eq!(newest.last().unwrap().key, "k199");
    // A bigger limit keeps more, and survives a snapshot.
    e.set_log_retention(e.log().retention().max_bytes(Some(1 << 20)))
        .unwrap();
    for k in 0..200 {
        e.remove_members(&admin(), s, [format!("k{k}")]).unwrap();
    }
    assert_eq!(e.log().seq() - e.log().oldest() + 1, 200 + kept);
    let mut bytes = vec![];
    e.save(&mut bytes).unwrap();
    assert_eq!(
        Engine::restore(&bytes[..]).unwrap().log().retention(),
        e.log().retention()
    );
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A consumer that reads a batch, handles it, and acknowledges only some
/// of the time before the engine "crashes" (is dropped without a
/// checkpoint and reopened): it sees every change at least once, with no
/// gap, and the sequence numbers go on across the restarts.
#[test]
fn a_consumer_resumes_after_restarts_without_a_gap() {
    let d = TempDir(std::env::temp_dir().join(format!("segments-changelog-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&d.0);
    let options = || Options::new(schema()).checkpoint_bytes(Some(4096));
    let mut seen: Vec<u64> = vec![];
    let mut last = 0;
    for round in 0..30u64 {
        let (mut e, _) = Engine::open(&d.0, options()).unwrap();
        assert_eq!(e.log().seq(), last, "round {round}: the numbering goes on");
        if round == 0 {
            e.create_segment(
                &admin(),
                NewSegment::new("Big", "account").filter(Filter::and([field("mrr").ge(500)])),
            )
            .unwrap();
        }
        for k in 0..20u64 {
            let v = ((round * 31 + k * 17) % 1000) as i64;
            e.upsert("account", &format!("k{}", (round + k) % 13), Row::new().set("mrr", v))
                .unwrap();
        }
        let batch = e.log().changes_for("webhook", 25).unwrap();
        seen.extend(batch.iter().map(|c| c.seq));
        if round % 3 != 2 {
            if let Some(c) = batch.last() {
                e.ack("webhook", c.seq).unwrap();
            }
        }
        last = e.log().seq();
    }
    let (e, _) = Engine::open(&d.0, options()).unwrap();
    seen.extend(
        e.log()
            .changes_for("webhook", usize::MAX)
            .unwrap()
            .iter()
            .map(|c| c.seq),
    );
    let distinct: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(distinct, (1..=e.log().seq()).collect::<BTreeSet<u64>>());
    assert!(
        seen.len() > distinct.len(),
        "some changes were delivered twice (unacked at a restart)"
    );
}

mod subscriptions {
    //! A subscription to chosen segments reads exactly the log's changes of
    //! those segments, page by page, acknowledging how far each page read.

    use proptest::prelude::*;
    use segments::filter::field;
    use segments::segment::{Actor, NewSegment, Role, SegmentId};
    use segments::{Engine, FieldType, Filter, Row, Schema};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn pages_of_a_subscription_are_the_log_filtered(
            writes in prop::collection::vec((0u8..6, 0i64..100), 1..40),
            chosen in prop::collection::vec(any::<bool>(), 3),
            limit in 1usize..5,
        ) {
            let schema = Schema::builder().kind("account", [("h", FieldType::Int)]).build().unwrap();
            let mut e = Engine::new(schema);
            let admin = Actor::new("ada", Role::Admin);
            let mut ids = Vec::new();
            for (name, f) in [("low", field("h").lt(30)), ("mid", field("h").between(20, 60)), ("high", field("h").gt(70))] {
                ids.push(e.create_segment(&admin, NewSegment::new(name, "account").filter(Filter::and([f]))).unwrap().0);
            }
            for (k, h) in writes {
                e.upsert("account", &format!("k{k}"), Row::new().set("h", h)).unwrap();
            }
            let subset: Vec<SegmentId> = ids.iter().zip(&chosen).filter(|(_, c)| **c).map(|(s, _)| *s).collect();
            let want: Vec<u64> = e
                .log().changes_since(0, usize::MAX)
                .unwrap()
                .into_iter()
                .filter(|c| subset.contains(&c.segment.id))
                .map(|c| c.seq)
                .collect();
            let mut got = Vec::new();
            loop {
                let page = e.log().changes_of(&subset, e.log().cursor("sub"), limit).unwrap();
                prop_assert!(page.changes.len() <= limit);
                got.extend(page.changes.iter().map(|c| c.seq));
                let done = page.changes.len() < limit;
                e.ack("sub", page.read_to).unwrap();
                if done {
                    break;
                }
            }
            prop_assert_eq!(got, want);
            prop_assert_eq!(e.log().cursor("sub"), e.log().seq());
        }
    }
}

#[test]
fn a_consumer_added_late_is_told_how_to_start_from_now_and_then_reads_only_what_comes_next() {
    let mut e = Engine::new(schema());
    e.set_log_retention(Retention::default().max_changes(Some(2)).unacked(Unacked::Drop))
        .unwrap();
    e.create_segment(
        &admin(),
        NewSegment::new("Big", "account").filter(Filter::and([field("mrr").ge(5)])),
    )
    .unwrap();
    for i in 0..5 {
        e.insert("account", &format!("k{i}"), Row::new().set("mrr", 9)).unwrap();
    }
    // A consumer that never acknowledged reads from 0, which is gone.
    let err = e.log().changes_for("late", 10).unwrap_err();
    assert!(matches!(err, LogError::Gap { after: 0, .. }), "{err:?}");
    assert!(
        err.to_string().contains("engine.ack(consumer, engine.log().seq())"),
        "the error says how to start from now: {err}"
    );
    // Started from now, it reads nothing until the next change, then that.
    e.ack("late", e.log().seq()).unwrap();
    assert!(e.log().changes_for("late", 10).unwrap().is_empty());
    e.insert("account", "k9", Row::new().set("mrr", 9)).unwrap();
    let keys: Vec<String> = e
        .log()
        .changes_for("late", 10)
        .unwrap()
        .into_iter()
        .map(|c| c.key)
        .collect();
    assert_eq!(keys, ["k9"]);
}
