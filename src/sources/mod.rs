//! Backends. Each module knows how to connect to, poll and parse one kind of backend into a
//! typed [`Reading`](crate::model::Reading); the [`scheduler`] runs each source in its own
//! task on its own cadence with a deadline, and publishes the latest result.
//!
//! Adding a backend: a module here with its reading type and a [`Source`] impl, a config
//! section, and one line in [`build`].

pub mod alertmanager;
pub mod edge;
pub mod elasticsearch;
pub mod exposition;
pub mod feed;
pub mod host;
pub mod pgbouncer;
pub mod postgres;
pub mod prometheus;
pub mod redis;
pub mod scheduler;
pub mod sidekiq;
pub mod streaming;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::Config;
use crate::model::{ComponentMeta, FigureSpec, Reading};

pub use feed::{Feed, Update};
pub use scheduler::{Schedule, spawn_all, spawn_into};

/// Why a poll produced no reading.
#[derive(Debug, Clone, PartialEq)]
pub enum PollError {
    /// Network, protocol or server error: the source is down and will retry with backoff.
    Failed(String),
    /// The server refused us for lack of privilege: shown as denied, retried slowly.
    Denied(String),
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollError::Failed(e) | PollError::Denied(e) => f.write_str(e),
        }
    }
}

pub type PollResult = Result<Arc<dyn Reading>, PollError>;

/// A backend poller. `poll` owns its connection state between calls (connect lazily,
/// reconnect after errors); the scheduler bounds every call with the deadline and drops the
/// future when it expires, so a poll must be cancel-safe.
pub trait Source: Send + 'static {
    fn poll(&mut self) -> BoxFuture<'_, PollResult>;
}

/// One configured source, ready to run.
pub struct SourceSpec {
    pub meta: ComponentMeta,
    pub schedule: Schedule,
    pub enabled: bool,
    pub source: Box<dyn Source>,
}

impl SourceSpec {
    /// The status a source has before its first poll: pending, or disabled in config.
    pub fn first_status(&self) -> crate::model::SourceStatus {
        if self.enabled {
            crate::model::SourceStatus::pending(self.schedule.cadence)
        } else {
            crate::model::SourceStatus::disabled("in config")
        }
    }

    /// A source named, placed, tagged and scheduled as its `[[kind]]` entry says.
    pub fn for_endpoint(
        kind: &'static str,
        config: &crate::config::EndpointConfig,
        defaults: &crate::config::Defaults,
        source: impl FnOnce(Schedule) -> Box<dyn Source>,
    ) -> SourceSpec {
        let schedule = config.schedule(defaults);
        SourceSpec {
            meta: ComponentMeta {
                id: crate::model::ComponentId::new(kind, &config.name),
                kind,
                region: config.region.clone(),
                tags: config.tags.clone(),
            },
            schedule,
            enabled: config.enabled,
            source: source(schedule),
        }
    }
}

/// Builds every configured source. The only place that knows the list of backends.
pub fn build(config: &Config) -> Vec<SourceSpec> {
    build_sharing(config).0
}

