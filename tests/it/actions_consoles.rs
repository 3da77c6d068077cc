//! Several mastop processes sharing one real PostgreSQL ops store: one lock per target,
//! a killed holder's lock lapses and its intent record stays on disk, four-eyes approval
//! from a second console, a freeze seen by everyone, and a store that cannot be reached.
//! The target is real: a unit restarted over SSH on the harness's sshd (whose `systemctl`
//! takes a few seconds, so a run holds its lock long enough to be seen). The demo cannot
//! stand in: it never touches the ops store.

use crate::support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HANG_GUARD: Duration = Duration::from_secs(60);

/// One console: its own HOME (so its own local audit file) and the shared config.
struct Console {
    home: tempfile::TempDir,
    config: PathBuf,
    /// Another OS user to run as: a second person, for four-eyes.
    user: Option<&'static str>,
}

impl Console {
    fn new(config_text: &str) -> Console {
        let home = tempfile::tempdir().expect("temp HOME");
        let config = home.path().join("mastop.toml");
        std::fs::write(&config, config_text).expect("write config");
        Console {
            home,
            config,
            user: None,
        }
    }

    /// A console run by the OS user `user` (the tests run as root; `postgres` exists
    /// wherever the harness can run PostgreSQL).
    fn new_as(user: &'static str, config_text: &str) -> Console {
        let mut console = Console::new(config_text);
        let account = nix::unistd::User::from_name(user)
            .expect("user lookup")
            .expect("the user exists");
        for path in [console.home.path(), console.config.as_path()] {
            nix::unistd::chown(path, Some(account.uid), Some(account.gid))
                .expect("chown to the second user");
        }
        console.user = Some(user);
        console
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", env!("CARGO_BIN_EXE_mastop")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_mastop")),
        };
        cmd.arg("--config").arg(&self.config).args(args);
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run mastop")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mastop")
    }

    fn local_audit(&self) -> String {
        std::fs::read_to_string(self.home.path().join(".local/share/mastop/audit.jsonl"))
            .unwrap_or_default()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn sshd() -> support::Sshd {
    let sshd = support::Sshd::start(&[
        ("mastodon-web.service", "active", "running"),
        ("nftables.service", "active", "exited"),
    ]);
    sshd.slow_unit_changes(3);
    sshd
}

fn shared_config(pg: &support::Postgres, sshd: &support::Sshd, lock_ttl: &str) -> String {
    format!(
        "role = \"oncall\"\n\n[ops_store]\nurl = \"{}\"\nlock_ttl = \"{lock_ttl}\"\n\n{}",
        pg.url(),
        sshd.config_toml("web-1", &["mastodon-web"]),
    )
}

const RESTART: &[&str] = &[
    "action",
    "run",
    "host.restart_unit",
    "--component",
    "host/web-1",
    "--table",
    "systemd units",
    "--row",
    "mastodon-web.service",
    "--confirm",
    "web-1",
];

/// Waits until the ops store shows a lock held on web-1's unit.
fn wait_for_lock(pg: &support::Postgres) {
    let start = Instant::now();
    loop {
        let held = pg
            .try_psql_as("mastop_test", "SELECT count(*) FROM mastop_locks WHERE key LIKE 'host/web-1#%' AND expires_at > now()")
            .unwrap_or_default();
        if held.trim() == "1" {
            return;
        }
        assert!(
            start.elapsed() < HANG_GUARD,
            "the first console never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child) -> (bool, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut out = String::new();
            if let Some(mut s) = child.stdout.take() {
                let _ = std::io::Read::read_to_string(&mut s, &mut out);
            }
            return (status.success(), out);
        }
        assert!(start.elapsed() < HANG_GUARD, "mastop did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn only_one_console_holds_a_target_at_a_time() {
    let pg = support::Postgres::start();
    let sshd = sshd();
    let config = shared_config(&pg, &sshd, "2m");
    let (a, b) = (Console::new(&config), Console::new(&config));
    let mut first = a.spawn(RESTART);
    wait_for_lock(&pg);
    let second = b.run(RESTART);
    assert_eq!(second.status.code(), Some(3), "{}", text(&second));
    assert!(text(&second).contains("is locked by"), "{}", text(&second));
    let (ok, out) = wait_exit(&mut first);
    assert!(ok, "the holder finishes: {out}");
    let third = b.run(RESTART);
    assert!(
        text(&third).contains("cooldown"),
        "after the run, the shared cooldown applies: {}",
        text(&third)
    );
}

/// SIGKILL between intent and outcome: the intent is on disk (locally and in the shared
/// store), and the lock lapses at its expiry so another console can act.
#[test]
fn a_killed_holder_leaves_its_intent_and_its_lock_lapses() {
    let pg = support::Postgres::start();
    let sshd = sshd();
    // A lifetime far longer than any pause of a loaded machine, so "still locked right
    // after" holds by construction; its lapse is then brought forward in the store rather
    // than waited for.
    let config = shared_config(&pg, &sshd, "10m");
    let (a, b) = (Console::new(&config), Console::new(&config));
    let mut first = a.spawn(RESTART);
    wait_for_lock(&pg);
    // Between intent and outcome: the intent is recorded and the slow restart is running.
    let start = Instant::now();
    while pg
        .try_psql_as(
            "mastop_test",
            "SELECT count(*) FROM mastop_audit WHERE phase = 'intent'",
        )
        .unwrap_or_default()
        .trim()
        != "1"
    {
        assert!(start.elapsed() < HANG_GUARD, "no intent was recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().expect("SIGKILL the holder");
    let _ = first.wait();
    let local = a.local_audit();
    assert!(
        local.contains("\"phase\":\"intent\""),
        "intent on disk: {local}"
    );
    assert!(
        !local.contains("\"phase\":\"outcome\""),
        "no outcome was written: {local}"
    );
    let shared = pg.psql("SELECT count(*) FROM mastop_audit WHERE phase = 'intent'");
    assert_eq!(shared.trim(), "1");
    let refused = b.run(RESTART);
    assert!(
        text(&refused).contains("is locked by"),
        "still locked right after: {}",
        text(&refused)
    );
    // The lock's lifetime passes (the dead holder cannot renew it). The lock no longer
    // refuses; the killed run's intent still counts as a run, so the cooldown refuses
    // instead: a run that may have happened is never repeated by accident.
    let lapsed = pg.psql(
        "UPDATE mastop_locks SET expires_at = now() - interval '1 second' \
         WHERE key LIKE 'host/web-1#%' RETURNING key",
    );
    assert_eq!(
        lapsed
            .lines()
            .filter(|l| l.starts_with("host/web-1#"))
            .count(),
        1,
        "one lock to lapse: {lapsed}"
    );
    let out = b.run(RESTART);
    let t = text(&out);
    assert!(
        !t.contains("is locked by"),
        "the lapsed lock still refuses: {t}"
    );
    assert!(
        t.contains("cooldown"),
        "lock lapsed; the killed run still counts for the cooldown: {t}"
    );
}

/// The asking console waits through the engine's four-eyes loop; the second person
/// approves from another process, run by another OS user.
#[test]
fn a_critical_action_runs_after_a_second_person_approves() {
    let pg = support::Postgres::start();
    let sshd = sshd();
    let config = shared_config(&pg, &sshd, "2m");
    // The second person approves through the store alone: their console reaches no host
    // (and may not read this one's SSH key).
    let store_only = format!(
        "role = \"oncall\"\n\n[ops_store]\nurl = \"{}\"\nlock_ttl = \"2m\"\n",
        pg.url()
    );
    let (a, b) = (
        Console::new(&config),
        Console::new_as("postgres", &store_only),
    );
    let same_person = Console::new(&config);
    let cfg = mastop::config::load(Some(&a.config), None, &[])
        .expect("config")
        .config;
    // The asking console keeps its files in its own HOME, as the others do.
    let mut places = mastop::engine::Places::real(&cfg);
    places.audit = a.home.path().join("audit.jsonl");
    places.state = a.home.path().join("state");
    places.handoffs = None;
    let engine =
        mastop::engine::Engine::new(cfg, mastop::engine::Options::default()).with_places(places);
    let ops = engine.actions();
    let critical = mastop::actions::Action {
        kind: "host.restart_unit".into(),
        title: "Restart mastodon-web.service on web-1".into(),
        target: mastop::actions::Target {
            component: "host/web-1".into(),
            object: "mastodon-web.service".into(),
            name: "web-1".into(),
            identity: None,
        },
        risk: mastop::actions::Risk::Critical,
        operations: vec![mastop::actions::Operation::Ssh {
            host: "web-1".into(),
            argv: ["systemctl", "restart", "--", "mastodon-web.service"]
                .map(String::from)
                .to_vec(),
        }],
        precondition: None,
        cooldown: Duration::from_secs(30),
        deadline: Duration::from_secs(30),
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (id_tx, id_rx) = std::sync::mpsc::channel::<String>();
    let asking = rt.spawn(async move {
        ops.run_with_approval(
            &critical,
            mastop::actions::Confirmation::Typed("web-1".into()),
            None,
            Some(Duration::from_secs(45)),
            |r| {
                if let Some(id) = &r.awaiting_approval {
                    let _ = id_tx.send(id.clone());
                }
            },
        )
        .await
    });
    let id = id_rx
        .recv_timeout(HANG_GUARD)
        .expect("an approval was requested");
    let pending = b.run(&["approvals"]);
    assert!(text(&pending).contains(&id), "{}", text(&pending));
    let wrong = b.run(&["approve", "no-such-id"]);
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong));
    let own = same_person.run(&["approve", &id]);
    assert_eq!(
        own.status.code(),
        Some(3),
        "the asking person cannot approve: {}",
        text(&own)
    );
    let approved = b.run(&["approve", &id]);
    assert!(approved.status.success(), "{}", text(&approved));
    let result = rt
        .block_on(async { tokio::time::timeout(HANG_GUARD, asking).await })
        .expect("the asking console finished")
        .expect("task");
    assert_eq!(
        result.outcome,
        mastop::actions::Outcome::Ok,
        "{}",
        result.message
    );
    assert!(
        sshd.systemctl_calls()
            .iter()
            .any(|c| c.first().map(String::as_str) == Some("restart")),
        "the unit was restarted once approved"
    );
    let record = pg.psql(
        "SELECT record->>'guards' FROM mastop_audit WHERE kind = 'host.restart_unit' AND record->>'outcome' = 'ok'",
    );
    assert!(record.contains("approved by"), "{record}");
}

#[test]
fn a_freeze_stops_every_console_until_lifted() {
    let pg = support::Postgres::start();
    let sshd = sshd();
    let config = shared_config(&pg, &sshd, "2m");
    let (a, b) = (Console::new(&config), Console::new(&config));
    let frozen = a.run(&["freeze", "--reason", "primary failover drill"]);
    assert!(frozen.status.success(), "{}", text(&frozen));
    let refused = b.run(RESTART);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        text(&refused).contains("primary failover drill"),
        "{}",
        text(&refused)
    );
    let shadow = Console::new(&config.replace("role = \"oncall\"", "role = \"shadow\""));
    let denied = shadow.run(&["unfreeze"]);
    assert_eq!(
        denied.status.code(),
        Some(3),
        "a shadow cannot lift a freeze: {}",
        text(&denied)
    );
    assert!(a.run(&["unfreeze"]).status.success());
    let ran = b.run(RESTART);
    assert!(ran.status.success(), "{}", text(&ran));
    let tail = b.run(&["audit", "tail", "--json"]);
    let kinds: Vec<String> = String::from_utf8_lossy(&tail.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["kind"].as_str().map(String::from))
        .collect();
    assert!(
        kinds.contains(&"console.freeze".to_string())
            && kinds.contains(&"console.unfreeze".to_string()),
        "{kinds:?}"
    );
}

/// With the store unreachable, actions that need it are refused with the reason, and the
/// local audit file still records the refusal.
#[test]
fn an_unreachable_ops_store_refuses_and_the_local_audit_still_records() {
    let hole = support::BlackHole::start();
    let sshd = sshd();
    let config = format!(
        "role = \"oncall\"\n\n[ops_store]\nurl = \"postgres://mastop@127.0.0.1:{}/ops\"\ndeadline = \"500ms\"\n\n{}",
        hole.port(),
        sshd.config_toml("web-1", &["mastodon-web"]),
    );
    let a = Console::new(&config);
    let out = a.run(RESTART);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("ops store unreachable"),
        "{}",
        text(&out)
    );
    let local = a.local_audit();
    assert!(local.contains("\"outcome\":\"refused\""), "{local}");
}
