//! The bottom line: the prompt when one is open, else a message, else key hints built
//! from the active keymap (so remapped keys show their new keys).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::action::{Action, Mode};
use crate::tui::app::{App, PromptKind, View};
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
        let mut spans = vec![
            Span::styled(sigil, theme.style(Token::Accent)),
            safe(&prompt.text, theme.style(Token::Text)),
        ];
        // Columns, not characters: a CJK character or an emoji takes two.
        let typed: usize = spans.iter().map(Span::width).sum();
        spans.push(Span::styled("█", theme.style(Token::Accent)));
        if prompt.kind == PromptKind::Palette {
            let options = app.completions(&prompt.text);
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
    let mode = if app.help_scroll.is_some() {
        Mode::Help
    } else {
        Mode::List
    };
    let several_tables = matches!(app.view, View::Detail(_))
        && app.detail.as_ref().is_some_and(|d| d.tables.len() > 1);
    let hints: &[(Action, &str)] = match (&app.view, app.help_scroll.is_some()) {
        (_, true) => &[
            (Action::Back, "close"),
            (Action::Down, "scroll"),
            (Action::Quit, "quit"),
        ],
        (View::Detail(_), false) if several_tables && app.pageable() => &[
            (Action::Help, "help"),
            (Action::NextPane, "next table"),
            (Action::NextPage, "next page"),
            (Action::PrevPage, "prev page"),
            (Action::ClassFilter, "class"),
            (Action::Actions, "actions"),
            (Action::Reveal, "reveal"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
        (View::Detail(_), false) if several_tables => &[
            (Action::Help, "help"),
            (Action::NextPane, "next table"),
            (Action::Actions, "actions"),
            (Action::Reveal, "reveal"),
            (Action::Filter, "filter"),
            (Action::SortNext, "sort"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
        (View::Detail(_), false) => &[
            (Action::Help, "help"),
            (Action::Actions, "actions"),
            (Action::Filter, "filter"),
            (Action::SortNext, "sort"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
        (View::Handoff, false) => &[
            (Action::Help, "help"),
            (Action::Palette, "command"),
            (Action::Down, "scroll"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
        (View::Alerts, false) => &[
            (Action::Help, "help"),
            (Action::NextPane, "next table"),
            (Action::Actions, "silence/expire"),
            (Action::Select, "open"),
            (Action::Filter, "filter"),
            (Action::SortNext, "sort"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
        (View::Audit, false) => &[
            (Action::Help, "help"),
            (Action::Filter, "filter"),
            (Action::SortNext, "sort"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
        _ => &[
            (Action::Help, "help"),
            (Action::Palette, "command"),
            (Action::Filter, "filter"),
            (Action::Select, "open"),
            (Action::Actions, "actions"),
            (Action::SortNext, "sort"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
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
