//! The incident script: what goes wrong in the demo fleet, when, and how it is fixed.
//!
//! Each incident is modelled on something Hachyderm lived through (link-preview fan-out
//! on `pull`, a WAL archive filling a database disk, a certificate that never reached one
//! edge, nftables not returning after a reboot). Functions here give the *shape* of each
//! incident at script second `s` (see [`super::clock::script_secs`]); the builders add
//! the everyday noise on top.

use std::time::Duration;

use super::clock;

/// Script seconds at which things happen. Crossing times that follow from a curve are
/// derived in [`timeline`] rather than written twice.
pub mod at {
    /// How long the pull backlog had been growing when the demo starts.
    pub const PULL_BACKLOG_HEAD_START: f64 = 50.0;
    /// Extra pull processes start; the backlog begins to drain.
    pub const PULL_SCALED: f64 = 270.0;
    /// The extra pull processes are stopped again.
    pub const PULL_UNSCALED: f64 = 480.0;
    /// pgBackRest starts the weekly full backup from the replica; its reads starve replay.
    pub const REPLAY_STARVED: f64 = 15.0;
    /// The backup is throttled and replay gets the disk back.
    pub const REPLAY_RESUMED: f64 = 375.0;
    /// `pg_archivecleanup` is run by hand on db-1.
    pub const ARCHIVE_CLEANED: f64 = 330.0;
    /// The renewed certificate is copied to tokyo-1 and nginx reloaded.
    pub const TOKYO_CERT_DEPLOYED: f64 = 300.0;
    /// redis-1 reboots for a kernel update; nftables does not come back.
    pub const REDIS_HOST_REBOOT: f64 = 480.0;
    /// nftables is started by hand.
    pub const NFTABLES_RESTORED: f64 = 540.0;
    /// An Elasticsearch node restarts; its replicas go unassigned.
    pub const ES_NODE_LEFT: f64 = 495.0;
    /// The node rejoins and shards start recovering.
    pub const ES_NODE_BACK: f64 = 555.0;
    /// Recovery finished, cluster green.
    pub const ES_GREEN: f64 = 575.0;
    /// The slot a decommissioned analytics replica left on db-1 is noticed retaining WAL.
    pub const SLOT_NOTICED: f64 = 380.0;
    /// `pg_drop_replication_slot('analytics_replica')`.
    pub const SLOT_DROPPED: f64 = 470.0;
    /// Last night's incremental backup failed; it becomes two days since the last backup.
    pub const BACKUP_OVERDUE: f64 = 400.0;
    /// The incremental is rerun by hand and finishes.
    pub const BACKUP_RERUN: f64 = 585.0;
    /// A hand rebalance adds `scheduler` to a process on sidekiq-2.
    pub const SCHEDULER_DOUBLED: f64 = 470.0;
    pub const SCHEDULER_FIXED: f64 = 500.0;
    /// A bad Ansible run starts Sidekiq on the CDN node fremont-1.
    pub const CDN_SIDEKIQ: f64 = 500.0;
    pub const CDN_SIDEKIQ_STOPPED: f64 = 530.0;
    /// With nftables down, someone on the internet makes redis/main a replica of their host;
    /// `REPLICAOF NO ONE` comes with nftables at [`NFTABLES_RESTORED`].
    pub const REDIS_HIJACKED: f64 = 510.0;
    /// A hand edit sets `S3_ENABLED=FALSE` in web-1's `.env.production`.
    pub const ENV_TYPO: f64 = 545.0;
    pub const ENV_FIXED: f64 = 595.0;
    /// A config push copies the cache's `maxmemory-policy` to redis/main.
    pub const REDIS_POLICY_WRONG: f64 = 560.0;
    pub const REDIS_POLICY_FIXED: f64 = 590.0;
    /// A deploy of 4.5.3 stops after web-1: web-2 still runs 4.5.2.
    pub const DEPLOY_HALF_DONE: f64 = 330.0;
    pub const DEPLOY_FINISHED: f64 = 370.0;
    /// A hand rebalance leaves `default` at weight 0 next to `ingress` on sidekiq-1, and a
    /// `DB_POOL` typo gives the ingress process a pool of 5 for 20 threads.
    pub const WEIGHTS_BROKEN: f64 = 540.0;
    pub const WEIGHTS_FIXED: f64 = 575.0;
    /// streaming-1 is upgraded to 4.5 with `REDIS_NAMESPACE` still in `.env.production`.
    pub const NAMESPACE_LEFT: f64 = 420.0;
    pub const NAMESPACE_REMOVED: f64 = 460.0;
    /// redis-1's RDB directory fills: `BGSAVE` fails and Redis refuses writes (`MISCONF`).
    pub const RDB_FAILING: f64 = 440.0;
    pub const RDB_FIXED: f64 = 470.0;
}

