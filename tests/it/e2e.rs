//! The real binary in a pseudo-terminal: what a person at the keyboard would see and do.

use crate::pty;
use crate::support;

use std::time::{Duration, Instant};

use pty::{Console, HANG_GUARD};

#[test]
fn demo_navigate_help_filter_and_quit() {
    let mut c = Console::start(&["demo"], 120, 40);
    let screen = c.wait_for_text("Overview");
    assert!(
        screen.contains("DEMO"),
        "the demo must say it is a demo:\n{screen}"
    );
    // sources report in and rows appear
    c.wait_for_text("postgres/primary");
    c.wait_for("every component polled", |s| {
        !s.contains("waiting for first poll")
    });

    c.send(b"?");
    c.wait_for_text("quit mastop");
    // Keys sent together with ESC would read as alt-key, as in any terminal: wait between.
    c.send(b"\x1b");
    c.wait_for("help closed", |s| !s.contains("quit mastop"));

    c.send(b"2");
    c.wait_for_text(" edge ");
    c.wait_for_text("tokyo-1");

    c.send(b"1");
    c.wait_for_text("Overview");
    c.send(b"/tokyo");
    let filtered = c.wait_for_text("/tokyo");
    c.wait_for("filter applied", |s| {
        s.contains("edge/tokyo-1") && !s.contains("postgres/primary")
    });
    assert!(filtered.contains("/tokyo"));
    c.send(b"\r");
    c.wait_for("prompt closed", |s| s.contains("? help"));
    c.send(b"\r"); // open the only row
    let detail = c.wait_for_text("source ok");
    assert!(detail.contains("edge/tokyo-1"), "{detail}");
    c.send(b"\x1b"); // back to overview, filter still set
    c.wait_for_text("Overview (1 of");
    c.send(b"\x1b"); // esc clears the filter
    c.wait_for("filter cleared", |s| s.contains("postgres/primary"));

    c.send(b":postgres\r");
    c.wait_for_text("postgres/replica".split('/').nth(1).unwrap_or("replica"));

    c.send(b"q");
    assert!(c.wait_exit(), "quit must exit 0");
    assert!(
        !c.alternate_screen(),
        "the terminal must leave the alternate screen"
    );
    assert!(!c.cursor_hidden(), "the cursor must be visible again");
}

#[test]
fn vim_keymap_works_in_the_binary() {
    let mut c = Console::start(&["demo", "--keymap", "vim"], 100, 30);
    c.wait_for_text("postgres/primary");
    c.send(b"G");
    c.send(b"?");
    c.wait_for_text("Help");
    c.send(b"G"); // vim: to the end of the help
    let help = c.wait_for_text("half a page down");
    assert!(help.contains("ctrl-d"), "vim help lists ctrl-d:\n{help}");
    c.send(b"q");
    c.wait_for("help closed", |s| !s.contains("ctrl-d"));
    c.send(b":q\r");
    assert!(c.wait_exit());
}

#[test]
fn tiny_terminal_shows_the_enlarge_screen() {
    let mut c = Console::start(&["demo"], 40, 10);
    c.wait_for_text("enlarge");
    c.send(b"q");
    assert!(c.wait_exit());
}

