//! Demo hosts: the core machines in Germany, Debian 12 on dedicated servers. Their
//! baseline is a busy but healthy evening; the script bends a few of them.

use std::time::Duration;

use crate::sources::host::{DiskIo, Filesystem, HostReading, NetInterface, SystemdUnit};

use super::clock;
use super::noise::{around, round, wobble};
use super::script;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Role {
    Web,
    Streaming,
    /// default, ingress, mailers + scheduler.
    SidekiqCore,
    /// push, pull + fasp: where the pull backlog lands.
    SidekiqFederation,
    DbPrimary,
    DbReplica,
    Redis,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Fs {
    pub mount: &'static str,
    pub device: &'static str,
    pub fstype: &'static str,
    pub size_gib: f64,
    pub used_pct: f64,
    pub note: Option<&'static str>,
}

#[derive(Debug, PartialEq)]
pub(crate) struct Machine {
    pub name: &'static str,
    pub tags: &'static [&'static str],
    pub role: Role,
    pub cpus: u32,
    pub memory_gib: f64,
    pub swap_gib: f64,
    pub memory_used_pct: f64,
    pub cpu_busy_pct: f64,
    pub uptime_days: f64,
    pub filesystems: &'static [Fs],
    /// (device, IOPS, busy %) on a quiet evening.
    pub disks: &'static [(&'static str, f64, f64)],
    /// (rx, tx) in MiB/s on the public or vSwitch interface.
    pub network_mib: (f64, f64),
    pub units: &'static [&'static str],
}

const fn root(size_gib: f64, used_pct: f64) -> Fs {
    Fs {
        mount: "/",
        device: "/dev/md2",
        fstype: "ext4",
        size_gib,
        used_pct,
        note: None,
    }
}

const WEB_UNITS: &[&str] = &[
    "nginx.service",
    "mastodon-web.service",
    "nftables.service",
    "tailscaled.service",
    "prometheus-node-exporter.service",
];
const DB_UNITS: &[&str] = &[
    "postgresql@16-main.service",
    "pgbouncer.service",
    "prometheus-postgres-exporter.service",
    "nftables.service",
    "tailscaled.service",
    "prometheus-node-exporter.service",
];
const DB_FILESYSTEMS: &[Fs] = &[
    root(100.0, 34.0),
    Fs {
        mount: "/var/lib/postgresql",
        device: "/dev/nvme1n1",
        fstype: "xfs",
        size_gib: 3576.0,
        used_pct: 63.0,
        note: Some("postgres data + pg_wal"),
    },
];

