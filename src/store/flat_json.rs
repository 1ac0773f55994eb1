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

/// Reads `line` into a new row of `out` and returns true, or returns false
/// and leaves `out` as it was. `cells` is scratch kept between lines.
pub(crate) fn row(schema: &KindSchema, line: &str, out: &mut Batch, cells: &mut Vec<(FieldId, Cell)>) -> bool {
    if schema.len() > 64 || line.len() > u32::MAX as usize {
        return false;
    }
    cells.clear();
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
            if name == "key" {
                if key.is_some() {
                    return false;
                }
                let Some(span) = s.string() else { return false };
                key = Some(span);
            } else {
                let Some(f) = schema.field_id(name) else { return false };
                let bit = 1u64 << f.index();
                if seen & bit != 0 {
                    return false;
                }
                seen |= bit;
                let Some((_, ty)) = schema.field(f) else { return false };
                let Some(cell) = s.value(ty, line) else { return false };
                cells.push((f, cell));
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

    fn digits(&mut self) -> usize {
        let from = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - from
    }

    /// A string with no escape and no control character: its contents.
    fn string(&mut self) -> Option<(usize, usize)> {
        if !self.eat(b'"') {
            return None;
        }
        let from = self.i;
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
        self.eat(b'-');
        let whole = match self.peek()? {
            b'0' => {
                self.i += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut float = false;
        if self.eat(b'.') {
            if self.digits() == 0 {
                return None;
            }
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !(1..=2).contains(&self.digits()) {
                return None;
            }
            float = true;
        }
        let text = &line[from..self.i];
        if float {
            let x: f64 = text.parse().ok()?;
            x.is_finite().then_some(Number::Float(x))
        } else {
            if whole > 18 {
                return None;
            }
            let v: i64 = text.parse().ok()?;
            (v != 0 || !text.starts_with('-')).then_some(Number::Int(v))
        }
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
                time_key(&line[a..z]).ok().map(Cell::Num)
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
        prop_oneof![4 => fixed.prop_map(String::from), 1 => num, 1 => int, 2 => digits.prop_map(String::from)]
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
    fn agrees(l: &str) -> Result<bool, TestCaseError> {
        let schema = schema();
        let mut slow = Batch::new(&schema, Source::Lines(Vec::new()));
        let mut fast = Batch::new(&schema, Source::Lines(Vec::new()));
        let untouched = format!("{fast:?}");
        let took = row(&schema, l, &mut fast, &mut Vec::new());
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
            agrees(&l)?;
        }

        /// Each value alone beside a good key, for every field.
        #[test]
        fn each_value_alone(f in prop::sample::select(vec!["n", "x", "s", "t", "b", "g"]), v in value()) {
            agrees(&format!("{{\"key\": \"k\", \"{f}\": {v}}}"))?;
        }
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
                agrees(&format!("{{\"key\": \"k\", \"{f}\": {v}}}")).unwrap();
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
            assert!(row(&schema, l, &mut b, &mut Vec::new()), "{l}");
        }
        assert_eq!(b.len(), 3);
    }
}
