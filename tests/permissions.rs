//! Every role × every share × every action on segments: who may, and that
//! a refusal is a typed error that changes nothing. Both segments of the
//! fixture are shared the same way: `kim` and the team `emea` edit them,
//! `vic` and the team `ops` view them.

use roaring::RoaringBitmap;
use segments::filter::field;
use segments::segment::{Action, Actor, Grantee, NewSegment, Role, SegmentAccess, SegmentId, Visibility};
use segments::{Clock, Engine, Error, FieldType, Filter, ManageOp, Op, Row, Schema, SegmentError, Timestamp};

/// A manage op through the one door, its error as the segment error it is.
fn op(e: &mut Engine, op: ManageOp) -> Result<(), SegmentError> {
    match e.apply(Op::Manage(op)) {
        Ok(_) => Ok(()),
        Err(Error::Segment(err)) => Err(err),
        Err(other) => panic!("not a segment error: {other}"),
    }
}

struct Fixture {
    engine: Engine,
    /// Public, created by the admin.
    public: SegmentId,
    /// Private, created by the member `mo`.
    private: SegmentId,
}

fn fixture() -> Fixture {
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Int)])
        .build()
        .unwrap();
    let mut engine = Engine::new(schema);
    engine
        .set_clock(Clock::Fixed(Timestamp::from_micros(1_800_000_000_000_000)))
        .unwrap();
    for (k, h) in [("a", 10i64), ("b", 50), ("c", 90)] {
        engine.insert("account", k, Row::new().set("health", h)).unwrap();
    }
    let admin = Actor::new("ada", Role::Admin);
    let mo = Actor::new("mo", Role::Member);
    let low = || Filter::and([field("health").lt(60)]);
    let (public, _) = engine
        .create_segment(&admin, NewSegment::new("Public", "account").filter(low()))
        .unwrap();
    let (private, _) = engine
        .create_segment(
            &mo,
            NewSegment::new("Mine", "account")
                .filter(low())
                .visibility(Visibility::Private),
        )
        .unwrap();
    // A block and a manual link in each, so clearing and removing have work to do.
    for s in [public, private] {
        let owner = if s == public { &admin } else { &mo };
        engine.remove_members(owner, s, ["a"]).unwrap();
        engine.add_members(owner, s, ["c"]).unwrap();
        engine.set_access(owner, s, shares()).unwrap();
    }
    Fixture {
        engine,
        public,
        private,
    }
}

fn shares() -> SegmentAccess {
    SegmentAccess::new()
        .editor(Grantee::actor("kim"))
        .editor(Grantee::team("emea"))
        .viewer(Grantee::actor("vic"))
        .viewer(Grantee::team("ops"))
}

fn actors() -> [Actor; 9] {
    [
        Actor::new("ada", Role::Admin),
        Actor::new("lee", Role::Leader),
        Actor::new("mo", Role::Member),
        Actor::new("mia", Role::Member).in_teams(["sales"]),
        Actor::new("kim", Role::Member),
        Actor::new("tea", Role::Member).in_teams(["sales", "emea"]),
        Actor::new("vic", Role::Member),
        Actor::new("val", Role::Member).in_teams(["ops"]),
        // A leader is a leader whatever its teams.
        Actor::new("lou", Role::Leader).in_teams(["ops"]),
    ]
}

/// What the fixture's shares give an actor: editing, viewing.
fn granted(actor: &Actor) -> (bool, bool) {
    let edits = actor.id == "kim" || actor.in_team("emea");
    let views = actor.id == "vic" || actor.in_team("ops");
    (edits, views)
}

type Attempt = fn(&mut Engine, &Actor, SegmentId) -> Result<(), SegmentError>;

/// Each action with what it is called in `Denied`.
fn actions() -> Vec<(&'static str, Action, Attempt)> {
    fn ids(keys: &[u32]) -> RoaringBitmap {
        keys.iter().copied().collect()
    }
    vec![
        ("rename", Action::Rename, |e, a, s| e.rename(a, s, "Renamed")),
        ("make public", Action::SetVisibility, |e, a, s| {
            e.set_visibility(a, s, Visibility::Public)
        }),
        ("make private", Action::SetVisibility, |e, a, s| {
            e.set_visibility(a, s, Visibility::Private)
        }),
        ("edit filter", Action::EditFilter, |e, a, s| {
            e.set_filter(a, s, Some(Filter::and([field("health").gt(5)]))).map(drop)
        }),
        ("remove filter", Action::EditFilter, |e, a, s| {
            e.set_filter(a, s, None).map(drop)
        }),
        ("delete", Action::Delete, |e, a, s| e.delete_segment(a, s).map(drop)),
        ("move", Action::Move, |e, a, s| e.move_segment(a, s, 0)),
        ("attach rule", Action::EditRules, |e, a, s| {
            e.attach_rule(a, s, Filter::and([field("health").gt(80)])).map(drop)
        }),
        ("edit rule", Action::EditRules, |e, a, s| {
            let r = e.segments().get(s)?.rules[0];
            e.edit_rule(a, r, Filter::and([field("health").gt(1)])).map(drop)
        }),
        ("detach rule", Action::EditRules, |e, a, s| {
            let r = e.segments().get(s)?.rules[0];
            e.detach_rule(a, r).map(drop)
        }),
        ("add by key", Action::EditMembers, |e, a, s| {
            e.add_members(a, s, ["b"]).map(drop)
        }),
        ("add by id", Action::EditMembers, |e, a, s| {
            op(
                e,
                ManageOp::AddMemberIds {
                    actor: a.clone(),
                    segment: s,
                    ids: ids(&[1]),
                },
            )
        }),
        ("remove by key", Action::EditMembers, |e, a, s| {
            e.remove_members(a, s, ["b"]).map(drop)
        }),
        ("remove by id", Action::EditMembers, |e, a, s| {
            op(
                e,
                ManageOp::RemoveMemberIds {
                    actor: a.clone(),
                    segment: s,
                    ids: ids(&[1]),
                },
            )
        }),
        ("clear blocks", Action::EditMembers, |e, a, s| {
            e.clear_blocks(a, s, ["a"]).map(drop)
        }),
        ("clear all blocks", Action::EditMembers, |e, a, s| {
            op(
                e,
                ManageOp::ClearAllBlocks {
                    actor: a.clone(),
                    segment: s,
                },
            )
        }),
        ("set settings", Action::EditSettings, |e, a, s| {
            e.set_settings(a, s, [("color", "red")].into_iter().collect())
        }),
        ("set settings if", Action::EditSettings, |e, a, s| {
            let v = e.segments().get(s)?.version;
            e.set_settings_if(a, s, [("color", "blue")].into_iter().collect(), v)
        }),
        ("share", Action::Share, |e, a, s| {
            e.set_access(a, s, SegmentAccess::new().viewer(Grantee::team("all")))
        }),
        ("view", Action::View, |e, a, s| {
            e.as_actor(a).segments().get(s).map(drop)
        }),
    ]
}

