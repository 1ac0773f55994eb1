//! A scanner for the shape nearly every line of a load has: one flat
//! object of known fields whose strings hold no escape, with values of the
//! fields' types. It reads such a line straight into a batch's cells, at a
//! fraction of the cost of serde's visitor (which calls through a seed, a
//! visitor and a map access for every member).
//!
//! Anything else (an escape, a nested object, an unknown, repeated or
//! mistyped member, a number it does not read exactly as serde_json does,
//! any syntax error) makes it give up and leave the line, untouched, to the
//! full parser in [`super::json`], which accepts or refuses it with its
//! own messages and positions. So the scanner decides nothing: a line it
//! takes is one the full parser would take with the same cells, and a
//! differential test holds it to that.

use super::batch::{check_key, time_key, Batch};
use crate::schema::{FieldId, FieldType, KindSchema};
use crate::value::{float_key, int_key};

/// A member's value, read and checked, waiting for the line's end: the
/// batch is written only once the whole line has been read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    /// The order-preserving key of an int, float or timestamp.
    Num(u64),
    /// A string's contents, `start..end` of the line.
    Str(u32, u32),
    /// An array of strings' contents, between its brackets.
    Tags(u32, u32),
}

/// What the scanner keeps from one line to the next.
#[derive(Default)]
pub(crate) struct Scratch {
    cells: Vec<(FieldId, Cell)>,
    /// The member that came last after each member (`after[0]`: first;
    /// then `key`, then each field; `None` inside for `key`): lines of a
    /// load mostly name their members in one order, some left out, so a
    /// name is first compared with the one that followed its predecessor
    /// last time.
    after: Vec<Option<Option<FieldId>>>,
}

/// Reads `line` into a new row of `out` and returns true, or returns false
/// and leaves `out` as it was.
pub(crate) fn row(schema: &KindSchema, line: &str, out: &mut Batch, scratch: &mut Scratch) -> bool {
    if schema.len() > 64 || line.len() > u32::MAX as usize {
        return false;
    }
    let Scratch { cells, after } = scratch;
    cells.clear();
    after.resize(schema.len() + 2, None);
    // Where the member before is in `after`.
    let mut prev = 0;
    let mut s = Scan {
        b: line.as_bytes(),
        i: 0,
    };
    let mut key = None;
    let mut seen = 0u64;
    s.ws();
    if !s.eat(b'{') {
        return false;
    }
    s.ws();
    if !s.eat(b'}') {
        loop {
            let Some((a, z)) = s.string() else { return false };
            s.ws();
            if !s.eat(b':') {
                return false;
            }
            s.ws();
            let name = &line[a..z];
            // The member: `None` for the key, else its field.
            let predicted = after[prev].filter(|&m| match m {
                None => name == "key",
                Some(f) => schema.field(f).is_some_and(|(n, _)| n == name),
            });
            let member = match predicted {
                Some(m) => m,
                None if name == "key" => None,
                None => match schema.field_id(name) {
                    Some(f) => Some(f),
                    None => return false,
                },
            };
            after[prev] = Some(member);
            prev = member.map_or(1, |f| f.index() + 2);
            if let Some(f) = member {
                let bit = 1u64 << f.index();
                if seen & bit != 0 {
                    return false;
                }
                seen |= bit;
                let Some((_, ty)) = schema.field(f) else { return false };
                let Some(cell) = s.value(ty, line) else { return false };
                cells.push((f, cell));
            } else {
                if key.is_some() {
                    return false;
                }
                let Some(span) = s.string() else { return false };
                key = Some(span);
            }
            s.ws();
            if s.eat(b',') {
                s.ws();
                continue;
            }
            if s.eat(b'}') {
                break;
            }
            return false;
        }
    }
    s.ws();
    let Some((a, z)) = key else { return false };
    let k = &line[a..z];
    if s.i != s.b.len() || check_key(k).is_err() {
        return false;
    }
    let r = out.row();
    out.push_key(k);
    for &(f, cell) in cells.iter() {
        let c = out.field(f);
        match cell {
            Cell::Null => c.null(r),
            Cell::Bool(v) => c.bool(r, v),
            Cell::Num(k) => c.num(r, k),
            Cell::Str(a, z) => c.str(r, &line[a as usize..z as usize]),
            Cell::Tags(a, z) => {
                let mut t = Scan {
                    b: &line.as_bytes()[..z as usize],
                    i: a as usize,
                };
                let mut tags = Vec::new();
                t.ws();
                while let Some((a, z)) = t.string() {
                    tags.push(line[a..z].to_string());
                    t.ws();
                    t.eat(b',');
                    t.ws();
                }
                c.tags(r, tags);
            }
        }
    }
    out.end_row();
    true
}

