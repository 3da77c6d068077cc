//! Redis checks from real incidents, against real servers: a Redis made a replica of a
//! host the configuration does not name (Hachyderm's Redis, open after nftables did not
//! come back, was made a replica of an attacker's host), and a Redis that Sidekiq uses
//! with an eviction policy that drops jobs. Sources are built from a `Config` exactly as
//! the console builds them, so the wiring is under test too.

use crate::support;

use std::time::Duration;

use mastop::config::{Config, EndpointConfig};
use mastop::model::{Finding, Level, Reading};
use mastop::sources::redis::RedisReading;
use support::Redis;

const HANG_GUARD: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: usize = 200;

async fn findings_of(config: &Config, name: &str) -> (RedisReading, Vec<Finding>) {
    let mut specs = mastop::sources::build(config);
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id.to_string() == format!("redis/{name}"))
        .expect("the redis source is built");
    let reading = tokio::time::timeout(HANG_GUARD, spec.source.poll())
        .await
        .expect("poll hung")
        .unwrap_or_else(|e| panic!("poll failed: {e:?}"));
    let r = reading
        .as_any()
        .downcast_ref::<RedisReading>()
        .expect("a RedisReading")
        .clone();
    let f = r.findings();
    (r, f)
}

fn config(redis: Vec<EndpointConfig>, sidekiq: Vec<EndpointConfig>) -> Config {
    Config {
        redis,
        sidekiq,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_an_unknown_master_is_critical_and_names_it() {
    let ours = Redis::start();
    let stranger = Redis::start();
    let cfg = config(vec![EndpointConfig::new("cache", ours.url())], Vec::new());

    let (_, before) = findings_of(&cfg, "cache").await;
    assert!(
        !before.iter().any(|f| f.message.contains("replica of")),
        "{before:?}"
    );

    let port = stranger.port().to_string();
    assert_eq!(ours.cli(&["REPLICAOF", "127.0.0.1", &port]).trim(), "OK");
    let (r, findings) = findings_of(&cfg, "cache").await;
    assert!(r.is_replica());
    let hijack = findings
        .iter()
        .find(|f| {
            f.message
                .contains("a master in neither the config nor the inventory")
        })
        .unwrap_or_else(|| panic!("no hijack finding: {findings:?}"));
    assert_eq!(hijack.level, Level::Crit);
    assert!(
        hijack
            .message
            .contains(&format!("replica of 127.0.0.1:{port}")),
        "{}",
        hijack.message
    );

    // The same master, once configured, is ours: no finding.
    let known = config(
        vec![
            EndpointConfig::new("cache", ours.url()),
            EndpointConfig::new("primary", stranger.url()),
        ],
        Vec::new(),
    );
    let mut linked = false;
    for _ in 0..MAX_ATTEMPTS {
        let (r, findings) = findings_of(&known, "cache").await;
        assert!(
            !findings
                .iter()
                .any(|f| f.message.contains("neither the config")),
            "{findings:?}"
        );
        if r.replication.master_link_status.as_deref() == Some("up") {
            linked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(linked, "the replica never linked up to its master");
    assert_eq!(ours.cli(&["REPLICAOF", "NO", "ONE"]).trim(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sidekiq_redis_that_evicts_warns_and_a_cache_does_not() {
    let jobs = Redis::start();
    let cache = Redis::start();
    for r in [&jobs, &cache] {
        assert_eq!(
            r.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
                .trim(),
            "OK"
        );
    }
    let cfg = config(
        vec![
            EndpointConfig::new("jobs", jobs.url()),
            EndpointConfig::new("cache", cache.url()),
        ],
        vec![EndpointConfig::new("main", jobs.url())],
    );
    let warns = |f: &[Finding]| {
        f.iter()
            .filter(|f| f.level == Level::Warn && f.message.contains("evicts queued jobs"))
            .count()
    };
    let (_, f) = findings_of(&cfg, "jobs").await;
    assert_eq!(warns(&f), 1, "{f:?}");
    assert!(
        f.iter()
            .any(|f| f.message.contains("maxmemory-policy is allkeys-lru"))
    );
    let (_, f) = findings_of(&cfg, "cache").await;
    assert_eq!(warns(&f), 0, "a cache may evict: {f:?}");

    assert_eq!(
        jobs.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
            .trim(),
        "OK"
    );
    let (_, f) = findings_of(&cfg, "jobs").await;
    assert_eq!(warns(&f), 0, "{f:?}");
}
