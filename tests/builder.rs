//! The builder's backend through the public API, on random data and random
//! filters:
//!
//! - `counts`: every node's count is what evaluating that subtree alone
//!   gives, and its `without` what evaluating the filter with the node cut
//!   out gives (both through `Engine::evaluate`, not through the counts'
//!   own combination of bitmaps);
//! - `explain`: every node's answer is the evaluation of its subtree for
//!   that entity, and every rule's value is the entity's stored value;
//! - `preview`: what it predicts is exactly what saving the edit then does,
//!   and it changes nothing itself (members, the change log).

use std::collections::BTreeSet;

use proptest::prelude::*;
use segments::engine::{Draft, ExplainNode, NodeCount};
use segments::filter::{field, Combinator, Group, LimitPolicy, Node, Rule};
use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, Filter, IndexConfig, Row, Schema, Timestamp, Value};

const KEYS: usize = 40;

fn schema() -> Schema {
    Schema::builder()
        .kind(
            "account",
            [
                ("n", FieldType::Int),
                ("s", FieldType::String),
                ("b", FieldType::Bool),
                ("g", FieldType::Tags),
            ],
        )
        .build()
        .unwrap()
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::of(0i64..10),
        prop::option::of(prop::sample::select(&["pro", "free", "Pro", "team"][..])),
        prop::option::of(any::<bool>()),
        prop::sample::subsequence(&["x", "y", "z"][..], 0..=2),
    )
        .prop_map(|(n, s, b, g)| {
            let mut r = Row::new();
            if let Some(n) = n {
                r = r.set("n", n);
            }
            if let Some(s) = s {
                r = r.set("s", s);
            }
            if let Some(b) = b {
                r = r.set("b", b);
            }
            if !g.is_empty() {
                r = r.set("g", Value::Tags(g.into_iter().map(String::from).collect()));
            }
            r
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        (0i64..10).prop_map(|v| field("n").lt(v)),
        (0i64..10).prop_map(|v| field("n").ge(v)),
        (0i64..4, 4i64..10).prop_map(|(a, b)| field("n").not_between(a, b)),
        prop::sample::select(&["pro", "free"][..]).prop_map(|v| field("s").ne(v)),
        prop::sample::select(&["pro", "free"][..]).prop_map(|v| field("s").eq(v).ignoring_case()),
        Just(field("s").matches_regex("^(pro|team)$")),
        any::<bool>().prop_map(|v| field("b").eq(v)),
        prop::sample::select(&["x", "y"][..]).prop_map(|v| field("g").contains_any([v])),
        Just(field("g").is_null()),
    ]
}

fn group() -> impl Strategy<Value = Group> {
    let comb = || prop::sample::select(&[Combinator::And, Combinator::Or, Combinator::Xor][..]);
    let leaf = (comb(), any::<bool>(), prop::collection::vec(rule(), 0..4)).prop_map(|(c, not, rules)| Group {
        combinator: c,
        not,
        rules: rules.into_iter().map(Node::Rule).collect(),
    });
    leaf.prop_recursive(2, 8, 3, move |inner| {
        (
            comb(),
            any::<bool>(),
            prop::collection::vec(
                prop_oneof![2 => rule().prop_map(Node::Rule), 1 => inner.prop_map(Node::Group)],
                0..4,
            ),
        )
            .prop_map(|(c, not, rules)| Group {
                combinator: c,
                not,
                rules,
            })
    })
}

fn engine(rows: Vec<Row>) -> Engine {
    // The random filters can have more conditions than the default limit
    // of ten allows a saved segment.
    let policy = LimitPolicy::default().with_unlimited_conditions();
    let mut e = Engine::with_config(schema(), policy, IndexConfig::default());
    for (i, r) in rows.into_iter().enumerate() {
        e.insert("account", &format!("k{i}"), r).unwrap();
    }
    e
}

fn keys(e: &Engine, f: &Filter) -> BTreeSet<String> {
    let t = e.store().table("account").unwrap();
    e.query("account")
        .evaluate(f, Timestamp::now())
        .unwrap()
        .iter()
        .map(|id| t.key(segments::EntityId(id)).unwrap().to_string())
        .collect()
}

