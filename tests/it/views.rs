//! Every view drawn at 120x40 and 80x24 (and the too-small screen), from the demo fleet at
//! fixed times, compared against reviewed snapshots.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mastop::model::{ComponentId, ComponentMeta, Fleet, SourceState, SourceStatus};
use mastop::tui::app::{App, DemoInfo};
use mastop::tui::command::Command;
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// A fixed wall clock so ages and the header clock are stable.
fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

/// The demo fleet as it looks `t` into the script, with 16 samples of history behind it.
fn demo_fleet(t: Duration) -> Fleet {
    let now = epoch();
    let first = mastop::demo::readings_at(t, now);
    let metas: Vec<(ComponentMeta, SourceStatus)> = first
        .iter()
        .map(|(m, _)| (m.clone(), SourceStatus::pending(Duration::from_secs(2))))
        .collect();
    let mut fleet =
        Fleet::new(metas, Default::default()).with_alert_rules(mastop::demo::alert_rules());
    for k in (0..16u64).rev() {
        let at = t.saturating_sub(Duration::from_secs(k * 2));
        let seen = now - Duration::from_secs(k * 2 + 1);
        for (meta, reading) in mastop::demo::readings_at(at, now - (t - at)) {
            let status = SourceStatus {
                state: SourceState::Ok,
                last_ok: Some(seen),
                last_attempt: Some(seen),
                ..SourceStatus::pending(Duration::from_secs(2))
            };
            fleet.apply(&meta.id, status, Some(reading));
        }
    }
    fleet.refresh_staleness(now);
    fleet
}

fn app_with(fleet: Fleet, t: Duration) -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(fleet, keymap, theme, epoch());
    app.demo = Some(DemoInfo {
        timeline: mastop::demo::timeline()
            .into_iter()
            .map(|(t, s)| (t, s.to_string()))
            .collect(),
        started: epoch() - t,
        offset: Duration::ZERO,
    });
    app.rebuild();
    app
}

fn demo_app(t: Duration) -> App {
    app_with(demo_fleet(t), t)
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

fn press(app: &mut App, code: crossterm::event::KeyCode) {
    app.handle_key(crossterm::event::KeyEvent::from(code));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ));
    }
}

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];
/// Far enough into the script that every incident is visible.
const MID_INCIDENT: Duration = Duration::from_secs(240);

#[test]
fn overview() {
    for (w, h) in SIZES {
        let app = demo_app(MID_INCIDENT);
        insta::assert_snapshot!(format!("overview_{w}x{h}"), render(&app, w, h));
    }
}

#[test]
fn overview_at_start_of_demo() {
    let app = demo_app(Duration::ZERO);
    insta::assert_snapshot!("overview_start_120x40", render(&app, 120, 40));
}

#[test]
fn every_kind_view() {
    let app = demo_app(MID_INCIDENT);
    let kinds = app.fleet.kinds();
    assert!(
        kinds.len() >= 6,
        "demo fleet should have every kind, has {kinds:?}"
    );
    for (i, kind) in kinds.iter().enumerate() {
        for (w, h) in SIZES {
            let mut app = demo_app(MID_INCIDENT);
            let view = [
                Command::View2,
                Command::View3,
                Command::View4,
                Command::View5,
                Command::View6,
                Command::View7,
                Command::View8,
            ][i];
            app.apply(view);
            let screen = render(&app, w, h);
            assert!(screen.contains(kind), "view {i} should show {kind}");
            insta::assert_snapshot!(format!("kind_{kind}_{w}x{h}"), screen);
        }
    }
}

#[test]
fn detail_of_each_kind() {
    let app = demo_app(MID_INCIDENT);
    let mut firsts: Vec<ComponentId> = Vec::new();
    for kind in app.fleet.kinds() {
        if let Some(c) = app.fleet.components().iter().find(|c| c.meta.kind == kind) {
            firsts.push(c.meta.id.clone());
        }
    }
    for id in firsts {
        for (w, h) in SIZES {
            let mut app = demo_app(MID_INCIDENT);
            app.apply(Command::Palette);
            type_text(&mut app, id.as_str().split('/').next().unwrap_or_default());
            press(&mut app, crossterm::event::KeyCode::Enter);
            let screen_kind = render(&app, w, h);
            assert!(!screen_kind.contains("unknown command"), "{screen_kind}");
            app.apply(Command::Top);
            app.apply(Command::Select);
            let screen = render(&app, w, h);
            assert!(
                screen.contains(id.as_str()),
                "detail of {id} should name it:\n{screen}"
            );
            insta::assert_snapshot!(
                format!("detail_{}_{w}x{h}", id.as_str().replace('/', "_")),
                screen
            );
        }
    }
}

