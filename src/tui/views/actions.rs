//! The action menu and the confirmation dialog. The dialog shows exactly what will run,
//! what each guard says, and starts with focus on Cancel.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::actions::Action as Guarded;
use crate::actions::kinds::retry_all::Abort;
use crate::actions::{Confirmation, Preview, RunResult};
use crate::actions::{Outcome, Risk, Role};
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::{ComponentId, Level};
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect};
use crate::tui::line_edit::LineEditor;
use crate::tui::table::TableView;
use crate::tui::theme::Theme;
use crate::tui::theme::Token;
use crate::tui::widgets::data_table::{self, TableFrame};
use crate::tui::widgets::{editor_spans, safe};

/// The list of actions offered for a component.
#[derive(Debug, Clone)]
pub struct Menu {
    pub component: ComponentId,
    pub items: Vec<Guarded>,
    pub data: TableData,
    pub table: TableView,
}

/// The confirmation dialog: what will run, what the guards say, and the operator's answer.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub action: Guarded,
    /// What the operator typed (high and critical risk).
    pub typed: LineEditor,
    /// Focus starts on Cancel.
    pub run_focused: bool,
    pub preview: Option<Preview>,
    pub running: bool,
    pub result: Option<RunResult>,
    /// A flow's progress after its last batch.
    pub progress: Option<String>,
    /// Set for a flow: stops it after the current batch.
    pub abort: Option<Abort>,
}

/// Private content on screen after an audited reveal, until the operator closes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Revealed {
    pub title: String,
    pub content: String,
}

impl Menu {
    /// The actions offered for `component`, the selected row's first; `None` when it
    /// offers none.
    pub fn new(component: ComponentId, items: Vec<Guarded>) -> Option<Menu> {
        if items.is_empty() {
            return None;
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
        Some(Menu {
            component,
            items,
            data,
            table,
        })
    }
}

impl Dialog {
    /// The dialog for `action`, focus on Cancel, its guards not yet previewed.
    pub fn new(action: Guarded) -> Dialog {
        Dialog {
            abort: crate::actions::kinds::retry_all::Flow::of(&action).map(|_| Abort::new()),
            action,
            typed: LineEditor::default(),
            run_focused: false,
            preview: None,
            running: false,
            result: None,
            progress: None,
        }
    }
}

impl Dialog {
    /// The action ran or was refused.
    pub fn finished(&mut self, result: RunResult) {
        // Waiting for a second person keeps the dialog running until the approval comes
        // back and the action runs (or the wait ends).
        self.running = result.awaiting_approval.is_some();
        self.result = Some(result);
        self.run_focused = false;
    }
}

impl Component for Menu {
    fn key(&mut self, command: Command, _ctx: &Ctx<'_>) -> Effect {
        match command {
            Command::Up => self.table.move_by(-1),
            Command::Down => self.table.move_by(1),
            Command::Top => self.table.to_top(),
            Command::Bottom => self.table.to_bottom(),
            Command::Back | Command::Cancel | Command::Actions => return Effect::Close,
            Command::Quit => return Effect::Quit,
            Command::Select | Command::Confirm => {
                return match self.table.selected_row().and_then(|i| self.items.get(i)) {
                    Some(chosen) => Effect::Act(Box::new(chosen.clone())),
                    None => Effect::Close,
                };
            }
            _ => {}
        }
        Effect::None
    }

