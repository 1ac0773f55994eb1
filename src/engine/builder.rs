//! What a segment builder UI asks while a filter is being edited: the count
//! beside every line ([`Builder::counts`](crate::engine::Builder::counts)), why an entity matches or not
//! ([`Builder::explain`](crate::engine::Builder::explain), [`Builder::explain_member`](crate::engine::Builder::explain_member)), and what saving an
//! edit would do ([`Builder::preview`](crate::engine::Builder::preview)). All read the current state and
//! change nothing: no change is recorded and no cursor moves.

use roaring::RoaringBitmap;
use serde::Serialize;
use serde_json::Value as Json;

use super::guard::Reader;
use super::read::Builder;
use super::Engine;
use crate::error::{Error, SegmentError};
use crate::eval::{self, Budget, Env, Meter};
use crate::filter::{Combinator, CountWin, EventWhat, Filter, Group, Node, Path, PlanNode, Rule, Test};
use crate::ids::{RuleId, SegmentId};
use crate::segment::{Actor, Source};
use crate::store::{EntityId, Table};
use crate::value::Timestamp;

/// The counts of every group and rule of a filter ([`Builder::counts`](crate::engine::Builder::counts)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// The live entities of the kind.
    pub live: u64,
    /// The entities the whole filter matches.
    pub matches: u64,
    /// The root group's counts, with those of every node beneath it.
    pub root: NodeCount,
}

/// The counts of one node of a filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCount {
    /// The node's path (`filter` for the root, `rules[1].rules[0]`, ...).
    pub path: String,
    /// The entities the node alone matches (with its own `not`).
    pub count: u64,
    /// The entities the whole filter would match with this node toggled off
    /// (left out, as a muted node is); for the root, every live entity.
    pub without: u64,
    /// The counts of a group's rules and groups, in order; empty for a rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<NodeCount>,
}

/// One node's matches, with its children's.
struct Evaluated {
    set: RoaringBitmap,
    /// For a group: how it combines, its `not`, and its children.
    group: Option<Grouped>,
}

struct Grouped {
    combinator: Combinator,
    not: bool,
    children: Vec<Evaluated>,
    /// `prefix[i]`: the children before `i` combined (`None` for none);
    /// `suffix[i]`: those after `i`. Leaving one child out, or putting
    /// another set in its place, then costs two combinations, not one per
    /// sibling.
    prefix: Vec<Option<RoaringBitmap>>,
    suffix: Vec<Option<RoaringBitmap>>,
}

impl Grouped {
    fn new(combinator: Combinator, not: bool, children: Vec<Evaluated>) -> Grouped {
        let join = |acc: &Option<RoaringBitmap>, s: &RoaringBitmap| -> RoaringBitmap {
            match acc {
                None => s.clone(),
                Some(a) => match combinator {
                    Combinator::And => a & s,
                    Combinator::Or => a | s,
                    Combinator::Xor => a ^ s,
                },
            }
        };
        let k = children.len();
        let mut prefix: Vec<Option<RoaringBitmap>> = vec![None; k];
        let mut suffix: Vec<Option<RoaringBitmap>> = vec![None; k];
        for i in 1..k {
            prefix[i] = Some(join(&prefix[i - 1], &children[i - 1].set));
        }
        for i in (0..k.saturating_sub(1)).rev() {
            suffix[i] = Some(join(&suffix[i + 1], &children[i + 1].set));
        }
        Grouped {
            combinator,
            not,
            children,
            prefix,
            suffix,
        }
    }

    /// The group with child `i` left out (`None`) or replaced.
    fn with(&self, i: usize, replacement: Option<&RoaringBitmap>, live: &RoaringBitmap) -> RoaringBitmap {
        let parts = [self.prefix[i].as_ref(), replacement, self.suffix[i].as_ref()];
        combine(self.combinator, self.not, parts.into_iter().flatten(), live)
    }
}

