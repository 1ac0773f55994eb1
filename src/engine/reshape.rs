//! A schema that grows: fields added and removed, relations added, on a
//! live engine. The write methods build schema ops; [`run`] is their
//! executor, over the store, the book's rules and the dependency index.

use super::deps::Deps;
use super::Engine;
use crate::error::{SchemaChangeError, SchemaError};
use crate::filter::LimitPolicy;
use crate::filter::Plan;
use crate::op::SchemaOp;
use crate::schema::{FieldType, Schema};
use crate::segment::book::Book;
use crate::segment::RuleId;
use crate::store::Store;

impl Engine {
    /// Adds a field to a kind, last, missing for every entity: writes may
    /// set it and rules read it from now on. Journaled (an op,
    /// [`SchemaOp::AddField`]) and saved in snapshots; no membership
    /// changes.
    ///
    /// # Errors
    ///
    /// [`SchemaChangeError::Schema`] for an unknown kind, or a name that is
    /// empty, reserved (`key`, `@...`) or the kind's already.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// engine.insert("account", "acme", Row::new().set("mrr", 900))?;
    /// engine.add_field("account", "csm", FieldType::String)?;
    /// engine.upsert("account", "acme", Row::new().set("csm", "kim"))?;
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (kims, _) = engine.create_segment(&admin,
    ///     NewSegment::new("Kim's", "account").filter(Filter::and([field("csm").eq("kim")])))?;
    /// assert!(engine.segments().is_member(kims, "acme")?);
    ///
    /// // A field a rule reads stays.
    /// assert!(engine.remove_field("account", "csm").is_err());
    /// engine.remove_field("account", "mrr")?;
    /// assert_eq!(engine.store().table("account")?.schema().len(), 1);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn add_field(&mut self, kind: &str, field: &str, field_type: FieldType) -> Result<(), SchemaChangeError> {
        self.apply_schema(SchemaOp::AddField {
            kind: kind.into(),
            field: field.into(),
            field_type,
        })
    }

    /// Removes a field of a kind, and its values. The fields after it keep
    /// their names (their [`FieldId`](crate::FieldId)s move down one).
    /// Journaled and saved in snapshots; no membership changes.
    ///
    /// # Errors
    ///
    /// [`SchemaChangeError::InUse`] while rules read it (named, with their
    /// segments: detach or edit them first), [`SchemaChangeError::Schema`]
    /// for an unknown kind or field, or a field a relation goes through
    /// ([`SchemaError::RelationKey`]).
    pub fn remove_field(&mut self, kind: &str, field: &str) -> Result<(), SchemaChangeError> {
        self.apply_schema(SchemaOp::RemoveField {
            kind: kind.into(),
            field: field.into(),
        })
    }

    /// Declares that `child` belongs to `parent` through the child's string
    /// field `field`, on a live engine: the existing children are adopted
    /// (each child's parent is the live parent its field names, as for a
    /// relation declared up front), and rules may quantify over the
    /// relation (`@related`) from now on. Journaled and saved in snapshots.
    ///
    /// # Errors
    ///
    /// [`SchemaChangeError::Schema`], as [`Schema::with_relation`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::{field, related};
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema};
    ///
    /// let schema = Schema::builder()
    ///     .kind("account", [("mrr", FieldType::Int)])
    ///     .kind("user", [("account_id", FieldType::String), ("admin", FieldType::Bool)])
    ///     .build()?;
    /// let mut engine = Engine::new(schema);
    /// engine.insert("account", "acme", Row::new())?;
    /// engine.insert("user", "u1", Row::new().set("account_id", "acme").set("admin", true))?;
    ///
    /// engine.add_relation("user", "account_id", "account")?;
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (with_admins, _) = engine.create_segment(&admin, NewSegment::new("With admins", "account")
    ///     .filter(Filter::and([related("user").any(Filter::and([field("admin").eq(true)]))])))?;
    /// assert!(engine.segments().is_member(with_admins, "acme")?);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn add_relation(&mut self, child: &str, field: &str, parent: &str) -> Result<(), SchemaChangeError> {
        self.apply_schema(SchemaOp::AddRelation {
            child: child.into(),
            field: field.into(),
            parent: parent.into(),
        })
    }
}

/// Runs a schema op: builds the new schema, plans every rule against it
/// (the check that no rule reads what goes, and the rules' new field
/// ids), and only then changes the store, the plans and the
/// dependency index.
pub(super) fn run(
    store: &mut Store,
    book: &mut Book,
    deps: &mut Deps,
    policy: &LimitPolicy,
    op: SchemaOp,
) -> Result<(), SchemaChangeError> {
    let old = store.schema();
    let kind_of = |name: &str| {
        old.kind_id(name)
            .ok_or_else(|| SchemaError::UnknownKind(crate::error::UnknownKind::new(name)))
    };
    let schema = match &op {
        SchemaOp::AddField {
            kind,
            field,
            field_type,
        } => {
            let k = kind_of(kind)?;
            let with = old.kind(kind)?.with_field(field, *field_type)?;
            old.replacing(k, with)?
        }
        SchemaOp::RemoveField { kind, field } => {
            let k = kind_of(kind)?;
            let without = old.kind(kind)?.without_field(field)?;
            old.replacing(k, without)?
        }
        SchemaOp::AddRelation { child, field, parent } => old.clone().with_relation(child, field, parent)?,
    };
    let mut plans: Vec<(RuleId, Plan)> = Vec::with_capacity(book.rules().len());
    let mut readers = Vec::new();
    for (id, r) in book.rules() {
        let kind = schema.kind_arcs()[r.kind].name();
        match Plan::in_schema(&r.info.filter, &schema, kind, policy) {
            Ok(p) => plans.push((*id, p)),
            Err(_) => readers.push(*id),
        }
    }
    if !readers.is_empty() {
        // Only a removal can leave a rule unplannable; should anything
        // else, it is refused the same way rather than lose a rule.
        let (kind, field) = match &op {
            SchemaOp::AddField { kind, field, .. } | SchemaOp::RemoveField { kind, field } => (kind, field),
            SchemaOp::AddRelation { child, field, .. } => (child, field),
        };
        let rules = book.describe_rules(&readers);
        return Err(SchemaChangeError::InUse {
            kind: kind.clone(),
            field: field.clone(),
            rules,
        });
    }
    reshape(store, book, deps, schema, plans);
    Ok(())
}

/// Takes the new schema and every rule's plan in it.
fn reshape(store: &mut Store, book: &mut Book, deps: &mut Deps, schema: Schema, plans: Vec<(RuleId, Plan)>) {
    store.reshape(schema);
    let schema = store.schema();
    *deps = Deps::new(schema);
    for (id, plan) in plans {
        let Some(kind) = book.rule(id).map(|r| r.kind) else {
            continue;
        };
        deps.index(schema.relations(), id, kind, &plan);
        book.replan(id, None, plan);
    }
}
