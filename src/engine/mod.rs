//! The façade: a [`Store`] of entities and the segments over them, kept
//! current on every write, with the membership changes each call caused.

mod actor;
mod data;
mod deps;
mod graph;
mod manage;
pub mod op;
mod query;
mod snapshot;
mod suggest;
mod writes;

pub use actor::AsActor;
pub use op::{Applied, Created, DataOp, EventRecord, ManageOp, Op, TimeOp, OP_FORMAT_VERSION};
pub use query::Scope;

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use crate::eval::{self, Env, Parents};
use crate::filter::{LimitPolicy, Plan};
use crate::schema::Schema;
use crate::segment::{Cause, ChangeKind, Changes, Delta, RuleId, RuleInfo, SegmentId, SegmentInfo, Source};
use crate::store::{IndexConfig, Store, Table};
use crate::value::Timestamp;
use deps::KindDeps;

/// Where the engine's time comes from: when changes happened, when segments
/// were created, and the `now` of relative-time rules on writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system's clock.
    #[default]
    System,
    /// A fixed instant, for tests and replays.
    Fixed(Timestamp),
}

impl Clock {
    /// The current instant by this clock.
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => t,
        }
    }
}

/// Entities, segments over them, and the rules and manual links that make
/// their membership, kept current on every write.
///
/// Reads take `&self`, writes `&mut self`; every write returns the
/// [`Changes`] in membership it caused, and a write that fails changes
/// nothing. See [the membership model](crate::segment#the-membership-model).
///
/// # Who sees what
///
/// Writes that manage segments take an [`Actor`](crate::segment::Actor)
/// and check it: its role, ownership, and that every segment a filter
/// names is one it may see ([`Actor::may_view`](crate::segment::Actor::may_view)).
/// Reads without an actor ([`Engine::members`], [`Engine::evaluate`], ...)
/// are the service's own and unchecked; answer a user through
/// [`Engine::as_actor`], whose every read is checked. A refusal names a
/// segment the actor may not see by id only, the same as one that does not
/// exist.
///
/// # Examples
///
/// ```
/// use segments::filter::field;
/// use segments::segment::{Actor, ChangeKind, NewSegment, Role};
/// use segments::{Engine, FieldType, Filter, Row, Schema};
///
/// let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
/// let mut engine = Engine::new(schema);
/// let admin = Actor::new("ada", Role::Admin);
/// engine.insert("account", "a", Row::new().set("health", 80.0))?;
///
/// let (at_risk, _) = engine.create_segment(&admin,
///     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])))?;
/// let changes = engine.upsert("account", "a", Row::new().set("health", 12.0))?;
/// let change = changes.iter().next().unwrap();
/// assert_eq!((change.segment, change.kind), (at_risk, ChangeKind::Entered));
/// assert!(engine.is_member(at_risk, "a")?);
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    policy: LimitPolicy,
    clock: Clock,
    segments: BTreeMap<SegmentId, SegmentState>,
    /// The listing order.
    order: Vec<SegmentId>,
    rules: BTreeMap<RuleId, RuleState>,
    /// Per kind: which rules read which field or event.
    deps: Vec<KindDeps>,
    /// Per relation of the schema: each child's parent.
    parents: Vec<Parents>,
    /// Per segment: the rules that name it, with the chain of relations of
    /// the nested filter that does.
    refs: BTreeMap<SegmentId, Vec<(RuleId, Vec<usize>)>>,
    next_segment: u64,
    next_rule: u64,
}

#[derive(Debug, Clone)]
struct SegmentState {
    info: SegmentInfo,
    kind: usize,
    manual: RoaringBitmap,
    members: RoaringBitmap,
    /// 0 for a segment whose rules name no segment; otherwise one more
    /// than the highest rank of the segments they name. Segments settle
    /// in rank order, so a segment settles after those it depends on.
    rank: u32,
}

#[derive(Debug, Clone)]
struct RuleState {
    info: RuleInfo,
    kind: usize,
    plan: Plan,
    links: RoaringBitmap,
    blocked: RoaringBitmap,
}

// The engine is shared across threads behind a lock: it must stay `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
};

impl RuleState {
    /// A rule of `segment` (of kind `kind`) with no links or blocks yet.
    fn new(id: RuleId, segment: SegmentId, kind: usize, filter: crate::Filter, plan: Plan) -> RuleState {
        RuleState {
            info: RuleInfo {
                id,
                segment,
                time_relative: plan.is_time_relative(),
                filter,
            },
            kind,
            plan,
            links: RoaringBitmap::new(),
            blocked: RoaringBitmap::new(),
        }
    }
}

