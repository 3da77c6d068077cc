//! PostgreSQL, one node: connections against the limit, session states, transaction ages,
//! throughput, cache hits and (on a replica) replay lag.
//!
//! One session per node, tagged `application_name = mastop` and bounded server-side by
//! `statement_timeout`. Queries are unnamed (`query_typed`), so nothing here leaves prepared
//! statements behind, and the per-poll queries are pipelined into a single round trip. Each
//! concern has its own query and its own part of the reading, so later views (activity list,
//! blocking tree, replication) add a query and a field without touching the others.

mod queries;
mod reading;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use self::queries::{
    Counters, Failure, SERVER_SQL, SESSIONS_SQL, SIZE_SQL, STATS_SQL, apply_deltas, build_reading,
    col, one_row,
};
pub use self::reading::{
    Connections, DatabaseStats, PostgresReading, ReplicaStatus, ServerInfo, Sessions,
};
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{Defaults, EndpointConfig, SecretRef, mask_url};
use crate::model::{ComponentId, ComponentMeta, FigureSpec};

pub const KIND: &str = "postgres";

pub const FIGURES: &[FigureSpec] = &[
    FigureSpec::up("connections_used_pct"),
    FigureSpec::up("connections"),
    FigureSpec::up("active_sessions"),
    FigureSpec::up("idle_in_xact_sessions"),
    FigureSpec::up("lock_waiting_sessions"),
    FigureSpec::up("longest_xact_s"),
    FigureSpec::up("idle_in_xact_max_s"),
    FigureSpec::up("replication_lag_s"),
    FigureSpec::down("cache_hit_pct"),
    FigureSpec::up("xact_per_sec"),
    FigureSpec::up("database_size_bytes"),
];

/// `pg_database_size` stats every file of the database, so it is read on this slow cadence.
const SIZE_EVERY: Duration = Duration::from_secs(300);

struct SizeProbe {
    value: Option<i64>,
    fetched: Option<Instant>,
    /// Set when the role may not read the size; the probe then stays off.
    denied: bool,
}

/// One open session. Dropping it (also when a poll is cancelled mid-query) ends the
/// connection task and closes the socket; the server ends any abandoned query itself once
/// `statement_timeout` passes, because that equals the poll deadline.
struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Target {
    config: tokio_postgres::Config,
    /// `host:port`, as the operator wrote it.
    addr: String,
    user: String,
    database: String,
}

pub struct PostgresSource {
    target: Result<Target, String>,
    password: Option<SecretRef>,
    resolved_password: Option<SecretString>,
    deadline: Duration,
    session: Option<Session>,
    previous: Option<Counters>,
    size: SizeProbe,
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    let schedule = config.schedule(defaults);
    SourceSpec {
        meta: ComponentMeta {
            id: ComponentId::new(KIND, &config.name),
            kind: KIND,
            region: config.region.clone(),
            tags: config.tags.clone(),
        },
        schedule,
        enabled: config.enabled,
        source: Box::new(PostgresSource::new(config, schedule)),
    }
}

