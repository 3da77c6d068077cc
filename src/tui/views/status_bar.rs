//! The bottom line: the prompt when one is open, else a message, else key hints built
//! from the active keymap (so remapped keys show their new keys).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::command::{Command, Mode};
use crate::tui::component::{Ctx, Hint};
use crate::tui::prompt::{Flash, Prompt, PromptKind};
use crate::tui::theme::Token;
use crate::tui::widgets::{level_token, safe};

/// What the status line shows besides the context: the console's prompt and message, and
/// the hints of whatever has the keys.
pub struct StatusLine<'a> {
    pub prompt: Option<&'a Prompt>,
    pub flash: Option<&'a Flash>,
    pub help_open: bool,
    pub hints: &'static [Hint],
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>, line: &StatusLine<'_>) {
    let theme = ctx.theme;
    if let Some(prompt) = line.prompt {
        let sigil = match prompt.kind {
            PromptKind::Palette => ":",
            PromptKind::Filter => "/",
            PromptKind::ClassFilter => "class ~ ",
        };
        let (before, after) = prompt.text.split();
        let mut spans = vec![
            Span::styled(sigil, theme.style(Token::Accent)),
            safe(before, theme.style(Token::Text)),
        ];
        // Columns, not characters: a CJK character or an emoji takes two.
        let typed: usize = spans.iter().map(Span::width).sum();
        spans.push(Span::styled("█", theme.style(Token::Accent)));
        if !after.is_empty() {
            spans.push(safe(after, theme.style(Token::Text)));
        }
        if prompt.kind == PromptKind::Palette {
            let options = crate::tui::palette::completions(prompt.text.as_str(), ctx.fleet);
            if !options.is_empty() {
                spans.push(Span::styled(
                    format!("   {}", options.join("  ")),
                    theme.style(Token::Muted),
                ));
            }
        }
        frame.render_widget(Line::from(spans), area);
        // Put the real cursor after the text for screen readers and terminals that track it.
        let x = area
            .x
            .saturating_add(u16::try_from(typed).unwrap_or(u16::MAX));
        frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        return;
    }
    if let Some(flash) = line.flash {
        frame.render_widget(
            Line::from(safe(&flash.text, theme.style(level_token(flash.level)))),
            area,
        );
        return;
    }
    let mode = if line.help_open {
        Mode::Help
    } else {
        Mode::List
    };
    let hints: &[Hint] = if line.help_open {
        &[
            (Command::Back, "close"),
            (Command::Down, "scroll"),
            (Command::Quit, "quit"),
        ]
    } else {
        line.hints
    };
    let mut spans = vec![Span::raw(" ")];
    for (action, label) in hints {
        let Some(key) = ctx.keymap.key_for(mode, *action) else {
            continue;
        };
        spans.push(Span::styled(key, theme.style(Token::KeyHint)));
        spans.push(Span::styled(
            format!(" {label}  "),
            theme.style(Token::Muted),
        ));
    }
    frame.render_widget(Line::from(spans).style(theme.style(Token::StatusBar)), area);
}
