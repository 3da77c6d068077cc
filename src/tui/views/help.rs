//! The help overlay, generated from the active keymap, so it is right after any remap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::tui::app::{App, PALETTE_COMMANDS, View};
use crate::tui::command::Mode;
use crate::tui::theme::Token;

pub fn lines(app: &App) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let view_name = match &app.view {
        View::Overview => "overview".to_string(),
        View::Kind(k) => format!("{k} view"),
        View::Detail(id) => format!("detail of {id}"),
        View::Audit => "audit history".to_string(),
        View::Handoff => "handoff report".to_string(),
        View::Fleet => "fleet view".to_string(),
        View::Alerts => "alerts".to_string(),
    };
    let mut out = vec![Line::from(Span::styled(
        format!("You are in the {view_name}."),
        theme.style(Token::Muted),
    ))];
    let sections = [
        (Mode::Global, "Everywhere"),
        (Mode::List, "In this view"),
        (Mode::Prompt, "In the command and filter line"),
        (Mode::Help, "In this help"),
    ];
    for (mode, title) in sections {
        let bindings = app.keymap.bindings(mode);
        if bindings.is_empty() {
            continue;
        }
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            title.to_string(),
            theme.style(Token::Title),
        )));
        let mut grouped: Vec<(Vec<String>, crate::tui::command::Command)> = Vec::new();
        for (key, action) in bindings {
            match grouped.iter_mut().find(|(_, a)| *a == action) {
                Some((keys, _)) => keys.push(key),
                None => grouped.push((vec![key], action)),
            }
        }
        let tabs = app.tabs();
        for (keys, action) in grouped {
            out.push(Line::from(vec![
                Span::styled(
                    format!("  {:<18}", keys.join(" ")),
                    theme.style(Token::KeyHint),
                ),
                Span::styled(describe(action, &tabs), theme.style(Token::Text)),
            ]));
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled(
        "Commands (after :)",
        theme.style(Token::Title),
    )));
    for (command, what) in PALETTE_COMMANDS {
        out.push(Line::from(vec![
            Span::styled(format!("  :{command:<17}"), theme.style(Token::KeyHint)),
            Span::styled((*what).to_string(), theme.style(Token::Text)),
        ]));
    }
    let kinds = app.fleet.kinds().join(" :");
    if !kinds.is_empty() {
        out.push(Line::from(vec![
            Span::styled(
                "  :KIND             ".to_string(),
                theme.style(Token::KeyHint),
            ),
            Span::styled(
                format!("open a kind's view: :{kinds}"),
                theme.style(Token::Text),
            ),
        ]));
    }
    out
}

pub fn draw(frame: &mut Frame<'_>, body: Rect, app: &App, scroll: u16) {
    let width = body.width.saturating_sub(8).clamp(40, 90).min(body.width);
    let height = body.height.saturating_sub(2).max(5).min(body.height);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + (body.height - height) / 2,
        width,
        height,
    };
    let content = lines(app);
    let max_scroll = (content.len() as u16).saturating_sub(height.saturating_sub(2));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.style(Token::BorderFocus))
        .title(Span::styled(" Help ", app.theme.style(Token::Title)));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(content)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        area,
    );
}

/// The action's description, naming the view for number keys (`view 3: host`).
fn describe(action: crate::tui::command::Command, tabs: &[View]) -> String {
    use crate::tui::command::Command::*;
    let n = match action {
        View1 => 0,
        View2 => 1,
        View3 => 2,
        View4 => 3,
        View5 => 4,
        View6 => 5,
        View7 => 6,
        View8 => 7,
        View9 => 8,
        other => return other.describe().to_string(),
    };
    match tabs.get(n) {
        Some(View::Overview) => format!("view {}: overview", n + 1),
        Some(View::Kind(kind)) => format!("view {}: {kind}", n + 1),
        _ => format!("view {} (none here)", n + 1),
    }
}
