//! node_exporter's metrics turned into the same [`Sample`] the SSH script gives, so rates,
//! thresholds and findings are one code path whichever way a host is read.

use std::collections::BTreeSet;

use super::sample::{
    CpuTimes, DiskCounters, FsUsage, Memory, NetCounters, PressureTotals, Sample, UnitStates,
    is_pseudo_fs, is_virtual_disk,
};
use crate::sources::exposition::Exposition;
use crate::sources::host::SystemdUnit;

pub fn sample(e: &Exposition) -> Result<Sample, String> {
    sample_with_cpu(e, cpu(e))
}

/// [`sample`] with the CPU times given rather than summed from `node_cpu_seconds_total`
/// (Prometheus sums them per host before answering, so a thousand hosts' CPUs are not
/// sent one by one).
pub fn sample_with_cpu(e: &Exposition, cpu: (Option<CpuTimes>, u32)) -> Result<Sample, String> {
    let need = |name: &str| {
        e.value(name)
            .ok_or_else(|| format!("no `{name}` in the metrics (is this node_exporter?)"))
    };
    let now = need("node_time_seconds")?;
    let boot = need("node_boot_time_seconds")?;
    let load = [
        need("node_load1")?,
        need("node_load5")?,
        need("node_load15")?,
    ];
    let uname = e.named("node_uname_info").next();
    Ok(Sample {
        hostname: uname
            .and_then(|m| m.label("nodename"))
            .unwrap_or_default()
            .to_string(),
        kernel: uname.and_then(|m| m.label("release")).map(str::to_string),
        uptime_s: (now - boot).max(0.0),
        clock_s: now,
        cpus: 0,
        load,
        cpu: None,
        memory: memory(e),
        pressure: PressureTotals {
            cpu_s: e.value("node_pressure_cpu_waiting_seconds_total"),
            memory_s: e.value("node_pressure_memory_waiting_seconds_total"),
            io_s: e.value("node_pressure_io_waiting_seconds_total"),
        },
        filesystems: filesystems(e),
        disks: disks(e),
        interfaces: interfaces(e),
        units: units(e),
        failed_units: e
            .named("node_systemd_unit_state")
            .filter(|m| m.label("state") == Some("failed") && m.value == 1.0)
            .filter_map(|m| m.label("name").map(str::to_string))
            .collect(),
        skipped_lines: e.skipped_lines(),
        facts: None,
    })
    .map(|mut s| {
        (s.cpu, s.cpus) = cpu;
        s
    })
}

/// All CPUs' seconds by mode; busy is everything but idle and iowait.
fn cpu(e: &Exposition) -> (Option<CpuTimes>, u32) {
    let mut total = 0.0;
    let mut idle = 0.0;
    let mut cpus = BTreeSet::new();
    for m in e.named("node_cpu_seconds_total") {
        total += m.value;
        if matches!(m.label("mode"), Some("idle" | "iowait")) {
            idle += m.value;
        }
        if let Some(cpu) = m.label("cpu") {
            cpus.insert(cpu);
        }
    }
    let times = (!cpus.is_empty()).then_some(CpuTimes {
        busy: total - idle,
        total,
    });
    (times, u32::try_from(cpus.len()).unwrap_or(u32::MAX).max(1))
}

fn memory(e: &Exposition) -> Option<Memory> {
    let bytes = |name: &str| e.value(name).map(|v| v.max(0.0) as u64);
    let total = bytes("node_memory_MemTotal_bytes")?;
    Some(Memory {
        total_bytes: total,
        available_bytes: bytes("node_memory_MemAvailable_bytes")
            .unwrap_or(total)
            .min(total),
        swap_total_bytes: bytes("node_memory_SwapTotal_bytes").unwrap_or(0),
        swap_free_bytes: bytes("node_memory_SwapFree_bytes").unwrap_or(0),
    })
}

fn filesystems(e: &Exposition) -> Vec<FsUsage> {
    let mut out: Vec<FsUsage> = Vec::new();
    for size in e.named("node_filesystem_size_bytes") {
        let (Some(mount), Some(fstype)) = (size.label("mountpoint"), size.label("fstype")) else {
            continue;
        };
        let same = |name: &str| {
            e.named(name)
                .find(|m| m.label("mountpoint") == Some(mount))
                .map(|m| m.value)
        };
        let errored = same("node_filesystem_device_error").is_some_and(|v| v != 0.0);
        if is_pseudo_fs(fstype) || size.value <= 0.0 || errored {
            continue;
        }
        let (Some(free), Some(avail)) = (
            same("node_filesystem_free_bytes"),
            same("node_filesystem_avail_bytes"),
        ) else {
            continue;
        };
        if out.iter().any(|f| f.mount == mount) {
            continue;
        }
        out.push(FsUsage {
            mount: mount.to_string(),
            device: size.label("device").unwrap_or_default().to_string(),
            fstype: fstype.to_string(),
            size_bytes: size.value as u64,
            used_bytes: (size.value - free).max(0.0) as u64,
            available_bytes: avail.max(0.0) as u64,
        });
    }
    out
}