pub(crate) const MACHINES: [Machine; 8] = [
    Machine {
        name: "web-1",
        tags: &["role-mastodon-web", "provider-hetzner-robot", "env-prod"],
        role: Role::Web,
        cpus: 16,
        memory_gib: 64.0,
        swap_gib: 0.0,
        memory_used_pct: 58.0,
        cpu_busy_pct: 46.0,
        uptime_days: 41.2,
        filesystems: &[root(476.0, 41.0)],
        disks: &[("nvme0n1", 180.0, 6.0)],
        network_mib: (9.0, 26.0),
        units: WEB_UNITS,
    },
    Machine {
        name: "web-2",
        tags: &["role-mastodon-web", "provider-hetzner-robot", "env-prod"],
        role: Role::Web,
        cpus: 16,
        memory_gib: 64.0,
        swap_gib: 0.0,
        memory_used_pct: 55.0,
        cpu_busy_pct: 43.0,
        uptime_days: 41.2,
        filesystems: &[root(476.0, 39.0)],
        disks: &[("nvme0n1", 170.0, 5.0)],
        network_mib: (8.5, 24.0),
        units: WEB_UNITS,
    },
    Machine {
        name: "streaming-1",
        tags: &[
            "role-mastodon-streaming",
            "provider-hetzner-robot",
            "env-prod",
        ],
        role: Role::Streaming,
        cpus: 8,
        memory_gib: 32.0,
        swap_gib: 0.0,
        memory_used_pct: 37.0,
        cpu_busy_pct: 31.0,
        uptime_days: 41.1,
        filesystems: &[root(476.0, 28.0)],
        disks: &[("nvme0n1", 40.0, 2.0)],
        network_mib: (3.0, 12.0),
        units: &[
            "nginx.service",
            "mastodon-streaming@4000.service",
            "mastodon-streaming@4001.service",
            "mastodon-streaming@4002.service",
            "nftables.service",
            "tailscaled.service",
            "prometheus-node-exporter.service",
        ],
    },
    Machine {
        name: "sidekiq-1",
        tags: &[
            "role-mastodon-sidekiq",
            "provider-hetzner-robot",
            "env-prod",
        ],
        role: Role::SidekiqCore,
        cpus: 16,
        memory_gib: 64.0,
        swap_gib: 4.0,
        memory_used_pct: 61.0,
        cpu_busy_pct: 52.0,
        uptime_days: 19.6,
        filesystems: &[root(476.0, 47.0)],
        disks: &[("nvme0n1", 120.0, 4.0)],
        network_mib: (14.0, 11.0),
        units: &[
            "mastodon-sidekiq-default.service",
            "mastodon-sidekiq-ingress.service",
            "mastodon-sidekiq-mailers.service",
            "nftables.service",
            "tailscaled.service",
            "prometheus-node-exporter.service",
        ],
    },
    Machine {
        name: "sidekiq-2",
        tags: &[
            "role-mastodon-sidekiq",
            "provider-hetzner-robot",
            "env-prod",
        ],
        role: Role::SidekiqFederation,
        cpus: 16,
        memory_gib: 64.0,
        swap_gib: 4.0,
        memory_used_pct: 57.0,
        cpu_busy_pct: 48.0,
        uptime_days: 19.6,
        filesystems: &[root(476.0, 44.0)],
        disks: &[("nvme0n1", 110.0, 4.0)],
        network_mib: (22.0, 18.0),
        units: &[
            "mastodon-sidekiq-push.service",
            "mastodon-sidekiq-pull.service",
            "nftables.service",
            "tailscaled.service",
            "prometheus-node-exporter.service",
        ],
    },
    Machine {
        name: "db-1",
        tags: &[
            "role-postgres-primary",
            "provider-hetzner-robot",
            "env-prod",
        ],
        role: Role::DbPrimary,
        cpus: 32,
        memory_gib: 256.0,
        swap_gib: 8.0,
        memory_used_pct: 47.0,
        cpu_busy_pct: 38.0,
        uptime_days: 88.4,
        filesystems: &[
            root(100.0, 34.0),
            Fs {
                mount: "/var/lib/postgresql",
                device: "/dev/nvme1n1",
                fstype: "xfs",
                size_gib: 3576.0,
                used_pct: 63.0,
                note: Some("postgres data + pg_wal"),
            },
            Fs {
                mount: "/var/lib/postgresql/archive",
                device: "/dev/sdb1",
                fstype: "ext4",
                size_gib: 120.0,
                // replaced by the script's curve
                used_pct: 0.0,
                note: Some("WAL archive"),
            },
        ],
        disks: &[("nvme1n1", 5200.0, 41.0), ("sdb", 310.0, 22.0)],
        network_mib: (30.0, 48.0),
        units: DB_UNITS,
    },
    Machine {
        name: "db-2",
        tags: &[
            "role-postgres-replica",
            "provider-hetzner-robot",
            "env-prod",
        ],
        role: Role::DbReplica,
        cpus: 32,
        memory_gib: 256.0,
        swap_gib: 8.0,
        memory_used_pct: 44.0,
        cpu_busy_pct: 17.0,
        uptime_days: 88.4,
        filesystems: DB_FILESYSTEMS,
        disks: &[("nvme1n1", 2100.0, 19.0)],
        network_mib: (24.0, 6.0),
        units: DB_UNITS,
    },
    Machine {
        name: "redis-1",
        tags: &["role-redis", "provider-hetzner-robot", "env-prod"],
        role: Role::Redis,
        cpus: 8,
        memory_gib: 64.0,
        swap_gib: 0.0,
        memory_used_pct: 68.0,
        cpu_busy_pct: 22.0,
        uptime_days: 63.0,
        filesystems: &[
            root(476.0, 22.0),
            Fs {
                mount: "/var/lib/redis",
                device: "/dev/nvme1n1",
                fstype: "ext4",
                size_gib: 476.0,
                used_pct: 36.0,
                note: Some("RDB snapshots"),
            },
        ],
        disks: &[("nvme1n1", 90.0, 7.0)],
        network_mib: (31.0, 34.0),
        units: &[
            "redis-server.service",
            "redis-server@cache.service",
            "nftables.service",
            "tailscaled.service",
            "prometheus-node-exporter.service",
        ],
    },
];

/// Extra CPU % the script puts on a machine at script second `s`.
fn incident_cpu(m: &Machine, s: f64) -> f64 {
    match m.role {
        // All pull threads are stuck on slow remote servers, then two more processes join.
        Role::SidekiqFederation if script::pull_scaled(s) => 34.0,
        Role::SidekiqFederation if script::pull_backlogged(s) => 12.0,
        Role::DbPrimary if script::write_burst(s) => 9.0,
        // pgBackRest compresses the backup with several processes.
        Role::DbReplica if script::replay_starved(s) => 24.0,
        _ => 0.0,
    }
}

fn cpu_at(m: &Machine, t: f64) -> f64 {
    let s = t % clock::CYCLE.as_secs_f64();
    let base = around(&format!("host/{}:cpu", m.name), t, m.cpu_busy_pct, 0.15);
    (base + incident_cpu(m, s)).min(100.0)
}

