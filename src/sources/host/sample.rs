//! One raw reading of a host's counters, however it was read (the SSH script or
//! node_exporter), and the pure step from two of them to a [`HostReading`]: CPU busy, IOPS,
//! disk busy %, network and pressure are rates, so they need the previous sample.

use std::collections::HashMap;

use super::super::host::{DiskIo, Filesystem, HostReading, NetInterface, Pressure, SystemdUnit};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    pub hostname: String,
    pub kernel: Option<String>,
    pub uptime_s: f64,
    /// Seconds on a clock of the host's own (uptime over SSH, scrape time from node_exporter):
    /// rates are divided by its difference, so network jitter never skews them.
    pub clock_s: f64,
    pub cpus: u32,
    pub load: [f64; 3],
    pub cpu: Option<CpuTimes>,
    pub memory: Option<Memory>,
    pub pressure: PressureTotals,
    pub filesystems: Vec<FsUsage>,
    pub disks: Vec<DiskCounters>,
    pub interfaces: Vec<NetCounters>,
    pub units: UnitStates,
    pub failed_units: Vec<String>,
    /// node_exporter only: lines of its page that could not be read.
    pub skipped_lines: Option<crate::sources::exposition::SkippedLines>,
    /// SSH only: the listening sockets and the Mastodon checkout, as the script saw them.
    pub facts: Option<super::mastodon::HostFacts>,
}

/// Cumulative CPU time of all CPUs together, in any one unit (jiffies or seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTimes {
    pub busy: f64,
    pub total: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Memory {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
}

