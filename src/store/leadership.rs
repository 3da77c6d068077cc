//! A collector's seat at the ops store: a session of its own on which it takes the lead
//! (an advisory lock, held for as long as the session lives) or stands by, and through
//! which alone a leader beats and publishes. Every beat and publication checks, in the same
//! statement, that this session still holds the lock (`mastop_live_leads()`, migration 5):
//! a collector whose session was ended while it hung, resumed and reconnected, is refused
//! by the store and never overwrites the collector that took over.
//!
//! Unlike [`PgStore`]'s calls, a seat never reconnects by itself: a new session does not
//! hold the lock, so a lost session is a lost lead, and the collector decides what next.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use super::PgStore;
use super::failure::Failure;
use super::live::payload;
use super::session::Session;
use crate::live::LiveComponent;

/// A collector as the beat row and the logs name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorId {
    pub host: String,
    pub pid: i32,
}

impl CollectorId {
    /// This process on `host`.
    pub fn this_process(host: &str) -> CollectorId {
        CollectorId {
            host: host.to_string(),
            pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
        }
    }
}

impl fmt::Display for CollectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} pid {}",
            crate::sanitize::sanitize(&self.host),
            self.pid
        )
    }
}

/// The leading collector's last beat, as a standby sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaderBeat {
    pub who: CollectorId,
    /// By the store's clock.
    pub age: Duration,
    /// The session that beat is the one holding the lock (not so for a moment after a
    /// takeover, before the new leader's first beat).
    pub holds_lock: bool,
}

/// What one try for the lead found.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Leads,
    /// Another session holds the lock; its beat row, if any collector ever beat.
    StandsBy(Option<LeaderBeat>),
}

/// Why a beat or a publication was not stored.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// This session does not hold the lock: another collector leads.
    NotLeading,
    /// The store failed; [`Seat::is_open`] says whether the session survived it.
    Store(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotLeading => {
                f.write_str("the ops store refused: this collector no longer leads")
            }
            Refusal::Store(e) => f.write_str(e),
        }
    }
}

/// The ending of a hung leader's session failed.
#[derive(Clone, Debug, PartialEq)]
pub enum EndFailure {
    /// The store's role may not end the leader's session; the server's own idle cut
    /// ([`Seat::open`]) frees the lock later.
    NotPermitted(String),
    Store(String),
}

/// A collector's own session with the ops store; dropping it releases the lead.
pub struct Seat<'a> {
    store: &'a PgStore,
    session: Option<Session>,
    me: CollectorId,
    leader_timeout: Duration,
}

