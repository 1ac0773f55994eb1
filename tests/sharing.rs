//! Sharing segments with editors and viewers (actors and teams), through
//! the public API:
//!
//! - on random sequences of creations, rules naming segments, shares,
//!   visibility changes and detaches by random actors, nobody ever reads a
//!   private segment through another: every segment an actor may see names
//!   (through its rules, transitively) only segments it may see too;
//! - editors curate and viewers see, directly and through teams, and what
//!   would open a private segment to others is refused, changing nothing;
//! - grants and teams survive snapshots, the journal and the ops' forms.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use proptest::prelude::*;
use segments::engine::{Edit, ManageOp};
use segments::filter::{field, in_segments};
use segments::journal::Options;
use segments::segment::{Actor, Grantee, NewSegment, Role, SegmentAccess, SegmentId, Visibility};
use segments::{Engine, FieldType, Filter, Op, Row, Schema, SegmentError};

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("health", FieldType::Int)])
        .build()
        .unwrap()
}

fn actors() -> Vec<Actor> {
    vec![
        Actor::new("ada", Role::Admin),
        Actor::new("lee", Role::Leader).in_teams(["emea"]),
        Actor::new("mo", Role::Member),
        Actor::new("mia", Role::Member).in_teams(["emea"]),
        Actor::new("kim", Role::Member).in_teams(["ops"]),
        Actor::new("vic", Role::Member).in_teams(["emea", "ops"]),
    ]
}

fn grantees() -> Vec<Grantee> {
    vec![
        Grantee::actor("mo"),
        Grantee::actor("mia"),
        Grantee::actor("kim"),
        Grantee::team("emea"),
        Grantee::team("ops"),
    ]
}

