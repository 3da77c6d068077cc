//! The audit history: every action and refusal, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::app::App;
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let table = TableFrame {
        title: format!("Audit · {}", app.store),
        data: &app.audit_list.table,
        view: &app.audit_table,
        focused: app.help.is_none(),
        empty: "nothing has been done yet",
    };
    data_table::render(frame, area, &table, &app.theme);
}