/// The microseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z`, the
/// form exports write; `None` for any other (a leap second, an offset, a
/// lower-case letter, more digits), which chrono reads.
fn utc_micros(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b.len() > 27 || b[b.len() - 1] != b'Z' {
        return None;
    }
    // The first twenty bytes as an array: fixed places, no bounds to check.
    let h: [u8; 20] = b[..20].try_into().ok()?;
    if h[4] != b'-' || h[7] != b'-' || h[10] != b'T' || h[13] != b':' || h[16] != b':' {
        return None;
    }
    let digit = |i: usize| i64::from(h[i].wrapping_sub(b'0'));
    let mut bad = false;
    for i in [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] {
        bad |= !h[i].is_ascii_digit();
    }
    let two = |i: usize| digit(i) * 10 + digit(i + 1);
    let y = two(0) * 100 + two(2);
    let (mo, d, hh, mi, sec) = (two(5), two(8), two(11), two(14), two(17));
    let mut frac = 0;
    if b.len() > 20 {
        // `.` and one to six digits before the `Z`.
        if b.len() == 21 || h[19] != b'.' {
            return None;
        }
        let digits = &b[20..b.len() - 1];
        for &c in digits {
            let x = c.wrapping_sub(b'0');
            bad |= x > 9;
            frac = frac * 10 + i64::from(x);
        }
        frac *= 10i64.pow(6 - digits.len() as u32);
    }
    if bad {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in = [31, 28 + i64::from(leap), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d < 1 || d > days_in[mo as usize - 1] || hh > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Days from 1970-01-01 of the proleptic Gregorian date (Hinnant's
    // days_from_civil, with years counted from March).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mi) * 60_000_000 + sec * 1_000_000 + frac)
}

/// The powers of ten a double holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// A number as serde_json reads it, where the scanner is sure it does.
enum Number {
    Int(i64),
    Float(f64),
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += hit as usize;
        hit
    }

    fn eat_word(&mut self, w: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(w);
        if hit {
            self.i += w.len();
        }
        hit
    }

    /// JSON's whitespace (a line holds no newline, but `\r` may end it).
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    /// A string with no escape and no control character: its contents.
    fn string(&mut self) -> Option<(usize, usize)> {
        if !self.eat(b'"') {
            return None;
        }
        let from = self.i;
        // Eight bytes at a time to the first quote, backslash or control
        // character (the lowest flagged byte of each test is exact).
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        for chunk in self.b[from..].chunks_exact(8) {
            let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
            let w = u64::from_le_bytes(bytes);
            let (q, bs) = (w ^ (ONES * u64::from(b'"')), w ^ (ONES * u64::from(b'\\')));
            let hit =
                (q.wrapping_sub(ONES) & !q | bs.wrapping_sub(ONES) & !bs | w.wrapping_sub(ONES * 0x20) & !w) & HIGH;
            if hit != 0 {
                self.i += hit.trailing_zeros() as usize / 8;
                break;
            }
            self.i += 8;
        }
        loop {
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        self.i += 1;
        Some((from, self.i - 1))
    }

    /// JSON's number grammar; `None` past what is read exactly as
    /// serde_json reads it (integers of more than 18 digits, `-0`, which
    /// it reads as a float, exponents of more than two digits, floats
    /// that are not finite).
    fn number(&mut self, line: &str) -> Option<Number> {
        let from = self.i;
        let neg = self.eat(b'-');
        // Every digit, point aside, as one integer (wrapping past 19
        // digits, where it is not used).
        let mut m = 0u64;
        let mut take = |s: &mut Self| {
            let start = s.i;
            while let Some(d @ b'0'..=b'9') = s.peek() {
                m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                s.i += 1;
            }
            s.i - start
        };
        let whole = match self.peek()? {
            b'0' => {
                self.i += 1;
                1
            }
            b'1'..=b'9' => take(self),
            _ => return None,
        };
        let (mut float, mut frac, mut exp) = (false, 0, 0i32);
        if self.eat(b'.') {
            frac = take(self);
            if frac == 0 {
                return None;
            }
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let minus = !self.eat(b'+') && self.eat(b'-');
            let start = self.i;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                exp = exp * 10 + i32::from(d - b'0');
                self.i += 1;
                if self.i - start > 2 {
                    return None;
                }
            }
            if self.i == start {
                return None;
            }
            if minus {
                exp = -exp;
            }
            float = true;
        }
        if !float {
            // Up to 18 digits fit an i64.
            if whole > 18 || (neg && m == 0) {
                return None;
            }
            let v = m as i64;
            return Some(Number::Int(if neg { -v } else { v }));
        }
        // Clinger's fast path: digits below 2^53 and a power of ten up to
        // 10^22 are exact doubles, so one correctly rounded product or
        // quotient is the correctly rounded value, as a full parse gives.
        let e10 = exp - frac as i32;
        if whole + frac <= 15 && (-22..=22).contains(&e10) {
            let p = POW10[e10.unsigned_abs() as usize];
            let x = if e10 < 0 { m as f64 / p } else { m as f64 * p };
            return Some(Number::Float(if neg { -x } else { x }));
        }
        let x: f64 = line[from..self.i].parse().ok()?;
        x.is_finite().then_some(Number::Float(x))
    }

    /// A value for a field of type `ty`, where it is one the field takes.
    fn value(&mut self, ty: FieldType, line: &str) -> Option<Cell> {
        if self.eat_word(b"null") {
            return Some(Cell::Null);
        }
        match (ty, self.peek()?) {
            (FieldType::Int, _) => match self.number(line)? {
                Number::Int(v) => Some(Cell::Num(int_key(v))),
                Number::Float(_) => None,
            },
            (FieldType::Float, _) => match self.number(line)? {
                Number::Int(v) => Some(Cell::Num(float_key(v as f64))),
                Number::Float(x) => Some(Cell::Num(float_key(x))),
            },
            (FieldType::String, _) => {
                let (a, z) = self.string()?;
                Some(Cell::Str(a as u32, z as u32))
            }
            (FieldType::Timestamp, _) => {
                let (a, z) = self.string()?;
                let text = &line[a..z];
                match utc_micros(text.as_bytes()) {
                    Some(us) => Some(Cell::Num(int_key(us))),
                    None => time_key(text).ok().map(Cell::Num),
                }
            }
            (FieldType::Bool, _) => {
                if self.eat_word(b"true") {
                    Some(Cell::Bool(true))
                } else if self.eat_word(b"false") {
                    Some(Cell::Bool(false))
                } else {
                    None
                }
            }
            (FieldType::Tags, b'[') => {
                self.i += 1;
                let from = self.i;
                self.ws();
                if !self.eat(b']') {
                    loop {
                        self.string()?;
                        self.ws();
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                        self.ws();
                    }
                }
                Some(Cell::Tags(from as u32, self.i as u32 - 1))
            }
            (FieldType::Tags, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::Source;
    use proptest::prelude::*;

    fn schema() -> KindSchema {
        KindSchema::new(
            "account",
            [
                ("n", FieldType::Int),
                ("x", FieldType::Float),
                ("s", FieldType::String),
                ("t", FieldType::Timestamp),
                ("b", FieldType::Bool),
                ("g", FieldType::Tags),
            ],
        )
        .expect("a valid schema")
    }

    /// Values of every type and form, well and badly made.
    fn value() -> impl Strategy<Value = String> {
        let fixed = prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-0",
            "-0.0",
            "0.0",
            "1",
            "-1",
            "007",
            "1.",
            ".5",
            "1.5",
            "-2.25",
            "1e5",
            "1E+2",
            "1e-2",
            "2.5e-07",
            "1e400",
            "-1e400",
            "1e-400",
            "1e999",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "18446744073709551616",
            "123456789012345678",
            "1234567890123456789",
            "0.1000000000000000055511151231257827",
            "3.141592653589793238462643383279",
            "4.9e-324",
            "1.7976931348623157e308",
            "+1",
            "--1",
            "1-",
            "\"\"",
            "\"a\"",
            "\"caf\u{e9}\"",
            "\"a\\\"b\"",
            "\"\\u0041\"",
            "\"tab\there\"",
            "\"2024-01-02T03:04:05Z\"",
            "\"2024-01-02T03:04:05.123456Z\"",
            "\"2024-13-02T03:04:05Z\"",
            "\"2024-01-02\"",
            "[]",
            "[\"a\"]",
            "[\"b\", \"a\", \"b\"]",
            "[ \"a\" , \"\" ]",
            "[\"a\",]",
            "[1]",
            "[null]",
            "[[\"a\"]]",
            "{}",
            "{\"a\": 1}",
            "nul",
            "truex",
            "\"unterminated",
        ]);
        let num = any::<f64>().prop_map(|x| format!("{x:?}"));
        let int = any::<i64>().prop_map(|i| i.to_string());
        let digits = "-?[0-9]{1,20}(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?";
        // Strings long enough to be scanned eight bytes at a time, with a
        // quote, backslash, control or non-ASCII character anywhere.
        let text = "[a-z\\\\\"\u{1}\u{1f}\u{7f}\u{e9}\u{80}]{0,24}".prop_map(|t| format!("\"{t}\""));
        prop_oneof![
            4 => fixed.prop_map(String::from),
            1 => num,
            1 => int,
            2 => digits.prop_map(String::from),
            2 => text,
        ]
    }

    fn member() -> impl Strategy<Value = String> {
        let name = prop::sample::select(vec!["key", "n", "x", "s", "t", "b", "g", "other", "k\\u0065y", "n "]);
        let key = prop::sample::select(vec![
            "\"a1\"",
            "\"\"",
            "\"a\\u0001\"",
            "\"\u{7f}x\"",
            "1",
            "null",
            "\"b c\"",
        ]);
        (name, prop_oneof![key.prop_map(String::from), value()]).prop_map(|(n, v)| format!("\"{n}\":{v}"))
    }

    fn line() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", " ", "\t", "\r", "  "]);
        (
            proptest::collection::vec((member(), ws.clone()), 0..6),
            ws.clone(),
            prop::bool::weighted(0.8),
            prop::sample::select(vec!["", "", "", "x", "}", ",", "\r"]),
        )
            .prop_map(|(members, ws, keyed, tail)| {
                let mut body: Vec<String> = members.into_iter().map(|(m, w)| format!("{w}{m}{w}")).collect();
                if keyed {
                    body.insert(0, "\"key\": \"k1\"".into());
                }
                format!("{ws}{{{}}}{ws}{tail}", body.join(","))
            })
    }

    /// A line the scanner takes, serde's parser takes with the same
    /// cells; one it gives up on leaves the batch as it was. Whether it
    /// took the line.
    fn agrees(l: &str, scratch: &mut Scratch) -> Result<bool, TestCaseError> {
        let schema = schema();
        let mut slow = Batch::new(&schema, Source::Lines(Vec::new()));
        let mut fast = Batch::new(&schema, Source::Lines(Vec::new()));
        let untouched = format!("{fast:?}");
        let took = row(&schema, l, &mut fast, scratch);
        let parsed = super::super::json::parse_row(&schema, l, &mut slow);
        if took {
            prop_assert!(parsed.is_ok(), "taken, but the parser refuses {}: {:?}", l, parsed);
            prop_assert_eq!(format!("{slow:?}"), format!("{fast:?}"), "{}", l);
        } else {
            prop_assert_eq!(format!("{fast:?}"), untouched, "{}", l);
        }
        Ok(took)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn takes_only_what_the_parser_takes_and_the_same(l in line()) {
            agrees(&l, &mut Scratch::default())?;
        }

        /// Lines one after another, as a load reads them: what one line
        /// leaves in the scratch (its members' order) misleads no other.
        #[test]
        fn lines_in_turn_agree(ls in proptest::collection::vec(line(), 1..12)) {
            let mut scratch = Scratch::default();
            for l in &ls {
                agrees(l, &mut scratch)?;
            }
        }

        /// Each value alone beside a good key, for every field.
        #[test]
        fn each_value_alone(f in prop::sample::select(vec!["n", "x", "s", "t", "b", "g"]), v in value()) {
            agrees(&format!("{{\"key\": \"k\", \"{f}\": {v}}}"), &mut Scratch::default())?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// The fast reading of the common form is chrono's, wherever it
        /// reads one (dates past a month's end, leap days and seconds,
        /// other separators, offsets and digit counts included).
        #[test]
        fn utc_micros_is_chronos(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33, h in 0u32..25, mi in 0u32..61, sec in 0u32..62,
            frac in "(\\.[0-9]{0,8})?", t in prop::sample::select(vec!["T", "t", " "]),
            zone in prop::sample::select(vec!["Z", "z", "+00:00", "-01:30"]),
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}{t}{h:02}:{mi:02}:{sec:02}{frac}{zone}");
            if let Some(us) = utc_micros(text.as_bytes()) {
                prop_assert_eq!(Ok(int_key(us)), time_key(&text), "{}", text);
            }
        }
    }

    proptest! {
        /// One byte of a well-formed time changed: what the fast reading
        /// takes, chrono takes the same.
        #[test]
        fn utc_micros_of_a_changed_byte_is_chronos(
            us in -62_135_596_800_000_000i64..253_402_300_799_999_999,
            at in 0usize..27,
            c in prop::sample::select(b"0959aZT:-./ +".to_vec()),
        ) {
            let t = crate::value::Timestamp::from_micros(us).to_string();
            let mut b = t.into_bytes();
            if let Some(x) = b.get_mut(at) {
                *x = c;
            }
            let text = String::from_utf8(b).unwrap();
            if let Some(us) = utc_micros(text.as_bytes()) {
                prop_assert_eq!(Ok(int_key(us)), time_key(&text), "{}", text);
            }
        }
    }

    /// The common form is read fast (else the test above tests nothing).
    #[test]
    fn utc_micros_reads_the_common_form() {
        assert_eq!(utc_micros(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(utc_micros(b"1969-12-31T23:59:59.5Z"), Some(-500_000));
        assert_eq!(utc_micros(b"2000-02-29T00:00:00.000001Z"), Some(951_782_400_000_001));
        assert_eq!(utc_micros(b"2001-02-29T00:00:00Z"), None);
        assert_eq!(utc_micros(b"2026-11-22T12:00:00+00:00"), None);
    }

    /// The literals where serde_json's reading is easy to get wrong, for
    /// every field.
    #[test]
    fn the_edge_literals_agree() {
        let edge = [
            "-0",
            "-0.0",
            "0",
            "1e400",
            "1e-400",
            "1e99",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "1234567890123456789",
            "4.9e-324",
            "2.5e-07",
            "1E+2",
        ];
        for f in ["n", "x", "s", "t", "b", "g"] {
            for v in edge {
                agrees(&format!("{{\"key\": \"k\", \"{f}\": {v}}}"), &mut Scratch::default()).unwrap();
            }
        }
    }

    /// The shapes of a load's lines are taken (else the scanner is dead code).
    #[test]
    fn takes_the_common_shapes() {
        let schema = schema();
        let mut b = Batch::new(&schema, Source::Lines(Vec::new()));
        for l in [
            r#"{"key": "a", "n": 3, "x": -2.5, "s": "pro", "t": "2024-01-02T03:04:05Z", "b": true, "g": ["x", "y"]}"#,
            r#"{"key":"b","n":null,"x":7,"g":[]}"#,
            "\t{ \"x\" : 1e-3 , \"key\" : \"c\" }\r",
        ] {
            assert!(row(&schema, l, &mut b, &mut Scratch::default()), "{l}");
        }
        assert_eq!(b.len(), 3);
    }
}
