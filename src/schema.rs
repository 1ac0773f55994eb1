//! Entity kinds and their typed fields.

use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::SchemaError;
pub use crate::ids::{FieldId, KindId, RelationId};
pub use crate::value::FieldType;

/// One entity kind (`account`, `user`, ...) and its fields, in declaration order.
///
/// # Examples
///
/// ```
/// use segments::{FieldType, KindSchema};
///
/// let accounts = KindSchema::new("account", [("health", FieldType::Float), ("plan", FieldType::String)])?;
/// assert_eq!(accounts.field_type_of("health"), Some(FieldType::Float));
/// # Ok::<(), segments::SchemaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindSchema {
    name: String,
    fields: IndexMap<String, FieldType>,
    /// The numeric fields whose changes are kept, with how many changes
    /// per entity.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    tracked: IndexMap<String, usize>,
}

/// The most changes per entity a tracked field keeps
/// ([`KindSchema::tracking`]).
pub const MAX_TRACKED_CHANGES: usize = 4096;

impl KindSchema {
    /// A kind with the given fields. Names are trimmed.
    ///
    /// # Errors
    ///
    /// An empty kind or field name, a field named `key`, or a repeated field.
    pub fn new<N, I, F>(name: N, fields: I) -> Result<KindSchema, SchemaError>
    where
        N: Into<String>,
        I: IntoIterator<Item = (F, FieldType)>,
        F: Into<String>,
    {
        let name = name.into().trim().to_string();
        if name.is_empty() {
            return Err(SchemaError::EmptyKindName);
        }
        let mut map = IndexMap::new();
        for (field, ty) in fields {
            let field = field.into().trim().to_string();
            if field.is_empty() {
                return Err(SchemaError::EmptyFieldName { kind: name });
            }
            if field == "key" {
                return Err(SchemaError::ReservedFieldName { kind: name });
            }
            if field.starts_with('@') {
                return Err(SchemaError::ReservedPrefix { kind: name, field });
            }
            if map.insert(field.clone(), ty).is_some() {
                return Err(SchemaError::DuplicateField { kind: name, field });
            }
        }
        Ok(KindSchema {
            name,
            fields: map,
            tracked: IndexMap::new(),
        })
    }

    /// The kind with `field` tracked: each entity keeps the last `keep`
    /// changes of its value, each with the instant of the write that made
    /// it, for the trend pseudo-fields `@delta:<field>`, `@max:<field>` and
    /// `@min:<field>` (see [`filter`](crate::filter#trends)). Changes are
    /// recorded by an [`Engine`](crate::Engine)'s writes, at the engine's
    /// clock. Tracking a field again sets its bound.
    ///
    /// Memory: 24 bytes per change kept, plus 24 per entity.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownField`], or [`SchemaError::NotTrackable`] for a
    /// field that is not `int` or `float`, or `keep` outside
    /// 1..=[`MAX_TRACKED_CHANGES`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{FieldType, KindSchema};
    ///
    /// let k = KindSchema::new("account", [("health", FieldType::Float), ("plan", FieldType::String)])?
    ///     .tracking("health", 90)?;
    /// assert_eq!(k.tracked("health"), Some(90));
    /// assert!(k.clone().tracking("plan", 90).is_err());
    /// # Ok::<(), segments::SchemaError>(())
    /// ```
    pub fn tracking(mut self, field: &str, keep: usize) -> Result<KindSchema, SchemaError> {
        let not = |reason: String| SchemaError::NotTrackable {
            kind: self.name.clone(),
            field: field.to_string(),
            reason,
        };
        match self.fields.get(field) {
            None => {
                return Err(SchemaError::UnknownField {
                    kind: self.name.clone(),
                    field: field.to_string(),
                })
            }
            Some(FieldType::Int | FieldType::Float) => {}
            Some(ty) => return Err(not(format!("a {ty} field has no trend (only int and float fields do)"))),
        }
        if !(1..=MAX_TRACKED_CHANGES).contains(&keep) {
            return Err(not(format!("keep {keep} changes: from 1 to {MAX_TRACKED_CHANGES}")));
        }
        self.tracked.insert(field.to_string(), keep);
        Ok(self)
    }

    /// How many changes of `field` each entity keeps, if it is tracked.
    pub fn tracked(&self, field: &str) -> Option<usize> {
        self.tracked.get(field).copied()
    }

