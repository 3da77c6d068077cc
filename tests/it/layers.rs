//! Layers point one way. `config/`, `model/` and `sources/` never import the front ends or
//! the engine built on them; `config/` and `model/` never import the backends, the write
//! side, handoffs or the inventory; and the files of a backend import one another in one
//! direction only. The check reads every file under `src/` as text, so a new import that
//! points the wrong way fails here with its file and line, whoever adds it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (modules, what they may not import).
const RULES: &[(&[&str], &[&str])] = &[
    (
        &["config", "model", "sources"],
        &["demo", "tui", "commands", "engine", "headless"],
    ),
    (
        &["config", "model"],
        &["sources", "actions", "handoff", "inventory"],
    ),
];

/// Backends whose files (the module file and those in its folder) form no import circle.
const ACYCLIC: &[&str] = &["sources::postgres", "sources::sidekiq"];

/// One path a file names: the module path it resolves to, and the line it is on.
#[derive(Debug, Clone, PartialEq)]
struct Import {
    line: usize,
    target: Vec<String>,
}

/// Comments, strings and character literals blanked out (newlines kept), so only code is
/// read and line numbers stay true.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
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
            && (i == 0 || !ident(chars[i - 1]))
            && matches!(next, Some('"') | Some('#'))
            && {
                let mut j = i + 1;
                while chars.get(j) == Some(&'#') {
                    j += 1;
                }
                chars.get(j) == Some(&'"')
            }
        {
            let mut hashes = 0;
            i += 1;
            out.push(' ');
            while chars[i] == '#' {
                hashes += 1;
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal; `'a` without a closing quote is a lifetime and stays.
            out.push(' ');
            i += 1;
            if chars.get(i) == Some(&'\\') {
                out.push_str("  ");
                i += 2;
            }
            while i < chars.len() && chars[i] != '\'' {
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `src/config/edges.rs` → `config::edges`; `src/net/mod.rs` → `net`; `src/lib.rs` → root.
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Reads one path from `chars[at..]`: segments joined by `::`, with `{a, b::c}` groups
/// expanded. Returns every full path named, and where the path ends.
fn read_path(chars: &[char], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let skip_space = |at: &mut usize| {
        while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    let mut prefix = Vec::new();
    loop {
        skip_space(&mut at);
        if chars.get(at) == Some(&'{') {
            at += 1;
            let mut all = Vec::new();
            loop {
                skip_space(&mut at);
                match chars.get(at) {
                    Some('}') => {
                        at += 1;
                        break;
                    }
                    Some(',') => at += 1,
                    None => break,
                    Some(_) => {
                        let (paths, end) = read_path(chars, at);
                        if end == at {
                            at += 1;
                        }
                        at = end.max(at);
                        for p in paths {
                            let mut full = prefix.clone();
                            full.extend(p);
                            all.push(full);
                        }
                    }
                }
            }
            return (all, at);
        }
        let start = at;
        while chars.get(at).copied().is_some_and(is_ident) {
            at += 1;
        }
        if start == at {
            // `*` or nothing: the path so far is what is named.
            if chars.get(at) == Some(&'*') {
                at += 1;
            }
            return (vec![prefix], at);
        }
        let segment: String = chars[start..at].iter().collect();
        let mut look = at;
        skip_space(&mut look);
        if chars.get(look) == Some(&':') && chars.get(look + 1) == Some(&':') {
            prefix.push(segment);
            at = look + 2;
            continue;
        }
        // `x as y` names x.
        if segment != "self" {
            prefix.push(segment);
        }
        let rest: String = chars[look..chars.len().min(look + 3)].iter().collect();
        if rest == "as " {
            at = look + 3;
            skip_space(&mut at);
            while chars.get(at).copied().is_some_and(is_ident) {
                at += 1;
            }
        }
        return (vec![prefix], at);
    }
}

/// Folds `self`, `super` and `crate` in `path`, read in module `here`, into a path from the
/// crate root.
fn resolve(here: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut segments = path.iter();
    let mut out = match segments.next()?.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => {
            let mut up = here.to_vec();
            up.pop()?;
            up
        }
        _ => return None,
    };
    for s in segments {
        match s.as_str() {
            "super" => {
                out.pop()?;
            }
            "self" => {}
            _ => out.push(s.clone()),
        }
    }
    Some(out)
}

/// Every `crate::`, `self::` and `super::` path in a file, resolved from the crate root,
/// with inline modules (`mod tests { … }`) taken into account.
fn imports(rel: &str, text: &str) -> Vec<Import> {
    let code = code_only(text);
    let chars: Vec<char> = code.chars().collect();
    let file_module = module_of(rel);
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut line = 1;
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts_word = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
        match c {
            '\n' => line += 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            _ => {}
        }
        if starts_word && is_ident(c) {
            let mut end = i;
            while chars.get(end).copied().is_some_and(is_ident) {
                end += 1;
            }
            let word: String = chars[i..end].iter().collect();
            if word == "mod" {
                let mut j = end;
                while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                    j += 1;
                }
                let name_start = j;
                while chars.get(j).copied().is_some_and(is_ident) {
                    j += 1;
                }
                let name: String = chars[name_start..j].iter().collect();
                while chars.get(j).is_some_and(|c| c.is_whitespace()) {
                    j += 1;
                }
                if !name.is_empty() && chars.get(j) == Some(&'{') {
                    inline.push((name, depth));
                }
            }
            let followed_by_path = chars.get(end) == Some(&':') && chars.get(end + 1) == Some(&':');
            if followed_by_path && matches!(word.as_str(), "crate" | "self" | "super") {
                let mut here = file_module.clone();
                here.extend(inline.iter().map(|(n, _)| n.clone()));
                let (paths, path_end) = read_path(&chars, i);
                let lines_in_path = chars[i..path_end].iter().filter(|c| **c == '\n').count();
                for p in paths {
                    if let Some(target) = resolve(&here, &p) {
                        found.push(Import { line, target });
                    }
                }
                // Braces inside a `use` group are not blocks.
                line += lines_in_path;
                i = path_end;
                continue;
            }
            if followed_by_path {
                // A module names its own children without `self::`.
                let mut target = file_module.clone();
                target.push(word);
                found.push(Import { line, target });
            }
            i = end;
            continue;
        }
        i += 1;
    }
    found
}

/// `file:line: config imports sources (crate::sources::Schedule)` for each import against
/// [`RULES`].
fn layer_violations(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in files {
        let module = module_of(rel);
        let Some(top) = module.first() else { continue };
        for import in imports(rel, text) {
            let Some(target) = import.target.first() else {
                continue;
            };
            let wrong = RULES.iter().any(|(lower, forbidden)| {
                lower.contains(&top.as_str()) && forbidden.contains(&target.as_str())
            });
            if wrong {
                out.push(format!(
                    "{rel}:{}: {top} imports {target} (crate::{})",
                    import.line,
                    import.target.join("::")
                ));
            }
        }
    }
    out
}

/// The import circles among the files of `backend` (`sources::postgres`), each as
/// `a.rs:12 → b.rs:4 → a.rs`. The module file itself is one of the files.
fn circles(files: &[(String, String)], backend: &str) -> Vec<String> {
    let base: Vec<String> = backend.split("::").map(str::to_string).collect();
    let root_name = format!("src/{}.rs", base.join("/"));
    let members: BTreeMap<String, String> = files
        .iter()
        .filter_map(|(rel, _)| {
            let m = module_of(rel);
            (m.len() == base.len() + 1 && m.starts_with(&base))
                .then(|| (m[base.len()].clone(), rel.clone()))
        })
        .collect();
    let node = |module: &[String]| -> Option<String> {
        if !module.starts_with(&base) {
            return None;
        }
        Some(match module.get(base.len()) {
            Some(child) if members.contains_key(child) => child.clone(),
            _ => String::new(),
        })
    };
    let file_of = |n: &str| {
        if n.is_empty() {
            root_name.clone()
        } else {
            members[n].clone()
        }
    };
    // from → to → first line
    let mut edges: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (rel, text) in files {
        let Some(from) = node(&module_of(rel)) else {
            continue;
        };
        if from.is_empty() && module_of(rel) != base {
            continue;
        }
        for import in imports(rel, text) {
            if let Some(to) = node(&import.target)
                && to != from
            {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert(import.line);
            }
        }
    }
    let mut found = BTreeSet::new();
    let mut nodes: Vec<String> = members.keys().cloned().collect();
    nodes.push(String::new());
    for start in &nodes {
        // Depth-first from `start`, looking for a way back to it.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for (to, _) in edges.get(&at).into_iter().flatten() {
                if to == start {
                    let mut circle = path.clone();
                    // One report per circle, whichever file it is read from.
                    let least = circle.iter().min().cloned().unwrap_or_default();
                    let turn = circle.iter().position(|n| *n == least).unwrap_or(0);
                    circle.rotate_left(turn);
                    let mut text = Vec::new();
                    for (k, n) in circle.iter().enumerate() {
                        let next = &circle[(k + 1) % circle.len()];
                        text.push(format!("{}:{}", file_of(n), edges[n][next]));
                    }
                    text.push(file_of(&circle[0]));
                    found.insert(text.join(" → "));
                } else if seen.insert(to.clone()) {
                    let mut longer = path.clone();
                    longer.push(to.clone());
                    stack.push((to.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

fn sources_tree() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                    .path()
            })
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, text));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    walk(&root.join("src"), root, &mut out);
    out
}

fn sample(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn lower_layers_import_nothing_above_them() {
    let files = sources_tree();
    assert!(
        files.iter().any(|(p, _)| p == "src/config/mod.rs")
            && files
                .iter()
                .filter(|(p, _)| p.starts_with("src/sources/"))
                .count()
                > 20,
        "the source tree was not read"
    );
    let wrong = layer_violations(&files);
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_files_of_a_backend_import_one_another_one_way() {
    let files = sources_tree();
    for backend in ACYCLIC {
        let prefix = format!("src/{}/", backend.replace("::", "/"));
        assert!(
            files.iter().filter(|(p, _)| p.starts_with(&prefix)).count() >= 5,
            "{backend}: its files were not read"
        );
        let found = circles(&files, backend);
        assert!(
            found.is_empty(),
            "{backend} has import circles:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn a_wrong_import_is_named_by_file_and_line() {
    let files = sample(&[
        (
            "src/config/edges.rs",
            "//! Edges.\n\nuse super::types::Defaults;\nuse crate::sources::Schedule;\n",
        ),
        (
            "src/model/fleet.rs",
            "use crate::{figure::Figure, tui::App};\n",
        ),
        (
            "src/sources/edge/certificate.rs",
            "fn f() -> String {\n    crate::demo::clock::rfc3339(0.0)\n}\n",
        ),
        (
            "src/config/hosts.rs",
            "use super::super::handoff::zone::Zone;\n",
        ),
        (
            "src/sources/postgres.rs",
            "mod tests {\n    use super::super::super::commands::run;\n}\n",
        ),
        (
            "src/model/status.rs",
            "use crate::{\n    config::Config,\n    inventory::Host,\n};\n",
        ),
    ]);
    assert_eq!(
        layer_violations(&files),
        vec![
            "src/config/edges.rs:4: config imports sources (crate::sources::Schedule)",
            "src/model/fleet.rs:1: model imports tui (crate::tui::App)",
            "src/sources/edge/certificate.rs:2: sources imports demo (crate::demo::clock::rfc3339)",
            "src/config/hosts.rs:1: config imports handoff (crate::handoff::zone::Zone)",
            "src/sources/postgres.rs:2: sources imports commands (crate::commands::run)",
            "src/model/status.rs:1: model imports inventory (crate::inventory::Host)",
        ]
    );
}

#[test]
fn comments_strings_and_allowed_imports_are_not_imports() {
    let files = sample(&[
        (
            "src/config/edges.rs",
            "/// See [`crate::demo::clock`].\n// crate::tui::App\n/* crate::sources::x */\n\
             const S: &str = \"crate::demo::x\";\nconst R: &str = r#\"crate::tui::\"#;\n\
             const C: char = '\"';\nuse crate::model::Schedule;\nuse crate::net::route::EdgeTarget;\n",
        ),
        (
            "src/tui/app.rs",
            "use crate::demo::clock;\nuse crate::sources::KINDS;\n",
        ),
        (
            "src/sources/edge.rs",
            "use crate::config::Defaults;\nuse crate::actions::Role;\n",
        ),
    ]);
    assert_eq!(layer_violations(&files), Vec::<String>::new());
}

#[test]
fn files_that_import_each_other_are_a_circle() {
    let files = sample(&[
        (
            "src/sources/sidekiq.rs",
            "mod detail;\nmod reading;\npub use self::reading::SidekiqReading;\n",
        ),
        (
            "src/sources/sidekiq/reading.rs",
            "use super::queues::Q;\n\nfn d() { super::detail::detail() }\n",
        ),
        (
            "src/sources/sidekiq/detail.rs",
            "use super::reading::SidekiqReading;\n",
        ),
        (
            "src/sources/sidekiq/queues.rs",
            "pub const Q: &[&str] = &[];\n",
        ),
    ]);
    assert_eq!(
        circles(&files, "sources::sidekiq"),
        vec![
            "src/sources/sidekiq/detail.rs:1 → src/sources/sidekiq/reading.rs:3 → \
             src/sources/sidekiq/detail.rs"
        ]
    );
    // A file that reaches back to an item of the module file closes a circle too.
    let back = sample(&[
        (
            "src/sources/sidekiq.rs",
            "mod parse;\npub use self::parse::parse_job;\npub const KIND: &str = \"s\";\n",
        ),
        (
            "src/sources/sidekiq/parse.rs",
            "fn k() -> &'static str {\n    super::KIND\n}\n",
        ),
    ]);
    assert_eq!(
        circles(&back, "sources::sidekiq"),
        vec!["src/sources/sidekiq.rs:2 → src/sources/sidekiq/parse.rs:2 → src/sources/sidekiq.rs"]
    );
    // One way is fine, and so are `mod tests { use super::*; }` blocks.
    let dag = sample(&[
        (
            "src/sources/sidekiq.rs",
            "mod fetch;\nmod jobs;\nuse self::fetch::f;\n",
        ),
        (
            "src/sources/sidekiq/fetch.rs",
            "use super::jobs::Job;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
        ("src/sources/sidekiq/jobs.rs", "pub struct Job;\n"),
    ]);
    assert_eq!(circles(&dag, "sources::sidekiq"), Vec::<String>::new());
}

/// Who may read the console itself (`tui::app`): the event loop, the frame's layout and the
/// command that builds the console. Screens and overlays draw from a `Ctx`.
const READ_THE_CONSOLE: &[&str] = &["src/tui/app.rs", "src/tui/run.rs", "src/tui/views/mod.rs"];

fn console_readers(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in files {
        if !rel.starts_with("src/tui/") || READ_THE_CONSOLE.contains(&rel.as_str()) {
            continue;
        }
        for import in imports(rel, text) {
            if import
                .target
                .starts_with(&["tui".to_string(), "app".to_string()])
            {
                out.push(format!(
                    "{rel}:{}: reads the console (crate::{})",
                    import.line,
                    import.target.join("::")
                ));
            }
        }
    }
    out
}

#[test]
fn screens_and_overlays_never_read_the_console() {
    let files = sources_tree();
    assert!(files.iter().any(|(p, _)| p == "src/tui/screens/detail.rs"));
    let wrong = console_readers(&files);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The check itself finds such an import.
    let caught = console_readers(&sample(&[(
        "src/tui/screens/x.rs",
        "use crate::tui::app::App;\nfn f(_: &App) {}\n",
    )]));
    assert_eq!(caught.len(), 1, "{caught:?}");
    assert!(
        caught[0].starts_with("src/tui/screens/x.rs:1:"),
        "{caught:?}"
    );
}
