//! The console's runbook screen: list, details, form, preview and run, drawn from state
//! and compared against reviewed snapshots; the keys that lead from one to the next; shadow
//! sees everything but can never start a run.

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent};
use mastop::actions::{Outcome, Role};
use mastop::model::Fleet;
use mastop::runbooks::{Event, Inventory, RunEnd, Summary};
use mastop::tui::app::{App, Effect};
use mastop::tui::keymap::Keymap;
use mastop::tui::runbooks::{Runbooks, Stage};
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn app(role: Role) -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(
        Fleet::new(Vec::new(), Default::default()),
        keymap,
        theme,
        epoch(),
    );
    app.role = role;
    app.runbooks = Runbooks::new(
        mastop::runbooks::library::shipped(),
        Inventory::demo(),
        true,
    );
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

fn press(app: &mut App, code: KeyCode) -> Effect {
    app.handle_key(KeyEvent::from(code))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn stage(app: &App) -> Option<Stage> {
    app.runbooks.screen.as_ref().map(|s| s.stage)
}

/// `:runbooks`, then down to `name`, then enter (details).
fn open_details(app: &mut App, name: &str) {
    press(app, KeyCode::Char(':'));
    type_text(app, "runbooks");
    press(app, KeyCode::Enter);
    assert_eq!(stage(app), Some(Stage::List));
    while app.runbooks.selected().is_some_and(|r| r.name != name) {
        let before = app.runbooks.screen.as_ref().map(|s| s.selected);
        press(app, KeyCode::Down);
        assert_ne!(
            before,
            app.runbooks.screen.as_ref().map(|s| s.selected),
            "{name} not found"
        );
    }
    press(app, KeyCode::Enter);
    assert_eq!(stage(app), Some(Stage::Details));
}

#[test]
fn list_and_details() {
    let mut app = app(Role::Oncall);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "runbooks");
    press(&mut app, KeyCode::Enter);
    for (w, h) in [(120, 40), (80, 24)] {
        insta::assert_snapshot!(format!("runbook_list_{w}x{h}"), render(&app, w, h));
    }
    press(&mut app, KeyCode::Esc);
    assert_eq!(stage(&app), None, "esc closes the list");
    open_details(&mut app, "rolling-reload-web");
    insta::assert_snapshot!("runbook_details_120x40", render(&app, 120, 40));
}

