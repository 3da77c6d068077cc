//! PostgreSQL, one node: connections against the limit, session states, transaction ages,
//! throughput, cache hits, replication on both sides, the activity list with blocking
//! chains, vacuum and wraparound, and top queries.
//!
//! One session per node, tagged `application_name = mastop`, in autocommit (no statement
//! holds a snapshot), and bounded server-side by `statement_timeout` and `lock_timeout`.
//! Every query starts with `/* mastop */`, so it can be told apart in pg_stat_statements
//! and in anyone's activity view (mastop's own leaves it out). Each query is prepared once
//! per session, so the server plans it once, not on every poll; the queries due on a poll
//! are pipelined, so they all travel together in one round trip. Through a pooler that
//! cannot keep prepared statements (PgBouncer in transaction mode) the source notices the
//! lost statement and sends unnamed queries from then on.
//!
//! Every poll sends two statements: the server's settings and counters, and one read of the
//! backend array ([`backends`]) for the session counts, the groups, the activity list and
//! the standbys. The other views are features on two slower tiers: every half minute
//! (tables, progress, slots, statements) and every few minutes (sizes on disk). A view the
//! server refuses turns itself off with a note instead of failing the poll, and is retried
//! only after a long pause (or as soon as a catalog lookup says it would work).
//!
//! Query text is shown only after [`redact`](redact::redact); the raw text stays in the
//! reading for a later audited reveal and is never serialised or drawn.

mod activity;
pub mod archiver;
mod backends;
pub mod backups;
mod decode;
mod features;
pub mod host_reads;
mod maintenance;
mod queries;
mod reading;
pub mod redact;
mod replication;
mod sessions;
mod statements;
mod thresholds;
mod views;
pub mod wal_space;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use secrecy::ExposeSecret;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use tokio_postgres::Row;
use tokio_postgres::types::Type;

pub use self::activity::{
    Activity, Backend, BlockingNode, RawQuery, SessionGroup, backend_key, blocking_chains,
};
use self::decode::{Failure, col, one_row};
use self::features::{Feature, Gates};
pub use self::features::{FeatureState, FeatureStatus, Tiers};
pub use self::maintenance::{DatabaseSize, DeadTuples, VacuumProgress, WalDir, Wraparound};
use self::queries::{Counters, SUMMARY_SQL, apply_deltas, build_reading};
pub use self::reading::{Connections, DatabaseStats, PostgresReading, ReplicaStatus, ServerInfo};
pub use self::replication::{HorizonHolder, Slot, Standby, horizon};
pub use self::sessions::Sessions;
pub use self::statements::{Statement, TopStatements};
pub use self::views::Views;
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{CachedSecret, Defaults, EndpointConfig, mask_url};
use crate::net::postgres as tls;

pub use crate::model::kinds::postgres::{FIGURES, KIND};

fn feature_sql(feature: Feature) -> &'static str {
    match feature {
        Feature::Slots => replication::SLOTS_SQL,
        Feature::Wraparound => maintenance::WRAPAROUND_SQL,
        Feature::Vacuum => maintenance::VACUUM_SQL,
        Feature::DeadTuples => maintenance::DEAD_TUPLES_SQL,
        Feature::Statements => statements::STATEMENTS_SQL,
        Feature::Sizes => maintenance::SIZES_SQL,
        Feature::WalDir => maintenance::WAL_DIR_SQL,
    }
}

/// One open session. Dropping it (also when a poll is cancelled mid-query) ends the
/// connection task and closes the socket; the server ends any abandoned query itself once
/// `statement_timeout` passes, because that equals the poll deadline.
struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
    /// Each query's prepared statement, by its text.
    prepared: std::sync::Mutex<HashMap<&'static str, tokio_postgres::Statement>>,
}

impl Session {
    /// Runs `sql`, prepared on its first use in this session, or unnamed when `named` is
    /// off (a pooler loses prepared statements between transactions).
    async fn query(
        &self,
        sql: &'static str,
        named: bool,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        if !named {
            return self.client.query_typed(sql, &[]).await;
        }
        let cached = self.prepared.lock().ok().and_then(|p| p.get(sql).cloned());
        let statement = match cached {
            Some(statement) => statement,
            None => {
                let statement = self.client.prepare(sql).await?;
                if let Ok(mut prepared) = self.prepared.lock() {
                    prepared.insert(sql, statement.clone());
                }
                statement
            }
        };
        self.client.query(&statement, &[]).await
    }
}

