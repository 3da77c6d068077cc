//! The one command a poll runs on a host over SSH, and the pure parser of what it prints.
//!
//! The script is fixed text: nothing from the config or the operator is spliced into it.
//! The units to look at arrive as its positional arguments (`"$@"`), each passed as one
//! argument, so a unit name can never become shell syntax. Each part of the output starts
//! with a `@@mastop <section>` line; a part that fails prints nothing (or an error line the
//! parser ignores), and the rest still counts.

use super::mastodon::{self, HostFacts};
use super::sample::{
    CpuTimes, DiskCounters, FsUsage, Memory, NetCounters, PressureTotals, Sample, UnitStates,
    is_pseudo_fs, is_virtual_disk,
};
use crate::sources::host::SystemdUnit;

/// Read-only: it reads /proc, lists /sys/block, runs `df` (bounded, because a hung NFS
/// mount blocks `df` forever), asks systemctl for unit states and `ss` for listening
/// sockets, and reads Mastodon's live directory: the version, the deployed revision, and
/// `.env.production` as `KEY HASH` lines, each hash over the salt and the whole line, so
/// no value leaves the host. Arguments: the salt, the live directory, then the units.
pub const SCRIPT: &str = r#"export LC_ALL=C
salt=$1; live=$2; shift 2
s() { printf '@@mastop %s\n' "$1"; }
s hostname; cat /proc/sys/kernel/hostname
s kernel; cat /proc/sys/kernel/osrelease
s uptime; cat /proc/uptime
s loadavg; cat /proc/loadavg
s stat; grep '^cpu' /proc/stat
s meminfo; cat /proc/meminfo
s pressure-cpu; cat /proc/pressure/cpu 2>/dev/null
s pressure-memory; cat /proc/pressure/memory 2>/dev/null
s pressure-io; cat /proc/pressure/io 2>/dev/null
s diskstats; cat /proc/diskstats
s blockdevs; ls /sys/block 2>/dev/null
s netdev; cat /proc/net/dev
s df; timeout 5 df -P -T -B1 2>/dev/null
s units; [ "$#" -gt 0 ] && systemctl show --no-pager --property=Id,LoadState,ActiveState,SubState -- "$@" 2>&1
s failed; systemctl list-units --failed --plain --no-legend --no-pager --full 2>&1
s listen; ss -ltnH 2>/dev/null | head -n 2000
s mastodon-version; grep -A1 -E '^[[:space:]]*def (major|minor|patch)[[:space:]]*$' "$live/lib/mastodon/version.rb" 2>/dev/null | head -n 20
s mastodon-revision; h=$(head -c 200 "$live/.git/HEAD" 2>/dev/null); case "$h" in "ref: "*) r=${h#ref: }; head -c 100 "$live/.git/$r" 2>/dev/null || grep -F " $r" "$live/.git/packed-refs" 2>/dev/null | head -n 1 | cut -d' ' -f1;; *) printf '%s\n' "$h";; esac
s env; [ -r "$live/.env.production" ] && grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$live/.env.production" | head -n 1000 | while IFS= read -r l; do printf '%s %s\n' "${l%%=*}" "$(printf '%s\n%s' "$salt" "$l" | sha256sum | cut -c1-32)"; done
s end
"#;

/// The name the script runs under (`$0`), seen in the host's process list.
pub const SCRIPT_NAME: &str = "mastop-poll";

/// Parses the script's output. Only what every Linux host has is required (uptime, load,
/// CPU and memory); anything else missing is left out of the reading.
pub fn parse(output: &str) -> Result<Sample, String> {
    let sections = split(output);
    let get = |name: &str| sections.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    if get("end").is_none() {
        return Err(if sections.is_empty() {
            "the host printed none of the expected output (is its login shell a POSIX sh?)".into()
        } else {
            "the host's output stopped part-way".into()
        });
    }
    let required = |name: &str, what: &str| {
        get(name)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| format!("the host did not show {what} (is it Linux with /proc?)"))
    };
    let uptime_s = first_number(required("uptime", "/proc/uptime")?)
        .ok_or("/proc/uptime did not start with a number")?;
    let load = parse_loadavg(required("loadavg", "/proc/loadavg")?)?;
    let (cpu, cpus) = parse_stat(required("stat", "/proc/stat")?)?;
    let memory = parse_meminfo(required("meminfo", "/proc/meminfo")?)?;
    let whole_disks: Vec<&str> = get("blockdevs")
        .map(|t| t.split_whitespace().collect())
        .unwrap_or_default();
    Ok(Sample {
        hostname: get("hostname")
            .map(str::trim)
            .unwrap_or_default()
            .to_string(),
        kernel: get("kernel")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        uptime_s,
        clock_s: uptime_s,
        cpus,
        load,
        cpu: Some(cpu),
        memory: Some(memory),
        pressure: PressureTotals {
            cpu_s: get("pressure-cpu").and_then(parse_pressure),
            memory_s: get("pressure-memory").and_then(parse_pressure),
            io_s: get("pressure-io").and_then(parse_pressure),
        },
        filesystems: get("df").map(parse_df).unwrap_or_default(),
        disks: get("diskstats")
            .map(|t| parse_diskstats(t, &whole_disks))
            .unwrap_or_default(),
        interfaces: get("netdev").map(parse_netdev).unwrap_or_default(),
        units: get("units").map_or_else(
            || UnitStates::Unavailable("the host did not list its units".into()),
            parse_units,
        ),
        failed_units: get("failed").map(parse_failed).unwrap_or_default(),
        skipped_lines: None,
        facts: Some(HostFacts {
            exposed: get("listen").and_then(mastodon::parse_listeners),
            version: get("mastodon-version").and_then(mastodon::parse_version),
            revision: get("mastodon-revision").and_then(mastodon::parse_revision),
            env: get("env").map(mastodon::parse_env).unwrap_or_default(),
            salt: String::new(),
        }),
    })
}

