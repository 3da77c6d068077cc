//! A table of components, the shape the overview and the kind screens share: rows, the ids
//! behind them, and the table's selection, sort and filter.

use crate::model::ComponentId;
use crate::tui::command::Command;
use crate::tui::rows::ListData;
use crate::tui::table::TableView;

#[derive(Debug, Default, Clone)]
pub struct ComponentList {
    pub list: ListData,
    pub table: TableView,
}

impl ComponentList {
    pub fn with_table(table: TableView) -> Self {
        ComponentList {
            list: ListData::default(),
            table,
        }
    }

    pub fn set(&mut self, list: ListData) {
        self.table.refresh(&list.table);
        self.list = list;
    }

    pub fn selected(&self) -> Option<ComponentId> {
        let row = self.table.selected_row()?;
        self.list.ids.get(row).cloned()
    }

    /// Movement and sort keys; false for any other command.
    pub fn command(&mut self, command: Command) -> bool {
        self.table.command(command, &self.list.table)
    }
}
