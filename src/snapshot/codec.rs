//! The payload's primitives: little-endian integers, length-prefixed
//! strings and roaring bitmaps, written to a buffer and read back with every
//! length checked against the bytes that remain before anything is
//! allocated.

use roaring::RoaringBitmap;

use crate::error::SnapshotError;

/// Builds a payload.
#[derive(Debug, Default)]
pub(crate) struct Enc {
    pub(crate) buf: Vec<u8>,
}

impl Enc {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.buf.push(v as u8);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A count or length.
    pub(crate) fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// A bitmap in roaring's portable format, after its byte length.
    pub(crate) fn bitmap(&mut self, b: &RoaringBitmap) {
        self.len(b.serialized_size());
        // Writing to a `Vec` cannot fail.
        let _ = b.serialize_into(&mut self.buf);
    }
}

/// Reads a payload. `base` is the payload's offset in the snapshot, so that
/// errors give offsets in the file.
#[derive(Debug, Clone)]
pub(crate) struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Dec<'a> {
    pub(crate) fn new(buf: &'a [u8], base: u64) -> Dec<'a> {
        Dec { buf, pos: 0, base }
    }

    /// The offset in the snapshot of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// An [`SnapshotError::Invalid`] at the current offset.
    pub(crate) fn invalid(&self, what: impl Into<String>, message: impl Into<String>) -> SnapshotError {
        self.invalid_at(self.offset(), what, message)
    }

    pub(crate) fn invalid_at(&self, offset: u64, what: impl Into<String>, message: impl Into<String>) -> SnapshotError {
        SnapshotError::Invalid {
            offset,
            what: what.into(),
            message: message.into(),
        }
    }

    /// The next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], SnapshotError> {
        if n > self.left() {
            return Err(SnapshotError::Truncated {
                offset: self.offset(),
                what: what(),
                needed: n as u64,
                left: self.left() as u64,
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], SnapshotError> {
        let b = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn bool(&mut self, what: &dyn Fn() -> String) -> Result<bool, SnapshotError> {
        let at = self.offset();
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.invalid_at(at, what(), format!("expected a boolean (0 or 1), found {b}"))),
        }
    }

    pub(crate) fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &dyn Fn() -> String) -> Result<i64, SnapshotError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// A `usize` setting, saturated on targets where it is narrower.
    pub(crate) fn usize(&mut self, what: &dyn Fn() -> String) -> Result<usize, SnapshotError> {
        Ok(usize::try_from(self.u64(what)?).unwrap_or(usize::MAX))
    }

    /// A count of items that take at least `min_each` bytes each: refused
    /// unless that many bytes remain, so that no count makes a restore
    /// allocate more than its input justifies.
    pub(crate) fn count(&mut self, min_each: usize, what: &dyn Fn() -> String) -> Result<usize, SnapshotError> {
        let at = self.offset();
        let n = self.u64(what)?;
        let need = n.checked_mul(min_each.max(1) as u64);
        match need {
            Some(need) if need <= self.left() as u64 => Ok(n as usize),
            _ => Err(self.invalid_at(
                at,
                what(),
                format!(
                    "a count of {n} needs at least {} bytes, {} remain",
                    need.map_or("more than 2^64".to_string(), |b| b.to_string()),
                    self.left()
                ),
            )),
        }
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn str(&mut self, what: &dyn Fn() -> String) -> Result<&'a str, SnapshotError> {
        let n = self.count(1, what)?;
        let at = self.offset();
        let b = self.bytes(n, what)?;
        std::str::from_utf8(b).map_err(|e| self.invalid_at(at, what(), format!("not UTF-8: {e}")))
    }

    /// Steps over `n` length-prefixed strings, checking only their lengths;
    /// returns a decoder of just their bytes, to read them on another thread.
    pub(crate) fn split_strings(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<Dec<'a>, SnapshotError> {
        let (start, base) = (self.pos, self.offset());
        for _ in 0..n {
            let len = self.count(1, what)?;
            self.pos += len;
        }
        Ok(Dec::new(&self.buf[start..self.pos], base))
    }

    /// A bitmap, decoded by roaring's checked deserializer, which must use
    /// exactly its announced bytes. Every id must be below `below`.
    ///
    /// Run containers (which the format allows, though this crate never
    /// writes them) are turned into arrays and bitsets: roaring 0.12's
    /// `Iter::next_many`, which the index builds and unions read bitmaps
    /// with, counts a run's length in 16 bits and loses a run of a whole
    /// container (65,536 ids).
    pub(crate) fn bitmap(&mut self, below: u64, what: &dyn Fn() -> String) -> Result<RoaringBitmap, SnapshotError> {
        let n = self.count(1, what)?;
        let at = self.offset();
        let mut b = self.bytes(n, what)?;
        let mut bm = RoaringBitmap::deserialize_from(&mut b)
            .map_err(|e| self.invalid_at(at, what(), format!("not a roaring bitmap: {e}")))?;
        if !b.is_empty() {
            return Err(self.invalid_at(at, what(), format!("{} bytes after the bitmap's end", b.len())));
        }
        if let Some(max) = bm.max().filter(|&m| m as u64 >= below) {
            return Err(self.invalid_at(at, what(), format!("holds id {max}, but only {below} ids exist")));
        }
        bm.remove_run_compression();
        Ok(bm)
    }

    /// Checks that `inner` holds only ids of `outer`.
    pub(crate) fn subset(
        &self,
        at: u64,
        inner: &RoaringBitmap,
        outer: &RoaringBitmap,
        outer_name: &str,
        what: &dyn Fn() -> String,
    ) -> Result<(), SnapshotError> {
        if inner.is_subset(outer) {
            return Ok(());
        }
        match (inner - outer).min() {
            Some(id) => Err(self.invalid_at(at, what(), format!("holds id {id}, which is not {outer_name}"))),
            None => Ok(()),
        }
    }

    /// Checks that the payload was read to its end.
    pub(crate) fn finish(&self) -> Result<(), SnapshotError> {
        if self.left() == 0 {
            Ok(())
        } else {
            Err(self.invalid("payload", format!("{} bytes after its end", self.left())))
        }
    }
}

/// `what` for a decoding call: a closure, so that the description is only
/// formatted when an error needs it.
macro_rules! what {
    ($($arg:tt)*) => {
        &|| format!($($arg)*)
    };
}
pub(crate) use what;

#[cfg(test)]
mod tests {
    use super::*;

    /// A bitmap written with run containers (a whole container among
    /// them) reads back as the same ids with none, so that reading it in
    /// slices gives every id.
    #[test]
    fn run_containers_are_read_as_arrays_and_bitsets() {
        let mut written = RoaringBitmap::new();
        written.insert_range(0..(1 << 16));
        written.insert_range((3 << 16) + 5..(3 << 16) + 900);
        written.insert(7 << 16);
        written.optimize();
        assert!(written.statistics().n_run_containers >= 2);
        let mut e = Enc::default();
        e.bitmap(&written);
        let mut d = Dec::new(&e.buf, 0);
        let read = d.bitmap(1 << 20, what!("test")).expect("a valid bitmap");
        assert_eq!(read.statistics().n_run_containers, 0);
        let mut ids = vec![0u32; read.len() as usize + 1];
        let got = read.iter().next_many(&mut ids).to_vec();
        assert!(
            got.iter().copied().eq(written.iter()),
            "{} ids of {}",
            got.len(),
            written.len()
        );
    }
}
