//! Detail views on wide terminals: several tables, key/value panels and charts at once,
//! per kind, from the demo fleet at a fixed time with four minutes of history behind it;
//! 80x24 keeps the focused table and its strip.

use std::time::{Duration, SystemTime};

use mastop::model::history::{HISTORY_LEN, WINDOW};
use mastop::model::{ComponentId, ComponentMeta, Fleet, SourceState, SourceStatus};
use mastop::tui::app::{App, View};
use mastop::tui::command::Command;
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

const AT: Duration = Duration::from_secs(240);
const CADENCE: Duration = Duration::from_secs(2);

/// The demo fleet `AT` into the script, polled every two seconds from its start.
fn fleet() -> Fleet {
    let now = epoch();
    let first = mastop::demo::readings_at(AT, now);
    let metas: Vec<(ComponentMeta, SourceStatus)> = first
        .iter()
        .map(|(m, _)| (m.clone(), SourceStatus::pending(CADENCE)))
        .collect();
    let mut fleet = Fleet::new(metas, Default::default());
    let steps = (AT.as_secs() / CADENCE.as_secs()) as u32;
    for k in (0..=steps).rev() {
        let back = CADENCE * k;
        let seen = now - back;
        for (meta, reading) in mastop::demo::readings_at(AT - back, seen) {
            let status = SourceStatus {
                state: SourceState::Ok,
                last_ok: Some(seen),
                last_attempt: Some(seen),
                ..SourceStatus::pending(CADENCE)
            };
            fleet.apply(&meta.id, status, Some(reading));
        }
    }
    fleet.refresh_staleness(now);
    fleet
}

fn detail_app(fleet: Fleet, id: &ComponentId) -> App {
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(fleet, keymap, theme, epoch());
    app.view = View::Detail(id.clone());
    app.rebuild();
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| views::draw(f, app)).expect("draw");
    terminal.backend().to_string()
}

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

/// What each wide layout shows at once: its tables, panels and charts by title.
const CASES: [(&str, &str, &[&str]); 4] = [
    (
        "postgres",
        "primary",
        &[
            "activity",
            "blocking",
            "server",
            "throughput",
            "transactions",
            "connections used",
        ],
    ),
    (
        "sidekiq",
        "main",
        &[
            "Queues",
            "Processes",
            "Stats",
            "queue latency",
            "enqueued",
            "busy",
        ],
    ),
    (
        "host",
        "web-1",
        &[
            "CPU busy",
            "load per CPU",
            "memory",
            "disk busy",
            "network",
            "System",
            "Filesystems",
        ],
    ),
    ("redis", "main", &["memory"]),
];

#[test]
fn each_detail_view_at_three_sizes() {
    let fleet = fleet();
    for (kind, name, titles) in CASES {
        let id = ComponentId::new(kind, name);
        assert!(fleet.get(&id).is_some(), "the demo has {id}");
        for (w, h) in SIZES {
            let app = detail_app(fleet.clone(), &id);
            let screen = render(&app, w, h);
            assert!(screen.contains(id.as_str()), "{id} {w}x{h}:\n{screen}");
            if w >= 120 {
                for title in titles {
                    assert!(
                        screen.contains(title),
                        "{id} at {w}x{h} shows {title}:\n{screen}"
                    );
                }
                // A time axis, labelled in time before now.
                assert!(screen.contains("now"), "{id} {w}x{h}:\n{screen}");
                assert!(screen.contains("-4m"), "{id} {w}x{h}:\n{screen}");
            } else {
                assert!(screen.contains("tables:") || kind == "redis", "{screen}");
                assert!(!screen.contains("-4m"), "no chart at {w}x{h}:\n{screen}");
            }
            insta::assert_snapshot!(format!("{kind}_{name}_{w}x{h}"), screen);
        }
    }
}

/// The key figures of every kind the demo has get a chart in the wide generic layout.
#[test]
fn every_other_kind_draws_charts_when_wide() {
    let fleet = fleet();
    for kind in fleet.kinds() {
        if ["postgres", "sidekiq", "host"].contains(&kind) {
            continue;
        }
        let Some(c) = fleet.components().iter().find(|c| c.meta.kind == kind) else {
            continue;
        };
        if c.trends().is_empty() {
            continue;
        }
        let app = detail_app(fleet.clone(), &c.meta.id);
        let screen = render(&app, 160, 45);
        let key = c.key_figure().map(|f| f.label).unwrap_or_default();
        assert!(
            screen.contains(key),
            "{} charts {key}:\n{screen}",
            c.meta.id
        );
        assert!(screen.contains("now"), "{}:\n{screen}", c.meta.id);
    }
}

