//! Host metrics over SSH against a real sshd on loopback serving this machine's real /proc:
//! what is parsed, how unknown or changed host keys and refused keys are reported, and that
//! a host that accepts TCP and never answers is marked down within its deadline while the
//! others are read in the same round.

use crate::support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use mastop::config::{Defaults, HostConfig, SshConfig};
use mastop::model::{ComponentId, Level, Reading, SourceState};
use mastop::sources::host::{self, HostReading, HostSource};
use mastop::sources::{PollError, Source};
use support::{BlackHole, Sshd};
use tokio::sync::Semaphore;

const DEADLINE: Duration = Duration::from_secs(8);

fn units() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("mastodon-web.service", "active", "running"),
        ("mastodon-sidekiq-push.service", "active", "running"),
        ("mastodon-sidekiq-pull.service", "failed", "failed"),
        ("certbot.service", "failed", "failed"),
    ]
}

fn web_host(sshd: &Sshd) -> HostConfig {
    let mut host = sshd.host("web-1");
    host.roles = vec!["mastodon-web".into(), "mastodon-sidekiq".into()];
    host.mounts = HashMap::from([("/".to_string(), "root".to_string())]);
    host
}

fn source(host: &HostConfig, ssh: &SshConfig) -> HostSource {
    HostSource::new(host, ssh, DEADLINE, Arc::new(Semaphore::new(4)))
}

async fn read(source: &mut HostSource) -> Result<HostReading, PollError> {
    let reading = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("the poll hung past twice its deadline")?;
    Ok(reading
        .as_any()
        .downcast_ref::<HostReading>()
        .expect("a host reading")
        .clone())
}

