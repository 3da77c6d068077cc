//! Drawing. `draw` lays out the frame and hands each region to the component or view that
//! owns it, each with a read-only `Ctx`; only this layout reads the console itself.

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
use super::component::{Component, Ctx};

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
    // The screens under an overlay draw without focus only while help is open, as they
    // always have; overlays read the full context.
    let ctx = app.ctx();
    let under_help = Ctx {
        focused: app.help.is_none(),
        ..ctx
    };
    header::draw(frame, header_area, &ctx);
    header::draw_tabs(frame, tabs_area, &ctx);
    let (body, strip) = super::room::split(body, &ctx);
    if let Some(strip) = strip {
        super::room::draw_strip(frame, strip, &ctx);
    }
    if let Some(screen) = app.screens.current(&app.view) {
        let screen_ctx = if app.view == View::Alerts {
            ctx
        } else {
            under_help
        };
        screen.draw(frame, body, &screen_ctx);
    }
    app.runbooks.draw(frame, body, &ctx);
    if let Some(logs) = &app.logs.view {
        logs.draw(frame, body, &ctx);
    }
    let line = status_bar::StatusLine {
        prompt: app.prompt.as_ref(),
        flash: app.flash.as_ref(),
        help_open: app.help.is_some(),
        hints: app.hints(),
    };
    status_bar::draw(frame, status, &ctx, &line);
    if let Some(menu) = &app.menu {
        menu.draw(frame, body, &ctx);
    }
    if let Some(dialog) = &app.dialog {
        dialog.draw(frame, body, &ctx);
    }
    if let Some(revealed) = &app.revealed {
        actions::draw_revealed(frame, body, &app.theme, revealed);
    }
    if let Some(waiting) = &app.screens.handoff.waiting {
        handoff::draw_prompt(frame, body, &ctx, waiting);
    }
    if let Some(help) = &app.help {
        help.draw(frame, body, &ctx);
    }
}
