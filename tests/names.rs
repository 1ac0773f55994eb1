//! Segments by name: exact, case-sensitive comparison after trimming the
//! ends, and the same privacy as the listing an actor gets.

use segments::error::SegmentError;
use segments::filter::field;
use segments::segment::{Actor, NewSegment, Role, Visibility};
use segments::{Engine, FieldType, Filter, Row, Schema};

fn engine() -> Engine {
    let schema = Schema::builder()
        .kind("account", [("mrr", FieldType::Int)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    e.insert("account", "a", Row::new().set("mrr", 5000)).unwrap();
    e
}

fn big() -> Filter {
    Filter::and([field("mrr").ge(1000)])
}

#[test]
fn names_are_case_sensitive_and_trimmed_at_the_ends() {
    let mut e = engine();
    let admin = Actor::new("ada", Role::Admin);
    let (lower, _) = e.create_segment(&admin, NewSegment::new("At risk", "account")).unwrap();
    let (upper, _) = e
        .create_segment(&admin, NewSegment::new("  At Risk ", "account"))
        .unwrap();
    assert_ne!(lower, upper, "two names that differ in case are two segments");
    assert_eq!(e.segments().named("At risk").unwrap().id, lower);
    assert_eq!(e.segments().named("At Risk").unwrap().id, upper);
    assert_eq!(e.segments().named("\tAt Risk  ").unwrap().id, upper);
    for missing in ["at risk", "AT RISK", "At  risk", "Atrisk", ""] {
        assert!(
            matches!(
                e.segments().named(missing),
                Err(SegmentError::UnknownSegmentName { .. })
            ),
            "{missing:?}"
        );
    }
    // The same name, differing only in case, is refused in neither order;
    // the very same name is.
    assert!(matches!(
        e.create_segment(&admin, NewSegment::new("At risk", "account")),
        Err(SegmentError::DuplicateName { .. })
    ));
}

#[test]
fn an_actor_finds_by_name_only_what_it_may_list() {
    let mut e = engine();
    let mo = Actor::new("mo", Role::Member);
    let mia = Actor::new("mia", Role::Member);
    let (mine, _) = e
        .create_segment(
            &mo,
            NewSegment::new("Mine", "account")
                .visibility(Visibility::Private)
                .filter(big()),
        )
        .unwrap();
    let admin = Actor::new("ada", Role::Admin);
    let (public, _) = e
        .create_segment(&admin, NewSegment::new("Everyone's", "account"))
        .unwrap();

    assert_eq!(e.as_actor(&mo).segments().named("Mine").unwrap().id, mine);
    assert_eq!(e.as_actor(&mia).segments().named("Everyone's").unwrap().id, public);
    // Another's private segment is as unknown as a missing one: the same error.
    let hidden = e.as_actor(&mia).segments().named("Mine").unwrap_err();
    let missing = e.as_actor(&mia).segments().named("Nobody's").unwrap_err();
    assert!(matches!(hidden, SegmentError::UnknownSegmentName { ref name } if name == "Mine"));
    assert!(matches!(missing, SegmentError::UnknownSegmentName { .. }));
    // The service's own handle sees every segment.
    assert_eq!(e.segments().named("Mine").unwrap().id, mine);

    // A private segment may share a public one's name; its owner finds
    // the first in the segments' order, as `@segment` by name resolves it.
    let (twin, _) = e
        .create_segment(
            &mo,
            NewSegment::new("Everyone's", "account").visibility(Visibility::Private),
        )
        .unwrap();
    assert_eq!(e.as_actor(&mo).segments().named("Everyone's").unwrap().id, public);
    assert_eq!(e.as_actor(&mia).segments().named("Everyone's").unwrap().id, public);
    let by_name = Filter::from_json(
        r#"{"combinator": "and", "rules": [{"field": "@segment", "operator": "in", "value": ["Everyone's"]}]}"#,
    )
    .unwrap();
    let by_id = Filter::from_json(&format!(
        r#"{{"combinator": "and", "rules": [{{"field": "@segment", "operator": "in", "value": [{}]}}]}}"#,
        public.0
    ))
    .unwrap();
    let now = e.now();
    let q = e.as_actor(&mo);
    assert_eq!(
        q.query("account").evaluate(&by_name, now).unwrap(),
        q.query("account").evaluate(&by_id, now).unwrap()
    );
    let _ = twin;
}
