//! Drawing the log view: the lines newest at the bottom, level marks and colours from
//! journald's priority, known signatures highlighted and counted per minute (a side strip
//! when wide, a footer line when not), what the view is doing, and its keys.
//!
//! Only the lines on screen are redacted and drawn, so ten thousand buffered lines cost no
//! more than sixty.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::UnicodeWidthChar;

use super::LogsView;
use crate::logs::LogLine;
use crate::logs::query::Window;
use crate::model::health::figure_level;
use crate::tui::command::{Command, Mode};
use crate::tui::component::Ctx;
use crate::tui::theme::{Theme, Token};
use crate::tui::widgets::{editor_spans, level_token, safe_owned};

/// Minutes of signature counts shown.
const MINUTES: i64 = 5;
/// A side strip for signatures from this inner width on.
const STRIP_FROM: u16 = 120;
const STRIP_WIDTH: u16 = 34;

pub fn draw(view: &LogsView, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    frame.render_widget(Clear, area);
    let title = format!(
        " logs · {} · {} ",
        view.target.describe(),
        view.window().label()
    );
    let block = Block::bordered()
        .title(Span::styled(title, theme.style(Token::Title)))
        .border_style(theme.style(if ctx.focused {
            Token::BorderFocus
        } else {
            Token::Border
        }));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let strip = if inner.width >= STRIP_FROM {
        STRIP_WIDTH
    } else {
        0
    };
    let [main, strip_area] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(strip)]).areas(inner);
    let notes: Vec<&str> = view.notes().collect();
    let [notes_area, lines_area, status_area, sig_area, keys_area] = Layout::vertical([
        Constraint::Length(notes.len() as u16),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(u16::from(strip == 0)),
        Constraint::Length(1),
    ])
    .areas(main);
    let warn = theme.style(Token::Warn);
    frame.render_widget(
        Paragraph::new(
            notes
                .iter()
                .map(|n| Line::from(safe_owned(format!("! {n}"), warn)))
                .collect::<Vec<_>>(),
        ),
        notes_area,
    );
    draw_lines(view, frame, lines_area, theme);
    frame.render_widget(status_line(view, theme), status_area);
    if strip == 0 {
        frame.render_widget(signature_line(view, theme), sig_area);
    } else {
        draw_strip(view, frame, strip_area, theme);
    }
    frame.render_widget(keys_line(view, ctx), keys_area);
}

fn draw_lines(view: &LogsView, frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
    let height = usize::from(area.height);
    let width = usize::from(area.width).max(1);
    let mut newest_first = view.visible(height);
    if newest_first.len() < height && view.scroll > 0 {
        // Scrolled to the top: fill the screen from the oldest line down.
        let short = height - newest_first.len();
        newest_first = view.visible_from(view.scroll.saturating_sub(short), height);
    }
    if newest_first.is_empty() {
        let why = if view.loading {
            format!("reading {} …", view.target.describe())
        } else if view.filter_text().is_some() && !view.buffer.is_empty() {
            "no line matches the filter".to_string()
        } else {
            match view.window() {
                Window::Tail => "no lines".to_string(),
                w => format!("no lines in the last {}", w.label()),
            }
        };
        frame.render_widget(
            Paragraph::new(Span::styled(why, theme.style(Token::Muted))),
            area,
        );
        return;
    }
    let host_w = newest_first
        .iter()
        .map(|l| l.host.chars().count())
        .max()
        .unwrap_or(0)
        .min(16);
    let several_units =
        view.target.units.len() > 1 || view.target.units.iter().any(|u| u.is_glob());
    let unit_w = if several_units {
        newest_first
            .iter()
            .map(|l| short_unit(&l.unit).chars().count())
            .max()
            .unwrap_or(0)
            .min(28)
    } else {
        0
    };
    let mut rows: Vec<Line<'static>> = Vec::with_capacity(height);
    for line in newest_first {
        let spans = line_spans(view, line, host_w, unit_w, theme);
        let mut these = if view.wrap {
            wrap(spans, width)
        } else {
            vec![Line::from(spans)]
        };
        these.append(&mut rows);
        rows = these;
        if rows.len() >= height {
            break;
        }
    }
    let excess = rows.len().saturating_sub(height);
    rows.drain(..excess);
    frame.render_widget(Paragraph::new(rows), area);
}

