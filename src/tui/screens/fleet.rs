//! The fleet by role, then region: every component and every inventory host. Enter opens
//! a component's detail; a host nothing polls says why it has none.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::inventory::Inventory;
use crate::model::{ComponentId, Level};
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect, Hint, Screen, View};
use crate::tui::rows::fleet::{self as rows, FleetList, Target};
use crate::tui::table::TableView;

#[derive(Default)]
pub struct FleetScreen {
    /// The merged host list and how discovery went.
    pub inventory: Inventory,
    pub list: FleetList,
    pub table: TableView,
}

impl FleetScreen {
    fn selected(&self) -> Option<&Target> {
        self.table
            .selected_row()
            .and_then(|i| self.list.targets.get(i))
    }

    fn open(&self, ctx: &Ctx<'_>) -> Effect {
        match self.selected() {
            Some(Target::Component(id)) => Effect::Open(View::Detail(id.clone())),
            Some(Target::Host(name)) => {
                let seen = self.inventory.host(name).map_or_else(String::new, |h| {
                    rows::seen_text(h.online, h.last_seen, ctx.now)
                });
                let why = if seen.starts_with("offline") {
                    seen
                } else {
                    "no [[host]] source polls it".to_string()
                };
                Effect::Flash(
                    format!("{} has no detail: {why}", crate::sanitize::sanitize(name)),
                    Level::Unknown,
                )
            }
            Some(Target::Group) | None => Effect::None,
        }
    }
}

impl Component for FleetScreen {
    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        if self.table.command(command, &self.list.table) {
            return Effect::None;
        }
        match command {
            Command::Select => self.open(ctx),
            _ => Effect::Unhandled,
        }
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        crate::tui::views::fleet::draw(frame, area, self, ctx);
    }
}

impl Screen for FleetScreen {
    fn refresh(&mut self, ctx: &Ctx<'_>) {
        self.list = rows::list(ctx.fleet, &self.inventory, ctx.now);
        self.table.refresh(&self.list.table);
    }

    fn filter_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.table.filter)
    }

    fn filter(&self) -> &str {
        &self.table.filter
    }

    fn selected_component(&self, _ctx: &Ctx<'_>) -> Option<ComponentId> {
        match self.selected()? {
            Target::Component(id) => Some(id.clone()),
            _ => None,
        }
    }

    fn hints(&self, _ctx: &Ctx<'_>) -> &'static [Hint] {
        super::overview::LIST_HINTS
    }
}
