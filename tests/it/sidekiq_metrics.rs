//! Sidekiq's job metrics read from a real Redis: 7.x- and 8.x-shaped minute hashes and
//! histograms written by the test exactly as `lib/sidekiq/metrics/` writes them, the cost
//! of a read (round trips through a counting proxy, commands from INFO commandstats), and
//! Debian's Sidekiq 6.4.1 running real jobs, which writes none.

use crate::support;

use std::time::{Duration, SystemTime};

use mastop::config::EndpointConfig;
use mastop::model::Reading;
use mastop::sources::sidekiq::metrics::{
    MetricsLayout, Utc, WINDOW_MINUTES, histogram_key, minute_key,
};
use mastop::sources::sidekiq::{SidekiqReading, SidekiqSource};
use mastop::sources::{Schedule, Source};
use support::sidekiq::SidekiqPeer;
use support::{CountingProxy, Redis};

const HANG_GUARD: Duration = Duration::from_secs(60);
const NEVER: Duration = Duration::from_secs(24 * 3600);
const SIDEKIQ_GUARD: Duration = Duration::from_secs(60);

fn source(url: String) -> SidekiqSource {
    let text = format!("name = \"main\"\nurl = \"{url}\"\n");
    let endpoint: EndpointConfig = toml::from_str(&text).expect("a valid [[sidekiq]] entry");
    SidekiqSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(30),
        },
    )
}

