//! The journal through the public API: what is written comes back after a
//! reopen, a torn tail is cut, damage before it is refused (or recovered up
//! to, when asked), a failed op leaves nothing behind, checkpoints keep
//! everything, and one engine holds a directory at a time.

use std::path::{Path, PathBuf};

use segments::filter::field;
use segments::journal::{Durability, Options};
use segments::segment::{Actor, NewSegment, Role};
use segments::{
    Clock, DataOp, Engine, Error, FieldType, Filter, JournalError, ManageOp, Op, Row, Schema, StoreError, Timestamp,
};

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("mrr", FieldType::Int), ("plan", FieldType::String)])
        .build()
        .unwrap()
}

/// A fresh directory under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("segments-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn t(n: i64) -> Timestamp {
    Timestamp::from_micros(1_800_000_000_000_000 + n * 1_000_000)
}

/// The `i`th op of a deterministic load: inserts, upserts, deletes, a
/// segment, manual adds and removals, a rule edit, a refresh.
fn op(i: usize) -> Op {
    let admin = Actor::new("ada", Role::Admin);
    let key = format!("k{}", i % 37);
    match i % 11 {
        0 if i == 0 => Op::Manage(ManageOp::CreateSegment {
            actor: admin,
            segment: NewSegment::new("Big", "account").filter(Filter::and([field("mrr").ge(500)])),
        }),
        3 => Op::Data(DataOp::Delete {
            kind: "account".into(),
            key,
        }),
        5 => Op::Manage(ManageOp::RemoveMembers {
            actor: admin,
            segment: segments::segment::SegmentId(1),
            keys: vec![key],
        }),
        7 => Op::Manage(ManageOp::AddMembers {
            actor: admin,
            segment: segments::segment::SegmentId(1),
            keys: vec![key],
        }),
        9 => Op::Time(segments::TimeOp::Refresh { now: t(i as i64) }),
        _ => Op::Data(DataOp::Upsert {
            kind: "account".into(),
            key,
            row: Row::new()
                .set("mrr", (i as i64 * 7919) % 1000)
                .set("plan", ["free", "pro"][i % 2]),
        }),
    }
}

/// Applies ops `range` at their own instants; errors (a delete of a key
/// that is gone, say) are part of the load. Returns how many succeeded.
fn load(e: &mut Engine, range: std::ops::Range<usize>) -> usize {
    range.filter(|&i| e.apply_at(op(i), t(i as i64)).is_ok()).count()
}

/// The in-memory engine after the first `k` records of a journal written
/// by [`write`]: the clock set, then the load's ops that succeeded (a
/// failed op leaves no record).
fn model_of_records(k: usize) -> Vec<u8> {
    let mut e = Engine::new(schema());
    e.set_clock(Clock::Fixed(t(0))).unwrap();
    let mut done = 1;
    let mut i = 0;
    while done < k {
        if e.apply_at(op(i), t(i as i64)).is_ok() {
            done += 1;
        }
        i += 1;
    }
    bytes(&e)
}

/// The in-memory engine after ops `0..n`.
fn model(n: usize) -> Engine {
    let mut e = Engine::new(schema());
    e.set_clock(Clock::Fixed(t(0))).unwrap();
    load(&mut e, 0..n);
    e
}

fn bytes(e: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    e.save(&mut out).unwrap();
    out
}

fn fixed(e: &mut Engine) {
    e.set_clock(Clock::Fixed(t(0))).unwrap();
}

/// Opens `dir`, pins the clock (one record) and applies ops `range`;
/// returns the sequence number of the last record.
fn write(dir: &Path, options: Options, range: std::ops::Range<usize>) -> u64 {
    let (mut e, _) = Engine::open(dir, options).unwrap();
    fixed(&mut e);
    load(&mut e, range);
    e.log().journal_seq()
}

fn journal_of(dir: &Path) -> PathBuf {
    let mut js: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    js.sort();
    js.pop().expect("a journal")
}

