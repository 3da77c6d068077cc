//! `mastop handoff write|show|ack|item|mitigation|silence|done|log` and `mastop note`: the
//! shift log and handoff reports from the command line.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};

use crate::engine::Engine;
use crate::handoff::shift::{Draft, audit_since, incoming};
use crate::handoff::{EntryKind, Handoff, markdown};

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
/// `handoff show`: a handoff waits for this console's acknowledgement.
const EXIT_AWAITING_ACK: u8 = 4;

#[derive(Debug, Subcommand)]
pub enum HandoffCommand {
    /// Write the handoff report for this shift and share it with the next console.
    Write {
        /// Who takes over.
        #[arg(long, value_name = "NAME")]
        to: String,
        /// Their IANA time zone, when [handoff.people] does not name it.
        #[arg(long, value_name = "ZONE")]
        to_zone: Option<String>,
        /// The shift began this long ago (default: at the last handoff received, or
        /// [handoff] shift ago).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        since: Option<Duration>,
        /// Report on the demo's simulated fleet instead of polling the configured one.
        #[arg(long)]
        demo: bool,
    },
    /// Show a handoff as Markdown (the latest by default) and whether it was acknowledged.
    /// Exits 4 when it waits for acknowledgement by this console.
    Show {
        id: Option<String>,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a handoff: you have read it and own the shift now.
    Ack { id: String },
    /// Open items, with owners.
    #[command(subcommand)]
    Item(AddCommand),
    /// Mitigations in place (a queue rebalanced, registrations closed) and when to undo them.
    #[command(subcommand)]
    Mitigation(AddCommand),
    /// Alerts silenced elsewhere (Alertmanager, the pager), and until when.
    #[command(subcommand)]
    Silence(AddCommand),
    /// Close an open item, undone mitigation or lifted silence by its id.
    Done { id: String },
    /// The shift log: notes, items, mitigations and silences.
    Log {
        /// Entries newer than this (default: [handoff] shift).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        since: Option<Duration>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddCommand {
    Add(EntryArgs),
}

#[derive(Debug, Args)]
pub struct EntryArgs {
    pub text: String,
    /// Who owns it.
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
    /// Undo by / lapses at this RFC 3339 time, e.g. 2026-11-26T18:00:00Z.
    #[arg(
        long,
        value_name = "TIME",
        alias = "undo-by",
        conflicts_with = "within"
    )]
    pub until: Option<String>,
    /// Undo by / lapses this long from now, e.g. 4h.
    #[arg(long, value_name = "DURATION", alias = "undo-in", value_parser = parse_duration)]
    pub within: Option<Duration>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::config::parse_duration(text)
}

fn fail(code: u8, message: &str) -> ExitCode {
    crate::errln!("{}", crate::sanitize::sanitize(message));
    ExitCode::from(code)
}

/// `mastop note "…"`.
pub fn note(engine: &Engine, text: &str) -> color_eyre::Result<ExitCode> {
    add(engine, EntryKind::Note, text, None, None, None)
}

fn add(
    engine: &Engine,
    kind: EntryKind,
    text: &str,
    owner: Option<String>,
    until: Option<SystemTime>,
    closes: Option<String>,
) -> color_eyre::Result<ExitCode> {
    let shift = match engine.shift() {
        Ok(s) => s,
        Err(e) => return Ok(fail(EXIT_USAGE, &e)),
    };
    let entry = shift.entry(kind, text, owner, until, closes);
    let saved = super::runtime()?.block_on(shift.add(entry));
    match saved {
        Ok(saved) => {
            crate::outln!("{} {} saved", saved.entry.kind.word(), saved.entry.id);
            match saved.shared_error {
                Some(e) => Ok(fail(EXIT_FAILED, &e)),
                None => Ok(ExitCode::SUCCESS),
            }
        }
        Err(e) => Ok(fail(EXIT_FAILED, &e)),
    }
}

