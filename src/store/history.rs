//! The changes of a tracked field: per entity, its last values, each with
//! the instant it was written.

use roaring::RoaringBitmap;

use crate::error::SnapshotError;
use crate::snapshot::codec::{Dec, Enc};
use crate::value::{Num, Value};

/// A tracked field's value at one change: `None` when it was cleared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sample {
    Missing,
    Int(i64),
    Float(f64),
}

impl Sample {
    pub(crate) fn of(v: &Value) -> Sample {
        match v {
            Value::Int(i) => Sample::Int(*i),
            Value::Float(x) => Sample::Float(*x),
            _ => Sample::Missing,
        }
    }

    pub(crate) fn num(self) -> Option<Num> {
        match self {
            Sample::Missing => None,
            Sample::Int(i) => Some(Num::Int(i.into())),
            Sample::Float(x) => Some(Num::Float(x)),
        }
    }

    pub(crate) fn to_value(self) -> Value {
        match self {
            Sample::Missing => Value::Null,
            Sample::Int(i) => Value::Int(i),
            Sample::Float(x) => Value::Float(x),
        }
    }
}

/// One tracked field's changes.
#[derive(Debug, Clone)]
pub(crate) struct History {
    keep: usize,
    /// Per entity id: `(instant µs, value)` in time order, at most `keep`.
    per: Vec<Vec<(i64, Sample)>>,
    /// The entities with at least one change.
    who: RoaringBitmap,
}

impl History {
    pub(crate) fn new(keep: usize) -> History {
        History {
            keep,
            per: Vec::new(),
            who: RoaringBitmap::new(),
        }
    }

    /// Records that `id`'s value is `v` at `now`, if it changed: a change at
    /// the instant of the last one (or before it: instants never go back)
    /// replaces its value; the oldest change past the bound goes.
    pub(crate) fn stamp(&mut self, id: u32, now: i64, v: Sample) {
        let i = id as usize;
        if self.per.len() <= i {
            self.per.resize_with(i + 1, Vec::new);
        }
        let h = &mut self.per[i];
        match h.last_mut() {
            Some(last) if last.1 == v => return,
            Some(last) if last.0 >= now => last.1 = v,
            None if v == Sample::Missing => return,
            _ => h.push((now, v)),
        }
        if h.len() > self.keep {
            let extra = h.len() - self.keep;
            h.drain(..extra);
        }
        self.who.insert(id);
    }

    /// Forgets `id`'s changes (it was deleted).
    pub(crate) fn clear(&mut self, id: u32) {
        if self.who.remove(id) {
            self.per[id as usize] = Vec::new();
        }
    }

    /// `id`'s changes, in time order.
    pub(crate) fn of(&self, id: u32) -> &[(i64, Sample)] {
        self.per.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The entities with a change.
    pub(crate) fn who(&self) -> &RoaringBitmap {
        &self.who
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.per.capacity() * 24 + self.per.iter().map(|h| h.capacity() * 24).sum::<usize>()
    }

    /// Writes the changes: the entities that have some, then each one's.
    pub(crate) fn encode(&self, e: &mut Enc) {
        e.bitmap(&self.who);
        for id in &self.who {
            let h = self.of(id);
            e.len(h.len());
            for &(t, v) in h {
                e.i64(t);
                match v {
                    Sample::Missing => e.u8(0),
                    Sample::Int(i) => {
                        e.u8(1);
                        e.i64(i);
                    }
                    Sample::Float(x) => {
                        e.u8(2);
                        e.u64(x.to_bits());
                    }
                }
            }
        }
    }

    /// Reads what [`History::encode`] wrote, for live ids `live`.
    pub(crate) fn decode(
        keep: usize,
        live: &RoaringBitmap,
        d: &mut Dec,
        what: &dyn Fn() -> String,
    ) -> Result<History, SnapshotError> {
        let at = d.offset();
        let who = d.bitmap(u64::from(u32::MAX) + 1, what)?;
        d.subset(at, &who, live, "live", what)?;
        let mut h = History::new(keep);
        h.per.resize_with(who.max().map_or(0, |m| m as usize + 1), Vec::new);
        for id in &who {
            let at = d.offset();
            let n = d.count(9, what)?;
            if n == 0 || n > keep {
                return Err(d.invalid_at(at, what(), format!("entity {id}: {n} changes, bound {keep}")));
            }
            let mut changes = Vec::with_capacity(n);
            for _ in 0..n {
                let t = d.i64(what)?;
                let v = match d.u8(what)? {
                    0 => Sample::Missing,
                    1 => Sample::Int(d.i64(what)?),
                    2 => Sample::Float(f64::from_bits(d.u64(what)?)),
                    b => return Err(d.invalid_at(at, what(), format!("entity {id}: unknown value tag {b}"))),
                };
                if changes.last().is_some_and(|&(p, _)| p >= t) || matches!(v, Sample::Float(x) if !x.is_finite()) {
                    return Err(d.invalid_at(at, what(), format!("entity {id}: changes out of order or not finite")));
                }
                changes.push((t, v));
            }
            h.per[id as usize] = changes;
        }
        h.who = who;
        Ok(h)
    }
}
