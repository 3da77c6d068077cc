//! Everything a key can do, by stable name. Keymaps bind keys to these names; the help
//! overlay describes them; the component that has the keys carries them out.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
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
    /// The handoff prompt: take the shift (on-call).
    Acknowledge,
    /// The logs of the selected host, unit or component.
    Logs,
    // log view
    Follow,
    Wrap,
    Timestamps,
    SaveLog,
    SinceTail,
    Since1m,
    Since5m,
    Since15m,
    Since1h,
    // prompt (command palette and filter line)
    Confirm,
    Cancel,
    Complete,
}

impl Command {
    /// Which tab a number key opens, counting from 0.
    pub fn view_number(self) -> Option<usize> {
        Some(match self {
            Command::View1 => 0,
            Command::View2 => 1,
            Command::View3 => 2,
            Command::View4 => 3,
            Command::View5 => 4,
            Command::View6 => 5,
            Command::View7 => 6,
            Command::View8 => 7,
            Command::View9 => 8,
            _ => return None,
        })
    }

    pub const ALL: &'static [Command] = &[
        Command::Quit,
        Command::Help,
        Command::Back,
        Command::Palette,
        Command::Filter,
        Command::NextView,
        Command::PrevView,
        Command::View1,
        Command::View2,
        Command::View3,
        Command::View4,
        Command::View5,
        Command::View6,
        Command::View7,
        Command::View8,
        Command::View9,
        Command::Up,
        Command::Down,
        Command::PageUp,
        Command::PageDown,
        Command::HalfPageUp,
        Command::HalfPageDown,
        Command::Top,
        Command::Bottom,
        Command::Select,
        Command::SortNext,
        Command::SortReverse,
        Command::NextPane,
        Command::PrevPane,
        Command::Actions,
        Command::Reveal,
        Command::Pause,
        Command::Abort,
        Command::Fleet,
        Command::Alerts,
        Command::NextPage,
        Command::PrevPage,
        Command::ClassFilter,
        Command::Redraw,
        Command::Suspend,
        Command::Acknowledge,
        Command::Logs,
        Command::Follow,
        Command::Wrap,
        Command::Timestamps,
        Command::SaveLog,
        Command::SinceTail,
        Command::Since1m,
        Command::Since5m,
        Command::Since15m,
        Command::Since1h,
        Command::Confirm,
        Command::Cancel,
        Command::Complete,
    ];

    /// The name used in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::Help => "help",
            Command::Back => "back",
            Command::Palette => "palette",
            Command::Filter => "filter",
            Command::NextView => "next_view",
            Command::PrevView => "prev_view",
            Command::View1 => "view_1",
            Command::View2 => "view_2",
            Command::View3 => "view_3",
            Command::View4 => "view_4",
            Command::View5 => "view_5",
            Command::View6 => "view_6",
            Command::View7 => "view_7",
            Command::View8 => "view_8",
            Command::View9 => "view_9",
            Command::Up => "up",
            Command::Down => "down",
            Command::PageUp => "page_up",
            Command::PageDown => "page_down",
            Command::HalfPageUp => "half_page_up",
            Command::HalfPageDown => "half_page_down",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::Select => "select",
            Command::SortNext => "sort_next",
            Command::SortReverse => "sort_reverse",
            Command::NextPane => "next_pane",
            Command::PrevPane => "prev_pane",
            Command::Actions => "actions",
            Command::Reveal => "reveal",
            Command::Pause => "pause",
            Command::Abort => "abort",
            Command::Fleet => "fleet",
            Command::Alerts => "alerts",
            Command::NextPage => "next_page",
            Command::PrevPage => "prev_page",
            Command::ClassFilter => "class_filter",
            Command::Redraw => "redraw",
            Command::Suspend => "suspend",
            Command::Acknowledge => "acknowledge",
            Command::Logs => "logs",
            Command::Follow => "follow",
            Command::Wrap => "wrap",
            Command::Timestamps => "timestamps",
            Command::SaveLog => "save_log",
            Command::SinceTail => "since_tail",
            Command::Since1m => "since_1m",
            Command::Since5m => "since_5m",
            Command::Since15m => "since_15m",
            Command::Since1h => "since_1h",
            Command::Confirm => "confirm",
            Command::Cancel => "cancel",
            Command::Complete => "complete",
        }
    }

    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// One line for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Command::Quit => "quit mastop",
            Command::Help => "show or hide this help",
            Command::Back => "go back / close",
            Command::Palette => "command palette (:overview, :postgres, :q …)",
            Command::Filter => "filter the rows of this view",
            Command::NextView => "next view",
            Command::PrevView => "previous view",
            Command::View1 => "view 1 (overview)",
            Command::View2 => "view 2",
            Command::View3 => "view 3",
            Command::View4 => "view 4",
            Command::View5 => "view 5",
            Command::View6 => "view 6",
            Command::View7 => "view 7",
            Command::View8 => "view 8",
            Command::View9 => "view 9",
            Command::Up => "move up",
            Command::Down => "move down",
            Command::PageUp => "page up",
            Command::PageDown => "page down",
            Command::HalfPageUp => "half a page up",
            Command::HalfPageDown => "half a page down",
            Command::Top => "first row",
            Command::Bottom => "last row",
            Command::Select => "open the selected component",
            Command::SortNext => "sort by the next column",
            Command::SortReverse => "reverse the sort order",
            Command::NextPane => "next table in a detail view",
            Command::PrevPane => "previous table in a detail view",
            Command::Actions => "actions on the selected component (guarded, audited)",
            Command::Reveal => "on-call: reveal the selected row's private content (audited)",
            Command::Pause => "runbook run: hold before the next step, or go on",
            Command::Abort => "runbook run: stop before the next step",
            Command::Fleet => "the fleet by role and region, with inventory and Tailscale state",
            Command::Alerts => "alerts: firing, silenced and inhibited, and the silences",
            Command::NextPage => "next page of a Sidekiq set or busy table (read on request)",
            Command::PrevPage => "previous page of a Sidekiq set or busy table",
            Command::ClassFilter => "page through one job class of a Sidekiq set",
            Command::Redraw => "redraw the whole screen",
            Command::Suspend => "suspend to the shell (fg to resume)",
            Command::Acknowledge => "acknowledge the handoff waiting for you (on-call)",
            Command::Logs => "logs of the selected host, unit or component (:logs HOST UNIT)",
            Command::Follow => "log view: follow new lines, or stop following",
            Command::Wrap => "log view: wrap long lines, or cut them",
            Command::Timestamps => "log view: show or hide timestamps",
            Command::SaveLog => "log view: save what is shown (redacted) to a file",
            Command::SinceTail => "log view: the last lines, however old",
            Command::Since1m => "log view: the last minute",
            Command::Since5m => "log view: the last 5 minutes",
            Command::Since15m => "log view: the last 15 minutes",
            Command::Since1h => "log view: the last hour",
            Command::Confirm => "run the command / apply the filter",
            Command::Cancel => "close the prompt",
            Command::Complete => "complete the command",
        }
    }
}

impl Serialize for Command {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Command::from_name(&name)
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
    /// The handoff waiting for acknowledgement at start.
    Handoff,
    /// The log view.
    Logs,
}

impl Mode {
    pub const ALL: &'static [Mode] = &[
        Mode::Global,
        Mode::List,
        Mode::Help,
        Mode::Prompt,
        Mode::Handoff,
        Mode::Logs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Global => "global",
            Mode::List => "list",
            Mode::Help => "help",
            Mode::Prompt => "prompt",
            Mode::Handoff => "handoff",
            Mode::Logs => "logs",
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
        for a in Command::ALL {
            assert_eq!(Command::from_name(a.name()), Some(*a));
            assert!(seen.insert(a.name()), "duplicate name {}", a.name());
            let json = serde_json::to_string(a).expect("serialise");
            assert_eq!(json, format!("\"{}\"", a.name()));
        }
    }
}
