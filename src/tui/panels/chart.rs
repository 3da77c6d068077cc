//! Trends drawn as charts: a line chart over a time axis labelled in time before now, or a
//! sparkline where the panel is too short for axes.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, Paragraph, Sparkline};

use crate::model::figure::{Unit, format_value};
use crate::model::history::History;
use crate::tui::theme::{Theme, Token};

/// One series on a chart: a figure's history and how to read its values.
#[derive(Clone, Copy)]
pub struct Series<'a> {
    /// Names the series in the title when a chart has several.
    pub label: &'a str,
    pub unit: Unit,
    pub history: &'a History,
    pub token: Token,
}

/// Below this inner height a chart has no room for its axes and becomes a sparkline.
const CHART_MIN_INNER_HEIGHT: u16 = 5;

/// The axis spans a chart snaps to, so labels read as round times.
const SPANS: [u64; 7] = [60, 120, 240, 600, 1200, 1800, 3600];

/// The time the chart covers: the smallest round span holding every point.
pub fn axis_span(oldest_age_secs: f64) -> u64 {
    SPANS
        .iter()
        .copied()
        .find(|s| *s as f64 >= oldest_age_secs)
        .unwrap_or(3600)
}

/// `-30m`, `-30s`, `now`: the spans are chosen so halves stay round.
fn ago(secs: u64) -> String {
    if secs == 0 {
        "now".into()
    } else if secs.is_multiple_of(60) {
        format!("-{}m", secs / 60)
    } else {
        format!("-{secs}s")
    }
}

/// A series as (seconds before `now`, value) pairs, oldest first.
fn points(history: &History, now: SystemTime) -> Vec<(f64, f64)> {
    history
        .points()
        .map(|p| {
            let age = match now.duration_since(p.at) {
                Ok(d) => d.as_secs_f64(),
                Err(e) => -e.duration().as_secs_f64(),
            };
            (-age, p.value)
        })
        .collect()
}

/// Draws `series` (sharing one unit) in a bordered panel titled `title` plus the latest
/// value of each series.
pub fn render(
    frame: &mut Frame<'_>,
    area: Rect,
    title: &str,
    series: &[Series<'_>],
    now: SystemTime,
    theme: &Theme,
) {
    let mut spans = vec![Span::styled(
        format!(" {title} "),
        theme.style(Token::Title),
    )];
    for s in series {
        if let Some(latest) = s.history.latest() {
            let label = if series.len() > 1 {
                format!("{} ", s.label)
            } else {
                String::new()
            };
            spans.push(Span::styled(
                format!("{label}{} ", format_value(latest.value, s.unit)),
                theme.style(s.token),
            ));
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Border))
        .title(Line::from(spans));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.width < 4 || inner.height == 0 {
        return;
    }
    if series.iter().all(|s| s.history.is_empty()) {
        frame.render_widget(
            Line::from(Span::styled("no trend yet", theme.style(Token::Muted))),
            inner,
        );
        return;
    }
    if inner.height < CHART_MIN_INNER_HEIGHT {
        sparkline(frame, inner, series, theme);
        return;
    }
    let data: Vec<Vec<(f64, f64)>> = series.iter().map(|s| points(s.history, now)).collect();
    let oldest = data
        .iter()
        .filter_map(|d| d.first())
        .map(|(x, _)| -x)
        .fold(0.0, f64::max);
    let span = axis_span(oldest);
    let (mut lo, mut hi) = data
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let unit = series.first().map(|s| s.unit).unwrap_or(Unit::Count);
    // Most figures are amounts: anchoring at zero keeps a small wobble from looking like a
    // cliff. Percentages get their whole scale.
    lo = lo.min(0.0);
    if unit == Unit::Percent {
        hi = hi.max(100.0);
    }
    if hi - lo <= f64::EPSILON {
        hi = lo + 1.0;
    }
    let datasets: Vec<Dataset<'_>> = series
        .iter()
        .zip(&data)
        .map(|(s, d)| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.style(s.token))
                .data(d)
        })
        .collect();
    let muted = theme.style(Token::Muted);
    let half = span / 2;
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .style(muted)
                .bounds([-(span as f64), 0.0])
                .labels([ago(span), ago(half), ago(0)]),
        )
        .y_axis(
            Axis::default()
                .style(muted)
                .bounds([lo, hi])
                .labels([format_value(lo, unit), format_value(hi, unit)]),
        )
        .legend_position(None);
    frame.render_widget(chart, inner);
}

/// The newest values of the first series as bars, one per cell.
fn sparkline(frame: &mut Frame<'_>, area: Rect, series: &[Series<'_>], theme: &Theme) {
    let Some(s) = series.first() else {
        return;
    };
    let width = usize::from(area.width);
    let values: Vec<f64> = s.history.values().collect();
    let tail = &values[values.len().saturating_sub(width)..];
    let (lo, hi) = tail
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let lo = lo.min(0.0);
    let range = (hi - lo).max(f64::EPSILON);
    // Scaled to 0..=1000 so small fractions still draw.
    let bars: Vec<u64> = tail
        .iter()
        .map(|v| (((v - lo) / range) * 1000.0).round().clamp(0.0, 1000.0) as u64)
        .collect();
    let style: Style = theme.style(s.token);
    frame.render_widget(
        Sparkline::default().data(&bars).max(1000).style(style),
        area,
    );
}

/// A one-line note where a chart would be, when the figure is not reported.
pub fn missing(frame: &mut Frame<'_>, area: Rect, title: &str, note: &str, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Border))
        .title(Span::styled(
            format!(" {title} "),
            theme.style(Token::Title),
        ));
    frame.render_widget(
        Paragraph::new(Span::styled(note.to_string(), theme.style(Token::Muted))).block(block),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_snap_to_round_times() {
        assert_eq!(axis_span(0.0), 60);
        assert_eq!(axis_span(61.0), 120);
        assert_eq!(axis_span(239.0), 240);
        assert_eq!(axis_span(3599.0), 3600);
        assert_eq!(axis_span(99_999.0), 3600);
        for span in SPANS {
            assert!(!ago(span / 2).contains(' '), "{}", ago(span / 2));
        }
        assert_eq!(ago(300), "-5m");
        assert_eq!(ago(30), "-30s");
        assert_eq!(ago(0), "now");
    }
}
