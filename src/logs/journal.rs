//! `journalctl -o json` output: one JSON object per line.
//!
//! journald stores whatever a process wrote, so `MESSAGE` is a string when it is UTF-8, an
//! array of byte values when it is not, an array of either when a field was written more
//! than once, and `null` when journalctl judged it too large to print. None of that may
//! stop the reading: a line that cannot be read is counted, and its error never quotes it
//! (it may carry members' data).

use serde_json::Value;

use super::{LogLine, Priority};

/// A message longer than this is cut: one line must never hold the screen's memory.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalError {
    NotJson,
    NotAnObject,
    NoTimestamp,
}

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JournalError::NotJson => "not a JSON object (is this `journalctl -o json` output?)",
            JournalError::NotAnObject => "JSON but not an object",
            JournalError::NoTimestamp => "no __REALTIME_TIMESTAMP",
        })
    }
}

/// One line of `journalctl -o json`, read from `host`.
pub fn parse_line(host: &str, line: &str) -> Result<LogLine, JournalError> {
    let value: Value = serde_json::from_str(line).map_err(|_| JournalError::NotJson)?;
    let Value::Object(fields) = value else {
        return Err(JournalError::NotAnObject);
    };
    let at_us = fields
        .get("__REALTIME_TIMESTAMP")
        .and_then(text_of)
        .and_then(|t| t.trim().parse::<i64>().ok())
        .ok_or(JournalError::NoTimestamp)?;
    let priority = fields
        .get("PRIORITY")
        .and_then(text_of)
        .and_then(|t| t.trim().parse::<u8>().ok())
        .and_then(Priority::new);
    let unit = fields
        .get("_SYSTEMD_UNIT")
        .or_else(|| fields.get("UNIT"))
        .or_else(|| fields.get("SYSLOG_IDENTIFIER"))
        .and_then(text_of)
        .unwrap_or_default();
    let message = match fields.get("MESSAGE") {
        None => String::new(),
        Some(Value::Null) => "[message too large or binary: not printed by journalctl]".into(),
        Some(v) => message_of(v),
    };
    Ok(LogLine {
        at_us,
        host: host.to_string(),
        unit: cut(unit, 256),
        priority,
        message: cut(message, MAX_MESSAGE_BYTES),
    })
}

/// Every line of a `journalctl -o json` answer, and how many could not be read.
pub fn parse_all(host: &str, text: &str) -> (Vec<LogLine>, usize) {
    let mut lines = Vec::new();
    let mut unreadable = 0;
    for raw in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(host, raw) {
            Ok(line) => lines.push(line),
            Err(_) => unreadable += 1,
        }
    }
    (lines, unreadable)
}

/// A field's text: a string, or the first value of a repeated field.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => items.first().and_then(text_of),
        _ => None,
    }
}

fn message_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(Value::as_u64)
                .filter_map(|b| u8::try_from(b).ok())
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // A field written more than once: every value, in order.
        Value::Array(items) => items.iter().map(message_of).collect::<Vec<_>>().join(" "),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_gives_time_unit_priority_and_message() {
        let line = parse_line(
            "web-1",
            r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"claims-else","_SYSTEMD_UNIT":"mastodon-web.service","PRIORITY":"3","MESSAGE":"MISCONF Redis is configured to save RDB snapshots"}"#,
        )
        .unwrap();
        assert_eq!(line.at_us, 1_700_000_000_123_456);
        assert_eq!(line.host, "web-1");
        assert_eq!(line.unit, "mastodon-web.service");
        assert_eq!(line.priority, Priority::new(3));
        assert!(line.message.starts_with("MISCONF"));
    }

    #[test]
    fn a_byte_array_message_is_decoded_lossily() {
        let line = parse_line(
            "h",
            r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105,255,27,91,50,74]}"#,
        )
        .unwrap();
        assert_eq!(line.message, "hi\u{fffd}\u{1b}[2J");
        assert_eq!(line.shown(false), "hi\u{fffd}");
    }

    #[test]
    fn repeated_and_null_messages_still_make_a_line() {
        let twice = parse_line(
            "h",
            r#"{"__REALTIME_TIMESTAMP":["5","6"],"MESSAGE":["a",[98]],"PRIORITY":["4","3"]}"#,
        )
        .unwrap();
        assert_eq!(twice.at_us, 5);
        assert_eq!(twice.message, "a b");
        assert_eq!(twice.priority, Priority::new(4));
        let null = parse_line("h", r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":null}"#).unwrap();
        assert!(null.message.contains("too large"));
    }

    #[test]
    fn garbage_is_counted_never_quoted() {
        let (lines, bad) = parse_all(
            "h",
            "not json alice@example.com\n[1,2]\n{\"MESSAGE\":\"x\"}\n\n{\"__REALTIME_TIMESTAMP\":\"9\",\"PRIORITY\":\"99\"}\n",
        );
        assert_eq!(bad, 3);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].priority, None);
        for e in [
            JournalError::NotJson,
            JournalError::NotAnObject,
            JournalError::NoTimestamp,
        ] {
            assert!(!e.to_string().contains("alice"));
        }
    }

    #[test]
    fn a_huge_message_is_cut_on_a_character_boundary() {
        let big = "é".repeat(MAX_MESSAGE_BYTES);
        let json = serde_json::json!({"__REALTIME_TIMESTAMP":"1","MESSAGE": big}).to_string();
        let line = parse_line("h", &json).unwrap();
        assert!(line.message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
        assert!(line.message.ends_with('…'));
    }
}
