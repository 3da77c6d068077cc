//! The shipped runbooks' SSH steps executed for real: every host is a real sshd started by
//! the harness, and the commands its steps name (`sudo`, `systemctl`, `nginx`, `tootctl`)
//! are stand-ins on the session's PATH that log the argv they receive. The health gate is a
//! real HTTP server run by the test, and a host that never answers is a black hole.
//!
//! There is no `mastodon` user nor privilege change here, so `sudo` is a stand-in too: it
//! logs its whole argv (what the runbook sent, byte for byte), drops `-u USER`, and runs the
//! rest with `/home/mastodon/...` looked up under the host's test directory instead, so
//! `env` and the program after it are the real exec chain the runbook relies on.

use crate::support;

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use mastop::actions::Role;
use mastop::actions::audit::{Outcome, Phase};
use mastop::config::{Config, HostConfig, SshConfig};
use mastop::runbooks::engine::execute_collecting;
use mastop::runbooks::library::shipped;
use mastop::runbooks::{Control, Event, ExpandError, Inventory, Mode, RunEnd, Runbook, expand};
use support::console::Console;
use support::{BlackHole, Sshd};

/// Units every host's `systemctl` knows.
const UNITS: &[(&str, &str, &str)] = &[
    ("mastodon-web.service", "active", "running"),
    ("mastodon-sidekiq-default.service", "active", "running"),
    ("nginx.service", "active", "running"),
];

const TOOTCTL: &str = "/home/mastodon/live/bin/tootctl";

/// Several hosts, each its own real sshd, reached with one `[ssh]` section (one client key,
/// one known_hosts) the way a fleet is. Every `sudo` and `tootctl` call on any host, and
/// every health request, lands in one timeline, so the order across hosts is visible.
struct Fleet {
    servers: BTreeMap<String, Sshd>,
    hosts: Vec<HostConfig>,
    ssh: SshConfig,
    timeline: PathBuf,
}

impl Fleet {
    fn start(hosts: &[(&str, &str)]) -> Fleet {
        let servers: BTreeMap<String, Sshd> = hosts
            .iter()
            .map(|(name, _)| (name.to_string(), Sshd::start(UNITS)))
            .collect();
        let first = servers.values().next().expect("at least one host");
        let timeline = first.dir().join("timeline");
        let client_key = fs::read_to_string(first.dir().join("client_key.pub")).expect("pub key");
        let mut known_hosts = String::new();
        for (name, sshd) in &servers {
            fs::write(sshd.dir().join("authorized_keys"), &client_key).expect("authorize");
            known_hosts.push_str(&fs::read_to_string(sshd.known_hosts()).expect("known_hosts"));
            install_stand_ins(sshd, name, &timeline);
        }
        let fleet_known_hosts = first.dir().join("fleet_known_hosts");
        fs::write(&fleet_known_hosts, known_hosts).expect("fleet known_hosts");
        let ssh = SshConfig {
            known_hosts: Some(fleet_known_hosts),
            ..first.ssh_config()
        };
        let hosts = hosts
            .iter()
            .map(|(name, role)| {
                let mut h = servers[*name].host(name);
                h.roles = vec![role.to_string()];
                h
            })
            .collect();
        Fleet {
            servers,
            hosts,
            ssh,
            timeline,
        }
    }

    fn config(&self) -> Config {
        Config {
            hosts: self.hosts.clone(),
            ssh: self.ssh.clone(),
            ..Config::default()
        }
    }

    fn sshd(&self, name: &str) -> &Sshd {
        &self.servers[name]
    }

    /// Every record, oldest first: `[host, program, argv...]` or `[http, path, status]`.
    fn timeline(&self) -> Vec<Vec<String>> {
        records(&self.timeline)
    }

    /// The `sudo` and `tootctl` records of one program.
    fn calls_of(&self, program: &str) -> Vec<Vec<String>> {
        self.timeline()
            .into_iter()
            .filter(|r| r.get(1).is_some_and(|p| p == program))
            .collect()
    }
}

