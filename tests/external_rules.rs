//! External rules: matches given by the caller, kept as a filter's are.
//! Random histories of given matches (whole sets and deltas), manual adds
//! and removals, cleared blocks, data writes and deletes are held to a
//! model of Vitally's link-based membership written here with sets; every
//! change is checked against the model's membership before and after, and
//! the state survives a snapshot and a journal reopen.

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use segments::journal::Options;
use segments::segment::{Actor, Cause, ChangeKind, NewSegment, Role, RuleId, SegmentId};
use segments::{Engine, FieldType, Filter, Row, Schema, SegmentError};

const KEYS: usize = 12;

fn schema() -> Schema {
    Schema::builder().kind("user", [("x", FieldType::Int)]).build().unwrap()
}

fn key(k: usize) -> String {
    format!("u{k}")
}

#[derive(Debug, Clone)]
enum Step {
    Set(BTreeSet<usize>),
    Change(BTreeSet<usize>, BTreeSet<usize>),
    Add(BTreeSet<usize>),
    Remove(BTreeSet<usize>),
    ClearBlocks(BTreeSet<usize>),
    Write(usize, i64),
    Delete(usize),
    Insert(usize),
}

fn keys() -> impl Strategy<Value = BTreeSet<usize>> {
    prop::collection::btree_set(0..KEYS, 0..6)
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => keys().prop_map(Step::Set),
        3 => (keys(), keys()).prop_map(|(a, r)| Step::Change(a, r)),
        1 => keys().prop_map(Step::Add),
        2 => keys().prop_map(Step::Remove),
        1 => keys().prop_map(Step::ClearBlocks),
        2 => (0..KEYS, 0i64..10).prop_map(|(k, x)| Step::Write(k, x)),
        1 => (0..KEYS).prop_map(Step::Delete),
        1 => (0..KEYS).prop_map(Step::Insert),
    ]
}

/// The membership model: one segment with an external rule and a filter
/// rule (`x > 5`), manual links and blocks, over the live keys.
#[derive(Debug, Default, Clone)]
struct Model {
    live: BTreeSet<usize>,
    x: Vec<Option<i64>>,
    given: BTreeSet<usize>,
    manual: BTreeSet<usize>,
    blocked_ext: BTreeSet<usize>,
    blocked_filter: BTreeSet<usize>,
}

impl Model {
    fn new() -> Model {
        Model {
            live: (0..KEYS).collect(),
            x: vec![None; KEYS],
            ..Model::default()
        }
    }

    fn ext_links(&self) -> BTreeSet<usize> {
        &(&self.given & &self.live) - &self.blocked_ext
    }

    fn filter_links(&self) -> BTreeSet<usize> {
        let matched: BTreeSet<usize> = self
            .live
            .iter()
            .copied()
            .filter(|&k| self.x[k].is_some_and(|x| x > 5))
            .collect();
        &matched - &self.blocked_filter
    }

    fn members(&self) -> BTreeSet<String> {
        let all = &(&self.manual | &self.ext_links()) | &self.filter_links();
        all.into_iter().map(key).collect()
    }

