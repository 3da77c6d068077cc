//! The Sidekiq source against layouts we cannot run here (7.x, 8.x, a namespaced 6.x),
//! written into a real Redis in exactly the shapes Sidekiq writes them (sidekiq.md §1);
//! against bad data; and its cost: commands and round trips per refresh.

use crate::support;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use mastop::config::EndpointConfig;
use mastop::model::{Level, Reading};
use mastop::sources::sidekiq::{SidekiqReading, SidekiqSource};
use mastop::sources::{PollError, Schedule, Source};
use support::{CountingProxy, Redis};

const HANG_GUARD: Duration = Duration::from_secs(30);
/// Longer than any test runs, so the extras and history are read once, on the first poll.
const NEVER: Duration = Duration::from_secs(24 * 3600);

fn source(url: String, namespace: Option<&str>) -> SidekiqSource {
    // Built from TOML, as a config file would give it, so new optional fields need no
    // change here.
    let mut text = format!("name = \"main\"\nurl = \"{url}\"\n");
    if let Some(ns) = namespace {
        text.push_str(&format!("namespace = \"{ns}\"\n"));
    }
    let endpoint: EndpointConfig = toml::from_str(&text).expect("a valid [[sidekiq]] entry");
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

fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn ok(redis: &Redis, args: &[&str]) {
    let out = redis.cli(args);
    assert!(
        !out.starts_with("ERR") && !out.starts_with("WRONGTYPE"),
        "{args:?}: {out}"
    );
}

/// A Sidekiq 7.x/8.x process with its heartbeat hash, in `prefix`'s namespace.
fn write_process(redis: &Redis, prefix: &str, id: &str, info: &str, busy: u32, beat: f64) {
    ok(redis, &["SADD", &format!("{prefix}processes"), id]);
    ok(
        redis,
        &[
            "HSET",
            &format!("{prefix}{id}"),
            "info",
            info,
            "busy",
            &busy.to_string(),
            "beat",
            &beat.to_string(),
            "quiet",
            "false",
            "rss",
            "204800",
            "rtt_us",
            "250",
        ],
    );
}

/// Calls per command from `INFO commandstats`.
fn command_calls(redis: &Redis) -> HashMap<String, u64> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .collect()
}

fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> HashMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(k, v)| *v > 0 && k != "info")
        .collect()
}

