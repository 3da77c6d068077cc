//! Parsing the text `INFO` answers. Pure, so every field and every malformed line is
//! tested without a server.

use std::collections::HashMap;

use super::reading::{KeyspaceDb, Persistence, RedisReading, ReplicaLink, Replication};

/// Fewer lookups than this between two polls say nothing about the hit ratio.
const MIN_LOOKUPS_FOR_RATIO: u64 = 100;

/// Parses the text of `INFO` (any sections). Lines that are not `key:value`, section
/// headers and unknown keys are skipped, so new Redis versions and stray bytes do no harm.
/// Fails only when the text has none of the fields every Redis reports.
pub fn parse_info(text: &str) -> Result<RedisReading, String> {
    let mut fields: HashMap<&str, &str> = HashMap::new();
    let mut keyspace = Vec::new();
    let mut replicas = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if let Some(db) = key.strip_prefix("db").and_then(|n| n.parse::<u32>().ok()) {
            let sub = subfields(value);
            keyspace.push(KeyspaceDb {
                db,
                keys: sub.get("keys").and_then(|v| v.parse().ok()).unwrap_or(0),
                expires: sub.get("expires").and_then(|v| v.parse().ok()).unwrap_or(0),
            });
        } else if key
            .strip_prefix("slave")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            let sub = subfields(value);
            let ip = sub.get("ip").copied().unwrap_or("?");
            let port = sub.get("port").copied().unwrap_or("?");
            replicas.push(ReplicaLink {
                addr: format!("{ip}:{port}"),
                state: sub.get("state").copied().unwrap_or_default().to_string(),
                offset: sub.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0),
                // Redis takes the lag from its cached clock, which can trail the moment
                // of the replica's last acknowledgement: -1 means no lag, not no number.
                lag_s: sub
                    .get("lag")
                    .and_then(|v| v.parse::<i64>().ok())
                    .map(|lag| lag.max(0).unsigned_abs()),
            });
        } else {
            fields.insert(key, value);
        }
    }
    let Some(version) = fields.get("redis_version") else {
        return Err("the answer has no redis_version field".into());
    };
    keyspace.sort_by_key(|d| d.db);
    let text_of = |key: &str| fields.get(key).copied().unwrap_or_default().to_string();
    let num = |key: &str| fields.get(key).and_then(|v| v.parse::<u64>().ok());
    let int = |key: &str| fields.get(key).and_then(|v| v.parse::<i64>().ok());
    let float = |key: &str| {
        fields
            .get(key)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let flag = |key: &str| fields.get(key).is_some_and(|v| *v == "1");
    let keyspace_hits = num("keyspace_hits").unwrap_or(0);
    let keyspace_misses = num("keyspace_misses").unwrap_or(0);
    Ok(RedisReading {
        version: version.to_string(),
        mode: text_of("redis_mode"),
        role: text_of("role"),
        uptime_s: num("uptime_in_seconds").unwrap_or(0),
        used_memory: num("used_memory").unwrap_or(0),
        used_memory_peak: num("used_memory_peak").unwrap_or(0),
        used_memory_rss: num("used_memory_rss").unwrap_or(0),
        maxmemory: num("maxmemory").unwrap_or(0),
        maxmemory_policy: text_of("maxmemory_policy"),
        mem_fragmentation_ratio: float("mem_fragmentation_ratio"),
        connected_clients: num("connected_clients").unwrap_or(0),
        blocked_clients: num("blocked_clients").unwrap_or(0),
        maxclients: num("maxclients"),
        ops_per_sec: float("instantaneous_ops_per_sec").unwrap_or(0.0),
        keyspace_hits,
        keyspace_misses,
        hit_ratio_pct: hit_ratio(keyspace_hits, keyspace_misses, 1),
        evicted_keys: num("evicted_keys").unwrap_or(0),
        expired_keys: num("expired_keys").unwrap_or(0),
        rejected_connections: num("rejected_connections").unwrap_or(0),
        keyspace,
        persistence: Persistence {
            loading: flag("loading"),
            rdb_last_bgsave_status: text_of("rdb_last_bgsave_status"),
            rdb_changes_since_last_save: num("rdb_changes_since_last_save").unwrap_or(0),
            aof_enabled: flag("aof_enabled"),
            aof_last_write_status: text_of("aof_last_write_status"),
            aof_last_bgrewrite_status: text_of("aof_last_bgrewrite_status"),
        },
        replication: Replication {
            master_link_status: fields.get("master_link_status").map(|s| s.to_string()),
            master_host: fields.get("master_host").map(|s| s.to_string()),
            master_port: fields
                .get("master_port")
                .and_then(|p| p.trim().parse().ok()),
            master_last_io_s: int("master_last_io_seconds_ago").filter(|s| *s >= 0),
            master_link_down_s: int("master_link_down_since_seconds").filter(|s| *s >= 0),
            master_sync_in_progress: flag("master_sync_in_progress"),
            connected_replicas: num("connected_slaves").unwrap_or(0),
            replicas,
        },
        extras: None,
        known: Default::default(),
    })
}