    /// The tracked fields and their bounds, in the order they were tracked.
    pub fn tracked_fields(&self) -> impl ExactSizeIterator<Item = (&str, usize)> + '_ {
        self.tracked.iter().map(|(f, &k)| (f.as_str(), k))
    }

    /// Parses the contract's `schema.json`: `{"fields": {"health": "float", ...}}`,
    /// with, optionally, the fields to track and how many changes each
    /// keeps: `"track": {"health": 90}` (see [`KindSchema::tracking`]).
    ///
    /// # Errors
    ///
    /// Invalid JSON (a member named twice included), another shape, an
    /// unknown type name, or the errors of [`KindSchema::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let k = segments::KindSchema::from_json("account", r#"{"fields": {"nps": "int"}}"#)?;
    /// assert_eq!(k.len(), 1);
    /// # Ok::<(), segments::SchemaError>(())
    /// ```
    pub fn from_json(name: &str, json: &str) -> Result<KindSchema, SchemaError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Doc {
            fields: IndexMap<String, String>,
            #[serde(default)]
            track: IndexMap<String, usize>,
        }
        let value = crate::strict_json::parse(json).map_err(|e| SchemaError::Json {
            message: match e {
                crate::strict_json::StrictError::Syntax(m) => m,
                crate::strict_json::StrictError::Duplicate { path, member } if path.is_empty() => {
                    format!("duplicate member `{member}`")
                }
                crate::strict_json::StrictError::Duplicate { path, member } => {
                    format!("{path}: duplicate member `{member}`")
                }
            },
        })?;
        let doc = Doc::deserialize(value).map_err(|e| SchemaError::Json { message: e.to_string() })?;
        let mut fields = Vec::with_capacity(doc.fields.len());
        for (field, ty) in doc.fields {
            match FieldType::from_name(&ty) {
                Some(t) => fields.push((field, t)),
                None => return Err(SchemaError::UnknownType { field, found: ty }),
            }
        }
        let mut k = KindSchema::new(name, fields)?;
        for (field, keep) in doc.track {
            k = k.tracking(&field, keep)?;
        }
        Ok(k)
    }

    /// The kind's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the kind has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The id of a field by name.
    pub fn field_id(&self, name: &str) -> Option<FieldId> {
        // Comparing a few names is cheaper than hashing one.
        let i = if self.fields.len() <= 24 {
            self.fields.keys().position(|k| k == name)
        } else {
            self.fields.get_index_of(name)
        };
        i.map(|i| FieldId(i as u32))
    }

    /// The type of a field by name.
    pub fn field_type_of(&self, name: &str) -> Option<FieldType> {
        self.fields.get(name).copied()
    }

    /// The name and type of a field by id.
    pub fn field(&self, id: FieldId) -> Option<(&str, FieldType)> {
        self.fields.get_index(id.index()).map(|(n, t)| (n.as_str(), *t))
    }

    /// The kind with one more field, last (so that every other field keeps
    /// its id).
    ///
    /// # Errors
    ///
    /// As [`KindSchema::new`]: an empty, reserved or repeated name.
    pub fn with_field(&self, field: &str, ty: FieldType) -> Result<KindSchema, SchemaError> {
        let fields = self.fields().map(|(_, n, t)| (n.to_string(), t));
        let mut k = KindSchema::new(self.name.clone(), fields.chain([(field.to_string(), ty)]))?;
        k.tracked = self.tracked.clone();
        Ok(k)
    }

    /// The kind without `field`; the fields after it move down one id.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownField`].
    pub fn without_field(&self, field: &str) -> Result<KindSchema, SchemaError> {
        if self.field_id(field).is_none() {
            return Err(SchemaError::UnknownField {
                kind: self.name.clone(),
                field: field.to_string(),
            });
        }
        let mut fields = self.fields.clone();
        fields.shift_remove(field);
        let mut tracked = self.tracked.clone();
        tracked.shift_remove(field);
        Ok(KindSchema {
            name: self.name.clone(),
            fields,
            tracked,
        })
    }

    /// The fields in declaration order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (FieldId, &str, FieldType)> + '_ {
        self.fields
            .iter()
            .enumerate()
            .map(|(i, (n, t))| (FieldId(i as u32), n.as_str(), *t))
    }
}

/// Every entity kind of a store.
///
/// # Examples
///
/// ```
/// use segments::{FieldType, Schema};
///
/// let schema = Schema::builder()
///     .kind("account", [("health", FieldType::Float), ("plan", FieldType::String)])
///     .kind("user", [("email", FieldType::String), ("last_seen", FieldType::Timestamp)])
///     .build()?;
/// assert_eq!(schema.kinds().count(), 2);
/// # Ok::<(), segments::SchemaError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    kinds: Vec<Arc<KindSchema>>,
    relations: Vec<Relation>,
}

/// A child kind belongs to a parent kind: the child's string `field` holds
/// its parent's key (a user's `account_id` names its account).
///
/// An account rule quantifies over its users with the pseudo-field
/// `@related:user`; see [the filter docs](crate::filter#relations).
/// A child whose field is missing, or names no live parent, belongs to no
/// parent. Child and parent may be the same kind (an account's parent
/// account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Relation {
    /// The child kind.
    pub child: KindId,
    /// The child's field that holds the parent's key.
    pub field: FieldId,
    /// The parent kind.
    pub parent: KindId,
}

