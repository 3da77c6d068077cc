//! The audit history: every action and refusal, newest first.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions::AuditRecord;
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect, Hint, Screen};
use crate::tui::rows::{self, ListData};
use crate::tui::table::TableView;

pub struct AuditScreen {
    /// Newest first.
    pub records: Vec<AuditRecord>,
    pub list: ListData,
    pub table: TableView,
    /// Where locks, approvals and shared audit live, for the title.
    pub store: String,
}

impl Default for AuditScreen {
    fn default() -> Self {
        AuditScreen {
            records: Vec::new(),
            list: ListData::default(),
            table: TableView::default(),
            store: "local".into(),
        }
    }
}

impl AuditScreen {
    /// Records as the store keeps them, oldest first.
    pub fn set(&mut self, mut records: Vec<AuditRecord>) {
        records.reverse();
        self.records = records;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        self.list = rows::audit::list(&self.records);
        self.table.refresh(&self.list.table);
    }
}

impl Component for AuditScreen {
    fn key(&mut self, command: Command, _ctx: &Ctx<'_>) -> Effect {
        if self.table.command(command, &self.list.table) {
            Effect::None
        } else {
            Effect::Unhandled
        }
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        crate::tui::views::audit::draw(frame, area, self, ctx);
    }
}

impl Screen for AuditScreen {
    fn refresh(&mut self, _ctx: &Ctx<'_>) {
        // The rows do not follow the clock; only a changed filter needs applying.
        self.table.refresh(&self.list.table);
    }

    fn filter_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.table.filter)
    }

    fn filter(&self) -> &str {
        &self.table.filter
    }

    fn hints(&self, _ctx: &Ctx<'_>) -> &'static [Hint] {
        &[
            (Command::Help, "help"),
            (Command::Filter, "filter"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ]
    }
}
