//! When the result of a relative-time condition next changes with time
//! alone: for each entity, the instants at which its value (or one of its
//! event instants) crosses a window's edge, and their minimum after `now`.

use crate::filter::{Cond, EventWhat, PlanNode, Test, Window};
use crate::store::Column;
use crate::value::key_to_int;
use crate::Table;

/// The earliest instant (µs) after `now` at which `leaf` may flip for some
/// live entity of `table` if no data changes; `None` if it never will.
pub(crate) fn next_flip(leaf: &PlanNode, table: &Table, now: i64) -> Option<i64> {
    let mut best: Option<i64> = None;
    let mut offer = |t: i128| {
        if t > now as i128 && t <= i64::MAX as i128 {
            let t = t as i64;
            best = Some(best.map_or(t, |b| b.min(t)));
        }
    };
    match leaf {
        PlanNode::Leaf(Cond {
            field,
            test: Test::Trend(t),
        }) => {
            let h = table.history(*field)?;
            for id in h.who() {
                super::trend::edges(t, h.of(id), now, &mut offer);
            }
        }
        PlanNode::Leaf(c) => {
            let Test::Window(w, d) = c.test else { return None };
            if let Column::Numeric(col) = table.column(c.field) {
                for id in col.present().iter() {
                    window_edges(w, d, key_to_int(col.keys()[id as usize]), &mut offer);
                }
            }
        }
        PlanNode::Event(e) => {
            let log = table.events();
            let name = match &e.name {
                Some(n) => Some(log.name(n)?),
                None => None,
            };
            // Through the leaf, so that a property filter narrows the
            // instants to the events it keeps.
            let leaf = super::events::EventLeaf::bind(e, table, crate::value::Timestamp::from_micros(now));
            let edges: Vec<i128> = match &e.what {
                EventWhat::First(Test::Window(w, d)) | EventWhat::Last(Test::Window(w, d)) => {
                    let first = matches!(e.what, EventWhat::First(_));
                    for id in log.who(name) {
                        if let Some((f, l)) = leaf.span(id) {
                            window_edges(*w, *d, if first { f } else { l }, &mut offer);
                        }
                    }
                    return best;
                }
                EventWhat::Count {
                    window: crate::filter::CountWin::Last(d),
                    ..
                } => vec![0, d + 1],
                EventWhat::Change { window, .. } => vec![0, window + 1, 2 * window + 1],
                _ => return None,
            };
            name?;
            for id in log.who(name) {
                instant_edges(&leaf.times(id), now, &edges, &mut offer);
            }
        }
        _ => {}
    }
    best
}

/// The instants at which a value `v` (µs) enters or leaves a window of
/// length `d` relative to `now`.
fn window_edges(w: Window, d: i128, v: i64, offer: &mut impl FnMut(i128)) {
    let v = v as i128;
    match w {
        // now - d <= v <= now: in from v, out after v + d.
        Window::Last => {
            offer(v);
            offer(v + d + 1);
        }
        // now <= v <= now + d: in from v - d, out after v.
        Window::Next => {
            offer(v - d);
            offer(v + 1);
        }
        // v < now - d: in from v + d + 1, for good.
        Window::MoreThanAgo => offer(v + d + 1),
    }
}

/// For sorted instants: instant `t` crosses an edge of the windows at
/// `t + o` for each offset `o` (0: it enters the window ending now; `d + 1`:
/// it leaves the one starting `d` before now). Offers the first crossing
/// after `now` per offset.
fn instant_edges(times: &[i64], now: i64, offsets: &[i128], offer: &mut impl FnMut(i128)) {
    for &o in offsets {
        // The first t with t + o > now.
        let cut = (now as i128 - o + 1).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        let i = times.partition_point(|&t| t < cut);
        if let Some(&t) = times.get(i) {
            offer(t as i128 + o);
        }
    }
}
