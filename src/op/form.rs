//! The serde forms of the parts of an op that have no derive of their own
//! (rows, ids, actors, events, the clock), and the version being read.

use std::cell::Cell;
use std::fmt;

use roaring::RoaringBitmap;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::{EventRecord, OP_FORMAT_VERSION};
use crate::filter::Filter;
use crate::segment::{Actor, NewSegment, Settings, Visibility};
use crate::store::Row;
use crate::value::{Clock, Timestamp, Value};

impl Serialize for Clock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Form {
            System,
            Fixed(Timestamp),
        }
        match *self {
            Clock::System => Form::System,
            Clock::Fixed(t) => Form::Fixed(t),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Clock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Clock, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Form {
            System,
            Fixed(Timestamp),
        }
        Ok(match Form::deserialize(d)? {
            Form::System => Clock::System,
            Form::Fixed(t) => Clock::Fixed(t),
        })
    }
}

/// A row as a map from field to tagged value, in its order (a field set
/// twice appears twice, so that the last still wins).
pub(super) mod row_form {
    use super::*;

    pub(in crate::op) fn serialize<S: Serializer>(row: &Row, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(row.len()))?;
        for (field, value) in row.iter() {
            m.serialize_entry(field, value)?;
        }
        m.end()
    }

    pub(in crate::op) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Row, D::Error> {
        struct RowVisitor;
        impl<'de> Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from field to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Row, A::Error> {
                let mut row = Row::new();
                while let Some((field, value)) = m.next_entry::<String, Value>()? {
                    row = row.set(field, value);
                }
                Ok(row)
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// Rows as `[key, row]` pairs.
pub(super) mod rows_form {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Pair(String, #[serde(with = "row_form")] Row);

    #[derive(Serialize)]
    struct PairRef<'a>(&'a str, #[serde(with = "row_form")] &'a Row);

    pub(in crate::op) fn serialize<S: Serializer>(rows: &[(String, Row)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(rows.iter().map(|(k, r)| PairRef(k, r)))
    }

    pub(in crate::op) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Row)>, D::Error> {
        let pairs = Vec::<Pair>::deserialize(d)?;
        Ok(pairs.into_iter().map(|Pair(k, r)| (k, r)).collect())
    }
}

/// JSON Lines text: a string when it is UTF-8 (as it must be to load), an
/// array of bytes otherwise, so that any input round-trips; bytes in
/// binary formats.
pub(super) mod bytes_form {
    use super::*;

    pub(in crate::op) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) if s.is_human_readable() => s.serialize_str(text),
            _ => s.serialize_bytes(bytes),
        }
    }

    pub(in crate::op) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct BytesVisitor;
        impl<'de> Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                Ok(v.as_bytes().to_vec())
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(BytesVisitor)
        } else {
            d.deserialize_bytes(BytesVisitor)
        }
    }
}

/// Entity ids as an ascending list of numbers.
pub(super) mod ids_form {
    use super::*;

    pub(in crate::op) fn serialize<S: Serializer>(ids: &RoaringBitmap, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ids.iter())
    }

    pub(in crate::op) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RoaringBitmap, D::Error> {
        Ok(Vec::<u32>::deserialize(d)?.into_iter().collect())
    }
}

/// A new segment's name, kind, filter, visibility and settings. JSON
/// leaves out settings that are empty (and reads their absence as empty);
/// the binary form always has them, except version 1's, which had none.
pub(super) mod new_segment_form {
    use super::*;

    #[derive(Serialize)]
    struct Ref<'a> {
        name: &'a str,
        kind: &'a str,
        filter: &'a Option<Filter>,
        visibility: Visibility,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "present")]
        settings: Option<&'a Settings>,
    }

    #[derive(Deserialize)]
    struct Owned {
        name: String,
        kind: String,
        filter: Option<Filter>,
        visibility: Visibility,
        #[serde(default)]
        settings: Settings,
    }

    #[derive(Deserialize)]
    struct OwnedV1 {
        name: String,
        kind: String,
        filter: Option<Filter>,
        visibility: Visibility,
    }

    pub(in crate::op) fn serialize<S: Serializer>(n: &NewSegment, s: S) -> Result<S::Ok, S::Error> {
        // A binary form holds every field; JSON leaves empty settings out.
        let settings = (!s.is_human_readable() || !n.settings.is_empty()).then_some(&n.settings);
        Ref {
            name: &n.name,
            kind: &n.kind,
            filter: &n.filter,
            visibility: n.visibility,
            settings,
        }
        .serialize(s)
    }

    pub(in crate::op) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NewSegment, D::Error> {
        let o = if !d.is_human_readable() && reading() == 1 {
            let o = OwnedV1::deserialize(d)?;
            Owned {
                name: o.name,
                kind: o.kind,
                filter: o.filter,
                visibility: o.visibility,
                settings: Settings::new(),
            }
        } else {
            Owned::deserialize(d)?
        };
        let mut n = NewSegment::new(o.name, o.kind)
            .visibility(o.visibility)
            .settings(o.settings);
        n.filter = o.filter;
        Ok(n)
    }
}

