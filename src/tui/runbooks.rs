//! The console's runbook screen: list → details → parameter form → preview of every
//! expanded operation → step-by-step run with live output, pause and abort. Pure state:
//! keys come in, requests go out; the event loop starts the run and feeds its events back.

use crossterm::event::{KeyCode, KeyEvent};

use super::command::Command;
use super::line_edit::LineEditor;

/// A parameter value: a host name, a domain, a number.
const FIELD_LIMIT: usize = 500;
use crate::actions::{Outcome, Risk, Role};
use crate::model::Level;
use crate::runbooks::{Control, Event, Inventory, Library, Mode, Plan, Runbook, Summary, expand};

/// Everything the console knows about runbooks, and the screen when it is open.
#[derive(Debug, Default)]
pub struct Runbooks {
    pub library: Library,
    pub inventory: Inventory,
    /// The demo: every operation simulated.
    pub simulate: bool,
    pub screen: Option<Screen>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    List,
    Details,
    Form,
    Preview,
    Run,
}

#[derive(Debug)]
pub struct Screen {
    pub stage: Stage,
    /// Index into the library.
    pub selected: usize,
    /// First line shown in a scrolled pane (details, preview, run log).
    pub scroll: usize,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Why the values could not be expanded, one line each.
    pub errors: Vec<String>,
    pub plan: Option<Plan>,
    pub dry_run: bool,
    /// The runbook's name, typed to confirm.
    pub typed: LineEditor,
    pub run: Option<RunView>,
}

/// One parameter in the form.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub value: LineEditor,
    /// What Tab cycles through, when the choice is closed.
    pub choices: Vec<String>,
    /// The type and description, for the line under the field.
    pub hint: String,
}

/// A run in progress or finished.
#[derive(Debug)]
pub struct RunView {
    pub control: Control,
    pub log: Vec<(Level, String)>,
    /// The step running now (0 before the first).
    pub step: usize,
    pub summary: Option<Summary>,
}

/// What the event loop must do.
#[derive(Debug)]
pub enum Request {
    None,
    Close,
    Quit,
    Start(Box<RunStart>),
}

/// A run the operator approved: the plan they saw, what they typed, and the control the
/// screen keeps for pause and abort.
#[derive(Clone, Debug)]
pub struct RunStart {
    pub plan: Plan,
    pub typed: Option<String>,
    pub control: Control,
}

impl PartialEq for RunStart {
    fn eq(&self, other: &Self) -> bool {
        self.plan.runbook == other.plan.runbook
            && self.plan.lines() == other.plan.lines()
            && self.typed == other.typed
    }
}

impl Runbooks {
    pub fn new(library: Library, inventory: Inventory, simulate: bool) -> Runbooks {
        Runbooks {
            library,
            inventory,
            simulate,
            screen: None,
        }
    }

    pub fn open(&mut self) {
        if self.screen.as_ref().is_some_and(|s| s.stage == Stage::Run) {
            return;
        }
        self.screen = Some(Screen {
            stage: Stage::List,
            selected: 0,
            scroll: 0,
            fields: Vec::new(),
            focus: 0,
            errors: Vec::new(),
            plan: None,
            dry_run: false,
            typed: LineEditor::default(),
            run: None,
        });
    }

    pub fn selected(&self) -> Option<&Runbook> {
        let s = self.screen.as_ref()?;
        self.library.runbooks.get(s.selected)
    }

    /// Typed keys are text (the form, the confirmation).
    pub fn wants_text(&self) -> bool {
        self.screen
            .as_ref()
            .is_some_and(|s| matches!(s.stage, Stage::Form | Stage::Preview))
    }

    pub fn key(&mut self, action: Option<Command>, key: KeyEvent, role: Role) -> Request {
        let Some(stage) = self.screen.as_ref().map(|s| s.stage) else {
            return Request::None;
        };
        match stage {
            Stage::List => self.list_key(action),
            Stage::Details => self.details_key(action),
            Stage::Form => self.form_key(action, key),
            Stage::Preview => self.preview_key(action, key, role),
            Stage::Run => self.run_key(action),
        }
    }

    fn screen(&mut self) -> Option<&mut Screen> {
        self.screen.as_mut()
    }

    fn list_key(&mut self, action: Option<Command>) -> Request {
        let count = self.library.runbooks.len();
        let Some(s) = self.screen() else {
            return Request::None;
        };
        match action {
            Some(Command::Up) => s.selected = s.selected.saturating_sub(1),
            Some(Command::Down) => s.selected = (s.selected + 1).min(count.saturating_sub(1)),
            Some(Command::Top) => s.selected = 0,
            Some(Command::Bottom) => s.selected = count.saturating_sub(1),
            Some(Command::Select | Command::Confirm) if count > 0 => {
                s.stage = Stage::Details;
                s.scroll = 0;
            }
            Some(Command::Back | Command::Cancel) => return Request::Close,
            Some(Command::Quit) => return Request::Quit,
            _ => {}
        }
        Request::None
    }

