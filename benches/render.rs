//! Frame render cost: the overview of the demo fleet, and a 10,000-row table, at 200x60.
//! Targets: overview ≤ 1 ms, 10,000-row table ≤ 2 ms per full frame.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::model::detail::{Cell, Column, Row, TableData};
use mastop::model::{Detail, Fleet, SourceState, SourceStatus};
use mastop::tui::app::App;
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
    for k in (0..60u64).rev() {
        for (meta, reading) in mastop::demo::readings_at(
            t.saturating_sub(Duration::from_secs(k * 2)),
            now - Duration::from_secs(k * 2),
        ) {
            let status = SourceStatus {
                state: SourceState::Ok,
                last_ok: Some(now),
                ..SourceStatus::pending(Duration::from_secs(2))
            };
            fleet.apply(&meta.id, status, Some(reading));
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
