//! Hosts: the machines under Mastodon (web, streaming, Sidekiq, database, Redis), read over
//! SSH or from node_exporter.
//!
//! Hachyderm's worst outages were host-level and quiet: a root filesystem filled by the
//! WAL archive, a disk pinned at 100% busy, and a firewall that did not come back after a
//! reboot. Those three are what this reading is built to make loud.

pub mod checks;
pub mod command_line;
pub mod drift;
pub mod log_signatures;
pub mod masters;
pub mod mastodon;
pub mod node_exporter;
mod poll;
pub mod prometheus;
pub mod sample;
pub mod script;
pub mod ssh;

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::model::{
    Detail, Figure, Finding, Level, Reading, Threshold, Unit,
    detail::{Cell, Column, Row, TableData},
    figure::format_value,
    health::figure_level,
};

pub use poll::{HostSource, HostSpawner, poll_command, spec, specs};

pub use crate::model::kinds::host::{FIGURES, KIND};

/// The detail table whose rows are units (actions are offered on its rows).
pub const UNITS_TABLE: &str = "systemd units";

/// Hachyderm's post-incident rule was "alert on FS > 90%"; 85 gives a shift to act first.
pub const DISK_USED: Threshold = Threshold::above(85.0, 90.0);
const LOAD_PER_CPU: Threshold = Threshold::above(2.0, 4.0);
const CPU_BUSY: Threshold = Threshold::above(85.0, 95.0);
const MEMORY_USED: Threshold = Threshold::above(90.0, 97.0);
const SWAP_USED: Threshold = Threshold::above(50.0, 80.0);
/// A disk pinned near 100% busy preceded every cascade in the 2022 NFS crisis.
const DISK_UTIL: Threshold = Threshold::above(80.0, 95.0);
/// Share of time some task waited for CPU, memory or I/O (PSI "some"). Memory stalls hurt
/// sooner than the others: they mean reclaim or swap on the request path.
const CPU_PRESSURE: Threshold = Threshold::above(25.0, 50.0);
const MEMORY_PRESSURE: Threshold = Threshold::above(5.0, 20.0);
const IO_PRESSURE: Threshold = Threshold::above(20.0, 50.0);

