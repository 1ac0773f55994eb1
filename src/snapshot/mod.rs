//! Snapshots: the whole state of an [`Engine`](crate::Engine) as one
//! checksummed byte string, restored exactly.
//!
//! [`Engine::save`](crate::Engine::save) and
//! [`Engine::save_to_path`](crate::Engine::save_to_path) write one;
//! [`Engine::restore`](crate::Engine::restore) reads it back (from a file,
//! or any reader). What is saved: the configuration (limit policy, index
//! configuration, clock), the schema with its relations, every kind's keys in
//! id order (deleted ones too, so that ids never move), the live set, every
//! value, every event with its properties, the history of tracked fields, and the segments with their order, visibility,
//! owners, settings, sharing, rules, rule links, blocks and manual links, and the id counters
//! (a segment's version is counted from its definition history).
//! Indexes, dependencies, parents and members are rebuilt from these, and
//! the links of every rule that is not time-relative are recomputed from
//! the data rather than trusted (so a snapshot whose contents contradict
//! themselves still restores an engine consistent with its data); a
//! time-relative rule's links are as of its last refresh. A restore reads
//! no more than the header declares.
//!
//! # Format (version 4)
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic, `SEGSNAP\0` |
//! | 4 | format version, little-endian `u32` |
//! | 8 | payload length, little-endian `u64` |
//! | n | payload |
//! | 4 | CRC-32 of everything before it, little-endian |
//!
//! The payload is little-endian integers, strings as a `u64` length and
//! UTF-8 bytes, bitmaps as a `u64` length and roaring's portable format, and
//! filters and settings in their JSON form. Saving the same state twice gives the same
//! bytes, and so does saving a restored engine.
//!
//! A restore checks, in order: the magic, the version, the length, the
//! checksum; then every value as it decodes it: counts against the bytes
//! that remain (before allocating), ids against the ids that exist, keys and
//! names for duplicates, filters against the schema and the segments, the
//! segment graph for cycles. Any flipped bit or cut is refused with a
//! [`SnapshotError`], never a panic.
//!
//! # Examples
//!
//! ```
//! use segments::filter::field;
//! use segments::segment::{Actor, NewSegment, Role};
//! use segments::{Engine, FieldType, Filter, Row, Schema};
//!
//! let schema = Schema::builder().kind("account", [("health", FieldType::Float)]).build()?;
//! let mut engine = Engine::new(schema);
//! engine.insert("account", "a", Row::new().set("health", 12.0))?;
//! let admin = Actor::new("ada", Role::Admin);
//! let (at_risk, _) = engine.create_segment(&admin,
//!     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])))?;
//!
//! let mut bytes = Vec::new();
//! engine.save(&mut bytes)?;
//! let restored = Engine::restore(&bytes[..])?;
//! assert!(restored.segments().is_member(at_risk, "a")?);
//!
//! bytes[30] ^= 1;
//! assert!(Engine::restore(&bytes[..]).is_err());
//! # Ok::<(), segments::Error>(())
//! ```

pub(crate) mod codec;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::error::SnapshotError;

/// The first bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"SEGSNAP\0";

/// The format version this release writes. It also reads every version
/// from [`OLDEST_READ_VERSION`] on (version 1 has no change log, version 2
/// no segment settings or versions, version 3 no event properties and no
/// field histories, version 4 no external rules).
pub const FORMAT_VERSION: u32 = 5;

/// The oldest format version this release reads.
pub const OLDEST_READ_VERSION: u32 = 1;

/// Magic, version and payload length.
const HEADER: usize = 8 + 4 + 8;
const TRAILER: usize = 4;

/// Frames a payload: header, payload, checksum.
pub(crate) fn frame(payload: &[u8], out: &mut impl Write) -> io::Result<()> {
    let mut head = [0u8; HEADER];
    head[..8].copy_from_slice(&MAGIC);
    head[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    head[12..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(payload);
    out.write_all(&head)?;
    out.write_all(payload)?;
    out.write_all(&crc.finalize().to_le_bytes())
}

/// Checks a snapshot's frame; returns its payload, the payload's offset and
/// the format version.
pub(crate) fn unframe(bytes: &[u8]) -> Result<(&[u8], u64, u32), SnapshotError> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(SnapshotError::NotASnapshot {
            found: bytes[..n].to_vec(),
            expected: MAGIC.to_vec(),
        });
    }
    if bytes.len() < HEADER + TRAILER {
        return Err(SnapshotError::Length {
            found: bytes.len() as u64,
            expected: (HEADER + TRAILER) as u64,
        });
    }
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let version = u32_at(8);
    if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(SnapshotError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..HEADER]);
    let payload_len = u64::from_le_bytes(len);
    let expected = payload_len.saturating_add((HEADER + TRAILER) as u64);
    if expected != bytes.len() as u64 {
        return Err(SnapshotError::Length {
            found: bytes.len() as u64,
            expected,
        });
    }
    let end = bytes.len() - TRAILER;
    let stored = u32_at(end);
    let computed = crc32fast::hash(&bytes[..end]);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    Ok((&bytes[HEADER..end], HEADER as u64, version))
}

pub(crate) fn io_error(during: impl Into<String>, e: &io::Error) -> SnapshotError {
    SnapshotError::Io {
        during: during.into(),
        kind: e.kind(),
        message: e.to_string(),
    }
}

