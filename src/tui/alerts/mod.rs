//! The alerts view (`:alerts`, `0`): what Alertmanager says is firing, grouped as it groups
//! it, with severity, since when, summary and labels; silenced and inhibited alerts apart;
//! and the silences themselves. A component of its own: its state, a key handler that
//! answers with a [`Request`], rows built by a pure function ([`rows::build`]) and a
//! `draw` that reads only this state and a [`Ctx`].

pub mod silence_form;

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use self::silence_form::{FormOutcome, SilenceForm};
use super::command::Command;
use super::component::{Component, Ctx, Effect, View};
use super::rows::alerts::{self as rows, AlertRef, AlertRows};
use super::table::TableView;
use super::theme::Token;
use super::widgets::data_table::{self, TableFrame};
use super::widgets::{safe, safe_owned};
use crate::model::alerts::Alert;
use crate::model::{ComponentId, Fleet, Level};

/// The three tables, in the order `]` visits them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    #[default]
    Firing,
    Suppressed,
    Silences,
}

impl Pane {
    fn index(self) -> usize {
        match self {
            Pane::Firing => 0,
            Pane::Suppressed => 1,
            Pane::Silences => 2,
        }
    }
    fn next(self, forward: bool) -> Pane {
        match (self, forward) {
            (Pane::Firing, true) | (Pane::Silences, false) => Pane::Suppressed,
            (Pane::Suppressed, true) | (Pane::Firing, false) => Pane::Silences,
            (Pane::Silences, true) | (Pane::Suppressed, false) => Pane::Firing,
        }
    }
}

/// What the view asks of the console after a key.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// Handled here; redraw.
    Done,
    /// Not a key this view uses: the console's own meaning applies.
    Unhandled,
    /// Open a component's detail view.
    Open(ComponentId),
    Flash(String, Level),
    /// Review this guarded action in the confirmation dialog.
    Act(Box<crate::actions::Action>),
}

#[derive(Debug)]
pub struct AlertsView {
    pub rows: AlertRows,
    pub tables: [TableView; 3],
    pub focus: Pane,
    /// The new-silence form, while it is open.
    pub form: Option<SilenceForm>,
    /// Who silences are created by: the session's identity.
    pub operator: String,
    /// Prefilled in a new silence (`[alerts] silence_duration`).
    pub silence_duration: std::time::Duration,
}

impl Default for AlertsView {
    fn default() -> Self {
        AlertsView {
            rows: AlertRows::default(),
            tables: Default::default(),
            focus: Pane::default(),
            form: None,
            operator: String::new(),
            silence_duration: std::time::Duration::from_secs(2 * 3600),
        }
    }
}

impl AlertsView {
    /// A key while the new-silence form is open.
    pub fn form_key(
        &mut self,
        action: Option<Command>,
        key: crossterm::event::KeyEvent,
        fleet: &Fleet,
        now: SystemTime,
    ) -> Request {
        let Some(form) = self.form.as_mut() else {
            return Request::Unhandled;
        };
        match form.key(action, key, fleet, &self.operator, now) {
            FormOutcome::Stay => Request::Done,
            FormOutcome::Close => {
                self.form = None;
                Request::Done
            }
            FormOutcome::Submit(action) => {
                self.form = None;
                Request::Act(action)
            }
        }
    }

    /// `a`: silence the selected alert, or expire the selected silence.
    fn act(&mut self, fleet: &Fleet) -> Request {
        if let Some(r) = self.selected_silence() {
            let silence = fleet
                .get(&r.source)
                .and_then(|c| c.reading.as_ref())
                .and_then(|r| r.alerts())
                .and_then(|set| set.silences.get(r.index));
            return match silence {
                Some(s) if s.state != crate::model::alerts::SilenceState::Expired => {
                    Request::Act(Box::new(crate::actions::kinds::silences::expire(
                        r.source.as_str(),
                        s,
                    )))
                }
                Some(_) => {
                    Request::Flash("this silence has already expired".into(), Level::Unknown)
                }
                None => Request::Flash(
                    "the silence is gone: the list was refreshed".into(),
                    Level::Unknown,
                ),
            };
        }
        let Some(r) = self.selected_alert().cloned() else {
            return Request::Flash(
                "select an alert to silence it, or a silence to expire it".into(),
                Level::Unknown,
            );
        };
        match alert_of(fleet, &r) {
            Some(alert) => {
                self.form = Some(SilenceForm::new(
                    r.source,
                    alert,
                    self.silence_duration,
                    fleet,
                ));
                Request::Done
            }
            None => Request::Flash(
                "the alert is gone: the list was refreshed".into(),
                Level::Unknown,
            ),
        }
    }