fn until(args: &EntryArgs) -> Result<Option<SystemTime>, String> {
    match (&args.until, args.within) {
        (Some(text), _) => humantime::parse_rfc3339_weak(text).map(Some).map_err(|e| {
            format!(
                "`{}` is not a UTC time ({e}): use e.g. 2026-11-26T18:00:00Z, or --within 4h",
                crate::sanitize::sanitize(text)
            )
        }),
        (None, Some(d)) => Ok(Some(SystemTime::now() + d)),
        (None, None) => Ok(None),
    }
}

pub fn handoff(mut engine: Engine, command: HandoffCommand) -> color_eyre::Result<ExitCode> {
    // What goes into the shared record carries the operator's tailnet identity.
    if matches!(
        command,
        HandoffCommand::Write { .. } | HandoffCommand::Ack { .. }
    ) {
        super::runtime()?.block_on(engine.identify());
    }
    let engine = &engine;
    let entry = |kind: EntryKind, AddCommand::Add(args): AddCommand| match until(&args) {
        Ok(t) => add(engine, kind, &args.text, args.owner, t, None),
        Err(e) => Ok(fail(EXIT_USAGE, &e)),
    };
    match command {
        HandoffCommand::Item(c) => entry(EntryKind::OpenItem, c),
        HandoffCommand::Mitigation(c) => entry(EntryKind::Mitigation, c),
        HandoffCommand::Silence(c) => entry(EntryKind::Silence, c),
        HandoffCommand::Done { id } => add(engine, EntryKind::Done, "", None, None, Some(id)),
        HandoffCommand::Log { since } => log(engine, since),
        HandoffCommand::Write {
            to, to_zone, since, ..
        } => write(engine, &to, to_zone.as_deref(), since),
        HandoffCommand::Show { id, json } => show(engine, id.as_deref(), json),
        HandoffCommand::Ack { id } => ack(engine, &id),
    }
}

