//! A schema that grows on a live engine, through the public API: random
//! histories of fields added and removed, writes and segments, checked
//! against an engine built from scratch with the final schema and the same
//! rows and segments (which knows nothing of the history), and across a
//! snapshot and a journal reopen; refusals that change nothing; relations
//! added over existing entities.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use segments::filter::{field, related};
use segments::journal::Options;
use segments::segment::{Actor, NewSegment, Role};
use segments::{Engine, FieldType, Filter, Op, Row, Schema, SchemaChangeError, SchemaError, SchemaOp, Value};

const NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];
const KEYS: usize = 12;

#[derive(Debug, Clone)]
enum Step {
    Add(usize, u8),
    Remove(usize),
    Write(usize, usize, i64),
    Segment(usize, u8, i64),
    Delete(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0..5usize, 0..3u8).prop_map(|(f, t)| Step::Add(f, t)),
        2 => (0..5usize).prop_map(Step::Remove),
        5 => (0..KEYS, 0..5usize, 0..4i64).prop_map(|(k, f, v)| Step::Write(k, f, v)),
        2 => (0..5usize, 0..3u8, 0..4i64).prop_map(|(f, o, v)| Step::Segment(f, o, v)),
        1 => (0..4usize).prop_map(Step::Delete),
    ]
}

fn ty(t: u8) -> FieldType {
    [FieldType::Int, FieldType::String, FieldType::Bool][t as usize % 3]
}

fn value(t: FieldType, v: i64) -> Value {
    match t {
        FieldType::Int => Value::Int(v),
        FieldType::String => Value::String(["pro", "free", "team", "x"][v as usize % 4].into()),
        _ => Value::Bool(v % 2 == 0),
    }
}

fn literal(t: FieldType, v: i64) -> segments::filter::Literal {
    match value(t, v) {
        Value::Int(i) => (i as i32).into(),
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => b.into(),
        other => unreachable!("{other:?}"),
    }
}

fn rule(f: &str, t: FieldType, op: u8, v: i64) -> Filter {
    match op {
        0 => Filter::and([field(f).is_null()]),
        1 => Filter::and([field(f).eq(literal(t, v))]),
        _ => Filter::and([field(f).ne(literal(t, v))]),
    }
}

#[derive(Debug, Default, Clone)]
struct Model {
    fields: Vec<(String, FieldType)>,
    rows: BTreeMap<String, BTreeMap<String, Value>>,
    /// Name, the field its filter reads, the filter.
    segments: Vec<(String, String, Filter)>,
}

impl Model {
    fn schema(&self) -> Schema {
        Schema::builder().kind("account", self.fields.clone()).build().unwrap()
    }
}

fn run(e: &mut Engine, steps: &[Step]) -> Model {
    let admin = Actor::new("ada", Role::Admin);
    let mut m = Model::default();
    for k in 0..KEYS {
        e.insert("account", &format!("k{k}"), Row::new()).unwrap();
        m.rows.insert(format!("k{k}"), BTreeMap::new());
    }
    let mut made = 0;
    for step in steps {
        let before = format!("{:?}", e.clone());
        match *step {
            Step::Add(f, t) => {
                let name = NAMES[f];
                let got = e.add_field("account", name, ty(t));
                if m.fields.iter().any(|(n, _)| n == name) {
                    assert!(
                        matches!(got, Err(SchemaChangeError::Schema(SchemaError::DuplicateField { .. }))),
                        "{got:?}"
                    );
                    assert_eq!(format!("{:?}", e.clone()), before);
                } else {
                    got.unwrap();
                    m.fields.push((name.to_string(), ty(t)));
                }
            }
            Step::Remove(f) => {
                let name = NAMES[f];
                let got = e.remove_field("account", name);
                let readers: Vec<&str> = m
                    .segments
                    .iter()
                    .filter(|(_, read, _)| read == name)
                    .map(|(n, _, _)| n.as_str())
                    .collect();
                if !m.fields.iter().any(|(n, _)| n == name) {
                    assert!(
                        matches!(got, Err(SchemaChangeError::Schema(SchemaError::UnknownField { .. }))),
                        "{got:?}"
                    );
                    assert_eq!(format!("{:?}", e.clone()), before);
                } else if !readers.is_empty() {
                    let err = got.unwrap_err();
                    assert!(matches!(err, SchemaChangeError::InUse { .. }), "{err}");
                    for r in readers {
                        assert!(err.to_string().contains(&format!("`{r}`")), "{err}");
                    }
                    assert_eq!(format!("{:?}", e.clone()), before);
                } else {
                    got.unwrap();
                    m.fields.retain(|(n, _)| n != name);
                    for row in m.rows.values_mut() {
                        row.remove(name);
                    }
                }
            }
            Step::Write(k, f, v) => {
                let Some((name, t)) = m.fields.get(f % m.fields.len().max(1)).cloned() else {
                    continue;
                };
                let key = format!("k{k}");
                e.upsert("account", &key, Row::new().set(name.clone(), value(t, v)))
                    .unwrap();
                m.rows.get_mut(&key).unwrap().insert(name, value(t, v));
            }
            Step::Segment(f, op, v) => {
                let Some((name, t)) = m.fields.get(f % m.fields.len().max(1)).cloned() else {
                    continue;
                };
                made += 1;
                let filter = rule(&name, t, op, v);
                let seg = format!("S{made}");
                e.create_segment(&admin, NewSegment::new(seg.as_str(), "account").filter(filter.clone()))
                    .unwrap();
                m.segments.push((seg, name, filter));
            }
            Step::Delete(i) => {
                if m.segments.is_empty() {
                    continue;
                }
                let (name, _, _) = m.segments.remove(i % m.segments.len());
                let id = e.segments().iter().find(|s| s.name == name).unwrap().id;
                e.delete_segment(&admin, id).unwrap();
            }
        }
    }
    m
}

