//! Loading JSON Lines into an engine: one door, [`Engine::load_json_lines`],
//! for rows (inserted or upserted) and events, strict or lenient.

use std::io::BufRead;

use super::Engine;
use crate::error::StoreError;
use crate::op::{DataOp, EventRecord};
use crate::segment::Changes;
use crate::store::{Properties, Rejected};
use crate::value::Timestamp;

/// How [`Engine::load_json_lines`] reads its input: what each line is
/// (a row to insert, a row to upsert, an event), and whether a bad line
/// refuses the whole input (strict, the default) or is left out and
/// reported (lenient).
///
/// # Examples
///
/// ```
/// use segments::engine::JsonLines;
///
/// let strict = JsonLines::upsert();
/// let lenient = JsonLines::insert().lenient(10);
/// assert_ne!(strict, lenient);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLines {
    what: What,
    /// `Some(bound)` for a lenient load: the first `bound` bad lines are
    /// reported with their errors.
    lenient: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Insert,
    Upsert,
    Events,
}

impl JsonLines {
    /// Each line a new entity, `{"key": ..., <field>: <value>, ...}`, as
    /// [`Table::insert_json_lines`](crate::Table::insert_json_lines) reads
    /// it: a live key or a key given twice is an error.
    pub fn insert() -> JsonLines {
        JsonLines {
            what: What::Insert,
            lenient: None,
        }
    }

    /// Each line an entity to insert or update, as
    /// [`Table::upsert_json_lines`](crate::Table::upsert_json_lines) reads
    /// it: the fields given are written, the others kept.
    pub fn upsert() -> JsonLines {
        JsonLines {
            what: What::Upsert,
            lenient: None,
        }
    }

    /// Each line an event: `{"key": "acme", "event": "export", "at":
    /// "2026-11-02T09:00:00Z", "properties": {"format": "csv", "rows":
    /// 1200}}` (`at` in RFC 3339, or microseconds since 1970 as an integer;
    /// `properties` optional, an object of strings, numbers, booleans and
    /// nulls, typed as [`Properties`] says). The entity must be live, the
    /// name not empty; no other member is allowed.
    pub fn events() -> JsonLines {
        JsonLines {
            what: What::Events,
            lenient: None,
        }
    }

    /// Lenient: the good lines are loaded (all together, each whole or not
    /// at all) and each bad line is left out and counted, the first
    /// `bound` of them reported with their errors in
    /// [`Rejected`]. The op journaled holds the good lines only, so a
    /// replay loads exactly them.
    pub fn lenient(self, bound: usize) -> JsonLines {
        JsonLines {
            lenient: Some(bound),
            ..self
        }
    }
}

impl Engine {
    /// Sets the longest line of JSON Lines input every kind accepts (see
    /// [`Table::set_max_line_bytes`](crate::Table::set_max_line_bytes)).
    pub fn set_max_line_bytes(&mut self, limit: usize) {
        for t in self.store.tables_mut() {
            t.set_max_line_bytes(limit);
        }
    }

