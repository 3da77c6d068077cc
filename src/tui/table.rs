//! Table state that survives redraws: selection, scroll, sort and filter, plus the cached
//! row order they produce. Order is recomputed when data, sort or filter change, never per
//! frame, so a 10,000-row table draws only the rows on screen.

use std::cell::Cell as StdCell;

use crate::model::detail::{Row, TableData};
use crate::tui::command::Command;

#[derive(Debug, Default, Clone)]
pub struct TableView {
    /// Row indices into the data, filtered and sorted.
    order: Vec<usize>,
    /// Position in `order`.
    selected: usize,
    /// First visible position; adjusted while drawing so the selection stays visible.
    offset: StdCell<usize>,
    pub sort: Option<Sort>,
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sort {
    pub column: usize,
    pub descending: bool,
}

impl TableView {
    pub fn with_sort(sort: Option<Sort>) -> Self {
        Self {
            sort,
            ..Self::default()
        }
    }

    /// Recomputes the visible order, keeping the selection on the same row when it survives.
    pub fn refresh(&mut self, data: &TableData) {
        let keep = self.order.get(self.selected).copied();
        let needle = self.filter.to_lowercase();
        let mut order: Vec<usize> = (0..data.rows.len())
            .filter(|&i| needle.is_empty() || row_matches(&data.rows[i], &needle))
            .collect();
        if let Some(sort) = self.sort.filter(|s| s.column < data.columns.len()) {
            order.sort_by(|&a, &b| {
                let ord = compare(&data.rows[a], &data.rows[b], sort.column);
                if sort.descending { ord.reverse() } else { ord }
            });
        }
        self.order = order;
        self.selected = keep
            .and_then(|row| self.order.iter().position(|&i| i == row))
            .unwrap_or(self.selected)
            .min(self.order.len().saturating_sub(1));
    }

    /// Movement and sort keys, the same in every table; false for any other command.
    pub fn command(&mut self, command: Command, data: &TableData) -> bool {
        match command {
            Command::Up => self.move_by(-1),
            Command::Down => self.move_by(1),
            Command::PageUp => self.move_by(-20),
            Command::PageDown => self.move_by(20),
            Command::HalfPageUp => self.move_by(-10),
            Command::HalfPageDown => self.move_by(10),
            Command::Top => self.to_top(),
            Command::Bottom => self.to_bottom(),
            Command::SortNext => {
                self.cycle_sort(data.columns.len());
                self.refresh(data);
            }
            Command::SortReverse => {
                self.reverse_sort();
                self.refresh(data);
            }
            _ => return false,
        }
        true
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
    pub fn order(&self) -> &[usize] {
        &self.order
    }
    pub fn selected_position(&self) -> usize {
        self.selected
    }
    /// Index into the data of the selected row.
    pub fn selected_row(&self) -> Option<usize> {
        self.order.get(self.selected).copied()
    }

    pub fn move_by(&mut self, delta: isize) {
        if self.order.is_empty() {
            return;
        }
        let last = self.order.len() - 1;
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }
    pub fn to_top(&mut self) {
        self.selected = 0;
    }
    pub fn to_bottom(&mut self) {
        self.selected = self.order.len().saturating_sub(1);
    }

    pub fn cycle_sort(&mut self, columns: usize) {
        self.sort = match self.sort {
            None if columns > 0 => Some(Sort {
                column: 0,
                descending: false,
            }),
            Some(s) if s.column + 1 < columns => Some(Sort {
                column: s.column + 1,
                descending: s.descending,
            }),
            _ => None,
        };
    }
    pub fn reverse_sort(&mut self) {
        self.sort = Some(match self.sort {
            Some(s) => Sort {
                descending: !s.descending,
                ..s
            },
            None => Sort {
                column: 0,
                descending: true,
            },
        });
    }

    /// The first visible position for a viewport of `height` rows, remembered for the next
    /// frame so scrolling is smooth rather than jumping to centre the selection.
    pub fn scroll_offset(&self, height: usize) -> usize {
        let mut offset = self.offset.get();
        if height == 0 {
            return offset;
        }
        if self.selected < offset {
            offset = self.selected;
        } else if self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        offset = offset.min(self.order.len().saturating_sub(height));
        self.offset.set(offset);
        offset
    }
}

fn row_matches(row: &Row, needle: &str) -> bool {
    row.cells
        .iter()
        .any(|c| c.text.to_lowercase().contains(needle))
}

fn compare(a: &Row, b: &Row, column: usize) -> std::cmp::Ordering {
    let (ca, cb) = (a.cells.get(column), b.cells.get(column));
    match (ca.and_then(|c| c.sort), cb.and_then(|c| c.sort)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => {
            let ta = ca.map_or("", |c| c.text.as_str());
            let tb = cb.map_or("", |c| c.text.as_str());
            ta.cmp(tb)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::detail::{Cell, Column};

    fn data() -> TableData {
        let row = |name: &str, n: f64| Row {
            key: None,
            cells: vec![Cell::text(name), Cell::number(format!("{n}"), n)],
            level: None,
        };
        TableData {
            columns: vec![Column::text("name", 10), Column::number("size", 6)],
            rows: vec![row("push", 900.0), row("pull", 1400.0), row("default", 3.0)],
        }
    }

    #[test]
    fn sorts_numbers_by_value_and_keeps_selection() {
        let d = data();
        let mut t = TableView::default();
        t.refresh(&d);
        t.move_by(1); // "pull"
        t.sort = Some(Sort {
            column: 1,
            descending: true,
        });
        t.refresh(&d);
        assert_eq!(t.order(), &[1, 0, 2]);
        assert_eq!(t.selected_row(), Some(1));
    }

    #[test]
    fn filter_is_case_insensitive_and_clamps_selection() {
        let d = data();
        let mut t = TableView::default();
        t.refresh(&d);
        t.to_bottom();
        t.filter = "PU".into();
        t.refresh(&d);
        assert_eq!(t.order(), &[0, 1]);
        assert!(t.selected_position() < 2);
    }

    #[test]
    fn scroll_follows_selection_without_jumping() {
        let rows = (0..100)
            .map(|i| Row {
                key: None,
                cells: vec![Cell::number(i.to_string(), i as f64)],
                level: None,
            })
            .collect();
        let d = TableData {
            columns: vec![Column::number("n", 4)],
            rows,
        };
        let mut t = TableView::default();
        t.refresh(&d);
        assert_eq!(t.scroll_offset(10), 0);
        t.move_by(12);
        assert_eq!(t.scroll_offset(10), 3);
        t.move_by(-1);
        assert_eq!(t.scroll_offset(10), 3);
        t.to_bottom();
        assert_eq!(t.scroll_offset(10), 90);
        t.move_by(isize::MIN);
        assert_eq!(t.selected_position(), 0);
    }
}
