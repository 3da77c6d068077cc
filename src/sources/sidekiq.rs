//! Sidekiq, read straight from its Redis: the same numbers the Web UI's dashboard shows
//! (`Sidekiq::Stats`), per-queue size and latency, processes, busy jobs, the first pages of
//! the retry, scheduled and dead sets, a class breakdown per queue and the daily history.
//!
//! Queue latency is the figure that matters: a big `pull` queue that moves is fine, a small
//! `default` queue whose oldest job is five minutes old means timelines are stuck.
//!
//! Every number is computed the way Sidekiq computes it (`api.rb`), so the console agrees
//! with the Web UI. The stats refresh costs two pipelined round trips whatever the size of
//! the instance; slower extras run on their own cadences (see [`fetch`] for the exact
//! commands and their cost). The layout (6.x `:workers` vs `:work`, 7.x, 8.x milliseconds)
//! is detected from the data, never configured.

pub mod browse;
mod browser;
pub mod coverage;
mod detail;
mod fetch;
mod health;
mod jobs;
pub mod metrics;
mod parse;
mod queues;
mod reading;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use redis::RedisError;
use redis::aio::MultiplexedConnection;

pub use self::browser::{BROWSE_DEADLINE, Browser};
use self::fetch::epoch_now;
pub use self::fetch::{
    CLASS_SAMPLE, HISTORY_DAYS, Keys, MAX_BUSY_JOBS, MAX_PROCESSES, MAX_SAMPLED_QUEUES,
    MAX_WORK_PROCESSES, SET_PAGE,
};
pub use self::jobs::{BusyJob, ClassCount, DailyStat, Private, SetEntry};
pub use self::parse::{
    JobFields, ProcessInfo, WorkEntry, epoch_secs, latency, parse_job, parse_process_info,
    parse_work,
};
pub use self::queues::MASTODON_QUEUES;
pub use self::reading::{
    BusyView, QUEUE_LATENCY, QueueStat, SetPage, SidekiqProcess, SidekiqReading,
};
use super::redis::{Connector, connection_lost};
use super::{PollResult, Schedule, Source, SourceSpec};
use crate::config::{Defaults, EndpointConfig};

pub use crate::model::kinds::sidekiq::{FIGURES, KIND};

/// How often busy jobs, set pages and class samples are read (one round trip).
pub const EXTRAS_INTERVAL: Duration = Duration::from_secs(15);
/// How often the 30-day history is read (one round trip); it changes once a day.
pub const HISTORY_INTERVAL: Duration = Duration::from_secs(300);

/// How often the job metrics are read (at most two round trips); Sidekiq flushes them
/// once per beat into one-minute buckets, so a minute is as fresh as they get.
pub const METRICS_INTERVAL: Duration = Duration::from_secs(60);

/// The span the processed/failed rates are averaged over: three 10 s beats.
pub const RATE_WINDOW: Duration = Duration::from_secs(30);

/// The key layout, told apart by what Sidekiq wrote (sidekiq.md §0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// No live process and no telling timestamp yet.
    Unknown,
    /// 6.x before 6.4.2: busy jobs in `IDENTITY:workers`.
    V6Workers,
    /// 6.4.2 to 6.5.x: `IDENTITY:work`, no `version` in process info.
    V6Work,
    /// 6.x whose work hash has not been seen yet (no job running).
    V6,
    V7,
    /// Integer-millisecond timestamps.
    V8,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Unknown => "not known yet (no live process)",
            Layout::V6Workers => "6.x before 6.4.2 (IDENTITY:workers)",
            Layout::V6Work => "6.4.2–6.5 (IDENTITY:work)",
            Layout::V6 => "6.x",
            Layout::V7 => "7.x (IDENTITY:work, weights)",
            Layout::V8 => "8.x (millisecond timestamps)",
        }
    }

    /// Sidekiq's `BEAT_PAUSE`.
    pub fn beat_interval(self) -> f64 {
        match self {
            Layout::V7 | Layout::V8 => 10.0,
            _ => 5.0,
        }
    }

    /// The layout a reading names in its `layout` field.
    pub fn from_description(text: &str) -> Layout {
        [
            Layout::V6Workers,
            Layout::V6Work,
            Layout::V6,
            Layout::V7,
            Layout::V8,
        ]
        .into_iter()
        .find(|l| l.describe() == text)
        .unwrap_or(Layout::Unknown)
    }

    /// Work-hash suffixes worth reading for this layout.
    pub fn work_suffixes(self) -> &'static [&'static str] {
        match self {
            Layout::V6Workers => &[":workers"],
            Layout::V6Work | Layout::V7 | Layout::V8 => &[":work"],
            Layout::Unknown | Layout::V6 => &[":work", ":workers"],
        }
    }
}