#[test]
fn help_overlay_lists_the_active_keymap() {
    for (w, h) in SIZES {
        let mut app = demo_app(MID_INCIDENT);
        app.apply(Command::Help);
        let screen = render(&app, w, h);
        assert!(screen.contains("Help"));
        assert!(screen.contains("quit mastop"));
        insta::assert_snapshot!(format!("help_{w}x{h}"), screen);
    }
}

#[test]
fn palette_shows_completions() {
    let mut app = demo_app(MID_INCIDENT);
    app.apply(Command::Palette);
    type_text(&mut app, "e");
    let screen = render(&app, 120, 40);
    assert!(screen.contains(":e█"), "{screen}");
    assert!(
        screen.contains("edge") && screen.contains("elasticsearch"),
        "{screen}"
    );
    insta::assert_snapshot!("palette_120x40", screen);
}

/// The terminal's own cursor sits on the prompt's cursor mark, whatever the typed text is
/// made of: wide characters (CJK, emoji) take two columns each.
#[test]
fn the_prompt_cursor_follows_the_display_width_of_the_text() {
    for (open, text) in [
        (Command::Filter, "東京"),
        (Command::Filter, "🦣 mammut é"),
        (Command::Palette, "日本語x"),
        (Command::Filter, "plain"),
    ] {
        let mut app = demo_app(MID_INCIDENT);
        app.apply(open);
        type_text(&mut app, text);
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
        terminal.draw(|f| views::draw(f, &app)).expect("draw");
        let cursor = terminal.get_cursor_position().expect("cursor position");
        let buffer = terminal.backend().buffer();
        let mark = (0..buffer.area.width)
            .find(|&x| buffer[(x, cursor.y)].symbol() == "█")
            .unwrap_or_else(|| panic!("no cursor mark on the prompt line for {text:?}"));
        assert_eq!(
            cursor.x, mark,
            "{text:?}: the cursor is at column {}, the mark at {mark}",
            cursor.x
        );
    }
}

#[test]
fn filter_narrows_the_overview() {
    let mut app = demo_app(MID_INCIDENT);
    app.apply(Command::Filter);
    type_text(&mut app, "edge");
    let screen = render(&app, 120, 40);
    assert!(screen.contains("/edge"), "{screen}");
    assert!(
        !screen.contains("postgres/primary"),
        "filtered rows must disappear:\n{screen}"
    );
    insta::assert_snapshot!("filter_120x40", screen);
    press(&mut app, crossterm::event::KeyCode::Esc);
    assert!(
        render(&app, 120, 40).contains("postgres/primary"),
        "cancel restores the rows"
    );
}

#[test]
fn too_small_terminal_asks_to_enlarge() {
    let app = demo_app(MID_INCIDENT);
    let screen = render(&app, 50, 10);
    assert!(screen.contains("Please enlarge the terminal"));
    assert!(screen.contains("50×10"));
    insta::assert_snapshot!("too_small_50x10", screen);
}

#[test]
fn empty_fleet_explains_what_to_do() {
    let app = app_with(Fleet::new(Vec::new(), Default::default()), Duration::ZERO);
    let screen = render(&app, 120, 40);
    assert!(screen.contains("no components configured"), "{screen}");
    insta::assert_snapshot!("empty_120x40", screen);
}

/// A backend that sends escape sequences in its error text must not reach the terminal raw,
/// and a down component is shown as such with its error and the age of its last data.
#[test]
fn down_component_with_hostile_error_is_sanitised() {
    let meta = ComponentMeta {
        id: ComponentId::new("redis", "evil"),
        kind: "redis",
        region: "\u{1b}]0;pwned\u{7}eu".into(),
        tags: vec![],
    };
    let mut fleet = Fleet::new(
        vec![(meta.clone(), SourceStatus::pending(Duration::from_secs(2)))],
        Default::default(),
    );
    let status = SourceStatus {
        state: SourceState::Down,
        last_attempt: Some(epoch()),
        error: Some("connect failed: \u{1b}[2J\u{1b}[31mboom\u{202e}gnp".into()),
        consecutive_failures: 3,
        down_since: Some(epoch() - Duration::from_secs(40)),
        retry_every: Some(Duration::from_secs(2)),
        next_attempt: Some(epoch() + Duration::from_secs(1)),
        ..SourceStatus::pending(Duration::from_secs(2))
    };
    fleet.apply(&meta.id, status, None::<Arc<dyn mastop::model::Reading>>);
    let mut app = app_with(fleet, Duration::ZERO);
    app.demo = None;
    app.rebuild();
    let screen = render(&app, 120, 40);
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{202e}'),
        "{screen:?}"
    );
    assert!(screen.contains("✖ CRIT"), "{screen}");
    assert!(
        screen.contains("unreachable: connect failed: boom"),
        "{screen}"
    );
    app.apply(Command::Select);
    let detail = render(&app, 120, 40);
    assert!(!detail.contains('\u{1b}') && !detail.contains('\u{202e}'));
    assert!(detail.contains("connect failed: boomgnp"), "{detail}");
    // While down, the header says how it retries, not the cadence it cannot keep.
    assert!(
        detail.contains("source down for 40s · retrying every 2s · next in 1s · data age —"),
        "{detail}"
    );
    assert!(!detail.contains("every 2s · connect"), "{detail}");
    assert!(
        !detail.contains("]0;pwned"),
        "the region's escape sequence is removed whole:\n{detail}"
    );
    insta::assert_snapshot!("down_component_detail_120x40", detail);
}

