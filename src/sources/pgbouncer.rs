//! PgBouncer, through its admin console: per-pool client and server connections
//! (`SHOW POOLS`), pool sizes (`SHOW DATABASES`) and traffic (`SHOW STATS`).
//!
//! The console speaks only the simple query protocol, so every command goes through
//! `simple_query`, and columns are read by name: PgBouncer adds and reorders them between
//! versions. mastop never sends `SHOW CLIENTS` or `SHOW SERVERS` (they list client
//! addresses), nor `SET`, which on this console changes PgBouncer's own configuration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use super::postgres::{Target, connection_lost, io_cause, parse_target};
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{CachedSecret, Defaults, EndpointConfig};
use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::{Detail, Figure, Finding, Level, Reading, TableData, Threshold, Unit};
use crate::net::postgres as tls;

pub use crate::model::kinds::pgbouncer::{FIGURES, KIND};

/// Any client queued for a server connection is a user waiting.
const CLIENTS_WAITING: Threshold = Threshold::above(1.0, 20.0);
/// "If this starts increasing, the pool does not handle requests quickly enough."
const MAX_WAIT: Threshold = Threshold::above(1.0, 5.0);
const AVG_WAIT_MS: Threshold = Threshold::above(10.0, 100.0);

/// The console's own virtual database: not a pool anyone's queries wait in.
const ADMIN_DB: &str = "pgbouncer";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub database: String,
    pub user: String,
    pub pool_mode: Option<String>,
    pub cl_active: i64,
    pub cl_waiting: i64,
    pub sv_active: i64,
    pub sv_idle: i64,
    pub sv_used: i64,
    pub sv_tested: i64,
    pub sv_login: i64,
    /// How long the oldest waiting client has waited.
    pub maxwait_s: f64,
    /// From `SHOW DATABASES`; `None` when that database has no row there.
    pub pool_size: Option<i64>,
}