/// Detects the layout from the processes' advertised versions, timestamp units seen in
/// jobs and which work-hash suffix answered.
pub fn detect_layout(
    versions: &[Option<String>],
    millis_seen: bool,
    work_suffix: Option<&str>,
) -> Layout {
    let major = versions
        .iter()
        .flatten()
        .filter_map(|v| parse::major_version(v))
        .max();
    match major {
        Some(m) if m >= 8 => return Layout::V8,
        _ if millis_seen => return Layout::V8,
        Some(7) => return Layout::V7,
        _ => {}
    }
    if versions.is_empty() {
        return Layout::Unknown;
    }
    match work_suffix {
        Some(":workers") => Layout::V6Workers,
        Some(_) => Layout::V6Work,
        None => Layout::V6,
    }
}

pub struct SidekiqSource {
    connector: Connector,
    connection: Option<MultiplexedConnection>,
    keys: Keys,
    namespace: Option<String>,
    extras_interval: Duration,
    history_interval: Duration,
    /// Recent `(when, processed, failed)` samples, oldest first, for the rates.
    counter_samples: VecDeque<(Instant, u64, u64)>,
    extras: Option<fetch::Extras>,
    extras_read_at: Option<Instant>,
    history: Vec<DailyStat>,
    history_read_at: Option<Instant>,
    metrics_interval: Duration,
    job_metrics: Option<metrics::JobMetrics>,
    metrics_read_at: Option<Instant>,
    /// What earlier rounds learnt about the layout; a busy hash or an 8.x timestamp is
    /// not in every poll's data.
    work_suffix: Option<&'static str>,
    millis_seen: bool,
    /// The configured hosts, to tell a process on a host without the Sidekiq role.
    hosts: Vec<crate::config::HostConfig>,
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    spec_knowing(config, defaults, Vec::new())
}

/// [`spec`] for a Sidekiq whose processes may run on the configured `hosts`: one on a host
/// whose roles leave out `mastodon-sidekiq` is a finding (a CDN node running Sidekiq was
/// one of Hachyderm's incidents).
pub fn spec_knowing(
    config: &EndpointConfig,
    defaults: &Defaults,
    hosts: Vec<crate::config::HostConfig>,
) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        let mut source = SidekiqSource::new(config, schedule);
        source.hosts = hosts;
        Box::new(source)
    })
}