/// The WAL archive volume's level at which `archive_command` can no longer write.
const ARCHIVE_FULL_PCT: f64 = 95.0;
/// The forgotten slot's WAL as a share of the free space when noticed, and when dropped.
const SLOT_SHARE_NOTICED: f64 = 0.3;
const SLOT_SHARE_DROPPED: f64 = 0.9;
const DAY_S: f64 = 86_400.0;

/// How fast the oldest pull job's age falls once extra processes run (seconds per second).
const PULL_DRAIN_RATE: f64 = 1.6;
/// Normal pull latency: link crawls and remote fetches are a few seconds behind at most.
const PULL_QUIET_LATENCY: f64 = 1.5;
/// How fast the replica falls behind while starved (seconds of lag per second): replay
/// still runs, at three quarters of the primary's pace.
const REPLICA_FALLBACK_RATE: f64 = 0.25;
/// How fast it catches up once replay has the disk again.
const REPLICA_CATCHUP_RATE: f64 = 3.0;
/// The WAL archive volume's level when the demo starts, and how fast the write burst fills it.
const ARCHIVE_START_PCT: f64 = 83.0;
const ARCHIVE_FILL_PCT_PER_S: f64 = 0.04;
const ARCHIVE_AFTER_CLEANUP_PCT: f64 = 38.0;
/// Days left on tokyo-1's stale certificate at demo second zero.
const TOKYO_DAYS_LEFT_AT_START: f64 = 15.5;
/// Days left on the certificate the rest of the fleet already serves.
const FLEET_DAYS_LEFT_AT_START: f64 = 75.0;

/// Age of the oldest job in `pull`, before noise.
pub fn pull_latency(s: f64) -> f64 {
    let peak = at::PULL_BACKLOG_HEAD_START + at::PULL_SCALED;
    if s < at::PULL_SCALED {
        // Nothing from the backlog gets done, so the oldest job ages with the clock.
        at::PULL_BACKLOG_HEAD_START + s
    } else {
        (peak - PULL_DRAIN_RATE * (s - at::PULL_SCALED)).max(PULL_QUIET_LATENCY)
    }
}

/// Script second at which the pull backlog is fully worked off.
pub fn pull_backlog_ends() -> f64 {
    let peak = at::PULL_BACKLOG_HEAD_START + at::PULL_SCALED;
    at::PULL_SCALED + (peak - PULL_QUIET_LATENCY) / PULL_DRAIN_RATE
}

/// Whether the pull backlog is still being worked off (latency above its quiet level).
pub fn pull_backlogged(s: f64) -> bool {
    pull_latency(s) > PULL_QUIET_LATENCY
}

/// Whether the two extra pull processes on sidekiq-2 are running.
pub fn pull_scaled(s: f64) -> bool {
    (at::PULL_SCALED..at::PULL_UNSCALED).contains(&s)
}

/// Seconds since the replica last replayed a transaction, before noise; `None` when
/// replay is keeping up (the builder supplies the everyday sub-second lag).
pub fn replica_lag(s: f64) -> Option<f64> {
    if s < at::REPLAY_STARVED {
        return None;
    }
    let peak = replica_peak_lag();
    if s < at::REPLAY_RESUMED {
        return Some(peak * (s - at::REPLAY_STARVED) / (at::REPLAY_RESUMED - at::REPLAY_STARVED));
    }
    let lag = peak - REPLICA_CATCHUP_RATE * (s - at::REPLAY_RESUMED);
    (lag > 0.5).then_some(lag)
}