/// Seconds during which at least one task stalled ("some"), cumulative since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PressureTotals {
    pub cpu_s: Option<f64>,
    pub memory_s: Option<f64>,
    pub io_s: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FsUsage {
    pub mount: String,
    pub device: String,
    pub fstype: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    /// Space an unprivileged writer (Postgres) can still use: root's reserve excluded.
    pub available_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiskCounters {
    pub device: String,
    /// Reads and writes completed.
    pub ios: f64,
    /// Seconds the device had I/O in flight.
    pub busy_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetCounters {
    pub name: String,
    pub rx_bytes: f64,
    pub tx_bytes: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum UnitStates {
    Read(Vec<SystemdUnit>),
    /// Why unit states could not be read (no systemd, collector off, systemctl failed).
    Unavailable(String),
}

impl Default for UnitStates {
    fn default() -> Self {
        UnitStates::Read(Vec::new())
    }
}

/// Filesystem types that hold no data of their own; their "usage" would only be noise.
pub fn is_pseudo_fs(fstype: &str) -> bool {
    matches!(
        fstype,
        "tmpfs"
            | "devtmpfs"
            | "devfs"
            | "proc"
            | "sysfs"
            | "cgroup"
            | "cgroup2"
            | "squashfs"
            | "ramfs"
            | "rootfs"
            | "nsfs"
            | "autofs"
            | "debugfs"
            | "tracefs"
            | "securityfs"
            | "pstore"
            | "bpf"
            | "efivarfs"
            | "mqueue"
            | "hugetlbfs"
            | "configfs"
            | "fusectl"
            | "binfmt_misc"
            | "fuse.lxcfs"
            | "fuse.snapfuse"
            | "devpts"
    )
}

/// Block devices whose activity says nothing about the host's disks.
pub fn is_virtual_disk(device: &str) -> bool {
    ["loop", "ram", "zram", "sr", "fd", "nbd"]
        .iter()
        .any(|p| device.starts_with(p))
}

/// The reading for `current`, with rates over the time since `previous` when it is from
/// the same boot. `expected` are the units the host must run (`*` matches a family);
/// `mounts` names what lives on a mount point.
pub fn reading(
    previous: Option<&Sample>,
    current: &Sample,
    expected: &[String],
    mounts: &HashMap<String, String>,
) -> HostReading {
    let window = previous.and_then(|p| {
        let dt = current.clock_s - p.clock_s;
        let same_boot = current.uptime_s >= p.uptime_s;
        (same_boot && dt > 0.0 && dt.is_finite()).then_some((p, dt))
    });
    let memory = current.memory.unwrap_or_default();
    let used_pct = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    let cpu_busy_pct = window
        .and_then(|(p, _)| Some((p.cpu?, current.cpu?)))
        .map(|(a, b)| {
            let total = b.total - a.total;
            if total > 0.0 {
                ((b.busy - a.busy) / total * 100.0).clamp(0.0, 100.0)
            } else {
                0.0
            }
        });
    let (disks, network, pressure) = match window {
        Some((p, dt)) => (
            disk_rates(&p.disks, &current.disks, dt),
            net_rates(&p.interfaces, &current.interfaces, dt),
            Some(pressure_rates(&p.pressure, &current.pressure, dt)),
        ),
        None => (Vec::new(), Vec::new(), None),
    };
    let mut filesystems: Vec<Filesystem> = current
        .filesystems
        .iter()
        .map(|fs| Filesystem {
            mount: fs.mount.clone(),
            device: fs.device.clone(),
            fstype: fs.fstype.clone(),
            size_bytes: fs.size_bytes,
            used_bytes: fs.used_bytes,
            used_pct: used_pct(fs.used_bytes, fs.used_bytes + fs.available_bytes),
            note: mounts.get(&fs.mount).cloned(),
        })
        .collect();
    filesystems.sort_by(|a, b| a.mount.cmp(&b.mount));
    let (units, unit_note) = match &current.units {
        UnitStates::Read(found) => (expected_units(expected, found), None),
        UnitStates::Unavailable(why) => (Vec::new(), Some(why.clone())),
    };
    HostReading {
        hostname: current.hostname.clone(),
        kernel: current.kernel.clone(),
        uptime_s: current.uptime_s,
        cpus: current.cpus,
        load_1: current.load[0],
        load_5: current.load[1],
        load_15: current.load[2],
        cpu_busy_pct: cpu_busy_pct.unwrap_or(0.0),
        memory_total_bytes: memory.total_bytes,
        memory_used_pct: used_pct(
            memory.total_bytes.saturating_sub(memory.available_bytes),
            memory.total_bytes,
        ),
        swap_total_bytes: memory.swap_total_bytes,
        swap_used_pct: used_pct(
            memory
                .swap_total_bytes
                .saturating_sub(memory.swap_free_bytes),
            memory.swap_total_bytes,
        ),
        filesystems,
        disks,
        network,
        units,
        failed_units: current.failed_units.clone(),
        rate_window_s: window.map(|(_, dt)| dt),
        pressure,
        units_unreadable: unit_note,
        skipped_lines: current.skipped_lines.clone(),
        roles: Vec::new(),
        production: true,
        checks: Default::default(),
        log_signatures: None,
        log_signatures_unread: None,
    }
}

fn disk_rates(before: &[DiskCounters], after: &[DiskCounters], dt: f64) -> Vec<DiskIo> {
    after
        .iter()
        .filter_map(|now| {
            let then = before.iter().find(|d| d.device == now.device)?;
            let ios = now.ios - then.ios;
            let busy = now.busy_s - then.busy_s;
            // A counter that went backwards was reset (device re-attached): no rate this time.
            (ios >= 0.0 && busy >= 0.0).then(|| DiskIo {
                device: now.device.clone(),
                iops: ios / dt,
                util_pct: (busy / dt * 100.0).clamp(0.0, 100.0),
            })
        })
        .collect()
}

fn net_rates(before: &[NetCounters], after: &[NetCounters], dt: f64) -> Vec<NetInterface> {
    after
        .iter()
        .filter_map(|now| {
            let then = before.iter().find(|n| n.name == now.name)?;
            let rx = now.rx_bytes - then.rx_bytes;
            let tx = now.tx_bytes - then.tx_bytes;
            (rx >= 0.0 && tx >= 0.0).then(|| NetInterface {
                name: now.name.clone(),
                rx_bytes_per_s: rx / dt,
                tx_bytes_per_s: tx / dt,
            })
        })
        .collect()
}

fn pressure_rates(before: &PressureTotals, after: &PressureTotals, dt: f64) -> Pressure {
    let pct = |a: Option<f64>, b: Option<f64>| {
        let (a, b) = (a?, b?);
        (b >= a).then(|| ((b - a) / dt * 100.0).clamp(0.0, 100.0))
    };
    Pressure {
        cpu_some_pct: pct(before.cpu_s, after.cpu_s),
        memory_some_pct: pct(before.memory_s, after.memory_s),
        io_some_pct: pct(before.io_s, after.io_s),
    }
}

/// The expected units, each with the state found; a family (`mastodon-sidekiq*.service`)
/// expands to every unit it matches, and a family that matches none is itself listed as
/// not found, because "no Sidekiq unit at all" is exactly what must be loud.
fn expected_units(expected: &[String], found: &[SystemdUnit]) -> Vec<SystemdUnit> {
    let mut out: Vec<SystemdUnit> = Vec::new();
    let missing = |name: &str| SystemdUnit {
        name: name.to_string(),
        load_state: "not-found".into(),
        active_state: "inactive".into(),
        sub_state: "dead".into(),
    };
    for want in expected {
        if want.contains('*') {
            let mut matched: Vec<&SystemdUnit> = found
                .iter()
                .filter(|u| u.load_state != "not-found" && glob_match(want, &u.name))
                .collect();
            matched.sort_by(|a, b| a.name.cmp(&b.name));
            if matched.is_empty() {
                out.push(missing(want));
            }
            for unit in matched {
                if !out.iter().any(|u| u.name == unit.name) {
                    out.push(unit.clone());
                }
            }
        } else if !out.iter().any(|u| &u.name == want) {
            out.push(
                found
                    .iter()
                    .find(|u| &u.name == want)
                    .cloned()
                    .unwrap_or_else(|| missing(want)),
            );
        }
    }
    out
}

/// `*` matches any run of characters; nothing else is special.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return pattern == name;
    };
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, active: &str) -> SystemdUnit {
        SystemdUnit {
            name: name.into(),
            load_state: "loaded".into(),
            active_state: active.into(),
            sub_state: if active == "active" {
                "running"
            } else {
                "dead"
            }
            .into(),
        }
    }

    fn sample(clock: f64, cpu_busy: f64, cpu_total: f64, ios: f64, rx: f64) -> Sample {
        Sample {
            hostname: "db-1".into(),
            kernel: None,
            uptime_s: clock,
            clock_s: clock,
            cpus: 4,
            load: [1.0, 2.0, 3.0],
            cpu: Some(CpuTimes {
                busy: cpu_busy,
                total: cpu_total,
            }),
            memory: Some(Memory {
                total_bytes: 1000,
                available_bytes: 250,
                swap_total_bytes: 0,
                swap_free_bytes: 0,
            }),
            pressure: PressureTotals {
                cpu_s: Some(clock / 10.0),
                memory_s: None,
                io_s: Some(0.0),
            },
            filesystems: vec![FsUsage {
                mount: "/var/lib/postgresql/archive".into(),
                device: "/dev/sdb1".into(),
                fstype: "ext4".into(),
                size_bytes: 100,
                used_bytes: 90,
                // 5 bytes are root's reserve: Postgres sees 90 of 95.
                available_bytes: 5,
            }],
            disks: vec![DiskCounters {
                device: "sda".into(),
                ios,
                busy_s: clock / 2.0,
            }],
            interfaces: vec![NetCounters {
                name: "eth0".into(),
                rx_bytes: rx,
                tx_bytes: 0.0,
            }],
            units: UnitStates::Read(vec![unit("nginx.service", "active")]),
            failed_units: vec![],
            skipped_lines: None,
            facts: None,
        }
    }

    #[test]
    fn the_first_sample_has_no_rates_and_says_so() {
        let r = reading(
            None,
            &sample(100.0, 10.0, 40.0, 5.0, 0.0),
            &[],
            &HashMap::new(),
        );
        assert_eq!(r.rate_window_s, None);
        assert!(r.disks.is_empty() && r.network.is_empty() && r.pressure.is_none());
        assert_eq!(r.memory_used_pct, 75.0);
        assert!((r.filesystems[0].used_pct - 90.0 / 95.0 * 100.0).abs() < 1e-9);
    }

    #[test]
    fn rates_come_from_the_difference_over_the_hosts_own_clock() {
        let a = sample(100.0, 10.0, 40.0, 5.0, 0.0);
        let b = sample(110.0, 40.0, 80.0, 505.0, 10_000.0);
        let r = reading(Some(&a), &b, &[], &HashMap::new());
        assert_eq!(r.rate_window_s, Some(10.0));
        assert_eq!(r.cpu_busy_pct, 75.0);
        assert_eq!(r.disks[0].iops, 50.0);
        assert_eq!(r.disks[0].util_pct, 50.0);
        assert_eq!(r.network[0].rx_bytes_per_s, 1000.0);
        let p = r.pressure.expect("pressure over a window");
        assert_eq!(p.cpu_some_pct, Some(10.0));
        assert_eq!(p.memory_some_pct, None);
        assert_eq!(p.io_some_pct, Some(0.0));
    }

    #[test]
    fn a_reboot_between_samples_gives_no_rates_instead_of_nonsense() {
        let before = sample(5000.0, 1e6, 4e6, 1e9, 1e12);
        let after = sample(30.0, 10.0, 40.0, 5.0, 0.0);
        let r = reading(Some(&before), &after, &[], &HashMap::new());
        assert_eq!(r.rate_window_s, None);
        assert!(r.disks.is_empty());
    }

    #[test]
    fn a_reset_counter_is_skipped_not_shown_negative() {
        let a = sample(100.0, 10.0, 40.0, 500.0, 10_000.0);
        let b = sample(110.0, 40.0, 80.0, 5.0, 0.0);
        let r = reading(Some(&a), &b, &[], &HashMap::new());
        assert!(r.disks.is_empty(), "{:?}", r.disks);
        assert!(r.network.is_empty());
    }

    #[test]
    fn families_expand_and_a_family_with_no_unit_is_missing() {
        let found = vec![
            unit("mastodon-sidekiq-push.service", "active"),
            unit("mastodon-sidekiq-default.service", "failed"),
            unit("nftables.service", "active"),
            SystemdUnit {
                name: "mastodon-web.service".into(),
                load_state: "not-found".into(),
                active_state: "inactive".into(),
                sub_state: "dead".into(),
            },
        ];
        let expected = [
            "mastodon-sidekiq*.service".to_string(),
            "mastodon-streaming*.service".to_string(),
            "mastodon-web.service".to_string(),
            "nftables.service".to_string(),
        ];
        let units = expected_units(&expected, &found);
        let names: Vec<&str> = units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mastodon-sidekiq-default.service",
                "mastodon-sidekiq-push.service",
                "mastodon-streaming*.service",
                "mastodon-web.service",
                "nftables.service",
            ]
        );
        assert_eq!(units[2].load_state, "not-found");
        assert_eq!(units[3].load_state, "not-found");
    }

    #[test]
    fn glob_matches_only_what_it_says() {
        assert!(glob_match(
            "mastodon-sidekiq*.service",
            "mastodon-sidekiq.service"
        ));
        assert!(glob_match(
            "mastodon-sidekiq*.service",
            "mastodon-sidekiq-pull.service"
        ));
        assert!(!glob_match(
            "mastodon-sidekiq*.service",
            "mastodon-web.service"
        ));
        assert!(!glob_match("redis*.service", "redis-server.socket"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "ac"));
        assert!(glob_match("exact", "exact"));
    }
}
