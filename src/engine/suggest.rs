//! Standard segments every kind has, and segments suggested by the data.

use super::read::Builder;
use super::Engine;
use crate::error::{Error, SchemaError, StatsError};
use crate::filter::{field, usage_change, Duration, Filter, Literal, Operator, Rule};
use crate::segment::{NewSegment, SuggestSpec, Suggestion, SuggestionKind};
use crate::stats;

impl Engine {
    /// Deprecated: `engine.builder().standard_segments(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().standard_segments(..)`")]
    pub fn standard_segments(&self, kind: &str, active_within: Duration) -> Result<Vec<NewSegment>, SchemaError> {
        self.builder().standard_segments(kind, active_within)
    }

    /// Deprecated: `engine.builder().suggest_segments(..)`.
    #[deprecated(since = "0.2.0", note = "use `engine.builder().suggest_segments(..)`")]
    pub fn suggest_segments(&self, kind: &str, spec: &SuggestSpec) -> Result<Vec<Suggestion>, Error> {
        self.builder().suggest_segments(kind, spec)
    }
}

fn period(d: Duration) -> String {
    let unit = d.unit.name();
    if d.amount == 1 {
        format!("1 {}", unit.trim_end_matches('s'))
    } else {
        format!("{} {unit}", d.amount)
    }
}

impl<'a> Builder<'a> {
    /// The standard segments of a kind, available by default: every entity,
    /// and the entities active (with any event) within `active_within`.
    ///
    /// # Errors
    ///
    /// [`SchemaError::UnknownKind`].
    ///
    /// # Examples
    ///
    /// ```
    /// use segments::filter::{Duration, TimeUnit};
    /// use segments::segment::{Actor, Role};
    /// use segments::{Engine, FieldType, Schema};
    ///
    /// let mut engine = Engine::new(Schema::builder().kind("account", [("mrr", FieldType::Int)]).build()?);
    /// let std = engine.builder().standard_segments("account", Duration { amount: 30, unit: TimeUnit::Days })?;
    /// assert_eq!(std[0].name, "All accounts");
    /// assert_eq!(std[1].name, "Active accounts (30 days)");
    /// for s in std {
    ///     engine.create_segment(&Actor::new("ada", Role::Admin), s)?;
    /// }
    /// # Ok::<(), segments::Error>(())
    /// ```
    pub fn standard_segments(&self, kind: &str, active_within: Duration) -> Result<Vec<NewSegment>, SchemaError> {
        self.engine.store.schema().kind(kind)?;
        Ok(vec![
            NewSegment::new(format!("All {kind}s"), kind).filter(Filter::all()),
            NewSegment::new(format!("Active {kind}s ({})", period(active_within)), kind)
                .filter(Filter::and([
                    field("@lastSeen").within_last(active_within.amount, active_within.unit)
                ])),
        ])
    }

    /// Segments suggested by the data of a kind (Accoil's): high and low
    /// engagement (the top and bottom `quantile` of the score field, with
    /// thresholds computed now), recently active, and usage that grew or
    /// fell by `usage_ratio` between two windows. Suggestions whose data is
    /// missing (no score values, no such event) are left out.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] for an unknown kind, [`Error::Stats`] for a score
    /// field that is unknown or not numeric, or a quantile outside
    /// `(0, 0.5]` ([`StatsError::BadPercentile`]); [`Error::Filter`] for a
    /// usage ratio not above 1 or an empty usage window.
    pub fn suggest_segments(&self, kind: &str, spec: &SuggestSpec) -> Result<Vec<Suggestion>, Error> {
        let table = self.engine.store.table(kind)?;
        let now = self.engine.now();
        let mut out = Vec::new();
        let mut offer = |what: SuggestionKind, name: String, filter: Filter, reason: String| -> Result<(), Error> {
            let members = self.engine.query(kind).evaluate(&filter, now)?.len();
            out.push(Suggestion {
                kind: what,
                segment: NewSegment::new(name, kind).filter(filter),
                reason,
                members,
            });
            Ok(())
        };
        if let Some(score) = &spec.score_field {
            let q = spec.quantile;
            if !(q > 0.0 && q <= 0.5) {
                return Err(StatsError::BadPercentile { value: q * 100.0 }.into());
            }
            let s = stats::numeric(table, score, table.live(), &[q * 100.0, 100.0 - q * 100.0])?;
            if let [(_, low), (_, high)] = s.percentiles[..] {
                let pct = q * 100.0;
                offer(
                    SuggestionKind::HighEngagement,
                    "High engagement".into(),
                    Filter::and([Rule::new(score.as_str(), Operator::Ge, Some(Literal::Float(high)))]),
                    format!(
                        "top {pct}% by `{score}`: {score} >= {high} (its {}th percentile)",
                        100.0 - pct
                    ),
                )?;
                offer(
                    SuggestionKind::LowEngagement,
                    "Low engagement".into(),
                    Filter::and([Rule::new(score.as_str(), Operator::Le, Some(Literal::Float(low)))]),
                    format!("bottom {pct}% by `{score}`: {score} <= {low} (its {pct}th percentile)"),
                )?;
            }
        }
        if table.event_count() > 0 {
            let r = spec.recent;
            offer(
                SuggestionKind::RecentlyActive,
                "Recently active".into(),
                Filter::and([field("@lastSeen").within_last(r.amount, r.unit)]),
                format!("some event within the last {}", period(r)),
            )?;
        }
        if let Some(event) = spec
            .usage_event
            .as_deref()
            .filter(|e| table.event_names().any(|n| n == *e))
        {
            let (w, ratio) = (spec.usage_window, spec.usage_ratio);
            if !(ratio.is_finite() && ratio > 1.0) || w.amount == 0 {
                return Err(crate::FilterError::BadValue {
                    path: "usage_ratio".into(),
                    field: event.to_string(),
                    expected: "a ratio above 1 and a window of at least one unit".into(),
                    found: format!("ratio {ratio}, window {}", period(w)),
                }
                .into());
            }
            offer(
                SuggestionKind::UsageUp,
                format!("Usage of {event} up"),
                Filter::and([usage_change(event, ratio, w)]),
                format!(
                    "`{event}` in the last {p} at least {ratio} times the {p} before",
                    p = period(w)
                ),
            )?;
            offer(
                SuggestionKind::UsageDown,
                format!("Usage of {event} down"),
                Filter::and([usage_change(event, 1.0 / ratio, w)]),
                format!(
                    "`{event}` in the last {p} at most 1/{ratio} of the {p} before",
                    p = period(w)
                ),
            )?;
        }
        Ok(out)
    }
}
