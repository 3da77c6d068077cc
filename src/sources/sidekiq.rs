//! Sidekiq, read straight from its Redis: the same numbers the Web UI's dashboard shows
//! (`Sidekiq::Stats`), per-queue size and latency, and the process set.
//!
//! Queue latency is the figure that matters: a big `pull` queue that moves is fine, a small
//! `default` queue whose oldest job is five minutes old means timelines are stuck.

use std::any::Any;

use serde::Serialize;

use crate::model::{
    Detail, Figure, FigureSpec, Finding, Level, Reading, Threshold, Unit,
    detail::{Cell, Column, Row, TableData},
    figure::format_value,
    health::figure_level,
};

pub const KIND: &str = "sidekiq";

pub const FIGURES: &[FigureSpec] = &[
    FigureSpec::up("queue_latency_s"),
    FigureSpec::up("enqueued"),
    FigureSpec::up("busy"),
    FigureSpec::up("scheduled"),
    FigureSpec::up("retries"),
    FigureSpec::up("dead"),
    FigureSpec::down("processes"),
    FigureSpec::down("processed_per_s"),
    FigureSpec::up("failed_per_s"),
];

/// Mastodon's queues in its own priority order (`config/sidekiq.yml`); `fasp` since 4.4.
pub const MASTODON_QUEUES: &[&str] = &[
    "default",
    "push",
    "ingress",
    "mailers",
    "pull",
    "scheduler",
    "fasp",
];