    /// Applies `step`; whether the engine must refuse it (and change nothing).
    fn apply(&mut self, step: &Step) -> bool {
        let dead = |ks: &BTreeSet<usize>| !ks.is_subset(&self.live);
        match step {
            Step::Set(ks) if dead(ks) => return false,
            Step::Set(ks) => self.given = ks.clone(),
            Step::Change(a, r) if dead(a) || dead(r) || !a.is_disjoint(r) => return false,
            Step::Change(a, r) => {
                self.given.extend(a);
                self.given = &self.given - r;
            }
            Step::Add(ks) if dead(ks) => return false,
            Step::Add(ks) => self.manual.extend(ks),
            Step::Remove(ks) if dead(ks) => return false,
            Step::Remove(ks) => {
                self.manual = &self.manual - ks;
                self.blocked_ext.extend(ks);
                self.blocked_filter.extend(ks);
            }
            Step::ClearBlocks(ks) if dead(ks) => return false,
            Step::ClearBlocks(ks) => {
                self.blocked_ext = &self.blocked_ext - ks;
                self.blocked_filter = &self.blocked_filter - ks;
            }
            Step::Delete(k) if !self.live.contains(k) => return false,
            // An upsert of a key not live inserts it.
            Step::Write(k, x) => {
                self.live.insert(*k);
                self.x[*k] = Some(*x);
            }
            Step::Delete(k) => {
                // Its links, blocks and given match go with it.
                self.live.remove(k);
                self.x[*k] = None;
                self.given.remove(k);
                self.manual.remove(k);
                self.blocked_ext.remove(k);
                self.blocked_filter.remove(k);
            }
            Step::Insert(k) if self.live.contains(k) => return false,
            Step::Insert(k) => {
                self.live.insert(*k);
            }
        }
        true
    }
}

struct Setup {
    segment: SegmentId,
    ext: RuleId,
}

