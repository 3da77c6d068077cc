//! The live room's tables: watchers read what changed after the last change they saw (the
//! leading collector writes them through its seat, `super::leadership`). Every publication is announced on
//! [`CHANNEL`] with the component's id only; the payload is never needed to catch up
//! (the sequence number is), so a watcher that missed notifications loses nothing.

use std::time::SystemTime;

use tokio_postgres::types::Type;

use super::PgStore;
use crate::actions::store::StoreResult;
use crate::live::{LiveComponent, LivePast};

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
    /// Components changed after `seq` (0: all), in fleet order. The past of a component
    /// named in `known` is left out: the watcher holds its own since it first saw it, and
    /// the past is most of a component's size.
    pub async fn live_since(&self, seq: i64, known: &[String]) -> StoreResult<Vec<Published>> {
        let rows = self
            .with_session("read the live fleet", move |c| async move {
                c.query_typed(
                    "SELECT seq, position, component::text AS component, \
                     CASE WHEN id = ANY($2) THEN NULL ELSE past::text END AS past \
                     FROM mastop_live_components WHERE seq > $1 ORDER BY position, id",
                    &[(&seq, Type::INT8), (&known, Type::TEXT_ARRAY)],
                )
                .await
            })
            .await?;
        rows.iter()
            .map(|row| {
                let read = |e: tokio_postgres::Error| format!("ops store: reading the live fleet: {e}");
                let unreadable = |e: serde_json::Error| {
                    format!("ops store: a live component is not one this mastop can read ({e}) — is a newer collector writing here?")
                };
                let text: String = row.try_get("component").map_err(read)?;
                let mut component: LiveComponent = serde_json::from_str(&text).map_err(unreadable)?;
                let past: Option<String> = row.try_get("past").map_err(read)?;
                if let Some(past) = past {
                    component = component.with_past(serde_json::from_str::<LivePast>(&past).map_err(unreadable)?);
                }
                Ok(Published {
                    seq: row.try_get("seq").map_err(read)?,
                    position: row.try_get("position").map_err(read)?,
                    component,
                })
            })
            .collect()
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
