//! The façade: a [`Store`] of entities and the segments over them, kept
//! current on every write, with the membership changes each call caused.
//!
//! # Reads: handles
//!
//! Writes are [`Op`]s (or the write methods that build them); every read
//! goes through one of a few small `Copy` handles that borrow the engine:
//!
//! | handle | from | answers |
//! | --- | --- | --- |
//! | [`Segments`] | [`Engine::segments`] | segments, rules, members, links and blocks, exports, scoped views |
//! | [`Query`] | [`Engine::query`] | a filter evaluated over a kind, under a budget or not |
//! | [`Builder`] | [`Engine::builder`] | what a segment builder asks: counts, explain, preview, checks, suggestions |
//! | [`Log`] | [`Engine::log`] | the change log, consumers' cursors, sync deltas, history |
//!
//! An actor's view ([`Engine::as_actor`], an [`ActorView`]) hands out the
//! same [`Segments`], [`Query`] and [`Builder`] with the access check
//! inside: a segment (or a rule of one) the actor may not see is refused
//! with [`SegmentError::Denied`](crate::error::SegmentError::Denied)
//! naming only its id, exactly as if it did not exist, listings leave it
//! out, and a filter may name only segments the actor may see. The
//! engine's own handles take no actor: they answer the service's own
//! questions (exports, jobs, alerts).

mod actor;
mod apply;
mod builder;
mod check;
mod data;
mod deprecated;
mod deps;
mod durable;
mod export;
mod graph;
mod guard;
mod history;
mod load;
mod log;
mod manage;
mod query;
mod read;
mod reshape;
mod snapshot;
mod suggest;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod writes;

/// The op values: moved to [`crate::op`]; this path stays.
pub use crate::op;
pub use crate::op::{
    Applied, Created, DataOp, EventRecord, LogOp, ManageOp, Op, SchemaOp, TimeOp, OLDEST_OP_FORMAT_VERSION,
    OP_FORMAT_VERSION,
};
pub use crate::value::Clock;
#[allow(deprecated)]
pub use actor::AsActor;
pub use builder::{
    Counts, Detail, Draft, ExplainNode, Explanation, MemberExplanation, NodeCount, Preview, RuleExplanation,
    SegmentMembership,
};
pub use check::{Warning, WarningCode};
pub use export::{Export, ExportFormat, ExportOrder};
pub use history::{DefinitionChange, Edit, Period};
pub use load::JsonLines;
pub use log::{LoggedChange, SegmentName, Subscription, SyncDelta};
pub use query::Scope;
pub use read::{ActorView, Builder, Log, Query, Segments};
#[cfg(feature = "testing")]
pub use testing::Inconsistency;

use roaring::RoaringBitmap;

use crate::error::StoreError;
use crate::eval::{self, Env};
use crate::filter::LimitPolicy;
use crate::schema::Schema;
use crate::segment::book::{Book, Deltas, RuleState, SegmentState};
use crate::segment::log::ChangeLog;
use crate::segment::{Changes, RuleId};
use crate::store::{IndexConfig, Store, Table};
use crate::value::Timestamp;
use deps::Deps;

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
/// Reads through the engine's own handles ([`Engine::segments`],
/// [`Engine::query`], [`Engine::builder`]) are the service's own and
/// unchecked; answer a user through [`Engine::as_actor`], whose handles
/// check every read. A refusal names a
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
/// assert!(engine.segments().is_member(at_risk, "a")?);
/// # Ok::<(), segments::Error>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    store: Store,
    policy: LimitPolicy,
    clock: Clock,
    /// The instant the op being applied runs at, whatever the clock says
    /// (`apply_at`, and every journaled op): never saved.
    pinned: Option<Timestamp>,
    /// Segments, rules and membership.
    book: Book,
    /// Per kind: which rules read which field or event.
    deps: Deps,
    /// Every call's changes, numbered, and the consumers' cursors.
    log: ChangeLog,
    /// The directory, journal and lock of an engine opened on one.
    durable: Option<Box<durable::Durable>>,
    /// Counts the writes of entities' data and of the schema that
    /// succeeded: what a cached read of values was made at.
    version: u64,
    /// Sorted members kept between the pages of an export.
    exports: export::Runs,
}

/// A clone is an in-memory engine with the same state: it writes to no
/// directory (the original keeps the journal and the lock).
impl Clone for Engine {
    fn clone(&self) -> Engine {
        Engine {
            store: self.store.clone(),
            policy: self.policy,
            clock: self.clock,
            pinned: self.pinned,
            book: self.book.clone(),
            deps: self.deps.clone(),
            log: self.log.clone(),
            durable: None,
            version: self.version,
            exports: export::Runs::default(),
        }
    }
}

