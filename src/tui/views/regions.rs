//! The region lines above a kind's table: one per region, worst first, so a broken site is
//! read before the rows are.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;

use crate::model::{Fleet, Level, SourceState};
use crate::sources::edge::region_summary;
use crate::tui::theme::Theme;
use crate::tui::widgets::{level_token, safe_owned};

/// Kinds whose view is headed by region lines, and the noun for one member.
const REGIONAL: &[(&str, &str)] = &[(crate::sources::edge::KIND, "edge")];

/// Never more than this many lines, so the table keeps the screen on a small terminal.
const MAX_LINES: usize = 6;

/// The lines for `kind`, or none when it is not regional or has a single region only.
pub fn lines(fleet: &Fleet, kind: &str) -> Vec<(Level, String)> {
    let Some((_, noun)) = REGIONAL.iter().find(|(k, _)| *k == kind) else {
        return Vec::new();
    };
    let members: Vec<_> = fleet
        .components()
        .iter()
        .filter(|c| c.meta.kind == kind && c.status.state != SourceState::Disabled)
        .map(|c| (&c.meta, &c.health))
        .collect();
    let summary = region_summary(&members);
    if summary.len() < 2 {
        return Vec::new();
    }
    // A line each for regions with a problem; the healthy ones share one line.
    let mut lines: Vec<(Level, String)> = summary
        .iter()
        .filter(|s| s.level != Level::Ok)
        .take(MAX_LINES - 1)
        .map(|s| (s.level, s.line(noun)))
        .collect();
    let healthy: Vec<String> = summary
        .iter()
        .filter(|s| s.level == Level::Ok)
        .map(|s| format!("{} ({})", s.region_name(), s.members))
        .collect();
    if !healthy.is_empty() {
        lines.push((
            Level::Ok,
            format!("{} OK: {}", Level::Ok.symbol(), healthy.join(", ")),
        ));
    }
    lines
}

/// Draws the region lines at the top of `area` and returns what is left for the table.
pub fn draw(frame: &mut Frame<'_>, area: Rect, fleet: &Fleet, kind: &str, theme: &Theme) -> Rect {
    let lines = lines(fleet, kind);
    if lines.is_empty() || area.height < lines.len() as u16 + 8 {
        return area;
    }
    let [top, rest] =
        Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(0)]).areas(area);
    let text: Vec<Line> = lines
        .into_iter()
        .map(|(level, line)| {
            Line::from(safe_owned(
                format!(" {line}"),
                theme.style(level_token(level)),
            ))
        })
        .collect();
    frame.render_widget(ratatui::widgets::Paragraph::new(text), top);
    rest
}
