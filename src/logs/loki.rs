//! Loki's `query_range` answer, and the LogQL selector a unit on a host becomes.
//!
//! The answer is `{"status":"success","data":{"resultType":"streams","result":[{"stream":
//! {labels},"values":[["<ns>","<line>"],…]}]}}`; a `tail` websocket's message is
//! `{"streams":[…the same streams…],"dropped_entries":[{"labels":{…},"timestamp":"<ns>"}]}`.
//! Labels and lines are the instance's own text: they are sanitised and redacted like any
//! journal line when shown.

use serde::Deserialize;

use super::query::UnitPattern;
use super::{LogLine, Priority};

/// How a unit on a host becomes a LogQL stream selector: `$unit` and `$host` are replaced
/// by the values (quoted for LogQL), and the labels mastop reads the host and unit from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorMapping {
    pub selector: String,
    pub host_label: String,
    pub unit_label: String,
}

impl Default for SelectorMapping {
    fn default() -> Self {
        SelectorMapping {
            // promtail's journal scrape config relabels `__journal__systemd_unit` to `unit`.
            selector: r#"{unit=~"$unit", host=~"$host"}"#.into(),
            host_label: "host".into(),
            unit_label: "unit".into(),
        }
    }
}

impl SelectorMapping {
    /// The selector for `units` on `hosts`, as regular-expression alternatives. A unit glob
    /// becomes a regular expression (`*` → `.*`); every other character is escaped.
    pub fn selector(&self, hosts: &[String], units: &[UnitPattern]) -> String {
        let host_re = alternatives(hosts.iter().map(|h| re2_escape(h)));
        let unit_re = alternatives(units.iter().map(|u| unit_regex(u.as_str())));
        self.selector
            .replace("$unit", &logql_string_body(&unit_re))
            .replace("$host", &logql_string_body(&host_re))
    }
}

fn alternatives(parts: impl Iterator<Item = String>) -> String {
    let parts: Vec<String> = parts.collect();
    if parts.is_empty() {
        ".+".into()
    } else {
        parts.join("|")
    }
}

/// A unit glob as a regular expression; a bare name also matches its `.service`.
fn unit_regex(unit: &str) -> String {
    let mut re = String::new();
    for c in unit.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&re2_escape(&c.to_string())),
        }
    }
    if !unit.contains('.') && !unit.ends_with('*') {
        re.push_str(r"(\.service)?");
    }
    re
}

/// `text` as a literal in Loki's (RE2) regular expressions.
fn re2_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Text inside a LogQL double-quoted string.
fn logql_string_body(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<Stream>,
}

#[derive(Deserialize)]
struct Stream {
    #[serde(default)]
    stream: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// Log lines read from Loki.
#[derive(Debug, Default)]
pub struct Entries {
    /// Oldest first.
    pub lines: Vec<LogLine>,
    /// Entries that were not `["<ns>","<line>"]`.
    pub unreadable: usize,
    /// The newest entry's time in nanoseconds, as Loki gave it: where a follow goes on.
    pub newest_ns: Option<i128>,
}

/// The lines of a `query_range` answer. `fallback_host` names lines whose stream has no
/// host label.
pub fn parse_query_range(
    body: &[u8],
    mapping: &SelectorMapping,
    fallback_host: &str,
) -> Result<Entries, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not Loki's query_range JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if answer.status != "success" {
        let said = answer.error.unwrap_or_default();
        return Err(format!(
            "Loki answered status `{}`: {}",
            crate::sanitize::sanitize_truncated(&answer.status, 40),
            crate::sanitize::sanitize_truncated(&said, 200)
        ));
    }
    let data = answer
        .data
        .ok_or_else(|| "Loki's answer has no `data`".to_string())?;
    if data.result_type != "streams" {
        return Err(format!(
            "Loki answered `{}`, not log streams: is the query a metric query?",
            crate::sanitize::sanitize_truncated(&data.result_type, 40)
        ));
    }
    Ok(entries(data.result, mapping, fallback_host))
}

#[derive(Deserialize)]
struct TailMessage {
    streams: Vec<Stream>,
    #[serde(default)]
    dropped_entries: Option<Vec<serde_json::Value>>,
}

/// One message of a `tail` websocket.
#[derive(Debug, Default)]
pub struct TailBatch {
    pub entries: Entries,
    /// Entries Loki itself dropped because mastop read too slowly.
    pub dropped: u64,
}

