//! The config text as a tree that keeps every value's place, with the `MASTOP_*` overrides
//! laid over it, read into typed values so that every problem is found in one run: a key
//! that cannot be read is reported and left out, and reading goes on with the rest.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue, ValueDeserializer};

use super::locate::{Seg, line_col, render_path};

/// Reading gives up on one value after this many problems in it.
const MAX_ROUNDS: usize = 256;

/// One problem, with the place of the text it is about.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub path: Vec<Seg>,
    /// Byte range in the file, or an environment variable's marker range.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub hint: Option<String>,
}

/// A TOML syntax error: where, in which key (when the text shows it), and what.
#[derive(Debug, Clone)]
pub(super) struct SyntaxError {
    pub position: (usize, usize),
    pub path: Vec<Seg>,
    pub message: String,
}

/// Byte offsets at which lines start.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Where a finding points: a place in the file or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Place {
    File(Option<(usize, usize)>),
    Env(usize),
}

pub(super) struct Document<'a> {
    text: &'a str,
    /// Byte offsets at which lines start, for placing many findings quickly.
    lines: Vec<usize>,
    pub root: DeTable<'a>,
    /// The `MASTOP_*` variables considered, in order; a value set by variable `k` carries the
    /// marker range `marker(k)`, which lies past the end of the text.
    env: Vec<String>,
}

impl<'a> Document<'a> {
    /// Parses the text; on syntax errors, the first `max` of them (one per line) with their
    /// ranges and, as far as the recovered tree shows it, the key they are in.
    pub fn parse(text: &'a str, max: usize) -> Result<Self, Vec<SyntaxError>> {
        let (root, errors) = DeTable::parse_recoverable(text);
        if errors.is_empty() {
            return Ok(Document {
                text,
                lines: line_starts(text),
                root: root.into_inner(),
                env: Vec::new(),
            });
        }
        let mut spans: Vec<(Range<usize>, String)> = errors
            .iter()
            .map(|e| (e.span().unwrap_or(0..0), e.message().trim().to_string()))
            .collect();
        spans.sort_by_key(|(span, _)| span.start);
        let root = Spanned::new(root.span(), DeValue::Table(root.into_inner()));
        // A broken line often yields several errors; the first says what is wrong.
        let starts = line_starts(text);
        let mut last_line = None;
        let mut out = Vec::new();
        for (span, message) in spans {
            let line = starts.partition_point(|s| *s <= span.start);
            if last_line == Some(line) {
                continue;
            }
            last_line = Some(line);
            if out.len() == max {
                break;
            }
            out.push(SyntaxError {
                position: line_col(text, span.start),
                path: path_to(&root, span.start).unwrap_or_default(),
                message,
            });
        }
        Err(out)
    }

    fn marker(&self, k: usize) -> Range<usize> {
        let start = self.text.len() + 1 + k;
        start..start + 1
    }

    /// Registers variable `name`; its values are marked as coming from it.
    pub fn env_marker(&mut self, name: &str) -> Range<usize> {
        self.env.push(name.to_string());
        self.marker(self.env.len() - 1)
    }

    /// Sets `path` to `raw` (a TOML value when it parses as one, else a string), marked with
    /// `marker`.
    pub fn set(&mut self, path: &[Seg], raw: &'a str, marker: &Range<usize>) -> Result<(), String> {
        let value = match DeValue::parse(raw) {
            Ok(v) => respan(v.into_inner(), marker),
            Err(_) => Spanned::new(marker.clone(), DeValue::String(Cow::Borrowed(raw))),
        };
        set_path(&mut self.root, path, value, marker)
    }

    /// Where a range points.
    pub fn place(&self, span: Option<&Range<usize>>) -> Place {
        match span {
            Some(s) if s.start > self.text.len() => Place::Env(s.start - self.text.len() - 1),
            Some(s) => {
                // As `line_col`, without counting every line before this one.
                let line = self.lines.partition_point(|l| *l <= s.start).max(1);
                let start = self.lines[line - 1];
                let (_, column) = line_col(&self.text[start..], s.start - start);
                Place::File(Some((line, column)))
            }
            None => Place::File(None),
        }
    }

    pub fn env_name(&self, k: usize) -> &str {
        self.env.get(k).map_or("MASTOP_?", String::as_str)
    }

