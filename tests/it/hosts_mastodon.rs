//! The Mastodon-aware part of the SSH poll, over two real sshd hosts of the same role:
//! a Redis listening on 0.0.0.0 is critical, `.env.production` drift names the key that
//! differs and never the value (not in the reading, its JSON, its detail, or the command
//! lines the hosts received), the deployed version and revision are read from the live
//! directory and a host that differs from its role's other is flagged, and
//! `REDIS_NAMESPACE` is flagged on Mastodon 4.5 only.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mastop::model::{Level, Reading};
use mastop::sources::Source;
use mastop::sources::host::drift::DriftBoard;
use mastop::sources::host::{HostReading, HostSource};
use support::Sshd;
use tokio::sync::Semaphore;

const DEADLINE: Duration = Duration::from_secs(8);
const SECRET_A: &str = "alpha-S3cr3t-VALUE-9f8e7d";
const SECRET_B: &str = "bravo-S3cr3t-VALUE-1a2b3c";

fn checkout(dir: &Path, version: (u32, u32, u32), sha: &str, secret: &str) {
    let live = dir.join("live");
    std::fs::create_dir_all(live.join("lib/mastodon")).expect("lib dir");
    std::fs::create_dir_all(live.join(".git/refs/heads")).expect("git dir");
    std::fs::write(
        live.join("lib/mastodon/version.rb"),
        format!(
            "module Mastodon\n  module Version\n    module_function\n\n    def major\n      {}\n    end\n\n    def minor\n      {}\n    end\n\n    def patch\n      {}\n    end\n  end\nend\n",
            version.0, version.1, version.2
        ),
    )
    .expect("version.rb");
    std::fs::write(live.join(".git/HEAD"), "ref: refs/heads/main\n").expect("HEAD");
    std::fs::write(live.join(".git/refs/heads/main"), format!("{sha}\n")).expect("ref");
    std::fs::write(
        live.join(".env.production"),
        format!(
            "# comment\nLOCAL_DOMAIN=example.social\nREDIS_NAMESPACE=mastodon\nOTP_SECRET={secret}\nS3_ENABLED=true\n"
        ),
    )
    .expect(".env.production");
}

fn source(sshd: &Sshd, name: &str, board: &Arc<DriftBoard>) -> HostSource {
    let mut host = sshd.host(name);
    host.roles = vec!["mastodon-web".into()];
    host.mastodon_dir = sshd.dir().join("live").display().to_string();
    HostSource::new(
        &host,
        &sshd.ssh_config(),
        DEADLINE,
        Arc::new(Semaphore::new(4)),
    )
    .with_drift_board(Arc::clone(board))
}

async fn read(source: &mut HostSource) -> HostReading {
    let reading = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("the poll hung past twice its deadline")
        .expect("the poll succeeds");
    reading
        .as_any()
        .downcast_ref::<HostReading>()
        .expect("a host reading")
        .clone()
}

