//! One component: its health and why, its source status, then the sections its reading
//! describes (key/value groups side by side, tables below; the first table is selectable).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::model::detail::{SectionBody, TableData};
use crate::model::{ComponentId, SourceState};
use crate::tui::component::Ctx;
use crate::tui::rows::age_text;
use crate::tui::screens::{DetailScreen, DetailState};
use crate::tui::table::TableView;
use crate::tui::theme::Token;
use crate::tui::widgets::data_table::{self, TableFrame};
use crate::tui::widgets::{level_span, safe};

pub fn draw(
    frame: &mut Frame<'_>,
    area: Rect,
    screen: &DetailScreen,
    ctx: &Ctx<'_>,
    id: &ComponentId,
) {
    let theme = ctx.theme;
    let Some(component) = ctx.fleet.get(id) else {
        frame.render_widget(Line::from(format!("{id} is no longer configured")), area);
        return;
    };
    let reasons = component.health.reasons.len().min(4) as u16;
    let [summary_area, rest] =
        Layout::vertical([Constraint::Length(3 + reasons), Constraint::Min(3)]).areas(area);

    let state = component.status.effective_state(ctx.now);
    let mut status = vec![
        Span::styled("source ", theme.style(Token::Muted)),
        Span::styled(
            state.word(),
            theme.style(if state == SourceState::Ok {
                Token::Ok
            } else {
                Token::Warn
            }),
        ),
        Span::styled(
            format!(" · data age {}", age_text(component.status.age(ctx.now))),
            theme.style(Token::Muted),
        ),
    ];
    if let Some(retry) = component.status.retry_text(ctx.now) {
        // While failing, the cadence is not what happens: say how it retries instead.
        status.insert(
            2,
            Span::styled(format!(" {retry}"), theme.style(Token::Warn)),
        );
    } else if !component.status.cadence.is_zero() {
        status.push(Span::styled(
            format!(
                " · every {}",
                humantime::format_duration(component.status.cadence)
            ),
            theme.style(Token::Muted),
        ));
    }
    if let Some(error) = &component.status.error {
        status.push(Span::styled(" · ", theme.style(Token::Muted)));
        status.push(safe(error, theme.style(Token::Warn)));
    }
    let mut lines = vec![Line::from(status)];
    for reason in component.health.reasons.iter().take(4) {
        lines.push(Line::from(vec![
            Span::raw("  • "),
            safe(reason, theme.style(Token::Text)),
        ]));
    }
    let title = Line::from(vec![
        Span::styled(format!(" {id} "), theme.style(Token::Title)),
        level_span(component.health.level, theme),
        crate::tui::widgets::safe_owned(
            format!("  {} · {} ", component.meta.kind, component.meta.region),
            theme.style(Token::Muted),
        ),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Border))
        .title(title);
    frame.render_widget(Paragraph::new(lines).block(block), summary_area);

    let Some(state) = screen.state.as_ref().filter(|d| d.id == *id) else {
        return;
    };
    if rest.width >= crate::tui::panels::MIN_WIDTH {
        let mut trends = component.trends();
        let key = component.key_figure().map(|f| f.key);
        trends.sort_by_key(|(f, _)| Some(f.key) != key);
        let panels = crate::tui::panels::Panels {
            kind: component.meta.kind,
            detail: &state.detail,
            views: &state.tables,
            focus: state.focus,
            show_focus: ctx.focused,
            trends: &trends,
            component,
            now: ctx.now,
            theme,
            next_key: next_key(ctx),
        };
        crate::tui::panels::draw(frame, rest, &panels);
        return;
    }
    draw_sections(frame, rest, ctx, state);
}