fn replica_peak_lag() -> f64 {
    REPLICA_FALLBACK_RATE * (at::REPLAY_RESUMED - at::REPLAY_STARVED)
}

/// Whether the backup on the replica is starving replay of disk bandwidth.
pub fn replay_starved(s: f64) -> bool {
    (at::REPLAY_STARVED..at::REPLAY_RESUMED).contains(&s)
}

/// Used % of db-1's WAL archive volume.
pub fn wal_archive_used_pct(s: f64) -> f64 {
    let filled = ARCHIVE_START_PCT + ARCHIVE_FILL_PCT_PER_S * s.min(at::ARCHIVE_CLEANED);
    if s < at::ARCHIVE_CLEANED {
        return filled;
    }
    // Deleting a few hundred thousand segment files takes a little while.
    let progress = smoothstep((s - at::ARCHIVE_CLEANED) / 20.0);
    let settled = ARCHIVE_AFTER_CLEANUP_PCT + 0.004 * (s - at::ARCHIVE_CLEANED);
    filled + (settled - filled) * progress
}

/// Script second at which the WAL archive reaches `pct` while filling.
fn archive_reaches(pct: f64) -> f64 {
    (pct - ARCHIVE_START_PCT) / ARCHIVE_FILL_PCT_PER_S
}

/// Script second at which the archive volume is full and archiving starts failing.
pub fn archive_full_at() -> f64 {
    archive_reaches(ARCHIVE_FULL_PCT)
}

/// Whether `archive_command` fails: the archive volume is full until it is cleaned.
pub fn archive_command_failing(s: f64) -> bool {
    (archive_full_at()..at::ARCHIVE_CLEANED).contains(&s)
}

/// The forgotten slot's retained WAL as a share of pg_wal's free space, while it exists.
pub fn forgotten_slot_share(s: f64) -> Option<f64> {
    (at::SLOT_NOTICED..at::SLOT_DROPPED).contains(&s).then(|| {
        let x = (s - at::SLOT_NOTICED) / (at::SLOT_DROPPED - at::SLOT_NOTICED);
        SLOT_SHARE_NOTICED + (SLOT_SHARE_DROPPED - SLOT_SHARE_NOTICED) * x
    })
}

/// Script second at which the forgotten slot holds `share` of the free space.
fn slot_reaches(share: f64) -> f64 {
    at::SLOT_NOTICED
        + (share - SLOT_SHARE_NOTICED) / (SLOT_SHARE_DROPPED - SLOT_SHARE_NOTICED)
            * (at::SLOT_DROPPED - at::SLOT_NOTICED)
}

/// Age of the newest backup: two days at [`at::BACKUP_OVERDUE`], a minute after the rerun.
pub fn backup_age(s: f64) -> f64 {
    if s >= at::BACKUP_RERUN {
        60.0 + (s - at::BACKUP_RERUN)
    } else {
        2.0 * DAY_S + (s - at::BACKUP_OVERDUE)
    }
}

pub fn scheduler_doubled(s: f64) -> bool {
    (at::SCHEDULER_DOUBLED..at::SCHEDULER_FIXED).contains(&s)
}

pub fn cdn_sidekiq(s: f64) -> bool {
    (at::CDN_SIDEKIQ..at::CDN_SIDEKIQ_STOPPED).contains(&s)
}

pub fn redis_hijacked(s: f64) -> bool {
    (at::REDIS_HIJACKED..at::NFTABLES_RESTORED).contains(&s)
}

pub fn env_typo(s: f64) -> bool {
    (at::ENV_TYPO..at::ENV_FIXED).contains(&s)
}

pub fn deploy_half_done(s: f64) -> bool {
    (at::DEPLOY_HALF_DONE..at::DEPLOY_FINISHED).contains(&s)
}

pub fn weights_broken(s: f64) -> bool {
    (at::WEIGHTS_BROKEN..at::WEIGHTS_FIXED).contains(&s)
}

pub fn namespace_left(s: f64) -> bool {
    (at::NAMESPACE_LEFT..at::NAMESPACE_REMOVED).contains(&s)
}

pub fn rdb_failing(s: f64) -> bool {
    (at::RDB_FAILING..at::RDB_FIXED).contains(&s)
}

