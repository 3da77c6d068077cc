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
pub mod journal;
pub mod loki;
pub mod pgbouncer;
pub mod postgres;
pub mod prometheus;
pub mod redis;
pub mod scheduler;
pub mod sidekiq;
pub mod stored;
pub mod streaming;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::Config;
use crate::model::{ComponentMeta, Reading, SourceState};

pub use crate::model::kinds::{KINDS, figure_specs};
pub use feed::{Feed, Update};
pub use scheduler::{Schedule, spawn_all, spawn_into};

/// Why a poll produced no reading.
#[derive(Debug, Clone, PartialEq)]
pub enum PollError {
    /// Network, protocol or server error: the source is down and retries on its cadence.
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
    build_sharing_masters(config, std::sync::Arc::default())
}

/// [`build_sharing`], the SSH hosts' master connections taken from `masters` (shared with
/// the log readers of the same console).
pub fn build_sharing_masters(
    config: &Config,
    masters: std::sync::Arc<host::masters::Masters>,
) -> (Vec<SourceSpec>, host::HostSpawner) {
    let mut hosts = host::HostSpawner::new(&config.ssh, &config.defaults)
        .with_log_signatures(crate::logs::signatures::configured(&config.logs))
        .with_masters(masters);
    if let Some(p) = config.prometheus.iter().find(|p| p.enabled) {
        hosts = hosts.with_prometheus(std::sync::Arc::new(host::prometheus::PrometheusHosts::new(
            p,
            &config.hosts,
            config.defaults.cadence,
        )));
    }
    let mut specs = Vec::new();
    specs.extend(config.postgres.iter().map(|c| {
        postgres::spec_knowing(
            c,
            &config.defaults,
            postgres::host_reads::HostLinks::from_config(config, c),
        )
    }));
    specs.extend(config.redis.iter().map(|c| {
        redis::spec_knowing(
            c,
            &config.defaults,
            redis::known::KnownPeers::from_config(config, c),
        )
    }));
    specs.extend(
        config
            .sidekiq
            .iter()
            .map(|c| sidekiq::spec_knowing(c, &config.defaults, config.hosts.clone())),
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

/// The longest a refused source waits between attempts (unless its cadence is longer).
pub const REFUSED_RETRY_MAX: Duration = Duration::from_secs(60);

/// How long a source waits before its next poll, given what the last one came to.
///
/// A source that answers, or fails to, polls on its cadence. A failing source has dropped
/// its connection, so its next poll starts with a connect, bounded by the deadline like any
/// poll: against a stopped or unreachable backend that costs one connection attempt per
/// cadence, however long the outage, and the first poll after the backend answers again
/// succeeds. A refusal (privilege, login) is different: the server answers, logs each
/// refusal, and nothing changes until someone grants something, so it is retried ever
/// more slowly, doubling up to [`REFUSED_RETRY_MAX`].
pub fn backoff(cadence: Duration, state: SourceState, failures: u32) -> Duration {
    match state {
        SourceState::Denied => {
            let factor = 2u32.saturating_pow(failures.min(16));
            cadence
                .saturating_mul(factor)
                .min(REFUSED_RETRY_MAX)
                .max(cadence)
        }
        _ => cadence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_down_source_retries_on_its_cadence_however_long_it_is_down() {
        let c = Duration::from_secs(2);
        for failures in [0, 1, 3, 10, 1000, u32::MAX] {
            assert_eq!(backoff(c, SourceState::Down, failures), c);
        }
        assert_eq!(backoff(c, SourceState::Ok, 0), c);
    }

    #[test]
    fn a_refused_source_backs_off_to_a_minute() {
        let c = Duration::from_secs(2);
        assert_eq!(backoff(c, SourceState::Denied, 1), Duration::from_secs(4));
        assert_eq!(backoff(c, SourceState::Denied, 3), Duration::from_secs(16));
        assert_eq!(backoff(c, SourceState::Denied, 10), REFUSED_RETRY_MAX);
        assert_eq!(backoff(c, SourceState::Denied, u32::MAX), REFUSED_RETRY_MAX);
        // a cadence longer than the cap is never shortened by backoff
        let slow = Duration::from_secs(300);
        assert_eq!(backoff(slow, SourceState::Denied, 2), slow);
    }
}
