//! The bytes of a journal file: a header, then records, each checksummed.
//!
//! ```text
//! header:  magic "SEGJRNL\0" | version u32 | base u64 | crc32 u32 (of the 20 bytes before)
//! record:  len u32 | crc32 u32 (of the body) | body: seq u64 | at i64 (µs) | op (Op::to_bytes)
//! ```
//!
//! Integers are little-endian. `base` is the sequence number of the last op
//! before the file: its first record is `base + 1`, and each record's `seq`
//! is one more than the one before.

use crate::value::Timestamp;

/// The first bytes of every journal file.
pub const MAGIC: [u8; 8] = *b"SEGJRNL\0";

/// The journal format version this release writes and reads.
pub const VERSION: u32 = 1;

/// The length of a file's header.
pub const HEADER: usize = 8 + 4 + 8 + 4;

/// The length of a record's frame (length and checksum).
pub const FRAME: usize = 4 + 4;

/// The fixed part of a record's body (sequence number and instant).
pub const BODY_FIXED: usize = 8 + 8;

/// No record is longer than this (an op of 1 GiB is not a write, it is a
/// load: split it).
pub const MAX_RECORD: usize = 1 << 30;

/// A file's header.
pub fn header(base: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&base.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Reads a file's header: its base, or what is wrong with it.
pub fn read_header(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() < HEADER {
        return Err(format!("{} bytes, shorter than the {HEADER}-byte header", bytes.len()));
    }
    if bytes[..8] != MAGIC {
        return Err(format!("it starts with {:02x?}, not the journal magic", &bytes[..8]));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let stored = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    if crc32fast::hash(&bytes[..20]) != stored {
        return Err("the header's checksum does not match".into());
    }
    if version != VERSION {
        return Err(format!(
            "journal format version {version}; this release reads {VERSION}"
        ));
    }
    Ok(u64_at(bytes, 12))
}

/// Appends a record to `out`.
pub fn record(seq: u64, at: Timestamp, op: &[u8], out: &mut Vec<u8>) {
    let len = BODY_FIXED + op.len();
    out.reserve(FRAME + len);
    let start = out.len();
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&at.as_micros().to_le_bytes());
    out.extend_from_slice(op);
    let crc = crc32fast::hash(&out[start + FRAME..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// One record read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// The instant the op ran at.
    pub at: Timestamp,
    /// The op's binary form.
    pub op: &'a [u8],
    /// The offset of the byte after it.
    pub end: usize,
}

/// The record at `offset`, if one is there whole and intact with sequence
/// number `seq`; otherwise why not.
pub fn read_record(bytes: &[u8], offset: usize, seq: u64) -> Result<Record<'_>, String> {
    let left = bytes.len() - offset.min(bytes.len());
    if left < FRAME {
        return Err(format!("{left} bytes, less than a record's frame"));
    }
    let len = u32_at(bytes, offset) as usize;
    if !(BODY_FIXED..=MAX_RECORD).contains(&len) {
        return Err(format!("a record length of {len}"));
    }
    if left - FRAME < len {
        return Err(format!(
            "a record of {len} bytes with {} left in the file",
            left - FRAME
        ));
    }
    let body = &bytes[offset + FRAME..offset + FRAME + len];
    let stored = u32_at(bytes, offset + 4);
    if crc32fast::hash(body) != stored {
        return Err("the record's checksum does not match".into());
    }
    let found = u64_at(body, 0);
    if found != seq {
        return Err(format!("sequence number {found}, expected {seq}"));
    }
    Ok(Record {
        seq,
        at: Timestamp::from_micros(u64_at(body, 8) as i64),
        op: &body[BODY_FIXED..],
        end: offset + FRAME + len,
    })
}

/// Whether an intact record with a sequence number after `seq` starts
/// anywhere after `offset`: the test between a torn tail (nothing valid
/// follows the bad bytes) and damage (something does). Cheap: the checksum
/// is computed only where the sequence number is plausible.
pub fn intact_after(bytes: &[u8], offset: usize, seq: u64) -> bool {
    // A record after the damage has a sequence number past `seq`, and no
    // further past it than records fit in what is left.
    let most = seq.saturating_add((bytes.len() / (FRAME + BODY_FIXED)) as u64 + 1);
    let mut p = offset + 1;
    while p + FRAME + BODY_FIXED <= bytes.len() {
        let s = u64_at(bytes, p + FRAME);
        if s > seq && s <= most && read_record(bytes, p, s).is_ok() {
            return true;
        }
        p += 1;
    }
    false
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_every_damage_is_refused() {
        let mut bytes = header(41).to_vec();
        let mut ends = vec![];
        for (i, op) in [&b"one"[..], b"", b"three"].iter().enumerate() {
            record(42 + i as u64, Timestamp::from_micros(7 * i as i64), op, &mut bytes);
            ends.push(bytes.len());
        }
        assert_eq!(read_header(&bytes), Ok(41));
        let first = read_record(&bytes, HEADER, 42).unwrap();
        assert_eq!(
            (first.op, first.at, first.end),
            (&b"one"[..], Timestamp::from_micros(0), ends[0])
        );
        assert!(read_record(&bytes, HEADER, 43).is_err(), "a wrong sequence number");
        let last = read_record(&bytes, ends[1], 44).unwrap();
        assert_eq!((last.op, last.end), (&b"three"[..], bytes.len()));
        // Every bit flip of the first record is caught, and an intact
        // record is found after it.
        for i in HEADER..ends[0] {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(read_record(&b, HEADER, 42).is_err(), "byte {i} bit {bit}");
                assert!(intact_after(&b, HEADER, 42), "byte {i} bit {bit}");
            }
        }
        // Every cut of the last record is torn: nothing intact after it.
        for cut in ends[1]..bytes.len() {
            assert!(read_record(&bytes[..cut], ends[1], 44).is_err());
            assert!(!intact_after(&bytes[..cut], ends[1], 44), "cut at {cut}");
        }
        for i in 0..HEADER {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(read_header(&b).is_err(), "header byte {i}");
        }
    }
}
