//! The fleet by role, then region: every component and every inventory host, with a
//! roll-up line per role and region. Enter opens a component's detail view.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use crate::tui::component::Ctx;
use crate::tui::rows::fleet::status_line;
use crate::tui::screens::FleetScreen;
use crate::tui::theme::Token;
use crate::tui::widgets::data_table::{self, TableFrame};
use crate::tui::widgets::safe_owned;

pub fn draw(frame: &mut Frame<'_>, area: Rect, screen: &FleetScreen, ctx: &Ctx<'_>) {
    let theme = ctx.theme;
    let errors = screen.inventory.errors.len().min(3) as u16;
    let [info, table_area] =
        Layout::vertical([Constraint::Length(1 + errors), Constraint::Min(3)]).areas(area);
    let mut lines = vec![Line::from(vec![
        Span::raw(" "),
        safe_owned(
            status_line(&screen.inventory, ctx.identity, ctx.now),
            theme.style(Token::Muted),
        ),
    ])];
    for error in screen.inventory.errors.iter().take(3) {
        lines.push(Line::from(vec![
            Span::styled(" ▲ ", theme.style(Token::Warn)),
            safe_owned(error.clone(), theme.style(Token::Warn)),
        ]));
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(lines), info);
    let table = TableFrame {
        title: "fleet by role and region".to_string(),
        data: &screen.list.table,
        view: &screen.table,
        focused: ctx.focused,
        empty: "no hosts: add [[host]] entries or [inventory.tailscale] / [inventory.ansible]",
    };
    data_table::render(frame, table_area, &table, theme);
}
