//! Standard and suggested segment definitions.

use super::NewSegment;
use crate::filter::{Duration, TimeUnit};

/// What [`Engine::suggest_segments`](crate::Engine::suggest_segments) looks
/// at to suggest segments from the data.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestSpec {
    /// A numeric engagement score: high and low engagement are its top and
    /// bottom `quantile`.
    pub score_field: Option<String>,
    /// The share of entities in each of the high and low engagement
    /// segments, in `(0, 0.5]`; 0.2 is the top and bottom fifths.
    pub quantile: f64,
    /// "Recently active": some event within this period.
    pub recent: Duration,
    /// The event whose usage change is watched.
    pub usage_event: Option<String>,
    /// The length of each of the two windows compared.
    pub usage_window: Duration,
    /// The factor of change, above 1: grew at least this many times, or
    /// fell to at most its inverse.
    pub usage_ratio: f64,
}

impl Default for SuggestSpec {
    /// No score field or usage event; top and bottom fifths; active within
    /// 7 days; usage doubled or halved week over week.
    fn default() -> SuggestSpec {
        SuggestSpec {
            score_field: None,
            quantile: 0.2,
            recent: Duration {
                amount: 7,
                unit: TimeUnit::Days,
            },
            usage_event: None,
            usage_window: Duration {
                amount: 7,
                unit: TimeUnit::Days,
            },
            usage_ratio: 2.0,
        }
    }
}

/// A proposed segment: an ordinary definition to inspect and save with
/// [`Engine::create_segment`](crate::Engine::create_segment).
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// What it is, to tell suggestions apart by code rather than by name.
    pub kind: SuggestionKind,
    /// The definition (public, with its filter).
    pub segment: NewSegment,
    /// Why it is proposed, with the numbers it was built from.
    pub reason: String,
    /// How many entities it would hold now.
    pub members: u64,
}

/// What a [`Suggestion`] is: one variant per segment
/// [`Engine::suggest_segments`](crate::Engine::suggest_segments) proposes,
/// so that a service picks them by kind; their names are for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SuggestionKind {
    /// The top `quantile` by the score field.
    HighEngagement,
    /// The bottom `quantile` by the score field.
    LowEngagement,
    /// Some event within the `recent` period.
    RecentlyActive,
    /// The usage event grew at least `usage_ratio` times, window over window.
    UsageUp,
    /// The usage event fell to at most `1 / usage_ratio`, window over window.
    UsageDown,
}
