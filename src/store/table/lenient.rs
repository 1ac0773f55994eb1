//! Loads that report instead of refusing: the good lines of a JSON Lines
//! input are applied, each bad line is reported with its error, and each
//! line is applied whole or not at all.

use std::collections::HashSet;
use std::io::BufRead;

use super::Table;
use crate::error::StoreError;
use crate::store::batch::{check_key, Batch, Source};
use crate::store::json::parse_lines;

/// The lines a lenient load left out ([`Table::insert_json_lines_lenient`],
/// [`Engine::insert_json_lines_lenient`](crate::Engine::insert_json_lines_lenient)).
#[derive(Debug, Default)]
pub struct Rejected {
    /// The first bad lines, each with its error, in input order (at most
    /// the bound the load was given).
    pub lines: Vec<RejectedLine>,
    /// How many lines were left out in all.
    pub total: u64,
}

/// A line a lenient load left out.
#[derive(Debug)]
pub struct RejectedLine {
    /// Its 1-based number in the input.
    pub line: usize,
    /// Why: what a strict load would have refused the whole input for.
    pub error: StoreError,
}

impl Rejected {
    /// Both reports in line order, within the bound.
    pub(crate) fn merge(mut self, other: Rejected, bound: usize) -> Rejected {
        self.total += other.total;
        self.lines.extend(other.lines);
        self.lines.sort_by_key(|r| r.line);
        self.lines.truncate(bound);
        self
    }

    pub(crate) fn push(&mut self, line: usize, error: StoreError, bound: usize) {
        self.total += 1;
        if self.lines.len() < bound {
            let error = match error {
                StoreError::AtLine { source, .. } => *source,
                e => e,
            };
            self.lines.push(RejectedLine { line, error });
        }
    }
}

impl Table {
    /// Reads `reader` whole into lines, leaving out (and reporting) lines
    /// longer than [`Table::max_line_bytes`] without holding them.
    pub(crate) fn read_lines_lenient(
        &self,
        mut reader: impl BufRead,
        rejected: &mut Rejected,
        bound: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let limit = self.max_line_bytes();
        let mut out = Vec::new();
        let (mut line, mut start, mut skipping) = (1usize, 0usize, false);
        loop {
            let buf = match reader.fill_buf() {
                Ok([]) => break,
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(StoreError::AtLine {
                        line,
                        source: Box::new(StoreError::Io { message: e.to_string() }),
                    })
                }
            };
            let n = buf.len();
            for &b in buf {
                if b == b'\n' {
                    // Kept for a line left out too: the numbers stay.
                    out.push(b);
                    skipping = false;
                    line += 1;
                    start = out.len();
                } else if !skipping {
                    out.push(b);
                    if out.len() - start > limit {
                        out.truncate(start);
                        skipping = true;
                        rejected.push(line, StoreError::LineTooLong { limit }, bound);
                    }
                }
            }
            reader.consume(n);
        }
        Ok(out)
    }

    /// The lines of `text` a strict load would take, as text (a bad line
    /// left as a blank line, so that line numbers stay), and the others
    /// reported in `rejected`: lines that do not parse or type-check, keys
    /// that are invalid, repeated in the input, or (without `upsert`) live.
    fn sift_json_lines(&self, text: &[u8], upsert: bool, rejected: &mut Rejected, bound: usize) -> Vec<u8> {
        let mut good = Vec::with_capacity(text.len());
        let mut seen: HashSet<Box<str>> = HashSet::new();
        // One batch, cleared for each line.
        let mut parsed = Batch::new(self.schema(), Source::One);
        for (i, (_, raw)) in crate::store::lines(text).enumerate() {
            let n = i + 1;
            if i > 0 {
                good.push(b'\n');
            }
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            parsed.clear();
            if let Err(e) = parse_lines(self.schema(), raw, n, &mut parsed) {
                rejected.push(n, e, bound);
                continue;
            }
            if parsed.len() == 0 {
                continue;
            }
            let key = parsed.key(0);
            let verdict = check_key(key).and_then(|()| {
                let live = self.id(key).is_some();
                if seen.contains(key) || (!upsert && live) {
                    Err(StoreError::DuplicateKey { key: key.to_string() })
                } else {
                    Ok(())
                }
            });
            match verdict {
                Ok(()) => {
                    seen.insert(key.into());
                    good.extend_from_slice(raw);
                }
                Err(e) => rejected.push(n, e, bound),
            }
        }
        good
    }

    /// As [`Table::insert_json_lines`], but lenient: the good lines are
    /// inserted (all together), and each bad line is left out and
    /// reported, the first `bound` of them with their errors. A line is
    /// applied whole or not at all; the input is read whole first, lines
    /// past [`Table::max_line_bytes`] left out as they are read.
    ///
    /// # Errors
    ///
    /// Only what refuses the whole input: a read that fails, and
    /// [`StoreError::Full`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::{FieldType, KindSchema, StoreError, Table};
    ///
    /// let mut t = Table::new(KindSchema::new("account", [("nps", FieldType::Int)])?);
    /// let text = "{\"key\": \"a\", \"nps\": 3}\n{\"key\": \"b\", \"nps\": \"x\"}\n{\"key\": \"a\"}\n{\"key\": \"c\"}\n";
    /// let rejected = t.insert_json_lines_lenient(text.as_bytes(), 100)?;
    /// assert_eq!(t.len(), 2);
    /// assert_eq!(rejected.total, 2);
    /// assert_eq!(rejected.lines[0].line, 2);
    /// assert!(matches!(rejected.lines[1].error, StoreError::DuplicateKey { .. }));
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn insert_json_lines_lenient(&mut self, reader: impl BufRead, bound: usize) -> Result<Rejected, StoreError> {
        self.load_lenient(reader, false, bound)
    }

    /// As [`Table::insert_json_lines_lenient`], upserting.
    ///
    /// # Errors
    ///
    /// As [`Table::insert_json_lines_lenient`].
    pub fn upsert_json_lines_lenient(&mut self, reader: impl BufRead, bound: usize) -> Result<Rejected, StoreError> {
        self.load_lenient(reader, true, bound)
    }

    fn load_lenient(&mut self, reader: impl BufRead, upsert: bool, bound: usize) -> Result<Rejected, StoreError> {
        let (good, rejected) = self.sift_lenient(reader, upsert, bound)?;
        self.write_json_lines(&good[..], upsert)?;
        Ok(rejected)
    }

    /// The lines of `reader` a strict load would take, as text, and the
    /// report of the others in line order: what a lenient load applies.
    pub(crate) fn sift_lenient(
        &self,
        reader: impl BufRead,
        upsert: bool,
        bound: usize,
    ) -> Result<(Vec<u8>, Rejected), StoreError> {
        let (mut long, mut bad) = (Rejected::default(), Rejected::default());
        let text = self.read_lines_lenient(reader, &mut long, bound)?;
        let good = self.sift_json_lines(&text, upsert, &mut bad, bound);
        Ok((good, long.merge(bad, bound)))
    }
}
