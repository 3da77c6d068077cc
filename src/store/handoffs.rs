//! Shift logs and handoffs in the shared ops store, through the same session, deadline and
//! error explanations as locks and the audit history. Every write is idempotent (a call
//! retried after a lost answer changes nothing), and the acknowledgement is one
//! conditional UPDATE, so of two consoles acknowledging at once exactly one is recorded.

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;
use tokio_postgres::types::Type;

use super::PgStore;
use crate::config::{OpsStoreConfig, mask_url};
use crate::handoff::report::{Acknowledgement, Handoff};
use crate::handoff::shift_log::ShiftEntry;
use crate::handoff::store::{HandoffStore, StoreResult, check_ack};

fn time(what: &str, text: &str) -> StoreResult<SystemTime> {
    humantime::parse_rfc3339(text)
        .map_err(|e| format!("{what} `{text}` is not an RFC 3339 UTC time: {e}"))
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| {
        format!("ops store: a {what} is not one this mastop can read ({e}) — is a newer mastop writing here?")
    })
}

const HANDOFF_COLUMNS: &str = "report::text AS report, acknowledged_by, acknowledged_host, \
    acknowledged_console, to_char(acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS acknowledged_at";

fn handoff_from(row: &tokio_postgres::Row) -> StoreResult<Handoff> {
    let column = |name: &str| -> StoreResult<Option<String>> {
        row.try_get::<_, Option<String>>(name)
            .map_err(|e| format!("ops store: reading handoff column {name}: {e}"))
    };
    let report = column("report")?.unwrap_or_default();
    let mut handoff: Handoff = decode("handoff report", &report)?;
    handoff.acknowledged = match (
        column("acknowledged_by")?,
        column("acknowledged_host")?,
        column("acknowledged_console")?,
        column("acknowledged_at")?,
    ) {
        (Some(by), host, console, Some(at)) => Some(Acknowledgement {
            by,
            console_host: host.unwrap_or_default(),
            console_id: console.unwrap_or_default(),
            at,
        }),
        _ => None,
    };
    Ok(handoff)
}

impl PgStore {
    async fn read_handoff(&self, id: &str) -> StoreResult<Option<Handoff>> {
        let sql = format!("SELECT {HANDOFF_COLUMNS} FROM mastop_handoffs WHERE id = $1");
        let sql = &sql;
        let row = self
            .with_session("read a handoff", move |c| async move {
                c.query_typed_opt(sql, &[(&id, Type::TEXT)]).await
            })
            .await?;
        row.as_ref().map(handoff_from).transpose()
    }
}

impl HandoffStore for PgStore {
    fn describe(&self) -> String {
        crate::actions::OpsStore::describe(self)
    }

