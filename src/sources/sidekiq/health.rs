//! What a Sidekiq reading says to the fleet: its figures, findings and summary, and where
//! its detail and private content come from.

use std::any::Any;

use super::reading::{QUEUE_LATENCY, SidekiqReading};
use crate::model::{Detail, Figure, Finding, Reading, Unit, figure::format_value};

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

    fn breakdown(&self) -> Vec<(&'static str, String, f64)> {
        self.queues
            .iter()
            .map(|q| ("queue_latency_s", q.name.clone(), q.latency_s))
            .collect()
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = self.misplaced.clone();
        if self.processes == 0 {
            findings.push(Finding::crit("no Sidekiq processes are running"));
        }
        let stale = self.process_list.iter().filter(|p| p.stale).count();
        if stale > 0 {
            findings.push(Finding::warn(format!(
                "{stale} of {} processes stopped beating (stale or gone)",
                self.process_list.len()
            )));
        }
        // sidekiq-scheduler fires cron jobs from every process listening on `scheduler`,
        // so two of them run every scheduled job twice.
        let schedulers = self
            .process_list
            .iter()
            .filter(|p| !p.stale && p.queues.iter().any(|q| q == "scheduler"))
            .count();
        if schedulers > 1 {
            findings.push(Finding::warn(format!(
                "{schedulers} processes serve the scheduler queue; it must run in only one (scheduler run twice)"
            )));
        }
        for queue in &self.queues {
            if queue.size > 0 && !self.process_list.is_empty() && !self.is_served(&queue.name) {
                findings.push(Finding::warn(format!(
                    "queue {} has {} jobs and no process serves it (queues rebalanced by hand)",
                    crate::sanitize::sanitize_truncated(&queue.name, 64),
                    queue.size
                )));
            }
        }
        findings.extend(super::coverage::findings(self));
        findings.extend(self.problems.iter().map(Finding::warn));
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
        super::detail::detail(self)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    /// A retry, scheduled or dead row's whole job (arguments and error message included).
    fn private(&self, table: &str, key: &str) -> Option<String> {
        let set = match table.split_whitespace().next()? {
            "Retries" => "retry",
            "Scheduled" => "schedule",
            "Dead" => "dead",
            _ => return None,
        };
        let page = match set {
            "retry" => self.retry_set.as_ref(),
            "schedule" => self.scheduled_set.as_ref(),
            _ => self.dead_set.as_ref(),
        }?;
        page.entries
            .iter()
            .find(|e| e.key() == key)
            .map(|e| String::from_utf8_lossy(e.member.reveal()).into_owned())
    }
}
