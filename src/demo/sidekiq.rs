//! Demo Sidekiq: Mastodon's queues split across two hosts the way Hachyderm ran them, one
//! systemd unit per queue group.

use std::time::Duration;

use crate::sources::sidekiq::{
    BusyJob, ClassCount, DailyStat, Layout, Private, QueueStat, SetEntry, SetPage, SidekiqProcess,
    SidekiqReading,
};

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

pub(crate) fn reading(t: Duration, s: f64, anchor: clock::Anchor) -> SidekiqReading {
    let now = t.as_secs_f64();
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
                unreadable: false,
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
                tag: "mastodon".into(),
                concurrency: p.concurrency,
                busy: busy.round() as u32,
                queues: p.queues.iter().map(|q| q.to_string()).collect(),
                // One queue group per unit: every queue of a process at weight 1.
                weights: p.queues.iter().map(|q| (q.to_string(), 1)).collect(),
                quiet: false,
                rss_kb: around(&format!("{key}:rss"), now, 1_250_000.0, 0.08).round() as u64,
                rtt_us: Some(around(&format!("{key}:rtt"), now, 180.0, 0.3).round() as u64),
                version: Some(VERSION.into()),
                // Sidekiq 8 beats every 10 s.
                beat_age_s: round((now + beat_phase) % 10.0, 1),
                stale: false,
                info_missing: false,
                capsules: 1,
                db_pool: Some(p.concurrency),
            }
        })
        .collect();

    let end = script::pull_backlog_ends();
    let wall = anchor.wall_unix(t);
    let retries = around("sidekiq:retries", now, 3100.0, 0.08).round() as u64;
    let scheduled = around("sidekiq:scheduled", now, 160.0, 0.15).round() as u64;
    let dead = (7200.0 + CRAWL_FAILURES_PER_S * s.min(end)).min(9999.0) as u64;
    let mut reading = SidekiqReading {
        misplaced: Vec::new(),
        version: Some(VERSION.into()),
        layout: Layout::V8.describe().into(),
        namespace: None,
        default_queue_latency_s: queues.first().map_or(0.0, |q| q.latency_s),
        read_at: wall,
        busy_jobs: busy_jobs(&process_list, backlogged, wall),
        busy_view: None,
        retry_set: Some(set_page(RETRY_CLASSES, retries, wall, 1.0)),
        scheduled_set: Some(set_page(SCHEDULED_CLASSES, scheduled, wall, 1.0)),
        dead_set: Some(set_page(DEAD_CLASSES, dead, wall, -1.0)),
        classes: classes(backlogged),
        history: history(now, wall),
        job_metrics: Some(job_metrics(now, wall, backlogged)),
        problems: Vec::new(),
        processed: processed(now).floor() as u64,
        failed: failed(now).floor() as u64,
        enqueued: queues.iter().map(|q| q.size).sum(),
        busy: process_list.iter().map(|p| u64::from(p.busy)).sum(),
        scheduled,
        retries,
        dead,
        processes: process_list.len() as u64,
        processed_per_s: Some(rate(processed, now)),
        failed_per_s: Some(rate(failed, now)),
        queues,
        process_list,
    };
    super::post_mortems::sidekiq(&mut reading, s);
    reading
}

/// Mastodon's busiest job classes: (class, jobs per second, mean ms, failure share, p50, p95).
const METRIC_CLASSES: &[(&str, f64, f64, f64, &str, &str)] = &[
    (
        "ActivityPub::DeliveryWorker",
        120.0,
        240.0,
        0.04,
        "≤ 150ms",
        "≤ 1.7s",
    ),
    (
        "ActivityPub::ProcessingWorker",
        60.0,
        180.0,
        0.002,
        "≤ 100ms",
        "≤ 750ms",
    ),
    ("FeedInsertWorker", 40.0, 12.0, 0.0, "≤ 20ms", "≤ 45ms"),
    ("LinkCrawlWorker", 15.0, 900.0, 0.25, "≤ 500ms", "≤ 5.75s"),
    ("DistributionWorker", 8.0, 60.0, 0.0, "≤ 45ms", "≤ 225ms"),
    (
        "ActionMailer::MailDeliveryJob",
        0.3,
        350.0,
        0.01,
        "≤ 335ms",
        "≤ 1.1s",
    ),
];

/// The last hour of Sidekiq 8's job metrics, from the same rates the counters follow.
fn job_metrics(
    now: f64,
    wall: f64,
    backlogged: bool,
) -> crate::sources::sidekiq::metrics::JobMetrics {
    use crate::sources::sidekiq::metrics::{
        ClassMetrics, JobMetrics, MetricsLayout, WINDOW_MINUTES,
    };
    let to = (wall as u64) - (wall as u64) % 60 + 60;
    let mut classes: Vec<ClassMetrics> = METRIC_CLASSES
        .iter()
        .map(|&(class, per_s, mean, fail, p50, p95)| {
            let boost = if backlogged && class == "LinkCrawlWorker" {
                6.0
            } else {
                1.0
            };
            let processed = around(
                &format!("metrics:{class}"),
                now,
                per_s * boost * 3600.0,
                0.1,
            )
            .round() as u64;
            let failed = (processed as f64 * fail).round() as u64;
            let mean_ms = around(&format!("metrics:{class}:ms"), now, mean, 0.1);
            ClassMetrics {
                class: class.into(),
                processed,
                failed,
                total_ms: (mean_ms * (processed - failed) as f64) as u64,
                mean_ms: Some(mean_ms),
                p50: Some(p50.into()),
                p95: Some(p95.into()),
            }
        })
        .collect();
    classes.sort_by_key(|c| std::cmp::Reverse(c.total_ms));
    JobMetrics {
        layout: Some(MetricsLayout::V8),
        window_minutes: WINDOW_MINUTES,
        from: to - WINDOW_MINUTES * 60,
        to,
        classes,
        classes_without_histogram: 0,
        absent: None,
        round_trips: 2,
        commands: 2 * WINDOW_MINUTES + METRIC_CLASSES.len() as u64,
    }
}