impl Schema {
    /// The schema as a builder UI reads it, in declaration order: each kind
    /// with its fields, their types and the operators each type takes, and
    /// the relations. The pseudo-fields (`@count:<event>`, `@segment`,
    /// `@related:<kind>`, ...) are described in the
    /// [`filter`](crate::filter) module; an engine adds each kind's event
    /// names ([`Engine::schema_json`](crate::Engine::schema_json)).
    ///
    /// ```
    /// use segments::{FieldType, Schema};
    ///
    /// let schema = Schema::builder()
    ///     .kind("account", [("mrr", FieldType::Int), ("plan", FieldType::String)])
    ///     .kind("user", [("account_id", FieldType::String)])
    ///     .relation("user", "account_id", "account")
    ///     .build()?;
    /// let json = schema.to_json_value();
    /// assert_eq!(json["kinds"][0]["name"], "account");
    /// assert_eq!(json["kinds"][0]["fields"][1]["type"], "string");
    /// assert!(json["kinds"][0]["fields"][1]["operators"].as_array().unwrap().contains(&"beginsWith".into()));
    /// assert_eq!(json["relations"][0]["parent"], "account");
    /// # Ok::<(), segments::SchemaError>(())
    /// ```
    pub fn to_json_value(&self) -> serde_json::Value {
        use serde_json::json;
        let kinds: Vec<serde_json::Value> = self
            .kinds()
            .map(|k| {
                let fields: Vec<serde_json::Value> = k
                    .fields()
                    .map(|(_, name, ty)| {
                        let mut f = json!({"name": name, "type": ty.to_string(), "operators": ty.operators()});
                        if let Some(keep) = k.tracked(name) {
                            f["tracked"] = keep.into();
                        }
                        f
                    })
                    .collect();
                json!({"name": k.name(), "fields": fields})
            })
            .collect();
        let kind_name = |k: KindId| self.kinds().nth(k.0 as usize).map_or("", |x| x.name());
        let relations: Vec<serde_json::Value> = self
            .relations()
            .iter()
            .map(|r| {
                let child = self.kinds().nth(r.child.0 as usize);
                let field = child.and_then(|c| c.field(r.field)).map_or("", |(n, _)| n);
                json!({"child": kind_name(r.child), "field": field, "parent": kind_name(r.parent)})
            })
            .collect();
        json!({"kinds": kinds, "relations": relations})
    }

