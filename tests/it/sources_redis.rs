//! The Redis source against real servers started by the harness.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use mastop::config::{EndpointConfig, SecretRef};
use mastop::model::{Level, Reading};
use mastop::sources::redis::{KeyspaceDb, RedisReading, RedisSource};
use mastop::sources::{PollError, Schedule, Source};
use support::{Proxy, Redis};

/// A hang guard only: a healthy poll against a local server takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);
/// Bounds retry loops that wait for Redis to change state (a replica linking up).
const MAX_ATTEMPTS: usize = 400;

fn source(url: String, password: Option<SecretRef>) -> RedisSource {
    let endpoint = EndpointConfig {
        password,
        ..EndpointConfig::new("cache", url)
    };
    RedisSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
}

async fn poll(source: &mut RedisSource) -> Result<RedisReading, PollError> {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")?;
    Ok(reading
        .as_any()
        .downcast_ref::<RedisReading>()
        .expect("the redis source returns a RedisReading")
        .clone())
}

async fn poll_ok(source: &mut RedisSource) -> RedisReading {
    match poll(source).await {
        Ok(r) => r,
        Err(e) => panic!("poll failed: {e:?}"),
    }
}

async fn poll_until(
    source: &mut RedisSource,
    what: &str,
    done: impl Fn(&RedisReading) -> bool,
) -> RedisReading {
    for _ in 0..MAX_ATTEMPTS {
        if let Ok(reading) = poll(source).await
            && done(&reading)
        {
            return reading;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never saw {what}");
}

/// Calls per command from `INFO commandstats`: `cmdstat_info:calls=3,…` → {"info": 3}.
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

#[tokio::test]
async fn reads_a_real_redis() {
    let redis = Redis::start();
    for key in ["a", "b", "c"] {
        assert_eq!(redis.cli(&["SET", key, "1"]), "OK");
    }
    assert_eq!(redis.cli(&["-n", "3", "SET", "x", "1"]), "OK");
    assert_eq!(redis.cli(&["EXPIRE", "a", "600"]), "1");

    let mut src = source(redis.url(), None);
    let r = poll_ok(&mut src).await;
    let server_info = redis.cli(&["INFO", "server"]);
    assert!(
        server_info.contains(&format!("redis_version:{}", r.version)),
        "{}",
        r.version
    );
    assert_eq!(r.role, "master");
    assert_eq!(r.mode, "standalone");
    assert_eq!(
        r.keyspace,
        vec![
            KeyspaceDb {
                db: 0,
                keys: 3,
                expires: 1
            },
            KeyspaceDb {
                db: 3,
                keys: 1,
                expires: 0
            }
        ]
    );
    assert_eq!(r.total_keys(), 4);
    assert!(r.connected_clients >= 1);
    assert!(r.used_memory > 0 && r.used_memory_peak >= r.used_memory);
    assert_eq!(r.maxmemory, 0);
    assert_eq!(r.persistence.rdb_last_bgsave_status, "ok");
    assert!(r.findings().is_empty(), "{:?}", r.findings());
    assert!(
        r.figures().iter().all(|f| f.key != "memory_used_pct"),
        "no limit, no percentage"
    );
    assert_eq!(r.key_figure(), Some("ops_per_sec"));
    assert!(r.summary().contains("4 keys"), "{}", r.summary());
    assert_eq!(r.to_json()["keyspace"][1]["db"], 3);

    assert_eq!(redis.cli(&["CONFIG", "SET", "maxmemory", "100mb"]), "OK");
    let r = poll_ok(&mut src).await;
    assert_eq!(r.maxmemory, 100 * 1024 * 1024);
    let pct = r
        .figures()
        .into_iter()
        .find(|f| f.key == "memory_used_pct")
        .expect("a limit gives a percentage");
    assert!(pct.value > 0.0 && pct.value < 100.0, "{}", pct.value);
    assert_eq!(r.key_figure(), Some("memory_used_pct"));

    // Hits and misses over the interval since the previous poll.
    for _ in 0..60 {
        redis.cli(&["GET", "b"]);
    }
    for _ in 0..60 {
        redis.cli(&["GET", "missing"]);
    }
    let r = poll_ok(&mut src).await;
    assert_eq!(r.hit_ratio_pct, Some(50.0));
}

#[tokio::test]
async fn one_poll_is_exactly_one_info_command() {
    let redis = Redis::start();
    let mut src = source(redis.url(), None);
    // The first poll also connects; what connecting sends is not part of a poll.
    poll_ok(&mut src).await;

    let before = command_calls(&redis);
    const POLLS: u64 = 5;
    for _ in 0..POLLS {
        poll_ok(&mut src).await;
    }
    let after = command_calls(&redis);

    let delta =
        |name: &str| after.get(name).copied().unwrap_or(0) - before.get(name).copied().unwrap_or(0);
    // The `INFO commandstats` that read `before` is counted in `after`, hence the + 1.
    assert_eq!(
        delta("info"),
        POLLS + 1,
        "before {before:?}, after {after:?}"
    );
    let others: u64 = after
        .keys()
        .filter(|k| *k != "info")
        .map(|k| delta(k))
        .sum();
    assert_eq!(
        others, 0,
        "a poll sends nothing but INFO: before {before:?}, after {after:?}"
    );
}

#[tokio::test]
async fn passwords_come_from_the_secret_reference() {
    let redis = Redis::start_with_password("correct-horse");
    let dir = tempfile::tempdir().expect("tempdir");
    let right = dir.path().join("right");
    let wrong = dir.path().join("wrong");
    std::fs::write(&right, "correct-horse\n").expect("write secret");
    std::fs::write(&wrong, "battery-staple\n").expect("write secret");

    let mut src = source(redis.url(), Some(SecretRef::File(wrong)));
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => {
            assert!(
                msg.contains(&format!("127.0.0.1:{}", redis.port())),
                "names the backend: {msg}"
            );
            assert!(msg.contains("authentication failed"), "{msg}");
            assert!(
                !msg.contains("battery-staple") && !msg.contains("correct-horse"),
                "{msg}"
            );
        }
        other => panic!("expected Denied, got {other:?}"),
    }

    let mut src = source(redis.url(), None);
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => assert!(msg.contains("requires a password"), "{msg}"),
        other => panic!("expected Denied, got {other:?}"),
    }

    let mut src = source(redis.url(), Some(SecretRef::File(right)));
    assert_eq!(poll_ok(&mut src).await.role, "master");
}

