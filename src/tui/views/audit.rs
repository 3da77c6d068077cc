//! The audit history: every action and refusal, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions::{AuditRecord, Outcome, Phase};
use crate::model::Level;
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::tui::app::{App, ListData};
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn list(records: &[AuditRecord]) -> ListData {
    let columns = vec![
        Column::text("TIME (UTC)", 19),
        Column::text("OUTCOME", 8),
        Column::text("WHO", 14).optional(2),
        Column::text("ROLE", 7).optional(4),
        Column::text("ACTION", 30),
        Column::text("TARGET", 22).optional(3),
        Column::text("DETAIL", 20),
    ];
    let rows = records
        .iter()
        .map(|r| {
            let (word, level) = match (r.phase, r.outcome) {
                (Phase::Intent, _) => ("started", Level::Unknown),
                (_, Some(Outcome::Ok)) => ("ok", Level::Ok),
                (_, Some(Outcome::Refused)) => ("refused", Level::Warn),
                (_, Some(o)) => (o.word(), Level::Crit),
                (_, None) => ("?", Level::Unknown),
            };
            let detail = r
                .error
                .clone()
                .or_else(|| r.result.clone())
                .unwrap_or_else(|| r.operations.join("; "));
            Row {
                key: Some(r.action_id.clone()),
                cells: vec![
                    Cell::text(r.time.get(..19).unwrap_or(&r.time).replace('T', " ")),
                    Cell::text(word),
                    Cell::text(format!("{}@{}", r.operator, r.console_host)),
                    Cell::text(r.role.clone()),
                    Cell::text(r.title.clone()),
                    Cell::text(r.target.clone()),
                    Cell::text(detail),
                ],
                level: Some(level),
            }
        })
        .collect();
    ListData {
        table: TableData { columns, rows },
        ids: Vec::new(),
    }
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let table = TableFrame {
        title: format!("Audit · {}", app.store),
        data: &app.audit_list.table,
        view: &app.audit_table,
        focused: app.help_scroll.is_none(),
        empty: "nothing has been done yet",
    };
    data_table::render(frame, area, &table, &app.theme);
}
