//! Behavioural data: for each entity, when it did what.

use indexmap::IndexSet;
use roaring::RoaringBitmap;

/// The events of one kind's entities, by event name.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventLog {
    names: IndexSet<Box<str>>,
    /// Per name, per entity id: the instants in microseconds, sorted
    /// (events may arrive out of order; equal instants are kept).
    times: Vec<Vec<Vec<i64>>>,
    /// Per name: the entities with at least one such event.
    has: Vec<RoaringBitmap>,
    /// The entities with any event, and their first and last instants.
    any: RoaringBitmap,
    any_first: Vec<i64>,
    any_last: Vec<i64>,
    total: u64,
}

impl EventLog {
    /// The index of an event name, if any event of it was recorded.
    pub(crate) fn name(&self, name: &str) -> Option<usize> {
        self.names.get_index_of(name)
    }

    pub(crate) fn record(&mut self, id: u32, name: &str, micros: i64) {
        let n = match self.names.get_index_of(name) {
            Some(n) => n,
            None => {
                self.names.insert(name.into());
                self.times.push(Vec::new());
                self.has.push(RoaringBitmap::new());
                self.names.len() - 1
            }
        };
        let i = id as usize;
        let per = &mut self.times[n];
        if per.len() <= i {
            per.resize_with(i + 1, Vec::new);
        }
        let ts = &mut per[i];
        let at = ts.partition_point(|&t| t <= micros);
        ts.insert(at, micros);
        self.has[n].insert(id);
        if self.any_first.len() <= i {
            self.any_first.resize(i + 1, i64::MAX);
            self.any_last.resize(i + 1, i64::MIN);
        }
        self.any_first[i] = self.any_first[i].min(micros);
        self.any_last[i] = self.any_last[i].max(micros);
        self.any.insert(id);
        self.total += 1;
    }

    /// Forgets every event of an entity (it was deleted).
    pub(crate) fn clear(&mut self, id: u32) {
        if !self.any.remove(id) {
            return;
        }
        let i = id as usize;
        for (per, has) in self.times.iter_mut().zip(&mut self.has) {
            if let Some(ts) = per.get_mut(i) {
                self.total -= ts.len() as u64;
                *ts = Vec::new();
            }
            has.remove(id);
        }
        self.any_first[i] = i64::MAX;
        self.any_last[i] = i64::MIN;
    }

    /// The instants of event `name` (an index) of entity `id`, sorted.
    pub(crate) fn times(&self, name: usize, id: u32) -> &[i64] {
        self.times[name].get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// The entities with an event of `name`, or with any event.
    pub(crate) fn who(&self, name: Option<usize>) -> &RoaringBitmap {
        match name {
            Some(n) => &self.has[n],
            None => &self.any,
        }
    }

    /// The first and last instants of `name` (or of any event) for `id`.
    pub(crate) fn span(&self, name: Option<usize>, id: u32) -> Option<(i64, i64)> {
        match name {
            Some(n) => {
                let ts = self.times(n, id);
                Some((*ts.first()?, *ts.last()?))
            }
            None => self
                .any
                .contains(id)
                .then(|| (self.any_first[id as usize], self.any_last[id as usize])),
        }
    }

    /// The number of events recorded.
    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// The names of the events recorded, in order of first appearance.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.names.iter().map(|n| &**n)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let times: usize = self
            .times
            .iter()
            .map(|per| per.capacity() * 24 + per.iter().map(|t| t.capacity() * 8).sum::<usize>())
            .sum();
        times + self.any_first.capacity() * 16 + self.has.iter().map(|b| b.serialized_size()).sum::<usize>()
    }
}