impl PostgresSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        PostgresSource {
            target: parse_target(&config.url, schedule.deadline),
            password: config.password.clone(),
            resolved_password: None,
            deadline: schedule.deadline,
            session: None,
            previous: None,
            size: SizeProbe {
                value: None,
                fetched: None,
                denied: false,
            },
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let target = self.target.clone().map_err(PollError::Failed)?;
        let reused = self.session.is_some();
        // Taken out for the duration of the poll: if the scheduler drops this future at the
        // deadline, the session goes with it and the next poll starts clean.
        let mut session = match self.session.take() {
            Some(session) => session,
            None => self.connect(&target).await?,
        };
        let mut result = self.read(&session.client).await;
        if reused && matches!(&result, Err(Failure::Driver { error, .. }) if connection_lost(error))
        {
            // The server restarted or dropped us since the last poll: one fresh try.
            drop(session);
            session = self.connect(&target).await?;
            result = self.read(&session.client).await;
        }
        match result {
            Ok(reading) => {
                self.session = Some(session);
                Ok(Arc::new(reading))
            }
            Err(failure) => Err(describe_failure(&target, &failure, self.deadline)),
        }
    }

    async fn connect(&mut self, target: &Target) -> Result<Session, PollError> {
        let mut config = target.config.clone();
        if let Some(secret) = &self.password {
            if self.resolved_password.is_none() {
                let password = secret.resolve().await.map_err(|e| {
                    PollError::Failed(format!(
                        "postgres at {}: cannot get the password from {secret}: {e}",
                        target.addr
                    ))
                })?;
                self.resolved_password = Some(password);
            }
            if let Some(password) = &self.resolved_password {
                config.password(password.expose_secret().as_bytes());
            }
        }
        let (client, connection) = config.connect(NoTls).await.map_err(|error| {
            if matches!(error.code(), Some(c) if *c == SqlState::INVALID_PASSWORD) {
                // Fetch it again next time: it may have been rotated.
                self.resolved_password = None;
            }
            describe_failure(
                target,
                &Failure::Driver {
                    step: "connect",
                    error,
                },
                self.deadline,
            )
        })?;
        let addr = target.addr.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(postgres = %addr, error = %e, "connection ended");
            }
        });
        let session = Session { client, task };
        let statement_ms = self.deadline.as_millis().max(1);
        let lock_ms = (statement_ms / 2).max(1);
        let set = format!("SET statement_timeout = {statement_ms}; SET lock_timeout = {lock_ms}");
        session.client.simple_query(&set).await.map_err(|error| {
            describe_failure(
                target,
                &Failure::Driver {
                    step: "set session timeouts",
                    error,
                },
                self.deadline,
            )
        })?;
        Ok(session)
    }

    async fn read(&mut self, client: &Client) -> Result<PostgresReading, Failure> {
        // Pipelined: all three go out before the first answer is awaited.
        let (server, sessions, stats) = tokio::try_join!(
            one_row(client, "read server settings", SERVER_SQL),
            one_row(client, "read pg_stat_activity", SESSIONS_SQL),
            one_row(client, "read pg_stat_database", STATS_SQL),
        )?;
        self.refresh_size(client).await?;
        let mut reading = build_reading(&server, &sessions, &stats, self.size.value)?;
        let counters = Counters {
            server_clock: col(&server, "read server settings", "server_clock")?,
            xacts: reading
                .database
                .xact_commit
                .saturating_add(reading.database.xact_rollback),
            blks_hit: reading.database.blks_hit,
            blks_read: reading.database.blks_read,
            deadlocks: reading.database.deadlocks,
        };
        apply_deltas(&mut reading.database, self.previous.as_ref(), &counters);
        self.previous = Some(counters);
        Ok(reading)
    }

    /// Reads the database size when it is due. A server-side refusal only blanks the size;
    /// a broken connection fails the poll.
    async fn refresh_size(&mut self, client: &Client) -> Result<(), Failure> {
        let due = self.size.fetched.is_none_or(|t| t.elapsed() >= SIZE_EVERY);
        if self.size.denied || !due {
            return Ok(());
        }
        match one_row(client, "read pg_database_size", SIZE_SQL).await {
            Ok(row) => {
                self.size.value = row.try_get::<_, i64>("size").ok();
                self.size.fetched = Some(Instant::now());
                Ok(())
            }
            Err(Failure::Driver { error, .. }) if error.as_db_error().is_some() => {
                self.size.denied = error.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE);
                self.size.value = None;
                self.size.fetched = Some(Instant::now());
                tracing::debug!(error = %error, "pg_database_size failed; size left blank");
                Ok(())
            }
            Err(failure) => Err(failure),
        }
    }
}

impl Source for PostgresSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

fn parse_target(url: &str, deadline: Duration) -> Result<Target, String> {
    let masked = mask_url(url);
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
        format!("postgres url {masked} is not valid ({e}): use postgres://user@host:5432/database")
    })?;
    let Some(user) = config
        .get_user()
        .filter(|u| !u.is_empty())
        .map(str::to_string)
    else {
        return Err(format!(
            "postgres url {masked} names no user: use postgres://user@host:5432/database"
        ));
    };
    if config.get_hosts().is_empty() {
        return Err(format!(
            "postgres url {masked} names no host: use postgres://user@host:5432/database"
        ));
    }
    let database = config.get_dbname().unwrap_or(&user).to_string();
    if config.get_application_name().is_none() {
        config.application_name("mastop");
    }
    // A backstop for use outside the scheduler; the scheduler's deadline is what decides.
    config.connect_timeout(deadline.saturating_mul(2));
    Ok(Target {
        addr: host_label(&config),
        user,
        database,
        config,
    })
}

