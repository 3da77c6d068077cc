//! Handoffs in the console: the shift-log commands (`:note`, `:item`, `:mitigation`,
//! `:silence`, `:done`), the `:handoff` view (a draft of the report for this shift, the
//! latest one written, or one just written), and the acknowledgement prompt shown at start
//! when a handoff waits. State changes are plain functions on `App`; the store calls run
//! off the event loop in `start`, and their results come back as a `Reply`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::app::{App, Effect, View};
use super::command::Command;
use crate::actions::Role;
use crate::actions::runtime::Runtime;
use crate::handoff::report::{ComponentProblem, Person};
use crate::handoff::shift::{Draft, audit_since, incoming};
use crate::handoff::zone::Zone;
use crate::handoff::{EntryKind, Handoff, Shift, markdown};
use crate::model::Level;

/// What the console asks of the handoff store.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The report this shift would hand over now, not stored.
    Draft(Snapshot),
    /// Write and share the report for `to`.
    Write {
        to: String,
        zone: Option<String>,
        snapshot: Snapshot,
    },
    Latest,
    /// The latest handoff, if it waits for acknowledgement by this console (at start).
    Waiting,
    Acknowledge(String),
    Add {
        kind: EntryKind,
        text: String,
        within: Option<Duration>,
        closes: Option<String>,
    },
}

/// The components not OK on this console's screen, taken when the request was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub source: String,
    pub not_ok: Vec<ComponentProblem>,
    pub silences: Option<Vec<crate::handoff::report::SilenceTaken>>,
    /// Alertmanagers whose silences could not be read.
    pub gaps: Vec<String>,
}

#[derive(Debug, Clone)]
pub enum Reply {
    Shown {
        title: String,
        handoff: Box<Handoff>,
    },
    Waiting(Option<Box<Handoff>>),
    Acknowledged(Box<Handoff>),
    Told(String, Level),
}

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

impl HandoffState {
    fn show(&mut self, title: String, handoff: Box<Handoff>) {
        self.lines = markdown::render(&handoff)
            .lines()
            .map(str::to_string)
            .collect();
        self.title = title;
        self.shown = Some(handoff);
        self.scroll = 0;
    }
}

fn snapshot(app: &App) -> Snapshot {
    let silences = crate::handoff::report::silences_of(&app.fleet, app.now);
    Snapshot {
        source: if app.demo.is_some() {
            "demo fleet on this console".into()
        } else {
            "live feed on this console".into()
        },
        not_ok: crate::handoff::report::not_ok(&app.fleet, app.now),
        silences: silences.0,
        gaps: silences.1,
    }
}

/// Palette commands that belong to handoffs; `None` for any other command.
pub fn command(app: &mut App, command: &str, rest: &[&str]) -> Option<Effect> {
    let writes = matches!(
        command,
        "note" | "item" | "mitigation" | "silence" | "done" | "ack"
    ) || (command == "handoff" && rest.first() == Some(&"write"));
    if writes && app.role == Role::Shadow {
        app.flash(
            "shadow sessions read handoffs; only on-call writes the shift log or acknowledges",
            Level::Warn,
        );
        return Some(Effect::None);
    }
    let text = rest.join(" ");
    let request = match command {
        "handoff" => match rest {
            [] => Request::Draft(snapshot(app)),
            ["last" | "latest", ..] => Request::Latest,
            ["write", to, zone @ ..] => Request::Write {
                to: (*to).to_string(),
                zone: zone.first().map(|z| (*z).to_string()),
                snapshot: snapshot(app),
            },
            _ => {
                return Some(usage(
                    app,
                    "usage: :handoff | :handoff last | :handoff write NAME [ZONE]",
                ));
            }
        },
        "ack" => match &app.handoff.waiting {
            Some(h) => Request::Acknowledge(h.id.clone()),
            None => match rest.first() {
                Some(id) => Request::Acknowledge((*id).to_string()),
                None => {
                    return Some(usage(
                        app,
                        "no handoff waits for you; :ack ID acknowledges one by id",
                    ));
                }
            },
        },
        "note" if !text.trim().is_empty() => Request::Add {
            kind: EntryKind::Note,
            text,
            within: None,
            closes: None,
        },
        "note" => return Some(usage(app, "usage: :note TEXT")),
        "item" if !text.trim().is_empty() => Request::Add {
            kind: EntryKind::OpenItem,
            text,
            within: None,
            closes: None,
        },
        "item" => return Some(usage(app, "usage: :item [@OWNER] TEXT")),
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
                        Err(e) => return Some(usage(app, &format!("{within}: {e}"))),
                    }
                }
                _ => {
                    return Some(usage(
                        app,
                        &format!("usage: :{command} DURATION TEXT, e.g. :{command} 4h …"),
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
            None => {
                return Some(usage(
                    app,
                    "usage: :done ID (ids are in the handoff report)",
                ));
            }
        },
        _ => return None,
    };
    if command == "handoff" {
        app.handoff.title = LOADING.into();
        open_view(app);
    }
    Some(Effect::Handoff(request))
}

