//! The library is layered: no file of `src/` imports, through module-level `use crate::…`,
//! a file that imports it back (directly or through others). Test modules are left out (they
//! sit indented inside their file). `docs/architecture.md` draws the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/` but the binary's.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module-level `use crate::…` statements of a file, as the paths they name (a grouped
/// `use crate::{a::B, c}` gives `a::B` and `c`).
fn imports(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(open) = current.as_mut() {
            open.push_str(line.trim());
            if line.trim_end().ends_with(';') {
                statements.push(current.take().expect("open"));
            }
            continue;
        }
        // Module level: not indented, so not inside a test module or a function.
        let trimmed = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        if let Some(rest) = trimmed.strip_prefix("use crate::") {
            if rest.trim_end().ends_with(';') {
                statements.push(rest.to_owned());
            } else {
                current = Some(rest.to_owned());
            }
        }
    }
    let mut paths = Vec::new();
    for statement in statements {
        let statement = statement.trim_end_matches(';').replace(' ', "");
        match statement.split_once('{') {
            Some((prefix, group)) => {
                for item in split_top_level(group.trim_end_matches('}')) {
                    paths.push(format!("{prefix}{item}"));
                }
            }
            None => paths.push(statement),
        }
    }
    paths
}

/// `a::B,c::{D,E}` split at the commas outside braces.
fn split_top_level(text: &str) -> Vec<String> {
    let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    items.into_iter().filter(|i| !i.is_empty()).collect()
}

/// The file a `crate::a::b::C` path lives in: the deepest `src/a/b.rs` or `src/a/b/mod.rs`
/// that exists.
fn resolve(src: &Path, path: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = path
        .split("::")
        .map(|s| s.split('{').next().unwrap_or(s))
        .collect();
    for len in (1..=segments.len()).rev() {
        let base = segments[..len]
            .iter()
            .fold(src.to_path_buf(), |p, s| p.join(s));
        for candidate in [base.with_extension("rs"), base.join("mod.rs")] {
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        let edges = imports(&text)
            .iter()
            .filter_map(|path| resolve(&src, path))
            .filter(|target| target != file)
            .collect();
        graph.insert(file.clone(), edges);
    }
    // A depth-first search that reports the first cycle it meets, as a path of files.
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(node.clone());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(node, &graph, &mut state, &mut stack) {
            let names: Vec<String> = cycle
                .iter()
                .map(|p| p.strip_prefix(&src).unwrap_or(p).display().to_string())
                .collect();
            panic!("import cycle: {}", names.join(" → "));
        }
    }
    assert!(
        graph.len() > 40,
        "the scan found the sources ({} files)",
        graph.len()
    );
}

#[test]
fn the_scan_sees_grouped_and_multi_line_imports() {
    let text = "use crate::a::{B, c::D};\npub(crate) use crate::e::{\n    F,\n    g::H,\n};\n    use crate::inside::Test;\n";
    assert_eq!(imports(text), vec!["a::B", "a::c::D", "e::F", "e::g::H"]);
}

/// No file of `src/` (its tests included) is longer than ~800 lines: a file has one job.
#[test]
fn no_source_file_is_over_800_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    sources_of_bin(&src.join("bin"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).expect("read").lines().count();
            (lines > 820).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these: {long:?}");
}

fn sources_of_bin(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("bin") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources_of_bin(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
