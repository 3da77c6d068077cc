//! Everything a key can do, by stable name. Keymaps bind keys to these names; the help
//! overlay describes them; `App::update` carries them out.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    Back,
    Palette,
    Filter,
    NextView,
    PrevView,
    View1,
    View2,
    View3,
    View4,
    View5,
    View6,
    View7,
    View8,
    View9,
    Up,
    Down,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    Top,
    Bottom,
    Select,
    SortNext,
    SortReverse,
    NextPane,
    PrevPane,
    Actions,
    Reveal,
    Pause,
    Abort,
    Fleet,
    Alerts,
    NextPage,
    PrevPage,
    ClassFilter,
    Redraw,
    Suspend,
    // prompt (command palette and filter line)
    Confirm,
    Cancel,
    Complete,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Action::Quit,
        Action::Help,
        Action::Back,
        Action::Palette,
        Action::Filter,
        Action::NextView,
        Action::PrevView,
        Action::View1,
        Action::View2,
        Action::View3,
        Action::View4,
        Action::View5,
        Action::View6,
        Action::View7,
        Action::View8,
        Action::View9,
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::HalfPageUp,
        Action::HalfPageDown,
        Action::Top,
        Action::Bottom,
        Action::Select,
        Action::SortNext,
        Action::SortReverse,
        Action::NextPane,
        Action::PrevPane,
        Action::Actions,
        Action::Reveal,
        Action::Pause,
        Action::Abort,
        Action::Fleet,
        Action::Alerts,
        Action::NextPage,
        Action::PrevPage,
        Action::ClassFilter,
        Action::Redraw,
        Action::Suspend,
        Action::Confirm,
        Action::Cancel,
        Action::Complete,
    ];

    /// The name used in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Back => "back",
            Action::Palette => "palette",
            Action::Filter => "filter",
            Action::NextView => "next_view",
            Action::PrevView => "prev_view",
            Action::View1 => "view_1",
            Action::View2 => "view_2",
            Action::View3 => "view_3",
            Action::View4 => "view_4",
            Action::View5 => "view_5",
            Action::View6 => "view_6",
            Action::View7 => "view_7",
            Action::View8 => "view_8",
            Action::View9 => "view_9",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::HalfPageUp => "half_page_up",
            Action::HalfPageDown => "half_page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Select => "select",
            Action::SortNext => "sort_next",
            Action::SortReverse => "sort_reverse",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::Actions => "actions",
            Action::Reveal => "reveal",
            Action::Pause => "pause",
            Action::Abort => "abort",
            Action::Fleet => "fleet",
            Action::Alerts => "alerts",
            Action::NextPage => "next_page",
            Action::PrevPage => "prev_page",
            Action::ClassFilter => "class_filter",
            Action::Redraw => "redraw",
            Action::Suspend => "suspend",
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::Complete => "complete",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// One line for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit mastop",
            Action::Help => "show or hide this help",
            Action::Back => "go back / close",
            Action::Palette => "command palette (:overview, :postgres, :q …)",
            Action::Filter => "filter the rows of this view",
            Action::NextView => "next view",
            Action::PrevView => "previous view",
            Action::View1 => "view 1 (overview)",
            Action::View2 => "view 2",
            Action::View3 => "view 3",
            Action::View4 => "view 4",
            Action::View5 => "view 5",
            Action::View6 => "view 6",
            Action::View7 => "view 7",
            Action::View8 => "view 8",
            Action::View9 => "view 9",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::HalfPageUp => "half a page up",
            Action::HalfPageDown => "half a page down",
            Action::Top => "first row",
            Action::Bottom => "last row",
            Action::Select => "open the selected component",
            Action::SortNext => "sort by the next column",
            Action::SortReverse => "reverse the sort order",
            Action::NextPane => "next table in a detail view",
            Action::PrevPane => "previous table in a detail view",
            Action::Actions => "actions on the selected component (guarded, audited)",
            Action::Reveal => "on-call: reveal the selected row's private content (audited)",
            Action::Pause => "runbook run: hold before the next step, or go on",
            Action::Abort => "runbook run: stop before the next step",
            Action::Fleet => "the fleet by role and region, with inventory and Tailscale state",
            Action::Alerts => "alerts: firing, silenced and inhibited, and the silences",
            Action::NextPage => "next page of a Sidekiq set or busy table (read on request)",
            Action::PrevPage => "previous page of a Sidekiq set or busy table",
            Action::ClassFilter => "page through one job class of a Sidekiq set",
            Action::Redraw => "redraw the whole screen",
            Action::Suspend => "suspend to the shell (fg to resume)",
            Action::Confirm => "run the command / apply the filter",
            Action::Cancel => "close the prompt",
            Action::Complete => "complete the command",
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Action::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("no action called `{name}`")))
    }
}

/// Keymap sections. A key is looked up in the current mode first, then in `global`
/// (prompt mode does not fall back: typed characters are text there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Global,
    /// Any table: the overview, kind views, detail tables.
    List,
    /// The help overlay.
    Help,
    /// The command palette and the filter line.
    Prompt,
}

impl Mode {
    pub const ALL: &'static [Mode] = &[Mode::Global, Mode::List, Mode::Help, Mode::Prompt];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Global => "global",
            Mode::List => "list",
            Mode::Help => "help",
            Mode::Prompt => "prompt",
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.iter().copied().find(|m| m.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(*a));
            assert!(seen.insert(a.name()), "duplicate name {}", a.name());
            let json = serde_json::to_string(a).expect("serialise");
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }
}
