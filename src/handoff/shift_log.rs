//! What an engineer writes down during a shift: timestamped notes, open items with owners,
//! mitigations still in place (and when to undo them), and alerts silenced by hand. Each is
//! one immutable entry; closing an item is another entry that names it.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Note,
    OpenItem,
    Mitigation,
    /// An alert silenced elsewhere (Alertmanager, the pager); mastop only keeps the list.
    Silence,
    /// Closes the entry named in `closes`: the item is done, the mitigation undone, the
    /// silence lifted.
    Done,
}

impl EntryKind {
    pub fn word(self) -> &'static str {
        match self {
            EntryKind::Note => "note",
            EntryKind::OpenItem => "open item",
            EntryKind::Mitigation => "mitigation",
            EntryKind::Silence => "silenced alert",
            EntryKind::Done => "done",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Note => "note",
            EntryKind::OpenItem => "open_item",
            EntryKind::Mitigation => "mitigation",
            EntryKind::Silence => "silence",
            EntryKind::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShiftEntry {
    pub id: String,
    pub kind: EntryKind,
    /// RFC 3339 UTC, when it was written.
    pub time: String,
    pub author: String,
    pub console_host: String,
    pub text: String,
    #[serde(default)]
    pub owner: Option<String>,
    /// Mitigations: undo by then. Silences: they lapse then. RFC 3339 UTC.
    #[serde(default)]
    pub until: Option<String>,
    /// For `Done`: the id of the entry it closes.
    #[serde(default)]
    pub closes: Option<String>,
}

/// The longest entry text kept: a note is a line or a paragraph, not a log dump.
pub const MAX_TEXT_CHARS: usize = 4000;

impl ShiftEntry {
    pub fn at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.time).ok()
    }

    pub fn until_at(&self) -> Option<SystemTime> {
        self.until
            .as_deref()
            .and_then(|u| humantime::parse_rfc3339(u).ok())
    }
}

/// Checks an entry before it is stored: text present and bounded, times readable, a
/// mitigation with an undo-by time, a `Done` naming what it closes.
pub fn check(entry: &ShiftEntry) -> Result<(), String> {
    if entry.kind != EntryKind::Done && entry.text.trim().is_empty() {
        return Err(format!("the {} is empty", entry.kind.word()));
    }
    if entry.text.chars().count() > MAX_TEXT_CHARS {
        return Err(format!(
            "the {} is longer than {MAX_TEXT_CHARS} characters; keep the detail in a ticket and link it",
            entry.kind.word()
        ));
    }
    if entry.at().is_none() {
        return Err(format!("entry time `{}` is not RFC 3339", entry.time));
    }
    if let Some(until) = &entry.until
        && humantime::parse_rfc3339(until).is_err()
    {
        return Err(format!(
            "`{}` is not an RFC 3339 UTC time such as 2026-11-26T18:00:00Z",
            crate::sanitize::sanitize(until)
        ));
    }
    if entry.kind == EntryKind::Mitigation && entry.until.is_none() {
        return Err(
            "a mitigation needs the time it should be undone by (--undo-by or --undo-in)".into(),
        );
    }
    if entry.kind == EntryKind::Done && entry.closes.as_deref().is_none_or(str::is_empty) {
        return Err("a done entry must name the entry it closes".into());
    }
    Ok(())
}

/// What is still open in a log: items, mitigations and silences no `Done` entry closes,
/// oldest first. Entries may come from several stores; each id counts once.
pub fn still_open(entries: &[ShiftEntry]) -> Vec<&ShiftEntry> {
    let closed: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Done)
        .filter_map(|e| e.closes.as_deref())
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut open: Vec<&ShiftEntry> = entries
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EntryKind::OpenItem | EntryKind::Mitigation | EntryKind::Silence
            )
        })
        .filter(|e| !closed.contains(e.id.as_str()))
        .filter(|e| seen.insert(e.id.as_str()))
        .collect();
    open.sort_by(|a, b| (a.at(), &a.id).cmp(&(b.at(), &b.id)));
    open
}

/// Merges entries from several stores: each id once, oldest first.
pub fn merge(mut entries: Vec<ShiftEntry>) -> Vec<ShiftEntry> {
    entries.sort_by(|a, b| (a.at(), &a.id).cmp(&(b.at(), &b.id)));
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert(e.id.clone()));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, kind: EntryKind, closes: Option<&str>) -> ShiftEntry {
        ShiftEntry {
            id: id.into(),
            kind,
            time: format!("2026-01-15T10:00:0{}Z", id.len() % 10),
            author: "kris".into(),
            console_host: "laptop".into(),
            text: "x".into(),
            owner: None,
            until: (kind == EntryKind::Mitigation).then(|| "2026-01-15T18:00:00Z".into()),
            closes: closes.map(str::to_string),
        }
    }

    #[test]
    fn done_closes_exactly_the_named_entry() {
        let log = vec![
            entry("a", EntryKind::OpenItem, None),
            entry("bb", EntryKind::Mitigation, None),
            entry("ccc", EntryKind::Note, None),
            entry("dddd", EntryKind::Done, Some("a")),
            entry("bb", EntryKind::Mitigation, None),
        ];
        let open: Vec<&str> = still_open(&log).iter().map(|e| e.id.as_str()).collect();
        assert_eq!(open, vec!["bb"]);
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        let mut m = entry("m", EntryKind::Mitigation, None);
        m.until = None;
        assert!(check(&m).unwrap_err().contains("undone by"));
        let mut n = entry("n", EntryKind::Note, None);
        n.text = "  ".into();
        assert!(check(&n).unwrap_err().contains("empty"));
        n.text = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(check(&n).unwrap_err().contains("longer"));
        let mut s = entry("s", EntryKind::Silence, None);
        s.until = Some("tomorrow".into());
        assert!(check(&s).unwrap_err().contains("RFC 3339"));
        assert!(check(&entry("d", EntryKind::Done, None)).is_err());
    }
}
