//! The fleet view drawn from the demo fleet and its inventory at 80 and 160 columns, and
//! the keys that reach it and drill down from it; and the real binary in a terminal, where
//! discovered hosts appear after the first frame.

// Shared with the end-to-end tests, which use more of it.
use crate::pty;

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};
use mastop::inventory::{Inventory, InventoryHost, Origin};
use mastop::model::{ComponentMeta, Fleet, SourceState, SourceStatus};
use mastop::tui::app::{App, DemoInfo, View};
use mastop::tui::command::Command;
use mastop::tui::keymap::Keymap;
use mastop::tui::rows::fleet::Target;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

const MID_INCIDENT: Duration = Duration::from_secs(240);

fn demo_fleet(t: Duration) -> Fleet {
    let now = epoch();
    let metas: Vec<(ComponentMeta, SourceStatus)> = mastop::demo::components()
        .into_iter()
        .map(|m| (m, SourceStatus::pending(Duration::from_secs(2))))
        .collect();
    let mut fleet =
        Fleet::new(metas, Default::default()).with_alert_rules(mastop::demo::alert_rules());
    for (meta, reading) in mastop::demo::readings_at(t, now) {
        let seen = now - Duration::from_secs(1);
        let status = SourceStatus {
            state: SourceState::Ok,
            last_ok: Some(seen),
            last_attempt: Some(seen),
            ..SourceStatus::pending(Duration::from_secs(2))
        };
        fleet.apply(&meta.id, status, Some(reading));
    }
    fleet.refresh_staleness(now);
    fleet
}

fn demo_app() -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(demo_fleet(MID_INCIDENT), keymap, theme, epoch());
    app.demo = Some(DemoInfo {
        timeline: Vec::new(),
        started: epoch() - MID_INCIDENT,
        offset: Duration::ZERO,
    });
    app.identity = Some("alice@example.org".into());
    app.set_inventory(mastop::demo::inventory(epoch()));
    app.apply(Command::Fleet);
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::from(code));
}

#[test]
fn fleet_view_at_80_and_160_columns() {
    for (w, h) in [(80, 40), (160, 40)] {
        let mut app = demo_app();
        press(&mut app, KeyCode::Char('f'));
        assert_eq!(app.view, View::Fleet);
        let screen = render(&app, w, h);
        assert!(screen.contains("edge-cdn · us-west"), "{screen}");
        assert!(screen.contains("mastodon-sidekiq · eu-central"), "{screen}");
        assert!(
            screen.contains("host/sidekiq-3"),
            "the offline peer is listed:\n{screen}"
        );
        assert!(screen.contains("alice@example.org"), "{screen}");
        insta::assert_snapshot!(format!("fleet_{w}x{h}"), screen);
    }
}

#[test]
fn offline_peer_is_flagged_with_last_seen_and_counted_in_its_rollup() {
    let app = demo_app();
    let rows = &app.screens.fleet.list.table.rows;
    let text = |i: usize, col: usize| rows[i].cells[col].text.clone();
    let offline = app
        .screens
        .fleet
        .list
        .targets
        .iter()
        .position(|t| *t == Target::Host("sidekiq-3".into()))
        .expect("offline host row");
    assert_eq!(text(offline, 5), "offline · last seen 3h ago");
    assert_eq!(text(offline, 0), "▲ WARN");
    assert_eq!(text(offline, 6), "tailscale");
    let rollup = (0..offline)
        .rev()
        .find(|&i| app.screens.fleet.list.targets[i] == Target::Group)
        .expect("roll-up above");
    assert_eq!(text(rollup, 1), "▾ mastodon-sidekiq · eu-central");
    assert!(text(rollup, 7).contains("1 offline"), "{}", text(rollup, 7));
}

#[test]
fn every_component_appears_under_each_of_its_roles() {
    let mut app = demo_app();
    let listed = |app: &App| -> Vec<mastop::model::ComponentId> {
        app.screens
            .fleet
            .list
            .targets
            .iter()
            .filter_map(|t| match t {
                Target::Component(id) => Some(id.clone()),
                _ => None,
            })
            .collect()
    };
    let once = listed(&app);
    for c in app.fleet.components() {
        assert_eq!(
            once.iter().filter(|id| **id == c.meta.id).count(),
            1,
            "{} has one role in the demo",
            c.meta.id
        );
    }
    // The inventory gives web-1 a second role: it is listed under both.
    let mut inventory = mastop::demo::inventory(epoch());
    let web = inventory
        .hosts
        .iter_mut()
        .find(|h| h.config.name == "web-1")
        .expect("web-1");
    web.config.roles.push("mastodon-streaming".into());
    app.set_inventory(inventory);
    let twice = listed(&app);
    let web_1 = mastop::model::ComponentId::new("host", "web-1");
    assert_eq!(twice.iter().filter(|id| **id == web_1).count(), 2);
    assert_eq!(twice.len(), once.len() + 1);
    let rows = &app.screens.fleet.list.table.rows;
    let streaming = rows
        .iter()
        .position(|r| r.cells[1].text == "▾ mastodon-streaming · eu-central")
        .expect("streaming group");
    assert_eq!(rows[streaming].cells[7].text, "2 members");
}

