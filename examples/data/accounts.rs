//! A seeded generator of accounts with the ten fields and distributions of
//! `shared/bench/peers.py` (~5% of each field missing), shared by the
//! quickstart and the benches through `#[path]`.

use segments::{Clock, Engine, FieldType, KindSchema, Row, Schema, Table, Timestamp, Value};

/// The instant the generated timestamps are spread around: 2026-11-22T12:00:00Z.
pub const NOW_MICROS: i64 = 1_795_348_800_000_000;
const SECOND: i64 = 1_000_000;

pub fn kind() -> KindSchema {
    KindSchema::new(
        "account",
        [
            ("health", FieldType::Float),
            ("nps", FieldType::Int),
            ("mrr", FieldType::Float),
            ("plan", FieldType::String),
            ("country", FieldType::String),
            ("paying", FieldType::Bool),
            ("last_seen", FieldType::Timestamp),
            ("renewal_at", FieldType::Timestamp),
            ("seats", FieldType::Int),
            ("score", FieldType::Int),
        ],
    )
    .expect("a valid schema")
}

/// SplitMix64: small, fast and good enough for test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const PLANS: [(&str, f64); 4] = [("free", 0.4), ("starter", 0.3), ("pro", 0.2), ("enterprise", 0.1)];
const COUNTRIES: [&str; 10] = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "NL"];

fn pick_plan(r: &mut Rng) -> &'static str {
    let mut x = r.unit();
    for (p, w) in PLANS {
        if x < w {
            return p;
        }
        x -= w;
    }
    "enterprise"
}

fn pick_country(r: &mut Rng) -> &'static str {
    let x = r.unit();
    if x < 0.3 {
        "US"
    } else {
        COUNTRIES[1 + ((x - 0.3) / (0.7 / 9.0)).min(8.0) as usize]
    }
}

/// One account's row: each field missing with probability 5%.
pub fn row(r: &mut Rng) -> Row {
    let ts = |micros: i64| Value::Timestamp(Timestamp::from_micros(micros));
    let values: [(&str, Value); 10] = [
        ("health", Value::Float((r.unit() * 1000.0).round() / 10.0)),
        ("nps", Value::Int(r.range(0, 11))),
        (
            "mrr",
            Value::Float(((6.0 + 1.2 * r.normal()).exp() * 100.0).round() / 100.0),
        ),
        ("plan", Value::from(pick_plan(r))),
        ("country", Value::from(pick_country(r))),
        ("paying", Value::Bool(r.unit() < 0.6)),
        ("last_seen", ts(NOW_MICROS - r.range(0, 90 * 86_400) * SECOND)),
        (
            "renewal_at",
            ts(NOW_MICROS + r.range(-30 * 86_400, 365 * 86_400) * SECOND),
        ),
        ("seats", Value::Int(r.range(1, 1000))),
        ("score", Value::Int(r.range(0, 1_000_000))),
    ];
    values.into_iter().filter(|_| r.unit() >= 0.05).collect()
}

/// A table of `n` accounts keyed `a00000000`, `a00000001`, ...
#[allow(dead_code)]
pub fn table(n: usize, seed: u64) -> Table {
    let mut t = Table::new(kind());
    in_batches(n, seed, |rows| {
        t.insert_many(rows).expect("generated rows are valid");
    });
    t
}

/// An engine on a fixed clock at [`NOW_MICROS`] holding `n` accounts.
#[allow(dead_code)]
pub fn engine(n: usize, seed: u64) -> Engine {
    let schema = Schema::new([kind()]).expect("a valid schema");
    let mut e = Engine::new(schema);
    e.set_clock(Clock::Fixed(Timestamp::from_micros(NOW_MICROS))).unwrap();
    in_batches(n, seed, |rows| {
        e.insert_many("account", rows).expect("generated rows are valid");
    });
    e
}

/// Inserts the `n` accounts of `seed` into `e`, a few large batches.
#[allow(dead_code)]
pub fn fill(e: &mut Engine, n: usize, seed: u64) -> Result<(), segments::Error> {
    let mut out = Ok(());
    in_batches(n, seed, |rows| {
        if out.is_ok() {
            out = e.insert_many("account", rows).map(|_| ());
        }
    });
    out.map_err(segments::Error::from)
}

/// The `n` accounts of `seed` handed to `f` in batches: they keep the
/// transient typed rows small, and the first one is large enough to take
/// the bulk path that builds numeric indexes once.
fn in_batches(n: usize, seed: u64, mut f: impl FnMut(Vec<(String, Row)>)) {
    let mut r = Rng::new(seed);
    let chunk = (n / 4).max(100_000);
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        f((start..end).map(|i| (format!("a{i:08}"), row(&mut r))).collect());
        start = end;
    }
}
