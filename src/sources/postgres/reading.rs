//! What one poll of a PostgreSQL node says, and how it reads on screen.

use serde::{Deserialize, Serialize};

use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::health::figure_level;
use crate::model::{Detail, Figure, Finding, Level, Reading, TableData, Unit};

use super::sessions::Sessions;
use super::thresholds::{
    CACHE_HIT, CONNECTIONS_USED, IDLE_IN_XACT, LOCK_WAITING, LONGEST_XACT, REPLICATION_LAG,
};
use super::views::Views;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostgresReading {
    pub server: ServerInfo,
    pub connections: Connections,
    pub sessions: Sessions,
    pub database: DatabaseStats,
    /// Present when the node is in recovery (a streaming or archive replica).
    pub replica: Option<ReplicaStatus>,
    /// Activity, blocking, replication, vacuum and query views, each read on its own
    /// cadence; a view is `None` until first read or while the server refuses it.
    pub views: Views,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerInfo {
    /// `server_version`, e.g. `15.8 (Debian 15.8-0+deb12u1)`.
    pub version: String,
    pub version_num: i32,
    /// The database mastop is connected to.
    pub database: String,
    pub in_recovery: bool,
    pub uptime_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Connections {
    /// Client backends, mastop's own included (it takes a slot too).
    pub total: i64,
    pub max_connections: i64,
    /// `superuser_reserved_connections` plus, on PostgreSQL 16+, `reserved_connections`.
    pub reserved: i64,
    /// `total` as a percentage of the slots ordinary roles may use (max minus reserved):
    /// the app gets "too many clients" at 100.
    pub used_pct: f64,
}

/// Instance-wide counters from `pg_stat_database`, plus the size of the connected database.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DatabaseStats {
    pub size_bytes: Option<i64>,
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub blks_hit: i64,
    pub blks_read: i64,
    pub deadlocks: i64,
    pub temp_files: i64,
    pub temp_bytes: i64,
    /// Buffer cache hits over the last poll interval, or since the statistics were reset
    /// when the interval saw too little I/O to say.
    pub cache_hit_pct: Option<f64>,
    /// Commits plus rollbacks per second over the last poll interval.
    pub xact_per_sec: Option<f64>,
    pub deadlocks_since_last_poll: i64,
    /// Rollbacks as a share of transactions over the last poll interval.
    pub rollback_pct: Option<f64>,
    pub temp_files_since_last_poll: i64,
    pub temp_bytes_per_sec: Option<f64>,
    /// Growth of the connected database between the last two size readings.
    pub growth_bytes_per_sec: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// Seconds behind the primary; 0 when everything received has been replayed, so an
    /// idle primary does not look like a lagging replica. `None` before the first replay.
    pub lag_s: Option<f64>,
    /// WAL received but not yet replayed.
    pub replay_backlog_bytes: Option<f64>,
    pub replay_paused: bool,
    /// `pg_stat_wal_receiver.status`: `streaming` when healthy; `None` without a receiver
    /// (archive recovery, or the receiver is restarting).
    pub receiver: Option<String>,
}

impl PostgresReading {
    fn role(&self) -> &'static str {
        if self.server.in_recovery {
            "replica"
        } else {
            "primary"
        }
    }
}

impl Reading for PostgresReading {
    fn figures(&self) -> Vec<Figure> {
        let s = &self.sessions;
        let mut figures = vec![
            Figure::new(
                "connections_used_pct",
                "connections used",
                self.connections.used_pct,
                Unit::Percent,
            )
            .with_threshold(CONNECTIONS_USED),
            Figure::new(
                "connections",
                "connections",
                self.connections.total as f64,
                Unit::Count,
            ),
            Figure::new(
                "active_sessions",
                "active sessions",
                s.active as f64,
                Unit::Count,
            ),
            Figure::new(
                "idle_in_xact_sessions",
                "idle in transaction",
                s.idle_in_transaction as f64,
                Unit::Count,
            ),
            Figure::new(
                "lock_waiting_sessions",
                "waiting on locks",
                s.waiting_on_lock as f64,
                Unit::Count,
            )
            .with_threshold(LOCK_WAITING),
            Figure::new(
                "longest_xact_s",
                "longest transaction",
                s.longest_xact_s.unwrap_or(0.0),
                Unit::Seconds,
            )
            .with_threshold(LONGEST_XACT),
            Figure::new(
                "idle_in_xact_max_s",
                "longest idle in transaction",
                s.idle_in_xact_max_s.unwrap_or(0.0),
                Unit::Seconds,
            )
            .with_threshold(IDLE_IN_XACT),
        ];
        if let Some(replica) = &self.replica {
            // Unknown lag on a replica is shown as unknown, not as zero.
            let lag = replica.lag_s.unwrap_or(f64::NAN);
            figures.push(
                Figure::new("replication_lag_s", "replication lag", lag, Unit::Seconds)
                    .with_threshold(REPLICATION_LAG),
            );
        }
        if let Some(pct) = self.database.cache_hit_pct {
            figures.push(
                Figure::new("cache_hit_pct", "cache hit", pct, Unit::Percent)
                    .with_threshold(CACHE_HIT),
            );
        }
        if let Some(rate) = self.database.xact_per_sec {
            figures.push(Figure::new(
                "xact_per_sec",
                "transactions",
                rate,
                Unit::PerSecond,
            ));
        }
        if let Some(size) = self.database.size_bytes {
            figures.push(Figure::new(
                "database_size_bytes",
                "database size",
                size as f64,
                Unit::Bytes,
            ));
        }
        if let Some(pct) = self.database.rollback_pct {
            figures.push(Figure::new("rollback_pct", "rollbacks", pct, Unit::Percent));
        }
        figures.extend(self.views.figures());
        figures
    }

