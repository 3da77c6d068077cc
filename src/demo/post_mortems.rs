//! The demo's share of the failures from public post-mortems that the Mastodon checks
//! name (see README "Checks from real incidents"): each builder bends one reading during
//! its window in [`script::at`], and leaves it as a calm fleet would have it otherwise.

use crate::config::{BackupLimits, HostConfig, SlotWalLimits};
use crate::sources::host::checks::HostChecks;
use crate::sources::host::drift::Drift;
use crate::sources::host::mastodon::Exposed;
use crate::sources::postgres::Slot;
use crate::sources::postgres::archiver::Archiver;
use crate::sources::postgres::backups::{BackupSet, Backups, Stanza};
use crate::sources::postgres::wal_space::{WalFilesystem, WalSpace};
use crate::sources::redis::RedisReading;
use crate::sources::redis::known::KnownPeers;
use crate::sources::sidekiq::SidekiqReading;

use super::script;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const DAY: f64 = 86_400.0;
/// pg_wal has a volume of its own on db-1; this is what is free beside the slot's WAL.
const WAL_FS_FREE: f64 = 16.0 * GIB;
const WAL_FS_TOTAL: f64 = 64.0 * GIB;
/// The attacker's host in the Redis hijack (a documentation address).
pub const HIJACK_MASTER: &str = "203.0.113.66";

/// `pg_stat_archiver` on the primary: archiving keeps up, until the archive volume is full
/// and `archive_command` fails on every segment.
pub fn archiver(s: f64, wal_counter: i64) -> Archiver {
    let failing = script::archive_command_failing(s);
    let since_fail = s - script::archive_full_at();
    Archiver {
        archive_mode: "on".into(),
        archived_count: wal_counter,
        failed_count: 40 + since_fail.clamp(0.0, 30.0) as i64,
        failed_since_last: Some(if failing { 1 } else { 0 }),
        last_archived_wal: Some(format!("00000001000021A4{:08X}", wal_counter % 256)),
        last_archived_age_s: Some(if failing { since_fail + 20.0 } else { 20.0 }),
        last_failed_wal: Some(format!("00000001000021A4{:08X}", (wal_counter + 1) % 256)),
        last_failed_age_s: Some(if failing { 5.0 } else { 6.0 * DAY }),
        error: None,
    }
}

/// The slot a decommissioned analytics replica left behind, retaining WAL from the
/// moment it is noticed until it is dropped.
pub fn forgotten_slot(s: f64) -> Option<Slot> {
    let retained = script::forgotten_slot_share(s)? * WAL_FS_FREE;
    Some(Slot {
        name: "analytics_replica".into(),
        slot_type: "physical".into(),
        database: String::new(),
        active: false,
        wal_status: Some("extended".into()),
        safe_wal_size: None,
        retained_bytes: Some(retained.round()),
        xmin_age: None,
        catalog_xmin_age: None,
    })
}

pub fn wal_space() -> WalSpace {
    WalSpace {
        host: "db-1".into(),
        filesystem: Some(WalFilesystem {
            wal_path: "/var/lib/postgresql/16/main/pg_wal".into(),
            mount: "/var/lib/postgresql/16/main/pg_wal".into(),
            total_bytes: WAL_FS_TOTAL,
            free_bytes: WAL_FS_FREE,
        }),
        error: None,
        limits: SlotWalLimits::default(),
    }
}

/// pgBackRest's label time for a backup that stopped at `unix`: `20260308-010002`.
fn label_time(unix: f64) -> String {
    let text = crate::calendar::rfc3339(unix);
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    format!(
        "{}-{}",
        digits.get(..8).unwrap_or(""),
        digits.get(8..14).unwrap_or("")
    )
}

/// pgBackRest on the backup host: last week's full, and the nightly incremental whose
/// run failed until it is rerun by hand. Labels follow the demo's clock (`wall` is now).
pub fn backups(s: f64, wall: f64) -> Backups {
    let any_age = script::backup_age(s);
    let full_age = 5.2 * DAY + s;
    let full = format!("{}F", label_time(wall - full_age));
    Backups {
        host: "db-2".into(),
        stanza_name: "main".into(),
        stanza: Some(Stanza {
            name: "main".into(),
            status_code: 0,
            status_message: "ok".into(),
            running: script::replay_starved(s),
            last_full: Some(BackupSet {
                label: full.clone(),
                kind: "full".into(),
                age_s: full_age,
                page_errors: false,
            }),
            last_any: Some(BackupSet {
                label: format!("{full}_{}I", label_time(wall - any_age)),
                kind: "incr".into(),
                age_s: any_age,
                page_errors: false,
            }),
            count: 9,
        }),
        error: None,
        limits: BackupLimits::default(),
    }
}

