//! What polling a large fleet over SSH costs the console: 200 hosts (one harness sshd,
//! 200 host entries, so 200 master connections) polled cycle after cycle with the
//! fleet-wide handshake bound. Reports each cycle's wall time (the first one pays every
//! handshake), how many hosts answered, the console's peak RSS, and the ssh processes it
//! keeps. Run with `scripts/measure-hosts.sh` (or `cargo bench --bench hosts`).

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mastop::config::Defaults;
use mastop::sources::host;
use support::Sshd;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This process's peak and current resident memory, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The ssh master processes of this run and their proportional set size in KiB (shared
/// library pages divided among the processes sharing them, so the sum is honest).
fn ssh_masters(control_dir: &std::path::Path) -> (usize, u64) {
    let needle = control_dir.to_string_lossy().into_owned();
    let mut count = 0;
    let mut kib = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.starts_with("ssh\0") && cmdline.contains(&needle) {
            count += 1;
            let rollup =
                std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
            kib += rollup
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    (count, kib)
}

/// Runs the poll script here once, as the harness's sshd would, and makes the test key's
/// only command a `cat` of what it printed.
fn record_replay(sshd: &Sshd) {
    let units = [
        "mastodon-web.service".to_string(),
        "nftables.service".to_string(),
    ];
    let argv = host::poll_command(&units, Duration::from_secs(30));
    let bin = sshd.dir().join("bin");
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.to_string_lossy());
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .env("PATH", path)
        .env("MASTOP_TEST_DIR", sshd.dir())
        .output()
        .expect("run the poll script locally");
    assert!(out.status.success(), "the poll script ran: {out:?}");
    let recorded = sshd.dir().join("recorded");
    std::fs::write(&recorded, &out.stdout).expect("write the recorded output");
    let keys = sshd.dir().join("authorized_keys");
    let key = std::fs::read_to_string(&keys).expect("authorized_keys");
    std::fs::write(
        &keys,
        format!("command=\"cat {}\" {key}", recorded.display()),
    )
    .expect("rewrite authorized_keys");
}

fn main() {
    // `cargo test --all-targets` runs bench binaries too, without `--bench`: there it is a
    // smoke run of a few hosts that must all answer, not the measurement.
    let measuring = std::env::args().any(|a| a == "--bench");
    let hosts_n = env_or("HOSTS", if measuring { 200 } else { 3 });
    let cycles = env_or("CYCLES", if measuring { 5 } else { 2 });
    let mut answered = Vec::new();
    let bound = env_or("MAX_CONCURRENT", 16);
    let sshd = Sshd::start(&[
        ("mastodon-web.service", "active", "running"),
        ("nftables.service", "active", "exited"),
    ]);
    // REPLAY=1: every "host" answers with one recorded output of the real script (a forced
    // `cat` in authorized_keys), so the 200 hosts cost the one machine under test a process
    // each instead of the script's ~20, and the cycle measures the console's side.
    let replay = env_or("REPLAY", 0) == 1;
    if replay {
        record_replay(&sshd);
    }
    let mut ssh = sshd.ssh_config();
    ssh.max_concurrent = bound;
    let hosts: Vec<_> = (0..hosts_n)
        .map(|i| {
            let mut h = sshd.host(&format!("web-{i:03}"));
            h.roles = vec!["mastodon-web".into()];
            h.deadline = Some(Duration::from_secs(30));
            h
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let (before_peak, _) = rss_kib();
    println!(
        "hosts: {hosts_n}, cycles: {cycles}, max_concurrent handshakes: {bound}, one sshd (pid {:?}){}",
        sshd.pid(),
        if replay { ", replayed output" } else { "" }
    );
    runtime.block_on(async {
        let mut specs = host::specs(&hosts, &ssh, &Defaults::default());
        for cycle in 1..=cycles {
            let started = Instant::now();
            let results = join_all(specs.iter_mut().map(|spec| {
                let deadline = spec.schedule.deadline;
                async move { tokio::time::timeout(deadline, spec.source.poll()).await }
            }))
            .await;
            let took = started.elapsed();
            let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
            answered.push(ok);
            let first_error = results.iter().find_map(|r| match r {
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("deadline".into()),
                Ok(Ok(_)) => None,
            });
            let (peak, now) = rss_kib();
            let (masters, masters_kib) = ssh_masters(&sshd.dir().join("ctl"));
            println!(
                "cycle {cycle}: {:>8.1} ms  ok {ok}/{hosts_n}  console RSS {:.1} MiB (peak {:.1} MiB)  ssh masters {masters} (PSS {:.1} MiB){}",
                took.as_secs_f64() * 1000.0,
                now as f64 / 1024.0,
                peak as f64 / 1024.0,
                masters_kib as f64 / 1024.0,
                first_error.map(|e| format!("  first error: {e}")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        drop(specs);
        // Closing runs in the background; give it a moment before counting leftovers.
        for _ in 0..100 {
            if ssh_masters(&sshd.dir().join("ctl")).0 == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let (peak, _) = rss_kib();
    println!(
        "console peak RSS {:.1} MiB (before polling {:.1} MiB); ssh masters left after the sources were dropped: {}",
        peak as f64 / 1024.0,
        before_peak as f64 / 1024.0,
        ssh_masters(&sshd.dir().join("ctl")).0
    );
    if !measuring {
        assert!(
            answered.iter().all(|&ok| ok == hosts_n),
            "every host of the smoke run answers every cycle: {answered:?} of {hosts_n}"
        );
        assert_eq!(
            ssh_masters(&sshd.dir().join("ctl")).0,
            0,
            "no ssh master outlives its source"
        );
    }
}
