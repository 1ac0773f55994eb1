//! Paths of nodes in a filter tree, as errors report them: `rules[1].rules[0].value`.

use std::fmt;

/// Where a node stands in a filter tree; the root group is `filter`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn root() -> Path {
        Path(String::new())
    }

    pub(crate) fn rule(&self, i: usize) -> Path {
        self.member(&format!("rules[{i}]"))
    }

    pub(crate) fn member(&self, name: &str) -> Path {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{name}", self.0))
        }
    }

    pub(crate) fn index(&self, i: usize) -> Path {
        Path(format!("{}[{i}]", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("filter")
        } else {
            f.write_str(&self.0)
        }
    }
}
