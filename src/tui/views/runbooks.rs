//! The runbook screen, drawn over the body: the list, a runbook's details, the parameter
//! form, the preview of every expanded operation, and the run's live log. `content` is
//! pure (state in, styled lines out); `draw` only lays it out.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::actions::{Risk, Role};
use crate::model::Level;
use crate::runbooks::{Mode, RunEnd, describe};
use crate::tui::component::Ctx;
use crate::tui::runbooks::{Runbooks, Screen, Stage};
use crate::tui::theme::{Theme, Token};
use crate::tui::widgets::{editor_spans, level_token, safe_owned};

/// What the screen shows: title, lines, key hints.
pub struct Content {
    pub title: String,
    pub lines: Vec<Line<'static>>,
    pub keys: String,
}

fn risk_token(risk: Risk) -> Token {
    match risk {
        Risk::Low => Token::Ok,
        Risk::High => Token::Warn,
        Risk::Critical => Token::Crit,
    }
}

fn plain(text: impl Into<String>, token: Token, theme: &Theme) -> Line<'static> {
    Line::from(safe_owned(text.into(), theme.style(token)))
}

pub fn content(rb: &Runbooks, screen: &Screen, role: Role, theme: &Theme) -> Content {
    match screen.stage {
        Stage::List => list(rb, screen, theme),
        Stage::Details => details(rb, screen, theme),
        Stage::Form => form(rb, screen, theme),
        Stage::Preview => preview(screen, role, theme),
        Stage::Run => run(screen, theme),
    }
}

fn list(rb: &Runbooks, screen: &Screen, theme: &Theme) -> Content {
    let mut lines = Vec::new();
    if rb.library.runbooks.is_empty() {
        lines.push(plain(
            "no runbooks: the shipped ones are turned off ([runbooks] shipped = false) and no directory holds any",
            Token::Muted,
            theme,
        ));
    }
    for (i, r) in rb.library.runbooks.iter().enumerate() {
        let selected = i == screen.selected;
        let style = if selected {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        lines.push(Line::from(vec![
            Span::styled(if selected { "▶ " } else { "  " }, style),
            safe_owned(format!("{:<24} ", r.name), style),
            Span::styled(
                format!("{:<9}", r.risk.word()),
                theme.style(risk_token(r.risk)),
            ),
            safe_owned(r.title.clone(), style),
        ]));
    }
    if !rb.library.errors.is_empty() {
        lines.push(Line::from(""));
        lines.push(plain("Files that did not load:", Token::Crit, theme));
        for e in &rb.library.errors {
            for l in e.to_string().lines() {
                lines.push(plain(format!("  {l}"), Token::Crit, theme));
            }
        }
    }
    Content {
        title: format!("Runbooks ({})", rb.library.runbooks.len()),
        lines,
        keys: "enter details · ↑↓ choose · esc close".into(),
    }
}

fn details(rb: &Runbooks, screen: &Screen, theme: &Theme) -> Content {
    let Some(r) = rb.library.runbooks.get(screen.selected) else {
        return Content {
            title: "Runbook".into(),
            lines: Vec::new(),
            keys: "esc back".into(),
        };
    };
    let mut lines: Vec<Line<'static>> = screen
        .errors
        .iter()
        .map(|e| plain(e.clone(), Token::Crit, theme))
        .collect();
    for (i, l) in describe::lines(r).into_iter().enumerate() {
        let token = match i {
            0 => Token::Title,
            1 => risk_token(r.risk),
            _ if l.ends_with(':') && !l.starts_with(' ') => Token::Title,
            _ => Token::Text,
        };
        lines.push(plain(l, token, theme));
    }
    let next = if r.params.is_empty() {
        "enter preview"
    } else {
        "enter parameters"
    };
    Content {
        title: format!("Runbook {}", r.name),
        lines: lines.into_iter().skip(screen.scroll).collect(),
        keys: format!("{next} · ↑↓ scroll · esc back"),
    }
}

fn form(rb: &Runbooks, screen: &Screen, theme: &Theme) -> Content {
    let name = rb
        .library
        .runbooks
        .get(screen.selected)
        .map_or("", |r| r.name.as_str());
    let mut lines = Vec::new();
    for (i, f) in screen.fields.iter().enumerate() {
        let focused = i == screen.focus;
        let label_style = if focused {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        let mut spans = vec![
            Span::styled(if focused { "▶ " } else { "  " }, label_style),
            safe_owned(format!("{:<16} ", f.name), label_style),
        ];
        spans.extend(editor_spans(&f.value, theme.style(Token::Accent), focused));
        lines.push(Line::from(spans));
        let mut hint = f.hint.clone();
        if !f.choices.is_empty() {
            hint = format!("{hint} · tab: {}", f.choices.join(" | "));
        }
        lines.push(plain(format!("    {hint}"), Token::Muted, theme));
    }
    if !screen.errors.is_empty() {
        lines.push(Line::from(""));
        for e in &screen.errors {
            lines.push(plain(e.clone(), Token::Crit, theme));
        }
    }
    Content {
        title: format!("Runbook {name} · parameters"),
        lines,
        keys: "type a value · ↑↓ field · tab next choice · enter preview · esc back".into(),
    }
}

fn preview(screen: &Screen, role: Role, theme: &Theme) -> Content {
    let Some(plan) = &screen.plan else {
        return Content {
            title: "Preview".into(),
            lines: Vec::new(),
            keys: "esc back".into(),
        };
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("risk ", theme.style(Token::Muted)),
            Span::styled(
                plan.risk.word().to_uppercase(),
                theme.style(risk_token(plan.risk)),
            ),
            Span::styled(
                if plan.mode == Mode::DryRun {
                    "   DRY RUN: dry-run forms and read-only steps only"
                } else {
                    "   every step as written"
                },
                theme.style(Token::Muted),
            ),
        ]),
        plain("Will run exactly:", Token::Title, theme),
    ];
    for l in plan.lines() {
        let token = if l.trim_start().starts_with("skipped") {
            Token::Muted
        } else if l.starts_with("   ") {
            Token::Accent
        } else {
            Token::Text
        };
        lines.push(plain(l, token, theme));
    }
    let mut visible: Vec<Line<'static>> = lines.into_iter().skip(screen.scroll).collect();
    visible.push(Line::from(""));
    let needs_typing = plan.actions().any(|a| a.risk != Risk::Low);
    if role != Role::Oncall {
        visible.push(plain(
            "read-only: shadowing. You can see exactly what this would do, but not run it.",
            Token::Warn,
            theme,
        ));
    } else if needs_typing {
        visible.push(Line::from(vec![Span::styled(
            format!("Type {} to run: ", plan.runbook),
            theme.style(Token::Text),
        )]));
        if let Some(line) = visible.last_mut() {
            line.spans.extend(editor_spans(
                &screen.typed,
                theme.style(Token::Accent),
                true,
            ));
        }
    }
    for e in &screen.errors {
        visible.push(plain(e.clone(), Token::Crit, theme));
    }
    let mode = if plan.mode == Mode::DryRun {
        "tab real run"
    } else {
        "tab dry run"
    };
    let run = if role == Role::Oncall {
        "enter run · "
    } else {
        ""
    };
    Content {
        title: format!("Runbook {} · preview", plan.runbook),
        lines: visible,
        keys: format!("{run}{mode} · ↑↓ scroll · esc back"),
    }
}