#[test]
fn enter_drills_into_the_detail_and_back_returns() {
    let mut app = demo_app();
    app.apply(Command::Fleet);
    let first_component = app
        .screens
        .fleet
        .list
        .targets
        .iter()
        .position(|t| matches!(t, Target::Component(_)))
        .expect("a component row");
    let Target::Component(id) = app.screens.fleet.list.targets[first_component].clone() else {
        unreachable!()
    };
    for _ in 0..first_component {
        app.apply(Command::Down);
    }
    assert_eq!(app.selected_component(), Some(id.clone()));
    app.apply(Command::Select);
    assert_eq!(app.view, View::Detail(id.clone()));
    assert!(render(&app, 120, 40).contains(id.as_str()));
    app.apply(Command::Back);
    assert_eq!(app.view, View::Fleet);

    // A host nothing polls says why instead of opening an empty detail.
    let offline = app
        .screens
        .fleet
        .list
        .targets
        .iter()
        .position(|t| *t == Target::Host("sidekiq-3".into()))
        .expect("offline row");
    app.apply(Command::Top);
    for _ in 0..offline {
        app.apply(Command::Down);
    }
    app.apply(Command::Select);
    assert_eq!(app.view, View::Fleet);
    let flash = app.flash.as_ref().expect("a message").text.clone();
    assert!(
        flash.contains("sidekiq-3 has no detail: offline · last seen 3h ago"),
        "{flash}"
    );
}

#[test]
fn palette_and_filter_reach_the_fleet() {
    let mut app = demo_app();
    app.apply(Command::Palette);
    for c in "fleet".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Fleet);
    app.apply(Command::Filter);
    for c in "tokyo".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    let screen = render(&app, 160, 40);
    assert!(screen.contains("edge/tokyo-1"), "{screen}");
    assert!(!screen.contains("edge/fremont-1"), "{screen}");
}

#[test]
fn discovery_errors_and_hostile_names_are_shown_clean() {
    let mut app = demo_app();
    let mut hostile = mastop::demo::inventory(epoch());
    let mut host: InventoryHost = hostile.hosts[0].clone();
    host.config.name = "evil\u{1b}]0;pwned\u{7}-1".into();
    host.config.roles = vec!["mastodon-web\u{1b}[31m".into()];
    host.origins = vec![Origin::Ansible];
    hostile.hosts.push(host);
    hostile.errors = vec![
        "tailscaled LocalAPI answered HTTP 403: forbidden".into(),
        "`ansible-inventory -i hosts.yml --list` did not finish within 5s".into(),
    ];
    app.set_inventory(hostile);
    app.apply(Command::Fleet);
    let screen = render(&app, 160, 40);
    assert!(screen.contains("HTTP 403"), "{screen}");
    assert!(screen.contains("did not finish within 5s"), "{screen}");
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{7}'),
        "{screen}"
    );
    assert!(screen.contains("host/evil-1"), "{screen}");
    assert_eq!(
        screen.matches("mastodon-web · eu-central").count(),
        1,
        "one group, however the role was spelled:\n{screen}"
    );
    insta::assert_snapshot!("fleet_errors_160x40", screen);
}

#[test]
fn without_discovery_or_identity_the_header_says_so() {
    let mut app = demo_app();
    app.identity = None;
    app.set_inventory(Inventory::default());
    let line = mastop::tui::rows::fleet::status_line(
        &app.screens.fleet.inventory,
        app.identity.as_deref(),
        app.now,
    );
    assert_eq!(
        line,
        "no inventory hosts · discovery off · no tailnet identity"
    );
    let header = render(&app, 160, 40);
    assert!(!header.lines().next().unwrap_or_default().contains('@'));
}

#[test]
fn in_the_demo_f_opens_the_fleet_and_enter_drills_down() {
    let mut c = pty::Console::start(&["demo"], 160, 40);
    c.wait_for_text("postgres/primary");
    c.send(b"f");
    c.wait_for_text("fleet by role and region");
    let screen = c.wait_for_text("offline · last seen 3h ago");
    assert!(screen.contains("host/sidekiq-3"), "{screen}");
    c.send(b"j"); // past the first roll-up line, onto its first member
    c.send(b"\r");
    let detail = c.wait_for_text("source ok");
    assert!(detail.contains("edge/tokyo-1"), "{detail}");
    c.send(b"\x1b");
    c.wait_for_text("fleet by role and region");
    c.send(b"q");
    assert!(c.wait_exit(), "quit must exit 0");
}

#[test]
fn discovered_hosts_reach_the_running_console() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::write(
        &config,
        format!(
            "[inventory.tailscale]\nsocket = \"{}\"\ncommand = [\"cat\", \"{}\"]\n\n[inventory.ansible]\nfile = \"{}\"\n",
            dir.path().join("absent.sock").display(),
            fixtures.join("tailscale/status.json").display(),
            dir.path().join("missing-inventory.json").display(),
        ),
    )
    .expect("write config");
    let mut c = pty::Console::start(&["--config", config.to_str().expect("utf-8")], 160, 40);
    c.wait_for_text("mastop");
    c.send(b":fleet\r");
    c.wait_for_text("fleet by role and region");
    let screen = c.wait_for("discovery returned", |s| {
        s.contains("prod-mastodon-sidekiq01")
    });
    assert!(screen.contains("5 hosts (5 tailscale)"), "{screen}");
    assert!(screen.contains("offline · last seen"), "{screen}");
    assert!(
        screen.contains("missing-inventory.json"),
        "the failed source is named:\n{screen}"
    );
    assert!(screen.contains("no tailnet identity"), "{screen}");
    // From now on the online hosts discovery found are polled like configured ones; the
    // offline peer is flagged, not polled.
    let screen = c.wait_for("discovered hosts polled", |s| {
        s.contains("unreachable: ssh prod-mastodon-web01")
            && s.contains("unreachable: ssh cdn-fremont-1")
    });
    assert!(
        screen.contains("offline in Tailscale: not polled"),
        "{screen}"
    );
    c.send(b"q");
    assert!(c.wait_exit(), "quit must exit 0");
}
