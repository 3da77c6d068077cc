//! The top line (what mastop is connected to, fleet health, the time) and the view tabs.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};

use crate::model::Level;
use crate::tui::app::{App, View};
use crate::tui::theme::Token;
use crate::tui::widgets::level_span;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let clock = humantime::format_rfc3339_seconds(app.now).to_string();
    let clock = format!("{} UTC ", clock.get(11..19).unwrap_or(""));
    let room = usize::from(area.width).saturating_sub(clock.len() + 1);
    // Drop detail from the left as the terminal narrows; the fleet's health always stays.
    let left = [true, false]
        .into_iter()
        .flat_map(|long_banner| [true, false].map(|tally| header_spans(app, long_banner, tally)))
        .find(|spans| Line::from(spans.clone()).width() <= room)
        .unwrap_or_else(|| header_spans(app, false, false));
    frame.render_widget(Line::from(left), area);
    if usize::from(area.width) > clock.len() + 30 {
        frame.render_widget(
            Line::from(Span::styled(clock, theme.style(Token::Muted))).alignment(Alignment::Right),
            area,
        );
    }
}

fn header_spans(app: &App, long_banner: bool, with_tally: bool) -> Vec<Span<'static>> {
    let theme = &app.theme;
    let mut left = vec![Span::styled(" mastop ", theme.style(Token::Title))];
    if app.demo.is_some() {
        let banner = if long_banner {
            " DEMO · simulated fleet, nothing here is real "
        } else {
            " DEMO "
        };
        left.push(Span::styled(banner, theme.style(Token::DemoBanner)));
        left.push(Span::raw(" "));
    }
    left.push(Span::styled("fleet ", theme.style(Token::Muted)));
    left.push(level_span(app.fleet.worst(), theme));
    if !with_tally {
        return left;
    }
    let counts = |level: Level| {
        app.fleet
            .components()
            .iter()
            .filter(|c| c.health.level == level)
            .count()
    };
    let tally: Vec<String> = [
        (Level::Crit, "crit"),
        (Level::Warn, "warn"),
        (Level::Unknown, "unknown"),
    ]
    .into_iter()
    .map(|(level, word)| (counts(level), word))
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect();
    if !tally.is_empty() {
        left.push(Span::styled(
            format!(" ({})", tally.join(", ")),
            theme.style(Token::Muted),
        ));
    }
    left
}

pub fn draw_tabs(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    let current = match &app.view {
        View::Detail(id) => app
            .fleet
            .get(id)
            .map_or(View::Overview, |c| View::Kind(c.meta.kind)),
        v => v.clone(),
    };
    let mut spans = vec![Span::raw(" ")];
    for (i, tab) in app.tabs().iter().enumerate() {
        let name = match tab {
            View::Overview => "overview".to_string(),
            View::Kind(kind) => {
                let worst = app
                    .fleet
                    .components()
                    .iter()
                    .filter(|c| c.meta.kind == *kind)
                    .map(|c| c.health.level)
                    .max()
                    .unwrap_or(Level::Ok);
                if worst == Level::Ok {
                    (*kind).to_string()
                } else {
                    format!("{kind} {}", worst.symbol())
                }
            }
            View::Detail(_) => continue,
        };
        let style = if *tab == current {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        if i < 9 {
            spans.push(Span::styled(
                format!("{}", i + 1),
                theme.style(Token::KeyHint),
            ));
        }
        spans.push(Span::styled(format!(" {name} "), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Line::from(spans), area);
}
