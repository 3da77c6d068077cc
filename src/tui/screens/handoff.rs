//! The handoff screen: the shift-log commands (`:note`, `:item`, `:mitigation`, `:silence`,
//! `:done`, `:ack`), the `:handoff` view (a draft of the report for this shift, the latest
//! one written, or one just written), and the acknowledgement prompt shown at start when a
//! handoff waits. Store work goes to the event loop as [`Request`]s; answers come back as
//! [`Reply`]s.

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::actions::Role;
use crate::handoff::{EntryKind, Handoff, markdown};
use crate::model::Level;
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect, Hint, Screen, View};
use crate::tui::handoff::{Reply, Request, Snapshot};

/// What the `:handoff` view and the start-up prompt show.
#[derive(Debug, Default, Clone)]
pub struct HandoffState {
    pub title: String,
    pub shown: Option<Box<Handoff>>,
    /// The shown report as Markdown, one entry per line.
    pub lines: Vec<String>,
    pub scroll: u16,
    /// A handoff waiting for this console's acknowledgement; the prompt is open while set.
    pub waiting: Option<Box<Handoff>>,
}

const LOADING: &str = "loading…";

fn snapshot(ctx: &Ctx<'_>) -> Snapshot {
    let silences = crate::handoff::report::silences_of(ctx.fleet, ctx.now);
    Snapshot {
        source: if ctx.demo.is_some() {
            "demo fleet on this console".into()
        } else {
            "live feed on this console".into()
        },
        not_ok: crate::handoff::report::not_ok(ctx.fleet, ctx.now),
        silences: silences.0,
        gaps: silences.1,
    }
}

fn usage(text: impl Into<String>) -> Effect {
    Effect::Flash(text.into(), Level::Unknown)
}

fn open_view() -> Effect {
    Effect::Open(View::Handoff)
}

impl HandoffState {
    pub fn show(&mut self, title: String, handoff: Box<Handoff>) {
        self.lines = markdown::render(&handoff)
            .lines()
            .map(str::to_string)
            .collect();
        self.title = title;
        self.shown = Some(handoff);
        self.scroll = 0;
    }

    /// A palette command that belongs to handoffs, with its words.
    pub fn command(&mut self, command: &str, rest: &[&str], ctx: &Ctx<'_>) -> Effect {
        let writes = matches!(
            command,
            "note" | "item" | "mitigation" | "silence" | "done" | "ack"
        ) || (command == "handoff" && rest.first() == Some(&"write"));
        if writes && ctx.role == Role::Shadow {
            return Effect::Flash(
                "shadow sessions read handoffs; only on-call writes the shift log or acknowledges"
                    .into(),
                Level::Warn,
            );
        }
        let text = rest.join(" ");
        let request = match command {
            "handoff" => match rest {
                [] => Request::Draft(snapshot(ctx)),
                ["last" | "latest", ..] => Request::Latest,
                ["write", to, zone @ ..] => Request::Write {
                    to: (*to).to_string(),
                    zone: zone.first().map(|z| (*z).to_string()),
                    snapshot: snapshot(ctx),
                },
                _ => return usage("usage: :handoff | :handoff last | :handoff write NAME [ZONE]"),
            },
            "ack" => match &self.waiting {
                Some(h) => Request::Acknowledge(h.id.clone()),
                None => match rest.first() {
                    Some(id) => Request::Acknowledge((*id).to_string()),
                    None => {
                        return usage("no handoff waits for you; :ack ID acknowledges one by id");
                    }
                },
            },
            "note" if !text.trim().is_empty() => Request::Add {
                kind: EntryKind::Note,
                text,
                within: None,
                closes: None,
            },
            "note" => return usage("usage: :note TEXT"),
            "item" if !text.trim().is_empty() => Request::Add {
                kind: EntryKind::OpenItem,
                text,
                within: None,
                closes: None,
            },
            "item" => return usage("usage: :item [@OWNER] TEXT"),
            "mitigation" | "silence" => {
                let kind = if command == "mitigation" {
                    EntryKind::Mitigation
                } else {
                    EntryKind::Silence
                };
                match rest.split_first() {
                    Some((within, words)) if !words.is_empty() => {
                        match crate::config::parse_duration(within) {
                            Ok(d) => Request::Add {
                                kind,
                                text: words.join(" "),
                                within: Some(d),
                                closes: None,
                            },
                            Err(e) => return usage(format!("{within}: {e}")),
                        }
                    }
                    _ => {
                        return usage(format!(
                            "usage: :{command} DURATION TEXT, e.g. :{command} 4h …"
                        ));
                    }
                }
            }
            "done" => match rest.first() {
                Some(id) => Request::Add {
                    kind: EntryKind::Done,
                    text: String::new(),
                    within: None,
                    closes: Some((*id).to_string()),
                },
                None => return usage("usage: :done ID (ids are in the handoff report)"),
            },
            _ => return usage(format!("unknown handoff command `{command}`")),
        };
        if command == "handoff" {
            self.title = LOADING.into();
            return Effect::Many(vec![open_view(), Effect::Handoff(request)]);
        }
        Effect::Handoff(request)
    }

