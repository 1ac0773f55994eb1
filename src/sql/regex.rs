//! `matchesRegex` patterns rewritten for each dialect's regex engine, so
//! that they match exactly what the `regex` crate matches.
//!
//! The pattern is parsed as the engine parses it (`regex-syntax`, with the
//! rule's case folding), and its high-level form written back out with
//! nothing left to a dialect's reading: every character but an ASCII letter
//! or digit as a code point escape, every class (`.`, `\w`, `[[:alpha:]]`,
//! a letter ignoring case) as its explicit ranges, every group
//! non-capturing, and anchors and word boundaries as constructs that mean
//! the same there. What a dialect cannot say exactly is refused.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::Dialect;

/// The pattern `pattern` (case-insensitive if `fold`) in `dialect`'s regex
/// syntax, or why it has none.
pub(super) fn translate(pattern: &str, fold: bool, dialect: Dialect) -> Result<String, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(fold)
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string().split_whitespace().collect::<Vec<_>>().join(" "))?;
    let mut out = String::new();
    Writer { d: dialect }.hir(&hir, &mut out)?;
    Ok(out)
}

/// The limit on a counted repetition's bounds: PostgreSQL's `RE_DUP_MAX`,
/// RE2's 1,000; Java has none that matters here.
fn max_count(d: Dialect) -> u32 {
    match d {
        Dialect::Postgres => 255,
        Dialect::DuckDb | Dialect::ClickHouse => 1000,
        Dialect::Spark => u32::MAX,
    }
}

/// Whether the dialect has lookaround (PostgreSQL's AREs and Java do; RE2
/// does not).
fn lookaround(d: Dialect) -> bool {
    matches!(d, Dialect::Postgres | Dialect::Spark)
}

struct Writer {
    d: Dialect,
}

