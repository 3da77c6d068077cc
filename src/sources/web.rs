//! Mastodon's web processes, from the metrics Mastodon 4.4 and later exports
//! (`MASTODON_PROMETHEUS_EXPORTER_ENABLED=true`: `bin/prometheus_exporter` on :9394, or each
//! process itself with `MASTODON_PROMETHEUS_EXPORTER_LOCAL=true`): how saturated Puma is
//! (requests waiting in the backlog, threads left in the pool), how long requests queue
//! before Puma takes them (`http_request_queue_duration_seconds`, which needs nginx to send
//! `X-Request-Start`), and whether requests wait for a database connection. Per process,
//! and with or without the exporter's `ruby_` prefix.

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::exposition::{self, Exposition, Metric, SkippedLines};
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{Defaults, EndpointConfig};
use crate::model::{
    Detail, Figure, Finding, Level, Reading, Threshold, Unit,
    detail::{Cell, Column, Row, TableData},
    figure::format_value,
    health::figure_level,
};
use crate::net::service::Service;

pub use crate::model::kinds::web::{FIGURES, KIND};

/// A request waiting in Puma's backlog waits for a thread: a few is a spike, dozens is an
/// outage in the making.
const BACKLOG: Threshold = Threshold::above(1.0, 20.0);
const THREADS_BUSY: Threshold = Threshold::above(85.0, 98.0);
/// Time between nginx taking the request and Puma starting it.
const QUEUE_P99: Threshold = Threshold::above(0.1, 0.5);
/// Threads waiting for a database connection: the pool is smaller than the threads.
const POOL_WAITING: Threshold = Threshold::above(1.0, 5.0);
const POOL_BUSY: Threshold = Threshold::above(90.0, 100.0);

/// `/metrics` of one exporter for a few dozen processes stays well under this.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One Puma server (a cluster's master reports for its workers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PumaProcess {
    /// Its labels other than the metric's own, e.g. `hostname=web-1 phase=0`.
    pub process: String,
    pub backlog: f64,
    pub running_threads: f64,
    /// Threads that could take a request now.
    pub pool_capacity: f64,
    pub max_threads: f64,
    pub workers: Option<f64>,
    pub booted_workers: Option<f64>,
}

/// One Active Record connection pool of one process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DbPool {
    pub process: String,
    pub pool: String,
    pub size: f64,
    pub busy: f64,
    pub waiting: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebReading {
    pub processes: Vec<PumaProcess>,
    pub pools: Vec<DbPool>,
    /// The slowest process's 99th percentile of request queue time, if exported.
    pub request_queue_p99_s: Option<f64>,
    /// Mean queue time since the exporter started (sum over count).
    pub request_queue_mean_s: Option<f64>,
    pub skipped_lines: Option<SkippedLines>,
}

/// Samples of `name`, with or without the `ruby_` prefix.
fn named<'a>(page: &'a Exposition, name: &'a str) -> impl Iterator<Item = &'a Metric> + 'a {
    page.metrics
        .iter()
        .filter(move |m| m.name == name || m.name.strip_prefix("ruby_") == Some(name))
}

