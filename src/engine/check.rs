//! Static checks of a filter ([`Builder::check`](crate::engine::Builder::check)): what a builder should
//! warn about before anything is evaluated.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::Serialize;

use super::builder::group_children;
use super::read::Builder;
use super::Engine;
use crate::error::Error;
use crate::filter::{CmpOp, Combinator, EventCond, Filter, Group, Node, Path, PlanNode, Test};
use crate::schema::{FieldId, FieldType};
use crate::store::Table;
use crate::value::{cmp_num, Num};

/// A warning about a filter: a stable code, the path of the node and a
/// message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// What kind of warning.
    pub code: WarningCode,
    /// The node it is about (`filter` for the root).
    pub path: String,
    /// What is wrong, for people.
    pub message: String,
}

/// The kinds of [`Warning`]; their JSON names (`contradiction`, ...) are
/// stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum WarningCode {
    /// An `and` whose rules on one field cannot all hold: the group matches
    /// no entity.
    Contradiction,
    /// A node that matches no entity whatever the data (an empty `or` or
    /// `xor`, a literal no value of the field's type can equal).
    AlwaysFalse,
    /// A node that matches every entity whatever the data (a negated
    /// contradiction, a nested empty `and`).
    AlwaysTrue,
    /// A rule that holds for every entity with a value: the same as
    /// `notNull` (a `between` covering the whole type).
    SameAsNotNull,
    /// The same rule twice in one group.
    Duplicate,
    /// A negated group whose only child is a negated group.
    DoubleNegation,
    /// A group made redundant by a sibling rule: `a and (a or b)` is `a`,
    /// `a or (a and b)` is `a`.
    Absorbed,
    /// An event no entity of the kind has recorded.
    UnknownEvent,
    /// A segment, named by `@segment`, with no members now.
    EmptySegment,
    /// A string or tag no entity of the kind holds now: the rule matches
    /// nothing (or, negated, everything) until one does.
    UnknownValue,
}

impl WarningCode {
    /// The JSON name.
    pub fn name(self) -> &'static str {
        match self {
            WarningCode::Contradiction => "contradiction",
            WarningCode::AlwaysFalse => "alwaysFalse",
            WarningCode::AlwaysTrue => "alwaysTrue",
            WarningCode::SameAsNotNull => "sameAsNotNull",
            WarningCode::Duplicate => "duplicate",
            WarningCode::DoubleNegation => "doubleNegation",
            WarningCode::Absorbed => "absorbed",
            WarningCode::UnknownEvent => "unknownEvent",
            WarningCode::EmptySegment => "emptySegment",
            WarningCode::UnknownValue => "unknownValue",
        }
    }
}

impl Engine {
    /// Deprecated: `engine.builder().check(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().check(..)`")]
    pub fn check(&self, kind: &str, filter: &Filter) -> Result<Vec<Warning>, Error> {
        self.builder().check(kind, filter)
    }

    pub(super) fn check_in(
        &self,
        kind: &str,
        filter: &Filter,
        actor: Option<&crate::segment::Actor>,
    ) -> Result<Vec<Warning>, Error> {
        let (table, plan) = self.unsaved_plan(kind, filter, actor)?;
        let mut out = Vec::new();
        self.check_group(filter, &plan.root, &Path::root(), table, &mut out);
        Ok(out)
    }

