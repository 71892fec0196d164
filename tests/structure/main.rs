//! The workspace's structure, checked: no module inside `shared`, `producer` or `worker` imports
//! one that imports it back, and the queue imports nothing from `provider`.
//!
//! The module graph is read from the sources rather than from rustc because no stable tool
//! reports intra-crate imports (cargo-modules needs rust-analyzer's internals and a network
//! install); a small reader that knows `use` trees, `crate::`/`super::`/`self::` paths and
//! child-module paths is enough for code written the way this workspace writes it. An edge
//! goes from a module to the deepest module a path names: `use crate::queue::Queue` in
//! `queue/lifecycle.rs` is an edge `queue::lifecycle → queue`, so the item must live in a
//! module of its own for `queue`'s re-exports not to form a circle with it. Test modules
//! (`#[cfg(test)]`) are left out: they import their parent by design.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside one crate: `["queue", "lifecycle"]`; the crate root is `[]`.
type ModPath = Vec<String>;

/// One import: the module that imports, the one it names, and where.
#[derive(Debug, Clone)]
struct Edge {
    from: ModPath,
    to: ModPath,
    line: usize,
}

struct Crate {
    name: &'static str,
    src: PathBuf,
    modules: BTreeMap<ModPath, PathBuf>,
}

impl Crate {
    fn load(name: &'static str) -> Crate {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(name)
            .join("src");
        let mut modules = BTreeMap::new();
        collect_modules(&src, &src, &mut modules);
        Crate { name, src, modules }
    }

    fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        for (module, file) in &self.modules {
            let text = std::fs::read_to_string(file).expect("a source file is readable");
            let code = strip_comments_and_strings(&without_test_modules(&text));
            for (path, line) in paths_in(&code) {
                if let Some(to) = self.resolve(module, &path) {
                    if &to != module {
                        edges.push(Edge {
                            from: module.clone(),
                            to,
                            line,
                        });
                    }
                }
            }
        }
        edges
    }

    /// The deepest module of this crate that `path`, written in `module`, names.
    fn resolve(&self, module: &ModPath, path: &[String]) -> Option<ModPath> {
        let (mut base, rest): (ModPath, &[String]) = match path.first().map(String::as_str) {
            Some("crate") => (Vec::new(), &path[1..]),
            Some("self") => (module.clone(), &path[1..]),
            Some("super") => {
                let mut base = module.clone();
                let mut rest = path;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
                (base, rest)
            }
            Some(first) => {
                // A path that starts with a child module's name (2018 paths).
                let mut child = module.clone();
                child.push(first.to_string());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                (module.clone(), path)
            }
            None => return None,
        };
        for segment in rest {
            let mut deeper = base.clone();
            deeper.push(segment.clone());
            if self.modules.contains_key(&deeper) {
                base = deeper;
            } else {
                break;
            }
        }
        Some(base)
    }
}

fn collect_modules(root: &Path, dir: &Path, modules: &mut BTreeMap<ModPath, PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder is readable") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect_modules(root, &path, modules);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(root).expect("below the root");
        let mut parts: ModPath = relative
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if parts.first().map(String::as_str) == Some("bin") {
            continue;
        }
        let last = parts.last().cloned().unwrap_or_default();
        if last == "mod" || ((last == "lib" || last == "main") && parts.len() == 1) {
            parts.pop();
        }
        modules.insert(parts, path);
    }
}