    /// Rebuilds the rows from the fleet; selection, sort and filter stay.
    pub fn refresh(&mut self, fleet: &Fleet, now: SystemTime) {
        self.rows = rows::build(fleet, now);
        let [firing, suppressed, silences] = &mut self.tables;
        firing.refresh(&self.rows.firing);
        suppressed.refresh(&self.rows.suppressed);
        silences.refresh(&self.rows.silences);
    }

    /// The focused table and its data, for the console's filter and movement keys.
    pub fn focused_mut(&mut self) -> (&mut TableView, &crate::model::detail::TableData) {
        let data = match self.focus {
            Pane::Firing => &self.rows.firing,
            Pane::Suppressed => &self.rows.suppressed,
            Pane::Silences => &self.rows.silences,
        };
        (&mut self.tables[self.focus.index()], data)
    }

    pub fn focused(&self) -> &TableView {
        &self.tables[self.focus.index()]
    }

    /// The alert under the cursor, in the firing or the suppressed table.
    pub fn selected_alert(&self) -> Option<&AlertRef> {
        let row = self.focused().selected_row()?;
        match self.focus {
            Pane::Firing => self.rows.firing_refs.get(row)?.as_ref(),
            Pane::Suppressed => self.rows.suppressed_refs.get(row),
            Pane::Silences => None,
        }
    }

    /// The silence under the cursor, in the silences table.
    pub fn selected_silence(&self) -> Option<&rows::SilenceRef> {
        if self.focus != Pane::Silences {
            return None;
        }
        self.rows.silence_refs.get(self.focused().selected_row()?)
    }

    fn view_key(&mut self, action: Command, fleet: &Fleet) -> Request {
        let (table, data) = self.focused_mut();
        if table.command(action, data) {
            return Request::Done;
        }
        match action {
            Command::NextPane | Command::PrevPane => {
                self.focus = self.focus.next(action == Command::NextPane);
            }
            Command::Select => return self.open(fleet),
            Command::Actions => return self.act(fleet),
            _ => return Request::Unhandled,
        }
        Request::Done
    }

    /// Enter on an alert opens the component it is tied to.
    fn open(&self, fleet: &Fleet) -> Request {
        let Some(r) = self.selected_alert() else {
            return Request::Flash(
                "select an alert to open what it is about".into(),
                Level::Unknown,
            );
        };
        let tied = fleet
            .alerts()
            .find(|(_, t)| t.source == r.source && t.index == r.index)
            .and_then(|(_, t)| t.components.first().cloned());
        match tied {
            Some(id) => Request::Open(id),
            None => Request::Flash(
                "this alert is tied to no component: add an [[alerts.route]] for it".into(),
                Level::Unknown,
            ),
        }
    }

    fn draw_view(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        let theme = ctx.theme;
        let notes = self.rows.unseen.len().min(3) as u16;
        let [notes_area, tables_area, detail_area] = Layout::vertical([
            Constraint::Length(notes),
            Constraint::Min(6),
            Constraint::Length(if area.height >= 20 { 5 } else { 0 }),
        ])
        .areas(area);
        let lines: Vec<Line<'_>> = self
            .rows
            .unseen
            .iter()
            .take(3)
            .map(|n| Line::from(safe(n, theme.style(Token::Warn))))
            .collect();
        frame.render_widget(Paragraph::new(lines), notes_area);
        let empty_firing = if self.rows.sources == 0 {
            "no [[alertmanager]] is configured: add one to see alerts here"
        } else {
            "nothing is firing"
        };
        let tall = tables_area.height >= 18;
        let areas: Vec<Rect> = if tall {
            let side = (tables_area.height / 4).max(4);
            Layout::vertical([
                Constraint::Min(6),
                Constraint::Length(side),
                Constraint::Length(side),
            ])
            .split(tables_area)
            .to_vec()
        } else {
            vec![tables_area]
        };
        let panes = [
            (
                Pane::Firing,
                format!(
                    "Firing · {} · {}",
                    plural(self.rows.firing_count, "alert"),
                    plural(self.rows.firing_groups, "group")
                ),
                &self.rows.firing,
                empty_firing,
            ),
            (
                Pane::Suppressed,
                "Silenced and inhibited".to_string(),
                &self.rows.suppressed,
                "nothing is silenced or inhibited",
            ),
            (
                Pane::Silences,
                "Silences".to_string(),
                &self.rows.silences,
                "no silences",
            ),
        ];
        for (pane, title, data, empty) in panes {
            let area = if tall {
                areas[pane.index()]
            } else if pane == self.focus {
                areas[0]
            } else {
                continue;
            };
            let table = TableFrame {
                title,
                data,
                view: &self.tables[pane.index()],
                focused: ctx.focused && pane == self.focus,
                empty,
            };
            data_table::render(frame, area, &table, theme);
        }
        if detail_area.height > 0 {
            self.draw_detail(frame, detail_area, ctx);
        }
        if let Some(form) = &self.form {
            form.draw(frame, area, theme);
        }
    }