    /// Keys while the acknowledgement prompt is open (the keymap's `[handoff]` table):
    /// acknowledge (on-call), open the report, or leave it for later (`:ack` still works).
    pub fn prompt_key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        let Some(waiting) = self.waiting.clone() else {
            return Effect::None;
        };
        match command {
            Command::Acknowledge if ctx.role == Role::Oncall => {
                Effect::Handoff(Request::Acknowledge(waiting.id.clone()))
            }
            Command::Acknowledge => Effect::Flash(
                "shadow sessions can read a handoff but not acknowledge it".into(),
                Level::Warn,
            ),
            Command::Select => {
                self.show("waiting for your acknowledgement".into(), waiting);
                self.waiting = None;
                open_view()
            }
            Command::Back | Command::Cancel => {
                self.waiting = None;
                usage("handoff left for later: :ack acknowledges it")
            }
            _ => Effect::None,
        }
    }

    /// What the store answered.
    pub fn reply(&mut self, reply: Reply) -> Effect {
        match reply {
            Reply::Shown { title, handoff } => {
                self.show(title, handoff);
                open_view()
            }
            Reply::Waiting(waiting) => {
                self.waiting = waiting;
                Effect::None
            }
            Reply::Acknowledged(handoff) => {
                self.waiting = None;
                let told = format!(
                    "handoff from {} acknowledged: the shift is yours",
                    handoff.from.name
                );
                self.show("acknowledged".into(), handoff);
                Effect::Many(vec![Effect::Flash(told, Level::Ok), open_view()])
            }
            Reply::Told(text, level) => {
                // A request the view is waiting on failed: say so there, not only in the
                // flash that fades.
                if self.title == LOADING {
                    self.title = format!("failed: {}", crate::sanitize::sanitize(&text));
                }
                Effect::Flash(text, level)
            }
        }
    }
}

impl Component for HandoffState {
    /// Scrolling the report.
    fn key(&mut self, command: Command, _ctx: &Ctx<'_>) -> Effect {
        let last = u16::try_from(self.lines.len().saturating_sub(1)).unwrap_or(u16::MAX);
        let scroll = &mut self.scroll;
        match command {
            Command::Down => *scroll = scroll.saturating_add(1).min(last),
            Command::Up => *scroll = scroll.saturating_sub(1),
            Command::PageDown | Command::HalfPageDown => {
                *scroll = scroll.saturating_add(10).min(last);
            }
            Command::PageUp | Command::HalfPageUp => *scroll = scroll.saturating_sub(10),
            Command::Top => *scroll = 0,
            Command::Bottom => *scroll = last,
            _ => return Effect::Unhandled,
        }
        Effect::None
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        crate::tui::views::handoff::draw(frame, area, self, ctx);
    }
}

impl Screen for HandoffState {
    fn refresh(&mut self, _ctx: &Ctx<'_>) {}

    fn filter_mut(&mut self) -> Option<&mut String> {
        None
    }

    fn filter(&self) -> &str {
        ""
    }

    fn hints(&self, _ctx: &Ctx<'_>) -> &'static [Hint] {
        &[
            (Command::Help, "help"),
            (Command::Palette, "command"),
            (Command::Down, "scroll"),
            (Command::Back, "back"),
            (Command::Quit, "quit"),
        ]
    }
}
