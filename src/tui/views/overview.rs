//! The overview board: every component, worst first, with its key figure, a trend and the
//! age of its data. In demo mode a strip below shows the scripted incidents.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::age_text;
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::history::sparkline;
use crate::model::{Fleet, Level, SourceState};
use crate::tui::app::{App, ListData};
use crate::tui::theme::Token;
use crate::tui::widgets::data_table::{self, TableFrame};

const TREND_WIDTH: usize = 16;

pub fn list(fleet: &Fleet, now: SystemTime) -> ListData {
    // Alerts are counted only where an Alertmanager is configured to count them.
    let alerts = fleet
        .components()
        .iter()
        .any(|c| c.meta.kind == crate::sources::alertmanager::KIND);
    let mut columns = vec![
        Column::text("HEALTH", 9),
        Column::text("COMPONENT", 20),
        Column::text("REGION", 10).optional(5),
        Column::number("VALUE", 9),
        Column::text("FIGURE", 20).optional(2),
        Column::text("TREND", TREND_WIDTH as u16).optional(4),
        Column::number("AGE", 5).optional(3),
        Column::text("WHY", 24),
    ];
    if alerts {
        columns.insert(2, Column::number("ALERTS", 6).optional(1));
    }
    let mut rows = Vec::with_capacity(fleet.components().len());
    let mut ids = Vec::with_capacity(fleet.components().len());
    for c in fleet.components() {
        let state = c.status.effective_state(now);
        let (value_text, label, figure_value, trend) = match c.key_figure() {
            Some(f) => (
                f.display_value(),
                f.label,
                f.value,
                c.history(f.key)
                    .map(|h| sparkline(h.values(), TREND_WIDTH))
                    .unwrap_or_default(),
            ),
            // Before the first poll there is no figure yet, but a backfilled history of
            // the kind's usual key figure may already be there to draw.
            None => (
                String::new(),
                "",
                f64::NAN,
                crate::sources::trend_key(c.meta.kind)
                    .and_then(|key| c.history(key))
                    .map(|h| sparkline(h.values(), TREND_WIDTH))
                    .unwrap_or_default(),
            ),
        };
        let why = match (c.health.reasons.first(), state) {
            (Some(reason), _) => reason.clone(),
            (None, SourceState::Ok) => c.reading.as_ref().map(|r| r.summary()).unwrap_or_default(),
            (None, other) => other.word().to_string(),
        };
        let age = c.status.age(now);
        let mut cells = vec![
            Cell::number(
                format!("{} {}", c.health.level.symbol(), c.health.level.word()),
                level_rank(c.health.level),
            ),
            Cell::text(c.meta.id.as_str()),
            Cell::text(c.meta.region.as_str()),
            Cell {
                text: value_text,
                sort: figure_value.is_finite().then_some(figure_value),
            },
            Cell::text(label),
            Cell::text(trend),
            Cell {
                text: age_text(age),
                sort: age.map(|a| a.as_secs_f64()),
            },
            Cell::text(why),
        ];
        if alerts {
            let firing = c.alerts.firing;
            let text = match (firing, c.alerts.suppressed) {
                (0, 0) => String::new(),
                (0, s) => format!("({s})"),
                (f, _) => f.to_string(),
            };
            cells.insert(
                2,
                Cell {
                    text,
                    sort: Some(f64::from(firing)),
                },
            );
        }
        rows.push(Row {
            key: None,
            cells,
            level: Some(c.health.level),
        });
        ids.push(c.meta.id.clone());
    }
    ListData {
        table: TableData { columns, rows },
        ids,
    }
}

/// Sort rank for health: CRIT sorts above WARN above UNKNOWN above OK.
pub fn level_rank(level: Level) -> f64 {
    match level {
        Level::Ok => 0.0,
        Level::Unknown => 1.0,
        Level::Warn => 2.0,
        Level::Crit => 3.0,
    }
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let (table_area, demo_area) = match &app.demo {
        Some(_) if area.height >= 16 => {
            let [t, d] = Layout::vertical([Constraint::Min(5), Constraint::Length(5)]).areas(area);
            (t, Some(d))
        }
        _ => (area, None),
    };
    let table = TableFrame {
        title: "Overview".into(),
        data: &app.overview.table,
        view: &app.overview_table,
        focused: app.help_scroll.is_none(),
        empty: &app.empty_hint,
    };
    data_table::render(frame, table_area, &table, &app.theme);
    match (
        crate::demo::drill::card_of(&app.fleet),
        &app.demo,
        demo_area,
    ) {
        (Some(card), _, Some(area)) => draw_drill_card(frame, area, app, card),
        (None, Some(demo), Some(area)) => draw_timeline(frame, area, app, demo),
        _ => {}
    }
}

fn draw_timeline(frame: &mut Frame<'_>, area: Rect, app: &App, demo: &crate::tui::app::DemoInfo) {
    let theme = &app.theme;
    let elapsed = app.now.duration_since(demo.started).unwrap_or_default() + demo.offset;
    let cycle = demo
        .timeline
        .last()
        .map_or(1, |(t, _)| t.as_secs().max(1) + 60);
    let t = elapsed.as_secs() % cycle;
    let current = demo.timeline.iter().rposition(|(at, _)| at.as_secs() <= t);
    let start = current.unwrap_or(0).saturating_sub(1);
    let lines: Vec<Line<'_>> = demo
        .timeline
        .iter()
        .enumerate()
        .skip(start)
        .take(usize::from(area.height.saturating_sub(2)))
        .map(|(i, (at, text))| {
            let (mark, token) = match current {
                Some(c) if i == c => ("▶", Token::Accent),
                Some(c) if i < c => ("✔", Token::Muted),
                _ => (" ", Token::Text),
            };
            Line::from(vec![
                Span::styled(
                    format!(" {mark} {:>5} ", clock(at.as_secs())),
                    theme.style(token),
                ),
                Span::styled(text.as_str(), theme.style(token)),
            ])
        })
        .collect();
    let title = format!(" Scripted incidents · demo time {} ", clock(t));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Border))
        .title(Span::styled(title, theme.style(Token::Title)));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// In a drill the script's timeline gives way to the step card.
fn draw_drill_card(
    frame: &mut Frame<'_>,
    area: Rect,
    app: &App,
    card: &crate::demo::drill::DrillReading,
) {
    let theme = &app.theme;
    let lines: Vec<Line<'_>> = card
        .lines
        .iter()
        .map(|l| Line::from(crate::tui::widgets::safe(l, theme.style(Token::Text))))
        .collect();
    let title = format!(
        " Training drill · step {}/{}: {} · {} ",
        card.step,
        crate::demo::drill::STEPS,
        card.title,
        clock(card.since_start_s as u64)
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Accent))
        .title(Span::styled(title, theme.style(Token::Title)));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block),
        area,
    );
}

fn clock(secs: u64) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}