/// Focus moves between the tables laid out side by side; the marker follows it, and the
/// selection keys act on the focused table only.
#[test]
fn focus_moves_between_the_tables_on_screen() {
    let id = ComponentId::new("postgres", "primary");
    let mut app = detail_app(fleet(), &id);
    let tables: Vec<String> = app
        .screens
        .detail
        .state
        .as_ref()
        .map(|d| {
            mastop::tui::rows::detail::table_titles(&d.detail)
                .into_iter()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let activity = tables
        .iter()
        .position(|t| t.starts_with("activity"))
        .expect("an activity table");
    let blocking = tables
        .iter()
        .position(|t| t == "blocking")
        .expect("a blocking table");
    while app.screens.detail.state.as_ref().map(|d| d.focus) != Some(activity) {
        app.apply(Command::NextPane);
    }
    let screen = render(&app, 200, 60);
    let marked =
        |screen: &str, title: &str| screen.lines().any(|l| l.contains(&format!("▶ {title}")));
    assert!(marked(&screen, "activity"), "{screen}");
    assert!(
        screen.contains(" blocking "),
        "blocking is on screen beside it:\n{screen}"
    );
    app.apply(Command::Down);
    let selected: Vec<usize> = app
        .screens
        .detail
        .state
        .as_ref()
        .map(|d| d.tables.iter().map(|t| t.selected_position()).collect())
        .unwrap_or_default();
    assert_eq!(selected[activity], 1, "{selected:?}");
    assert_eq!(selected[blocking], 0, "{selected:?}");

    while app.screens.detail.state.as_ref().map(|d| d.focus) != Some(blocking) {
        app.apply(Command::NextPane);
    }
    let screen = render(&app, 200, 60);
    assert!(marked(&screen, "blocking"), "{screen}");
    assert!(!marked(&screen, "activity"), "{screen}");
    insta::assert_snapshot!("postgres_blocking_focused_200x60", screen);

    // A table not placed on its own goes in the strip and is drawn when focused.
    let horizon = tables
        .iter()
        .position(|t| t == "horizon")
        .expect("a horizon table");
    while app.screens.detail.state.as_ref().map(|d| d.focus) != Some(horizon) {
        app.apply(Command::NextPane);
    }
    let screen = render(&app, 200, 60);
    assert!(marked(&screen, "horizon"), "{screen}");
}

/// An hour backfilled from Prometheus is drawn over an hour, not the last 60 points.
#[test]
fn an_hour_of_backfill_is_drawn_over_an_hour() {
    let mut fleet = fleet();
    let id = ComponentId::new("host", "web-1");
    let values: Vec<f64> = (0..HISTORY_LEN).map(|i| (i % 10) as f64 * 10.0).collect();
    fleet.backfill(&id, "cpu_busy_pct", values);
    let history = fleet
        .get(&id)
        .and_then(|c| c.history("cpu_busy_pct"))
        .expect("history");
    let (first, last) = (
        history.points().next().expect("a point"),
        history.latest().expect("a point"),
    );
    let span = last.at.duration_since(first.at).expect("oldest first");
    assert!(
        span > WINDOW - Duration::from_secs(120) && span <= WINDOW,
        "{span:?}"
    );
    // Four minutes polled every 2 s, then the backfill's minutes that still fit the hour.
    let polled = 121;
    let backfilled = (WINDOW.as_secs() - 240) / 60;
    assert_eq!(history.len(), polled + backfilled as usize);
    let screen = render(&detail_app(fleet, &id), 200, 60);
    assert!(screen.contains("-60m"), "{screen}");
    assert!(screen.contains("-30m"), "{screen}");
}

/// Key/value panels wrap long values at word boundaries: every word of a value appears
/// whole on the wide screen.
#[test]
fn key_value_panels_never_cut_a_word() {
    let id = ComponentId::new("postgres", "primary");
    let fleet = fleet();
    let app = detail_app(fleet, &id);
    let detail = &app.screens.detail.state.as_ref().expect("detail").detail;
    let words: Vec<String> = detail
        .sections
        .iter()
        .filter(|s| s.title == "server")
        .flat_map(|s| match &s.body {
            mastop::model::detail::SectionBody::Pairs(p) => p.clone(),
            _ => Vec::new(),
        })
        .flat_map(|(_, v)| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    assert!(words.len() > 10, "{words:?}");
    for (w, h) in [(120, 60), (200, 60)] {
        let screen = render(&app, w, h);
        for word in &words {
            assert!(
                screen.contains(word.as_str()),
                "{word} at {w}x{h}:\n{screen}"
            );
        }
    }
}
