//! One kind's components side by side, their figures as columns.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::list::ComponentList;
use super::overview::{LIST_HINTS, open};
use crate::model::ComponentId;
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect, Hint, Screen};
use crate::tui::rows;

pub struct KindScreen {
    pub kind: &'static str,
    pub rows: ComponentList,
}

impl KindScreen {
    pub fn new(kind: &'static str) -> Self {
        KindScreen {
            kind,
            rows: ComponentList::default(),
        }
    }
}

impl Component for KindScreen {
    fn key(&mut self, command: Command, _ctx: &Ctx<'_>) -> Effect {
        open(&mut self.rows, command)
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        crate::tui::views::kind::draw(frame, area, self, ctx);
    }
}

impl Screen for KindScreen {
    fn refresh(&mut self, ctx: &Ctx<'_>) {
        self.rows
            .set(rows::kind::list(ctx.fleet, self.kind, ctx.now));
    }

    fn filter_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.rows.table.filter)
    }

    fn filter(&self) -> &str {
        &self.rows.table.filter
    }

    fn selected_component(&self, _ctx: &Ctx<'_>) -> Option<ComponentId> {
        self.rows.selected()
    }

    fn hints(&self, _ctx: &Ctx<'_>) -> &'static [Hint] {
        LIST_HINTS
    }
}
