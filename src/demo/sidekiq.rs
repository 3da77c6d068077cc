//! Demo Sidekiq: Mastodon's queues split across two hosts the way Hachyderm ran them, one
//! systemd unit per queue group.

use std::time::Duration;

use crate::sources::sidekiq::{QueueStat, SidekiqProcess, SidekiqReading};

use super::clock;
use super::noise::{around, round, smooth, wobble};
use super::script;

/// Mastodon 4.5 bundles Sidekiq 8.0.
const VERSION: &str = "8.0.9";

/// Everyday (size, latency_s) per queue, in Mastodon's priority order.
const QUEUES: &[(&str, f64, f64)] = &[
    ("default", 40.0, 0.4),
    ("push", 900.0, 2.5),
    ("ingress", 120.0, 1.2),
    ("mailers", 2.0, 0.1),
    ("pull", 20.0, 1.5),
    ("scheduler", 0.0, 0.0),
    ("fasp", 0.0, 0.0),
];

/// Pull jobs keep arriving at this rate during the fan-out, so the queue holds roughly
/// this many jobs per second of latency.
const PULL_ARRIVALS_PER_S: f64 = 130.0;

struct Proc {
    host: &'static str,
    pid: u32,
    nonce: &'static str,
    concurrency: u32,
    queues: &'static [&'static str],
    /// Busy threads on a quiet evening.
    busy: f64,
    /// Only runs while the operator has scaled pull up.
    extra: bool,
}

const PROCESSES: &[Proc] = &[
    Proc {
        host: "sidekiq-1",
        pid: 1187,
        nonce: "5e0c2b9d41a7",
        concurrency: 25,
        queues: &["default"],
        busy: 8.0,
        extra: false,
    },
    Proc {
        host: "sidekiq-1",
        pid: 1188,
        nonce: "a31f07c6e25b",
        concurrency: 20,
        queues: &["ingress"],
        busy: 9.0,
        extra: false,
    },
    Proc {
        host: "sidekiq-1",
        pid: 1190,
        nonce: "c7d94e1a0b38",
        concurrency: 5,
        queues: &["mailers", "scheduler"],
        busy: 1.0,
        extra: false,
    },
    Proc {
        host: "sidekiq-2",
        pid: 2231,
        nonce: "3f9a1c0e7b2d",
        concurrency: 25,
        queues: &["push"],
        busy: 17.0,
        extra: false,
    },
    Proc {
        host: "sidekiq-2",
        pid: 2233,
        nonce: "81be6d2f9c04",
        concurrency: 25,
        queues: &["pull", "fasp"],
        busy: 6.0,
        extra: false,
    },
    Proc {
        host: "sidekiq-2",
        pid: 48812,
        nonce: "e4a0529b7f16",
        concurrency: 25,
        queues: &["pull"],
        busy: 6.0,
        extra: true,
    },
    Proc {
        host: "sidekiq-2",
        pid: 48830,
        nonce: "0d6c3be8a952",
        concurrency: 25,
        queues: &["pull"],
        busy: 6.0,
        extra: true,
    },
];

/// Everyday throughput, and what the extra pull processes add while they run.
const PROCESSED_PER_S: f64 = 260.0;
const EXTRA_PULL_PER_S: f64 = 150.0;
const FAILED_PER_S: f64 = 1.1;
/// LinkCrawlWorker has `retry: 0`: every crawl that times out during the fan-out fails.
const CRAWL_FAILURES_PER_S: f64 = 4.0;

/// `stat:processed` at demo time `now` (seconds). Built from closed-form integrals of the
/// rates so it never decreases and costs the same at any `now`; the wobble is kept small
/// enough (amplitude × max slope < rate) that it cannot make the counter run backwards.
fn processed(now: f64) -> f64 {
    let cycle = clock::CYCLE.as_secs_f64();
    let (cycles, s) = ((now / cycle).floor(), now.rem_euclid(cycle));
    let scaled_span = script::at::PULL_UNSCALED - script::at::PULL_SCALED;
    let extra = EXTRA_PULL_PER_S
        * (cycles * scaled_span + (s - script::at::PULL_SCALED).clamp(0.0, scaled_span));
    2_418_337_904.0 + PROCESSED_PER_S * now + 800.0 * smooth("sidekiq:processed", now, 20.0) + extra
}