/// `keys=1,expires=0,avg_ttl=0` → {keys: 1, …}
fn subfields(value: &str) -> HashMap<&str, &str> {
    value
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

fn hit_ratio(hits: u64, misses: u64, min_lookups: u64) -> Option<f64> {
    let lookups = hits.saturating_add(misses);
    (lookups >= min_lookups.max(1)).then(|| hits as f64 * 100.0 / lookups as f64)
}

/// Replaces the since-start hit ratio with the one over the last interval when that
/// interval saw enough lookups. Counters going backwards mean a restart or CONFIG
/// RESETSTAT: the since-start ratio stays.
pub(super) fn apply_interval_ratio(reading: &mut RedisReading, previous: Option<(u64, u64)>) {
    let Some((hits, misses)) = previous else {
        return;
    };
    if reading.keyspace_hits < hits || reading.keyspace_misses < misses {
        return;
    }
    let (dh, dm) = (
        reading.keyspace_hits - hits,
        reading.keyspace_misses - misses,
    );
    if let Some(pct) = hit_ratio(dh, dm, MIN_LOOKUPS_FOR_RATIO) {
        reading.hit_ratio_pct = Some(pct);
    }
}

/// A master's `INFO`, as Redis 7 writes it (CRLF line ends), trimmed to the fields used.
#[cfg(test)]
pub(super) const INFO_MASTER: &str = "\
    # Server\r\n\
    redis_version:7.0.15\r\n\
    redis_mode:standalone\r\n\
    process_id:1\r\n\
    uptime_in_seconds:3600\r\n\
    \r\n\
    # Clients\r\n\
    connected_clients:12\r\n\
    maxclients:10000\r\n\
    blocked_clients:3\r\n\
    \r\n\
    # Memory\r\n\
    used_memory:104857600\r\n\
    used_memory_rss:125829120\r\n\
    used_memory_peak:209715200\r\n\
    maxmemory:134217728\r\n\
    maxmemory_policy:noeviction\r\n\
    mem_fragmentation_ratio:1.20\r\n\
    \r\n\
    # Persistence\r\n\
    loading:0\r\n\
    rdb_changes_since_last_save:42\r\n\
    rdb_last_bgsave_status:ok\r\n\
    aof_enabled:0\r\n\
    aof_last_bgrewrite_status:ok\r\n\
    aof_last_write_status:ok\r\n\
    \r\n\
    # Stats\r\n\
    instantaneous_ops_per_sec:1234\r\n\
    rejected_connections:0\r\n\
    expired_keys:7\r\n\
    evicted_keys:0\r\n\
    keyspace_hits:900\r\n\
    keyspace_misses:100\r\n\
    \r\n\
    # Replication\r\n\
    role:master\r\n\
    connected_slaves:1\r\n\
    slave0:ip=10.0.0.2,port=6379,state=online,offset=12345,lag=1\r\n\
    master_repl_offset:12345\r\n\
    \r\n\
    # Keyspace\r\n\
    db0:keys=1500,expires=20,avg_ttl=0\r\n\
    db2:keys=3,expires=0,avg_ttl=0\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, Reading};

    #[test]
    fn parses_a_master() {
        let r = parse_info(INFO_MASTER).expect("valid INFO");
        assert_eq!(r.version, "7.0.15");
        assert_eq!(r.role, "master");
        assert_eq!(r.mode, "standalone");
        assert_eq!(r.uptime_s, 3600);
        assert_eq!(r.used_memory, 104_857_600);
        assert_eq!(r.used_memory_peak, 209_715_200);
        assert_eq!(r.maxmemory, 134_217_728);
        assert_eq!(r.maxmemory_policy, "noeviction");
        assert_eq!(r.mem_fragmentation_ratio, Some(1.2));
        assert_eq!(
            (r.connected_clients, r.blocked_clients, r.maxclients),
            (12, 3, Some(10000))
        );
        assert_eq!(r.ops_per_sec, 1234.0);
        assert_eq!(r.hit_ratio_pct, Some(90.0));
        assert_eq!(r.evicted_keys, 0);
        assert_eq!(
            r.keyspace,
            vec![
                KeyspaceDb {
                    db: 0,
                    keys: 1500,
                    expires: 20
                },
                KeyspaceDb {
                    db: 2,
                    keys: 3,
                    expires: 0
                }
            ]
        );
        assert_eq!(r.total_keys(), 1503);
        assert_eq!(r.persistence.rdb_last_bgsave_status, "ok");
        assert_eq!(r.replication.connected_replicas, 1);
        assert_eq!(
            r.replication.replicas,
            vec![ReplicaLink {
                addr: "10.0.0.2:6379".into(),
                state: "online".into(),
                offset: 12345,
                lag_s: Some(1)
            }]
        );
        let pct = r
            .figures()
            .into_iter()
            .find(|f| f.key == "memory_used_pct")
            .expect("maxmemory set");
        assert!((pct.value - 78.125).abs() < 1e-9);
        assert_eq!(r.key_figure(), Some("memory_used_pct"));
        assert!(r.findings().is_empty(), "{:?}", r.findings());
    }

    #[test]
    fn a_lag_just_behind_the_cached_clock_is_no_lag() {
        let text = INFO_MASTER.replace(",lag=1", ",lag=-1");
        assert_ne!(text, INFO_MASTER);
        let r = parse_info(&text).expect("valid INFO");
        assert_eq!(r.replication.replicas[0].lag_s, Some(0));
        assert!(r.figures().iter().any(|f| f.key == "replica_lag_s"));
        let text = INFO_MASTER.replace(",lag=1", ",lag=soon");
        let r = parse_info(&text).expect("valid INFO");
        assert_eq!(r.replication.replicas[0].lag_s, None);
    }

    #[test]
    fn skips_garbage_lines_and_unknown_fields() {
        let text = "redis_version:7.2.4\nthis line has no colon\n:\n::::\ndbx:keys=1\ndb:keys=2\nslave:ip=1\n\
                    db1:keys=notanumber,expires=\nused_memory:lots\nconnected_clients:-3\n\u{1b}[31mrole:master\n\
                    some_future_field:1\nrole:master\n\0\0\0\n";
        let r = parse_info(text).expect("has a version");
        assert_eq!(r.version, "7.2.4");
        assert_eq!(r.role, "master");
        assert_eq!(r.used_memory, 0);
        assert_eq!(r.connected_clients, 0);
        assert_eq!(
            r.keyspace,
            vec![KeyspaceDb {
                db: 1,
                keys: 0,
                expires: 0
            }]
        );
        assert!(r.replication.replicas.is_empty());
        assert_eq!(r.hit_ratio_pct, None, "no lookups, no ratio");
        assert_eq!(r.mem_fragmentation_ratio, None);
    }

    #[test]
    fn rejects_text_that_is_not_info() {
        assert!(parse_info("").is_err());
        assert!(parse_info("HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
        assert!(parse_info("+OK").is_err());
    }

    #[test]
    fn interval_hit_ratio_replaces_the_since_start_one() {
        let mut r = parse_info(INFO_MASTER).expect("valid");
        apply_interval_ratio(&mut r, Some((850, 50)));
        assert_eq!(r.hit_ratio_pct, Some(50.0));
        let mut r = parse_info(INFO_MASTER).expect("valid");
        apply_interval_ratio(&mut r, Some((899, 99)));
        assert_eq!(
            r.hit_ratio_pct,
            Some(90.0),
            "two lookups are too few to judge"
        );
        let mut r = parse_info(INFO_MASTER).expect("valid");
        apply_interval_ratio(&mut r, Some((5000, 5000)));
        assert_eq!(r.hit_ratio_pct, Some(90.0), "counters went back: restart");
    }

    #[test]
    fn parses_a_replica_with_a_broken_link() {
        let text = "redis_version:7.0.15\nrole:slave\nmaster_host:10.0.0.1\nmaster_port:6379\n\
                    master_link_status:down\nmaster_last_io_seconds_ago:-1\nmaster_sync_in_progress:0\n\
                    master_link_down_since_seconds:95\nconnected_slaves:0\n";
        let r = parse_info(text).expect("valid");
        assert!(r.is_replica());
        assert_eq!(r.replication.master_link_status.as_deref(), Some("down"));
        assert_eq!(r.replication.master_last_io_s, None);
        assert_eq!(r.replication.master_link_down_s, Some(95));
        let findings = r.findings();
        assert!(findings.iter().any(|f| f.level == Level::Crit
            && f.message.contains("link to the master is down for 1m 35s")));
        let io = r
            .figures()
            .into_iter()
            .find(|f| f.key == "master_last_io_s")
            .expect("replica figure");
        assert!(io.value.is_nan());
    }
}
