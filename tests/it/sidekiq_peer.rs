//! The Sidekiq source against a real Sidekiq (Debian's ruby-sidekiq 6.4.1): jobs that stay
//! busy, fail into retries, die, get scheduled or wait in a queue nobody serves; then
//! mastop's numbers are compared with what Sidekiq's own API says about the same Redis.

use crate::support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::Reading;
use mastop::sources::sidekiq::{SidekiqReading, SidekiqSource};
use mastop::sources::{PollError, Schedule, Source};
use serde_json::Value;
use support::Redis;
use support::sidekiq::SidekiqPeer;

/// Hang guards only: a healthy poll takes milliseconds, Sidekiq boots in a few seconds and
/// flushes its counters every 5 s beat.
const HANG_GUARD: Duration = Duration::from_secs(30);
const SIDEKIQ_GUARD: Duration = Duration::from_secs(90);

fn source(url: String) -> SidekiqSource {
    // Built from TOML, as a config file would give it, so new optional fields need no
    // change here.
    let endpoint: EndpointConfig = toml::from_str(&format!("name = \"main\"\nurl = \"{url}\"\n"))
        .expect("a valid [[sidekiq]] entry");
    SidekiqSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
}

async fn poll(source: &mut SidekiqSource) -> Result<SidekiqReading, PollError> {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")?;
    Ok(reading
        .as_any()
        .downcast_ref::<SidekiqReading>()
        .expect("the sidekiq source returns a SidekiqReading")
        .clone())
}

async fn poll_ok(source: &mut SidekiqSource) -> SidekiqReading {
    poll(source)
        .await
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"))
}

