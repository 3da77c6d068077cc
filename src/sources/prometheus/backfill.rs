//! Trends from the first seconds: for every figure with a known Prometheus series, one
//! `query_range` over the last hour for the whole fleet (never one per host), each series
//! tied to its component the way alerts are (by `instance` and `job`), its points laid into
//! the figure's history at Prometheus's own moments, before the first poll's.
//!
//! The series are those the usual exporters write: node_exporter for hosts,
//! postgres_exporter, redis_exporter, pgbouncer_exporter, the Sidekiq exporters (Mastodon
//! 4.4+'s own `sidekiq_*`, with or without the `ruby_` prefix, and Strech's), and the
//! streaming server's `/metrics`. Each expression computes the figure as mastop does.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt};

use super::api::{self, Series};
use crate::model::alerts::{AlertRules, Known};
use crate::model::history::{HISTORY_LEN, Point};
use crate::model::{ComponentId, Fleet};
use crate::net::service::Service;

/// One figure's series: what kind of component it belongs to, the figure's key, and the
/// PromQL that computes it (one series per component, or one for a kind with a single
/// component).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mapping {
    pub kind: &'static str,
    pub key: &'static str,
    pub expr: &'static str,
}

const fn m(kind: &'static str, key: &'static str, expr: &'static str) -> Mapping {
    Mapping { kind, key, expr }
}

/// Filesystems and disks that say nothing about the host, as the SSH path leaves them out.
macro_rules! real_fs {
    () => {
        r#"fstype!~"tmpfs|devtmpfs|devfs|proc|sysfs|cgroup2?|squashfs|ramfs|rootfs|nsfs|autofs|debugfs|tracefs|securityfs|pstore|bpf|efivarfs|mqueue|hugetlbfs|configfs|fusectl|binfmt_misc|fuse.lxcfs|fuse.snapfuse|devpts""#
    };
}
macro_rules! real_disk {
    () => {
        r#"device!~"(loop|ram|zram|sr|fd|nbd).*""#
    };
}