fn combine<'a>(
    combinator: Combinator,
    not: bool,
    sets: impl Iterator<Item = &'a RoaringBitmap>,
    live: &RoaringBitmap,
) -> RoaringBitmap {
    let mut out: Option<RoaringBitmap> = None;
    for s in sets {
        out = Some(match (out, combinator) {
            (None, _) => s.clone(),
            (Some(acc), Combinator::And) => acc & s,
            (Some(acc), Combinator::Or) => acc | s,
            (Some(acc), Combinator::Xor) => acc ^ s,
        });
    }
    let set = out.unwrap_or_else(|| match combinator {
        Combinator::And => live.clone(),
        Combinator::Or | Combinator::Xor => RoaringBitmap::new(),
    });
    if not {
        live - set
    } else {
        set
    }
}

/// The plan nodes of a group's children (the plan keeps the filter's
/// shape, a negated group wrapped in `Not`).
pub(super) fn group_children(node: &PlanNode, not: bool) -> &[PlanNode] {
    let inner = match (not, node) {
        (true, PlanNode::Not(x)) => &**x,
        (_, n) => n,
    };
    match inner {
        PlanNode::And(xs) | PlanNode::Or(xs) | PlanNode::Xor(xs) => xs,
        _ => &[],
    }
}

impl Engine {
    /// Deprecated: `engine.builder().counts(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().counts(..)`")]
    pub fn counts(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<Counts, Error> {
        self.builder().counts(kind, filter, now)
    }

    pub(super) fn counts_in(
        &self,
        kind: &str,
        filter: &Filter,
        now: Timestamp,
        actor: Option<&Actor>,
    ) -> Result<Counts, Error> {
        let (table, plan) = self.unsaved_plan(kind, filter, actor)?;
        let live = table.live();
        let tree = Meter::run(&Budget::unlimited(), |meter| {
            self.with_env(meter, |env| evaluate_group(filter, &plan.root, table, now, env))
        })?;
        let matches = tree.set.len();
        let root_path = Path::root();
        let mut root = NodeCount {
            path: root_path.to_string(),
            count: matches,
            without: live.len(),
            rules: Vec::new(),
        };
        fill(&tree, &root_path, &mut root, &mut Vec::new(), live);
        Ok(Counts {
            live: live.len(),
            matches,
            root,
        })
    }
}

fn evaluate_group(g: &Group, node: &PlanNode, table: &Table, now: Timestamp, env: &Env) -> Evaluated {
    let plans = group_children(node, g.not);
    let children: Vec<Evaluated> = g
        .rules
        .iter()
        .zip(plans)
        .map(|(n, p)| match n {
            Node::Group(h) => evaluate_group(h, p, table, now, env),
            Node::Rule(_) => Evaluated {
                set: eval::eval_node(p, table, now, None, env),
                group: None,
            },
        })
        .collect();
    let set = combine(g.combinator, g.not, children.iter().map(|c| &c.set), table.live());
    Evaluated {
        set,
        group: Some(Grouped::new(g.combinator, g.not, children)),
    }
}

/// Fills the counts of `e`'s children; `up` holds the ancestors of `e`
/// (outermost first) with the index of the child taken at each.
fn fill<'a>(
    e: &'a Evaluated,
    path: &Path,
    out: &mut NodeCount,
    up: &mut Vec<(&'a Grouped, usize)>,
    live: &RoaringBitmap,
) {
    let Some(g) = &e.group else { return };
    for (i, c) in g.children.iter().enumerate() {
        up.push((g, i));
        let p = path.rule(i);
        let mut n = NodeCount {
            path: p.to_string(),
            count: c.set.len(),
            without: root_without(up, live),
            rules: Vec::new(),
        };
        fill(c, &p, &mut n, up, live);
        up.pop();
        out.rules.push(n);
    }
}

/// The count of the root with the child at the end of `up` left out.
fn root_without(up: &[(&Grouped, usize)], live: &RoaringBitmap) -> u64 {
    let mut replacement: Option<RoaringBitmap> = None;
    for (k, &(g, i)) in up.iter().enumerate().rev() {
        let last = k + 1 == up.len();
        let r = if last { None } else { replacement.as_ref() };
        replacement = Some(g.with(i, r, live));
    }
    replacement.map_or(live.len(), |s| s.len())
}

/// Why one entity matches a filter or not ([`Builder::explain`](crate::engine::Builder::explain)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The kind.
    pub kind: String,
    /// The entity's key.
    pub key: String,
    /// Whether the filter matches it.
    pub matches: bool,
    /// The filter tree with the answer at every node.
    pub root: ExplainNode,
}

