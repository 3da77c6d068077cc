//! Handoffs in the console: the `:handoff` view and the acknowledgement prompt drawn from a
//! known report, the keys that acknowledge (or refuse to, for shadow), and two real
//! processes handing over through a real PostgreSQL ops store: the CLI writes on one, the
//! console started next asks for acknowledgement, and the writer sees it recorded.

// The pty console is shared with the end-to-end tests, which use more of it.
use crate::pty;
use crate::support;

use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};
use mastop::actions::Role;
use mastop::handoff::report::{self, ComponentProblem, Inputs, Person};
use mastop::handoff::{EntryKind, ShiftEntry};
use mastop::model::{Fleet, Level};
use mastop::tui::app::{App, Effect, View};
use mastop::tui::handoff::{Reply, Request};
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::Postgres;

fn at(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).expect("test time")
}

fn known_handoff() -> mastop::handoff::Handoff {
    let entries = vec![
        ShiftEntry {
            id: "n1".into(),
            kind: EntryKind::Note,
            time: "2026-01-15T03:05:00Z".into(),
            author: "kris".into(),
            console_host: "berlin-laptop".into(),
            text: "pull queue at 2M\u{1b}]0;pwned\u{7} and growing".into(),
            owner: None,
            until: None,
            closes: None,
        },
        ShiftEntry {
            id: "m1".into(),
            kind: EntryKind::Mitigation,
            time: "2026-01-15T03:20:00Z".into(),
            author: "kris".into(),
            console_host: "berlin-laptop".into(),
            text: "registrations closed".into(),
            owner: Some("alex".into()),
            until: Some("2026-01-15T14:00:00Z".into()),
            closes: None,
        },
    ];
    report::build(Inputs {
        id: "h1".into(),
        written_at: at("2026-01-15T10:00:00Z"),
        from: Person {
            name: "kris".into(),
            zone: "Europe/Berlin".into(),
        },
        to: Person {
            name: "alex".into(),
            zone: "America/New_York".into(),
        },
        console_host: "berlin-laptop".into(),
        console_id: "berlin-laptop:1:x".into(),
        window: (at("2026-01-15T02:00:00Z"), at("2026-01-15T10:00:00Z")),
        fleet_source: "live feed on this console".into(),
        not_ok: vec![ComponentProblem {
            id: "postgres/replica".into(),
            level: "CRIT".into(),
            reasons: vec!["replication lag 45 s ≥ 30 s".into()],
        }],
        audit: &[],
        entries: &entries,
        alertmanager_silences: None,
        gaps: vec![],
    })
}

fn app(role: Role) -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(
        Fleet::new(Vec::new(), Default::default()),
        keymap,
        theme,
        at("2026-01-15T10:05:00Z"),
    );
    app.role = role;
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

fn key(app: &mut App, code: KeyCode) -> Effect {
    app.handle_key(KeyEvent::from(code))
}

fn command(app: &mut App, line: &str) -> Effect {
    key(app, KeyCode::Char(':'));
    for c in line.chars() {
        key(app, KeyCode::Char(c));
    }
    key(app, KeyCode::Enter)
}

#[test]
fn the_acknowledgement_prompt_asks_on_call_and_only_shows_shadow() {
    let mut oncall = app(Role::Oncall);
    oncall.handoff_done(Reply::Waiting(Some(Box::new(known_handoff()))));
    let screen = render(&oncall, 100, 30);
    assert!(!screen.contains('\u{1b}'));
    insta::assert_snapshot!("handoff_prompt_oncall_100x30", screen);
    assert_eq!(
        key(&mut oncall, KeyCode::Char('a')),
        Effect::Handoff(Request::Acknowledge("h1".into()))
    );

    let mut shadow = app(Role::Shadow);
    shadow.handoff_done(Reply::Waiting(Some(Box::new(known_handoff()))));
    let screen = render(&shadow, 100, 30);
    assert!(screen.contains("on-call acknowledges"), "{screen}");
    assert_eq!(key(&mut shadow, KeyCode::Char('a')), Effect::None);
    assert!(
        shadow.screens.handoff.waiting.is_some(),
        "shadow cannot dismiss it by acknowledging"
    );
    // v reads the report: shadow volunteers may read handoffs.
    assert_eq!(key(&mut shadow, KeyCode::Char('v')), Effect::None);
    assert_eq!(shadow.view, View::Handoff);
    assert!(shadow.screens.handoff.waiting.is_none());
    assert_eq!(command(&mut shadow, "note hello"), Effect::None);
    assert!(
        shadow
            .flash
            .as_ref()
            .is_some_and(|f| f.text.contains("shadow")),
        "shadow is told why"
    );
}