impl SidekiqSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        let namespace = config.namespace.clone().filter(|n| !n.is_empty());
        SidekiqSource {
            connector: Connector::new(
                &config.url,
                config.password.clone(),
                schedule.deadline,
                "+@read",
            ),
            connection: None,
            keys: Keys::new(namespace.as_deref()),
            namespace,
            extras_interval: EXTRAS_INTERVAL,
            history_interval: HISTORY_INTERVAL,
            counter_samples: VecDeque::new(),
            extras: None,
            extras_read_at: None,
            history: Vec::new(),
            history_read_at: None,
            metrics_interval: METRICS_INTERVAL,
            job_metrics: None,
            metrics_read_at: None,
            work_suffix: None,
            millis_seen: false,
            hosts: Vec::new(),
        }
    }

    /// Changes the extras and history cadences (tests and benchmarks read them on every
    /// poll, or never, to count their commands).
    pub fn set_intervals(&mut self, extras: Duration, history: Duration) {
        self.extras_interval = extras;
        self.history_interval = history;
    }

    /// Changes the job metrics cadence (tests read them on every poll, or never).
    pub fn set_metrics_interval(&mut self, every: Duration) {
        self.metrics_interval = every;
    }

    async fn poll_once(&mut self) -> PollResult {
        self.connector.addr()?;
        let reused = self.connection.is_some();
        // Taken out for the duration of the poll: a poll dropped at its deadline takes the
        // connection with it, and the next poll starts on a fresh one.
        let mut connection = match self.connection.take() {
            Some(c) => c,
            None => self.connector.connect().await?,
        };
        let mut result = self.read(&mut connection).await;
        if reused && matches!(&result, Err(e) if connection_lost(e)) {
            // Dropped since the last poll (server restart, idle timeout): one fresh try.
            drop(connection);
            connection = self.connector.connect().await?;
            result = self.read(&mut connection).await;
        }
        let mut reading = result.map_err(|e| self.connector.describe("the Sidekiq refresh", &e))?;
        reading.misplaced = coverage::off_role(&reading, &self.hosts);
        self.connection = Some(connection);
        Ok(Arc::new(reading))
    }

    /// Rates over the oldest sample still inside [`RATE_WINDOW`]. Sidekiq adds to its
    /// counters once per beat (5 or 10 s), so a rate over one 2 s poll interval swings
    /// between zero and several times the truth; a window of a few beats evens that out.
    /// A counter going down (reset, `Stats#reset`) starts the window again.
    fn rates(&mut self, at: Instant, processed: u64, failed: u64) -> (Option<f64>, Option<f64>) {
        if self
            .counter_samples
            .back()
            .is_some_and(|&(_, p, f)| processed < p || failed < f)
        {
            self.counter_samples.clear();
        }
        while self.counter_samples.len() > 1
            && self
                .counter_samples
                .get(1)
                .is_some_and(|(t, _, _)| at.duration_since(*t) >= RATE_WINDOW)
        {
            self.counter_samples.pop_front();
        }
        let rates = match self.counter_samples.front() {
            Some(&(t, p, f)) => {
                let secs = at.duration_since(t).as_secs_f64();
                if secs > 0.0 {
                    (
                        Some((processed - p) as f64 / secs),
                        Some((failed - f) as f64 / secs),
                    )
                } else {
                    (None, None)
                }
            }
            None => (None, None),
        };
        self.counter_samples.push_back((at, processed, failed));
        rates
    }

    /// One poll: the stats refresh, plus the extras and history when they are due.
    pub async fn read(
        &mut self,
        connection: &mut MultiplexedConnection,
    ) -> Result<SidekiqReading, RedisError> {
        let mut problems = fetch::Problems::default();
        let refresh = fetch::refresh(connection, &self.keys, &mut problems).await?;
        let polled = Instant::now();
        let now = epoch_now();

        let mut processes: Vec<SidekiqProcess> =
            refresh.heartbeats.iter().map(|h| process(h, now)).collect();
        let versions: Vec<Option<String>> = processes
            .iter()
            .filter(|p| !p.info_missing)
            .map(|p| p.version.clone())
            .collect();

        let due = |at: Option<Instant>, every: Duration| at.is_none_or(|t| t.elapsed() >= every);
        if due(self.extras_read_at, self.extras_interval) {
            let layout = detect_layout(&versions, self.millis_seen, self.work_suffix);
            let live: Vec<String> = processes
                .iter()
                .filter(|p| !p.info_missing)
                .map(|p| p.identity.clone())
                .collect();
            let sample: Vec<String> = refresh
                .queues
                .iter()
                .filter(|q| q.listed && q.size > 0)
                .map(|q| q.name.clone())
                .collect();
            let extras = fetch::extras(
                connection,
                &self.keys,
                &live,
                &sample,
                layout.work_suffixes(),
                now,
            )
            .await?;
            self.work_suffix = extras.work_suffix.or(self.work_suffix);
            self.millis_seen |= extras.millis;
            self.extras = Some(extras);
            self.extras_read_at = Some(Instant::now());
        }
        if due(self.history_read_at, self.history_interval) {
            self.history = fetch::history(connection, &self.keys, now as u64).await?;
            self.history_read_at = Some(Instant::now());
        }

        if due(self.metrics_read_at, self.metrics_interval) {
            let version = versions.iter().flatten().max().cloned();
            self.job_metrics =
                Some(metrics::read(connection, &self.keys, now as u64, version.as_deref()).await?);
            self.metrics_read_at = Some(Instant::now());
        }

        let mut queues = Vec::new();
        let mut default_queue_latency_s = 0.0;
        for q in &refresh.queues {
            let (latency_s, unreadable) = latency(q.oldest.as_deref(), now);
            if let Some(job) = q.oldest.as_deref().and_then(parse_job) {
                self.millis_seen |= job.millis;
            }
            if unreadable {
                problems.add(format!(
                    "the oldest job in {} cannot be read",
                    self.keys.queue(&q.name)
                ));
            }
            if q.name == "default" {
                default_queue_latency_s = latency_s;
            }
            if q.listed {
                queues.push(QueueStat {
                    name: q.name.clone(),
                    size: q.size,
                    latency_s,
                    unreadable,
                });
            }
        }
        queues.sort_by_key(|q| {
            let rank = MASTODON_QUEUES.iter().position(|m| *m == q.name);
            (rank.unwrap_or(usize::MAX), q.name.clone())
        });

        let layout = detect_layout(&versions, self.millis_seen, self.work_suffix);
        for p in &mut processes {
            let interval = if p.version.is_some() {
                Layout::V7.beat_interval()
            } else {
                layout.beat_interval()
            };
            p.stale = p.info_missing || p.beat_age_s > 2.0 * interval;
        }

        let r1 = &refresh.round1;
        if r1.queue_names.is_empty() {
            problems.add(match &self.namespace {
                None => "no `queues` set in this Redis: wrong database, or does Sidekiq use a namespace (REDIS_NAMESPACE on Mastodon ≤ 4.3)? Set `namespace` for this endpoint".to_string(),
                Some(ns) => format!("no `{ns}:queues` set in this Redis: is the namespace `{ns}` right?"),
            });
        }
        let (processed_per_s, failed_per_s) = self.rates(polled, r1.processed, r1.failed);

        let mut reading = SidekiqReading {
            version: versions.iter().flatten().max().cloned(),
            layout: layout.describe().to_string(),
            namespace: self.namespace.clone(),
            processed: r1.processed,
            failed: r1.failed,
            enqueued: queues.iter().map(|q| q.size).sum(),
            busy: refresh.heartbeats.iter().map(|h| h.busy).sum(),
            scheduled: r1.scheduled,
            retries: r1.retries,
            dead: r1.dead,
            processes: r1.processes,
            processed_per_s,
            failed_per_s,
            default_queue_latency_s,
            read_at: now,
            queues,
            process_list: processes,
            history: self.history.clone(),
            job_metrics: self.job_metrics.clone(),
            ..SidekiqReading::default()
        };
        if let Some(extras) = &self.extras {
            reading.busy_jobs = extras.busy_jobs.clone();
            reading.retry_set = Some(SetPage {
                total: r1.retries,
                entries: extras.retry.clone(),
                view: None,
            });
            reading.scheduled_set = Some(SetPage {
                total: r1.scheduled,
                entries: extras.scheduled.clone(),
                view: None,
            });
            reading.dead_set = Some(SetPage {
                total: r1.dead,
                entries: extras.dead.clone(),
                view: None,
            });
            reading.classes = extras.classes.clone();
            reading.problems.extend(extras.problems.iter().cloned());
        }
        reading.problems.splice(0..0, problems.into_lines());
        Ok(reading)
    }
}

