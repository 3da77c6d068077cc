//! Alerts at scale: ten thousand alerts parsed from Alertmanager's answer, tied to a
//! thousand components, turned into the alerts view's rows, and the view drawn at 200x60.
//! Target: the draw ≤ 2 ms per full frame.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::model::alerts::AlertSet;
use mastop::model::{ComponentId, ComponentMeta, Fleet, SourceState, SourceStatus};
use mastop::sources::alertmanager::AlertmanagerReading;
use mastop::sources::alertmanager::parse::parse_groups;
use mastop::tui::app::App;
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const ALERTS: usize = 10_000;
const HOSTS: usize = 1_000;

/// Alertmanager's `/api/v2/alerts/groups` with `n` alerts over `HOSTS` hosts, 7 groups.
fn groups_json(n: usize) -> String {
    let mut groups: Vec<Vec<String>> = vec![Vec::new(); 7];
    for i in 0..n {
        groups[i % 7].push(format!(
            r#"{{"fingerprint":"{i:016x}","labels":{{"alertname":"Rule{}","instance":"host-{}:9100","job":"node","severity":"{}"}},"annotations":{{"summary":"something on host-{} needs a look"}},"startsAt":"2026-11-18T10:00:00.000Z","endsAt":"2026-11-18T11:00:00.000Z","updatedAt":"2026-11-18T10:00:00.000Z","status":{{"state":"{}","silencedBy":[],"inhibitedBy":[]}},"receivers":[{{"name":"chat"}}]}}"#,
            i % 7,
            i % HOSTS,
            if i % 3 == 0 { "critical" } else { "warning" },
            i % HOSTS,
            if i % 10 == 0 { "suppressed" } else { "active" },
        ));
    }
    let groups: Vec<String> = groups
        .into_iter()
        .enumerate()
        .map(|(g, alerts)| {
            format!(
                r#"{{"labels":{{"alertname":"Rule{g}"}},"receiver":{{"name":"chat"}},"alerts":[{}]}}"#,
                alerts.join(",")
            )
        })
        .collect();
    format!("[{}]", groups.join(","))
}

fn fleet(set: AlertSet) -> Fleet {
    let meta = |kind: &'static str, name: String| ComponentMeta {
        id: ComponentId::new(kind, &name),
        kind,
        region: String::new(),
        tags: Vec::new(),
    };
    let cadence = Duration::from_secs(2);
    let mut metas: Vec<(ComponentMeta, SourceStatus)> = (0..HOSTS)
        .map(|i| {
            (
                meta("host", format!("host-{i}")),
                SourceStatus::pending(cadence),
            )
        })
        .collect();
    metas.push((
        meta("alertmanager", "main".into()),
        SourceStatus::pending(cadence),
    ));
    let mut fleet = Fleet::new(metas, Default::default());
    apply(&mut fleet, set);
    fleet
}

fn apply(fleet: &mut Fleet, set: AlertSet) {
    let now = SystemTime::now();
    let status = SourceStatus {
        state: SourceState::Ok,
        last_ok: Some(now),
        last_attempt: Some(now),
        ..SourceStatus::pending(Duration::from_secs(2))
    };
    let reading = AlertmanagerReading {
        server: Default::default(),
        set,
        at: now,
        silences_error: None,
        status_error: None,
    };
    fleet.apply(
        &ComponentId::new("alertmanager", "main"),
        status,
        Some(Arc::new(reading)),
    );
}

fn benches(c: &mut Criterion) {
    let json = groups_json(ALERTS);
    c.bench_function("alertmanager_parse_10k_alerts", |b| {
        b.iter(|| black_box(parse_groups(black_box(json.as_bytes())).expect("parses")))
    });
    let set = parse_groups(json.as_bytes()).expect("parses");
    assert_eq!(set.alerts.len(), ALERTS);
    let mut tied = fleet(set.clone());
    c.bench_function("alerts_tie_10k_to_1000_hosts", |b| {
        b.iter(|| apply(&mut tied, black_box(set.clone())))
    });
    let fleet = fleet(set);
    assert_eq!(
        fleet
            .get(&ComponentId::new("host", "host-7"))
            .map(|c| c.alerts.firing),
        Some(10)
    );
    let now = SystemTime::now();
    c.bench_function("alerts_rows_10k", |b| {
        b.iter(|| black_box(mastop::tui::rows::alerts::build(black_box(&fleet), now)))
    });
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    let mut app = App::new(fleet, keymap, theme, now);
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('0'),
    ));
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("test terminal");
    c.bench_function("alerts_view_10k_200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|f| views::draw(f, black_box(&app)))
                .expect("draw");
        })
    });
}

criterion_group!(alerts, benches);
criterion_main!(alerts);