    fn add_entry<'a>(&'a self, entry: &'a ShiftEntry) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let at = time("entry time", &entry.time)?;
            let json = serde_json::to_string(entry)
                .map_err(|e| format!("cannot encode shift entry {}: {e}", entry.id))?;
            let (json, kind) = (&json, entry.kind.as_str());
            self.with_session("write the shift log", move |c| async move {
                c.query_typed(
                    "INSERT INTO mastop_shift_log (id, time, kind, author, console_host, entry) \
                     VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO NOTHING",
                    &[
                        (&entry.id, Type::TEXT),
                        (&at, Type::TIMESTAMPTZ),
                        (&kind, Type::TEXT),
                        (&entry.author, Type::TEXT),
                        (&entry.console_host, Type::TEXT),
                        (json, Type::TEXT),
                    ],
                )
                .await
                .map(drop)
            })
            .await
        })
    }

    fn entries_since(&self, since: SystemTime) -> BoxFuture<'_, StoreResult<Vec<ShiftEntry>>> {
        Box::pin(async move {
            let rows = self
                .with_session("read the shift log", move |c| async move {
                    c.query_typed(
                        "SELECT entry::text AS entry FROM mastop_shift_log WHERE time >= $1 ORDER BY time, id",
                        &[(&since, Type::TIMESTAMPTZ)],
                    )
                    .await
                })
                .await?;
            rows.iter()
                .map(|row| {
                    let text: String = row
                        .try_get("entry")
                        .map_err(|e| format!("ops store: reading the shift log: {e}"))?;
                    decode("shift log entry", &text)
                })
                .collect()
        })
    }

    fn publish<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let written = time("handoff written_at", &handoff.written_at)?;
            let mut stored = handoff.clone();
            stored.acknowledged = None;
            let json = serde_json::to_string(&stored)
                .map_err(|e| format!("cannot encode handoff {}: {e}", handoff.id))?;
            let json = &json;
            self.with_session("publish the handoff", move |c| async move {
                c.query_typed(
                    "INSERT INTO mastop_handoffs (id, written_at, from_name, to_name, console_id, report) \
                     VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO NOTHING",
                    &[
                        (&handoff.id, Type::TEXT),
                        (&written, Type::TIMESTAMPTZ),
                        (&handoff.from.name, Type::TEXT),
                        (&handoff.to.name, Type::TEXT),
                        (&handoff.console_id, Type::TEXT),
                        (json, Type::TEXT),
                    ],
                )
                .await
                .map(drop)
            })
            .await
        })
    }

    fn handoff<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Handoff>>> {
        Box::pin(self.read_handoff(id))
    }

    fn latest(&self) -> BoxFuture<'_, StoreResult<Option<Handoff>>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {HANDOFF_COLUMNS} FROM mastop_handoffs ORDER BY written_at DESC, id DESC LIMIT 1"
            );
            let sql = &sql;
            let row = self
                .with_session("read the latest handoff", move |c| async move {
                    c.query_typed_opt(sql, &[]).await
                })
                .await?;
            row.as_ref().map(handoff_from).transpose()
        })
    }

    fn acknowledge<'a>(
        &'a self,
        id: &'a str,
        ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, StoreResult<Handoff>> {
        Box::pin(async move {
            let at = time("acknowledgement time", &ack.at)?;
            let updated = self
                .with_session("acknowledge the handoff", move |c| async move {
                    c.query_typed(
                        "UPDATE mastop_handoffs SET acknowledged_by = $2, acknowledged_host = $3, \
                         acknowledged_console = $4, acknowledged_at = $5 \
                         WHERE id = $1 AND acknowledged_at IS NULL AND console_id <> $4",
                        &[
                            (&id, Type::TEXT),
                            (&ack.by, Type::TEXT),
                            (&ack.console_host, Type::TEXT),
                            (&ack.console_id, Type::TEXT),
                            (&at, Type::TIMESTAMPTZ),
                        ],
                    )
                    .await
                })
                .await?;
            let Some(handoff) = self.read_handoff(id).await? else {
                return Err(format!("no handoff {id} in the ops store"));
            };
            if updated.is_empty() {
                // Nothing changed: written here, already acknowledged, or (a retried call)
                // already acknowledged by this very console.
                check_ack(&handoff, ack)?;
            }
            Ok(handoff)
        })
    }
}

/// Connects to the ops store on first use, like the actions' store does, so a console
/// never waits for it at start and retries an unreachable one on the next call.
pub struct SharedHandoffs {
    config: OpsStoreConfig,
    store: OnceCell<Arc<PgStore>>,
}

impl SharedHandoffs {
    pub fn new(config: OpsStoreConfig) -> Self {
        SharedHandoffs {
            config,
            store: OnceCell::new(),
        }
    }

    async fn get(&self) -> StoreResult<&Arc<PgStore>> {
        self.store
            .get_or_try_init(|| async { PgStore::connect(&self.config).await.map(Arc::new) })
            .await
            .map_err(|e| format!("ops store unreachable: {e}"))
    }
}

impl HandoffStore for SharedHandoffs {
    fn describe(&self) -> String {
        format!("ops store {}", mask_url(&self.config.url))
    }

    fn add_entry<'a>(&'a self, entry: &'a ShiftEntry) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.get().await?.add_entry(entry).await })
    }

    fn entries_since(&self, since: SystemTime) -> BoxFuture<'_, StoreResult<Vec<ShiftEntry>>> {
        Box::pin(async move { self.get().await?.entries_since(since).await })
    }

    fn publish<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.get().await?.publish(handoff).await })
    }

    fn handoff<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Handoff>>> {
        Box::pin(async move { self.get().await?.handoff(id).await })
    }

    fn latest(&self) -> BoxFuture<'_, StoreResult<Option<Handoff>>> {
        Box::pin(async move { self.get().await?.latest().await })
    }

    fn acknowledge<'a>(
        &'a self,
        id: &'a str,
        ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, StoreResult<Handoff>> {
        Box::pin(async move { self.get().await?.acknowledge(id, ack).await })
    }
}