fn process(h: &fetch::Heartbeat, now: f64) -> SidekiqProcess {
    let info = h.info.as_deref().and_then(parse_process_info);
    let beat_age_s = h.beat.map_or(f64::NAN, |b| {
        now - epoch_secs(&serde_json::Value::from(b)).unwrap_or(b)
    });
    // `identity` is `hostname:pid:nonce`; it names a ghost whose info is gone.
    let mut parts = h.identity.rsplitn(3, ':');
    let (_, pid, host) = (parts.next(), parts.next(), parts.next());
    let info_missing = info.is_none();
    let info = info.unwrap_or_else(|| ProcessInfo {
        hostname: host.unwrap_or_default().to_string(),
        pid: pid.and_then(|p| p.parse().ok()).unwrap_or(0),
        ..ProcessInfo::default()
    });
    SidekiqProcess {
        identity: h.identity.clone(),
        hostname: info.hostname,
        pid: info.pid,
        tag: info.tag,
        concurrency: info.concurrency,
        busy: u32::try_from(h.busy).unwrap_or(u32::MAX),
        queues: info.queues,
        weights: info.weights,
        quiet: h.quiet,
        rss_kb: h.rss_kb,
        rtt_us: h.rtt_us,
        version: info.version,
        beat_age_s,
        stale: false,
        info_missing,
        capsules: info.capsules,
        db_pool: info.db_pool,
    }
}

