//! Trends of tracked fields, through the public API: `@delta`, `@max` and
//! `@min` hold exactly where a model written here says, from the writes it
//! made (values, clears, deletes, at instants it chose) and the bound on
//! kept changes; for saved segments kept current by writes and by
//! `refresh`, the evaluator, the row-scan oracle, a restored snapshot and a
//! replayed journal; `next_change` names the instant a refresh is due.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use segments::journal::Options;
use segments::segment::{Actor, NewSegment, Role, SegmentId};
use segments::{
    eval, Clock, Engine, FieldType, Filter, FilterError, LimitPolicy, Row, Schema, SchemaError, Timestamp, Value,
};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
const T0: i64 = 1_800_000_000_000_000;
const KEYS: [&str; 4] = ["a", "b", "c", "d"];
/// How many changes of `health` are kept: small, to reach the bound.
const KEEP: usize = 4;

fn schema() -> Schema {
    Schema::builder()
        .kind("account", [("health", FieldType::Float), ("seats", FieldType::Int)])
        .track("health", KEEP)
        .track("seats", 64)
        .build()
        .unwrap()
}

fn t(micros: i64) -> Timestamp {
    Timestamp::from_micros(T0 + micros)
}

/// A write the model and the engine both make, after `wait` hours.
#[derive(Debug, Clone)]
enum W {
    Health(usize, Option<i64>),
    Seats(usize, Option<i64>),
    Delete(usize),
}

fn writes() -> impl Strategy<Value = Vec<(i64, W)>> {
    let w = prop_oneof![
        4 => (0..KEYS.len(), prop::option::weighted(0.85, (0i64..11).prop_map(|x| x * 10))).prop_map(|(k, v)| W::Health(k, v)),
        3 => (0..KEYS.len(), prop::option::weighted(0.85, 0i64..10)).prop_map(|(k, v)| W::Seats(k, v)),
        1 => (0..KEYS.len()).prop_map(W::Delete),
    ];
    prop::collection::vec((prop_oneof![Just(0i64), 1i64..40], w), 0..30)
}

/// A trend condition, its JSON and its meaning.
#[derive(Debug, Clone)]
struct C {
    what: &'static str,
    field: &'static str,
    op: &'static str,
    /// `by`, `percent` or `value`.
    member: &'static str,
    n: f64,
    days: i64,
}

fn conds() -> impl Strategy<Value = C> {
    (
        prop::sample::select(vec![
            ("delta", "by"),
            ("delta", "percent"),
            ("max", "value"),
            ("min", "value"),
        ]),
        prop::sample::select(vec!["health", "seats"]),
        prop::sample::select(vec!["<", "<=", ">", ">="]),
        -4i64..5,
        1i64..6,
    )
        .prop_map(|((what, member), field, op, n, days)| {
            let n = match (member, field) {
                ("percent", _) => n as f64 * 25.0,
                (_, "health") => n as f64 * 20.0 + 10.0 * f64::from(n % 2 == 0),
                _ => n as f64 + 0.5 * f64::from(n % 2 == 0),
            };
            C {
                what,
                field,
                op,
                member,
                n,
                days,
            }
        })
}

impl C {
    fn json(&self) -> String {
        format!(
            r#"{{"combinator":"and","rules":[{{"field":"@{}:{}","operator":"{}","value":{{"{}":{},"withinLast":{{"amount":{},"unit":"days"}}}}}}]}}"#,
            self.what, self.field, self.op, self.member, self.n, self.days
        )
    }

    fn cmp(&self, x: f64) -> bool {
        match self.op {
            "<" => x < self.n,
            "<=" => x <= self.n,
            ">" => x > self.n,
            _ => x >= self.n,
        }
    }

    /// The model: from the changes kept (instant, value), at `now`.
    fn holds(&self, h: &[(i64, Option<f64>)], now: i64) -> bool {
        let start = now - self.days * DAY;
        let h: Vec<_> = h.iter().filter(|c| c.0 <= now).copied().collect();
        let Some(&(_, current)) = h.last() else { return false };
        let at_start = h.iter().rev().find(|c| c.0 <= start).map(|c| c.1);
        let later: Vec<Option<f64>> = h.iter().filter(|c| c.0 > start).map(|c| c.1).collect();
        match self.what {
            "delta" => {
                let base = at_start.or_else(|| later.first().copied());
                let (Some(Some(b)), Some(c)) = (base, current) else {
                    return false;
                };
                if self.member == "by" {
                    self.cmp(c - b)
                } else {
                    b != 0.0 && self.cmp((c - b) / b.abs() * 100.0)
                }
            }
            _ => {
                let all: Vec<f64> = at_start.into_iter().chain(later).flatten().collect();
                let pick = if self.what == "max" { f64::max } else { f64::min };
                all.into_iter().reduce(pick).is_some_and(|x| self.cmp(x))
            }
        }
    }
}

