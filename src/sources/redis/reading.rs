//! What one `INFO` says about a Redis instance, and how it reads on screen.

use serde::{Deserialize, Serialize};

use super::extras::RedisExtras;
use super::known::KnownPeers;
use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::{Detail, Figure, Finding, Level, Reading, TableData, Threshold, Unit};

/// Of `maxmemory`: near it Redis evicts keys or, with `noeviction` (Sidekiq), refuses writes.
const MEMORY_USED: Threshold = Threshold::above(80.0, 90.0);
/// Fragmentation only means something once Redis holds real data; below this the ratio
/// of a nearly empty instance is large and harmless.
const FRAGMENTATION_MIN_BYTES: u64 = 64 * 1024 * 1024;
const FRAGMENTATION: Threshold = Threshold::above(1.5, 2.5);
/// A master pings its replicas every 10 s by default; the link times out at 60 s.
const MASTER_LAST_IO: Threshold = Threshold::above(30.0, 60.0);
/// Seconds since a replica last acknowledged; replicas acknowledge every second.
const REPLICA_LAG: Threshold = Threshold::above(5.0, 30.0);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RedisReading {
    pub version: String,
    /// `standalone`, `sentinel` or `cluster`.
    pub mode: String,
    /// `master` or `slave`, as Redis says it.
    pub role: String,
    pub uptime_s: u64,
    pub used_memory: u64,
    pub used_memory_peak: u64,
    pub used_memory_rss: u64,
    /// 0 means no limit.
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub mem_fragmentation_ratio: Option<f64>,
    pub connected_clients: u64,
    pub blocked_clients: u64,
    pub maxclients: Option<u64>,
    pub ops_per_sec: f64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Hits among key lookups over the last poll interval, or since the server started when
    /// the interval saw too few lookups to say.
    pub hit_ratio_pct: Option<f64>,
    pub evicted_keys: u64,
    pub expired_keys: u64,
    pub rejected_connections: u64,
    pub keyspace: Vec<KeyspaceDb>,
    pub persistence: Persistence,
    pub replication: Replication,
    /// Slow log and latency monitor, read on a slow cadence; `None` until first read.
    pub extras: Option<RedisExtras>,
    /// What the configuration says about this Redis's neighbours, judged here. It travels
    /// with the reading so a console watching through the ops store, which has no
    /// configuration of its own, reaches the same verdicts (a hijacked master, eviction
    /// under Sidekiq).
    #[serde(default, skip_serializing_if = "KnownPeers::is_unset")]
    pub known: KnownPeers,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyspaceDb {
    pub db: u32,
    pub keys: u64,
    pub expires: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Persistence {
    pub loading: bool,
    /// `ok` or `err`; with `err` and the default `stop-writes-on-bgsave-error`, Redis
    /// refuses every write.
    pub rdb_last_bgsave_status: String,
    pub rdb_changes_since_last_save: u64,
    pub aof_enabled: bool,
    pub aof_last_write_status: String,
    pub aof_last_bgrewrite_status: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Replication {
    /// On a replica: the master it follows, as `REPLICAOF` set it.
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    /// On a replica: `up` or `down`.
    pub master_link_status: Option<String>,
    /// On a replica: seconds since the last interaction with the master.
    pub master_last_io_s: Option<i64>,
    /// On a replica whose link is down: for how long.
    pub master_link_down_s: Option<i64>,
    pub master_sync_in_progress: bool,
    pub connected_replicas: u64,
    /// On a master: each attached replica.
    pub replicas: Vec<ReplicaLink>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaLink {
    pub addr: String,
    pub state: String,
    pub offset: u64,
    /// Seconds since the replica last acknowledged.
    pub lag_s: Option<u64>,
}

impl RedisReading {
    pub fn is_replica(&self) -> bool {
        self.role == "slave" || self.role == "replica"
    }

    fn memory_used_pct(&self) -> Option<f64> {
        (self.maxmemory > 0).then(|| self.used_memory as f64 * 100.0 / self.maxmemory as f64)
    }

    pub fn total_keys(&self) -> u64 {
        self.keyspace.iter().map(|d| d.keys).sum()
    }
}

impl Reading for RedisReading {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        if let Some(pct) = self.memory_used_pct() {
            figures.push(
                Figure::new("memory_used_pct", "memory used", pct, Unit::Percent)
                    .with_threshold(MEMORY_USED),
            );
        }
        figures.push(Figure::new(
            "used_memory_bytes",
            "memory",
            self.used_memory as f64,
            Unit::Bytes,
        ));
        let mut clients = Figure::new(
            "connected_clients",
            "clients",
            self.connected_clients as f64,
            Unit::Count,
        );
        if let Some(max) = self.maxclients.filter(|m| *m > 0) {
            clients = clients.with_threshold(Threshold::above(max as f64 * 0.8, max as f64 * 0.95));
        }
        figures.push(clients);
        figures.push(Figure::new(
            "blocked_clients",
            "blocked clients",
            self.blocked_clients as f64,
            Unit::Count,
        ));
        figures.push(Figure::new(
            "ops_per_sec",
            "ops",
            self.ops_per_sec,
            Unit::PerSecond,
        ));
        if let Some(pct) = self.hit_ratio_pct {
            figures.push(Figure::new(
                "hit_ratio_pct",
                "hit ratio",
                pct,
                Unit::Percent,
            ));
        }
        figures.push(Figure::new(
            "evicted_keys",
            "evicted keys",
            self.evicted_keys as f64,
            Unit::Count,
        ));
        if let Some(ratio) = self.mem_fragmentation_ratio {
            let mut f = Figure::new("fragmentation_ratio", "fragmentation", ratio, Unit::Ratio);
            if self.used_memory >= FRAGMENTATION_MIN_BYTES {
                f = f.with_threshold(FRAGMENTATION);
            }
            figures.push(f);
        }
        if self.is_replica() {
            // Unknown while the link is down; the link finding says why.
            let io = self
                .replication
                .master_last_io_s
                .map_or(f64::NAN, |s| s as f64);
            figures.push(
                Figure::new("master_last_io_s", "since master I/O", io, Unit::Seconds)
                    .with_threshold(MASTER_LAST_IO),
            );
        }
        if let Some(lag) = self
            .replication
            .replicas
            .iter()
            .filter_map(|r| r.lag_s)
            .max()
        {
            figures.push(
                Figure::new("replica_lag_s", "replica lag", lag as f64, Unit::Seconds)
                    .with_threshold(REPLICA_LAG),
            );
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some(if self.maxmemory > 0 {
            "memory_used_pct"
        } else {
            "ops_per_sec"
        })
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let p = &self.persistence;
        if p.rdb_last_bgsave_status == "err" {
            findings.push(Finding::crit(
                "last RDB save failed: Redis refuses writes until a save succeeds (stop-writes-on-bgsave-error; the MISCONF outage) — check disk space and permissions of its data dir",
            ));
        }
        if p.aof_enabled && p.aof_last_write_status == "err" {
            findings.push(Finding::crit(
                "last AOF write failed: Redis refuses writes until it succeeds (the MISCONF outage) — check disk space and permissions of its data dir",
            ));
        }
        if p.aof_enabled && p.aof_last_bgrewrite_status == "err" {
            findings.push(Finding::warn(
                "last AOF rewrite failed — the AOF keeps growing",
            ));
        }
        if p.loading {
            findings.push(Finding::warn(
                "loading its dataset from disk: commands are refused until it finishes",
            ));
        }
        if self.maxmemory > 0
            && self.used_memory >= self.maxmemory
            && self.maxmemory_policy == "noeviction"
        {
            findings.push(Finding::crit(
                "memory full with maxmemory-policy noeviction: writes fail with OOM",
            ));
        }
        if self.is_replica() {
            let r = &self.replication;
            match r.master_link_status.as_deref() {
                Some("up") | None => {}
                Some(status) => {
                    let since = r
                        .master_link_down_s
                        .map(|s| format!(" for {}", format_value(s as f64, Unit::Seconds)));
                    findings.push(Finding::crit(format!(
                        "link to the master is {status}{}: this replica serves stale data",
                        since.unwrap_or_default()
                    )));
                }
            }
            if r.master_sync_in_progress {
                findings.push(Finding::warn(
                    "full resynchronisation from the master in progress",
                ));
            }
        }
        if self.is_replica()
            && !self.known.is_empty()
            && let Some(host) = &self.replication.master_host
        {
            let port = self.replication.master_port.unwrap_or(6379);
            if !self.known.knows(host, port) {
                findings.push(Finding::crit(format!(
                    "replica of {}:{port}, a master in neither the config nor the inventory: a hijacked Redis (REPLICAOF from outside, as when a firewall did not come back) copies that host's data and serves it",
                    crate::sanitize::sanitize(host)
                )));
            }
        }
        if self.known.used_by_sidekiq
            && !self.maxmemory_policy.is_empty()
            && self.maxmemory_policy != "noeviction"
        {
            findings.push(Finding::warn(format!(
                "Sidekiq keeps its jobs here but maxmemory-policy is {}: under memory pressure Redis evicts queued jobs silently (lost jobs; set noeviction)",
                crate::sanitize::sanitize(&self.maxmemory_policy)
            )));
        }
        if let Some(ratio) = self.mem_fragmentation_ratio
            && ratio < 1.0
            && self.used_memory >= FRAGMENTATION_MIN_BYTES
        {
            findings.push(Finding::warn(format!(
                "resident memory is below used memory (fragmentation {ratio:.2}): part of Redis is swapped out"
            )));
        }
        findings
    }

    fn summary(&self) -> String {
        format!(
            "Redis {} · {} · {} · {} keys",
            self.version,
            if self.is_replica() {
                "replica"
            } else {
                "master"
            },
            format_value(self.used_memory as f64, Unit::Bytes),
            self.total_keys()
        )
    }

    fn detail(&self) -> Detail {
        let bytes = |v: u64| format_value(v as f64, Unit::Bytes);
        let p = &self.persistence;
        let r = &self.replication;
        let mut pairs = vec![
            ("version", self.version.clone()),
            ("role", self.role.clone()),
            ("mode", self.mode.clone()),
            ("uptime", format_value(self.uptime_s as f64, Unit::Seconds)),
            (
                "memory",
                format!(
                    "{} used · {} peak · {} resident",
                    bytes(self.used_memory),
                    bytes(self.used_memory_peak),
                    bytes(self.used_memory_rss)
                ),
            ),
            (
                "maxmemory",
                if self.maxmemory > 0 {
                    format!("{} ({})", bytes(self.maxmemory), self.maxmemory_policy)
                } else {
                    format!("no limit ({})", self.maxmemory_policy)
                },
            ),
            (
                "fragmentation",
                self.mem_fragmentation_ratio
                    .map_or_else(|| "—".into(), |v| format!("{v:.2}")),
            ),
            (
                "clients",
                format!(
                    "{} connected · {} blocked{}",
                    self.connected_clients,
                    self.blocked_clients,
                    self.maxclients
                        .map(|m| format!(" · max {m}"))
                        .unwrap_or_default()
                ),
            ),
            ("ops/s", format_value(self.ops_per_sec, Unit::Count)),
            (
                "hit ratio",
                self.hit_ratio_pct
                    .map_or_else(|| "—".into(), |v| format_value(v, Unit::Percent)),
            ),
            ("evicted keys", self.evicted_keys.to_string()),
            ("expired keys", self.expired_keys.to_string()),
            (
                "rejected connections",
                self.rejected_connections.to_string(),
            ),
            ("last RDB save", p.rdb_last_bgsave_status.clone()),
            (
                "changes since save",
                p.rdb_changes_since_last_save.to_string(),
            ),
            (
                "AOF",
                if p.aof_enabled {
                    format!(
                        "on · last write {} · last rewrite {}",
                        p.aof_last_write_status, p.aof_last_bgrewrite_status
                    )
                } else {
                    "off".into()
                },
            ),
        ];
        if self.is_replica() {
            pairs.push((
                "master link",
                r.master_link_status.clone().unwrap_or_else(|| "—".into()),
            ));
            pairs.push((
                "since master I/O",
                r.master_last_io_s
                    .map_or_else(|| "—".into(), |s| format_value(s as f64, Unit::Seconds)),
            ));
        } else {
            pairs.push(("replicas", r.connected_replicas.to_string()));
        }
        let keyspace = TableData {
            columns: vec![
                Column::text("db", 6),
                Column::number("keys", 12),
                Column::number("with expiry", 12),
            ],
            rows: self
                .keyspace
                .iter()
                .map(|d| TableRow {
                    key: None,
                    cells: vec![
                        Cell::text(format!("db{}", d.db)),
                        Cell::number(d.keys.to_string(), d.keys as f64),
                        Cell::number(d.expires.to_string(), d.expires as f64),
                    ],
                    level: None,
                })
                .collect(),
        };
        let mut detail = Detail::default()
            .pairs("server", pairs)
            .table("keyspace", keyspace);
        if !r.replicas.is_empty() {
            let replicas = TableData {
                columns: vec![
                    Column::text("replica", 22),
                    Column::text("state", 12),
                    Column::number("offset", 14),
                    Column::number("lag", 6),
                ],
                rows: r
                    .replicas
                    .iter()
                    .map(|link| TableRow {
                        key: None,
                        cells: vec![
                            Cell::text(link.addr.clone()),
                            Cell::text(link.state.clone()),
                            Cell::number(link.offset.to_string(), link.offset as f64),
                            link.lag_s.map_or_else(
                                || Cell::text("—"),
                                |l| Cell::number(format_value(l as f64, Unit::Seconds), l as f64),
                            ),
                        ],
                        level: match link.lag_s {
                            Some(l) if l as f64 >= REPLICA_LAG.crit => Some(Level::Crit),
                            Some(l) if l as f64 >= REPLICA_LAG.warn => Some(Level::Warn),
                            _ => (link.state != "online").then_some(Level::Warn),
                        },
                    })
                    .collect(),
            };
            detail = detail.table("replicas", replicas);
        }
        if let Some(extras) = &self.extras {
            detail = extras_detail(detail, extras);
        }
        detail
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Slow log and latency spikes. Times are shown as Unix seconds because the reading
/// carries no clock of its own; arguments were never stored, only their count.
fn extras_detail(mut detail: Detail, extras: &RedisExtras) -> Detail {
    if let Some(slowlog) = &extras.slowlog {
        detail = detail.table(
            "slow log",
            TableData {
                columns: vec![
                    Column::number("id", 6),
                    Column::number("at (unix)", 11),
                    Column::number("took", 9),
                    Column::text("command", 16),
                    Column::number("args", 5),
                    Column::text("client", 21).optional(1),
                ],
                rows: slowlog
                    .iter()
                    .map(|e| TableRow {
                        key: None,
                        cells: vec![
                            Cell::number(e.id.to_string(), e.id as f64),
                            Cell::number(e.at.to_string(), e.at as f64),
                            Cell::number(
                                format_value(e.duration_us as f64 / 1000.0, Unit::Millis),
                                e.duration_us as f64,
                            ),
                            Cell::text(e.command.clone()),
                            Cell::number(e.arg_count.to_string(), e.arg_count as f64),
                            Cell::text(e.client.clone()),
                        ],
                        level: None,
                    })
                    .collect(),
            },
        );
    }
    if let Some(latency) = extras.latency.as_ref().filter(|l| !l.is_empty()) {
        detail = detail.table(
            "latency spikes",
            TableData {
                columns: vec![
                    Column::text("event", 22),
                    Column::number("at (unix)", 11),
                    Column::number("latest", 8),
                    Column::number("max", 8),
                ],
                rows: latency
                    .iter()
                    .map(|e| TableRow {
                        key: None,
                        cells: vec![
                            Cell::text(e.event.clone()),
                            Cell::number(e.at.to_string(), e.at as f64),
                            Cell::number(
                                format_value(e.latest_ms as f64, Unit::Millis),
                                e.latest_ms as f64,
                            ),
                            Cell::number(
                                format_value(e.max_ms as f64, Unit::Millis),
                                e.max_ms as f64,
                            ),
                        ],
                        level: None,
                    })
                    .collect(),
            },
        );
    }
    if !extras.notes.is_empty() {
        detail = detail.pairs(
            "slow log notes",
            extras.notes.iter().map(|n| ("note", n.clone())).collect(),
        );
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::redis::FIGURES;
    use crate::sources::redis::info::{INFO_MASTER, parse_info};

    #[test]
    fn a_failing_save_is_critical() {
        let text = INFO_MASTER.replace("rdb_last_bgsave_status:ok", "rdb_last_bgsave_status:err");
        let r = parse_info(&text).expect("valid");
        let findings = r.findings();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].level, Level::Crit);
        assert!(findings[0].message.contains("refuses writes"));
        let aof = INFO_MASTER
            .replace("aof_enabled:0", "aof_enabled:1")
            .replace("aof_last_write_status:ok", "aof_last_write_status:err");
        let r = parse_info(&aof).expect("valid");
        assert!(
            r.findings()
                .iter()
                .any(|f| f.level == Level::Crit && f.message.contains("AOF write failed"))
        );
    }

    #[test]
    fn no_maxmemory_means_no_memory_percentage() {
        let text = INFO_MASTER.replace("maxmemory:134217728", "maxmemory:0");
        let r = parse_info(&text).expect("valid");
        assert!(r.figures().iter().all(|f| f.key != "memory_used_pct"));
        assert_eq!(r.key_figure(), Some("ops_per_sec"));
    }

    #[test]
    fn full_memory_with_noeviction_is_critical() {
        let text = INFO_MASTER.replace("used_memory:104857600", "used_memory:134217728");
        let r = parse_info(&text).expect("valid");
        assert!(
            r.findings()
                .iter()
                .any(|f| f.level == Level::Crit && f.message.contains("OOM"))
        );
    }

    #[test]
    fn fragmentation_threshold_only_with_real_data() {
        let small = INFO_MASTER
            .replace("used_memory:104857600", "used_memory:1000000")
            .replace(
                "mem_fragmentation_ratio:1.20",
                "mem_fragmentation_ratio:7.79",
            );
        let r = parse_info(&small).expect("valid");
        let f = r
            .figures()
            .into_iter()
            .find(|f| f.key == "fragmentation_ratio")
            .expect("ratio");
        assert!(f.threshold.is_none());
        let big = INFO_MASTER.replace(
            "mem_fragmentation_ratio:1.20",
            "mem_fragmentation_ratio:3.1",
        );
        let r = parse_info(&big).expect("valid");
        let f = r
            .figures()
            .into_iter()
            .find(|f| f.key == "fragmentation_ratio")
            .expect("ratio");
        assert_eq!(f.threshold, Some(FRAGMENTATION));
    }

    #[test]
    fn every_figure_is_declared_and_json_is_snake_case() {
        let text = INFO_MASTER.replace("role:master", "role:slave")
            + "master_link_status:up\nmaster_last_io_seconds_ago:1\n";
        let r = parse_info(&text).expect("valid");
        let figures = r.figures();
        for f in &figures {
            assert!(
                FIGURES.iter().any(|s| s.key == f.key),
                "{} missing from FIGURES",
                f.key
            );
        }
        assert_eq!(figures.len(), FIGURES.len());
        let json = r.to_json();
        assert_eq!(json["keyspace"][0]["keys"], 1500);
        assert_eq!(json["persistence"]["rdb_last_bgsave_status"], "ok");
        assert_eq!(json["replication"]["master_link_status"], "up");
    }
}