    /// Every label and annotation of the selected alert, sanitised.
    fn draw_detail(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        let theme = ctx.theme;
        let alert = self.selected_alert().and_then(|r| alert_of(ctx.fleet, r));
        let lines: Vec<Line<'_>> = match alert {
            Some(a) => {
                let mut lines = vec![Line::from(vec![
                    Span::styled("labels  ", theme.style(Token::Muted)),
                    safe_owned(
                        a.labels
                            .iter()
                            .map(|(k, v)| format!("{k}={v:?}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                        theme.style(Token::Text),
                    ),
                ])];
                for (k, v) in &a.annotations {
                    lines.push(Line::from(vec![
                        Span::styled(format!("{:<8}", truncate(k, 7)), theme.style(Token::Muted)),
                        safe(v, theme.style(Token::Text)),
                    ]));
                }
                lines
            }
            None => vec![Line::from(Span::styled(
                "select an alert to see all its labels and annotations; a silences it, enter opens the component it is about",
                theme.style(Token::Muted),
            ))],
        };
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(theme.style(Token::Border));
        frame.render_widget(
            Paragraph::new(lines).block(block).wrap(Wrap { trim: true }),
            area,
        );
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn truncate(text: &str, max: usize) -> String {
    let shown: String = crate::sanitize::sanitize(text).chars().take(max).collect();
    shown
}

/// The alert a row stands for, in the fleet as it is now.
pub fn alert_of<'a>(fleet: &'a Fleet, r: &AlertRef) -> Option<&'a Alert> {
    fleet
        .get(&r.source)?
        .reading
        .as_ref()?
        .alerts()?
        .alerts
        .get(r.index)
}

/// What the console must do for a request of this view.
fn effect(request: Request) -> Effect {
    match request {
        Request::Done => Effect::None,
        Request::Unhandled => Effect::Unhandled,
        Request::Open(id) => Effect::Open(View::Detail(id)),
        Request::Flash(text, level) => Effect::Flash(text, level),
        Request::Act(action) => Effect::Act(action),
    }
}

impl Component for AlertsView {
    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        if self.form.is_some() {
            let none = crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Null);
            return effect(self.form_key(Some(command), none, ctx.fleet, ctx.now));
        }
        effect(self.view_key(command, ctx.fleet))
    }

    fn wants_text(&self) -> bool {
        self.form.is_some()
    }

    fn text(&mut self, key: &crossterm::event::KeyEvent, ctx: &Ctx<'_>) -> Effect {
        effect(self.form_key(None, *key, ctx.fleet, ctx.now))
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        self.draw_view(frame, area, ctx);
    }
}

impl crate::tui::component::Screen for AlertsView {
    fn refresh(&mut self, ctx: &Ctx<'_>) {
        AlertsView::refresh(self, ctx.fleet, ctx.now);
    }

    fn filter_mut(&mut self) -> Option<&mut String> {
        Some(&mut self.focused_mut().0.filter)
    }

    fn filter(&self) -> &str {
        &self.focused().filter
    }

    fn hints(&self, _ctx: &Ctx<'_>) -> &'static [crate::tui::component::Hint] {
        &[
            (Command::Help, "help"),
            (Command::NextPane, "next table"),
            (Command::Actions, "silence/expire"),
            (Command::Select, "open"),
            (Command::Filter, "filter"),
            (Command::SortNext, "sort"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ]
    }
}
