//! The membership model, walked through as Vitally describes it: a rule
//! adds accounts, a manual removal blocks the rule, a rule attached later
//! re-adds, and a manual add survives the rule. Every step prints the
//! change feed it returned.
//!
//! Run: `cargo run --example membership`

use segments::filter::{field, TimeUnit};
use segments::segment::{Actor, ChangeKind, Changes, NewSegment, Role, Visibility};
use segments::{Clock, Engine, FieldType, Filter, Row, Schema, Timestamp};

fn main() -> Result<(), segments::Error> {
    let schema = Schema::builder()
        .kind(
            "account",
            [
                ("health", FieldType::Float),
                ("nps", FieldType::Int),
                ("mrr", FieldType::Int),
                ("last_seen", FieldType::Timestamp),
            ],
        )
        .build()?;
    let mut engine = Engine::new(schema);
    let now: Timestamp = "2026-11-23T09:00:00Z".parse().expect("a valid instant");
    let days_ago = |d: i64| Timestamp::from_micros(now.as_micros() - d * 86_400_000_000);
    engine.set_clock(Clock::Fixed(now))?;

    let accounts = [
        ("acme", 22.0, 9, 1200, 1),
        ("globex", 18.0, 4, 300, 3),
        ("initech", 64.0, 5, 5400, 20),
        ("umbrella", 91.0, 10, 800, 2),
    ];
    for (key, health, nps, mrr, seen) in accounts {
        let row = Row::new()
            .set("health", health)
            .set("nps", nps as i64)
            .set("mrr", mrr as i64)
            .set("last_seen", days_ago(seen));
        engine.insert("account", key, row)?;
    }

    let admin = Actor::new("ada", Role::Admin);
    let csm = Actor::new("carl", Role::Member);

    step("An admin creates \"At risk\": health < 30");
    let (at_risk, changes) = engine.create_segment(
        &admin,
        NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(30)])),
    )?;
    feed(&engine, &changes);

    step("A CSM (role member) may not edit it");
    let refused = engine.set_filter(&csm, at_risk, None).unwrap_err();
    println!("  refused: {refused}");

    step("An admin removes globex by hand: it exits, and the filter is blocked for it");
    let changes = engine.remove_members(&admin, at_risk, ["globex"])?;
    feed(&engine, &changes);
    println!(
        "  blocks on globex: {}",
        list(engine.segments().blocks(at_risk, "globex")?)
    );

    step("globex's health drops further: the blocked rule does not add it back");
    let changes = engine.upsert("account", "globex", Row::new().set("health", 9.0))?;
    feed(&engine, &changes);

    step("A playbook rule attached later (NPS < 7) is not blocked: globex is back");
    let (detractors, changes) = engine.attach_rule(
        &admin,
        at_risk,
        Filter::and([field("nps").lt(7), field("mrr").lt(1000)]),
    )?;
    feed(&engine, &changes);
    println!(
        "  globex is linked by {}",
        list(engine.segments().links(at_risk, "globex")?)
    );

    step("umbrella is added by hand, though no rule matches it");
    let changes = engine.add_members(&admin, at_risk, ["umbrella"])?;
    feed(&engine, &changes);

    step("umbrella's health stays high: no rule removes a manual add");
    let changes = engine.upsert("account", "umbrella", Row::new().set("health", 95.0))?;
    feed(&engine, &changes);
    println!(
        "  umbrella is linked by {}",
        list(engine.segments().links(at_risk, "umbrella")?)
    );

    step("acme recovers: the filter stops matching and acme exits");
    let changes = engine.upsert("account", "acme", Row::new().set("health", 70.0))?;
    feed(&engine, &changes);

    step("The playbook rule is detached: globex's last link goes");
    let changes = engine.detach_rule(&admin, detractors)?;
    feed(&engine, &changes);

    step("Clearing the blocks lets the filter link globex again");
    let changes = engine.clear_blocks(&admin, at_risk, ["globex"])?;
    feed(&engine, &changes);

    step("A private segment of the CSM's own, relative to time: seen in the last 7 days");
    let (recent, changes) = engine.create_segment(
        &csm,
        NewSegment::new("Recently seen", "account")
            .filter(Filter::and([field("last_seen").within_last(7, TimeUnit::Days)]))
            .visibility(Visibility::Private),
    )?;
    feed(&engine, &changes);
    let names = |a: &Actor| {
        engine
            .as_actor(a)
            .segments()
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    println!(
        "  the CSM lists {:?}; another member lists {:?}",
        names(&csm),
        names(&Actor::new("mo", Role::Member))
    );

    step("Five days later, a refresh moves those whose window slid");
    let later = Timestamp::from_micros(now.as_micros() + 5 * 86_400_000_000);
    engine.set_clock(Clock::Fixed(later))?;
    let changes = engine.refresh(later)?;
    feed(&engine, &changes);

    step("Where is each account, and what does \"At risk\" look like?");
    for (key, ..) in accounts {
        let names: Vec<_> = engine
            .segments()
            .segments_of("account", key)?
            .into_iter()
            .map(|s| engine.segments().get(s).map(|i| i.name.clone()))
            .collect::<Result<_, _>>()?;
        println!("  {key:<9} in {names:?}");
    }
    let mrr = engine.query("account").within(at_risk)?.numeric_stats("mrr", &[90.0])?;
    println!(
        "  At risk: {} members, MRR median {:?}, p90 {:?}, sum {:?}",
        mrr.count, mrr.median, mrr.percentiles[0].1, mrr.sum
    );
    let _ = recent;
    Ok(())
}

fn list<T: std::fmt::Display>(xs: Vec<T>) -> String {
    let xs: Vec<String> = xs.iter().map(|x| x.to_string()).collect();
    xs.join(", ")
}

fn step(title: &str) {
    println!("\n{title}");
}

fn feed(engine: &Engine, changes: &Changes) {
    if changes.is_empty() {
        println!("  (no membership change)");
    }
    for c in changes.iter() {
        let segment = engine
            .segments()
            .get(c.segment)
            .map_or("(deleted)".to_string(), |s| s.name.clone());
        let key = engine
            .store()
            .table("account")
            .ok()
            .and_then(|t| t.key(c.entity))
            .unwrap_or("?");
        let kind = match c.kind {
            ChangeKind::Entered => "entered",
            ChangeKind::Exited => "exited ",
        };
        println!(
            "  {key:<9} {kind} {segment:<14} cause: {:<8} at {}",
            c.cause.to_string(),
            c.at
        );
    }
}