/// Each segment's members by name, and each entity's values by key.
type Observed = (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<(String, Value)>>);

/// The members of each segment, by name, and every stored value.
fn observed(e: &Engine) -> Observed {
    let members = e
        .segments()
        .iter()
        .map(|s| {
            let mut keys: Vec<String> = e.segments().member_keys(s.id).unwrap().map(String::from).collect();
            keys.sort();
            (s.name.clone(), keys)
        })
        .collect();
    let t = e.store().table("account").unwrap();
    let fields: Vec<(String, FieldType)> = t.schema().fields().map(|(_, n, ty)| (n.to_string(), ty)).collect();
    let values = (0..KEYS)
        .map(|k| {
            let key = format!("k{k}");
            let id = t.id(&key).unwrap();
            let vals = fields.iter().map(|(n, _)| (n.clone(), t.get(id, n).unwrap())).collect();
            (key, vals)
        })
        .collect();
    (members, values)
}

fn from_scratch(m: &Model) -> Engine {
    let mut e = Engine::new(m.schema());
    for (key, row) in &m.rows {
        let mut r = Row::new();
        for (f, v) in row {
            r = r.set(f.clone(), v.clone());
        }
        e.insert("account", key, r).unwrap();
    }
    let admin = Actor::new("ada", Role::Admin);
    for (name, _, filter) in &m.segments {
        e.create_segment(&admin, NewSegment::new(name.as_str(), "account").filter(filter.clone()))
            .unwrap();
    }
    e
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn empty_schema() -> Schema {
    Schema::builder()
        .kind("account", Vec::<(String, FieldType)>::new())
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_grown_engine_is_the_engine_built_with_its_final_schema(steps in prop::collection::vec(step(), 1..40)) {
        let mut e = Engine::new(empty_schema());
        let m = run(&mut e, &steps);
        let final_schema = m.schema();
        prop_assert_eq!(e.store().table("account").unwrap().schema().as_ref(), final_schema.kind("account").unwrap());
        let want = observed(&from_scratch(&m));
        prop_assert_eq!(&observed(&e), &want);
        // Writes after the changes land in the right columns.
        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        prop_assert_eq!(&observed(&Engine::restore(&bytes[..]).unwrap()), &want);

        let dir = TempDir(std::env::temp_dir().join(format!("segments-schema-change-{}", std::process::id())));
        let _ = std::fs::remove_dir_all(&dir.0);
        {
            let (mut j, _) = Engine::open(&dir.0, Options::new(empty_schema())).unwrap();
            run(&mut j, &steps);
        }
        // Reopened with the schema it started with: the directory's own is grown.
        let (j, _) = Engine::open(&dir.0, Options::new(empty_schema())).unwrap();
        prop_assert_eq!(&observed(&j), &want);
    }
}

#[test]
fn a_relation_added_adopts_the_children_already_there() {
    let schema = Schema::builder()
        .kind("account", [("mrr", FieldType::Int)])
        .kind("user", [("account_id", FieldType::String), ("admin", FieldType::Bool)])
        .build()
        .unwrap();
    let mut e = Engine::new(schema.clone());
    for (k, a) in [("acme", true), ("globex", false), ("initech", false)] {
        e.insert("account", k, Row::new()).unwrap();
        e.insert(
            "user",
            &format!("{k}-1"),
            Row::new().set("account_id", k).set("admin", a),
        )
        .unwrap();
    }
    e.insert(
        "user",
        "orphan",
        Row::new().set("account_id", "nowhere").set("admin", true),
    )
    .unwrap();
    let before = format!("{:?}", e.clone());
    // A relation through a field that is not a string, or of unknown kinds, is refused.
    assert!(matches!(
        e.add_relation("user", "admin", "account"),
        Err(SchemaChangeError::Schema(SchemaError::RelationFieldType { .. }))
    ));
    assert!(e.add_relation("user", "account_id", "team").is_err());
    assert_eq!(format!("{:?}", e.clone()), before);

    e.add_relation("user", "account_id", "account").unwrap();
    // The relation's key field stays while the relation does.
    assert!(matches!(
        e.remove_field("user", "account_id"),
        Err(SchemaChangeError::Schema(SchemaError::RelationKey { .. }))
    ));
    let admin = Actor::new("ada", Role::Admin);
    let with_admins = Filter::and([related("user").any(Filter::and([field("admin").eq(true)]))]);
    let (s, _) = e
        .create_segment(&admin, NewSegment::new("With admins", "account").filter(with_admins))
        .unwrap();
    assert_eq!(e.segments().member_keys(s).unwrap().collect::<Vec<_>>(), ["acme"]);
    // A child written after follows its parent as with a declared relation.
    e.upsert("user", "globex-1", Row::new().set("admin", true)).unwrap();
    assert_eq!(
        e.segments().member_keys(s).unwrap().collect::<Vec<_>>(),
        ["acme", "globex"]
    );
    // And the op is the same through its JSON form.
    let mut f = Engine::new(schema);
    let op =
        Op::from_json(r#"{"v":2,"schema":{"add_relation":{"child":"user","field":"account_id","parent":"account"}}}"#)
            .unwrap();
    assert_eq!(
        op,
        Op::Schema(SchemaOp::AddRelation {
            child: "user".into(),
            field: "account_id".into(),
            parent: "account".into()
        })
    );
    f.apply(op).unwrap();
    assert_eq!(f.store().schema().relations().len(), 1);
}
