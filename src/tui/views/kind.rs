//! One kind's components side by side, their figures as columns.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::app::App;
use crate::tui::widgets::data_table::{self, TableFrame};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &App, kind: &str) {
    let Some((data, view)) = app.kinds.get(kind) else {
        return;
    };
    let area = super::regions::draw(frame, area, &app.fleet, kind, &app.theme);
    let table = TableFrame {
        title: kind.to_string(),
        data: &data.table,
        view,
        focused: app.help.is_none(),
        empty: "no components of this kind",
    };
    data_table::render(frame, area, &table, &app.theme);
}
