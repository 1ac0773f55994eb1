//! The words of a string or tags column, each with a dense code: one byte
//! arena with the words end to end, their offsets, and a hash table of
//! codes for lookups by word.
//!
//! A substring, prefix or suffix test over every word is one `memmem` pass
//! over the arena (SIMD-accelerated), not one call per word. A dictionary
//! past [`GRAM_BYTES`] is searched through a trigram index instead
//! ([`Grams`], built on its first search of a pattern of three bytes or
//! more and kept up to date by every insert after): the candidates it
//! names are checked against the pattern, and only when they are many is
//! the arena scanned. A word costs its bytes, an 8-byte offset and a slot
//! of the hash table (about 5 bytes), against about 60 bytes besides its
//! own for an `IndexSet<Box<str>>`; the trigram index, once built, about
//! as much again as the arena.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::{PoisonError, RwLock};

use hashbrown::HashTable;
use memchr::memmem;

use super::cores;
use super::grams::Grams;

/// Where a pattern must stand in a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Find {
    /// Anywhere.
    Contains,
    /// At its start.
    Prefix,
    /// At its end.
    Suffix,
}

impl Find {
    /// Whether `pat` stands in `word` as `self` says.
    pub(crate) fn stands_in(self, word: &str, pat: &str) -> bool {
        match self {
            Find::Contains => word.contains(pat),
            Find::Prefix => word.starts_with(pat),
            Find::Suffix => word.ends_with(pat),
        }
    }
}

/// Dictionaries larger than this many bytes are searched on every core.
const PARALLEL_BYTES: usize = 16 << 20;

/// Dictionaries of at least this many bytes are searched through a trigram
/// index; below it a scan takes at most a couple of milliseconds.
pub(crate) const GRAM_BYTES: usize = 16 << 20;

/// The arena is scanned when the trigram candidates are more than the
/// words over this divisor (and more than [`CHECK_ALWAYS`]): checking a
/// candidate costs a cache miss or two, scanning a word a few nanoseconds.
const SCAN_DIVISOR: u64 = 64;

/// This many candidates are always checked one by one (well under a
/// millisecond).
const CHECK_ALWAYS: u64 = 4096;

/// Words scanned between two checks of the caller's `stop`.
const RUN: usize = 1 << 16;

/// How much of a trigram index a search may build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Build {
    /// All of it: a search that must finish anyway.
    Whole,
    /// One round of runs of words (a few tens of milliseconds at most),
    /// the words not yet covered being scanned: a search under a budget,
    /// which so never costs much more than a scan while the index grows.
    Round,
}

/// A `stop` that never stops.
#[cfg(test)]
fn never() -> bool {
    false
}

/// Words with dense codes in insertion order; words are never removed.
#[derive(Default)]
pub(crate) struct Dictionary {
    bytes: Vec<u8>,
    /// `starts[c]..starts[c + 1]` is word `c`; one more entry than words.
    starts: Vec<u64>,
    table: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// The trigram index, once a search has started it. It covers the
    /// words a search has indexed (all of them, unless the last build was
    /// stopped by a budget; the next search goes on from there), and
    /// inserts keep a whole index whole.
    grams: RwLock<Option<Grams>>,
}

impl Clone for Dictionary {
    fn clone(&self) -> Dictionary {
        Dictionary {
            bytes: self.bytes.clone(),
            starts: self.starts.clone(),
            table: self.table.clone(),
            hasher: self.hasher.clone(),
            grams: RwLock::new(self.grams_read().clone()),
        }
    }
}

impl fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Dictionary) -> bool {
        self.starts == other.starts && self.bytes == other.bytes
    }
}

impl Dictionary {
    pub(crate) fn with_capacity(words: usize) -> Dictionary {
        let mut starts = Vec::with_capacity(words + 1);
        starts.push(0);
        Dictionary {
            bytes: Vec::new(),
            starts,
            table: HashTable::with_capacity(words),
            hasher: Default::default(),
            grams: RwLock::new(None),
        }
    }

    /// Makes room for `bytes` more bytes of words.
    pub(crate) fn reserve_bytes(&mut self, bytes: usize) {
        self.bytes.reserve(bytes);
    }

    pub(crate) fn new() -> Dictionary {
        Dictionary::with_capacity(0)
    }

    /// The number of words.
    pub(crate) fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn word(&self, code: usize) -> &str {
        word_of(&self.bytes, &self.starts, code)
    }

    /// The word of `code`.
    pub(crate) fn get_index(&self, code: usize) -> Option<&str> {
        (code < self.len()).then(|| self.word(code))
    }