#[test]
fn what_is_written_comes_back_after_a_reopen() {
    let d = TempDir::new("reopen");
    let (e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
    assert!(report.created && report.replayed == 0 && report.truncated.is_none());
    drop(e);
    let seq = write(&d.0, Options::new(schema()), 0..60);
    let (mut e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
    // The clock set and every op that succeeded, each one record; none
    // refused.
    assert_eq!((report.replayed, report.seq), (seq, seq), "{report:?}");
    assert_eq!(report.refused, 0);
    assert!(seq > 40 && seq < 61, "{seq}");
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(60)));
    // And go on from there.
    load(&mut e, 60..90);
    drop(e);
    let (mut e, _) = Engine::open(&d.0, Options::new(schema())).unwrap();
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(90)));
    assert!(e.store().table("account").unwrap().len() > 10);
}

/// A process killed after a rotation created the next journal and before
/// its header was written leaves it empty, or shorter than a header: the
/// directory opens, the journal is headed again, and nothing is lost.
/// (Found by `tests/crash.rs`: round 7 of a run opened on a 0-byte journal.)
#[test]
fn a_newest_journal_without_its_header_is_a_torn_write() {
    for (name, junk) in [
        ("empty", &[][..]),
        ("short", &[0x53, 0x45, 0x47][..]),
        ("zeros", &[0u8; 24][..]),
    ] {
        let d = TempDir::new(&format!("headless-{name}"));
        let seq = write(&d.0, Options::new(schema()), 0..30);
        let next = d.0.join(format!("journal-{seq:020}.log"));
        std::fs::write(&next, junk).unwrap();
        let (mut e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
        assert_eq!(report.seq, seq, "{name}");
        assert!(
            report
                .truncated
                .as_ref()
                .is_some_and(|t| t.path == next && t.offset == 0),
            "{name}: {report:?}"
        );
        fixed(&mut e);
        assert_eq!(bytes(&e), bytes(&model(30)), "{name}");
        // It takes records again, and they come back.
        load(&mut e, 30..40);
        drop(e);
        let (mut e, _) = Engine::open(&d.0, Options::new(schema())).unwrap();
        fixed(&mut e);
        assert_eq!(bytes(&e), bytes(&model(40)), "{name}");
    }
}

#[test]
fn a_second_open_is_refused_while_the_first_holds_the_directory() {
    let d = TempDir::new("lock");
    let (e, _) = Engine::open(&d.0, Options::new(schema())).unwrap();
    match Engine::open(&d.0, Options::new(schema())) {
        Err(JournalError::Locked { path }) => assert_eq!(path, d.0),
        other => panic!("{other:?}"),
    }
    // A clone is in memory: it neither holds nor needs the lock.
    let c = e.clone();
    assert!(c.directory().is_none() && e.directory() == Some(d.0.as_path()));
    drop(e);
    assert!(Engine::open(&d.0, Options::new(schema())).is_ok());
}

#[test]
fn another_schema_is_refused() {
    let d = TempDir::new("schema");
    drop(Engine::open(&d.0, Options::new(schema())).unwrap());
    let other = Schema::builder()
        .kind("user", [("age", FieldType::Int)])
        .build()
        .unwrap();
    assert!(matches!(
        Engine::open(&d.0, Options::new(other)),
        Err(JournalError::SchemaMismatch { .. })
    ));
}

#[test]
fn a_failed_op_leaves_nothing_in_the_journal() {
    let d = TempDir::new("failed");
    let (mut e, _) = Engine::open(&d.0, Options::new(schema())).unwrap();
    e.insert("account", "a", Row::new().set("mrr", 1)).unwrap();
    let j = journal_of(&d.0);
    let len = std::fs::metadata(&j).unwrap().len();
    let seq = e.log().journal_seq();
    let err = e.insert("account", "a", Row::new()).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateKey { .. }), "{err:?}");
    assert!(e.insert("account", "b", Row::new().set("nope", 1)).is_err());
    let admin = Actor::new("ada", Role::Admin);
    assert!(e.rename(&admin, segments::segment::SegmentId(9), "x").is_err());
    assert_eq!(std::fs::metadata(&j).unwrap().len(), len);
    assert_eq!(e.log().journal_seq(), seq);
    drop(e);
    let (e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
    assert_eq!((report.replayed, report.refused), (1, 0));
    assert_eq!(e.store().table("account").unwrap().len(), 1);
}