/// A process's identity: its labels, without those that vary per series.
fn process_of(m: &Metric, leave_out: &[&str]) -> String {
    let mut labels: Vec<String> = m
        .labels
        .iter()
        .filter(|(k, _)| !leave_out.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.sort();
    if labels.is_empty() {
        "(single)".into()
    } else {
        labels.join(" ")
    }
}

impl WebReading {
    /// From `/metrics` text; `Err` when it has neither Puma nor pool metrics (not Mastodon's
    /// exporter, or one without its web collector).
    pub fn from_metrics(text: &str) -> Result<WebReading, String> {
        let page = exposition::parse(text);
        let mut processes: Vec<PumaProcess> = Vec::new();
        let mut puma = |name: &str, set: fn(&mut PumaProcess, f64)| {
            for m in named(&page, name) {
                let process = process_of(m, &[]);
                let i = match processes.iter().position(|p| p.process == process) {
                    Some(i) => i,
                    None => {
                        processes.push(PumaProcess {
                            process,
                            backlog: 0.0,
                            running_threads: 0.0,
                            pool_capacity: 0.0,
                            max_threads: 0.0,
                            workers: None,
                            booted_workers: None,
                        });
                        processes.len() - 1
                    }
                };
                set(&mut processes[i], m.value);
            }
        };
        puma("puma_request_backlog", |p, v| p.backlog = v);
        puma("puma_running_threads", |p, v| p.running_threads = v);
        puma("puma_thread_pool_capacity", |p, v| p.pool_capacity = v);
        puma("puma_max_threads", |p, v| p.max_threads = v);
        puma("puma_workers", |p, v| p.workers = Some(v));
        puma("puma_booted_workers", |p, v| p.booted_workers = Some(v));
        let mut pools: Vec<DbPool> = Vec::new();
        let mut pool = |name: &str, set: fn(&mut DbPool, f64)| {
            for m in named(&page, &format!("active_record_connection_pool_{name}")) {
                let process = process_of(m, &["pool_name"]);
                let name = m.label("pool_name").unwrap_or("primary").to_string();
                let i = match pools
                    .iter()
                    .position(|p| p.process == process && p.pool == name)
                {
                    Some(i) => i,
                    None => {
                        pools.push(DbPool {
                            process,
                            pool: name,
                            size: 0.0,
                            busy: 0.0,
                            waiting: 0.0,
                        });
                        pools.len() - 1
                    }
                };
                set(&mut pools[i], m.value);
            }
        };
        pool("size", |p, v| p.size = v);
        pool("busy", |p, v| p.busy = v);
        pool("waiting", |p, v| p.waiting = v);
        if processes.is_empty() && pools.is_empty() {
            return Err("no puma_* or active_record_connection_pool_* metrics: is this Mastodon's exporter (4.4 or later, MASTODON_PROMETHEUS_EXPORTER_ENABLED=true)?".into());
        }
        let queue = "http_request_queue_duration_seconds";
        let p99 = named(&page, queue)
            .filter(|m| m.label("quantile") == Some("0.99") && m.value.is_finite())
            .map(|m| m.value)
            .fold(None, |acc: Option<f64>, v| {
                Some(acc.map_or(v, |a| a.max(v)))
            });
        let sum: f64 = named(&page, &format!("{queue}_sum")).map(|m| m.value).sum();
        let count: f64 = named(&page, &format!("{queue}_count"))
            .map(|m| m.value)
            .sum();
        Ok(WebReading {
            processes,
            pools,
            request_queue_p99_s: p99,
            request_queue_mean_s: (count > 0.0).then(|| sum / count),
            skipped_lines: page.skipped_lines(),
        })
    }

    fn max_threads(&self) -> f64 {
        self.processes.iter().map(|p| p.max_threads).sum()
    }

    fn threads_busy_pct(&self) -> Option<f64> {
        let max = self.max_threads();
        let free: f64 = self.processes.iter().map(|p| p.pool_capacity).sum();
        (max > 0.0).then(|| ((max - free) / max * 100.0).clamp(0.0, 100.0))
    }

    fn pool_busy_pct(&self) -> Option<f64> {
        let size: f64 = self.pools.iter().map(|p| p.size).sum();
        let busy: f64 = self.pools.iter().map(|p| p.busy).sum();
        (size > 0.0).then(|| busy / size * 100.0)
    }
}

impl Reading for WebReading {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        if !self.processes.is_empty() {
            figures.push(
                Figure::new(
                    "puma_backlog",
                    "requests in Puma's backlog",
                    self.processes.iter().map(|p| p.backlog).sum(),
                    Unit::Count,
                )
                .with_threshold(BACKLOG),
            );
        }
        if let Some(busy) = self.threads_busy_pct() {
            figures.push(
                Figure::new("threads_busy_pct", "Puma threads busy", busy, Unit::Percent)
                    .with_threshold(THREADS_BUSY),
            );
        }
        if let Some(p99) = self.request_queue_p99_s {
            figures.push(
                Figure::new(
                    "request_queue_p99_s",
                    "request queue time p99",
                    p99,
                    Unit::Seconds,
                )
                .with_threshold(QUEUE_P99),
            );
        }
        if !self.pools.is_empty() {
            figures.push(
                Figure::new(
                    "db_pool_waiting",
                    "threads waiting for a DB connection",
                    self.pools.iter().map(|p| p.waiting).sum(),
                    Unit::Count,
                )
                .with_threshold(POOL_WAITING),
            );
        }
        if let Some(busy) = self.pool_busy_pct() {
            figures.push(
                Figure::new("db_pool_busy_pct", "DB pool in use", busy, Unit::Percent)
                    .with_threshold(POOL_BUSY),
            );
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some(if self.processes.is_empty() {
            "db_pool_waiting"
        } else {
            "puma_backlog"
        })
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for p in &self.processes {
            if let (Some(workers), Some(booted)) = (p.workers, p.booted_workers)
                && booted < workers
            {
                findings.push(Finding::warn(format!(
                    "{}: {booted} of {workers} Puma workers booted",
                    p.process
                )));
            }
        }
        findings
    }

    fn summary(&self) -> String {
        let mut parts = vec![format!("{} Puma", self.processes.len())];
        if let Some(busy) = self.threads_busy_pct() {
            parts.push(format!(
                "threads {} busy",
                format_value(busy, Unit::Percent)
            ));
        }
        if let Some(mean) = self.request_queue_mean_s {
            parts.push(format!(
                "queue mean {}",
                format_value(mean * 1000.0, Unit::Millis)
            ));
        }
        parts.join(" · ")
    }

    fn detail(&self) -> Detail {
        let count = |v: f64| format_value(v, Unit::Count);
        let detail = Detail::default().pairs(
            "Web",
            vec![
                ("Puma processes", self.processes.len().to_string()),
                (
                    "threads busy",
                    self.threads_busy_pct()
                        .map_or("—".into(), |v| format_value(v, Unit::Percent)),
                ),
                (
                    "request queue p99",
                    self.request_queue_p99_s
                        .map_or("— (needs X-Request-Start from nginx)".into(), |v| {
                            format_value(v, Unit::Seconds)
                        }),
                ),
                (
                    "request queue mean",
                    self.request_queue_mean_s
                        .map_or("—".into(), |v| format_value(v * 1000.0, Unit::Millis)),
                ),
                (
                    "DB pool in use",
                    self.pool_busy_pct()
                        .map_or("—".into(), |v| format_value(v, Unit::Percent)),
                ),
            ],
        );
        let detail = detail.table(
            "Puma",
            TableData {
                columns: vec![
                    Column::text("process", 30),
                    Column::number("backlog", 8),
                    Column::number("running", 8),
                    Column::number("free", 6),
                    Column::number("max", 6),
                    Column::number("workers", 8).optional(1),
                ],
                rows: self
                    .processes
                    .iter()
                    .map(|p| Row {
                        key: None,
                        cells: vec![
                            Cell::text(p.process.clone()),
                            Cell::number(count(p.backlog), p.backlog),
                            Cell::number(count(p.running_threads), p.running_threads),
                            Cell::number(count(p.pool_capacity), p.pool_capacity),
                            Cell::number(count(p.max_threads), p.max_threads),
                            Cell::text(match (p.booted_workers, p.workers) {
                                (Some(b), Some(w)) => format!("{b}/{w}"),
                                _ => "—".into(),
                            }),
                        ],
                        level: Some(figure_level(p.backlog, &BACKLOG)),
                    })
                    .collect(),
            },
        );
        detail.table(
            "DB connection pools",
            TableData {
                columns: vec![
                    Column::text("process", 30),
                    Column::text("pool", 10),
                    Column::number("size", 6),
                    Column::number("busy", 6),
                    Column::number("waiting", 8),
                ],
                rows: self
                    .pools
                    .iter()
                    .map(|p| Row {
                        key: None,
                        cells: vec![
                            Cell::text(p.process.clone()),
                            Cell::text(p.pool.clone()),
                            Cell::number(count(p.size), p.size),
                            Cell::number(count(p.busy), p.busy),
                            Cell::number(count(p.waiting), p.waiting),
                        ],
                        level: Some(if p.waiting > 0.0 {
                            figure_level(p.waiting, &POOL_WAITING)
                        } else {
                            Level::Ok
                        }),
                    })
                    .collect(),
            },
        )
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(WebSource::new(config, schedule))
    })
}