fn split(output: &str) -> Vec<(&str, &str)> {
    let mut sections = Vec::new();
    let mut current: Option<(&str, usize)> = None;
    let mut offset = 0;
    for line in output.split_inclusive('\n') {
        if let Some(name) = line.trim_end().strip_prefix("@@mastop ") {
            if let Some((n, start)) = current.take() {
                sections.push((n, &output[start..offset]));
            }
            current = Some((name, offset + line.len()));
        }
        offset += line.len();
    }
    if let Some((n, start)) = current {
        sections.push((n, &output[start..]));
    }
    sections
}

fn first_number(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

fn parse_loadavg(text: &str) -> Result<[f64; 3], String> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    match (it.next(), it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c))) => Ok([a, b, c]),
        _ => Err(format!("unreadable /proc/loadavg: {:?}", short(text))),
    }
}

/// The aggregate `cpu` line (user nice system idle iowait irq softirq steal …) and how
/// many `cpuN` lines there are. Busy is everything but idle and iowait; guest time is
/// already inside user and nice, so it is not counted twice.
fn parse_stat(text: &str) -> Result<(CpuTimes, u32), String> {
    let mut times = None;
    let mut cpus = 0u32;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("cpu") => {
                let values: Vec<f64> = fields.take(8).filter_map(|v| v.parse().ok()).collect();
                if values.len() < 4 {
                    return Err(format!(
                        "unreadable cpu line in /proc/stat: {:?}",
                        short(line)
                    ));
                }
                let total: f64 = values.iter().sum();
                let idle = values[3] + values.get(4).copied().unwrap_or(0.0);
                times = Some(CpuTimes {
                    busy: total - idle,
                    total,
                });
            }
            Some(name) if name.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    let times = times.ok_or("no aggregate cpu line in /proc/stat")?;
    Ok((times, cpus.max(1)))
}

fn parse_meminfo(text: &str) -> Result<Memory, String> {
    let field = |key: &str| -> Option<u64> {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kib.saturating_mul(1024))
        })
    };
    let total = field("MemTotal").ok_or("no MemTotal in /proc/meminfo")?;
    // Kernels before 3.14 have no MemAvailable; free + cache is the old approximation.
    let available = field("MemAvailable")
        .or_else(|| Some(field("MemFree")? + field("Cached").unwrap_or(0)))
        .ok_or("no MemAvailable or MemFree in /proc/meminfo")?;
    Ok(Memory {
        total_bytes: total,
        available_bytes: available.min(total),
        swap_total_bytes: field("SwapTotal").unwrap_or(0),
        swap_free_bytes: field("SwapFree").unwrap_or(0),
    })
}

