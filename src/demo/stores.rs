//! Demo Postgres (primary + streaming replica behind PgBouncer) and Redis (Sidekiq's
//! persistent instance and the LRU cache), built from the real sources' reading types.

use std::time::Duration;

use crate::model::Reading;
use crate::sources::postgres::redact::redact;
use crate::sources::postgres::{
    Activity, Backend, Connections, DatabaseSize, DatabaseStats, DeadTuples, PostgresReading,
    RawQuery, ReplicaStatus, ServerInfo, SessionGroup, Sessions, Slot, Standby, Views, Wraparound,
};
use crate::sources::redis::{KeyspaceDb, Persistence, RedisReading, Replication};

use super::clock::Anchor;
use super::noise::{around, round, smooth};
use super::post_mortems;
use super::script;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum PgRole {
    Primary,
    Replica,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RedisRole {
    Main,
    Cache,
}

const PG_VERSION: &str = "16.6 (Debian 16.6-1.pgdg120+1)";
const PG_VERSION_NUM: i32 = 160_006;
const MAX_CONNECTIONS: i64 = 500;
const RESERVED_CONNECTIONS: i64 = 3;
/// Each extra pull process brings its own pool (`DB_POOL=25`).
const EXTRA_PULL_CONNECTIONS: f64 = 50.0;
/// WAL the primary writes per second; what the replica has left to replay per second of lag.
const WAL_BYTES_PER_S: f64 = 9.0 * 1024.0 * 1024.0;

struct PgProfile {
    name: &'static str,
    uptime_days: f64,
    connections: f64,
    active: f64,
    xact_per_s: f64,
    /// Counter values at demo second zero.
    xact_commit: f64,
    blks_hit: f64,
}

const PRIMARY: PgProfile = PgProfile {
    name: "primary",
    uptime_days: 34.2,
    connections: 312.0,
    active: 24.0,
    xact_per_s: 2400.0,
    xact_commit: 98_112_004_551.0,
    blks_hit: 8_812_440_118_002.0,
};

const REPLICA: PgProfile = PgProfile {
    name: "replica",
    uptime_days: 34.2,
    connections: 88.0,
    active: 7.0,
    xact_per_s: 650.0,
    xact_commit: 21_004_551_873.0,
    blks_hit: 1_904_117_332_904.0,
};

/// A monotonic counter at `now`: `start + rate·now` with a wobble too small to ever make
/// it run backwards (amplitude × steepest slope of the noise < rate).
fn counter(key: &str, start: f64, rate: f64, now: f64) -> f64 {
    let period = 30.0;
    start + rate * now + rate * period / 8.0 * smooth(key, now, period)
}

pub(crate) fn postgres(role: PgRole, t: Duration, s: f64, anchor: Anchor) -> PostgresReading {
    let now = t.as_secs_f64();
    let profile = match role {
        PgRole::Primary => &PRIMARY,
        PgRole::Replica => &REPLICA,
    };
    let key = |what: &str| format!("postgres/{}:{what}", profile.name);

    let extra = if role == PgRole::Primary && script::pull_scaled(s) {
        EXTRA_PULL_CONNECTIONS
    } else {
        0.0
    };
    let total = (around(&key("conns"), now, profile.connections, 0.04) + extra).round();
    let active = around(&key("active"), now, profile.active, 0.35).round();
    let idle_in_transaction = around(&key("iit"), now, 1.5, 0.9).round();
    let sessions = Sessions {
        active: active as i64,
        idle: (total - active - idle_in_transaction - 1.0).max(0.0) as i64,
        idle_in_transaction: idle_in_transaction as i64,
        idle_in_transaction_aborted: 0,
        // The primary always has the small blocking chain its activity view shows.
        waiting_on_lock: if role == PgRole::Primary {
            2
        } else {
            (smooth(&key("locks"), now, 9.0) > 0.6) as i64
        },
        hidden: 0,
        longest_xact_s: Some(round(around(&key("xact"), now, 6.0, 0.8), 3)),
        idle_in_xact_max_s: (idle_in_transaction > 0.0)
            .then(|| round(around(&key("iitmax"), now, 0.6, 0.8), 3)),
    };

    let commits = counter(&key("commit"), profile.xact_commit, profile.xact_per_s, now);
    let previous = counter(
        &key("commit"),
        profile.xact_commit,
        profile.xact_per_s,
        (now - 1.0).max(0.0),
    );
    let hit_pct = round(99.3 + 0.3 * smooth(&key("hit"), now, 50.0), 2);
    let blks_hit = counter(
        &key("blks"),
        profile.blks_hit,
        profile.xact_per_s * 40.0,
        now,
    );

    PostgresReading {
        server: ServerInfo {
            version: PG_VERSION.into(),
            version_num: PG_VERSION_NUM,
            database: "mastodon_production".into(),
            in_recovery: role == PgRole::Replica,
            uptime_s: round(profile.uptime_days * 86_400.0 + now, 0),
        },
        connections: Connections {
            total: total as i64,
            max_connections: MAX_CONNECTIONS,
            reserved: RESERVED_CONNECTIONS,
            used_pct: round(
                total / (MAX_CONNECTIONS - RESERVED_CONNECTIONS) as f64 * 100.0,
                1,
            ),
        },
        sessions,
        database: DatabaseStats {
            size_bytes: Some(2_093_811_204_096 + (now * 180_000.0) as i64),
            xact_commit: commits as i64,
            xact_rollback: (commits / 800.0) as i64,
            blks_hit: blks_hit as i64,
            blks_read: (blks_hit * (100.0 - hit_pct) / hit_pct) as i64,
            deadlocks: 14,
            temp_files: 18_211,
            temp_bytes: 412_004_112_384,
            cache_hit_pct: Some(hit_pct),
            xact_per_sec: Some(round(commits - previous, 1)),
            deadlocks_since_last_poll: 0,
            rollback_pct: Some(round(0.12 + 0.05 * smooth(&key("rb"), now, 40.0), 3)),
            temp_files_since_last_poll: 0,
            temp_bytes_per_sec: Some(round(around(&key("temp"), now, 96_000.0, 0.5), 0)),
            growth_bytes_per_sec: Some(180_000.0),
        },
        replica: (role == PgRole::Replica).then(|| ReplicaStatus {
            lag_s: Some(round(replica_lag(now, s), 3)),
            replay_backlog_bytes: Some((replica_lag(now, s) * WAL_BYTES_PER_S).round()),
            replay_paused: false,
            receiver: Some("streaming".into()),
        }),
        views: match role {
            PgRole::Primary => {
                let mut views = primary_views(now, s, total, sessions_epoch_us(anchor));
                let wal_segments = (now / 6.0) as i64;
                views.archiver = Some(post_mortems::archiver(s, 1_180_000 + wal_segments));
                views.wal_space = Some(post_mortems::wal_space());
                views.backups = Some(post_mortems::backups(s, anchor.wall_unix(t)));
                if let (Some(slots), Some(forgotten)) =
                    (views.slots.as_mut(), post_mortems::forgotten_slot(s))
                {
                    slots.push(forgotten);
                }
                views
            }
            PgRole::Replica => replica_views(now),
        },
    }
}

/// The replica's lag at demo time `now` (script second `s`), the same on both nodes.
fn replica_lag(now: f64, s: f64) -> f64 {
    script::replica_lag(s).unwrap_or_else(|| around("postgres/replica:lag", now, 0.15, 0.8))
}

/// When the demo's database sessions began counting, in microseconds: two days before demo
/// time zero, in whole seconds so the backends' row keys stay the same all run long.
fn sessions_epoch_us(anchor: Anchor) -> i64 {
    (anchor.zero_unix() - 2.0 * 86_400.0).floor() as i64 * 1_000_000
}

/// A backend of the demo; `raw` is what a real server would hold, shown only redacted.
#[allow(clippy::too_many_arguments)]
fn backend(
    pid: i32,
    user: &str,
    application: &str,
    state: &str,
    wait: Option<(&str, &str)>,
    xact_age_s: Option<f64>,
    query_age_s: f64,
    blocked_by: &[i32],
    raw: &str,
    epoch_us: i64,
) -> Backend {
    Backend {
        pid,
        backend_start_us: epoch_us + i64::from(pid) * 1_000_003,
        query_start_us: Some(epoch_us + i64::from(pid) * 7_000_001),
        user: Some(user.into()),
        application: application.into(),
        client: Some(format!("10.0.1.{}", pid % 200)),
        database: Some("mastodon_production".into()),
        backend_type: "client backend".into(),
        state: state.into(),
        wait_event_type: wait.map(|(t, _)| t.to_string()),
        wait_event: wait.map(|(_, e)| e.to_string()),
        xact_age_s: xact_age_s.map(|v| round(v, 2)),
        query_age_s: Some(round(query_age_s, 2)),
        state_age_s: Some(round(query_age_s, 2)),
        xmin_age: xact_age_s.map(|v| (v * PRIMARY.xact_per_s) as i64),
        blocked_by: blocked_by.to_vec(),
        query: redact(raw),
        raw_query: RawQuery::new(raw.into()),
    }
}

/// A Sidekiq job holding a row lock while it waits on something else, with two web
/// requests queued behind it: short enough to stay under the blocker-age threshold.
fn primary_views(now: f64, s: f64, total: f64, epoch_us: i64) -> Views {
    let hold = 4.0 + 8.0 * (0.5 + 0.5 * smooth("postgres/primary:hold", now, 20.0));
    let backends = vec![
        backend(
            48_213,
            "mastodon",
            "sidekiq",
            "idle in transaction",
            Some(("Client", "ClientRead")),
            Some(hold),
            hold - 0.3,
            &[],
            "UPDATE accounts SET last_status_at = '2026-01-01 00:00:00' WHERE id = 109348",
            epoch_us,
        ),
        backend(
            48_290,
            "mastodon",
            "puma",
            "active",
            Some(("Lock", "transactionid")),
            Some(hold - 0.8),
            hold - 0.8,
            &[48_213],
            "UPDATE accounts SET note = 'my new bio' WHERE id = 109348",
            epoch_us,
        ),
        backend(
            48_301,
            "mastodon",
            "puma",
            "active",
            Some(("Lock", "tuple")),
            Some(hold - 1.9),
            hold - 1.9,
            &[48_213, 48_290],
            "UPDATE accounts SET locked = false WHERE id = 109348",
            epoch_us,
        ),
        backend(
            51_007,
            "mastodon",
            "sidekiq",
            "active",
            None,
            Some(round(around("postgres/primary:feed", now, 0.8, 0.5), 2)),
            around("postgres/primary:feed", now, 0.8, 0.5),
            &[],
            "SELECT statuses.id FROM statuses WHERE account_id IN (1, 2, 3, 4) ORDER BY id DESC LIMIT 40",
            epoch_us,
        ),
    ];
    let lag = replica_lag(now, s);
    Views {
        activity: Some(Activity {
            backends,
            truncated: false,
        }),
        sessions_by: Some(vec![
            session_group("mastodon", "puma", total * 0.55, 0.0),
            session_group("mastodon", "sidekiq", total * 0.4, hold),
            session_group("mastodon", "streaming", total * 0.05, 0.0),
        ]),
        standbys: Some(vec![Standby {
            pid: 1_207,
            backend_start_us: epoch_us,
            name: "replica".into(),
            client: Some("10.0.2.12".into()),
            state: Some("streaming".into()),
            sync_state: Some("async".into()),
            pending_bytes: Some(0.0),
            replay_bytes: Some((lag * WAL_BYTES_PER_S).round()),
            write_lag_s: Some(0.002),
            flush_lag_s: Some(0.004),
            replay_lag_s: Some(round(lag, 3)),
            xmin_age: Some(1_200),
        }]),
        slots: Some(vec![Slot {
            name: "replica".into(),
            slot_type: "physical".into(),
            database: String::new(),
            active: true,
            wal_status: Some("reserved".into()),
            safe_wal_size: None,
            retained_bytes: Some((lag * WAL_BYTES_PER_S + 48.0 * 1024.0 * 1024.0).round()),
            xmin_age: Some(1_200),
            catalog_xmin_age: None,
        }]),
        wraparound: Some(wraparound(now)),
        vacuum: Some(Vec::new()),
        dead_tuples: Some(vec![
            dead("statuses", 412_000_000.0, 1_800_000.0, now),
            dead("notifications", 230_000_000.0, 910_000.0, now),
            dead("accounts", 2_400_000.0, 31_000.0, now),
        ]),
        database_sizes: Some(vec![DatabaseSize {
            database: "mastodon_production".into(),
            bytes: 2_093_811_204_096 + (now * 180_000.0) as i64,
            current: true,
        }]),
        ..Views::default()
    }
}

fn replica_views(now: f64) -> Views {
    Views {
        activity: Some(Activity::default()),
        standbys: Some(Vec::new()),
        wraparound: Some(wraparound(now)),
        ..Views::default()
    }
}

fn session_group(user: &str, application: &str, total: f64, iit_max: f64) -> SessionGroup {
    let total = total.round() as i64;
    let active = total / 12;
    let iit = i64::from(iit_max > 0.0);
    SessionGroup {
        user: user.into(),
        application: application.into(),
        total,
        active,
        idle: total - active - iit,
        idle_in_xact: iit,
        idle_in_xact_max_s: (iit_max > 0.0).then_some(round(iit_max, 2)),
    }
}

fn wraparound(now: f64) -> Vec<Wraparound> {
    vec![
        Wraparound {
            database: "mastodon_production".into(),
            xid_age: 148_000_000 + (now * 2_400.0) as i64,
            mxid_age: 3_100_000,
            freeze_max_age: 200_000_000,
            mxid_freeze_max_age: 400_000_000,
        },
        Wraparound {
            database: "postgres".into(),
            xid_age: 61_000_000,
            mxid_age: 0,
            freeze_max_age: 200_000_000,
            mxid_freeze_max_age: 400_000_000,
        },
    ]
}

fn dead(table: &str, live: f64, dead: f64, now: f64) -> DeadTuples {
    DeadTuples {
        relation: table.into(),
        live: live as i64,
        dead: (dead * (1.0 + 0.1 * smooth(table, now, 60.0))) as i64,
        since_vacuum_s: Some(round(1_800.0 + now, 0)),
        vacuums: 1_204,
    }
}

/// The built-in replication-lag thresholds of the Postgres source, read from a reading it
/// would judge, so the timeline never disagrees with the colours on screen.
pub(crate) fn replica_lag_thresholds() -> (f64, f64) {
    // Thresholds do not depend on the date: any anchor will do.
    let anchor = Anchor::new(Duration::ZERO, std::time::SystemTime::UNIX_EPOCH);
    postgres(PgRole::Replica, Duration::ZERO, 0.0, anchor)
        .figures()
        .into_iter()
        .find(|f| f.key == "replication_lag_s")
        .and_then(|f| f.threshold)
        .map_or((f64::INFINITY, f64::INFINITY), |t| (t.warn, t.crit))
}

const REDIS_VERSION: &str = "7.0.15";
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

struct RedisProfile {
    name: &'static str,
    maxmemory_gib: f64,
    policy: &'static str,
    /// Used memory once warm, GiB.
    used_gib: f64,
    clients: f64,
    ops_per_s: f64,
    hit_pct: f64,
    keys: f64,
    expiring_share: f64,
}

/// Sidekiq's queues and sets plus home feeds: losing a write here loses a job, so it must
/// never evict.
const MAIN: RedisProfile = RedisProfile {
    name: "main",
    maxmemory_gib: 16.0,
    policy: "noeviction",
    used_gib: 6.4,
    clients: 412.0,
    ops_per_s: 9_400.0,
    hit_pct: 88.0,
    keys: 1_930_000.0,
    expiring_share: 0.57,
};

/// Rails' cache: everything in it can be rebuilt.
const CACHE: RedisProfile = RedisProfile {
    name: "cache",
    maxmemory_gib: 12.0,
    policy: "allkeys-lru",
    used_gib: 8.9,
    clients: 236.0,
    ops_per_s: 5_800.0,
    hit_pct: 84.0,
    keys: 3_400_000.0,
    expiring_share: 0.97,
};

/// Both instances run on redis-1 and were last started with it.
const REDIS_UPTIME_DAYS: f64 = 63.0;
/// How long a restarted instance takes to reload its RDB snapshot.
const RDB_LOAD_S: f64 = 6.0;
/// How long the cache takes to warm up again after a restart.
const CACHE_WARMUP_S: f64 = 90.0;

pub(crate) fn redis(role: RedisRole, t: Duration, s: f64) -> RedisReading {
    let now = t.as_secs_f64();
    let profile = match role {
        RedisRole::Main => &MAIN,
        RedisRole::Cache => &CACHE,
    };
    let key = |what: &str| format!("redis/{}:{what}", profile.name);
    let rebooted = script::redis_host_uptime(s);
    let uptime = rebooted.unwrap_or(REDIS_UPTIME_DAYS * 86_400.0 + now);
    // The persistent instance reloads its snapshot; the cache has none and starts empty.
    let warmth = match (role, rebooted) {
        (RedisRole::Cache, Some(up)) => script::smoothstep(up / CACHE_WARMUP_S).max(0.01),
        _ => 1.0,
    };
    let loading = role == RedisRole::Main && rebooted.is_some_and(|up| up < RDB_LOAD_S);

    let used = around(&key("mem"), now, profile.used_gib * GIB * warmth, 0.02);
    let hit_pct = round(
        around(
            &key("hits"),
            now,
            profile.hit_pct * (0.3 + 0.7 * warmth),
            0.02,
        )
        .min(100.0),
        2,
    );
    let ops = around(&key("ops"), now, profile.ops_per_s, 0.12);
    // Counters restart with the server, so they are rates times uptime.
    let lookups = 0.6 * profile.ops_per_s * uptime;
    let keys = profile.keys * warmth;
    let mut reading = RedisReading {
        version: REDIS_VERSION.into(),
        mode: "standalone".into(),
        role: "master".into(),
        uptime_s: uptime as u64,
        used_memory: used as u64,
        used_memory_peak: (profile.used_gib * GIB * 1.07) as u64,
        used_memory_rss: (used * 1.08) as u64,
        maxmemory: (profile.maxmemory_gib * GIB) as u64,
        maxmemory_policy: profile.policy.into(),
        mem_fragmentation_ratio: Some(round(1.08 + 0.02 * smooth(&key("frag"), now, 120.0), 2)),
        connected_clients: around(&key("clients"), now, profile.clients, 0.03).round() as u64,
        blocked_clients: if role == RedisRole::Main {
            // Idle Sidekiq threads wait in BRPOP.
            around(&key("blocked"), now, 60.0, 0.3).round() as u64
        } else {
            0
        },
        maxclients: Some(10_000),
        ops_per_sec: round(ops, 0),
        keyspace_hits: (lookups * profile.hit_pct / 100.0) as u64,
        keyspace_misses: (lookups * (1.0 - profile.hit_pct / 100.0)) as u64,
        hit_ratio_pct: Some(hit_pct),
        // Evictions from before the last maxmemory raise; none since.
        evicted_keys: if role == RedisRole::Cache && rebooted.is_none() {
            1_204_332
        } else {
            0
        },
        expired_keys: (0.04 * profile.ops_per_s * uptime) as u64,
        rejected_connections: 0,
        keyspace: vec![KeyspaceDb {
            db: 0,
            keys: keys as u64,
            expires: (keys * profile.expiring_share) as u64,
        }],
        persistence: Persistence {
            loading,
            rdb_last_bgsave_status: "ok".into(),
            rdb_changes_since_last_save: if role == RedisRole::Main {
                // `save 300 100`: the change count climbs and resets with each snapshot.
                (uptime % 300.0 * 850.0) as u64
            } else {
                0
            },
            aof_enabled: false,
            aof_last_write_status: "ok".into(),
            aof_last_bgrewrite_status: "ok".into(),
        },
        replication: Replication::default(),
        extras: None,
        known: Default::default(),
    };
    if role == RedisRole::Main {
        reading.known = post_mortems::known_peers();
        if let Some(policy) = post_mortems::eviction_policy(s) {
            reading.maxmemory_policy = policy.into();
        }
        post_mortems::hijack(&mut reading, s);
        post_mortems::rdb_failing(&mut reading, s);
    }
    reading
}