fn local(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn local_kib(field: &str) -> u64 {
    local("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/meminfo"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_read_from_real_proc_over_one_multiplexed_connection() {
    let sshd = Sshd::start(&units());
    let ssh = sshd.ssh_config();
    let mut source = source(&web_host(&sshd), &ssh);

    let first = read(&mut source).await.expect("first poll");
    assert_eq!(first.hostname, local("/proc/sys/kernel/hostname").trim());
    assert_eq!(
        first.kernel.as_deref(),
        Some(local("/proc/sys/kernel/osrelease").trim())
    );
    let cpus = local("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(first.cpus as usize, cpus);
    assert_eq!(first.memory_total_bytes, local_kib("MemTotal") * 1024);
    assert!(first.uptime_s > 0.0);
    assert_eq!(first.rate_window_s, None, "no rates from one sample");
    assert!(
        !first.figures().iter().any(|f| f.key == "cpu_busy_pct"),
        "CPU busy is unknown on the first poll, not 0"
    );
    let root = first
        .filesystems
        .iter()
        .find(|f| f.mount == "/")
        .expect("/ is listed");
    assert_eq!(root.note.as_deref(), Some("root"));
    assert!(root.size_bytes > 0 && root.used_pct > 0.0 && root.used_pct <= 100.0);
    assert!(
        first
            .filesystems
            .iter()
            .all(|f| f.fstype != "tmpfs" && f.fstype != "devtmpfs"),
        "pseudo filesystems are skipped: {:?}",
        first.filesystems
    );

    // Units: what the roles imply, each with its state; the missing firewall is critical.
    let states: Vec<(&str, &str, &str)> = first
        .units
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                u.load_state.as_str(),
                u.active_state.as_str(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("mastodon-web.service", "loaded", "active"),
            ("mastodon-sidekiq-pull.service", "loaded", "failed"),
            ("mastodon-sidekiq-push.service", "loaded", "active"),
            ("nftables.service", "not-found", "inactive"),
        ]
    );
    assert_eq!(
        first.failed_units,
        ["mastodon-sidekiq-pull.service", "certbot.service"]
    );
    let findings = first.findings();
    assert!(
        findings.iter().any(|f| f.level == Level::Crit
            && f.message == "nftables.service is not installed: host has no firewall"),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.level == Level::Warn && f.message == "certbot.service failed"),
        "{findings:?}"
    );
    // The units reached systemctl as separate arguments, the family unexpanded by any shell.
    let show = sshd
        .systemctl_calls()
        .into_iter()
        .find(|c| c.first().map(String::as_str) == Some("show"))
        .expect("systemctl show was called");
    assert_eq!(
        show[show.len() - 4..],
        [
            "--",
            "mastodon-web.service",
            "mastodon-sidekiq*.service",
            "nftables.service"
        ]
    );

    // The second poll has a window, and reuses the master connection.
    std::thread::sleep(Duration::from_millis(1100));
    let second = read(&mut source).await.expect("second poll");
    let window = second.rate_window_s.expect("rates from two samples");
    assert!(window > 0.0);
    assert!((0.0..=100.0).contains(&second.cpu_busy_pct));
    let whole_disks: Vec<String> = std::fs::read_dir("/sys/block")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !n.starts_with("loop") && !n.starts_with("ram") && !n.starts_with("zram")
                })
                .collect()
        })
        .unwrap_or_default();
    let mut disks: Vec<String> = second.disks.iter().map(|d| d.device.clone()).collect();
    disks.sort();
    let mut expected_disks = whole_disks.clone();
    expected_disks.retain(|d| local("/proc/diskstats").contains(&format!(" {d} ")));
    expected_disks.sort();
    assert_eq!(disks, expected_disks);
    let nics = local("/proc/net/dev")
        .lines()
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .filter(|n| n != "lo")
        .count();
    assert_eq!(second.network.len(), nics);
    assert!(second.figures().iter().any(|f| f.key == "cpu_busy_pct"));
    assert_eq!(
        sshd.open_masters(),
        1,
        "both polls used one master connection"
    );

    drop(source);
    // The master is closed in the background when its source goes away.
    for _ in 0..100 {
        if sshd.open_masters() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sshd.open_masters(), 0, "no ssh master is left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_is_refused_with_what_to_do() {
    let sshd = Sshd::start(&units());
    sshd.forget_host_keys();
    let ssh = sshd.ssh_config();
    let err = read(&mut source(&web_host(&sshd), &ssh))
        .await
        .expect_err("an unknown host key must be refused");
    let PollError::Denied(message) = err else {
        panic!("a key problem is denied, not down: {err:?}")
    };
    let file = sshd.known_hosts().display().to_string();
    assert!(message.contains(&format!("is not in {file}")), "{message}");
    assert!(message.contains("ssh-keyscan 127.0.0.1"), "{message}");
    assert_eq!(
        std::fs::read_to_string(sshd.known_hosts()).expect("known_hosts"),
        "",
        "the key was not silently added"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_loud() {
    let sshd = Sshd::start(&units());
    sshd.record_wrong_host_key();
    let ssh = sshd.ssh_config();
    let err = read(&mut source(&web_host(&sshd), &ssh))
        .await
        .expect_err("a changed host key must be refused");
    let PollError::Denied(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("HAS CHANGED"), "{message}");
    assert!(message.contains("do not connect"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_and_a_closed_port_say_so() {
    let sshd = Sshd::start(&units());
    let mut wrong_key = sshd.ssh_config();
    let other = sshd.dir().join("unauthorized_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    wrong_key.identity_file = Some(other);
    let err = read(&mut source(&web_host(&sshd), &wrong_key))
        .await
        .expect_err("an unauthorized key");
    let PollError::Denied(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("refused our key"), "{message}");

    let closed = support::free_port();
    let mut host = web_host(&sshd);
    host.port = Some(closed);
    let err = read(&mut source(&host, &sshd.ssh_config()))
        .await
        .expect_err("nothing listens there");
    let PollError::Failed(message) = err else {
        panic!("{err:?}")
    };
    assert!(message.contains("refused the connection"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_is_down_within_its_deadline_and_the_others_are_read() {
    let sshd = Sshd::start(&units());
    let hole = BlackHole::start();
    let ssh = sshd.ssh_config();
    let mut hung = HostConfig::new("hung-1", "127.0.0.1");
    hung.port = Some(hole.port());
    hung.deadline = Some(Duration::from_secs(3));
    let mut hosts = vec![hung];
    for i in 0..3 {
        let mut h = web_host(&sshd);
        h.name = format!("web-{i}");
        h.deadline = Some(DEADLINE);
        hosts.push(h);
    }
    let fleet = mastop::engine::poll::poll_once(
        host::specs(&hosts, &ssh, &Defaults::default()),
        Default::default(),
    )
    .await;
    let hung = fleet
        .get(&ComponentId::new(host::KIND, "hung-1"))
        .expect("hung-1 is in the fleet");
    assert_eq!(hung.status.state, SourceState::Down);
    let error = hung.status.error.clone().unwrap_or_default();
    assert!(
        error.contains("no SSH answer from 127.0.0.1") || error.contains("no answer within 3s"),
        "{error}"
    );
    assert!(hole.accepted() >= 1, "ssh did reach the black hole");
    for i in 0..3 {
        let web = fleet
            .get(&ComponentId::new(host::KIND, &format!("web-{i}")))
            .expect("web host in the fleet");
        assert_eq!(
            web.status.state,
            SourceState::Ok,
            "web-{i}: {:?}",
            web.status.error
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_cut_off_at_its_deadline_keeps_a_master_that_is_only_slow() {
    let sshd = Sshd::start(&units());
    let ssh = sshd.ssh_config();
    let mut source = source(&web_host(&sshd), &ssh);
    read(&mut source).await.expect("first poll");
    let masters = sshd.master_dirs();
    assert_eq!(masters.len(), 1);

    sshd.freeze_sessions(true);
    let cut = tokio::time::timeout(Duration::from_secs(2), source.poll()).await;
    sshd.freeze_sessions(false);
    assert!(cut.is_err(), "a frozen session cannot answer");

    let after = read(&mut source).await.expect("the poll after the thaw");
    assert!(after.rate_window_s.is_some());
    assert_eq!(
        sshd.master_dirs(),
        masters,
        "the same master connection, no new handshake"
    );
}