/// The offsets at which the journal's records start.
fn record_starts(journal: &[u8]) -> Vec<usize> {
    let mut out = vec![];
    let mut o = 24;
    while o + 8 <= journal.len() {
        let len = u32::from_le_bytes(journal[o..o + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        out.push(o);
        o += 8 + len;
    }
    assert!(journal[o..].iter().all(|&b| b == 0), "zeros after the records");
    out
}

/// The journal's bytes up to the end of its records (the file goes on with
/// zeros written ahead).
fn records_of(journal: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(journal).unwrap();
    let starts = record_starts(&bytes);
    let end = starts.last().map_or(24, |&s| {
        s + 8 + u32::from_le_bytes(bytes[s..s + 4].try_into().unwrap()) as usize
    });
    bytes.truncate(end);
    bytes
}

#[test]
fn a_torn_last_record_is_cut_at_every_offset() {
    let d = TempDir::new("torn");
    let n = 12;
    write(&d.0, Options::new(schema()), 0..n);
    let j = journal_of(&d.0);
    let whole = records_of(&j);
    let starts = record_starts(&whole);
    let last = *starts.last().unwrap();
    let before = model_of_records(starts.len() - 1);
    let after = model_of_records(starts.len());
    assert_eq!(after, bytes(&model(n)));
    // Each cut as it is, and followed by the zeros a journal writes ahead
    // of its records (a crash mid-append leaves those after the tear).
    for (cut, pad) in (last..=whole.len()).flat_map(|c| [(c, 0), (c, 1000)]) {
        let mut file = whole[..cut].to_vec();
        file.resize(cut + pad, 0);
        std::fs::write(&j, &file).unwrap();
        let (mut e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
        let len = std::fs::metadata(&j).unwrap().len();
        fixed(&mut e);
        if cut == whole.len() {
            assert!(report.truncated.is_none());
            assert_eq!(bytes(&e), after);
        } else if cut == last {
            // Cut at a record boundary: nothing torn.
            assert!(report.truncated.is_none(), "cut at {cut}");
            assert_eq!(bytes(&e), before);
        } else {
            let tr = report
                .truncated
                .as_ref()
                .unwrap_or_else(|| panic!("cut at {cut}: {report:?}"));
            assert_eq!((tr.offset, tr.bytes), (last as u64, (cut + pad - last) as u64));
            assert_eq!(bytes(&e), before, "cut at {cut}");
            assert_eq!(len, last as u64, "the tail is cut off the file");
        }
    }
}

#[test]
fn bit_flips_anywhere_are_cut_at_the_tail_and_refused_before_it() {
    let d = TempDir::new("flips");
    let n = 8;
    write(&d.0, Options::new(schema()), 0..n);
    let j = journal_of(&d.0);
    let whole = records_of(&j);
    let starts = record_starts(&whole);
    let last = *starts.last().unwrap();
    let models: Vec<Vec<u8>> = (0..=starts.len()).map(model_of_records).collect();
    for i in 0..whole.len() {
        for bit in [0, 3, 7] {
            let mut b = whole.clone();
            b[i] ^= 1 << bit;
            std::fs::write(&j, &b).unwrap();
            let got = Engine::open(&d.0, Options::new(schema()));
            // The record holding byte i.
            let r = starts.iter().rposition(|&s| s <= i);
            match (r, got) {
                (None, Err(JournalError::Damaged { offset: 0, .. })) => {}
                (Some(r), Ok((mut e, report))) if starts[r] == last => {
                    let tr = report.truncated.expect("a cut");
                    assert_eq!(tr.offset, last as u64);
                    fixed(&mut e);
                    assert_eq!(bytes(&e), models[starts.len() - 1], "byte {i}");
                }
                (Some(r), Err(JournalError::Damaged { offset, path, .. })) => {
                    assert_eq!((offset, &path), (starts[r] as u64, &j), "byte {i}");
                    // Asked to, recovery goes up to the damage.
                    let (mut e, report) = Engine::open(&d.0, Options::new(schema()).truncate_damaged(true)).unwrap();
                    assert_eq!(report.truncated.unwrap().offset, starts[r] as u64);
                    fixed(&mut e);
                    assert_eq!(bytes(&e), models[r], "byte {i}");
                }
                (r, got) => panic!("byte {i} bit {bit}, record {r:?}: {:?}", got.map(|g| g.1)),
            }
        }
    }
}

#[test]
fn checkpoints_keep_everything_and_remove_what_they_replace() {
    let d = TempDir::new("checkpoint");
    let (mut e, _) = Engine::open(&d.0, Options::new(schema()).checkpoint_bytes(None)).unwrap();
    fixed(&mut e);
    load(&mut e, 0..40);
    let report = e.checkpoint().unwrap().expect("a checkpoint");
    assert_eq!(report.seq, e.log().journal_seq());
    assert!(e.checkpoint().unwrap().is_none(), "nothing since");
    let done = load(&mut e, 40..70);
    drop(e);
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&d.0).len(), 3, "{:?}", names(&d.0));
    let (mut e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
    assert_eq!(report.replayed, done as u64);
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(70)));
    drop(e);
    // Automatic checkpoints, with a journal allowed 2 KiB.
    let (mut e, _) = Engine::open(&d.0, Options::new(schema()).checkpoint_bytes(Some(2048))).unwrap();
    fixed(&mut e);
    load(&mut e, 70..400);
    let len = records_of(&journal_of(&d.0)).len();
    assert!(len < 4096, "the journal was checkpointed: {len} bytes of records");
    drop(e);
    assert_eq!(names(&d.0).len(), 3, "{:?}", names(&d.0));
    let (mut e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
    assert!(report.snapshot_seq > 300, "{report:?}");
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(400)));
}

