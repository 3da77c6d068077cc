//! Errors for people: which file, where, which key, what is wrong, and how to fix it.

use std::fmt;

/// A problem in one of mastop's own files (config, keymap, theme, runbook).
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    /// The file, or a description such as `environment variable MASTOP_UI__THEME`.
    pub origin: String,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(usize, usize)>,
    /// Dotted key path, e.g. `postgres[1].url`.
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl FileError {
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            position: None,
            key: None,
            message: message.into(),
            hint: None,
        }
    }
    pub fn at(mut self, position: Option<(usize, usize)>) -> Self {
        self.position = position;
        self
    }
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Every part may quote the file or the environment, so none reaches the terminal
        // raw: escape sequences are dropped and each part is capped.
        write!(f, "{}", shown(&self.origin, ORIGIN_MAX))?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{}`: ", shown(key, QUOTE_MAX))?;
        }
        write!(f, "{}", shown(&self.message, MESSAGE_MAX))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {}", shown(hint, MESSAGE_MAX))?;
        }
        Ok(())
    }
}

/// Longest quote of user input in a message, in characters.
pub const QUOTE_MAX: usize = 80;
const ORIGIN_MAX: usize = 300;
const MESSAGE_MAX: usize = 1000;

/// User input fit to quote in an error: escape sequences and control characters removed,
/// cut to [`QUOTE_MAX`] characters. A 5 MB theme name gives an error of one line.
pub fn quote(text: &str) -> String {
    crate::sanitize::sanitize_truncated(text, QUOTE_MAX)
}

/// Each line sanitised and the whole capped: messages may span lines on purpose.
fn shown(text: &str, max: usize) -> String {
    let lines: Vec<String> = text
        .split('\n')
        .map(|line| crate::sanitize::sanitize(line).into_owned())
        .collect();
    let joined = lines.join("\n");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

impl std::error::Error for FileError {}

/// Every problem found in a config, so one `config check` run shows them all.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub errors: Vec<FileError>,
}

impl From<FileError> for ConfigError {
    fn from(e: FileError) -> Self {
        Self { errors: vec![e] }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The closest candidate to `word` by edit distance, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // A word this long is no typo of a key, and comparing it would take a while.
    if word.len() > 64 {
        return None;
    }
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(closest("cadense", ["cadence", "deadline"]), Some("cadence"));
        assert_eq!(closest("colour", ["color", "theme"]), Some("color"));
        assert_eq!(closest("zzzz", ["cadence", "deadline"]), None);
    }

    #[test]
    fn display_names_file_place_key_and_hint() {
        let e = FileError::new("/etc/mastop.toml", "unknown key")
            .at(Some((3, 5)))
            .key("ui.colour")
            .hint("did you mean `theme`?");
        assert_eq!(
            e.to_string(),
            "/etc/mastop.toml:3:5: `ui.colour`: unknown key\n  hint: did you mean `theme`?"
        );
    }

    #[test]
    fn display_never_passes_escape_sequences_or_megabytes() {
        let evil = "x\u{1b}]0;pwned\u{7}y";
        let e = FileError::new(
            format!("environment variable {evil}"),
            format!("no theme `{evil}`"),
        )
        .key(evil)
        .hint(evil.repeat(1_000_000));
        let shown = e.to_string();
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
            "{shown:?}"
        );
        assert!(shown.len() < 3 * 1024, "{} bytes", shown.len());
        assert_eq!(quote(&"a".repeat(5_000_000)).chars().count(), QUOTE_MAX);
    }
}