/// `application_name` of a seat, so `pg_stat_activity` says which session is whose.
fn application_name(me: &CollectorId) -> String {
    let name = format!("mastop-collect {me}");
    // Postgres keeps 63 bytes of it; cut on a character boundary.
    let mut end = name.len().min(63);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<'a> Seat<'a> {
    /// Opens a seat for `me`. The server ends the session once it has been idle for twice
    /// `leader_timeout` (a healthy collector speaks every cadence), so a hung leader frees
    /// the lock even when no standby may end its session.
    pub async fn open(
        store: &'a PgStore,
        me: CollectorId,
        leader_timeout: Duration,
    ) -> Result<Seat<'a>, String> {
        let deadline = tokio::time::Instant::now() + store.deadline();
        let open = async {
            let password = store.login_password().await?;
            let session = store.open_session(password.as_ref(), None).await?;
            let idle_ms = ms(leader_timeout.saturating_mul(2)).max(1);
            session
                .client
                .query_typed(
                    "SELECT set_config('application_name', $1, false), \
                     set_config('idle_session_timeout', $2, false)",
                    &[
                        (&application_name(&me), Type::TEXT),
                        (&idle_ms.to_string(), Type::TEXT),
                    ],
                )
                .await
                .map_err(|error| Failure::Driver {
                    step: "open the collector's session",
                    error,
                })?;
            Ok::<_, Failure>(session)
        };
        match tokio::time::timeout_at(deadline, open).await {
            Ok(Ok(session)) => Ok(Seat {
                store,
                session: Some(session),
                me,
                leader_timeout,
            }),
            Ok(Err(failure)) => Err(store.explain(&failure)),
            Err(_) => Err(store.no_answer("open the collector's session")),
        }
    }

    /// Whether the session is still there. Once it is not, neither is the lead.
    pub fn is_open(&self) -> bool {
        self.session.as_ref().is_some_and(|s| !s.client.is_closed())
    }

    pub fn me(&self) -> &CollectorId {
        &self.me
    }

    /// Runs one statement within the store's deadline. A lost connection or no answer
    /// closes the seat: a session that might be stuck mid-statement cannot be trusted with
    /// the lead.
    async fn run<T, F, Fut>(&mut self, what: &'static str, op: F) -> Result<T, Failure>
    where
        F: FnOnce(Arc<Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let client = match &self.session {
            Some(s) if !s.client.is_closed() => Arc::clone(&s.client),
            _ => {
                self.session = None;
                return Err(Failure::Told(format!(
                    "ops store at {}: {what}: the collector's session has closed",
                    self.store.target.addr
                )));
            }
        };
        match tokio::time::timeout(self.store.deadline(), op(client)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                let failure = Failure::Driver { step: what, error };
                if failure.connection_lost() {
                    self.session = None;
                }
                Err(failure)
            }
            Err(_) => {
                self.session = None;
                Err(Failure::Told(self.store.no_answer(what)))
            }
        }
    }

    /// Takes the lead if no session holds it; otherwise records this collector as the
    /// standby and reads the leader's beat.
    pub async fn try_lead(&mut self) -> Result<Attempt, String> {
        let got = self
            .run("try for the lead", |c| async move {
                c.query_typed_one("SELECT mastop_live_try_lead() AS leads", &[])
                    .await?
                    .try_get::<_, bool>("leads")
            })
            .await
            .map_err(|f| self.store.explain(&f))?;
        if got {
            return Ok(Attempt::Leads);
        }
        let (host, pid) = (self.me.host.clone(), self.me.pid);
        let row = self
            .run("stand by", |c| async move {
                c.query_typed_opt(
                    "WITH standby AS (\
                       UPDATE mastop_live_collector SET standby_host = $1, standby_pid = $2, \
                         standby_beat_at = now() \
                       RETURNING host, pid, beat_at, backend_pid) \
                     SELECT host, pid, \
                       greatest(0, extract(epoch FROM now() - beat_at) * 1000)::int8 AS age_ms, \
                       coalesce(backend_pid = mastop_live_lock_holder(), false) AS holds_lock \
                     FROM standby",
                    &[(&host, Type::TEXT), (&pid, Type::INT4)],
                )
                .await
            })
            .await
            .map_err(|f| self.store.explain(&f))?;
        let Some(row) = row else {
            return Ok(Attempt::StandsBy(None));
        };
        let read = |e: tokio_postgres::Error| format!("ops store: reading the leader's beat: {e}");
        let age: i64 = row.try_get("age_ms").map_err(read)?;
        Ok(Attempt::StandsBy(Some(LeaderBeat {
            who: CollectorId {
                host: row.try_get("host").map_err(read)?,
                pid: row.try_get("pid").map_err(read)?,
            },
            age: Duration::from_millis(u64::try_from(age).unwrap_or(0)),
            holds_lock: row.try_get("holds_lock").map_err(read)?,
        })))
    }

    /// Ends the session of a leader whose beat is older than the leader timeout, and waits
    /// (within the deadline) for its server process to go, so the lock is free at once.
    /// Staleness is judged again in the same statement, by the store's clock: a leader that
    /// beat meanwhile is left alone, and so is a lock holder that has not beaten yet (a
    /// collector that took over a moment ago). Returns whom it ended.
    pub async fn end_hung_leader(&mut self) -> Result<Option<CollectorId>, EndFailure> {
        let timeout_ms = ms(self.leader_timeout);
        let wait_ms = ms(self.store.deadline() / 2).max(1);
        let row = self
            .run("end the hung leader's session", |c| async move {
                c.query_typed_opt(
                    "SELECT host, pid, pg_terminate_backend(backend_pid, $2) AS ended \
                     FROM mastop_live_collector \
                     WHERE beat_at < now() - $1 * interval '1 millisecond' \
                       AND backend_pid = mastop_live_lock_holder() \
                       AND backend_pid <> pg_backend_pid()",
                    &[(&timeout_ms, Type::INT8), (&wait_ms, Type::INT8)],
                )
                .await
            })
            .await;
        let row = match row {
            Ok(row) => row,
            Err(failure) => {
                let refused = matches!(&failure, Failure::Driver { error, .. }
                    if error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE));
                let text = self.store.explain(&failure);
                return Err(if refused {
                    EndFailure::NotPermitted(text)
                } else {
                    EndFailure::Store(text)
                });
            }
        };
        let Some(row) = row else { return Ok(None) };
        let read = |e: tokio_postgres::Error| {
            EndFailure::Store(format!("ops store: reading the ended leader: {e}"))
        };
        let ended: bool = row.try_get("ended").map_err(read)?;
        if !ended {
            return Ok(None);
        }
        Ok(Some(CollectorId {
            host: row.try_get("host").map_err(read)?,
            pid: row.try_get("pid").map_err(read)?,
        }))
    }

    /// Records that this collector leads and is alive. Returns the standby that beat
    /// within the leader timeout, if any.
    pub async fn beat(
        &mut self,
        started: SystemTime,
        led_since: SystemTime,
        cadence: Duration,
    ) -> Result<Option<CollectorId>, Refusal> {
        let cadence_ms = i32::try_from(cadence.as_millis()).unwrap_or(i32::MAX);
        let timeout_ms = i32::try_from(self.leader_timeout.as_millis()).unwrap_or(i32::MAX);
        let format = i32::try_from(crate::sources::stored::FORMAT).unwrap_or(i32::MAX);
        let (host, pid) = (self.me.host.clone(), self.me.pid);
        let row = self
            .run("record the collector's beat", |c| async move {
                c.query_typed_opt(
                    "INSERT INTO mastop_live_collector AS c (singleton, host, pid, format, \
                       started_at, beat_at, cadence_ms, backend_pid, led_since, leader_timeout_ms) \
                     SELECT true, $1, $2, $3, $4, now(), $5, pg_backend_pid(), $6, $7 \
                     WHERE mastop_live_leads() \
                     ON CONFLICT (singleton) DO UPDATE SET host = EXCLUDED.host, \
                       pid = EXCLUDED.pid, format = EXCLUDED.format, \
                       started_at = EXCLUDED.started_at, beat_at = EXCLUDED.beat_at, \
                       cadence_ms = EXCLUDED.cadence_ms, backend_pid = EXCLUDED.backend_pid, \
                       led_since = EXCLUDED.led_since, \
                       leader_timeout_ms = EXCLUDED.leader_timeout_ms, \
                       standby_beat_at = CASE WHEN c.standby_host = EXCLUDED.host \
                         AND c.standby_pid = EXCLUDED.pid THEN NULL ELSE c.standby_beat_at END \
                     RETURNING c.standby_host, c.standby_pid, \
                       coalesce(c.standby_beat_at > now() - c.leader_timeout_ms * \
                         interval '1 millisecond', false) AS standby_ready",
                    &[
                        (&host, Type::TEXT),
                        (&pid, Type::INT4),
                        (&format, Type::INT4),
                        (&started, Type::TIMESTAMPTZ),
                        (&cadence_ms, Type::INT4),
                        (&led_since, Type::TIMESTAMPTZ),
                        (&timeout_ms, Type::INT4),
                    ],
                )
                .await
            })
            .await
            .map_err(|f| Refusal::Store(self.store.explain(&f)))?;
        let Some(row) = row else {
            return Err(Refusal::NotLeading);
        };
        let read = |e: tokio_postgres::Error| {
            Refusal::Store(format!("ops store: reading the standby: {e}"))
        };
        if !row.try_get::<_, bool>("standby_ready").map_err(read)? {
            return Ok(None);
        }
        let host: Option<String> = row.try_get("standby_host").map_err(read)?;
        let pid: Option<i32> = row.try_get("standby_pid").map_err(read)?;
        Ok(host.zip(pid).map(|(host, pid)| CollectorId { host, pid }))
    }

    /// Stores each `(position, component)` and announces it, in one statement that first
    /// checks this session leads. Returns how many were stored.
    pub async fn publish_live(
        &mut self,
        components: &[(i32, LiveComponent)],
    ) -> Result<usize, Refusal> {
        let mut ids = Vec::with_capacity(components.len());
        let mut positions = Vec::with_capacity(components.len());
        let mut jsons = Vec::with_capacity(components.len());
        let mut pasts = Vec::with_capacity(components.len());
        let mut payloads = Vec::with_capacity(components.len());
        for (position, c) in components {
            let encoding = |e: serde_json::Error| {
                Refusal::Store(format!("ops store: cannot encode component {}: {e}", c.id))
            };
            let (present, past) = c.clone().split();
            jsons.push(serde_json::to_string(&present).map_err(encoding)?);
            pasts.push(serde_json::to_string(&past).map_err(encoding)?);
            ids.push(c.id.as_str());
            positions.push(*position);
            payloads.push(payload(&c.id));
        }
        let row = self
            .run("publish the live fleet", |c| async move {
                c.query_typed_one(
                    "WITH fence AS (SELECT mastop_live_leads() AS leads), \
                     batch AS (SELECT * FROM unnest($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[]) \
                       AS b(id, position, component, payload, past)), \
                     up AS (\
                       INSERT INTO mastop_live_components (id, position, seq, component, past, updated_at) \
                       SELECT id, position, nextval('mastop_live_seq'), component::jsonb, past::jsonb, now() \
                       FROM batch WHERE (SELECT leads FROM fence) ORDER BY position \
                       ON CONFLICT (id) DO UPDATE SET position = EXCLUDED.position, \
                         seq = EXCLUDED.seq, component = EXCLUDED.component, \
                         past = EXCLUDED.past, updated_at = EXCLUDED.updated_at \
                       RETURNING id), \
                     told AS (SELECT pg_notify('mastop_live', batch.payload) FROM up JOIN batch USING (id)) \
                     SELECT (SELECT leads FROM fence) AS leads, \
                       (SELECT count(*) FROM told)::int8 AS published",
                    &[
                        (&ids, Type::TEXT_ARRAY),
                        (&positions, Type::INT4_ARRAY),
                        (&jsons, Type::TEXT_ARRAY),
                        (&payloads, Type::TEXT_ARRAY),
                        (&pasts, Type::TEXT_ARRAY),
                    ],
                )
                .await
            })
            .await
            .map_err(|f| Refusal::Store(self.store.explain(&f)))?;
        let read = |e: tokio_postgres::Error| Refusal::Store(format!("ops store: publishing: {e}"));
        if !row.try_get::<_, bool>("leads").map_err(read)? {
            return Err(Refusal::NotLeading);
        }
        let n: i64 = row.try_get("published").map_err(read)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Gives the lead up and closes the session: a standby takes the lead at its next try
    /// instead of waiting for the server to notice the closed socket.
    pub async fn resign(mut self) -> Result<(), String> {
        let released = self
            .run("give up the lead", |c| async move {
                c.batch_execute("SELECT pg_advisory_unlock_all()").await
            })
            .await
            .map_err(|f| self.store.explain(&f));
        self.session = None;
        released
    }
}

impl PgStore {
    /// A seat for the collector `me`: see [`Seat`].
    pub async fn seat(
        &self,
        me: CollectorId,
        leader_timeout: Duration,
    ) -> Result<Seat<'_>, String> {
        Seat::open(self, me, leader_timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_named_after_the_collector_within_postgres_limit() {
        let me = CollectorId {
            host: "collector-a".into(),
            pid: 4242,
        };
        assert_eq!(application_name(&me), "mastop-collect collector-a pid 4242");
        let long = CollectorId {
            host: "é".repeat(40),
            pid: 1,
        };
        let name = application_name(&long);
        assert!(
            name.len() <= 63 && name.starts_with("mastop-collect é"),
            "{name}"
        );
    }
}
