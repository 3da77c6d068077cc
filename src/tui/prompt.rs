//! The status line's own state: the prompt being typed (`:` palette, `/` filter, a
//! Sidekiq class filter) and the message that fades after a few seconds.

use std::time::{Duration, SystemTime};

use crossterm::event::KeyEvent;

use super::command::Command;
use super::line_edit::{self, LineEditor};
use crate::model::{Fleet, Level};

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

/// What a key in the prompt comes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Typed {
    /// Nothing the console needs to know.
    Nothing,
    /// The prompt closed without a choice; a filter goes back to what it was.
    Cancelled { previous: String },
    /// Enter: the prompt closed with this text.
    Submitted(String),
    /// The text changed (a filter applies as it is typed).
    Changed(String),
}

impl Prompt {
    /// A prompt over a table whose filter is `filter` now; it starts with `text`.
    pub fn new(kind: PromptKind, text: &str, filter: &str) -> Prompt {
        Prompt {
            kind,
            text: LineEditor::with_text(text, line_edit::DEFAULT_LIMIT),
            previous: filter.to_string(),
        }
    }

    /// A key while the prompt is open: `command` is the keymap's `[prompt]` meaning.
    pub fn input(&mut self, command: Option<Command>, key: &KeyEvent, fleet: &Fleet) -> Typed {
        match command {
            Some(Command::Cancel) => Typed::Cancelled {
                previous: self.previous.clone(),
            },
            Some(Command::Confirm) => Typed::Submitted(self.text.as_str().trim().to_string()),
            Some(Command::Complete) => {
                if self.kind == PromptKind::Palette
                    && let Some(done) = super::palette::completions(self.text.as_str(), fleet)
                        .into_iter()
                        .next()
                {
                    self.text.set(&done);
                }
                Typed::Nothing
            }
            _ if self.text.key(key) => Typed::Changed(self.text.to_string()),
            _ => Typed::Nothing,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Flash {
    pub text: String,
    pub level: Level,
    pub until: SystemTime,
}

impl Flash {
    /// How long a message stays in the status line.
    pub const SHOWN: Duration = Duration::from_secs(6);

    pub fn new(text: impl Into<String>, level: Level, now: SystemTime) -> Flash {
        Flash {
            text: text.into(),
            level,
            until: now + Flash::SHOWN,
        }
    }
}