    /// The range of the value at `path` (or of its key, or of the nearest ancestor found).
    pub fn span_of(&self, path: &[Seg]) -> Option<Range<usize>> {
        let mut best: Option<Range<usize>> = None;
        let mut table = Some(&self.root);
        let mut current: Option<&Spanned<DeValue<'a>>> = None;
        for seg in path {
            let next = match seg {
                Seg::Key(k) => {
                    let Some((key, value)) = table.and_then(|t| t.get_key_value(k.as_str())) else {
                        break;
                    };
                    best = Some(if value.span().is_empty() {
                        key.span()
                    } else {
                        value.span()
                    });
                    value
                }
                Seg::Index(i) => {
                    let Some(item) = current.and_then(|c| match c.get_ref() {
                        DeValue::Array(items) => items.get(*i),
                        _ => None,
                    }) else {
                        break;
                    };
                    if !item.span().is_empty() {
                        best = Some(item.span());
                    }
                    item
                }
            };
            current = Some(next);
            table = match next.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        best
    }

    /// Takes the top-level value `key` out of the tree (to be read on its own).
    pub fn take(&mut self, key: &str) -> Option<Spanned<DeValue<'a>>> {
        self.root.remove(key)
    }

    /// Reads the whole tree as a `T`.
    pub fn read_root<T: DeserializeOwned>(&self, findings: &mut Vec<Finding>) -> Option<T> {
        let root = Spanned::new(0..0, DeValue::Table(self.root.clone()));
        read(root, &[], findings)
    }
}

/// Reads `value` as a `T`. A key that cannot be read is reported and left out, and reading
/// goes on without it; a problem with `value` itself (a missing required key, a wrong type)
/// ends reading with `None`. `prefix` is where `value` sits in the document.
pub(super) fn read<T: DeserializeOwned>(
    mut value: Spanned<DeValue<'_>>,
    prefix: &[Seg],
    findings: &mut Vec<Finding>,
) -> Option<T> {
    // Keys left out because they could not be read: a later "missing field" about one of
    // them is a consequence, not a second problem.
    let mut removed: HashSet<(String, String)> = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let error = match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let message = error.message().trim().to_string();
        let span = error.span();
        let at = span
            .as_ref()
            .and_then(|s| path_to(&value, s.start))
            .unwrap_or_default();
        let consequence = missing_field(&message)
            .is_some_and(|field| removed.contains(&(render_path(&at), field.to_string())));
        if !consequence {
            findings.push(Finding {
                path: prefix.iter().cloned().chain(at.iter().cloned()).collect(),
                span: span.clone(),
                message,
                hint: None,
            });
        }
        // A bad array item is left out with its whole key, so no index shifts.
        let mut target = at;
        while matches!(target.last(), Some(Seg::Index(_))) {
            target.pop();
        }
        let Some((Seg::Key(last), parent)) = target.split_last() else {
            return None;
        };
        if !remove(&mut value, parent, last) {
            return None;
        }
        removed.insert((render_path(parent), last.clone()));
    }
    None
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Removes key `last` from the table at `parent` inside `value`.
fn remove(value: &mut Spanned<DeValue<'_>>, parent: &[Seg], last: &str) -> bool {
    let mut current = value.get_mut();
    for seg in parent {
        current = match (current, seg) {
            (DeValue::Table(t), Seg::Key(k)) => match t.get_mut(k.as_str()) {
                Some(v) => v.get_mut(),
                None => return false,
            },
            (DeValue::Array(items), Seg::Index(i)) => match items.get_mut(*i) {
                Some(v) => v.get_mut(),
                None => return false,
            },
            _ => return false,
        };
    }
    match current {
        DeValue::Table(t) => t.remove(last).is_some(),
        _ => false,
    }
}

/// The path inside `value` of the smallest key or value whose range holds `offset`.
fn path_to(value: &Spanned<DeValue<'_>>, offset: usize) -> Option<Vec<Seg>> {
    let mut best: Option<(usize, Vec<Seg>)> = None;
    visit(value, &mut Vec::new(), offset, &mut best);
    best.map(|(_, path)| path)
}

fn consider(span: Range<usize>, path: &[Seg], offset: usize, best: &mut Option<(usize, Vec<Seg>)>) {
    if span.start <= offset && offset < span.end {
        let len = span.end - span.start;
        let better = best
            .as_ref()
            .is_none_or(|(l, p)| len < *l || (len == *l && path.len() > p.len()));
        if better {
            *best = Some((len, path.to_vec()));
        }
    }
}

