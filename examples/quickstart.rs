//! Quickstart: the path of a service. An `Engine` opened on a directory
//! (every write journaled) is loaded with 1,000,000 accounts from a seeded
//! generator and given the segments customer-success tools ship with, each
//! printed with its filter and count. A webhook consumer starts from now;
//! a support sweep changes 1,000 accounts and the engine reports who
//! entered and left which segment, and the consumer reads those changes,
//! by key, from its cursor. The service restarts: the directory reopens to
//! the same members and the consumer's cursor. A week passes and a refresh
//! moves the time-relative segments, and an ad hoc filter is evaluated
//! through the indexes.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

#[path = "data/accounts.rs"]
mod accounts;

use std::time::{Duration, Instant};

use segments::filter::{field, Filter, Node, TimeUnit};
use segments::journal::Options;
use segments::segment::{Actor, ChangeKind, Changes, NewSegment, Role, SegmentId};
use segments::{Clock, Engine, Row, Schema, Timestamp};

fn segments() -> Vec<(&'static str, Filter)> {
    let at_risk = || [Node::from(field("health").lt(30)), field("nps").lt(7).into()];
    vec![
        ("At Risk", Filter::and(at_risk())),
        ("At Risk (either)", Filter::or(at_risk())),
        (
            "At Risk, MRR > 1000",
            Filter::and(at_risk().into_iter().chain([field("mrr").gt(1000).into()])),
        ),
        (
            "Sales Opportunity",
            Filter::and([
                Node::from(field("health").ge(70)),
                field("nps").ge(9).into(),
                field("plan").is_in(["free", "starter"]).into(),
                field("seats").ge(50).into(),
            ]),
        ),
        (
            "Churn Risk",
            Filter::and([
                Node::from(field("paying").eq(true)),
                field("renewal_at").within_next(60, TimeUnit::Days).into(),
                Filter::or([
                    field("last_seen").more_than_ago(30, TimeUnit::Days),
                    field("health").lt(40),
                ])
                .into(),
            ]),
        ),
        (
            "Mixed, 10 conditions",
            Filter::and([
                Node::from(field("health").lt(30)),
                Filter::or([field("nps").lt(7), field("mrr").gt(1000)]).into(),
                field("plan").is_in(["pro", "enterprise"]).into(),
                field("country").ne("US").into(),
                field("paying").eq(true).into(),
                field("last_seen").within_last(14, TimeUnit::Days).into(),
                field("renewal_at").within_next(60, TimeUnit::Days).into(),
                field("seats").between(10, 500).into(),
                field("mrr").lt(4000).into(),
            ]),
        ),
    ]
}

/// The median of `runs` timings of `f`, and its last result.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        out = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[runs / 2], out.expect("runs > 0"))
}

/// Each segment's member count.
fn counts(engine: &Engine, ids: &[(SegmentId, &str)]) -> Vec<u64> {
    ids.iter()
        .map(|&(id, _)| engine.segments().count(id).unwrap_or(0))
        .collect()
}

/// Who entered and left each segment in one call's changes.
fn show(engine: &Engine, ids: &[(SegmentId, &str)], changes: &Changes) {
    for &(id, name) in ids {
        let (entered, exited) = (
            changes.of(id, ChangeKind::Entered).len(),
            changes.of(id, ChangeKind::Exited).len(),
        );
        if entered + exited > 0 {
            let now = engine.segments().count(id).unwrap_or(0);
            println!("  {name:<22} +{entered:<5} -{exited:<5} now {now}");
        }
    }
}