/// What the demo's config would tell redis/main about its neighbours: the fleet's hosts,
/// and that Sidekiq keeps its jobs there.
pub fn known_peers() -> KnownPeers {
    KnownPeers {
        endpoints: vec![("redis-1.hachyderm.internal".into(), 6379)],
        hosts: super::hosts::MACHINES
            .iter()
            .flat_map(|m| [m.name.to_string(), format!("{}.hachyderm.internal", m.name)])
            .collect(),
        used_by_sidekiq: true,
    }
}

/// redis/main as the attacker leaves it: a replica of their host.
pub fn hijack(r: &mut RedisReading, s: f64) {
    if !script::redis_hijacked(s) {
        return;
    }
    r.role = "slave".into();
    r.replication.master_host = Some(HIJACK_MASTER.into());
    r.replication.master_port = Some(6379);
    r.replication.master_link_status = Some("up".into());
    r.replication.master_last_io_s = Some(1);
}

/// redis/main with its snapshot directory full: `BGSAVE` fails and, with the default
/// `stop-writes-on-bgsave-error`, every write is refused (`MISCONF`).
pub fn rdb_failing(r: &mut RedisReading, s: f64) {
    if script::rdb_failing(s) {
        r.persistence.rdb_last_bgsave_status = "err".into();
    }
}

/// redis/main's eviction policy after a config push copied the cache's.
pub fn eviction_policy(s: f64) -> Option<&'static str> {
    script::redis_policy_wrong(s).then_some("allkeys-lru")
}

/// The hosts the Sidekiq role check compares processes with.
fn sidekiq_hosts() -> Vec<HostConfig> {
    let host = |name: &str, role: &str| {
        let mut h = HostConfig::new(name, format!("{name}.hachyderm.internal"));
        h.roles = vec![role.to_string()];
        h
    };
    vec![
        host("sidekiq-1", "mastodon-sidekiq"),
        host("sidekiq-2", "mastodon-sidekiq"),
        host("fremont-1", "edge-cdn"),
    ]
}

/// Sidekiq: `scheduler` added to a second process by a hand rebalance, `default` left at
/// weight 0 with a `DB_POOL` below the threads, and a CDN node that started Sidekiq after
/// a bad Ansible run.
pub fn sidekiq(r: &mut SidekiqReading, s: f64) {
    if script::scheduler_doubled(s)
        && let Some(p) = r
            .process_list
            .iter_mut()
            .find(|p| p.hostname == "sidekiq-2")
    {
        p.queues.push("scheduler".into());
        p.weights.push(("scheduler".into(), 1));
    }
    if script::weights_broken(s)
        && let Some(p) = r
            .process_list
            .iter_mut()
            .find(|p| p.queues.iter().any(|q| q == "ingress"))
    {
        p.queues.push("default".into());
        p.weights = vec![("ingress".into(), 5), ("default".into(), 0)];
        p.db_pool = Some(5);
    }
    if script::cdn_sidekiq(s)
        && let Some(mut p) = r.process_list.first().cloned()
    {
        p.hostname = "fremont-1".into();
        p.pid = 3311;
        p.identity = "fremont-1:3311:9d2e4b7a10c5".into();
        p.busy = 2;
        r.process_list.push(p);
        r.processes = r.process_list.len() as u64;
    }
    r.misplaced = crate::sources::sidekiq::coverage::off_role(r, &sidekiq_hosts());
}

/// The Mastodon checks of one demo host: the Redis port bound to every address (harmless
/// behind nftables, open when it is down), a deploy that stopped half-way, and a typo in
/// web-1's `.env.production`.
pub fn host_checks(name: &str, s: f64) -> HostChecks {
    let mut checks = HostChecks::default();
    if name == "redis-1" && script::nftables_down(s) {
        checks.exposed = Some(vec![Exposed {
            service: "Redis".into(),
            address: "0.0.0.0:6379".into(),
        }]);
    }
    if script::deploy_half_done(s) && matches!(name, "web-1" | "web-2") {
        let (mine, other) = if name == "web-1" {
            ("4.5.3", "web-2")
        } else {
            ("4.5.2", "web-1")
        };
        checks.mastodon_version = Some(mine.into());
        checks.mastodon_revision = Some(if name == "web-1" {
            "8c3f1a07d2e9".into()
        } else {
            "5b1e2c9a40d7".into()
        });
        checks.env_keys = 58;
        // With two hosts in the group neither version is the majority: each is flagged.
        checks.drift = Some(vec![Drift {
            what: "deploy".into(),
            subject: crate::sources::host::drift::deploy_text(
                &checks.mastodon_version,
                &checks.mastodon_revision,
            ),
            others: vec![other.into()],
        }]);
    }
    if name == "streaming-1" && script::namespace_left(s) {
        checks.mastodon_version = Some("4.5.0".into());
        checks.env_keys = 31;
        checks.redis_namespace_refused = true;
    }
    if script::env_typo(s) {
        let differs = |subject: &str, others: &[&str]| Drift {
            what: "env".into(),
            subject: subject.into(),
            others: others.iter().map(|o| o.to_string()).collect(),
        };
        let other = match name {
            "web-1" => "web-2",
            "web-2" => "web-1",
            _ => return checks,
        };
        checks.mastodon_version = Some("4.5.2".into());
        checks.mastodon_revision = Some("5b1e2c9a40d7".into());
        checks.env_keys = 58;
        checks.drift = Some(vec![differs("S3_ENABLED", &[other])]);
    }
    checks
}