/// The node at `path` (indexes from the root), as a filter of its own.
fn subtree(f: &Filter, path: &[usize]) -> Filter {
    let mut g = f;
    for (k, &i) in path.iter().enumerate() {
        match &g.rules[i] {
            Node::Group(h) => g = h,
            Node::Rule(r) => {
                assert_eq!(k + 1, path.len());
                return Filter::and([r.clone()]);
            }
        }
    }
    g.clone()
}

/// The filter with the node at `path` cut out.
fn without(f: &Filter, path: &[usize]) -> Filter {
    let mut out = f.clone();
    let mut g = &mut out;
    for &i in &path[..path.len() - 1] {
        match &mut g.rules[i] {
            Node::Group(h) => g = h,
            Node::Rule(_) => unreachable!(),
        }
    }
    g.rules.remove(path[path.len() - 1]);
    out
}

fn check_counts(e: &Engine, f: &Filter, n: &NodeCount, path: &mut Vec<usize>) {
    assert_eq!(n.count, keys(e, &subtree(f, path)).len() as u64, "count at {}", n.path);
    if !path.is_empty() {
        assert_eq!(
            n.without,
            keys(e, &without(f, path)).len() as u64,
            "without at {}",
            n.path
        );
    }
    for (i, c) in n.rules.iter().enumerate() {
        path.push(i);
        check_counts(e, f, c, path);
        path.pop();
    }
}