/// The text before the first `#[cfg(test)]` that opens a module (test modules come last).
fn without_test_modules(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Code with comments, string and char literals blanked out; newlines are kept so that
/// positions still give line numbers.
fn strip_comments_and_strings(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !is_ident(chars[i - 1]))
        {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(_) => j += 1,
                }
            }
            for &ch in &chars[i..j.min(chars.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A char literal ('a', '\n', '\u{..}'); a lifetime has no closing quote.
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '\'' {
                j += if chars[j] == '\\' { 2 } else { 1 };
            }
            for _ in i..=j.min(chars.len() - 1) {
                out.push(' ');
            }
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every module path the code names, with its line: the leaves of `use` trees, and
/// `a::b::c` paths in expressions and types.
fn paths_in(code: &str) -> Vec<(Vec<String>, usize)> {
    let tokens = tokenize(code);
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (ref token, line) = tokens[i];
        if token == "use" && (i == 0 || tokens[i - 1].0 != "::") {
            let mut j = i + 1;
            let mut tree = Vec::new();
            while j < tokens.len() && tokens[j].0 != ";" {
                tree.push(tokens[j].0.clone());
                j += 1;
            }
            for path in expand_use_tree(&tree) {
                paths.push((path, line));
            }
            i = j;
            continue;
        }
        let starts_path = is_ident(token.chars().next().unwrap_or(' '))
            && tokens.get(i + 1).is_some_and(|t| t.0 == "::")
            && (i == 0 || tokens[i - 1].0 != "::");
        if starts_path {
            let mut path = vec![token.clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t.0 == "::")
                && tokens
                    .get(j + 1)
                    .is_some_and(|t| is_ident(t.0.chars().next().unwrap_or(' ')))
            {
                path.push(tokens[j + 1].0.clone());
                j += 2;
            }
            paths.push((path, line));
            i = j;
            continue;
        }
        i += 1;
    }
    paths
}

fn tokenize(code: &str) -> Vec<(String, usize)> {
    let mut tokens = Vec::new();
    let mut line = 1;
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            tokens.push((chars[start..i].iter().collect(), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(("::".to_string(), line));
            i += 2;
        } else {
            tokens.push((c.to_string(), line));
            i += 1;
        }
    }
    tokens
}

/// `crate::a::{b, c::{d, self}}` → `crate::a::b`, `crate::a::c::d`, `crate::a::c`.
fn expand_use_tree(tokens: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut pos = 0;
    expand(tokens, &mut pos, Vec::new(), &mut out);
    out
}

fn expand(tokens: &[String], pos: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    while *pos < tokens.len() {
        let token = tokens[*pos].as_str();
        match token {
            "::" => *pos += 1,
            "{" => {
                *pos += 1;
                loop {
                    expand(tokens, pos, path.clone(), out);
                    match tokens.get(*pos).map(String::as_str) {
                        Some(",") => *pos += 1,
                        Some("}") => {
                            *pos += 1;
                            return;
                        }
                        _ => return,
                    }
                    if tokens.get(*pos).map(String::as_str) == Some("}") {
                        *pos += 1;
                        return;
                    }
                }
            }
            "," | "}" => break,
            "as" => *pos += 2,
            "*" => *pos += 1,
            "self" if !path.is_empty() => *pos += 1,
            _ => {
                path.push(token.to_string());
                *pos += 1;
            }
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

fn show(module: &ModPath) -> String {
    if module.is_empty() {
        "(root)".to_string()
    } else {
        module.join("::")
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let mut circles = Vec::new();
    for name in ["shared", "producer", "worker"] {
        let krate = Crate::load(name);
        assert!(
            krate.modules.len() > 5,
            "{} has modules under {}",
            name,
            krate.src.display()
        );
        let edges = krate.edges();
        let mut first_edge: BTreeMap<(ModPath, ModPath), Edge> = BTreeMap::new();
        for edge in edges {
            first_edge
                .entry((edge.from.clone(), edge.to.clone()))
                .or_insert(edge);
        }
        let pairs: BTreeSet<_> = first_edge.keys().cloned().collect();
        for (from, to) in &pairs {
            if from < to && pairs.contains(&(to.clone(), from.clone())) {
                let there = &first_edge[&(from.clone(), to.clone())];
                let back = &first_edge[&(to.clone(), from.clone())];
                circles.push(format!(
                    "{name}: {} (line {}) ⇄ {} (line {})",
                    show(from),
                    there.line,
                    show(to),
                    back.line
                ));
            }
        }
        for cycle in longer_cycles(&pairs) {
            circles.push(format!(
                "{name}: {}",
                cycle.iter().map(show).collect::<Vec<_>>().join(" → ")
            ));
        }
    }
    assert!(
        circles.is_empty(),
        "modules that import each other:\n{}",
        circles.join("\n")
    );
}

/// Cycles of three or more modules (two-module circles are reported with their lines).
fn longer_cycles(pairs: &BTreeSet<(ModPath, ModPath)>) -> Vec<Vec<ModPath>> {
    let mut graph: BTreeMap<&ModPath, Vec<&ModPath>> = BTreeMap::new();
    for (from, to) in pairs {
        if !pairs.contains(&(to.clone(), from.clone())) {
            graph.entry(from).or_default().push(to);
        }
    }
    let mut cycles = Vec::new();
    let mut reported: BTreeSet<BTreeSet<ModPath>> = BTreeSet::new();
    for &start in graph.keys() {
        let mut stack = vec![(start, vec![start.clone()])];
        while let Some((node, trail)) = stack.pop() {
            for &next in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
                if next == start && trail.len() > 2 {
                    let members: BTreeSet<ModPath> = trail.iter().cloned().collect();
                    if reported.insert(members) {
                        let mut cycle = trail.clone();
                        cycle.push(start.clone());
                        cycles.push(cycle);
                    }
                } else if !trail.contains(next) && trail.len() < 8 {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next, longer));
                }
            }
        }
    }
    cycles
}

#[test]
fn the_queue_imports_nothing_from_provider() {
    let krate = Crate::load("shared");
    let provider = vec!["provider".to_string()];
    let offending: Vec<String> = krate
        .edges()
        .into_iter()
        .filter(|e| {
            e.from.first().map(String::as_str) == Some("queue") && e.to.starts_with(&provider)
        })
        .map(|e| {
            format!(
                "{} (line {}) imports {}",
                show(&e.from),
                e.line,
                show(&e.to)
            )
        })
        .collect();
    assert!(
        offending.is_empty(),
        "the queue imports provider code:\n{}",
        offending.join("\n")
    );
}

#[test]
fn the_reader_sees_the_imports_it_must() {
    // The checker itself: a test that cannot fail is a defect, so it must see a known circle.
    let code = "use crate::queue::{lifecycle::{self, Claimed}, Queue as Q};\nfn f() { super::x::y(); backend::Slot::new(); }\n";
    let paths: Vec<Vec<String>> = paths_in(&strip_comments_and_strings(code))
        .into_iter()
        .map(|p| p.0)
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(
        paths.contains(&s(&["crate", "queue", "lifecycle", "Claimed"])),
        "{paths:?}"
    );
    assert!(
        paths.contains(&s(&["crate", "queue", "lifecycle"])),
        "{paths:?}"
    );
    assert!(
        paths.contains(&s(&["crate", "queue", "Queue"])),
        "{paths:?}"
    );
    assert!(paths.contains(&s(&["super", "x", "y"])), "{paths:?}");
    assert!(paths.contains(&s(&["backend", "Slot", "new"])), "{paths:?}");
    let stripped =
        strip_comments_and_strings("let a = \"crate::x\"; // crate::y\nlet b = 'c'; fn g<'a>() {}");
    assert!(!stripped.contains("crate::"), "{stripped}");
    assert!(stripped.contains("fn g<'a>"), "{stripped}");
}
