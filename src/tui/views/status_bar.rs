//! The bottom line: the prompt when one is open, else a message, else key hints built
//! from the active keymap (so remapped keys show their new keys).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::app::{App, PromptKind, View};
use crate::tui::command::{Command, Mode};
use crate::tui::theme::Token;
use crate::tui::widgets::{level_token, safe};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let theme = &app.theme;
    if let Some(prompt) = &app.prompt {
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
            let options = crate::tui::palette::completions(prompt.text.as_str(), &app.fleet);
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
    if let Some(flash) = &app.flash {
        frame.render_widget(
            Line::from(safe(&flash.text, theme.style(level_token(flash.level)))),
            area,
        );
        return;
    }
    let mode = if app.help.is_some() {
        Mode::Help
    } else {
        Mode::List
    };
    let several_tables = matches!(app.view, View::Detail(_))
        && app.detail.as_ref().is_some_and(|d| d.tables.len() > 1);
    let hints: &[(Command, &str)] = match (&app.view, app.help.is_some()) {
        (_, true) => &[
            (Command::Back, "close"),
            (Command::Down, "scroll"),
            (Command::Quit, "quit"),
        ],
        (View::Detail(_), false) if several_tables && app.pageable() => &[
            (Command::Help, "help"),
            (Command::NextPane, "next table"),
            (Command::NextPage, "next page"),
            (Command::PrevPage, "prev page"),
            (Command::ClassFilter, "class"),
            (Command::Actions, "actions"),
            (Command::Reveal, "reveal"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
        (View::Detail(_), false) if several_tables => &[
            (Command::Help, "help"),
            (Command::NextPane, "next table"),
            (Command::Actions, "actions"),
            (Command::Reveal, "reveal"),
            (Command::Filter, "filter"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
        (View::Detail(_), false) => &[
            (Command::Help, "help"),
            (Command::Actions, "actions"),
            (Command::Filter, "filter"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
        (View::Handoff, false) => &[
            (Command::Help, "help"),
            (Command::Palette, "command"),
            (Command::Down, "scroll"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
        (View::Alerts, false) => &[
            (Command::Help, "help"),
            (Command::NextPane, "next table"),
            (Command::Actions, "silence/expire"),
            (Command::Select, "open"),
            (Command::Filter, "filter"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
        (View::Audit, false) => &[
            (Command::Help, "help"),
            (Command::Filter, "filter"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
        _ => &[
            (Command::Help, "help"),
            (Command::Palette, "command"),
            (Command::Filter, "filter"),
            (Command::Select, "open"),
            (Command::Actions, "actions"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    for (action, label) in hints {
        let Some(key) = app.keymap.key_for(mode, *action) else {
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