pub fn redis_policy_wrong(s: f64) -> bool {
    (at::REDIS_POLICY_WRONG..at::REDIS_POLICY_FIXED).contains(&s)
}

/// Whether the write burst that fills the archive is on (it rides on the pull storm).
pub fn write_burst(s: f64) -> bool {
    s < at::ARCHIVE_CLEANED
}

/// Days a certificate has aged at `s`, by the fast calendar.
fn aged_days(s: f64) -> f64 {
    s * clock::CALENDAR_SPEED / 86_400.0
}

/// Days left at `s` on the certificate the fleet already serves.
pub fn fleet_cert_days_left(s: f64) -> f64 {
    FLEET_DAYS_LEFT_AT_START - aged_days(s)
}

/// Days left at `s` on the certificate tokyo-1 serves: the stale one until the renewed one
/// is deployed.
pub fn tokyo_cert_days_left(s: f64) -> f64 {
    if s < at::TOKYO_CERT_DEPLOYED {
        TOKYO_DAYS_LEFT_AT_START - aged_days(s)
    } else {
        fleet_cert_days_left(s)
    }
}

/// Script second at which tokyo's stale certificate has `days` left.
fn tokyo_days_left_at(days: f64) -> f64 {
    (TOKYO_DAYS_LEFT_AT_START - days) * 86_400.0 / clock::CALENDAR_SPEED
}

/// Seconds since redis-1 booted, if it rebooted during this cycle.
pub fn redis_host_uptime(s: f64) -> Option<f64> {
    (s >= at::REDIS_HOST_REBOOT).then_some(s - at::REDIS_HOST_REBOOT)
}

/// Whether nftables is down on redis-1.
pub fn nftables_down(s: f64) -> bool {
    (at::REDIS_HOST_REBOOT..at::NFTABLES_RESTORED).contains(&s)
}

/// Elasticsearch's state in the node-restart incident.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SearchPhase {
    Green,
    /// A node is gone; its replica shards are unassigned.
    NodeLeft,
    /// The node is back and replicas are recovering; `progress` runs 0–1.
    Recovering {
        progress: f64,
    },
}

pub fn search_phase(s: f64) -> SearchPhase {
    if (at::ES_NODE_LEFT..at::ES_NODE_BACK).contains(&s) {
        SearchPhase::NodeLeft
    } else if (at::ES_NODE_BACK..at::ES_GREEN).contains(&s) {
        SearchPhase::Recovering {
            progress: (s - at::ES_NODE_BACK) / (at::ES_GREEN - at::ES_NODE_BACK),
        }
    } else {
        SearchPhase::Green
    }
}