fn expect(pairs: &[(&str, u64)]) -> HashMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn a_7x_layout_with_weights_and_work_hashes() {
    let redis = Redis::start();
    let t = now();
    let id = "w1:100:aaaaaaaaaaaa";
    let info = r#"{"hostname":"w1","started_at":1795678279.5,"pid":100,"tag":"mastodon","concurrency":25,"queues":["default","push","pull"],"weights":[{"default":8,"push":6,"pull":0}],"labels":[],"identity":"w1:100:aaaaaaaaaaaa","version":"7.3.9","embedded":false}"#;
    write_process(&redis, "", id, info, 1, t - 1.0);
    let payload = r#"{"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","wrapped":"ActionMailer::MailDeliveryJob","queue":"default","jid":"0123456789abcdef01234567","args":[{"arguments":["x@example.org"]}],"created_at":1795678279.5,"enqueued_at":1795678279.5}"#;
    let work =
        serde_json::json!({"queue": "default", "payload": payload, "run_at": (t - 4.0) as i64})
            .to_string();
    ok(&redis, &["HSET", &format!("{id}:work"), "itt", &work]);
    ok(&redis, &["SADD", "queues", "default", "push", "pull"]);
    let job = |class: &str, at: f64| {
        format!(
            r#"{{"class":"{class}","queue":"push","jid":"{:024x}","args":[],"created_at":{at},"enqueued_at":{at}}}"#,
            at as u64
        )
    };
    // LPUSH puts the newest at the head: the oldest (t-30) ends up at the tail.
    ok(
        &redis,
        &[
            "LPUSH",
            "queue:push",
            &job("ActivityPub::DeliveryWorker", t - 30.0),
            &job("ActivityPub::DeliveryWorker", t - 2.0),
        ],
    );
    ok(&redis, &["SET", "stat:processed", "1000"]);
    ok(&redis, &["SET", "stat:failed", "7"]);
    let retry = r#"{"class":"ActivityPub::DeliveryWorker","queue":"push","jid":"feedfacefeedfacefeedface","args":["private post"],"error_message":"a private error","error_class":"HTTP::TimeoutError","retry_count":2,"failed_at":1795678279.5}"#;
    ok(&redis, &["ZADD", "retry", "1795679279.123", retry]);

    let mut src = source(redis.url(), None);
    let r = poll_ok(&mut src).await;
    assert_eq!(r.layout, "7.x (IDENTITY:work, weights)");
    assert_eq!(r.version.as_deref(), Some("7.3.9"));
    assert_eq!(
        (r.processed, r.failed, r.retries, r.enqueued, r.busy),
        (1000, 7, 1, 2, 1)
    );
    let push = r.queues.iter().find(|q| q.name == "push").expect("push");
    assert!(
        (push.latency_s - (r.read_at - (t - 30.0))).abs() < 1e-3,
        "{}",
        push.latency_s
    );
    let p = &r.process_list[0];
    assert_eq!(
        p.weights,
        vec![
            ("default".into(), 8),
            ("push".into(), 6),
            ("pull".into(), 0)
        ]
    );
    assert!(!p.stale, "a beat 1 s old is fresh");
    assert_eq!(r.busy_jobs.len(), 1);
    assert_eq!(r.busy_jobs[0].class, "ActionMailer::MailDeliveryJob");
    let running = r.busy_jobs[0].running_s.expect("run_at");
    assert!((3.0..60.0).contains(&running), "{running}");
    let e = &r.retry_set.as_ref().expect("retry page").entries[0];
    assert_eq!(e.key(), "1795679279.123-feedfacefeedfacefeedface");
    assert_eq!(e.error_class.as_deref(), Some("HTTP::TimeoutError"));
    let shown = format!("{:?}{}", r.detail(), r.to_json());
    assert!(
        !shown.contains("private"),
        "no args or error messages: {shown}"
    );
}

#[tokio::test]
async fn an_8x_layout_in_milliseconds_with_a_stale_process() {
    let redis = Redis::start();
    let t = now();
    let ms = |secs: f64| ((secs) * 1000.0) as i64;
    let info = |id: &str| {
        format!(
            r#"{{"hostname":"w8","started_at":{},"pid":8,"tag":"","concurrency":5,"queues":["default"],"weights":[{{"default":1}}],"labels":[],"identity":"{id}","version":"8.0.9","embedded":false}}"#,
            ms(t - 100.0)
        )
    };
    write_process(
        &redis,
        "",
        "w8:8:bbbbbbbbbbbb",
        &info("w8:8:bbbbbbbbbbbb"),
        0,
        t - 2.0,
    );
    // 25 s without a beat: more than twice 8.x's 10 s beat.
    write_process(
        &redis,
        "",
        "w8:9:cccccccccccc",
        &info("w8:9:cccccccccccc"),
        0,
        t - 25.0,
    );
    ok(&redis, &["SADD", "queues", "default"]);
    // 8.x: integer milliseconds, and `created_at` only (no `enqueued_at`).
    let job = format!(
        r#"{{"class":"Sidekiq::ActiveJob::Wrapper","wrapped":"FetchLinkCardService","queue":"default","jid":"aa","args":[],"created_at":{}}}"#,
        ms(t - 42.0)
    );
    ok(&redis, &["LPUSH", "queue:default", &job]);

    let mut src = source(redis.url(), None);
    let r = poll_ok(&mut src).await;
    assert_eq!(r.layout, "8.x (millisecond timestamps)");
    assert!(
        (r.default_queue_latency_s - (r.read_at - (t - 42.0))).abs() < 2e-3,
        "{}",
        r.default_queue_latency_s
    );
    assert_eq!(r.queues[0].latency_s, r.default_queue_latency_s);
    let stale: Vec<_> = r
        .process_list
        .iter()
        .filter(|p| p.stale)
        .map(|p| p.identity.as_str())
        .collect();
    assert_eq!(stale, ["w8:9:cccccccccccc"]);
    assert!(
        r.findings()
            .iter()
            .any(|f| f.message.contains("1 of 2 processes stopped beating"))
    );
    let table = r
        .detail()
        .sections
        .into_iter()
        .find(|s| s.title == "Processes")
        .expect("processes table");
    let mastop::model::SectionBody::Table(table) = table.body else {
        panic!("a table");
    };
    let levels: Vec<_> = table
        .rows
        .iter()
        .map(|row| (row.key.clone(), row.level))
        .collect();
    assert!(levels.contains(&(Some("w8:9:cccccccccccc".into()), Some(Level::Warn))));
    assert!(levels.contains(&(Some("w8:8:bbbbbbbbbbbb".into()), Some(Level::Ok))));
    assert_eq!(r.classes[0].class, "FetchLinkCardService");
}