/// Units whose absence leaves a host open to the internet: missing is never "fine".
pub const FIREWALL_UNITS: &[&str] = &[
    "nftables.service",
    "iptables.service",
    "netfilter-persistent.service",
    "ufw.service",
    "firewalld.service",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostReading {
    pub hostname: String,
    pub kernel: Option<String>,
    pub uptime_s: f64,
    pub cpus: u32,
    pub load_1: f64,
    pub load_5: f64,
    pub load_15: f64,
    pub cpu_busy_pct: f64,
    pub memory_total_bytes: u64,
    pub memory_used_pct: f64,
    pub swap_total_bytes: u64,
    pub swap_used_pct: f64,
    pub filesystems: Vec<Filesystem>,
    pub disks: Vec<DiskIo>,
    pub network: Vec<NetInterface>,
    /// The units this host is configured to run, with their state.
    pub units: Vec<SystemdUnit>,
    /// Everything `systemctl --failed` lists, configured or not.
    pub failed_units: Vec<String>,
    /// Seconds between the two samples CPU busy, disk, network and pressure figures were
    /// computed from; `None` on the first poll (or after a reboot), when those are unknown.
    pub rate_window_s: Option<f64>,
    /// Pressure stall information over the same window, where the kernel has it.
    pub pressure: Option<Pressure>,
    /// Why the units' states are unknown (no systemd, or node_exporter without its systemd
    /// collector); `None` when they were read.
    pub units_unreadable: Option<String>,
    /// node_exporter only: lines of its page that could not be read.
    pub skipped_lines: Option<crate::sources::exposition::SkippedLines>,
    /// The host's configured roles and whether it is production: what its actions need to
    /// know (nginx is tested before a reload on an edge; production needs typed confirmation).
    pub roles: Vec<String>,
    pub production: bool,
    /// Exposed datastore ports, the deployed Mastodon and drift from the role's other
    /// hosts, where the SSH script could tell.
    #[serde(default, skip_serializing_if = "checks::HostChecks::is_empty")]
    pub checks: checks::HostChecks,
    /// Known log signatures in the journal of the host's `log_units` over the last
    /// minute, read on a slower tier than the rest (names and counts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_signatures: Option<crate::logs::signatures::SignatureRates>,
    /// Why that journal could not be read, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_signatures_unread: Option<String>,
}

/// Share of the window in which at least one task stalled waiting for the resource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pressure {
    pub cpu_some_pct: Option<f64>,
    pub memory_some_pct: Option<f64>,
    pub io_some_pct: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Filesystem {
    pub mount: String,
    pub device: String,
    pub fstype: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub used_pct: f64,
    /// What lives there when it matters in an incident: `WAL archive`, `postgres data`…
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskIo {
    pub device: String,
    pub iops: f64,
    /// Share of time the device was busy, 0–100.
    pub util_pct: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetInterface {
    pub name: String,
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SystemdUnit {
    pub name: String,
    /// `loaded`, `not-found`, `masked`…
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`…
    pub active_state: String,
    /// `running`, `exited`, `dead`…
    pub sub_state: String,
}

impl SystemdUnit {
    pub fn is_firewall(&self) -> bool {
        FIREWALL_UNITS.contains(&self.name.as_str())
    }

    /// The level this unit's state deserves, given that it is configured to run.
    pub fn level(&self) -> Level {
        let running = self.active_state == "active" || self.active_state == "reloading";
        if running {
            Level::Ok
        } else if self.is_firewall() || self.active_state == "failed" {
            Level::Crit
        } else {
            Level::Warn
        }
    }
}

impl HostReading {
    pub fn fullest_filesystem(&self) -> Option<&Filesystem> {
        self.filesystems
            .iter()
            .max_by(|a, b| a.used_pct.total_cmp(&b.used_pct))
    }

    /// What stands in for a rate before there are two samples to compute it from.
    fn rates_pending(&self) -> &'static str {
        if self.rate_window_s.is_some() {
            "—"
        } else {
            "— (from the next poll)"
        }
    }

    fn cpu_busy_shown(&self) -> String {
        if self.rate_window_s.is_some() {
            format_value(self.cpu_busy_pct, Unit::Percent)
        } else {
            self.rates_pending().into()
        }
    }

    fn busiest_disk(&self) -> Option<&DiskIo> {
        self.disks
            .iter()
            .max_by(|a, b| a.util_pct.total_cmp(&b.util_pct))
    }
}

impl Reading for HostReading {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        if let Some(fs) = self.fullest_filesystem() {
            figures.push(
                Figure::new(
                    "disk_used_pct",
                    "fullest filesystem",
                    fs.used_pct,
                    Unit::Percent,
                )
                .with_threshold(DISK_USED),
            );
        }
        figures.extend([
            Figure::new("load_1", "load 1m", self.load_1, Unit::Ratio),
            Figure::new("load_5", "load 5m", self.load_5, Unit::Ratio),
            Figure::new("load_15", "load 15m", self.load_15, Unit::Ratio),
            Figure::new(
                "load_per_cpu",
                "load per CPU",
                self.load_5 / f64::from(self.cpus.max(1)),
                Unit::Ratio,
            )
            .with_threshold(LOAD_PER_CPU),
            Figure::new(
                "memory_used_pct",
                "memory used",
                self.memory_used_pct,
                Unit::Percent,
            )
            .with_threshold(MEMORY_USED),
        ]);
        if self.swap_total_bytes > 0 {
            figures.push(
                Figure::new(
                    "swap_used_pct",
                    "swap used",
                    self.swap_used_pct,
                    Unit::Percent,
                )
                .with_threshold(SWAP_USED),
            );
        }
        if let Some(rates) = &self.log_signatures {
            figures.push(rates.figure());
        }
        // Rates need two samples: on the first poll they are unknown, not zero.
        if self.rate_window_s.is_none() {
            return figures;
        }
        figures.push(
            Figure::new("cpu_busy_pct", "CPU busy", self.cpu_busy_pct, Unit::Percent)
                .with_threshold(CPU_BUSY),
        );
        if let Some(disk) = self.busiest_disk() {
            figures.push(
                Figure::new(
                    "disk_util_pct",
                    "busiest disk",
                    disk.util_pct,
                    Unit::Percent,
                )
                .with_threshold(DISK_UTIL),
            );
        }
        figures.push(Figure::new(
            "disk_iops",
            "disk IOPS",
            self.disks.iter().map(|d| d.iops).sum(),
            Unit::PerSecond,
        ));
        figures.push(Figure::new(
            "net_rx_bytes_per_s",
            "network in",
            self.network.iter().map(|n| n.rx_bytes_per_s).sum(),
            Unit::Bytes,
        ));
        figures.push(Figure::new(
            "net_tx_bytes_per_s",
            "network out",
            self.network.iter().map(|n| n.tx_bytes_per_s).sum(),
            Unit::Bytes,
        ));
        if let Some(p) = &self.pressure {
            let stalls = [
                (
                    "cpu_pressure_pct",
                    "CPU stall",
                    p.cpu_some_pct,
                    CPU_PRESSURE,
                ),
                (
                    "memory_pressure_pct",
                    "memory stall",
                    p.memory_some_pct,
                    MEMORY_PRESSURE,
                ),
                ("io_pressure_pct", "I/O stall", p.io_some_pct, IO_PRESSURE),
            ];
            for (key, label, value, threshold) in stalls {
                if let Some(value) = value {
                    figures.push(
                        Figure::new(key, label, value, Unit::Percent).with_threshold(threshold),
                    );
                }
            }
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some("disk_used_pct")
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        // The fullest filesystem is judged as a figure; any other one over the line would
        // otherwise hide behind it.
        let fullest = self.fullest_filesystem().map(|fs| fs.mount.as_str());
        for fs in &self.filesystems {
            // A named volume (the WAL archive) is called out by name even when it is the
            // fullest: "WAL archive 96%" is the page that must be read, not "a disk".
            if Some(fs.mount.as_str()) == fullest && fs.note.is_none() {
                continue;
            }
            let message = || match &fs.note {
                Some(note) => format!(
                    "{note} ({}) {} used",
                    fs.mount,
                    format_value(fs.used_pct, Unit::Percent)
                ),
                None => format!(
                    "{} {} used",
                    fs.mount,
                    format_value(fs.used_pct, Unit::Percent)
                ),
            };
            match figure_level(fs.used_pct, &DISK_USED) {
                Level::Crit => findings.push(Finding::crit(message())),
                Level::Warn => findings.push(Finding::warn(message())),
                _ => {}
            }
        }
        for unit in &self.units {
            let message = if unit.load_state == "not-found" {
                format!("{} is not installed", unit.name)
            } else {
                format!("{} is {}", unit.name, unit.active_state)
            };
            let message = if unit.is_firewall() {
                format!("{message}: host has no firewall")
            } else {
                message
            };
            match unit.level() {
                Level::Crit => findings.push(Finding::crit(message)),
                Level::Warn => findings.push(Finding::warn(message)),
                _ => {}
            }
        }
        if let Some(why) = &self.units_unreadable {
            findings.push(Finding::warn(format!(
                "unit states unknown, firewall unverified: {why}"
            )));
        }
        for name in &self.failed_units {
            if !self.units.iter().any(|u| &u.name == name) {
                findings.push(Finding::warn(format!("{name} failed")));
            }
        }
        if let Some(rates) = &self.log_signatures {
            findings.extend(rates.findings());
        }
        findings.extend(self.checks.findings());
        findings
    }

    fn summary(&self) -> String {
        let fs = self.fullest_filesystem().map_or_else(String::new, |fs| {
            format!(
                " · {} {}",
                fs.mount,
                format_value(fs.used_pct, Unit::Percent)
            )
        });
        format!(
            "load {:.2} · CPU {}{fs}",
            self.load_1,
            self.cpu_busy_shown()
        )
    }

    fn detail(&self) -> Detail {
        let pct = |v: f64| format_value(v, Unit::Percent);
        let bytes = |v: f64| format_value(v, Unit::Bytes);
        let rate = |v: f64| format!("{}/s", format_value(v, Unit::Bytes));
        let mut system = vec![
            ("hostname", self.hostname.clone()),
            ("kernel", self.kernel.clone().unwrap_or_else(|| "—".into())),
            ("uptime", format_value(self.uptime_s, Unit::Seconds)),
            ("CPUs", self.cpus.to_string()),
            (
                "load",
                format!("{:.2} {:.2} {:.2}", self.load_1, self.load_5, self.load_15),
            ),
            ("CPU busy", self.cpu_busy_shown()),
            (
                "memory",
                format!(
                    "{} of {}",
                    pct(self.memory_used_pct),
                    bytes(self.memory_total_bytes as f64)
                ),
            ),
            (
                "swap",
                if self.swap_total_bytes == 0 {
                    "none".into()
                } else {
                    format!(
                        "{} of {}",
                        pct(self.swap_used_pct),
                        bytes(self.swap_total_bytes as f64)
                    )
                },
            ),
        ];
        // Shown only where the kernel reports it; older kernels and containers have none.
        if let Some(p) = &self.pressure {
            let show = |v: Option<f64>| v.map_or_else(|| "—".into(), pct);
            system.push((
                "stalls (PSI)",
                format!(
                    "CPU {} · memory {} · I/O {}",
                    show(p.cpu_some_pct),
                    show(p.memory_some_pct),
                    show(p.io_some_pct)
                ),
            ));
        }
        if let Some(skipped) = &self.skipped_lines {
            system.push(("unread", skipped.to_string()));
        }
        match (&self.log_signatures, &self.log_signatures_unread) {
            (Some(rates), _) => {
                let seen: Vec<String> = rates.seen.iter().map(|r| r.shown(rates.capped)).collect();
                let shown = if seen.is_empty() {
                    "no known signature in the last minute".to_string()
                } else {
                    seen.join(" · ")
                };
                system.push(("logs", shown));
            }
            (None, Some(why)) => system.push((
                "logs",
                format!("unread: {}", crate::sanitize::sanitize_truncated(why, 200)),
            )),
            (None, None) => {}
        }
        let mut detail = Detail::default().pairs("System", system);
        detail = detail.table(
            "Filesystems",
            TableData {
                columns: vec![
                    Column::text("mount", 26),
                    Column::number("used", 6),
                    Column::number("size", 10),
                    Column::text("device", 16),
                    Column::text("note", 16),
                ],
                rows: self
                    .filesystems
                    .iter()
                    .map(|fs| Row {
                        key: None,
                        cells: vec![
                            Cell::text(fs.mount.clone()),
                            Cell::number(pct(fs.used_pct), fs.used_pct),
                            Cell::number(bytes(fs.size_bytes as f64), fs.size_bytes as f64),
                            Cell::text(format!("{} ({})", fs.device, fs.fstype)),
                            Cell::text(fs.note.clone().unwrap_or_default()),
                        ],
                        level: Some(figure_level(fs.used_pct, &DISK_USED)),
                    })
                    .collect(),
            },
        );
        let disks_title = if self.rate_window_s.is_some() {
            "Disks"
        } else {
            "Disks (rates from the next poll)"
        };
        let network_title = if self.rate_window_s.is_some() {
            "Network"
        } else {
            "Network (rates from the next poll)"
        };
        detail = detail.table(
            disks_title,
            TableData {
                columns: vec![
                    Column::text("device", 12),
                    Column::number("IOPS", 8),
                    Column::number("busy", 6),
                ],
                rows: self
                    .disks
                    .iter()
                    .map(|d| Row {
                        key: None,
                        cells: vec![
                            Cell::text(d.device.clone()),
                            Cell::number(format_value(d.iops.round(), Unit::Count), d.iops),
                            Cell::number(pct(d.util_pct), d.util_pct),
                        ],
                        level: Some(figure_level(d.util_pct, &DISK_UTIL)),
                    })
                    .collect(),
            },
        );
        detail = detail.table(
            network_title,
            TableData {
                columns: vec![
                    Column::text("interface", 12),
                    Column::number("in", 12),
                    Column::number("out", 12),
                ],
                rows: self
                    .network
                    .iter()
                    .map(|n| Row {
                        key: None,
                        cells: vec![
                            Cell::text(n.name.clone()),
                            Cell::number(rate(n.rx_bytes_per_s), n.rx_bytes_per_s),
                            Cell::number(rate(n.tx_bytes_per_s), n.tx_bytes_per_s),
                        ],
                        level: None,
                    })
                    .collect(),
            },
        );
        let mut unit_rows: Vec<Row> = self
            .units
            .iter()
            .map(|u| Row {
                key: (!u.name.contains('*')).then(|| u.name.clone()),
                cells: vec![
                    Cell::text(u.name.clone()),
                    Cell::text(u.load_state.clone()),
                    Cell::text(u.active_state.clone()),
                    Cell::text(u.sub_state.clone()),
                ],
                level: Some(u.level()),
            })
            .collect();
        unit_rows.extend(
            self.failed_units
                .iter()
                .filter(|name| !self.units.iter().any(|u| &&u.name == name))
                .map(|name| Row {
                    key: Some(name.clone()),
                    cells: vec![
                        Cell::text(name.clone()),
                        Cell::text("loaded"),
                        Cell::text("failed"),
                        Cell::text("failed"),
                    ],
                    level: Some(Level::Warn),
                }),
        );
        let units_title = match &self.units_unreadable {
            Some(_) => "systemd units (unknown: see findings)",
            None => UNITS_TABLE,
        };
        let detail = detail.table(
            units_title,
            TableData {
                columns: vec![
                    Column::text("unit", 32),
                    Column::text("load", 10),
                    Column::text("active", 10),
                    Column::text("sub", 10),
                ],
                rows: unit_rows,
            },
        );
        self.checks.add_to(detail)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(name: &str, load: &str, active: &str) -> SystemdUnit {
        SystemdUnit {
            name: name.into(),
            load_state: load.into(),
            active_state: active.into(),
            sub_state: "dead".into(),
        }
    }

    #[test]
    fn a_missing_firewall_is_critical_and_an_inactive_service_a_warning() {
        assert_eq!(
            unit("nftables.service", "not-found", "inactive").level(),
            Level::Crit
        );
        assert_eq!(
            unit("nftables.service", "loaded", "inactive").level(),
            Level::Crit
        );
        assert_eq!(
            unit("mastodon-web.service", "loaded", "inactive").level(),
            Level::Warn
        );
        assert_eq!(
            unit("mastodon-web.service", "loaded", "failed").level(),
            Level::Crit
        );
        assert_eq!(
            unit("mastodon-web.service", "loaded", "active").level(),
            Level::Ok
        );
    }
}