/// Reads all of `input`: the header, then no more than it declares.
/// `known`: how many bytes the input is known to hold (a file's length; 0
/// if unknown), which sizes the buffer at once.
pub(crate) fn read_all(mut input: impl Read, known: u64) -> Result<Vec<u8>, SnapshotError> {
    let read = |e: io::Error| io_error("reading the snapshot", &e);
    let mut bytes = Vec::with_capacity(HEADER);
    (&mut input).take(HEADER as u64).read_to_end(&mut bytes).map_err(read)?;
    if bytes.len() < HEADER || bytes[..8] != MAGIC {
        // `unframe` says what is wrong.
        return Ok(bytes);
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..HEADER]);
    let rest = u64::from_le_bytes(len).saturating_add(TRAILER as u64);
    bytes.reserve(usize::try_from(rest.min(known.saturating_sub(HEADER as u64))).unwrap_or(0));
    // No more than the header declares, however much the input holds;
    // the buffer grows with what arrives, not with what is declared.
    (&mut input).take(rest).read_to_end(&mut bytes).map_err(read)?;
    let mut one = [0u8; 1];
    loop {
        match input.read(&mut one) {
            Ok(0) => return Ok(bytes),
            Ok(_) => {
                let expected = bytes.len() as u64;
                return Err(SnapshotError::Length {
                    found: expected + 1,
                    expected,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read(e)),
        }
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the
/// new one: to a temporary file beside it, synced, then renamed over it, and
/// the directory synced so that the rename is durable too.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), SnapshotError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io_error(
            format!("saving to `{}`", path.display()),
            &io::Error::from(io::ErrorKind::InvalidInput),
        )
    })?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    remove_stale_temps(dir, name);
    let shown = |p: &Path| p.display().to_string();
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_error(format!("creating `{}`", shown(&tmp)), &e))?;
        write(&mut f).map_err(|e| io_error(format!("writing `{}`", shown(&tmp)), &e))?;
        f.sync_all()
            .map_err(|e| io_error(format!("syncing `{}`", shown(&tmp)), &e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| io_error(format!("renaming `{}` over `{}`", shown(&tmp), shown(path)), &e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Not every platform can open a directory to sync it; the rename is done.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the temporary files that saves of `name` in `dir` by processes
/// that died left behind: `<name>.tmp-<pid>-<n>` of a pid other than ours
/// that no longer runs (on systems with `/proc`; elsewhere, of any other
/// pid). Never the snapshot itself, nor any other name. Best effort.
fn remove_stale_temps(dir: &Path, name: &std::ffi::OsStr) {
    let Some(name) = name.to_str() else { return };
    let Ok(entries) = fs::read_dir(dir) else { return };
    let prefix = format!("{name}.tmp-");
    let ours = std::process::id();
    let proc = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file.to_str().and_then(|f| stale_temp_pid(f, &prefix)) else {
            continue;
        };
        let alive = pid == ours || (proc && Path::new("/proc").join(pid.to_string()).exists());
        if !alive {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The pid of a temporary file name `<prefix><pid>-<n>`.
fn stale_temp_pid(file: &str, prefix: &str) -> Option<u32> {
    let (pid, n) = file.strip_prefix(prefix)?.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame(payload, &mut out).unwrap();
        out
    }

    #[test]
    fn a_frame_round_trips_and_each_check_fires() {
        let bytes = framed(b"hello");
        assert_eq!(bytes.len(), HEADER + 5 + TRAILER);
        assert_eq!(unframe(&bytes).unwrap(), (&b"hello"[..], HEADER as u64, FORMAT_VERSION));

        assert!(matches!(
            unframe(b"SEGSNAP"),
            Err(SnapshotError::Length { found: 7, .. })
        ));
        assert!(matches!(
            unframe(b"PK\x03\x04zip"),
            Err(SnapshotError::NotASnapshot { .. })
        ));
        assert!(matches!(unframe(&bytes[..10]), Err(SnapshotError::Length { .. })));

        let mut newer = bytes.clone();
        newer[8] = FORMAT_VERSION as u8 + 1;
        let e = unframe(&newer).unwrap_err();
        assert_eq!(
            e,
            SnapshotError::UnsupportedVersion {
                found: FORMAT_VERSION + 1,
                supported: FORMAT_VERSION
            }
        );
        assert!(e.to_string().contains("a newer release of segments wrote it"), "{e}");

        let cut = &bytes[..bytes.len() - 1];
        assert_eq!(
            unframe(cut).unwrap_err(),
            SnapshotError::Length {
                found: cut.len() as u64,
                expected: bytes.len() as u64
            }
        );
        let mut flipped = bytes.clone();
        flipped[HEADER + 1] ^= 0x10;
        assert!(matches!(unframe(&flipped), Err(SnapshotError::Checksum { .. })));
    }

    #[test]
    fn writing_atomically_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("segments-snap-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.snap");
        write_atomically(&path, |f| f.write_all(b"one")).unwrap();
        write_atomically(&path, |f| f.write_all(b"two")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        // A write that fails midway leaves the old file and no temporary.
        let e = write_atomically(&path, |f| {
            f.write_all(b"thr")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(
            matches!(&e, SnapshotError::Io { during, .. } if during.starts_with("writing")),
            "{e}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.snap")]);
        // A directory that does not exist.
        let e = write_atomically(&dir.join("no/such/dir.snap"), |_| Ok(())).unwrap_err();
        assert!(
            matches!(
                &e,
                SnapshotError::Io {
                    kind: io::ErrorKind::NotFound,
                    ..
                }
            ),
            "{e}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