/// A field that is left out when `None` written as its value when not: not
/// as an option, which a binary form would tag.
fn present<T: Serialize, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => v.serialize(s),
        None => s.serialize_unit(),
    }
}

thread_local! {
    /// The version of the binary form [`Op::from_bytes`] is reading (the
    /// current one otherwise).
    static READING: Cell<u32> = const { Cell::new(OP_FORMAT_VERSION) };
}

/// The version of the binary form being read.
fn reading() -> u32 {
    READING.with(Cell::get)
}

/// An actor's serde form: `{"id", "role", "teams"}`, JSON leaving out no
/// teams (and reading their absence as none); the binary form always has
/// them, except version 1's, which had none.
mod actor_form {
    use super::*;
    use crate::segment::Role;

    #[derive(Serialize)]
    struct Ref<'a> {
        id: &'a str,
        role: Role,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "present")]
        teams: Option<&'a [String]>,
    }

    #[derive(Deserialize)]
    struct Owned {
        id: String,
        role: Role,
        #[serde(default)]
        teams: Vec<String>,
    }

    #[derive(Deserialize)]
    struct OwnedV1 {
        id: String,
        role: Role,
    }

    impl Serialize for Actor {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let teams = (!s.is_human_readable() || !self.teams.is_empty()).then_some(&self.teams[..]);
            Ref {
                id: &self.id,
                role: self.role,
                teams,
            }
            .serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for Actor {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
            if !d.is_human_readable() && reading() == 1 {
                let o = OwnedV1::deserialize(d)?;
                return Ok(Actor::new(o.id, o.role));
            }
            let o = Owned::deserialize(d)?;
            Ok(Actor::new(o.id, o.role).in_teams(o.teams))
        }
    }
}

/// Sets [`READING`] while it lives (reset on any exit, a panic too).
pub(super) struct Reading(u32);

impl Reading {
    pub(super) fn new(v: u32) -> Reading {
        Reading(READING.with(|r| r.replace(v)))
    }
}

impl Drop for Reading {
    fn drop(&mut self) {
        READING.with(|r| r.set(self.0));
    }
}

/// An [`EventRecord`]'s serde form: JSON leaves out no properties; the
/// binary form always has them, except before version 3.
mod event_form {
    use super::*;
    use crate::store::Properties;

    #[derive(Serialize)]
    struct Ref<'a> {
        key: &'a str,
        event: &'a str,
        at: Timestamp,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "present")]
        properties: Option<&'a Properties>,
    }

    #[derive(Deserialize)]
    struct Owned {
        key: String,
        event: String,
        at: Timestamp,
        #[serde(default)]
        properties: Properties,
    }

    #[derive(Deserialize)]
    struct OwnedV2 {
        key: String,
        event: String,
        at: Timestamp,
    }

    impl Serialize for EventRecord {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let properties = (!s.is_human_readable() || !self.properties.is_empty()).then_some(&self.properties);
            Ref {
                key: &self.key,
                event: &self.event,
                at: self.at,
                properties,
            }
            .serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for EventRecord {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventRecord, D::Error> {
            if !d.is_human_readable() && reading() < 3 {
                let o = OwnedV2::deserialize(d)?;
                return Ok(EventRecord {
                    key: o.key,
                    event: o.event,
                    at: o.at,
                    properties: Properties::new(),
                });
            }
            let o = Owned::deserialize(d)?;
            Ok(EventRecord {
                key: o.key,
                event: o.event,
                at: o.at,
                properties: o.properties,
            })
        }
    }
}