/// `some avg10=0.00 avg60=0.00 avg300=0.00 total=123456` → seconds (total is in µs).
fn parse_pressure(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let total = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?;
    Some(total.parse::<f64>().ok()? / 1e6)
}

/// Whole disks only (those in /sys/block, when listed), and not loop or RAM devices.
/// Fields after the name: reads completed (1), writes completed (5), ms doing I/O (10).
fn parse_diskstats(text: &str, whole_disks: &[&str]) -> Vec<DiskCounters> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let name = *f.get(2)?;
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
            if is_virtual_disk(name) || (!whole_disks.is_empty() && !whole_disks.contains(&name)) {
                return None;
            }
            Some(DiskCounters {
                device: name.to_string(),
                ios: num(3)? + num(7)?,
                busy_s: num(12)? / 1000.0,
            })
        })
        .collect()
}

fn parse_netdev(text: &str) -> Vec<NetCounters> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let name = name.trim();
            let f: Vec<f64> = rest
                .split_whitespace()
                .map(|v| v.parse().ok())
                .collect::<Option<_>>()?;
            (name != "lo" && f.len() >= 9).then(|| NetCounters {
                name: name.to_string(),
                rx_bytes: f[0],
                tx_bytes: f[8],
            })
        })
        .collect()
}

/// `df -P -T -B1`: Filesystem Type 1-blocks Used Available Capacity Mounted-on. A mount
/// point with spaces keeps them (everything after the fifth number).
fn parse_df(text: &str) -> Vec<FsUsage> {
    let mut out: Vec<FsUsage> = Vec::new();
    for line in text.lines().skip_while(|l| l.starts_with("Filesystem")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 7 {
            continue;
        }
        let (Ok(size), Ok(used), Ok(avail)) = (
            f[2].parse::<u64>(),
            f[3].parse::<u64>(),
            f[4].parse::<u64>(),
        ) else {
            continue;
        };
        let mount = f[6..].join(" ");
        // The same filesystem bind-mounted twice is one filesystem.
        if size == 0 || is_pseudo_fs(f[1]) || out.iter().any(|fs| fs.mount == mount) {
            continue;
        }
        out.push(FsUsage {
            mount,
            device: f[0].to_string(),
            fstype: f[1].to_string(),
            size_bytes: size,
            used_bytes: used,
            available_bytes: avail,
        });
    }
    out
}

/// `systemctl show` blocks (`Id=…`, `LoadState=…`…) separated by blank lines. Text that is
/// not such a block is systemctl complaining (no systemd, no D-Bus), and says why.
fn parse_units(text: &str) -> UnitStates {
    let mut units = Vec::new();
    let mut complaint = None;
    for block in text.split("\n\n") {
        let mut unit = SystemdUnit {
            name: String::new(),
            load_state: String::new(),
            active_state: String::new(),
            sub_state: String::new(),
        };
        for line in block.lines() {
            match line.split_once('=') {
                Some(("Id", v)) => unit.name = v.to_string(),
                Some(("LoadState", v)) => unit.load_state = v.to_string(),
                Some(("ActiveState", v)) => unit.active_state = v.to_string(),
                Some(("SubState", v)) => unit.sub_state = v.to_string(),
                _ if !line.trim().is_empty() && complaint.is_none() => {
                    complaint = Some(line.trim().to_string())
                }
                _ => {}
            }
        }
        if !unit.name.is_empty() {
            units.push(unit);
        }
    }
    match complaint {
        Some(why) if units.is_empty() => UnitStates::Unavailable(format!("systemctl: {why}")),
        _ => UnitStates::Read(units),
    }
}

