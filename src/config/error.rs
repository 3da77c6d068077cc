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
        write!(f, "{}", self.origin)?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
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
}