/// What each queue's threads are usually running, by Mastodon's worker classes.
fn class_for(queue: &str, i: usize) -> &'static str {
    let pick = |names: &[&'static str]| names[i % names.len()];
    match queue {
        "default" => pick(&[
            "DistributionWorker",
            "LocalNotificationWorker",
            "FeedInsertWorker",
        ]),
        "push" => pick(&["ActivityPub::DeliveryWorker"]),
        "ingress" => pick(&["ActivityPub::ProcessingWorker"]),
        "mailers" => pick(&["ActionMailer::MailDeliveryJob"]),
        "pull" => pick(&[
            "LinkCrawlWorker",
            "ActivityPub::FetchRepliesWorker",
            "ThreadResolveWorker",
        ]),
        _ => pick(&["Scheduler::IndexingScheduler"]),
    }
}

/// A few running jobs per process; pull threads run for minutes during the backlog.
fn busy_jobs(processes: &[SidekiqProcess], backlogged: bool, wall: f64) -> Vec<BusyJob> {
    processes
        .iter()
        .flat_map(|p| {
            let queue = p.queues.first().cloned().unwrap_or_default();
            let slow = backlogged && queue == "pull";
            (0..p.busy.min(3) as usize).map(move |i| BusyJob {
                process: p.identity.clone(),
                thread: format!("t{}", 36 + i),
                queue: queue.clone(),
                class: class_for(&queue, i).into(),
                jid: format!("{:012x}{:012x}", p.pid, i),
                running_s: Some(if slow {
                    95.0 + 30.0 * i as f64
                } else {
                    0.4 + i as f64
                }),
                unreadable: false,
            })
        })
        .map(|mut j| {
            j.running_s = j.running_s.map(|r| round(r + (wall % 7.0) * 0.1, 1));
            j
        })
        .collect()
}

const RETRY_CLASSES: &[(&str, &str, &str)] = &[
    ("ActivityPub::DeliveryWorker", "push", "HTTP::TimeoutError"),
    (
        "ActivityPub::DeliveryWorker",
        "push",
        "Mastodon::UnexpectedResponseError",
    ),
    (
        "ActivityPub::ProcessingWorker",
        "ingress",
        "ActiveRecord::RecordNotUnique",
    ),
    (
        "ActivityPub::DeliveryWorker",
        "push",
        "OpenSSL::SSL::SSLError",
    ),
];
const SCHEDULED_CLASSES: &[(&str, &str, &str)] = &[
    ("PublishScheduledStatusWorker", "default", ""),
    ("Admin::AccountDeletionWorker", "pull", ""),
];
const DEAD_CLASSES: &[(&str, &str, &str)] = &[
    ("LinkCrawlWorker", "pull", "HTTP::ConnectionError"),
    ("LinkCrawlWorker", "pull", "HTTP::TimeoutError"),
];

/// The first entries of a set: `direction` 1 for runs ahead (retries, scheduled), -1 for
/// deaths behind.
fn set_page(classes: &[(&str, &str, &str)], total: u64, wall: f64, direction: f64) -> SetPage {
    let entries = (0..total.min(8) as usize)
        .map(|i| {
            let (class, queue, error) = classes[i % classes.len()];
            let score = round(wall + direction * (12.0 + 47.0 * i as f64), 3);
            SetEntry {
                score_text: format!("{score}"),
                score,
                jid: format!("{:024x}", 0x5eed_0000 + i),
                class: class.into(),
                queue: queue.into(),
                error_class: (!error.is_empty()).then(|| error.into()),
                retry_count: (!error.is_empty()).then_some((i % 5) as i64),
                unreadable: false,
                member: Private::default(),
            }
        })
        .collect();
    SetPage {
        total,
        entries,
        view: None,
    }
}

/// Class breakdown of the newest 50 jobs per queue.
fn classes(backlogged: bool) -> Vec<ClassCount> {
    let mut out = vec![
        ClassCount {
            queue: "default".into(),
            class: "DistributionWorker".into(),
            count: 31,
            sampled: 40,
        },
        ClassCount {
            queue: "default".into(),
            class: "LocalNotificationWorker".into(),
            count: 9,
            sampled: 40,
        },
    ];
    let pull = if backlogged {
        [
            ("ActivityPub::FetchRepliesWorker", 41),
            ("LinkCrawlWorker", 9),
        ]
    } else {
        [("LinkCrawlWorker", 12), ("ThreadResolveWorker", 8)]
    };
    let sampled = pull.iter().map(|(_, n)| n).sum();
    out.extend(pull.iter().map(|(class, count)| ClassCount {
        queue: "pull".into(),
        class: (*class).into(),
        count: *count,
        sampled,
    }));
    out
}

/// Thirty days of daily counters ending on the day of `wall`, the last one the day so far.
fn history(now: f64, wall: f64) -> Vec<DailyStat> {
    (0..30u32)
        .map(|i| {
            let day = f64::from(i);
            let base = PROCESSED_PER_S * 86_400.0;
            DailyStat {
                date: clock::rfc3339(wall - (29.0 - day) * 86_400.0)
                    .chars()
                    .take(10)
                    .collect(),
                processed: around("sidekiq:history", day * 40.0, base, 0.2).round() as u64
                    + if i == 29 { now as u64 } else { 0 },
                failed: around(
                    "sidekiq:history:failed",
                    day * 40.0,
                    FAILED_PER_S * 86_400.0,
                    0.4,
                )
                .round() as u64,
            }
        })
        .collect()
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