#[test]
fn the_acknowledgement_prompt_keys_come_from_the_keymap() {
    let mut keymap = Keymap::builtin("default").expect("default keymap");
    keymap
        .apply_overrides(
            "[handoff]\n\"y\" = \"acknowledge\"\n\"a\" = \"<disabled>\"\n\"r\" = \"select\"\n\"v\" = \"<disabled>\"\n\"A\" = \"<disabled>\"\n\"enter\" = \"<disabled>\"\n",
            "keymap.toml",
        )
        .expect("the remap parses");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut oncall = App::new(
        Fleet::new(Vec::new(), Default::default()),
        keymap,
        theme,
        at("2026-01-15T10:05:00Z"),
    );
    oncall.role = Role::Oncall;
    oncall.handoff_done(Reply::Waiting(Some(Box::new(known_handoff()))));
    let screen = render(&oncall, 100, 30);
    assert!(
        screen.contains("y acknowledge (recorded) · r read the report · Esc later"),
        "the prompt names the remapped keys: {screen}"
    );
    assert_eq!(key(&mut oncall, KeyCode::Char('a')), Effect::None);
    assert!(
        oncall.screens.handoff.waiting.is_some(),
        "a no longer acknowledges"
    );
    assert_eq!(
        key(&mut oncall, KeyCode::Char('y')),
        Effect::Handoff(Request::Acknowledge("h1".into()))
    );
    assert_eq!(key(&mut oncall, KeyCode::Char('v')), Effect::None);
    assert!(
        oncall.screens.handoff.waiting.is_some(),
        "v no longer opens the report"
    );
    assert_eq!(key(&mut oncall, KeyCode::Char('r')), Effect::None);
    assert_eq!(oncall.view, View::Handoff);
    assert!(oncall.screens.handoff.waiting.is_none());
}

#[test]
fn the_handoff_view_shows_the_report_and_scrolls() {
    let mut oncall = app(Role::Oncall);
    oncall.handoff_done(Reply::Waiting(Some(Box::new(known_handoff()))));
    key(&mut oncall, KeyCode::Char('v'));
    let screen = render(&oncall, 100, 30);
    assert!(!screen.contains("pwned\u{7}"));
    insta::assert_snapshot!("handoff_view_100x30", screen);
    key(&mut oncall, KeyCode::Char('j'));
    assert_eq!(oncall.screens.handoff.scroll, 1);

    assert_eq!(
        command(&mut oncall, "mitigation 4h queue weights lowered"),
        Effect::Handoff(Request::Add {
            kind: EntryKind::Mitigation,
            text: "queue weights lowered".into(),
            within: Some(Duration::from_secs(4 * 3600)),
            closes: None,
        })
    );
    assert_eq!(command(&mut oncall, "mitigation soon x"), Effect::None);
    assert!(matches!(
        command(&mut oncall, "handoff write alex America/New_York"),
        Effect::Handoff(Request::Write { ref to, ref zone, .. }) if to == "alex" && zone.as_deref() == Some("America/New_York")
    ));
}

#[test]
fn a_failed_write_says_so_in_the_view_instead_of_loading_for_ever() {
    let mut oncall = app(Role::Oncall);
    assert!(matches!(
        command(&mut oncall, "handoff write bob"),
        Effect::Handoff(Request::Write { ref zone, .. }) if zone.is_none()
    ));
    assert!(render(&oncall, 100, 30).contains("loading"));
    oncall.handoff_done(Reply::Told(
        "no time zone for bob: pass --to-zone (e.g. America/New_York) or add it under [handoff.people]"
            .into(),
        Level::Warn,
    ));
    let screen = render(&oncall, 100, 30);
    assert!(!screen.contains("loading"), "{screen}");
    assert!(screen.contains("failed: no time zone for bob"), "{screen}");
}

