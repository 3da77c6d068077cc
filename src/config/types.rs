//! The config file's shape. Every struct denies unknown keys, so a typo is an error with a
//! location and a suggestion rather than a silently ignored setting.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use super::secret::SecretRef;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `oncall` may run guarded actions; anything else, or unset, is `shadow` (read-only).
    /// Only the config file can set it: neither `--` flags nor `MASTOP_*` variables can.
    #[serde(default)]
    pub role: Option<super::Role>,
    #[serde(default)]
    pub ui: UiConfig,
    /// Shared state for several consoles (locks, freeze, approvals, audit history).
    #[serde(default)]
    pub ops_store: Option<OpsStoreConfig>,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub defaults: Defaults,
    /// `[thresholds.<kind>.<figure>]` overrides of built-in health thresholds.
    #[serde(default)]
    pub thresholds: HashMap<String, HashMap<String, ThresholdConfig>>,
    #[serde(default)]
    pub postgres: Vec<EndpointConfig>,
    #[serde(default)]
    pub redis: Vec<EndpointConfig>,
    /// Sidekiq's state, read straight from the Redis it uses (a `redis://` URL).
    #[serde(default)]
    pub sidekiq: Vec<EndpointConfig>,
    /// PgBouncer's admin console (`postgres://user@host:6432/pgbouncer`).
    #[serde(default)]
    pub pgbouncer: Vec<EndpointConfig>,
    /// `[[host]]`: machines polled over SSH or node_exporter.
    #[serde(default, rename = "host")]
    pub hosts: Vec<super::hosts::HostConfig>,
    #[serde(default)]
    pub ssh: super::hosts::SshConfig,
    /// `[[edge]]`: nginx cache nodes, probed at their own addresses.
    #[serde(default, rename = "edge")]
    pub edges: Vec<super::edges::EdgeConfig>,
    /// Elasticsearch or OpenSearch behind Mastodon's search (`http(s)://` URL).
    #[serde(default)]
    pub elasticsearch: Vec<EndpointConfig>,
    /// Mastodon's streaming server (`http(s)://` URL of its `/metrics`).
    #[serde(default)]
    pub streaming: Vec<EndpointConfig>,
    /// Mastodon's web processes: the `http(s)://` URL of the metrics Mastodon 4.4+ exports
    /// (`bin/prometheus_exporter`, usually `:9394/metrics`).
    #[serde(default)]
    pub web: Vec<EndpointConfig>,
    /// The instance's Prometheus (or anything with its query API: Thanos, Mimir,
    /// VictoriaMetrics), `http(s)://` base URL.
    #[serde(default)]
    pub prometheus: Vec<EndpointConfig>,
    /// The instance's Alertmanager, `http(s)://` base URL (API v2).
    #[serde(default)]
    pub alertmanager: Vec<EndpointConfig>,
    #[serde(default)]
    pub alerts: super::alerts::AlertsConfig,
    #[serde(default)]
    pub inventory: super::inventory::InventoryConfig,
    #[serde(default)]
    pub runbooks: super::runbooks::RunbooksConfig,
    #[serde(default)]
    pub handoff: super::handoff::HandoffConfig,
    /// The instance's Loki, `http(s)://` base URL: logs by LogQL where configured.
    #[serde(default)]
    pub loki: Vec<EndpointConfig>,
    #[serde(default)]
    pub logs: super::logs::LogsConfig,
    /// Where the fleet comes from: production, or the room a collector publishes.
    #[serde(default)]
    pub live: super::live::LiveConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// A shipped theme (`dark`, `light`, `high-contrast`, `deuteranopia`) or one in the
    /// config dir's `themes/`.
    #[serde(default = "default_theme")]
    pub theme: String,
    /// `default` or `vim`; `keymap.toml` in the config dir overrides single bindings.
    #[serde(default = "default_keymap")]
    pub keymap: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            theme: default_theme(),
            keymap: default_keymap(),
        }
    }
}

fn default_theme() -> String {
    "dark".into()
}
fn default_keymap() -> String {
    "default".into()
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// How often each source polls when healthy.
    #[serde(default = "default_cadence", deserialize_with = "de_duration")]
    pub cadence: Duration,
    /// How long one poll may take before the source is marked down.
    #[serde(default = "default_deadline", deserialize_with = "de_duration")]
    pub deadline: Duration,
    /// How `[[host]]` entries without their own `metrics` are read, and hosts found by
    /// discovery: `ssh` (when unset), `node_exporter` or `prometheus`.
    #[serde(default)]
    pub host_metrics: Option<super::hosts::MetricsVia>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            cadence: default_cadence(),
            deadline: default_deadline(),
            host_metrics: None,
        }
    }
}

fn default_cadence() -> Duration {
    Duration::from_secs(2)
}
fn default_deadline() -> Duration {
    Duration::from_millis(1500)
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    pub warn: f64,
    pub crit: f64,
}

