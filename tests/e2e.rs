//! The real binary in a pseudo-terminal: what a person at the keyboard would see and do.

mod pty;
mod support;

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
    let help = c.wait_for_text("Help");
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
    c.send(b"fg\r");
    c.wait_for("redrawn after fg", |s| {
        s.contains("Overview") && s.contains("postgres/primary")
    });
    assert!(c.alternate_screen());
    c.send(b"q");
    c.wait_for("back at the prompt", |s| !s.contains("Overview"));
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