/// The lines of one `tail` message, and how many entries Loki says it dropped.
pub fn parse_tail(
    body: &[u8],
    mapping: &SelectorMapping,
    fallback_host: &str,
) -> Result<TailBatch, String> {
    let message: TailMessage = serde_json::from_slice(body).map_err(|e| {
        format!(
            "a message is not Loki's tail JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    Ok(TailBatch {
        entries: entries(message.streams, mapping, fallback_host),
        dropped: message.dropped_entries.map_or(0, |d| d.len() as u64),
    })
}

fn entries(streams: Vec<Stream>, mapping: &SelectorMapping, fallback_host: &str) -> Entries {
    let mut lines = Vec::new();
    let mut unreadable = 0;
    let mut newest_ns: Option<i128> = None;
    for stream in streams {
        let host = stream
            .stream
            .get(&mapping.host_label)
            .cloned()
            .unwrap_or_else(|| fallback_host.to_string());
        let unit = stream
            .stream
            .get(&mapping.unit_label)
            .cloned()
            .unwrap_or_default();
        let priority = priority_of(&stream.stream);
        for value in stream.values {
            let (Some(ns), Some(line)) = (
                value.first().and_then(|v| v.as_str()),
                value.get(1).and_then(|v| v.as_str()),
            ) else {
                unreadable += 1;
                continue;
            };
            let Ok(ns) = ns.parse::<i128>() else {
                unreadable += 1;
                continue;
            };
            let Ok(at_us) = i64::try_from(ns / 1000) else {
                unreadable += 1;
                continue;
            };
            newest_ns = Some(newest_ns.map_or(ns, |n| n.max(ns)));
            let mut message = line.to_string();
            if message.len() > super::journal::MAX_MESSAGE_BYTES {
                let mut end = super::journal::MAX_MESSAGE_BYTES;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
                message.push('…');
            }
            lines.push(LogLine {
                at_us,
                host: crate::sanitize::sanitize_truncated(&host, 128),
                unit: crate::sanitize::sanitize_truncated(&unit, 256),
                priority,
                message,
            });
        }
    }
    lines.sort_by(|a, b| (a.at_us, &a.host).cmp(&(b.at_us, &b.host)));
    Entries {
        lines,
        unreadable,
        newest_ns,
    }
}

/// journald's priority if promtail kept it, else a `level` label's word.
fn priority_of(labels: &std::collections::BTreeMap<String, String>) -> Option<Priority> {
    if let Some(p) = labels.get("priority").and_then(|p| p.parse::<u8>().ok()) {
        return Priority::new(p);
    }
    let level = labels
        .get("level")
        .or_else(|| labels.get("detected_level"))?
        .to_ascii_lowercase();
    Priority::new(match level.as_str() {
        "emerg" | "emergency" | "fatal" => 0,
        "alert" => 1,
        "crit" | "critical" => 2,
        "err" | "error" => 3,
        "warn" | "warning" => 4,
        "notice" => 5,
        "info" => 6,
        "debug" | "trace" => 7,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_quotes_values_and_turns_globs_into_regexes() {
        let m = SelectorMapping::default();
        let sel = m.selector(
            &["web-1".into(), "web.2".into()],
            &[
                UnitPattern::parse("mastodon-sidekiq*").unwrap(),
                UnitPattern::parse("nginx").unwrap(),
            ],
        );
        assert_eq!(
            sel,
            r#"{unit=~"mastodon-sidekiq.*|nginx(\\.service)?", host=~"web-1|web\\.2"}"#
        );
    }

    #[test]
    fn streams_become_lines_in_time_order() {
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"host":"web-2","unit":"mastodon-web.service","level":"error"},
             "values":[["1700000000000002000","MISCONF \u001b[2Jx"],["bad","x"],["1"]]},
            {"stream":{"unit":"mastodon-streaming.service","priority":"4"},
             "values":[["1700000000000001000","Tried writing to closed socket"]]}]}}"#;
        let Entries {
            lines,
            unreadable: bad,
            newest_ns,
        } = parse_query_range(body, &SelectorMapping::default(), "loki").unwrap();
        assert_eq!(bad, 2);
        assert_eq!(newest_ns, Some(1_700_000_000_000_002_000));
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].host, "loki");
        assert_eq!(lines[0].priority, Priority::new(4));
        assert_eq!(lines[1].at_us, 1_700_000_000_000_002);
        assert_eq!(lines[1].priority, Priority::new(3));
        assert_eq!(lines[1].shown(false), "MISCONF x");
    }

    #[test]
    fn a_tail_message_gives_lines_and_loki_s_dropped_count() {
        let body = br#"{"streams":[{"stream":{"host":"web-1","unit":"mastodon-web.service"},
            "values":[["1700000000000009000","a"],["1700000000000003000","b"],[1,"c"]]}],
            "dropped_entries":[{"labels":{"host":"web-1"},"timestamp":"1700000000000000001"},
                               {"labels":{},"timestamp":"1700000000000000002"}]}"#;
        let batch = parse_tail(body, &SelectorMapping::default(), "loki").unwrap();
        assert_eq!(batch.dropped, 2);
        assert_eq!(batch.entries.unreadable, 1);
        assert_eq!(batch.entries.newest_ns, Some(1_700_000_000_000_009_000));
        let shown: Vec<String> = batch.entries.lines.iter().map(|l| l.shown(false)).collect();
        assert_eq!(shown, ["b", "a"]);
        let quiet = parse_tail(br#"{"streams":[]}"#, &SelectorMapping::default(), "l").unwrap();
        assert_eq!((quiet.dropped, quiet.entries.newest_ns), (0, None));
        let err = parse_tail(b"\x1b[2Jhello", &SelectorMapping::default(), "l").unwrap_err();
        assert!(
            err.starts_with("a message is not Loki's tail JSON"),
            "{err}"
        );
    }

    #[test]
    fn errors_and_other_answers_are_named() {
        let m = SelectorMapping::default();
        let err = parse_query_range(b"<html>", &m, "l").unwrap_err();
        assert!(err.contains("not Loki"), "{err}");
        let err = parse_query_range(
            br#"{"status":"error","error":"parse error \u001b]0;x\u0007 at line 1"}"#,
            &m,
            "l",
        )
        .unwrap_err();
        assert!(
            err.contains("parse error") && !err.contains('\u{1b}'),
            "{err}"
        );
        let err = parse_query_range(
            br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            &m,
            "l",
        )
        .unwrap_err();
        assert!(err.contains("metric query"), "{err}");
    }
}
