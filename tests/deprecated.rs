//! The names the read handles replaced still answer, for one release, as
//! their handles do: each deprecated forwarder against its replacement,
//! on the engine and on an actor's view.
#![allow(deprecated)]

use segments::engine::{Draft, Export};
use segments::filter::field;
use segments::segment::{Actor, NewSegment, Role, Visibility};
use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};

fn engine() -> (Engine, Actor, Actor) {
    let schema = Schema::builder()
        .kind("account", [("mrr", FieldType::Int), ("plan", FieldType::String)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    for (k, mrr, plan) in [("a", 100i64, "free"), ("b", 2000, "pro"), ("c", 5000, "pro")] {
        e.insert("account", k, Row::new().set("mrr", mrr).set("plan", plan))
            .unwrap();
    }
    let (ada, mo) = (Actor::new("ada", Role::Admin), Actor::new("mo", Role::Member));
    e.create_segment(
        &ada,
        NewSegment::new("Big", "account").filter(Filter::and([field("mrr").ge(1000)])),
    )
    .unwrap();
    e.create_segment(
        &mo,
        NewSegment::new("Mine", "account")
            .filter(Filter::and([field("plan").eq("pro")]))
            .visibility(Visibility::Private),
    )
    .unwrap();
    e.add_members(&ada, segments::segment::SegmentId(1), ["a"]).unwrap();
    (e, ada, mo)
}

#[test]
fn the_engine_s_old_reads_answer_as_its_handles() {
    let (e, ada, mo) = engine();
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let s = e.segments();
    let big = s.iter().find(|i| i.name == "Big").unwrap().id;
    let mine = s.iter().find(|i| i.name == "Mine").unwrap().id;
    let rule = s.get(big).unwrap().rules[0];
    assert_eq!(e.segment(big).unwrap(), s.get(big).unwrap());
    assert_eq!(
        e.view(&ada, big).unwrap(),
        e.as_actor(&ada).segments().get(big).unwrap()
    );
    assert_eq!(e.list(&mo).count(), e.as_actor(&mo).segments().iter().count());
    assert_eq!(e.rule(rule).unwrap(), s.rule(rule).unwrap());
    assert_eq!(e.members(big).unwrap(), s.members(big).unwrap());
    assert!(e.member_keys(big).unwrap().eq(s.member_keys(big).unwrap()));
    assert_eq!(e.count(mine).unwrap(), s.count(mine).unwrap());
    assert_eq!(e.is_member(big, "a").unwrap(), s.is_member(big, "a").unwrap());
    assert_eq!(
        e.segments_of("account", "b").unwrap(),
        s.segments_of("account", "b").unwrap()
    );
    assert_eq!(e.links(big, "a").unwrap(), s.links(big, "a").unwrap());
    assert_eq!(e.blocks(big, "a").unwrap(), s.blocks(big, "a").unwrap());
    assert_eq!(e.rule_links(rule).unwrap(), s.rule_links(rule).unwrap());
    assert_eq!(e.rule_blocks(rule).unwrap(), s.rule_blocks(rule).unwrap());
    assert_eq!(e.manual_links(big).unwrap(), s.manual_links(big).unwrap());
    assert_eq!(e.scope(big).unwrap().members(), s.scope(big).unwrap().members());
    let f = Filter::and([field("mrr").lt(3000)]);
    let within = e.query("account").within(big).unwrap();
    assert_eq!(
        e.scope(big).unwrap().evaluate(&f, now).unwrap(),
        within.evaluate(&f, now).unwrap()
    );
    assert_eq!(
        e.scope(big).unwrap().numeric_stats("mrr", &[50.0]).unwrap(),
        within.numeric_stats("mrr", &[50.0]).unwrap()
    );
    let (mut old, mut new) = (Vec::new(), Vec::new());
    e.export(big, &Export::new(["mrr"]), &mut old).unwrap();
    s.export(big, &Export::new(["mrr"]), &mut new).unwrap();
    assert_eq!(old, new);

    let f = Filter::and([field("mrr").gt(150)]);
    let q = e.query("account");
    assert_eq!(e.evaluate("account", &f, now).unwrap(), q.evaluate(&f, now).unwrap());
    let budget = segments::eval::Budget::unlimited();
    assert_eq!(
        e.evaluate_with("account", &f, now, &budget).unwrap(),
        q.budget(&budget).evaluate(&f, now).unwrap()
    );

    let b = e.builder();
    assert_eq!(
        e.counts("account", &f, now).unwrap(),
        b.counts("account", &f, now).unwrap()
    );
    assert_eq!(
        e.explain("account", &f, "b", now).unwrap(),
        b.explain("account", &f, "b", now).unwrap()
    );
    assert_eq!(
        e.explain_member(big, "a", now).unwrap(),
        b.explain_member(big, "a", now).unwrap()
    );
    let draft = Draft::EditRule {
        rule,
        filter: f.clone(),
    };
    assert_eq!(e.preview(&draft, 5, now).unwrap(), b.preview(&draft, 5, now).unwrap());
    assert_eq!(e.check("account", &f).unwrap(), b.check("account", &f).unwrap());
    assert_eq!(e.schema_json(), b.schema_json());
    assert_eq!(
        e.value_suggestions("account", "plan", "p", 5).unwrap(),
        b.value_suggestions("account", "plan", "p", 5).unwrap()
    );

    let l = e.log();
    assert_eq!(
        (e.log_seq(), e.log_oldest(), e.log_retention()),
        (l.seq(), l.oldest(), l.retention())
    );
    assert_eq!(e.changes_since(0, 100).unwrap(), l.changes_since(0, 100).unwrap());
    assert_eq!(e.cursor("x"), l.cursor("x"));
    assert_eq!(e.consumers().count(), l.consumers().count());
    assert_eq!(e.sync_delta(big, 0).unwrap(), l.sync_delta(big, 0).unwrap());
    assert_eq!(e.definition_history(None).count(), l.definition_history(None).count());
    assert_eq!(e.definition_changes_since(0, 10), l.definition_changes_since(0, 10));
    assert_eq!(e.members_at(big, now).unwrap(), l.members_at(big, now).unwrap());
    assert_eq!(
        e.membership_periods(big, "a").unwrap(),
        l.membership_periods(big, "a").unwrap()
    );
}

#[test]
fn the_old_actor_view_answers_as_its_handles_and_still_hides() {
    let (e, _, mo) = engine();
    let mia = Actor::new("mia", Role::Member);
    let now = Timestamp::from_micros(1_800_000_000_000_000);
    let mine = e.segments().iter().find(|i| i.name == "Mine").unwrap().id;
    let as_mo: segments::engine::AsActor<'_> = e.as_actor(&mo);
    assert_eq!(as_mo.count(mine).unwrap(), as_mo.segments().count(mine).unwrap());
    assert_eq!(as_mo.list().count(), 2);
    let as_mia = e.as_actor(&mia);
    assert_eq!(as_mia.list().count(), 1);
    assert!(as_mia.count(mine).is_err() && as_mia.segments().count(mine).is_err());
    assert!(as_mia.members(mine).is_err() && as_mia.is_member(mine, "b").is_err());
    assert!(as_mia.segments_of("account", "b").unwrap().len() == 1);
    let naming = Filter::and([segments::filter::in_segments([mine])]);
    assert!(as_mia.evaluate("account", &naming, now).is_err());
    assert!(as_mia.query("account").evaluate(&naming, now).is_err());
    assert!(as_mia.counts("account", &naming, now).is_err());
    assert!(as_mia.explain_member(mine, "b", now).is_err());
    assert!(as_mia.export(mine, &Export::new(["mrr"]), Vec::new()).is_err());
}

/// The state as bytes: two engines with equal snapshots are equal.
fn bytes(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.save(&mut out).unwrap();
    out
}

/// Each folded write, applied to one copy, and its replacement to
/// another: the same changes and the same state.
#[test]
fn the_folded_writes_do_what_their_replacements_do() {
    use segments::engine::{JsonLines, LogOp, ManageOp, Op, TimeOp};
    use segments::segment::{Changes, SegmentId};
    use segments::store::Properties;
    use segments::Clock;

    let (mut base, ada, _) = engine();
    let at: Timestamp = "2026-11-20T09:00:00Z".parse().unwrap();
    base.set_clock(Clock::Fixed(at)).unwrap();
    base.create_segment(
        &ada,
        NewSegment::new("Active", "account").filter(
            Filter::from_json(
                r#"{"combinator":"and","rules":[{"field":"@count:login","operator":">=","value":{"count":1}}]}"#,
            )
            .unwrap(),
        ),
    )
    .unwrap();
    let (big, active) = (SegmentId(1), SegmentId(3));
    fn props() -> Properties {
        Properties::new().with("format", "csv")
    }
    fn changed(c: &Changes) -> Vec<String> {
        c.iter().map(|c| format!("{c:?}")).collect()
    }
    type Old = Box<dyn Fn(&mut Engine) -> Vec<String>>;
    let cases: Vec<(&str, Old, Old)> = vec![
        (
            "record_event",
            Box::new(move |e| changed(&e.record_event("account", "a", "login", at).unwrap())),
            Box::new(move |e| changed(&e.record_events("account", [("a", "login", at)]).unwrap())),
        ),
        (
            "record_event_with",
            Box::new(move |e| changed(&e.record_event_with("account", "b", "login", at, props()).unwrap())),
            Box::new(move |e| changed(&e.record_events("account", [("b", "login", at, props())]).unwrap())),
        ),
        (
            "record_events_with",
            Box::new(move |e| changed(&e.record_events_with("account", [("c", "login", at, props())]).unwrap())),
            Box::new(move |e| changed(&e.record_events("account", [("c", "login", at, props())]).unwrap())),
        ),
        (
            "record_events_json_lines",
            Box::new(|e| {
                let l = r#"{"key":"a","event":"login","at":1}"#;
                changed(&e.record_events_json_lines("account", l.as_bytes()).unwrap())
            }),
            Box::new(|e| {
                let l = r#"{"key":"a","event":"login","at":1}"#;
                changed(
                    &e.load_json_lines("account", l.as_bytes(), JsonLines::events())
                        .unwrap()
                        .0,
                )
            }),
        ),
        (
            "insert_json_lines",
            Box::new(|e| {
                changed(
                    &e.insert_json_lines("account", &br#"{"key":"d","mrr":7000}"#[..])
                        .unwrap(),
                )
            }),
            Box::new(|e| {
                let l = &br#"{"key":"d","mrr":7000}"#[..];
                changed(&e.load_json_lines("account", l, JsonLines::insert()).unwrap().0)
            }),
        ),
        (
            "upsert_json_lines",
            Box::new(|e| {
                changed(
                    &e.upsert_json_lines("account", &br#"{"key":"a","mrr":9000}"#[..])
                        .unwrap(),
                )
            }),
            Box::new(|e| {
                let l = &br#"{"key":"a","mrr":9000}"#[..];
                changed(&e.load_json_lines("account", l, JsonLines::upsert()).unwrap().0)
            }),
        ),
        (
            "insert_json_lines_lenient",
            Box::new(|e| {
                let l = &b"{\"key\":\"d\",\"mrr\":7000}\n{\"key\":\"a\"}\n"[..];
                let (c, r) = e.insert_json_lines_lenient("account", l, 5).unwrap();
                let mut out = changed(&c);
                out.push(format!("{} {}", r.total, r.lines[0].error));
                out
            }),
            Box::new(|e| {
                let l = &b"{\"key\":\"d\",\"mrr\":7000}\n{\"key\":\"a\"}\n"[..];
                let (c, r) = e.load_json_lines("account", l, JsonLines::insert().lenient(5)).unwrap();
                let mut out = changed(&c);
                out.push(format!("{} {}", r.total, r.lines[0].error));
                out
            }),
        ),
        (
            "upsert_json_lines_lenient",
            Box::new(|e| {
                let l = &b"{\"key\":\"a\",\"mrr\":1}\n{\"key\":\"b\",\"mrr\":\"x\"}\n"[..];
                changed(&e.upsert_json_lines_lenient("account", l, 5).unwrap().0)
            }),
            Box::new(|e| {
                let l = &b"{\"key\":\"a\",\"mrr\":1}\n{\"key\":\"b\",\"mrr\":\"x\"}\n"[..];
                changed(
                    &e.load_json_lines("account", l, JsonLines::upsert().lenient(5))
                        .unwrap()
                        .0,
                )
            }),
        ),
        (
            "expire_events",
            Box::new(move |e| {
                e.record_events("account", [("a", "login", Timestamp::from_micros(at.as_micros() - 10))])
                    .unwrap();
                changed(&e.expire_events("account", std::time::Duration::from_micros(5)).unwrap())
            }),
            Box::new(move |e| {
                e.record_events("account", [("a", "login", Timestamp::from_micros(at.as_micros() - 10))])
                    .unwrap();
                let before = Timestamp::from_micros(e.now().as_micros() - 5);
                changed(&e.drop_events_before("account", before).unwrap())
            }),
        ),
        (
            "add_member_ids",
            Box::new(move |e| {
                changed(
                    &e.add_member_ids(&ada2(), active, &[0u32].into_iter().collect())
                        .unwrap(),
                )
            }),
            Box::new(move |e| {
                let op = ManageOp::AddMemberIds {
                    actor: ada2(),
                    segment: active,
                    ids: [0u32].into_iter().collect(),
                };
                changed(&e.apply(Op::Manage(op)).unwrap().changes)
            }),
        ),
        (
            "remove_member_ids",
            Box::new(move |e| {
                changed(
                    &e.remove_member_ids(&ada2(), big, &[1u32].into_iter().collect())
                        .unwrap(),
                )
            }),
            Box::new(move |e| changed(&e.remove_members(&ada2(), big, ["b"]).unwrap())),
        ),
        (
            "clear_all_blocks",
            Box::new(move |e| {
                e.remove_members(&ada2(), big, ["b", "c"]).unwrap();
                changed(&e.clear_all_blocks(&ada2(), big).unwrap())
            }),
            Box::new(move |e| {
                e.remove_members(&ada2(), big, ["b", "c"]).unwrap();
                changed(&e.clear_blocks(&ada2(), big, ["b", "c"]).unwrap())
            }),
        ),
        (
            "refresh_all",
            Box::new(move |e| changed(&e.refresh_all(at).unwrap())),
            Box::new(move |e| changed(&e.apply(Op::Time(TimeOp::RefreshAll { now: at })).unwrap().changes)),
        ),
        (
            "forget_consumer",
            Box::new(|e| {
                e.ack("crm", 1).unwrap();
                e.forget_consumer("crm").unwrap();
                e.log().consumers().map(|(c, s)| format!("{c} {s}")).collect()
            }),
            Box::new(|e| {
                e.ack("crm", 1).unwrap();
                e.apply(Op::Log(LogOp::ForgetConsumer { consumer: "crm".into() }))
                    .unwrap();
                e.log().consumers().map(|(c, s)| format!("{c} {s}")).collect()
            }),
        ),
    ];
    for (name, old, new) in cases {
        let (mut a, mut b) = (base.clone(), base.clone());
        let (was, is) = (old(&mut a), new(&mut b));
        assert_eq!(was, is, "{name}: changes");
        assert!(bytes(&a) == bytes(&b), "{name}: the states differ");
        match name {
            // A refresh with nothing stale changes nothing.
            "refresh_all" => {}
            // The consumer acked, then forgotten: none left.
            "forget_consumer" => assert!(was.is_empty(), "{was:?}"),
            _ => assert!(bytes(&a) != bytes(&base), "{name} changed nothing"),
        }
    }
    // The reads that moved.
    assert_eq!(
        base.table("account").unwrap().len(),
        base.store().table("account").unwrap().len()
    );
    assert_eq!(base.seq(), base.log().journal_seq());
    assert_eq!(base.next_change(at), base.segments().next_change(at));
    assert_eq!(base.policy(), base.builder().policy());
    let saved = bytes(&base);
    assert_eq!(bytes(&Engine::restore_from_bytes(&saved).unwrap()), saved);
    let path = std::env::temp_dir().join(format!("segments-deprecated-{}.snap", std::process::id()));
    base.save_to_path(&path).unwrap();
    assert_eq!(bytes(&Engine::restore_from_path(&path).unwrap()), saved);
    std::fs::remove_file(&path).unwrap();
}

fn ada2() -> Actor {
    Actor::new("ada", Role::Admin)
}