pub const QUEUE_LATENCY: Threshold = Threshold::above(60.0, 300.0);

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SidekiqReading {
    /// Sidekiq version when a process advertises it (7.x and later).
    pub version: Option<String>,
    /// `stat:processed`: every execution since the counters were last reset.
    pub processed: u64,
    /// `stat:failed`.
    pub failed: u64,
    /// Sum of the queue sizes.
    pub enqueued: u64,
    /// Jobs running now, from the process heartbeats (up to one beat old).
    pub busy: u64,
    pub scheduled: u64,
    pub retries: u64,
    pub dead: u64,
    /// `SCARD processes`, as Sidekiq reports it.
    pub processes: u64,
    /// Rates since the previous poll; `None` on the first one.
    pub processed_per_s: Option<f64>,
    pub failed_per_s: Option<f64>,
    pub queues: Vec<QueueStat>,
    pub process_list: Vec<SidekiqProcess>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueStat {
    pub name: String,
    pub size: u64,
    /// Age of the oldest job in the queue; 0 when empty.
    pub latency_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SidekiqProcess {
    /// `hostname:pid:nonce`, as in the `processes` set.
    pub identity: String,
    pub hostname: String,
    pub pid: u32,
    pub concurrency: u32,
    pub busy: u32,
    pub queues: Vec<String>,
    pub quiet: bool,
    pub rss_kb: u64,
    /// Seconds since the last heartbeat.
    pub beat_age_s: f64,
}

impl SidekiqReading {
    /// The queue whose oldest job has waited longest.
    pub fn slowest_queue(&self) -> Option<&QueueStat> {
        self.queues
            .iter()
            .max_by(|a, b| a.latency_s.total_cmp(&b.latency_s))
    }
}

impl Reading for SidekiqReading {
    fn figures(&self) -> Vec<Figure> {
        let latency = self.slowest_queue().map_or(0.0, |q| q.latency_s);
        let mut figures = vec![
            Figure::new("queue_latency_s", "queue latency", latency, Unit::Seconds)
                .with_threshold(QUEUE_LATENCY),
            Figure::new("enqueued", "enqueued", self.enqueued as f64, Unit::Count),
            Figure::new("busy", "busy", self.busy as f64, Unit::Count),
            Figure::new("scheduled", "scheduled", self.scheduled as f64, Unit::Count),
            Figure::new("retries", "retries", self.retries as f64, Unit::Count),
            Figure::new("dead", "dead", self.dead as f64, Unit::Count),
            Figure::new("processes", "processes", self.processes as f64, Unit::Count),
        ];
        if let Some(rate) = self.processed_per_s {
            figures.push(Figure::new(
                "processed_per_s",
                "processed",
                rate,
                Unit::PerSecond,
            ));
        }
        if let Some(rate) = self.failed_per_s {
            figures.push(Figure::new("failed_per_s", "failed", rate, Unit::PerSecond));
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some("queue_latency_s")
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.processes == 0 {
            findings.push(Finding::crit("no Sidekiq processes are running"));
        }
        // sidekiq-scheduler fires cron jobs from every process listening on `scheduler`,
        // so two of them run every scheduled job twice.
        let schedulers = self
            .process_list
            .iter()
            .filter(|p| p.queues.iter().any(|q| q == "scheduler"))
            .count();
        if schedulers > 1 {
            findings.push(Finding::warn(format!(
                "{schedulers} processes serve the scheduler queue; it must run in only one"
            )));
        }
        for queue in &self.queues {
            if queue.size > 0 && !self.process_list.is_empty() && !self.is_served(&queue.name) {
                findings.push(Finding::warn(format!(
                    "queue {} has {} jobs and no process serves it",
                    queue.name, queue.size
                )));
            }
        }
        findings
    }

    fn summary(&self) -> String {
        match self.slowest_queue() {
            Some(q) if q.latency_s >= 1.0 => format!(
                "{} enqueued · {} {} behind",
                format_value(self.enqueued as f64, Unit::Count),
                q.name,
                format_value(q.latency_s, Unit::Seconds)
            ),
            _ => format!(
                "{} enqueued · {} busy",
                format_value(self.enqueued as f64, Unit::Count),
                self.busy
            ),
        }
    }

    fn detail(&self) -> Detail {
        let count = |v: u64| format_value(v as f64, Unit::Count);
        let rate =
            |v: Option<f64>| v.map_or_else(|| "—".into(), |r| format_value(r, Unit::PerSecond));
        let mut detail = Detail::default().pairs(
            "Stats",
            vec![
                (
                    "version",
                    self.version.clone().unwrap_or_else(|| "—".into()),
                ),
                ("processed", count(self.processed)),
                ("failed", count(self.failed)),
                ("processed rate", rate(self.processed_per_s)),
                ("failed rate", rate(self.failed_per_s)),
                ("enqueued", count(self.enqueued)),
                ("busy", count(self.busy)),
                ("scheduled", count(self.scheduled)),
                ("retries", count(self.retries)),
                ("dead", count(self.dead)),
                ("processes", count(self.processes)),
            ],
        );
        detail = detail.table(
            "Queues",
            TableData {
                columns: vec![
                    Column::text("queue", 12),
                    Column::number("size", 9),
                    Column::number("latency", 10),
                ],
                rows: self
                    .queues
                    .iter()
                    .map(|q| Row {
                        key: None,
                        cells: vec![
                            Cell::text(q.name.clone()),
                            Cell::number(count(q.size), q.size as f64),
                            Cell::number(format_value(q.latency_s, Unit::Seconds), q.latency_s),
                        ],
                        level: Some(figure_level(q.latency_s, &QUEUE_LATENCY)),
                    })
                    .collect(),
            },
        );
        detail.table(
            "Processes",
            TableData {
                columns: vec![
                    Column::text("host", 14),
                    Column::number("pid", 7),
                    Column::number("busy", 9),
                    Column::text("queues", 30),
                    Column::number("RSS", 9),
                    Column::number("beat", 6),
                    Column::text("state", 7),
                ],
                rows: self
                    .process_list
                    .iter()
                    .map(|p| Row {
                        key: None,
                        cells: vec![
                            Cell::text(p.hostname.clone()),
                            Cell::number(p.pid.to_string(), f64::from(p.pid)),
                            Cell::number(
                                format!("{}/{}", p.busy, p.concurrency),
                                f64::from(p.busy),
                            ),
                            Cell::text(p.queues.join(",")),
                            Cell::number(
                                format_value(p.rss_kb as f64 * 1024.0, Unit::Bytes),
                                p.rss_kb as f64,
                            ),
                            Cell::number(format_value(p.beat_age_s, Unit::Seconds), p.beat_age_s),
                            Cell::text(if p.quiet { "quiet" } else { "running" }),
                        ],
                        // A process hash expires 60 s after its last beat; half of that is
                        // already a process that stopped beating.
                        level: Some(if p.beat_age_s >= 30.0 {
                            Level::Warn
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

impl SidekiqReading {
    fn is_served(&self, queue: &str) -> bool {
        self.process_list
            .iter()
            .any(|p| p.queues.iter().any(|q| q == queue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::evaluate;

    fn process(pid: u32, queues: &[&str]) -> SidekiqProcess {
        SidekiqProcess {
            identity: format!("worker:{pid}:0123456789ab"),
            hostname: "worker".into(),
            pid,
            concurrency: 5,
            busy: 1,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            quiet: false,
            rss_kb: 300_000,
            beat_age_s: 2.0,
        }
    }

    fn reading(latency_s: f64, processes: Vec<SidekiqProcess>) -> SidekiqReading {
        SidekiqReading {
            version: None,
            processed: 10,
            failed: 1,
            enqueued: 3,
            busy: 1,
            scheduled: 0,
            retries: 0,
            dead: 0,
            processes: processes.len() as u64,
            processed_per_s: None,
            failed_per_s: None,
            queues: vec![QueueStat {
                name: "default".into(),
                size: 3,
                latency_s,
            }],
            process_list: processes,
        }
    }

    fn level(r: &SidekiqReading) -> Level {
        evaluate(&r.figures(), &r.findings(), |_| None).level
    }

    #[test]
    fn queue_latency_warns_at_a_minute_and_is_critical_at_five() {
        let p = || vec![process(1, &["default", "scheduler"])];
        assert_eq!(level(&reading(2.0, p())), Level::Ok);
        assert_eq!(level(&reading(60.0, p())), Level::Warn);
        assert_eq!(level(&reading(300.0, p())), Level::Crit);
    }

    #[test]
    fn no_processes_is_critical_and_two_schedulers_a_warning() {
        assert_eq!(level(&reading(0.0, Vec::new())), Level::Crit);
        let two = vec![
            process(1, &["default", "scheduler"]),
            process(2, &["scheduler"]),
        ];
        assert_eq!(level(&reading(0.0, two)), Level::Warn);
        let unserved = vec![process(1, &["pull"])];
        assert_eq!(level(&reading(0.0, unserved)), Level::Warn);
    }
}