/// In a detail view with several tables, `]` moves the keys (and the marker) to the next
/// table, and sorting then applies to that table only.
#[test]
fn detail_tables_take_focus_in_turn() {
    let mut app = demo_app(MID_INCIDENT);
    app.apply(Command::View3); // hosts
    app.apply(Command::Select);
    let marked =
        |screen: &str, title: &str| screen.lines().any(|l| l.contains(title) && l.contains('▶'));
    let before = render(&app, 120, 40);
    assert!(marked(&before, "Filesystems"), "{before}");
    app.apply(Command::NextPane);
    app.apply(Command::SortReverse);
    let after = render(&app, 120, 40);
    assert!(
        marked(&after, "Disks") && !marked(&after, "Filesystems"),
        "{after}"
    );
    let focus = app.screens.detail.state.as_ref().map(|d| d.focus);
    assert_eq!(focus, Some(1));
    let sorts: Vec<bool> = app
        .screens
        .detail
        .state
        .as_ref()
        .map(|d| d.tables.iter().map(|t| t.sort.is_some()).collect())
        .unwrap_or_default();
    assert_eq!(
        sorts.get(..2),
        Some(&[false, true][..]),
        "only the focused table is sorted"
    );
    app.apply(Command::PrevPane);
    assert!(marked(&render(&app, 120, 40), "Filesystems"));
    insta::assert_snapshot!("detail_second_table_focused_120x40", after);
}

fn press_key(app: &mut App, code: crossterm::event::KeyCode) -> mastop::tui::app::Effect {
    app.handle_key(crossterm::event::KeyEvent::from(code))
}

/// `a` on a host opens its actions; choosing one opens the dialog with focus on Cancel,
/// showing the exact operations; enter on Cancel closes it without running anything.
#[test]
fn action_menu_and_dialog_start_on_cancel() {
    use crossterm::event::KeyCode;
    use mastop::tui::app::Effect;
    let mut app = demo_app(MID_INCIDENT);
    app.role = mastop::actions::Role::Oncall;
    app.apply(Command::View3); // hosts; first row web-1
    app.apply(Command::Actions);
    let menu = render(&app, 120, 40);
    assert!(menu.contains("Actions on host/web-1"), "{menu}");
    assert!(menu.contains("Restart nginx.service on web-1"), "{menu}");
    insta::assert_snapshot!("action_menu_120x40", menu);
    press_key(&mut app, KeyCode::Down); // the second entry: restart nginx
    let effect = press_key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effect, Effect::Preview(_)),
        "choosing an action asks for a preview first"
    );
    let dialog = render(&app, 120, 40);
    assert!(
        dialog.contains("(simulated) ssh web-1 -- systemctl restart nginx.service"),
        "{dialog}"
    );
    assert!(dialog.contains("Type web-1 to confirm"), "{dialog}");
    insta::assert_snapshot!("action_dialog_oncall_120x40", dialog);
    // typing goes into the confirmation, enter with focus still on Cancel closes
    for c in "web-1".chars() {
        press_key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(app.dialog.as_ref().map(|d| d.typed.as_str()), Some("web-1"));
    assert_eq!(press_key(&mut app, KeyCode::Enter), Effect::None);
    assert!(
        app.dialog.is_none(),
        "enter on Cancel closes without running"
    );
    // again, tab to Run, enter: now it runs, with the typed name
    app.apply(Command::Actions);
    press_key(&mut app, KeyCode::Down);
    press_key(&mut app, KeyCode::Enter);
    for c in "web-1".chars() {
        press_key(&mut app, KeyCode::Char(c));
    }
    press_key(&mut app, KeyCode::Tab);
    match press_key(&mut app, KeyCode::Enter) {
        Effect::Run(action, mastop::actions::Confirmation::Typed(typed), None) => {
            assert_eq!(action.kind, "demo.restart_unit");
            assert_eq!(typed, "web-1");
        }
        other => panic!("expected a run with the typed name, got {other:?}"),
    }
}

