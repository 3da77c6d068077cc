//! Handoffs in the console, the store side: what the handoff screen
//! ([`super::screens::handoff`]) asks of the shift log and handoff store, run off the event
//! loop in `start`, and the `Reply` that comes back.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::actions::runtime::Runtime;
use crate::handoff::report::{ComponentProblem, Person};
use crate::handoff::shift::{Draft, audit_since, incoming};
use crate::handoff::zone::Zone;
use crate::handoff::{EntryKind, Handoff, Shift};
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