    /// The code of `word`.
    pub(crate) fn get_index_of(&self, word: &str) -> Option<usize> {
        let h = self.hasher.hash_one(word.as_bytes());
        self.table
            .find(h, |&c| {
                bytes_of(&self.bytes, &self.starts, c as usize) == word.as_bytes()
            })
            .map(|&c| c as usize)
    }

    /// The code of `word`, added if new, and whether it was.
    pub(crate) fn insert_full(&mut self, word: &str) -> (usize, bool) {
        let h = self.hasher.hash_one(word.as_bytes());
        let Dictionary {
            bytes,
            starts,
            table,
            hasher,
            grams,
        } = self;
        let text = |c: u32| bytes_of(bytes, starts, c as usize);
        let code = starts.len() as u32 - 1;
        match table.entry(h, |&c| text(c) == word.as_bytes(), |&c| hasher.hash_one(text(c))) {
            hashbrown::hash_table::Entry::Occupied(e) => (*e.get() as usize, false),
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(code);
                bytes.extend_from_slice(word.as_bytes());
                starts.push(bytes.len() as u64);
                if let Some(g) = grams.get_mut().unwrap_or_else(PoisonError::into_inner) {
                    g.add(code, word.as_bytes());
                }
                (code as usize, true)
            }
        }
    }

    /// Appends `word` as the next code without indexing it: a dictionary
    /// so built answers nothing until [`Dictionary::index_all`] has run.
    pub(crate) fn push_unindexed(&mut self, word: &str) {
        self.bytes.extend_from_slice(word.as_bytes());
        self.starts.push(self.bytes.len() as u64);
    }

    /// Indexes every word of a dictionary built by
    /// [`Dictionary::push_unindexed`]; false (and the table unusable) if
    /// two words are equal.
    ///
    /// The words are hashed first, then entered in the order of their
    /// slots in the table: a million words entered in code order would
    /// each miss the cache on a slot far from the last one's.
    pub(crate) fn index_all(&mut self) -> bool {
        let n = self.len();
        let Dictionary {
            bytes,
            starts,
            table,
            hasher,
            ..
        } = self;
        let text = |c: u32| bytes_of(bytes, starts, c as usize);
        let hashes: Vec<u64> = (0..n as u32).map(|c| hasher.hash_one(text(c))).collect();
        *table = HashTable::with_capacity(n);
        // About the table's slot count (hashbrown's: a power of two, an
        // eighth over capacity); the order is only for speed.
        let slots = (n.max(8) * 8 / 7).next_power_of_two() as u64;
        let bits = slots.trailing_zeros();
        let shift = bits.saturating_sub(16);
        let slot = |h: u64| ((h & (slots - 1)) >> shift) as usize;
        let mut start = vec![0usize; (1usize << (bits - shift)) + 1];
        for &h in &hashes {
            start[slot(h) + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut order = vec![(0u64, 0u32); n];
        for (c, &h) in hashes.iter().enumerate() {
            let s = &mut start[slot(h)];
            order[*s] = (h, c as u32);
            *s += 1;
        }
        // The table never grows (made for `n`): rehashing is never asked.
        drop(hashes);
        for (h, c) in order {
            match table.entry(h, |&o| text(o) == text(c), |&o| hasher.hash_one(text(o))) {
                hashbrown::hash_table::Entry::Occupied(_) => return false,
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(c);
                }
            }
        }
        true
    }

    /// The first code whose word an earlier code has too, in a dictionary
    /// built by [`Dictionary::push_unindexed`] (the slow way: only a load
    /// that failed asks).
    pub(crate) fn first_repeat(&self) -> Option<usize> {
        let mut seen: HashTable<u32> = HashTable::with_capacity(self.len());
        let text = |c: u32| bytes_of(&self.bytes, &self.starts, c as usize);
        for c in 0..self.len() as u32 {
            let h = self.hasher.hash_one(text(c));
            match seen.entry(h, |&o| text(o) == text(c), |&o| self.hasher.hash_one(text(o))) {
                hashbrown::hash_table::Entry::Occupied(_) => return Some(c as usize),
                hashbrown::hash_table::Entry::Vacant(e) => {
                    e.insert(c);
                }
            }
        }
        None
    }

    /// Makes room for `words` more words to push unindexed.
    pub(crate) fn reserve_unindexed(&mut self, words: usize) {
        self.starts.reserve(words);
    }

    /// Makes room for `words` more words (their bytes grow as they come).
    pub(crate) fn reserve(&mut self, words: usize) {
        self.starts.reserve(words);
        let Dictionary {
            bytes,
            starts,
            table,
            hasher,
            ..
        } = self;
        table.reserve(words, |&c| hasher.hash_one(bytes_of(bytes, starts, c as usize)));
    }

    /// Gives back the room reserved but not used.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.starts.shrink_to_fit();
        let Dictionary {
            bytes,
            starts,
            table,
            hasher,
            ..
        } = self;
        table.shrink_to_fit(|&c| hasher.hash_one(bytes_of(bytes, starts, c as usize)));
    }

    /// Forgets every word from code `len` on (words added since the
    /// dictionary had `len` of them: a failed write's rollback).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        self.table.retain(|c| (*c as usize) < len);
        self.bytes.truncate(self.starts[len] as usize);
        self.starts.truncate(len + 1);
        // A trigram index, if any, may cover the forgotten words: drop it
        // (the next search builds it again).
        *self.grams.get_mut().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The words, by code.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|c| self.word(c))
    }

    /// The codes of the words for which `m` holds with `pat`, ascending;
    /// `None` if `stop` answered true first (it is asked between runs of
    /// words, so a search gives up within a fraction of a millisecond).
    ///
    /// A dictionary past [`GRAM_BYTES`] is searched through its trigram
    /// index, which `build` says how far to build here if it does not yet
    /// cover every word; one of more than 16 MiB is scanned on every core,
    /// each taking a run of whole words.
    pub(crate) fn matching(
        &self,
        m: Find,
        pat: &str,
        build: Build,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Option<Vec<u32>> {
        if pat.len() >= 3 && self.bytes.len() >= GRAM_BYTES {
            if let Some(codes) = self.by_grams(m, pat, build, stop)? {
                return Some(codes);
            }
        }
        self.matching_in(m, pat, 0, stop)
    }

    /// The search through the trigram index, building (or extending) it as
    /// `build` says: its candidates checked one by one, and the words it
    /// does not cover yet scanned. `None` if `stop` answered true first
    /// (the index keeps what was built), and `None` inside when the
    /// candidates are too many to check one by one.
    fn by_grams(&self, m: Find, pat: &str, build: Build, stop: &(dyn Fn() -> bool + Sync)) -> Option<Option<Vec<u32>>> {
        if self.grams_read().as_ref().map_or(0, Grams::covered) < self.len() {
            // Another search may have extended it meanwhile: extending is
            // then a no-op.
            let rounds = match build {
                Build::Whole => usize::MAX,
                Build::Round => 1,
            };
            let mut w = self.grams.write().unwrap_or_else(PoisonError::into_inner);
            w.get_or_insert_with(Grams::default)
                .extend(&self.bytes, &self.starts, cores(), rounds, stop);
            if stop() {
                return None;
            }
        }
        let g = self.grams_read();
        let grams = g.as_ref()?;
        let covered = grams.covered();
        let cands = grams.candidates(pat.as_bytes())?;
        if cands.len() > (covered as u64 / SCAN_DIVISOR).max(CHECK_ALWAYS) {
            return Some(None);
        }
        let mut out = Vec::new();
        for (k, c) in cands.iter().enumerate() {
            if k % RUN == RUN - 1 && stop() {
                return None;
            }
            if m.stands_in(self.word(c as usize), pat) {
                out.push(c);
            }
        }
        if covered < self.len() {
            out.extend(self.matching_in(m, pat, covered, stop)?);
        }
        Some(Some(out))
    }

    /// The trigram index, read (a panic elsewhere while it was written
    /// leaves at worst a partial index, which is still correct).
    fn grams_read(&self) -> std::sync::RwLockReadGuard<'_, Option<Grams>> {
        self.grams.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// As [`Dictionary::matching`] without the index, over the words from
    /// code `first` on: on every core past 16 MiB of them.
    fn matching_in(&self, m: Find, pat: &str, first: usize, stop: &(dyn Fn() -> bool + Sync)) -> Option<Vec<u32>> {
        let bytes = self.bytes.len() - self.starts[first] as usize;
        self.scan_in(m, pat, first, if bytes < PARALLEL_BYTES { 1 } else { cores() }, stop)
    }

    /// The scan of words `first..` in `parts` runs of words on as many
    /// threads.
    fn scan_in(
        &self,
        m: Find,
        pat: &str,
        first: usize,
        parts: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Option<Vec<u32>> {
        if pat.is_empty() {
            return Some((first as u32..self.len() as u32).collect());
        }
        let finder = memmem::Finder::new(pat.as_bytes());
        let n = self.len() - first;
        let cuts: Vec<usize> = (0..=parts).map(|k| first + n * k / parts).collect();
        let run = |first: usize, last: usize| {
            let mut out = Vec::new();
            for from in (first..last).step_by(RUN) {
                if stop() {
                    return None;
                }
                out.extend(self.search(&finder, m, from, (from + RUN).min(last)));
            }
            Some(out)
        };
        if parts <= 1 {
            return run(first, self.len());
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = cuts
                .windows(2)
                .map(|w| {
                    let run = &run;
                    s.spawn(move || run(w[0], w[1]))
                })
                .collect();
            let mut out = Vec::new();
            for h in handles {
                // The search does not panic; a panic is passed on as it is.
                match h.join() {
                    Ok(codes) => out.extend(codes?),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            Some(out)
        })
    }

    /// The codes in `first..last` of the words for which `m` holds.
    fn search(&self, finder: &memmem::Finder<'_>, m: Find, first: usize, last: usize) -> Vec<u32> {
        let n = finder.needle().len();
        let stop = self.starts[last] as usize;
        let mut out = Vec::new();
        let mut at = self.starts[first] as usize;
        // Matches come in order: the word of each is found by galloping
        // forward from the word of the last, in O(log gap).
        let mut w = first;
        while let Some(i) = finder.find(&self.bytes[at..stop]) {
            let p = at + i;
            w = self.word_at(w, p);
            let (start, end) = (self.starts[w] as usize, self.starts[w + 1] as usize);
            let hit = p + n <= end
                && match m {
                    Find::Contains => true,
                    Find::Prefix => p == start,
                    Find::Suffix => p + n == end,
                };
            if hit {
                out.push(w as u32);
                at = end;
            } else if m == Find::Prefix || p + n > end {
                // No prefix later in this word; a match across a boundary
                // may be followed by one inside the next word.
                at = if m == Find::Prefix { end.max(p + 1) } else { p + 1 };
            } else {
                at = p + 1;
            }
        }
        out
    }

    /// The word that byte `p` falls in (the last whose start is at or
    /// before it), searching forward from word `from`, which starts at or
    /// before `p`.
    fn word_at(&self, from: usize, p: usize) -> usize {
        let at_or_before = |w: usize| self.starts[w] as usize <= p;
        let mut lo = from;
        let mut step = 1;
        // Gallop: the first `lo + step` past `p`, or the end.
        while lo + step < self.starts.len() && at_or_before(lo + step) {
            lo += step;
            step *= 2;
        }
        let hi = (lo + step).min(self.starts.len());
        lo + self.starts[lo..hi].partition_point(|&s| s as usize <= p) - 1
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.starts.capacity() * 8
            + self.table.capacity() * 5
            + self.grams_read().as_ref().map_or(0, Grams::heap_bytes)
    }
}

/// Word `code` of an arena and its offsets (split from the dictionary so
/// that a lookup can borrow them beside its hash table).
fn word_of<'a>(bytes: &'a [u8], starts: &[u64], code: usize) -> &'a str {
    // Only whole `&str`s are appended, so every word is valid UTF-8; the
    // checked conversion keeps the crate free of `unsafe`.
    std::str::from_utf8(bytes_of(bytes, starts, code)).unwrap_or_default()
}

