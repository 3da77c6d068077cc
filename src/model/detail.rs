//! A backend-neutral description of a detail view: titled sections of key/value pairs or
//! tables. Readings build it; the TUI draws it. Text is sanitised when drawn.

use super::Level;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detail {
    pub sections: Vec<Section>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub title: String,
    pub body: SectionBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SectionBody {
    Pairs(Vec<(String, String)>),
    Table(TableData),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableData {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub title: String,
    /// Preferred width in cells; the table shrinks the widest columns first when short.
    pub width: u16,
    /// Numbers are right-aligned so their magnitudes line up.
    pub numeric: bool,
    /// 0: always shown. Higher numbers are dropped first when the terminal is narrow,
    /// so an 80-column screen loses the trend before it loses the health.
    pub drop_order: u8,
}

impl Column {
    pub fn text(title: impl Into<String>, width: u16) -> Self {
        Self {
            title: title.into(),
            width,
            numeric: false,
            drop_order: 0,
        }
    }
    pub fn number(title: impl Into<String>, width: u16) -> Self {
        Self {
            title: title.into(),
            width,
            numeric: true,
            drop_order: 0,
        }
    }
    /// Marks the column as one to hide on narrow screens; higher goes first.
    pub fn optional(mut self, drop_order: u8) -> Self {
        self.drop_order = drop_order;
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Identifies the object the row stands for (a pid with its start time, a job's jid),
    /// so an action chosen on the row acts on exactly that object.
    pub key: Option<String>,
    pub cells: Vec<Cell>,
    pub level: Option<Level>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    /// The value behind a formatted number, so "1.4k" sorts after "900".
    pub sort: Option<f64>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            sort: None,
        }
    }
    pub fn number(text: impl Into<String>, value: f64) -> Self {
        Self {
            text: text.into(),
            sort: Some(value),
        }
    }
}

impl Detail {
    pub fn pairs(mut self, title: &str, pairs: Vec<(&str, String)>) -> Self {
        self.sections.push(Section {
            title: title.into(),
            body: SectionBody::Pairs(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        });
        self
    }
    pub fn table(mut self, title: &str, table: TableData) -> Self {
        self.sections.push(Section {
            title: title.into(),
            body: SectionBody::Table(table),
        });
        self
    }
}