/// Everything a reading can put in front of someone: JSON, findings, detail, summary.
fn everything(r: &HostReading) -> String {
    format!(
        "{}\n{:?}\n{:?}\n{}",
        r.to_json(),
        r.findings(),
        r.detail(),
        r.summary()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposed_redis_env_drift_and_a_half_finished_deploy_across_two_hosts() {
    let a = Sshd::start_logging_commands(&[]);
    let b = Sshd::start_logging_commands(&[]);
    let sha_a = "0123456789abcdef0123456789abcdef01234567";
    let sha_b = "fedcba9876543210fedcba9876543210fedcba98";
    checkout(a.dir(), (4, 5, 0), sha_a, SECRET_A);
    checkout(b.dir(), (4, 4, 3), sha_b, SECRET_B);
    a.fake_command(
        "ss",
        "#!/bin/sh\nprintf 'LISTEN 0 511 0.0.0.0:6379 0.0.0.0:*\\nLISTEN 0 244 127.0.0.1:5432 0.0.0.0:*\\nLISTEN 0 511 0.0.0.0:443 0.0.0.0:*\\n'\n",
    );
    b.fake_command(
        "ss",
        "#!/bin/sh\nprintf 'LISTEN 0 511 127.0.0.1:6379 0.0.0.0:*\\nLISTEN 0 244 100.100.1.2:5432 0.0.0.0:*\\n'\n",
    );
    let board = Arc::new(DriftBoard::default());
    let mut web1 = source(&a, "web-1", &board);
    let mut web2 = source(&b, "web-2", &board);

    let first = read(&mut web1).await;
    assert_eq!(first.checks.drift, None, "web-2 has not reported yet");
    let second = read(&mut web2).await;
    let again = read(&mut web1).await;

    // (a) Redis on 0.0.0.0 is critical on web-1; loopback and tailnet listeners are fine.
    let exposed = again.checks.exposed.clone().expect("ss answered");
    assert_eq!(exposed.len(), 1);
    assert_eq!(
        (exposed[0].service.as_str(), exposed[0].address.as_str()),
        ("Redis", "0.0.0.0:6379")
    );
    let crit: Vec<String> = again
        .findings()
        .into_iter()
        .filter(|f| f.level == Level::Crit)
        .map(|f| f.message)
        .collect();
    assert!(
        crit.iter()
            .any(|m| m.starts_with("Redis listens on 0.0.0.0:6379")),
        "{crit:?}"
    );
    assert_eq!(second.checks.exposed.as_deref(), Some(&[][..]));

    // (c) REDIS_NAMESPACE is refused by 4.5, not by 4.4.
    assert!(again.checks.redis_namespace_refused);
    assert!(
        crit.iter().any(|m| m.starts_with("REDIS_NAMESPACE")),
        "{crit:?}"
    );
    assert!(!second.checks.redis_namespace_refused);

    // (d) The deployed version and revision, and the deploy drift between the two.
    assert_eq!(again.checks.mastodon_version.as_deref(), Some("4.5.0"));
    assert_eq!(again.checks.mastodon_revision.as_deref(), Some(sha_a));
    assert_eq!(second.checks.mastodon_version.as_deref(), Some("4.4.3"));
    assert_eq!(second.checks.mastodon_revision.as_deref(), Some(sha_b));

    // (b) Drift: the key that differs, on both hosts, naming the other.
    for (reading, other) in [(&second, "web-1"), (&again, "web-2")] {
        let drift = reading
            .checks
            .drift
            .clone()
            .expect("a completed comparison");
        let keys: Vec<&str> = drift
            .iter()
            .filter(|d| d.what == "env")
            .map(|d| d.subject.as_str())
            .collect();
        assert_eq!(keys, ["OTP_SECRET"], "only the differing key");
        assert!(drift.iter().all(|d| d.others == [other]));
        let deploy = drift
            .iter()
            .find(|d| d.what == "deploy")
            .expect("deploy drift");
        assert!(
            deploy
                .subject
                .contains(&reading.checks.mastodon_version.clone().unwrap_or_default())
        );
        let warns: Vec<String> = reading
            .findings()
            .into_iter()
            .filter(|f| f.level == Level::Warn)
            .map(|f| f.message)
            .collect();
        assert!(
            warns
                .iter()
                .any(|m| m.contains("OTP_SECRET") && m.contains("config drift")),
            "{warns:?}"
        );
        assert!(
            warns.iter().any(|m| m.contains("half-finished deploy")),
            "{warns:?}"
        );
    }

    // The values never left the hosts.
    for r in [&first, &second, &again] {
        let shown = everything(r);
        for secret in [SECRET_A, SECRET_B, "S3cr3t", "example.social"] {
            assert!(!shown.contains(secret), "{secret} reached the reading");
        }
    }
    for sshd in [&a, &b] {
        let sent = sshd.command_lines().join("\n");
        assert!(!sent.is_empty(), "commands are logged");
        assert!(!sent.contains("S3cr3t"), "a value was sent to the host");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_without_ss_or_a_checkout_says_unknown_not_fine() {
    let a = Sshd::start(&[]);
    a.fake_command("ss", "#!/bin/sh\nexit 127\n");
    let board = Arc::new(DriftBoard::default());
    let mut web1 = source(&a, "web-1", &board);
    let r = read(&mut web1).await;
    assert_eq!(r.checks.exposed, None, "no ss: unknown");
    assert_eq!(r.checks.mastodon_version, None);
    assert_eq!(r.checks.env_keys, 0);
    let shown = format!("{:?}", r.detail());
    assert!(shown.contains("unknown (no ss)"), "{shown}");
    assert!(
        r.findings()
            .iter()
            .all(|f| !f.message.contains("listens on") && !f.message.contains("drift")),
        "{:?}",
        r.findings()
    );
}
