//! A table's part of a snapshot: its keys in id order, the live ids, each
//! column and the events; decoding rebuilds the indexes.

use std::sync::Arc;

use super::Table;
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
        // Numeric columns go to a queue as they are read, and their
        // indexes are built by whichever thread is free: the keys' thread
        // once the keys are in, this one once every column is read.
        let (jobs, queue) = std::sync::mpsc::channel::<(usize, Column)>();
        let queue = std::sync::Mutex::new(queue);
        let (built_tx, built) = std::sync::mpsc::channel::<(usize, Column)>();
        let work = || loop {
            let job = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
            let Ok((f, mut c)) = job else { break };
            c.finish_bulk(cfg);
            if built_tx.send((f, c)).is_err() {
                break;
            }
        };
        let (keys, rest) = std::thread::scope(|s| {
            let keys = s.spawn(|| {
                let keys = decode_keys(&mut key_bytes, n, kind);
                work();
                keys
            });
            let rest = (|| {
                t.live = d.bitmap(n as u64, what!("table `{kind}`, live ids"))?;
                for (f, name, ty) in schema.fields() {
                    let c = Column::decode(ty, cfg, &t.live, d, what!("table `{kind}`, column `{name}`"))?;
                    if matches!(c, Column::Numeric(_)) {
                        // The receiver lives as long as the scope.
                        let _ = jobs.send((f.index(), c));
                    } else {
                        t.columns[f.index()] = c;
                    }
                }
                Ok(())
            })();
            drop(jobs);
            work();
            (keys.join(), rest)
        });
        // Both workers have stopped, the queue empty: every index is built.
        for (f, c) in built.try_iter() {
            t.columns[f] = c;
        }
        let rest = rest.and_then(|()| {
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
        });
        // The keys come first in the snapshot, so their error is reported first.
        t.keys = keys.unwrap_or_else(|_| Err(d.invalid(format!("table `{kind}`"), "reading the keys failed")))?;
        rest?;
        Ok(t)
    }
}

/// The keys of a table, in id order; each must be new and non-empty.
/// Read whole, then indexed at once ([`Dictionary::index_all`]); only a
/// repeated key sends the read through again, key by key, to name it.
fn decode_keys(d: &mut Dec, n: usize, kind: &str) -> Result<Dictionary, SnapshotError> {
    let mut again = d.clone();
    let mut keys = Dictionary::with_capacity(0);
    for i in 0..n {
        let at = d.offset();
        let key = d.str(what!("table `{kind}`, key {i}"))?;
        if key.is_empty() {
            return Err(d.invalid_at(at, format!("table `{kind}`, key {i}"), format!("key `{key}` is empty")));
        }
        keys.push_unindexed(key);
    }
    if keys.index_all() {
        return Ok(keys);
    }
    decode_keys_one_by_one(&mut again, n, kind)
}

/// As [`decode_keys`], each key entered as it is read.
fn decode_keys_one_by_one(d: &mut Dec, n: usize, kind: &str) -> Result<Dictionary, SnapshotError> {
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