fn run(screen: &Screen, theme: &Theme) -> Content {
    let name = screen
        .plan
        .as_ref()
        .map_or(String::new(), |p| p.runbook.clone());
    let Some(run) = &screen.run else {
        return Content {
            title: format!("Runbook {name}"),
            lines: Vec::new(),
            keys: String::new(),
        };
    };
    let total = screen.plan.as_ref().map_or(0, |p| p.steps.len());
    let state = match &run.summary {
        Some(s) => match s.end {
            RunEnd::Completed => ("completed", Token::Ok),
            RunEnd::Refused { .. } => ("refused", Token::Warn),
            RunEnd::Failed { .. } => ("failed", Token::Crit),
            RunEnd::Aborted { .. } => ("aborted", Token::Warn),
        },
        None if run.control.is_aborted() => ("aborting after this step", Token::Warn),
        None if run.control.is_paused() => ("pausing / paused", Token::Warn),
        None => ("running", Token::Accent),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("step {}/{total}  ", run.step),
            theme.style(Token::Text),
        ),
        Span::styled(state.0, theme.style(state.1)),
    ])];
    for (level, l) in run.log.iter().skip(screen.scroll) {
        let token = match level {
            Level::Unknown => Token::Text,
            other => level_token(*other),
        };
        lines.push(plain(l.clone(), token, theme));
    }
    let keys = if run.summary.is_some() {
        "esc back to the list".to_string()
    } else if run.control.is_paused() {
        "p resume · x abort".to_string()
    } else {
        "p pause after this step · x abort after this step".to_string()
    };
    Content {
        title: format!("Runbook {name} · run"),
        lines,
        keys,
    }
}

pub fn draw(
    frame: &mut Frame<'_>,
    body: Rect,
    runbooks: &Runbooks,
    screen: &Screen,
    ctx: &Ctx<'_>,
) {
    let theme = ctx.theme;
    let c = content(runbooks, screen, ctx.role, theme);
    frame.render_widget(Clear, body);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(Token::BorderFocus))
        .title(Line::from(vec![
            Span::raw(" "),
            safe_owned(c.title, theme.style(Token::Title)),
            Span::raw(" "),
        ]));
    let inner = block.inner(body);
    frame.render_widget(block, body);
    let [text, keys] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    // The run log follows its newest line unless the operator scrolled.
    let overflow = c.lines.len().saturating_sub(usize::from(text.height));
    let scroll = if screen.stage == Stage::Run && screen.scroll == 0 {
        u16::try_from(overflow).unwrap_or(u16::MAX)
    } else {
        0
    };
    frame.render_widget(
        Paragraph::new(c.lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        text,
    );
    frame.render_widget(
        Line::from(Span::styled(c.keys, theme.style(Token::KeyHint))),
        keys,
    );
}
