//! Maps byte offsets to lines and key paths, and key paths back to places in the file, so
//! both parse errors and later validation errors can say where they are.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A place in a file: where, and which key lives there.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub key: String,
}

pub fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The key path of the innermost key or value that contains `offset`.
pub fn path_at(text: &str, offset: usize) -> Vec<Seg> {
    let Ok(root) = DeTable::parse(text) else {
        return Vec::new();
    };
    let mut path = Vec::new();
    walk_table(root.get_ref(), offset, &mut path);
    path
}

fn walk_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (key, value) in table {
        if contains(&key.span(), offset) {
            path.push(Seg::Key(key.get_ref().to_string()));
            return true;
        }
        if contains(&value.span(), offset)
            || matches!(value.get_ref(), DeValue::Array(_) | DeValue::Table(_))
        {
            path.push(Seg::Key(key.get_ref().to_string()));
            if walk_value(value, offset, path) {
                return true;
            }
            path.pop();
        }
    }
    false
}

fn walk_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<Seg>) -> bool {
    match value.get_ref() {
        DeValue::Table(t) => walk_table(t, offset, path) || contains(&value.span(), offset),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                if walk_value(item, offset, path) {
                    return true;
                }
                path.pop();
            }
            contains(&value.span(), offset)
        }
        _ => contains(&value.span(), offset),
    }
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

/// Where the value at `path` sits in `text` (the key's position when the value has none).
pub fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let root = DeTable::parse(text).ok()?;
    let mut table: &DeTable<'_> = root.get_ref();
    let mut span: Option<Range<usize>> = None;
    let mut current: Option<&Spanned<DeValue<'_>>> = None;
    for seg in path {
        match seg {
            Seg::Key(k) => {
                let (key, value) = table.iter().find(|(key, _)| key.get_ref() == k.as_str())?;
                span = Some(if value.span().is_empty() {
                    key.span()
                } else {
                    value.span()
                });
                current = Some(value);
            }
            Seg::Index(i) => {
                let DeValue::Array(items) = current?.get_ref() else {
                    return None;
                };
                let item = items.get(*i)?;
                if !item.span().is_empty() {
                    span = Some(item.span());
                }
                current = Some(item);
            }
        }
        if let Some(DeValue::Table(t)) = current.map(|c| c.get_ref()) {
            table = t;
        }
    }
    span.map(|s| line_col(text, s.start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[ui]\ntheme = \"dark\"\n\n[[postgres]]\nname = \"primary\"\nurl = \"x\"\n\n[[postgres]]\nname = \"replica\"\nurl = \"y\"\n";

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 3), (2, 1));
    }

    #[test]
    fn path_at_finds_keys_inside_arrays_of_tables() {
        let offset = DOC.find("\"y\"").unwrap_or_default();
        assert_eq!(render_path(&path_at(DOC, offset)), "postgres[1].url");
        let offset = DOC.find("theme").unwrap_or_default();
        assert_eq!(render_path(&path_at(DOC, offset)), "ui.theme");
    }

    #[test]
    fn locate_points_at_the_value() {
        let path = [
            Seg::Key("postgres".into()),
            Seg::Index(1),
            Seg::Key("name".into()),
        ];
        assert_eq!(locate(DOC, &path), Some((9, 8)));
        assert_eq!(
            locate(DOC, &[Seg::Key("ui".into()), Seg::Key("theme".into())]),
            Some((2, 9))
        );
    }
}
