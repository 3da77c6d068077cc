//! The slow-cadence extras of the Redis view: the slow log and the latency monitor.
//!
//! Both are read together in one pipelined round trip (`SLOWLOG GET n` + `LATENCY LATEST`),
//! at most once per [`EXTRAS_INTERVAL`](super::EXTRAS_INTERVAL), never on every poll.
//! `SLOWLOG GET n` is O(n) and `LATENCY LATEST` is O(number of event types), so the cost is
//! bounded whatever the server holds.
//!
//! The slow log records each command's arguments, which on a Mastodon Redis can be job
//! payloads holding users' posts. Only the command name and the number of arguments are
//! kept; the arguments themselves are dropped while parsing and never stored.

use redis::Value;
use serde::{Deserialize, Serialize};

/// How many slow-log entries are fetched and shown.
pub const SLOWLOG_ENTRIES: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlowlogEntry {
    pub id: i64,
    /// Unix time the command was logged.
    pub at: i64,
    pub duration_us: i64,
    /// The command name, upper-cased; its arguments are never kept.
    pub command: String,
    pub arg_count: usize,
    pub client: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyEvent {
    pub event: String,
    /// Unix time of the latest spike.
    pub at: i64,
    pub latest_ms: i64,
    pub max_ms: i64,
}

/// The extras as last read, or why they are not available.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisExtras {
    /// `None` when the slow log could not be read (see `note`).
    pub slowlog: Option<Vec<SlowlogEntry>>,
    /// Empty when the latency monitor is off (`latency-monitor-threshold 0`, the default)
    /// or has recorded nothing.
    pub latency: Option<Vec<LatencyEvent>>,
    /// Why a part is missing (ACL refusal, a proxy that does not know the command).
    pub notes: Vec<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

/// Parses a `SLOWLOG GET` answer. Entries of an unexpected shape are skipped.
pub fn parse_slowlog(value: &Value) -> Vec<SlowlogEntry> {
    let Value::Array(entries) = value else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let Value::Array(fields) = entry else {
                return None;
            };
            let args = match fields.get(3) {
                Some(Value::Array(args)) => args,
                _ => return None,
            };
            Some(SlowlogEntry {
                id: int(fields.first()?)?,
                at: int(fields.get(1)?)?,
                duration_us: int(fields.get(2)?)?,
                command: args
                    .first()
                    .and_then(text)
                    .map(|c| c.to_ascii_uppercase())
                    .unwrap_or_default(),
                arg_count: args.len().saturating_sub(1),
                client: fields.get(4).and_then(text).unwrap_or_default(),
            })
        })
        .collect()
}

/// Parses a `LATENCY LATEST` answer: `[event, time, latest_ms, max_ms, …]` per event.
pub fn parse_latency(value: &Value) -> Vec<LatencyEvent> {
    let Value::Array(events) = value else {
        return Vec::new();
    };
    events
        .iter()
        .filter_map(|event| {
            let Value::Array(fields) = event else {
                return None;
            };
            Some(LatencyEvent {
                event: text(fields.first()?)?,
                at: int(fields.get(1)?)?,
                latest_ms: int(fields.get(2)?)?,
                max_ms: int(fields.get(3)?)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn slowlog_keeps_the_command_and_drops_the_arguments() {
        let answer = Value::Array(vec![
            Value::Array(vec![
                Value::Int(7),
                Value::Int(1_700_000_000),
                Value::Int(25_000),
                Value::Array(vec![
                    bulk("lrem"),
                    bulk("queue:pull"),
                    bulk("1"),
                    bulk("{\"args\":[\"a private post\"]}"),
                ]),
                bulk("10.0.0.5:51234"),
                bulk(""),
            ]),
            Value::Array(vec![Value::Int(1)]),
            Value::Int(3),
        ]);
        let entries = parse_slowlog(&answer);
        assert_eq!(entries.len(), 1, "malformed entries are skipped");
        let e = &entries[0];
        assert_eq!(
            (e.id, e.at, e.duration_us, e.arg_count),
            (7, 1_700_000_000, 25_000, 3)
        );
        assert_eq!(e.command, "LREM");
        assert_eq!(e.client, "10.0.0.5:51234");
        assert!(!format!("{e:?}").contains("private"));
        assert!(parse_slowlog(&Value::Nil).is_empty());
    }

    #[test]
    fn latency_events_parse_and_tolerate_extra_fields() {
        let answer = Value::Array(vec![
            Value::Array(vec![
                bulk("command"),
                Value::Int(1_700_000_100),
                Value::Int(120),
                Value::Int(450),
                Value::Int(9),
            ]),
            Value::Array(vec![bulk("fork")]),
        ]);
        assert_eq!(
            parse_latency(&answer),
            vec![LatencyEvent {
                event: "command".into(),
                at: 1_700_000_100,
                latest_ms: 120,
                max_ms: 450
            }]
        );
    }
}
