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

/// Words are indexed in runs of this many between two checks of `stop`.
const RUN: usize = 1 << 16;

/// The trigram of `w` (three bytes) as one number.
fn gram(w: &[u8]) -> u32 {
    u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2])
}

impl Grams {
    /// The index of words `0..starts.len() - 1` of an arena, built in
    /// `parts` runs on as many threads; `None` if `stop` answered true
    /// before it was done.
    pub(crate) fn build(bytes: &[u8], starts: &[u64], parts: usize, stop: &(dyn Fn() -> bool + Sync)) -> Option<Grams> {
        let words = starts.len().saturating_sub(1);
        let parts = parts.clamp(1, 8);
        let cuts: Vec<usize> = (0..=parts).map(|k| words * k / parts).collect();
        let index = |first: usize, last: usize| {
            let mut g = Grams::default();
            for run in (first..last).step_by(RUN) {
                if stop() {
                    return None;
                }
                for code in run..(run + RUN).min(last) {
                    let (a, b) = (starts[code] as usize, starts[code + 1] as usize);
                    g.add_words(code as u32, &bytes[a..b]);
                }
            }
            Some(g)
        };
        let mut pieces = if parts == 1 {
            vec![index(0, words)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = cuts
                    .windows(2)
                    .map(|w| {
                        let index = &index;
                        s.spawn(move || index(w[0], w[1]))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        }
        .into_iter();
        let mut out = pieces.next()??;
        for piece in pieces {
            // Each piece covers later codes than the ones before it.
            for (k, list) in piece?.lists {
                *out.lists.entry(k).or_default() |= list;
            }
        }
        out.covered = words;
        Some(out)
    }

    /// Adds word `code`, the next one (`code == covered`).
    pub(crate) fn add(&mut self, code: u32, word: &[u8]) {
        debug_assert_eq!(code as usize, self.covered);
        self.add_words(code, word);
        self.covered += 1;
    }

    fn add_words(&mut self, code: u32, word: &[u8]) {
        for w in word.windows(3) {
            // Refused only for a code already there: the same trigram earlier in the word.
            let _ = self.lists.entry(gram(w)).or_default().try_push(code);
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
