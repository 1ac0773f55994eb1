//! What a growing engine costs, on the quickstart's accounts with ten
//! segments, each beside the baseline of one plain evaluation of a
//! 10-condition filter in the same run:
//!
//! - a field added and removed again (`Engine::add_field`,
//!   `Engine::remove_field`): every rule planned again, a column made and
//!   dropped;
//! - a day of events (100,000 at 1M accounts) dropped
//!   (`Engine::drop_events_before`), with the rules that read them
//!   re-evaluated, alone and with recording them again;
//! - a segment's settings set (`Engine::set_settings`).
//!
//! `cargo bench -p segments-benches --bench grow` runs 1M accounts (`SEGMENTS_BENCH_SIZE` to
//! change).

mod support;

#[path = "../examples/data/accounts.rs"]
mod accounts;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::segment::{Actor, NewSegment, Role, Settings};
use segments::{FieldType, Filter, Timestamp};
use support::{AT_RISK, MIXED10};

const DAY: i64 = 86_400_000_000;

fn bench(c: &mut Criterion) {
    let n = support::size_or(1_000_000);
    let now = Timestamp::from_micros(accounts::NOW_MICROS);
    let mixed10 = Filter::from_json(MIXED10).expect("a valid filter");
    let mut e = accounts::engine(n, 20261201);
    let admin = Actor::new("bench", Role::Admin);
    let mut segs = Vec::new();
    for i in 0..5 {
        for (name, f) in [("At risk", AT_RISK), ("Mixed", MIXED10)] {
            let spec = NewSegment::new(format!("{name} {i}"), "account").filter(Filter::from_json(f).expect("valid"));
            segs.push(e.create_segment(&admin, spec).expect("a valid segment").0);
        }
    }
    let counted = Filter::from_json(
        r#"{"combinator":"and","rules":[{"field":"@count:login","operator":">=","value":{"count":1,"withinLast":{"amount":30,"unit":"days"}}}]}"#,
    )
    .expect("valid");
    e.create_segment(&admin, NewSegment::new("Active", "account").filter(counted))
        .expect("a valid segment");
    // A day of logins, one in ten accounts, the oldest day kept.
    let day0 = now.as_micros() - 40 * DAY;
    let keys: Vec<String> = (0..n).step_by(10).map(|i| format!("a{i:08}")).collect();
    let logins: Vec<(String, &str, Timestamp)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                k.clone(),
                "login",
                Timestamp::from_micros(day0 + (i as i64 % 1000) * 1000),
            )
        })
        .collect();

    let mut g = c.benchmark_group(format!("grow/{n}"));
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    g.bench_function("baseline_evaluate_mixed10", |b| {
        b.iter(|| {
            e.query("account")
                .evaluate(black_box(&mixed10), now)
                .expect("evaluates")
        })
    });
    g.bench_function("add_and_remove_field", |b| {
        b.iter(|| {
            e.add_field("account", "bench_field", FieldType::Int).expect("adds");
            e.remove_field("account", "bench_field").expect("removes");
        })
    });
    g.bench_function("drop_a_day_of_events_and_record_it_again", |b| {
        b.iter(|| {
            e.record_events("account", logins.iter().map(|(k, ev, t)| (k, *ev, *t)))
                .expect("records");
            e.drop_events_before("account", Timestamp::from_micros(day0 + DAY))
                .expect("drops")
        })
    });
    g.bench_function("drop_a_day_of_events", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                e.record_events("account", logins.iter().map(|(k, ev, t)| (k, *ev, *t)))
                    .expect("records");
                let started = std::time::Instant::now();
                black_box(
                    e.drop_events_before("account", Timestamp::from_micros(day0 + DAY))
                        .expect("drops"),
                );
                spent += started.elapsed();
            }
            spent
        })
    });
    let mut settings = Settings::new();
    settings.insert("color", "#d33");
    settings.insert("health", serde_json::json!({"usage": 0.5, "nps": 0.3, "tickets": 0.2}));
    g.bench_function("set_settings", |b| {
        b.iter(|| {
            e.set_settings(&admin, segs[0], black_box(settings.clone()))
                .expect("sets")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
