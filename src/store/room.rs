//! Who is in the live room and what is done there: each console's presence row, the
//! collector's age as the store's own clock tells it, and the audit records in order of
//! arrival. Ages are computed by the database (`now() - beat_at`), so consoles with
//! skewed clocks agree on who is present and whether the collector is silent.

use std::time::Duration;

use tokio_postgres::types::Type;

use super::PgStore;
use super::action_queries::get;
use super::failure::Failure;
use crate::actions::AuditRecord;
use crate::actions::store::StoreResult;

/// One console in the room, as it announces itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presence {
    /// Unique per running console.
    pub console_id: String,
    /// The Tailscale login when known, else the OS user.
    pub who: String,
    /// `oncall` or `shadow`. Written as the console claims it; read back as
    /// [`PgStore::present`] derives it from the login.
    pub role: String,
    pub host: String,
    /// The view on screen, in the help's words.
    pub view: String,
}

/// The collector as watchers judge it.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorState {
    /// The leading collector.
    pub host: String,
    pub pid: i32,
    /// The stored-reading format it writes.
    pub format: i32,
    pub cadence: Duration,
    /// Since its last beat, by the store's clock.
    pub age: Duration,
    /// A collector standing by, ready to take over: it beat within the leader timeout.
    pub standby: Option<crate::store::leadership::CollectorId>,
}

/// The most consoles the room lists.
pub const ROOM_SHOWN: usize = 200;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Writes (or refreshes) this console's presence row. Under the watcher's grants a row
    /// belongs to the database role that wrote it; another role's row cannot be touched.
    pub async fn heartbeat(&self, me: &Presence) -> StoreResult<()> {
        self.with_session("record this console's presence", move |c| async move {
            c.query_typed(
                "INSERT INTO mastop_presence (console_id, who, role, host, view, beat_at) \
                 VALUES ($1, $2, $3, $4, $5, now()) ON CONFLICT (console_id) DO UPDATE SET \
                 who = EXCLUDED.who, role = EXCLUDED.role, host = EXCLUDED.host, \
                 view = EXCLUDED.view, beat_at = EXCLUDED.beat_at",
                &[
                    (&me.console_id, Type::TEXT),
                    (&me.who, Type::TEXT),
                    (&me.role, Type::TEXT),
                    (&me.host, Type::TEXT),
                    (&me.view, Type::TEXT),
                ],
            )
            .await?;
            // Rows of consoles long gone would otherwise stay for ever; under the watcher's
            // grants this reaches only the rows of its own login.
            c.query_typed(
                "DELETE FROM mastop_presence WHERE beat_at < now() - interval '1 hour'",
                &[],
            )
            .await
            .map(drop)
        })
        .await
    }

    /// Consoles that beat within `within`, on-call first, then by name: at most
    /// [`ROOM_SHOWN`], each text cut to 64 characters, whatever a login wrote.
    ///
    /// A console is on-call only when it says so and the login that wrote its row (the
    /// store records it; row-level security keeps it true) may write the shared audit, as
    /// on-call consoles may and watchers may not. Anyone else is `shadow`, whatever it
    /// claims, so a watcher cannot appear on-call in everyone's header.
    pub async fn present(&self, within: Duration) -> StoreResult<Vec<Presence>> {
        let within = ms(within);
        self.call("read who is in the room", move |c| async move {
            const STEP: &str = "read who is in the room";
            let rows = c
                .query_typed(
                    "SELECT console_id, left(who, 64) AS who, shown AS role, \
                     left(host, 64) AS host, left(view, 64) AS view FROM (\
                       SELECT p.console_id, p.who, p.host, p.view, \
                       CASE WHEN p.role = 'oncall' AND EXISTS (\
                         SELECT FROM pg_roles login WHERE login.rolname = p.db_user \
                         AND has_table_privilege(login.oid, 'mastop_audit', 'INSERT')) \
                       THEN 'oncall' ELSE 'shadow' END AS shown \
                       FROM mastop_presence p \
                       WHERE p.beat_at > now() - $1 * interval '1 millisecond') present \
                     ORDER BY shown = 'oncall' DESC, who, console_id LIMIT 200",
                    &[(&within, Type::INT8)],
                )
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            rows.iter()
                .map(|row| {
                    Ok(Presence {
                        console_id: get(row, STEP, "console_id")?,
                        who: get(row, STEP, "who")?,
                        role: get(row, STEP, "role")?,
                        host: get(row, STEP, "host")?,
                        view: get(row, STEP, "view")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// The collector's last beat and its age by the store's clock, if one ever ran.
    pub async fn collector_state(&self) -> StoreResult<Option<CollectorState>> {
        self.call("read the collector's age", |c| async move {
            const STEP: &str = "read the collector's age";
            let row = c
                .query_typed_opt(
                    "SELECT host, pid, format, cadence_ms::int8 AS cadence_ms, \
                     greatest(0, (extract(epoch FROM now() - beat_at) * 1000))::int8 AS age_ms, \
                     (standby_beat_at > now() - leader_timeout_ms * interval '1 millisecond') \
                       IS TRUE AS standby_ready, standby_host, standby_pid \
                     FROM mastop_live_collector",
                    &[],
                )
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            let Some(row) = row else { return Ok(None) };
            let millis = |column: &str| -> Result<Duration, Failure> {
                let v: i64 = get(&row, STEP, column)?;
                Ok(Duration::from_millis(u64::try_from(v).unwrap_or(0)))
            };
            let standby = if get::<bool>(&row, STEP, "standby_ready")? {
                let host: Option<String> = get(&row, STEP, "standby_host")?;
                let pid: Option<i32> = get(&row, STEP, "standby_pid")?;
                host.zip(pid)
                    .map(|(host, pid)| crate::store::leadership::CollectorId { host, pid })
            } else {
                None
            };
            Ok(Some(CollectorState {
                host: get(&row, STEP, "host")?,
                pid: get(&row, STEP, "pid")?,
                format: get(&row, STEP, "format")?,
                cadence: millis("cadence_ms")?,
                age: millis("age_ms")?,
                standby,
            }))
        })
        .await
    }

    /// The latest `limit` audit records numbered after `seq` (`i64::MIN`: any), oldest
    /// first, each with its order of arrival.
    pub async fn audit_after(
        &self,
        seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<(i64, AuditRecord)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call("read the action stream", move |c| async move {
            const STEP: &str = "read the action stream";
            let rows = c
                .query_typed(
                    "SELECT seq, record FROM (\
                       SELECT seq, record::text AS record FROM mastop_audit \
                       WHERE seq > $1 ORDER BY seq DESC LIMIT $2) newest ORDER BY seq",
                    &[(&seq, Type::INT8), (&limit, Type::INT8)],
                )
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            rows.iter()
                .map(|row| {
                    let text: String = get(row, STEP, "record")?;
                    let record = serde_json::from_str(&text).map_err(|e| Failure::Answer {
                        step: STEP,
                        detail: format!(
                            "a record is not one this mastop can read ({e}) — is a newer mastop writing here?"
                        ),
                    })?;
                    Ok((get(row, STEP, "seq")?, record))
                })
                .collect()
        })
        .await
    }
}
