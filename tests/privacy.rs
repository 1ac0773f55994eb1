//! Private segments stay private: every call that saves or evaluates a
//! filter, and every read on behalf of an actor, for every role and every
//! visibility. A refusal changes nothing and tells nothing: a segment the
//! actor may not see is refused exactly as a segment that does not exist.

use segments::filter::{field, in_segments, not_in_segments, Node};
use segments::segment::{Actor, NewSegment, Role, RuleId, SegmentId, Visibility};
use segments::{Clock, Engine, Error, FieldType, Filter, Row, Schema, SegmentError, Timestamp};

const SECRET: &str = "Secret list";

struct Fixture {
    engine: Engine,
    /// Public, owned by the admin.
    public: SegmentId,
    /// Private, owned by the member `mo`, with a manual add.
    private: SegmentId,
    /// Private segments of each actor's own, keyed by actor id: one without
    /// a filter, one with, and one for filters to name.
    own: Vec<(String, [SegmentId; 3])>,
}

fn actors() -> [Actor; 4] {
    [
        Actor::new("ada", Role::Admin),
        Actor::new("lee", Role::Leader),
        Actor::new("mo", Role::Member),
        Actor::new("mia", Role::Member),
    ]
}

fn now() -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000)
}

fn fixture() -> Fixture {
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Int)])
        .build()
        .unwrap();
    let mut engine = Engine::new(schema);
    engine.set_clock(Clock::Fixed(now())).unwrap();
    for (k, h) in [("a", 10i64), ("b", 50), ("c", 90)] {
        engine.insert("account", k, Row::new().set("health", h)).unwrap();
    }
    let admin = Actor::new("ada", Role::Admin);
    let mo = Actor::new("mo", Role::Member);
    let (public, _) = engine
        .create_segment(
            &admin,
            NewSegment::new("Public", "account").filter(Filter::and([field("health").lt(60)])),
        )
        .unwrap();
    let (private, _) = engine
        .create_segment(
            &mo,
            NewSegment::new(SECRET, "account")
                .filter(Filter::and([field("health").lt(20)]))
                .visibility(Visibility::Private),
        )
        .unwrap();
    engine.add_members(&mo, private, ["c"]).unwrap();
    let mut own = Vec::new();
    for a in actors() {
        let mut ids = [SegmentId(0); 3];
        for (i, name) in ["Own", "Ruled", "Named"].iter().enumerate() {
            let mut spec = NewSegment::new(format!("{name} of {}", a.id), "account").visibility(Visibility::Private);
            if i == 1 {
                spec = spec.filter(Filter::and([field("health").gt(0)]));
            }
            ids[i] = engine.create_segment(&a, spec).unwrap().0;
        }
        own.push((a.id.clone(), ids));
    }
    Fixture {
        engine,
        public,
        private,
        own,
    }
}

impl Fixture {
    /// The actor's private segment without a filter.
    fn own(&self, actor: &Actor) -> SegmentId {
        self.owns(actor)[0]
    }

    fn owns(&self, actor: &Actor) -> [SegmentId; 3] {
        self.own.iter().find(|(a, _)| *a == actor.id).unwrap().1
    }
}

/// Whether `actor` may see the segment `target` of the fixture.
fn may_see(f: &Fixture, actor: &Actor, target: SegmentId) -> bool {
    f.engine.segments().get(target).is_ok_and(|info| actor.may_view(info))
}

/// A call that saves or evaluates `filter` on behalf of `actor`, into the
/// actor's own private segments (`[without a filter, with one, _]`) where
/// it saves.
type FilterCall = fn(&mut Engine, &Actor, [SegmentId; 3], Filter) -> Result<(), Error>;

fn filter_calls() -> Vec<(&'static str, FilterCall)> {
    vec![
        ("create_segment", |e, a, _, f| {
            let spec = NewSegment::new("New", "account")
                .filter(f)
                .visibility(Visibility::Private);
            e.create_segment(a, spec).map(drop).map_err(Error::from)
        }),
        ("set_filter", |e, a, own, f| {
            e.set_filter(a, own[0], Some(f)).map(drop).map_err(Error::from)
        }),
        ("set_filter (replace)", |e, a, own, f| {
            e.set_filter(a, own[1], Some(f)).map(drop).map_err(Error::from)
        }),
        ("attach_rule", |e, a, own, f| {
            e.attach_rule(a, own[0], f).map(drop).map_err(Error::from)
        }),
        ("edit_rule", |e, a, own, f| {
            let rule = e.segments().get(own[1])?.rules[0];
            e.edit_rule(a, rule, f).map(drop).map_err(Error::from)
        }),
        ("as_actor.evaluate", |e, a, _, f| {
            e.as_actor(a).query("account").evaluate(&f, now()).map(drop)
        }),
        ("as_actor.scope.evaluate", |e, a, own, f| {
            e.as_actor(a)
                .query("account")
                .within(own[0])?
                .evaluate(&f, now())
                .map(drop)
        }),
    ]
}