/// [`build`], also handing back the host spawner its host sources share, for hosts that
/// discovery finds later.
pub fn build_sharing(config: &Config) -> (Vec<SourceSpec>, host::HostSpawner) {
    let mut hosts = host::HostSpawner::new(&config.ssh, &config.defaults);
    if let Some(p) = config.prometheus.iter().find(|p| p.enabled) {
        hosts = hosts.with_prometheus(std::sync::Arc::new(host::prometheus::PrometheusHosts::new(
            p,
            &config.hosts,
            config.defaults.cadence,
        )));
    }
    let mut specs = Vec::new();
    specs.extend(
        config
            .postgres
            .iter()
            .map(|c| postgres::spec(c, &config.defaults)),
    );
    specs.extend(
        config
            .redis
            .iter()
            .map(|c| redis::spec(c, &config.defaults)),
    );
    specs.extend(
        config
            .sidekiq
            .iter()
            .map(|c| sidekiq::spec(c, &config.defaults)),
    );
    specs.extend(config.hosts.iter().map(|h| hosts.spec(h)));
    specs.extend(
        config
            .pgbouncer
            .iter()
            .map(|c| pgbouncer::spec(c, &config.defaults)),
    );
    specs.extend(config.edges.iter().map(|c| edge::spec(c, &config.defaults)));
    specs.extend(
        config
            .elasticsearch
            .iter()
            .map(|c| elasticsearch::spec(c, &config.defaults)),
    );
    specs.extend(
        config
            .streaming
            .iter()
            .map(|c| streaming::spec(c, &config.defaults)),
    );
    specs.extend(config.web.iter().map(|c| web::spec(c, &config.defaults)));
    specs.extend(
        config
            .prometheus
            .iter()
            .map(|c| prometheus::spec(c, &config.defaults)),
    );
    specs.extend(
        config
            .alertmanager
            .iter()
            .map(|c| alertmanager::spec(c, &config.defaults)),
    );
    (specs, hosts)
}

/// Every component kind, in the order the overview lists them (the traffic path first).
pub const KINDS: &[&str] = &[
    edge::KIND,
    web::KIND,
    host::KIND,
    sidekiq::KIND,
    postgres::KIND,
    pgbouncer::KIND,
    redis::KIND,
    elasticsearch::KIND,
    streaming::KIND,
    prometheus::KIND,
    alertmanager::KIND,
];

/// The figures a kind produces, for validating `[thresholds.<kind>.<figure>]`.
pub fn figure_specs(kind: &str) -> Option<&'static [FigureSpec]> {
    match kind {
        postgres::KIND => Some(postgres::FIGURES),
        pgbouncer::KIND => Some(pgbouncer::FIGURES),
        redis::KIND => Some(redis::FIGURES),
        edge::KIND => Some(edge::FIGURES),
        host::KIND => Some(host::FIGURES),
        sidekiq::KIND => Some(sidekiq::FIGURES),
        elasticsearch::KIND => Some(elasticsearch::FIGURES),
        streaming::KIND => Some(streaming::FIGURES),
        prometheus::KIND => Some(prometheus::FIGURES),
        web::KIND => Some(web::FIGURES),
        alertmanager::KIND => Some(alertmanager::FIGURES),
        _ => None,
    }
}

/// The figure a kind's trend usually shows, for a component with history but no reading
/// yet (trends backfilled from Prometheus before the first poll).
pub fn trend_key(kind: &str) -> Option<&'static str> {
    match kind {
        host::KIND => Some("disk_used_pct"),
        sidekiq::KIND => Some("queue_latency_s"),
        postgres::KIND => Some("connections_used_pct"),
        pgbouncer::KIND => Some("clients_waiting"),
        redis::KIND => Some("memory_used_pct"),
        streaming::KIND => Some("connected_clients"),
        web::KIND => Some("puma_backlog"),
        _ => None,
    }
}

/// Backoff after `failures` consecutive failures: cadence doubled each time, capped at
/// a minute so a recovered backend is noticed quickly.
pub fn backoff(cadence: Duration, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.min(16));
    cadence
        .saturating_mul(factor)
        .min(Duration::from_secs(60))
        .max(cadence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let c = Duration::from_secs(2);
        assert_eq!(backoff(c, 0), c);
        assert_eq!(backoff(c, 1), Duration::from_secs(4));
        assert_eq!(backoff(c, 3), Duration::from_secs(16));
        assert_eq!(backoff(c, 10), Duration::from_secs(60));
        assert_eq!(backoff(c, u32::MAX), Duration::from_secs(60));
        // a cadence longer than the cap is never shortened by backoff
        let slow = Duration::from_secs(300);
        assert_eq!(backoff(slow, 2), slow);
    }
}