/// Word `code`'s bytes: what the hash table hashes and compares, without
/// the UTF-8 check a `&str` would cost on every probe.
fn bytes_of<'a>(bytes: &'a [u8], starts: &[u64], code: usize) -> &'a [u8] {
    &bytes[starts[code] as usize..starts[code + 1] as usize]
}

impl std::ops::Index<usize> for Dictionary {
    type Output = str;

    fn index(&self, code: usize) -> &str {
        self.word(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn indexing_all_at_once_finds_what_inserting_one_by_one_does() {
        let words: Vec<String> = (0..50_000).map(|i| format!("w{}", i * 7919 % 100_003)).collect();
        let mut d = Dictionary::new();
        for w in &words {
            d.push_unindexed(w);
        }
        assert!(d.index_all());
        for (c, w) in words.iter().enumerate() {
            assert_eq!(d.get_index_of(w), Some(c));
        }
        assert_eq!(d.get_index_of("w-1"), None);
        assert_eq!(d.insert_full("new"), (words.len(), true));
        assert_eq!(d.insert_full(&words[9]), (9, false));
        // One word twice, far apart: refused.
        let mut d = Dictionary::new();
        for w in words.iter().chain([&words[123]]) {
            d.push_unindexed(w);
        }
        assert!(!d.index_all());
    }

    #[test]
    fn truncating_forgets_the_newest_words_only() {
        let mut d = Dictionary::new();
        for w in ["a", "bb", "ccc", "dddd"] {
            d.insert_full(w);
        }
        d.reserve(100);
        d.truncate(2);
        assert_eq!(d.iter().collect::<Vec<_>>(), ["a", "bb"]);
        assert_eq!(d.get_index_of("ccc"), None);
        assert_eq!(d.get_index_of("bb"), Some(1));
        assert_eq!(d.insert_full("dddd"), (2, true));
        d.shrink_to_fit();
        assert_eq!(d.iter().collect::<Vec<_>>(), ["a", "bb", "dddd"]);
        assert_eq!(d.get_index_of("dddd"), Some(2));
        d.truncate(5);
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn lookups_and_codes() {
        let mut d = Dictionary::new();
        assert_eq!(d.insert_full("pro"), (0, true));
        assert_eq!(d.insert_full(""), (1, true));
        assert_eq!(d.insert_full("free"), (2, true));
        assert_eq!(d.insert_full("pro"), (0, false));
        assert_eq!(d.get_index_of("free"), Some(2));
        assert_eq!(d.get_index_of(""), Some(1));
        assert_eq!(d.get_index_of("fre"), None);
        assert_eq!(d.get_index(2), Some("free"));
        assert_eq!(d.get_index(3), None);
        assert_eq!(&d[0], "pro");
        assert_eq!(d.iter().collect::<Vec<_>>(), ["pro", "", "free"]);
    }

    #[test]
    fn the_trigram_index_follows_inserts() {
        let mut d = Dictionary::new();
        d.insert_full("alphabet");
        assert_eq!(
            d.by_grams(Find::Contains, "pha", Build::Whole, &never),
            Some(Some(vec![0]))
        );
        d.insert_full("graphic");
        d.insert_full("alpha");
        assert_eq!(
            d.by_grams(Find::Contains, "pha", Build::Whole, &never),
            Some(Some(vec![0, 2]))
        );
        assert_eq!(
            d.by_grams(Find::Prefix, "gra", Build::Whole, &never),
            Some(Some(vec![1]))
        );
        assert_eq!(
            d.by_grams(Find::Suffix, "pha", Build::Whole, &never),
            Some(Some(vec![2]))
        );
        assert_eq!(
            d.by_grams(Find::Contains, "xyz", Build::Whole, &never),
            Some(Some(vec![]))
        );
        assert!(
            d.heap_bytes() > d.bytes.capacity() + d.starts.capacity() * 8,
            "the index is counted"
        );
        // A stop during the build leaves it to the next search.
        let mut e = Dictionary::new();
        e.insert_full("alphabet");
        assert_eq!(e.by_grams(Find::Contains, "pha", Build::Whole, &|| true), None);
        e.insert_full("graphic");
        assert_eq!(
            e.by_grams(Find::Contains, "phi", Build::Round, &never),
            Some(Some(vec![1]))
        );
    }

    proptest! {
        /// Each search agrees with testing every word, matches across word
        /// boundaries included.
        #[test]
        fn search_equals_a_scan(words in proptest::collection::vec("[ab]{0,5}", 0..40), pat in "[ab]{0,3}") {
            let mut d = Dictionary::new();
            for w in &words {
                d.insert_full(w);
            }
            for m in [Find::Contains, Find::Prefix, Find::Suffix] {
                let want: Vec<u32> = d.iter().enumerate().filter(|(_, w)| m.stands_in(w, &pat)).map(|(i, _)| i as u32).collect();
                prop_assert_eq!(d.matching(m, &pat, Build::Whole, &never), Some(want.clone()), "{:?}", m);
                for parts in [2, 3, 7] {
                    prop_assert_eq!(d.scan_in(m, &pat, 0, parts, &never), Some(want.clone()), "{:?} in {} parts", m, parts);
                    let from = d.len() / 2;
                    let tail: Vec<u32> = want.iter().copied().filter(|&c| c as usize >= from).collect();
                    prop_assert_eq!(d.scan_in(m, &pat, from, parts, &never), Some(tail), "{:?} from {}", m, from);
                }
                // Through the trigram index (words added after it was built
                // included), when it answers.
                if let Some(Some(codes)) = d.by_grams(m, &pat, Build::Whole, &never) {
                    prop_assert_eq!(codes, want.clone(), "{:?} by trigrams", m);
                }
            }
        }
    }
}
