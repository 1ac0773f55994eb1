//! The shape of the crate, held by CI so that a feature cannot quietly
//! undo it (ARCHITECTURE.md, "Shape"):
//!
//! - no import cycle among the top-level modules of `src/` (read from the
//!   `crate::<module>` paths in the code, comments left out), nor among
//!   the files of a folder module (`eval/`, `engine/`, ...: `super::<file>`
//!   paths, `mod.rs` aside);
//! - `Engine`'s public methods that are not `#[deprecated]` forwarders
//!   stay within the budget ARCHITECTURE.md states;
//! - no production module names the row-by-row oracle (`eval::oracle`)
//!   but `eval/mod.rs` (which serves `eval::scan`) and the oracle itself,
//!   so that the oracle tests compare two independent implementations;
//! - README.md stays a front page (at most 250 lines; the manual is the
//!   guide, `src/guide/`) that links to each chapter of the guide.
//!
//! Each check is text over `src/`: the test reads the files, it runs none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its path relative to `src/`.
fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    files(&src(), &mut out);
    out
}

/// The code of a file without its comments, up to its first test module.
fn production(text: &str) -> Vec<&str> {
    text.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect()
}

/// The top-level module a file belongs to (`engine/op.rs` is `engine`).
fn top(rel: &str) -> String {
    rel.split('/').next().unwrap().trim_end_matches(".rs").to_string()
}

/// The modules each top-level module names with `crate::<module>`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let word = regex::Regex::new(r"crate::([a-z_][a-z0-9_]*)").unwrap();
    let group = regex::Regex::new(r"use crate::\{([^}]*)\}").unwrap();
    let name = regex::Regex::new(r"(?:^|,)\s*([a-z_][a-z0-9_]*)").unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in sources() {
        let me = top(&rel);
        if me == "lib" {
            continue;
        }
        let code = text
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let named = out.entry(me.clone()).or_default();
        for c in word.captures_iter(&code) {
            named.insert(c[1].to_string());
        }
        for g in group.captures_iter(&code) {
            for c in name.captures_iter(&g[1]) {
                named.insert(c[1].to_string());
            }
        }
        named.remove(&me);
    }
    let modules: BTreeSet<String> = out.keys().cloned().collect();
    for named in out.values_mut() {
        named.retain(|m| modules.contains(m));
    }
    out
}

/// A cycle through `from`, if any: the modules on it, in order.
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    // Depth-first from `from`'s imports back to `from`, with the way back.
    let mut came: BTreeMap<String, String> = BTreeMap::new();
    let mut stack: Vec<String> = graph[from].iter().cloned().collect();
    for s in &stack {
        came.insert(s.clone(), from.to_string());
    }
    let mut seen: BTreeSet<String> = stack.iter().cloned().collect();
    while let Some(m) = stack.pop() {
        if m == from {
            let mut path = vec![m.clone()];
            let mut at = came[&m].clone();
            while at != from {
                path.push(at.clone());
                at = came[&at].clone();
            }
            path.push(from.to_string());
            path.reverse();
            return Some(path);
        }
        for next in graph.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                came.insert(next.clone(), m.clone());
                stack.push(next.clone());
            }
        }
    }
    None
}

#[test]
fn no_import_cycle_among_the_top_level_modules() {
    let graph = imports();
    assert!(graph.len() > 10, "the modules were found: {:?}", graph.keys());
    for m in graph.keys() {
        if let Some(cycle) = cycle_through(&graph, m) {
            panic!("an import cycle among src/'s top-level modules: {}", cycle.join(" -> "));
        }
    }
}

/// For each folder module of `src/` (`eval`, `engine`, ...), the files
/// each of its files names (`super::<file>`, `crate::<folder>::<file>`, or
/// inside `super::{..}`), `mod.rs` left out: it declares the others.
fn file_imports() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let path = regex::Regex::new(r"(?:super|crate::([a-z_]+))::([a-z_][a-z0-9_]*)").unwrap();
    let group = regex::Regex::new(r"(?:super|crate::([a-z_]+))::\{([^}]*)\}").unwrap();
    let name = regex::Regex::new(r"(?:^|,)\s*([a-z_][a-z0-9_]*)").unwrap();
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let all = sources();
    for (rel, _) in &all {
        if let Some((folder, file)) = rel.split_once('/') {
            if !file.contains('/') && file != "mod.rs" {
                let files = out.entry(folder.to_string()).or_default();
                files.entry(file.trim_end_matches(".rs").to_string()).or_default();
            }
        }
    }
    for (rel, text) in &all {
        let Some((folder, file)) = rel.split_once('/') else {
            continue;
        };
        if file.contains('/') || file == "mod.rs" {
            continue;
        }
        let me = file.trim_end_matches(".rs").to_string();
        let siblings: BTreeSet<String> = out[folder].keys().cloned().collect();
        let code = production(text).join("\n");
        let ours = |c: &regex::Captures| c.get(1).map_or(true, |f| f.as_str() == folder);
        let mut named = BTreeSet::new();
        for c in path.captures_iter(&code).filter(|c| ours(c)) {
            named.insert(c[2].to_string());
        }
        for c in group.captures_iter(&code).filter(|c| ours(c)) {
            for n in name.captures_iter(&c[2]) {
                named.insert(n[1].to_string());
            }
        }
        named.retain(|n| siblings.contains(n) && *n != me);
        out.get_mut(folder).unwrap().insert(me, named);
    }
    out
}