impl Source for SidekiqSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_told_apart_by_their_data() {
        let v = |s: &str| Some(s.to_string());
        assert_eq!(detect_layout(&[], false, None), Layout::Unknown);
        assert_eq!(detect_layout(&[], true, None), Layout::V8);
        assert_eq!(detect_layout(&[None], false, None), Layout::V6);
        assert_eq!(
            detect_layout(&[None], false, Some(":workers")),
            Layout::V6Workers
        );
        assert_eq!(detect_layout(&[None], false, Some(":work")), Layout::V6Work);
        assert_eq!(detect_layout(&[v("7.3.9")], false, None), Layout::V7);
        assert_eq!(detect_layout(&[v("8.0.9")], false, None), Layout::V8);
        assert_eq!(detect_layout(&[v("7.3.9")], true, None), Layout::V8);
        assert_eq!(Layout::V6Workers.beat_interval(), 5.0);
        assert_eq!(Layout::V8.beat_interval(), 10.0);
    }

    #[test]
    fn rates_average_over_the_window_and_restart_after_a_reset() {
        let endpoint: EndpointConfig =
            toml::from_str("name = \"m\"\nurl = \"redis://127.0.0.1:1/\"\n").expect("endpoint");
        let mut src = SidekiqSource::new(
            &endpoint,
            Schedule {
                cadence: Duration::from_secs(2),
                deadline: Duration::from_secs(1),
            },
        );
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(src.rates(t0, 100, 10), (None, None));
        // The counter moved once, in a beat: spread over the window, not the last poll.
        assert_eq!(src.rates(t0 + s(2), 100, 10), (Some(0.0), Some(0.0)));
        assert_eq!(src.rates(t0 + s(10), 200, 10), (Some(10.0), Some(0.0)));
        // Samples older than the window are dropped: from t0+10 (200) to t0+42 (264).
        assert_eq!(src.rates(t0 + s(42), 264, 10), (Some(2.0), Some(0.0)));
        // A reset starts over.
        assert_eq!(src.rates(t0 + s(44), 5, 0), (None, None));
        assert_eq!(src.rates(t0 + s(46), 9, 0), (Some(2.0), Some(0.0)));
    }

    #[test]
    fn a_ghost_identity_is_listed_from_its_name() {
        let h = fetch::Heartbeat {
            identity: "web-1.example:4242:0123456789ab".into(),
            ..fetch::Heartbeat::default()
        };
        let p = process(&h, 100.0);
        assert!(p.info_missing);
        assert_eq!((p.hostname.as_str(), p.pid), ("web-1.example", 4242));
        assert!(p.beat_age_s.is_nan());
    }
}
