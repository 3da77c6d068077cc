//! A table that draws only the rows on screen, whatever the size of the data.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::{level_token, safe};
use crate::model::detail::TableData;
use crate::tui::table::TableView;
use crate::tui::theme::{Theme, Token};

pub struct TableFrame<'a> {
    pub title: String,
    pub data: &'a TableData,
    pub view: &'a TableView,
    pub focused: bool,
    /// Shown when there are no rows at all.
    pub empty: &'a str,
}

pub fn render(frame: &mut Frame<'_>, area: Rect, table: &TableFrame<'_>, theme: &Theme) {
    let TableFrame { data, view, .. } = *table;
    let shown = view.len();
    let mut title = vec![Span::styled(
        format!(" {} ", table.title),
        theme.style(Token::Title),
    )];
    let count = if view.filter.is_empty() {
        format!("({shown}) ")
    } else {
        format!("({shown} of {}) ", data.rows.len())
    };
    title.push(Span::styled(count, theme.style(Token::Muted)));
    if !view.filter.is_empty() {
        title.push(Span::styled("/", theme.style(Token::Muted)));
        title.push(safe(&view.filter, theme.style(Token::FilterMatch)));
        title.push(Span::raw(" "));
    }
    let border = if table.focused {
        Token::BorderFocus
    } else {
        Token::Border
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(border))
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    if data.rows.is_empty() || shown == 0 {
        let text = if data.rows.is_empty() {
            table.empty
        } else {
            "no rows match the filter (esc clears it)"
        };
        frame.render_widget(Line::from(safe(text, theme.style(Token::Muted))), inner);
        return;
    }
    let body_height = usize::from(inner.height.saturating_sub(1));
    let offset = view.scroll_offset(body_height);
    let selected = view.selected_position();
    let layout = fit_columns(data, inner.width);
    let header = Row::new(layout.iter().map(|&(i, _)| {
        let c = &data.columns[i];
        let arrow = match view.sort {
            Some(s) if s.column == i && s.descending => " ▼",
            Some(s) if s.column == i => " ▲",
            _ => "",
        };
        let line = Line::from(format!("{}{arrow}", c.title));
        Cell::from(if c.numeric {
            line.alignment(Alignment::Right)
        } else {
            line
        })
    }))
    .style(theme.style(Token::Header));
    let rows = view
        .order()
        .iter()
        .enumerate()
        .skip(offset)
        .take(body_height)
        .map(|(pos, &i)| {
            let row = &data.rows[i];
            let cells = layout.iter().map(|&(c, _)| {
                let style = match (c, row.level) {
                    (0, Some(level)) => theme.style(level_token(level)),
                    _ => Style::default(),
                };
                let text = row.cells.get(c).map_or("", |cell| cell.text.as_str());
                let line = Line::from(safe(text, style));
                Cell::from(if data.columns[c].numeric {
                    line.alignment(Alignment::Right)
                } else {
                    line
                })
            });
            let r = Row::new(cells);
            if pos == selected && table.focused {
                r.style(theme.style(Token::Selection))
            } else {
                r
            }
        });
    let widths: Vec<Constraint> = layout.iter().map(|&(_, w)| w).collect();
    let t = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .style(theme.style(Token::Text));
    frame.render_widget(t, inner);
}

/// Which columns to show and how wide. Optional columns are dropped (highest drop order
/// first) until the rest fit at their preferred widths; then the widest shrink. The last
/// shown column takes whatever is left, so wide terminals show more text, not blanks.
pub fn fit_columns(data: &TableData, available: u16) -> Vec<(usize, Constraint)> {
    let want = |c: &crate::model::detail::Column| c.width.max(c.title.chars().count() as u16 + 2);
    let mut shown: Vec<usize> = (0..data.columns.len()).collect();
    let total = |shown: &[usize]| -> u16 {
        shown.iter().map(|&i| want(&data.columns[i])).sum::<u16>()
            + shown.len().saturating_sub(1) as u16
    };
    while total(&shown) > available {
        let victim = shown
            .iter()
            .enumerate()
            .filter(|(_, i)| data.columns[**i].drop_order > 0)
            .max_by_key(|(pos, i)| (data.columns[**i].drop_order, *pos))
            .map(|(pos, _)| pos);
        match victim {
            Some(pos) => {
                shown.remove(pos);
            }
            None => break,
        }
    }
    let mut widths: Vec<u16> = shown.iter().map(|&i| want(&data.columns[i])).collect();
    let budget = available.saturating_sub(shown.len().saturating_sub(1) as u16);
    while widths.iter().sum::<u16>() > budget {
        let Some((i, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else {
            break;
        };
        if w <= 3 {
            break;
        }
        widths[i] = w - 1;
    }
    // Only a text column stretches: a stretched number column would push its right-aligned
    // values away from their header.
    let last = match shown.last() {
        Some(&i) if !data.columns[i].numeric => shown.len() - 1,
        _ => usize::MAX,
    };
    shown
        .into_iter()
        .zip(widths)
        .enumerate()
        .map(|(pos, (i, w))| {
            (
                i,
                if pos == last {
                    Constraint::Min(w)
                } else {
                    Constraint::Length(w)
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::detail::Column;

    fn shown(data: &TableData, width: u16) -> Vec<usize> {
        fit_columns(data, width)
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn narrow_screens_drop_optional_columns_in_order() {
        let data = TableData {
            columns: vec![
                Column::text("HEALTH", 8),
                Column::text("NAME", 20),
                Column::text("TREND", 16).optional(3),
                Column::text("REGION", 10).optional(4),
                Column::text("WHY", 30),
            ],
            rows: vec![],
        };
        assert_eq!(shown(&data, 200), vec![0, 1, 2, 3, 4]);
        assert_eq!(shown(&data, 80), vec![0, 1, 2, 4]);
        assert_eq!(shown(&data, 62), vec![0, 1, 4]);
        // nothing optional left: everything shrinks instead
        assert_eq!(shown(&data, 40), vec![0, 1, 4]);
    }
}