#[test]
fn form_refuses_bad_values_and_previews_good_ones() {
    let mut app = app(Role::Oncall);
    open_details(&mut app, "restart-sidekiq-unit");
    press(&mut app, KeyCode::Enter);
    assert_eq!(stage(&app), Some(Stage::Form));
    // host: type a host that is not a Sidekiq host.
    type_text(&mut app, "web-1");
    press(&mut app, KeyCode::Down);
    // unit: replace the default with something hostile.
    app.handle_key(KeyEvent::new(
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    type_text(&mut app, "nginx.service; reboot");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        stage(&app),
        Some(Stage::Form),
        "bad values stay in the form"
    );
    insta::assert_snapshot!("runbook_form_errors_120x40", render(&app, 120, 40));
    // Fix both: tab cycles the host choices, ctrl-u clears the unit.
    press(&mut app, KeyCode::Up);
    app.handle_key(KeyEvent::new(
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Down);
    app.handle_key(KeyEvent::new(
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ));
    type_text(&mut app, "mastodon-sidekiq-pull.service");
    press(&mut app, KeyCode::Enter);
    assert_eq!(stage(&app), Some(Stage::Preview));
    insta::assert_snapshot!("runbook_preview_oncall_120x40", render(&app, 120, 40));
    // Tab switches to the dry-run plan.
    press(&mut app, KeyCode::Tab);
    insta::assert_snapshot!("runbook_preview_dry_run_120x40", render(&app, 120, 40));
}

#[test]
fn only_oncall_with_the_typed_name_starts_a_run() {
    for role in [Role::Shadow, Role::Oncall] {
        let mut app = app(role);
        open_details(&mut app, "purge-domain");
        press(&mut app, KeyCode::Enter);
        type_text(&mut app, "spam.example");
        press(&mut app, KeyCode::Enter);
        assert_eq!(stage(&app), Some(Stage::Preview));
        type_text(&mut app, "purge");
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::None);
        if role == Role::Shadow {
            insta::assert_snapshot!("runbook_preview_shadow_120x40", render(&app, 120, 40));
            type_text(&mut app, "-domain");
            assert_eq!(
                press(&mut app, KeyCode::Enter),
                Effect::None,
                "shadow never starts a run"
            );
            continue;
        }
        assert!(render(&app, 120, 40).contains("type `purge-domain` to run it"));
        type_text(&mut app, "-domain");
        let Effect::Runbook(start) = press(&mut app, KeyCode::Enter) else {
            panic!("the run starts");
        };
        assert_eq!(start.typed.as_deref(), Some("purge-domain"));
        assert_eq!(
            start.plan.values.get("domain").map(String::as_str),
            Some("spam.example")
        );
        assert_eq!(stage(&app), Some(Stage::Run));
        // Pause and abort act on the run's control.
        press(&mut app, KeyCode::Char('p'));
        assert!(start.control.is_paused());
        press(&mut app, KeyCode::Char('x'));
        assert!(start.control.is_aborted());
        press(&mut app, KeyCode::Esc);
        assert_eq!(
            stage(&app),
            Some(Stage::Run),
            "a run in progress stays on screen"
        );
    }
}

#[test]
fn run_log_shows_each_step_and_its_outcome() {
    let mut app = app(Role::Oncall);
    open_details(&mut app, "clear-dead-set");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        stage(&app),
        Some(Stage::Form),
        "the Sidekiq endpoint, default main"
    );
    press(&mut app, KeyCode::Enter);
    type_text(&mut app, "clear-dead-set");
    let Effect::Runbook(_) = press(&mut app, KeyCode::Enter) else {
        panic!("starts");
    };
    for e in [
        Event::Started {
            run: "r1".into(),
            runbook: "clear-dead-set".into(),
            dry_run: false,
        },
        Event::StepStarted {
            number: 1,
            title: "Count the dead set".into(),
        },
        Event::ActionStarted {
            number: 1,
            title: "Count the dead set · sidekiq/main".into(),
            operations: vec!["(simulated) ZCARD dead".into()],
        },
        Event::ActionFinished {
            number: 1,
            title: "Count the dead set · sidekiq/main".into(),
            outcome: Outcome::Ok,
            message: "Count the dead set · sidekiq/main: done (simulated: ZCARD dead)".into(),
        },
        Event::StepStarted {
            number: 2,
            title: "Delete the dead set".into(),
        },
        Event::ActionStarted {
            number: 2,
            title: "Delete the dead set · sidekiq/main".into(),
            operations: vec!["(simulated) UNLINK dead".into()],
        },
    ] {
        app.runbooks.event(e);
    }
    insta::assert_snapshot!("runbook_run_in_progress_120x40", render(&app, 120, 40));
    app.runbooks.event(Event::ActionFinished {
        number: 2,
        title: "Delete the dead set · sidekiq/main".into(),
        outcome: Outcome::Failed,
        message: "Delete the dead set · sidekiq/main: failed (\u{1b}[31mREADONLY You can't write against a read only replica.)".into(),
    });
    app.runbooks.event(Event::Finished(Summary {
        run: "r1".into(),
        runbook: "clear-dead-set".into(),
        end: RunEnd::Failed {
            step: 2,
            reason: "READONLY".into(),
        },
        actions_ok: 1,
    }));
    let screen = render(&app, 120, 40);
    assert!(!screen.contains('\u{1b}'), "backend text is sanitised");
    insta::assert_snapshot!("runbook_run_failed_120x40", screen);
    press(&mut app, KeyCode::Esc);
    assert_eq!(
        stage(&app),
        Some(Stage::List),
        "a finished run goes back to the list"
    );
}

#[test]
fn escape_sequences_in_runbook_files_never_reach_the_terminal() {
    let mut app = app(Role::Oncall);
    let hostile = "name = \"evil\"\ntitle = \"\\u001b]0;pwned\\u0007Evil \\u001b[2J title\"\ndescription = \"line\\u001b[31m red\"\nrisk = \"low\"\n[[step]]\ntitle = \"\\u001b[Hstep\"\nwait = { delay = \"1s\" }\n";
    let runbook = mastop::runbooks::file::parse("evil.toml", hostile).expect("parses");
    app.runbooks.library.runbooks.insert(0, runbook);
    press(&mut app, KeyCode::Char(':'));
    type_text(&mut app, "runbooks");
    press(&mut app, KeyCode::Enter);
    let list = render(&app, 120, 40);
    assert!(list.contains("Evil  title"), "{list}");
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Enter);
    for screen in [list, render(&app, 120, 40)] {
        assert!(!screen.contains('\u{1b}'));
        assert!(!screen.contains('\u{7}'));
    }
}