#[test]
fn no_import_cycle_among_the_files_of_a_module() {
    let folders = file_imports();
    assert!(
        folders.contains_key("eval") && folders.contains_key("engine"),
        "{:?}",
        folders.keys()
    );
    for (folder, graph) in &folders {
        for f in graph.keys() {
            if let Some(cycle) = cycle_through(graph, f) {
                panic!(
                    "an import cycle among the files of src/{folder}/: {}",
                    cycle.join(" -> ")
                );
            }
        }
    }
}

/// `Engine`'s public methods, as (live, deprecated): each `pub fn` directly
/// inside an inherent `impl Engine` block of production code.
fn engine_methods() -> (usize, usize) {
    let (mut live, mut deprecated) = (0, 0);
    for (_, text) in sources() {
        let mut depth = 0i32;
        let mut inside = false;
        let mut attrs: Vec<String> = Vec::new();
        let mut open_attr = 0i32;
        for l in production(&text) {
            let s = l.trim();
            if !inside && (s.starts_with("impl Engine") || s.starts_with("impl<'a> Engine")) && !s.contains(" for ") {
                inside = true;
                depth = 0;
            }
            if inside {
                if open_attr > 0 {
                    // An attribute rustfmt split over lines: its first
                    // line is kept, the rest only closes it.
                    open_attr += s.matches('[').count() as i32 - s.matches(']').count() as i32;
                    continue;
                }
                if depth == 1 && s.starts_with("#[") {
                    attrs.push(s.to_string());
                    open_attr = s.matches('[').count() as i32 - s.matches(']').count() as i32;
                } else if depth == 1 && l.starts_with("    pub fn ") {
                    if attrs.iter().any(|a| a.starts_with("#[deprecated")) {
                        deprecated += 1;
                    } else {
                        live += 1;
                    }
                    attrs.clear();
                } else if depth == 1 && !s.is_empty() {
                    attrs.clear();
                }
                depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                if depth <= 0 && l.contains('}') {
                    inside = false;
                }
            }
        }
    }
    (live, deprecated)
}

/// The budget ARCHITECTURE.md states, on its line
/// `Engine's public methods (not deprecated forwarders): at most N`.
fn budget() -> usize {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("Engine's public methods (not deprecated forwarders): at most"))
        .expect("ARCHITECTURE.md states Engine's budget of public methods");
    line.split("at most")
        .nth(1)
        .and_then(|r| r.trim().split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .expect("a number after `at most`")
}

#[test]
fn engine_stays_within_its_budget_of_public_methods() {
    let (live, deprecated) = engine_methods();
    assert!(live > 0, "the methods were found");
    let budget = budget();
    assert!(
        live <= budget,
        "Engine has {live} public methods besides {deprecated} deprecated forwarders, over the budget of {budget} \
         in ARCHITECTURE.md: put the new read on a handle, or the write in an `Op`"
    );
}

#[test]
fn no_production_module_names_the_oracle() {
    let names = regex::Regex::new(r"\boracle::|use\s+[\w:{}, ]*\boracle\b").unwrap();
    let mut users = Vec::new();
    for (rel, text) in sources() {
        if matches!(rel.as_str(), "eval/oracle.rs" | "eval/mod.rs") || rel.starts_with("eval/oracle/") {
            continue;
        }
        if production(&text).iter().any(|l| names.is_match(l)) {
            users.push(rel);
        }
    }
    assert!(users.is_empty(), "production code names the oracle: {users:?}");
}

#[test]
fn the_readme_is_a_front_page_that_links_every_chapter_of_the_guide() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let lines = readme.lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the manual belongs in src/guide/"
    );
    let guide = std::fs::read_to_string(src().join("guide/mod.rs")).expect("src/guide/mod.rs");
    for entry in std::fs::read_dir(src().join("guide")).expect("src/guide") {
        let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
        if let Some(chapter) = name.strip_suffix(".md") {
            assert!(
                readme.contains(&format!("(src/guide/{name})")),
                "README.md does not link {name}"
            );
            assert!(
                guide.contains(&format!("include_str!(\"{name}\")")),
                "src/guide/mod.rs does not include {name}"
            );
            assert!(
                guide.contains(&format!("[`{chapter}`]")),
                "the guide's table does not list {chapter}"
            );
        }
    }
}