    fn check_group(&self, g: &Group, node: &PlanNode, path: &Path, table: &Table, out: &mut Vec<Warning>) {
        let root = *path == Path::root();
        let mut warn = |code, path: &Path, message: String| {
            out.push(Warning {
                code,
                path: path.to_string(),
                message,
            })
        };
        let children = group_children(node, g.not);
        match (g.combinator, g.rules.is_empty()) {
            (Combinator::Or | Combinator::Xor, true) => {
                let (code, what) = if g.not {
                    (WarningCode::AlwaysTrue, "every")
                } else {
                    (WarningCode::AlwaysFalse, "no")
                };
                warn(
                    code,
                    path,
                    format!("an empty `{}` matches {what} entity", g.combinator.name()),
                );
            }
            (Combinator::And, true) if !root => {
                let (code, what) = if g.not {
                    (WarningCode::AlwaysFalse, "no")
                } else {
                    (WarningCode::AlwaysTrue, "every")
                };
                warn(code, path, format!("an empty `and` matches {what} entity"));
            }
            _ => {}
        }
        if g.combinator == Combinator::And {
            if let Some(why) = contradiction(children, table) {
                let (code, what) = if g.not {
                    (WarningCode::AlwaysTrue, "the negated group holds for every entity")
                } else {
                    (WarningCode::Contradiction, "the group matches no entity")
                };
                warn(code, path, format!("{why}: {what}"));
            }
        }
        if g.not && g.rules.len() == 1 {
            if let Node::Group(h) = &g.rules[0] {
                if h.not {
                    warn(
                        WarningCode::DoubleNegation,
                        path,
                        "a negated group whose only child is a negated group".into(),
                    );
                }
            }
        }
        for (i, n) in g.rules.iter().enumerate() {
            if let Node::Rule(r) = n {
                if g.rules[..i].iter().any(|m| matches!(m, Node::Rule(q) if q == r)) {
                    warn(
                        WarningCode::Duplicate,
                        &path.rule(i),
                        format!("the same rule on `{}` is already in this group", r.field),
                    );
                }
            }
            if let Node::Group(h) = n {
                let opposite = matches!(
                    (g.combinator, h.combinator),
                    (Combinator::And, Combinator::Or) | (Combinator::Or, Combinator::And)
                );
                let shared = h.rules.iter().any(
                    |x| matches!(x, Node::Rule(hr) if g.rules.iter().any(|y| matches!(y, Node::Rule(gr) if gr == hr))),
                );
                if opposite && !h.not && shared {
                    warn(
                        WarningCode::Absorbed,
                        &path.rule(i),
                        format!(
                            "the group holds a rule of its parent `{}`, which decides it: the group changes nothing",
                            g.combinator.name()
                        ),
                    );
                }
            }
        }
        for (i, (n, p)) in g.rules.iter().zip(children).enumerate() {
            let cp = path.rule(i);
            match n {
                Node::Group(h) => self.check_group(h, p, &cp, table, out),
                Node::Rule(r) => {
                    let (leaf, negated) = match p {
                        PlanNode::Not(x) => (&**x, true),
                        n => (n, false),
                    };
                    for (code, message) in self.check_leaf(leaf, negated, table) {
                        out.push(Warning {
                            code,
                            path: cp.to_string(),
                            message: format!("`{}`: {message}", r.field),
                        });
                    }
                }
            }
        }
    }

