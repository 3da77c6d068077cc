//! The commands as Unix tools: quiet when their reader goes away, every message on a line
//! of its own, the demo's actions kept out of the operator's real audit and shift log, and
//! `action list` naming the exact row flags that find each row action again.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Home {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Home {
    fn new(config: &str) -> Home {
        let dir = tempfile::tempdir().expect("temp HOME");
        let path = dir.path().join("mastop.toml");
        std::fs::write(&path, config).expect("write config");
        Home { dir, config: path }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mastop"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_clear()
            .env("HOME", self.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run mastop")
    }

    /// Runs with standard output already closed by its reader, as in `mastop … | head -0`.
    fn run_into_closed_pipe(&self, args: &[&str]) -> Output {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        self.command(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run mastop")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A config whose backends are closed loopback ports: every command has something to say.
fn unreachable_config() -> String {
    let pg = support::free_port();
    let redis = support::free_port();
    format!(
        "role = \"oncall\"\n\n[defaults]\ndeadline = \"2s\"\n\n\
         [[postgres]]\nname = \"primary\"\nurl = \"postgres://mastop@127.0.0.1:{pg}/mastodon\"\n\n\
         [[redis]]\nname = \"main\"\nurl = \"redis://127.0.0.1:{redis}/0\"\n"
    )
}

#[test]
fn every_printing_command_is_quiet_when_its_reader_goes_away() {
    let home = Home::new(&unreachable_config());
    // Something in the shift log and the audit, so that their listings print.
    assert!(home.run(&["note", "replica caught up"]).status.success());
    assert!(home.run(&["freeze", "--reason", "drill"]).status.success());
    let commands: &[&[&str]] = &[
        &["demo", "--snapshot", "--json"],
        &["action", "list", "--demo"],
        &["action", "list"],
        &[
            "action",
            "preview",
            "demo.restart_unit",
            "--demo",
            "--component",
            "host/web-1",
            "--object",
            "mastodon-web.service",
        ],
        &["snapshot", "--json"],
        &["check"],
        &["config", "check"],
        &["config", "paths"],
        &["inventory"],
        &["inventory", "--json"],
        &["runbook", "list"],
        &["runbook", "show", "rolling-reload-web"],
        &["audit", "tail"],
        &["audit", "tail", "--json"],
        &["approvals"],
        &["handoff", "log"],
        &[
            "handoff",
            "write",
            "--to",
            "alex",
            "--to-zone",
            "UTC",
            "--demo",
        ],
        &["handoff", "show"],
        &["note", "one more"],
        &[
            "runbook",
            "run",
            "rolling-reload-web",
            "--demo",
            "--dry-run",
            "--yes",
        ],
        &["logs", "web-1", "mastodon-web"],
        &["approve", "no-such-request"],
        &["unfreeze"],
        &["freeze", "--reason", "again"],
        &["watch"],
        &["collect"],
        &["--help"],
    ];
    for args in commands {
        let normal = home.run(args);
        let closed = home.run_into_closed_pipe(args);
        let stderr = String::from_utf8_lossy(&closed.stderr);
        assert!(
            !stderr.contains("panicked")
                && !stderr.contains("Backtrace")
                && !stderr.contains("Broken pipe"),
            "`mastop {}` with its output closed:\n{stderr}",
            args.join(" ")
        );
        assert_eq!(
            closed.status.code(),
            normal.status.code(),
            "`mastop {}` ends as it would have with a reader",
            args.join(" ")
        );
    }
}

#[test]
fn every_message_ends_its_line() {
    let oncall = Home::new(&unreachable_config());
    let shadow = Home::new(&unreachable_config().replace("role = \"oncall\"", "role = \"shadow\""));
    let runs = [
        shadow.run(&["note", "x"]),
        shadow.run(&["handoff", "write", "--to", "alex"]),
        shadow.run(&["handoff", "ack", "nothing"]),
        shadow.run(&["freeze", "--reason", "x"]),
        shadow.run(&["approve", "nothing"]),
        oncall.run(&["runbook", "show", "no-such-runbook"]),
        oncall.run(&["action", "run", "nothing", "--component", "redis/main"]),
        oncall.run(&["handoff", "done", "no-such-entry"]),
        oncall.run(&["check"]),
        oncall.run(&["snapshot", "--json"]),
        oncall.run(&["--config", "/nonexistent.toml", "check"]),
    ];
    for out in runs {
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if !stream.is_empty() {
                assert_eq!(
                    stream.last(),
                    Some(&b'\n'),
                    "{name} does not end its last line: {}",
                    text(&out)
                );
            }
        }
    }
    // The two refusals of a shadow `handoff write` are two lines, not one.
    let write = shadow.run(&["handoff", "write", "--to", "alex"]);
    let stderr = String::from_utf8_lossy(&write.stderr);
    assert!(
        stderr
            .lines()
            .all(|l| !(l.contains("shadow") && l.contains("time zone"))),
        "{stderr}"
    );
}

#[test]
fn the_demo_never_writes_the_real_audit_or_shift_log() {
    let home = Home::new("role = \"oncall\"\n");
    let ran = home.run(&[
        "action",
        "run",
        "demo.restart_unit",
        "--demo",
        "--component",
        "host/web-1",
        "--object",
        "mastodon-web.service",
        "--confirm",
        "web-1",
    ]);
    assert!(ran.status.success(), "{}", text(&ran));
    let runbook = home.run(&[
        "runbook",
        "run",
        "reload-edge-nginx",
        "--demo",
        "--dry-run",
        "--yes",
        "-p",
        "edge=fremont-1",
    ]);
    assert!(runbook.status.success(), "{}", text(&runbook));
    let handed = home.run(&[
        "handoff",
        "write",
        "--to",
        "alex",
        "--to-zone",
        "UTC",
        "--demo",
    ]);
    assert!(handed.status.success(), "{}", text(&handed));
    assert!(
        String::from_utf8_lossy(&handed.stdout).contains("Restart mastodon-web.service"),
        "the demo's own report lists the demo's action: {}",
        text(&handed)
    );

    let real = home.path().join(".local/share/mastop");
    assert!(
        !real.join("audit.jsonl").exists(),
        "the demo wrote into the real audit log"
    );
    assert!(
        !real.join("handoff").exists(),
        "the demo wrote into the real shift log"
    );
    let demo_audit = std::fs::read_to_string(real.join("demo/audit.jsonl")).expect("demo audit");
    assert!(demo_audit.contains("demo.restart_unit"), "{demo_audit}");

    // The next real report sees no simulated action.
    let report = home.run(&["handoff", "write", "--to", "alex", "--to-zone", "UTC"]);
    assert!(report.status.success(), "{}", text(&report));
    let markdown = String::from_utf8_lossy(&report.stdout);
    assert!(
        !markdown.contains("demo.") && !markdown.contains("Restart mastodon-web.service"),
        "a real handoff lists simulated actions:\n{markdown}"
    );
    let tail = home.run(&["audit", "tail", "--json"]);
    assert!(
        !String::from_utf8_lossy(&tail.stdout).contains("demo."),
        "{}",
        text(&tail)
    );
}

#[test]
fn action_list_names_the_row_flags_of_every_row_action() {
    let redis = support::Redis::start();
    let mut peer = support::sidekiq::SidekiqPeer::new(&redis);
    // Jobs waiting on a queue no process serves, and one live process.
    peer.ruby(r#"3.times { |i| FastJob.set(queue: "mailers").perform_async(i) }"#);
    peer.run(&["default"], 1);
    peer.wait_for(
        "the Sidekiq process to register",
        std::time::Duration::from_secs(60),
        || redis.cli(&["SCARD", "processes"]).trim() == "1",
    );
    let home = Home::new(&format!(
        "role = \"oncall\"\n\n[[sidekiq]]\nname = \"main\"\nurl = \"{}\"\n",
        redis.url()
    ));
    let out = home.run(&["action", "list", "--component", "sidekiq/main"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    for kind in [
        "sidekiq.clear_queue",
        "sidekiq.quiet_process",
        "sidekiq.stop_process",
    ] {
        let line = listing
            .lines()
            .find(|l| l.contains(kind))
            .unwrap_or_else(|| panic!("{kind} is not listed:\n{listing}"));
        let flags = line
            .split_once("  --table ")
            .map(|(_, rest)| rest)
            .unwrap_or_else(|| panic!("no row flags on {line}"));
        let (table, row) = flags.split_once(" --row ").expect("--row");
        let unquote = |s: &str| s.trim().trim_matches('\'').to_string();
        let preview = home.run(&[
            "action",
            "preview",
            kind,
            "--component",
            "sidekiq/main",
            "--table",
            &unquote(table),
            "--row",
            &unquote(row),
        ]);
        assert!(
            preview.status.success(),
            "the listed flags find {kind} again: {}",
            text(&preview)
        );
        assert!(
            String::from_utf8_lossy(&preview.stdout).contains("would run:"),
            "{}",
            text(&preview)
        );
    }
}
