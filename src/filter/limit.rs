//! How large a filter may be.

use crate::error::FilterError;

/// Nesting is never allowed past this many levels of groups, whatever the
/// policy says: evaluation recurses once per level, and every filter the
/// engine accepts must read back from its JSON form (which snapshots store).
/// A level of nested filter (`{"count": n, "filter": group}` under a rule)
/// takes four levels of JSON, and JSON is read to 127 levels: 31 × 4 + 3
/// is the deepest a filter's JSON gets.
pub const MAX_DEPTH_CAP: usize = 31;

/// Limits on a filter's size, checked by validation before anything recurses.
///
/// The condition count is the number of rules (leaves) in the whole tree.
/// The depth of the root group is 1; a group inside it is at depth 2, and so
/// on.
///
/// # Examples
///
/// ```
/// use segments::LimitPolicy;
///
/// let default = LimitPolicy::default();
/// assert_eq!(default.max_conditions(), Some(10));
/// let akita = LimitPolicy::default().with_unlimited_conditions().with_max_depth(24)?;
/// assert_eq!(akita.max_conditions(), None);
/// assert_eq!(akita.max_depth(), 24);
/// assert!(LimitPolicy::default().with_max_depth(256).is_err());
/// # Ok::<(), segments::FilterError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitPolicy {
    max_conditions: Option<usize>,
    max_depth: usize,
}

impl Default for LimitPolicy {
    /// At most 10 conditions (as Customerscore.io allows) and 16 levels of groups.
    fn default() -> LimitPolicy {
        LimitPolicy {
            max_conditions: Some(10),
            max_depth: 16,
        }
    }
}

impl LimitPolicy {
    /// At most `n` conditions.
    #[must_use]
    pub fn with_max_conditions(mut self, n: usize) -> LimitPolicy {
        self.max_conditions = Some(n);
        self
    }

    /// Any number of conditions.
    #[must_use]
    pub fn with_unlimited_conditions(mut self) -> LimitPolicy {
        self.max_conditions = None;
        self
    }

    /// At most `depth` levels of groups (1 to [`MAX_DEPTH_CAP`]).
    ///
    /// # Errors
    ///
    /// [`FilterError::DepthPolicy`] for 0 or a depth past
    /// [`MAX_DEPTH_CAP`], rather than a silent clamp.
    pub fn with_max_depth(mut self, depth: usize) -> Result<LimitPolicy, FilterError> {
        if depth == 0 || depth > MAX_DEPTH_CAP {
            return Err(FilterError::DepthPolicy {
                depth,
                cap: MAX_DEPTH_CAP,
            });
        }
        self.max_depth = depth;
        Ok(self)
    }

    /// The condition limit; `None` is unlimited.
    pub fn max_conditions(&self) -> Option<usize> {
        self.max_conditions
    }

    /// The depth limit.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }
}
