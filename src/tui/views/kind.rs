//! One kind's components side by side, their figures as columns.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::component::Ctx;
use crate::tui::screens::KindScreen;
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn draw(frame: &mut Frame<'_>, area: Rect, screen: &KindScreen, ctx: &Ctx<'_>) {
    let area = super::regions::draw(frame, area, ctx.fleet, screen.kind, ctx.theme);
    let table = TableFrame {
        title: screen.kind.to_string(),
        data: &screen.rows.list.table,
        view: &screen.rows.table,
        focused: ctx.focused,
        empty: "no components of this kind",
    };
    data_table::render(frame, area, &table, ctx.theme);
}
