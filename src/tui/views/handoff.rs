//! The `:handoff` view (the report as Markdown, scrollable) and the acknowledgement prompt
//! a console shows at start when a handoff waits for it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::actions::Role;
use crate::handoff::Handoff;
use crate::handoff::zone::format_in;
use crate::tui::command::{Command, Mode};
use crate::tui::component::Ctx;
use crate::tui::keymap::Keymap;
use crate::tui::screens::HandoffState;
use crate::tui::theme::Token;
use crate::tui::widgets::safe_owned;

pub fn draw(frame: &mut Frame<'_>, area: Rect, state: &HandoffState, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let lines: Vec<Line<'static>> = if state.lines.is_empty() {
        vec![Line::from(Span::styled(
            "no report loaded: :handoff drafts this shift's, :handoff last shows the latest",
            theme.style(Token::Muted),
        ))]
    } else {
        state
            .lines
            .iter()
            .map(|l| {
                let token = if l.starts_with('#') {
                    Token::Title
                } else if l.contains("**overdue**") || l.contains("**Not yet acknowledged**") {
                    Token::Warn
                } else {
                    Token::Text
                };
                Line::from(safe_owned(l.clone(), theme.style(token)))
            })
            .collect()
    };
    let title = format!(" Handoff · {} ", state.title);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::BorderFocus))
        .title(safe_owned(title, theme.style(Token::Title)));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((state.scroll, 0)),
        area,
    );
}

/// The summary a console shows when it starts and a handoff waits for it.
pub fn prompt_lines(ctx: &Ctx<'_>, h: &Handoff) -> Vec<String> {
    let written = h
        .written()
        .map(|t| format_in(&h.to.zone, t))
        .unwrap_or_else(|| h.written_at.clone());
    let mut out = vec![
        format!(
            "{} handed the shift to {} at {written}.",
            h.from.name, h.to.name
        ),
        String::new(),
        format!("  {} component(s) not OK", h.not_ok.len()),
        format!("  {} action(s) during the shift", h.actions.len()),
        format!("  {} open item(s)", h.open_items.len()),
        format!("  {} mitigation(s) still in place", h.mitigations.len()),
        format!("  {} silenced alert(s)", h.silences.len()),
        format!("  {} note(s)", h.notes.len()),
        String::new(),
    ];
    let key = |command| prompt_key(ctx.keymap, command);
    let (ack, read, later) = (
        key(Command::Acknowledge),
        key(Command::Select),
        key(Command::Back),
    );
    out.push(match ctx.role {
        Role::Oncall => {
            format!("{ack} acknowledge (recorded) · {read} read the report · {later} later")
        }
        Role::Shadow => format!(
            "{read} read the report · {later} close — shadow sessions read; on-call acknowledges"
        ),
    });
    out
}

/// The first key bound to `command` in the prompt, as the prompt has always written it
/// (`a`, `v`, `Esc`); an unbound command says so rather than naming a key that does nothing.
fn prompt_key(keymap: &Keymap, command: Command) -> String {
    match keymap.key_for(Mode::Handoff, command) {
        Some(key) if key.chars().count() > 1 => {
            let mut chars = key.chars();
            chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
        }
        Some(key) => key,
        None => "(unbound)".into(),
    }
}

pub fn draw_prompt(frame: &mut Frame<'_>, body: Rect, ctx: &Ctx<'_>, h: &Handoff) {
    let theme = ctx.theme;
    let content = prompt_lines(ctx, h);
    let width = body.width.saturating_sub(4).clamp(30, 76).min(body.width);
    let height = (content.len() as u16 + 2).min(body.height);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.y + (body.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line<'static>> = content
        .into_iter()
        .map(|l| Line::from(safe_owned(l, theme.style(Token::Text))))
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Warn))
        .title(Span::styled(
            " Handoff waiting for acknowledgement ",
            theme.style(Token::Title),
        ));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
