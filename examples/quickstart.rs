//! Quickstart: 1,000,000 accounts from a seeded generator, the segments
//! customer-success tools ship with, evaluated through the indexes; then a
//! few accounts change and the segments are evaluated again.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

#[path = "data/accounts.rs"]
mod accounts;

use std::time::{Duration, Instant};

use segments::filter::{field, Filter, Node, TimeUnit};
use segments::{eval, LimitPolicy, Row, Table, Timestamp};

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

fn report(table: &Table, plans: &[(&str, segments::Plan)], now: Timestamp) -> Vec<u64> {
    let mut counts = Vec::new();
    for (name, plan) in plans {
        let (t, ids) = median(11, || {
            eval::evaluate(plan, table, now).expect("plans are for this table")
        });
        println!(
            "  {name:<24} {:>9} accounts  {:>8.3} ms",
            ids.len(),
            t.as_secs_f64() * 1e3
        );
        counts.push(ids.len());
    }
    counts
}

fn main() -> Result<(), segments::Error> {
    let n = 1_000_000;
    let start = Instant::now();
    let t0 = Instant::now();
    let mut table = accounts::table(n, 20261123);
    println!("built {} accounts in {:.2} s", table.len(), t0.elapsed().as_secs_f64());
    let mem = table.memory_usage();
    println!(
        "memory (estimated): {:.1} MB = keys {:.1} + columns {:.1} + indexes {:.1}",
        mem.total() as f64 / 1e6,
        mem.keys as f64 / 1e6,
        mem.columns as f64 / 1e6,
        mem.indexes as f64 / 1e6
    );

    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let policy = LimitPolicy::default();
    let plans: Vec<(&str, segments::Plan)> = segments()
        .into_iter()
        .map(|(name, f)| Ok((name, f.validate(table.schema(), &policy)?)))
        .collect::<Result<_, segments::Error>>()?;

    println!("\nsegments at {} (median of 11 evaluations):", now);
    let before = report(&table, &plans, now);

    // A support sweep: 1,000 accounts get worse health scores and NPS answers.
    let t1 = Instant::now();
    for i in (0..n).step_by(n / 1000) {
        table.upsert(&format!("a{i:08}"), Row::new().set("health", 12.5).set("nps", 2i64))?;
    }
    println!(
        "\nupdated 1,000 accounts in {:.2} ms; segments again:",
        t1.elapsed().as_secs_f64() * 1e3
    );
    let after = report(&table, &plans, now);
    for ((name, _), (b, a)) in plans.iter().zip(before.iter().zip(&after)) {
        if a != b {
            println!("  {name}: {b} -> {a} ({:+})", *a as i64 - *b as i64);
        }
    }

    // The keys of a few members, as a service would show them.
    let at_risk_mrr = eval::evaluate(&plans[2].1, &table, now)?;
    let first: Vec<&str> = table.keys_of(&at_risk_mrr).take(5).collect();
    println!("\nfirst members of \"{}\": {}", plans[2].0, first.join(", "));
    println!("done in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}