/// One backend endpoint (a Postgres node, a Redis instance).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Short unique name within its kind, e.g. `primary`, `replica-1`, `sidekiq`.
    pub name: String,
    /// Connection URL without a password (give the password as a secret reference).
    pub url: String,
    #[serde(default)]
    pub password: Option<SecretRef>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub cadence: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub deadline: Option<Duration>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `[[sidekiq]]` only: the `REDIS_NAMESPACE` of a Mastodon ≤ 4.3 instance, if it set one.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Credentials for actions, separate from the read-only ones in `url`. A shadow
    /// session never opens this connection; on-call opens it only to run an action.
    #[serde(default)]
    pub write_url: Option<String>,
    #[serde(default)]
    pub write_password: Option<SecretRef>,
    /// A PEM file with the CA that signed the server's certificate, trusted instead of the
    /// system roots: Postgres and PgBouncer (see `sslmode` in the url), and the `https://`
    /// services (Elasticsearch, streaming).
    #[serde(default)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Elasticsearch and streaming: a bearer token (as a secret reference) sent instead of
    /// a user and password.
    #[serde(default)]
    pub bearer_token: Option<SecretRef>,
    /// `[[postgres]]` only: the `[[host]]` this server runs on. Its `pg_wal` filesystem is
    /// read there over SSH (`df` of that one path), to weigh the WAL slots retain against
    /// the space left.
    #[serde(default)]
    pub host: Option<String>,
    /// `[[postgres]]` only: the `[[host]]` where `pgbackrest info` runs (the repository
    /// host, or the database host itself); unset, `host`.
    #[serde(default)]
    pub backup_host: Option<String>,
    /// `[[postgres]]` only: the pgBackRest stanza of this cluster.
    #[serde(default)]
    pub stanza: Option<String>,
    /// `[[postgres]]` only: WARN and CRIT when slots retain this share (percent) of the
    /// space still free on pg_wal's filesystem. Defaults 50 and 80.
    #[serde(default)]
    pub slot_wal_warn_pct: Option<f64>,
    #[serde(default)]
    pub slot_wal_crit_pct: Option<f64>,
    /// `[[postgres]]` only: WARN when the newest full backup is older than this (default 8d).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub backup_full_max_age: Option<Duration>,
    /// `[[postgres]]` only: WARN when the newest backup of any type is older than this
    /// (default 2d).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub backup_max_age: Option<Duration>,
}

fn yes() -> bool {
    true
}

impl EndpointConfig {
    /// An enabled endpoint with no password and the default schedule, as a config table
    /// with only `name` and `url` would give.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            password: None,
            region: String::new(),
            tags: Vec::new(),
            cadence: None,
            deadline: None,
            enabled: true,
            namespace: None,
            write_url: None,
            write_password: None,
            tls_ca: None,
            bearer_token: None,
            host: None,
            backup_host: None,
            stanza: None,
            slot_wal_warn_pct: None,
            slot_wal_crit_pct: None,
            backup_full_max_age: None,
            backup_max_age: None,
        }
    }

    pub fn schedule(&self, defaults: &Defaults) -> crate::model::Schedule {
        crate::model::Schedule {
            cadence: self.cadence.unwrap_or(defaults.cadence),
            deadline: self.deadline.unwrap_or(defaults.deadline),
        }
    }
}

pub(super) fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    super::load::parse_duration(&text).map_err(serde::de::Error::custom)
}

pub(super) fn de_opt_duration<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsStoreConfig {
    /// A PostgreSQL database of mastop's own, e.g. `postgres://mastop@ops-db/mastop_ops`.
    pub url: String,
    #[serde(default)]
    pub password: Option<SecretRef>,
    /// How long a lock outlives a console that crashed while holding it.
    #[serde(default = "default_lock_ttl", deserialize_with = "de_duration")]
    pub lock_ttl: Duration,
    /// How long a four-eyes approval request stays open.
    #[serde(default = "default_approval_ttl", deserialize_with = "de_duration")]
    pub approval_ttl: Duration,
    /// Deadline for each call to the store.
    #[serde(default = "default_store_deadline", deserialize_with = "de_duration")]
    pub deadline: Duration,
    /// A PEM file with the CA that signed the ops database's certificate, trusted instead of
    /// the system roots (see `sslmode` in the url).
    #[serde(default)]
    pub tls_ca: Option<std::path::PathBuf>,
}

fn default_lock_ttl() -> Duration {
    Duration::from_secs(120)
}
fn default_approval_ttl() -> Duration {
    Duration::from_secs(900)
}
fn default_store_deadline() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The local audit log (JSON Lines); default `$XDG_DATA_HOME/mastop/audit.jsonl`.
    #[serde(default)]
    pub file: Option<std::path::PathBuf>,
}
