//! Logs of the units under Mastodon: a unit's journal read over SSH, or a LogQL query on
//! Loki, shown private by default.
//!
//! Log lines carry members' data (e-mail addresses, IPs, access tokens, URLs of private
//! posts, query literals), so a line is kept as it arrived only in memory and every way out
//! of this module ([`LogLine::shown`]) passes through [`redact`] and the terminal
//! sanitiser. Everything here is pure: the readers live in `sources::journal` and
//! `sources::loki`.

pub mod buffer;
pub mod journal;
pub mod loki;
pub mod query;
pub mod redact;
pub mod signatures;

use serde::Serialize;

/// journald's syslog priority: 0 (emerg) to 7 (debug).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Priority(u8);

impl Priority {
    pub const ERR: Priority = Priority(3);
    pub const WARNING: Priority = Priority(4);
    pub const INFO: Priority = Priority(6);

    pub fn new(value: u8) -> Option<Priority> {
        (value <= 7).then_some(Priority(value))
    }

    pub fn value(self) -> u8 {
        self.0
    }

    /// syslog's short name, as `journalctl -p` takes it.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "emerg",
            1 => "alert",
            2 => "crit",
            3 => "err",
            4 => "warning",
            5 => "notice",
            6 => "info",
            _ => "debug",
        }
    }
}

/// One line of a unit's log, as it arrived. `message` is raw: never draw or print it,
/// use [`LogLine::shown`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Microseconds since the Unix epoch (journald's `__REALTIME_TIMESTAMP`).
    pub at_us: i64,
    /// The host mastop read it from (its configured name), not what the line claims.
    pub host: String,
    pub unit: String,
    pub priority: Option<Priority>,
    pub message: String,
}

impl LogLine {
    /// The message as it may be shown: one line, no escape sequences, and redacted unless
    /// `reveal` (an on-call reveal of this one line).
    pub fn shown(&self, reveal: bool) -> String {
        let clean = crate::sanitize::sanitize(&self.message);
        if reveal {
            clean.into_owned()
        } else {
            redact::redact(&clean)
        }
    }

    /// The minute this line belongs to, for per-minute counts.
    pub fn minute(&self) -> i64 {
        self.at_us.div_euclid(60_000_000)
    }
}

/// A log line as `--json` prints it: redacted and sanitised like the screen.
#[derive(Clone, Debug, Serialize)]
pub struct ShownLine {
    pub at: String,
    pub host: String,
    pub unit: String,
    pub priority: Option<u8>,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<String>,
}

/// RFC 3339 time of a journald timestamp, in UTC with microseconds.
pub fn format_time(at_us: i64) -> String {
    jiff::Timestamp::from_microsecond(at_us)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|_| "?".to_string())
}