fn mastop(home: &std::path::Path, config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mastop"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_handoff_written_on_the_cli_is_acknowledged_in_the_next_console() {
    let pg = Postgres::start();
    let config = format!(
        "role = \"oncall\"\n[ops_store]\nurl = \"{}\"\n[handoff]\nzone = \"Europe/Berlin\"\n[handoff.people]\nalex = \"America/New_York\"\n",
        pg.url()
    );
    let outgoing = tempfile::tempdir().expect("tempdir");
    let config_path = outgoing.path().join("mastop.toml");
    std::fs::write(&config_path, &config).expect("config");

    let out = mastop(
        outgoing.path(),
        &config_path,
        &["note", "failed over redis-2"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = mastop(
        outgoing.path(),
        &config_path,
        &[
            "handoff",
            "mitigation",
            "add",
            "registrations closed",
            "--within",
            "4h",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = mastop(
        outgoing.path(),
        &config_path,
        &["handoff", "write", "--to", "alex"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        report.contains("# Handoff:") && report.contains("→ alex"),
        "{report}"
    );
    assert!(report.contains("failed over redis-2"), "{report}");
    assert!(report.contains("registrations closed"), "{report}");
    assert!(
        report.contains("EST") && report.contains("CET"),
        "both zones: {report}"
    );

    // The writer's own console is not asked to acknowledge, and sees it waiting.
    let out = mastop(outgoing.path(), &config_path, &["handoff", "show"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    let mut console = pty::Console::start_with(&["tui"], 110, 34, |home| {
        let dir = home.join("config").join("mastop");
        std::fs::create_dir_all(&dir).expect("config dir");
        std::fs::write(dir.join("config.toml"), &config).expect("config");
    });
    let screen = console.wait_for_text("Handoff waiting for acknowledgement");
    assert!(screen.contains("handed the shift to alex"), "{screen}");
    console.send(b"a");
    let screen = console.wait_for_text("the shift is yours");
    assert!(screen.contains("Acknowledged by"), "{screen}");
    console.send(b"q");
    assert!(console.wait_exit(), "quit must exit 0");

    let out = mastop(outgoing.path(), &config_path, &["handoff", "show"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("Acknowledged by"), "{shown}");
    assert_eq!(
        pg.psql("SELECT count(*) FROM mastop_handoffs WHERE acknowledged_at IS NOT NULL"),
        "1"
    );
}

#[test]
fn the_demo_hands_over_its_audited_actions_and_notes() {
    let mut console = pty::Console::start(&["demo", "--at", "3m"], 140, 60);
    console.wait_for_text("postgres/primary");
    // A demo action from the command line, audited like a real one in the same HOME.
    let home = console.home().to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args([
            "action",
            "run",
            "demo.nginx_reload",
            "--component",
            "edge/tokyo-1",
            "--demo",
            "--confirm",
            "tokyo-1",
        ])
        .env_clear()
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop");
    assert!(out.status.success(), "{}", text(&out));

    console.send(b":note drill: replica lag injected\r");
    console.wait_for_text("note ");
    console.send(b":handoff\r");
    let screen = console.wait_for_text("Actions during the shift (1)");
    assert!(
        screen.contains("From the demo fleet on this console"),
        "{screen}"
    );
    assert!(screen.contains("reload nginx on tokyo-1"), "{screen}");
    console.send(b"G");
    console.wait_for_text("drill: replica lag injected");
    console.send(b":handoff write alex America/New_York\r");
    let screen = console.wait_for_text("waiting for alex to acknowledge");
    assert!(screen.contains("Handoff"), "{screen}");
    console.send(b"q");
    assert!(console.wait_exit(), "quit must exit 0");
}