/// One node of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum ExplainNode {
    /// A group.
    #[serde(rename_all = "camelCase")]
    Group {
        /// Its path.
        path: String,
        /// `and`, `or` or `xor`.
        combinator: String,
        /// Whether it is negated.
        not: bool,
        /// Its answer for the entity.
        matches: bool,
        /// Its rules and groups.
        rules: Vec<ExplainNode>,
    },
    /// A rule.
    #[serde(rename_all = "camelCase")]
    Rule {
        /// Its path.
        path: String,
        /// The field (or pseudo-field) it tests.
        field: String,
        /// The operator.
        operator: String,
        /// The literal, as the filter's JSON writes it (`null` for none).
        literal: Json,
        /// Its answer for the entity.
        matches: bool,
        /// The entity's value the rule compared, as an entity file writes
        /// it; `null` when it is missing (or for rules on events,
        /// relations and segments, whose numbers are in `detail`).
        value: Json,
        /// Whether the value is missing.
        missing: bool,
        /// The numbers behind the answer, for rules that are not a plain
        /// comparison.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<Detail>,
    },
}

/// The numbers behind a rule's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Detail {
    /// `@related:<kind>`: how many related entities matched, of how many.
    #[serde(rename_all = "camelCase")]
    Related {
        /// The related kind.
        kind: String,
        /// The related entities the nested filter matched.
        matched: u64,
        /// All related entities.
        total: u64,
    },
    /// `@count:<event>`: the count in the rule's window.
    #[serde(rename_all = "camelCase")]
    Count {
        /// The event.
        event: String,
        /// How many fell in the window.
        count: u64,
    },
    /// `@firstSeen` / `@lastSeen`: the instant compared (`None`: never).
    #[serde(rename_all = "camelCase")]
    Seen {
        /// The event; `None` for any.
        event: Option<String>,
        /// The first or last instant.
        at: Option<Timestamp>,
    },
    /// `@change:<event>`: the counts of the last window and the one before.
    #[serde(rename_all = "camelCase")]
    Change {
        /// The event.
        event: String,
        /// The count in `[now - w, now]`.
        last: u64,
        /// The count in `[now - 2w, now - w)`.
        before: u64,
    },
    /// `@segment`: the segments named and whether the entity is in each.
    #[serde(rename_all = "camelCase")]
    Segments {
        /// Per segment named.
        segments: Vec<SegmentMembership>,
    },
    /// A match mode: how many of the entity's tags the group matched.
    #[serde(rename_all = "camelCase")]
    Tags {
        /// The tags the group matched.
        matched: u64,
        /// All the entity's tags.
        total: u64,
    },
    /// `valueSource: "field"`: the other fields' values.
    #[serde(rename_all = "camelCase")]
    Fields {
        /// Per field named, its value (`null` when missing).
        values: Vec<(String, Json)>,
    },
}

/// Whether an entity is in a segment a rule names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentMembership {
    /// The segment.
    pub id: SegmentId,
    /// Its name.
    pub name: String,
    /// Whether the entity is a member.
    pub member: bool,
}

/// Why an entity is in a saved segment or not ([`Builder::explain_member`](crate::engine::Builder::explain_member)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberExplanation {
    /// The segment.
    pub segment: SegmentId,
    /// Its name.
    pub name: String,
    /// The entity's key.
    pub key: String,
    /// Whether it is a member.
    pub member: bool,
    /// What links it: `manual` and the rules whose links hold it.
    pub links: Vec<Source>,
    /// The rules whose match a manual removal blocks for it.
    pub blocks: Vec<RuleId>,
    /// Since when it has been a member, where the retained change log
    /// tells (`None`: not a member, or a member since before the log).
    pub since: Option<Timestamp>,
    /// Each rule of the segment explained for the entity at `now`.
    pub rules: Vec<RuleExplanation>,
}

