//! The help overlay, generated from the active keymap, so it is right after any remap.
//! A component: it owns its scroll position, takes commands and draws from a [`Ctx`].

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use crate::tui::command::{Command, Mode};
use crate::tui::component::{Component, Ctx, Effect, View, tabs};
use crate::tui::palette::PALETTE_COMMANDS;
use crate::tui::theme::Token;

/// The open help overlay and how far it is scrolled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Help {
    pub scroll: u16,
}

impl Help {
    fn scroll_by(&mut self, delta: i32) {
        let current = i32::from(self.scroll);
        self.scroll = u16::try_from((current + delta).max(0)).unwrap_or(u16::MAX);
    }
}

impl Component for Help {
    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        match command {
            Command::Back | Command::Help | Command::Cancel => return Effect::Close,
            Command::Down => self.scroll_by(1),
            Command::Up => self.scroll_by(-1),
            Command::PageDown | Command::HalfPageDown => self.scroll_by(10),
            Command::PageUp | Command::HalfPageUp => self.scroll_by(-10),
            Command::Top => self.scroll = 0,
            Command::Bottom => {
                // Past the end is clamped when drawn; keep it at the last line so
                // scrolling back up moves at once.
                let last = lines(ctx).len().saturating_sub(1);
                self.scroll = u16::try_from(last).unwrap_or(u16::MAX);
            }
            Command::Quit => return Effect::Quit,
            Command::Suspend => return Effect::Suspend,
            Command::Redraw => return Effect::FullRedraw,
            _ => {}
        }
        Effect::None
    }

    fn draw(&self, frame: &mut Frame<'_>, body: Rect, ctx: &Ctx<'_>) {
        draw(frame, body, ctx, self.scroll);
    }
}

pub fn lines(ctx: &Ctx<'_>) -> Vec<Line<'static>> {
    let theme = ctx.theme;
    let view_name = ctx.view.describe();
    let mut out = vec![Line::from(Span::styled(
        format!("You are in the {view_name}."),
        theme.style(Token::Muted),
    ))];
    let sections = [
        (Mode::Global, "Everywhere"),
        (Mode::List, "In this view"),
        (Mode::Logs, "In the log view"),
        (Mode::Prompt, "In the command and filter line"),
        (Mode::Help, "In this help"),
    ];
    for (mode, title) in sections {
        let bindings = ctx.keymap.bindings(mode);
        if bindings.is_empty() {
            continue;
        }
        out.push(Line::from(""));
        out.push(Line::from(Span::styled(
            title.to_string(),
            theme.style(Token::Title),
        )));
        let mut grouped: Vec<(Vec<String>, Command)> = Vec::new();
        for (key, action) in bindings {
            match grouped.iter_mut().find(|(_, a)| *a == action) {
                Some((keys, _)) => keys.push(key),
                None => grouped.push((vec![key], action)),
            }
        }
        let tabs = tabs(ctx.fleet);
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
    let kinds = ctx.fleet.kinds().join(" :");
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

fn draw(frame: &mut Frame<'_>, body: Rect, ctx: &Ctx<'_>, scroll: u16) {
    let width = body.width.saturating_sub(8).clamp(40, 90).min(body.width);
    let height = body.height.saturating_sub(2).max(5).min(body.height);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + (body.height - height) / 2,
        width,
        height,
    };
    let content = lines(ctx);
    let max_scroll = (content.len() as u16).saturating_sub(height.saturating_sub(2));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(ctx.theme.style(Token::BorderFocus))
        .title(Span::styled(" Help ", ctx.theme.style(Token::Title)));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(content)
            .block(block)
            .scroll((scroll.min(max_scroll), 0)),
        area,
    );
}

/// The action's description, naming the view for number keys (`view 3: host`).
fn describe(action: Command, tabs: &[View]) -> String {
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
