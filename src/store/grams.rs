//! A trigram index over a dictionary's words: for every three-byte window
//! that occurs in some word, the codes of the words it occurs in.
//!
//! A word that contains a pattern of three bytes or more contains each of
//! the pattern's trigrams, so the intersection of their code lists holds
//! every match (and maybe some words that have the trigrams apart); the
//! candidates are then checked against the pattern itself. A trigram that
//! no word has answers "no match" without reading any word.
//!
//! Codes are added in increasing order (a dictionary only appends), so each
//! list grows at its end: [`RoaringBitmap::try_push`] refuses a repeated code,
//! which makes a trigram that appears twice in a word cost nothing more.

use hashbrown::HashMap;
use roaring::RoaringBitmap;

/// Trigram lists, with the number of words they cover (codes `0..covered`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Grams {
    lists: HashMap<u32, RoaringBitmap>,
    covered: usize,
}

/// Words are indexed in runs of this many codes (those of one roaring
/// container), with a check of `stop` between two rounds of runs.
const RUN: usize = 1 << 16;

/// The trigram of `w` (three bytes) as one number.
fn gram(w: &[u8]) -> u32 {
    u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2])
}

/// The scratch space of one thread indexing runs of words.
#[derive(Default)]
struct Scratch {
    /// A run's lists by trigram.
    slots: HashMap<u32, u32>,
    /// A run's (list, low 16 bits of the code) pairs, in code order.
    pairs: Vec<(u32, u16)>,
    counts: Vec<u32>,
    sorted: Vec<u16>,
}

impl Scratch {
    /// The lists of the run of codes `first..last` (`first` a multiple of
    /// [`RUN`], `last` at most a run later), each trigram's codes gathered
    /// with a counting sort and appended in one go: appending code by code
    /// to thousands of lists at once would touch as many cache lines per
    /// word as it has trigrams.
    fn run(&mut self, bytes: &[u8], starts: &[u64], first: usize, last: usize) -> Vec<(u32, RoaringBitmap)> {
        let mut lists: Vec<(u32, RoaringBitmap)> = Vec::with_capacity(self.slots.len());
        self.slots.clear();
        self.pairs.clear();
        for code in first..last {
            let (a, b) = (starts[code] as usize, starts[code + 1] as usize);
            for w in bytes[a..b].windows(3) {
                let (g, next) = (gram(w), lists.len() as u32);
                let slot = *self.slots.entry(g).or_insert(next);
                if slot == next {
                    lists.push((g, RoaringBitmap::new()));
                }
                self.pairs.push((slot, code as u16));
            }
        }
        self.counts.clear();
        self.counts.resize(lists.len() + 1, 0);
        for &(slot, _) in &self.pairs {
            self.counts[slot as usize + 1] += 1;
        }
        for i in 1..self.counts.len() {
            self.counts[i] += self.counts[i - 1];
        }
        // `counts[s]` is now where list `s` starts; the scatter moves it to
        // where it ends. The pairs of a list keep their (code) order.
        self.sorted.clear();
        self.sorted.resize(self.pairs.len(), 0);
        for &(slot, low) in &self.pairs {
            let at = &mut self.counts[slot as usize];
            self.sorted[*at as usize] = low;
            *at += 1;
        }
        let base = first as u32 & !(RUN as u32 - 1);
        let mut from = 0;
        for (s, (_, list)) in lists.iter_mut().enumerate() {
            let to = self.counts[s] as usize;
            let run = &self.sorted[from..to];
            // A trigram twice in one word gives its code twice in a row.
            let codes = run
                .iter()
                .enumerate()
                .filter(|&(i, &l)| i == 0 || run[i - 1] != l)
                .map(|(_, &l)| base | u32::from(l));
            // Strictly increasing into an empty list: nothing is refused.
            let _ = list.append(codes);
            from = to;
        }
        lists
    }
}