impl Pool {
    /// Clients queue, or every server connection is busy with none idle.
    pub fn saturated(&self) -> bool {
        self.cl_waiting > 0
            || self
                .pool_size
                .is_some_and(|size| size > 0 && self.sv_active >= size && self.sv_idle == 0)
    }
    fn used_pct(&self) -> Option<f64> {
        self.pool_size
            .filter(|s| *s > 0)
            .map(|s| self.sv_active as f64 * 100.0 / s as f64)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseStats {
    pub database: String,
    pub total_xact_count: i64,
    pub total_query_count: i64,
    /// Microseconds clients spent waiting for a server, since PgBouncer started.
    pub total_wait_time_us: i64,
    /// Averages over PgBouncer's last `stats_period`.
    pub avg_query_count: i64,
    pub avg_query_time_us: i64,
    pub avg_wait_time_us: i64,
    /// From the change in `total_query_count` since the previous poll.
    pub queries_per_sec: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PgBouncerReading {
    pub pools: Vec<Pool>,
    pub stats: Vec<DatabaseStats>,
}

impl PgBouncerReading {
    fn app_pools(&self) -> impl Iterator<Item = &Pool> {
        self.pools.iter().filter(|p| p.database != ADMIN_DB)
    }
}

impl Reading for PgBouncerReading {
    fn figures(&self) -> Vec<Figure> {
        let waiting: i64 = self.app_pools().map(|p| p.cl_waiting).sum();
        let max_wait = self.app_pools().map(|p| p.maxwait_s).fold(0.0, f64::max);
        let mut figures = vec![
            Figure::new(
                "clients_waiting",
                "clients waiting",
                waiting as f64,
                Unit::Count,
            )
            .with_threshold(CLIENTS_WAITING),
            Figure::new("max_wait_s", "longest wait", max_wait, Unit::Seconds)
                .with_threshold(MAX_WAIT),
        ];
        if let Some(used) = self.app_pools().filter_map(Pool::used_pct).reduce(f64::max) {
            figures.push(Figure::new(
                "pool_used_pct",
                "busiest pool",
                used,
                Unit::Percent,
            ));
        }
        let stats = || self.stats.iter().filter(|s| s.database != ADMIN_DB);
        let rates: Vec<f64> = stats().filter_map(|s| s.queries_per_sec).collect();
        if !rates.is_empty() {
            figures.push(Figure::new(
                "queries_per_sec",
                "queries",
                rates.iter().sum(),
                Unit::PerSecond,
            ));
        }
        if let Some(wait) = stats().map(|s| s.avg_wait_time_us).max() {
            figures.push(
                Figure::new(
                    "avg_wait_ms",
                    "average wait for a server",
                    wait as f64 / 1000.0,
                    Unit::Millis,
                )
                .with_threshold(AVG_WAIT_MS),
            );
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some("clients_waiting")
    }

    fn findings(&self) -> Vec<Finding> {
        self.app_pools()
            .filter(|p| p.cl_waiting == 0 && p.saturated())
            .map(|p| {
                Finding::warn(format!(
                    "pool {}/{} has every server connection busy ({} of {}): the next client will queue",
                    p.database,
                    p.user,
                    p.sv_active,
                    p.pool_size.unwrap_or(0)
                ))
            })
            .collect()
    }

    fn summary(&self) -> String {
        let pools = self.app_pools().count();
        let clients: i64 = self.app_pools().map(|p| p.cl_active + p.cl_waiting).sum();
        let servers: i64 = self
            .app_pools()
            .map(|p| p.sv_active + p.sv_idle + p.sv_used + p.sv_tested + p.sv_login)
            .sum();
        format!("{pools} pools · {clients} clients · {servers} server conns")
    }

    fn detail(&self) -> Detail {
        Detail::default()
            .table("pools", pools_table(&self.pools))
            .table("stats", stats_table(&self.stats))
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn count(v: i64) -> Cell {
    Cell::number(v.to_string(), v as f64)
}

fn pools_table(pools: &[Pool]) -> TableData {
    TableData {
        columns: vec![
            Column::text("database", 16),
            Column::text("user", 14),
            Column::text("mode", 11).optional(2),
            Column::number("cl active", 9),
            Column::number("cl waiting", 10),
            Column::number("sv active", 9),
            Column::number("sv idle", 7),
            Column::number("sv used", 7).optional(1),
            Column::number("pool size", 9),
            Column::number("max wait", 9),
            Column::text("", 10),
        ],
        rows: pools
            .iter()
            .map(|p| {
                let saturated = p.database != ADMIN_DB && p.saturated();
                TableRow {
                    key: Some(format!("{}/{}", p.database, p.user)),
                    cells: vec![
                        Cell::text(p.database.clone()),
                        Cell::text(p.user.clone()),
                        Cell::text(p.pool_mode.clone().unwrap_or_default()),
                        count(p.cl_active),
                        count(p.cl_waiting),
                        count(p.sv_active),
                        count(p.sv_idle),
                        count(p.sv_used),
                        p.pool_size.map_or(Cell::text(""), count),
                        Cell::number(format_value(p.maxwait_s, Unit::Seconds), p.maxwait_s),
                        Cell::text(if saturated { "saturated" } else { "" }),
                    ],
                    level: if p.cl_waiting > 0 && p.maxwait_s >= MAX_WAIT.crit {
                        Some(Level::Crit)
                    } else if saturated {
                        Some(Level::Warn)
                    } else {
                        None
                    },
                }
            })
            .collect(),
    }
}

fn stats_table(stats: &[DatabaseStats]) -> TableData {
    let us = |v: i64| Cell::number(format_value(v as f64 / 1000.0, Unit::Millis), v as f64);
    TableData {
        columns: vec![
            Column::text("database", 16),
            Column::number("queries/s", 10),
            Column::number("avg query", 10),
            Column::number("avg wait", 10),
            Column::number("queries", 12).optional(1),
            Column::number("transactions", 12).optional(2),
        ],
        rows: stats
            .iter()
            .map(|s| TableRow {
                key: None,
                cells: vec![
                    Cell::text(s.database.clone()),
                    match s.queries_per_sec {
                        Some(q) => Cell::number(format_value(q, Unit::PerSecond), q),
                        None => Cell::text(""),
                    },
                    us(s.avg_query_time_us),
                    us(s.avg_wait_time_us),
                    count(s.total_query_count),
                    count(s.total_xact_count),
                ],
                level: None,
            })
            .collect(),
    }
}

/// The rows of one console command, as name → text maps.
fn rows(messages: Vec<SimpleQueryMessage>) -> Vec<SimpleQueryRow> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .collect()
}

/// A text column by name; `None` when this version has no such column or it is NULL.
fn text(row: &SimpleQueryRow, name: &str) -> Option<String> {
    row.try_get(name).ok().flatten().map(str::to_string)
}

/// A number column by name; 0 when this version lacks it, so older PgBouncers still work.
fn int(row: &SimpleQueryRow, name: &str) -> i64 {
    row.try_get(name)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn parse_pools(rows: &[SimpleQueryRow], sizes: &HashMap<String, i64>) -> Vec<Pool> {
    rows.iter()
        .map(|r| {
            let database = text(r, "database").unwrap_or_default();
            Pool {
                pool_size: sizes.get(&database).copied(),
                user: text(r, "user").unwrap_or_default(),
                pool_mode: text(r, "pool_mode"),
                cl_active: int(r, "cl_active"),
                cl_waiting: int(r, "cl_waiting"),
                sv_active: int(r, "sv_active"),
                sv_idle: int(r, "sv_idle"),
                sv_used: int(r, "sv_used"),
                sv_tested: int(r, "sv_tested"),
                sv_login: int(r, "sv_login"),
                maxwait_s: int(r, "maxwait") as f64 + int(r, "maxwait_us") as f64 / 1e6,
                database,
            }
        })
        .collect()
}

fn parse_sizes(rows: &[SimpleQueryRow]) -> HashMap<String, i64> {
    rows.iter()
        .filter_map(|r| Some((text(r, "name")?, int(r, "pool_size"))))
        .collect()
}

fn parse_stats(
    rows: &[SimpleQueryRow],
    previous: Option<&(Instant, HashMap<String, i64>)>,
    now: Instant,
) -> Vec<DatabaseStats> {
    rows.iter()
        .map(|r| {
            let database = text(r, "database").unwrap_or_default();
            let total_query_count = int(r, "total_query_count");
            let queries_per_sec = previous.and_then(|(then, counts)| {
                let before = *counts.get(&database)?;
                let dt = now.duration_since(*then).as_secs_f64();
                (dt > 0.0 && total_query_count >= before)
                    .then(|| (total_query_count - before) as f64 / dt)
            });
            DatabaseStats {
                total_xact_count: int(r, "total_xact_count"),
                total_query_count,
                total_wait_time_us: int(r, "total_wait_time"),
                avg_query_count: int(r, "avg_query_count"),
                avg_query_time_us: int(r, "avg_query_time"),
                avg_wait_time_us: int(r, "avg_wait_time"),
                queries_per_sec,
                database,
            }
        })
        .collect()
}

struct Session {
    client: Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub struct PgBouncerSource {
    target: Result<Target, String>,
    password: CachedSecret,
    session: Option<Session>,
    previous: Option<(Instant, HashMap<String, i64>)>,
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(PgBouncerSource::new(config, schedule))
    })
}

impl PgBouncerSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        PgBouncerSource {
            target: parse_target(&config.url, config.tls_ca.as_deref(), schedule.deadline)
                .map_err(|e| e.replace("postgres url", "pgbouncer url")),
            password: CachedSecret::new(config.password.clone()),
            session: None,
            previous: None,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let target = self.target.clone().map_err(PollError::Failed)?;
        let reused = self.session.is_some();
        let mut session = match self.session.take() {
            Some(s) => s,
            None => self.connect(&target).await?,
        };
        let mut result = read(&session.client).await;
        if reused && matches!(&result, Err((_, e)) if connection_lost(e)) {
            drop(session);
            session = self.connect(&target).await?;
            result = read(&session.client).await;
        }
        let (pools, sizes, stats) = result.map_err(|(step, e)| describe(&target, step, &e))?;
        let now = Instant::now();
        let sizes = parse_sizes(&sizes);
        let reading = PgBouncerReading {
            pools: parse_pools(&pools, &sizes),
            stats: parse_stats(&stats, self.previous.as_ref(), now),
        };
        self.previous = Some((
            now,
            reading
                .stats
                .iter()
                .map(|s| (s.database.clone(), s.total_query_count))
                .collect(),
        ));
        self.session = Some(session);
        Ok(Arc::new(reading))
    }

    async fn connect(&mut self, target: &Target) -> Result<Session, PollError> {
        let mut config = target.config.clone();
        let backend = format!("pgbouncer at {}", target.addr);
        if let Some(password) = self
            .password
            .get(&backend)
            .await
            .map_err(PollError::Failed)?
        {
            config.password(password.expose_secret().as_bytes());
        }
        let label = format!("pgbouncer {}", target.addr);
        let (client, task) = tls::connect(&config, target.tls_ca.as_deref(), &label)
            .await
            .map_err(|error| match error {
                tls::ConnectError::Setup(text) => {
                    PollError::Failed(format!("pgbouncer at {}: {text}", target.addr))
                }
                tls::ConnectError::Driver(e) => {
                    if e.as_db_error().is_some() {
                        self.password.forget();
                    }
                    describe(target, "connect", &e)
                }
            })?;
        Ok(Session { client, task })
    }
}

type Answers = (
    Vec<SimpleQueryRow>,
    Vec<SimpleQueryRow>,
    Vec<SimpleQueryRow>,
);

/// The three commands, pipelined.
async fn read(client: &Client) -> Result<Answers, (&'static str, tokio_postgres::Error)> {
    let (pools, databases, stats) = tokio::join!(
        client.simple_query("SHOW POOLS"),
        client.simple_query("SHOW DATABASES"),
        client.simple_query("SHOW STATS"),
    );
    Ok((
        rows(pools.map_err(|e| ("SHOW POOLS", e))?),
        rows(databases.map_err(|e| ("SHOW DATABASES", e))?),
        rows(stats.map_err(|e| ("SHOW STATS", e))?),
    ))
}

fn describe(target: &Target, step: &str, error: &tokio_postgres::Error) -> PollError {
    let addr = &target.addr;
    if let Some(db) = error.as_db_error() {
        let msg = db.message();
        let refused = *db.code() == SqlState::INVALID_PASSWORD
            || *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            || *db.code() == SqlState::INSUFFICIENT_PRIVILEGE
            || msg.contains("not allowed")
            || msg.contains("denied")
            || msg.contains("authentication failed")
            || msg.contains("no such user");
        if refused {
            return PollError::Denied(format!(
                "pgbouncer at {addr}: {step} refused for user {}: {msg} — list the user in stats_users (or admin_users) and connect to the database `pgbouncer`",
                target.user
            ));
        }
        return PollError::Failed(format!("pgbouncer at {addr}: {step} failed: {msg}"));
    }
    if let Some(hint) = tls::explain(error, target.tls_ca.as_deref()) {
        return PollError::Failed(format!("pgbouncer at {addr}: {step} failed: {hint}"));
    }
    if let Some(io) = io_cause(error) {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return PollError::Failed(format!(
                "connect to {addr} failed: connection refused — is PgBouncer running and listening there?"
            ));
        }
        return PollError::Failed(format!("pgbouncer at {addr}: {step} failed: {io}"));
    }
    PollError::Failed(format!("pgbouncer at {addr}: {step} failed: {error}"))
}

impl Source for PgBouncerSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(cl_waiting: i64, sv_active: i64, sv_idle: i64, size: Option<i64>) -> Pool {
        Pool {
            database: "mastodon".into(),
            user: "mastodon".into(),
            pool_mode: Some("transaction".into()),
            cl_active: 10,
            cl_waiting,
            sv_active,
            sv_idle,
            sv_used: 0,
            sv_tested: 0,
            sv_login: 0,
            maxwait_s: if cl_waiting > 0 { 2.5 } else { 0.0 },
            pool_size: size,
        }
    }

    #[test]
    fn saturation_is_queued_clients_or_a_full_pool() {
        assert!(pool(3, 20, 0, Some(20)).saturated());
        assert!(pool(0, 20, 0, Some(20)).saturated());
        assert!(!pool(0, 19, 1, Some(20)).saturated());
        assert!(!pool(0, 20, 0, None).saturated());
    }

    #[test]
    fn queued_clients_warn_and_the_admin_pool_is_ignored() {
        let admin = Pool {
            database: ADMIN_DB.into(),
            cl_waiting: 50,
            ..pool(0, 0, 0, None)
        };
        let reading = PgBouncerReading {
            pools: vec![pool(3, 20, 0, Some(20)), admin],
            stats: Vec::new(),
        };
        let figures = reading.figures();
        let waiting = figures.iter().find(|f| f.key == "clients_waiting");
        assert_eq!(waiting.map(|f| f.value), Some(3.0));
        let used = figures.iter().find(|f| f.key == "pool_used_pct");
        assert_eq!(used.map(|f| f.value), Some(100.0));
        for f in &figures {
            assert!(FIGURES.iter().any(|s| s.key == f.key), "{}", f.key);
        }
        let table = pools_table(&reading.pools);
        assert_eq!(table.rows[0].level, Some(Level::Warn));
        assert_eq!(table.rows[1].level, None);
    }
}
