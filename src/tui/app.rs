//! The console: the fleet, the view stack and its screens, the overlays, and routing. A key
//! goes to whatever has it (a dialog, the handoff prompt, the runbook screen, the status
//! line's prompt, an overlay, else the current screen); what it comes to ([`Effect`]) is
//! carried out here when it concerns the console, else handed to the event loop. Nothing
//! here draws or does I/O.

use std::time::SystemTime;

use crossterm::event::KeyEvent;

use super::command::{Command, Mode};
use super::component::{Component, Ctx};
pub use super::component::{DemoInfo, Effect, View};
use super::keymap::Keymap;
use super::prompt::Typed;
pub use super::prompt::{Flash, Prompt, PromptKind};
pub use super::screens::DetailState;
use super::screens::Screens;
use super::theme::Theme;
pub use super::views::actions::{Dialog, Menu, Revealed};
use super::views::help::Help;

use crate::actions::{Action as Guarded, AuditRecord, Freeze, Preview, Role, RunResult};
use crate::model::{ComponentId, Fleet, Level};
use crate::sources::sidekiq::browse::{BrowseRequest, Browsed};

/// A [`Ctx`] borrowed field by field, so a screen or overlay can be borrowed mutably at the
/// same time.
macro_rules! ctx {
    ($app:ident, $focused:expr) => {
        Ctx {
            fleet: &$app.fleet,
            theme: &$app.theme,
            keymap: &$app.keymap,
            role: $app.role,
            demo: $app.demo.as_ref(),
            identity: $app.identity.as_deref(),
            freeze: $app.freeze.as_ref(),
            room: $app.room.as_ref(),
            now: $app.now,
            view: &$app.view,
            focused: $focused,
        }
    };
}

pub struct App {
    pub fleet: Fleet,
    pub view: View,
    back: Vec<View>,
    pub screens: Screens,
    /// The help overlay, while open.
    pub help: Option<Help>,
    pub menu: Option<Menu>,
    pub dialog: Option<Dialog>,
    pub revealed: Option<Revealed>,
    pub runbooks: super::runbooks::Runbooks,
    pub prompt: Option<Prompt>,
    pub flash: Option<Flash>,
    /// Where the event loop finds a theme named with `:theme`.
    pub themes: super::theme::ThemeShelf,
    pub keymap: Keymap,
    pub theme: Theme,
    pub demo: Option<DemoInfo>,
    /// The operator's Tailscale login, when the tailnet could tell.
    pub identity: Option<String>,
    pub role: Role,
    pub freeze: Option<Freeze>,
    /// The live room, when this console is in one.
    pub room: Option<super::room::Room>,
    pub now: SystemTime,
    /// The log view, while open, and what it is opened with.
    pub logs: super::logs::LogsPane,
}

impl App {
    pub fn new(fleet: Fleet, keymap: Keymap, theme: Theme, now: SystemTime) -> Self {
        let mut app = App {
            fleet,
            view: View::Overview,
            back: Vec::new(),
            screens: Screens::default(),
            help: None,
            menu: None,
            dialog: None,
            revealed: None,
            runbooks: super::runbooks::Runbooks::default(),
            prompt: None,
            flash: None,
            themes: Default::default(),
            keymap,
            theme,
            demo: None,
            identity: None,
            role: Role::Shadow,
            freeze: None,
            room: None,
            now,
            logs: Default::default(),
        };
        app.rebuild();
        app
    }

    /// The views reachable by number keys and tab: overview first, then one per kind.
    pub fn tabs(&self) -> Vec<View> {
        super::component::tabs(&self.fleet)
    }

