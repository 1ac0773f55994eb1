//! The `AsActor` mirror of the engine's reads, kept one release as
//! deprecated forwarders to the handles of [`ActorView`], which replaced it.

use roaring::RoaringBitmap;

use super::read::ActorView;
use super::{Counts, Draft, Explanation, MemberExplanation, Preview, Scope, Warning};
use crate::error::{Error, SegmentError};
use crate::eval::Budget;
use crate::filter::Filter;
use crate::segment::{RuleId, RuleInfo, SegmentId, SegmentInfo, Source};
use crate::value::Timestamp;

/// The engine as one actor sees it, now [`ActorView`].
#[deprecated(since = "0.2.0", note = "renamed `ActorView`; its reads are on its handles")]
pub type AsActor<'a> = ActorView<'a>;

/// Deprecated forwarders: each read is on one of the view's handles.
impl<'a> ActorView<'a> {
    /// Deprecated: `view.segments().get(segment)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().get(segment)`")]
    pub fn segment(&self, segment: SegmentId) -> Result<&'a SegmentInfo, SegmentError> {
        self.segments().get(segment)
    }

    /// Deprecated: `view.segments().iter()`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().iter()`")]
    pub fn list(&self) -> impl Iterator<Item = &'a SegmentInfo> + 'a {
        self.segments().iter()
    }

    /// Deprecated: `view.segments().rule(rule)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().rule(rule)`")]
    pub fn rule(&self, rule: RuleId) -> Result<&'a RuleInfo, SegmentError> {
        self.segments().rule(rule)
    }

    /// Deprecated: `view.segments().export(segment, spec, out)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().export(segment, spec, out)`")]
    pub fn export(
        &self,
        segment: SegmentId,
        spec: &super::Export,
        out: impl std::io::Write,
    ) -> Result<Option<String>, crate::error::ExportError> {
        self.segments().export(segment, spec, out)
    }

    /// Deprecated: `view.segments().members(segment)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().members(segment)`")]
    pub fn members(&self, segment: SegmentId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.segments().members(segment)
    }

    /// Deprecated: `view.segments().member_keys(segment)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().member_keys(segment)`")]
    pub fn member_keys(&self, segment: SegmentId) -> Result<impl Iterator<Item = &'a str> + 'a, SegmentError> {
        self.segments().member_keys(segment)
    }

    /// Deprecated: `view.segments().count(segment)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().count(segment)`")]
    pub fn count(&self, segment: SegmentId) -> Result<u64, SegmentError> {
        self.segments().count(segment)
    }

    /// Deprecated: `view.segments().is_member(segment, key)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().is_member(segment, key)`")]
    pub fn is_member(&self, segment: SegmentId, key: &str) -> Result<bool, SegmentError> {
        self.segments().is_member(segment, key)
    }

    /// Deprecated: `view.segments().segments_of(kind, key)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().segments_of(kind, key)`")]
    pub fn segments_of(&self, kind: &str, key: &str) -> Result<Vec<SegmentId>, SegmentError> {
        self.segments().segments_of(kind, key)
    }

    /// Deprecated: `view.segments().links(segment, key)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().links(segment, key)`")]
    pub fn links(&self, segment: SegmentId, key: &str) -> Result<Vec<Source>, SegmentError> {
        self.segments().links(segment, key)
    }

    /// Deprecated: `view.segments().blocks(segment, key)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().blocks(segment, key)`")]
    pub fn blocks(&self, segment: SegmentId, key: &str) -> Result<Vec<RuleId>, SegmentError> {
        self.segments().blocks(segment, key)
    }

    /// Deprecated: `view.segments().rule_links(rule)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().rule_links(rule)`")]
    pub fn rule_links(&self, rule: RuleId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.segments().rule_links(rule)
    }

    /// Deprecated: `view.segments().rule_blocks(rule)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().rule_blocks(rule)`")]
    pub fn rule_blocks(&self, rule: RuleId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.segments().rule_blocks(rule)
    }

    /// Deprecated: `view.segments().manual_links(segment)`.
    #[deprecated(since = "0.2.0", note = "use `view.segments().manual_links(segment)`")]
    pub fn manual_links(&self, segment: SegmentId) -> Result<&'a RoaringBitmap, SegmentError> {
        self.segments().manual_links(segment)
    }

    /// Deprecated: `view.query(kind).within(segment)`.
    #[deprecated(since = "0.2.0", note = "use `view.query(kind).within(segment)`")]
    pub fn scope(&self, segment: SegmentId) -> Result<Scope<'a>, SegmentError> {
        #[allow(deprecated)]
        self.segments().scope(segment)
    }

    /// Deprecated: `view.query(kind).evaluate(filter, now)`.
    #[deprecated(since = "0.2.0", note = "use `view.query(kind).evaluate(filter, now)`")]
    pub fn evaluate(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<RoaringBitmap, Error> {
        self.query(kind).evaluate(filter, now)
    }

    /// Deprecated: `view.query(kind).budget(budget).evaluate(filter, now)`.
    #[deprecated(since = "0.2.0", note = "use `view.query(kind).budget(budget).evaluate(filter, now)`")]
    pub fn evaluate_with(
        &self,
        kind: &str,
        filter: &Filter,
        now: Timestamp,
        budget: &Budget,
    ) -> Result<RoaringBitmap, Error> {
        self.query(kind).budget(budget).evaluate(filter, now)
    }

    /// Deprecated: `view.builder().counts(kind, filter, now)`.
    #[deprecated(since = "0.2.0", note = "use `view.builder().counts(kind, filter, now)`")]
    pub fn counts(&self, kind: &str, filter: &Filter, now: Timestamp) -> Result<Counts, Error> {
        self.builder().counts(kind, filter, now)
    }

    /// Deprecated: `view.builder().explain(kind, filter, key, now)`.
    #[deprecated(since = "0.2.0", note = "use `view.builder().explain(kind, filter, key, now)`")]
    pub fn explain(&self, kind: &str, filter: &Filter, key: &str, now: Timestamp) -> Result<Explanation, Error> {
        self.builder().explain(kind, filter, key, now)
    }

    /// Deprecated: `view.builder().explain_member(segment, key, now)`.
    #[deprecated(since = "0.2.0", note = "use `view.builder().explain_member(segment, key, now)`")]
    pub fn explain_member(&self, segment: SegmentId, key: &str, now: Timestamp) -> Result<MemberExplanation, Error> {
        self.builder().explain_member(segment, key, now)
    }

    /// Deprecated: `view.builder().preview(draft, sample, now)`.
    #[deprecated(since = "0.2.0", note = "use `view.builder().preview(draft, sample, now)`")]
    pub fn preview(&self, draft: &Draft, sample: usize, now: Timestamp) -> Result<Preview, Error> {
        self.builder().preview(draft, sample, now)
    }

    /// Deprecated: `view.builder().check(kind, filter)`.
    #[deprecated(since = "0.2.0", note = "use `view.builder().check(kind, filter)`")]
    pub fn check(&self, kind: &str, filter: &Filter) -> Result<Vec<Warning>, Error> {
        self.builder().check(kind, filter)
    }
}
