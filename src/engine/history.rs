//! History: membership as of an instant and over time, read back from the
//! retained change log; and who changed a segment's definition, when, from
//! what to what.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::read::Log;
use super::Engine;
use crate::error::LogError;
use crate::filter::Filter;
use crate::ids::{RuleId, SegmentId};
use crate::op::ManageOp;
use crate::segment::{ChangeKind, SegmentAccess, Settings, Visibility};
pub use crate::segment::{DefinitionChange, Edit};
use crate::value::Timestamp;

/// One stretch of time an entity was a member of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    /// When it entered; `None` if it was already a member when the
    /// retained log begins.
    pub from: Option<Timestamp>,
    /// When it left; `None` if it is still a member.
    pub to: Option<Timestamp>,
}

impl Engine {
    /// Deprecated: `engine.log().definition_history(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().definition_history(..)`")]
    pub fn definition_history(&self, segment: Option<SegmentId>) -> impl Iterator<Item = &DefinitionChange> + '_ {
        self.log().definition_history(segment)
    }

    /// Deprecated: `engine.log().definition_changes_since(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().definition_changes_since(..)`")]
    pub fn definition_changes_since(&self, after: u64, limit: usize) -> Vec<&DefinitionChange> {
        self.log().definition_changes_since(after, limit)
    }

    /// What an op that edits a definition will need of the state before it
    /// runs (read from the book: validated filters only, never the op's
    /// own, which may be hostile); completed by [`Engine::recorded_edit`]
    /// from the book once the op succeeded.
    pub(super) fn pending_edit(&self, op: &ManageOp) -> Option<(String, SegmentId, PendingEdit)> {
        let rule = |r: RuleId| self.book.rule(r).map(|r| (r.info.segment, r.info.filter.clone()));
        Some(match op {
            ManageOp::CreateSegment { actor, .. } => (actor.id.clone(), SegmentId(0), PendingEdit::Created),
            ManageOp::Rename { actor, segment, .. } => {
                let from = self.book.segment(*segment)?.info.name.clone();
                (actor.id.clone(), *segment, PendingEdit::Renamed { from })
            }
            ManageOp::SetVisibility { actor, segment, .. } => {
                let from = self.book.segment(*segment)?.info.visibility;
                (actor.id.clone(), *segment, PendingEdit::Visibility { from })
            }
            ManageOp::SetFilter { actor, segment, .. } => (
                actor.id.clone(),
                *segment,
                PendingEdit::Filter {
                    from: self.defining_filter(*segment),
                },
            ),
            ManageOp::SetAccess { actor, segment, .. } => {
                let from = self.book.segment(*segment)?.info.access.clone();
                (actor.id.clone(), *segment, PendingEdit::Access { from })
            }
            ManageOp::SetSettings { actor, segment, .. } => {
                let from = self.book.segment(*segment)?.info.settings.clone();
                (actor.id.clone(), *segment, PendingEdit::Settings { from })
            }
            ManageOp::DeleteSegment { actor, segment } => (actor.id.clone(), *segment, PendingEdit::Deleted),
            ManageOp::AttachRule { actor, segment, .. } | ManageOp::AttachExternalRule { actor, segment } => {
                (actor.id.clone(), *segment, PendingEdit::Attached)
            }
            ManageOp::EditRule { actor, rule: r, .. } => {
                let (segment, from) = rule(*r)?;
                (actor.id.clone(), segment, PendingEdit::RuleEdited { rule: *r, from })
            }
            ManageOp::DetachRule { actor, rule: r } => {
                let (segment, filter) = rule(*r)?;
                (
                    actor.id.clone(),
                    segment,
                    PendingEdit::RuleDetached { rule: *r, filter },
                )
            }
            _ => return None,
        })
    }

    fn defining_filter(&self, segment: SegmentId) -> Option<Filter> {
        let s = self.book.segment(segment)?;
        s.info
            .filter_rule
            .and_then(|r| self.book.rule(r))
            .map(|r| r.info.filter.clone())
    }

    /// Records the definition change a successful op made.
    pub(super) fn recorded_edit(
        &mut self,
        pending: (String, SegmentId, PendingEdit),
        created: Option<crate::op::Created>,
    ) {
        use crate::op::Created;
        let (actor, segment, edit) = pending;
        let info = |id: SegmentId| self.book.segment(id).map(|s| &s.info);
        let rule_filter = |r: RuleId| self.book.rule(r).map(|r| r.info.filter.clone());
        let made = match (edit, created) {
            (PendingEdit::Created, Some(Created::Segment(id))) => info(id).map(|i| {
                (
                    id,
                    Edit::Created {
                        name: i.name.clone(),
                        filter: self.defining_filter(id),
                    },
                )
            }),
            (PendingEdit::Renamed { from }, _) => info(segment).map(|i| {
                (
                    segment,
                    Edit::Renamed {
                        from,
                        to: i.name.clone(),
                    },
                )
            }),
            (PendingEdit::Visibility { from }, _) => {
                info(segment).map(|i| (segment, Edit::Visibility { from, to: i.visibility }))
            }
            (PendingEdit::Filter { from }, _) => Some((
                segment,
                Edit::Filter {
                    from,
                    to: self.defining_filter(segment),
                },
            )),
            (PendingEdit::Attached, Some(Created::Rule(rule))) => {
                rule_filter(rule).map(|filter| (segment, Edit::RuleAttached { rule, filter }))
            }
            (PendingEdit::RuleEdited { rule, from }, _) => {
                rule_filter(rule).map(|to| (segment, Edit::RuleEdited { rule, from, to }))
            }
            (PendingEdit::RuleDetached { rule, filter }, _) => Some((segment, Edit::RuleDetached { rule, filter })),
            (PendingEdit::Access { from }, _) => info(segment).map(|i| {
                (
                    segment,
                    Edit::Access {
                        from,
                        to: i.access.clone(),
                    },
                )
            }),
            (PendingEdit::Settings { from }, _) => info(segment).map(|i| {
                (
                    segment,
                    Edit::Settings {
                        from,
                        to: i.settings.clone(),
                    },
                )
            }),
            (PendingEdit::Deleted, _) => Some((segment, Edit::Deleted)),
            _ => None,
        };
        if let Some((segment, what)) = made {
            // Each entry after the first is a new version of the definition.
            if what.is_revision() {
                self.book.count_revision(segment);
            }
            let at = self.now();
            self.log.record_definition(at, actor, segment, what);
        }
    }

    /// Deprecated: `engine.log().members_at(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().members_at(..)`")]
    pub fn members_at(&self, segment: SegmentId, at: Timestamp) -> Result<RoaringBitmap, LogError> {
        self.log().members_at(segment, at)
    }

    /// A segment's members now, with every change stamped after `at`
    /// undone, latest first.
    fn undone_after(&self, segment: SegmentId, at: Timestamp) -> RoaringBitmap {
        let mut members = self
            .book
            .segments()
            .get(&segment)
            .map(|s| s.members.clone())
            .unwrap_or_default();
        for call in self.log.calls().iter().rev().filter(|c| c.changes.at() > at) {
            for g in call.changes.groups().iter().rev().filter(|g| g.segment() == segment) {
                match g.kind() {
                    ChangeKind::Entered => members -= g.to_bitmap(),
                    ChangeKind::Exited => members |= g.to_bitmap(),
                }
            }
        }
        members
    }

    /// Deprecated: `engine.log().count_series(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().count_series(..)`")]
    pub fn count_series(
        &self,
        segment: SegmentId,
        from: Timestamp,
        to: Timestamp,
        step: std::time::Duration,
    ) -> Result<Vec<(Timestamp, u64)>, LogError> {
        self.log().count_series(segment, from, to, step)
    }

    /// Deprecated: `engine.log().membership_periods(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.log().membership_periods(..)`")]
    pub fn membership_periods(&self, segment: SegmentId, key: &str) -> Result<Vec<Period>, LogError> {
        self.log().membership_periods(segment, key)
    }

    /// Checks that no change after `at` was dropped.
    fn retained_since(&self, at: Timestamp) -> Result<(), LogError> {
        let dropped = self.log.oldest() > 1;
        match self.log.calls().front() {
            Some(first) if dropped && first.changes.at() > at => Err(LogError::NotRetained {
                at,
                oldest: first.changes.at(),
            }),
            None if dropped => Err(LogError::NotRetained {
                at,
                oldest: Timestamp::from_micros(i64::MAX),
            }),
            _ => Ok(()),
        }
    }
}

