//! Host actions through the guarded pipeline against a real sshd: the unit actions offered
//! from a real reading, the exact argv that reaches the remote program (nothing is read by a
//! shell), `nginx -t` guarding a reload on an edge, typed confirmation, refused changes, and
//! a shadow console that has no way to run anything.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use mastop::actions::action::{Check, Target};
use mastop::actions::audit::Outcome;
use mastop::actions::catalog::Selected;
use mastop::actions::{Action, Confirmation, Operation, Risk, Role};
use mastop::config::{Config, HostConfig};
use mastop::sources::Source;
use mastop::sources::host::{HostReading, HostSource, UNITS_TABLE};
use support::Sshd;
use support::console::{Console, run, run_with};
use tokio::sync::Semaphore;

const DEADLINE: Duration = Duration::from_secs(8);

fn sshd() -> Sshd {
    Sshd::start(&[
        ("mastodon-web.service", "active", "running"),
        ("nginx.service", "active", "running"),
        ("nftables.service", "active", "exited"),
    ])
}

fn hosts(sshd: &Sshd) -> Vec<HostConfig> {
    let mut web = sshd.host("web-1");
    web.roles = vec!["mastodon-web".into()];
    let mut edge = sshd.host("cdn-fremont-1");
    edge.roles = vec!["edge-cdn".into()];
    let mut staging = sshd.host("staging-1");
    staging.roles = vec!["mastodon-web".into()];
    staging.production = false;
    vec![web, edge, staging]
}

fn console(role: Role, sshd: &Sshd) -> Console {
    Console::new(
        role,
        &Config {
            hosts: hosts(sshd),
            ssh: sshd.ssh_config(),
            ..Config::default()
        },
        None,
    )
}

async fn reading(sshd: &Sshd, name: &str) -> HostReading {
    let host = hosts(sshd)
        .into_iter()
        .find(|h| h.name == name)
        .expect("configured host");
    let mut source = HostSource::new(
        &host,
        &sshd.ssh_config(),
        DEADLINE,
        Arc::new(Semaphore::new(2)),
    );
    let reading = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("poll hung")
        .expect("poll ok");
    reading
        .as_any()
        .downcast_ref::<HostReading>()
        .expect("host reading")
        .clone()
}

fn offered(host: &str, reading: &HostReading, unit: &str) -> Vec<Action> {
    let has_row = reading.units.iter().any(|u| u.name == unit);
    assert!(has_row, "{unit} is a row of {host}'s units table");
    mastop::actions::kinds::offer(
        &format!("host/{host}"),
        "host",
        reading,
        Some(Selected {
            table: UNITS_TABLE,
            key: unit,
        }),
    )
}

fn pick(actions: &[Action], kind: &str) -> Action {
    actions
        .iter()
        .find(|a| a.kind == kind)
        .cloned()
        .unwrap_or_else(|| panic!("{kind} offered among {actions:?}"))
}

fn changes(sshd: &Sshd) -> Vec<Vec<String>> {
    sshd.systemctl_calls()
        .into_iter()
        .filter(|c| matches!(c.first().map(String::as_str), Some("reload" | "restart")))
        .collect()
}