async fn poll(source: &mut SidekiqSource) -> SidekiqReading {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
    reading
        .as_any()
        .downcast_ref::<SidekiqReading>()
        .expect("a SidekiqReading")
        .clone()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The minutes a read at `now` looks at, newest last, as `Utc`.
fn minutes(now: u64, n: u64) -> Vec<Utc> {
    let this = now - now % 60;
    (0..n)
        .rev()
        .map(|ago| Utc::from_epoch(this - ago * 60))
        .collect()
}

/// Writes `classes` × the last `n` minutes the way Sidekiq's tracker flushes them:
/// HINCRBY on the minute hash and BITFIELD INCRBY on the class's histogram. Class `i`
/// runs `i + 1` jobs a minute, one of which fails for odd `i`, each taking bucket `i % 26`.
async fn write_metrics(redis: &Redis, layout: MetricsLayout, classes: usize, n: u64) {
    let mut conn = redis.connection().await;
    let mut pipe = redis::pipe();
    // One minute more, ahead of now: a read that lands in the next minute still finds the
    // whole window it looks at (the reader takes the clock itself).
    for t in minutes(now() + 60, n + 1) {
        let key = minute_key(layout, t);
        for i in 0..classes {
            let class = format!("Mastodon::Job{i:03}");
            let p = i as i64 + 1;
            let f = i64::from(i % 2 == 1);
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg(format!("{class}|p"))
                .arg(p);
            if f > 0 {
                pipe.cmd("HINCRBY")
                    .arg(&key)
                    .arg(format!("{class}|f"))
                    .arg(f);
            }
            pipe.cmd("HINCRBY")
                .arg(&key)
                .arg(format!("{class}|ms"))
                .arg((p - f) * 10);
            pipe.cmd("BITFIELD")
                .arg(histogram_key(layout, &class, t))
                .arg("OVERFLOW")
                .arg("SAT")
                .arg("INCRBY")
                .arg("u16")
                .arg(format!("#{}", i % 26))
                .arg(p - f);
        }
    }
    let _: () = pipe
        .query_async(&mut conn)
        .await
        .expect("write the metrics keys");
}

/// `calls` of one command from INFO commandstats.
fn calls(redis: &Redis, command: &str) -> u64 {
    let info = redis.cli(&["INFO", "commandstats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_8x_metrics_per_class_with_percentiles() {
    let redis = Redis::start();
    write_metrics(&redis, MetricsLayout::V8, 3, 5).await;
    let mut s = source(redis.url());
    let r = poll(&mut s).await;
    let m = r
        .job_metrics
        .as_ref()
        .expect("metrics read on the first poll");
    assert_eq!(m.layout, Some(MetricsLayout::V8));
    assert_eq!(m.window_minutes, WINDOW_MINUTES);
    assert!(m.absent.is_none());
    assert_eq!(m.classes.len(), 3);
    // Class 2: 3 jobs a minute for 5 minutes, none failing, 10 ms each, bucket #2 (≤ 45ms).
    let c2 = &m.classes[0];
    assert_eq!(c2.class, "Mastodon::Job002", "most time first");
    assert_eq!((c2.processed, c2.failed, c2.total_ms), (15, 0, 150));
    assert_eq!(c2.mean_ms, Some(10.0));
    assert_eq!(c2.p50.as_deref(), Some("≤ 45ms"));
    let c1 = m
        .classes
        .iter()
        .find(|c| c.class == "Mastodon::Job001")
        .expect("class 1");
    assert_eq!((c1.processed, c1.failed, c1.total_ms), (10, 5, 50));
    assert_eq!(c1.p95.as_deref(), Some("≤ 30ms"));
    assert_eq!(m.top_by_failures(5).len(), 1);
    let detail = format!("{:?}", r.detail());
    assert!(detail.contains("Job time (last 60 min)"), "{detail}");
    assert!(detail.contains("Job failures (last 60 min)"));
    assert!(detail.contains("Sidekiq 8.x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_7x_metrics_from_its_own_key_layout() {
    let redis = Redis::start();
    write_metrics(&redis, MetricsLayout::V7, 2, 3).await;
    let mut s = source(redis.url());
    let m = poll(&mut s).await.job_metrics.expect("metrics");
    assert_eq!(m.layout, Some(MetricsLayout::V7));
    let c1 = m
        .classes
        .iter()
        .find(|c| c.class == "Mastodon::Job001")
        .expect("class 1");
    assert_eq!((c1.processed, c1.failed), (6, 3));
    assert_eq!(c1.p50.as_deref(), Some("≤ 30ms"));
}

/// Round trips through a counting proxy: a poll with only the metrics due costs the
/// refresh's two plus the metrics' two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_read_is_two_round_trips_on_the_wire() {
    let redis = Redis::start();
    write_metrics(&redis, MetricsLayout::V8, 3, 2).await;
    let proxy = CountingProxy::start(redis.port());
    let mut s = source(format!("redis://127.0.0.1:{}/0", proxy.port()));
    s.set_intervals(NEVER, NEVER);
    s.set_metrics_interval(NEVER);
    poll(&mut s).await;
    proxy.reset();
    poll(&mut s).await;
    assert_eq!(proxy.round_trips(), 2, "the stats refresh alone");
    s.set_metrics_interval(Duration::ZERO);
    proxy.reset();
    let m = poll(&mut s).await.job_metrics.expect("metrics");
    assert_eq!(
        proxy.round_trips(),
        2 + 2,
        "refresh + minute hashes + histograms"
    );
    assert_eq!((m.round_trips, m.commands), (2, 2 * WINDOW_MINUTES + 3));
}

/// 200 classes × 60 minutes: the minute hashes in one pipelined round trip, the 12,000
/// histograms in one more, as 200 MGETs; exactly those commands reach Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_classes_for_an_hour_cost_two_round_trips() {
    let redis = Redis::start();
    write_metrics(&redis, MetricsLayout::V8, 200, WINDOW_MINUTES).await;
    let mut s = source(redis.url());
    s.set_intervals(NEVER, NEVER);
    s.set_metrics_interval(NEVER);
    poll(&mut s).await;
    s.set_metrics_interval(Duration::ZERO);
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let r = poll(&mut s).await;
    let m = r.job_metrics.expect("metrics");
    assert_eq!(m.round_trips, 2);
    assert_eq!(m.commands, 2 * WINDOW_MINUTES + 200);
    assert_eq!(
        calls(&redis, "hgetall"),
        2 * WINDOW_MINUTES,
        "60 minutes × both layouts"
    );
    assert_eq!(
        calls(&redis, "mget"),
        200,
        "one MGET of 60 histograms per class"
    );
    assert_eq!(
        calls(&redis, "bitfield_ro") + calls(&redis, "keys") + calls(&redis, "scan"),
        0
    );
    assert_eq!(m.classes.len(), 200);
    assert_eq!(m.classes_without_histogram, 0);
    let top = &m.classes[0];
    assert_eq!(top.class, "Mastodon::Job199");
    assert_eq!(top.processed, 200 * WINDOW_MINUTES);
    assert_eq!(top.failed, WINDOW_MINUTES);
    // Class 199 sits in bucket 199 % 26 = 17 (≤ 20s) every minute.
    assert_eq!(top.p95.as_deref(), Some("≤ 20s"));
    assert!(m.classes.iter().all(|c| c.p50.is_some() && c.p95.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidekiq_6_running_real_jobs_has_no_metrics_and_says_so() {
    let redis = Redis::start();
    let mut peer = SidekiqPeer::new(&redis);
    peer.ruby(
        r#"c = Sidekiq::Client.new; 10.times { |i| c.push("class" => FastJob, "args" => [i]) }"#,
    );
    peer.run(&["default"], 2);
    peer.wait_for("10 processed", SIDEKIQ_GUARD, || {
        redis.cli(&["GET", "stat:processed"]).trim() == "10"
    });
    let mut s = source(redis.url());
    let r = poll(&mut s).await;
    assert!(r.processed >= 10);
    let m = r.job_metrics.clone().expect("metrics looked for");
    assert_eq!(m.layout, None);
    assert!(m.classes.is_empty());
    let note = m.absent.expect("a reason");
    assert!(note.contains("Sidekiq 6.x does not record them"), "{note}");
    assert!(format!("{:?}", r.detail()).contains("Sidekiq 6.x does not record them"));
}