/// Whether `actor` may take the action on a segment owned by `owner`.
fn allowed(actor: &Actor, owner: &str, visibility: Visibility, name: &str) -> bool {
    let owns = actor.manages_all() || actor.id == owner;
    let (edits, views) = granted(actor);
    match name {
        "view" => visibility == Visibility::Public || owns || edits || views,
        "make public" => actor.manages_all(),
        "make private" | "delete" | "move" | "share" => owns,
        _ => owns || edits,
    }
}

#[test]
fn every_role_times_every_segment_action() {
    let mut checked = 0;
    for actor in actors() {
        for (name, action, attempt) in actions() {
            for private in [false, true] {
                let mut f = fixture();
                let (s, owner, vis) = if private {
                    (f.private, "mo", Visibility::Private)
                } else {
                    (f.public, "ada", Visibility::Public)
                };
                let before = format!("{:?}", f.engine);
                let got = attempt(&mut f.engine, &actor, s);
                let want = allowed(&actor, owner, vis, name);
                match got {
                    Ok(()) => assert!(want, "{} ({:?}) may not {name} {s}", actor.id, actor.role),
                    Err(e) => {
                        assert!(!want, "{} ({:?}) may {name} {s}, refused: {e}", actor.id, actor.role);
                        assert!(
                            matches!(&e, SegmentError::Denied { action: a, actor: who, .. } if *a == action && *who == actor.id),
                            "{name}: {e:?}"
                        );
                        assert!(e.to_string().starts_with(&format!("actor `{}`", actor.id)), "{e}");
                        assert_eq!(format!("{:?}", f.engine), before, "a refused {name} changed the engine");
                    }
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, actors().len() * actions().len() * 2);
}

#[test]
fn creating_and_reordering_by_role() {
    for actor in actors() {
        let mut f = fixture();
        let before = format!("{:?}", f.engine);
        let public = f
            .engine
            .create_segment(&actor, NewSegment::new("New public", "account"));
        match public {
            Ok(_) => assert!(actor.manages_all(), "{} created a public segment", actor.id),
            Err(e) => {
                assert!(!actor.manages_all());
                assert!(matches!(
                    e,
                    SegmentError::Denied {
                        action: Action::CreatePublic,
                        ..
                    }
                ));
                assert_eq!(format!("{:?}", f.engine), before);
            }
        }
        let (mine, _) = f
            .engine
            .create_segment(
                &actor,
                NewSegment::new("New private", "account").visibility(Visibility::Private),
            )
            .expect("anyone may create a private segment");
        assert_eq!(f.engine.segments().get(mine).unwrap().owner, actor.id);

        let mut order: Vec<SegmentId> = f.engine.segments().iter().map(|s| s.id).collect();
        order.reverse();
        let before = format!("{:?}", f.engine);
        match f.engine.reorder(&actor, &order) {
            Ok(()) => {
                assert!(actor.manages_all());
                assert_eq!(f.engine.segments().iter().map(|s| s.id).collect::<Vec<_>>(), order);
            }
            Err(e) => {
                assert!(!actor.manages_all());
                assert!(matches!(
                    e,
                    SegmentError::Denied {
                        action: Action::Reorder,
                        ..
                    }
                ));
                assert_eq!(format!("{:?}", f.engine), before);
            }
        }
    }
}

#[test]
fn listing_shows_public_own_and_shared_private_segments() {
    let f = fixture();
    let names = |a: &Actor| {
        f.engine
            .as_actor(a)
            .segments()
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    for actor in actors() {
        let (edits, views) = granted(&actor);
        let want: &[&str] = if actor.id == "mo" || edits || views {
            &["Public", "Mine"]
        } else {
            &["Public"]
        };
        assert_eq!(names(&actor), want, "{}", actor.id);
    }
    // Admins manage others' private segments by id without seeing them listed.
    let admin = Actor::new("ada", Role::Admin);
    assert_eq!(
        f.engine.as_actor(&admin).segments().get(f.private).unwrap().name,
        "Mine"
    );
    assert!(f
        .engine
        .as_actor(&Actor::new("mia", Role::Member))
        .segments()
        .get(f.private)
        .is_err());
}
