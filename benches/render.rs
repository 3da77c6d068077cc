//! Frame render cost at 200x60: the overview of the demo fleet, a 10,000-row table, and the
//! multi-panel detail views with charts (Postgres, Sidekiq, hosts, Redis) over an hour of
//! history, and the log view with 10,000 lines buffered. Targets: overview ≤ 1 ms,
//! 10,000-row table ≤ 2 ms, each detail view ≤ 2 ms, the log view ≤ 2 ms.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::model::detail::{Cell, Column, Row, TableData};
use mastop::model::{ComponentId, Detail, Fleet, SourceState, SourceStatus};
use mastop::tui::app::{App, View};
use mastop::tui::keymap::Keymap;
use mastop::tui::table::TableView;
use mastop::tui::theme::Theme;
use mastop::tui::views;
use mastop::tui::widgets::data_table::{self, TableFrame};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn demo_app() -> App {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let t = Duration::from_secs(240);
    let readings = mastop::demo::readings_at(t, now);
    let metas = readings
        .iter()
        .map(|(m, _)| (m.clone(), SourceStatus::pending(Duration::from_secs(2))))
        .collect();
    let mut fleet = Fleet::new(metas, Default::default());
    for k in (0..120u64).rev() {
        let seen = now - Duration::from_secs(k * 2);
        for (meta, reading) in
            mastop::demo::readings_at(t.saturating_sub(Duration::from_secs(k * 2)), seen)
        {
            let status = SourceStatus {
                state: SourceState::Ok,
                last_ok: Some(seen),
                ..SourceStatus::pending(Duration::from_secs(2))
            };
            fleet.apply(&meta.id, status, Some(reading));
        }
    }
    // The hour before, as a Prometheus backfill lays it: every figure gets a full axis.
    let ids: Vec<(ComponentId, Vec<&'static str>)> = fleet
        .components()
        .iter()
        .map(|c| (c.meta.id.clone(), c.figures.iter().map(|f| f.key).collect()))
        .collect();
    for (id, keys) in ids {
        for key in keys {
            let values = (0..60).map(|i| f64::from(i % 7) * 3.0);
            fleet.backfill(&id, key, values);
        }
    }
    let keymap = Keymap::builtin("default").expect("default keymap");
    let theme = Theme::builtin("dark").expect("dark theme");
    App::new(fleet, keymap, theme, now)
}

fn big_table(rows: usize) -> TableData {
    let columns = vec![
        Column::text("JID", 24),
        Column::text("CLASS", 32),
        Column::text("QUEUE", 10),
        Column::number("ENQUEUED", 10),
        Column::number("RETRY", 6),
        Column::text("ERROR", 40),
    ];
    let rows = (0..rows)
        .map(|i| Row {
            key: None,
            cells: vec![
                Cell::text(format!("{i:024x}")),
                Cell::text(if i % 3 == 0 {
                    "ActivityPub::DeliveryWorker"
                } else {
                    "LinkCrawlWorker"
                }),
                Cell::text(if i % 2 == 0 { "push" } else { "pull" }),
                Cell::number(format!("{}s", i % 900), (i % 900) as f64),
                Cell::number(format!("{}", i % 16), (i % 16) as f64),
                Cell::text("Mastodon::UnexpectedResponseError: https://remote.example/inbox 503"),
            ],
            level: None,
        })
        .collect();
    TableData { columns, rows }
}

fn bench(c: &mut Criterion) {
    let app = demo_app();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    c.bench_function("overview frame 200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|f| views::draw(f, black_box(&app)))
                .expect("draw");
        })
    });

    let data = big_table(10_000);
    let mut view = TableView::default();
    view.refresh(&data);
    view.move_by(5_000);
    let theme = Theme::builtin("dark").expect("dark theme");
    c.bench_function("10k-row table frame 200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|f| {
                    let table = TableFrame {
                        title: "retries".into(),
                        data: &data,
                        view: &view,
                        focused: true,
                        empty: "",
                    };
                    data_table::render(f, f.area(), &table, &theme);
                })
                .expect("draw");
        })
    });
    c.bench_function("10k-row table re-sort", |b| {
        let mut v = TableView::default();
        b.iter(|| {
            v.reverse_sort();
            v.refresh(black_box(&data));
        })
    });
    let _ = Detail::default();

    for (kind, name) in [
        ("postgres", "primary"),
        ("sidekiq", "main"),
        ("host", "web-1"),
        ("redis", "main"),
    ] {
        let mut app = demo_app();
        app.view = View::Detail(ComponentId::new(kind, name));
        app.rebuild();
        c.bench_function(&format!("{kind} detail frame 200x60"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| views::draw(f, black_box(&app)))
                    .expect("draw");
            })
        });
    }

    let app = logs_app();
    c.bench_function("log view frame 200x60, 10k lines", |b| {
        b.iter(|| {
            terminal
                .draw(|f| views::draw(f, black_box(&app)))
                .expect("draw");
        })
    });
}

/// The demo console with the log view open on every demo host during the Redis incident,
/// its buffer full: 10,000 lines.
fn logs_app() -> App {
    use mastop::logs::query::{UnitPattern, Window};
    let mut app = demo_app();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let anchor = mastop::demo::clock::Anchor::new(Duration::from_secs(539), now);
    let hosts: Vec<&str> = mastop::demo::logs::HOSTS.iter().map(|(n, ..)| *n).collect();
    let units = vec![UnitPattern::parse("*.service").expect("unit")];
    let end = 1_795_000_000 * 1_000_000;
    let lines = mastop::demo::logs::between(&hosts, &units, anchor, end - 1_800_000_000, end);
    assert!(lines.len() > 10_000, "{} lines", lines.len());
    app.logs.ring_lines = 10_000;
    let _read = app.logs.open(mastop::tui::logs::target::LogTarget {
        hosts: "role:mastodon-web".into(),
        units,
        window: Window::Tail,
    });
    let view = app.logs.view.as_mut().expect("open");
    view.add(lines);
    assert_eq!(view.buffer.len(), 10_000);
    app
}

criterion_group!(benches, bench);
criterion_main!(benches);