    fn check_leaf(&self, leaf: &PlanNode, negated: bool, table: &Table) -> Vec<(WarningCode, String)> {
        let mut out = Vec::new();
        match leaf {
            PlanNode::Event(EventCond { name: Some(e), .. }) if !table.event_names().any(|n| n == e) => {
                out.push((WarningCode::UnknownEvent, format!("no entity has recorded `{e}`")));
            }
            PlanNode::InSegment(ids) => {
                for s in ids {
                    if self.book.segment(*s).is_some_and(|x| x.members.is_empty()) {
                        out.push((WarningCode::EmptySegment, format!("segment {} has no members", s.0)));
                    }
                }
            }
            PlanNode::Leaf(c) => {
                let ty = table.schema().field(c.field).map_or(FieldType::Int, |(_, t)| t);
                match &c.test {
                    Test::NumBetween(lo, hi) if !negated && covers(ty, *lo, *hi) => out.push((
                        WarningCode::SameAsNotNull,
                        "the range covers every value of the type: the same as `notNull`".into(),
                    )),
                    Test::Num(CmpOp::Eq, Num::Float(x)) if ty == FieldType::Int && x.fract() != 0.0 => {
                        out.push(if negated {
                            (
                                WarningCode::AlwaysTrue,
                                format!("no integer equals {x}: the rule holds for every entity"),
                            )
                        } else {
                            (WarningCode::AlwaysFalse, format!("no integer equals {x}"))
                        })
                    }
                    Test::StrEq(s) if !table.has_word(c.field, s) => {
                        out.push((WarningCode::UnknownValue, format!("no entity holds \"{s}\"")))
                    }
                    Test::StrIn(xs) if !xs.iter().any(|s| table.has_word(c.field, s)) => {
                        out.push((WarningCode::UnknownValue, "no entity holds any of the values".into()))
                    }
                    Test::TagsAny(xs) | Test::TagsAll(xs) => {
                        for t in xs.iter().filter(|t| !table.has_word(c.field, t)) {
                            out.push((WarningCode::UnknownValue, format!("no entity has the tag \"{t}\"")));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        out
    }
}

/// Whether `[lo, hi]` takes in every value of an int field.
fn covers(ty: FieldType, lo: Num, hi: Num) -> bool {
    ty == FieldType::Int
        && cmp_num(lo, Num::Int(i64::MIN.into())) != Ordering::Greater
        && cmp_num(hi, Num::Int(i64::MAX.into())) != Ordering::Less
}

/// One end of an interval: the value and whether it is included.
type End = Option<(Num, bool)>;

/// What the rules of one `and` ask of one field.
#[derive(Default)]
struct Ask {
    lo: End,
    hi: End,
    /// The values it must be one of (`=`, `in`), intersected.
    among: Option<Vec<Num>>,
    strs: Option<Vec<String>>,
    bools: Option<Vec<bool>>,
    null: bool,
    present: bool,
    /// What negated rules (`!=`, `notIn`, `not <`) ask: true on a missing
    /// value, so they narrow the field only where it must be present.
    negated: Vec<Test>,
    /// The values the negated rules leave out, once applied.
    not_nums: Vec<Num>,
    not_strs: Vec<String>,
    not_bools: Vec<bool>,
}

/// Narrows `end` to `(v, incl)` if that is tighter; `inward` is the order
/// of a tighter value against the current one (greater for a low end).
fn tighten(end: &mut End, v: Num, incl: bool, inward: Ordering) {
    let tighter = match *end {
        None => true,
        Some((w, wi)) => match cmp_num(v, w) {
            Ordering::Equal => wi && !incl,
            o => o == inward,
        },
    };
    if tighter {
        *end = Some((v, incl));
    }
}

/// Whether `v` is on the inner side of `end` (`inward` as for [`tighten`]).
fn inside(end: End, v: Num, inward: Ordering) -> bool {
    end.map_or(true, |(e, incl)| match cmp_num(v, e) {
        Ordering::Equal => incl,
        o => o == inward,
    })
}

/// The least integer on the inner side of a low end.
fn int_above((v, incl): (Num, bool)) -> i128 {
    match v {
        Num::Int(i) if incl => i,
        Num::Int(i) => i.saturating_add(1),
        // Saturating casts: an end past i128 is past every i64 too.
        Num::Float(x) if incl => x.ceil() as i128,
        Num::Float(x) => (x.floor() as i128).saturating_add(1),
    }
}

/// The greatest integer on the inner side of a high end.
fn int_below((v, incl): (Num, bool)) -> i128 {
    match v {
        Num::Int(i) if incl => i,
        Num::Int(i) => i.saturating_sub(1),
        Num::Float(x) if incl => x.floor() as i128,
        Num::Float(x) => (x.ceil() as i128).saturating_sub(1),
    }
}

/// The most integers a range may hold to be checked one by one against
/// the values negated rules leave out.
const FEW: i128 = 64;

impl Ask {
    fn above(&mut self, v: Num, incl: bool) {
        tighten(&mut self.lo, v, incl, Ordering::Greater);
    }

    fn below(&mut self, v: Num, incl: bool) {
        tighten(&mut self.hi, v, incl, Ordering::Less);
    }

    fn within(&self, v: Num) -> bool {
        inside(self.lo, v, Ordering::Greater) && inside(self.hi, v, Ordering::Less)
    }

    fn among(&mut self, vs: Vec<Num>) {
        self.among = Some(match self.among.take() {
            None => vs,
            Some(old) => old
                .into_iter()
                .filter(|a| vs.iter().any(|b| cmp_num(*a, *b).is_eq()))
                .collect(),
        });
    }

    fn strs(&mut self, vs: Vec<String>) {
        self.strs = Some(match self.strs.take() {
            None => vs,
            Some(old) => old.into_iter().filter(|a| vs.contains(a)).collect(),
        });
    }

    fn left_out(&self, v: Num) -> bool {
        self.not_nums.iter().any(|n| cmp_num(*n, v).is_eq())
    }

    /// A value the field may hold: inside the range and not left out.
    fn allowed(&self, v: Num) -> bool {
        self.within(v) && !self.left_out(v)
    }

    /// Applies the negated rules, where the value must be present: the
    /// negation of a test then holds exactly where the test does not.
    fn apply_negated(&mut self) {
        if !self.present {
            return;
        }
        for test in std::mem::take(&mut self.negated) {
            match test {
                Test::Num(op, v) => self.not_cmp(op, v),
                Test::Time(op, v) => self.not_cmp(op, Num::Int(v)),
                Test::NumIn(vs) => self.not_nums.extend(vs),
                Test::StrEq(s) => self.not_strs.push(s),
                Test::StrIn(vs) => self.not_strs.extend(vs),
                Test::Bool(b) => self.not_bools.push(b),
                _ => {}
            }
        }
    }

    fn not_cmp(&mut self, op: CmpOp, v: Num) {
        match op {
            CmpOp::Eq => self.not_nums.push(v),
            CmpOp::Lt => self.above(v, true),
            CmpOp::Le => self.above(v, false),
            CmpOp::Gt => self.below(v, true),
            CmpOp::Ge => self.below(v, false),
        }
    }

    /// Why nothing of type `ty` can satisfy it, if so.
    fn impossible(mut self, ty: Option<FieldType>) -> Option<&'static str> {
        if self.null && self.present {
            return Some("a value is asked to be both missing and present");
        }
        self.apply_negated();
        if let (Some((l, li)), Some((h, hi))) = (self.lo, self.hi) {
            match cmp_num(l, h) {
                Ordering::Greater => return Some("the ranges on the field do not overlap"),
                Ordering::Equal if !(li && hi) => return Some("the ranges on the field do not overlap"),
                // One value: as if it were asked for by `=`.
                Ordering::Equal if self.among.is_none() => self.among = Some(vec![l]),
                _ => {}
            }
        }
        if ty == Some(FieldType::Int) {
            let lo = self.lo.map_or(i64::MIN.into(), int_above).max(i64::MIN.into());
            let hi = self.hi.map_or(i64::MAX.into(), int_below).min(i64::MAX.into());
            if lo > hi {
                return Some("no integer lies in the range on the field");
            }
            if self.among.is_none() && hi - lo < FEW && (lo..=hi).all(|i| self.left_out(Num::Int(i))) {
                return Some("no value satisfies every rule on the field");
            }
        }
        if let Some(vs) = &self.among {
            if !vs.iter().any(|v| self.allowed(*v)) {
                return Some("no value satisfies every rule on the field");
            }
        }
        if let Some(vs) = &self.strs {
            if !vs.iter().any(|s| !self.not_strs.contains(s)) {
                return Some("no value satisfies every rule on the field");
            }
        }
        let bools = match &self.bools {
            Some(bs) => Some(bs.clone()),
            None if self.present && ty == Some(FieldType::Bool) => Some(vec![false, true]),
            None => None,
        };
        if bools.is_some_and(|bs| bs.iter().all(|b| self.not_bools.contains(b))) {
            return Some("no value satisfies every rule on the field");
        }
        None
    }
}

/// Why the direct rules of an `and` cannot all hold, if they cannot.
fn contradiction(children: &[PlanNode], table: &Table) -> Option<String> {
    let mut asks: BTreeMap<FieldId, Ask> = BTreeMap::new();
    for c in children {
        let (cond, negated) = match c {
            PlanNode::Leaf(cond) => (cond, false),
            PlanNode::Not(inner) => match &**inner {
                PlanNode::Leaf(cond) => (cond, true),
                _ => continue,
            },
            _ => continue,
        };
        let a = asks.entry(cond.field).or_default();
        if negated {
            match &cond.test {
                // `notNull`.
                Test::Null => a.present = true,
                test => a.negated.push(test.clone()),
            }
            continue;
        }
        let t = |n: i128| Num::Int(n);
        match &cond.test {
            Test::Null => a.null = true,
            Test::Num(op, v) => {
                a.present = true;
                cmp(a, *op, *v);
            }
            Test::Time(op, v) => {
                a.present = true;
                cmp(a, *op, t(*v));
            }
            Test::NumBetween(lo, hi) => {
                a.present = true;
                a.above(*lo, true);
                a.below(*hi, true);
            }
            Test::TimeBetween(lo, hi) => {
                a.present = true;
                a.above(t(*lo), true);
                a.below(t(*hi), true);
            }
            Test::NumIn(vs) => {
                a.present = true;
                a.among(vs.clone());
            }
            Test::StrEq(s) => {
                a.present = true;
                a.strs(vec![s.clone()]);
            }
            Test::StrIn(vs) => {
                a.present = true;
                a.strs(vs.clone());
            }
            Test::Bool(b) => {
                a.present = true;
                a.bools = Some(match a.bools.take() {
                    None => vec![*b],
                    Some(old) => old.into_iter().filter(|x| x == b).collect(),
                });
            }
            // A trend holds of past values too: it asks nothing of this one.
            Test::Trend(_) => {}
            _ => a.present = true,
        }
    }
    asks.into_iter().find_map(|(f, a)| {
        let field = table.schema().field(f);
        a.impossible(field.map(|(_, ty)| ty)).map(|why| {
            let name = field.map_or("", |(n, _)| n);
            format!("`{name}`: {why}")
        })
    })
}

fn cmp(a: &mut Ask, op: CmpOp, v: Num) {
    match op {
        CmpOp::Eq => a.among(vec![v]),
        CmpOp::Lt => a.below(v, false),
        CmpOp::Le => a.below(v, true),
        CmpOp::Gt => a.above(v, false),
        CmpOp::Ge => a.above(v, true),
    }
}

impl<'a> Builder<'a> {
    /// Warnings about `filter` over `kind`, without evaluating it: each with
    /// a stable [`WarningCode`], the path of the node and a message.
    /// Contradictions (`nps < 5 and nps > 10`, `plan = "pro" and plan =
    /// "free"`, `in` lists with no common value), nodes always false or true
    /// whatever the data, duplicates, `not` of `not`, absorbed groups, and,
    /// from the data at hand, events never recorded, empty segments and
    /// values no entity holds. A filter with warnings is still valid.
    ///
    /// # Errors
    ///
    /// As [`Query::evaluate`](crate::engine::Query::evaluate) for a filter that does not validate.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::engine::WarningCode;
    /// use segments::filter::field;
    /// use segments::{Engine, FieldType, Filter, Schema};
    ///
    /// let schema = Schema::builder().kind("account", [("nps", FieldType::Int)]).build()?;
    /// let engine = Engine::new(schema);
    /// let w = engine.builder().check("account", &Filter::and([field("nps").lt(5), field("nps").gt(10)]))?;
    /// assert_eq!(w[0].code, WarningCode::Contradiction);
    /// assert_eq!(w[0].path, "filter");
    /// assert_eq!(serde_json::to_value(&w[0])?["code"], "contradiction");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, kind: &str, filter: &Filter) -> Result<Vec<Warning>, Error> {
        self.engine.check_in(kind, filter, self.actor)
    }
}