fn draw_sections(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>, state: &DetailState) {
    let theme = ctx.theme;
    let detail = &state.detail;
    let pairs: Vec<_> = detail
        .sections
        .iter()
        .filter_map(|s| match &s.body {
            SectionBody::Pairs(p) => Some((s.title.as_str(), p)),
            SectionBody::Table(_) => None,
        })
        .collect();
    let tables: Vec<_> = detail
        .sections
        .iter()
        .filter_map(|s| match &s.body {
            SectionBody::Table(t) => Some((s.title.as_str(), t)),
            SectionBody::Pairs(_) => None,
        })
        .collect();
    if pairs.is_empty() && tables.is_empty() {
        frame.render_widget(
            Line::from(Span::styled(" no data yet", theme.style(Token::Muted))),
            area,
        );
        return;
    }
    let pair_height = pairs.iter().map(|(_, p)| p.len()).max().unwrap_or(0) as u16 + 2;
    let constraints: Vec<Constraint> = if tables.is_empty() {
        vec![Constraint::Min(0)]
    } else if pairs.is_empty() {
        vec![Constraint::Length(0), Constraint::Min(3)]
    } else {
        vec![
            Constraint::Length(pair_height.min(area.height / 3).max(4)),
            Constraint::Min(3),
        ]
    };
    let parts = Layout::vertical(constraints).split(area);
    if !pairs.is_empty() {
        let columns = Layout::horizontal(vec![Constraint::Fill(1); pairs.len()]).split(parts[0]);
        for ((title, items), column) in pairs.iter().zip(columns.iter()) {
            let key_width = items
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            let lines: Vec<Line<'_>> = items
                .iter()
                .map(|(k, v)| {
                    Line::from(vec![
                        Span::styled(format!("{k:>key_width$} "), theme.style(Token::Muted)),
                        safe(v, theme.style(Token::Text)),
                    ])
                })
                .collect();
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style(Token::Border))
                .title(Span::styled(
                    format!(" {title} "),
                    theme.style(Token::Title),
                ));
            frame.render_widget(Paragraph::new(lines).block(block), *column);
        }
    }
    if let Some(table_area) = parts.get(1) {
        draw_tables(frame, *table_area, ctx, state, &tables);
    }
}

/// Each table needs its borders, a header and a few rows to be worth showing.
const MIN_TABLE_HEIGHT: u16 = 6;

/// Stacks the tables when each can get a useful height (the focused one gets the most);
/// otherwise shows a strip of table names and only the focused table, so a component with
/// many tables (Sidekiq, Postgres) stays readable on a small terminal.
fn draw_tables(
    frame: &mut Frame<'_>,
    area: Rect,
    ctx: &Ctx<'_>,
    state: &DetailState,
    tables: &[(&str, &TableData)],
) {
    let theme = ctx.theme;
    let several = tables.len() > 1;
    let frame_for = |i: usize,
                     title: &str,
                     data: &TableData,
                     view: &TableView,
                     area: Rect,
                     frame: &mut Frame<'_>| {
        let focused = i == state.focus && ctx.focused;
        let title = if several && focused {
            format!("▶ {title}")
        } else {
            title.to_string()
        };
        let spec = TableFrame {
            title,
            data,
            view,
            focused,
            empty: "nothing here",
        };
        data_table::render(frame, area, &spec, theme);
    };
    if area.height / (tables.len().max(1) as u16) >= MIN_TABLE_HEIGHT {
        let weights: Vec<Constraint> = (0..tables.len())
            .map(|i| Constraint::Fill(if i == state.focus { 3 } else { 1 }))
            .collect();
        let areas = Layout::vertical(weights).split(area);
        for (i, ((title, data), area)) in tables.iter().zip(areas.iter()).enumerate() {
            let fallback;
            let view = match state.tables.get(i) {
                Some(view) => view,
                None => {
                    fallback = unsorted(data);
                    &fallback
                }
            };
            frame_for(i, title, data, view, *area, frame);
        }
        return;
    }
    let [strip, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let mut spans = vec![Span::styled(" tables: ", theme.style(Token::Muted))];
    for (i, (title, data)) in tables.iter().enumerate() {
        let style = if i == state.focus {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        spans.push(Span::styled(
            format!(" {title} ({}) ", data.rows.len()),
            style,
        ));
    }
    if let Some(key) = next_key(ctx) {
        spans.push(Span::styled(
            format!("  {key} next"),
            theme.style(Token::Muted),
        ));
    }
    frame.render_widget(Line::from(spans), strip);
    if let (Some((title, data)), Some(view)) =
        (tables.get(state.focus), state.tables.get(state.focus))
    {
        frame_for(state.focus, title, data, view, rest, frame);
    }
}

fn next_key(ctx: &Ctx<'_>) -> Option<String> {
    ctx.keymap.key_for(
        crate::tui::command::Mode::List,
        crate::tui::command::Command::NextPane,
    )
}

fn unsorted(data: &TableData) -> TableView {
    let mut view = TableView::default();
    view.refresh(data);
    view
}