/// One log line's spans: level mark, time, host, unit, and the message, redacted, in the
/// level's colour, with known signatures highlighted.
fn line_spans(
    view: &LogsView,
    line: &LogLine,
    host_w: usize,
    unit_w: usize,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let (mark, token) = match line.priority.map(|p| p.value()) {
        Some(0..=3) => ("✖ ", Token::Crit),
        Some(4) => ("▲ ", Token::Warn),
        Some(7) => ("  ", Token::Muted),
        _ => ("  ", Token::Text),
    };
    let style = theme.style(token);
    let mut spans = vec![Span::styled(mark, style)];
    if view.timestamps {
        let time = crate::logs::format_time(line.at_us);
        let clock = time.get(11..23).unwrap_or(&time).to_string();
        spans.push(Span::styled(format!("{clock} "), theme.style(Token::Muted)));
    }
    let host: String = crate::sanitize::sanitize(&line.host)
        .chars()
        .take(host_w)
        .collect();
    spans.push(Span::styled(
        format!("{host:<host_w$} "),
        theme.style(Token::Accent),
    ));
    if unit_w > 0 {
        let unit: String = short_unit(&crate::sanitize::sanitize(&line.unit))
            .chars()
            .take(unit_w)
            .collect();
        spans.push(Span::styled(
            format!("{unit:<unit_w$} "),
            theme.style(Token::Muted),
        ));
    }
    let message = line.shown(false);
    let marked = theme.style(Token::FilterMatch).add_modifier(Modifier::BOLD);
    let mut at = 0;
    for (start, end) in view.signatures().highlights(&message) {
        if start < at || !message.is_char_boundary(start) || !message.is_char_boundary(end) {
            continue;
        }
        if start > at {
            spans.push(Span::styled(message[at..start].to_string(), style));
        }
        spans.push(Span::styled(message[start..end].to_string(), marked));
        at = end;
    }
    if at < message.len() {
        spans.push(Span::styled(message[at..].to_string(), style));
    }
    spans
}

fn short_unit(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

/// Spans cut into rows of at most `width` columns, by character.
fn wrap(spans: Vec<Span<'static>>, width: usize) -> Vec<Line<'static>> {
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        let mut piece = String::new();
        for c in span.content.chars() {
            let w = c.width().unwrap_or(0);
            if used + w > width && used > 0 {
                if !piece.is_empty()
                    && let Some(r) = rows.last_mut()
                {
                    r.push(Span::styled(std::mem::take(&mut piece), span.style));
                }
                rows.push(Vec::new());
                used = 0;
            }
            piece.push(c);
            used += w;
        }
        if !piece.is_empty()
            && let Some(r) = rows.last_mut()
        {
            r.push(Span::styled(piece, span.style));
        }
    }
    rows.into_iter().map(Line::from).collect()
}

fn status_line(view: &LogsView, theme: &Theme) -> Line<'static> {
    let muted = theme.style(Token::Muted);
    let warn = theme.style(Token::Warn);
    if let Some((editor, error)) = view.editing() {
        let mut spans = vec![Span::styled("/", theme.style(Token::Accent))];
        spans.extend(editor_spans(editor, theme.style(Token::FilterMatch), true));
        spans.push(Span::styled(
            "  regex, ! in front keeps what does not match",
            muted,
        ));
        if let Some(e) = error {
            spans.push(safe_owned(format!("  {e}"), warn));
        }
        return Line::from(spans);
    }
    let mut spans: Vec<Span<'static>> = Vec::new();
    let sep = || Span::styled(" · ", theme.style(Token::Muted));
    if view.paused() {
        spans.push(Span::styled(
            format!("paused · {} new", thousands(view.new_while_paused)),
            warn,
        ));
        let dropped = view.dropped_while_paused();
        if dropped > 0 {
            spans.push(sep());
            spans.push(Span::styled(
                format!("dropped {} lines while paused", thousands(dropped)),
                warn,
            ));
        }
    } else if view.following {
        spans.push(Span::styled("following", theme.style(Token::Ok)));
    } else {
        spans.push(Span::styled("not following", muted));
    }
    spans.push(sep());
    spans.push(Span::styled(
        format!("{} lines", thousands(view.buffer.len() as u64)),
        muted,
    ));
    if !view.paused() && view.buffer.dropped() > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!(
                "dropped {} (keeps {})",
                thousands(view.buffer.dropped()),
                thousands(view.buffer.capacity() as u64)
            ),
            muted,
        ));
    }
    if view.unreadable > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!("{} unreadable", thousands(view.unreadable as u64)),
            warn,
        ));
    }
    if let Some(f) = view.filter_text() {
        spans.push(sep());
        spans.push(safe_owned(format!("/{f}"), theme.style(Token::FilterMatch)));
    }
    if view.wrap {
        spans.push(sep());
        spans.push(Span::styled("wrap", muted));
    }
    spans.push(sep());
    spans.push(Span::styled("private: redacted", muted));
    Line::from(spans)
}