impl Writer {
    fn hir(&self, h: &Hir, out: &mut String) -> Result<(), String> {
        match h.kind() {
            HirKind::Empty => {}
            HirKind::Literal(lit) => {
                let s = std::str::from_utf8(&lit.0).map_err(|_| "a literal that is not UTF-8".to_string())?;
                for c in s.chars() {
                    if c == '\0' && self.d == Dialect::Postgres {
                        return Err("PostgreSQL's text cannot hold U+0000".into());
                    }
                    self.char(c, out);
                }
            }
            HirKind::Class(class) => self.class(class, out)?,
            HirKind::Look(look) => self.look(*look, out)?,
            HirKind::Repetition(r) => {
                let limit = max_count(self.d);
                if r.min > limit || r.max.is_some_and(|m| m > limit) {
                    return Err(format!("a repetition counted past {limit}, the most {} takes", self.d));
                }
                out.push_str("(?:");
                self.hir(&r.sub, out)?;
                out.push(')');
                // Greedy or lazy matches the same texts: only whether a
                // text matches is asked.
                match (r.min, r.max) {
                    (0, None) => out.push('*'),
                    (1, None) => out.push('+'),
                    (0, Some(1)) => out.push('?'),
                    (m, None) => out.push_str(&format!("{{{m},}}")),
                    (m, Some(n)) if m == n => out.push_str(&format!("{{{m}}}")),
                    (m, Some(n)) => out.push_str(&format!("{{{m},{n}}}")),
                }
            }
            HirKind::Capture(c) => {
                out.push_str("(?:");
                self.hir(&c.sub, out)?;
                out.push(')');
            }
            HirKind::Concat(hs) => {
                for h in hs {
                    self.hir(h, out)?;
                }
            }
            HirKind::Alternation(hs) => {
                out.push_str("(?:");
                for (i, h) in hs.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    self.hir(h, out)?;
                }
                out.push(')');
            }
        }
        Ok(())
    }

    /// One character: an ASCII letter or digit as it is, anything else as
    /// a code point escape (which no dialect reads as anything else).
    fn char(&self, c: char, out: &mut String) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            return;
        }
        let n = c as u32;
        match self.d {
            Dialect::Postgres if n <= 0xFFFF => out.push_str(&format!("\\u{n:04x}")),
            Dialect::Postgres => out.push_str(&format!("\\U{n:08x}")),
            _ => out.push_str(&format!("\\x{{{n:x}}}")),
        }
    }

    fn class(&self, class: &Class, out: &mut String) -> Result<(), String> {
        let mut ranges: Vec<(char, char)> = match class {
            Class::Unicode(c) => c.ranges().iter().map(|r| (r.start(), r.end())).collect(),
            Class::Bytes(c) => {
                if c.ranges().iter().any(|r| r.end() > 0x7F) {
                    return Err("a class of bytes outside ASCII".into());
                }
                c.ranges()
                    .iter()
                    .map(|r| (char::from(r.start()), char::from(r.end())))
                    .collect()
            }
        };
        if self.d == Dialect::Postgres {
            // PostgreSQL's text never holds U+0000 (nor can its patterns).
            ranges.retain(|&(a, b)| b != '\0' || a != '\0');
            for r in &mut ranges {
                if r.0 == '\0' {
                    r.0 = '\u{1}';
                }
            }
        }
        if ranges.is_empty() {
            return Err("a class that matches no character".into());
        }
        out.push('[');
        for (a, b) in ranges {
            self.char(a, out);
            if b != a {
                out.push('-');
                self.char(b, out);
            }
        }
        out.push(']');
        Ok(())
    }

    /// The class of word characters, ASCII or Unicode, written out.
    fn word(&self, unicode: bool) -> Result<String, String> {
        let pattern = if unicode { r"\w" } else { r"(?-u:\w)" };
        let hir = regex_syntax::parse(pattern).map_err(|e| e.to_string())?;
        let mut out = String::new();
        self.hir(&hir, &mut out)?;
        Ok(out)
    }

    fn look(&self, look: Look, out: &mut String) -> Result<(), String> {
        let refuse = |what: &str| Err(format!("{what} has no exact form in {}'s regular expressions", self.d));
        let lf = || {
            let mut s = String::new();
            self.char('\n', &mut s);
            s
        };
        match look {
            // Without the multi-line flag, which no pattern written here
            // sets: the start of the text.
            Look::Start => out.push('^'),
            // The end of the text; Java's `$` also matches before a final
            // line break.
            Look::End if self.d == Dialect::Spark => out.push_str("\\z"),
            Look::End => out.push('$'),
            Look::StartLF if lookaround(self.d) => out.push_str(&format!("(?<![^{}])", lf())),
            Look::StartLF => out.push_str("(?m:^)"),
            Look::EndLF if lookaround(self.d) => out.push_str(&format!("(?![^{}])", lf())),
            Look::EndLF => out.push_str("(?m:$)"),
            Look::StartCRLF | Look::EndCRLF => return refuse("a multi-line anchor in CRLF mode"),
            Look::WordAscii if !lookaround(self.d) => out.push_str("\\b"),
            Look::WordAsciiNegate if !lookaround(self.d) => out.push_str("\\B"),
            _ if !lookaround(self.d) => {
                return refuse(
                    "a Unicode word boundary (`\\b`; write `(?-u:\\b)` for an ASCII one) or a word start or end",
                )
            }
            _ => {
                let unicode = matches!(
                    look,
                    Look::WordUnicode
                        | Look::WordUnicodeNegate
                        | Look::WordStartUnicode
                        | Look::WordEndUnicode
                        | Look::WordStartHalfUnicode
                        | Look::WordEndHalfUnicode
                );
                let w = self.word(unicode)?;
                let (before, not_before, after, not_after) = (
                    format!("(?<={w})"),
                    format!("(?<!{w})"),
                    format!("(?={w})"),
                    format!("(?!{w})"),
                );
                out.push_str(&match look {
                    Look::WordAscii | Look::WordUnicode => {
                        format!("(?:{before}{not_after}|{not_before}{after})")
                    }
                    Look::WordAsciiNegate | Look::WordUnicodeNegate => {
                        format!("(?:{before}{after}|{not_before}{not_after})")
                    }
                    Look::WordStartAscii | Look::WordStartUnicode => format!("{not_before}{after}"),
                    Look::WordEndAscii | Look::WordEndUnicode => format!("{before}{not_after}"),
                    Look::WordStartHalfAscii | Look::WordStartHalfUnicode => not_before,
                    _ => not_after,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_gets_explicit_classes_and_escapes() {
        assert_eq!(
            translate("a.b", false, Dialect::DuckDb).unwrap(),
            r"a[\x{0}-\x{9}\x{b}-\x{10ffff}]b"
        );
        assert_eq!(
            translate("a.b", false, Dialect::Postgres).unwrap(),
            r"a[\u0001-\u0009\u000b-\U0010ffff]b"
        );
        assert_eq!(translate("(?i)k", false, Dialect::Spark).unwrap(), r"[Kk\x{212a}]");
        assert_eq!(translate("k", true, Dialect::Spark).unwrap(), r"[Kk\x{212a}]");
        assert_eq!(translate("[[:alpha:]]$", false, Dialect::Spark).unwrap(), r"[A-Za-z]\z");
        assert_eq!(translate("a|b*", false, Dialect::ClickHouse).unwrap(), "(?:a|(?:b)*)");
        assert_eq!(translate("(?-u:\\b)a", false, Dialect::DuckDb).unwrap(), r"\ba");
        assert!(translate("\\ba", false, Dialect::DuckDb).is_err());
        assert!(translate("\\ba", false, Dialect::Postgres)
            .unwrap()
            .starts_with("(?:(?<=["));
        assert!(translate("a{256}", false, Dialect::Postgres).is_err());
        assert!(translate("a{256}", false, Dialect::DuckDb).is_ok());
        assert!(translate("\\x00", false, Dialect::Postgres).is_err());
        assert!(translate("(", false, Dialect::Postgres).is_err());
    }
}