/// The segments a filter names, anywhere in it (nested filters too).
fn named(f: &Filter) -> BTreeSet<u64> {
    fn walk(v: &serde_json::Value, out: &mut BTreeSet<u64>) {
        match v {
            serde_json::Value::Object(o) => {
                if o.get("field").and_then(|f| f.as_str()) == Some("@segment") {
                    match o.get("value") {
                        Some(serde_json::Value::Number(n)) => {
                            out.extend(n.as_u64());
                        }
                        Some(serde_json::Value::Array(a)) => out.extend(a.iter().filter_map(|x| x.as_u64())),
                        _ => {}
                    }
                }
                o.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(&f.to_json_value(), &mut out);
    out
}

/// Every segment a segment's rules name, transitively.
fn reads(e: &Engine, s: SegmentId) -> HashSet<SegmentId> {
    let mut seen = HashSet::new();
    let mut todo = vec![s];
    while let Some(s) = todo.pop() {
        let Ok(info) = e.segments().get(s) else { continue };
        for r in &info.rules {
            for t in named(&e.segments().rule(*r).unwrap().filter) {
                if seen.insert(SegmentId(t)) {
                    todo.push(SegmentId(t));
                }
            }
        }
    }
    seen
}

/// The invariant: whoever sees a segment sees everything it reads.
fn nobody_reads_through(e: &Engine) {
    for a in actors() {
        for s in e.segments() {
            if !a.may_view(s) {
                continue;
            }
            for t in reads(e, s.id) {
                let t = e.segments().get(t).unwrap();
                assert!(
                    a.may_view(t),
                    "{} sees {} `{}`, which reads {} `{}` that {0} may not see",
                    a.id,
                    s.id,
                    s.name,
                    t.id,
                    t.name
                );
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Create(usize, bool),
    Name(usize, usize, usize),
    Share(usize, usize, Vec<(usize, bool)>),
    Visibility(usize, usize, bool),
    Detach(usize, usize),
}

fn step() -> impl Strategy<Value = Step> {
    let a = 0..6usize;
    let s = 0..8usize;
    prop_oneof![
        2 => (a.clone(), any::<bool>()).prop_map(|(a, p)| Step::Create(a, p)),
        3 => (a.clone(), s.clone(), s.clone()).prop_map(|(a, x, y)| Step::Name(a, x, y)),
        3 => (a.clone(), s.clone(), prop::collection::vec((0..5usize, any::<bool>()), 0..4))
            .prop_map(|(a, x, g)| Step::Share(a, x, g)),
        1 => (a.clone(), s.clone(), any::<bool>()).prop_map(|(a, x, p)| Step::Visibility(a, x, p)),
        1 => (a, s).prop_map(|(a, x)| Step::Detach(a, x)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn nobody_ever_reads_a_private_segment_through_another(steps in prop::collection::vec(step(), 1..40)) {
        let mut e = Engine::new(schema());
        e.insert("account", "a", Row::new().set("health", 5)).unwrap();
        let people = actors();
        let mut made = 0;
        for step in steps {
            let ids: Vec<SegmentId> = e.segments().iter().map(|s| s.id).collect();
            let pick = |i: usize| ids.get(i % ids.len().max(1)).copied();
            let before = format!("{e:?}");
            let out: Result<(), SegmentError> = match step {
                Step::Create(a, private) => {
                    made += 1;
                    let vis = if private { Visibility::Private } else { Visibility::Public };
                    e.create_segment(&people[a], NewSegment::new(format!("S{made}"), "account").visibility(vis)).map(drop)
                }
                Step::Name(a, x, y) => match (pick(x), pick(y)) {
                    (Some(x), Some(y)) => e.attach_rule(&people[a], x, Filter::and([in_segments([y])])).map(drop),
                    _ => continue,
                },
                Step::Share(a, x, grants) => {
                    let Some(x) = pick(x) else { continue };
                    let g = grantees();
                    let mut access = SegmentAccess::new();
                    for (i, edit) in grants {
                        access = if edit { access.editor(g[i].clone()) } else { access.viewer(g[i].clone()) };
                    }
                    e.set_access(&people[a], x, access)
                }
                Step::Visibility(a, x, private) => {
                    let Some(x) = pick(x) else { continue };
                    let vis = if private { Visibility::Private } else { Visibility::Public };
                    e.set_visibility(&people[a], x, vis)
                }
                Step::Detach(a, x) => {
                    let Some(x) = pick(x) else { continue };
                    let Some(&r) = e.segments().get(x).unwrap().rules.first() else { continue };
                    e.detach_rule(&people[a], r).map(drop)
                }
            };
            if out.is_err() {
                prop_assert_eq!(format!("{e:?}"), before, "a refusal changed the engine");
            }
            nobody_reads_through(&e);
        }
    }
}

struct Fixture {
    engine: Engine,
    /// mo's private segment, which `shared` names.
    base: SegmentId,
    /// mo's private segment naming `base`.
    shared: SegmentId,
}

fn fixture() -> Fixture {
    let mut engine = Engine::new(schema());
    for (k, h) in [("a", 10i64), ("b", 50), ("c", 90)] {
        engine.insert("account", k, Row::new().set("health", h)).unwrap();
    }
    let mo = Actor::new("mo", Role::Member);
    let private = |n: &str| NewSegment::new(n, "account").visibility(Visibility::Private);
    let (base, _) = engine
        .create_segment(&mo, private("Base").filter(Filter::and([field("health").lt(60)])))
        .unwrap();
    let (shared, _) = engine
        .create_segment(&mo, private("Shared").filter(Filter::and([in_segments([base])])))
        .unwrap();
    Fixture { engine, base, shared }
}

#[test]
fn editors_curate_and_viewers_see_directly_and_through_teams() {
    let mut f = fixture();
    let mo = Actor::new("mo", Role::Member);
    let tea = Actor::new("tea", Role::Member).in_teams(["emea"]);
    let vic = Actor::new("vic", Role::Member);
    let access = SegmentAccess::new()
        .editor(Grantee::team("emea"))
        .viewer(Grantee::actor("vic"));
    f.engine.set_access(&mo, f.base, access.clone()).unwrap();
    f.engine.set_access(&mo, f.shared, access).unwrap();

    // The team's member curates.
    f.engine.add_members(&tea, f.shared, ["c"]).unwrap();
    f.engine.rename(&tea, f.shared, "Shared with EMEA").unwrap();
    let rule = f.engine.segments().get(f.shared).unwrap().rules[0];
    f.engine
        .edit_rule(&tea, rule, Filter::and([in_segments([f.base])]))
        .unwrap();
    f.engine
        .set_settings(&tea, f.shared, [("color", "teal")].into_iter().collect())
        .unwrap();
    // Not what owners do.
    for refused in [
        f.engine.delete_segment(&tea, f.shared).map(drop),
        f.engine.set_access(&tea, f.shared, SegmentAccess::new()),
        f.engine.move_segment(&tea, f.shared, 0),
        f.engine.set_visibility(&tea, f.shared, Visibility::Private),
    ] {
        assert!(matches!(refused, Err(SegmentError::Denied { .. })), "{refused:?}");
    }
    // The viewer sees, and edits nothing.
    let as_vic = f.engine.as_actor(&vic);
    assert_eq!(as_vic.segments().count(f.shared).unwrap(), 3);
    assert_eq!(
        f.engine
            .as_actor(&vic)
            .segments()
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["Base", "Shared with EMEA"]
    );
    assert!(matches!(
        f.engine.add_members(&vic, f.shared, ["a"]),
        Err(SegmentError::Denied { .. })
    ));
    // The history says who shared what.
    let shares: Vec<_> = f
        .engine
        .log()
        .definition_history(Some(f.shared))
        .filter_map(|c| match &c.what {
            Edit::Access { to, .. } => Some((c.actor.clone(), to.editors.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(shares, [("mo".to_string(), vec![Grantee::team("emea")])]);
}

#[test]
fn what_would_open_a_private_segment_is_refused_and_changes_nothing() {
    let mut f = fixture();
    let mo = Actor::new("mo", Role::Member);
    let kim = Actor::new("kim", Role::Member);
    let before = format!("{:?}", f.engine);
    // Sharing `shared` alone would show kim members read from `base`.
    let err = f
        .engine
        .set_access(&mo, f.shared, SegmentAccess::new().viewer(Grantee::actor("kim")))
        .unwrap_err();
    assert!(
        matches!(err, SegmentError::BadAccess { segment, .. } if segment == f.shared),
        "{err}"
    );
    assert!(err.to_string().contains("`Base`"), "{err}");
    assert_eq!(format!("{:?}", f.engine), before);
    // Share both, then narrowing `base` is refused while `shared` reads it.
    f.engine
        .set_access(&mo, f.base, SegmentAccess::new().viewer(Grantee::actor("kim")))
        .unwrap();
    f.engine
        .set_access(&mo, f.shared, SegmentAccess::new().viewer(Grantee::actor("kim")))
        .unwrap();
    assert_eq!(f.engine.as_actor(&kim).segments().count(f.shared).unwrap(), 2);
    let err = f.engine.set_access(&mo, f.base, SegmentAccess::new()).unwrap_err();
    assert!(matches!(err, SegmentError::BadAccess { .. }), "{err}");
    // A rule naming a segment shared more narrowly than its own is refused.
    let (narrow, _) = f
        .engine
        .create_segment(
            &mo,
            NewSegment::new("Narrow", "account").visibility(Visibility::Private),
        )
        .unwrap();
    let err = f
        .engine
        .attach_rule(&mo, f.shared, Filter::and([in_segments([narrow])]))
        .unwrap_err();
    assert!(matches!(err, SegmentError::BadReference { .. }), "{err}");
    // Over the limits.
    let many = (0..=segments::segment::MAX_GRANTS)
        .fold(SegmentAccess::new(), |a, i| a.viewer(Grantee::actor(format!("u{i}"))));
    assert!(matches!(
        f.engine.set_access(&mo, f.base, many),
        Err(SegmentError::BadAccess { .. })
    ));
    let empty = SegmentAccess::new().editor(Grantee::team(""));
    let err = f.engine.set_access(&mo, f.base, empty).unwrap_err();
    assert!(err.to_string().contains("team ``: names are 1 to 256 bytes"), "{err}");
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn grants_and_teams_survive_snapshots_the_journal_and_the_op_forms() {
    let mo = Actor::new("mo", Role::Member).in_teams(["emea"]);
    let op = Op::Manage(ManageOp::SetAccess {
        actor: mo.clone(),
        segment: SegmentId(2),
        access: SegmentAccess::new()
            .editor(Grantee::team("emea"))
            .viewer(Grantee::actor("kim")),
    });
    let json = op.to_json();
    assert_eq!(
        json,
        r#"{"v":3,"manage":{"set_access":{"actor":{"id":"mo","role":"member","teams":["emea"]},"segment":2,"access":{"editors":[{"team":"emea"}],"viewers":[{"actor":"kim"}]}}}}"#
    );
    assert_eq!(Op::from_json(&json).unwrap(), op);
    assert_eq!(Op::from_bytes(&op.to_bytes()).unwrap(), op);

    let dir = TempDir(std::env::temp_dir().join(format!("segments-sharing-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let state = |e: &Engine| {
        e.segments()
            .iter()
            .map(|s| (s.id, s.version, s.access.clone()))
            .collect::<Vec<_>>()
    };
    let want = {
        let (mut e, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        let kim = Actor::new("kim", Role::Member).in_teams(["emea"]);
        let (s, _) = e
            .create_segment(&mo, NewSegment::new("S", "account").visibility(Visibility::Private))
            .unwrap();
        e.set_access(&mo, s, SegmentAccess::new().editor(Grantee::team("emea")))
            .unwrap();
        // kim edits through the team: the journal holds kim's teams.
        e.rename(&kim, s, "Renamed by kim").unwrap();
        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        assert_eq!(state(&Engine::restore(&bytes[..]).unwrap()), state(&e));
        state(&e)
    };
    let (e, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
    assert_eq!(state(&e), want);
    assert_eq!(e.segments().iter().next().unwrap().name, "Renamed by kim");
}