/// Signatures seen in the last minutes: index, counts oldest first, and the newest minute.
fn recent_counts(view: &LogsView) -> Vec<(usize, Vec<u64>)> {
    let Some(newest) = view.buffer.lines().back().map(LogLine::minute) else {
        return Vec::new();
    };
    let counts = view.buffer.counts();
    (0..view.signatures().list().len())
        .map(|i| {
            let row: Vec<u64> = (newest - MINUTES + 1..=newest)
                .map(|m| counts.count(m, i))
                .collect();
            (i, row)
        })
        .filter(|(_, row)| row.iter().any(|&n| n > 0))
        .collect()
}

fn count_style(view: &LogsView, index: usize, n: u64, theme: &Theme) -> Style {
    match view.signatures().list().get(index) {
        Some(sig) => theme.style(level_token(figure_level(n as f64, &sig.threshold))),
        None => theme.style(Token::Text),
    }
}

fn signature_line(view: &LogsView, theme: &Theme) -> Line<'static> {
    let recent = recent_counts(view);
    if recent.is_empty() {
        return Line::from(Span::styled(
            "no known signature in the last minutes",
            theme.style(Token::Muted),
        ));
    }
    let mut spans = vec![Span::styled("/min ", theme.style(Token::Muted))];
    for (n, (i, row)) in recent.iter().enumerate() {
        if n > 0 {
            spans.push(Span::styled(" · ", theme.style(Token::Muted)));
        }
        let last = row.last().copied().unwrap_or(0);
        spans.push(Span::styled(
            format!("{} {}", view.signatures().name(*i), thousands(last)),
            count_style(view, *i, last, theme),
        ));
    }
    Line::from(spans)
}

fn draw_strip(view: &LogsView, frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
    let block = Block::default()
        .borders(ratatui::widgets::Borders::LEFT)
        .border_style(theme.style(Token::Border));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = vec![Line::from(Span::styled(
        format!("signatures per minute, last {MINUTES}"),
        theme.style(Token::Title),
    ))];
    let recent = recent_counts(view);
    if recent.is_empty() {
        lines.push(Line::from(Span::styled(
            "none seen",
            theme.style(Token::Muted),
        )));
    }
    for (i, row) in recent {
        let last = row.last().copied().unwrap_or(0);
        lines.push(Line::from(Span::styled(
            view.signatures().name(i).to_string(),
            count_style(view, i, last, theme),
        )));
        let mut spans = Vec::new();
        for n in row {
            spans.push(Span::styled(
                format!("{:>6}", thousands(n)),
                count_style(view, i, n, theme),
            ));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn keys_line(view: &LogsView, ctx: &Ctx<'_>) -> Line<'static> {
    let theme = ctx.theme;
    let presets = [
        Command::SinceTail,
        Command::Since1m,
        Command::Since5m,
        Command::Since15m,
        Command::Since1h,
    ];
    let mut spans = Vec::new();
    for (command, window) in presets.iter().zip(Window::PRESETS) {
        let Some(key) = ctx.keymap.key_for(Mode::Logs, *command) else {
            continue;
        };
        let style = if window == view.window() {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        spans.push(Span::styled(key, theme.style(Token::KeyHint)));
        spans.push(Span::styled(format!(" {} ", window.label()), style));
    }
    let follow = if view.following { "stop" } else { "follow" };
    let wrap = if view.wrap { "cut" } else { "wrap" };
    let hints = [
        (Command::Follow, follow),
        (Command::Bottom, "resume"),
        (Command::Wrap, wrap),
        (Command::Timestamps, "time"),
        (Command::Filter, "filter"),
        (Command::Reveal, "reveal"),
        (Command::SaveLog, "save"),
        (Command::Back, "close"),
    ];
    for (command, label) in hints {
        if let Some(key) = ctx.keymap.key_for(Mode::Logs, command) {
            spans.push(Span::styled(key, theme.style(Token::KeyHint)));
            spans.push(Span::styled(format!(" {label} "), theme.style(Token::Text)));
        }
    }
    Line::from(spans)
}

/// `8123` as `8,123`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(8123), "8,123");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn wrapping_cuts_by_columns_and_keeps_styles() {
        let spans = vec![
            Span::styled("ab", Style::default()),
            Span::styled("cdé漢z", Style::default().add_modifier(Modifier::BOLD)),
        ];
        let rows = wrap(spans, 3);
        let text: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["abc", "dé", "漢z"]);
    }
}