/// Changes: (instant, value).
type Changes = Vec<(i64, Option<f64>)>;

/// The model of what the engine keeps: per field, per entity, the changes.
#[derive(Default, Clone)]
struct Model {
    h: BTreeMap<(&'static str, usize), Changes>,
    live: [bool; 4],
    health: [Option<i64>; 4],
    seats: [Option<i64>; 4],
}

impl Model {
    fn stamp(&mut self, field: &'static str, k: usize, now: i64, v: Option<i64>, keep: usize) {
        let h = self.h.entry((field, k)).or_default();
        let v = v.map(|x| x as f64);
        match h.last_mut() {
            Some(last) if last.1 == v => return,
            Some(last) if last.0 >= now => last.1 = v,
            None if v.is_none() => return,
            _ => h.push((now, v)),
        }
        if h.len() > keep {
            h.remove(0);
        }
    }

    fn apply(&mut self, e: &mut Engine, now: i64, w: &W) {
        let revive = |m: &mut Model, e: &mut Engine, k: usize| {
            if !m.live[k] {
                e.insert("account", KEYS[k], Row::new()).unwrap();
                m.live[k] = true;
            }
        };
        match *w {
            W::Health(k, v) | W::Seats(k, v) => {
                revive(self, e, k);
                let (field, keep) = if matches!(w, W::Health(..)) {
                    ("health", KEEP)
                } else {
                    ("seats", 64)
                };
                match v {
                    Some(x) if field == "health" => {
                        e.upsert("account", KEYS[k], Row::new().set("health", x as f64))
                            .unwrap();
                    }
                    Some(x) => {
                        e.upsert("account", KEYS[k], Row::new().set("seats", x)).unwrap();
                    }
                    None => {
                        e.clear_field("account", KEYS[k], field).unwrap();
                    }
                }
                if field == "health" {
                    self.health[k] = v;
                } else {
                    self.seats[k] = v;
                }
                self.stamp(field, k, now, v, keep);
            }
            W::Delete(k) => {
                if self.live[k] {
                    e.delete("account", KEYS[k]).unwrap();
                    self.live[k] = false;
                    self.health[k] = None;
                    self.seats[k] = None;
                    self.h.remove(&("health", k));
                    self.h.remove(&("seats", k));
                }
            }
        }
    }