/// 0 below 0, 1 above 1, and an S-curve between: transitions that do not jerk.
pub fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// What happens in one cycle of the demo, in order, for the UI to show beside the fleet.
/// `replica_warn_s` and `replica_crit_s` are the replication-lag thresholds in force, so
/// the timeline says when the replica actually changes colour.
pub fn timeline_with(replica_warn_s: f64, replica_crit_s: f64) -> Vec<(Duration, &'static str)> {
    let sidekiq_warn = 60.0 - at::PULL_BACKLOG_HEAD_START;
    let sidekiq_crit = 300.0 - at::PULL_BACKLOG_HEAD_START;
    let peak = at::PULL_BACKLOG_HEAD_START + at::PULL_SCALED;
    let pull_below_warn = at::PULL_SCALED + (peak - 60.0) / PULL_DRAIN_RATE;
    let replica_peak = replica_peak_lag();
    let replica_caught_up = at::REPLAY_RESUMED + replica_peak / REPLICA_CATCHUP_RATE;
    let mut events = vec![
        (
            0.0,
            "A viral post's link preview is being fetched by thousands of servers; the pull \
             queue has been backing up for 50 s",
        ),
        (
            sidekiq_warn,
            "pull queue latency passes 60 s: sidekiq/main WARN",
        ),
        (
            at::REPLAY_STARVED,
            "pgBackRest starts the weekly full backup from the replica; its reads starve WAL \
             replay and replication lag starts climbing",
        ),
        (
            tokyo_days_left_at(14.0),
            "edge/tokyo-1 still serves the old certificate (the renewal never reached it): \
             14 days left, WARN",
        ),
        (
            archive_reaches(85.0),
            "host/db-1 WAL archive volume passes 85% (the pg_archivecleanup cron has been \
             failing): WARN",
        ),
        (
            archive_reaches(90.0),
            "host/db-1 WAL archive volume passes 90%: CRIT",
        ),
        (
            tokyo_days_left_at(7.0),
            "edge/tokyo-1 certificate has under 7 days left: CRIT",
        ),
        (
            sidekiq_crit,
            "pull queue latency passes 5 min: sidekiq/main CRIT",
        ),
        (
            at::PULL_SCALED,
            "Two extra pull processes started on sidekiq-2: the backlog starts draining",
        ),
        (
            at::TOKYO_CERT_DEPLOYED,
            "Renewed certificate copied to tokyo-1 and nginx reloaded: edge/tokyo-1 OK",
        ),
        (
            at::ARCHIVE_CLEANED,
            "pg_archivecleanup run by hand on db-1: the WAL archive volume drops to 38%",
        ),
        (
            at::REPLAY_RESUMED,
            "Backup throttled (process-max 1): the replica replays its backlog",
        ),
        (replica_caught_up, "postgres/replica has caught up"),
        (
            pull_below_warn,
            "pull queue latency back under 60 s: sidekiq/main OK",
        ),
        (
            at::PULL_UNSCALED,
            "Backlog gone; the extra pull processes are stopped",
        ),
        (
            at::REDIS_HOST_REBOOT,
            "host/redis-1 rebooted for a kernel update; nftables did not come back: CRIT",
        ),
        (
            at::REDIS_HOST_REBOOT,
            "redis/main reloads its RDB snapshot; redis/cache starts empty and warms up again",
        ),
        (
            at::ES_NODE_LEFT,
            "Elasticsearch node es-2 restarts: its replica shards are unassigned, cluster yellow",
        ),
        (
            at::NFTABLES_RESTORED,
            "nftables started by hand on redis-1: host/redis-1 OK",
        ),
        (at::ES_NODE_BACK, "es-2 is back: replica shards recovering"),
        (
            archive_full_at(),
            "The WAL archive volume is full: archive_command fails on every segment and \
             postgres/primary goes CRIT (WAL archiving is failing)",
        ),
        (
            at::SLOT_NOTICED,
            "postgres/primary: the slot analytics_replica, left by a decommissioned replica, \
             retains WAL on db-1",
        ),
        (
            slot_reaches(0.5),
            "The forgotten slot holds half of pg_wal's free space: postgres/primary WARN",
        ),
        (
            slot_reaches(0.8),
            "The forgotten slot holds 80% of pg_wal's free space: postgres/primary CRIT",
        ),
        (
            at::SLOT_DROPPED,
            "pg_drop_replication_slot('analytics_replica'): the WAL is released",
        ),
        (
            at::BACKUP_OVERDUE,
            "Last night's incremental backup failed: two days since the last backup of stanza \
             main, postgres/primary WARN",
        ),
        (
            at::BACKUP_RERUN,
            "The incremental backup is rerun by hand and finishes",
        ),
        (
            at::SCHEDULER_DOUBLED,
            "A hand rebalance puts the scheduler queue on a second process: sidekiq/main WARN",
        ),
        (at::SCHEDULER_FIXED, "scheduler back on one process"),
        (
            at::CDN_SIDEKIQ,
            "A bad Ansible run starts Sidekiq on the CDN node fremont-1: sidekiq/main CRIT",
        ),
        (at::CDN_SIDEKIQ_STOPPED, "Sidekiq stopped on fremont-1"),
        (
            at::REDIS_HOST_REBOOT,
            "host/redis-1: Redis listens on 0.0.0.0:6379 with no firewall in front (the Redis \
             hijack's opening)",
        ),
        (
            at::REDIS_HIJACKED,
            "Someone on the internet runs REPLICAOF against redis/main: it follows 203.0.113.66, \
             a master in neither the config nor the inventory: CRIT",
        ),
        (
            at::NFTABLES_RESTORED,
            "REPLICAOF NO ONE on redis/main: it is a master again",
        ),
        (
            at::ENV_TYPO,
            "A hand edit sets S3_ENABLED=FALSE in web-1's .env.production: host/web-1 and \
             host/web-2 WARN (config drift)",
        ),
        (
            at::REDIS_POLICY_WRONG,
            "A config push gives redis/main the cache's maxmemory-policy allkeys-lru: \
             Sidekiq's Redis may evict jobs, WARN",
        ),
        (
            at::REDIS_POLICY_FIXED,
            "maxmemory-policy noeviction restored on redis/main",
        ),
        (at::ENV_FIXED, "S3_ENABLED fixed on web-1"),
        (
            at::DEPLOY_HALF_DONE,
            "A deploy of Mastodon 4.5.3 stops after web-1: web-1 and web-2 run different \
             versions (a half-finished deploy), host/web-2 WARN",
        ),
        (at::DEPLOY_FINISHED, "The deploy is finished on web-2"),
        (
            at::NAMESPACE_LEFT,
            "streaming-1 is upgraded to Mastodon 4.5 with REDIS_NAMESPACE still set, which \
             4.5 refuses to boot with: host/streaming-1 CRIT",
        ),
        (
            at::NAMESPACE_REMOVED,
            "REDIS_NAMESPACE removed on streaming-1: host/streaming-1 OK",
        ),
        (
            at::RDB_FAILING,
            "redis-1's snapshot directory fills: BGSAVE fails and redis/main refuses writes \
             (MISCONF): CRIT",
        ),
        (
            at::RDB_FIXED,
            "Space freed on redis-1: BGSAVE succeeds again",
        ),
        (
            at::WEIGHTS_BROKEN,
            "A hand rebalance leaves default at weight 0 beside ingress, and a DB_POOL typo \
             gives that process 5 connections for 20 threads: sidekiq/main WARN",
        ),
        (
            at::WEIGHTS_FIXED,
            "Sidekiq's queue weights and DB_POOL restored: sidekiq/main OK",
        ),
        (at::ES_GREEN, "Elasticsearch green again"),
        (clock::CYCLE.as_secs_f64(), "The script starts over"),
    ];
    if replica_warn_s < replica_peak {
        events.push((
            at::REPLAY_STARVED + replica_warn_s / REPLICA_FALLBACK_RATE,
            "postgres/replica replication lag passes its warning threshold: WARN",
        ));
    }
    if replica_crit_s < replica_peak {
        events.push((
            at::REPLAY_STARVED + replica_crit_s / REPLICA_FALLBACK_RATE,
            "postgres/replica replication lag passes its critical threshold: CRIT",
        ));
    }
    // A stable sort keeps causes listed before the effects that share their second.
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    events
        .into_iter()
        .map(|(s, text)| (secs(s), text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_backlog_grows_with_the_clock_then_drains() {
        assert_eq!(pull_latency(0.0), 50.0);
        assert_eq!(pull_latency(100.0), 150.0);
        assert!(pull_latency(at::PULL_SCALED + 10.0) < pull_latency(at::PULL_SCALED));
        assert_eq!(pull_latency(590.0), PULL_QUIET_LATENCY);
        assert!(!pull_backlogged(590.0));
    }

    #[test]
    fn the_archive_fills_then_is_cleaned() {
        assert!(wal_archive_used_pct(0.0) < 85.0);
        assert!(wal_archive_used_pct(archive_reaches(90.0) + 1.0) > 90.0);
        assert!(wal_archive_used_pct(at::ARCHIVE_CLEANED + 30.0) < 40.0);
    }

    #[test]
    fn tokyo_certificate_crosses_both_thresholds_before_it_is_replaced() {
        let days_left = tokyo_cert_days_left;
        assert!(days_left(0.0) > 14.0);
        assert!(days_left(tokyo_days_left_at(14.0) + 1.0) < 14.0);
        assert!(days_left(tokyo_days_left_at(7.0) + 1.0) < 7.0);
        assert!(tokyo_days_left_at(7.0) < at::TOKYO_CERT_DEPLOYED);
        assert!(
            days_left(at::TOKYO_CERT_DEPLOYED - 1.0) > 0.0,
            "never actually expires"
        );
        assert!(days_left(at::TOKYO_CERT_DEPLOYED) > 30.0);
    }
}