/// Scopes this small (or the table's `per_id_candidates`, if smaller) are
/// tested entity by entity; larger ones through the indexes.
const PER_ENTITY: u64 = 64;

impl Engine {
    /// An empty engine over `schema`, with the default [`LimitPolicy`] and
    /// [`IndexConfig`], on the system clock.
    pub fn new(schema: Schema) -> Engine {
        Engine::with_config(schema, LimitPolicy::default(), IndexConfig::default())
    }

    /// An empty engine with the given filter limits and index granularity.
    pub fn with_config(schema: Schema, policy: LimitPolicy, cfg: IndexConfig) -> Engine {
        let deps = schema.kinds().map(|k| KindDeps::new(k.len())).collect();
        let parents = vec![Parents::default(); schema.relations().len()];
        Engine {
            parents,
            refs: BTreeMap::new(),
            store: Store::with_config(schema, cfg),
            policy,
            clock: Clock::System,
            segments: BTreeMap::new(),
            order: Vec::new(),
            rules: BTreeMap::new(),
            deps,
            next_segment: 1,
            next_rule: 1,
        }
    }

    /// The current instant by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The filter limits segments and rules are validated with.
    pub fn policy(&self) -> &LimitPolicy {
        &self.policy
    }

    /// The entities.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn kind_index(&self, kind: &str) -> Option<usize> {
        self.store.schema().kind_id(kind).map(|k| k.0 as usize)
    }

    fn table_at(&self, kind: usize) -> &Table {
        &self.store.tables()[kind]
    }

    /// Re-evaluates `rule` over `scope` (every entity when `None`) at `now`
    /// and records the links gained and lost in `deltas`.
    fn relink(&mut self, rule: RuleId, scope: Option<&RoaringBitmap>, now: Timestamp, deltas: &mut Deltas) {
        let Engine {
            rules,
            store,
            segments,
            parents,
            ..
        } = self;
        let Some(r) = rules.get_mut(&rule) else { return };
        let env = env(store, segments, parents);
        let table = &store.tables()[r.kind];
        let source = Source::Rule(rule);
        let mut matched = match scope {
            Some(s) if s.len() <= PER_ENTITY.min(table.config().per_id_candidates) => s
                .iter()
                .filter(|&id| eval::matches_unchecked(&r.plan, table, id, now, &env))
                .collect(),
            _ => eval::evaluate_in(&r.plan, table, now, scope, &env),
        };
        matched -= &r.blocked;
        let (gained, lost) = match scope {
            Some(s) => {
                let old = &r.links & s;
                let gained = &matched - &old;
                let lost = old - &matched;
                r.links |= &gained;
                r.links -= &lost;
                (gained, lost)
            }
            None => {
                let gained = &matched - &r.links;
                let lost = &r.links - &matched;
                r.links = matched;
                (gained, lost)
            }
        };
        if gained.is_empty() && lost.is_empty() {
            return;
        }
        let d = deltas.entry(r.info.segment).or_default();
        d.gained(source, gained);
        d.lost(source, lost);
    }

    /// Re-evaluates `rules` (sorted by id) for the one entity `id` and
    /// reports the membership changes: the write path for one entity, with
    /// no bitmap built unless membership changes.
    fn relink_one(&mut self, rules: &[RuleId], id: u32, at: Timestamp) -> Changes {
        if !self.simple(rules) {
            // Segments that name segments settle in rank order.
            let scope = RoaringBitmap::from_sorted_iter([id]).unwrap_or_default();
            let mut deltas = Deltas::new();
            for &r in rules {
                self.relink(r, Some(&scope), at, &mut deltas);
            }
            return self.settle(deltas, at);
        }
        // (segment, rule, linked now) for each link that changed, in rule order.
        let mut flips: Vec<(SegmentId, RuleId, bool)> = Vec::new();
        let Engine {
            rules: all,
            store,
            segments,
            parents,
            ..
        } = self;
        let env = env(store, segments, parents);
        for &rule in rules {
            let Some(r) = all.get_mut(&rule) else { continue };
            let table = &store.tables()[r.kind];
            let now_linked = eval::matches_unchecked(&r.plan, table, id, at, &env) && !r.blocked.contains(id);
            if now_linked != r.links.contains(id) {
                if now_linked {
                    r.links.insert(id);
                } else {
                    r.links.remove(id);
                }
                flips.push((r.info.segment, rule, now_linked));
            }
        }
        // Stable: each segment's flips stay in rule order, so the first is the cause.
        flips.sort_by_key(|f| f.0);
        let mut out = Changes::new(at);
        out.groups.reserve(flips.len());
        let mut rest = &flips[..];
        while let Some(&(segment, ..)) = rest.first() {
            let n = rest.iter().take_while(|f| f.0 == segment).count();
            let group = &rest[..n];
            rest = &rest[n..];
            let Some(s) = self.segments.get_mut(&segment) else {
                continue;
            };
            let was = s.members.contains(id);
            // A gained link makes a member; only a lost one needs a look at the others.
            let is = group.iter().any(|f| f.2)
                || s.manual.contains(id)
                || s.info
                    .rules
                    .iter()
                    .any(|r| self.rules.get(r).is_some_and(|r| r.links.contains(id)));
            if was == is {
                continue;
            }
            let Some(&(_, cause, _)) = group.iter().find(|f| f.2 == is) else {
                continue;
            };
            if is {
                s.members.insert(id);
                out.push_one(segment, ChangeKind::Entered, Cause::Rule(cause), id);
            } else {
                s.members.remove(id);
                out.push_one(segment, ChangeKind::Exited, Cause::Rule(cause), id);
            }
        }
        out
    }

    /// Whether the rules' segments neither name segments nor are named:
    /// then one entity's changes need no ordering.
    fn simple(&self, rules: &[RuleId]) -> bool {
        self.refs.is_empty()
            || rules.iter().all(|r| {
                self.rules.get(r).map_or(true, |r| {
                    let s = r.info.segment;
                    !self.refs.contains_key(&s) && self.segments.get(&s).map_or(true, |s| s.rank == 0)
                })
            })
    }

    /// Turns the link changes of a call into membership changes.
    ///
    /// Segments settle in rank order; each change of a segment's members
    /// re-evaluates, for the entities that changed (or their parents), the
    /// rules that name it, so a change reaches every segment that depends on
    /// it, and each segment settles once with its net change.
    fn settle(&mut self, mut deltas: Deltas, at: Timestamp) -> Changes {
        let mut out = Changes::new(at);
        while let Some(id) = self.next_to_settle(&deltas) {
            let Some(delta) = deltas.remove(&id) else { break };
            let Some(seg) = self.segments.get_mut(&id) else {
                continue;
            };
            let first = out.groups.len();
            let rules = &self.rules;
            let (manual, rule_ids) = (&seg.manual, &seg.info.rules);
            delta.finish(
                id,
                &mut seg.members,
                |t| {
                    let mut linked = t & manual;
                    for r in rule_ids.iter().filter_map(|r| rules.get(r)) {
                        if linked.len() == t.len() {
                            break;
                        }
                        linked |= t & &r.links;
                    }
                    linked
                },
                &mut out,
            );
            if out.groups.len() > first {
                if let Some(dependents) = self.refs.get(&id).cloned() {
                    let mut moved = RoaringBitmap::new();
                    for g in &out.groups[first..] {
                        moved |= g.to_bitmap();
                    }
                    for (rule, chain) in dependents {
                        let scope = self.lift(&chain, &moved, None);
                        self.relink(rule, Some(&scope), at, &mut deltas);
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// The pending segment of lowest (rank, id).
    fn next_to_settle(&self, deltas: &Deltas) -> Option<SegmentId> {
        if self.refs.is_empty() {
            return deltas.keys().next().copied();
        }
        deltas
            .keys()
            .min_by_key(|id| (self.segments.get(id).map_or(0, |s| s.rank), **id))
            .copied()
    }
}

type Deltas = BTreeMap<SegmentId, Delta>;

impl eval::Members for BTreeMap<SegmentId, SegmentState> {
    fn members(&self, segment: SegmentId) -> Option<&RoaringBitmap> {
        self.get(&segment).map(|s| &s.members)
    }
}

/// The context plans that name segments or related kinds read, from the
/// engine's parts (borrowed apart from its rules, which relinking changes).
fn env<'a>(store: &'a Store, segments: &'a BTreeMap<SegmentId, SegmentState>, parents: &'a [Parents]) -> Env<'a> {
    Env {
        tables: store.tables(),
        relations: store.schema().relations(),
        parents,
        segments,
        meter: eval::Meter::unmetered(),
    }
}