// The engine is shared across threads behind a lock: it must stay `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
};

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
        let deps = Deps::new(&schema);
        Engine {
            store: Store::with_config(schema, cfg),
            policy,
            clock: Clock::System,
            pinned: None,
            book: Book::default(),
            deps,
            log: ChangeLog::default(),
            durable: None,
            version: 0,
            exports: export::Runs::default(),
        }
    }

    /// The current instant by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.pinned.unwrap_or_else(|| self.clock.now())
    }

    /// The entities.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn kind_index(&self, kind: &str) -> Option<usize> {
        kind_index(&self.store, kind)
    }

    fn table_at(&self, kind: usize) -> &Table {
        &self.store.tables()[kind]
    }

    /// The checks of management and access, over the engine's parts.
    fn guard(&self) -> guard::Guard<'_> {
        guard::Guard {
            store: &self.store,
            book: &self.book,
            policy: &self.policy,
        }
    }

    fn kind_for_write(&self, kind: &str) -> Result<usize, StoreError> {
        kind_for_write(&self.store, kind)
    }
}

/// The index of the kind named `kind` among the store's tables.
fn kind_index(store: &Store, kind: &str) -> Option<usize> {
    store.schema().kind_id(kind).map(|k| k.0 as usize)
}

/// The index of a kind a write names.
fn kind_for_write(store: &Store, kind: &str) -> Result<usize, StoreError> {
    kind_index(store, kind).ok_or_else(|| StoreError::UnknownKind(crate::error::UnknownKind::new(kind)))
}

// The membership kernel: functions over the store (read) and the book
// (written) that re-evaluate rules and turn the results into links and
// members. Every executor that moves membership calls them; none of them
// touches the log, the clock or the journal.

/// Re-evaluates `rule` over `scope` (every entity when `None`) at `now` and
/// records the links gained and lost in `deltas`.
fn relink(
    store: &Store,
    book: &mut Book,
    rule: RuleId,
    scope: Option<&RoaringBitmap>,
    now: Timestamp,
    deltas: &mut Deltas,
) {
    if let Some(matched) = matches_of(store, book, rule, scope, now) {
        book.relink(rule, scope, matched, deltas);
    }
}

/// Re-evaluates `rules` (sorted by id) for the one entity `id` and reports
/// the membership changes: the write path for one entity, with no bitmap
/// built unless membership changes.
fn relink_one(store: &Store, book: &mut Book, rules: &[RuleId], id: u32, at: Timestamp) -> Changes {
    if !book.settles_alone(rules) {
        // Segments that name segments settle in rank order.
        let scope = RoaringBitmap::from_sorted_iter([id]).unwrap_or_default();
        let mut deltas = Deltas::new();
        for &r in rules {
            relink(store, book, r, Some(&scope), at, &mut deltas);
        }
        return settle(store, book, deltas, at);
    }
    let env = env(store, book);
    let verdicts: Vec<(RuleId, bool)> = rules
        .iter()
        .filter_map(|&rule| {
            let r = book.rule(rule)?;
            let table = &store.tables()[r.kind];
            let matched = match &r.external {
                Some(given) => given.contains(id),
                None => eval::matches_unchecked(&r.plan, table, id, at, &env),
            };
            Some((rule, matched))
        })
        .collect();
    book.settle_one(&verdicts, id, at)
}

/// Turns the link changes of a call into membership changes (see
/// [`Book::settle`]), re-evaluating the rules that name a segment whose
/// members moved.
fn settle(store: &Store, book: &mut Book, deltas: Deltas, at: Timestamp) -> Changes {
    book.settle(deltas, at, |book, rule, chain, moved| {
        let scope = graph::parents_along(store.parents(), chain, moved, None);
        let matched = matches_of(store, book, rule, Some(&scope), at)?;
        Some((scope, matched))
    })
}

/// What `rule` matches among `scope` (every entity when `None`) at `now`;
/// `None` for a rule that does not exist.
fn matches_of(
    store: &Store,
    book: &Book,
    rule: RuleId,
    scope: Option<&RoaringBitmap>,
    now: Timestamp,
) -> Option<RoaringBitmap> {
    let r = book.rule(rule)?;
    if let Some(given) = r.given(scope) {
        return Some(given);
    }
    let env = env(store, book);
    let table = &store.tables()[r.kind];
    Some(match scope {
        Some(s) if s.len() <= PER_ENTITY.min(table.config().per_id_candidates) => s
            .iter()
            .filter(|&id| eval::matches_unchecked(&r.plan, table, id, now, &env))
            .collect(),
        _ => eval::evaluate_in(&r.plan, table, now, scope, &env),
    })
}

/// The context plans that name segments or related kinds read, from the
/// engine's parts (borrowed apart from its rules, which relinking changes).
fn env<'a>(store: &'a Store, book: &'a Book) -> Env<'a> {
    Env {
        tables: store.tables(),
        relations: store.schema().relations(),
        parents: store.parents(),
        segments: book,
        meter: eval::Meter::unmetered(),
    }
}