fn failed(now: f64) -> f64 {
    let cycle = clock::CYCLE.as_secs_f64();
    let (cycles, s) = ((now / cycle).floor(), now.rem_euclid(cycle));
    let end = script::pull_backlog_ends();
    let crawls = CRAWL_FAILURES_PER_S * (cycles * end + s.min(end));
    38_912_554.0 + FAILED_PER_S * now + 15.0 * smooth("sidekiq:failed", now, 60.0) + crawls
}

/// Per-second rate over the last second, as a poller comparing two polls would see it.
fn rate(counter: fn(f64) -> f64, now: f64) -> f64 {
    let now = now.max(1.0);
    round(counter(now).floor() - counter(now - 1.0).floor(), 1)
}

pub(crate) fn reading(t: Duration) -> SidekiqReading {
    let now = t.as_secs_f64();
    let s = clock::script_secs(t);
    let backlogged = script::pull_backlogged(s);
    let scaled = script::pull_scaled(s);

    let queues: Vec<QueueStat> = QUEUES
        .iter()
        .map(|&(name, size, latency)| {
            let key = format!("sidekiq:{name}");
            let (size, latency) = if name == "pull" && backlogged {
                let latency = script::pull_latency(s) * (1.0 + 0.01 * wobble(&key, now));
                (latency * PULL_ARRIVALS_PER_S, latency)
            } else {
                (
                    around(&format!("{key}:size"), now, size, 0.5),
                    around(&format!("{key}:latency"), now, latency, 0.5),
                )
            };
            let size = size.round();
            QueueStat {
                name: name.into(),
                size: size as u64,
                // An empty queue has no oldest job, so Sidekiq reports 0.
                latency_s: if size == 0.0 { 0.0 } else { round(latency, 3) },
            }
        })
        .collect();

    let process_list: Vec<SidekiqProcess> = PROCESSES
        .iter()
        .filter(|p| !p.extra || scaled)
        .map(|p| {
            let key = format!("sidekiq:{}", p.pid);
            let pulls = p.queues.contains(&"pull");
            // Every pull thread sits on a slow remote fetch while the backlog lasts.
            let busy = if pulls && backlogged {
                f64::from(p.concurrency)
            } else {
                around(&key, now, p.busy, 0.4).min(f64::from(p.concurrency))
            };
            let beat_phase = f64::from(p.pid % 10);
            SidekiqProcess {
                identity: format!("{}:{}:{}", p.host, p.pid, p.nonce),
                hostname: p.host.into(),
                pid: p.pid,
                concurrency: p.concurrency,
                busy: busy.round() as u32,
                queues: p.queues.iter().map(|q| q.to_string()).collect(),
                quiet: false,
                rss_kb: around(&format!("{key}:rss"), now, 1_250_000.0, 0.08).round() as u64,
                // Sidekiq 8 beats every 10 s.
                beat_age_s: round((now + beat_phase) % 10.0, 1),
            }
        })
        .collect();

    let end = script::pull_backlog_ends();
    SidekiqReading {
        version: Some(VERSION.into()),
        processed: processed(now).floor() as u64,
        failed: failed(now).floor() as u64,
        enqueued: queues.iter().map(|q| q.size).sum(),
        busy: process_list.iter().map(|p| u64::from(p.busy)).sum(),
        scheduled: around("sidekiq:scheduled", now, 160.0, 0.15).round() as u64,
        retries: around("sidekiq:retries", now, 3100.0, 0.08).round() as u64,
        dead: (7200.0 + CRAWL_FAILURES_PER_S * s.min(end)).min(9999.0) as u64,
        processes: process_list.len() as u64,
        processed_per_s: Some(rate(processed, now)),
        failed_per_s: Some(rate(failed, now)),
        queues,
        process_list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_never_run_backwards_even_across_the_loop() {
        let mut last = (0.0, 0.0);
        for i in 0..4000 {
            let now = f64::from(i) * 0.5;
            let now_values = (processed(now), failed(now));
            assert!(now_values.0 >= last.0, "processed fell at {now}");
            assert!(now_values.1 >= last.1, "failed fell at {now}");
            last = now_values;
        }
    }
}