pub const MAPPINGS: &[Mapping] = &[
    // node_exporter
    m(
        "host",
        "disk_used_pct",
        concat!(
            "max by (instance, job) (100 * (node_filesystem_size_bytes{",
            real_fs!(),
            "} - node_filesystem_free_bytes{",
            real_fs!(),
            "}) / (node_filesystem_size_bytes{",
            real_fs!(),
            "} - node_filesystem_free_bytes{",
            real_fs!(),
            "} + node_filesystem_avail_bytes{",
            real_fs!(),
            "}))"
        ),
    ),
    m("host", "load_1", "node_load1"),
    m("host", "load_5", "node_load5"),
    m("host", "load_15", "node_load15"),
    m(
        "host",
        "load_per_cpu",
        r#"node_load5 / on (instance, job) count by (instance, job) (node_cpu_seconds_total{mode="idle"})"#,
    ),
    m(
        "host",
        "cpu_busy_pct",
        r#"100 * (1 - sum by (instance, job) (rate(node_cpu_seconds_total{mode=~"idle|iowait"}[2m])) / sum by (instance, job) (rate(node_cpu_seconds_total[2m])))"#,
    ),
    m(
        "host",
        "memory_used_pct",
        "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    ),
    m(
        "host",
        "swap_used_pct",
        "100 * (1 - node_memory_SwapFree_bytes / (node_memory_SwapTotal_bytes > 0))",
    ),
    m(
        "host",
        "disk_util_pct",
        concat!(
            "max by (instance, job) (100 * rate(node_disk_io_time_seconds_total{",
            real_disk!(),
            "}[2m]))"
        ),
    ),
    m(
        "host",
        "disk_iops",
        concat!(
            "sum by (instance, job) (rate(node_disk_reads_completed_total{",
            real_disk!(),
            "}[2m]) + rate(node_disk_writes_completed_total{",
            real_disk!(),
            "}[2m]))"
        ),
    ),
    m(
        "host",
        "net_rx_bytes_per_s",
        r#"sum by (instance, job) (rate(node_network_receive_bytes_total{device!="lo"}[2m]))"#,
    ),
    m(
        "host",
        "net_tx_bytes_per_s",
        r#"sum by (instance, job) (rate(node_network_transmit_bytes_total{device!="lo"}[2m]))"#,
    ),
    m(
        "host",
        "cpu_pressure_pct",
        "100 * rate(node_pressure_cpu_waiting_seconds_total[2m])",
    ),
    m(
        "host",
        "memory_pressure_pct",
        "100 * rate(node_pressure_memory_waiting_seconds_total[2m])",
    ),
    m(
        "host",
        "io_pressure_pct",
        "100 * rate(node_pressure_io_waiting_seconds_total[2m])",
    ),
    // postgres_exporter
    m(
        "postgres",
        "connections",
        "sum by (instance, job) (pg_stat_activity_count)",
    ),
    m(
        "postgres",
        "connections_used_pct",
        "100 * sum by (instance, job) (pg_stat_activity_count) / on (instance, job) max by (instance, job) (pg_settings_max_connections)",
    ),
    m(
        "postgres",
        "xact_per_sec",
        "sum by (instance, job) (rate(pg_stat_database_xact_commit[2m]) + rate(pg_stat_database_xact_rollback[2m]))",
    ),
    m(
        "postgres",
        "replication_lag_s",
        r#"max by (instance, job) ({__name__=~"pg_replication_lag(_seconds)?"})"#,
    ),
    // redis_exporter
    m(
        "redis",
        "memory_used_pct",
        "100 * redis_memory_used_bytes / (redis_memory_max_bytes > 0)",
    ),
    m("redis", "used_memory_bytes", "redis_memory_used_bytes"),
    m("redis", "connected_clients", "redis_connected_clients"),
    m("redis", "blocked_clients", "redis_blocked_clients"),
    m(
        "redis",
        "ops_per_sec",
        "rate(redis_commands_processed_total[2m])",
    ),
    m(
        "redis",
        "fragmentation_ratio",
        "redis_mem_fragmentation_ratio",
    ),
    // pgbouncer_exporter
    m(
        "pgbouncer",
        "clients_waiting",
        "sum by (instance, job) (pgbouncer_pools_client_waiting_connections)",
    ),
    m(
        "pgbouncer",
        "max_wait_s",
        "max by (instance, job) (pgbouncer_pools_client_maxwait_seconds)",
    ),
    // Sidekiq: Mastodon 4.4+ (`sidekiq_*`, `ruby_sidekiq_*` from bin/prometheus_exporter)
    // or Strech's sidekiq-prometheus-exporter; the larger of the two when both run.
    m(
        "sidekiq",
        "queue_latency_s",
        r#"max({__name__=~"(ruby_)?sidekiq_queue_latency_seconds"})"#,
    ),
    m(
        "sidekiq",
        "enqueued",
        r#"max(sum by (__name__) ({__name__=~"(ruby_)?sidekiq_queue_backlog|sidekiq_queue_enqueued_jobs"}))"#,
    ),
    m(
        "sidekiq",
        "busy",
        r#"max(sum by (__name__) ({__name__=~"(ruby_)?sidekiq_process_busy|sidekiq_busy_workers"}))"#,
    ),
    m(
        "sidekiq",
        "retries",
        r#"max({__name__=~"(ruby_)?sidekiq_stats_retry_size|sidekiq_retry_jobs"})"#,
    ),
    m(
        "sidekiq",
        "dead",
        r#"max({__name__=~"(ruby_)?sidekiq_stats_dead_size|sidekiq_dead_jobs"})"#,
    ),
    m(
        "sidekiq",
        "processed_per_s",
        r#"max(sum by (__name__) (rate({__name__=~"(ruby_)?sidekiq_stats_processed_total|sidekiq_processed_jobs_total"}[2m])))"#,
    ),
    m(
        "sidekiq",
        "failed_per_s",
        r#"max(sum by (__name__) (rate({__name__=~"(ruby_)?sidekiq_failed_jobs_total"}[2m])))"#,
    ),
    // Mastodon 4.4+'s web processes (with or without the `ruby_` prefix)
    m(
        "web",
        "puma_backlog",
        r#"sum by (instance, job) ({__name__=~"(ruby_)?puma_request_backlog"})"#,
    ),
    m(
        "web",
        "threads_busy_pct",
        r#"100 * (1 - sum by (instance, job) ({__name__=~"(ruby_)?puma_thread_pool_capacity"}) / sum by (instance, job) ({__name__=~"(ruby_)?puma_max_threads"}))"#,
    ),
    m(
        "web",
        "request_queue_p99_s",
        r#"max by (instance, job) ({__name__=~"(ruby_)?http_request_queue_duration_seconds", quantile="0.99"})"#,
    ),
    m(
        "web",
        "db_pool_waiting",
        r#"sum by (instance, job) ({__name__=~"(ruby_)?active_record_connection_pool_waiting"})"#,
    ),
    m(
        "web",
        "db_pool_busy_pct",
        r#"100 * sum by (instance, job) ({__name__=~"(ruby_)?active_record_connection_pool_busy"}) / sum by (instance, job) ({__name__=~"(ruby_)?active_record_connection_pool_size"})"#,
    ),
    // Mastodon's streaming server (with or without the `mastodon_streaming_` prefix)
    m(
        "streaming",
        "connected_clients",
        r#"sum by (instance, job) ({__name__=~"(mastodon_streaming_)?connected_clients"})"#,
    ),
    m(
        "streaming",
        "connected_channels",
        r#"sum by (instance, job) ({__name__=~"(mastodon_streaming_)?connected_channels"})"#,
    ),
    m(
        "streaming",
        "messages_per_sec",
        r#"sum by (instance, job) (rate({__name__=~"(mastodon_streaming_)?messages_sent_total"}[2m]))"#,
    ),
];

/// One figure's query and what came back.
type Answer = (Mapping, Result<Vec<Series>, String>);

/// How far back a backfill reaches.
pub const RANGE: Duration = Duration::from_secs(3600);
/// Queries in flight at once: enough to finish quickly, few enough to be gentle.
pub const CONCURRENCY: usize = 4;

/// One figure's history for one component, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Filled {
    pub id: ComponentId,
    pub key: &'static str,
    pub points: Vec<Point>,
}