    fn expect(&self, c: &C, now: i64) -> Vec<String> {
        (0..KEYS.len())
            .filter(|&k| self.live[k])
            .filter(|&k| c.holds(self.h.get(&(c.field, k)).map_or(&[][..], Vec::as_slice), now))
            .map(|k| KEYS[k].to_string())
            .collect()
    }
}

/// Keys sorted: ids follow the order entities were first inserted.
fn members(e: &Engine, s: SegmentId) -> Vec<String> {
    let mut keys: Vec<String> = e.segments().member_keys(s).unwrap().map(String::from).collect();
    keys.sort();
    keys
}

fn evaluated(e: &Engine, c: &C, now: i64) -> Vec<String> {
    let plan = Filter::from_json(&c.json())
        .unwrap()
        .validate(e.store().table("account").unwrap().schema(), &LimitPolicy::default())
        .unwrap();
    let table = e.store().table("account").unwrap();
    let got = eval::evaluate(&plan, table, t(now)).unwrap();
    assert_eq!(got, eval::scan(&plan, table, t(now)).unwrap(), "oracle: {}", c.json());
    let mut keys: Vec<String> = table.keys_of(&got).map(String::from).collect();
    keys.sort();
    keys
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the writes on `e` (its clock set before each), creating the
/// segments first; returns the model and the instant of the last write.
fn run(e: &mut Engine, ws: &[(i64, W)], cs: &[C]) -> (Model, Vec<SegmentId>, i64) {
    let admin = Actor::new("ada", Role::Admin);
    e.set_clock(Clock::Fixed(t(0))).unwrap();
    let segs = cs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let f = Filter::from_json(&c.json()).unwrap();
            e.create_segment(&admin, NewSegment::new(format!("s{i}"), "account").filter(f))
                .unwrap()
                .0
        })
        .collect();
    let mut m = Model::default();
    let mut now = 0;
    for (wait, w) in ws {
        now += wait * HOUR;
        e.set_clock(Clock::Fixed(t(now))).unwrap();
        m.apply(e, now, w);
    }
    (m, segs, now)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn trends_hold_where_the_model_says(ws in writes(), cs in prop::collection::vec(conds(), 1..4), later in 0i64..200) {
        let mut e = Engine::new(schema());
        let (m, segs, now) = run(&mut e, &ws, &cs);
        // Writes kept the written entities current; time moved for the rest.
        e.refresh(t(now)).unwrap();
        for (c, &s) in cs.iter().zip(&segs) {
            let want = m.expect(c, now);
            prop_assert_eq!(members(&e, s), want.clone(), "{}", c.json());
            prop_assert_eq!(evaluated(&e, c, now), want, "{}", c.json());
        }
        // Kept changes, as the table reports them.
        let table = e.store().table("account").unwrap();
        for ((field, k), h) in &m.h {
            let got: Vec<(i64, Option<f64>)> = table
                .field_history(table.id(KEYS[*k]).unwrap(), field)
                .into_iter()
                .map(|(at, v)| (at.as_micros() - T0, match v { Value::Int(i) => Some(i as f64), Value::Float(x) => Some(x), _ => None }))
                .collect();
            prop_assert_eq!(&got, h);
        }

        // Time passes with no writes: refreshing at or after the instant
        // next_change names catches every flip; before it, nothing flips.
        let mut at = now;
        let end = now + later * HOUR;
        loop {
            let next = e.segments().next_change(t(at)).map(|n| n.as_micros() - T0);
            let step = match next {
                Some(n) if n <= end => n,
                _ => end,
            };
            // Just before the named instant, segments are still right.
            if step - 1 > at {
                for (c, &s) in cs.iter().zip(&segs) {
                    prop_assert_eq!(members(&e, s), m.expect(c, step - 1), "{} before {}", c.json(), step);
                }
            }
            e.refresh(t(step)).unwrap();
            at = step;
            for (c, &s) in cs.iter().zip(&segs) {
                prop_assert_eq!(members(&e, s), m.expect(c, at), "{} at {}", c.json(), at);
            }
            if step >= end {
                break;
            }
        }

        // A snapshot keeps the changes and their bound.
        let mut bytes = Vec::new();
        e.save(&mut bytes).unwrap();
        let r = Engine::restore(&bytes[..]).unwrap();
        for (c, &s) in cs.iter().zip(&segs) {
            prop_assert_eq!(members(&r, s), members(&e, s));
            prop_assert_eq!(evaluated(&r, c, at), m.expect(c, at));
        }
        prop_assert_eq!(r.store().table("account").unwrap().schema().tracked("health"), Some(KEEP));
    }
}

