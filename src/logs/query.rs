//! What to read: which units, how far back, and the one `journalctl` command line that
//! reads it. The command is argv with fixed flags; the only values in it are unit names
//! checked against systemd's own alphabet, a number, and (for containers and tests) a
//! journal directory checked as a plain absolute path.

use std::time::Duration;

/// A unit name or a glob of them as `journalctl -u` takes it (`mastodon-web.service`,
/// `mastodon-sidekiq*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitPattern(String);

impl UnitPattern {
    pub fn parse(text: &str) -> Result<UnitPattern, String> {
        let shown = crate::sanitize::sanitize_truncated(text, 80);
        if text.is_empty() || text.len() > 256 {
            return Err(format!(
                "`{shown}` is not a unit name: it must be 1 to 256 characters"
            ));
        }
        if text.starts_with(['-', '.']) {
            return Err(format!(
                "`{shown}` is not a unit name: it may not start with `-` or `.`"
            ));
        }
        // systemd's unit-name alphabet (`\` for its `\x2d` escapes), plus journalctl's globs.
        if let Some(bad) = text
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || ":-_.@\\*?".contains(c)))
        {
            return Err(format!(
                "`{shown}` is not a unit name: `{}` is not allowed (letters, digits and `:-_.@\\` only, `*`/`?` as globs)",
                bad.escape_debug()
            ));
        }
        if !text.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("`{shown}` is not a unit name: it names nothing"));
        }
        Ok(UnitPattern(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_glob(&self) -> bool {
        self.0.contains(['*', '?'])
    }
}

impl std::fmt::Display for UnitPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How far back a log view starts, like k9s's presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last lines, however old.
    Tail,
    /// Everything since this long ago (bounded by the line cap).
    Last(Duration),
}

impl Window {
    pub const PRESETS: [Window; 5] = [
        Window::Tail,
        Window::Last(Duration::from_secs(60)),
        Window::Last(Duration::from_secs(5 * 60)),
        Window::Last(Duration::from_secs(15 * 60)),
        Window::Last(Duration::from_secs(60 * 60)),
    ];

    /// `tail`, or a duration like `5m`, `15m`, `1h`, `90s` (at most a week).
    pub fn parse(text: &str) -> Result<Window, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("tail") {
            return Ok(Window::Tail);
        }
        let d = humantime::parse_duration(text).map_err(|_| {
            format!(
                "`{}` is not a log window: give `tail` or a duration like 1m, 5m, 15m, 1h",
                crate::sanitize::sanitize_truncated(text, 40)
            )
        })?;
        if d < Duration::from_secs(1) || d > Duration::from_secs(7 * 24 * 3600) {
            return Err("a log window must be between 1s and 7 days".into());
        }
        Ok(Window::Last(d))
    }

    pub fn label(self) -> String {
        match self {
            Window::Tail => "tail".into(),
            Window::Last(d) => {
                let s = d.as_secs();
                if s % 3600 == 0 {
                    format!("{}h", s / 3600)
                } else if s % 60 == 0 {
                    format!("{}m", s / 60)
                } else {
                    format!("{s}s")
                }
            }
        }
    }

    /// The next preset, for the key that cycles them.
    pub fn next(self) -> Window {
        let at = Window::PRESETS.iter().position(|w| *w == self);
        match at {
            Some(i) => Window::PRESETS[(i + 1) % Window::PRESETS.len()],
            None => Window::Tail,
        }
    }
}

/// A directory of journal files read instead of the system journal (`journalctl -D`):
/// a container's bind-mounted journal, or a test's. A plain absolute path only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalDirectory(String);