/// What a backfill did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub filled: Vec<Filled>,
    pub queries: usize,
    /// Figures whose query failed, with why.
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn apply(&self, fleet: &mut Fleet) {
        for f in &self.filled {
            fleet.backfill_points(&f.id, f.key, f.points.iter().copied());
        }
    }
}

/// Everything a backfill needs, owned, so it can run in a task of its own.
pub struct Backfill {
    pub service: Service,
    pub mappings: Vec<Mapping>,
    pub rules: AlertRules,
    pub known: Known,
    pub end: SystemTime,
    pub deadline: Duration,
}

/// The mappings for the kinds `fleet` has.
pub fn mappings_for(fleet: &Fleet) -> Vec<Mapping> {
    let kinds = fleet.kinds();
    MAPPINGS
        .iter()
        .filter(|m| kinds.contains(&m.kind))
        .copied()
        .collect()
}

/// The step that lays one hour into the history ring: one value per slot.
pub fn step() -> Duration {
    RANGE / u32::try_from(HISTORY_LEN).unwrap_or(60)
}

impl Backfill {
    pub async fn run(mut self) -> Outcome {
        let mut outcome = Outcome::default();
        let at = format!("prometheus at {}", self.service.base.shown());
        let auth = match self.service.authorization(&at).await {
            Ok(a) => a,
            Err(e) => {
                outcome.errors.push(e);
                return outcome;
            }
        };
        let by = tokio::time::Instant::now() + self.deadline;
        let start = self.end - (RANGE - step());
        let service = &self.service;
        let auth = &auth;
        let end = self.end;
        let queries: Vec<BoxFuture<'_, Answer>> = self
            .mappings
            .iter()
            .map(|m| {
                async move {
                    let result =
                        api::query_range(service, m.expr, (start, end), step(), auth, by).await;
                    (*m, result)
                }
                .boxed()
            })
            .collect();
        let mut answers = futures_util::stream::iter(queries).buffer_unordered(CONCURRENCY);
        while let Some((mapping, result)) = answers.next().await {
            outcome.queries += 1;
            match result {
                Ok(series) => {
                    outcome
                        .filled
                        .extend(resolve(&mapping, &series, &self.rules, &self.known))
                }
                Err(e) => outcome
                    .errors
                    .push(format!("{} {}: {e}", mapping.kind, mapping.key)),
            }
        }
        outcome
    }
}

/// A sample at Prometheus's moment (seconds since the epoch); `None` for a value that is not
/// a number or a moment that is not one.
fn point(at: f64, value: f64) -> Option<Point> {
    if !value.is_finite() || !at.is_finite() || at < 0.0 {
        return None;
    }
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(at).ok()?)?;
    Some(Point { at, value })
}