    /// A replica's health is how far behind it is; a primary's is how full it is.
    fn key_figure(&self) -> Option<&'static str> {
        let lag_known = self.replica.as_ref().is_some_and(|r| r.lag_s.is_some());
        Some(if lag_known {
            "replication_lag_s"
        } else {
            "connections_used_pct"
        })
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.replica.as_ref().is_some_and(|r| r.replay_paused) {
            findings.push(Finding::warn(
                "WAL replay is paused on this replica; it falls further behind until resumed",
            ));
        }
        let aborted = self.sessions.idle_in_transaction_aborted;
        if aborted > 0 {
            findings.push(Finding::warn(format!(
                "{aborted} session(s) idle in an aborted transaction: a client failed mid-transaction and never rolled back"
            )));
        }
        let deadlocks = self.database.deadlocks_since_last_poll;
        if deadlocks > 0 {
            findings.push(Finding::warn(format!(
                "{deadlocks} deadlock(s) since the last poll"
            )));
        }
        if let Some(r) = &self.replica {
            match r.receiver.as_deref() {
                Some("streaming") => {}
                Some(other) => findings.push(Finding::warn(format!(
                    "WAL receiver is {other}, not streaming: this replica gets no new data"
                ))),
                None => findings.push(Finding::warn(
                    "no WAL receiver: this replica is not connected to its primary",
                )),
            }
        }
        findings.extend(self.views.findings());
        findings
    }

    fn summary(&self) -> String {
        let version = self
            .server
            .version
            .split_whitespace()
            .next()
            .unwrap_or_default();
        let mut line = format!(
            "PostgreSQL {version} · {} · {}/{} conns",
            self.role(),
            self.connections.total,
            self.connections.max_connections
        );
        if self.sessions.hidden > 0 {
            line.push_str(&format!(" · {} hidden", self.sessions.hidden));
        }
        line
    }

    fn detail(&self) -> Detail {
        let db = &self.database;
        let opt =
            |v: Option<f64>, unit| v.map_or_else(|| "—".to_string(), |v| format_value(v, unit));
        let mut pairs = vec![
            ("version", self.server.version.clone()),
            ("role", self.role().to_string()),
            ("database", self.server.database.clone()),
            ("uptime", format_value(self.server.uptime_s, Unit::Seconds)),
            (
                "connections",
                format!(
                    "{} of {} ({} reserved) · {}",
                    self.connections.total,
                    self.connections.max_connections,
                    self.connections.reserved,
                    format_value(self.connections.used_pct, Unit::Percent)
                ),
            ),
            (
                "database size",
                opt(db.size_bytes.map(|b| b as f64), Unit::Bytes),
            ),
            (
                "transactions",
                format!(
                    "{} committed, {} rolled back",
                    db.xact_commit, db.xact_rollback
                ),
            ),
        ];
        if let Some(r) = &self.replica {
            pairs.push(("replication lag", opt(r.lag_s, Unit::Seconds)));
            pairs.push(("replay backlog", opt(r.replay_backlog_bytes, Unit::Bytes)));
            pairs.push((
                "replay",
                if r.replay_paused { "paused" } else { "running" }.to_string(),
            ));
            pairs.push((
                "WAL receiver",
                r.receiver.clone().unwrap_or_else(|| "none".into()),
            ));
        }
        if self.sessions.hidden > 0 {
            pairs.push((
                "visibility",
                format!(
                    "{} session(s) of other roles hidden: grant pg_monitor (pg_read_all_stats) to see their state",
                    self.sessions.hidden
                ),
            ));
        }
        let throughput = vec![
            ("transactions/s", opt(db.xact_per_sec, Unit::PerSecond)),
            ("rollbacks", opt(db.rollback_pct, Unit::Percent)),
            ("cache hit", opt(db.cache_hit_pct, Unit::Percent)),
            (
                "deadlocks",
                format!(
                    "{} since the last poll, {} since the statistics reset",
                    db.deadlocks_since_last_poll, db.deadlocks
                ),
            ),
            (
                "temp files",
                format!(
                    "{} since the last poll ({}/s); {} ({}) since the statistics reset",
                    db.temp_files_since_last_poll,
                    opt(db.temp_bytes_per_sec, Unit::Bytes),
                    db.temp_files,
                    format_value(db.temp_bytes as f64, Unit::Bytes)
                ),
            ),
            (
                "database growth",
                format!("{}/s", opt(db.growth_bytes_per_sec, Unit::Bytes)),
            ),
        ];
        let detail = Detail::default()
            .pairs("server", pairs)
            .table("connections by state", self.state_table());
        self.views.sections(detail, &self.sessions, throughput)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// An activity or blocking row's query as the server sent it, literals included.
    fn private(&self, _table: &str, key: &str) -> Option<String> {
        let activity = self.views.activity.as_ref()?;
        activity
            .backends
            .iter()
            .find(|b| b.key() == key)
            .map(|b| b.raw_query.reveal().to_string())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl PostgresReading {
    fn state_table(&self) -> TableData {
        let s = &self.sessions;
        let age = |v: Option<f64>| v.map_or_else(String::new, |v| format_value(v, Unit::Seconds));
        let idle_level = s
            .idle_in_xact_max_s
            .map(|v| figure_level(v, &IDLE_IN_XACT))
            .filter(|l| *l != Level::Ok);
        let mut rows = vec![
            state_row("active", s.active, String::new(), None),
            state_row("idle", s.idle, String::new(), None),
            state_row(
                "idle in transaction",
                s.idle_in_transaction,
                age(s.idle_in_xact_max_s),
                idle_level,
            ),
            state_row(
                "idle in transaction (aborted)",
                s.idle_in_transaction_aborted,
                String::new(),
                (s.idle_in_transaction_aborted > 0).then_some(Level::Warn),
            ),
            state_row(
                "waiting on a lock",
                s.waiting_on_lock,
                String::new(),
                (s.waiting_on_lock > 0).then_some(Level::Warn),
            ),
        ];
        if s.hidden > 0 {
            rows.push(state_row(
                "hidden (no pg_read_all_stats)",
                s.hidden,
                String::new(),
                None,
            ));
        }
        TableData {
            columns: vec![
                Column::text("state", 30),
                Column::number("sessions", 8),
                Column::number("longest", 9),
            ],
            rows,
        }
    }
}

fn state_row(state: &str, count: i64, longest: String, level: Option<Level>) -> TableRow {
    TableRow {
        key: None,
        cells: vec![
            Cell::text(state),
            Cell::number(count.to_string(), count as f64),
            Cell::text(longest),
        ],
        level,
    }
}

/// Connections as a share of what ordinary roles may open; reserved slots are for superusers.
pub(super) fn used_pct(total: i64, max_connections: i64, reserved: i64) -> f64 {
    let usable = (max_connections - reserved).max(1);
    total as f64 * 100.0 / usable as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kinds::postgres::FIGURES;

    fn stats() -> DatabaseStats {
        DatabaseStats {
            cache_hit_pct: Some(99.0),
            ..DatabaseStats::default()
        }
    }

    #[test]
    fn used_pct_counts_against_slots_ordinary_roles_may_use() {
        assert_eq!(used_pct(47, 100, 3), 47.0 * 100.0 / 97.0);
        assert_eq!(used_pct(0, 100, 3), 0.0);
        // a misconfigured server never divides by zero
        assert_eq!(used_pct(3, 3, 3), 300.0);
    }

    #[test]
    fn figures_are_all_declared() {
        use crate::sources::postgres::views::tests::full_views;
        let reading = PostgresReading {
            server: ServerInfo {
                version: "15.8".into(),
                version_num: 150008,
                database: "postgres".into(),
                in_recovery: true,
                uptime_s: 10.0,
            },
            connections: Connections {
                total: 5,
                max_connections: 100,
                reserved: 3,
                used_pct: used_pct(5, 100, 3),
            },
            sessions: Sessions::default(),
            database: DatabaseStats {
                size_bytes: Some(1),
                xact_per_sec: Some(1.0),
                rollback_pct: Some(0.5),
                ..stats()
            },
            replica: Some(ReplicaStatus {
                lag_s: None,
                replay_backlog_bytes: None,
                replay_paused: true,
                receiver: Some("streaming".into()),
            }),
            views: full_views(),
        };
        let figures = reading.figures();
        for f in &figures {
            assert!(
                FIGURES.iter().any(|s| s.key == f.key),
                "{} missing from FIGURES",
                f.key
            );
        }
        assert_eq!(
            figures.len(),
            FIGURES.len(),
            "every declared figure appears when every input is known"
        );
        let lag = figures
            .iter()
            .find(|f| f.key == "replication_lag_s")
            .expect("lag on a replica");
        assert!(lag.value.is_nan(), "unknown lag is not shown as zero");
        assert!(
            reading
                .findings()
                .iter()
                .any(|f| f.message.contains("paused"))
        );
        assert!(
            reading.to_json()["replica"]["replay_paused"]
                .as_bool()
                .unwrap_or(false)
        );
    }
}