fn install_stand_ins(sshd: &Sshd, host: &str, timeline: &Path) {
    let log = |program: &str| {
        format!(
            "{{ printf '%s\\037' '{host}' '{program}'; for a in \"$@\"; do printf '%s\\037' \"$a\"; done; printf '\\036'; }} >> '{}'",
            timeline.display()
        )
    };
    let sudo = format!(
        "#!/bin/sh\n{}\n\
         [ \"$1\" = -u ] && shift 2\n\
         for a; do\n  shift\n  case \"$a\" in /home/mastodon/*) a=\"$MASTOP_TEST_DIR/root$a\" ;; esac\n  set -- \"$@\" \"$a\"\ndone\n\
         exec \"$@\"\n",
        log("sudo")
    );
    write_exec(&sshd.dir().join("bin/sudo"), &sudo);
    // tootctl logs the environment `env` gave it in front of its own arguments.
    let tootctl = format!(
        "#!/bin/sh\nset -- \"RAILS_ENV=$RAILS_ENV\" \"$@\"\n{}\necho '42 media attachments (1.2 GB)'\n",
        log("tootctl")
    );
    let path = sshd.dir().join(format!("root{TOOTCTL}"));
    fs::create_dir_all(path.parent().expect("tootctl dir")).expect("tootctl dir");
    write_exec(&path, &tootctl);
}

fn write_exec(path: &Path, text: &str) {
    fs::write(path, text).expect("write a stand-in");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod a stand-in");
}

fn records(path: &Path) -> Vec<Vec<String>> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .split('\u{1e}')
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.strip_suffix('\u{1f}')
                .unwrap_or(r)
                .split('\u{1f}')
                .map(String::from)
                .collect()
        })
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn shipped_runbook(name: &str) -> Runbook {
    shipped().get(name).cloned().expect("shipped")
}

/// What the operator confirms: the runbook's name, typed.
async fn run(
    console: &Console,
    cfg: &Config,
    runbook: &Runbook,
    given: &BTreeMap<String, String>,
    mode: Mode,
) -> (mastop::runbooks::Summary, Vec<Event>) {
    let plan = expand(runbook, given, &Inventory::from_config(cfg), mode, false).expect("expands");
    execute_collecting(
        &plan,
        &console.runtime,
        Some(runbook.name.as_str()),
        &Control::new(),
    )
    .await
}

fn finished(events: &[Event]) -> Vec<(Outcome, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ActionFinished {
                outcome, message, ..
            } => Some((*outcome, message.clone())),
            _ => None,
        })
        .collect()
}

/// A health endpoint answering GET /health with the next scripted status (the last one
/// repeating); every request goes into the fleet's timeline.
struct Health {
    port: u16,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl Health {
    async fn start(timeline: PathBuf, statuses: &[u16]) -> Health {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let statuses = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let script = statuses.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let script = script.clone();
                let timeline = timeline.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).to_string();
                    let path = text.split(' ').nth(1).unwrap_or_default().to_string();
                    let status = {
                        let mut s = script.lock().expect("statuses");
                        if s.len() > 1 {
                            s.pop_front().unwrap_or(500)
                        } else {
                            s.front().copied().unwrap_or(500)
                        }
                    };
                    let mut log = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&timeline)
                        .expect("timeline");
                    write!(log, "http\u{1f}{path}\u{1f}{status}\u{1f}\u{1e}").expect("log");
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Health { port, statuses }
    }

    fn answer_from_now_on(&self, status: u16) {
        *self.statuses.lock().expect("statuses") = VecDeque::from([status]);
    }
}

fn reload_web(host: &str) -> Vec<String> {
    strings(&[host, "sudo", "systemctl", "reload", "mastodon-web.service"])
}

fn health(status: &str) -> Vec<String> {
    strings(&["http", "/health", status])
}