#[test]
fn the_journal_replays_changes_at_their_instants() {
    let dir = TempDir(std::env::temp_dir().join(format!("segments-trends-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let ws: Vec<(i64, W)> = vec![
        (0, W::Health(0, Some(80))),
        (30, W::Health(0, Some(40))),
        (30, W::Health(1, Some(20))),
        (10, W::Health(1, Some(70))),
        (5, W::Seats(0, Some(3))),
    ];
    let c = C {
        what: "delta",
        field: "health",
        op: "<=",
        member: "by",
        n: -30.0,
        days: 5,
    };
    let (m, now) = {
        let (mut j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
        let (m, _, now) = run(&mut j, &ws, std::slice::from_ref(&c));
        (m, now)
    };
    let (j, _) = Engine::open(&dir.0, Options::new(schema())).unwrap();
    let s = j.segments().iter().next().unwrap().id;
    assert_eq!(m.expect(&c, now), ["a"]);
    assert_eq!(members(&j, s), ["a"]);
    let table = j.store().table("account").unwrap();
    let h = table.field_history(table.id("a").unwrap(), "health");
    assert_eq!(h, [(t(0), Value::Float(80.0)), (t(30 * HOUR), Value::Float(40.0))]);
}

#[test]
fn trends_need_a_tracked_numeric_field_and_their_own_shape() {
    let s = schema();
    let rule = |field: &str, op: &str, value: &str| {
        format!(r#"{{"combinator":"and","rules":[{{"field":"{field}","operator":"{op}","value":{value}}}]}}"#)
    };
    let untracked = Schema::builder()
        .kind("account", [("health", FieldType::Float)])
        .build()
        .unwrap();
    let check = |schema: &Schema, json: &str| {
        Filter::from_json(json).and_then(|f| segments::Plan::in_schema(&f, schema, "account", &LimitPolicy::default()))
    };
    let w = r#"{"by":5,"withinLast":{"amount":7,"unit":"days"}}"#;
    assert!(check(&s, &rule("@delta:health", ">=", w)).is_ok());
    for (schema, json, want) in [
        (
            &untracked,
            rule("@delta:health", ">=", w),
            "rules[0].field: `@delta:health`: the schema does not track `health`",
        ),
        (
            &s,
            rule("@delta:nope", ">=", w),
            "rules[0].field: unknown field `@delta:nope`",
        ),
        (
            &s,
            rule("@delta:health", "=", w),
            "rules[0].operator: operator `=` does not apply to `@delta:health`",
        ),
        (
            &s,
            rule("@max:health", ">=", w),
            "rules[0].value (field `@max:health`): expected {\"value\": <number>",
        ),
        (
            &s,
            rule(
                "@delta:health",
                ">=",
                r#"{"by":"x","withinLast":{"amount":7,"unit":"days"}}"#,
            ),
            "rules[0].value (field `@delta:health`): expected {\"by\"",
        ),
        (
            &s,
            rule("@delta:health", ">=", r#"{"by":5}"#),
            "rules[0].value (field `@delta:health`): expected {\"by\"",
        ),
    ] {
        let err = check(schema, &json).unwrap_err().to_string();
        assert!(err.starts_with(want), "{json}\n{err}\nwanted {want}");
    }
    assert!(matches!(
        check(&s, &rule("@min:health", "<", "3")),
        Err(FilterError::BadValue { .. })
    ));

    // The schema refuses what it cannot track.
    let k = segments::KindSchema::new("account", [("plan", FieldType::String), ("n", FieldType::Int)]).unwrap();
    assert!(matches!(
        k.clone().tracking("plan", 5),
        Err(SchemaError::NotTrackable { .. })
    ));
    assert!(matches!(
        k.clone().tracking("n", 0),
        Err(SchemaError::NotTrackable { .. })
    ));
    assert!(matches!(
        k.clone().tracking("zz", 5),
        Err(SchemaError::UnknownField { .. })
    ));
    let from_json = segments::KindSchema::from_json("account", r#"{"fields":{"n":"int"},"track":{"n":30}}"#).unwrap();
    assert_eq!(from_json.tracked("n"), Some(30));

    // And a filter written back reads the same.
    let f = Filter::from_json(&rule(
        "@max:health",
        ">",
        r#"{"value":80,"withinLast":{"amount":30,"unit":"days"}}"#,
    ))
    .unwrap();
    assert_eq!(Filter::from_json(&f.to_json_value().to_string()).unwrap(), f);
}

#[test]
fn crossed_below_a_threshold_is_a_max_and_the_value_now() {
    // "Crossed below 50 within 7 days": was at or above 50 in the window,
    // and is below it now.
    let mut e = Engine::new(schema());
    let admin = Actor::new("ada", Role::Admin);
    let crossed = Filter::from_json(
        r#"{"combinator":"and","rules":[
            {"field":"@max:health","operator":">=","value":{"value":50,"withinLast":{"amount":7,"unit":"days"}}},
            {"field":"health","operator":"<","value":50}]}"#,
    )
    .unwrap();
    e.set_clock(Clock::Fixed(t(0))).unwrap();
    let (s, _) = e
        .create_segment(&admin, NewSegment::new("Crossed below 50", "account").filter(crossed))
        .unwrap();
    for (k, h) in [("a", 70.0), ("b", 30.0), ("c", 60.0)] {
        e.insert("account", k, Row::new().set("health", h)).unwrap();
    }
    e.set_clock(Clock::Fixed(t(2 * DAY))).unwrap();
    e.upsert("account", "a", Row::new().set("health", 40.0)).unwrap();
    e.upsert("account", "b", Row::new().set("health", 20.0)).unwrap();
    assert_eq!(members(&e, s), ["a"]);
    // The first instant named is when 70 becomes the value at the window's
    // start: still in. Seven days after the drop, 70 has left the window.
    let next = e.segments().next_change(t(2 * DAY)).unwrap();
    assert_eq!(next, t(7 * DAY));
    e.refresh(next).unwrap();
    assert_eq!(members(&e, s), ["a"]);
    let next = e.segments().next_change(next).unwrap();
    assert_eq!(next, t(9 * DAY));
    e.refresh(next).unwrap();
    assert!(members(&e, s).is_empty());
}
