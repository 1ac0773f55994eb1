//! Typed rows for writes.

use std::borrow::Cow;

use crate::value::Value;

/// Field values for one entity, by field name.
///
/// In [`Table::insert`](crate::Table::insert) a field left out is missing; in
/// [`Table::upsert`](crate::Table::upsert) it keeps its value, and
/// [`Value::Null`] clears it. When a field is set twice, the last value wins.
///
/// # Examples
///
/// ```
/// use segments::{Row, Value};
///
/// let row = Row::new().set("health", 25.5).set("plan", "pro").set("nps", Value::Null);
/// assert_eq!(row.len(), 3);
/// let same: Row = [("health", Value::from(25.5))].into();
/// assert_eq!(same.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub(crate) cells: Vec<(Cow<'static, str>, Value)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Row {
        Row::default()
    }

    /// Sets a field. A `&'static str` name is kept without copying.
    #[must_use]
    pub fn set(mut self, field: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Row {
        self.cells.push((field.into(), value.into()));
        self
    }

    /// The number of fields set.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The fields set, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.cells.iter().map(|(f, v)| (&**f, v))
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> FromIterator<(K, V)> for Row {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Row {
        Row {
            cells: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>, const N: usize> From<[(K, V); N]> for Row {
    fn from(cells: [(K, V); N]) -> Row {
        cells.into_iter().collect()
    }
}