    /// What components read: focused unless an overlay has the keys.
    pub fn ctx(&self) -> Ctx<'_> {
        ctx!(
            self,
            self.help.is_none() && self.menu.is_none() && self.dialog.is_none()
        )
    }

    /// Call after the fleet or the clock changed: the screens rebuild their rows.
    pub fn rebuild(&mut self) {
        let ctx = ctx!(self, true);
        self.screens.refresh(&ctx);
    }

    /// Advances the clock: re-judges staleness and expires the flash message.
    pub fn tick(&mut self, now: SystemTime) {
        self.now = now;
        self.fleet.refresh_staleness(now);
        if self.flash.as_ref().is_some_and(|f| f.until <= now) {
            self.flash = None;
        }
        self.rebuild();
    }

    pub fn flash(&mut self, text: impl Into<String>, level: Level) {
        self.flash = Some(Flash::new(text, level, self.now));
    }

    /// The runbook screen is open and typing goes into it.
    fn runbook_text(&self) -> bool {
        self.prompt.is_none() && self.help.is_none() && self.runbooks.wants_text()
    }

    fn mode(&self) -> Mode {
        let form = self.view == View::Alerts && self.screens.alerts.wants_text()
            || (self.logs.wants_text() && self.help.is_none());
        if self.prompt.is_some() || self.dialog.is_some() || self.runbook_text() || form {
            Mode::Prompt
        } else if self.screens.handoff.waiting.is_some() {
            Mode::Handoff
        } else if self.help.is_some() {
            Mode::Help
        } else if self.logs.is_open() && self.revealed.is_none() {
            Mode::Logs
        } else {
            Mode::List
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        let effect = self.route(key);
        self.resolve(effect)
    }

    /// Carries out one command as if its key was pressed outside any prompt.
    pub fn apply(&mut self, command: Command) -> Effect {
        let effect = self.command(command);
        self.resolve(effect)
    }

    fn route(&mut self, key: KeyEvent) -> Effect {
        let mode = self.mode();
        let command = self.keymap.command(mode, &key);
        if let Some(dialog) = self.dialog.as_mut() {
            let ctx = ctx!(self, true);
            let effect = match command {
                Some(command) => dialog.key(command, &ctx),
                None => dialog.text(&key, &ctx),
            };
            return match effect {
                Effect::Close => {
                    self.dialog = None;
                    Effect::None
                }
                effect => effect,
            };
        }
        if mode == Mode::Handoff {
            let ctx = ctx!(self, true);
            return match command {
                Some(command) => self.screens.handoff.prompt_key(command, &ctx),
                None => Effect::None,
            };
        }
        if self.runbooks.screen.is_some() && self.prompt.is_none() && self.help.is_none() {
            // Outside its forms the runbook screen leaves the console's own keys alone.
            if !self.runbooks.wants_text()
                && let Some(
                    c @ (Command::Palette | Command::Help | Command::Redraw | Command::Suspend),
                ) = command
            {
                return self.command(c);
            }
            let ctx = ctx!(self, true);
            return match Component::input(&mut self.runbooks, command, &key, &ctx) {
                Effect::Close => {
                    self.runbooks.screen = None;
                    Effect::None
                }
                effect => effect,
            };
        }
        let logs_have_keys =
            self.prompt.is_none() && self.help.is_none() && self.revealed.is_none();
        if self.logs.is_open() && logs_have_keys {
            let ctx = ctx!(self, true);
            return match self.logs.key(command, &key, &ctx) {
                Effect::Unhandled => command.map_or(Effect::None, |c| self.command(c)),
                effect => effect,
            };
        }
        if self.prompt.is_some() {
            return self.prompt_key(command, &key);
        }
        if mode == Mode::Prompt {
            // The alerts view's silence form.
            let ctx = ctx!(self, true);
            return self.screens.alerts.input(command, &key, &ctx);
        }
        if self.revealed.take().is_some() {
            return if command == Some(Command::Quit) {
                Effect::Quit
            } else {
                Effect::None
            };
        }
        match command {
            Some(command) => self.command(command),
            None => Effect::None,
        }
    }

    /// A command outside the prompts: the topmost overlay, else the current screen, else
    /// the console's own meaning.
    fn command(&mut self, command: Command) -> Effect {
        let ctx = ctx!(self, true);
        if let Some(help) = self.help.as_mut() {
            return match help.key(command, &ctx) {
                Effect::Close => {
                    self.help = None;
                    Effect::None
                }
                Effect::Unhandled => Effect::None,
                effect => effect,
            };
        }
        if let Some(menu) = self.menu.as_mut() {
            return match menu.key(command, &ctx) {
                Effect::Close => {
                    self.menu = None;
                    Effect::None
                }
                Effect::Act(chosen) => {
                    self.menu = None;
                    Effect::Act(chosen)
                }
                effect => effect,
            };
        }
        let effect = match self.screens.current_mut(&self.view) {
            Some(screen) => screen.key(command, &ctx),
            None => Effect::Unhandled,
        };
        match effect {
            Effect::Unhandled => super::navigation::command(command, &ctx),
            effect => effect,
        }
    }

    /// Carries out what a component asked of the console; the rest is the event loop's.
    fn resolve(&mut self, effect: Effect) -> Effect {
        match effect {
            Effect::Unhandled | Effect::Close => Effect::None,
            Effect::Open(view) => {
                self.switch_to(view);
                Effect::None
            }
            Effect::Flash(text, level) => {
                self.flash(text, level);
                Effect::None
            }
            Effect::Act(action) => self.open_dialog(*action),
            Effect::Back => {
                self.go_back();
                Effect::None
            }
            Effect::Menu => self.open_menu(),
            Effect::Help => {
                self.help = Some(Help::default());
                Effect::None
            }
            Effect::Runbooks => {
                self.runbooks.open();
                Effect::None
            }
            Effect::Prompt(kind) => {
                self.open_prompt(kind);
                Effect::None
            }
            Effect::HandoffCommand(command, words) => {
                let words: Vec<&str> = words.iter().map(String::as_str).collect();
                let ctx = ctx!(self, true);
                let effect = self.screens.handoff.command(&command, &words, &ctx);
                self.resolve(effect)
            }
            Effect::OpenLogs(target) => {
                let target = target.ok_or(()).or_else(|()| self.logs_target());
                let effect = self.logs.open_or_explain(target);
                self.resolve(effect)
            }
            Effect::Many(effects) => {
                // At most one of them is the event loop's.
                let mut left = Effect::None;
                for effect in effects {
                    match self.resolve(effect) {
                        Effect::None => {}
                        other => left = other,
                    }
                }
                left
            }
            other => other,
        }
    }

    pub(crate) fn switch_to(&mut self, view: View) {
        if self
            .runbooks
            .screen
            .as_ref()
            .is_some_and(|s| s.run.is_none())
        {
            self.runbooks.screen = None;
        }
        if view != self.view {
            let previous = std::mem::replace(&mut self.view, view);
            self.back.push(previous);
            // A bounded stack forgets the oldest views, never the one just left.
            if self.back.len() > 32 {
                self.back.remove(0);
            }
            self.screens.detail = Default::default();
            self.rebuild();
        }
    }

    /// Back: first clears the filter, then leaves a browsed page, then the view.
    fn go_back(&mut self) {
        if let Some(filter) = self
            .screens
            .current_mut(&self.view)
            .and_then(|s| s.filter_mut())
            .filter(|f| !f.is_empty())
        {
            filter.clear();
            self.rebuild();
            return;
        }
        if matches!(self.view, View::Detail(_)) {
            let ctx = ctx!(self, true);
            if self.screens.detail.leave_page(&ctx) {
                return;
            }
        }
        if let Some(view) = self.back.pop() {
            self.view = view;
            self.screens.detail = Default::default();
            self.rebuild();
        } else if self.view != View::Overview {
            self.view = View::Overview;
            self.rebuild();
        }
    }

    /// The component the keys point at: the selected row, or the one in detail.
    pub fn selected_component(&self) -> Option<ComponentId> {
        let ctx = self.ctx();
        self.screens.current(&self.view)?.selected_component(&ctx)
    }

    /// What `l` reads: the selected host, unit row or component.
    fn logs_target(&self) -> Result<super::logs::target::LogTarget, String> {
        let in_detail = matches!(self.view, View::Detail(_));
        let row = in_detail
            .then(|| self.screens.detail.selected_row())
            .flatten();
        let row = row.as_ref().map(|(t, k)| (t.as_str(), k.as_str()));
        let component = self.selected_component();
        super::logs::target::for_selection(&self.fleet, component.as_ref(), row)
    }

    /// A new inventory from discovery.
    pub fn set_inventory(&mut self, inventory: crate::inventory::Inventory) {
        self.screens.fleet.inventory = inventory;
        self.rebuild();
    }

    /// The outcome of a reveal: the content on screen, or why not.
    pub fn reveal_done(&mut self, result: Result<Revealed, String>) {
        match result {
            Ok(revealed) => self.revealed = Some(revealed),
            Err(e) => self.flash(e, Level::Warn),
        }
    }

    fn open_menu(&mut self) -> Effect {
        let Some(id) = self.selected_component() else {
            return Effect::Flash("select a component first".into(), Level::Unknown);
        };
        let Some(component) = self.fleet.get(&id) else {
            return Effect::None;
        };
        let in_detail = matches!(self.view, View::Detail(_));
        let selected = in_detail
            .then(|| self.screens.detail.selected_row())
            .flatten();
        let selected = selected
            .as_ref()
            .map(|(table, key)| crate::actions::catalog::Selected { table, key });
        // Actions on a browsed row are built from the page on screen.
        let mut component = component.clone();
        component.reading = self.screens.detail.reading_shown(&self.ctx(), &id);
        let items =
            crate::actions::catalog::for_component(&component, selected, self.demo.is_some());
        match Menu::new(id.clone(), items) {
            Some(menu) => {
                self.menu = Some(menu);
                Effect::None
            }
            None => Effect::Flash(format!("{id} offers no actions yet"), Level::Unknown),
        }
    }

    /// The confirmation dialog for `action`, focus on Cancel, its guards being previewed.
    fn open_dialog(&mut self, action: Guarded) -> Effect {
        self.dialog = Some(Dialog::new(action.clone()));
        Effect::Preview(Box::new(action))
    }

    /// The open dialog's action, if it is `action`: answers for another are stale.
    fn dialog_for(&mut self, action: &Guarded) -> Option<&mut Dialog> {
        self.dialog.as_mut().filter(|d| d.action == *action)
    }

    /// The preview for the open dialog arrived.
    pub fn preview_ready(&mut self, action: &Guarded, preview: Preview) {
        if let Some(dialog) = self.dialog_for(action) {
            dialog.preview = Some(preview);
        }
    }

    /// An action finished (or was refused): show it in the dialog and the status line.
    pub fn action_done(&mut self, action: &Guarded, result: RunResult) {
        let level = match result.outcome {
            crate::actions::Outcome::Ok => Level::Ok,
            crate::actions::Outcome::Refused => Level::Warn,
            _ => Level::Crit,
        };
        self.flash(result.message.clone(), level);
        if let Some(dialog) = self.dialog_for(action) {
            dialog.finished(result);
        }
    }

    /// A flow finished another batch.
    pub fn flow_progress(&mut self, action: &Guarded, line: String) {
        if let Some(dialog) = self.dialog_for(action) {
            dialog.progress = Some(line);
        }
    }

    /// A theme the event loop loaded for `:theme NAME`, or why it could not.
    pub fn theme_loaded(&mut self, name: &str, theme: Result<Theme, String>) {
        match theme {
            Ok(theme) => {
                self.theme = theme;
                self.flash(format!("theme {name}"), Level::Ok);
            }
            Err(e) => self.flash(e.replace('\n', " "), Level::Warn),
        }
    }

    pub fn handoff_done(&mut self, reply: super::handoff::Reply) {
        let effect = self.screens.handoff.reply(reply);
        self.resolve(effect);
    }

    /// What the room task reported: changes to the fleet (applied the way a poll's update
    /// is), the rest to the room.
    pub fn room_event(&mut self, event: crate::live::room::RoomEvent) {
        match event {
            crate::live::room::RoomEvent::Changes(changes) => {
                for change in changes {
                    change.apply_to(&mut self.fleet);
                }
                self.fleet.refresh_staleness(self.now);
                self.rebuild();
            }
            other => {
                let now = self.now;
                if let Some(room) = self.room.as_mut() {
                    room.event(other, now);
                }
            }
        }
    }

    /// The audit history as the store keeps it, oldest first.
    pub fn set_audit(&mut self, records: Vec<AuditRecord>) {
        self.screens.audit.set(records);
    }

    /// A page came back from a browse request.
    pub fn browse_done(
        &mut self,
        id: &ComponentId,
        request: &BrowseRequest,
        result: Result<Browsed, String>,
    ) {
        let ctx = ctx!(self, true);
        let effect = self.screens.detail.browsed(&ctx, id, request, result);
        self.resolve(effect);
    }

    /// The browsed page read again, after an action may have changed it.
    pub fn browse_again(&mut self) -> Option<Effect> {
        self.screens.detail.browse_again()
    }

    /// The filter `/` edits on the current screen.
    pub fn current_filter(&self) -> &str {
        self.screens.current(&self.view).map_or("", |s| s.filter())
    }

    /// The key hints of whatever has the keys.
    pub fn hints(&self) -> &'static [super::component::Hint] {
        if self.logs.is_open() {
            return super::logs::HINTS;
        }
        let ctx = self.ctx();
        self.screens
            .current(&self.view)
            .map_or(super::screens::overview::LIST_HINTS, |s| s.hints(&ctx))
    }

    fn open_prompt(&mut self, kind: PromptKind) {
        let filter = self.current_filter().to_string();
        let text = match kind {
            PromptKind::Filter => filter.clone(),
            PromptKind::ClassFilter => self
                .screens
                .detail
                .class_filter(&self.ctx())
                .unwrap_or_default(),
            PromptKind::Palette => String::new(),
        };
        self.prompt = Some(Prompt::new(kind, &text, &filter));
    }

    fn prompt_key(&mut self, command: Option<Command>, key: &KeyEvent) -> Effect {
        let Some(prompt) = self.prompt.as_mut() else {
            return Effect::None;
        };
        let kind = prompt.kind;
        match prompt.input(command, key, &self.fleet) {
            Typed::Nothing => Effect::None,
            Typed::Cancelled { previous } => {
                self.prompt = None;
                if kind == PromptKind::Filter {
                    self.set_filter(previous);
                }
                Effect::None
            }
            Typed::Changed(text) => {
                if kind == PromptKind::Filter {
                    self.set_filter(text);
                }
                Effect::None
            }
            Typed::Submitted(text) => {
                self.prompt = None;
                match kind {
                    PromptKind::Palette => super::palette::run(&text, &self.fleet),
                    PromptKind::ClassFilter => {
                        let ctx = ctx!(self, true);
                        self.screens.detail.filter_class(&ctx, &text)
                    }
                    PromptKind::Filter => Effect::None,
                }
            }
        }
    }

    fn set_filter(&mut self, text: String) {
        if let Some(filter) = self
            .screens
            .current_mut(&self.view)
            .and_then(|s| s.filter_mut())
        {
            *filter = text;
        }
        self.rebuild();
    }
}