/// The run's records from the audit log, with their runbook mark checked.
fn audited(
    console: &Console,
    run: &str,
    runbook: &str,
) -> Vec<mastop::actions::audit::AuditRecord> {
    let (records, _) = console.audit.read_since(None).expect("audit readable");
    let ours: Vec<_> = records
        .into_iter()
        .filter(|r| r.runbook.as_ref().is_some_and(|m| m.run == run))
        .collect();
    for r in &ours {
        let mark = r.runbook.as_ref().expect("marked");
        assert_eq!(mark.name, runbook, "{r:?}");
        assert_eq!(r.kind, format!("runbook.{runbook}"), "{r:?}");
    }
    ours
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_reload_web_reloads_one_host_at_a_time_and_a_failing_gate_stops_it() {
    let fleet = Fleet::start(&[
        ("web-1", "mastodon-web"),
        ("web-2", "mastodon-web"),
        ("web-3", "mastodon-web"),
    ]);
    let cfg = fleet.config();
    let console = Console::new(Role::Oncall, &cfg, None);
    let gate = Health::start(fleet.timeline.clone(), &[200]).await;
    let runbook = shipped_runbook("rolling-reload-web");
    let given = values(&[("port", &gate.port.to_string()), ("gate_timeout", "10s")]);

    // Dry run: each host only asked whether the unit is active; nothing reloaded, no gate.
    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::DryRun).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    for host in ["web-1", "web-2", "web-3"] {
        assert_eq!(
            fleet.sshd(host).systemctl_calls(),
            [strings(&["is-active", "mastodon-web.service"])],
            "{host}"
        );
    }
    assert!(fleet.timeline().is_empty(), "{:?}", fleet.timeline());

    // The real run: host, gate, host, gate, host, gate.
    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert_eq!(summary.actions_ok, 3);
    assert_eq!(
        fleet.timeline(),
        [
            reload_web("web-1"),
            health("200"),
            reload_web("web-2"),
            health("200"),
            reload_web("web-3"),
            health("200"),
        ]
    );
    for host in ["web-1", "web-2", "web-3"] {
        assert_eq!(
            fleet.sshd(host).systemctl_calls().last(),
            Some(&strings(&["reload", "mastodon-web.service"])),
            "the real systemctl on {host} got the reload"
        );
    }
    let records = audited(&console, &summary.run, "rolling-reload-web");
    let intents: Vec<_> = records
        .iter()
        .filter(|r| r.phase == Phase::Intent)
        .map(|r| r.operations.clone())
        .collect();
    assert_eq!(
        intents,
        ["web-1", "web-2", "web-3"].map(|h| vec![format!(
            "ssh {h} -- sudo systemctl reload mastodon-web.service"
        )])
    );
    assert!(records.iter().all(|r| {
        let mark = r.runbook.as_ref().expect("marked");
        mark.step == 1 && !mark.dry_run
    }));
    let outcomes: Vec<_> = records.iter().filter_map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Ok; 3]);

    // Second run: web-1's /health never comes back.
    let before = fleet.timeline().len();
    gate.answer_from_now_on(503);
    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    let RunEnd::Failed { step: 1, reason } = &summary.end else {
        panic!("the gate stops the run: {summary:?}");
    };
    assert!(
        reason.contains("health gate after Reload mastodon-web · web-1"),
        "{reason}"
    );
    assert!(reason.contains("answered 503, expected 200"), "{reason}");
    assert!(reason.contains("web-2 not started"), "{reason}");
    let second = &fleet.timeline()[before..];
    assert_eq!(second[0], reload_web("web-1"));
    assert!(
        second.len() >= 3,
        "the gate asked until its timeout: {second:?}"
    );
    assert!(
        second[1..].iter().all(|r| r == &health("503")),
        "{second:?}"
    );
    for host in ["web-2", "web-3"] {
        assert_eq!(
            fleet.sshd(host).systemctl_calls().len(),
            2,
            "{host} was not touched by the second run"
        );
    }
    let records = audited(&console, &summary.run, "rolling-reload-web");
    assert_eq!(
        records.len(),
        2,
        "only web-1's intent and outcome: {records:?}"
    );
    let results = finished(&events);
    assert_eq!(results.len(), 1, "web-1's reload only: {results:?}");
    assert_eq!(results[0].0, Outcome::Ok, "{results:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_sidekiq_unit_restarts_only_the_chosen_unit_on_the_chosen_host() {
    let fleet = Fleet::start(&[
        ("sidekiq-1", "mastodon-sidekiq"),
        ("sidekiq-2", "mastodon-sidekiq"),
    ]);
    let cfg = fleet.config();
    let console = Console::new(Role::Oncall, &cfg, None);
    let runbook = shipped_runbook("restart-sidekiq-unit");
    let unit = "mastodon-sidekiq-default.service";
    let given = values(&[("host", "sidekiq-2"), ("unit", unit)]);

    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert_eq!(
        fleet.sshd("sidekiq-2").systemctl_calls(),
        [
            strings(&["status", "--no-pager", "--lines=20", unit]),
            strings(&["restart", unit]),
            strings(&["is-active", unit]),
        ]
    );
    assert_eq!(
        fleet.calls_of("sudo"),
        [strings(&[
            "sidekiq-2",
            "sudo",
            "systemctl",
            "restart",
            unit
        ])]
    );
    assert!(fleet.sshd("sidekiq-1").systemctl_calls().is_empty());
    let records = audited(&console, &summary.run, "restart-sidekiq-unit");
    let steps: Vec<_> = records
        .iter()
        .filter(|r| r.phase == Phase::Outcome)
        .map(|r| (r.runbook.as_ref().expect("marked").step, r.outcome))
        .collect();
    assert_eq!(
        steps,
        [
            (1, Some(Outcome::Ok)),
            (2, Some(Outcome::Ok)),
            (4, Some(Outcome::Ok))
        ]
    );

    // A unit whose restart is refused: the run stops there and never reports it active.
    fleet.sshd("sidekiq-2").refuse_unit_changes();
    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    let RunEnd::Failed { step: 2, reason } = &summary.end else {
        panic!("the refused restart stops the run: {summary:?} {events:?}");
    };
    assert!(reason.contains("exited 1"), "{reason}");
    assert!(reason.contains("Job for"), "{reason}");
    let calls = fleet.sshd("sidekiq-2").systemctl_calls();
    assert_eq!(calls.len(), 5, "status and restart only: {calls:?}");
    assert_eq!(calls[4], strings(&["restart", unit]));

    // A unit name outside the runbook's pattern never reaches a host.
    let hostile = values(&[("host", "sidekiq-2"), ("unit", "x.service; reboot")]);
    let refused = expand(
        &runbook,
        &hostile,
        &Inventory::from_config(&cfg),
        Mode::Run,
        false,
    );
    assert!(
        matches!(&refused, Err(ExpandError::Params(e)) if e.iter().any(|e| e.to_string().contains("unit"))),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_edge_nginx_reloads_only_after_nginx_t_passes() {
    let fleet = Fleet::start(&[("cdn-fremont-1", "edge-cdn"), ("cdn-tokyo-1", "edge-cdn")]);
    let cfg = fleet.config();
    let console = Console::new(Role::Oncall, &cfg, None);
    let runbook = shipped_runbook("reload-edge-nginx");
    let given = values(&[("edge", "cdn-fremont-1")]);
    let edge = fleet.sshd("cdn-fremont-1");

    edge.break_nginx_config();
    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    let RunEnd::Failed { step: 1, reason } = &summary.end else {
        panic!("a failing nginx -t stops the run: {summary:?} {events:?}");
    };
    assert!(reason.contains("[emerg]"), "{reason}");
    assert_eq!(edge.nginx_calls(), [strings(&["-t"])]);
    assert!(edge.systemctl_calls().is_empty(), "nothing was reloaded");

    fs::remove_file(edge.dir().join("nginx-broken")).expect("fix the config");
    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert_eq!(
        fleet.calls_of("sudo"),
        [
            strings(&["cdn-fremont-1", "sudo", "nginx", "-t"]),
            strings(&["cdn-fremont-1", "sudo", "nginx", "-t"]),
            strings(&[
                "cdn-fremont-1",
                "sudo",
                "systemctl",
                "reload",
                "nginx.service"
            ]),
        ]
    );
    assert_eq!(
        edge.systemctl_calls(),
        [
            strings(&["reload", "nginx.service"]),
            strings(&["is-active", "nginx.service"]),
        ]
    );
    let other = fleet.sshd("cdn-tokyo-1");
    assert!(other.nginx_calls().is_empty() && other.systemctl_calls().is_empty());
    let records = audited(&console, &summary.run, "reload-edge-nginx");
    assert_eq!(
        records.len(),
        6,
        "three steps, intent and outcome: {records:?}"
    );
}

fn tootctl(host: &str, args: &[&str]) -> Vec<String> {
    let mut r = strings(&[host, "tootctl", "RAILS_ENV=production"]);
    r.extend(strings(args));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_remove_and_purge_domain_pass_dry_run_only_in_the_dry_run() {
    let fleet = Fleet::start(&[("web-1", "mastodon-web"), ("web-2", "mastodon-web")]);
    let cfg = fleet.config();
    let console = Console::new(Role::Oncall, &cfg, None);

    let media = shipped_runbook("media-remove");
    let given = values(&[("days", "30")]);
    let (summary, events) = run(&console, &cfg, &media, &given, Mode::DryRun).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    let dry = tootctl("web-1", &["media", "remove", "--days", "30", "--dry-run"]);
    assert_eq!(fleet.calls_of("tootctl"), std::slice::from_ref(&dry));
    assert!(
        finished(&events)[0].1.contains("42 media attachments"),
        "tootctl's answer is shown: {events:?}"
    );
    let (summary, events) = run(&console, &cfg, &media, &given, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    assert_eq!(
        fleet.calls_of("tootctl"),
        [
            dry.clone(),
            dry,
            tootctl("web-1", &["media", "remove", "--days", "30"])
        ]
    );
    let mut sent = strings(&[
        "web-1",
        "sudo",
        "-u",
        "mastodon",
        "env",
        "RAILS_ENV=production",
    ]);
    sent.extend(strings(&[TOOTCTL, "media", "remove", "--days", "30"]));
    assert_eq!(fleet.calls_of("sudo").last(), Some(&sent));

    let purge = shipped_runbook("purge-domain");
    let given = values(&[("domain", "spam.example")]);
    let (summary, events) = run(&console, &cfg, &purge, &given, Mode::DryRun).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    let (summary, events) = run(&console, &cfg, &purge, &given, Mode::Run).await;
    assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
    let purges: Vec<_> = fleet
        .calls_of("tootctl")
        .into_iter()
        .filter(|c| c.get(3).is_some_and(|a| a == "domains"))
        .collect();
    let dry = tootctl("web-1", &["domains", "purge", "spam.example", "--dry-run"]);
    assert_eq!(
        purges,
        [
            dry.clone(),
            dry,
            tootctl("web-1", &["domains", "purge", "spam.example"])
        ]
    );
    let records = audited(&console, &summary.run, "purge-domain");
    let marks: Vec<_> = records
        .iter()
        .filter(|r| r.phase == Phase::Intent)
        .map(|r| r.runbook.as_ref().expect("marked").step)
        .collect();
    assert_eq!(marks, [1, 2]);
    assert!(
        fleet.sshd("web-2").systemctl_calls().is_empty()
            && fleet.timeline().iter().all(|r| r[0] != "web-2"),
        "limit = 1: only the first web host runs tootctl"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_domain_arrives_as_one_argument_and_no_shell_runs_it() {
    let fleet = Fleet::start(&[("web-1", "mastodon-web")]);
    let cfg = fleet.config();
    let console = Console::new(Role::Oncall, &cfg, None);
    let marker = fleet.sshd("web-1").dir().join("pwned");
    let m = marker.display();
    // Each would run `touch` if any shell along the way read it: the first two are
    // well-formed shell, the last is not.
    let hostiles = [
        format!("example.com; touch {m}"),
        format!("$(touch {m})`touch {m}`$(id)"),
        format!("example.com' && touch {m} && echo \"it's quoted\" * ~ \\"),
    ];

    // The shipped runbook refuses them at the form: nothing is expanded, nothing runs.
    let purge = shipped_runbook("purge-domain");
    for hostile in &hostiles {
        let refused = expand(
            &purge,
            &values(&[("domain", hostile)]),
            &Inventory::from_config(&cfg),
            Mode::Run,
            false,
        );
        assert!(
            matches!(&refused, Err(ExpandError::Params(e)) if e.iter().any(|e| e.to_string().contains("domain"))),
            "{refused:?}"
        );
    }

    // The same runbook with its pattern loosened to "anything on one line": each value
    // goes all the way to tootctl, and still as one argument, byte for byte.
    let text = include_str!("../../runbooks/purge-domain.toml");
    let pattern = text
        .lines()
        .find(|l| l.starts_with("pattern = "))
        .expect("purge-domain has a pattern");
    let open = mastop::runbooks::file::parse(
        "purge-domain.toml",
        &text.replace(pattern, "pattern = '.+'"),
    )
    .expect("parses with a loose pattern");
    for hostile in &hostiles {
        let before = fleet.calls_of("tootctl").len();
        let given = values(&[("domain", hostile)]);
        let (summary, events) = run(&console, &cfg, &open, &given, Mode::Run).await;
        assert_eq!(summary.end, RunEnd::Completed, "{events:?}");
        assert_eq!(
            fleet.calls_of("tootctl")[before..],
            [
                tootctl("web-1", &["domains", "purge", hostile, "--dry-run"]),
                tootctl("web-1", &["domains", "purge", hostile]),
            ]
        );
        let mut sent = strings(&[
            "web-1",
            "sudo",
            "-u",
            "mastodon",
            "env",
            "RAILS_ENV=production",
        ]);
        sent.extend(strings(&[TOOTCTL, "domains", "purge", hostile]));
        assert_eq!(fleet.calls_of("sudo").last(), Some(&sent));
        assert!(!marker.exists(), "no shell interpreted {hostile}");
        let records = audited(&console, &summary.run, "purge-domain");
        let quoted = format!("'{}'", hostile.replace('\'', "'\\''"));
        assert!(
            records
                .iter()
                .filter(|r| r.phase == Phase::Intent)
                .all(|r| r.operations[0].contains(&quoted)),
            "the audit shows the value as one quoted word: {records:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_stops_the_rolling_reload_at_its_deadline() {
    let mut fleet = Fleet::start(&[("web-1", "mastodon-web"), ("web-3", "mastodon-web")]);
    let hole = BlackHole::start();
    let mut silent = HostConfig::new("web-2", "127.0.0.1");
    silent.port = Some(hole.port());
    silent.roles = vec!["mastodon-web".into()];
    fleet.hosts.insert(1, silent);
    let cfg = fleet.config();
    let console = Console::new(Role::Oncall, &cfg, None);
    let gate = Health::start(fleet.timeline.clone(), &[200]).await;
    let runbook = shipped_runbook("rolling-reload-web");
    let given = values(&[("port", &gate.port.to_string()), ("gate_timeout", "10s")]);

    let (summary, events) = run(&console, &cfg, &runbook, &given, Mode::Run).await;
    let RunEnd::Failed { step: 1, reason } = &summary.end else {
        panic!("the silent host stops the run: {summary:?} {events:?}");
    };
    let results = finished(&events);
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0].0, Outcome::Ok);
    let (outcome, message) = &results[1];
    assert_eq!(*outcome, Outcome::Failed);
    assert_eq!(
        reason, message,
        "the run's reason is the step's own message"
    );
    assert!(
        reason.contains("Reload mastodon-web · web-2")
            && reason.contains("ssh web-2: no SSH answer from 127.0.0.1 in time"),
        "{reason}"
    );
    assert!(hole.accepted() >= 1, "web-2 was dialled");
    assert_eq!(
        fleet.timeline(),
        [reload_web("web-1"), health("200")],
        "nothing after web-2"
    );
    assert!(fleet.sshd("web-3").systemctl_calls().is_empty());
    let records = audited(&console, &summary.run, "rolling-reload-web");
    let last = records.last().expect("records");
    assert_eq!(last.phase, Phase::Outcome);
    assert_eq!(last.outcome, Some(*outcome));
    assert!(last.title.contains("web-2"), "{last:?}");
}