/// Load follows CPU, with the 5 and 15 minute averages trailing behind an incident.
fn load_at(m: &Machine, t: f64) -> f64 {
    f64::from(m.cpus) * cpu_at(m, t.max(0.0)) / 100.0 * 1.15
}

pub(crate) fn reading(m: &Machine, t: Duration, s: f64) -> HostReading {
    let now = t.as_secs_f64();
    let key = |what: &str| format!("host/{}:{what}", m.name);
    let rebooted = (m.role == Role::Redis)
        .then(|| script::redis_host_uptime(s))
        .flatten();

    let firewall_down = m.role == Role::Redis && script::nftables_down(s);

    let filesystems = m
        .filesystems
        .iter()
        .map(|fs| {
            let used_pct = if fs.note == Some("WAL archive") {
                script::wal_archive_used_pct(s)
            } else {
                fs.used_pct + 0.3 * wobble(&key(fs.mount), now)
            };
            let size_bytes = (fs.size_gib * GIB) as u64;
            let used_pct = round(used_pct, 1);
            Filesystem {
                mount: fs.mount.into(),
                device: fs.device.into(),
                fstype: fs.fstype.into(),
                size_bytes,
                used_bytes: (size_bytes as f64 * used_pct / 100.0) as u64,
                used_pct,
                note: fs.note.map(String::from),
            }
        })
        .collect();

    let disks = m
        .disks
        .iter()
        .map(|&(device, iops, util)| {
            let (iops, util) = match m.role {
                Role::DbPrimary if script::write_burst(s) => (iops * 1.4, util * 1.5),
                // The backup reads the whole data directory: the disk is what replay waits on.
                Role::DbReplica if script::replay_starved(s) => (iops * 3.1, util * 4.6),
                _ => (iops, util),
            };
            DiskIo {
                device: device.into(),
                iops: round(around(&key(device), now, iops, 0.2), 0),
                util_pct: round(around(&key(device), now, util, 0.07).min(100.0), 1),
            }
        })
        .collect();

    let units = m
        .units
        .iter()
        .map(|&name| unit(name, !(name == "nftables.service" && firewall_down)))
        .chain(
            (m.role == Role::SidekiqFederation && script::pull_scaled(s))
                .then_some([
                    unit("mastodon-sidekiq-pull@2.service", true),
                    unit("mastodon-sidekiq-pull@3.service", true),
                ])
                .into_iter()
                .flatten(),
        )
        .collect();

    let (rx, tx) = m.network_mib;
    HostReading {
        hostname: format!("{}.hachyderm.internal", m.name),
        kernel: Some(
            if rebooted.is_some() {
                "6.1.0-32-amd64"
            } else {
                "6.1.0-31-amd64"
            }
            .into(),
        ),
        uptime_s: round(rebooted.unwrap_or(m.uptime_days * 86_400.0 + now), 0),
        cpus: m.cpus,
        load_1: round(load_at(m, now), 2),
        load_5: round((load_at(m, now) + load_at(m, now - 120.0)) / 2.0, 2),
        load_15: round(
            (load_at(m, now) + load_at(m, now - 300.0) + load_at(m, now - 600.0)) / 3.0,
            2,
        ),
        cpu_busy_pct: round(cpu_at(m, now), 1),
        memory_total_bytes: (m.memory_gib * GIB) as u64,
        memory_used_pct: round(around(&key("mem"), now, m.memory_used_pct, 0.03), 1),
        swap_total_bytes: (m.swap_gib * GIB) as u64,
        swap_used_pct: if m.swap_gib > 0.0 {
            round(around(&key("swap"), now, 2.0, 0.3), 1)
        } else {
            0.0
        },
        filesystems,
        disks,
        network: vec![NetInterface {
            name: "enp35s0".into(),
            rx_bytes_per_s: round(around(&key("rx"), now, rx * MIB, 0.25), 0),
            tx_bytes_per_s: round(around(&key("tx"), now, tx * MIB, 0.25), 0),
        }],
        units,
        failed_units: Vec::new(),
        rate_window_s: Some(2.0),
        pressure: None,
        units_unreadable: None,
        skipped_lines: None,
        roles: Vec::new(),
        production: true,
        checks: super::post_mortems::host_checks(m.name, s),
        // A script held at one second (the drill) has no journal to count: its lines
        // follow the running script.
        log_signatures: ((clock::script_secs(t) - s).abs() < 1.0)
            .then(|| super::logs::signature_rates(m.name, t.as_secs() as i64))
            .flatten(),
        log_signatures_unread: None,
    }
}

fn unit(name: &str, running: bool) -> SystemdUnit {
    let (active, sub) = if running {
        // nftables is a oneshot that stays active after loading the rules.
        (
            "active",
            if name == "nftables.service" {
                "exited"
            } else {
                "running"
            },
        )
    } else {
        ("inactive", "dead")
    };
    SystemdUnit {
        name: name.into(),
        load_state: "loaded".into(),
        active_state: active.into(),
        sub_state: sub.into(),
    }
}