impl Grams {
    /// Extends the index towards every word of an arena (`starts.len() -
    /// 1` words), `parts` runs at a time on as many threads, for at most
    /// `rounds` rounds. `stop` is asked before each round; if it answers
    /// true the index keeps the runs done so far (a later call goes on
    /// from there). Whether the index now covers every word.
    pub(crate) fn extend(
        &mut self,
        bytes: &[u8],
        starts: &[u64],
        parts: usize,
        rounds: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> bool {
        let words = starts.len().saturating_sub(1);
        let parts = parts.clamp(1, 8);
        let mut scratch: Vec<Scratch> = (0..parts).map(|_| Scratch::default()).collect();
        for _ in 0..rounds {
            if self.covered >= words || stop() {
                break;
            }
            // A partial index ends at a run boundary (see `Grams::add`).
            debug_assert_eq!(self.covered % RUN, 0);
            let runs: Vec<(usize, usize)> = (0..parts)
                .map(|k| self.covered + k * RUN)
                .take_while(|&first| first < words)
                .map(|first| (first, (first + RUN).min(words)))
                .collect();
            let pieces: Vec<Vec<(u32, RoaringBitmap)>> = if runs.len() == 1 {
                vec![scratch[0].run(bytes, starts, runs[0].0, runs[0].1)]
            } else {
                std::thread::scope(|s| {
                    let handles: Vec<_> = runs
                        .iter()
                        .zip(scratch.iter_mut())
                        .map(|(&(first, last), sc)| s.spawn(move || sc.run(bytes, starts, first, last)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                        .collect()
                })
            };
            // In code order: each run's codes are past every list's.
            for (gram, list) in pieces.into_iter().flatten() {
                *self.lists.entry(gram).or_default() |= list;
            }
            self.covered = runs.last().map_or(words, |r| r.1);
        }
        self.covered >= words
    }

    /// The index of every word of an arena, as [`Grams::extend`] builds it
    /// from nothing; `None` if `stop` answered true first.
    #[cfg(test)]
    pub(crate) fn build(bytes: &[u8], starts: &[u64], parts: usize, stop: &(dyn Fn() -> bool + Sync)) -> Option<Grams> {
        let mut g = Grams::default();
        g.extend(bytes, starts, parts, usize::MAX, stop).then_some(g)
    }

    /// Adds word `code` if it is the next one (`code == covered`): an index
    /// that covers every word keeps doing so. A partial one (a stopped
    /// [`Grams::extend`]) is left to end at its run boundary; the next
    /// extension indexes the word.
    pub(crate) fn add(&mut self, code: u32, word: &[u8]) {
        if code as usize == self.covered {
            for w in word.windows(3) {
                // Refused only for a code already there: the same trigram earlier in the word.
                let _ = self.lists.entry(gram(w)).or_default().try_push(code);
            }
            self.covered += 1;
        }
    }

    /// The words that have every trigram of `pat`: `None` for a pattern
    /// shorter than three bytes (it has none), otherwise a superset of the
    /// words that contain it, ascending.
    pub(crate) fn candidates(&self, pat: &[u8]) -> Option<RoaringBitmap> {
        if pat.len() < 3 {
            return None;
        }
        let mut keys: Vec<u32> = pat.windows(3).map(gram).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut lists = Vec::with_capacity(keys.len());
        for k in keys {
            match self.lists.get(&k) {
                Some(l) => lists.push(l),
                None => return Some(RoaringBitmap::new()),
            }
        }
        // Smallest first: each intersection is then at most as large as it.
        lists.sort_unstable_by_key(|l| l.len());
        let mut out = lists[0].clone();
        for l in &lists[1..] {
            if out.is_empty() {
                break;
            }
            out &= *l;
        }
        Some(out)
    }

    /// The number of words covered.
    pub(crate) fn covered(&self) -> usize {
        self.covered
    }

    /// Heap bytes held (the lists at their serialized size, which is close
    /// to their size in memory, and the hash table's slots).
    pub(crate) fn heap_bytes(&self) -> usize {
        let slot = 4 + std::mem::size_of::<RoaringBitmap>() + 1;
        self.lists.capacity() * slot + self.lists.values().map(RoaringBitmap::serialized_size).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arena(words: &[String]) -> (Vec<u8>, Vec<u64>) {
        let mut bytes = Vec::new();
        let mut starts = vec![0];
        for w in words {
            bytes.extend_from_slice(w.as_bytes());
            starts.push(bytes.len() as u64);
        }
        (bytes, starts)
    }

    proptest! {
        /// The candidates hold every word that contains the pattern, and
        /// building in parts or word by word gives the same index.
        #[test]
        fn candidates_cover_the_matches(words in proptest::collection::vec("[abc]{0,7}", 0..60), pat in "[abc]{3,5}") {
            let (bytes, starts) = arena(&words);
            let whole = Grams::build(&bytes, &starts, 1, &|| false).expect("not stopped");
            let mut one_by_one = Grams::default();
            for (c, w) in words.iter().enumerate() {
                one_by_one.add(c as u32, w.as_bytes());
            }
            let cands = whole.candidates(pat.as_bytes()).expect("a pattern of three bytes");
            for (c, w) in words.iter().enumerate() {
                if w.contains(&pat) {
                    prop_assert!(cands.contains(c as u32), "{w} contains {pat}");
                }
            }
            for parts in [2, 3, 7] {
                let g = Grams::build(&bytes, &starts, parts, &|| false).expect("not stopped");
                prop_assert_eq!(g.candidates(pat.as_bytes()), Some(cands.clone()));
            }
            prop_assert_eq!(one_by_one.candidates(pat.as_bytes()), Some(cands));
            prop_assert_eq!(one_by_one.covered(), words.len());
        }
    }

    #[test]
    fn runs_and_parts_build_the_same_lists_as_adding_word_by_word() {
        // Over three runs of codes, so parts cut between runs.
        let words: Vec<String> = (0..3 * RUN as u32 + 77)
            .map(|i| format!("{:x}", i.wrapping_mul(2_654_435_761) % 50_000))
            .collect();
        let (bytes, starts) = arena(&words);
        let mut one_by_one = Grams::default();
        for (c, w) in words.iter().enumerate() {
            one_by_one.add(c as u32, w.as_bytes());
        }
        for parts in [1, 2, 3, 5] {
            let g = Grams::build(&bytes, &starts, parts, &|| false).expect("not stopped");
            assert_eq!(g.covered(), words.len());
            assert_eq!(g.lists.len(), one_by_one.lists.len());
            for (k, list) in &one_by_one.lists {
                assert_eq!(g.lists.get(k), Some(list), "trigram {k:06x} in {parts} parts");
            }
        }
    }

    #[test]
    fn a_stopped_extension_goes_on_where_it_stopped() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let words: Vec<String> = (0..7 * RUN as u32 + 9).map(|i| format!("w{i}")).collect();
        let (bytes, starts) = arena(&words);
        let whole = Grams::build(&bytes, &starts, 2, &|| false).expect("not stopped");
        let mut g = Grams::default();
        // Two rounds of two runs, then a stop.
        let asked = AtomicUsize::new(0);
        assert!(!g.extend(&bytes, &starts, 2, usize::MAX, &|| asked
            .fetch_add(1, Ordering::Relaxed)
            == 2));
        assert_eq!(g.covered(), 4 * RUN);
        // A word added to a partial index waits for the next extension.
        g.add(words.len() as u32, b"late");
        assert_eq!(g.covered(), 4 * RUN);
        // One round at a time, as a search under a budget extends it.
        assert!(!g.extend(&bytes, &starts, 2, 1, &|| false));
        assert_eq!(g.covered(), 6 * RUN);
        assert!(g.extend(&bytes, &starts, 2, usize::MAX, &|| false));
        assert_eq!(g.covered(), words.len());
        assert_eq!(g.lists, whole.lists);
    }

    #[test]
    fn short_patterns_and_absent_trigrams() {
        let words: Vec<String> = ["alpha", "beta", "gamma"].map(String::from).to_vec();
        let (bytes, starts) = arena(&words);
        let g = Grams::build(&bytes, &starts, 1, &|| false).expect("not stopped");
        assert_eq!(g.candidates(b"al"), None);
        assert_eq!(g.candidates(b"zzz"), Some(RoaringBitmap::new()));
        assert_eq!(
            g.candidates(b"mma").map(|c| c.iter().collect::<Vec<_>>()),
            Some(vec![2])
        );
        assert!(Grams::build(&bytes, &starts, 1, &|| true).is_none(), "a stop is obeyed");
    }
}