/// The server no longer knows a statement this session prepared, or already knows its
/// name: something between mastop and PostgreSQL hands the session to other connections.
fn statement_lost(error: &tokio_postgres::Error) -> bool {
    matches!(error.code(), Some(c) if *c == SqlState::INVALID_SQL_STATEMENT_NAME
        || *c == SqlState::DUPLICATE_PSTATEMENT)
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    /// `host:port`, as the operator wrote it.
    pub(crate) addr: String,
    pub(crate) user: String,
    pub(crate) database: String,
    /// The CA that must have signed the server's certificate, instead of the system roots.
    pub(crate) tls_ca: Option<PathBuf>,
}

pub struct PostgresSource {
    target: Result<Target, String>,
    password: CachedSecret,
    deadline: Duration,
    session: Option<Session>,
    /// When the server last started (µs since the epoch), to notice a restart.
    server_started_us: Option<i64>,
    /// Prepare statements (off once a pooler has lost one).
    named: bool,
    previous: Option<Counters>,
    gates: Gates,
    /// The latest answer of each view, kept between the polls that do not read it.
    views: Views,
    statements: statements::Tracker,
    /// The connected database's size at the previous size reading, for growth.
    size_sample: Option<(Instant, i64)>,
    growth_bytes_per_sec: Option<f64>,
    archiver: archiver::ArchiverWatch,
    /// The slow tier, on which the archiver and the hosts' reads run.
    slow: Duration,
    host_reads: host_reads::HostReads,
    /// `data_directory/pg_wal`, asked once per session when a host is linked.
    wal_path: Option<String>,
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    spec_knowing(config, defaults, host_reads::HostLinks::default())
}

/// [`spec`] for a server whose `host` and `backup_host` are read over SSH.
pub fn spec_knowing(
    config: &EndpointConfig,
    defaults: &Defaults,
    links: host_reads::HostLinks,
) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, move |schedule| {
        Box::new(PostgresSource::new(config, schedule).with_hosts(links))
    })
}

