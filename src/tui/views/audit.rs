//! The audit history: every action and refusal, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::component::Ctx;
use crate::tui::screens::AuditScreen;
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn draw(frame: &mut Frame<'_>, area: Rect, screen: &AuditScreen, ctx: &Ctx<'_>) {
    let table = TableFrame {
        title: format!("Audit · {}", screen.store),
        data: &screen.list.table,
        view: &screen.table,
        focused: ctx.focused,
        empty: "nothing has been done yet",
    };
    data_table::render(frame, area, &table, ctx.theme);
}
