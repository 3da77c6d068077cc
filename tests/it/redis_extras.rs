//! The Redis view's slow-cadence extras (slow log, latency monitor) against a real server:
//! what they show, what they cost, and that the fast poll stays one `INFO`.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::{Reading, SectionBody};
use mastop::sources::redis::{RedisReading, RedisSource};
use mastop::sources::{Schedule, Source};
use support::Redis;

const HANG_GUARD: Duration = Duration::from_secs(30);

fn source(url: String) -> RedisSource {
    source_with(url, None)
}

/// `password_file`: a file holding the password, as a `file:` secret reference.
fn source_with(url: String, password_file: Option<&std::path::Path>) -> RedisSource {
    let mut text = format!("name = \"cache\"\nurl = \"{url}\"\n");
    if let Some(path) = password_file {
        text.push_str(&format!("password = \"file:{}\"\n", path.display()));
    }
    let endpoint: EndpointConfig = toml::from_str(&text).expect("an endpoint");
    RedisSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
}

async fn poll_ok(source: &mut RedisSource) -> RedisReading {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
    reading
        .as_any()
        .downcast_ref::<RedisReading>()
        .expect("a RedisReading")
        .clone()
}

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
        .filter(|(_, v)| *v > 0)
        .collect()
}

#[tokio::test]
async fn slow_log_shows_command_names_and_argument_counts_only() {
    let redis = Redis::start();
    // Log every command, and record latency spikes of any length.
    assert_eq!(
        redis.cli(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        "OK"
    );
    assert_eq!(
        redis.cli(&["CONFIG", "SET", "latency-monitor-threshold", "1"]),
        "OK"
    );
    // A script that spins for a while: a latency spike of the `command` event.
    assert_eq!(
        redis.cli(&[
            "EVAL",
            "local i = 0 while i < 5000000 do i = i + 1 end return 1",
            "0"
        ]),
        "1"
    );
    assert_eq!(
        redis.cli(&["SET", "user:1:note", "a private post about my cat"]),
        "OK"
    );

    let mut src = source(redis.url());
    let r = poll_ok(&mut src).await;
    let extras = r.extras.as_ref().expect("read on the first poll");
    let slowlog = extras.slowlog.as_ref().expect("slow log readable");
    let set = slowlog
        .iter()
        .find(|e| e.command == "SET")
        .expect("the SET was logged");
    assert_eq!(set.arg_count, 2);
    let latency = extras.latency.as_ref().expect("latency readable");
    assert!(
        latency
            .iter()
            .any(|e| e.event == "command" && e.max_ms >= 1),
        "{latency:?}"
    );
    let shown = format!("{:?}{}", r.detail(), r.to_json());
    assert!(
        !shown.contains("private") && !shown.contains("user:1"),
        "{shown}"
    );
    let titles: Vec<String> = r
        .detail()
        .sections
        .into_iter()
        .filter(|s| matches!(s.body, SectionBody::Table(_)))
        .map(|s| s.title)
        .collect();
    assert!(titles.iter().any(|t| t == "slow log"), "{titles:?}");
    assert!(titles.iter().any(|t| t == "latency spikes"), "{titles:?}");
}

#[tokio::test]
async fn extras_cost_one_slowlog_and_one_latency_and_only_when_due() {
    let redis = Redis::start();
    let mut src = source(redis.url());
    // First poll: connect, INFO and the extras.
    poll_ok(&mut src).await;

    // Not due again for EXTRAS_INTERVAL: fast polls are INFO alone, extras stay on screen.
    let before = command_calls(&redis);
    for _ in 0..3 {
        let r = poll_ok(&mut src).await;
        assert!(r.extras.is_some(), "the last extras are kept between reads");
    }
    let used = delta(&before, &command_calls(&redis));
    assert_eq!(used, HashMap::from([("info".to_string(), 3 + 1)]));

    // Due on every poll: exactly one SLOWLOG and one LATENCY per poll besides INFO.
    src.set_extras_interval(Duration::ZERO);
    let before = command_calls(&redis);
    for _ in 0..3 {
        poll_ok(&mut src).await;
    }
    let used = delta(&before, &command_calls(&redis));
    assert_eq!(
        used,
        HashMap::from([
            ("info".to_string(), 3 + 1),
            ("slowlog|get".to_string(), 3),
            ("latency|latest".to_string(), 3),
        ])
    );
}

#[tokio::test]
async fn a_user_without_slowlog_rights_still_gets_the_info_view() {
    let redis = Redis::start();
    assert_eq!(
        redis.cli(&["ACL", "SETUSER", "viewer", "on", ">pw", "+info"]),
        "OK"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw").expect("write secret");
    let mut src = source_with(
        format!("redis://viewer@127.0.0.1:{}/", redis.port()),
        Some(&pw),
    );
    let r = poll_ok(&mut src).await;
    let extras = r.extras.as_ref().expect("extras attempted");
    assert!(extras.slowlog.is_none() && extras.latency.is_none());
    assert_eq!(extras.notes.len(), 2, "{:?}", extras.notes);
    assert!(extras.notes[0].contains("`+slowlog`"), "{:?}", extras.notes);
    assert!(extras.notes[1].contains("`+latency`"), "{:?}", extras.notes);
}
