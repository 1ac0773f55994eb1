//! The `segment` example as a process: the same entities as JSON Lines and
//! as Parquet files other writers made give the same keys, byte for byte;
//! a bad Parquet file is a one-line error and nothing on stdout.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The example's binary, built (or found up to date) in this test's
/// profile with the `parquet` feature: this test is the benches member's,
/// and the example is the library's.
fn segment() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(Path::parent).unwrap();
            let mut cargo = Command::new(env!("CARGO"));
            // The example is the library's; it reads Parquet with the feature.
            cargo.args([
                "build",
                "--quiet",
                "-p",
                "segments",
                "--example",
                "segment",
                "--features",
                "parquet",
            ]);
            if dir.ends_with("release") {
                cargo.arg("--release");
            }
            assert!(cargo
                .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
                .status()
                .unwrap()
                .success());
            dir.join("examples")
                .join(format!("segment{}", std::env::consts::EXE_SUFFIX))
        })
        .clone()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/parquet")
}

const SCHEMA: &str = r#"{"fields": {"health": "float", "nps": "int", "seats": "int", "plan": "string",
    "paying": "bool", "renewal_at": "timestamp", "signup": "timestamp", "tags": "tags"}}"#;

fn run(dir: &Path, entities: &Path, filter: &str) -> std::process::Output {
    std::fs::write(dir.join("schema.json"), SCHEMA).unwrap();
    std::fs::write(dir.join("filter.json"), filter).unwrap();
    Command::new(segment())
        .arg("--schema")
        .arg(dir.join("schema.json"))
        .arg("--entities")
        .arg(entities)
        .arg("--filter")
        .arg(dir.join("filter.json"))
        .args(["--now", "2026-11-22T12:00:00Z"])
        .output()
        .unwrap()
}

#[test]
fn parquet_and_json_lines_give_the_same_keys() {
    let dir = std::env::temp_dir().join(format!("segments-parquet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let filters = [
        r#"{"combinator":"and","rules":[]}"#,
        r#"{"combinator":"or","rules":[{"field":"health","operator":"<","value":30},
            {"field":"tags","operator":"containsAny","value":["vip"]}]}"#,
        r#"{"combinator":"and","rules":[{"field":"plan","operator":"in","value":["pro","日本"]},
            {"field":"renewal_at","operator":"withinLast","value":{"amount":400,"unit":"days"}}]}"#,
        r#"{"combinator":"and","not":true,"rules":[{"field":"paying","operator":"=","value":true},
            {"field":"seats","operator":">","value":1000000000}]}"#,
    ];
    for filter in filters {
        let want = run(&dir, &fixtures().join("rows.jsonl"), filter);
        assert!(want.status.success(), "{}", String::from_utf8_lossy(&want.stderr));
        assert!(!want.stdout.is_empty() || filter.contains("withinLast"));
        for name in ["pyarrow.parquet", "duckdb.parquet", "polars.parquet"] {
            let got = run(&dir, &fixtures().join(name), filter);
            assert!(got.status.success(), "{name}: {}", String::from_utf8_lossy(&got.stderr));
            assert_eq!(got.stdout, want.stdout, "{name}, {filter}");
        }
    }

    // Not Parquet: one line naming the file, nothing on stdout.
    let bad = dir.join("bad.parquet");
    std::fs::write(&bad, b"PAR1 not really").unwrap();
    let out = run(&dir, &bad, filters[0]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(&format!("segment: {}: Arrow/Parquet: ", bad.display())),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