/// `host:port[,host:port…]` for messages: where mastop tried to connect.
fn host_label(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Turns a failure into what an operator needs: which backend, what was tried, what to
/// check. Privilege and login refusals are `Denied`; everything else is `Failed`.
fn describe_failure(target: &Target, failure: &Failure, deadline: Duration) -> PollError {
    let addr = &target.addr;
    let (step, error) = match failure {
        Failure::Driver { step, error } => (*step, error),
        Failure::Answer { step, detail } => {
            return PollError::Failed(format!(
                "postgres at {addr}: {step}: unexpected answer ({detail}) — is this PostgreSQL 10 or newer?"
            ));
        }
    };
    let who = format!("user {} on database {}", target.user, target.database);
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        let msg = db.message();
        let sqlstate = code.code();
        if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            return PollError::Denied(format!(
                "postgres at {addr}: {step} refused for {who}: {msg} (SQLSTATE {sqlstate}) — grant the role CONNECT on the database and pg_monitor"
            ));
        }
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return PollError::Denied(format!(
                "postgres at {addr}: login refused for {who}: {msg} (SQLSTATE {sqlstate}) — check the user, the password reference and pg_hba.conf"
            ));
        }
        let hint = if *code == SqlState::QUERY_CANCELED {
            format!(
                " — cancelled by statement_timeout ({}): the server is overloaded or the query waits on a lock",
                humantime::format_duration(deadline)
            )
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            " — every connection slot is taken, and mastop needs one".to_string()
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            " — check the database name in the url".to_string()
        } else if *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::ADMIN_SHUTDOWN {
            " — the server is starting up or shutting down".to_string()
        } else {
            String::new()
        };
        return PollError::Failed(format!(
            "postgres at {addr}: {step} failed: {msg} (SQLSTATE {sqlstate}){hint}"
        ));
    }
    if error.is_closed() {
        return PollError::Failed(format!(
            "postgres at {addr}: {step} failed: the connection was closed (server restart or network) — reconnecting on the next poll"
        ));
    }
    let what = if step == "connect" {
        format!("connect to {addr}")
    } else {
        format!("postgres at {addr}: {step}")
    };
    if let Some(io) = io_cause(error) {
        use std::io::ErrorKind as K;
        let hint = match io.kind() {
            K::ConnectionRefused => {
                "connection refused — is PostgreSQL running and listening there?"
            }
            K::TimedOut => "timed out — check the host, the port and any firewall in between",
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                "the connection was cut — the server restarted or something in between dropped it"
            }
            K::NotFound => "no such host or socket — check the host in the url",
            _ => return PollError::Failed(format!("{what} failed: {io}")),
        };
        return PollError::Failed(format!("{what} failed: {hint}"));
    }
    PollError::Failed(format!("{what} failed: {}", error_chain(error)))
}

/// The session is gone (server restart, terminated backend, cut network), as opposed to a
/// server that answered with an error.
fn connection_lost(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || io_cause(error).is_some()
        || matches!(error.code(), Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN)
}

fn io_cause(error: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

fn error_chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_parsing_names_the_problem_and_masks_passwords() {
        let t = parse_target(
            "postgres://mon:hunter2@db.internal:5433/mastodon",
            Duration::from_secs(1),
        )
        .expect("valid");
        assert_eq!(t.addr, "db.internal:5433");
        assert_eq!(t.database, "mastodon");
        assert_eq!(t.config.get_application_name(), Some("mastop"));
        let err = parse_target("postgres://:hunter2@db.internal/x", Duration::from_secs(1))
            .err()
            .expect("no user");
        assert!(err.contains("no user") && !err.contains("hunter2"), "{err}");
        let err = parse_target(
            "postgres://mon:hunter2@db:notaport/x",
            Duration::from_secs(1),
        )
        .err()
        .expect("bad port");
        assert!(!err.contains("hunter2"), "{err}");
        let custom = parse_target(
            "postgres://mon@db/x?application_name=mastop-alice",
            Duration::from_secs(1),
        )
        .expect("valid");
        assert_eq!(custom.config.get_application_name(), Some("mastop-alice"));
    }
}