fn log(engine: &Engine, since: Option<Duration>) -> color_eyre::Result<ExitCode> {
    let cfg = engine.config();
    let shift = match engine.shift() {
        Ok(s) => s,
        Err(e) => return Ok(fail(EXIT_USAGE, &e)),
    };
    let from = SystemTime::now()
        .checked_sub(since.unwrap_or(cfg.handoff.shift))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let (entries, gaps) = super::runtime()?.block_on(shift.entries_since(from));
    for e in entries {
        let extra = [
            e.owner.as_ref().map(|o| format!("owner {o}")),
            e.until.as_ref().map(|u| format!("until {u}")),
            e.closes.as_ref().map(|c| format!("closes {c}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
        let line = format!(
            "{} {:<14} {} {} {}{}",
            e.time,
            e.kind.word(),
            e.id,
            e.author,
            e.text,
            if extra.is_empty() {
                String::new()
            } else {
                format!(" ({extra})")
            }
        );
        crate::outln!("{}", crate::sanitize::sanitize(&line));
    }
    for g in &gaps {
        crate::errln!("incomplete: {}", crate::sanitize::sanitize(g));
    }
    Ok(if gaps.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn write(
    engine: &Engine,
    to: &str,
    to_zone: Option<&str>,
    since: Option<Duration>,
) -> color_eyre::Result<ExitCode> {
    let cfg = engine.config();
    let person = match incoming(cfg, to, to_zone) {
        Ok(p) => p,
        Err(e) => return Ok(fail(EXIT_USAGE, &e)),
    };
    let shift = match engine.shift() {
        Ok(s) => s,
        Err(e) => return Ok(fail(EXIT_USAGE, &e)),
    };
    let pipeline = engine.pipeline();
    let rt = super::runtime()?;
    let result = rt.block_on(async {
        let now = SystemTime::now();
        let start = match since {
            Some(d) => now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH),
            None => shift.window_start(cfg.handoff.shift, now).await,
        };
        let (audit, mut gaps) =
            audit_since(pipeline.audit_log(), pipeline.store().as_ref(), start).await;
        let deadline = cfg.handoff.snapshot_deadline;
        let mut alertmanager_silences = None;
        let (fleet_source, not_ok) = match tokio::time::timeout(deadline, engine.poll_once()).await
        {
            Ok(fleet) => {
                let (silences, missing) =
                    crate::handoff::report::silences_of(&fleet, SystemTime::now());
                alertmanager_silences = silences;
                gaps.extend(missing);
                (
                    match engine.demo() {
                        Some(_) => "demo fleet".to_string(),
                        None => "live snapshot taken when the report was written".to_string(),
                    },
                    crate::handoff::report::not_ok(&fleet, SystemTime::now()),
                )
            }
            Err(_) => {
                gaps.push(format!(
                    "the fleet: no snapshot within {} ([handoff] snapshot_deadline)",
                    humantime::format_duration(deadline)
                ));
                ("fleet (no snapshot)".to_string(), Vec::new())
            }
        };
        shift
            .write(Draft {
                to: person,
                window: (start, now),
                fleet_source,
                not_ok,
                audit,
                alertmanager_silences,
                gaps,
            })
            .await
    });
    match result {
        Ok(handoff) => {
            crate::out!("{}", markdown::render(&handoff));
            crate::errln!(
                "handoff {} written to {}; {} acknowledges it with: mastop handoff ack {}",
                handoff.id,
                shift.store().describe(),
                crate::sanitize::sanitize(&handoff.to.name),
                handoff.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(EXIT_FAILED, &e)),
    }
}

fn show(engine: &Engine, id: Option<&str>, json: bool) -> color_eyre::Result<ExitCode> {
    let shift = match engine.shift() {
        Ok(s) => s,
        Err(e) => return Ok(fail(EXIT_USAGE, &e)),
    };
    let found = super::runtime()?.block_on(async {
        match id {
            Some(id) => shift.store().handoff(id).await,
            None => shift.store().latest().await,
        }
    });
    let handoff: Handoff = match found {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Ok(fail(
                EXIT_FAILED,
                &match id {
                    Some(id) => format!("no handoff {id} in {}", shift.store().describe()),
                    None => format!("no handoff yet in {}", shift.store().describe()),
                },
            ));
        }
        Err(e) => return Ok(fail(EXIT_FAILED, &e)),
    };
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&handoff)?);
    } else {
        crate::out!("{}", markdown::render(&handoff));
    }
    if handoff.acknowledged.is_none() {
        let how = match shift.session().role {
            crate::actions::Role::Oncall => {
                format!("acknowledge it with: mastop handoff ack {}", handoff.id)
            }
            crate::actions::Role::Shadow => {
                "a shadow session can read it; the on-call engineer acknowledges it".into()
            }
        };
        crate::errln!("handoff {} is NOT acknowledged yet — {how}", handoff.id);
        return Ok(ExitCode::from(EXIT_AWAITING_ACK));
    }
    Ok(ExitCode::SUCCESS)
}

fn ack(engine: &Engine, id: &str) -> color_eyre::Result<ExitCode> {
    let shift = match engine.shift() {
        Ok(s) => s,
        Err(e) => return Ok(fail(EXIT_USAGE, &e)),
    };
    match super::runtime()?.block_on(shift.acknowledge(id)) {
        Ok(h) => {
            let by = h.acknowledged.as_ref().map_or("?", |a| a.by.as_str());
            crate::outln!(
                "handoff {} from {} acknowledged by {by}",
                h.id,
                crate::sanitize::sanitize(&h.from.name)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(EXIT_FAILED, &e)),
    }
}

/// The console's handoff desk; `None` (with the reason logged) when this machine has no
/// data directory or the `[handoff]` zone is unusable.
pub fn desk(
    engine: &Engine,
    runtime: &std::sync::Arc<crate::actions::runtime::Runtime>,
) -> Option<std::sync::Arc<crate::tui::handoff::Desk>> {
    match engine.shift() {
        Ok(shift) => Some(std::sync::Arc::new(crate::tui::handoff::Desk {
            shift,
            runtime: std::sync::Arc::clone(runtime),
            config: engine.config().clone(),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "handoffs unavailable");
            None
        }
    }
}