/// What a definition change needs of the state before its op runs.
pub(super) enum PendingEdit {
    Created,
    Renamed { from: String },
    Visibility { from: Visibility },
    Filter { from: Option<Filter> },
    Attached,
    RuleEdited { rule: RuleId, from: Filter },
    RuleDetached { rule: RuleId, filter: Filter },
    Settings { from: Settings },
    Access { from: SegmentAccess },
    Deleted,
}

impl<'a> Log<'a> {
    /// The definition changes of `segment` (or of every segment), oldest
    /// first: who changed what, when, from what to what. Kept for the life
    /// of the engine (in snapshots and the journal).
    pub fn definition_history(&self, segment: Option<SegmentId>) -> impl Iterator<Item = &'a DefinitionChange> + 'a {
        self.engine
            .log
            .definitions()
            .iter()
            .filter(move |c| segment.map_or(true, |s| c.segment == s))
    }

    /// The definition changes after `after` (a [`DefinitionChange::seq`];
    /// 0 for the first), at most `limit`, oldest first: for a consumer
    /// that follows definitions (a segment renamed, its filter or rules
    /// edited, its settings or sharing changed) as the change log's
    /// consumers follow membership, keeping the `seq` of the last one it
    /// handled.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::engine::Edit;
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Schema};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (s, _) = engine.create_segment(&admin, NewSegment::new("VIP", "account"))?;
    /// let cursor = engine.log().definition_changes_since(0, 100).last().map_or(0, |c| c.seq);
    /// engine.set_settings(&admin, s, [("color", "gold")].into_iter().collect())?;
    /// let news = engine.log().definition_changes_since(cursor, 100);
    /// assert!(matches!(&news[0].what, Edit::Settings { to, .. } if to.get("color").is_some()));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn definition_changes_since(&self, after: u64, limit: usize) -> Vec<&'a DefinitionChange> {
        let from = usize::try_from(after)
            .unwrap_or(usize::MAX)
            .min(self.engine.log.definitions().len());
        self.engine.log.definitions()[from..].iter().take(limit).collect()
    }

    /// A segment's members as of the instant `at`, from the retained log:
    /// its members now, with every change after `at` undone.
    ///
    /// # Errors
    ///
    /// [`LogError::NotRetained`] if retention dropped changes after `at`
    /// (the answer would be a guess).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Clock, Engine, FieldType, Row, Schema, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// let t = |s: i64| Timestamp::from_micros(s * 1_000_000);
    /// let admin = Actor::new("ada", Role::Admin);
    /// engine.set_clock(Clock::Fixed(t(0)))?;
    /// let (vip, _) = engine.create_segment(&admin, NewSegment::new("VIP", "account"))?;
    /// engine.insert("account", "a", Row::new())?;
    /// engine.set_clock(Clock::Fixed(t(10)))?;
    /// engine.add_members(&admin, vip, ["a"])?;
    /// engine.set_clock(Clock::Fixed(t(20)))?;
    /// engine.remove_members(&admin, vip, ["a"])?;
    ///
    /// assert_eq!(engine.log().members_at(vip, t(15))?.len(), 1);
    /// assert_eq!(engine.log().members_at(vip, t(25))?.len(), 0);
    /// assert_eq!(engine.log().count_series(vip, t(5), t(25), std::time::Duration::from_secs(10))?,
    ///     [(t(5), 0), (t(15), 1), (t(25), 0)]);
    /// let periods = engine.log().membership_periods(vip, "a")?;
    /// assert_eq!((periods[0].from, periods[0].to), (Some(t(10)), Some(t(20))));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn members_at(&self, segment: SegmentId, at: Timestamp) -> Result<RoaringBitmap, LogError> {
        self.engine.retained_since(at)?;
        Ok(self.engine.undone_after(segment, at))
    }

    /// A segment's size at `from`, `from + step`, ... up to `to`, from the
    /// retained log (at most 100,000 points): at each point, the size of
    /// [`Log::members_at`](crate::engine::Log::members_at) there, whatever the clock did between writes.
    /// While the log's instants only go forward (the usual case) the
    /// series is one walk back through the log; once the clock has gone
    /// back, each point that has other changes after it than the point
    /// before costs a `members_at`.
    ///
    /// # Errors
    ///
    /// As [`Log::members_at`](crate::engine::Log::members_at) at `from`; [`LogError::BadSeries`] for a
    /// zero step, `to` before `from`, or too many points.
    pub fn count_series(
        &self,
        segment: SegmentId,
        from: Timestamp,
        to: Timestamp,
        step: std::time::Duration,
    ) -> Result<Vec<(Timestamp, u64)>, LogError> {
        let step_us = i64::try_from(step.as_micros()).unwrap_or(i64::MAX);
        let span = to.as_micros().checked_sub(from.as_micros()).filter(|s| *s >= 0);
        let points = match span {
            Some(span) if step_us > 0 => span / step_us + 1,
            _ => {
                return Err(LogError::BadSeries {
                    reason: "a zero step, or `to` before `from`".into(),
                })
            }
        };
        if points > 100_000 {
            return Err(LogError::BadSeries {
                reason: format!("{points} points; at most 100,000"),
            });
        }
        self.engine.retained_since(from)?;
        let times: Vec<Timestamp> = (0..points)
            .map(|i| Timestamp::from_micros(from.as_micros() + i * step_us))
            .collect();
        let calls = &self.engine.log.calls();
        let forward = calls
            .iter()
            .zip(calls.iter().skip(1))
            .all(|(a, b)| a.changes.at() <= b.changes.at());
        if !forward {
            // The clock went back: the changes after a point are not a
            // suffix of the log, so undo them as `members_at` does. Points
            // with the same changes after them (as many, the sets being
            // nested) share one answer.
            let mut stamps: Vec<Timestamp> = calls.iter().map(|c| c.changes.at()).collect();
            stamps.sort_unstable();
            let mut known: Option<(usize, u64)> = None;
            return Ok(times
                .into_iter()
                .map(|t| {
                    let after = stamps.len() - stamps.partition_point(|s| *s <= t);
                    let size = match known {
                        Some((k, size)) if k == after => size,
                        _ => self.engine.undone_after(segment, t).len(),
                    };
                    known = Some((after, size));
                    (t, size)
                })
                .collect());
        }
        let mut size = self.engine.book.segment(segment).map_or(0, |s| s.members.len()) as i64;
        let mut out = vec![(Timestamp::from_micros(0), 0u64); times.len()];
        // Walk back from now: each point's size is now's, less what entered
        // after it, plus what left after it (the log's instants only go
        // forward, so what came after a point is a suffix of it).
        let mut calls = calls.iter().rev().peekable();
        for (i, t) in times.iter().enumerate().rev() {
            while let Some(call) = calls.next_if(|c| c.changes.at() > *t) {
                for g in call.changes.groups().iter().filter(|g| g.segment() == segment) {
                    match g.kind() {
                        ChangeKind::Entered => size -= g.len() as i64,
                        ChangeKind::Exited => size += g.len() as i64,
                    }
                }
            }
            out[i] = (*t, size.max(0) as u64);
        }
        Ok(out)
    }

    /// The stretches of time the entity `key` was a member of `segment`,
    /// oldest first, as far back as the retained log goes ("member since").
    ///
    /// # Errors
    ///
    /// [`LogError::UnknownKey`] for a key the segment's kind never had.
    pub fn membership_periods(&self, segment: SegmentId, key: &str) -> Result<Vec<Period>, LogError> {
        let id = self
            .engine
            .segment_kind(segment)
            .and_then(|k| self.engine.table_at(k).id_any(key))
            .ok_or_else(|| LogError::UnknownKey { key: key.to_string() })?;
        let mut out: Vec<Period> = vec![];
        let mut open: Option<Option<Timestamp>> = None;
        let mut first = true;
        for call in self.engine.log.calls() {
            for g in call.changes.groups().iter().filter(|g| g.segment() == segment) {
                if !g.entities().any(|e| e == id) {
                    continue;
                }
                match g.kind() {
                    ChangeKind::Entered => open = Some(Some(call.changes.at())),
                    ChangeKind::Exited => {
                        let from = match open.take() {
                            Some(from) => from,
                            // It was a member before the log begins.
                            None if first => None,
                            None => continue,
                        };
                        out.push(Period {
                            from,
                            to: Some(call.changes.at()),
                        });
                    }
                }
                first = false;
            }
        }
        let member_now = self
            .engine
            .book
            .segments()
            .get(&segment)
            .is_some_and(|s| s.members.contains(id.0));
        if let Some(from) = open {
            out.push(Period { from, to: None });
        } else if first && member_now {
            out.push(Period { from: None, to: None });
        }
        Ok(out)
    }
}
