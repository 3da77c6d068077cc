//! The overview: every component, worst first. Enter opens the selected one.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::list::ComponentList;
use crate::model::ComponentId;
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect, Hint, Screen, View};
use crate::tui::rows;
use crate::tui::table::{Sort, TableView};

pub struct Overview {
    pub rows: ComponentList,
    /// What an empty fleet says, set by whoever built the console.
    pub empty_hint: String,
}

impl Default for Overview {
    fn default() -> Self {
        Overview {
            rows: ComponentList::with_table(TableView::with_sort(Some(Sort {
                column: 0,
                descending: true,
            }))),
            empty_hint: "no components configured: add [[postgres]] or [[redis]] to the config, or try `mastop demo`"
                .into(),
        }
    }
}

/// The hints of every table of components.
pub const LIST_HINTS: &[Hint] = &[
    (Command::Help, "help"),
    (Command::Palette, "command"),
    (Command::Filter, "filter"),
    (Command::Select, "open"),
    (Command::Actions, "actions"),
    (Command::SortNext, "sort"),
    (Command::Back, "back"),
    (Command::Quit, "quit"),
];

/// Enter on a table of components: its detail view.
pub fn open(rows: &mut ComponentList, command: Command) -> Effect {
    if rows.command(command) {
        return Effect::None;
    }
    match (command, rows.selected()) {
        (Command::Select, Some(id)) => Effect::Open(View::Detail(id)),
        (Command::Select, None) => Effect::None,
        _ => Effect::Unhandled,
    }
}

impl Component for Overview {
    fn key(&mut self, command: Command, _ctx: &Ctx<'_>) -> Effect {
        open(&mut self.rows, command)
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        crate::tui::views::overview::draw(frame, area, self, ctx);
    }
}

impl Screen for Overview {
    fn refresh(&mut self, ctx: &Ctx<'_>) {
        self.rows.set(rows::overview::list(ctx.fleet, ctx.now));
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