/// Ties each series of one figure to its components of the figure's kind. A series with
/// no `instance` (a fleet-wide aggregate) belongs to the kind's only component, if it has
/// one.
pub fn resolve(
    mapping: &Mapping,
    series: &[Series],
    rules: &AlertRules,
    known: &Known,
) -> Vec<Filled> {
    let of_kind: Vec<&ComponentId> = known
        .ids
        .iter()
        .filter(|(_, k)| **k == mapping.kind)
        .map(|(id, _)| id)
        .collect();
    let mut out: HashMap<ComponentId, Vec<Point>> = HashMap::new();
    for s in series {
        let values: Vec<Point> = s.values.iter().filter_map(|&(t, v)| point(t, v)).collect();
        if values.is_empty() {
            continue;
        }
        let mut ids: Vec<ComponentId> = rules
            .tie_labels(&s.metric, known)
            .into_iter()
            .filter(|id| known.ids.get(id) == Some(&mapping.kind))
            .collect();
        if ids.is_empty()
            && !s.metric.contains_key("instance")
            && let [only] = of_kind.as_slice()
        {
            ids.push((*only).clone());
        }
        for id in ids {
            // Two series for one component (two exporters): the first answer wins.
            out.entry(id).or_insert_with(|| values.clone());
        }
    }
    let mut filled: Vec<Filled> = out
        .into_iter()
        .map(|(id, points)| Filled {
            id,
            key: mapping.key,
            points,
        })
        .collect();
    filled.sort_by(|a, b| a.id.cmp(&b.id));
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alerts::Labels;

    #[test]
    fn every_mapping_names_a_figure_its_kind_has() {
        for m in MAPPINGS {
            let specs = crate::sources::figure_specs(m.kind).expect("a known kind");
            assert!(
                specs.iter().any(|s| s.key == m.key),
                "{} has no figure {}",
                m.kind,
                m.key
            );
        }
        assert_eq!(step(), Duration::from_secs(60));
    }

    #[test]
    fn series_go_to_their_components_and_aggregates_to_the_only_one() {
        let known = Known::new(
            [
                (ComponentId::new("host", "db-1"), "host"),
                (ComponentId::new("host", "web-1"), "host"),
                (ComponentId::new("postgres", "primary"), "postgres"),
                (ComponentId::new("sidekiq", "main"), "sidekiq"),
            ]
            .iter()
            .map(|(id, k)| (id, *k)),
        );
        let mut rules = AlertRules::default();
        rules.addresses.insert(
            "10.0.0.5".into(),
            vec![
                ComponentId::new("host", "db-1"),
                ComponentId::new("postgres", "primary"),
            ],
        );
        let series = |labels: &[(&str, &str)], values: &[f64]| Series {
            metric: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<Labels>(),
            values: values
                .iter()
                .enumerate()
                .map(|(i, v)| (1_800_000_000.0 + 60.0 * i as f64, *v))
                .collect(),
        };
        let at = |i: u64, value: f64| Point {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + 60 * i),
            value,
        };
        let load = MAPPINGS.iter().find(|m| m.key == "load_1").expect("load_1");
        let filled = resolve(
            load,
            &[
                series(
                    &[("instance", "10.0.0.5:9100"), ("job", "node")],
                    &[1.0, f64::NAN, 2.0],
                ),
                series(&[("instance", "web-1:9100"), ("job", "node")], &[3.0]),
                series(&[("instance", "elsewhere:9100")], &[9.0]),
            ],
            &rules,
            &known,
        );
        assert_eq!(
            filled,
            [
                Filled {
                    id: ComponentId::new("host", "db-1"),
                    key: "load_1",
                    // The NaN is dropped; the points keep Prometheus's own moments.
                    points: vec![at(0, 1.0), at(2, 2.0)]
                },
                Filled {
                    id: ComponentId::new("host", "web-1"),
                    key: "load_1",
                    points: vec![at(0, 3.0)]
                },
            ]
        );
        let latency = MAPPINGS
            .iter()
            .find(|m| m.key == "queue_latency_s")
            .expect("latency");
        let filled = resolve(latency, &[series(&[], &[4.0, 5.0])], &rules, &known);
        assert_eq!(filled[0].id, ComponentId::new("sidekiq", "main"));
    }

    #[test]
    fn moments_that_are_not_moments_are_dropped() {
        assert_eq!(point(-1.0, 1.0), None);
        assert_eq!(point(f64::NAN, 1.0), None);
        assert_eq!(point(f64::INFINITY, 1.0), None);
        assert_eq!(point(1e30, 1.0), None);
        assert_eq!(point(10.0, f64::NAN), None);
        assert_eq!(
            point(10.5, 2.0),
            Some(Point {
                at: SystemTime::UNIX_EPOCH + Duration::from_millis(10_500),
                value: 2.0
            })
        );
    }
}