fn num(redis: &Redis, args: &[&str]) -> i64 {
    redis.cli(args).trim().parse().unwrap_or(-1)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Asserts mastop's latency agrees with Sidekiq's: both are `clock − enqueued_at` of the
/// same job, so they differ by exactly the time between the two clock reads. Ruby's read
/// lies in [before, after]; the slack is the rounding of epoch-second doubles.
fn assert_latency(what: &str, mastop: f64, mastop_at: f64, ruby: f64, before: f64, after: f64) {
    const ROUNDING: f64 = 1e-5;
    if ruby == 0.0 {
        assert_eq!(mastop, 0.0, "{what}: Sidekiq says empty");
        return;
    }
    let diff = mastop - ruby;
    let (lo, hi) = (mastop_at - after - ROUNDING, mastop_at - before + ROUNDING);
    assert!(
        diff >= lo && diff <= hi,
        "{what}: mastop {mastop} vs Sidekiq {ruby}: difference {diff} outside the time between the reads [{lo}, {hi}]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matches_sidekiqs_own_numbers() {
    let redis = Redis::start();
    let mut peer = SidekiqPeer::new(&redis);
    // Phase 1: work that finishes (fast), fails into retries, or dies; an unlistened queue
    // and a scheduled job.
    peer.ruby(
        r#"
        c = Sidekiq::Client.new
        20.times { |i| c.push("class" => FastJob, "args" => [i]) }
        2.times  { |i| c.push("class" => FlakyJob, "args" => [i]) }
        2.times  { |i| c.push("class" => DoomedJob, "args" => [i]) }
        5.times  { |i| c.push("class" => "FastJob", "args" => [i], "queue" => "pull") }
        Sidekiq::Client.push_bulk("class" => FastJob, "args" => [[1], [2], [3]], "queue" => "pull")
        c.push("class" => "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
               "wrapped" => "ActionMailer::MailDeliveryJob", "queue" => "pull",
               "args" => [{ "job_class" => "ActionMailer::MailDeliveryJob", "arguments" => ["someone@example.org"] }])
        c.push("class" => FastJob, "args" => [99], "at" => Time.now.to_f + 3600)
        "#,
    );
    // Three threads: once three SlowJobs hold them, nothing else is fetched.
    peer.run(&["default,2", "mailers"], 3);
    peer.wait_for("24 processed and 4 failed", SIDEKIQ_GUARD, || {
        num(&redis, &["GET", "stat:processed"]) == 24 && num(&redis, &["GET", "stat:failed"]) == 4
    });
    // Phase 2: fill every thread, then leave two jobs waiting in default.
    peer.ruby(r#"3.times { SlowJob.perform_async(300) }"#);
    peer.wait_for("three busy threads", SIDEKIQ_GUARD, || {
        num(&redis, &["LLEN", "queue:default"]) == 0
            && redis
                .cli(&["SMEMBERS", "processes"])
                .lines()
                .next()
                .is_some_and(|id| num(&redis, &["HGET", id.trim(), "busy"]) == 3)
    });
    peer.ruby(r#"2.times { |i| FastJob.perform_async(i) }"#);
    // Let the waiting jobs age, so latency is clearly non-zero.
    std::thread::sleep(Duration::from_millis(300));

    let mut src = source(redis.url());
    let first = poll_ok(&mut src).await;
    let ruby = peer.api_stats();
    let r = poll_ok(&mut src).await;

    for (name, ours) in [
        ("processed", r.processed),
        ("failed", r.failed),
        ("scheduled", r.scheduled),
        ("retries", r.retries),
        ("dead", r.dead),
        ("processes", r.processes),
        ("busy", r.busy),
        ("enqueued", r.enqueued),
    ] {
        assert_eq!(ours, u(&ruby[name]), "{name}: Sidekiq says {ruby:#}");
    }
    assert_eq!(
        (r.processed, r.failed, r.scheduled, r.retries, r.dead),
        (24, 4, 1, 2, 2)
    );
    assert_eq!((r.processes, r.busy, r.enqueued), (1, 3, 11));
    assert_latency(
        "default_queue_latency",
        r.default_queue_latency_s,
        r.read_at,
        f(&ruby["default_queue_latency"]),
        f(&ruby["stats_before"]),
        f(&ruby["stats_after"]),
    );
    assert!(r.default_queue_latency_s > 0.0);

    let queues = ruby["queues"].as_array().expect("queues");
    assert_eq!(
        r.queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
        vec!["default", "pull"],
        "Mastodon's priority order"
    );
    assert_eq!(r.queues.len(), queues.len());
    for q in queues {
        let name = q["name"].as_str().expect("name");
        let ours = r
            .queues
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("mastop lists no queue {name}"));
        assert_eq!(ours.size, u(&q["size"]), "{name} size");
        assert_latency(
            name,
            ours.latency_s,
            r.read_at,
            f(&q["latency"]),
            f(&q["before"]),
            f(&q["after"]),
        );
    }

    // Processes: identity, pid, tag, concurrency, busy, queues as ProcessSet has them.
    let set = ruby["process_set"].as_array().expect("process set");
    assert_eq!(set.len(), 1);
    let p = &r.process_list[0];
    assert_eq!(p.identity, set[0]["identity"].as_str().unwrap_or_default());
    assert_eq!(u64::from(p.pid), u(&set[0]["pid"]));
    assert_eq!(p.hostname, set[0]["hostname"].as_str().unwrap_or_default());
    assert_eq!(p.tag, "harness");
    assert_eq!((p.busy, p.concurrency), (3, 3));
    assert_eq!(p.queues, ["default", "mailers"]);
    assert!(!p.quiet && !p.stale && p.version.is_none());
    assert!(p.rss_kb > 0 && p.rtt_us.is_some());
    assert!(
        p.beat_age_s >= 0.0 && p.beat_age_s < 30.0,
        "{}",
        p.beat_age_s
    );

    // Read on the first poll: busy jobs from 6.4.1's `:workers` hash, the set pages, the
    // class samples, the history.
    assert_eq!(first.layout, "6.x before 6.4.2 (IDENTITY:workers)");
    assert_eq!(r.layout, first.layout);
    assert_eq!(r.busy_jobs.len(), 3, "{:?}", r.busy_jobs);
    assert!(
        r.busy_jobs
            .iter()
            .all(|j| j.class == "SlowJob" && j.queue == "default" && j.running_s.is_some())
    );
    let retry = r.retry_set.as_ref().expect("retry page");
    assert_eq!(retry.entries.len(), 2);
    assert!(retry.entries.iter().all(|e| e.class == "FlakyJob"
        && e.error_class.as_deref() == Some("ArgumentError")
        && e.retry_count == Some(0)
        && e.jid.len() == 24));
    assert!(
        !format!("{:?}{}", r.detail(), r.to_json()).contains("boom"),
        "error messages stay off screen and out of JSON"
    );
    // Row keys are the Web UI's own `score-jid` names for the entries.
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        k.sort();
        k
    };
    let mut ours: Vec<String> = retry.entries.iter().map(|e| e.key()).collect();
    ours.sort();
    assert_eq!(ours, keys(&ruby["retry_keys"]));
    let dead = r.dead_set.as_ref().expect("dead page");
    assert_eq!(dead.entries.len(), 2);
    assert!(dead.entries.iter().all(|e| e.class == "DoomedJob"));
    let mut ours: Vec<String> = dead.entries.iter().map(|e| e.key()).collect();
    ours.sort();
    assert_eq!(ours, keys(&ruby["dead_keys"]));
    let scheduled = r.scheduled_set.as_ref().expect("scheduled page");
    assert_eq!(scheduled.entries.len(), 1);
    assert!(scheduled.entries[0].score > r.read_at + 3000.0);
    let pull: Vec<_> = r.classes.iter().filter(|c| c.queue == "pull").collect();
    assert!(
        pull.iter()
            .any(|c| c.class == "FastJob" && c.count == 8 && c.sampled == 9),
        "{pull:?}"
    );
    assert!(
        pull.iter()
            .any(|c| c.class == "ActionMailer::MailDeliveryJob" && c.count == 1),
        "ActiveJob jobs show their wrapped class: {pull:?}"
    );
    let today = r.history.last().expect("history");
    assert_eq!(r.history.len(), 30);
    assert_eq!((today.processed, today.failed), (24, 4));

    // The pull queue has jobs and no process serves it.
    assert!(
        r.findings().iter().any(|f| f
            .message
            .contains("queue pull has 9 jobs and no process serves it")),
        "{:?}",
        r.findings()
    );
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    // Nothing ran in between, so the rates are zero rather than unknown.
    assert_eq!(r.processed_per_s, Some(0.0));
    assert_eq!(first.processed_per_s, None);
}
