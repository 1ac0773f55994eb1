//! Comparisons of a field with other fields of the same entity
//! (`"valueSource": "field"`), read cell by cell: no index orders two
//! columns against each other.

use std::cmp::Ordering;

use crate::filter::FieldTest;
use crate::schema::FieldId;
use crate::value::{cmp_num, Num, Value};
use crate::Table;

/// The order of two values of comparable types; `None` when either is
/// missing (validation only pairs comparable types).
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    let num = |v: &Value| match v {
        Value::Int(i) => Some(Num::Int(*i as i128)),
        Value::Float(x) => Some(Num::Float(*x)),
        _ => None,
    };
    match (a, b) {
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => Some(cmp_num(num(a)?, num(b)?)),
    }
}

/// Whether `test` holds for the live entity `id`, whose `field` is the
/// rule's own.
pub(crate) fn test(test: &FieldTest, table: &Table, field: FieldId, id: u32) -> bool {
    let this = table.value(id, field);
    if matches!(this, Value::Null) {
        return false;
    }
    let other = |f: FieldId| table.value(id, f);
    match test {
        FieldTest::Cmp(op, f) => order(&this, &other(*f)).is_some_and(|o| op.accepts(o)),
        FieldTest::Between(lo, hi) => {
            order(&this, &other(*lo)).is_some_and(Ordering::is_ge)
                && order(&this, &other(*hi)).is_some_and(Ordering::is_le)
        }
        FieldTest::In(fs) => fs.iter().any(|f| order(&this, &other(*f)) == Some(Ordering::Equal)),
        FieldTest::Str(m, f) => match (&this, &other(*f)) {
            (Value::String(s), Value::String(pat)) => m.matches(s, pat),
            _ => false,
        },
    }
}