    /// Loads JSON Lines into `kind`, one row or event a line as `how`
    /// says (blank lines skipped), and brings the entities written into
    /// the segments whose rules they now match.
    ///
    /// Strict (the default), it is all or none: every line is read and
    /// checked before any is applied, and the first bad line refuses the
    /// whole input with its line number ([`StoreError::AtLine`]); the
    /// [`Rejected`] returned is then empty. [`JsonLines::lenient`] loads
    /// the good lines and reports the bad ones instead.
    ///
    /// The op it applies ([`DataOp::InsertJsonLines`],
    /// [`DataOp::UpsertJsonLines`], [`DataOp::RecordEvents`]) carries the
    /// data, so the input is read whole into memory first (each line at
    /// most [`Engine::set_max_line_bytes`]); a [`Table`](crate::Table)
    /// loads rows streaming, 4 MiB at a time.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownKind`]; a read that fails
    /// ([`StoreError::Io`]), [`StoreError::Full`] and the journal's errors
    /// refuse the input in both modes. Strict, also [`StoreError::AtLine`]
    /// around what the line breaks: [`StoreError::Json`] (not JSON, a
    /// member missing, unknown or of another type), a key that is live
    /// (insert) or given twice ([`StoreError::DuplicateKey`]),
    /// [`StoreError::UnknownKey`] for an event of no live entity,
    /// [`StoreError::EmptyEventName`], [`StoreError::BadProperty`],
    /// [`StoreError::LineTooLong`]. Then nothing changed.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::engine::JsonLines;
    /// use segments::{Engine, FieldType, Schema};
    ///
    /// let mut e = Engine::new(Schema::builder().kind("account", [("nps", FieldType::Int)]).build()?);
    /// let rows = "{\"key\": \"a\", \"nps\": 3}\n{\"key\": \"b\", \"nps\": 9}\n";
    /// e.load_json_lines("account", rows.as_bytes(), JsonLines::insert())?;
    ///
    /// // Events, strict: one bad line refuses them all.
    /// let events = "{\"key\":\"a\",\"event\":\"login\",\"at\":\"2026-11-02T09:00:00Z\"}\n\
    ///               {\"key\":\"nobody\",\"event\":\"login\",\"at\":1793000000000000}\n";
    /// let err = e.load_json_lines("account", events.as_bytes(), JsonLines::events()).unwrap_err();
    /// assert_eq!(err.to_string(), "line 2: key `nobody`: no such entity");
    /// assert_eq!(e.store().table("account")?.event_count(), 0);
    ///
    /// // Lenient: the good lines go in, the bad ones are reported.
    /// let (_, rejected) = e.load_json_lines("account", events.as_bytes(), JsonLines::events().lenient(10))?;
    /// assert_eq!(e.store().table("account")?.event_count(), 1);
    /// assert_eq!((rejected.total, rejected.lines[0].line), (1, 2));
    ///
    /// let more = "{\"key\": \"c\", \"nps\": 2.5}\n{\"key\": \"d\"}\n";
    /// let (_, rejected) = e.load_json_lines("account", more.as_bytes(), JsonLines::upsert().lenient(10))?;
    /// assert_eq!(e.store().table("account")?.len(), 3);
    /// assert_eq!(rejected.lines[0].error.to_string(), "key `c`, field `nps`: expected int, found non-integer number 2.5");
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn load_json_lines(
        &mut self,
        kind: &str,
        reader: impl BufRead,
        how: JsonLines,
    ) -> Result<(Changes, Rejected), StoreError> {
        let k = self.kind_for_write(kind)?;
        let upsert = match how.what {
            What::Events => return self.load_events(k, kind, reader, how.lenient),
            What::Insert => false,
            What::Upsert => true,
        };
        let (lines, rejected) = match how.lenient {
            Some(bound) => self.store.tables()[k].sift_lenient(reader, upsert, bound)?,
            None => (self.store.tables()[k].read_lines(reader)?, Rejected::default()),
        };
        let kind = kind.into();
        let op = if upsert {
            DataOp::UpsertJsonLines { kind, lines }
        } else {
            DataOp::InsertJsonLines { kind, lines }
        };
        Ok((self.apply_data(op)?, rejected))
    }

    /// Events from JSON Lines, checked line by line before any is
    /// recorded, and recorded as one [`DataOp::RecordEvents`].
    fn load_events(
        &mut self,
        k: usize,
        kind: &str,
        reader: impl BufRead,
        lenient: Option<usize>,
    ) -> Result<(Changes, Rejected), StoreError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Line {
            key: String,
            event: String,
            at: Timestamp,
            #[serde(default)]
            properties: Properties,
        }
        let table = &self.store.tables()[k];
        let (mut long, mut bad) = (Rejected::default(), Rejected::default());
        let bytes = match lenient {
            Some(bound) => table.read_lines_lenient(reader, &mut long, bound)?,
            None => table.read_lines(reader)?,
        };
        let limit = table.max_line_bytes();
        let event = |raw: &[u8]| -> Result<EventRecord, StoreError> {
            if raw.len() > limit {
                return Err(StoreError::LineTooLong { limit });
            }
            let l: Line = serde_json::from_slice(raw).map_err(|e| StoreError::Json { message: e.to_string() })?;
            if table.id(&l.key).is_none() {
                return Err(StoreError::UnknownKey { key: l.key });
            }
            if l.event.trim().is_empty() {
                return Err(StoreError::EmptyEventName { key: l.key });
            }
            if let Err((property, reason)) = l.properties.check() {
                return Err(StoreError::BadProperty {
                    key: l.key,
                    event: l.event,
                    property,
                    reason,
                });
            }
            Ok(EventRecord::new(l.key, l.event, l.at).with_properties(l.properties))
        };
        let mut events = Vec::new();
        for (i, (_, raw)) in crate::store::lines(&bytes).enumerate() {
            let line = i + 1;
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match (event(raw), lenient) {
                (Ok(e), _) => events.push(e),
                (Err(e), Some(bound)) => bad.push(line, e, bound),
                (Err(e), None) => {
                    return Err(StoreError::AtLine {
                        line,
                        source: Box::new(e),
                    })
                }
            }
        }
        let rejected = match lenient {
            Some(bound) => long.merge(bad, bound),
            None => Rejected::default(),
        };
        if events.is_empty() {
            return Ok((Changes::new(self.now()), rejected));
        }
        let changes = self.apply_data(DataOp::RecordEvents {
            kind: kind.into(),
            events,
        })?;
        Ok((changes, rejected))
    }
}