fn check_explain(e: &Engine, f: &Filter, key: &str, n: &ExplainNode, path: &mut Vec<usize>) {
    let want = keys(e, &subtree(f, path)).contains(key);
    match n {
        ExplainNode::Group { matches, rules, .. } => {
            assert_eq!(*matches, want, "{key} at {path:?}");
            for (i, c) in rules.iter().enumerate() {
                path.push(i);
                check_explain(e, f, key, c, path);
                path.pop();
            }
        }
        ExplainNode::Rule {
            matches,
            field,
            value,
            missing,
            ..
        } => {
            assert_eq!(*matches, want, "{key} at {path:?}");
            let t = e.store().table("account").unwrap();
            let stored = t.get(t.id(key).unwrap(), field).unwrap();
            assert_eq!(*missing, stored == Value::Null);
            if !missing {
                assert_eq!(*value, stored.to_json());
            }
        }
        _ => panic!("a new kind of node"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn counts_are_the_evaluations_of_each_subtree_and_of_the_filter_without_it(
        rows in prop::collection::vec(row(), 0..KEYS),
        f in group(),
    ) {
        let e = engine(rows);
        let c = e.builder().counts("account", &f, Timestamp::now()).unwrap();
        prop_assert_eq!(c.live, e.store().table("account").unwrap().len());
        prop_assert_eq!(c.matches, keys(&e, &f).len() as u64);
        check_counts(&e, &f, &c.root, &mut Vec::new());
    }

    #[test]
    fn explain_answers_every_node_as_evaluation_does(
        rows in prop::collection::vec(row(), 1..KEYS),
        f in group(),
        pick in any::<prop::sample::Index>(),
    ) {
        let n = rows.len();
        let e = engine(rows);
        let key = format!("k{}", pick.index(n));
        let x = e.builder().explain("account", &f, &key, Timestamp::now()).unwrap();
        prop_assert_eq!(x.matches, keys(&e, &f).contains(&key));
        check_explain(&e, &f, &key, &x.root, &mut Vec::new());
        // JSON, as a UI takes it.
        let json = serde_json::to_value(&x).unwrap();
        prop_assert_eq!(json["root"]["type"].as_str(), Some("group"));
    }

    #[test]
    fn a_preview_is_what_saving_the_edit_does_and_changes_nothing(
        rows in prop::collection::vec(row(), 1..KEYS),
        f0 in group(),
        f1 in group(),
        draft in group(),
        manual in prop::collection::vec(0..KEYS, 0..6),
        removed in prop::collection::vec(0..KEYS, 0..6),
        which in 0..4usize,
    ) {
        let n = rows.len();
        let mut e = engine(rows);
        let admin = Actor::new("ada", Role::Admin);
        let (seg, _) = e.create_segment(&admin, NewSegment::new("S", "account").filter(f0)).unwrap();
        let r1 = e.attach_rule(&admin, seg, f1).unwrap().0;
        let r0 = e.segments().get(seg).unwrap().rules[0];
        let key = |i: usize| format!("k{}", i % n);
        e.add_members(&admin, seg, manual.iter().map(|&i| key(i))).unwrap();
        // Manual removals block the rules that had added them.
        e.remove_members(&admin, seg, removed.iter().map(|&i| key(i))).unwrap();

        let edit = match which {
            0 => Draft::EditRule { rule: r0, filter: draft.clone() },
            1 => Draft::AttachRule { segment: seg, filter: draft.clone() },
            2 => Draft::DetachRule { rule: r1 },
            _ => Draft::NewSegment { kind: "account".into(), filter: draft.clone() },
        };
        let seq = e.log().seq();
        let before: BTreeSet<String> = e.segments().member_keys(seg).unwrap().map(String::from).collect();
        let p = e.builder().preview(&edit, 3, Timestamp::now()).unwrap();
        prop_assert_eq!(e.log().seq(), seq);
        let still: BTreeSet<String> = e.segments().member_keys(seg).unwrap().map(String::from).collect();
        prop_assert_eq!(&still, &before);

        let target = match which {
            0 => { e.edit_rule(&admin, r0, draft).unwrap(); seg }
            1 => { e.attach_rule(&admin, seg, draft).unwrap(); seg }
            2 => { e.detach_rule(&admin, r1).unwrap(); seg }
            _ => e.create_segment(&admin, NewSegment::new("T", "account").filter(draft)).unwrap().0,
        };
        let old = if which == 3 { BTreeSet::new() } else { before };
        let new: BTreeSet<String> = e.segments().member_keys(target).unwrap().map(String::from).collect();
        prop_assert_eq!(p.before, old.len() as u64);
        prop_assert_eq!(p.after, new.len() as u64);
        let entering: BTreeSet<String> = new.difference(&old).cloned().collect();
        let exiting: BTreeSet<String> = old.difference(&new).cloned().collect();
        prop_assert_eq!(p.entering, entering.len() as u64);
        prop_assert_eq!(p.exiting, exiting.len() as u64);
        prop_assert!(p.entering_keys.len() <= 3 && p.exiting_keys.len() <= 3);
        prop_assert!(p.entering_keys.iter().all(|k| entering.contains(k)));
        prop_assert!(p.exiting_keys.iter().all(|k| exiting.contains(k)));
        prop_assert_eq!(p.entering_keys.len(), entering.len().min(3));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Suggestions are the model's: the live values with the prefix, counted,
    /// most held first, ties by value, cut at the limit.
    #[test]
    fn value_suggestions_are_the_counted_values_with_the_prefix(
        words in prop::collection::vec("[a-c]{0,4}", 1..80),
        deleted in prop::collection::vec(0..80usize, 0..10),
        prefix in "[a-c]{0,3}",
        limit in 0..6usize,
    ) {
        let mut e = Engine::new(schema());
        for (i, w) in words.iter().enumerate() {
            e.insert("account", &format!("k{i}"), Row::new().set("s", w.as_str()).set("g", Value::Tags(vec![w.clone()]))).unwrap();
        }
        let mut live: Vec<Option<&String>> = words.iter().map(Some).collect();
        for d in deleted {
            if d < words.len() && live[d].is_some() {
                e.delete("account", &format!("k{d}")).unwrap();
                live[d] = None;
            }
        }
        let mut model: std::collections::BTreeMap<&str, u64> = Default::default();
        for w in live.into_iter().flatten().filter(|w| w.starts_with(prefix.as_str())) {
            *model.entry(w.as_str()).or_default() += 1;
        }
        let mut want: Vec<(String, u64)> = model.into_iter().map(|(w, n)| (w.to_string(), n)).collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        want.truncate(limit);
        prop_assert_eq!(&e.builder().value_suggestions("account", "g", &prefix, limit).unwrap(), &want);
        prop_assert_eq!(&e.builder().value_suggestions("account", "s", &prefix, limit).unwrap(), &want);
    }
}

#[test]
fn the_schema_as_a_builder_reads_it() {
    let schema = Schema::builder()
        .kind("account", [("mrr", FieldType::Int), ("plan", FieldType::String)])
        .kind(
            "user",
            [("account_id", FieldType::String), ("seen", FieldType::Timestamp)],
        )
        .relation("user", "account_id", "account")
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    e.insert("user", "u1", Row::new()).unwrap();
    e.record_events("user", [("u1", "login", Timestamp::now())]).unwrap();
    let json = e.builder().schema_json();
    assert_eq!(
        json["kinds"][1]["fields"][1],
        serde_json::json!({"name": "seen", "type": "timestamp", "operators":
            ["=", "!=", "<", "<=", ">", ">=", "between", "notBetween", "withinLast", "withinNext", "moreThanAgo", "null", "notNull"]})
    );
    assert_eq!(json["kinds"][1]["events"], serde_json::json!(["login"]));
    assert_eq!(json["kinds"][0]["events"], serde_json::json!([]));
    assert_eq!(
        json["relations"],
        serde_json::json!([{"child": "user", "field": "account_id", "parent": "account"}])
    );
    // Every operator listed for a type validates on a field of that type.
    for (kind, f) in [("account", "mrr"), ("account", "plan"), ("user", "seen")] {
        let k = json["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == kind)
            .unwrap();
        let field = k["fields"].as_array().unwrap().iter().find(|x| x["name"] == f).unwrap();
        for op in field["operators"].as_array().unwrap() {
            let op = op.as_str().unwrap();
            let value = match (field["type"].as_str().unwrap(), op) {
                (_, "null" | "notNull") => serde_json::Value::Null,
                (_, "between" | "notBetween") if f == "seen" => {
                    serde_json::json!(["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"])
                }
                (_, "between" | "notBetween") => serde_json::json!([1, 2]),
                (_, "in" | "notIn") => serde_json::json!(["1"]),
                (_, "withinLast" | "withinNext" | "moreThanAgo") => serde_json::json!({"amount": 1, "unit": "days"}),
                ("timestamp", _) => serde_json::json!("2026-01-01T00:00:00Z"),
                _ => serde_json::json!("1"),
            };
            let rule = serde_json::json!({"field": f, "operator": op, "value": value});
            let filter = Filter::from_json_value(&serde_json::json!({"combinator": "and", "rules": [rule]})).unwrap();
            e.query(kind)
                .evaluate(&filter, Timestamp::now())
                .unwrap_or_else(|err| panic!("{kind}.{f} {op}: {err}"));
        }
    }
}

#[test]
fn segments_are_named_by_name_and_saved_by_id_within_the_privacy_rules() {
    use segments::filter::Literal;
    use segments::segment::Visibility;
    use segments::{Error, SegmentError};
    let mut e = engine((0..6).map(|i| Row::new().set("n", i as i64)).collect());
    let ada = Actor::new("ada", Role::Leader);
    let bob = Actor::new("bob", Role::Member);
    let (low, _) = e
        .create_segment(
            &ada,
            NewSegment::new("Low", "account").filter(Filter::and([field("n").lt(3)])),
        )
        .unwrap();
    let (mine, _) = e
        .create_segment(
            &ada,
            NewSegment::new("Mine", "account")
                .visibility(Visibility::Private)
                .filter(Filter::and([field("n").eq(5)])),
        )
        .unwrap();
    let by_name = |name: &str| {
        Filter::and([Rule::new(
            "@segment",
            segments::filter::Operator::In,
            Some(Literal::from(name)),
        )])
    };
    // Evaluated by name, and saved with the id in its place.
    assert_eq!(
        e.query("account")
            .evaluate(&by_name("Low"), Timestamp::now())
            .unwrap()
            .len(),
        3
    );
    let (s, _) = e
        .create_segment(&ada, NewSegment::new("In low", "account").filter(by_name("Low")))
        .unwrap();
    let rule = e.segments().get(s).unwrap().rules[0];
    assert_eq!(
        e.segments().rule(rule).unwrap().filter.to_json_value()["rules"][0]["value"],
        serde_json::json!(low.0)
    );
    let both = Filter::from_json(
        r#"{"combinator": "and", "rules": [{"field": "@segment", "operator": "notIn", "value": ["Low", "Mine"]}]}"#,
    )
    .unwrap();
    assert_eq!(
        e.as_actor(&ada)
            .query("account")
            .evaluate(&both, Timestamp::now())
            .unwrap()
            .len(),
        2
    );
    // Another's private segment is as unknown as a missing one.
    let unknown = |r: Result<roaring::RoaringBitmap, Error>| matches!(r, Err(Error::Segment(SegmentError::UnknownSegmentName { name })) if name == "Mine" || name == "Nope");
    assert!(unknown(
        e.as_actor(&bob)
            .query("account")
            .evaluate(&by_name("Mine"), Timestamp::now())
    ));
    assert!(unknown(
        e.as_actor(&bob)
            .query("account")
            .evaluate(&by_name("Nope"), Timestamp::now())
    ));
    assert!(matches!(
        e.attach_rule(&bob, s, by_name("Mine")),
        Err(SegmentError::UnknownSegmentName { .. }) | Err(SegmentError::Denied { .. })
    ));
    assert!(e
        .as_actor(&bob)
        .builder()
        .counts("account", &by_name("Mine"), Timestamp::now())
        .is_err());
    assert!(e.as_actor(&bob).builder().check("account", &by_name("Mine")).is_err());
    assert!(e
        .as_actor(&bob)
        .builder()
        .explain("account", &by_name("Mine"), "k1", Timestamp::now())
        .is_err());
    assert!(e
        .as_actor(&bob)
        .builder()
        .explain_member(mine, "k5", Timestamp::now())
        .is_err());
    let x = e
        .as_actor(&ada)
        .builder()
        .explain_member(mine, "k5", Timestamp::now())
        .unwrap();
    assert!(
        x.member
            && x.links
                == [segments::segment::Source::Rule(
                    e.segments().get(mine).unwrap().rules[0]
                )]
    );
    assert!(e
        .as_actor(&bob)
        .builder()
        .preview(
            &Draft::DetachRule {
                rule: e.segments().get(mine).unwrap().rules[0]
            },
            3,
            Timestamp::now()
        )
        .is_err());
}

/// A preview of an edit that would close a cycle of references is refused
/// with the error saving it gives, not answered as "no change".
#[test]
fn a_preview_refuses_a_cycle_as_saving_does() {
    use segments::filter::Literal;
    use segments::{Error, SegmentError};
    let mut e = engine((0..6).map(|i| Row::new().set("n", i as i64)).collect());
    let ada = Actor::new("ada", Role::Admin);
    let names = |id: u64| {
        Filter::and([Rule::new(
            "@segment",
            segments::filter::Operator::In,
            Some(Literal::from(id as i64)),
        )])
    };
    let (a, _) = e
        .create_segment(
            &ada,
            NewSegment::new("A", "account").filter(Filter::and([field("n").lt(5)])),
        )
        .unwrap();
    let (b, _) = e
        .create_segment(&ada, NewSegment::new("B", "account").filter(names(a.0)))
        .unwrap();
    let rule_a = e.segments().get(a).unwrap().rules[0];
    let now = Timestamp::now();
    for draft in [
        Draft::EditRule {
            rule: rule_a,
            filter: names(b.0),
        },
        Draft::AttachRule {
            segment: a,
            filter: names(b.0),
        },
    ] {
        let saved = match &draft {
            Draft::EditRule { rule, filter } => e.clone().edit_rule(&ada, *rule, filter.clone()).map(|_| ()),
            Draft::AttachRule { segment, filter } => e.clone().attach_rule(&ada, *segment, filter.clone()).map(|_| ()),
            _ => unreachable!(),
        };
        let saved = saved.unwrap_err();
        assert!(matches!(saved, SegmentError::Cycle { .. }), "{saved}");
        for previewed in [
            e.builder().preview(&draft, 3, now),
            e.as_actor(&ada).builder().preview(&draft, 3, now),
        ] {
            match previewed {
                Err(Error::Segment(err)) => assert_eq!(err, saved),
                other => panic!("{draft:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn explain_gives_the_numbers_behind_events_relations_segments_tags_and_fields() {
    use segments::engine::Detail;
    use segments::filter::{
        in_segments, other_field, related, CountWindow, Duration, EventCount, Literal, MatchMode, TimeUnit,
    };
    let schema = Schema::builder()
        .kind(
            "account",
            [
                ("mrr", FieldType::Int),
                ("goal", FieldType::Int),
                ("g", FieldType::Tags),
            ],
        )
        .kind("user", [("account_id", FieldType::String), ("active", FieldType::Bool)])
        .relation("user", "account_id", "account")
        .build()
        .unwrap();
    let mut e = Engine::new(schema);
    let now: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    e.insert(
        "account",
        "a",
        Row::new()
            .set("mrr", 10)
            .set("goal", 12)
            .set("g", Value::Tags(vec!["x1".into(), "x2".into(), "y".into()])),
    )
    .unwrap();
    for (u, active) in [("u1", true), ("u2", false), ("u3", true)] {
        e.insert("user", u, Row::new().set("account_id", "a").set("active", active))
            .unwrap();
    }
    for d in [1, 2, 20] {
        e.record_events(
            "account",
            [(
                "a",
                "login",
                Timestamp::from_micros(now.as_micros() - d * 86_400_000_000),
            )],
        )
        .unwrap();
    }
    let admin = Actor::new("ada", Role::Admin);
    let (big, _) = e
        .create_segment(
            &admin,
            NewSegment::new("Big", "account").filter(Filter::and([field("mrr").gt(100)])),
        )
        .unwrap();
    let f = Filter::and([
        Node::from(field("@count:login").ge(Literal::Count(EventCount {
            count: 2,
            window: CountWindow::Last(Duration {
                amount: 7,
                unit: TimeUnit::Days,
            }),
        }))),
        related("user")
            .at_least(2, Filter::and([field("active").eq(true)]))
            .into(),
        in_segments([big]).into(),
        field("g")
            .matching(
                MatchMode::AtLeast,
                Some(2.0),
                Filter::and([field("g").begins_with("x")]),
            )
            .into(),
        field("mrr").lt(other_field("goal")).into(),
        field("@lastSeen:login").not_null().into(),
    ]);
    let x = e.builder().explain("account", &f, "a", now).unwrap();
    let ExplainNode::Group { rules, matches, .. } = &x.root else {
        panic!()
    };
    assert!(!matches, "not in Big");
    let detail = |i: usize| match &rules[i] {
        ExplainNode::Rule { detail: Some(d), .. } => d.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        detail(0),
        Detail::Count {
            event: "login".into(),
            count: 2
        }
    );
    assert_eq!(
        detail(1),
        Detail::Related {
            kind: "user".into(),
            matched: 2,
            total: 3
        }
    );
    assert!(
        matches!(detail(2), Detail::Segments { segments } if segments.len() == 1 && segments[0].name == "Big" && !segments[0].member)
    );
    assert_eq!(detail(3), Detail::Tags { matched: 2, total: 3 });
    assert_eq!(
        detail(4),
        Detail::Fields {
            values: vec![("goal".into(), serde_json::json!(12))]
        }
    );
    let day = 86_400_000_000;
    assert_eq!(
        detail(5),
        Detail::Seen {
            event: Some("login".into()),
            at: Some(Timestamp::from_micros(now.as_micros() - day))
        }
    );
    let answers: Vec<bool> = rules
        .iter()
        .map(|r| matches!(r, ExplainNode::Rule { matches: true, .. }))
        .collect();
    assert_eq!(answers, [true, true, false, true, true, true]);
}