#[test]
fn shadow_sees_the_dialog_read_only() {
    use crossterm::event::KeyCode;
    let mut app = demo_app(MID_INCIDENT);
    assert_eq!(
        app.role,
        mastop::actions::Role::Shadow,
        "the default role is shadow"
    );
    app.apply(Command::View3);
    app.apply(Command::Actions);
    press_key(&mut app, KeyCode::Enter);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("SHADOW · read-only"),
        "the header says so:\n{screen}"
    );
    assert!(screen.contains("read-only: shadowing"), "{screen}");
    assert!(screen.contains("[ Run (read-only) ]"), "{screen}");
    assert!(
        !screen.contains("Type web-1 to confirm"),
        "no confirmation field for shadow:\n{screen}"
    );
    insta::assert_snapshot!("action_dialog_shadow_120x40", screen);
}

#[test]
fn freeze_banner_and_audit_view() {
    use mastop::actions::audit::{AuditRecord, Outcome, Phase};
    let mut app = demo_app(MID_INCIDENT);
    app.freeze = Some(mastop::actions::Freeze {
        by: "kris on laptop".into(),
        reason: "handoff to EMEA".into(),
        since: "2026-11-26T08:00:00Z".into(),
    });
    let record = |phase, outcome, title: &str, error: Option<&str>| AuditRecord {
        id: "r".into(),
        action_id: "a".into(),
        time: "2026-11-26T08:01:02.345Z".into(),
        phase,
        operator: "kris".into(),
        tailscale_login: None,
        console_host: "laptop".into(),
        console_id: "laptop:1".into(),
        role: "oncall".into(),
        kind: "demo.restart_unit".into(),
        title: title.into(),
        target: "host/web-1 nginx.service".into(),
        target_key: "host/web-1#nginx.service".into(),
        risk: "high".into(),
        operations: vec!["(simulated) ssh web-1 -- systemctl restart nginx.service".into()],
        guards: vec![],
        outcome,
        duration_ms: Some(5001),
        error: error.map(String::from),
        result: None,
        runbook: None,
    };
    app.set_audit(vec![
        record(Phase::Intent, None, "Restart nginx.service on web-1", None),
        record(
            Phase::Outcome,
            Some(Outcome::Ok),
            "Restart nginx.service on web-1",
            None,
        ),
        record(
            Phase::Outcome,
            Some(Outcome::Refused),
            "Clear the dead set",
            Some("frozen by kris"),
        ),
    ]);
    app.apply(Command::Palette);
    type_text(&mut app, "audit");
    press(&mut app, crossterm::event::KeyCode::Enter);
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("FROZEN by kris on laptop: handoff to EMEA"),
        "{screen}"
    );
    assert!(screen.contains("Audit"), "{screen}");
    let refused = screen
        .lines()
        .position(|l| l.contains("refused"))
        .expect("refused row");
    let started = screen
        .lines()
        .position(|l| l.contains("started"))
        .expect("started row");
    assert!(refused < started, "newest first:\n{screen}");
    insta::assert_snapshot!("audit_frozen_120x40", screen);
}

/// `v` outside a detail row explains itself; on a detail row it asks for a reveal of that
/// row (the runtime decides, by role, and records it); the revealed overlay closes on a key.
#[test]
fn reveal_asks_for_the_selected_row_and_the_overlay_closes_on_any_key() {
    use mastop::tui::app::{Effect, Revealed};
    let mut app = demo_app(MID_INCIDENT);
    assert_eq!(app.apply(Command::Reveal), Effect::None);
    assert!(render(&app, 120, 40).contains("select a row in a detail view"));
    app.apply(Command::View4); // sidekiq
    app.apply(Command::Select);
    match app.apply(Command::Reveal) {
        Effect::Reveal {
            component,
            table,
            key,
            ..
        } => {
            assert_eq!(component, "sidekiq/main");
            assert_eq!(table, "Queues");
            assert!(!key.is_empty());
        }
        other => panic!("expected a reveal request, got {other:?}"),
    }
    app.reveal_done(Ok(Revealed {
        title: "sidekiq/main · Retries · 1-abc".into(),
        content: "{\"args\":[\"\u{1b}[2Jhi\"]}".into(),
    }));
    let screen = render(&app, 120, 40);
    assert!(
        screen.contains("revealed to you and recorded in the audit log"),
        "{screen}"
    );
    assert!(
        screen.contains("{\"args\":[\"hi\"]}") && !screen.contains('\u{1b}'),
        "sanitised:\n{screen}"
    );
    press(&mut app, crossterm::event::KeyCode::Char('x'));
    assert!(app.revealed.is_none());
}
