//! Settings that belong to a segment: a description, a colour, a health
//! score's configuration, any key-value settings the service defines.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::error::SettingsError;

/// The most bytes a segment's settings take as compact JSON.
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// The deepest a setting's value nests (arrays and objects), counting the
/// value itself as 1.
pub const MAX_SETTINGS_DEPTH: usize = 32;

/// The longest a setting's key is, in bytes.
pub const MAX_SETTING_KEY_BYTES: usize = 256;

/// A segment's settings: JSON values by key, which the crate keeps,
/// versions, journals, snapshots and lists with the segment but never
/// reads. What they mean is the service's: a description, a colour, a
/// health score's weights, which alerts fire for the segment.
///
/// Keys are non-empty and at most [`MAX_SETTING_KEY_BYTES`] bytes, values
/// nest at most [`MAX_SETTINGS_DEPTH`] deep, and the whole is at most
/// [`MAX_SETTINGS_BYTES`] of compact JSON: checked when a segment is
/// created with them or they are set
/// ([`Engine::set_settings`](crate::Engine::set_settings)), and by
/// [`Settings::check`]. A service keeps its own types in them with
/// [`Settings::insert_typed`] and reads them back with
/// [`Settings::get_typed`].
///
/// Their JSON form is the object itself, keys in byte order.
///
/// # Examples
///
/// ```
/// use segments::segment::Settings;
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Health { usage: f64, nps: f64, tickets: f64 }
///
/// let mut s = Settings::new();
/// s.insert("description", "Accounts likely to churn this quarter");
/// s.insert("color", "#d33");
/// s.insert_typed("health", &Health { usage: 0.5, nps: 0.3, tickets: 0.2 })?;
/// assert_eq!(s.get("color"), Some(&serde_json::json!("#d33")));
/// assert_eq!(s.get_typed::<Health>("health")?, Some(Health { usage: 0.5, nps: 0.3, tickets: 0.2 }));
/// assert_eq!(
///     s.to_json(),
///     r##"{"color":"#d33","description":"Accounts likely to churn this quarter","health":{"nps":0.3,"tickets":0.2,"usage":0.5}}"##
/// );
/// assert_eq!(Settings::from_json(&s.to_json())?, s);
/// # Ok::<(), segments::SettingsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    values: BTreeMap<String, Value>,
}

impl Settings {
    /// No settings.
    pub fn new() -> Settings {
        Settings::default()
    }