impl JournalDirectory {
    pub fn parse(text: &str) -> Result<JournalDirectory, String> {
        let shown = crate::sanitize::sanitize_truncated(text, 80);
        let plain = text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c));
        if !text.starts_with('/')
            || !plain
            || text.split('/').any(|part| part == "..")
            || text.len() > 512
        {
            return Err(format!(
                "journal directory `{shown}` must be an absolute path of letters, digits and `/-_.` without `..`"
            ));
        }
        Ok(JournalDirectory(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One read of one host's journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalQuery {
    pub units: Vec<UnitPattern>,
    pub window: Window,
    /// Most lines one answer may hold (the view's cap).
    pub max_lines: usize,
    pub follow: bool,
    pub directory: Option<JournalDirectory>,
}

/// Fields asked for: the rest of an entry (environment, cmdline, cursor) is never sent.
pub const FIELDS: &str = "MESSAGE,PRIORITY,_SYSTEMD_UNIT,_HOSTNAME,SYSLOG_IDENTIFIER";

impl JournalQuery {
    /// The command, as argv: fixed flags, then validated values.
    pub fn argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            "journalctl",
            "--no-pager",
            "--quiet",
            "--output=json",
            "--all",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push(format!("--output-fields={FIELDS}"));
        if let Some(dir) = &self.directory {
            argv.push(format!("--directory={}", dir.as_str()));
        }
        for unit in &self.units {
            argv.push(format!("--unit={}", unit.as_str()));
        }
        if let Window::Last(d) = self.window {
            argv.push(format!("--since=-{}s", d.as_secs().max(1)));
        }
        argv.push(format!("--lines={}", self.max_lines.clamp(1, 1_000_000)));
        if self.follow {
            argv.push("--follow".into());
        }
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_follow_systemd_and_allow_globs() {
        for ok in [
            "mastodon-web.service",
            "mastodon-sidekiq*",
            "mastodon-sidekiq@default.service",
            "dev-disk-by\\x2duuid.device",
            "nginx",
        ] {
            assert!(UnitPattern::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-f",
            "--directory=/",
            "a b",
            "a;rm -rf /",
            "$(id)",
            "a/b",
            "web'",
            "**",
            "x\u{1b}[2J",
            &"a".repeat(257),
        ] {
            let err = UnitPattern::parse(bad).unwrap_err();
            assert!(!err.contains('\u{1b}'), "{err}");
        }
    }

    #[test]
    fn windows_parse_label_and_cycle() {
        assert_eq!(Window::parse("tail").unwrap(), Window::Tail);
        assert_eq!(Window::parse("15m").unwrap().label(), "15m");
        assert_eq!(Window::parse("1h").unwrap().label(), "1h");
        assert_eq!(Window::parse("90s").unwrap().label(), "90s");
        assert!(Window::parse("0s").is_err());
        assert!(Window::parse("30d").is_err());
        assert!(Window::parse("soon").is_err());
        let mut w = Window::Tail;
        let mut seen = Vec::new();
        for _ in 0..5 {
            w = w.next();
            seen.push(w.label());
        }
        assert_eq!(seen, ["1m", "5m", "15m", "1h", "tail"]);
    }

    #[test]
    fn argv_has_fixed_flags_then_checked_values() {
        let q = JournalQuery {
            units: vec![
                UnitPattern::parse("mastodon-web.service").unwrap(),
                UnitPattern::parse("mastodon-sidekiq*").unwrap(),
            ],
            window: Window::parse("15m").unwrap(),
            max_lines: 500,
            follow: true,
            directory: Some(JournalDirectory::parse("/var/log/journal/remote").unwrap()),
        };
        assert_eq!(
            q.argv(),
            [
                "journalctl",
                "--no-pager",
                "--quiet",
                "--output=json",
                "--all",
                "--output-fields=MESSAGE,PRIORITY,_SYSTEMD_UNIT,_HOSTNAME,SYSLOG_IDENTIFIER",
                "--directory=/var/log/journal/remote",
                "--unit=mastodon-web.service",
                "--unit=mastodon-sidekiq*",
                "--since=-900s",
                "--lines=500",
                "--follow",
            ]
        );
        for bad in ["relative/dir", "/a/../etc", "/a b", "/a;b", "/x\u{1b}"] {
            assert!(JournalDirectory::parse(bad).is_err(), "{bad}");
        }
    }
}