#[test]
fn every_durability_mode_recovers_a_clean_close() {
    for (i, mode) in [
        Durability::Full,
        Durability::Interval(std::time::Duration::from_millis(5)),
        Durability::Os,
    ]
    .into_iter()
    .enumerate()
    {
        let d = TempDir::new(&format!("mode{i}"));
        write(&d.0, Options::new(schema()).durability(mode), 0..50);
        let (mut e, _) = Engine::open(&d.0, Options::new(schema()).durability(mode)).unwrap();
        fixed(&mut e);
        assert_eq!(bytes(&e), bytes(&model(50)), "{mode:?}");
    }
}

#[test]
fn apply_on_a_journal_that_cannot_be_written_is_an_error_and_changes_nothing() {
    // A record over the 1 GiB limit is refused before anything is written.
    let d = TempDir::new("toolarge");
    let (mut e, _) = Engine::open(&d.0, Options::new(schema())).unwrap();
    let lines = vec![b' '; (1 << 30) + 16];
    let got = e.apply(Op::Data(DataOp::UpsertJsonLines {
        kind: "account".into(),
        lines,
    }));
    assert!(
        matches!(got, Err(Error::Store(StoreError::Journal(JournalError::Io { .. })))),
        "{got:?}"
    );
    assert_eq!(e.log().journal_seq(), 0);
    e.insert("account", "a", Row::new()).unwrap();
    assert_eq!(e.log().journal_seq(), 1);
}

