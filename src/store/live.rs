//! The live room's tables: the collector publishes components and beats, watchers read
//! what changed after the last change they saw. Every publication is announced on
//! [`CHANNEL`] with the component's id only; the payload is never needed to catch up
//! (the sequence number is), so a watcher that missed notifications loses nothing.

use std::time::SystemTime;

use tokio_postgres::types::Type;

use super::PgStore;
use crate::actions::store::StoreResult;
use crate::live::LiveComponent;

/// The notification channel of the live room.
pub const CHANNEL: &str = "mastop_live";

/// Postgres refuses payloads of 8,000 bytes and more; an id longer than this (config
/// names are short, but nothing enforces it) is announced as `*`: fetch whatever changed.
pub const MAX_PAYLOAD: usize = 1000;
const _: () = assert!(MAX_PAYLOAD < 8000);

/// One stored component and the sequence number of its last change.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub seq: i64,
    pub position: i32,
    pub component: LiveComponent,
}

/// The collector's last sign of life.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorBeat {
    pub host: String,
    pub pid: i32,
    pub format: i32,
    pub beat_at: SystemTime,
}

/// What a notification says about one change, within Postgres's payload limit.
pub fn payload(id: &str) -> &str {
    if id.len() <= MAX_PAYLOAD { id } else { "*" }
}

impl PgStore {
    /// Stores each `(position, component)` and announces it. Returns how many were stored.
    pub async fn publish_live(&self, components: &[(i32, LiveComponent)]) -> StoreResult<usize> {
        let encoded: Vec<(i32, &str, &str, String)> = components
            .iter()
            .map(|(position, c)| {
                serde_json::to_string(c)
                    .map(|json| (*position, c.id.as_str(), payload(&c.id), json))
                    .map_err(|e| format!("ops store: cannot encode component {}: {e}", c.id))
            })
            .collect::<Result<_, _>>()?;
        let encoded = &encoded;
        self.with_session("publish the live fleet", move |c| async move {
            for (position, id, payload, json) in encoded {
                c.query_typed(
                    "WITH up AS (\
                       INSERT INTO mastop_live_components (id, position, seq, component, updated_at) \
                       VALUES ($1, $2, nextval('mastop_live_seq'), $3::jsonb, now()) \
                       ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position, seq = EXCLUDED.seq, \
                         component = EXCLUDED.component, updated_at = EXCLUDED.updated_at \
                       RETURNING id) \
                     SELECT pg_notify('mastop_live', $4) FROM up",
                    &[
                        (id, Type::TEXT),
                        (position, Type::INT4),
                        (json, Type::TEXT),
                        (payload, Type::TEXT),
                    ],
                )
                .await?;
            }
            Ok(encoded.len())
        })
        .await
    }

    /// Components changed after `seq` (0: all), in fleet order.
    pub async fn live_since(&self, seq: i64) -> StoreResult<Vec<Published>> {
        let rows = self
            .with_session("read the live fleet", move |c| async move {
                c.query_typed(
                    "SELECT seq, position, component::text AS component FROM mastop_live_components \
                     WHERE seq > $1 ORDER BY position, id",
                    &[(&seq, Type::INT8)],
                )
                .await
            })
            .await?;
        rows.iter()
            .map(|row| {
                let read = |e: tokio_postgres::Error| format!("ops store: reading the live fleet: {e}");
                let text: String = row.try_get("component").map_err(read)?;
                let component = serde_json::from_str(&text).map_err(|e| {
                    format!("ops store: a live component is not one this mastop can read ({e}) — is a newer collector writing here?")
                })?;
                Ok(Published {
                    seq: row.try_get("seq").map_err(read)?,
                    position: row.try_get("position").map_err(read)?,
                    component,
                })
            })
            .collect()
    }

    /// Records that the collector on `host` is alive and publishing.
    pub async fn beat_collector(
        &self,
        host: &str,
        started: SystemTime,
        cadence: std::time::Duration,
    ) -> StoreResult<()> {
        let cadence_ms = i32::try_from(cadence.as_millis()).unwrap_or(i32::MAX);
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let format = i32::try_from(crate::sources::stored::FORMAT).unwrap_or(i32::MAX);
        self.with_session("record the collector's beat", move |c| async move {
            c.query_typed(
                "INSERT INTO mastop_live_collector (singleton, host, pid, format, started_at, beat_at, cadence_ms) \
                 VALUES (true, $1, $2, $3, $4, now(), $5) ON CONFLICT (singleton) DO UPDATE SET \
                 host = EXCLUDED.host, pid = EXCLUDED.pid, format = EXCLUDED.format, \
                 started_at = EXCLUDED.started_at, beat_at = EXCLUDED.beat_at, \
                 cadence_ms = EXCLUDED.cadence_ms",
                &[
                    (&host, Type::TEXT),
                    (&pid, Type::INT4),
                    (&format, Type::INT4),
                    (&started, Type::TIMESTAMPTZ),
                    (&cadence_ms, Type::INT4),
                ],
            )
            .await
            .map(drop)
        })
        .await
    }

    /// The collector's last beat, if one ever ran.
    pub async fn collector_beat(&self) -> StoreResult<Option<CollectorBeat>> {
        let row = self
            .with_session("read the collector's beat", |c| async move {
                c.query_typed_opt(
                    "SELECT host, pid, format, beat_at FROM mastop_live_collector",
                    &[],
                )
                .await
            })
            .await?;
        row.map(|row| {
            let read =
                |e: tokio_postgres::Error| format!("ops store: reading the collector's beat: {e}");
            Ok(CollectorBeat {
                host: row.try_get("host").map_err(read)?,
                pid: row.try_get("pid").map_err(read)?,
                format: row.try_get("format").map_err(read)?,
                beat_at: row.try_get("beat_at").map_err(read)?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_stays_far_under_the_postgres_limit() {
        assert_eq!(payload("postgres/primary"), "postgres/primary");
        let long = "p".repeat(9000);
        assert_eq!(payload(&long), "*");
    }
}