    fn draw(&self, frame: &mut Frame<'_>, body: Rect, ctx: &Ctx<'_>) {
        draw_menu(frame, body, ctx.theme, self);
    }
}

impl Component for Dialog {
    /// The typed confirmation takes the keys the keymap leaves to prompts.
    fn wants_text(&self) -> bool {
        true
    }

    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        match command {
            Command::Cancel if self.running && self.abort.is_some() => {
                if let Some(abort) = &self.abort {
                    abort.stop();
                }
                self.progress = Some(format!(
                    "{}; stopping after the current batch…",
                    self.progress.as_deref().unwrap_or("starting")
                ));
            }
            Command::Cancel => return Effect::Close,
            Command::Quit if self.running => {}
            Command::Quit => return Effect::Quit,
            Command::Complete => self.run_focused = !self.run_focused,
            Command::Confirm => {
                if self.result.is_some() || !self.run_focused {
                    // Enter on Cancel (the default), or after the result is shown, closes.
                    return Effect::Close;
                } else if ctx.role != Role::Oncall {
                    // The pipeline would refuse too, and audit the attempt; let it.
                    self.running = true;
                    return Effect::Run(Box::new(self.action.clone()), Confirmation::None, None);
                } else if !self.running {
                    self.running = true;
                    let confirmation = match self.action.risk {
                        Risk::Low => Confirmation::Confirmed,
                        Risk::High | Risk::Critical => Confirmation::Typed(self.typed.to_string()),
                    };
                    if let Some(abort) = &self.abort {
                        let action = Box::new(self.action.clone());
                        return Effect::RunFlow(action, confirmation, abort.clone());
                    }
                    return Effect::Run(Box::new(self.action.clone()), confirmation, None);
                }
            }
            _ => {}
        }
        Effect::None
    }

    fn text(&mut self, key: &crossterm::event::KeyEvent, _ctx: &Ctx<'_>) -> Effect {
        if self.action.risk != Risk::Low && !self.running && self.result.is_none() {
            self.typed.key(key);
        }
        Effect::None
    }