fn parse_failed(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let name = line
                .trim_start_matches(['●', '*', ' '])
                .split_whitespace()
                .next()?;
            // systemctl's own complaints are not unit names.
            (name.contains('.') && !name.ends_with(':') && name != "System")
                .then(|| name.to_string())
        })
        .collect()
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = include_str!("../../../tests/fixtures/hosts/poll-output.txt");

    #[test]
    fn a_full_poll_output_parses_into_every_part() {
        let s = parse(OUTPUT).expect("fixture parses");
        assert_eq!(s.hostname, "db-primary-1");
        assert_eq!(s.kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(s.uptime_s, 350735.47);
        assert_eq!(s.load, [0.52, 0.58, 0.59]);
        assert_eq!(s.cpus, 2);
        let cpu = s.cpu.expect("cpu");
        assert_eq!(
            cpu.total,
            10_000.0 + 20.0 + 3_000.0 + 60_000.0 + 500.0 + 0.0 + 80.0 + 0.0
        );
        assert_eq!(cpu.busy, cpu.total - 60_000.0 - 500.0);
        let m = s.memory.expect("memory");
        assert_eq!(m.total_bytes, 8_000_000 * 1024);
        assert_eq!(m.available_bytes, 6_000_000 * 1024);
        assert_eq!(m.swap_total_bytes, 1_000_000 * 1024);
        assert_eq!(s.pressure.io_s, Some(12.5));
        assert_eq!(s.pressure.memory_s, Some(0.0));
        assert_eq!(
            s.pressure.cpu_s, None,
            "no PSI section for cpu in the fixture"
        );
        let disks: Vec<&str> = s.disks.iter().map(|d| d.device.as_str()).collect();
        assert_eq!(
            disks,
            ["sda", "nvme0n1"],
            "partitions and loop devices are left out"
        );
        assert_eq!(s.disks[0].ios, 1000.0 + 4000.0);
        assert_eq!(s.disks[0].busy_s, 9.0);
        let nics: Vec<&str> = s.interfaces.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(nics, ["eth0", "tailscale0"]);
        assert_eq!(s.interfaces[0].rx_bytes, 123_456_789.0);
        assert_eq!(s.interfaces[0].tx_bytes, 987_654_321.0);
        let mounts: Vec<&str> = s.filesystems.iter().map(|f| f.mount.as_str()).collect();
        assert_eq!(
            mounts,
            ["/", "/var/lib/postgresql/archive", "/mnt/with space"]
        );
        assert_eq!(s.filesystems[1].available_bytes, 2_000_000_000);
        let UnitStates::Read(units) = &s.units else {
            panic!("units were read: {:?}", s.units)
        };
        assert_eq!(units.len(), 3);
        assert_eq!(units[1].name, "nftables.service");
        assert_eq!(units[1].load_state, "not-found");
        assert_eq!(
            s.failed_units,
            ["certbot.service", "mastodon-sidekiq-pull.service"]
        );
    }

    #[test]
    fn a_host_without_systemd_says_why_its_units_are_unknown() {
        let cut = OUTPUT
            .split("@@mastop units\n")
            .next()
            .unwrap_or_default()
            .to_string()
            + "@@mastop units\nSystem has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n@@mastop failed\nSystem has not been booted with systemd as init system (PID 1). Can't operate.\n@@mastop end\n";
        let s = parse(&cut).expect("parses");
        assert_eq!(
            s.units,
            UnitStates::Unavailable(
                "systemctl: System has not been booted with systemd as init system (PID 1). Can't operate."
                    .into()
            )
        );
        assert!(s.failed_units.is_empty(), "{:?}", s.failed_units);
    }

    #[test]
    fn garbage_and_truncated_output_are_errors_not_panics() {
        assert!(parse("").is_err());
        assert!(parse("\u{1b}[2J\0\0garbage\n").is_err());
        let cut = &OUTPUT[..OUTPUT.len() / 2];
        assert_eq!(
            parse(cut).err().as_deref(),
            Some("the host's output stopped part-way")
        );
        let no_proc = "@@mastop uptime\n@@mastop loadavg\n@@mastop end\n";
        assert!(parse(no_proc).unwrap_err().contains("/proc/uptime"));
        let bad_load = OUTPUT.replace("0.52 0.58 0.59", "x y z");
        assert!(parse(&bad_load).unwrap_err().contains("loadavg"));
        // Every prefix of a real output either parses or fails cleanly.
        for cut in (0..OUTPUT.len()).step_by(7) {
            if OUTPUT.is_char_boundary(cut) {
                let _ = parse(&OUTPUT[..cut]);
            }
        }
    }
}
