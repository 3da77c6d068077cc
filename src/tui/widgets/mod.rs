//! Drawing helpers shared by views. All backend text passes through `safe` here.

pub mod data_table;

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::Span;

use super::line_edit::LineEditor;
use super::theme::{Theme, Token};
use crate::model::Level;

/// A span of backend-originated text, sanitised for the terminal.
pub fn safe<'a>(text: &'a str, style: Style) -> Span<'a> {
    match crate::sanitize::sanitize(text) {
        Cow::Borrowed(t) => Span::styled(t, style),
        Cow::Owned(t) => Span::styled(t, style),
    }
}

/// Like [`safe`], for text already assembled into an owned string.
pub fn safe_owned(text: String, style: Style) -> Span<'static> {
    Span::styled(crate::sanitize::sanitize(&text).into_owned(), style)
}

pub fn level_token(level: Level) -> Token {
    match level {
        Level::Ok => Token::Ok,
        Level::Warn => Token::Warn,
        Level::Crit => Token::Crit,
        Level::Unknown => Token::Unknown,
    }
}

/// `✖ CRIT`: symbol and word, so health never rests on colour alone.
pub fn level_span(level: Level, theme: &Theme) -> Span<'static> {
    Span::styled(
        format!("{} {}", level.symbol(), level.word()),
        theme.style(level_token(level)),
    )
}

/// A line being edited: the text sanitised, with a block cursor where typing goes when
/// `focused`. The same for every prompt, so they all look alike.
pub fn editor_spans(editor: &LineEditor, style: Style, focused: bool) -> Vec<Span<'static>> {
    let (before, after) = editor.split();
    let mut spans = vec![safe_owned(before.to_string(), style)];
    if focused {
        spans.push(Span::styled("█", style));
    }
    if !after.is_empty() {
        spans.push(safe_owned(after.to_string(), style));
    }
    spans
}