#[tokio::test]
async fn a_namespaced_6x_layout_and_a_missing_namespace() {
    let redis = Redis::start();
    let t = now();
    let ns = "mastodon:";
    let id = "w6:66:dddddddddddd";
    let info = r#"{"hostname":"w6","started_at":1795678279.5,"pid":66,"tag":"mastodon","concurrency":25,"queues":["default","pull"],"labels":[],"identity":"w6:66:dddddddddddd"}"#;
    write_process(&redis, ns, id, info, 1, t - 1.0);
    let work = serde_json::json!({"queue": "pull", "payload": r#"{"class":"LinkCrawlWorker","jid":"x","queue":"pull"}"#, "run_at": t as i64}).to_string();
    // 6.5.x (Mastodon 4.3): `:work`, keys prefixed, set members not.
    ok(&redis, &["HSET", &format!("{ns}{id}:work"), "t1", &work]);
    ok(&redis, &["SADD", "mastodon:queues", "pull"]);
    ok(
        &redis,
        &[
            "LPUSH",
            "mastodon:queue:pull",
            &format!(r#"{{"class":"LinkCrawlWorker","enqueued_at":{}}}"#, t - 5.0),
        ],
    );
    ok(&redis, &["SET", "mastodon:stat:processed", "5"]);

    let mut src = source(redis.url(), Some("mastodon"));
    let r = poll_ok(&mut src).await;
    assert_eq!(r.layout, "6.4.2–6.5 (IDENTITY:work)");
    assert_eq!((r.processed, r.processes, r.busy, r.enqueued), (5, 1, 1, 1));
    assert_eq!(r.busy_jobs[0].class, "LinkCrawlWorker");
    assert_eq!(r.namespace.as_deref(), Some("mastodon"));
    assert!(r.problems.is_empty(), "{:?}", r.problems);

    // The same Redis read without the namespace: no guessing with KEYS, a finding instead.
    let before = command_calls(&redis);
    let mut bare = source(redis.url(), None);
    let r = poll_ok(&mut bare).await;
    assert_eq!((r.processed, r.processes), (0, 0));
    assert!(
        r.findings()
            .iter()
            .any(|f| f.message.contains("no `queues` set") && f.message.contains("namespace")),
        "{:?}",
        r.findings()
    );
    let used = delta(&before, &command_calls(&redis));
    assert!(
        !used.contains_key("keys") && !used.contains_key("scan"),
        "{used:?}"
    );
}

#[tokio::test]
async fn bad_data_is_counted_flagged_and_never_fatal() {
    let redis = Redis::start();
    let t = now();
    ok(&redis, &["SADD", "queues", "x", "big", "default", "escape"]);
    // queue:x is a string, not a list.
    ok(&redis, &["SET", "queue:x", "surprise"]);
    // A 10 MB job at the tail of queue:big, behind a normal one.
    let padding = "a".repeat(10 * 1024 * 1024);
    let big = format!(
        r#"{{"class":"HugeJob","enqueued_at":{},"args":["{padding}"]}}"#,
        t - 7.0
    );
    let big_file = redis.dir().join("big.json");
    std::fs::write(&big_file, &big).expect("write the big payload");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port().to_string(), "-x", "LPUSH", "queue:big"])
        .stdin(std::fs::File::open(&big_file).expect("open"))
        .output()
        .expect("redis-cli -x");
    assert!(out.status.success());
    ok(&redis, &["LPUSH", "queue:big", r#"{"class":"SmallJob"}"#]);
    // Not JSON at the tail of default; binary junk in the sets; escapes in a class name.
    ok(&redis, &["LPUSH", "queue:default", "not json at all"]);
    ok(&redis, &["ZADD", "retry", "1", "{broken"]);
    ok(&redis, &["ZADD", "dead", "2", "\u{1}\u{ff}binary"]);
    // As Sidekiq's JSON writes control characters: escaped, decoding to raw ESC and BEL.
    ok(
        &redis,
        &[
            "LPUSH",
            "queue:escape",
            r#"{"class":"Evil\u001b]52;c;aGk=\u0007\u001b[2JJob","enqueued_at":1}"#,
        ],
    );
    // A member of processes whose hash expired, and one whose info is junk.
    ok(
        &redis,
        &[
            "SADD",
            "processes",
            "ghost:1:eeeeeeeeeeee",
            "junk:2:ffffffffffff",
        ],
    );
    ok(
        &redis,
        &[
            "HSET",
            "junk:2:ffffffffffff",
            "info",
            "{{{",
            "busy",
            "lots",
            "beat",
            "soon",
        ],
    );
    // stat:failed is a list.
    ok(&redis, &["RPUSH", "stat:failed", "1"]);

    let mut src = source(redis.url(), None);
    let r = poll_ok(&mut src).await;
    let size = |n: &str| r.queues.iter().find(|q| q.name == n).map(|q| q.size);
    assert_eq!(size("x"), Some(0));
    assert_eq!(size("big"), Some(2));
    assert_eq!(size("default"), Some(1));
    assert_eq!(r.enqueued, 4);
    let big_q = r.queues.iter().find(|q| q.name == "big").expect("big");
    assert!((big_q.latency_s - (r.read_at - (t - 7.0))).abs() < 1e-3);
    let default = r
        .queues
        .iter()
        .find(|q| q.name == "default")
        .expect("default");
    assert!(default.unreadable && default.latency_s == 0.0);
    assert_eq!(
        r.failed, 0,
        "a wrong-type counter reads as 0, as Sidekiq's to_i"
    );
    assert_eq!((r.processes, r.busy), (2, 0));
    assert!(r.process_list.iter().all(|p| p.info_missing && p.stale));
    let retry = r.retry_set.as_ref().expect("retry");
    let dead = r.dead_set.as_ref().expect("dead");
    assert!(retry.entries[0].unreadable && dead.entries[0].unreadable);
    let problems = r.problems.join("\n");
    for expected in [
        "queue:x holds the wrong type",
        "stat:failed holds the wrong type",
        "the oldest job in queue:default cannot be read",
        "retry entries could not be read",
        "dead entries could not be read",
    ] {
        assert!(
            problems.contains(expected),
            "{expected} missing from:\n{problems}"
        );
    }
    // The escape sequence is carried as data; the screen sanitises it when drawing.
    let evil = r
        .classes
        .iter()
        .find(|c| c.queue == "escape")
        .expect("escape sampled");
    assert!(evil.class.contains('\u{1b}'), "decoded: {:?}", evil.class);
    assert_eq!(mastop::sanitize::sanitize(&evil.class), "EvilJob");
    assert!(r.summary().len() < 200);
    assert_eq!(r.figures().len(), 7, "no rates on the first poll");
}

#[tokio::test]
async fn a_refresh_is_two_round_trips_of_known_commands_whatever_the_size() {
    for (processes, queues, jobs) in [(1usize, 1usize, 10usize), (40, 30, 2000)] {
        let redis = Redis::start();
        let t = now();
        for p in 0..processes {
            let id = format!("w:{p}:{p:012x}");
            let info = format!(
                r#"{{"hostname":"w","pid":{p},"concurrency":5,"queues":["q0"],"version":"7.3.9","identity":"{id}"}}"#
            );
            write_process(&redis, "", &id, &info, 1, t);
        }
        for q in 0..queues {
            ok(&redis, &["SADD", "queues", &format!("q{q}")]);
        }
        let job = format!(r#"{{"class":"J","enqueued_at":{t}}}"#);
        let many: Vec<&str> = std::iter::repeat_n(job.as_str(), jobs).collect();
        let mut args = vec!["LPUSH", "queue:q0"];
        args.extend(many);
        ok(&redis, &args);

        let proxy = CountingProxy::start(redis.port());
        let mut src = source(format!("redis://127.0.0.1:{}/", proxy.port()), None);
        src.set_intervals(NEVER, NEVER);
        // The first poll connects and reads the extras and history once.
        poll_ok(&mut src).await;

        const POLLS: u64 = 3;
        let before = command_calls(&redis);
        proxy.reset();
        for _ in 0..POLLS {
            let r = poll_ok(&mut src).await;
            assert_eq!(r.enqueued, jobs as u64);
            assert_eq!(r.busy, processes as u64);
        }
        assert_eq!(
            proxy.round_trips() as u64,
            2 * POLLS,
            "{processes} processes, {queues} queues: two round trips per refresh"
        );
        let used = delta(&before, &command_calls(&redis));
        // `default` is read for default_queue_latency even when unlisted: queues + 1.
        let q = (queues + 1) as u64;
        let p = processes as u64;
        assert_eq!(
            used,
            expect(&[
                ("get", 2 * POLLS),
                ("zcard", 3 * POLLS),
                ("scard", POLLS),
                ("smembers", 2 * POLLS),
                ("hmget", p * POLLS),
                ("llen", q * POLLS),
                ("lindex", q * POLLS),
            ]),
            "{processes} processes, {queues} queues"
        );
    }
}

#[tokio::test]
async fn the_slow_extras_cost_one_round_trip_each_and_are_bounded() {
    let redis = Redis::start();
    let t = now();
    for p in 0..3 {
        let id = format!("w:{p}:{p:012x}");
        let info = format!(
            r#"{{"hostname":"w","pid":{p},"concurrency":5,"queues":["q0"],"version":"8.0.9","identity":"{id}"}}"#
        );
        write_process(&redis, "", &id, &info, 0, t);
    }
    ok(&redis, &["SADD", "queues", "q0", "q1", "empty"]);
    let job = format!(r#"{{"class":"J","created_at":{}}}"#, (t * 1000.0) as i64);
    let many: Vec<&str> = std::iter::repeat_n(job.as_str(), 500).collect();
    for q in ["queue:q0", "queue:q1"] {
        let mut args = vec!["LPUSH", q];
        args.extend(many.iter().copied());
        ok(&redis, &args);
    }
    let proxy = CountingProxy::start(redis.port());
    let mut src = source(format!("redis://127.0.0.1:{}/", proxy.port()), None);
    src.set_intervals(Duration::ZERO, Duration::ZERO);
    poll_ok(&mut src).await;

    let before = command_calls(&redis);
    proxy.reset();
    let r = poll_ok(&mut src).await;
    assert_eq!(proxy.round_trips(), 4, "refresh 2 + extras 1 + history 1");
    let used = delta(&before, &command_calls(&redis));
    assert_eq!(
        used,
        expect(&[
            ("get", 2),
            ("zcard", 3),
            ("scard", 1),
            ("smembers", 2),
            ("hmget", 3),
            ("llen", 4),
            ("lindex", 4),
            // 8.x: only `:work` is read.
            ("hgetall", 3),
            ("zrange", 2),
            ("zrevrange", 1),
            // Only non-empty queues are sampled.
            ("lrange", 2),
            ("mget", 2),
        ])
    );
    let sampled: u64 = r
        .classes
        .iter()
        .filter(|c| c.queue == "q0")
        .map(|c| c.count)
        .sum();
    assert_eq!(sampled, 50, "a bounded sample, not the whole list");
}

#[tokio::test]
async fn a_restarted_redis_is_picked_up_again_by_itself() {
    let mut redis = Redis::start();
    ok(&redis, &["SET", "stat:processed", "3"]);
    let mut src = source(redis.url(), None);
    assert_eq!(poll_ok(&mut src).await.processed, 3);
    redis.stop();
    match poll(&mut src).await {
        Err(PollError::Failed(msg)) => {
            assert!(
                msg.contains(&format!("127.0.0.1:{}", redis.port())),
                "{msg}"
            )
        }
        other => panic!("expected Failed while Redis is down, got {other:?}"),
    }
    redis.restart();
    ok(&redis, &["SET", "stat:processed", "4"]);
    assert_eq!(poll_ok(&mut src).await.processed, 4);
}
