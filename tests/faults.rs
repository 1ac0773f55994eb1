//! A journal that cannot be written: the file-size limit (`RLIMIT_FSIZE`)
//! stands in for a full disk, in a child process (the limit is
//! process-wide). Every write refused by the disk returns an error and
//! changes nothing, in memory or on disk; once the fault clears, the next
//! write works; and the directory reopens to exactly the writes that
//! succeeded.
//!
//! The child is this test binary run again with `SEGMENTS_FAULT_CHILD` set.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

use segments::journal::{Durability, Options};
use segments::{Clock, Engine, Error, FieldType, JournalError, Op, Row, Schema, StoreError, TimeOp, Timestamp};

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("note", FieldType::String)])
        .build()
        .unwrap()
}

fn bytes(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.save(&mut out).unwrap();
    out
}

fn journal_len(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

/// Sets the soft limit on the size of files this process writes.
fn limit_file_size(bytes: u64) {
    // SAFETY: plain libc calls with valid arguments: ignoring SIGXFSZ (so a
    // write past the limit fails with EFBIG instead of killing the process)
    // and setting the soft limit below the hard one.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut r), 0);
        r.rlim_cur = bytes.min(r.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &r), 0);
    }
}

fn note(i: usize) -> Row {
    Row::new().set("note", "x".repeat(50 + i % 200))
}

/// The child: writes until the disk is "full", checks every refusal, lifts
/// the limit, writes again. Prints the keys that were written.
#[test]
fn child() {
    let Ok(dir) = std::env::var("SEGMENTS_FAULT_CHILD") else {
        return;
    };
    let mode = match std::env::var("SEGMENTS_FAULT_MODE").as_deref() {
        Ok("os") => Durability::Os,
        _ => Durability::Full,
    };
    let options = Options::new(schema()).durability(mode).checkpoint_bytes(None);
    let (mut e, _) = Engine::open(&dir, options).unwrap();
    let early = Timestamp::from_micros(1_000_000);
    e.set_clock(Clock::Fixed(early)).unwrap();
    let mut written = vec![];
    for i in 0..20 {
        e.insert("account", &format!("k{i}"), note(i)).unwrap();
        written.push(i);
    }
    limit_file_size(journal_len(Path::new(&dir)) + 2_000);
    let mut refused = 0;
    for i in 20..200 {
        let before = (bytes(&e), journal_len(Path::new(&dir)), e.log().journal_seq());
        match e.insert("account", &format!("k{i}"), note(i)) {
            Ok(_) => written.push(i),
            Err(StoreError::Journal(JournalError::Io { .. })) => {
                refused += 1;
                assert_eq!(
                    before,
                    (bytes(&e), journal_len(Path::new(&dir)), e.log().journal_seq()),
                    "write {i}"
                );
            }
            Err(other) => panic!("write {i}: {other:?}"),
        }
    }
    assert!(refused > 100, "the limit was reached ({refused} refused)");
    // Time ops are refused the same way: the error is returned and the
    // clock stays as it was.
    let before = (bytes(&e), e.log().journal_seq());
    let later = Timestamp::from_micros(2_000_000);
    let set = e.set_clock(Clock::Fixed(later));
    assert!(matches!(set, Err(JournalError::Io { .. })), "set_clock: {set:?}");
    assert_eq!(e.now(), early, "the clock was not set");
    let refreshed = e.refresh(later);
    assert!(
        matches!(refreshed, Err(JournalError::Io { .. })),
        "refresh: {refreshed:?}"
    );
    let all = e.apply(Op::Time(TimeOp::RefreshAll { now: later }));
    assert!(
        matches!(all, Err(Error::Journal(JournalError::Io { .. }))),
        "refresh_all: {all:?}"
    );
    assert_eq!(before, (bytes(&e), e.log().journal_seq()));
    // A checkpoint cannot write its snapshot either, and leaves the
    // directory recoverable.
    limit_file_size(1_000);
    assert!(e.checkpoint().is_err());
    limit_file_size(u64::MAX);
    for i in 200..210 {
        e.insert("account", &format!("k{i}"), note(i)).unwrap();
        written.push(i);
    }
    println!(
        "written {}",
        written.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
}

#[test]
fn a_full_disk_refuses_writes_cleanly_and_the_next_write_after_it_works() {
    for mode in ["full", "os"] {
        let dir: PathBuf = std::env::temp_dir().join(format!("segments-fault-{mode}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child", "--nocapture", "--test-threads=1"])
            .env("SEGMENTS_FAULT_CHILD", &dir)
            .env("SEGMENTS_FAULT_MODE", mode)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mode}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split("written ").nth(1))
            .expect("the child's report");
        let written: Vec<usize> = line.split(',').map(|n| n.parse().unwrap()).collect();
        assert!(written.len() > 30 && written.len() < 100, "{mode}: {}", written.len());
        let (e, report) = Engine::open(&dir, Options::new(schema())).unwrap();
        assert!(report.truncated.is_none(), "{mode}: {report:?}");
        let mut model = Engine::new(schema());
        for &i in &written {
            model.insert("account", &format!("k{i}"), note(i)).unwrap();
        }
        let t = e.store().table("account").unwrap();
        let keys: Vec<&str> = t.keys_of(t.live()).collect();
        let want_t = model.store().table("account").unwrap();
        assert_eq!(keys, want_t.keys_of(want_t.live()).collect::<Vec<_>>(), "{mode}");
        drop(e);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