fn usage(app: &mut App, text: &str) -> Effect {
    app.flash(text.to_string(), Level::Unknown);
    Effect::None
}

fn open_view(app: &mut App) {
    if app.view != View::Handoff {
        app.switch_to(View::Handoff);
    }
}

/// Keys while the acknowledgement prompt is open (the keymap's `[handoff]` table):
/// acknowledge (on-call), open the report, or leave it for later (`:ack` still works).
pub fn prompt_key(app: &mut App, command: Command) -> Effect {
    let Some(waiting) = app.handoff.waiting.clone() else {
        return Effect::None;
    };
    match command {
        Command::Acknowledge if app.role == Role::Oncall => {
            Effect::Handoff(Request::Acknowledge(waiting.id.clone()))
        }
        Command::Acknowledge => {
            app.flash(
                "shadow sessions can read a handoff but not acknowledge it",
                Level::Warn,
            );
            Effect::None
        }
        Command::Select => {
            app.handoff
                .show("waiting for your acknowledgement".into(), waiting);
            app.handoff.waiting = None;
            open_view(app);
            Effect::None
        }
        Command::Back | Command::Cancel => {
            app.handoff.waiting = None;
            app.flash(
                "handoff left for later: :ack acknowledges it",
                Level::Unknown,
            );
            Effect::None
        }
        _ => Effect::None,
    }
}