pub struct WebSource {
    service: Result<Service, String>,
    schedule: Schedule,
}

impl WebSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        WebSource {
            service: Service::for_endpoint("web", config, MAX_BODY),
            schedule,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let service = self
            .service
            .as_mut()
            .map_err(|e| PollError::Failed(e.clone()))?;
        let at = format!("Mastodon's metrics at {}", service.base.shown());
        let by = tokio::time::Instant::now() + self.schedule.deadline.mul_f64(0.9);
        let auth = service
            .authorization(&at)
            .await
            .map_err(PollError::Failed)?;
        let answer = service
            .get("", &auth, by)
            .await
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match answer.status {
            200 => {}
            401 | 403 => {
                service.refused();
                return Err(PollError::Denied(format!(
                    "{at}: HTTP {} — check the user in url and `password`, or `bearer_token`",
                    answer.status
                )));
            }
            _ => {
                return Err(PollError::Failed(format!(
                    "{at}: answered {}",
                    answer.status_text()
                )));
            }
        }
        let text = String::from_utf8(answer.body)
            .map_err(|_| PollError::Failed(format!("{at}: the page is not UTF-8 text")))?;
        let reading =
            WebReading::from_metrics(&text).map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        Ok(Arc::new(reading))
    }
}

impl Source for WebSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::evaluate;

    const METRICS: &str = include_str!("../../tests/fixtures/mastodon/metrics.txt");

    #[test]
    fn mastodon_4_4_metrics_show_a_saturated_web_tier() {
        let r = WebReading::from_metrics(METRICS).expect("reads");
        assert_eq!(r.processes.len(), 1);
        let p = &r.processes[0];
        assert_eq!(p.process, "phase=0 type=cluster");
        assert_eq!(
            (p.backlog, p.pool_capacity, p.max_threads),
            (7.0, 1.0, 10.0)
        );
        assert_eq!(r.threads_busy_pct(), Some(90.0));
        assert_eq!(r.request_queue_p99_s, Some(0.35));
        assert!((r.request_queue_mean_s.expect("mean") - 41.5 / 1200.0).abs() < 1e-12);
        assert_eq!(r.pools.len(), 1);
        assert_eq!(r.pools[0].process, "hostname=web-1 pid=4121");
        assert_eq!(
            (r.pools[0].size, r.pools[0].busy, r.pools[0].waiting),
            (10.0, 10.0, 3.0)
        );
        let health = evaluate(&r.figures(), &r.findings(), |_| None);
        assert_eq!(health.level, Level::Crit);
        assert_eq!(
            health.reasons,
            [
                "DB pool in use 100% ≥ 100%",
                "requests in Puma's backlog 7 ≥ 1",
                "Puma threads busy 90% ≥ 85%",
                "request queue time p99 0.3s ≥ 0.1s",
                "threads waiting for a DB connection 3 ≥ 1",
            ]
        );
    }

    #[test]
    fn unprefixed_names_read_the_same_and_other_pages_are_refused() {
        let plain = METRICS.replace("ruby_", "");
        assert_eq!(
            WebReading::from_metrics(&plain).expect("reads"),
            WebReading::from_metrics(METRICS).expect("reads")
        );
        let e = WebReading::from_metrics("node_load1 1\n").unwrap_err();
        assert!(e.contains("is this Mastodon's exporter"), "{e}");
    }
}