    fn draw(&self, frame: &mut Frame<'_>, body: Rect, ctx: &Ctx<'_>) {
        draw_dialog(frame, body, ctx, self);
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn draw_menu(frame: &mut Frame<'_>, body: Rect, theme: &Theme, menu: &Menu) {
    let area = centered(body, 80, menu.items.len() as u16 + 4);
    frame.render_widget(Clear, area);
    let table = TableFrame {
        title: format!("Actions on {}", menu.component),
        data: &menu.data,
        view: &menu.table,
        focused: true,
        empty: "no actions",
    };
    data_table::render(frame, area, &table, theme);
}

fn draw_dialog(frame: &mut Frame<'_>, body: Rect, ctx: &Ctx<'_>, dialog: &Dialog) {
    let theme = ctx.theme;
    let action = &dialog.action;
    let mut lines: Vec<Line<'_>> = Vec::new();
    let risk_token = match action.risk {
        Risk::Low => Token::Ok,
        Risk::High => Token::Warn,
        Risk::Critical => Token::Crit,
    };
    lines.push(Line::from(vec![
        Span::styled("target ", theme.style(Token::Muted)),
        crate::tui::widgets::safe_owned(action.target.to_string(), theme.style(Token::Text)),
        Span::styled("   risk ", theme.style(Token::Muted)),
        Span::styled(action.risk.word().to_uppercase(), theme.style(risk_token)),
    ]));
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        "Will run exactly:",
        theme.style(Token::Title),
    )));
    for op in &action.operations {
        lines.push(Line::from(vec![
            Span::raw("  "),
            crate::tui::widgets::safe_owned(op.display(), theme.style(Token::Accent)),
        ]));
    }
    lines.push(Line::from(""));
    match (&dialog.result, &dialog.preview) {
        (Some(result), _) => {
            lines.push(Line::from(Span::styled(
                "Result:",
                theme.style(Token::Title),
            )));
            let token = match result.outcome {
                Outcome::Ok => Token::Ok,
                Outcome::Refused => Token::Warn,
                _ => Token::Crit,
            };
            lines.push(Line::from(vec![
                Span::raw("  "),
                safe(&result.message, theme.style(token)),
            ]));
            for d in &result.decisions {
                lines.push(guard_line(theme, d.passed, &d.guard, &d.detail));
            }
        }
        (None, Some(preview)) => {
            lines.push(Line::from(Span::styled(
                "Guards:",
                theme.style(Token::Title),
            )));
            for d in &preview.decisions {
                lines.push(guard_line(theme, d.passed, &d.guard, &d.detail));
            }
        }
        (None, None) => lines.push(Line::from(Span::styled(
            "checking guards…",
            theme.style(Token::Muted),
        ))),
    }
    lines.push(Line::from(""));
    if ctx.role == Role::Shadow {
        lines.push(Line::from(Span::styled(
            "read-only: shadowing. You can see exactly what this would do, but not run it.",
            theme.style(Token::Warn),
        )));
    } else if action.risk != Risk::Low && dialog.result.is_none() {
        lines.push(Line::from(vec![Span::styled(
            format!("Type {} to confirm: ", action.target.name),
            theme.style(Token::Text),
        )]));
        if let Some(line) = lines.last_mut() {
            line.spans.extend(editor_spans(
                &dialog.typed,
                theme.style(Token::Accent),
                true,
            ));
        }
    }
    if let Some(progress) = &dialog.progress {
        lines.push(Line::from(safe(progress, theme.style(Token::Accent))));
    }
    if dialog.running {
        let running = if dialog.abort.is_some() {
            "running… (esc stops after the current batch)"
        } else {
            "running…"
        };
        lines.push(Line::from(Span::styled(
            running,
            theme.style(Token::Accent),
        )));
    }

    // Long operations (a whole script) wrap: count the rows they take, so the lines under
    // them (the confirmation, a flow's progress) stay on screen.
    let inner_width = usize::from(96.min(body.width).saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_width).max(1))
        .sum();
    let height = u16::try_from(rows + 4).unwrap_or(u16::MAX).min(body.height);
    let area = centered(body, 96, height);
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(risk_token))
        .title(Line::from(vec![
            Span::raw(" "),
            safe(&action.title, theme.style(Token::Title)),
            Span::raw(" "),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [text_area, buttons] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);

    let (cancel, run) = if dialog.result.is_some() {
        ("[ Close ]", None)
    } else {
        (
            "[ Cancel ]",
            Some(if ctx.role == Role::Shadow {
                "[ Run (read-only) ]"
            } else {
                "[ Run ]"
            }),
        )
    };
    let focus = |on: bool| {
        if on {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Muted)
        }
    };
    let mut spans = vec![
        Span::styled(cancel, focus(!dialog.run_focused)),
        Span::raw("  "),
    ];
    if let Some(run) = run {
        spans.push(Span::styled(run, focus(dialog.run_focused)));
    }
    spans.push(Span::styled(
        "   tab switch · enter choose · esc close",
        theme.style(Token::Muted),
    ));
    frame.render_widget(Line::from(spans), buttons);
}

fn guard_line<'a>(theme: &Theme, passed: bool, guard: &'a str, detail: &'a str) -> Line<'a> {
    let (mark, token) = if passed {
        ("✔", Token::Ok)
    } else {
        ("✖", Token::Crit)
    };
    Line::from(vec![
        Span::styled(format!("  {mark} {guard:<13}"), theme.style(token)),
        safe(detail, theme.style(Token::Text)),
    ])
}

/// Private content after an audited reveal: sanitised like everything else, wrapped, and
/// labelled so nobody mistakes it for a routine view.
pub fn draw_revealed(frame: &mut Frame<'_>, body: Rect, theme: &Theme, revealed: &Revealed) {
    let area = centered(body, 100, body.height.saturating_sub(4).max(8));
    frame.render_widget(Clear, area);
    let lines = vec![
        Line::from(Span::styled(
            "Private content, revealed to you and recorded in the audit log. Any key closes it.",
            theme.style(Token::Warn),
        )),
        Line::from(""),
        Line::from(safe(&revealed.content, theme.style(Token::Text))),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::Crit))
        .title(Line::from(vec![
            Span::raw(" Revealed: "),
            safe(&revealed.title, theme.style(Token::Title)),
            Span::raw(" "),
        ]));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
