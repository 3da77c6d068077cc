//! Application state and the one place it changes: `App::handle_key` and the data hooks.
//! Components read a `Ctx`; nothing here draws or does I/O.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crossterm::event::KeyEvent;

use super::browse::{self as pager, Browsable, BrowseState, Step};
use super::command::{Command, Mode};
use super::component::{Component, Ctx};
pub use super::component::{Effect, View};
use super::keymap::Keymap;
use super::line_edit::{self, LineEditor};
use super::rows::{self, ListData};
use super::table::{Sort, TableView};
use super::theme::Theme;
pub use super::views::actions::{Dialog, Menu};
use super::views::help::Help;

use crate::actions::kinds::retry_all::{Abort, Flow};
use crate::actions::{Action as Guarded, AuditRecord, Freeze, Preview, Risk, Role, RunResult};
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::{ComponentId, Detail, Fleet, Level};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PromptKind {
    Palette,
    Filter,
    /// The class whose jobs a Sidekiq set table pages through.
    ClassFilter,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: LineEditor,
    /// What the filter was before the prompt opened, restored on cancel.
    previous: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub until: SystemTime,
}

/// Private content on screen after an audited reveal, until the operator closes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Revealed {
    pub title: String,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct DetailState {
    pub id: ComponentId,
    pub detail: Detail,
    /// One view per table section, in section order; selection, sort and filter survive
    /// the reading being replaced every poll.
    pub tables: Vec<TableView>,
    /// Which table the keys act on.
    pub focus: usize,
}

impl DetailState {
    pub fn focused(&self) -> Option<(&TableView, &TableData)> {
        let data = rows::detail::tables(&self.detail).nth(self.focus)?;
        Some((self.tables.get(self.focus)?, data))
    }
}

/// Shown on screen when running the simulated fleet.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub timeline: Vec<(Duration, String)>,
    pub started: SystemTime,
    pub offset: Duration,
}