/// Scrolling keys in the `:handoff` view; `None` for keys it does not use.
pub fn view_key(app: &mut App, action: Command) -> Option<Effect> {
    let last = u16::try_from(app.handoff.lines.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let scroll = &mut app.handoff.scroll;
    match action {
        Command::Down => *scroll = scroll.saturating_add(1).min(last),
        Command::Up => *scroll = scroll.saturating_sub(1),
        Command::PageDown | Command::HalfPageDown => *scroll = scroll.saturating_add(10).min(last),
        Command::PageUp | Command::HalfPageUp => *scroll = scroll.saturating_sub(10),
        Command::Top => *scroll = 0,
        Command::Bottom => *scroll = last,
        _ => return None,
    }
    Some(Effect::None)
}

pub fn apply_reply(app: &mut App, reply: Reply) {
    match reply {
        Reply::Shown { title, handoff } => {
            app.handoff.show(title, handoff);
            open_view(app);
        }
        Reply::Waiting(waiting) => app.handoff.waiting = waiting,
        Reply::Acknowledged(handoff) => {
            app.handoff.waiting = None;
            app.flash(
                format!(
                    "handoff from {} acknowledged: the shift is yours",
                    handoff.from.name
                ),
                Level::Ok,
            );
            app.handoff.show("acknowledged".into(), handoff);
            open_view(app);
        }
        Reply::Told(text, level) => {
            // A request the view is waiting on failed: say so there, not only in the
            // flash that fades.
            if app.handoff.title == LOADING {
                app.handoff.title = format!("failed: {}", crate::sanitize::sanitize(&text));
            }
            app.flash(text, level);
        }
    }
}

const LOADING: &str = "loading…";

/// The console's side of handoffs: its shift, the audit sources and the `[handoff]` config.
pub struct Desk {
    pub shift: Shift,
    pub runtime: Arc<Runtime>,
    pub config: crate::config::Config,
}

/// Runs `request` off the event loop; `reply` receives the outcome.
pub fn start(request: Request, desk: Arc<Desk>, reply: impl Fn(Reply) + Send + 'static) {
    tokio::spawn(async move {
        let answer = match run(&desk, request).await {
            Ok(answer) => answer,
            Err(e) => Reply::Told(e, Level::Warn),
        };
        reply(answer);
    });
}

async fn run(desk: &Desk, request: Request) -> Result<Reply, String> {
    let shift = &desk.shift;
    match request {
        Request::Waiting => Ok(Reply::Waiting(shift.waiting().await?.map(Box::new))),
        Request::Latest => match shift.store().latest().await? {
            Some(h) => Ok(Reply::Shown {
                title: format!("latest, from {}", shift.store().describe()),
                handoff: Box::new(h),
            }),
            None => Err(format!("no handoff yet in {}", shift.store().describe())),
        },
        Request::Acknowledge(id) => {
            Ok(Reply::Acknowledged(Box::new(shift.acknowledge(&id).await?)))
        }
        Request::Add {
            kind,
            text,
            within,
            closes,
        } => {
            let (owner, text) = match text.trim().strip_prefix('@') {
                Some(rest) if kind == EntryKind::OpenItem => match rest.split_once(' ') {
                    Some((owner, text)) => (Some(owner.to_string()), text.to_string()),
                    None => (None, text),
                },
                _ => (None, text),
            };
            let until = within.map(|d| SystemTime::now() + d);
            let saved = shift
                .add(shift.entry(kind, &text, owner, until, closes))
                .await?;
            Ok(match saved.shared_error {
                Some(e) => Reply::Told(e, Level::Warn),
                None => Reply::Told(
                    format!("{} {} saved", saved.entry.kind.word(), saved.entry.id),
                    Level::Ok,
                ),
            })
        }
        Request::Draft(snapshot) => {
            let handoff = draft(desk, None, snapshot).await?;
            Ok(Reply::Shown {
                title: "draft for this shift (not stored): :handoff write NAME hands it over"
                    .into(),
                handoff: Box::new(handoff),
            })
        }
        Request::Write { to, zone, snapshot } => {
            let person = incoming(&desk.config, &to, zone.as_deref())?;
            let handoff = draft(desk, Some(person), snapshot).await?;
            Ok(Reply::Shown {
                title: format!(
                    "written to {}; waiting for {} to acknowledge",
                    shift.store().describe(),
                    handoff.to.name
                ),
                handoff: Box::new(handoff),
            })
        }
    }
}

/// Builds the report for this shift; stored only when it goes to someone.
async fn draft(desk: &Desk, to: Option<Person>, snapshot: Snapshot) -> Result<Handoff, String> {
    let shift = &desk.shift;
    let now = SystemTime::now();
    let start = shift.window_start(desk.config.handoff.shift, now).await;
    let pipeline = &desk.runtime.pipeline;
    let (audit, gaps) = audit_since(pipeline.audit_log(), pipeline.store().as_ref(), start).await;
    let draft = Draft {
        to: to.clone().unwrap_or_else(|| Person {
            name: "(next engineer)".into(),
            zone: Zone::utc().name().to_string(),
        }),
        window: (start, now),
        fleet_source: snapshot.source,
        not_ok: snapshot.not_ok,
        audit,
        alertmanager_silences: snapshot.silences,
        gaps: gaps.into_iter().chain(snapshot.gaps).collect(),
    };
    if to.is_some() {
        return shift.write(draft).await;
    }
    let since = start
        .checked_sub(crate::handoff::shift::OPEN_ITEMS_LOOKBACK)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let (entries, mut gaps) = shift.entries_since(since).await;
    gaps.extend(draft.gaps);
    Ok(crate::handoff::report::build(
        crate::handoff::report::Inputs {
            id: "draft".into(),
            written_at: now,
            from: Person {
                name: shift.session().operator.clone(),
                zone: shift.zone().name().to_string(),
            },
            to: draft.to,
            console_host: shift.session().console_host.clone(),
            console_id: shift.session().console_id.clone(),
            window: draft.window,
            fleet_source: draft.fleet_source,
            not_ok: draft.not_ok,
            audit: &draft.audit,
            entries: &entries,
            alertmanager_silences: draft.alertmanager_silences,
            gaps,
        },
    ))
}