#[test]
fn a_filter_nested_100000_deep_is_refused_on_a_journaled_engine_on_a_small_stack() {
    use segments::filter::Group;
    let d = TempDir::new("deep");
    let path = d.0.clone();
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let (mut e, _) = Engine::open(&path, Options::new(schema())).unwrap();
            let admin = Actor::new("ada", Role::Admin);
            let (s, _) = e.create_segment(&admin, NewSegment::new("S", "account")).unwrap();
            let seq = e.log().journal_seq();
            let deep = || {
                let mut g = Group::and([field("mrr").lt(1)]);
                for _ in 0..100_000 {
                    g = Group::and([g]);
                }
                g
            };
            assert!(e
                .create_segment(&admin, NewSegment::new("deep", "account").filter(deep()))
                .is_err());
            assert!(e.set_filter(&admin, s, Some(deep())).is_err());
            assert!(e.attach_rule(&admin, s, deep()).is_err());
            assert_eq!(e.log().journal_seq(), seq, "nothing journaled");
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_background_checkpoint_lets_writes_go_on_and_keeps_them() {
    let d = TempDir::new("background");
    let (mut e, _) = Engine::open(&d.0, Options::new(schema()).checkpoint_bytes(None)).unwrap();
    fixed(&mut e);
    load(&mut e, 0..40);
    let started = e.start_checkpoint().unwrap().expect("a checkpoint");
    load(&mut e, 40..80); // while the snapshot is written
    let done = e.wait_checkpoint().unwrap().expect("its report");
    assert_eq!((done.seq, &done.snapshot), (started.seq, &started.snapshot));
    assert!(done.bytes > 0 && done.elapsed >= started.pause);
    assert!(e.wait_checkpoint().unwrap().is_none(), "nothing under way");
    load(&mut e, 80..100);
    e.start_checkpoint().unwrap();
    drop(e); // closing waits for it
    let (mut e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
    assert_eq!(report.replayed, 0, "{report:?}");
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(100)));
}

/// Opens `dir`, applies ops `0..10`, checkpoints, applies `10..30`; returns
/// the snapshot's sequence number.
fn checkpointed(dir: &Path) -> u64 {
    let (mut e, _) = Engine::open(dir, Options::new(schema())).unwrap();
    fixed(&mut e);
    load(&mut e, 0..10);
    let at = e.checkpoint().unwrap().expect("a checkpoint").seq;
    load(&mut e, 10..30);
    at
}

/// Runs `f` on a thread of its own and waits at most ten seconds for it: a
/// read that never ends fails the test instead of hanging it.
fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("done within ten seconds, not reading forever")
}

/// A snapshot or journal that is a link to `/dev/zero` (which never ends)
/// or a FIFO (whose opening waits for a writer) is refused at once, without
/// reading it.
#[cfg(unix)]
#[test]
fn a_snapshot_or_journal_that_is_not_a_regular_file_is_refused_unread() {
    type PathOf = fn(&Path) -> PathBuf;
    let cases: [(&str, PathOf); 2] = [
        ("snapshot", |d| {
            let mut snaps: Vec<PathBuf> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "snap"))
                .collect();
            snaps.sort();
            snaps.pop().unwrap()
        }),
        ("journal", journal_of),
    ];
    for (what, path_of) in cases {
        for special in ["zero", "fifo"] {
            let d = TempDir::new(&format!("special-{what}-{special}"));
            write(&d.0, Options::new(schema()), 0..10);
            let path = path_of(&d.0);
            std::fs::remove_file(&path).unwrap();
            if special == "zero" {
                std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
            } else {
                // Not by running `mkfifo`: a child forked while another
                // test drops its engine would hold that engine's lock for
                // a moment.
                use std::os::unix::ffi::OsStrExt;
                let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
                // SAFETY: a NUL-terminated path that outlives the call.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            }
            let dir = d.0.clone();
            let opened = within_10s(move || Engine::open(&dir, Options::new(schema())).map(|_| ()));
            let e = opened.unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{what} {special}: {e}");
            if what == "snapshot" {
                let p = path.clone();
                let restored = within_10s(move || {
                    #[allow(deprecated)] // the path form refuses a special file before it reads
                    Engine::restore_from_path(&p).map(|_| ())
                });
                assert!(restored.unwrap_err().to_string().contains("not a regular file"));
            }
        }
    }
}