/// Filters that name `target`, directly and nested.
fn naming(target: SegmentId) -> Vec<Filter> {
    vec![
        Filter::and([in_segments([target])]),
        Filter::and([not_in_segments([target])]),
        Filter::or([
            Node::from(field("health").lt(5)),
            Filter::and([Node::from(field("health").gt(1)), in_segments([target]).into()])
                .negated()
                .into(),
        ]),
    ]
}

/// The message with the segment's id written as `segment ?`, so that the
/// refusals for a hidden segment and for a missing one can be compared.
fn blind(e: &Error, id: SegmentId) -> String {
    e.to_string().replace(&id.to_string(), "segment ?")
}

#[test]
fn every_filter_call_checks_every_named_segment() {
    let missing = SegmentId(424_242);
    let mut checked = 0;
    for actor in actors() {
        for (call, attempt) in filter_calls() {
            for target in ["public", "private", "own", "missing"] {
                for filter in 0..3 {
                    let mut f = fixture();
                    let own = f.owns(&actor);
                    let target_id = match target {
                        "public" => f.public,
                        "private" => f.private,
                        "own" => own[2],
                        _ => missing,
                    };
                    let before = format!("{:?}", f.engine);
                    let got = attempt(&mut f.engine, &actor, own, naming(target_id).swap_remove(filter));
                    let visible = may_see(&f, &actor, target_id);
                    // Saved into the actor's own private segment, a public target is always
                    // allowed, a private one only if it is the owner's; an unsaved filter only
                    // needs the actor to see it.
                    let saves = !call.starts_with("as_actor");
                    let allowed = visible
                        && (target == "public"
                            || target == "own"
                            || (!saves && target == "private")
                            || (target == "private" && actor.id == "mo"));
                    match &got {
                        Ok(()) => assert!(allowed, "{call}: {} named {target} ({filter})", actor.id),
                        Err(e) => {
                            assert!(!allowed, "{call}: {} refused naming {target}: {e}", actor.id);
                            assert_eq!(
                                format!("{:?}", f.engine),
                                before,
                                "{call}: a refusal changed the engine"
                            );
                            if !visible && !actor.manages_all() {
                                let denied = matches!(e, Error::Segment(SegmentError::Denied { .. }));
                                assert!(denied, "{call}: {} naming {target}: {e:?}", actor.id);
                                assert!(!e.to_string().contains(SECRET), "{call}: leaked the name: {e}");
                            }
                        }
                    }
                    // A hidden segment is refused exactly as a missing one.
                    if target == "private" && !visible {
                        let mut g = fixture();
                        let own = g.owns(&actor);
                        let other = attempt(&mut g.engine, &actor, own, naming(missing).swap_remove(filter));
                        let (Err(a), Err(b)) = (&got, &other) else {
                            panic!("{call}: {got:?} / {other:?}")
                        };
                        assert_eq!(blind(a, f.private), blind(b, missing), "{call}: existence leaked");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * filter_calls().len() * 4 * 3);
}

#[test]
fn the_reported_attack_is_refused_and_the_owner_keeps_control() {
    let mut f = fixture();
    let mia = Actor::new("mia", Role::Member);
    let mo = Actor::new("mo", Role::Member);
    let own = f.own(&mia);
    let before = format!("{:?}", f.engine);
    let err = f
        .engine
        .attach_rule(&mia, own, Filter::and([in_segments([f.private])]))
        .unwrap_err();
    assert!(matches!(err, SegmentError::Denied { .. }), "{err:?}");
    let spec = NewSegment::new("Spy", "account")
        .filter(Filter::and([not_in_segments([f.private])]))
        .visibility(Visibility::Private);
    assert!(matches!(
        f.engine.create_segment(&mia, spec),
        Err(SegmentError::Denied { .. })
    ));
    assert_eq!(format!("{:?}", f.engine), before);
    // The owner may still delete her segment.
    f.engine.delete_segment(&mo, f.private).unwrap();
}

#[test]
fn a_public_segment_may_not_read_a_private_one() {
    let mut f = fixture();
    let admin = Actor::new("ada", Role::Admin);
    // The admin sees the private segment, but a public segment naming it
    // would show its members to everyone.
    let err = f
        .engine
        .attach_rule(&admin, f.public, Filter::and([in_segments([f.private])]))
        .unwrap_err();
    assert!(matches!(err, SegmentError::BadReference { .. }), "{err:?}");
    // The owner's private segment may name her other private one...
    let mo = Actor::new("mo", Role::Member);
    let mine = f.own(&mo);
    f.engine
        .attach_rule(&mo, mine, Filter::and([in_segments([f.private])]))
        .unwrap();
    // ...and then neither may be made public (admins only), nor the named one
    // made public-then-private again behind her back.
    let before = format!("{:?}", f.engine);
    let err = f.engine.set_visibility(&admin, mine, Visibility::Public).unwrap_err();
    assert!(matches!(err, SegmentError::VisibilityConflict { .. }), "{err:?}");
    assert_eq!(format!("{:?}", f.engine), before);
}

#[test]
fn making_a_segment_private_is_refused_while_others_read_it() {
    let mut f = fixture();
    let admin = Actor::new("ada", Role::Admin);
    let mia = Actor::new("mia", Role::Member);
    let hers = f.own(&mia);
    f.engine
        .attach_rule(&mia, hers, Filter::and([in_segments([f.public])]))
        .unwrap();
    let before = format!("{:?}", f.engine);
    let err = f
        .engine
        .set_visibility(&admin, f.public, Visibility::Private)
        .unwrap_err();
    assert!(matches!(err, SegmentError::VisibilityConflict { .. }), "{err:?}");
    assert_eq!(format!("{:?}", f.engine), before);
    // The admin sees mia's segment and is told which; mia's rule keeps reading.
    assert!(err.to_string().contains("Own of mia"), "{err}");
    // Once mia's rule is gone the change goes through.
    let rule = f.engine.segments().get(hers).unwrap().rules[0];
    f.engine.detach_rule(&mia, rule).unwrap();
    f.engine.set_visibility(&admin, f.public, Visibility::Private).unwrap();
}

#[test]
fn refusals_name_only_what_the_actor_may_see() {
    let mut f = fixture();
    let mo = Actor::new("mo", Role::Member);
    let mia = Actor::new("mia", Role::Member);
    // mo's private segment named by mo's own: deleting it tells mo which.
    let mine = f.own(&mo);
    f.engine
        .attach_rule(&mo, mine, Filter::and([in_segments([f.private])]))
        .unwrap();
    let err = f.engine.delete_segment(&mo, f.private).unwrap_err();
    assert!(err.to_string().contains("Own of mo"), "{err}");
    // mia learns nothing of mo's segments from any refusal.
    let missing = SegmentId(777);
    let pairs = [
        (
            f.engine.as_actor(&mia).segments().get(f.private).map(drop),
            f.engine.as_actor(&mia).segments().get(missing).map(drop),
        ),
        (
            f.engine.rename(&mia, f.private, "x"),
            f.engine.rename(&mia, missing, "x"),
        ),
        (
            f.engine.delete_segment(&mia, f.private).map(drop),
            f.engine.delete_segment(&mia, missing).map(drop),
        ),
        (
            f.engine.add_members(&mia, f.private, ["a"]).map(drop),
            f.engine.add_members(&mia, missing, ["a"]).map(drop),
        ),
    ];
    for (hidden, absent) in pairs {
        let (a, b) = (hidden.unwrap_err(), absent.unwrap_err());
        assert!(!a.to_string().contains(SECRET), "{a}");
        assert_eq!(
            a.to_string().replace(&f.private.to_string(), "?"),
            b.to_string().replace(&missing.to_string(), "?")
        );
    }
}

#[test]
fn names_are_unique_per_visibility_scope() {
    let mut f = fixture();
    let mia = Actor::new("mia", Role::Member);
    let mo = Actor::new("mo", Role::Member);
    let admin = Actor::new("ada", Role::Admin);
    // mia may have a private segment of the same name as mo's: she cannot see his.
    let (hers, _) = f
        .engine
        .create_segment(&mia, NewSegment::new(SECRET, "account").visibility(Visibility::Private))
        .unwrap();
    // A second of her own by that name is a conflict she may be told of.
    let err = f
        .engine
        .create_segment(&mia, NewSegment::new(SECRET, "account").visibility(Visibility::Private))
        .unwrap_err();
    assert_eq!(
        err,
        SegmentError::DuplicateName {
            name: SECRET.into(),
            existing: hers
        }
    );
    // Public names are unique among public segments, whatever private ones exist.
    let (public_secret, _) = f
        .engine
        .create_segment(&admin, NewSegment::new(SECRET, "account"))
        .unwrap();
    assert!(matches!(
        f.engine.create_segment(&admin, NewSegment::new("Public", "account")),
        Err(SegmentError::DuplicateName { .. })
    ));
    // Making a segment private or public checks the new scope.
    let err = f
        .engine
        .set_visibility(&admin, public_secret, Visibility::Private)
        .map(|_| ())
        .and_then(|_| f.engine.set_visibility(&admin, public_secret, Visibility::Public));
    assert!(err.is_ok(), "{err:?}");
    f.engine
        .create_segment(&admin, NewSegment::new("Own of mo", "account"))
        .unwrap();
    assert!(matches!(
        f.engine.rename(&mo, f.own(&mo), SECRET),
        Err(SegmentError::DuplicateName { .. })
    ));
}

/// A read through `as_actor` of a segment (or of its first rule), named,
/// for the matrix.
type Read = fn(&Engine, &Actor, SegmentId, RuleId) -> Result<String, SegmentError>;

fn reads() -> Vec<(&'static str, Read)> {
    vec![
        ("segment", |e, a, s, _| {
            e.as_actor(a).segments().get(s).map(|i| i.name.clone())
        }),
        ("members", |e, a, s, _| {
            e.as_actor(a).segments().members(s).map(|m| format!("{m:?}"))
        }),
        ("member_keys", |e, a, s, _| {
            e.as_actor(a)
                .segments()
                .member_keys(s)
                .map(|k| k.collect::<Vec<_>>().join(","))
        }),
        ("count", |e, a, s, _| {
            e.as_actor(a).segments().count(s).map(|n| n.to_string())
        }),
        ("is_member", |e, a, s, _| {
            e.as_actor(a).segments().is_member(s, "c").map(|b| b.to_string())
        }),
        ("links", |e, a, s, _| {
            e.as_actor(a).segments().links(s, "c").map(|l| format!("{l:?}"))
        }),
        ("blocks", |e, a, s, _| {
            e.as_actor(a).segments().blocks(s, "c").map(|l| format!("{l:?}"))
        }),
        ("manual_links", |e, a, s, _| {
            e.as_actor(a).segments().manual_links(s).map(|m| format!("{m:?}"))
        }),
        ("scope", |e, a, s, _| {
            let view = e.as_actor(a);
            let within = view.query("account").within(s)?;
            within
                .numeric_stats("health", &[50.0])
                .map(|c| format!("{c:?}"))
                .map_err(|e| match e {
                    segments::Error::Segment(e) => e,
                    other => panic!("{other}"),
                })
        }),
        ("rule", |e, a, _, r| {
            e.as_actor(a).segments().rule(r).map(|r| format!("{:?}", r.filter))
        }),
        ("rule_links", |e, a, _, r| {
            e.as_actor(a).segments().rule_links(r).map(|m| format!("{m:?}"))
        }),
        ("rule_blocks", |e, a, _, r| {
            e.as_actor(a).segments().rule_blocks(r).map(|m| format!("{m:?}"))
        }),
    ]
}

#[test]
fn every_read_as_an_actor_is_checked() {
    let f = fixture();
    let (missing, missing_rule) = (SegmentId(31_337), RuleId(31_337));
    let rule_of = |s: SegmentId| f.engine.segments().get(s).unwrap().rules[0];
    let mut checked = 0;
    for actor in actors() {
        for (name, read) in reads() {
            for (target, id, rule) in [
                ("public", f.public, rule_of(f.public)),
                ("private", f.private, rule_of(f.private)),
                ("missing", missing, missing_rule),
            ] {
                let got = read(&f.engine, &actor, id, rule);
                let visible = may_see(&f, &actor, id);
                match &got {
                    Ok(_) => assert!(visible, "{name}: {} read {target}", actor.id),
                    Err(e) => {
                        assert!(!visible, "{name}: {} refused {target}: {e}", actor.id);
                        assert!(!e.to_string().contains(SECRET), "{name}: {e}");
                        if !actor.manages_all() {
                            assert!(matches!(e, SegmentError::Denied { .. }), "{name}: {e:?}");
                        }
                    }
                }
                if target == "private" && !visible {
                    let other = read(&f.engine, &actor, missing, missing_rule).unwrap_err();
                    let blind = |e: &SegmentError, s: SegmentId, r: RuleId| {
                        e.to_string().replace(&s.to_string(), "?").replace(&r.to_string(), "?")
                    };
                    assert_eq!(
                        blind(got.as_ref().unwrap_err(), f.private, rule),
                        blind(&other, missing, missing_rule),
                        "{name}: existence leaked"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * reads().len() * 3);
}

#[test]
fn segments_of_lists_only_visible_segments() {
    let f = fixture();
    let all = f.engine.segments().segments_of("account", "c").unwrap();
    assert!(all.contains(&f.private));
    for actor in actors() {
        let seen = f
            .engine
            .as_actor(&actor)
            .segments()
            .segments_of("account", "c")
            .unwrap();
        let want: Vec<SegmentId> = all.iter().copied().filter(|s| may_see(&f, &actor, *s)).collect();
        assert_eq!(seen, want, "{}", actor.id);
        assert_eq!(seen.contains(&f.private), actor.id != "mia", "{}", actor.id);
    }
}