#[tokio::test]
async fn an_acl_user_without_info_is_denied() {
    let redis = Redis::start();
    assert_eq!(
        redis.cli(&["ACL", "SETUSER", "volunteer", "on", ">pw", "+ping"]),
        "OK"
    );
    let url = format!("redis://volunteer@127.0.0.1:{}/", redis.port());
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "pw").expect("write secret");
    let mut src = source(url, Some(SecretRef::File(pw)));
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => assert!(msg.contains("+info"), "says what to grant: {msg}"),
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_port_fails_with_a_helpful_message() {
    let port = support::free_port();
    let mut src = source(format!("redis://:hunter2@127.0.0.1:{port}/"), None);
    match poll(&mut src).await {
        Err(PollError::Failed(msg)) => {
            assert!(
                msg.contains(&format!("connect to 127.0.0.1:{port} failed")),
                "{msg}"
            );
            assert!(
                msg.contains("connection refused") && msg.contains("is Redis running"),
                "{msg}"
            );
            assert!(!msg.contains("hunter2"), "{msg}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_restarted_server_is_picked_up_again_by_itself() {
    let mut redis = Redis::start();
    let mut src = source(redis.url(), None);
    let first = poll_ok(&mut src).await;

    redis.stop();
    match poll(&mut src).await {
        Err(PollError::Failed(msg)) => assert!(
            msg.contains(&format!("127.0.0.1:{}", redis.port())),
            "{msg}"
        ),
        other => panic!("expected Failed while the server is down, got {other:?}"),
    }
    // Still down: still a clean failure, no panic, no stuck state.
    assert!(matches!(poll(&mut src).await, Err(PollError::Failed(_))));

    redis.restart();
    let again = poll_ok(&mut src).await;
    assert!(
        again.uptime_s <= first.uptime_s + 60,
        "a fresh process answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_dropped_mid_command_leaves_the_source_usable() {
    let redis = Redis::start();
    let proxy = Proxy::start(redis.port());
    let mut src = source(format!("redis://127.0.0.1:{}/", proxy.port()), None);
    poll_ok(&mut src).await;

    proxy.freeze();
    let dropped = tokio::time::timeout(Duration::from_millis(300), src.poll()).await;
    assert!(dropped.is_err(), "the frozen backend cannot have answered");
    proxy.thaw();

    let r = poll_ok(&mut src).await;
    assert_eq!(r.role, "master");
    assert_eq!(
        proxy.connections(),
        2,
        "the abandoned connection was replaced, not reused"
    );
}

#[tokio::test]
async fn a_replica_reports_its_link_and_the_master_its_replica() {
    let mut master = Redis::start();
    let replica = Redis::start();
    let port = master.port().to_string();
    assert_eq!(replica.cli(&["REPLICAOF", "127.0.0.1", &port]), "OK");

    let mut replica_src = source(replica.url(), None);
    let r = poll_until(&mut replica_src, "the replica linked up", |r| {
        r.replication.master_link_status.as_deref() == Some("up")
    })
    .await;
    assert_eq!(r.role, "slave");
    assert!(r.is_replica());
    assert!(r.replication.master_last_io_s.is_some());
    assert!(r.findings().is_empty(), "{:?}", r.findings());
    assert!(r.figures().iter().any(|f| f.key == "master_last_io_s"));
    assert!(r.summary().contains("replica"), "{}", r.summary());

    let mut master_src = source(master.url(), None);
    let m = poll_until(&mut master_src, "the master listing its replica", |m| {
        m.replication
            .replicas
            .first()
            .is_some_and(|link| link.state == "online" && link.lag_s.is_some())
    })
    .await;
    assert_eq!(m.replication.connected_replicas, 1);
    assert!(m.figures().iter().any(|f| f.key == "replica_lag_s"));

    master.stop();
    let r = poll_until(
        &mut replica_src,
        "the replica noticing its master is gone",
        |r| r.replication.master_link_status.as_deref() == Some("down"),
    )
    .await;
    assert!(
        r.findings()
            .iter()
            .any(|f| f.level == Level::Crit && f.message.contains("link to the master is down")),
        "{:?}",
        r.findings()
    );
}
