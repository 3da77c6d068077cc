//! One kind's components side by side, their figures as columns.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::age_text;
use super::overview::level_rank;
use crate::model::Fleet;
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::tui::app::{App, ListData};
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn list(fleet: &Fleet, kind: &str, now: SystemTime) -> ListData {
    let members: Vec<_> = fleet
        .components()
        .iter()
        .filter(|c| c.meta.kind == kind)
        .collect();
    // Columns are the union of figure keys in first-seen order, so a component missing a
    // figure (a primary has no replay lag) leaves a blank rather than shifting columns.
    let mut keys: Vec<(&'static str, &'static str)> = Vec::new();
    for c in &members {
        for f in &c.figures {
            if !keys.iter().any(|(k, _)| *k == f.key) {
                keys.push((f.key, f.label));
            }
        }
    }
    let mut columns = vec![
        Column::text("HEALTH", 9),
        Column::text("NAME", 14),
        Column::text("REGION", 10).optional(200),
    ];
    // Figures further right are dropped first on narrow screens; the first ones matter most.
    columns.extend(keys.iter().enumerate().map(|(i, (_, label))| {
        Column::number(label.to_uppercase(), (label.len() as u16 + 1).max(7)).optional(10 + i as u8)
    }));
    columns.push(Column::number("AGE", 5).optional(199));
    columns.push(Column::text("WHY", 16));
    let mut rows = Vec::with_capacity(members.len());
    let mut ids = Vec::with_capacity(members.len());
    for c in members {
        let mut cells = vec![
            Cell::number(
                format!("{} {}", c.health.level.symbol(), c.health.level.word()),
                level_rank(c.health.level),
            ),
            Cell::text(c.meta.id.name()),
            Cell::text(c.meta.region.as_str()),
        ];
        for (key, _) in &keys {
            cells.push(match c.figures.iter().find(|f| f.key == *key) {
                Some(f) => Cell::number(f.display_value(), f.value),
                None => Cell::text(""),
            });
        }
        let age = c.status.age(now);
        cells.push(Cell {
            text: age_text(age),
            sort: age.map(|a| a.as_secs_f64()),
        });
        // Why it is not OK, else what it is: the same rule as the overview's last column.
        let why = match c.health.reasons.first() {
            Some(reason) => reason.clone(),
            None => c
                .reading
                .as_ref()
                .map(|r| r.summary())
                .unwrap_or_else(|| c.status.effective_state(now).word().to_string()),
        };
        cells.push(Cell::text(why));
        rows.push(Row {
            key: None,
            cells,
            level: Some(c.health.level),
        });
        ids.push(c.meta.id.clone());
    }
    ListData {
        table: TableData { columns, rows },
        ids,
    }
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, kind: &str) {
    let Some((data, view)) = app.kinds.get(kind) else {
        return;
    };
    let area = super::regions::draw(frame, area, &app.fleet, kind, &app.theme);
    let table = TableFrame {
        title: kind.to_string(),
        data: &data.table,
        view,
        focused: app.help_scroll.is_none(),
        empty: "no components of this kind",
    };
    data_table::render(frame, area, &table, &app.theme);
}