fn argv(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_from_the_units_table_runs_exactly_systemctl_reload_after_typed_confirmation() {
    let sshd = sshd();
    let c = console(Role::Oncall, &sshd);
    let web = reading(&sshd, "web-1").await;
    let reload = pick(
        &offered("web-1", &web, "mastodon-web.service"),
        "host.reload_unit",
    );
    assert_eq!(
        reload.risk,
        Risk::High,
        "production hosts need the name typed"
    );

    let wrong = run_with(&c, &reload, Confirmation::Typed("web-2".into())).await;
    assert_eq!(wrong.outcome, Outcome::Refused, "{}", wrong.message);
    assert!(
        changes(&sshd).is_empty(),
        "nothing ran on a wrong confirmation"
    );

    let result = run(&c, &reload).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(
        changes(&sshd),
        [argv(&["reload", "--", "mastodon-web.service"])]
    );
    assert!(
        sshd.systemctl_calls().contains(&argv(&[
            "show",
            "--property=LoadState",
            "--value",
            "--",
            "mastodon-web.service"
        ])),
        "the unit was re-checked live before the reload"
    );
    let records = c.audit.read_since(None).expect("audit readable").0;
    assert!(
        records.iter().any(|r| r
            .operations
            .iter()
            .any(|o| o == "ssh web-1 -- systemctl reload -- mastodon-web.service")),
        "the exact command is in the audit log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argv_reaches_the_remote_program_exactly_and_no_shell_reads_it() {
    let sshd = sshd();
    let c = console(Role::Oncall, &sshd);
    let canary = sshd.dir().join("pwned");
    let nasty = format!(
        "we ird'\"; touch {} ; $(touch {}) `touch {}` \\ * ~ \n done",
        canary.display(),
        canary.display(),
        canary.display()
    );
    let action = Action {
        kind: "runbook.step".into(),
        title: "A step with an awkward unit name".into(),
        target: Target {
            component: "host/staging-1".into(),
            object: "awkward".into(),
            name: "staging-1".into(),
            identity: None,
        },
        risk: Risk::Low,
        operations: vec![Operation::Ssh {
            host: "staging-1".into(),
            argv: argv(&["systemctl", "restart", "--", &nasty, ""]),
        }],
        precondition: None,
        cooldown: Duration::ZERO,
        deadline: Duration::from_secs(20),
    };
    let result = run(&c, &action).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(changes(&sshd), [argv(&["restart", "--", &nasty, ""])]);
    assert!(!canary.exists(), "no shell interpreted the argument");
}

/// What the audit (and the confirmation before it) says was sent is, after `ssh host --`,
/// byte for byte the command line sshd received: `#`, `!`, quotes, spaces, unicode and an
/// empty argument included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_holds_the_command_line_the_host_received_byte_for_byte() {
    let sshd = Sshd::start_logging_commands(&[("mastodon-web.service", "active", "running")]);
    let c = console(Role::Oncall, &sshd);
    let canary = sshd.dir().join("pwned");
    let awkward = argv(&[
        "#x",
        "it's",
        "wow!",
        "a b",
        "",
        "é東🦣",
        &format!("$(touch {})", canary.display()),
        "%p@h:1",
        "~",
        "x=y,z+1",
    ]);
    let mut sent = argv(&["systemctl", "restart", "--"]);
    sent.extend(awkward.iter().cloned());
    let action = Action {
        kind: "runbook.step".into(),
        title: "A step with awkward arguments".into(),
        target: Target {
            component: "host/staging-1".into(),
            object: "awkward".into(),
            name: "staging-1".into(),
            identity: None,
        },
        risk: Risk::Low,
        operations: vec![Operation::Ssh {
            host: "staging-1".into(),
            argv: sent.clone(),
        }],
        precondition: None,
        cooldown: Duration::ZERO,
        deadline: Duration::from_secs(20),
    };
    let preview = c.runtime.pipeline.preview(&action, None).await;
    let result = run(&c, &action).await;
    assert_eq!(result.outcome, Outcome::Ok, "{}", result.message);
    assert_eq!(
        changes(&sshd),
        [sent[1..].to_vec()],
        "each argument arrived whole"
    );
    assert!(!canary.exists(), "no shell interpreted an argument");

    let lines = sshd.command_lines();
    assert_eq!(lines.len(), 1, "one command was sent: {lines:?}");
    let wire = format!("ssh staging-1 -- {}", lines[0]);
    assert_eq!(
        preview.operations,
        vec![wire.clone()],
        "the confirmation shows the wire"
    );
    let records = c.audit.read_since(None).expect("audit readable").0;
    assert_eq!(records.len(), 2, "intent and outcome");
    for r in &records {
        assert_eq!(r.operations, vec![wire.clone()], "{:?} record", r.phase);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_on_an_edge_is_not_reloaded_when_its_config_test_fails() {
    let sshd = sshd();
    let c = console(Role::Oncall, &sshd);
    let edge = reading(&sshd, "cdn-fremont-1").await;
    let reload = pick(
        &offered("cdn-fremont-1", &edge, "nginx.service"),
        "host.reload_unit",
    );
    assert!(
        matches!(&reload.precondition, Some(Check::Ssh { argv: check, .. }) if check == &argv(&["nginx", "-t"]))
    );

    sshd.break_nginx_config();
    let refused = run(&c, &reload).await;
    assert_ne!(refused.outcome, Outcome::Ok, "{}", refused.message);
    assert!(refused.message.contains("[emerg]"), "{}", refused.message);
    assert_eq!(sshd.nginx_calls(), [argv(&["-t"])]);
    assert!(
        changes(&sshd).is_empty(),
        "a broken config is never reloaded"
    );

    std::fs::remove_file(sshd.dir().join("nginx-broken")).expect("fix the config");
    let ok = run(&c, &reload).await;
    assert_eq!(ok.outcome, Outcome::Ok, "{}", ok.message);
    assert_eq!(changes(&sshd), [argv(&["reload", "--", "nginx.service"])]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_and_an_unconfigured_host_fail_with_the_reason() {
    let sshd = sshd();
    let c = console(Role::Oncall, &sshd);
    let staging = reading(&sshd, "staging-1").await;
    let restart = pick(
        &offered("staging-1", &staging, "mastodon-web.service"),
        "host.restart_unit",
    );
    assert_eq!(
        restart.risk,
        Risk::Low,
        "a non-production host needs no typed name"
    );
    sshd.refuse_unit_changes();
    let failed = run(&c, &restart).await;
    assert_eq!(failed.outcome, Outcome::Failed, "{}", failed.message);
    assert!(failed.message.contains("exited 1"), "{}", failed.message);
    assert!(failed.message.contains("Job for"), "{}", failed.message);

    let mut elsewhere = restart.clone();
    elsewhere.target.component = "host/db-9".into();
    elsewhere.operations = vec![Operation::Ssh {
        host: "db-9".into(),
        argv: argv(&["systemctl", "restart", "--", "postgresql.service"]),
    }];
    elsewhere.precondition = None;
    let unknown = run(&c, &elsewhere).await;
    assert_eq!(unknown.outcome, Outcome::Failed, "{}", unknown.message);
    assert!(
        unknown.message.contains("`db-9` is not a configured host"),
        "{}",
        unknown.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_console_has_no_ssh_executor() {
    let sshd = sshd();
    let c = console(Role::Shadow, &sshd);
    let web = reading(&sshd, "web-1").await;
    let reload = pick(
        &offered("web-1", &web, "mastodon-web.service"),
        "host.reload_unit",
    );
    assert!(c.runtime.executor_for(&reload).is_none());
    let result = run(&c, &reload).await;
    assert_eq!(result.outcome, Outcome::Refused, "{}", result.message);
    assert!(changes(&sshd).is_empty());
}
