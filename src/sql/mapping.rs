//! Where a schema's data is in a database.

use std::collections::HashMap;

use super::SqlError;
use crate::ids::SegmentId;
use crate::schema::{KindId, Schema};
use crate::Plan;

/// Where the data of a [`Schema`] is in a database: per kind, its table,
/// key column, the column of each field and its event table; and where the
/// members of the segments a filter names are.
///
/// By default a kind's table is named as the kind, its key column is
/// `key`, each field's column is named as the field, and it has no event
/// table. A table's name may have parts, `schema.table`.
///
/// A `tags` field is an array of strings (`text[]`, `VARCHAR[]`,
/// `Array(String)`, `ARRAY<STRING>`); `timestamp` a `timestamptz`
/// (PostgreSQL), `TIMESTAMP` (DuckDB, Spark, in UTC) or `DateTime64(6,
/// 'UTC')` (ClickHouse). A child kind's relation field holds its parent's
/// key, as in the engine.
///
/// # Examples
///
/// ```
/// use segments::sql::{EventTable, Mapping, MembershipTable};
/// use segments::{FieldType, Schema};
///
/// let schema = Schema::builder()
///     .kind("account", [("health", FieldType::Float)])
///     .kind("user", [("account_id", FieldType::String), ("nps", FieldType::Int)])
///     .relation("user", "account_id", "account")
///     .build()?;
/// let mapping = Mapping::new(&schema)
///     .table("account", "crm.accounts")?
///     .key("account", "id")?
///     .column("account", "health", "health_score")?
///     .events("account", EventTable::new("crm.account_events"))?
///     .membership(MembershipTable::new("crm.segment_members"));
/// # let _ = mapping;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mapping {
    pub(super) schema: Schema,
    pub(super) kinds: Vec<KindMap>,
    pub(super) membership: Option<MembershipTable>,
    pub(super) inline: HashMap<SegmentId, Plan>,
}

#[derive(Debug, Clone)]
pub(super) struct KindMap {
    pub table: String,
    pub key: String,
    /// Per field, by its id.
    pub columns: Vec<String>,
    pub events: Option<EventTable>,
}

/// A kind's events: one row per event, with the entity's key, the event's
/// name and its instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTable {
    /// The table.
    pub table: String,
    /// The column of the entity's key (default `key`).
    pub key: String,
    /// The column of the event's name (default `name`).
    pub name: String,
    /// The column of its instant (default `at`).
    pub at: String,
}

impl EventTable {
    /// The table `table`, with columns `key`, `name` and `at`.
    pub fn new(table: impl Into<String>) -> EventTable {
        EventTable {
            table: table.into(),
            key: "key".into(),
            name: "name".into(),
            at: "at".into(),
        }
    }

    /// With other column names.
    pub fn columns(mut self, key: impl Into<String>, name: impl Into<String>, at: impl Into<String>) -> EventTable {
        self.key = key.into();
        self.name = name.into();
        self.at = at.into();
        self
    }
}

/// Where segments' members are: one row per member, with the segment's id
/// ([`SegmentId`]'s number, a `bigint`) and the member's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipTable {
    /// The table.
    pub table: String,
    /// The column of the segment's id (default `segment`).
    pub segment: String,
    /// The column of the member's key (default `key`).
    pub key: String,
}

impl MembershipTable {
    /// The table `table`, with columns `segment` and `key`.
    pub fn new(table: impl Into<String>) -> MembershipTable {
        MembershipTable {
            table: table.into(),
            segment: "segment".into(),
            key: "key".into(),
        }
    }

    /// With other column names.
    pub fn columns(mut self, segment: impl Into<String>, key: impl Into<String>) -> MembershipTable {
        self.segment = segment.into();
        self.key = key.into();
        self
    }
}

impl Mapping {
    /// The default mapping of `schema`: each kind in the table of its name,
    /// key column `key`, each field in the column of its name.
    pub fn new(schema: &Schema) -> Mapping {
        let kinds = schema
            .kinds()
            .map(|k| KindMap {
                table: k.name().to_string(),
                key: "key".into(),
                columns: k.fields().map(|(_, name, _)| name.to_string()).collect(),
                events: None,
            })
            .collect();
        Mapping {
            schema: schema.clone(),
            kinds,
            membership: None,
            inline: HashMap::new(),
        }
    }

    fn kind_mut(&mut self, kind: &str) -> Result<&mut KindMap, SqlError> {
        let id = self
            .schema
            .kind_id(kind)
            .ok_or_else(|| SqlError::UnknownKind(crate::error::UnknownKind::new(kind)))?;
        Ok(&mut self.kinds[id.0 as usize])
    }

    /// Kind `kind` is in table `table`.
    pub fn table(mut self, kind: &str, table: impl Into<String>) -> Result<Mapping, SqlError> {
        self.kind_mut(kind)?.table = table.into();
        Ok(self)
    }

    /// Kind `kind`'s key is in column `column`.
    pub fn key(mut self, kind: &str, column: impl Into<String>) -> Result<Mapping, SqlError> {
        self.kind_mut(kind)?.key = column.into();
        Ok(self)
    }

    /// Field `field` of kind `kind` is in column `column`.
    pub fn column(mut self, kind: &str, field: &str, column: impl Into<String>) -> Result<Mapping, SqlError> {
        let id = self
            .schema
            .kind(kind)
            .ok()
            .and_then(|k| k.field_id(field))
            .ok_or_else(|| SqlError::UnknownField {
                kind: kind.to_string(),
                field: field.to_string(),
            })?;
        self.kind_mut(kind)?.columns[id.index()] = column.into();
        Ok(self)
    }

    /// Kind `kind`'s events are in `table`.
    pub fn events(mut self, kind: &str, table: EventTable) -> Result<Mapping, SqlError> {
        self.kind_mut(kind)?.events = Some(table);
        Ok(self)
    }

    /// Segments' members are in `table` (for every segment not inlined).
    pub fn membership(mut self, table: MembershipTable) -> Mapping {
        self.membership = Some(table);
        self
    }

    /// Segment `segment` is compiled in place, from `plan` (its filter),
    /// wherever a filter names it. Its rules alone, then: manual members
    /// and blocks live in the engine, or in a membership table.
    pub fn inline_segment(mut self, segment: SegmentId, plan: Plan) -> Mapping {
        self.inline.insert(segment, plan);
        self
    }

    /// The schema it maps.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub(super) fn of(&self, kind: KindId) -> &KindMap {
        &self.kinds[kind.0 as usize]
    }
}
