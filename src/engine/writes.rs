//! The write methods: each builds the [`Op`](super::Op) it stands for and
//! applies it, so that every change to the state goes through one door
//! ([`Engine::apply`]). Their rules, errors and costs are the ops'.

use super::Engine;
use crate::error::{JournalError, SegmentError, StoreError};
use crate::filter::Filter;
use crate::op::{Created, DataOp, EventRecord, ManageOp, TimeOp};
use crate::segment::{Actor, Changes, NewSegment, RuleId, SegmentAccess, SegmentId, Settings, Visibility};
use crate::store::Row;
use crate::value::Clock;
use crate::value::Timestamp;

impl Engine {
    /// Inserts an entity (see [`Table::insert`](crate::Table::insert)) and brings it into every
    /// segment whose rules it matches.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::insert`](crate::Table::insert) refuses; then
    /// nothing changed.
    pub fn insert(&mut self, kind: &str, key: &str, row: Row) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::Insert {
            kind: kind.into(),
            key: key.into(),
            row,
        })
    }

    /// Inserts or updates an entity (see [`Table::upsert`](crate::Table::upsert)) and re-evaluates,
    /// for it alone, the rules that read the fields written.
    ///
    /// # Errors
    ///
    /// As [`Engine::insert`], with [`Table::upsert`](crate::Table::upsert)'s rules.
    pub fn upsert(&mut self, kind: &str, key: &str, row: Row) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::Upsert {
            kind: kind.into(),
            key: key.into(),
            row,
        })
    }

    /// Upserts one JSON object (see [`Table::upsert_json`](crate::Table::upsert_json)).
    ///
    /// # Errors
    ///
    /// As [`Engine::upsert`], plus what [`Table::upsert_json`](crate::Table::upsert_json) refuses.
    pub fn upsert_json(&mut self, kind: &str, json: &str) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::UpsertJson {
            kind: kind.into(),
            json: json.into(),
        })
    }

    /// Makes a field of an entity missing (see [`Table::clear_field`](crate::Table::clear_field)).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::clear_field`](crate::Table::clear_field) refuses.
    pub fn clear_field(&mut self, kind: &str, key: &str, field: &str) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::ClearField {
            kind: kind.into(),
            key: key.into(),
            field: field.into(),
        })
    }

    /// Inserts a batch, all or none (see [`Table::insert_many`](crate::Table::insert_many)).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::insert_many`](crate::Table::insert_many) refuses.
    pub fn insert_many<K: AsRef<str>>(
        &mut self,
        kind: &str,
        rows: impl IntoIterator<Item = (K, Row)>,
    ) -> Result<Changes, StoreError> {
        let rows = owned_rows(rows);
        self.apply_data(DataOp::InsertMany {
            kind: kind.into(),
            rows,
        })
    }

    /// Upserts a batch, all or none (see [`Table::upsert_many`](crate::Table::upsert_many)).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what [`Table::upsert_many`](crate::Table::upsert_many) refuses.
    pub fn upsert_many<K: AsRef<str>>(
        &mut self,
        kind: &str,
        rows: impl IntoIterator<Item = (K, Row)>,
    ) -> Result<Changes, StoreError> {
        let rows = owned_rows(rows);
        self.apply_data(DataOp::UpsertMany {
            kind: kind.into(),
            rows,
        })
    }

    /// Deletes an entity: it exits every segment
    /// ([`Cause::EntityDeleted`](crate::segment::Cause::EntityDeleted)), and its manual links and blocks go.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or [`StoreError::UnknownKey`].
    pub fn delete(&mut self, kind: &str, key: &str) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::Delete {
            kind: kind.into(),
            key: key.into(),
        })
    }

    /// Deletes entities, all or none: each exits every segment
    /// ([`Cause::EntityDeleted`](crate::segment::Cause::EntityDeleted)), and
    /// their manual links and blocks go.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], [`StoreError::UnknownKey`] for a key
    /// that is not live, [`StoreError::DuplicateKey`] for a key given twice;
    /// then nothing changed.
    pub fn delete_many<K: AsRef<str>>(
        &mut self,
        kind: &str,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Changes, StoreError> {
        let keys = owned_keys(keys);
        self.apply_data(DataOp::DeleteMany {
            kind: kind.into(),
            keys,
        })
    }

    /// Deletes the live entities among `keys` (each once), as
    /// [`Engine::delete_many`] does, and returns the keys that were not
    /// live (in the order given, each once) instead of refusing the batch.
    /// The op journaled is a strict [`DataOp::DeleteMany`] of the keys
    /// deleted.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], and the journal's errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{Engine, FieldType, Row, Schema};
    ///
    /// let mut e = Engine::new(Schema::builder().kind("account", [("nps", FieldType::Int)]).build()?);
    /// e.insert("account", "a", Row::new())?;
    /// e.insert("account", "b", Row::new())?;
    /// let (_, missing) = e.delete_present("account", ["a", "zz", "a"])?;
    /// assert_eq!(missing, ["zz"]);
    /// assert_eq!(e.store().table("account")?.len(), 1);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn delete_present<K: AsRef<str>>(
        &mut self,
        kind: &str,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(Changes, Vec<String>), StoreError> {
        let table = &self.store.tables()[self.kind_for_write(kind)?];
        let mut seen = std::collections::HashSet::new();
        let (mut present, mut missing) = (Vec::new(), Vec::new());
        for k in keys {
            let k = k.as_ref();
            if !seen.insert(k.to_string()) {
                continue;
            }
            if table.id(k).is_some() {
                present.push(k.to_string());
            } else {
                missing.push(k.to_string());
            }
        }
        if present.is_empty() {
            return Ok((Changes::new(self.now()), missing));
        }
        let changes = self.apply_data(DataOp::DeleteMany {
            kind: kind.into(),
            keys: present,
        })?;
        Ok((changes, missing))
    }

    /// Records events, all or none, and re-evaluates, for the entities
    /// that did them, the rules that read those events (or any event).
    /// Each event is an [`EventRecord`], or a tuple `(key, event, at)` or
    /// `(key, event, at, properties)`; the properties are what a filter's
    /// `"where"` tests. See [`Table::record_events`](crate::Table::record_events)
    /// for the rules. Journaled as [`DataOp::RecordEvents`]; events as
    /// JSON Lines load through [`Engine::load_json_lines`].
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`], or what
    /// [`Table::record_events_with`](crate::Table::record_events_with)
    /// refuses ([`StoreError::InRow`] naming the first bad event); then
    /// nothing changed.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::store::Properties;
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// engine.insert("account", "acme", Row::new())?;
    /// engine.insert("account", "globex", Row::new())?;
    /// let at: Timestamp = "2026-11-20T09:00:00Z".parse()?;
    /// engine.record_events("account", [("acme", "login", at)])?;
    /// engine.record_events("account", [
    ///     ("acme", "export", at, Properties::new().with("format", "csv")),
    ///     ("globex", "export", at, Properties::new().with("format", "pdf")),
    /// ])?;
    /// let csv = Filter::from_json(r#"{"combinator": "and", "rules": [{"field": "@count:export", "operator": ">=",
    ///     "value": {"count": 1, "where": {"combinator": "and", "rules": [
    ///         {"field": "format", "operator": "=", "value": "csv"}]}}}]}"#)?;
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (exporters, _) = engine.create_segment(&admin, NewSegment::new("CSV exporters", "account").filter(csv))?;
    /// assert_eq!(engine.segments().member_keys(exporters)?.collect::<Vec<_>>(), ["acme"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_events(
        &mut self,
        kind: &str,
        events: impl IntoIterator<Item = impl Into<EventRecord>>,
    ) -> Result<Changes, StoreError> {
        let events = events.into_iter().map(Into::into).collect();
        self.apply_data(DataOp::RecordEvents {
            kind: kind.into(),
            events,
        })
    }

    /// Forgets every event of `kind` before the instant `before`, and
    /// re-evaluates the rules that read them for the entities that lost
    /// some (window counts, first and last seen, usage change, and rules
    /// of parent kinds over them): the membership changes it causes are
    /// returned and logged. The op holds the instant, so a replay drops
    /// the same events.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// let day = |d: i64| Timestamp::from_micros(1_767_225_600_000_000 + d * 86_400_000_000);
    /// engine.insert("account", "acme", Row::new())?;
    /// engine.record_events("account", [("acme", "login", day(0))])?;
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (ever, _) = engine.create_segment(&admin,
    ///     NewSegment::new("Ever logged in", "account").filter(Filter::from_json(
    ///         r#"{"combinator":"and","rules":[{"field":"@count:login","operator":">=","value":{"count":1}}]}"#)?))?;
    /// assert!(engine.segments().is_member(ever, "acme")?);
    ///
    /// let exited = engine.drop_events_before("account", day(30))?;
    /// assert_eq!(exited.len(), 1);
    /// assert!(!engine.segments().is_member(ever, "acme")?);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn drop_events_before(&mut self, kind: &str, before: Timestamp) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::DropEventsBefore {
            kind: kind.into(),
            before,
        })
    }

    /// Forgets an event name of `kind` and every event of it (event names
    /// need no declaring: any name may be recorded, and this is how one
    /// goes). Refused while rules read the name (`@count:<event>`,
    /// `@firstSeen:<event>`, ..., nested ones too), naming them; rules
    /// that read any event (`@firstSeen`, `@lastSeen`) are re-evaluated for
    /// the entities that had one, and the changes returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::EventInUse`], [`StoreError::UnknownKind`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{Engine, FieldType, Row, Schema, StoreError, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// engine.insert("account", "acme", Row::new())?;
    /// engine.record_events("account", [("acme", "legacy_ping", Timestamp::from_micros(5))])?;
    /// engine.forget_event("account", "legacy_ping")?;
    /// assert_eq!(engine.store().table("account")?.event_count(), 0);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn forget_event(&mut self, kind: &str, event: &str) -> Result<Changes, StoreError> {
        self.apply_data(DataOp::ForgetEvent {
            kind: kind.into(),
            event: event.into(),
        })
    }

    /// Creates a segment and computes its members at once.
    ///
    /// The actor becomes its owner. Members (the role) may create private
    /// segments only. The name must be unique in its scope: among public
    /// segments for a public one, among the actor's own private segments for
    /// a private one.
    ///
    /// A filter may name (`@segment`) only segments the actor may see
    /// ([`Actor::may_view`]); and so that nobody reads a private segment
    /// through another, a public segment may name only public segments, a
    /// private one also its owner's private segments.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Denied`] for a member creating a public segment or
    /// naming a segment it may not see, [`SegmentError::UnknownKind`],
    /// [`SegmentError::EmptyName`], [`SegmentError::DuplicateName`],
    /// [`SegmentError::Filter`], [`SegmentError::BadReference`],
    /// [`SegmentError::Cycle`].
    pub fn create_segment(&mut self, actor: &Actor, spec: NewSegment) -> Result<(SegmentId, Changes), SegmentError> {
        let applied = self.apply_manage(ManageOp::CreateSegment {
            actor: actor.clone(),
            segment: spec,
        })?;
        match applied.created {
            Some(Created::Segment(id)) => Ok((id, applied.changes)),
            // Creating a segment always names it.
            _ => Err(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(
                SegmentId(0),
            ))),
        }
    }

    /// Renames a segment; the name must be unique in the segment's scope
    /// (see [`Engine::create_segment`]).
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::EmptyName`], [`SegmentError::DuplicateName`].
    pub fn rename(&mut self, actor: &Actor, segment: SegmentId, name: &str) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::Rename {
            actor: actor.clone(),
            segment,
            name: name.into(),
        })
        .map(drop)
    }

    /// Replaces a segment's settings (see [`Settings`]): who may rename a
    /// segment may set its settings. A new version of its definition,
    /// recorded in its [`definition_history`](Engine::definition_history)
    /// with the settings before and after, journaled and saved in
    /// snapshots.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::Settings`] for settings over their limits.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, NewSegment, Role, Settings};
    /// use segments::{Engine, FieldType, Schema, SegmentError};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("health", FieldType::Float)]).build()?);
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (risk, _) = engine.create_segment(&admin, NewSegment::new("At risk", "account"))?;
    ///
    /// // Read, change, write over the version read.
    /// let info = engine.segments().get(risk)?;
    /// let mut settings = info.settings.clone();
    /// settings.insert("color", "#d33");
    /// settings.insert("health", serde_json::json!({"usage": 0.7, "nps": 0.3}));
    /// engine.set_settings_if(&admin, risk, settings.clone(), info.version)?;
    /// assert_eq!(engine.segments().get(risk)?.version, 2);
    /// assert_eq!(engine.segments().get(risk)?.settings, settings);
    ///
    /// // A writer that read version 1 is refused: its change would undo this one.
    /// let stale = engine.set_settings_if(&admin, risk, Settings::new(), 1);
    /// assert!(matches!(stale, Err(SegmentError::Stale { expected: 1, actual: 2, .. })));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn set_settings(&mut self, actor: &Actor, segment: SegmentId, settings: Settings) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::SetSettings {
            actor: actor.clone(),
            segment,
            settings,
            if_version: None,
        })
        .map(drop)
    }

    /// As [`Engine::set_settings`], only if the segment's definition is
    /// still at `version` (its [`SegmentInfo::version`](crate::segment::SegmentInfo::version) when the caller
    /// read it): so that of two people editing the same settings, the
    /// second does not silently undo the first.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Stale`] if the definition changed since, and those
    /// of [`Engine::set_settings`].
    pub fn set_settings_if(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        settings: Settings,
        version: u64,
    ) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::SetSettings {
            actor: actor.clone(),
            segment,
            settings,
            if_version: Some(version),
        })
        .map(drop)
    }

    /// Shares a segment: replaces its editors and viewers (actors, and
    /// teams as [`Actor::teams`] names them). Editors may do what its owner
    /// does but delete it, change its visibility, share it or move it
    /// ([`Actor::may_edit`]); viewers may see it ([`Actor::may_view`]).
    /// Its owner, admins and leaders may share it.
    ///
    /// So that nobody reads a private segment through another, a private
    /// segment shares with everyone it is shared with each private segment
    /// its rules name: sharing it wider than those is refused, as is
    /// narrowing one of those below a segment that names it, and saving a
    /// rule that names a segment shared more narrowly than its own.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::BadAccess`] for a sharing that would open a private
    /// segment to others, or with more than [`MAX_GRANTS`](crate::segment::MAX_GRANTS)
    /// grants, or names that are empty or longer than
    /// [`MAX_GRANTEE_BYTES`](crate::segment::MAX_GRANTEE_BYTES).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, Grantee, NewSegment, Role, SegmentAccess, Visibility};
    /// use segments::{Engine, FieldType, Row, Schema};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("health", FieldType::Float)]).build()?);
    /// engine.insert("account", "acme", Row::new().set("health", 20.0))?;
    /// let admin = Actor::new("ada", Role::Admin);
    /// let kim = Actor::new("kim", Role::Member).in_teams(["emea"]);
    ///
    /// // A shared segment an admin made, curated by the EMEA team.
    /// let (watch, _) = engine.create_segment(&admin, NewSegment::new("EMEA watch", "account"))?;
    /// assert!(engine.add_members(&kim, watch, ["acme"]).is_err());
    /// engine.set_access(&admin, watch, SegmentAccess::new().editor(Grantee::team("emea")))?;
    /// engine.add_members(&kim, watch, ["acme"])?;
    /// // Editors curate; they do not delete.
    /// assert!(engine.delete_segment(&kim, watch).is_err());
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn set_access(&mut self, actor: &Actor, segment: SegmentId, access: SegmentAccess) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::SetAccess {
            actor: actor.clone(),
            segment,
            access,
        })
        .map(drop)
    }

    /// Changes who sees a segment; a member (the role) may not make one public.
    ///
    /// The change is refused when it would let anyone read a private
    /// segment through a rule: a segment made public must not name private
    /// segments, and a segment made private must not be named by public
    /// segments or by other owners' segments (whose owners could no longer
    /// see it). Its name must be free in the new scope.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::VisibilityConflict`], [`SegmentError::DuplicateName`].
    pub fn set_visibility(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        visibility: Visibility,
    ) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::SetVisibility {
            actor: actor.clone(),
            segment,
            visibility,
        })
        .map(drop)
    }

    /// Sets, replaces or (with `None`) removes a segment's defining filter,
    /// and recomputes its membership at once: one evaluation and a bitmap
    /// diff. An edited filter keeps its rule id, so its blocks stay.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::Filter`].
    pub fn set_filter(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        filter: Option<Filter>,
    ) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::SetFilter {
            actor: actor.clone(),
            segment,
            filter,
        })
    }

    /// Deletes a segment; its members exit ([`Cause::SegmentDeleted`](crate::segment::Cause::SegmentDeleted)) and
    /// its rules go.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`].
    /// [`SegmentError::InUse`] while other segments' rules name it.
    pub fn delete_segment(&mut self, actor: &Actor, segment: SegmentId) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::DeleteSegment {
            actor: actor.clone(),
            segment,
        })
    }

    /// Moves a segment to `position` in the listing order (0 is first).
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::Position`] past the last position.
    pub fn move_segment(&mut self, actor: &Actor, segment: SegmentId, position: usize) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::MoveSegment {
            actor: actor.clone(),
            segment,
            position,
        })
        .map(drop)
    }

    /// Sets the whole listing order; admins and leaders only.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Denied`], or [`SegmentError::NotAPermutation`] unless
    /// `order` names every segment exactly once.
    pub fn reorder(&mut self, actor: &Actor, order: &[SegmentId]) -> Result<(), SegmentError> {
        self.apply_manage(ManageOp::Reorder {
            actor: actor.clone(),
            order: order.to_vec(),
        })
        .map(drop)
    }

    /// Attaches a rule that links the entities it matches into the segment
    /// (an automation, a playbook). A new rule is not blocked by earlier
    /// manual removals.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::Filter`].
    pub fn attach_rule(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        filter: Filter,
    ) -> Result<(RuleId, Changes), SegmentError> {
        let applied = self.apply_manage(ManageOp::AttachRule {
            actor: actor.clone(),
            segment,
            filter,
        })?;
        match applied.created {
            Some(Created::Rule(id)) => Ok((id, applied.changes)),
            // Attaching a rule always names it.
            _ => Err(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(segment))),
        }
    }

    /// Replaces a rule's filter; the rule keeps its id and its blocks.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownRule`], [`SegmentError::Denied`],
    /// [`SegmentError::Filter`], [`SegmentError::External`] for an
    /// external rule.
    pub fn edit_rule(&mut self, actor: &Actor, rule: RuleId, filter: Filter) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::EditRule {
            actor: actor.clone(),
            rule,
            filter,
        })
    }

    /// Detaches a rule: its links and blocks go. Detaching the defining
    /// filter's rule leaves the segment without a filter.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownRule`], [`SegmentError::Denied`].
    pub fn detach_rule(&mut self, actor: &Actor, rule: RuleId) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::DetachRule {
            actor: actor.clone(),
            rule,
        })
    }

    /// Attaches an external rule to a segment: a rule whose matches are
    /// computed elsewhere (a warehouse query, a Spark job; see
    /// [`sql`](crate::sql)) and given by
    /// [`set_external_matches`](Engine::set_external_matches) or
    /// [`change_external_matches`](Engine::change_external_matches). The
    /// engine keeps its links exactly as a filter's: a manual removal
    /// blocks it, a manual add survives it, and every change is reported
    /// with the rule as its cause, in the change log too. It matches
    /// nothing until given.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::segment::{Actor, Cause, NewSegment, Role};
    /// use segments::{Engine, FieldType, Row, Schema};
    ///
    /// let mut e = Engine::new(Schema::builder().kind("user", [("plan", FieldType::String)]).build()?);
    /// e.insert_many("user", ["u1", "u2", "u3"].map(|k| (k, Row::new())))?;
    /// let ada = Actor::new("ada", Role::Admin);
    /// let (churn, _) = e.create_segment(&ada, NewSegment::new("Churn risk", "user"))?;
    /// let (rule, _) = e.attach_external_rule(&ada, churn)?;
    ///
    /// // The warehouse's answer, as a whole set.
    /// let changes = e.set_external_matches(&ada, rule, ["u1", "u2"])?;
    /// assert_eq!(changes.len(), 2);
    /// assert!(changes.iter().all(|c| c.cause == Cause::Rule(rule)));
    ///
    /// // A manual removal blocks the rule; the next answer does not undo it.
    /// e.remove_members(&ada, churn, ["u2"])?;
    /// e.change_external_matches(&ada, rule, ["u3"], ["u1"])?;
    /// assert_eq!(e.segments().member_keys(churn)?.collect::<Vec<_>>(), ["u3"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach_external_rule(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
    ) -> Result<(RuleId, Changes), SegmentError> {
        let applied = self.apply_manage(ManageOp::AttachExternalRule {
            actor: actor.clone(),
            segment,
        })?;
        match applied.created {
            Some(Created::Rule(id)) => Ok((id, applied.changes)),
            _ => Err(SegmentError::UnknownSegment(crate::error::UnknownSegment::new(segment))),
        }
    }

    /// Sets what external rule `rule` matches to the entities of `keys`,
    /// all of them (what it matched before and is not among them, it no
    /// longer matches). All or none: an unknown key refuses the call.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownRule`], [`SegmentError::Denied`],
    /// [`SegmentError::UnknownKey`], and [`SegmentError::External`] for a
    /// rule with a filter.
    pub fn set_external_matches<K: AsRef<str>>(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::SetExternalMatches {
            actor: actor.clone(),
            rule,
            keys: owned_keys(keys),
        })
    }

    /// Changes what external rule `rule` matches by a delta: it matches
    /// `added` now and no longer `removed`; the other entities are not
    /// looked at. All or none.
    ///
    /// # Errors
    ///
    /// As [`set_external_matches`](Engine::set_external_matches), and
    /// [`SegmentError::External`] for a key both added and removed.
    pub fn change_external_matches<K: AsRef<str>, L: AsRef<str>>(
        &mut self,
        actor: &Actor,
        rule: RuleId,
        added: impl IntoIterator<Item = K>,
        removed: impl IntoIterator<Item = L>,
    ) -> Result<Changes, SegmentError> {
        self.manage_changes(ManageOp::ChangeExternalMatches {
            actor: actor.clone(),
            rule,
            added: owned_keys(added),
            removed: owned_keys(removed),
        })
    }

    /// Adds entities by hand. No rule removes a manual link; only a manual
    /// removal does.
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::Denied`],
    /// [`SegmentError::UnknownKey`] for a key that is not live.
    pub fn add_members<K: AsRef<str>>(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Changes, SegmentError> {
        let keys = owned_keys(keys);
        self.manage_changes(ManageOp::AddMembers {
            actor: actor.clone(),
            segment,
            keys,
        })
    }

    /// Removes entities by hand: every link of theirs goes, and every rule
    /// attached to the segment now is blocked from linking them again.
    /// Entities that were not members are blocked all the same.
    ///
    /// # Errors
    ///
    /// As [`Engine::add_members`].
    pub fn remove_members<K: AsRef<str>>(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Changes, SegmentError> {
        let keys = owned_keys(keys);
        self.manage_changes(ManageOp::RemoveMembers {
            actor: actor.clone(),
            segment,
            keys,
        })
    }

    /// Clears the blocks of the given entities in a segment; the rules that
    /// match them link them again.
    ///
    /// # Errors
    ///
    /// As [`Engine::add_members`].
    pub fn clear_blocks<K: AsRef<str>>(
        &mut self,
        actor: &Actor,
        segment: SegmentId,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<Changes, SegmentError> {
        let keys = owned_keys(keys);
        self.manage_changes(ManageOp::ClearBlocks {
            actor: actor.clone(),
            segment,
            keys,
        })
    }

    /// Re-evaluates the rules with relative-time conditions at `now`, so
    /// entities whose windows slid enter or exit. Other rules are current
    /// already. Changes are stamped `now`.
    ///
    /// # Errors
    ///
    /// On an engine opened on a directory, the journal's error: the refresh
    /// did not happen (nothing changed) or, for a sync that failed after it
    /// was applied, it is not durable.
    pub fn refresh(&mut self, now: Timestamp) -> Result<Changes, JournalError> {
        self.apply_time(TimeOp::Refresh { now })
    }

    /// Sets the clock.
    ///
    /// # Errors
    ///
    /// As [`Engine::refresh`]: on a journal that refuses the write, the
    /// clock is left as it was.
    pub fn set_clock(&mut self, clock: Clock) -> Result<(), JournalError> {
        self.apply_time(TimeOp::SetClock { clock }).map(|_| ())
    }
}

impl Engine {
    /// Applies a management op that creates nothing: its changes.
    pub(super) fn manage_changes(&mut self, op: ManageOp) -> Result<Changes, SegmentError> {
        self.apply_manage(op).map(|a| a.changes)
    }
}

/// Keys as the op holds them.
fn owned_keys<K: AsRef<str>>(keys: impl IntoIterator<Item = K>) -> Vec<String> {
    keys.into_iter().map(|k| k.as_ref().to_string()).collect()
}

/// Rows as the op holds them.
fn owned_rows<K: AsRef<str>>(rows: impl IntoIterator<Item = (K, Row)>) -> Vec<(String, Row)> {
    rows.into_iter().map(|(k, r)| (k.as_ref().to_string(), r)).collect()
}