fn disks(e: &Exposition) -> Vec<DiskCounters> {
    e.named("node_disk_io_time_seconds_total")
        .filter_map(|busy| {
            let device = busy.label("device")?;
            if is_virtual_disk(device) {
                return None;
            }
            let same = |name: &str| {
                e.named(name)
                    .find(|m| m.label("device") == Some(device))
                    .map(|m| m.value)
            };
            Some(DiskCounters {
                device: device.to_string(),
                ios: same("node_disk_reads_completed_total")?
                    + same("node_disk_writes_completed_total")?,
                busy_s: busy.value,
            })
        })
        .collect()
}

fn interfaces(e: &Exposition) -> Vec<NetCounters> {
    e.named("node_network_receive_bytes_total")
        .filter_map(|rx| {
            let name = rx.label("device")?;
            let tx = e
                .named("node_network_transmit_bytes_total")
                .find(|m| m.label("device") == Some(name))?;
            (name != "lo").then(|| NetCounters {
                name: name.to_string(),
                rx_bytes: rx.value,
                tx_bytes: tx.value,
            })
        })
        .collect()
}

/// From the systemd collector (`node_systemd_unit_state{name,state}` is 1 for the unit's
/// current state). It is off by default; without it unit states are unknown, and the
/// reading says so rather than calling the firewall missing.
fn units(e: &Exposition) -> UnitStates {
    let mut units: Vec<SystemdUnit> = Vec::new();
    for m in e.named("node_systemd_unit_state") {
        let (Some(name), Some(state)) = (m.label("name"), m.label("state")) else {
            continue;
        };
        if m.value != 1.0 || units.iter().any(|u| u.name == name) {
            continue;
        }
        units.push(SystemdUnit {
            name: name.to_string(),
            load_state: "loaded".into(),
            active_state: state.to_string(),
            sub_state: String::new(),
        });
    }
    if units.is_empty() {
        UnitStates::Unavailable(
            "node_exporter does not export unit states (start it with --collector.systemd)".into(),
        )
    } else {
        UnitStates::Read(units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::exposition::parse;

    const METRICS: &str = include_str!("../../../tests/fixtures/hosts/node-exporter.txt");

    #[test]
    fn a_node_exporter_page_gives_the_same_sample_as_the_ssh_script() {
        let s = sample(&parse(METRICS)).expect("fixture maps");
        assert_eq!(s.hostname, "cdn-fremont-1");
        assert_eq!(s.kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(s.clock_s, 1_700_000_100.5);
        assert_eq!(s.uptime_s, 100.5);
        assert_eq!(s.load, [0.25, 0.5, 0.75]);
        assert_eq!(s.cpus, 2);
        let cpu = s.cpu.expect("cpu");
        assert_eq!(
            cpu.total,
            100.0 + 10.0 + 300.0 + 5.0 + 120.0 + 20.0 + 280.0 + 15.0
        );
        assert_eq!(cpu.busy, 100.0 + 10.0 + 120.0 + 20.0);
        let m = s.memory.expect("memory");
        assert_eq!((m.total_bytes, m.available_bytes), (8e9 as u64, 6e9 as u64));
        assert_eq!(s.pressure.io_s, Some(12.5));
        let mounts: Vec<&str> = s.filesystems.iter().map(|f| f.mount.as_str()).collect();
        assert_eq!(
            mounts,
            ["/", "/var/cache/nginx"],
            "tmpfs and errored mounts are left out"
        );
        assert_eq!(s.filesystems[1].used_bytes, 95_000_000_000);
        assert_eq!(s.filesystems[1].available_bytes, 1_000_000_000);
        assert_eq!(s.disks.len(), 1);
        assert_eq!(s.disks[0].ios, 1500.0);
        assert_eq!(s.interfaces.len(), 1);
        assert_eq!(s.interfaces[0].rx_bytes, 1e9);
        let UnitStates::Read(units) = &s.units else {
            panic!("{:?}", s.units)
        };
        assert_eq!(units.len(), 2);
        assert_eq!(units[0].name, "nginx.service");
        assert_eq!(units[0].active_state, "active");
        assert_eq!(units[1].active_state, "failed");
        assert_eq!(s.failed_units, ["nftables.service"]);
        assert_eq!(s.skipped_lines, None);
    }

    #[test]
    fn unreadable_lines_are_counted_into_the_reading() {
        let text = format!("{METRICS}node_textfile_odd{{path=\"x}} 1\nnode_load1 high\n");
        let s = sample(&parse(&text)).expect("maps");
        let skipped = s.skipped_lines.clone().expect("two lines skipped");
        assert_eq!(skipped.count, 2);
        let reading = crate::sources::host::sample::reading(None, &s, &[], &Default::default());
        use crate::model::Reading;
        assert_eq!(reading.to_json()["skipped_lines"]["count"], 2);
        assert_eq!(s.load[0], 0.25, "the good node_load1 still counts");
    }

    #[test]
    fn without_the_systemd_collector_units_are_unknown_not_missing() {
        let text: String = METRICS
            .lines()
            .filter(|l| !l.contains("node_systemd_unit_state"))
            .map(|l| format!("{l}\n"))
            .collect();
        let s = sample(&parse(&text)).expect("maps");
        assert!(
            matches!(s.units, UnitStates::Unavailable(ref why) if why.contains("--collector.systemd"))
        );
    }

    #[test]
    fn a_page_that_is_not_node_exporter_is_an_error() {
        let err = sample(&parse("up 1\nhttp_requests_total 5\n")).unwrap_err();
        assert!(err.contains("node_time_seconds"), "{err}");
        assert!(sample(&parse("<html>nginx</html>")).is_err());
    }
}