    /// Starts a schema.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder {
            kinds: Vec::new(),
            relations: Vec::new(),
            error: None,
        }
    }

    /// A schema of the given kinds.
    ///
    /// # Errors
    ///
    /// Two kinds with one name.
    pub fn new(kinds: impl IntoIterator<Item = KindSchema>) -> Result<Schema, SchemaError> {
        let mut out: Vec<Arc<KindSchema>> = Vec::new();
        for k in kinds {
            if out.iter().any(|o| o.name == k.name) {
                return Err(SchemaError::DuplicateKind { kind: k.name });
            }
            out.push(Arc::new(k));
        }
        Ok(Schema {
            kinds: out,
            relations: Vec::new(),
        })
    }

    /// Declares that kind `child` belongs to kind `parent` through the
    /// child's string field `field`, which holds the parent's key.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownKind`], [`SchemaError::UnknownRelationField`],
    /// [`SchemaError::RelationFieldType`] for a field that is not a string,
    /// [`SchemaError::DuplicateRelation`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{FieldType, Schema};
    ///
    /// let schema = Schema::builder()
    ///     .kind("account", [("mrr", FieldType::Float)])
    ///     .kind("user", [("account_id", FieldType::String)])
    ///     .relation("user", "account_id", "account")
    ///     .build()?;
    /// assert_eq!(schema.relations().len(), 1);
    /// # Ok::<(), segments::SchemaError>(())
    /// ```
    pub fn with_relation(mut self, child: &str, field: &str, parent: &str) -> Result<Schema, SchemaError> {
        let c = self
            .kind_id(child)
            .ok_or_else(|| SchemaError::UnknownKind(crate::error::UnknownKind::new(child)))?;
        let p = self
            .kind_id(parent)
            .ok_or_else(|| SchemaError::UnknownKind(crate::error::UnknownKind::new(parent)))?;
        let ck = &self.kinds[c.0 as usize];
        let f = ck.field_id(field).ok_or_else(|| SchemaError::UnknownRelationField {
            kind: child.into(),
            field: field.into(),
            parent: parent.into(),
        })?;
        match ck.field(f) {
            Some((_, FieldType::String)) => {}
            Some((_, found)) => {
                return Err(SchemaError::RelationFieldType {
                    kind: child.into(),
                    field: field.into(),
                    parent: parent.into(),
                    found,
                })
            }
            None => unreachable!("field_id returned an id of the kind"),
        }
        if self.relation(c, p).is_some() {
            return Err(SchemaError::DuplicateRelation {
                kind: child.into(),
                parent: parent.into(),
            });
        }
        self.relations.push(Relation {
            child: c,
            field: f,
            parent: p,
        });
        Ok(self)
    }

    /// The schema with kind `kind` replaced by `with` (of the same name),
    /// its relations' fields found again by name.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownKind`]; [`SchemaError::RelationKey`] if `with`
    /// lacks a field a relation goes through.
    pub(crate) fn replacing(&self, kind: KindId, with: KindSchema) -> Result<Schema, SchemaError> {
        let old = self
            .kinds
            .get(kind.0 as usize)
            .ok_or_else(|| SchemaError::UnknownKind(crate::error::UnknownKind::new(with.name.clone())))?;
        let mut relations = self.relations.clone();
        for r in relations.iter_mut().filter(|r| r.child == kind) {
            let name = old.field(r.field).map_or("", |(n, _)| n);
            r.field = with.field_id(name).ok_or_else(|| SchemaError::RelationKey {
                kind: old.name.clone(),
                field: name.to_string(),
            })?;
        }
        let mut kinds = self.kinds.clone();
        kinds[kind.0 as usize] = Arc::new(with);
        Ok(Schema { kinds, relations })
    }

    /// The relations, in declaration order.
    pub fn relations(&self) -> &[Relation] {
        &self.relations
    }

    /// The index of the relation from `child` to `parent`, if declared.
    pub fn relation(&self, child: KindId, parent: KindId) -> Option<RelationId> {
        self.relations
            .iter()
            .position(|r| r.child == child && r.parent == parent)
            .map(|i| RelationId(i as u32))
    }

    /// A kind by name.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownKind`] when the schema has no such kind.
    pub fn kind(&self, name: &str) -> Result<&KindSchema, SchemaError> {
        self.kind_id(name)
            .map(|id| &*self.kinds[id.0 as usize])
            .ok_or_else(|| SchemaError::UnknownKind(crate::error::UnknownKind::new(name)))
    }

    /// The id of a kind by name.
    pub fn kind_id(&self, name: &str) -> Option<KindId> {
        self.kinds.iter().position(|k| k.name == name).map(|i| KindId(i as u32))
    }

    /// The kinds in declaration order.
    pub fn kinds(&self) -> impl ExactSizeIterator<Item = &KindSchema> + '_ {
        self.kinds.iter().map(|k| &**k)
    }

    pub(crate) fn kind_arcs(&self) -> &[Arc<KindSchema>] {
        &self.kinds
    }
}

/// Builds a [`Schema`]; errors are reported by [`SchemaBuilder::build`].
#[derive(Debug)]
pub struct SchemaBuilder {
    kinds: Vec<KindSchema>,
    relations: Vec<(String, String, String)>,
    error: Option<SchemaError>,
}

impl SchemaBuilder {
    /// Adds a kind with its fields.
    pub fn kind<N, I, F>(mut self, name: N, fields: I) -> SchemaBuilder
    where
        N: Into<String>,
        I: IntoIterator<Item = (F, FieldType)>,
        F: Into<String>,
    {
        if self.error.is_none() {
            match KindSchema::new(name, fields) {
                Ok(k) => self.kinds.push(k),
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// Tracks a numeric field of the kind added last; see
    /// [`KindSchema::tracking`].
    pub fn track(mut self, field: &str, keep: usize) -> SchemaBuilder {
        if self.error.is_none() {
            match self.kinds.pop().map(|k| k.tracking(field, keep)) {
                Some(Ok(k)) => self.kinds.push(k),
                Some(Err(e)) => self.error = Some(e),
                None => {
                    self.error = Some(SchemaError::UnknownField {
                        kind: String::new(),
                        field: field.to_string(),
                    })
                }
            }
        }
        self
    }

    /// Declares that `child` belongs to `parent` through the child's string
    /// field `field`; see [`Schema::with_relation`].
    pub fn relation(mut self, child: &str, field: &str, parent: &str) -> SchemaBuilder {
        self.relations.push((child.into(), field.into(), parent.into()));
        self
    }

    /// The schema.
    ///
    /// # Errors
    ///
    /// The first error of any [`kind`](SchemaBuilder::kind) call, two kinds
    /// with one name, or the first error of a
    /// [`relation`](Schema::with_relation).
    pub fn build(self) -> Result<Schema, SchemaError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut schema = Schema::new(self.kinds)?;
        for (c, f, p) in &self.relations {
            schema = schema.with_relation(c, f, p)?;
        }
        Ok(schema)
    }
}
