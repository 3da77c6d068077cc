//! Readings as data: what a collector publishes for a watching console to draw, and how a
//! console reads it back into the same typed reading a direct poll gives.
//!
//! The stored body is the reading's own `snapshot --json` form, which already leaves out
//! everything private (raw query text, job arguments, error messages of jobs): what
//! cannot be serialised cannot leave the collector. It is versioned like the snapshot
//! schema; a console meeting a newer format, or a kind it does not know, shows that the
//! collector is newer instead of guessing at fields.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    alertmanager, edge, elasticsearch, host, pgbouncer, postgres, prometheus, redis, sidekiq,
    streaming, web,
};
use crate::model::{Detail, Figure, Finding, Level, Reading};

/// Version of the stored reading. Bump on any incompatible change to a reading's serialised
/// form (a field renamed or removed, a type or unit changed); adding a field is compatible.
pub const FORMAT: u32 = 1;

/// One reading as the ops store holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredReading {
    pub format: u32,
    pub kind: String,
    pub body: serde_json::Value,
}

impl StoredReading {
    /// The publishable form of `reading`, a reading of `kind`.
    pub fn of(kind: &str, reading: &dyn Reading) -> StoredReading {
        StoredReading {
            format: FORMAT,
            kind: kind.to_string(),
            body: reading.to_json(),
        }
    }

    /// The typed reading back. A format or kind this console does not know becomes a
    /// [`Newer`] reading; a body that does not decode becomes an [`Unreadable`] one, so the
    /// view says what is wrong rather than drawing half a reading.
    pub fn decode(&self) -> Arc<dyn Reading> {
        if self.format > FORMAT {
            return Arc::new(Newer {
                format: self.format,
                kind: self.kind.clone(),
            });
        }
        let body = self.body.clone();
        let decoded: Result<Arc<dyn Reading>, serde_json::Error> = match self.kind.as_str() {
            postgres::KIND => typed::<postgres::PostgresReading>(body),
            pgbouncer::KIND => typed::<pgbouncer::PgBouncerReading>(body),
            redis::KIND => typed::<redis::RedisReading>(body),
            sidekiq::KIND => typed::<sidekiq::SidekiqReading>(body),
            edge::KIND => typed::<edge::EdgeReading>(body),
            web::KIND => typed::<web::WebReading>(body),
            host::KIND => typed::<host::HostReading>(body),
            elasticsearch::KIND => typed::<elasticsearch::ElasticsearchReading>(body),
            streaming::KIND => typed::<streaming::StreamingReading>(body),
            prometheus::KIND => typed::<prometheus::PrometheusReading>(body),
            alertmanager::KIND => typed::<alertmanager::AlertmanagerReading>(body),
            _ => {
                return Arc::new(Newer {
                    format: self.format,
                    kind: self.kind.clone(),
                });
            }
        };
        decoded.unwrap_or_else(|e| {
            Arc::new(Unreadable {
                kind: self.kind.clone(),
                why: crate::sanitize::sanitize(&e.to_string()).into_owned(),
            })
        })
    }
}

fn typed<R>(body: serde_json::Value) -> Result<Arc<dyn Reading>, serde_json::Error>
where
    R: Reading + serde::de::DeserializeOwned,
{
    serde_json::from_value::<R>(body).map(|r| Arc::new(r) as Arc<dyn Reading>)
}

/// A reading written by a newer collector than this console.
#[derive(Clone, Debug, PartialEq)]
pub struct Newer {
    pub format: u32,
    pub kind: String,
}

impl Newer {
    pub fn message(&self) -> String {
        format!(
            "collector is newer: it publishes {} readings in format {}, this console reads up to {FORMAT} — upgrade mastop here",
            self.kind, self.format
        )
    }
}

impl Reading for Newer {
    fn figures(&self) -> Vec<Figure> {
        Vec::new()
    }
    fn findings(&self) -> Vec<Finding> {
        vec![Finding {
            level: Level::Unknown,
            message: self.message(),
        }]
    }
    fn summary(&self) -> String {
        "collector is newer".to_string()
    }
    fn detail(&self) -> Detail {
        Detail::default().pairs("Reading", vec![("collector is newer", self.message())])
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"collector_is_newer": {"format": self.format, "kind": self.kind}})
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A reading of a known format that does not decode (a damaged row).
#[derive(Clone, Debug, PartialEq)]
pub struct Unreadable {
    pub kind: String,
    pub why: String,
}

impl Reading for Unreadable {
    fn figures(&self) -> Vec<Figure> {
        Vec::new()
    }
    fn findings(&self) -> Vec<Finding> {
        vec![Finding {
            level: Level::Unknown,
            message: format!(
                "the stored {} reading is unreadable: {}",
                self.kind, self.why
            ),
        }]
    }
    fn summary(&self) -> String {
        "stored reading unreadable".to_string()
    }
    fn detail(&self) -> Detail {
        Detail::default().pairs("Reading", vec![("unreadable", self.why.clone())])
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"unreadable": {"kind": self.kind}})
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
