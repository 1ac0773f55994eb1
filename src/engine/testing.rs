//! Hooks for tests (`segments::testing`, with the `testing` cargo
//! feature): the row-scan oracle and a check of every invariant the
//! engine keeps. Built only with the `testing` cargo feature; slow by
//! design, never on a service's path.

use roaring::RoaringBitmap;

use super::Engine;
use crate::error::Error;
use crate::eval::{self, Meter};
use crate::filter::Filter;
use crate::ids::{EntityId, RelationId, RuleId, SegmentId};
use crate::value::Timestamp;

/// The first difference [`check_consistency`] found between the
/// engine's state and a recomputation from first principles.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Inconsistency {
    /// A child's parent along a relation is not the live entity its
    /// relation field names.
    #[error("relation {relation:?}: child {child:?} has parent {found:?}, expected {expected:?}")]
    Parent {
        /// The relation.
        relation: RelationId,
        /// The child entity.
        child: EntityId,
        /// The parent the engine holds.
        found: Option<EntityId>,
        /// The parent the relation field names.
        expected: Option<EntityId>,
    },
    /// A rule's links are not the live entities its filter matches (by the
    /// row-scan oracle) less its blocks.
    #[error("{rule} of {segment}: links {found:?}, expected {expected:?}")]
    Links {
        /// The segment.
        segment: SegmentId,
        /// The rule.
        rule: RuleId,
        /// The links the engine holds.
        found: RoaringBitmap,
        /// The links recomputed.
        expected: RoaringBitmap,
    },
    /// A segment's members are not its manual links and its rules' links.
    #[error("{segment}: members {found:?}, expected {expected:?}")]
    Members {
        /// The segment.
        segment: SegmentId,
        /// The members the engine holds.
        found: RoaringBitmap,
        /// The members recomputed.
        expected: RoaringBitmap,
    },
}

/// The row-scan oracle over the engine's data: as [`Query::evaluate`](crate::engine::Query::evaluate),
/// testing every live entity from first principles (related entities
/// found by comparing keys, segment references by their members).
/// Needs the `testing` feature.
///
/// # Errors
///
/// As [`Query::evaluate`](crate::engine::Query::evaluate).
///
/// # Examples
///
/// ```
/// use segments::filter::field;
/// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
///
/// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
/// let mut engine = Engine::new(schema);
/// engine.insert("account", "a", Row::new().set("mrr", 10))?;
/// engine.insert("account", "b", Row::new())?;
/// let f = Filter::and([field("mrr").ne(10)]);
/// let now = Timestamp::from_micros(0);
/// assert_eq!(segments::testing::scan(&engine, "account", &f, now)?, engine.query("account").evaluate(&f, now)?);
/// # Ok::<(), segments::Error>(())
/// ```
pub fn scan(engine: &Engine, kind: &str, filter: &Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
    let (table, plan) = engine.unsaved_plan(kind, filter, None)?;
    Ok(engine.with_env(Meter::unmetered(), |env| eval::scan_in(&plan, table, now, env)))
}

/// Checks every invariant the engine keeps against a recomputation from
/// first principles at `now`: each rule's links are the live entities
/// its filter matches (by the row-scan oracle) less its blocks; members
/// are the manual links and the rules' links; each child's parent is
/// the live entity its relation field names. Slow; needs the `testing`
/// feature.
///
/// # Errors
///
/// The first [`Inconsistency`] found.
pub fn check_consistency(engine: &Engine, now: Timestamp) -> Result<(), Inconsistency> {
    let relations = engine.store.schema().relations();
    for (i, rel) in relations.iter().enumerate() {
        let built = crate::store::Parents::build(rel, engine.store.tables());
        for c in engine.table_at(rel.child.0 as usize).live() {
            if built.of(c) != engine.store.parents()[i].of(c) {
                return Err(Inconsistency::Parent {
                    relation: RelationId(i as u32),
                    child: EntityId(c),
                    found: engine.store.parents()[i].of(c).map(EntityId),
                    expected: built.of(c).map(EntityId),
                });
            }
        }
    }
    for s in engine.book.segments().values() {
        let mut members = s.manual.clone();
        for r in engine.rules_of(s.info.rules.iter()) {
            let table = engine.table_at(r.kind);
            let matched = r
                .given(None)
                .unwrap_or_else(|| engine.with_env(Meter::unmetered(), |env| eval::scan_in(&r.plan, table, now, env)));
            let want = matched - &r.blocked;
            if want != r.links {
                return Err(Inconsistency::Links {
                    segment: s.info.id,
                    rule: r.info.id,
                    found: r.links.clone(),
                    expected: want,
                });
            }
            members |= &r.links;
        }
        if members != s.members {
            return Err(Inconsistency::Members {
                segment: s.info.id,
                found: s.members.clone(),
                expected: members,
            });
        }
    }
    Ok(())
}
