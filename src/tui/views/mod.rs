//! Drawing. `draw` lays out the frame and hands each region to its view; every function
//! here takes `&App` and draws, nothing more.

pub mod actions;
pub mod audit;
pub mod detail;
pub mod fleet;
pub mod handoff;
pub mod header;
pub mod help;
pub mod kind;
pub mod overview;
pub mod regions;
pub mod runbooks;
pub mod status_bar;
pub mod too_small;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use super::app::{App, View};
use super::component::Component;

/// Below this the layout cannot show a useful table.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small::draw(frame, area, &app.theme);
        return;
    }
    let [header_area, tabs_area, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, header_area, app);
    header::draw_tabs(frame, tabs_area, app);
    match &app.view {
        View::Overview => overview::draw(frame, body, app),
        View::Kind(kind) => kind::draw(frame, body, app, kind),
        View::Detail(id) => detail::draw(frame, body, app, id),
        View::Audit => audit::draw(frame, body, app),
        View::Fleet => fleet::draw(frame, body, app),
        View::Handoff => handoff::draw(frame, body, app),
        View::Alerts => app.alerts.draw(frame, body, &app.ctx()),
    }
    if let Some(screen) = &app.runbooks.screen {
        runbooks::draw(frame, body, app, screen);
    }
    status_bar::draw(frame, status, app);
    if let Some(menu) = &app.menu {
        menu.draw(frame, body, &app.ctx());
    }
    if let Some(dialog) = &app.dialog {
        dialog.draw(frame, body, &app.ctx());
    }
    if let Some(revealed) = &app.revealed {
        actions::draw_revealed(frame, body, &app.theme, revealed);
    }
    if let Some(waiting) = &app.handoff.waiting {
        handoff::draw_prompt(frame, body, app, waiting);
    }
    if let Some(help) = &app.help {
        help.draw(frame, body, &app.ctx());
    }
}