/// A [`Ctx`] borrowed field by field, so a component of the app can be borrowed mutably
/// at the same time.
macro_rules! ctx {
    ($app:ident, $focused:expr) => {
        Ctx {
            fleet: &$app.fleet,
            theme: &$app.theme,
            keymap: &$app.keymap,
            role: $app.role,
            demo: $app.demo.is_some(),
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
    /// The help overlay, while open.
    pub help: Option<Help>,
    /// Where the event loop finds a theme named with `:theme`.
    pub themes: super::theme::ThemeShelf,
    pub prompt: Option<Prompt>,
    pub keymap: Keymap,
    pub theme: Theme,
    pub demo: Option<DemoInfo>,
    pub now: SystemTime,
    pub flash: Option<Flash>,
    pub overview: ListData,
    pub overview_table: TableView,
    pub kinds: HashMap<&'static str, (ListData, TableView)>,
    pub detail: Option<DetailState>,
    /// A hint for an empty fleet, set by whoever built the app.
    pub empty_hint: String,
    pub role: Role,
    pub freeze: Option<Freeze>,
    /// Where locks, approvals and shared audit live, for the header and help.
    pub store: String,
    pub menu: Option<Menu>,
    pub dialog: Option<Dialog>,
    pub audit: Vec<AuditRecord>,
    pub audit_list: ListData,
    pub audit_table: TableView,
    pub revealed: Option<Revealed>,
    pub handoff: super::handoff::HandoffState,
    pub runbooks: super::runbooks::Runbooks,
    /// The merged host list and how discovery went.
    pub inventory: crate::inventory::Inventory,
    pub fleet_list: rows::fleet::FleetList,
    pub fleet_table: TableView,
    /// The operator's Tailscale login, when the tailnet could tell.
    pub identity: Option<String>,
    /// The page of a Sidekiq table the operator paged to, in the detail view.
    pub browse: Option<BrowseState>,
    pub alerts: super::alerts::AlertsView,
}

impl App {
    pub fn new(fleet: Fleet, keymap: Keymap, theme: Theme, now: SystemTime) -> Self {
        let mut app = App {
            fleet,
            view: View::Overview,
            back: Vec::new(),
            help: None,
            themes: Default::default(),
            prompt: None,
            keymap,
            theme,
            demo: None,
            now,
            flash: None,
            overview: ListData::default(),
            overview_table: TableView::with_sort(Some(Sort { column: 0, descending: true })),
            kinds: HashMap::new(),
            detail: None,
            empty_hint: "no components configured: add [[postgres]] or [[redis]] to the config, or try `mastop demo`"
                .into(),
            role: Role::Shadow,
            freeze: None,
            store: "local".into(),
            menu: None,
            dialog: None,
            audit: Vec::new(),
            audit_list: ListData::default(),
            audit_table: TableView::default(),
            revealed: None,
            handoff: Default::default(),
            runbooks: super::runbooks::Runbooks::default(),
            inventory: crate::inventory::Inventory::default(),
            fleet_list: rows::fleet::FleetList::default(),
            fleet_table: TableView::default(),
            identity: None,
            browse: None,
            alerts: Default::default(),
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

    /// Call after the fleet or the clock changed: rebuilds the rows views draw from.
    pub fn rebuild(&mut self) {
        self.audit_list = rows::audit::list(&self.audit);
        self.audit_table.refresh(&self.audit_list.table);
        self.overview = rows::overview::list(&self.fleet, self.now);
        self.overview_table.refresh(&self.overview.table);
        // Grouping every host by role and region costs more than the other lists: only
        // while it is on screen (switching to it rebuilds).
        if self.view == View::Fleet {
            self.fleet_list = rows::fleet::list(&self.fleet, &self.inventory, self.now);
            self.fleet_table.refresh(&self.fleet_list.table);
        }
        // Ten thousand alerts are rows worth building only while they are on screen.
        if self.view == View::Alerts {
            self.alerts.refresh(&self.fleet, self.now);
        }
        for kind in self.fleet.kinds() {
            let data = rows::kind::list(&self.fleet, kind, self.now);
            let entry = self
                .kinds
                .entry(kind)
                .or_insert_with(|| (ListData::default(), TableView::default()));
            entry.1.refresh(&data.table);
            entry.0 = data;
        }
        if let View::Detail(id) = &self.view {
            let detail = self
                .reading_shown(id)
                .map(|r| r.detail())
                .unwrap_or_default();
            let state = self.detail.get_or_insert_with(|| DetailState {
                id: id.clone(),
                detail: Detail::default(),
                tables: Vec::new(),
                focus: 0,
            });
            let tables: Vec<&TableData> = rows::detail::tables(&detail).collect();
            state.tables.resize_with(tables.len(), TableView::default);
            for (view, data) in state.tables.iter_mut().zip(tables) {
                view.refresh(data);
            }
            state.focus = state.focus.min(state.tables.len().saturating_sub(1));
            state.detail = detail;
        }
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
        self.flash = Some(Flash {
            text: text.into(),
            level,
            until: self.now + Duration::from_secs(6),
        });
    }

    fn mode(&self) -> Mode {
        if self.prompt.is_some()
            || self.dialog.is_some()
            || self.runbook_text()
            || (self.view == View::Alerts && self.alerts.wants_text())
        {
            Mode::Prompt
        } else if self.handoff.waiting.is_some() {
            Mode::Handoff
        } else if self.help.is_some() {
            Mode::Help
        } else {
            Mode::List
        }
    }

    pub fn handle_key(&mut self, key: KeyEvent) -> Effect {
        let effect = self.route(key);
        self.resolve(effect)
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
            other => other,
        }
    }

    fn route(&mut self, key: KeyEvent) -> Effect {
        let mode = self.mode();
        let action = self.keymap.command(mode, &key);
        if self.dialog.is_some() {
            return self.dialog_key(action, key);
        }
        if self.handoff.waiting.is_some() && mode != Mode::Prompt {
            return match action {
                Some(action) => super::handoff::prompt_key(self, action),
                None => Effect::None,
            };
        }
        if self.runbooks.screen.is_some() && self.prompt.is_none() && self.help.is_none() {
            return self.runbook_key(action, key);
        }
        if self.view == View::Alerts && self.alerts.wants_text() && self.prompt.is_none() {
            let ctx = ctx!(self, true);
            return match action {
                Some(command) => self.alerts.key(command, &ctx),
                None => self.alerts.text(&key, &ctx),
            };
        }
        if mode == Mode::Prompt {
            return self.prompt_key(action, key);
        }
        if self.revealed.is_some() {
            if action == Some(Command::Quit) {
                return Effect::Quit;
            }
            self.revealed = None;
            return Effect::None;
        }
        if self.menu.is_some() {
            return match action {
                Some(a) => self.menu_action(a),
                None => Effect::None,
            };
        }
        match action {
            Some(action) => self.apply_command(action),
            None => Effect::None,
        }
    }

    /// The runbook screen is open and typing goes into it.
    fn runbook_text(&self) -> bool {
        self.prompt.is_none() && self.help.is_none() && self.runbooks.wants_text()
    }

    fn runbook_key(&mut self, action: Option<Command>, key: KeyEvent) -> Effect {
        if !self.runbooks.wants_text()
            && let Some(a @ (Command::Palette | Command::Help | Command::Redraw | Command::Suspend)) =
                action
        {
            return self.apply(a);
        }
        match self.runbooks.key(action, key, self.role) {
            super::runbooks::Request::None => Effect::None,
            super::runbooks::Request::Close => {
                self.runbooks.screen = None;
                Effect::None
            }
            super::runbooks::Request::Quit => Effect::Quit,
            super::runbooks::Request::Start(start) => Effect::Runbook(start),
        }
    }

    /// Carries out one command outside the prompt.
    pub fn apply(&mut self, action: Command) -> Effect {
        let effect = self.apply_command(action);
        self.resolve(effect)
    }

    fn apply_command(&mut self, action: Command) -> Effect {
        if let Some(help) = self.help.as_mut() {
            return match help.key(action, &ctx!(self, true)) {
                Effect::Close => {
                    self.help = None;
                    Effect::None
                }
                effect => effect,
            };
        }
        if self.view == View::Handoff
            && let Some(effect) = super::handoff::view_key(self, action)
        {
            return effect;
        }
        if self.view == View::Alerts {
            match self.alerts.key(action, &ctx!(self, true)) {
                Effect::Unhandled => {}
                effect => return effect,
            }
        }
        match action {
            Command::Quit => return Effect::Quit,
            Command::Suspend => return Effect::Suspend,
            Command::Redraw => return Effect::FullRedraw,
            Command::Help => self.help = Some(Help::default()),
            Command::Palette => self.open_prompt(PromptKind::Palette),
            Command::Filter => self.open_prompt(PromptKind::Filter),
            Command::Back | Command::Cancel => self.go_back(),
            Command::NextView | Command::PrevView => {
                let tabs = self.tabs();
                let current = tabs
                    .iter()
                    .position(|t| *t == self.tab_of_view())
                    .unwrap_or(0);
                let next = if action == Command::NextView {
                    (current + 1) % tabs.len()
                } else {
                    (current + tabs.len() - 1) % tabs.len()
                };
                self.switch_to(tabs[next].clone());
            }
            Command::View1
            | Command::View2
            | Command::View3
            | Command::View4
            | Command::View5
            | Command::View6
            | Command::View7
            | Command::View8
            | Command::View9 => {
                let n = view_number(action);
                match self.tabs().get(n) {
                    Some(view) => self.switch_to(view.clone()),
                    None => self.flash(format!("there is no view {}", n + 1), Level::Unknown),
                }
            }
            Command::Up => self.with_table(|t, _| t.move_by(-1)),
            Command::Down => self.with_table(|t, _| t.move_by(1)),
            Command::PageUp => self.with_table(|t, _| t.move_by(-20)),
            Command::PageDown => self.with_table(|t, _| t.move_by(20)),
            Command::HalfPageUp => self.with_table(|t, _| t.move_by(-10)),
            Command::HalfPageDown => self.with_table(|t, _| t.move_by(10)),
            Command::Top => self.with_table(|t, _| t.to_top()),
            Command::Bottom => self.with_table(|t, _| t.to_bottom()),
            Command::SortNext => self.with_table(|t, d| {
                t.cycle_sort(d.columns.len());
                t.refresh(d);
            }),
            Command::SortReverse => self.with_table(|t, d| {
                t.reverse_sort();
                t.refresh(d);
            }),
            Command::Select => self.select(),
            Command::Actions => self.open_menu(),
            Command::Reveal => return self.reveal_request(),
            Command::Pause | Command::Abort | Command::Acknowledge => {}
            Command::Fleet => self.switch_to(View::Fleet),
            Command::Alerts => self.switch_to(View::Alerts),
            Command::NextPane | Command::PrevPane => {
                if let Some(state) = &mut self.detail
                    && !state.tables.is_empty()
                {
                    let n = state.tables.len();
                    state.focus = if action == Command::NextPane {
                        (state.focus + 1) % n
                    } else {
                        (state.focus + n - 1) % n
                    };
                }
            }
            Command::NextPage => return self.page(Step::Next),
            Command::PrevPage => return self.page(Step::Previous),
            Command::ClassFilter => match self.browsable() {
                Some(_) if self.demo.is_some() => self.flash(
                    "the demo has no Redis behind it: class filters read a real Sidekiq's sets",
                    Level::Unknown,
                ),
                Some((_, Browsable::Set(_))) => self.open_prompt(PromptKind::ClassFilter),
                _ => self.flash(
                    "focus a Sidekiq retry, scheduled or dead table to filter it by class",
                    Level::Unknown,
                ),
            },
            Command::Confirm | Command::Complete => {}
        }
        Effect::None
    }

    /// The tab a view belongs to (a detail view belongs to its kind).
    fn tab_of_view(&self) -> View {
        match &self.view {
            View::Detail(id) => self
                .fleet
                .get(id)
                .map_or(View::Overview, |c| View::Kind(c.meta.kind)),
            other => other.clone(),
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
            self.back.truncate(32);
            self.detail = None;
            self.browse = None;
            self.rebuild();
        }
    }

    fn go_back(&mut self) {
        if let Some(filter) = self.current_filter_mut().filter(|f| !f.is_empty()) {
            filter.clear();
            self.rebuild();
            return;
        }
        if self.browse.take().is_some() {
            self.rebuild();
            return;
        }
        if let Some(view) = self.back.pop() {
            self.view = view;
            self.detail = None;
            self.rebuild();
        } else if self.view != View::Overview {
            self.view = View::Overview;
            self.rebuild();
        }
    }

    fn select(&mut self) {
        let id = match &self.view {
            View::Overview => self
                .overview_table
                .selected_row()
                .and_then(|i| self.overview.ids.get(i))
                .cloned(),
            View::Kind(kind) => self
                .kinds
                .get(kind)
                .and_then(|(data, t)| t.selected_row().and_then(|i| data.ids.get(i)))
                .cloned(),
            View::Fleet => return self.select_in_fleet(),
            View::Detail(_) | View::Audit | View::Handoff | View::Alerts => None,
        };
        if let Some(id) = id {
            self.switch_to(View::Detail(id));
        }
    }

    /// The component the keys point at: the selected row, or the one in detail.
    pub fn selected_component(&self) -> Option<ComponentId> {
        match &self.view {
            View::Overview => self
                .overview_table
                .selected_row()
                .and_then(|i| self.overview.ids.get(i))
                .cloned(),
            View::Kind(kind) => self
                .kinds
                .get(kind)
                .and_then(|(data, t)| t.selected_row().and_then(|i| data.ids.get(i)))
                .cloned(),
            View::Detail(id) => Some(id.clone()),
            View::Fleet => match self.fleet_selected()? {
                rows::fleet::Target::Component(id) => Some(id.clone()),
                _ => None,
            },
            View::Audit | View::Handoff | View::Alerts => None,
        }
    }

    /// A new inventory from discovery.
    pub fn set_inventory(&mut self, inventory: crate::inventory::Inventory) {
        self.inventory = inventory;
        self.rebuild();
    }

    fn fleet_selected(&self) -> Option<&rows::fleet::Target> {
        self.fleet_table
            .selected_row()
            .and_then(|i| self.fleet_list.targets.get(i))
    }

    /// Enter in the fleet view: a component opens its detail; a host nothing polls says why.
    fn select_in_fleet(&mut self) {
        match self.fleet_selected().cloned() {
            Some(rows::fleet::Target::Component(id)) => self.switch_to(View::Detail(id)),
            Some(rows::fleet::Target::Host(name)) => {
                let seen = self.inventory.host(&name).map_or_else(String::new, |h| {
                    rows::fleet::seen_text(h.online, h.last_seen, self.now)
                });
                let why = if seen.starts_with("offline") {
                    seen
                } else {
                    "no [[host]] source polls it".to_string()
                };
                self.flash(
                    format!("{} has no detail: {why}", crate::sanitize::sanitize(&name)),
                    Level::Unknown,
                );
            }
            Some(rows::fleet::Target::Group) | None => {}
        }
    }

    /// In a detail view: the focused table's title and the selected row's key, if the row
    /// has one (rows that stand for an object carry a key).
    pub fn selected_row(&self) -> Option<(String, String)> {
        if !matches!(self.view, View::Detail(_)) {
            return None;
        }
        let state = self.detail.as_ref()?;
        let (view, data) = state.focused()?;
        let key = data.rows.get(view.selected_row()?)?.key.clone()?;
        let title = rows::detail::table_titles(&state.detail)
            .get(state.focus)?
            .to_string();
        Some((title, key))
    }

    fn reveal_request(&mut self) -> Effect {
        let (View::Detail(id), Some((table, key))) = (&self.view, self.selected_row()) else {
            self.flash(
                "select a row in a detail view to reveal its private content",
                Level::Unknown,
            );
            return Effect::None;
        };
        let content = self.reading_shown(id).and_then(|r| r.private(&table, &key));
        Effect::Reveal {
            component: id.to_string(),
            table,
            key,
            content,
        }
    }

    /// The outcome of a reveal: the content on screen, or why not.
    pub fn reveal_done(&mut self, result: Result<Revealed, String>) {
        match result {
            Ok(revealed) => self.revealed = Some(revealed),
            Err(e) => self.flash(e, Level::Warn),
        }
    }

    fn open_menu(&mut self) {
        let Some(id) = self.selected_component() else {
            self.flash("select a component first", Level::Unknown);
            return;
        };
        let Some(component) = self.fleet.get(&id) else {
            return;
        };
        let selected = self.selected_row();
        let selected = selected
            .as_ref()
            .map(|(table, key)| crate::actions::catalog::Selected { table, key });
        // Actions on a browsed row are built from the page on screen.
        let mut component = component.clone();
        component.reading = self.reading_shown(&id);
        let items =
            crate::actions::catalog::for_component(&component, selected, self.demo.is_some());
        if items.is_empty() {
            self.flash(format!("{id} offers no actions yet"), Level::Unknown);
            return;
        }
        let data = TableData {
            columns: vec![Column::text("RISK", 9), Column::text("ACTION", 40)],
            rows: items
                .iter()
                .map(|a| Row {
                    key: None,
                    cells: vec![Cell::text(a.risk.word()), Cell::text(a.title.clone())],
                    level: Some(match a.risk {
                        Risk::Low => Level::Ok,
                        Risk::High => Level::Warn,
                        Risk::Critical => Level::Crit,
                    }),
                })
                .collect(),
        };
        let mut table = TableView::default();
        table.refresh(&data);
        self.menu = Some(Menu {
            component: id,
            items,
            data,
            table,
        });
    }

    fn menu_action(&mut self, action: Command) -> Effect {
        let Some(menu) = self.menu.as_mut() else {
            return Effect::None;
        };
        match menu.key(action, &ctx!(self, true)) {
            Effect::Close => {
                self.menu = None;
                Effect::None
            }
            Effect::Act(chosen) => {
                self.menu = None;
                self.open_dialog(*chosen)
            }
            effect => effect,
        }
    }

    /// The confirmation dialog for `action`, focus on Cancel, its guards being previewed.
    fn open_dialog(&mut self, action: Guarded) -> Effect {
        self.dialog = Some(Dialog {
            abort: Flow::of(&action).map(|_| Abort::new()),
            action: action.clone(),
            typed: LineEditor::default(),
            run_focused: false,
            preview: None,
            running: false,
            result: None,
            progress: None,
        });
        Effect::Preview(Box::new(action))
    }

    fn dialog_key(&mut self, action: Option<Command>, key: KeyEvent) -> Effect {
        let Some(dialog) = self.dialog.as_mut() else {
            return Effect::None;
        };
        let ctx = ctx!(self, true);
        let effect = match action {
            Some(command) => dialog.key(command, &ctx),
            None => dialog.text(&key, &ctx),
        };
        if effect == Effect::Close {
            self.dialog = None;
            return Effect::None;
        }
        effect
    }

    /// The preview for the open dialog arrived.
    pub fn preview_ready(&mut self, action: &Guarded, preview: Preview) {
        if let Some(dialog) = self.dialog.as_mut()
            && dialog.action == *action
        {
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
        if let Some(dialog) = self.dialog.as_mut()
            && dialog.action == *action
        {
            // Waiting for a second person keeps the dialog running until the approval comes
            // back and the action runs (or the wait ends).
            dialog.running = result.awaiting_approval.is_some();
            dialog.result = Some(result);
            dialog.run_focused = false;
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
        super::handoff::apply_reply(self, reply);
    }

    pub fn set_audit(&mut self, mut records: Vec<AuditRecord>) {
        records.reverse();
        self.audit = records;
        self.rebuild();
    }

    /// Runs `f` on the table of the current view with its data.
    fn with_table(&mut self, f: impl FnOnce(&mut TableView, &TableData)) {
        match &self.view {
            View::Overview => f(&mut self.overview_table, &self.overview.table),
            View::Kind(kind) => {
                if let Some((data, table)) = self.kinds.get_mut(kind) {
                    f(table, &data.table);
                }
            }
            View::Audit => f(&mut self.audit_table, &self.audit_list.table),
            View::Handoff => {}
            View::Fleet => f(&mut self.fleet_table, &self.fleet_list.table),
            View::Alerts => {
                let (table, data) = self.alerts.focused_mut();
                f(table, data);
            }
            View::Detail(_) => {
                if let Some(state) = &mut self.detail
                    && let Some(data) = rows::detail::tables(&state.detail).nth(state.focus)
                    && let Some(view) = state.tables.get_mut(state.focus)
                {
                    f(view, data);
                }
            }
        }
    }

    fn current_filter_mut(&mut self) -> Option<&mut String> {
        match &self.view {
            View::Overview => Some(&mut self.overview_table.filter),
            View::Kind(kind) => self.kinds.get_mut(kind).map(|(_, t)| &mut t.filter),
            View::Detail(_) => self
                .detail
                .as_mut()
                .and_then(|d| d.tables.get_mut(d.focus))
                .map(|t| &mut t.filter),
            View::Audit => Some(&mut self.audit_table.filter),
            View::Handoff => None,
            View::Fleet => Some(&mut self.fleet_table.filter),
            View::Alerts => Some(&mut self.alerts.focused_mut().0.filter),
        }
    }

    pub fn current_filter(&self) -> &str {
        match &self.view {
            View::Overview => &self.overview_table.filter,
            View::Kind(kind) => self.kinds.get(kind).map_or("", |(_, t)| t.filter.as_str()),
            View::Detail(_) => self
                .detail
                .as_ref()
                .and_then(|d| d.focused())
                .map_or("", |(t, _)| t.filter.as_str()),
            View::Audit => &self.audit_table.filter,
            View::Handoff => "",
            View::Fleet => &self.fleet_table.filter,
            View::Alerts => &self.alerts.focused().filter,
        }
    }

    fn open_prompt(&mut self, kind: PromptKind) {
        let previous = self.current_filter().to_string();
        let text = match kind {
            PromptKind::Filter => previous.clone(),
            PromptKind::ClassFilter => self.class_filter().unwrap_or_default(),
            PromptKind::Palette => String::new(),
        };
        self.prompt = Some(Prompt {
            kind,
            text: LineEditor::with_text(&text, line_edit::DEFAULT_LIMIT),
            previous,
        });
    }

    fn prompt_key(&mut self, action: Option<Command>, key: KeyEvent) -> Effect {
        let Some(prompt) = self.prompt.as_mut() else {
            return Effect::None;
        };
        let kind = prompt.kind;
        match action {
            Some(Command::Cancel) => {
                let previous = prompt.previous.clone();
                self.prompt = None;
                if kind == PromptKind::Filter {
                    self.set_filter(previous);
                }
            }
            Some(Command::Confirm) => {
                let text = prompt.text.as_str().trim().to_string();
                self.prompt = None;
                if kind == PromptKind::Palette {
                    return self.run_command(&text);
                }
                if kind == PromptKind::ClassFilter
                    && let Some((id, Browsable::Set(set))) = self.browsable()
                {
                    let wanted = pager::filter_class(&mut self.browse, &id, set, &text);
                    self.rebuild();
                    if let Some((id, request)) = wanted {
                        return Effect::Browse(id, request);
                    }
                }
            }
            Some(Command::Complete) => {
                let typed = prompt.text.to_string();
                if kind == PromptKind::Palette
                    && let Some(done) = super::palette::completions(&typed, &self.fleet)
                        .into_iter()
                        .next()
                    && let Some(prompt) = self.prompt.as_mut()
                {
                    prompt.text.set(&done);
                }
            }
            _ => {
                if !prompt.text.key(&key) {
                    return Effect::None;
                }
                if kind == PromptKind::Filter {
                    let text = prompt.text.to_string();
                    self.set_filter(text);
                }
            }
        }
        Effect::None
    }

    fn set_filter(&mut self, text: String) {
        if let Some(filter) = self.current_filter_mut() {
            *filter = text;
        }
        self.rebuild();
    }

    fn run_command(&mut self, line: &str) -> Effect {
        let mut words = line.split_whitespace();
        let Some(command) = words.next() else {
            return Effect::None;
        };
        match command {
            "q" | "q!" | "quit" => return Effect::Quit,
            "help" | "h" | "?" => self.help = Some(Help::default()),
            "overview" | "o" | "home" => self.switch_to(View::Overview),
            "runbooks" | "runbook" | "rb" => self.runbooks.open(),
            "fleet" | "inventory" => self.switch_to(View::Fleet),
            "alerts" | "alert" => self.switch_to(View::Alerts),
            "audit" => {
                self.switch_to(View::Audit);
                return Effect::LoadAudit;
            }
            "freeze" => {
                let reason = words.collect::<Vec<_>>().join(" ");
                if reason.is_empty() {
                    self.flash(
                        "say why: :freeze REASON (everyone will see it)",
                        Level::Unknown,
                    );
                    return Effect::None;
                }
                return Effect::Freeze(Some(reason));
            }
            "unfreeze" => return Effect::Freeze(None),
            "handoff" | "ack" | "note" | "item" | "mitigation" | "silence" | "done" => {
                let rest: Vec<&str> = words.collect();
                if let Some(effect) = super::handoff::command(self, command, &rest) {
                    return effect;
                }
            }
            "approve" => match words.next() {
                Some(id) => return Effect::Approve(id.to_string()),
                None => self.flash(
                    "usage: :approve ID (the id the other console shows)",
                    Level::Unknown,
                ),
            },
            "theme" => {
                let Some(name) = words.next() else {
                    self.flash(
                        format!("usage: :theme NAME ({})", Theme::names_builtin().join(", ")),
                        Level::Unknown,
                    );
                    return Effect::None;
                };
                return Effect::Theme(name.to_string());
            }
            other => {
                let kind = match other {
                    "pg" | "db" => "postgres",
                    "es" => "elasticsearch",
                    "edges" | "cdn" => "edge",
                    "hosts" => "host",
                    k => k,
                };
                match self.fleet.kinds().into_iter().find(|k| *k == kind) {
                    Some(kind) => self.switch_to(View::Kind(kind)),
                    None => self.flash(
                        format!(
                            "unknown command `{}`: try :help",
                            crate::sanitize::sanitize(other)
                        ),
                        Level::Warn,
                    ),
                }
            }
        }
        Effect::None
    }
}

fn view_number(action: Command) -> usize {
    match action {
        Command::View2 => 1,
        Command::View3 => 2,
        Command::View4 => 3,
        Command::View5 => 4,
        Command::View6 => 5,
        Command::View7 => 6,
        Command::View8 => 7,
        Command::View9 => 8,
        _ => 0,
    }
}