fn setup(e: &mut Engine) -> Setup {
    let ada = Actor::new("ada", Role::Admin);
    e.insert_many("user", (0..KEYS).map(|k| (key(k), Row::new()))).unwrap();
    let (segment, _) = e.create_segment(&ada, NewSegment::new("s", "user")).unwrap();
    let (ext, _) = e.attach_external_rule(&ada, segment).unwrap();
    let gt5 = Filter::from_json(r#"{"combinator":"and","rules":[{"field":"x","operator":">","value":5}]}"#).unwrap();
    e.attach_rule(&ada, segment, gt5).unwrap();
    Setup { segment, ext }
}

fn names(ks: &BTreeSet<usize>) -> Vec<String> {
    ks.iter().copied().map(key).collect()
}

/// Applies `step` to the engine: `Ok(changes)` or the refusal.
fn run(e: &mut Engine, s: &Setup, step: &Step) -> Result<segments::segment::Changes, String> {
    let ada = Actor::new("ada", Role::Admin);
    let err = |x: SegmentError| x.to_string();
    match step {
        Step::Set(ks) => e.set_external_matches(&ada, s.ext, names(ks)).map_err(err),
        Step::Change(a, r) => e.change_external_matches(&ada, s.ext, names(a), names(r)).map_err(err),
        Step::Add(ks) => e.add_members(&ada, s.segment, names(ks)).map_err(err),
        Step::Remove(ks) => e.remove_members(&ada, s.segment, names(ks)).map_err(err),
        Step::ClearBlocks(ks) => e.clear_blocks(&ada, s.segment, names(ks)).map_err(err),
        Step::Write(k, x) => e
            .upsert("user", &key(*k), Row::new().set("x", *x))
            .map_err(|x| x.to_string()),
        Step::Delete(k) => e.delete("user", &key(*k)).map_err(|x| x.to_string()),
        Step::Insert(k) => e.insert("user", &key(*k), Row::new()).map_err(|x| x.to_string()),
    }
}

fn members(e: &Engine, s: SegmentId) -> BTreeSet<String> {
    e.segments().member_keys(s).unwrap().map(String::from).collect()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("segments-external-{}-{n}", std::process::id()));
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
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn external_rules_keep_membership_as_the_model_says(steps in prop::collection::vec(step(), 1..40)) {
        let dir = TempDir::new();
        let (mut e, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        let s = setup(&mut e);
        let mut m = Model::new();
        for step in &steps {
            let before = members(&e, s.segment);
            let ok = m.apply(step);
            let out = run(&mut e, &s, step);
            prop_assert_eq!(out.is_ok(), ok, "{:?}: {:?}", step, out.as_ref().err());
            let after = members(&e, s.segment);
            prop_assert_eq!(&after, &m.members(), "after {:?}", step);
            let Ok(changes) = out else { continue };
            // The changes are exactly the difference, each with its cause.
            let table = e.store().table("user").unwrap();
            let mut entered = BTreeSet::new();
            let mut exited = BTreeSet::new();
            for c in changes.iter() {
                let k = table.key(c.entity).map(String::from).unwrap_or_else(|| format!("gone {}", c.entity.0));
                match c.kind {
                    ChangeKind::Entered => entered.insert(k),
                    ChangeKind::Exited => exited.insert(k),
                };
                if matches!(step, Step::Set(_) | Step::Change(..)) {
                    prop_assert_eq!(c.cause, Cause::Rule(s.ext));
                }
            }
            prop_assert_eq!(entered, &after - &before);
            if !matches!(step, Step::Delete(_)) {
                prop_assert_eq!(exited, &before - &after);
            } else {
                prop_assert_eq!(exited.len(), (&before - &after).len());
            }
        }
        let now = segments::Timestamp::now();
        prop_assert!(segments::testing::check_consistency(&e, now).is_ok(), "{:?}", segments::testing::check_consistency(&e, now));

        // A snapshot keeps the given matches, and both go on alike.
        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        let mut r = Engine::restore(&bytes[..]).unwrap();
        prop_assert_eq!(members(&r, s.segment), m.members());
        prop_assert!(e.segments().rule(s.ext).unwrap().external);
        prop_assert_eq!(e.segments().rule_links(s.ext).unwrap(), r.segments().rule_links(s.ext).unwrap());
        prop_assert_eq!(e.segments().rule_blocks(s.ext).unwrap(), r.segments().rule_blocks(s.ext).unwrap());
        let all: BTreeSet<usize> = m.live.clone();
        let last = Step::Change(BTreeSet::new(), all.iter().copied().take(3).collect());
        let _ = run(&mut r, &s, &last);
        let _ = run(&mut e, &s, &last);
        m.apply(&last);
        prop_assert_eq!(members(&r, s.segment), m.members());

        // The journal replays them.
        drop(e);
        let (j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        prop_assert_eq!(members(&j, s.segment), m.members());
        prop_assert_eq!(j.segments().rule_links(s.ext).unwrap(), r.segments().rule_links(s.ext).unwrap());
    }
}

#[test]
fn external_rules_refuse_what_they_are_not() {
    let mut e = Engine::new(schema());
    let s = setup(&mut e);
    let ada = Actor::new("ada", Role::Admin);
    let filter_rule = e.segments().get(s.segment).unwrap().rules[1];
    let before = members(&e, s.segment);
    let err = e.set_external_matches(&ada, filter_rule, ["u1"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{filter_rule}: has a filter: only an external rule's matches are given")
    );
    let err = e.edit_rule(&ada, s.ext, Filter::all()).unwrap_err();
    assert!(
        matches!(err, SegmentError::External { rule, .. } if rule == s.ext),
        "{err}"
    );
    let err = e.change_external_matches(&ada, s.ext, ["u1"], ["u1"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: key `u1` is both added and removed", s.ext)
    );
    let err = e.set_external_matches(&ada, s.ext, ["u1", "nobody"]).unwrap_err();
    assert_eq!(err.to_string(), "user `nobody`: no such entity");
    // A member who does not own the segment may not give matches.
    let vic = Actor::new("vic", Role::Member);
    assert!(matches!(
        e.set_external_matches(&vic, s.ext, ["u1"]),
        Err(SegmentError::Denied { .. })
    ));
    assert_eq!(members(&e, s.segment), before, "a refusal changes nothing");
    assert!(e.segments().rule_links(s.ext).unwrap().is_empty());
    // The change log says what made the changes.
    e.set_external_matches(&ada, s.ext, ["u1", "u2"]).unwrap();
    let page = e.log().changes_since(0, 100).unwrap();
    let last = page.last().unwrap();
    assert_eq!(last.trigger, segments::segment::Trigger::External);
}