impl PostgresSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        PostgresSource {
            target: parse_target(&config.url, config.tls_ca.as_deref(), schedule.deadline),
            password: CachedSecret::new(config.password.clone()),
            deadline: schedule.deadline,
            session: None,
            server_started_us: None,
            named: true,
            previous: None,
            gates: Gates::new(Tiers::default()),
            views: Views::default(),
            statements: statements::Tracker::default(),
            size_sample: None,
            growth_bytes_per_sec: None,
            archiver: archiver::ArchiverWatch::default(),
            slow: Tiers::default().slow,
            host_reads: host_reads::HostReads::new(
                host_reads::HostLinks::default(),
                schedule.deadline,
            ),
            wal_path: None,
        }
    }

    /// Reads pg_wal's filesystem and the backups on the hosts `links` names.
    pub fn with_hosts(mut self, links: host_reads::HostLinks) -> Self {
        self.host_reads = host_reads::HostReads::new(links, self.deadline);
        self
    }

    /// Replaces the cadence tiers (tests and measurements run every tier on every poll).
    pub fn with_tiers(mut self, tiers: Tiers) -> Self {
        self.gates = Gates::new(tiers);
        self.slow = tiers.slow;
        self
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
        let mut result = self.read(&session).await;
        if reused && matches!(&result, Err(Failure::Driver { error, .. }) if connection_lost(error))
        {
            // The server restarted or dropped us since the last poll: one fresh try.
            drop(session);
            session = self.connect(&target).await?;
            result = self.read(&session).await;
        }
        if self.named
            && matches!(&result, Err(Failure::Driver { error, .. }) if statement_lost(error))
        {
            tracing::info!(
                backend = %target.addr,
                "prepared statements do not survive here (a pooler in transaction mode?): sending unnamed queries"
            );
            self.named = false;
            result = self.read(&session).await;
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
        let backend = format!("postgres at {}", target.addr);
        if let Some(password) = self
            .password
            .get(&backend)
            .await
            .map_err(PollError::Failed)?
        {
            config.password(password.expose_secret().as_bytes());
        }
        let label = format!("postgres {}", target.addr);
        let (client, task) = tls::connect(&config, target.tls_ca.as_deref(), &label)
            .await
            .map_err(|error| match error {
                tls::ConnectError::Setup(text) => {
                    PollError::Failed(format!("postgres at {}: {text}", target.addr))
                }
                tls::ConnectError::Driver(error) => {
                    if matches!(error.code(), Some(c) if *c == SqlState::INVALID_PASSWORD) {
                        // Fetch it again next time: it may have been rotated.
                        self.password.forget();
                    }
                    describe_failure(
                        target,
                        &Failure::Driver {
                            step: "connect",
                            error,
                        },
                        self.deadline,
                    )
                }
            })?;
        // A new session may be a new server (failover): ask where its pg_wal is again.
        self.wal_path = None;
        let session = Session {
            client,
            task,
            prepared: std::sync::Mutex::new(HashMap::new()),
        };
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

    async fn read(&mut self, session: &Session) -> Result<PostgresReading, Failure> {
        let now = Instant::now();
        let due = self.gates.due(now);
        let probes = self.gates.probes_due(now);
        let named = self.named;
        // Pipelined: every query goes out before the first answer is awaited.
        let (summary, backends, answers, probe_answers) = tokio::join!(
            session.query(SUMMARY_SQL, named),
            session.query(backends::BACKENDS_SQL, named),
            futures_util::future::join_all(
                due.iter()
                    .map(|&feature| session.query(feature_sql(feature), named))
            ),
            futures_util::future::join_all(probes.iter().map(|(_, sql)| session.query(sql, named))),
        );
        let server = summary.map_err(|error| Failure::Driver {
            step: "read server settings",
            error,
        })?;
        let server = one_row("read server settings", server)?;
        let started: i64 = col(&server, "read server settings", "started_us")?;
        if self
            .server_started_us
            .is_some_and(|before| before != started)
        {
            // Restarted (perhaps with other shared_preload_libraries) or failed over.
            self.gates.reopen_refused();
        }
        self.server_started_us = Some(started);
        let backends = backends.map_err(|error| Failure::Driver {
            step: "read pg_stat_activity",
            error,
        })?;
        let backends = backends::decode(&backends)?;
        for ((feature, _), answer) in probes.into_iter().zip(probe_answers) {
            match answer {
                Ok(rows) => {
                    let ready = rows
                        .first()
                        .and_then(|r| r.try_get::<_, bool>("ready").ok())
                        .unwrap_or(false);
                    self.gates.probed(feature, ready);
                }
                Err(error) if error.as_db_error().is_some() && !statement_lost(&error) => {
                    tracing::debug!(feature = feature.name(), error = %error, "probe failed");
                }
                Err(error) => {
                    return Err(Failure::Driver {
                        step: feature.name(),
                        error,
                    });
                }
            }
        }
        let mut statements_sample = None;
        for (feature, answer) in due.into_iter().zip(answers) {
            let rows = match answer {
                Ok(rows) => rows,
                Err(error) => match error.as_db_error() {
                    Some(db) if !statement_lost(&error) => {
                        tracing::debug!(feature = feature.name(), error = %db.message(), "view failed");
                        self.gates
                            .failed(feature, Some(db.code()), db.message(), now);
                        if !self.gates.is_on(feature)
                            && error.code() != Some(&SqlState::QUERY_CANCELED)
                        {
                            self.forget(feature);
                        }
                        continue;
                    }
                    // The session itself is in trouble: the whole poll fails.
                    _ => {
                        return Err(Failure::Driver {
                            step: feature.name(),
                            error,
                        });
                    }
                },
            };
            let absorbed = if feature == Feature::Statements {
                statements::decode_counters(&rows).map(|sample| statements_sample = Some(sample))
            } else {
                self.absorb(feature, &rows, now)
            };
            match absorbed {
                Ok(()) => self.gates.succeeded(feature),
                Err(Failure::Answer { detail, .. }) => self.gates.unreadable(feature, detail, now),
                Err(Failure::Driver { error, .. }) => {
                    self.gates.unreadable(feature, error.to_string(), now)
                }
            }
        }
        if let Some(sample) = statements_sample {
            self.load_statement_texts(&session.client, &sample).await?;
            self.views.top_statements = Some(self.statements.top(sample));
        }
        self.views.activity = Some(backends.activity);
        self.views.sessions_by = Some(backends.groups);
        self.views.standbys = Some(backends.standbys);

        let size = self
            .views
            .database_sizes
            .as_ref()
            .and_then(|sizes| sizes.iter().find(|d| d.current))
            .map(|d| d.bytes);
        let mut reading = build_reading(&server, backends.connections, backends.sessions, size)?;
        let counters = Counters {
            server_clock: col(&server, "read server settings", "server_clock")?,
            xacts: reading
                .database
                .xact_commit
                .saturating_add(reading.database.xact_rollback),
            blks_hit: reading.database.blks_hit,
            blks_read: reading.database.blks_read,
            deadlocks: reading.database.deadlocks,
            rollbacks: reading.database.xact_rollback,
            temp_files: reading.database.temp_files,
            temp_bytes: reading.database.temp_bytes,
        };
        apply_deltas(&mut reading.database, self.previous.as_ref(), &counters);
        self.previous = Some(counters);
        reading.database.growth_bytes_per_sec = self.growth_bytes_per_sec;
        reading.views = self.views.clone();
        reading.views.features = self.gates.statuses();
        reading.views.archiver = self.archiver.refresh(&session.client, self.slow).await;
        if self.host_reads.wants_wal_path() && self.wal_path.is_none() {
            // Refused (no pg_read_all_settings) leaves it unknown; the host read says why.
            self.wal_path = session
                .client
                .query_typed(wal_space::WAL_PATH_SQL, &[])
                .await
                .ok()
                .and_then(|rows| rows.first().and_then(|r| r.try_get("wal_path").ok()));
        }
        let (wal_space, backups) = self.host_reads.refresh(self.slow, self.wal_path.clone());
        reading.views.wal_space = wal_space;
        reading.views.backups = backups;
        Ok(reading)
    }

    /// Decodes one view's answer into the kept views.
    fn absorb(&mut self, feature: Feature, rows: &[Row], now: Instant) -> Result<(), Failure> {
        let v = &mut self.views;
        match feature {
            Feature::Slots => v.slots = Some(replication::decode_slots(rows)?),
            Feature::Wraparound => v.wraparound = Some(maintenance::decode_wraparound(rows)?),
            Feature::Vacuum => v.vacuum = Some(maintenance::decode_vacuum(rows)?),
            Feature::DeadTuples => v.dead_tuples = Some(maintenance::decode_dead_tuples(rows)?),
            Feature::WalDir => v.wal_dir = Some(maintenance::decode_wal_dir(rows)?),
            Feature::Statements => {}
            Feature::Sizes => {
                let sizes = maintenance::decode_sizes(rows)?;
                if let Some(current) = sizes.iter().find(|d| d.current) {
                    if let Some((then, bytes)) = self.size_sample {
                        let dt = now.duration_since(then).as_secs_f64();
                        if dt > 0.0 {
                            self.growth_bytes_per_sec = Some((current.bytes - bytes) as f64 / dt);
                        }
                    }
                    self.size_sample = Some((now, current.bytes));
                }
                v.database_sizes = Some(sizes);
            }
        }
        Ok(())
    }

    /// Drops a view the server refused, so its section shows why instead of old data.
    fn forget(&mut self, feature: Feature) {
        let v = &mut self.views;
        match feature {
            Feature::Slots => v.slots = None,
            Feature::Wraparound => v.wraparound = None,
            Feature::Vacuum => v.vacuum = None,
            Feature::DeadTuples => v.dead_tuples = None,
            Feature::Statements => v.top_statements = None,
            Feature::Sizes => v.database_sizes = None,
            Feature::WalDir => v.wal_dir = None,
        }
    }

    /// Fetches the text of statements seen for the first time. A refusal only leaves
    /// them without text; a broken session fails the poll.
    async fn load_statement_texts(
        &mut self,
        client: &Client,
        sample: &[(i64, statements::Counters)],
    ) -> Result<(), Failure> {
        let missing = self.statements.missing_texts(sample);
        if missing.is_empty() {
            return Ok(());
        }
        match client
            .query_typed(statements::TEXTS_SQL, &[(&missing, Type::INT8_ARRAY)])
            .await
        {
            Ok(rows) => {
                self.statements.add_texts(&rows, &missing);
                Ok(())
            }
            Err(error) if error.as_db_error().is_some() => {
                tracing::debug!(error = %error, "statement texts unavailable");
                self.statements.add_texts(&[], &missing);
                Ok(())
            }
            Err(error) => Err(Failure::Driver {
                step: "read pg_stat_statements texts",
                error,
            }),
        }
    }
}

impl Source for PostgresSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

pub(crate) fn parse_target(
    url: &str,
    tls_ca: Option<&Path>,
    deadline: Duration,
) -> Result<Target, String> {
    let parsed = crate::config::urls::postgres(url)
        .map_err(|p| format!("postgres url {}: {}: {}", mask_url(url), p.message, p.hint))?;
    let mut config = parsed.config;
    if config.get_application_name().is_none() {
        config.application_name("mastop");
    }
    // A backstop for use outside the scheduler; the scheduler's deadline is what decides.
    config.connect_timeout(deadline.saturating_mul(2));
    Ok(Target {
        addr: parsed.addr,
        user: parsed.user,
        database: parsed.database,
        config,
        tls_ca: tls_ca.map(Path::to_path_buf),
    })
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
    if let Some(hint) = tls::explain(error, target.tls_ca.as_deref()) {
        return PollError::Failed(format!("postgres at {addr}: {step} failed: {hint}"));
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
        let hint = network_hint(io, "the url").unwrap_or_else(|| io.to_string());
        return PollError::Failed(format!("{what} failed: {hint}"));
    }
    PollError::Failed(format!("{what} failed: {}", error_chain(error)))
}

/// The session is gone (server restart, terminated backend, cut network), as opposed to a
/// server that answered with an error.
pub(crate) fn connection_lost(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || io_cause(error).is_some()
        || matches!(error.code(), Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN)
}

pub(crate) fn io_cause(error: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

/// What to check when a connection fails at the network level; `None` for failures with no
/// better advice than the error itself. `url_key` names where the host was configured.
pub(crate) fn network_hint(io: &std::io::Error, url_key: &str) -> Option<String> {
    use std::io::ErrorKind as K;
    Some(match io.kind() {
        K::ConnectionRefused => {
            "connection refused — is PostgreSQL running and listening there?".into()
        }
        K::TimedOut => "timed out — check the host, the port and any firewall in between".into(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            "the connection was cut — the server restarted or something in between dropped it"
                .into()
        }
        K::NotFound => format!("no such host or socket — check the host in {url_key}"),
        _ => return None,
    })
}

/// The error with every cause behind it, for messages with nothing more specific to say.
pub(crate) fn error_chain(error: &tokio_postgres::Error) -> String {
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
            None,
            Duration::from_secs(1),
        )
        .expect("valid");
        assert_eq!(t.addr, "db.internal:5433");
        assert_eq!(t.database, "mastodon");
        assert_eq!(t.config.get_application_name(), Some("mastop"));
        let err = parse_target(
            "postgres://:hunter2@db.internal/x",
            None,
            Duration::from_secs(1),
        )
        .err()
        .expect("no user");
        assert!(err.contains("no user") && !err.contains("hunter2"), "{err}");
        let err = parse_target(
            "postgres://mon:hunter2@db:notaport/x",
            None,
            Duration::from_secs(1),
        )
        .err()
        .expect("bad port");
        assert!(!err.contains("hunter2"), "{err}");
        let custom = parse_target(
            "postgres://mon@db/x?application_name=mastop-alice",
            None,
            Duration::from_secs(1),
        )
        .expect("valid");
        assert_eq!(custom.config.get_application_name(), Some("mastop-alice"));
    }
}
