//! The shape of the core, held true: its modules import each other without a circle; no
//! area of the use cases imports another area; the kernel below them imports no area. Read
//! from the sources, so that a new import that breaks the shape fails here, with its place.

#![allow(clippy::unwrap_used)] // a test: a failure to read the sources is the answer

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The Rust files under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The module names that follow `prefix` (`crate::`, `super::`) in `text`, comments left out.
fn referenced(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The module `path` belongs to, one level below `root`: `root/x.rs` and `root/x/...` are `x`.
fn module_of(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// A circle in `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// The import graph among the modules directly under `root` (`crate::x` from anywhere in
/// the crate when `prefix` is `crate::`; `super::x` from the files of `root` otherwise).
fn graph(
    root: &Path,
    prefix: &str,
    names: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in files(root) {
        let from = module_of(root, &path);
        if !names.contains(&from) {
            continue;
        }
        // A file in a folder of its own reaches its siblings with `super::super::`.
        let nested = path.parent() != Some(root);
        if nested && prefix == "super::" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for to in referenced(&text, prefix) {
            if to != from && names.contains(&to) {
                edges.insert(to);
            }
        }
    }
    graph
}

fn children(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| module_of(dir, &p))
        .filter(|n| n != "mod" && n != "lib")
        .collect()
}

#[test]
fn the_crates_modules_import_each_other_without_a_circle() {
    let root = src();
    let g = graph(&root, "crate::", &children(&root));
    assert!(
        g.contains_key("service") && g.contains_key("store"),
        "{g:?}"
    );
    assert_eq!(
        circle(&g),
        None,
        "a circle among the core's modules: {g:#?}"
    );
}

#[test]
fn no_area_imports_another_and_the_kernel_imports_no_area() {
    let service = src().join("service");
    let mut areas = children(&service);
    areas.remove("kernel");
    assert!(areas.len() >= 10, "{areas:?}");
    for path in files(&service) {
        let text = std::fs::read_to_string(&path).unwrap();
        let from = module_of(&service, &path);
        let in_kernel = from == "kernel";
        let mut reached = referenced(&text, "crate::service::");
        if in_kernel {
            reached.extend(referenced(&text, "super::super::"));
        } else if from != "mod" {
            reached.extend(referenced(&text, "super::"));
        }
        let bad: Vec<&String> = reached
            .iter()
            .filter(|m| areas.contains(*m) && **m != from)
            .collect();
        assert!(
            bad.is_empty(),
            "{} imports the area(s) {bad:?}; move what they share into the kernel",
            path.display()
        );
        // An area shares nothing with the others except through its public use cases.
        if !in_kernel && from != "mod" {
            for (n, line) in text.lines().enumerate() {
                assert!(
                    !line.contains("pub(super)") && !line.contains("pub(crate)"),
                    "{}:{}: an area item visible to other areas belongs in the kernel",
                    path.display(),
                    n + 1
                );
            }
        }
    }
}

#[test]
fn the_kernel_imports_itself_without_a_circle() {
    let kernel = src().join("service").join("kernel");
    let g = graph(&kernel, "super::", &children(&kernel));
    assert!(g.len() >= 10, "{g:?}");
    assert_eq!(circle(&g), None, "a circle in the kernel: {g:#?}");
}

#[test]
fn the_checks_see_a_circle_and_an_area_import() {
    let mut g = BTreeMap::new();
    g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    g.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(circle(&g).is_some());
    assert_eq!(
        referenced("use super::admin::OrgAdmin; // super::codes", "super::"),
        BTreeSet::from(["admin".to_owned()])
    );
    assert_eq!(
        referenced("use crate::service::codes::Purpose;", "crate::service::"),
        BTreeSet::from(["codes".to_owned()])
    );
}