    fn details_key(&mut self, action: Option<Command>) -> Request {
        match action {
            Some(Command::Up) => self.scroll_by(-1),
            Some(Command::Down) => self.scroll_by(1),
            Some(Command::PageUp | Command::HalfPageUp) => self.scroll_by(-10),
            Some(Command::PageDown | Command::HalfPageDown) => self.scroll_by(10),
            Some(Command::Select | Command::Confirm) => self.open_form(),
            Some(Command::Back | Command::Cancel) => {
                if let Some(s) = self.screen() {
                    s.stage = Stage::List;
                }
            }
            Some(Command::Quit) => return Request::Quit,
            _ => {}
        }
        Request::None
    }

    fn scroll_by(&mut self, delta: isize) {
        if let Some(s) = self.screen() {
            s.scroll = s.scroll.saturating_add_signed(delta);
        }
    }

    fn open_form(&mut self) {
        let Some(runbook) = self.selected().cloned() else {
            return;
        };
        let fields: Vec<Field> = runbook
            .params
            .iter()
            .map(|p| {
                let choices = p.kind.choices(&self.inventory);
                let value = p
                    .default
                    .clone()
                    .or_else(|| (choices.len() == 1).then(|| choices[0].clone()))
                    .unwrap_or_default();
                let mut hint = p.kind.word();
                if !p.description.is_empty() {
                    hint = format!("{hint} · {}", p.description);
                }
                Field {
                    name: p.name.clone(),
                    value: LineEditor::with_text(&value, FIELD_LIMIT),
                    choices,
                    hint,
                }
            })
            .collect();
        let Some(s) = self.screen() else {
            return;
        };
        s.fields = fields;
        s.focus = 0;
        s.errors.clear();
        s.dry_run = false;
        if s.fields.is_empty() {
            self.preview();
        } else {
            s.stage = Stage::Form;
        }
    }

    fn form_key(&mut self, action: Option<Command>, key: KeyEvent) -> Request {
        let Some(s) = self.screen() else {
            return Request::None;
        };
        match (action, key.code) {
            (Some(Command::Quit), _) => return Request::Quit,
            (Some(Command::Cancel), _) => s.stage = Stage::Details,
            (Some(Command::Confirm), _) => self.preview(),
            (Some(Command::Complete), _) => {
                if let Some(f) = s.fields.get_mut(s.focus)
                    && !f.choices.is_empty()
                {
                    let next = f
                        .choices
                        .iter()
                        .position(|c| f.value == c.as_str())
                        .map_or(0, |i| (i + 1) % f.choices.len());
                    f.value.set(&f.choices[next]);
                }
            }
            (Some(Command::Up), _) => s.focus = s.focus.saturating_sub(1),
            (Some(Command::Down), _) => {
                s.focus = (s.focus + 1).min(s.fields.len().saturating_sub(1));
            }
            _ => {
                if let Some(f) = s.fields.get_mut(s.focus) {
                    f.value.key(&key);
                }
            }
        }
        Request::None
    }

    /// Expands the form's values; on success shows the preview, else the errors.
    fn preview(&mut self) {
        let Some(runbook) = self.selected().cloned() else {
            return;
        };
        let inventory = self.inventory.clone();
        let simulate = self.simulate;
        let Some(s) = self.screen() else {
            return;
        };
        let given = s
            .fields
            .iter()
            .filter(|f| !f.value.is_empty())
            .map(|f| (f.name.clone(), f.value.to_string()))
            .collect();
        let mode = if s.dry_run { Mode::DryRun } else { Mode::Run };
        match expand(&runbook, &given, &inventory, mode, simulate) {
            Ok(plan) => {
                s.plan = Some(plan);
                s.errors.clear();
                s.typed.clear();
                s.scroll = 0;
                s.stage = Stage::Preview;
            }
            Err(e) => {
                s.errors = e.to_string().lines().map(str::to_string).collect();
                s.stage = if s.fields.is_empty() {
                    Stage::Details
                } else {
                    Stage::Form
                };
            }
        }
    }

