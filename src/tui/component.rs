//! The shape of every screen and overlay of the console. A component owns its state,
//! turns a [`Command`] into an [`Effect`] and draws from a narrow, read-only [`Ctx`]: the
//! fleet, theme, keymap, session role, clock and focus. It never sees the whole console,
//! so it can be built, driven and drawn on its own in a test.
//!
//! The console (`app.rs`) owns the components and routes: the topmost overlay gets the
//! keys, else the current view; an effect a component cannot carry out itself (open
//! another view, show a message, review a guarded action, start background work) goes
//! back to the console, which carries it out or hands it to the event loop.

use std::time::{Duration, SystemTime};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::command::Command;
use super::keymap::Keymap;
use super::theme::Theme;
use crate::actions::kinds::retry_all::Abort;
use crate::actions::{Action as Guarded, Confirmation, Freeze, Role};
use crate::model::{ComponentId, Fleet, Level};
use crate::sources::sidekiq::browse::BrowseRequest;

/// The screens the console can show; overlays (help, dialogs, the runbook screen) are
/// drawn over whichever is current.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    Overview,
    /// Every component of one kind, with its figures as columns.
    Kind(&'static str),
    Detail(ComponentId),
    /// What was done: the audit history, newest first.
    Audit,
    /// A handoff report: a draft for this shift, the latest written, or one just written.
    Handoff,
    /// Every host and component by role, then region.
    Fleet,
    /// What Alertmanager says is firing, silenced and inhibited.
    Alerts,
}

impl View {
    /// How the help names where the operator is.
    pub fn describe(&self) -> String {
        match self {
            View::Overview => "overview".to_string(),
            View::Kind(k) => format!("{k} view"),
            View::Detail(id) => format!("detail of {id}"),
            View::Audit => "audit history".to_string(),
            View::Handoff => "handoff report".to_string(),
            View::Fleet => "fleet view".to_string(),
            View::Alerts => "alerts".to_string(),
        }
    }
}

/// The views reachable by number keys and tab: overview first, then one per kind.
pub fn tabs(fleet: &Fleet) -> Vec<View> {
    std::iter::once(View::Overview)
        .chain(fleet.kinds().into_iter().map(View::Kind))
        .collect()
}

/// Shown on screen when running the simulated fleet.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub timeline: Vec<(Duration, String)>,
    pub started: SystemTime,
    pub offset: Duration,
}

/// What a component may read while it handles a key or draws. Nothing in it can change.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub fleet: &'a Fleet,
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
    pub role: Role,
    /// Running the simulated fleet (there is no backend to page or filter), with its
    /// scripted timeline.
    pub demo: Option<&'a DemoInfo>,
    /// The operator's Tailscale login, when the tailnet could tell.
    pub identity: Option<&'a str>,
    /// The global freeze, while one is set.
    pub freeze: Option<&'a Freeze>,
    /// The live room, when this console is in one.
    pub room: Option<&'a super::room::Room>,
    pub now: SystemTime,
    /// The view on screen, for overlays that describe it.
    pub view: &'a View,
    /// False while an overlay has the keys: a view under it draws without focus.
    pub focused: bool,
}

/// A screen or an overlay.
pub trait Component {
    /// A command from the keymap while this component has the keys.
    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect;

    /// Whether keys the keymap does not claim are text for this component (a form, a typed
    /// confirmation); the keymap's `[prompt]` table applies while it is.
    fn wants_text(&self) -> bool {
        false
    }

    /// A key the keymap did not claim while [`Component::wants_text`]: typing.
    fn text(&mut self, _key: &KeyEvent, _ctx: &Ctx<'_>) -> Effect {
        Effect::None
    }

    /// Every key while this component has them: a command the keymap found, or the key
    /// itself when the keymap claimed none. Components that read raw keys alongside
    /// commands (a form moving between fields with the arrows) override this.
    fn input(&mut self, command: Option<Command>, key: &KeyEvent, ctx: &Ctx<'_>) -> Effect {
        match command {
            Some(command) => self.key(command, ctx),
            None if self.wants_text() => self.text(key, ctx),
            None => Effect::None,
        }
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>);
}

/// A key hint for the status line: the command and what it does here.
pub type Hint = (Command, &'static str);

/// A screen of the view stack (overview, a kind, a detail, audit, fleet, handoff, alerts):
/// besides keys and drawing, it rebuilds its rows when the fleet or clock changes and owns
/// the filter that `/` edits.
pub trait Screen: Component {
    /// The fleet or the clock changed: rebuild rows, keeping selection, sort and filter.
    fn refresh(&mut self, ctx: &Ctx<'_>);

    /// The text `/` filters the focused table by; `None` where nothing filters.
    fn filter_mut(&mut self) -> Option<&mut String>;

    fn filter(&self) -> &str;

    /// The component the keys point at: the selected row, or the one shown.
    fn selected_component(&self, _ctx: &Ctx<'_>) -> Option<ComponentId> {
        None
    }

    /// The key hints of the status line while this screen has the keys.
    fn hints(&self, ctx: &Ctx<'_>) -> &'static [Hint];
}

/// What a key comes to. The first group is carried out by the console; the rest by the
/// event loop (quitting, the terminal, background work).
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    None,
    /// The component does not use this command: the console's own meaning applies.
    Unhandled,
    /// The overlay is done: the console closes it.
    Close,
    /// Go to another view (pushed on the back stack).
    Open(View),
    /// A message in the status line.
    Flash(String, Level),
    /// Review this guarded action in the confirmation dialog.
    Act(Box<Guarded>),
    Quit,
    Suspend,
    /// Clear and repaint everything (after a theme change or on request).
    FullRedraw,
    /// Load a theme by name (`:theme NAME`) and switch to it.
    Theme(String),
    /// Run the guards without executing, to fill the confirmation dialog.
    Preview(Box<Guarded>),
    /// Run the action through the pipeline.
    Run(Box<Guarded>, Confirmation, Option<String>),
    /// Set (`Some(reason)`) or lift the global freeze.
    Freeze(Option<String>),
    /// Approve another console's critical action.
    Approve(String),
    /// Reload the audit history.
    LoadAudit,
    /// Shift log and handoff store work.
    Handoff(super::handoff::Request),
    /// Start a runbook run the operator approved on the runbook screen.
    Runbook(Box<super::runbooks::RunStart>),
    /// Run a multi-batch flow (retry all) with one confirmation; `Abort` stops it.
    RunFlow(Box<Guarded>, Confirmation, Abort),
    /// Read a page of a Sidekiq set or of the busy jobs.
    Browse(ComponentId, BrowseRequest),
    /// Back: clear the filter, leave a browsed page, or go to the previous view.
    Back,
    /// Open the action menu for what is selected.
    Menu,
    /// Several effects, carried out in order.
    Many(Vec<Effect>),
    /// Open the help overlay.
    Help,
    /// Open the runbook screen.
    Runbooks,
    /// Open the status line's prompt.
    Prompt(super::prompt::PromptKind),
    /// A handoff command from the palette (`:note`, `:ack`, …) with its words.
    HandoffCommand(String, Vec<String>),
    /// Open the log view: of `Some` target (`:logs`), or of what is selected (`l`).
    OpenLogs(Option<super::logs::target::LogTarget>),
    /// Log view reading, stopping and saving.
    Logs(super::logs::LogWork),
    /// Reveal one row's private content (audited; on-call only).
    Reveal {
        component: String,
        table: String,
        key: String,
        content: Option<String>,
    },
}
