//! Model-based test of segments and link-based membership.
//!
//! Random sequences of operations run against the engine and against a
//! reference model built on `HashSet`s, where a rule's links are, by
//! definition, the live entities its predicate holds for minus those it is
//! blocked for. After every step the engine's members, manual links, rule
//! links, blocks, errors and emitted changes must equal the model's.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use segments::engine::Op::{Data, Manage, Time};
use segments::engine::{Applied, Created, DataOp, EventRecord, ManageOp, Op as EngineOp, TimeOp};
use segments::filter::{field, Node, TimeUnit};
use segments::segment::{Actor, Cause, ChangeKind, Changes, NewSegment, Role, RuleId, SegmentId, Visibility};
use segments::{Clock, Engine, FieldType, Filter, IndexConfig, LimitPolicy, Row, Schema, Timestamp, Value};

const BASE: i64 = 1_800_000_000_000_000;
const HOUR: i64 = 3_600_000_000;
const KEYS: usize = 12;

#[derive(Debug, Clone, Default, PartialEq)]
struct Entity {
    a: Option<i64>,
    b: Option<&'static str>,
    t: Option<i64>,
    /// (event name, instant), in arrival order.
    events: Vec<(&'static str, i64)>,
}

/// The filters rules draw from, each with its predicate written out by hand.
fn pool(i: usize) -> (Filter, fn(&Entity, i64) -> bool) {
    match i % 12 {
        0 => (Filter::and([field("a").lt(3)]), |e, _| e.a.is_some_and(|a| a < 3)),
        1 => (Filter::and([field("b").eq("x")]), |e, _| e.b == Some("x")),
        2 => (Filter::and([field("a").ge(2), field("b").ne("y")]), |e, _| {
            e.a.is_some_and(|a| a >= 2) && e.b != Some("y")
        }),
        3 => (Filter::or([field("a").eq(0), field("b").is_in(["y", "z"])]), |e, _| {
            e.a == Some(0) || matches!(e.b, Some("y" | "z"))
        }),
        4 => (Filter::and([field("t").within_last(2, TimeUnit::Days)]), |e, now| {
            e.t.is_some_and(|t| now - 48 * HOUR <= t && t <= now)
        }),
        5 => (
            Filter::and([
                Node::from(field("a").not_null()),
                field("t").more_than_ago(1, TimeUnit::Days).into(),
            ]),
            |e, now| e.a.is_some() && e.t.is_some_and(|t| t < now - 24 * HOUR),
        ),
        6 => (Filter::and([field("b").is_null()]).negated(), |e, _| e.b.is_some()),
        // True on missing values, so that new entities match rules over
        // fields they were not written with.
        7 => (Filter::and([field("b").is_null()]), |e, _| e.b.is_none()),
        8 => (Filter::and([field("a").lt(3)]).negated(), |e, _| {
            !e.a.is_some_and(|a| a < 3)
        }),
        9 => (Filter::and([field("a").between(1, 3)]), |e, _| {
            e.a.is_some_and(|a| (1..=3).contains(&a))
        }),
        10 => (
            Filter::from_json(
                r#"{"combinator": "and", "rules": [{"field": "@count:login", "operator": ">=",
                    "value": {"count": 2, "withinLast": {"amount": 2, "unit": "days"}}}]}"#,
            )
            .unwrap(),
            |e, now| {
                let recent = |(n, t): &&(&str, i64)| *n == "login" && now - 48 * HOUR <= *t && *t <= now;
                e.events.iter().filter(recent).count() >= 2
            },
        ),
        _ => (
            Filter::and([field("@lastSeen").within_last(1, TimeUnit::Days)]),
            |e, now| {
                e.events
                    .iter()
                    .map(|x| x.1)
                    .max()
                    .is_some_and(|t| now - 24 * HOUR <= t && t <= now)
            },
        ),
    }
}