    fn preview_key(&mut self, action: Option<Command>, key: KeyEvent, role: Role) -> Request {
        let Some(s) = self.screen() else {
            return Request::None;
        };
        match action {
            Some(Command::Quit) => return Request::Quit,
            Some(Command::Cancel) => {
                s.stage = if s.fields.is_empty() {
                    Stage::Details
                } else {
                    Stage::Form
                };
            }
            Some(Command::Complete) => {
                s.dry_run = !s.dry_run;
                self.preview();
            }
            Some(Command::Confirm) => {
                let Some(plan) = s.plan.clone() else {
                    return Request::None;
                };
                if role != Role::Oncall {
                    s.errors = vec![
                        "read-only: shadowing; you can read and preview runbooks, on-call runs them"
                            .into(),
                    ];
                    return Request::None;
                }
                let needs_typing = plan.actions().any(|a| a.risk != Risk::Low);
                if needs_typing && s.typed.as_str() != plan.runbook {
                    s.errors = vec![format!("type `{}` to run it", plan.runbook)];
                    return Request::None;
                }
                let control = Control::new();
                s.errors.clear();
                s.stage = Stage::Run;
                s.scroll = 0;
                s.run = Some(RunView {
                    control: control.clone(),
                    log: Vec::new(),
                    step: 0,
                    summary: None,
                });
                return Request::Start(Box::new(RunStart {
                    plan,
                    typed: needs_typing.then(|| s.typed.to_string()),
                    control,
                }));
            }
            Some(Command::Up) => s.scroll = s.scroll.saturating_sub(1),
            Some(Command::Down) => s.scroll += 1,
            Some(Command::PageUp) => s.scroll = s.scroll.saturating_sub(10),
            Some(Command::PageDown) => s.scroll += 10,
            _ => {
                s.typed.key(&key);
            }
        }
        Request::None
    }

    fn run_key(&mut self, action: Option<Command>) -> Request {
        let Some(s) = self.screen() else {
            return Request::None;
        };
        let Some(run) = s.run.as_mut() else {
            return Request::None;
        };
        let finished = run.summary.is_some();
        match action {
            Some(Command::Pause) if !finished => {
                if run.control.is_paused() {
                    run.control.resume();
                    run.log.push((Level::Unknown, "resume requested".into()));
                } else {
                    run.control.pause();
                    run.log.push((
                        Level::Unknown,
                        "pause requested: the current step finishes, then the run holds".into(),
                    ));
                }
            }
            Some(Command::Abort) if !finished => {
                run.control.abort();
                run.log.push((
                    Level::Warn,
                    "abort requested: the current step finishes, nothing after it runs".into(),
                ));
            }
            Some(Command::Up) => s.scroll = s.scroll.saturating_sub(1),
            Some(Command::Down) => s.scroll += 1,
            Some(Command::Back | Command::Cancel | Command::Select) if finished => {
                s.stage = Stage::List;
                s.run = None;
            }
            Some(Command::Quit) if finished => return Request::Quit,
            _ => {}
        }
        Request::None
    }

    /// A run's event arrived.
    pub fn event(&mut self, event: Event) {
        let Some(run) = self.screen.as_mut().and_then(|s| s.run.as_mut()) else {
            return;
        };
        if let Event::StepStarted { number, .. } = &event {
            run.step = *number;
        }
        let level = match &event {
            Event::Precondition { ok: false, .. } | Event::WaitFinished { ok: false, .. } => {
                Level::Crit
            }
            Event::ActionFinished { outcome, .. } => match outcome {
                Outcome::Ok => Level::Ok,
                Outcome::Refused => Level::Warn,
                Outcome::Failed | Outcome::Aborted => Level::Crit,
            },
            Event::Precondition { ok: true, .. } | Event::WaitFinished { ok: true, .. } => {
                Level::Ok
            }
            Event::Waiting { .. } | Event::Paused { .. } => Level::Warn,
            Event::Finished(s) => match s.end {
                crate::runbooks::RunEnd::Completed => Level::Ok,
                crate::runbooks::RunEnd::Aborted { .. }
                | crate::runbooks::RunEnd::Refused { .. } => Level::Warn,
                crate::runbooks::RunEnd::Failed { .. } => Level::Crit,
            },
            _ => Level::Unknown,
        };
        run.log.push((level, event.line()));
        if let Event::Finished(summary) = event {
            run.summary = Some(summary);
        }
    }
}

impl super::component::Component for Runbooks {
    fn key(
        &mut self,
        command: Command,
        ctx: &super::component::Ctx<'_>,
    ) -> super::component::Effect {
        self.input(Some(command), &KeyEvent::from(KeyCode::Null), ctx)
    }

    fn wants_text(&self) -> bool {
        Runbooks::wants_text(self)
    }

    /// The form moves between fields with the arrow keys whatever the keymap says, so it
    /// reads the key alongside the command.
    fn input(
        &mut self,
        command: Option<Command>,
        key: &KeyEvent,
        ctx: &super::component::Ctx<'_>,
    ) -> super::component::Effect {
        use super::component::Effect;
        match Runbooks::key(self, command, *key, ctx.role) {
            Request::None => Effect::None,
            Request::Close => Effect::Close,
            Request::Quit => Effect::Quit,
            Request::Start(start) => Effect::Runbook(start),
        }
    }

    fn draw(
        &self,
        frame: &mut ratatui::Frame<'_>,
        area: ratatui::layout::Rect,
        ctx: &super::component::Ctx<'_>,
    ) {
        if let Some(screen) = &self.screen {
            super::views::runbooks::draw(frame, area, self, screen, ctx);
        }
    }
}