#[cfg(test)]
mod tests {

    #[test]
    fn backup_labels_follow_the_demo_clock() {
        assert_eq!(super::label_time(1_773_165_600.0), "20260310-180000");
        let b = super::backups(0.0, 1_800_000_000.0);
        let full = b.stanza.and_then(|s| s.last_full).expect("a full backup");
        // 5.2 days before 2027-01-15T08:00:00Z.
        assert_eq!(full.label, "20270110-031200F");
    }
    use std::time::{Duration, SystemTime};

    use super::super::clock::Anchor;
    use super::super::hosts::MACHINES;
    use super::super::stores::{self, PgRole, RedisRole};
    use super::*;
    use crate::model::{Level, Reading};

    /// Every finding the demo fleet shows at script second `s`, as (component, level, text).
    fn findings(s: f64) -> Vec<(String, Level, String)> {
        let t = Duration::from_secs_f64(s);
        let anchor = Anchor::new(
            Duration::ZERO,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        );
        let mut readings: Vec<(String, Box<dyn Reading>)> = vec![
            (
                "postgres/primary".into(),
                Box::new(stores::postgres(PgRole::Primary, t, s, anchor)),
            ),
            (
                "redis/main".into(),
                Box::new(stores::redis(RedisRole::Main, t, s)),
            ),
            (
                "sidekiq/main".into(),
                Box::new(super::super::sidekiq::reading(t, s, anchor)),
            ),
        ];
        for m in &MACHINES {
            readings.push((
                format!("host/{}", m.name),
                Box::new(super::super::hosts::reading(m, t, s)),
            ));
        }
        readings
            .into_iter()
            .flat_map(|(who, r)| {
                r.findings()
                    .into_iter()
                    .map(move |f| (who.clone(), f.level, f.message))
            })
            .collect()
    }

    fn shows(s: f64, who: &str, level: Level, text: &str) -> bool {
        findings(s)
            .iter()
            .any(|(w, l, m)| w == who && *l == level && m.contains(text))
    }

    #[test]
    fn each_post_mortem_incident_shows_in_its_window_and_not_before() {
        let cases: &[(f64, &str, Level, &str)] = &[
            (
                310.0,
                "postgres/primary",
                Level::Crit,
                "WAL archiving is failing",
            ),
            (
                420.0,
                "postgres/primary",
                Level::Warn,
                "inactive replication slot analytics_replica",
            ),
            (
                460.0,
                "postgres/primary",
                Level::Crit,
                "inactive replication slot analytics_replica",
            ),
            (
                500.0,
                "postgres/primary",
                Level::Warn,
                "no backup of stanza main",
            ),
            (480.0, "sidekiq/main", Level::Warn, "scheduler"),
            (
                515.0,
                "sidekiq/main",
                Level::Crit,
                "fremont-1 whose roles are edge-cdn",
            ),
            (
                500.0,
                "host/redis-1",
                Level::Crit,
                "Redis listens on 0.0.0.0:6379",
            ),
            (520.0, "redis/main", Level::Crit, HIJACK_MASTER),
            (570.0, "redis/main", Level::Warn, "allkeys-lru"),
            (570.0, "host/web-1", Level::Warn, "S3_ENABLED"),
            (350.0, "host/web-2", Level::Warn, "a half-finished deploy"),
            (
                550.0,
                "sidekiq/main",
                Level::Warn,
                "serves default at weight 0",
            ),
            (
                550.0,
                "sidekiq/main",
                Level::Warn,
                "on a database pool of 5",
            ),
            (
                430.0,
                "host/streaming-1",
                Level::Crit,
                "REDIS_NAMESPACE is set",
            ),
            (450.0, "redis/main", Level::Crit, "last RDB save failed"),
        ];
        for &(s, who, level, text) in cases {
            assert!(
                shows(s, who, level, text),
                "{who} should show {level:?} `{text}` at {s}s: {:?}",
                findings(s)
                    .into_iter()
                    .filter(|f| f.0 == who)
                    .collect::<Vec<_>>()
            );
            assert!(
                !findings(240.0)
                    .iter()
                    .any(|(w, _, m)| w == who && m.contains(text)),
                "{who} shows `{text}` at 240s, outside its window"
            );
        }
    }
}