/// One rule of a segment, explained for an entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleExplanation {
    /// The rule.
    pub rule: RuleId,
    /// Its filter, explained.
    pub explanation: Explanation,
}

impl Engine {
    /// Deprecated: `engine.builder().explain(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().explain(..)`")]
    pub fn explain(&self, kind: &str, filter: &Filter, key: &str, now: Timestamp) -> Result<Explanation, Error> {
        self.builder().explain(kind, filter, key, now)
    }

    pub(super) fn explain_in(
        &self,
        kind: &str,
        filter: &Filter,
        key: &str,
        now: Timestamp,
        actor: Option<&Actor>,
    ) -> Result<Explanation, Error> {
        let (table, plan) = self.unsaved_plan(kind, filter, actor)?;
        let id = table.id(key).ok_or_else(|| SegmentError::UnknownKey {
            kind: kind.to_string(),
            key: key.to_string(),
        })?;
        let root = Meter::run(&Budget::unlimited(), |meter| {
            self.with_env(meter, |env| {
                self.explain_group(filter, &plan.root, &Path::root(), table, id.0, now, env)
            })
        })?;
        let matches = matches!(root, ExplainNode::Group { matches: true, .. });
        Ok(Explanation {
            kind: kind.to_string(),
            key: key.to_string(),
            matches,
            root,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn explain_group(
        &self,
        g: &Group,
        node: &PlanNode,
        path: &Path,
        table: &Table,
        id: u32,
        now: Timestamp,
        env: &Env,
    ) -> ExplainNode {
        let plans = group_children(node, g.not);
        let rules: Vec<ExplainNode> = g
            .rules
            .iter()
            .zip(plans)
            .enumerate()
            .map(|(i, (n, p))| {
                let path = path.rule(i);
                match n {
                    Node::Group(h) => self.explain_group(h, p, &path, table, id, now, env),
                    Node::Rule(r) => self.explain_rule(r, p, path.to_string(), table, id, now, env),
                }
            })
            .collect();
        ExplainNode::Group {
            path: path.to_string(),
            combinator: g.combinator.name().into(),
            not: g.not,
            matches: eval::matches_node(node, table, id, now, env),
            rules,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn explain_rule(
        &self,
        r: &Rule,
        node: &PlanNode,
        path: String,
        table: &Table,
        id: u32,
        now: Timestamp,
        env: &Env,
    ) -> ExplainNode {
        let matches = eval::matches_node(node, table, id, now, env);
        let rule_json = Filter::and([r.clone()]).to_json_value();
        let literal = rule_json["rules"][0].get("value").cloned().unwrap_or(Json::Null);
        let leaf = match node {
            PlanNode::Not(x) => &**x,
            n => n,
        };
        let mut value = Json::Null;
        let mut missing = false;
        let mut detail = None;
        match leaf {
            PlanNode::Leaf(c) => {
                let v = table.value(id, c.field);
                missing = matches!(v, crate::Value::Null);
                value = if missing { Json::Null } else { v.to_json() };
                match &c.test {
                    Test::TagsMatch(m) => {
                        let tags = match &v {
                            crate::Value::Tags(t) => t.clone(),
                            _ => Vec::new(),
                        };
                        detail = Some(Detail::Tags {
                            matched: tags.iter().filter(|t| m.each.matches(t)).count() as u64,
                            total: tags.len() as u64,
                        });
                    }
                    Test::Fields(t) => {
                        let values = t
                            .others()
                            .into_iter()
                            .map(|f| {
                                let name = table.schema().field(f).map_or("", |(n, _)| n).to_string();
                                let v = table.value(id, f);
                                (
                                    name,
                                    if matches!(v, crate::Value::Null) {
                                        Json::Null
                                    } else {
                                        v.to_json()
                                    },
                                )
                            })
                            .collect();
                        detail = Some(Detail::Fields { values });
                    }
                    _ => {}
                }
            }
            PlanNode::Event(e) => {
                let names: Vec<String> = match &e.name {
                    Some(n) => vec![n.clone()],
                    None => table.event_names().map(String::from).collect(),
                };
                // Only the events a `"where"` keeps, when it has one.
                let times: Vec<i64> = if e.props.is_some() {
                    eval::EventLeaf::bind(e, table, now).times(id).into_owned()
                } else {
                    names
                        .iter()
                        .flat_map(|n| table.event_times(EntityId(id), n))
                        .map(Timestamp::as_micros)
                        .collect()
                };
                let now_us = now.as_micros();
                let event = e.name.clone().unwrap_or_default();
                detail = Some(match &e.what {
                    EventWhat::First(_) => Detail::Seen {
                        event: e.name.clone(),
                        at: times.iter().min().map(|&t| Timestamp::from_micros(t)),
                    },
                    EventWhat::Last(_) => Detail::Seen {
                        event: e.name.clone(),
                        at: times.iter().max().map(|&t| Timestamp::from_micros(t)),
                    },
                    EventWhat::Count { window, .. } => {
                        let inside = |t: i64| match *window {
                            CountWin::All => true,
                            CountWin::Last(d) => {
                                let t = t as i128;
                                now_us as i128 - d <= t && t <= now_us as i128
                            }
                            CountWin::Between(lo, hi) => {
                                let ns = t as i128 * 1000;
                                lo <= ns && ns <= hi
                            }
                        };
                        Detail::Count {
                            event,
                            count: times.iter().filter(|&&t| inside(t)).count() as u64,
                        }
                    }
                    EventWhat::Change { window, .. } => {
                        let (n, w) = (now_us as i128, *window);
                        let t = |x: &i64| *x as i128;
                        Detail::Change {
                            event,
                            last: times.iter().filter(|x| n - w <= t(x) && t(x) <= n).count() as u64,
                            before: times.iter().filter(|x| n - 2 * w <= t(x) && t(x) < n - w).count() as u64,
                        }
                    }
                });
            }
            PlanNode::InSegment(ids) => {
                let segments = ids
                    .iter()
                    .map(|s| SegmentMembership {
                        id: *s,
                        name: self.book.segment(*s).map_or(String::new(), |x| x.info.name.clone()),
                        member: env.in_segments(&[*s], id),
                    })
                    .collect();
                detail = Some(Detail::Segments { segments });
            }
            PlanNode::Related(rel) => {
                let (matched, total) = eval::related_counts(rel, env, id, now);
                detail = Some(Detail::Related {
                    kind: self.table_at(rel.child).schema().name().to_string(),
                    matched,
                    total,
                });
            }
            _ => {}
        }
        ExplainNode::Rule {
            path,
            field: r.field.clone(),
            operator: r.operator.name().into(),
            literal,
            matches,
            value,
            missing,
            detail,
        }
    }

    /// Deprecated: `engine.builder().explain_member(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().explain_member(..)`")]
    pub fn explain_member(&self, segment: SegmentId, key: &str, now: Timestamp) -> Result<MemberExplanation, Error> {
        self.builder().explain_member(segment, key, now)
    }
}

/// An edit to preview, not yet saved ([`Builder::preview`](crate::engine::Builder::preview)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Draft {
    /// A new segment with this filter over this kind.
    NewSegment {
        /// The kind.
        kind: String,
        /// Its filter.
        filter: Filter,
    },
    /// A rule's filter replaced.
    EditRule {
        /// The rule.
        rule: RuleId,
        /// The new filter.
        filter: Filter,
    },
    /// A rule attached to a segment.
    AttachRule {
        /// The segment.
        segment: SegmentId,
        /// The rule's filter.
        filter: Filter,
    },
    /// A rule detached from its segment.
    DetachRule {
        /// The rule.
        rule: RuleId,
    },
}

/// What an edit would do to a segment's membership ([`Builder::preview`](crate::engine::Builder::preview)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    /// The members before (0 for a new segment).
    pub before: u64,
    /// The members after.
    pub after: u64,
    /// How many would enter.
    pub entering: u64,
    /// How many would exit.
    pub exiting: u64,
    /// The first keys to enter, in id order.
    pub entering_keys: Vec<String>,
    /// The first keys to exit, in id order.
    pub exiting_keys: Vec<String>,
}

impl Engine {
    /// Deprecated: `engine.builder().preview(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().preview(..)`")]
    pub fn preview(&self, edit: &Draft, sample: usize, now: Timestamp) -> Result<Preview, Error> {
        self.builder().preview(edit, sample, now)
    }

    pub(super) fn preview_in(
        &self,
        edit: &Draft,
        sample: usize,
        now: Timestamp,
        actor: Option<&Actor>,
    ) -> Result<Preview, Error> {
        let unknown_rule = |id| SegmentError::UnknownRule { id };
        // The segment, the rule edited or dropped (if any), and the new
        // rule's filter (if any).
        let (segment, kind, replaced, filter): (Option<SegmentId>, String, Option<RuleId>, Option<&Filter>) = match edit
        {
            Draft::NewSegment { kind, filter } => (None, kind.clone(), None, Some(filter)),
            Draft::EditRule { rule, filter } => {
                let r = self.book.rule(*rule).ok_or_else(|| unknown_rule(*rule))?;
                (
                    Some(r.info.segment),
                    self.segments().get(r.info.segment)?.kind.clone(),
                    Some(*rule),
                    Some(filter),
                )
            }
            Draft::AttachRule { segment, filter } => (
                Some(*segment),
                self.segments().get(*segment)?.kind.clone(),
                None,
                Some(filter),
            ),
            Draft::DetachRule { rule } => {
                let r = self.book.rule(*rule).ok_or_else(|| unknown_rule(*rule))?;
                (
                    Some(r.info.segment),
                    self.segments().get(r.info.segment)?.kind.clone(),
                    Some(*rule),
                    None,
                )
            }
        };
        // A rule of a saved segment: refused exactly as saving it would be
        // (a cycle, a reference it may not make).
        if let (Some(id), Some(f)) = (segment, filter) {
            let s = self.guard().segment_ref(id)?;
            self.guard()
                .plan(f.clone(), s.kind, id, &s.info.name, actor.map(|a| Reader::of(a, s)))?;
        }
        let table = self.store.table(&kind)?;
        let mut after = RoaringBitmap::new();
        if let Some(f) = filter {
            let mut matched = self.evaluate_in(&kind, f, now, None, actor, &Budget::unlimited())?;
            if let Some(r) = replaced.and_then(|r| self.book.rule(r)) {
                matched -= &r.blocked;
            }
            after |= matched;
        }
        let before = match segment.and_then(|s| self.book.segment(s)) {
            Some(s) => {
                after |= &s.manual;
                for r in &s.info.rules {
                    if Some(*r) != replaced {
                        if let Some(state) = self.book.rule(*r) {
                            after |= &state.links;
                        }
                    }
                }
                s.members.clone()
            }
            None => RoaringBitmap::new(),
        };
        after &= table.live();
        let entering = &after - &before;
        let exiting = &before - &after;
        let keys = |b: &RoaringBitmap| -> Vec<String> {
            b.iter()
                .take(sample)
                .filter_map(|id| table.key(EntityId(id)).map(str::to_string))
                .collect()
        };
        Ok(Preview {
            before: before.len(),
            after: after.len(),
            entering: entering.len(),
            exiting: exiting.len(),
            entering_keys: keys(&entering),
            exiting_keys: keys(&exiting),
        })
    }
}

impl Engine {
    /// Deprecated: `engine.builder().schema_json(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().schema_json(..)`")]
    pub fn schema_json(&self) -> Json {
        self.builder().schema_json()
    }

    /// Deprecated: `engine.builder().value_suggestions(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().value_suggestions(..)`")]
    pub fn value_suggestions(
        &self,
        kind: &str,
        field: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, Error> {
        self.builder().value_suggestions(kind, field, prefix, limit)
    }
}

impl<'a> Builder<'a> {
    /// The filter limits every saved segment and rule is validated with
    /// (conditions, depth), for a builder to show before the user hits
    /// them.
    pub fn policy(&self) -> &'a crate::filter::LimitPolicy {
        &self.engine.policy
    }

    /// The count of every group and rule of `filter` over `kind` at `now`,
    /// in one call: each node's own count, and the count of the whole
    /// filter with that node toggled off, so that a builder shows a number
    /// beside every line. Nothing is saved.
    ///
    /// # Errors
    ///
    /// As [`Query::evaluate`](crate::engine::Query::evaluate).
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Int), ("nps", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// for (k, h, n) in [("a", 10, 9), ("b", 20, 3), ("c", 80, 2), ("d", 90, 10)] {
    ///     engine.insert("account", k, Row::new().set("health", h).set("nps", n))?;
    /// }
    /// let f = Filter::and([field("health").lt(30), field("nps").lt(7)]);
    /// let c = engine.builder().counts("account", &f, Timestamp::now())?;
    /// assert_eq!((c.live, c.matches), (4, 1));
    /// assert_eq!(c.root.rules[0].count, 2); // health < 30
    /// assert_eq!(c.root.rules[0].without, 2); // nps < 7 alone
    /// assert_eq!(serde_json::to_value(&c)?["root"]["rules"][1]["path"], "rules[1]");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counts(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<Counts, Error> {
        self.engine.counts_in(kind, filter, now, self.actor)
    }

    /// Why the entity `key` of `kind` matches `filter` at `now`, or not:
    /// the filter tree with the answer at every node, the value each rule
    /// compared (or that it is missing) beside the literal, and for rules on
    /// events, relations, segments, match modes and other fields the
    /// numbers behind the answer. JSON-serializable, for a UI to render as
    /// it is.
    ///
    /// # Errors
    ///
    /// As [`Query::evaluate`](crate::engine::Query::evaluate), and [`SegmentError::UnknownKey`] for a key
    /// that is not a live entity of the kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::field;
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Int), ("nps", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// engine.insert("account", "a", Row::new().set("health", 20))?;
    /// let f = Filter::and([field("health").lt(30), field("nps").lt(7)]);
    /// let e = engine.builder().explain("account", &f, "a", Timestamp::now())?;
    /// assert!(!e.matches);
    /// let json = serde_json::to_value(&e)?;
    /// assert_eq!(json["root"]["rules"][0]["value"], 20);
    /// assert_eq!(json["root"]["rules"][1]["missing"], true);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, kind: &str, filter: &Filter, key: &str, now: Timestamp) -> Result<Explanation, Error> {
        self.engine.explain_in(kind, filter, key, now, self.actor)
    }

    /// Why the entity `key` is in `segment` or not: its links (manual,
    /// rules), the rules a manual removal blocks, since when it has been a
    /// member (where the change log tells), and each of the segment's rules
    /// explained at `now` ([`Builder::explain`](crate::engine::Builder::explain)).
    ///
    /// # Errors
    ///
    /// [`SegmentError::UnknownSegment`], [`SegmentError::UnknownKey`].
    pub fn explain_member(&self, segment: SegmentId, key: &str, now: Timestamp) -> Result<MemberExplanation, Error> {
        // Checked here for an actor's view; the rest is the segment's own.
        let info = self.segments().get(segment)?;
        let links = self.engine.segments().links(segment, key)?;
        let blocks = self.engine.segments().blocks(segment, key)?;
        let member = self.engine.segments().is_member(segment, key)?;
        let since = if member {
            self.engine
                .log()
                .membership_periods(segment, key)
                .ok()
                .and_then(|p| p.last().and_then(|p| p.from))
        } else {
            None
        };
        let mut rules = Vec::with_capacity(info.rules.len());
        for &rule in &info.rules {
            let r = self.engine.segments().rule(rule)?;
            rules.push(RuleExplanation {
                rule,
                explanation: self.engine.builder().explain(&info.kind, &r.filter, key, now)?,
            });
        }
        Ok(MemberExplanation {
            segment,
            name: info.name.clone(),
            key: key.to_string(),
            member,
            links,
            blocks,
            since,
            rules,
        })
    }

    /// What saving `edit` would do to its segment at `now`, computed on the
    /// current state without changing it: how many entities would enter and
    /// exit (with up to `sample` keys of each) and the resulting count.
    /// Links survive as saving keeps them: manual links stay, and a rule
    /// keeps the blocks that manual removals put on it. Segments that name
    /// the edited one would follow it; they are not previewed here.
    ///
    /// # Errors
    ///
    /// As [`Query::evaluate`](crate::engine::Query::evaluate) for the filter, and
    /// [`SegmentError::UnknownSegment`] / [`SegmentError::UnknownRule`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::engine::Draft;
    /// use segments::filter::field;
    /// use segments::segment::{Actor, NewSegment, Role};
    /// use segments::{Engine, FieldType, Filter, Row, Schema, Timestamp};
    ///
    /// let schema = Schema::builder().kind("account", [("health", FieldType::Int)]).build()?;
    /// let mut engine = Engine::new(schema);
    /// for (k, h) in [("a", 10), ("b", 20), ("c", 40)] {
    ///     engine.insert("account", k, Row::new().set("health", h))?;
    /// }
    /// let admin = Actor::new("ada", Role::Admin);
    /// let (risk, _) = engine.create_segment(&admin,
    ///     NewSegment::new("At risk", "account").filter(Filter::and([field("health").lt(15)])))?;
    /// let rule = engine.segments().get(risk)?.rules[0];
    /// let p = engine.builder().preview(&Draft::EditRule { rule, filter: Filter::and([field("health").lt(30)]) }, 10, Timestamp::now())?;
    /// assert_eq!((p.before, p.after, p.entering, p.exiting), (1, 2, 1, 0));
    /// assert_eq!(p.entering_keys, ["b"]);
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn preview(&self, edit: &Draft, sample: usize, now: Timestamp) -> Result<Preview, Error> {
        if self.actor.is_some() {
            // The segment the draft edits, checked as any read of it.
            let segments = self.segments();
            let segment = match edit {
                Draft::NewSegment { .. } => None,
                Draft::EditRule { rule, .. } | Draft::DetachRule { rule } => Some(segments.rule(*rule)?.segment),
                Draft::AttachRule { segment, .. } => Some(*segment),
            };
            if let Some(s) = segment {
                segments.get(s)?;
            }
        }
        self.engine.preview_in(edit, sample, now, self.actor)
    }

    /// The schema as a builder UI reads it ([`Schema::to_json_value`]), with
    /// each kind's recorded event names (sorted) under `events`.
    ///
    /// [`Schema::to_json_value`]: crate::Schema::to_json_value
    pub fn schema_json(&self) -> Json {
        let mut json = self.engine.store.schema().to_json_value();
        if let Some(kinds) = json.get_mut("kinds").and_then(Json::as_array_mut) {
            for (k, table) in kinds.iter_mut().zip(self.engine.store.tables()) {
                let mut events: Vec<&str> = table.event_names().collect();
                events.sort_unstable();
                k["events"] = events.into();
            }
        }
        json
    }

    /// Values of a string or tags field of `kind` starting with `prefix`,
    /// the most held first, for autocomplete; see
    /// [`stats::value_suggestions`](crate::stats::value_suggestions).
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] for an unknown kind, [`Error::Stats`] as
    /// `value_suggestions`.
    pub fn value_suggestions(
        &self,
        kind: &str,
        field: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, Error> {
        let table = self.engine.store.table(kind)?;
        Ok(crate::stats::value_suggestions(table, field, prefix, limit)?)
    }
}
