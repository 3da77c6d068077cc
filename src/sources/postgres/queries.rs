//! The SQL a poll sends and the decoding of its answers. Every number is cast on the
//! server to a type the client decodes without a type lookup (`extract` and `sum` return
//! numeric, which it cannot).

use tokio_postgres::Row;

use super::decode::{Failure, col};
use super::reading::{
    Connections, DatabaseStats, PostgresReading, ReplicaStatus, ServerInfo, used_pct,
};
use super::sessions::Sessions;

/// Fewer block accesses than this between two polls say nothing about the cache.
const MIN_BLOCKS_FOR_RATIO: i64 = 100;

/// The server's settings and state, and the instance-wide counters of `pg_stat_database`:
/// one row.
pub(super) const SUMMARY_SQL: &str = "/* mastop */ SELECT
    current_setting('server_version') AS version,
    current_setting('server_version_num')::int4 AS version_num,
    current_database()::text AS database,
    pg_is_in_recovery() AS in_recovery,
    extract(epoch FROM clock_timestamp() - pg_postmaster_start_time())::float8 AS uptime_s,
    (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::int8 AS started_us,
    extract(epoch FROM clock_timestamp())::float8 AS server_clock,
    current_setting('max_connections')::int8 AS max_connections,
    current_setting('superuser_reserved_connections')::int8
        + coalesce(current_setting('reserved_connections', true)::int8, 0) AS reserved,
    CASE WHEN pg_is_in_recovery() THEN
        CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
             ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
    END AS lag_s,
    CASE WHEN pg_is_in_recovery() THEN
        pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8
    END AS replay_backlog_bytes,
    CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
    CASE WHEN pg_is_in_recovery() THEN (SELECT status FROM pg_stat_wal_receiver LIMIT 1) END AS receiver,
    d.*
FROM (SELECT
    coalesce(sum(xact_commit), 0)::int8 AS xact_commit,
    coalesce(sum(xact_rollback), 0)::int8 AS xact_rollback,
    coalesce(sum(blks_hit), 0)::int8 AS blks_hit,
    coalesce(sum(blks_read), 0)::int8 AS blks_read,
    coalesce(sum(deadlocks), 0)::int8 AS deadlocks,
    coalesce(sum(temp_files), 0)::int8 AS temp_files,
    coalesce(sum(temp_bytes), 0)::int8 AS temp_bytes
    FROM pg_stat_database) d";

/// Counters from the previous poll, for rates and per-interval ratios.
#[derive(Clone, Copy, Debug)]
pub(super) struct Counters {
    pub server_clock: f64,
    pub xacts: i64,
    pub blks_hit: i64,
    pub blks_read: i64,
    pub deadlocks: i64,
    pub rollbacks: i64,
    pub temp_files: i64,
    pub temp_bytes: i64,
}

/// The reading from the summary row and the session counts of the backend array.
pub(super) fn build_reading(
    server: &Row,
    total: i64,
    sessions: Sessions,
    size: Option<i64>,
) -> Result<PostgresReading, Failure> {
    const SERVER: &str = "read server settings";
    const STATS: &str = "read pg_stat_database";
    let stats = server;
    let in_recovery: bool = col(server, SERVER, "in_recovery")?;
    let max_connections: i64 = col(server, SERVER, "max_connections")?;
    let reserved: i64 = col(server, SERVER, "reserved")?;
    let replica = if in_recovery {
        Some(ReplicaStatus {
            lag_s: col(server, SERVER, "lag_s")?,
            replay_backlog_bytes: col(server, SERVER, "replay_backlog_bytes")?,
            replay_paused: col(server, SERVER, "replay_paused")?,
            receiver: col(server, SERVER, "receiver")?,
        })
    } else {
        None
    };
    let blks_hit: i64 = col(stats, STATS, "blks_hit")?;
    let blks_read: i64 = col(stats, STATS, "blks_read")?;
    Ok(PostgresReading {
        server: ServerInfo {
            version: col(server, SERVER, "version")?,
            version_num: col(server, SERVER, "version_num")?,
            database: col(server, SERVER, "database")?,
            in_recovery,
            uptime_s: col::<Option<f64>>(server, SERVER, "uptime_s")?.unwrap_or(0.0),
        },
        connections: Connections {
            total,
            max_connections,
            reserved,
            used_pct: used_pct(total, max_connections, reserved),
        },
        sessions,
        database: DatabaseStats {
            size_bytes: size,
            xact_commit: col(stats, STATS, "xact_commit")?,
            xact_rollback: col(stats, STATS, "xact_rollback")?,
            blks_hit,
            blks_read,
            deadlocks: col(stats, STATS, "deadlocks")?,
            temp_files: col(stats, STATS, "temp_files")?,
            temp_bytes: col(stats, STATS, "temp_bytes")?,
            cache_hit_pct: hit_pct(blks_hit, blks_read, 1),
            xact_per_sec: None,
            deadlocks_since_last_poll: 0,
            rollback_pct: None,
            temp_files_since_last_poll: 0,
            temp_bytes_per_sec: None,
            growth_bytes_per_sec: None,
        },
        replica,
        views: Default::default(),
    })
}

fn hit_pct(hit: i64, read: i64, min_accesses: i64) -> Option<f64> {
    let accesses = hit.saturating_add(read);
    (accesses >= min_accesses.max(1)).then(|| hit as f64 * 100.0 / accesses as f64)
}

/// Rates and per-interval ratios against the previous poll. A counter that went backwards
/// means the statistics were reset: no rate this time.
pub(super) fn apply_deltas(db: &mut DatabaseStats, previous: Option<&Counters>, now: &Counters) {
    let Some(prev) = previous else { return };
    let dt = now.server_clock - prev.server_clock;
    let dx = now.xacts - prev.xacts;
    if dt > 0.0 && dx >= 0 {
        db.xact_per_sec = Some(dx as f64 / dt);
    }
    let (dh, dr) = (now.blks_hit - prev.blks_hit, now.blks_read - prev.blks_read);
    if dh >= 0 && dr >= 0 && dh + dr >= MIN_BLOCKS_FOR_RATIO {
        db.cache_hit_pct = hit_pct(dh, dr, MIN_BLOCKS_FOR_RATIO);
    }
    db.deadlocks_since_last_poll = (now.deadlocks - prev.deadlocks).max(0);
    let dr = now.rollbacks - prev.rollbacks;
    if dx > 0 && dr >= 0 {
        db.rollback_pct = Some(dr as f64 * 100.0 / dx as f64);
    }
    db.temp_files_since_last_poll = (now.temp_files - prev.temp_files).max(0);
    let dtb = now.temp_bytes - prev.temp_bytes;
    if dt > 0.0 && dtb >= 0 {
        db.temp_bytes_per_sec = Some(dtb as f64 / dt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> DatabaseStats {
        DatabaseStats {
            cache_hit_pct: Some(99.0),
            ..DatabaseStats::default()
        }
    }

    #[test]
    fn deltas_give_rates_and_interval_hit_ratio() {
        let prev = Counters {
            server_clock: 100.0,
            xacts: 1000,
            blks_hit: 10_000,
            blks_read: 100,
            deadlocks: 1,
            rollbacks: 10,
            temp_files: 0,
            temp_bytes: 0,
        };
        let now = Counters {
            server_clock: 102.0,
            xacts: 1100,
            blks_hit: 10_900,
            blks_read: 200,
            deadlocks: 3,
            rollbacks: 20,
            temp_files: 2,
            temp_bytes: 2048,
        };
        let mut db = stats();
        apply_deltas(&mut db, Some(&prev), &now);
        assert_eq!(db.xact_per_sec, Some(50.0));
        assert_eq!(db.cache_hit_pct, Some(90.0));
        assert_eq!(db.deadlocks_since_last_poll, 2);
        assert_eq!(db.rollback_pct, Some(10.0));
        assert_eq!(db.temp_files_since_last_poll, 2);
        assert_eq!(db.temp_bytes_per_sec, Some(1024.0));
    }

    #[test]
    fn a_stats_reset_or_a_quiet_interval_keeps_the_cumulative_ratio() {
        let prev = Counters {
            server_clock: 100.0,
            xacts: 1000,
            blks_hit: 10_000,
            blks_read: 100,
            deadlocks: 5,
            rollbacks: 0,
            temp_files: 0,
            temp_bytes: 0,
        };
        let reset = Counters {
            server_clock: 102.0,
            xacts: 3,
            blks_hit: 10,
            blks_read: 1,
            deadlocks: 0,
            rollbacks: 0,
            temp_files: 0,
            temp_bytes: 0,
        };
        let mut db = stats();
        apply_deltas(&mut db, Some(&prev), &reset);
        assert_eq!(db.xact_per_sec, None);
        assert_eq!(db.cache_hit_pct, Some(99.0));
        assert_eq!(db.deadlocks_since_last_poll, 0);
        let quiet = Counters {
            blks_hit: 10_010,
            ..prev
        };
        let mut db = stats();
        apply_deltas(&mut db, Some(&prev), &quiet);
        assert_eq!(db.cache_hit_pct, Some(99.0));
    }
}
