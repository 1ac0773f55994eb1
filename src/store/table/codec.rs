//! A table's part of a snapshot: its keys in id order, the live ids, each
//! column and the events; decoding rebuilds the indexes.

use std::sync::Arc;

use super::{finish_bulk, Table};
use crate::error::SnapshotError;
use crate::schema::KindSchema;
use crate::snapshot::codec::{what, Dec, Enc};
use crate::store::column::Column;
use crate::store::dictionary::Dictionary;
use crate::store::events::EventLog;
use crate::store::history::History;
use crate::store::range_index::IndexConfig;

impl Table {
    /// Writes the table for a snapshot: every key in id order (deleted
    /// ones too: ids never move), the live ids, each column, the events.
    ///
    /// On two threads: the keys and the first columns into `e`, the other
    /// columns and the events into a second buffer appended after them,
    /// so the bytes are the same as one thread's (a checkpoint holds the
    /// engine while this runs).
    pub(crate) fn encode(&self, e: &mut Enc) {
        // The keys cost about as much as a third of ten columns.
        let split = (self.columns.len() * 2).div_ceil(3).min(self.columns.len());
        let split = self.columns.len() - split;
        let (head, tail) = self.columns.split_at(split);
        let second = std::thread::scope(|s| {
            let second = s.spawn(|| {
                let mut e = Enc::default();
                for c in tail {
                    c.encode(&mut e);
                }
                self.events.encode(&mut e);
                for h in self.history.iter().flatten() {
                    h.encode(&mut e);
                }
                e
            });
            e.len(self.keys.len());
            for k in self.keys.iter() {
                e.str(k);
            }
            e.bitmap(&self.live);
            for c in head {
                c.encode(e);
            }
            second.join()
        });
        match second {
            Ok(second) => e.buf.extend_from_slice(&second.buf),
            // A panic in the encoder is a bug; encode the rest here.
            Err(_) => {
                for c in tail {
                    c.encode(e);
                }
                self.events.encode(e);
                for h in self.history.iter().flatten() {
                    h.encode(e);
                }
            }
        }
    }

    /// Reads what [`Table::encode`] wrote and rebuilds the indexes. The key
    /// map is built on another thread while the columns are read: the two
    /// take about as long as each other.
    pub(crate) fn decode(
        schema: Arc<KindSchema>,
        cfg: IndexConfig,
        d: &mut Dec,
        version: u32,
    ) -> Result<Table, SnapshotError> {
        let mut t = Table::with_config(schema.clone(), cfg);
        let kind = schema.name();
        let n = d.count(8, what!("table `{kind}`, key count"))?;
        if n as u64 > t.max_keys {
            return Err(d.invalid(format!("table `{kind}`"), format!("{n} keys, more than ids can number")));
        }
        let mut key_bytes = d.split_strings(n, what!("table `{kind}`, keys"))?;
        let (keys, rest) = std::thread::scope(|s| {
            let keys = s.spawn(move || decode_keys(&mut key_bytes, n, kind));
            let rest = (|| {
                t.live = d.bitmap(n as u64, what!("table `{kind}`, live ids"))?;
                for (f, name, ty) in schema.fields() {
                    t.columns[f.index()] =
                        Column::decode(ty, cfg, &t.live, d, what!("table `{kind}`, column `{name}`"))?;
                }
                finish_bulk(&mut t.columns, cfg);
                t.events = EventLog::decode(&t.live, d, version, what!("table `{kind}`"))?;
                if version >= 4 {
                    for (f, name, _) in schema.fields() {
                        if let Some(keep) = schema.tracked(name) {
                            t.history[f.index()] = Some(History::decode(
                                keep,
                                &t.live,
                                d,
                                what!("table `{kind}`, history of `{name}`"),
                            )?);
                        }
                    }
                }
                Ok(())
            })();
            (keys.join(), rest)
        });
        // The keys come first in the snapshot, so their error is reported first.
        t.keys = keys.unwrap_or_else(|_| Err(d.invalid(format!("table `{kind}`"), "reading the keys failed")))?;
        rest?;
        Ok(t)
    }
}

/// The keys of a table, in id order; each must be new and non-empty.
fn decode_keys(d: &mut Dec, n: usize, kind: &str) -> Result<Dictionary, SnapshotError> {
    let mut keys = Dictionary::with_capacity(n);
    for i in 0..n {
        let at = d.offset();
        let key = d.str(what!("table `{kind}`, key {i}"))?;
        if key.is_empty() || !keys.insert_full(key).1 {
            let why = if key.is_empty() { "is empty" } else { "appears twice" };
            return Err(d.invalid_at(at, format!("table `{kind}`, key {i}"), format!("key `{key}` {why}")));
        }
    }
    Ok(keys)
}