    /// Settings from a JSON object, checked.
    ///
    /// # Errors
    ///
    /// [`SettingsError::NotAnObject`] for any other JSON value, and the
    /// errors of [`Settings::check`].
    pub fn from_json_value(value: &Value) -> Result<Settings, SettingsError> {
        let Value::Object(map) = value else {
            return Err(SettingsError::NotAnObject);
        };
        // Before any copy: copying a value recurses as deep as it nests.
        if let Some((key, _)) = map.iter().find(|(_, v)| depth(v) > MAX_SETTINGS_DEPTH) {
            return Err(SettingsError::TooDeep {
                key: key.clone(),
                limit: MAX_SETTINGS_DEPTH,
            });
        }
        let s = Settings {
            values: map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        s.check()?;
        Ok(s)
    }

    /// Settings from JSON text (an object), checked.
    ///
    /// # Errors
    ///
    /// [`SettingsError::Json`] for text that is not JSON (with where), and
    /// the errors of [`Settings::from_json_value`].
    pub fn from_json(text: &str) -> Result<Settings, SettingsError> {
        if text.len() > 4 * MAX_SETTINGS_BYTES {
            return Err(SettingsError::TooLarge {
                bytes: text.len(),
                limit: MAX_SETTINGS_BYTES,
            });
        }
        let v: Value = serde_json::from_str(text).map_err(|e| SettingsError::Json { message: e.to_string() })?;
        Settings::from_json_value(&v)
    }

    /// The JSON object. Settings that nest deeper than
    /// [`MAX_SETTINGS_DEPTH`] (which [`Settings::check`] refuses, and no
    /// segment holds) write as an empty object rather than recurse.
    pub fn to_json_value(&self) -> Value {
        if self.too_deep() {
            return Value::Object(serde_json::Map::new());
        }
        Value::Object(self.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// Whether a value nests deeper than the limit.
    pub(crate) fn too_deep(&self) -> bool {
        self.values.values().any(|v| depth(v) > MAX_SETTINGS_DEPTH)
    }

    /// The compact JSON text of the object, keys in byte order.
    pub fn to_json(&self) -> String {
        if self.too_deep() {
            return "{}".into();
        }
        // Written from the map itself, not from a copy of it; maps have
        // string keys and numbers are finite, so this cannot fail.
        serde_json::to_string(&self.values).unwrap_or_default()
    }

    /// Sets `key` to `value`, returning what it held. Checked when the
    /// settings are saved with a segment, or by [`Settings::check`].
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.values.insert(key.into(), value.into())
    }

    /// Sets `key` to `value` as its JSON form (serde's).
    ///
    /// # Errors
    ///
    /// [`SettingsError::Type`] when `value` does not serialize to JSON (a
    /// map with keys that are not strings, say); the settings are then as
    /// they were.
    pub fn insert_typed<T: Serialize + ?Sized>(
        &mut self,
        key: impl Into<String>,
        value: &T,
    ) -> Result<(), SettingsError> {
        let key = key.into();
        let v = serde_json::to_value(value).map_err(|e| SettingsError::Type {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.values.insert(key, v);
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// The value of `key` read as a `T` (serde's), `None` if unset.
    ///
    /// # Errors
    ///
    /// [`SettingsError::Type`] when the value is not a `T`.
    pub fn get_typed<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SettingsError> {
        self.values
            .get(key)
            .map(|v| {
                T::deserialize(v).map_err(|e| SettingsError::Type {
                    key: key.to_string(),
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    /// Unsets `key`, returning what it held.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.values.remove(key)
    }

    /// The settings, by key in byte order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Checks the limits: keys, depth, size.
    ///
    /// # Errors
    ///
    /// [`SettingsError::BadKey`], [`SettingsError::TooDeep`] (naming the
    /// key) or [`SettingsError::TooLarge`].
    pub fn check(&self) -> Result<(), SettingsError> {
        for (key, value) in &self.values {
            if key.is_empty() || key.len() > MAX_SETTING_KEY_BYTES {
                return Err(SettingsError::BadKey {
                    key: key.chars().take(64).collect(),
                    reason: format!("keys are 1 to {MAX_SETTING_KEY_BYTES} bytes"),
                });
            }
            let depth = depth(value);
            if depth > MAX_SETTINGS_DEPTH {
                return Err(SettingsError::TooDeep {
                    key: key.clone(),
                    limit: MAX_SETTINGS_DEPTH,
                });
            }
        }
        // Counted without building the text or copying the values (their
        // depth is checked above); only the counter stops it early.
        let mut counter = Counter(0);
        let _ = serde_json::to_writer(&mut counter, &self.values);
        if counter.0 > MAX_SETTINGS_BYTES {
            return Err(SettingsError::TooLarge {
                bytes: counter.0,
                limit: MAX_SETTINGS_BYTES,
            });
        }
        Ok(())
    }
}

/// Takes the values apart without recursion: a value built in Rust may
/// nest deeper than any stack, and refused settings are dropped by the
/// engine.
impl Drop for Settings {
    fn drop(&mut self) {
        let mut stack: Vec<Value> = std::mem::take(&mut self.values).into_values().collect();
        while let Some(v) = stack.pop() {
            match v {
                Value::Array(a) => stack.extend(a),
                Value::Object(o) => stack.extend(o.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Settings {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Settings {
        Settings {
            values: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }
}

/// How deep a value nests, without recursion (a value built in Rust may be
/// deeper than any stack).
fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        if d > MAX_SETTINGS_DEPTH {
            break;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|c| (c, d + 1))),
            _ => {}
        }
    }
    deepest
}

struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_SETTINGS_BYTES {
            // Stop early: the size is already known to be too large.
            return Err(std::io::Error::other("too large"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The serde form is the JSON object in human-readable formats, its JSON
/// text in binary ones (which cannot hold a value of any shape). Reading
/// checks the limits.
impl Serialize for Settings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.too_deep() {
            return Err(serde::ser::Error::custom(format!(
                "settings nest deeper than {MAX_SETTINGS_DEPTH}"
            )));
        }
        if s.is_human_readable() {
            self.values.serialize(s)
        } else {
            s.serialize_str(&self.to_json())
        }
    }
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Settings, D::Error> {
        if d.is_human_readable() {
            let v = Value::deserialize(d)?;
            Settings::from_json_value(&v).map_err(D::Error::custom)
        } else {
            let text = String::deserialize(d)?;
            Settings::from_json(&text).map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_are_checked_and_named() {
        let mut deep = json!(1);
        for _ in 0..MAX_SETTINGS_DEPTH {
            deep = json!([deep]);
        }
        let s: Settings = [("k", deep)].into_iter().collect();
        assert_eq!(
            s.check(),
            Err(SettingsError::TooDeep {
                key: "k".into(),
                limit: MAX_SETTINGS_DEPTH
            })
        );
        let s: Settings = [("", json!(1))].into_iter().collect();
        assert!(matches!(s.check(), Err(SettingsError::BadKey { .. })));
        let s: Settings = [("k", json!("x".repeat(MAX_SETTINGS_BYTES)))].into_iter().collect();
        assert!(matches!(s.check(), Err(SettingsError::TooLarge { .. })));
        let s: Settings = [("k", json!("x".repeat(MAX_SETTINGS_BYTES - 8)))].into_iter().collect();
        assert_eq!(s.to_json().len(), MAX_SETTINGS_BYTES);
        assert_eq!(s.check(), Ok(()));
        assert_eq!(Settings::from_json("[1]"), Err(SettingsError::NotAnObject));
        assert!(matches!(Settings::from_json("{"), Err(SettingsError::Json { .. })));
    }

    #[test]
    fn a_value_deeper_than_any_stack_is_refused_without_recursion() {
        let mut v = json!(0);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(depth(&v), MAX_SETTINGS_DEPTH + 1);
        // Dropping it recursively would overflow: take it apart by hand.
        while let Value::Array(mut a) = v {
            v = a.pop().unwrap_or(Value::Null);
        }
    }
}