/// A journal whose header is damaged cannot be trusted for any record: the
/// open refuses it, or, with `truncate_damaged(true)`, recovers to the
/// state before it (the snapshot) and reports the cut.
#[test]
fn a_damaged_journal_header_recovers_to_the_snapshot_when_asked() {
    let d = TempDir::new("damaged-header");
    let at = checkpointed(&d.0);
    let journal = d.0.join(format!("journal-{at:020}.log"));
    let mut b = std::fs::read(&journal).unwrap();
    b[0] ^= 0xff;
    std::fs::write(&journal, &b).unwrap();
    let refused = Engine::open(&d.0, Options::new(schema())).unwrap_err();
    assert!(
        matches!(&refused, JournalError::Damaged { path, offset: 0, .. } if *path == journal),
        "{refused}"
    );
    let (e, report) = Engine::open(&d.0, Options::new(schema()).truncate_damaged(true)).unwrap();
    let cut = report.truncated.as_ref().expect("the cut is reported");
    assert_eq!((&cut.path, cut.offset, cut.bytes), (&journal, 0, b.len() as u64));
    assert!(cut.reason.contains("header"), "{}", cut.reason);
    assert_eq!(report.seq, at);
    recovered_to_the_snapshot(&d.0, e);
}

/// After a recovery to the snapshot of [`checkpointed`]: the engine holds
/// ops `0..10`, its journal takes records again, and they come back after
/// a clean reopen.
fn recovered_to_the_snapshot(dir: &Path, mut e: Engine) {
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(10)));
    load(&mut e, 10..20);
    drop(e);
    let (mut e, report) = Engine::open(dir, Options::new(schema())).unwrap();
    assert!(report.truncated.is_none());
    fixed(&mut e);
    assert_eq!(bytes(&e), bytes(&model(20)));
}

/// The newest journal deleted: the acknowledged writes after the snapshot
/// went with it, and the open says so (a checkpoint always creates that
/// journal before its snapshot), instead of opening silently at the
/// snapshot; with `truncate_damaged(true)` it recovers to the snapshot and
/// reports it.
#[test]
fn a_deleted_newest_journal_is_reported_not_opened_silently() {
    let d = TempDir::new("deleted-journal");
    let at = checkpointed(&d.0);
    let journal = d.0.join(format!("journal-{at:020}.log"));
    std::fs::remove_file(&journal).unwrap();
    let refused = Engine::open(&d.0, Options::new(schema())).unwrap_err();
    assert!(
        matches!(&refused, JournalError::Damaged { path, reason, .. } if *path == journal && reason.contains("missing")),
        "{refused}"
    );
    let (e, report) = Engine::open(&d.0, Options::new(schema()).truncate_damaged(true)).unwrap();
    assert!(
        report.truncated.as_ref().is_some_and(|t| t.path == journal),
        "{report:?}"
    );
    recovered_to_the_snapshot(&d.0, e);
}

/// An open that died between creating a new directory's first journal and
/// its first snapshot leaves a journal without a record and no snapshot:
/// the directory is still new, not inconsistent.
#[test]
fn a_new_directory_whose_creation_died_opens_as_new() {
    let d = TempDir::new("creation-died");
    std::fs::create_dir_all(&d.0).unwrap();
    let journal = d.0.join(format!("journal-{:020}.log", 0));
    for junk in [&[][..], &[0u8; 40][..]] {
        std::fs::write(&journal, junk).unwrap();
        let (e, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
        assert!(report.created && report.truncated.is_none(), "{report:?}");
        drop(e);
        // A directory created whole reopens as it was.
        let (_, report) = Engine::open(&d.0, Options::new(schema())).unwrap();
        assert!(!report.created && report.truncated.is_none(), "{report:?}");
        std::fs::remove_dir_all(&d.0).unwrap();
        std::fs::create_dir_all(&d.0).unwrap();
    }
}
