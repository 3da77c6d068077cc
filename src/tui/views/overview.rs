//! The overview board: every component, worst first, with its key figure, a trend and the
//! age of its data. In demo mode a strip below shows the scripted incidents.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::tui::component::{Ctx, DemoInfo};
use crate::tui::screens::Overview;
use crate::tui::theme::Token;
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn draw(frame: &mut Frame<'_>, area: Rect, screen: &Overview, ctx: &Ctx<'_>) {
    let (table_area, demo_area) = match ctx.demo {
        Some(_) if area.height >= 16 => {
            let [t, d] = Layout::vertical([Constraint::Min(5), Constraint::Length(5)]).areas(area);
            (t, Some(d))
        }
        _ => (area, None),
    };
    let table = TableFrame {
        title: "Overview".into(),
        data: &screen.rows.list.table,
        view: &screen.rows.table,
        focused: ctx.focused,
        empty: &screen.empty_hint,
    };
    data_table::render(frame, table_area, &table, ctx.theme);
    match (crate::demo::drill::card_of(ctx.fleet), ctx.demo, demo_area) {
        (Some(card), _, Some(area)) => draw_drill_card(frame, area, ctx, card),
        (None, Some(demo), Some(area)) => draw_timeline(frame, area, ctx, demo),
        _ => {}
    }
}

fn draw_timeline(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>, demo: &DemoInfo) {
    let theme = ctx.theme;
    let elapsed = ctx.now.duration_since(demo.started).unwrap_or_default() + demo.offset;
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
    ctx: &Ctx<'_>,
    card: &crate::demo::drill::DrillReading,
) {
    let theme = ctx.theme;
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
