//! What leaves the collector for one component: who it is, its status, its reading in the
//! stored form, and its recent history. Nothing private crosses: readings are stored in
//! their serialised form, which has no field for raw query text or job payloads, and every
//! error message (the source's, and those a reading carries about its parts) is replaced
//! by [`WITHHELD`] before publishing. What is left is counts, names and numbers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::model::history::Point;
use crate::model::{ComponentState, SourceState, SourceStatus};
use crate::sources::stored::StoredReading;

/// Stands in for every error message a watcher would otherwise see.
pub const WITHHELD: &str = "details withheld by the collector (see its log)";

/// One component as the ops store holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveComponent {
    pub id: String,
    pub kind: String,
    pub region: String,
    pub tags: Vec<String>,
    pub status: LiveStatus,
    pub reading: Option<StoredReading>,
    /// Figure key → its recent points at the moments they were polled, oldest first, the
    /// latest reading's value last.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub history: BTreeMap<String, Vec<Point>>,
    /// Figure key → name → points, for figures broken down by name (each queue's latency).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub breakdown: BTreeMap<String, BTreeMap<String, Vec<Point>>>,
}

/// A source's status without its error text. Moments are milliseconds since the epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LiveStatus {
    pub state: SourceState,
    pub last_ok_ms: Option<u64>,
    pub last_attempt_ms: Option<u64>,
    pub failed: bool,
    pub consecutive_failures: u32,
    pub cadence_ms: u64,
    pub down_since_ms: Option<u64>,
    pub retry_every_ms: Option<u64>,
    pub next_attempt_ms: Option<u64>,
}

impl LiveStatus {
    pub fn of(status: &SourceStatus) -> LiveStatus {
        LiveStatus {
            state: status.state,
            last_ok_ms: status.last_ok.map(ms),
            last_attempt_ms: status.last_attempt.map(ms),
            failed: status.error.is_some(),
            consecutive_failures: status.consecutive_failures,
            cadence_ms: millis(status.cadence),
            down_since_ms: status.down_since.map(ms),
            retry_every_ms: status.retry_every.map(millis),
            next_attempt_ms: status.next_attempt.map(ms),
        }
    }

    pub fn status(&self) -> SourceStatus {
        SourceStatus {
            state: self.state,
            last_ok: self.last_ok_ms.map(at),
            last_attempt: self.last_attempt_ms.map(at),
            error: self.failed.then(|| WITHHELD.to_string()),
            consecutive_failures: self.consecutive_failures,
            cadence: Duration::from_millis(self.cadence_ms),
            down_since: self.down_since_ms.map(at),
            retry_every: self.retry_every_ms.map(Duration::from_millis),
            next_attempt: self.next_attempt_ms.map(at),
        }
    }
}

/// Histories by figure key, and by figure key and name.
pub type Figures = (
    Vec<(&'static str, Vec<Point>)>,
    Vec<(&'static str, String, Vec<Point>)>,
);

/// A component's histories, stored apart from its status and reading: they are most of
/// its size, and a watcher needs them only the first time it sees the component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LivePast {
    #[serde(default)]
    pub history: BTreeMap<String, Vec<Point>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub breakdown: BTreeMap<String, BTreeMap<String, Vec<Point>>>,
}

impl LiveComponent {
    /// The component without its histories, and the histories.
    pub fn split(mut self) -> (LiveComponent, LivePast) {
        let past = LivePast {
            history: std::mem::take(&mut self.history),
            breakdown: std::mem::take(&mut self.breakdown),
        };
        (self, past)
    }

    /// The component with `past` put back.
    pub fn with_past(mut self, past: LivePast) -> LiveComponent {
        self.history = past.history;
        self.breakdown = past.breakdown;
        self
    }

    /// The histories under the figure keys of `kind` this mastop knows (others are left
    /// out), each without its last `drop_last` points: per figure, then per figure and name.
    pub fn figures(&self, kind: &str, drop_last: usize) -> Figures {
        let specs = crate::sources::figure_specs(kind).unwrap_or(&[]);
        let cut = |points: &Vec<Point>| points[..points.len().saturating_sub(drop_last)].to_vec();
        let history = specs
            .iter()
            .filter_map(|spec| Some((spec.key, cut(self.history.get(spec.key)?))))
            .collect();
        let breakdown = specs
            .iter()
            .flat_map(|spec| {
                self.breakdown
                    .get(spec.key)
                    .into_iter()
                    .flatten()
                    .map(move |(name, points)| (spec.key, name.clone(), cut(points)))
            })
            .collect();
        (history, breakdown)
    }

    /// The publishable form of `component`.
    pub fn of(component: &ComponentState) -> LiveComponent {
        let kind = component.meta.kind;
        let reading = component.reading.as_ref().map(|r| {
            let mut stored = StoredReading::of(kind, r.as_ref());
            withhold_errors(&mut stored.body);
            stored
        });
        let history = crate::sources::figure_specs(kind)
            .unwrap_or(&[])
            .iter()
            .filter_map(|spec| {
                let ring = component.history(spec.key)?;
                Some((spec.key.to_string(), ring.points().collect()))
            })
            .collect();
        let breakdown = crate::sources::figure_specs(kind)
            .unwrap_or(&[])
            .iter()
            .filter_map(|spec| {
                let named: BTreeMap<String, Vec<Point>> = component
                    .breakdown(spec.key)
                    .into_iter()
                    .map(|(name, ring)| (name.to_string(), ring.points().collect()))
                    .collect();
                (!named.is_empty()).then(|| (spec.key.to_string(), named))
            })
            .collect();
        LiveComponent {
            id: component.meta.id.to_string(),
            kind: kind.to_string(),
            region: component.meta.region.clone(),
            tags: component.meta.tags.clone(),
            status: LiveStatus::of(&component.status),
            reading,
            history,
            breakdown,
        }
    }
}

/// Whether a field of a serialised reading holds error text from a backend.
fn is_error_field(key: &str) -> bool {
    key == "error" || key.ends_with("_error") || key == "errors" || key == "problems"
}

/// Replaces every error text in a serialised reading, at any depth, keeping its shape
/// (a list keeps its length) so the reading still decodes and counts stay true.
pub fn withhold_errors(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if is_error_field(key) {
                    withhold_all(field);
                } else {
                    withhold_errors(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(withhold_errors),
        _ => {}
    }
}

fn withhold_all(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) => *text = WITHHELD.to_string(),
        Value::Array(items) => items.iter_mut().for_each(withhold_all),
        Value::Object(map) => map.values_mut().for_each(withhold_all),
        _ => {}
    }
}

fn ms(t: SystemTime) -> u64 {
    millis(t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

#[cfg(test)]
mod tests;
