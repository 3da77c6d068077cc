//! The new-silence form: matchers prefilled from the selected alert, a duration and a
//! comment, with how many firing alerts the matchers select kept up to date as they are
//! edited. Submitting builds the guarded action; the pipeline's dialog confirms it.

use std::time::{Duration, SystemTime};

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::actions::Action as Guarded;
use crate::actions::kinds::silences::{self, SilenceDraft};
use crate::model::alerts::{Alert, count_matching};
use crate::model::{ComponentId, Fleet};
use crate::tui::command::Command;
use crate::tui::line_edit::LineEditor;
use crate::tui::theme::{Theme, Token};
use crate::tui::widgets::{editor_spans, safe};

const FIELDS: [&str; 3] = ["matchers", "duration", "comment"];
/// Matchers for an alert with many labels run long; a comment should not.
const MAX_LEN: [usize; 3] = [4096, 32, 500];

#[derive(Clone, Debug, PartialEq)]
pub struct SilenceForm {
    /// The Alertmanager the silence goes to.
    pub source: ComponentId,
    /// The alert it was opened on, for the title.
    pub alert: String,
    pub fields: [LineEditor; 3],
    pub focus: usize,
    /// How many firing alerts the matchers select now; `None` while they do not parse.
    pub matching: Option<usize>,
    pub error: Option<String>,
}

/// What a key in the form comes to.
pub enum FormOutcome {
    Stay,
    Close,
    Submit(Box<Guarded>),
}

impl SilenceForm {
    pub fn new(source: ComponentId, alert: &Alert, duration: Duration, fleet: &Fleet) -> Self {
        let mut form = SilenceForm {
            source,
            alert: alert.name().to_string(),
            fields: [
                LineEditor::with_text(
                    &silences::matchers_text(&silences::matchers_for(alert)),
                    MAX_LEN[0],
                ),
                LineEditor::with_text(
                    &humantime::format_duration(duration).to_string(),
                    MAX_LEN[1],
                ),
                LineEditor::new(MAX_LEN[2]),
            ],
            focus: 2,
            matching: None,
            error: None,
        };
        form.recount(fleet);
        form
    }

    fn firing<'a>(&self, fleet: &'a Fleet) -> Vec<&'a Alert> {
        fleet
            .get(&self.source)
            .and_then(|c| c.reading.as_ref())
            .and_then(|r| r.alerts())
            .map(|set| set.firing().collect())
            .unwrap_or_default()
    }

    fn recount(&mut self, fleet: &Fleet) {
        self.matching = silences::parse_matchers(self.fields[0].as_str())
            .ok()
            .filter(|m| !m.is_empty())
            .map(|m| count_matching(&m, self.firing(fleet).into_iter()));
    }

    fn draft(&self) -> Result<SilenceDraft, String> {
        let matchers = silences::parse_matchers(self.fields[0].as_str())?;
        let duration = humantime::parse_duration(self.fields[1].as_str().trim()).map_err(|_| {
            format!(
                "`{}` is not a duration: write 2h, 30m, 1d",
                self.fields[1].as_str().trim()
            )
        })?;
        let draft = SilenceDraft {
            matchers,
            duration,
            comment: self.fields[2].as_str().trim().to_string(),
        };
        silences::check_draft(&draft)?;
        Ok(draft)
    }

    pub fn key(
        &mut self,
        action: Option<Command>,
        key: KeyEvent,
        fleet: &Fleet,
        operator: &str,
        now: SystemTime,
    ) -> FormOutcome {
        match action {
            Some(Command::Cancel) => return FormOutcome::Close,
            Some(Command::Complete) => self.focus = (self.focus + 1) % FIELDS.len(),
            Some(Command::Confirm) => match self.draft() {
                Ok(draft) => {
                    let matching = count_matching(&draft.matchers, self.firing(fleet).into_iter());
                    let action =
                        silences::create(self.source.as_str(), &draft, operator, now, matching);
                    return FormOutcome::Submit(Box::new(action));
                }
                Err(e) => self.error = Some(e),
            },
            _ => {
                if self.fields[self.focus].key(&key) {
                    self.error = None;
                    if self.focus == 0 {
                        self.recount(fleet);
                    }
                }
            }
        }
        FormOutcome::Stay
    }

    pub fn draw(&self, frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
        let width = area.width.min(100);
        let height = area.height.min(12);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        frame.render_widget(Clear, popup);
        let mut lines = Vec::new();
        for (i, name) in FIELDS.iter().enumerate() {
            let style = if i == self.focus {
                theme.style(Token::Accent)
            } else {
                theme.style(Token::Text)
            };
            let mut spans = vec![Span::styled(
                format!("{name:>9}: "),
                theme.style(Token::Muted),
            )];
            spans.extend(editor_spans(&self.fields[i], style, i == self.focus));
            lines.push(Line::from(spans));
        }
        lines.push(Line::from(""));
        let count = match self.matching {
            Some(1) => Span::styled("matches 1 firing alert now", theme.style(Token::Text)),
            Some(n) if n > 1 => Span::styled(
                format!("matches {n} firing alerts now: you will type `{n} alerts` to confirm"),
                theme.style(Token::Warn),
            ),
            Some(_) => Span::styled("matches no firing alert now", theme.style(Token::Muted)),
            None => Span::styled(
                "matchers: name=\"value\", name=~\"regex\", name!=\"value\"",
                theme.style(Token::Muted),
            ),
        };
        lines.push(Line::from(count));
        if let Some(e) = &self.error {
            lines.push(Line::from(safe(e, theme.style(Token::Crit))));
        }
        lines.push(Line::from(Span::styled(
            "tab next field · enter review · esc cancel",
            theme.style(Token::Muted),
        )));
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.style(Token::BorderFocus))
            .title(Line::from(vec![
                Span::styled(" New silence for ", theme.style(Token::Title)),
                safe(&self.alert, theme.style(Token::Title)),
                Span::styled(format!(" on {} ", self.source), theme.style(Token::Title)),
            ]));
        frame.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            popup,
        );
    }
}
