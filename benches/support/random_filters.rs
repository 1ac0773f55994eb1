//! Fifty random 10-condition filters over the peers' accounts (the fields
//! and value ranges of `shared/bench/peers.py`), from a fixed seed: every
//! operator family of the contract on every type, and/or groups, `not`,
//! and, as random filters have them, conditions on one field that
//! contradict each other. The same filters run in DuckDB through the
//! crate's own SQL compiler (`benches/peers_random.py`).

use serde_json::{json, Value};

/// The seed of the set: change it and every published ratio changes.
pub const SEED: u64 = 20_261_204;
/// How many filters, and conditions in each.
pub const FILTERS: usize = 50;
pub const CONDITIONS: usize = 10;

const PLANS: [&str; 4] = ["free", "starter", "pro", "enterprise"];
const COUNTRIES: [&str; 10] = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "NL"];

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn rule(field: &str, operator: &str, value: Value) -> Value {
    json!({"field": field, "operator": operator, "value": value})
}

/// A value of a numeric field, in its range.
fn number(r: &mut Rng, field: &str) -> Value {
    match field {
        "health" => json!(r.range(0, 1000) as f64 / 10.0),
        "nps" => json!(r.range(0, 10)),
        "mrr" => json!(r.range(0, 500_000) as f64 / 100.0),
        "seats" => json!(r.range(1, 999)),
        _ => json!(r.range(0, 999_999)),
    }
}

fn numeric(r: &mut Rng, field: &str) -> Value {
    let ops = [
        "<",
        "<=",
        ">",
        ">=",
        "=",
        "!=",
        "between",
        "notBetween",
        "in",
        "notIn",
        "null",
        "notNull",
    ];
    match *r.pick(&ops) {
        op @ ("between" | "notBetween") => {
            let (a, b) = (number(r, field), number(r, field));
            let (lo, hi) = if a.as_f64() <= b.as_f64() { (a, b) } else { (b, a) };
            rule(field, op, json!([lo, hi]))
        }
        op @ ("in" | "notIn") => {
            let n = r.range(1, 4);
            rule(field, op, Value::Array((0..n).map(|_| number(r, field)).collect()))
        }
        op @ ("null" | "notNull") => json!({"field": field, "operator": op}),
        op => rule(field, op, number(r, field)),
    }
}

fn words(r: &mut Rng, of: &[&str]) -> Value {
    let n = r.range(1, 3);
    Value::Array((0..n).map(|_| json!(r.pick(of))).collect())
}

fn string(r: &mut Rng, field: &str) -> Value {
    let of: &[&str] = if field == "plan" { &PLANS } else { &COUNTRIES };
    let ops = [
        "=",
        "!=",
        "in",
        "notIn",
        "beginsWith",
        "contains",
        "endsWith",
        "doesNotContain",
        "null",
        "notNull",
    ];
    match *r.pick(&ops) {
        op @ ("in" | "notIn") => rule(field, op, words(r, of)),
        op @ ("null" | "notNull") => json!({"field": field, "operator": op}),
        op @ ("=" | "!=") => rule(field, op, json!(r.pick(of))),
        op => {
            // A piece of a word: its start, end or middle letters.
            let w: &str = r.pick::<&str>(of);
            let len = r.range(1, w.len().min(3) as i64) as usize;
            let at = match op {
                "beginsWith" => 0,
                "endsWith" => w.len() - len,
                _ => r.below((w.len() - len + 1) as u64) as usize,
            };
            rule(field, op, json!(&w[at..at + len]))
        }
    }
}

fn timestamp(r: &mut Rng, field: &str) -> Value {
    let days = json!({"amount": r.range(1, 90), "unit": "days"});
    match r.below(5) {
        0 => rule(field, "withinLast", days),
        1 => rule(field, "moreThanAgo", days),
        2 => rule(field, "withinNext", days),
        3 => json!({"field": field, "operator": "null"}),
        _ => {
            // An instant around now (2026-11-22T12:00:00Z), within a year.
            let secs = 1_795_348_800 + r.range(-90 * 86_400, 365 * 86_400);
            let at = chrono_like(secs);
            rule(field, r.pick::<&str>(&["<", ">=", ">"]), json!(at))
        }
    }
}

/// RFC 3339 of whole seconds since the epoch, without a date library.
fn chrono_like(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn condition(r: &mut Rng) -> Value {
    let fields = [
        "health",
        "nps",
        "mrr",
        "seats",
        "score",
        "plan",
        "country",
        "paying",
        "last_seen",
        "renewal_at",
    ];
    match *r.pick(&fields) {
        f @ ("plan" | "country") => string(r, f),
        "paying" => match r.below(3) {
            0 => json!({"field": "paying", "operator": "null"}),
            _ => rule("paying", r.pick::<&str>(&["=", "!="]), json!(r.chance(50))),
        },
        f @ ("last_seen" | "renewal_at") => timestamp(r, f),
        f => numeric(r, f),
    }
}

/// A group of `n` conditions in two to five parts, each a condition or a
/// group of its own (the top mostly an `and` of `or`s, as saved segments
/// are), a few negated.
fn group(r: &mut Rng, n: usize, top: bool) -> Value {
    let parts = (r.range(2, 5) as usize).min(n);
    // Cut n conditions into `parts` non-empty sizes.
    let mut sizes = vec![1; parts];
    for _ in parts..n {
        sizes[r.below(parts as u64) as usize] += 1;
    }
    let rules: Vec<Value> = sizes
        .into_iter()
        .map(|k| if k == 1 { condition(r) } else { group(r, k, false) })
        .collect();
    let and = if top { r.chance(80) } else { r.chance(35) };
    let mut g = json!({"combinator": if and { "and" } else { "or" }, "rules": rules});
    if r.chance(if top { 5 } else { 15 }) {
        g["not"] = json!(true);
    }
    g
}

/// An endless stream of filters of `CONDITIONS` conditions, from `SEED`;
/// the bench keeps the first `FILTERS` of them, at most a few of which
/// match nothing or everything (random filters often do).
pub fn candidates() -> impl Iterator<Item = String> {
    let mut r = Rng(SEED);
    std::iter::repeat_with(move || group(&mut r, CONDITIONS, true).to_string())
}