fn main() -> Result<(), segments::Error> {
    // A directory of its own, removed at the end (a service keeps its own).
    let dir = std::env::temp_dir().join(format!("segments-quickstart-{}", std::process::id()));
    let out = run(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn run(dir: &std::path::Path) -> Result<(), segments::Error> {
    let n = 1_000_000;
    let start = Instant::now();
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let t0 = Instant::now();
    let schema = Schema::new([accounts::kind()])?;
    let (mut engine, _) = Engine::open(dir, Options::new(schema.clone()))?;
    // The engine's clock is fixed at `now`, so that the output is the same on every run.
    engine.set_clock(Clock::Fixed(now))?;
    accounts::fill(&mut engine, n, 20261123)?;
    let table = engine.store().table("account")?;
    let mem = table.memory_usage();
    println!(
        "loaded {} accounts into {} in {:.2} s (journaled); memory (estimated) {:.1} MB = keys {:.1} + columns {:.1} + indexes {:.1}",
        table.len(),
        dir.display(),
        t0.elapsed().as_secs_f64(),
        mem.total() as f64 / 1e6,
        mem.keys as f64 / 1e6,
        mem.columns as f64 / 1e6,
        mem.indexes as f64 / 1e6
    );

    // Segments: each keeps its members current from now on.
    let csm = Actor::new("csm", Role::Admin);
    let mut ids = Vec::new();
    println!("\nsegments at {now}:");
    for (name, filter) in segments() {
        let json = serde_json::to_string(&filter).expect("a filter serializes");
        let t = Instant::now();
        let (id, _) = engine.create_segment(&csm, NewSegment::new(name, "account").filter(filter))?;
        println!(
            "  {name:<22} {:>7} accounts  ({:>6.1} ms)  {json}",
            engine.segments().count(id)?,
            t.elapsed().as_secs_f64() * 1e3
        );
        ids.push((id, name));
    }

    // A webhook consumer starts from here: it reads what comes next, not
    // the members the segments were created with.
    let seq = engine.log().seq();
    engine.ack("webhook", seq)?;

    // A support sweep: 1,000 accounts get worse health scores and NPS answers.
    let sweep: Vec<(String, Row)> = (0..n)
        .step_by(n / 1000)
        .map(|i| (format!("a{i:08}"), Row::new().set("health", 12.5).set("nps", 2i64)))
        .collect();
    let t1 = Instant::now();
    let changes = engine.upsert_many("account", sweep)?;
    println!(
        "\nupdated 1,000 accounts in {:.1} ms; the segments that moved:",
        t1.elapsed().as_secs_f64() * 1e3
    );
    show(&engine, &ids, &changes);

    // The consumer reads the change log from its cursor (entries name the
    // segment and the entity by key), and acknowledges.
    let batch = engine.log().changes_for("webhook", 1000)?;
    println!("\nthe webhook consumer reads {} changes; the first two:", batch.len());
    for c in batch.iter().take(2) {
        println!("  {}", serde_json::to_string(c).expect("a change serializes"));
    }
    if let Some(last) = batch.last() {
        engine.ack("webhook", last.seq)?;
    }

    // A restart: a checkpoint writes a snapshot (so that the reopen reads
    // it rather than replay every write), the engine closes, and the
    // directory reopens to the same segments and the consumer's cursor.
    engine.checkpoint()?;
    let before = counts(&engine, &ids);
    drop(engine);
    let (mut engine, report) = Engine::open(dir, Options::new(schema))?;
    let after = counts(&engine, &ids);
    println!(
        "\nrestarted in {:.2} s: the same members ({}), and the consumer has {} changes to read",
        report.elapsed.as_secs_f64(),
        if before == after { "every segment" } else { "NOT" },
        engine.log().changes_for("webhook", 1000)?.len()
    );

    // A week passes: the time-relative segments move without any write.
    let week = now.saturating_add(Duration::from_secs(7 * 86_400));
    if let Some(next) = engine.segments().next_change(now) {
        println!("\nthe next time-relative change is due at {next}");
    }
    engine.set_clock(Clock::Fixed(week))?;
    let t2 = Instant::now();
    let changes = engine.refresh(week)?;
    println!(
        "a refresh at {week} took {:.1} ms; the segments that moved:",
        t2.elapsed().as_secs_f64() * 1e3
    );
    show(&engine, &ids, &changes);

    // An ad hoc filter, evaluated through the indexes (as a builder's live count is).
    let json = r#"{"combinator": "and", "rules": [
        {"field": "health", "operator": "<", "value": 30},
        {"field": "plan", "operator": "in", "value": ["pro", "enterprise"]}]}"#;
    let filter = Filter::from_json(json)?;
    let (t, hits) = median(11, || engine.query("account").evaluate(&filter, week));
    let hits = hits?;
    let table = engine.store().table("account")?;
    let first: Vec<&str> = table.keys_of(&hits).take(3).collect();
    println!(
        "\nad hoc: {} accounts in {:.2} ms (median of 11), first {}",
        hits.len(),
        t.as_secs_f64() * 1e3,
        first.join(", ")
    );
    println!("done in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}
