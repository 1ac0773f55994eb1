//! Account rules over their users: 1M accounts, 10M users.
//!
//! `cargo bench -p segments-benches --bench relations` times, with baselines from the same run:
//!
//! - `any_user_active_7d`: accounts with any user whose `last_active` is
//!   within 7 days, through the engine; against `users_active_7d`, the
//!   nested user filter alone (10M users), and `accounts_health_lt_30`, a
//!   plain account rule;
//! - `user_update`: one user's `last_active` written with 100 account
//!   segments quantifying over users; against `user_update_table_only`.
//!
//! `SEGMENTS_BENCH_SIZE=N` changes the number of accounts (default 1M);
//! there are 10 users per account, assigned at random.

use std::hint::black_box;
use std::time::Instant;

mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use segments::filter::{field, related, TimeUnit};
use segments::segment::{Actor, NewSegment, Role};
use segments::{eval, Clock, Engine, FieldType, Filter, LimitPolicy, Row, Schema, Timestamp};
use support::size;

const DAY: i64 = 86_400_000_000;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn bench(c: &mut Criterion) {
    let n = size();
    let now: Timestamp = "2026-11-20T00:00:00Z".parse().expect("a timestamp");
    let schema = Schema::builder()
        .kind("account", [("health", FieldType::Int)])
        .kind(
            "user",
            [("account_id", FieldType::String), ("last_active", FieldType::Timestamp)],
        )
        .relation("user", "account_id", "account")
        .build()
        .expect("a valid schema");
    let mut e = Engine::with_config(schema, LimitPolicy::default(), Default::default());
    e.set_clock(Clock::Fixed(now)).unwrap();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let t0 = Instant::now();
    let keys: Vec<String> = (0..n).map(|i| format!("a{i:08}")).collect();
    e.insert_many(
        "account",
        keys.iter()
            .map(|k| (k.as_str(), Row::new().set("health", r.below(100) as i64))),
    )
    .expect("valid rows");
    let users = n * 10;
    let chunk = 1_000_000;
    let mut done = 0;
    while done < users {
        let m = chunk.min(users - done);
        let rows: Vec<(String, Row)> = (done..done + m)
            .map(|i| {
                let account = &keys[r.below(n as u64) as usize];
                // Last active within the last 90 days, uniformly.
                let at = Timestamp::from_micros(now.as_micros() - r.below(90 * DAY as u64) as i64);
                (
                    format!("u{i:09}"),
                    Row::new().set("account_id", account.as_str()).set("last_active", at),
                )
            })
            .collect();
        e.insert_many("user", rows).expect("valid rows");
        done += m;
    }
    eprintln!(
        "relations/{n}: {n} accounts and {users} users loaded in {:.2?}",
        t0.elapsed()
    );

    let active = Filter::and([field("last_active").within_last(7, TimeUnit::Days)]);
    let any_active = Filter::and([related("user").any(active.clone())]);
    let health = Filter::and([field("health").lt(30)]);
    let users_t = e.store().table("user").expect("the kind");
    let active_plan = active
        .validate(users_t.schema(), &LimitPolicy::default())
        .expect("valid");
    eprintln!(
        "relations/{n}: {} users active within 7 days; {} accounts with one",
        eval::evaluate(&active_plan, users_t, now).map_or(0, |b| b.len()),
        e.query("account").evaluate(&any_active, now).map_or(0, |b| b.len())
    );
    let mut g = c.benchmark_group(format!("relations/{n}"));
    g.sample_size(20);
    g.bench_function("any_user_active_7d", |b| {
        b.iter(|| black_box(e.query("account").evaluate(&any_active, now).expect("valid")))
    });
    g.bench_function("users_active_7d", |b| {
        b.iter(|| black_box(eval::evaluate(&active_plan, users_t, now).expect("valid")))
    });
    g.bench_function("accounts_health_lt_30", |b| {
        b.iter(|| black_box(e.query("account").evaluate(&health, now).expect("valid")))
    });
    g.finish();

    let admin = Actor::new("bench", Role::Admin);
    for i in 0..100i64 {
        let f = Filter::and([related("user").at_least(
            1 + (i % 3) as u64,
            Filter::and([field("last_active").within_last(1 + i as u64, TimeUnit::Days)]),
        )]);
        e.create_segment(&admin, NewSegment::new(format!("s{i}"), "account").filter(f))
            .expect("valid segments");
    }
    let mut bare = e.store().table("user").expect("the kind").clone();
    let mut g = c.benchmark_group(format!("relations/{n}"));
    // Alternately active now and 60 days ago, so each write moves the user
    // in and out of every window.
    let mut flip = false;
    let mut next_row = move || {
        flip = !flip;
        let at = if flip {
            now
        } else {
            Timestamp::from_micros(now.as_micros() - 60 * DAY)
        };
        Row::new().set("last_active", at)
    };
    g.bench_function("user_update", |b| {
        b.iter(|| black_box(e.upsert("user", "u000000042", next_row()).expect("a live key")))
    });
    g.bench_function("user_update_table_only", |b| {
        b.iter(|| black_box(bare.upsert("u000000042", next_row()).expect("a live key")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