fn visit(
    value: &Spanned<DeValue<'_>>,
    path: &mut Vec<Seg>,
    offset: usize,
    best: &mut Option<(usize, Vec<Seg>)>,
) {
    consider(value.span(), path, offset, best);
    match value.get_ref() {
        DeValue::Table(table) => {
            for (key, child) in table {
                path.push(Seg::Key(key.get_ref().to_string()));
                consider(key.span(), path, offset, best);
                visit(child, path, offset, best);
                path.pop();
            }
        }
        DeValue::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                visit(child, path, offset, best);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The value with every range (its own, its keys', its items') set to `marker`.
fn respan<'a>(value: DeValue<'a>, marker: &Range<usize>) -> Spanned<DeValue<'a>> {
    let value = match value {
        DeValue::Table(table) => {
            let mut out = DeTable::new();
            for (key, child) in table {
                out.insert(
                    Spanned::new(marker.clone(), key.into_inner()),
                    respan(child.into_inner(), marker),
                );
            }
            DeValue::Table(out)
        }
        DeValue::Array(items) => DeValue::Array(
            items
                .into_iter()
                .map(|item| respan(item.into_inner(), marker))
                .collect::<DeArray<'a>>(),
        ),
        other => other,
    };
    Spanned::new(marker.clone(), value)
}

fn set_path<'a>(
    doc: &mut DeTable<'a>,
    path: &[Seg],
    value: Spanned<DeValue<'a>>,
    marker: &Range<usize>,
) -> Result<(), String> {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return Err("the variable does not name a setting (it must end in a key)".into());
    };
    let mut table = doc;
    let mut segs = parents.iter().peekable();
    while let Some(seg) = segs.next() {
        let Seg::Key(k) = seg else {
            return Err("an index must follow a key".into());
        };
        if table.get(k.as_str()).is_none() {
            table.insert(
                Spanned::new(marker.clone(), Cow::Owned(k.clone())),
                Spanned::new(marker.clone(), DeValue::Table(DeTable::new())),
            );
        }
        let Some(entry) = table.get_mut(k.as_str()) else {
            return Err(format!("`{k}` cannot be set"));
        };
        table = match (entry.get_mut(), segs.peek()) {
            (DeValue::Array(items), Some(Seg::Index(i))) => {
                let len = items.len();
                segs.next();
                match items.get_mut(*i).map(Spanned::get_mut) {
                    Some(DeValue::Table(t)) => t,
                    _ => return Err(format!("`{k}` has {len} entries; there is no entry {i}")),
                }
            }
            (DeValue::Table(t), _) => t,
            _ => return Err(format!("`{k}` is not a table")),
        };
    }
    // Removed first: inserting over an equal key would keep the file's key and its place.
    table.remove(last.as_str());
    table.insert(
        Spanned::new(marker.clone(), Cow::Owned(last.clone())),
        value,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Entry {
        name: String,
        #[serde(default)]
        port: u16,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn every_bad_key_is_reported_and_the_rest_is_read() {
        let text = "name = \"a\"\nport = \"x\"\ncolour = 1\ntags = [\"ok\", 5]\n";
        let doc = Document::parse(text, 10).expect("syntax");
        let mut findings = Vec::new();
        let entry: Option<Entry> = doc.read_root(&mut findings);
        assert_eq!(entry.map(|e| e.name).as_deref(), Some("a"));
        let mut places: Vec<(String, Place)> = findings
            .iter()
            .map(|f| (render_path(&f.path), doc.place(f.span.as_ref())))
            .collect();
        places.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(
            places,
            vec![
                ("port".into(), Place::File(Some((2, 8)))),
                ("colour".into(), Place::File(Some((3, 1)))),
                ("tags[1]".into(), Place::File(Some((4, 15)))),
            ]
        );
    }

    #[test]
    fn a_bad_required_key_is_one_problem_not_two() {
        let doc = Document::parse("name = 5\n", 10).expect("syntax");
        let mut findings = Vec::new();
        let entry: Option<Entry> = doc.read_root(&mut findings);
        assert!(entry.is_none());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(render_path(&findings[0].path), "name");
    }

    #[test]
    fn values_from_the_environment_are_marked_as_such() {
        let text = "name = \"a\"\n";
        let mut doc = Document::parse(text, 10).expect("syntax");
        let marker = doc.env_marker("MASTOP_PORT");
        doc.set(&[Seg::Key("port".into())], "\"high\"", &marker)
            .expect("set");
        let mut findings = Vec::new();
        let _: Option<Entry> = doc.read_root(&mut findings);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(doc.place(findings[0].span.as_ref()), Place::Env(0));
        assert_eq!(doc.env_name(0), "MASTOP_PORT");
    }

    #[test]
    fn all_syntax_errors_one_per_line() {
        let errors = Document::parse("a = \"x\nb = [1,\nc = 2\n", 10)
            .err()
            .expect("broken");
        assert!(errors.len() >= 2, "{errors:?}");
    }
}
