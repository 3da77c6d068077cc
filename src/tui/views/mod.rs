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
        View::Alerts => app.alerts.draw(
            frame,
            body,
            &crate::tui::alerts::Context {
                theme: &app.theme,
                fleet: &app.fleet,
                focused: app.help_scroll.is_none() && app.menu.is_none() && app.dialog.is_none(),
            },
        ),
    }
    if let Some(screen) = &app.runbooks.screen {
        runbooks::draw(frame, body, app, screen);
    }
    status_bar::draw(frame, status, app);
    if let Some(menu) = &app.menu {
        actions::draw_menu(frame, body, app, menu);
    }
    if let Some(dialog) = &app.dialog {
        actions::draw_dialog(frame, body, app, dialog);
    }
    if let Some(revealed) = &app.revealed {
        actions::draw_revealed(frame, body, app, revealed);
    }
    if let Some(waiting) = &app.handoff.waiting {
        handoff::draw_prompt(frame, body, app, waiting);
    }
    if let Some(scroll) = app.help_scroll {
        help::draw(frame, body, app, scroll);
    }
}