/// Every backend accepts TCP and never answers, with a deadline far longer than the test:
/// the first frame still appears, the components show as pending, and quit is immediate
/// because polls are cancelled rather than awaited.
#[test]
fn black_holed_backends_never_block_the_screen_or_quit() {
    let pg_hole = support::BlackHole::start();
    let redis_hole = support::BlackHole::start();
    let config = format!(
        "[defaults]\ncadence = \"1s\"\ndeadline = \"10m\"\n\n\
         [[postgres]]\nname = \"primary\"\nurl = \"postgres://mastop@127.0.0.1:{}/mastodon\"\n\n\
         [[redis]]\nname = \"sidekiq\"\nurl = \"redis://127.0.0.1:{}/0\"\n",
        pg_hole.port(),
        redis_hole.port()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cfg.toml");
    std::fs::write(&path, &config).expect("write config");
    let mut c = Console::start(&["--config", path.to_str().expect("utf-8 path")], 120, 40);
    c.wait_for_text("Overview");
    c.wait_for_text("postgres/primary");
    c.wait_for_text("redis/sidekiq");
    assert!(c.contents().contains("waiting for first poll"));
    // input stays live while both polls hang
    c.send(b"?");
    c.wait_for_text("quit mastop");
    c.send(b"\x1b");
    c.wait_for("help closed", |s| !s.contains("quit mastop"));
    let asked = Instant::now();
    c.send(b"q");
    assert!(c.wait_exit());
    // Not a speed assertion: a bound far above the target, to catch a quit that waits for
    // the ten-minute deadline. The measured figure is in the README.
    assert!(asked.elapsed() < HANG_GUARD);
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut c = Console::start(&["demo"], 100, 30);
    c.wait_for_text("Overview");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    c.wait_exit();
    assert!(!c.alternate_screen());
    assert!(!c.cursor_hidden());
}

#[test]
fn sighup_restores_the_terminal() {
    let mut c = Console::start(&["demo"], 100, 30);
    c.wait_for_text("Overview");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.pid()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("send SIGHUP");
    c.wait_exit();
    assert!(!c.alternate_screen());
}

/// ctrl-z needs a job-control shell, as in real use: an interactive bash runs mastop, the
/// process stops and bash gets the terminal back; `fg` resumes it and it redraws.
#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    let mut c = Console::start_shell(100, 30);
    c.wait_for_text("$ ");
    c.send(format!("{} demo\r", env!("CARGO_BIN_EXE_mastop")).as_bytes());
    c.wait_for_text("Overview");
    let pid = c.wait_for_child_pid("mastop");
    c.send(b"\x1a");
    let start = Instant::now();
    while pty::proc_state(pid) != 'T' {
        assert!(
            start.elapsed() < HANG_GUARD,
            "ctrl-z did not stop mastop (state {})",
            pty::proc_state(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.wait_for("the shell has the terminal back", |s| s.contains("Stopped"));
    assert!(
        !c.alternate_screen(),
        "a stopped mastop must leave the normal screen to the shell"
    );
    assert!(
        !c.cursor_hidden(),
        "the shell's prompt must have its cursor while mastop is stopped"
    );
    c.send(b"fg\r");
    c.wait_for("redrawn after fg", |s| {
        s.contains("Overview") && s.contains("postgres/primary")
    });
    assert!(c.alternate_screen());
    assert!(
        c.cursor_hidden(),
        "the console hides the cursor again after fg"
    );
    c.send(b"q");
    c.wait_for("back at the prompt", |s| !s.contains("Overview"));
    let start = Instant::now();
    while c.cursor_hidden() {
        assert!(
            start.elapsed() < HANG_GUARD,
            "the cursor must be visible after quitting"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(pty::proc_state(pid), '?', "mastop must have exited");
}

#[test]
fn broken_config_exits_2_with_location_before_touching_the_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[ui]\nthemme = \"dark\"\n").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args([
            "--config",
            path.to_str().expect("utf-8 path"),
            "config",
            "check",
        ])
        .env("HOME", dir.path())
        .output()
        .expect("run mastop");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml:2:1"), "{stderr}");
    assert!(stderr.contains("did you mean `theme`?"), "{stderr}");
    // the console itself refuses the same config without entering raw mode
    let mut c = Console::start(&["--config", path.to_str().expect("utf-8 path")], 100, 30);
    assert!(!c.wait_exit());
    assert!(c.contents().contains("did you mean `theme`?"));
}

/// The guarded flow at the keyboard: open a host's actions, choose one, type the host's
/// name, move to Run, run it; the result and the audit view show it, and the audit file
/// holds the intent before the outcome.
#[test]
fn demo_action_runs_through_the_dialog_and_is_audited() {
    let mut c = Console::start(&["demo"], 120, 40);
    c.wait_for_text("ON-CALL");
    c.send(b"3");
    c.wait_for_text("host (");
    c.send(b"a");
    c.wait_for_text("Actions on host/web-1");
    c.send(b"\r");
    c.wait_for_text("Type web-1 to confirm");
    c.wait_for("guards checked", |s| s.contains("precondition"));
    c.send(b"web-1");
    c.wait_for_text("confirm: web-1");
    c.send(b"\t");
    c.send(b"\r");
    let result = c.wait_for_text("Result:");
    assert!(result.contains("done"), "{result}");
    c.send(b"\x1b");
    c.wait_for("dialog closed", |s| !s.contains("Result:"));
    c.send(b":audit\r");
    let audit = c.wait_for("the audit view with both records", |s| {
        s.contains("Audit ·") && s.contains(" started ") && s.contains(" ok ")
    });
    assert!(audit.contains("Reload nginx.service on web-1"), "{audit}");
    let log = c.demo_audit().expect("audit file");
    let phases: Vec<&str> = log
        .lines()
        .map(|l| {
            if l.contains("\"phase\":\"intent\"") {
                "intent"
            } else {
                "outcome"
            }
        })
        .collect();
    assert_eq!(phases, ["intent", "outcome"], "{log}");
    c.send(b"q");
    assert!(c.wait_exit());
}

#[test]
fn readonly_demo_can_preview_but_never_run() {
    let mut c = Console::start(&["demo", "--readonly"], 120, 40);
    c.wait_for_text("SHADOW");
    c.send(b"3");
    c.wait_for_text("host (");
    c.send(b"a");
    c.wait_for_text("Actions on host/web-1");
    c.send(b"\r");
    c.wait_for_text("Run (read-only)");
    c.send(b"\t");
    c.send(b"\r");
    let refused = c.wait_for_text("Result:");
    assert!(refused.contains("read-only: shadowing"), "{refused}");
    let log = c.demo_audit().expect("audit file");
    assert!(
        log.contains("\"outcome\":\"refused\"") && !log.contains("\"phase\":\"intent\""),
        "{log}"
    );
    c.send(b"\x1b");
    c.wait_for("dialog closed", |s| !s.contains("Result:"));
    c.send(b"q");
    assert!(c.wait_exit());
}