#[derive(Debug, Clone)]
enum Op {
    Event(Vec<(usize, &'static str, i64)>),
    Upsert(usize, Patch),
    Insert(usize, Patch),
    UpsertMany(Vec<(usize, Patch)>),
    Clear(usize, usize),
    Delete(usize),
    Create {
        actor: usize,
        filter: Option<usize>,
        private: bool,
    },
    SetFilter {
        actor: usize,
        seg: usize,
        filter: Option<usize>,
    },
    DeleteSegment {
        actor: usize,
        seg: usize,
    },
    Attach {
        actor: usize,
        seg: usize,
        filter: usize,
    },
    Edit {
        actor: usize,
        seg: usize,
        rule: usize,
        filter: usize,
    },
    Detach {
        actor: usize,
        seg: usize,
        rule: usize,
    },
    Add {
        actor: usize,
        seg: usize,
        keys: Vec<usize>,
        by_id: bool,
    },
    Remove {
        actor: usize,
        seg: usize,
        keys: Vec<usize>,
        by_id: bool,
    },
    Unblock {
        actor: usize,
        seg: usize,
        keys: Option<Vec<usize>>,
    },
    Move {
        actor: usize,
        seg: usize,
        to: usize,
    },
    Refresh {
        hours: i64,
        all: bool,
    },
}

/// Fields to write: `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone)]
struct Patch {
    a: Option<Option<i64>>,
    b: Option<Option<&'static str>>,
    t: Option<Option<i64>>,
}

fn patch() -> impl Strategy<Value = Patch> {
    (
        prop::option::of(prop::option::of(0i64..5)),
        prop::option::of(prop::option::of(prop::sample::select(&["x", "y", "z"][..]))),
        prop::option::of(prop::option::of(-72i64..72)),
    )
        .prop_map(|(a, b, t)| Patch { a, b, t })
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    let keys = prop::collection::vec(0..KEYS + 1, 0..4);
    let actor = 0usize..4;
    let seg = 0usize..12;
    prop_oneof![
        8 => (key.clone(), patch()).prop_map(|(k, p)| Op::Upsert(k, p)),
        2 => (key.clone(), patch()).prop_map(|(k, p)| Op::Insert(k, p)),
        2 => prop::collection::vec((0..KEYS, patch()), 0..6).prop_map(Op::UpsertMany),
        2 => (key.clone(), 0usize..3).prop_map(|(k, f)| Op::Clear(k, f)),
        2 => key.clone().prop_map(Op::Delete),
        3 => (actor.clone(), prop::option::of(0usize..12), any::<bool>())
            .prop_map(|(actor, filter, private)| Op::Create { actor, filter, private }),
        2 => (actor.clone(), seg.clone(), prop::option::of(0usize..12))
            .prop_map(|(actor, seg, filter)| Op::SetFilter { actor, seg, filter }),
        1 => (actor.clone(), seg.clone()).prop_map(|(actor, seg)| Op::DeleteSegment { actor, seg }),
        3 => (actor.clone(), seg.clone(), 0usize..12).prop_map(|(actor, seg, filter)| Op::Attach { actor, seg, filter }),
        1 => (actor.clone(), seg.clone(), 0usize..4, 0usize..12)
            .prop_map(|(actor, seg, rule, filter)| Op::Edit { actor, seg, rule, filter }),
        1 => (actor.clone(), seg.clone(), 0usize..4).prop_map(|(actor, seg, rule)| Op::Detach { actor, seg, rule }),
        3 => (actor.clone(), seg.clone(), keys.clone(), any::<bool>())
            .prop_map(|(actor, seg, keys, by_id)| Op::Add { actor, seg, keys, by_id }),
        3 => (actor.clone(), seg.clone(), keys.clone(), any::<bool>())
            .prop_map(|(actor, seg, keys, by_id)| Op::Remove { actor, seg, keys, by_id }),
        1 => (actor.clone(), seg.clone(), prop::option::of(keys))
            .prop_map(|(actor, seg, keys)| Op::Unblock { actor, seg, keys }),
        1 => (actor.clone(), seg.clone(), 0usize..12).prop_map(|(actor, seg, to)| Op::Move { actor, seg, to }),
        2 => (0i64..60, any::<bool>()).prop_map(|(hours, all)| Op::Refresh { hours, all }),
        4 => prop::collection::vec((0..KEYS, prop::sample::select(&["login", "view"][..]), -60i64..10), 1..3)
            .prop_map(Op::Event),
    ]
}

/// Applies `op` after a trip through one of its serialized forms (JSON or
/// binary, by turns), as a journal or a replica would receive it: every
/// write of this test goes through `Engine::apply`.
fn through_ops(engine: &mut Engine, op: EngineOp) -> Result<Applied, segments::Error> {
    let json = op.to_json();
    let back = if json.len() % 2 == 0 {
        EngineOp::from_json(&json)?
    } else {
        EngineOp::from_bytes(&op.to_bytes())?
    };
    assert_eq!(back, op, "{json}");
    engine.apply(back)
}

/// The changes an applied op returned, or its error's message.
fn changes_of(r: Result<Applied, segments::Error>) -> Result<Changes, String> {
    r.map(|applied| applied.changes).map_err(|e| e.to_string())
}

fn actors() -> [Actor; 4] {
    [
        Actor::new("ada", Role::Admin),
        Actor::new("lee", Role::Leader),
        Actor::new("mo", Role::Member),
        Actor::new("mia", Role::Member),
    ]
}

fn key(k: usize) -> String {
    format!("k{k}")
}

#[derive(Debug, Clone)]
struct MSegment {
    id: SegmentId,
    owner: String,
    filter_rule: Option<RuleId>,
    /// Rule id → index into the pool.
    rules: BTreeMap<RuleId, usize>,
    manual: HashSet<String>,
    blocked: HashMap<RuleId, HashSet<String>>,
}

/// The reference model.
#[derive(Debug, Clone, Default)]
struct Model {
    now: i64,
    live: BTreeMap<String, Entity>,
    segments: Vec<MSegment>,
    next_segment: u64,
    next_rule: u64,
}

/// Link sets of one segment by source (`None` = manual).
type Links = BTreeMap<Option<RuleId>, HashSet<String>>;

impl Model {
    fn links(&self, s: &MSegment) -> Links {
        let mut out = Links::new();
        out.insert(None, s.manual.clone());
        for (&r, &f) in &s.rules {
            let pred = pool(f).1;
            let blocked = s.blocked.get(&r);
            let linked = self
                .live
                .iter()
                .filter(|(k, e)| pred(e, self.now) && !blocked.is_some_and(|b| b.contains(*k)))
                .map(|(k, _)| k.clone())
                .collect();
            out.insert(Some(r), linked);
        }
        out
    }

    fn all_links(&self) -> BTreeMap<SegmentId, Links> {
        self.segments.iter().map(|s| (s.id, self.links(s))).collect()
    }

    /// The `n`-th rule (modulo their number) of the `i`-th segment.
    fn rule(&self, i: usize, n: usize) -> Option<RuleId> {
        let rules = &self.segments[i].rules;
        rules.keys().nth(n % rules.len().max(1)).copied()
    }

    fn manages(&self, actor: &Actor, s: &MSegment) -> bool {
        actor.manages_all() || s.owner == actor.id
    }
}

fn members(links: &Links) -> HashSet<String> {
    links.values().flatten().cloned().collect()
}

/// Expected changes between two link states; `forced` is the cause of every exit.
fn diff(
    before: &BTreeMap<SegmentId, Links>,
    after: &BTreeMap<SegmentId, Links>,
    forced: Option<Cause>,
) -> Vec<(SegmentId, ChangeKind, Cause, String)> {
    let cause_of = |s: &Option<RuleId>| s.map_or(Cause::Manual, Cause::Rule);
    let empty = Links::new();
    let mut out = Vec::new();
    let ids: std::collections::BTreeSet<SegmentId> = before.keys().chain(after.keys()).copied().collect();
    for id in ids {
        let (b, a) = (before.get(&id).unwrap_or(&empty), after.get(&id).unwrap_or(&empty));
        let (mb, ma) = (members(b), members(a));
        for k in ma.difference(&mb) {
            let src = a
                .iter()
                .find(|(s, set)| set.contains(k) && !b.get(*s).is_some_and(|x| x.contains(k)));
            out.push((
                id,
                ChangeKind::Entered,
                cause_of(src.expect("an entry has a new link").0),
                k.clone(),
            ));
        }
        for k in mb.difference(&ma) {
            let cause = match forced {
                Some(c) => c,
                None if !after.contains_key(&id) => Cause::SegmentDeleted,
                None => {
                    let src = b
                        .iter()
                        .find(|(s, set)| set.contains(k) && !a.get(*s).is_some_and(|x| x.contains(k)));
                    cause_of(src.expect("an exit has a lost link").0)
                }
            };
            out.push((id, ChangeKind::Exited, cause, k.clone()));
        }
    }
    out
}

fn row(p: &Patch) -> Row {
    let mut r = Row::new();
    if let Some(a) = p.a {
        r = r.set("a", a.map_or(Value::Null, Value::Int));
    }
    if let Some(b) = p.b {
        r = r.set("b", b.map_or(Value::Null, Value::from));
    }
    if let Some(t) = p.t {
        r = r.set(
            "t",
            t.map_or(Value::Null, |h| {
                Value::Timestamp(Timestamp::from_micros(BASE + h * HOUR))
            }),
        );
    }
    r
}

fn apply_patch(e: &mut Entity, p: &Patch) {
    if let Some(a) = p.a {
        e.a = a;
    }
    if let Some(b) = p.b {
        e.b = b;
    }
    if let Some(t) = p.t {
        e.t = t.map(|h| BASE + h * HOUR);
    }
}

fn engine_changes(engine: &Engine, changes: &Changes) -> Vec<(SegmentId, ChangeKind, Cause, String)> {
    let t = engine.store().table("account").unwrap();
    changes
        .iter()
        .map(|c| (c.segment, c.kind, c.cause, t.key_any(c.entity).unwrap().to_string()))
        .collect()
}

struct Run {
    engine: Engine,
    model: Model,
    actors: [Actor; 4],
}

impl Run {
    fn new(cfg: IndexConfig) -> Run {
        let schema = Schema::builder()
            .kind(
                "account",
                [
                    ("a", FieldType::Int),
                    ("b", FieldType::String),
                    ("t", FieldType::Timestamp),
                ],
            )
            .kind("user", [("a", FieldType::Int)])
            .build()
            .unwrap();
        let mut engine = Engine::with_config(schema, LimitPolicy::default(), cfg);
        engine.set_clock(Clock::Fixed(Timestamp::from_micros(BASE))).unwrap();
        Run {
            engine,
            model: Model {
                now: BASE,
                next_segment: 1,
                next_rule: 1,
                ..Model::default()
            },
            actors: actors(),
        }
    }

    fn seg(&self, i: usize) -> Option<usize> {
        (!self.model.segments.is_empty()).then(|| i % self.model.segments.len())
    }

    fn ids(&self, keys: &[usize]) -> Option<roaring::RoaringBitmap> {
        let t = self.engine.store().table("account").unwrap();
        keys.iter()
            .map(|&k| t.id(&key(k)).filter(|id| t.live().contains(id.0)).map(|id| id.0))
            .collect()
    }

    /// Runs one operation on both sides and checks that they agree.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let before = self.model.all_links();
        let mut next = self.model.clone();
        let mut forced = None;
        // `Some(result)` from the engine; the model's verdict in `ok`.
        let (got, ok): (Result<Changes, String>, bool) = match op {
            Op::Upsert(k, p) | Op::Insert(k, p) => {
                let insert = matches!(op, Op::Insert(..));
                let exists = next.live.contains_key(&key(*k));
                let ok = !(insert && exists);
                if ok {
                    apply_patch(next.live.entry(key(*k)).or_default(), p);
                }
                let (kind, key, row) = ("account".to_string(), key(*k), row(p));
                let op = if insert {
                    DataOp::Insert { kind, key, row }
                } else {
                    DataOp::Upsert { kind, key, row }
                };
                (changes_of(through_ops(&mut self.engine, Data(op))), ok)
            }
            Op::UpsertMany(rows) => {
                let mut seen = HashSet::new();
                let ok = rows.iter().all(|(k, _)| seen.insert(*k));
                if ok {
                    for (k, p) in rows {
                        apply_patch(next.live.entry(key(*k)).or_default(), p);
                    }
                }
                let rows: Vec<(String, Row)> = rows.iter().map(|(k, p)| (key(*k), row(p))).collect();
                let op = Data(DataOp::UpsertMany {
                    kind: "account".into(),
                    rows,
                });
                (changes_of(through_ops(&mut self.engine, op)), ok)
            }
            Op::Clear(k, f) => {
                let name = ["a", "b", "t"][*f];
                let ok = next.live.contains_key(&key(*k));
                if let Some(e) = next.live.get_mut(&key(*k)) {
                    match f {
                        0 => e.a = None,
                        1 => e.b = None,
                        _ => e.t = None,
                    }
                }
                let op = Data(DataOp::ClearField {
                    kind: "account".into(),
                    key: key(*k),
                    field: name.into(),
                });
                (changes_of(through_ops(&mut self.engine, op)), ok)
            }
            Op::Delete(k) => {
                let ok = next.live.remove(&key(*k)).is_some();
                for s in &mut next.segments {
                    s.manual.remove(&key(*k));
                    for b in s.blocked.values_mut() {
                        b.remove(&key(*k));
                    }
                }
                forced = Some(Cause::EntityDeleted);
                let op = Data(DataOp::Delete {
                    kind: "account".into(),
                    key: key(*k),
                });
                (changes_of(through_ops(&mut self.engine, op)), ok)
            }
            Op::Create { actor, filter, private } => {
                let a = &self.actors[*actor];
                let ok = *private || a.manages_all();
                let mut spec =
                    NewSegment::new(format!(" s{} ", next.next_segment), "account").visibility(if *private {
                        Visibility::Private
                    } else {
                        Visibility::Public
                    });
                if let Some(f) = filter {
                    spec = spec.filter(pool(*f).0);
                }
                if ok {
                    let id = SegmentId(next.next_segment);
                    next.next_segment += 1;
                    let mut s = MSegment {
                        id,
                        owner: a.id.clone(),
                        filter_rule: None,
                        rules: BTreeMap::new(),
                        manual: HashSet::new(),
                        blocked: HashMap::new(),
                    };
                    if let Some(f) = filter {
                        let r = RuleId(next.next_rule);
                        next.next_rule += 1;
                        s.rules.insert(r, *f);
                        s.filter_rule = Some(r);
                    }
                    next.segments.push(s);
                }
                let op = Manage(ManageOp::CreateSegment {
                    actor: a.clone(),
                    segment: spec,
                });
                let r = through_ops(&mut self.engine, op).map(|applied| {
                    assert_eq!(applied.created, next.segments.last().map(|s| Created::Segment(s.id)));
                    applied.changes
                });
                (r.map_err(|e| e.to_string()), ok)
            }
            Op::SetFilter { actor, seg, filter } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let a = &self.actors[*actor];
                let ok = next.manages(a, &next.segments[i]);
                if ok {
                    let fresh = RuleId(next.next_rule);
                    let s = &mut next.segments[i];
                    match (filter, s.filter_rule) {
                        (Some(f), Some(r)) => {
                            s.rules.insert(r, *f);
                        }
                        (Some(f), None) => {
                            s.rules.insert(fresh, *f);
                            s.filter_rule = Some(fresh);
                            next.next_rule += 1;
                        }
                        (None, Some(r)) => {
                            s.rules.remove(&r);
                            s.blocked.remove(&r);
                            s.filter_rule = None;
                        }
                        (None, None) => {}
                    }
                }
                let id = self.model.segments[i].id;
                let op = Manage(ManageOp::SetFilter {
                    actor: a.clone(),
                    segment: id,
                    filter: filter.map(|f| pool(f).0),
                });
                let r = through_ops(&mut self.engine, op).map(|applied| applied.changes);
                (r.map_err(|e| e.to_string()), ok)
            }
            Op::DeleteSegment { actor, seg } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let a = &self.actors[*actor];
                let ok = next.manages(a, &next.segments[i]);
                if ok {
                    next.segments.remove(i);
                }
                let id = self.model.segments[i].id;
                let op = Manage(ManageOp::DeleteSegment {
                    actor: a.clone(),
                    segment: id,
                });
                (changes_of(through_ops(&mut self.engine, op)), ok)
            }
            Op::Attach { actor, seg, filter } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let a = &self.actors[*actor];
                let ok = next.manages(a, &next.segments[i]);
                if ok {
                    next.segments[i].rules.insert(RuleId(next.next_rule), *filter);
                    next.next_rule += 1;
                }
                let id = self.model.segments[i].id;
                let op = Manage(ManageOp::AttachRule {
                    actor: a.clone(),
                    segment: id,
                    filter: pool(*filter).0,
                });
                let r = through_ops(&mut self.engine, op).map(|applied| applied.changes);
                (r.map_err(|e| e.to_string()), ok)
            }
            Op::Edit {
                actor,
                seg,
                rule,
                filter,
            } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let Some(r) = next.rule(i, *rule) else { return Ok(()) };
                let a = &self.actors[*actor];
                let ok = next.manages(a, &next.segments[i]);
                if ok {
                    next.segments[i].rules.insert(r, *filter);
                }
                let op = Manage(ManageOp::EditRule {
                    actor: a.clone(),
                    rule: r,
                    filter: pool(*filter).0,
                });
                (changes_of(through_ops(&mut self.engine, op)), ok)
            }
            Op::Detach { actor, seg, rule } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let Some(r) = next.rule(i, *rule) else { return Ok(()) };
                let a = &self.actors[*actor];
                let ok = next.manages(a, &next.segments[i]);
                if ok {
                    let s = &mut next.segments[i];
                    s.rules.remove(&r);
                    s.blocked.remove(&r);
                    if s.filter_rule == Some(r) {
                        s.filter_rule = None;
                    }
                }
                let op = Manage(ManageOp::DetachRule {
                    actor: a.clone(),
                    rule: r,
                });
                (changes_of(through_ops(&mut self.engine, op)), ok)
            }
            Op::Add {
                actor,
                seg,
                keys,
                by_id,
            }
            | Op::Remove {
                actor,
                seg,
                keys,
                by_id,
            } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let add = matches!(op, Op::Add { .. });
                let a = &self.actors[*actor];
                let all_live = keys.iter().all(|k| next.live.contains_key(&key(*k)));
                let ok = next.manages(a, &next.segments[i]) && all_live;
                if ok {
                    let s = &mut next.segments[i];
                    for k in keys {
                        if add {
                            s.manual.insert(key(*k));
                        } else {
                            s.manual.remove(&key(*k));
                            for r in s.rules.keys() {
                                s.blocked.entry(*r).or_default().insert(key(*k));
                            }
                        }
                    }
                    if !add {
                        forced = Some(Cause::Manual);
                    }
                }
                let id = self.model.segments[i].id;
                let names: Vec<String> = keys.iter().map(|&k| key(k)).collect();
                let (actor, segment) = (a.clone(), id);
                let op = match (add, by_id, self.ids(keys)) {
                    (true, true, Some(ids)) => ManageOp::AddMemberIds { actor, segment, ids },
                    (false, true, Some(ids)) => ManageOp::RemoveMemberIds { actor, segment, ids },
                    (true, _, _) => ManageOp::AddMembers {
                        actor,
                        segment,
                        keys: names,
                    },
                    (false, _, _) => ManageOp::RemoveMembers {
                        actor,
                        segment,
                        keys: names,
                    },
                };
                (changes_of(through_ops(&mut self.engine, Manage(op))), ok)
            }
            Op::Unblock { actor, seg, keys } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let a = &self.actors[*actor];
                let all_live = keys.iter().flatten().all(|k| next.live.contains_key(&key(*k)));
                let ok = next.manages(a, &next.segments[i]) && all_live;
                if ok {
                    let s = &mut next.segments[i];
                    match keys {
                        None => s.blocked.clear(),
                        Some(keys) => {
                            for b in s.blocked.values_mut() {
                                for k in keys {
                                    b.remove(&key(*k));
                                }
                            }
                        }
                    }
                }
                let id = self.model.segments[i].id;
                let (actor, segment) = (a.clone(), id);
                let op = match keys {
                    None => ManageOp::ClearAllBlocks { actor, segment },
                    Some(keys) => ManageOp::ClearBlocks {
                        actor,
                        segment,
                        keys: keys.iter().map(|&k| key(k)).collect(),
                    },
                };
                (changes_of(through_ops(&mut self.engine, Manage(op))), ok)
            }
            Op::Move { actor, seg, to } => {
                let Some(i) = self.seg(*seg) else { return Ok(()) };
                let a = &self.actors[*actor];
                let to = to % next.segments.len();
                let ok = next.manages(a, &next.segments[i]);
                if ok {
                    let s = next.segments.remove(i);
                    next.segments.insert(to, s);
                }
                let id = self.model.segments[i].id;
                let op = Manage(ManageOp::MoveSegment {
                    actor: a.clone(),
                    segment: id,
                    position: to,
                });
                // A move changes no membership.
                let r = through_ops(&mut self.engine, op).map(|applied| {
                    assert!(applied.changes.is_empty());
                    Changes::default()
                });
                (r.map_err(|e| e.to_string()), ok)
            }
            Op::Event(events) => {
                let ok = events.iter().all(|(k, _, _)| next.live.contains_key(&key(*k)));
                if ok {
                    for (k, name, h) in events {
                        next.live
                            .get_mut(&key(*k))
                            .unwrap()
                            .events
                            .push((name, next.now + h * HOUR));
                    }
                }
                let now = next.now;
                let batch: Vec<(String, &str, Timestamp)> = events
                    .iter()
                    .map(|(k, n, h)| (key(*k), *n, Timestamp::from_micros(now + h * HOUR)))
                    .collect();
                let kind = "account".to_string();
                let op = if let [(k, n, t)] = &batch[..] {
                    DataOp::RecordEvent {
                        kind,
                        key: k.clone(),
                        event: n.to_string(),
                        at: *t,
                    }
                } else {
                    let events = batch
                        .into_iter()
                        .map(|(key, event, at)| EventRecord {
                            key,
                            event: event.to_string(),
                            at,
                            properties: Default::default(),
                        })
                        .collect();
                    DataOp::RecordEvents { kind, events }
                };
                (changes_of(through_ops(&mut self.engine, Data(op))), ok)
            }
            Op::Refresh { hours, all } => {
                // Time moves only here, so the model's links at `now` are the
                // engine's between refreshes.
                next.now += hours * HOUR;
                let now = Timestamp::from_micros(next.now);
                let clock = TimeOp::SetClock {
                    clock: Clock::Fixed(now),
                };
                prop_assert!(changes_of(through_ops(&mut self.engine, Time(clock))).is_ok_and(|c| c.is_empty()));
                let op = if *all {
                    TimeOp::RefreshAll { now }
                } else {
                    TimeOp::Refresh { now }
                };
                (changes_of(through_ops(&mut self.engine, Time(op))), true)
            }
        };
        match got {
            Err(e) => {
                prop_assert!(!ok, "{op:?} failed: {e}");
                // A refused call changes nothing: the model stays as it was.
            }
            Ok(changes) => {
                prop_assert!(ok, "{op:?} succeeded, the model refuses it");
                if !matches!(op, Op::Move { .. }) {
                    prop_assert_eq!(changes.at(), Timestamp::from_micros(next.now));
                }
                self.model = next;
                let after = self.model.all_links();
                let mut want = diff(&before, &after, forced);
                let t = self.engine.store().table("account").unwrap();
                want.sort_by_key(|(s, kind, cause, k)| (*s, *kind, *cause, t.id_any(k).map(|i| i.0)));
                prop_assert_eq!(engine_changes(&self.engine, &changes), want, "changes of {:?}", op);
            }
        }
        self.check()
    }

    /// The engine's whole membership state equals the model's.
    fn check(&self) -> Result<(), TestCaseError> {
        let t = self.engine.store().table("account").unwrap();
        let keys = |b: &roaring::RoaringBitmap| -> HashSet<String> { t.keys_of(b).map(String::from).collect() };
        let order: Vec<SegmentId> = self.engine.segments().iter().map(|s| s.id).collect();
        let want_order: Vec<SegmentId> = self.model.segments.iter().map(|s| s.id).collect();
        prop_assert_eq!(order, want_order);
        for s in &self.model.segments {
            let links = self.model.links(s);
            let info = self.engine.segments().get(s.id).unwrap();
            prop_assert_eq!(info.rules.clone(), s.rules.keys().copied().collect::<Vec<_>>());
            prop_assert_eq!(info.filter_rule, s.filter_rule);
            prop_assert_eq!(
                keys(self.engine.segments().members(s.id).unwrap()),
                members(&links),
                "members of {}",
                s.id
            );
            prop_assert_eq!(
                keys(self.engine.segments().manual_links(s.id).unwrap()),
                s.manual.clone()
            );
            for &r in s.rules.keys() {
                prop_assert_eq!(
                    keys(self.engine.segments().rule_links(r).unwrap()),
                    links[&Some(r)].clone(),
                    "links of {}",
                    r
                );
                let blocked = s.blocked.get(&r).cloned().unwrap_or_default();
                prop_assert_eq!(
                    keys(self.engine.segments().rule_blocks(r).unwrap()),
                    blocked,
                    "blocks of {}",
                    r
                );
            }
            for k in self.model.live.keys() {
                let want: Vec<_> = links
                    .iter()
                    .filter(|(_, set)| set.contains(k))
                    .map(|(src, _)| src.map_or(segments::segment::Source::Manual, segments::segment::Source::Rule))
                    .collect();
                prop_assert_eq!(self.engine.segments().links(s.id, k).unwrap(), want);
                prop_assert_eq!(
                    self.engine.segments().is_member(s.id, k).unwrap(),
                    members(&links).contains(k)
                );
            }
        }
        for k in self.model.live.keys() {
            let want: Vec<SegmentId> = self
                .model
                .segments
                .iter()
                .filter(|s| members(&self.model.links(s)).contains(k))
                .map(|s| s.id)
                .collect();
            prop_assert_eq!(self.engine.segments().segments_of("account", k).unwrap(), want);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn engine_follows_the_model(ops in prop::collection::vec(op(), 1..200), tiny in any::<bool>()) {
        // Tiny index granularities send batch re-evaluations through every
        // path of the bitmap evaluator.
        let cfg = if tiny {
            IndexConfig { fine_buckets: 4, groups: 2, min_bucket: 1, per_id_candidates: 3 }
        } else {
            IndexConfig::default()
        };
        let mut run = Run::new(cfg);
        for op in &ops {
            run.step(op)?;
        }
    }
}
