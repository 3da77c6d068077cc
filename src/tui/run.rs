//! The event loop. It waits on keys, source updates, a one-second clock (for data ages)
//! and signals; it draws only when something changed, at most once per frame interval.
//! The first frame is drawn before any source is started, so the screen appears at once
//! even when every backend is unreachable.

use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use tokio::sync::mpsc;

use super::app::{App, Effect, Revealed, View};
use super::terminal;
use super::views;
use crate::actions::kinds::retry_all;
use crate::actions::runtime::Runtime;
use crate::actions::{Action as Guarded, AuditRecord, Freeze, Preview, RunResult};
use crate::model::{ComponentId, Level};
use crate::sources::sidekiq::browse::{BrowseRequest, Browsed};
use crate::sources::{SourceSpec, spawn_all, spawn_into};

/// At most one frame per this interval, however fast updates arrive.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// What ended the loop, for the exit message and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Signal(&'static str),
    InputClosed,
}

/// Results of work the loop started in the background (previews, actions, store calls).
enum Done {
    Preview(Box<Guarded>, Preview),
    Ran(Box<Guarded>, RunResult),
    Audit(Vec<AuditRecord>),
    Freeze(Option<Freeze>),
    Flash(String, Level),
    Revealed(Result<Revealed, String>),
    Handoff(super::handoff::Reply),
    Runbook(crate::runbooks::Event),
    Inventory(Box<crate::inventory::Inventory>),
    /// A flow finished a batch: its progress line.
    Progress(Box<Guarded>, String),
    Browsed(ComponentId, BrowseRequest, Result<Browsed, String>),
    /// The last hour from Prometheus, for the trends.
    Backfilled(crate::sources::prometheus::backfill::Outcome),
    /// A batch for the log view's read `generation`.
    /// The live room reported.
    Room(crate::live::room::RoomEvent),
}

/// Where the fleet comes from.
pub enum Instruments {
    /// The console's own sources, polling production; with an ops store it is in the room
    /// too (presence and the action stream), its fleet still its own.
    Poll(Vec<SourceSpec>, Option<crate::live::room::Joining>),
    /// The room a collector publishes to the ops store: no source, no production backend.
    Watch(crate::live::room::Joining),
}

/// Effects a watching console refuses: each would reach production or write shared state
/// a watcher's credentials do not cover.
fn refused_while_watching(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::Preview(_)
            | Effect::Run(..)
            | Effect::RunFlow(..)
            | Effect::Browse(..)
            | Effect::Freeze(_)
            | Effect::Approve(_)
            | Effect::Reveal { .. }
            | Effect::Runbook(_)
            | Effect::Handoff(_)
    ) || matches!(effect, Effect::Logs(work) if !matches!(work, crate::tui::logs::LogWork::Save { .. }))
}

/// Discovery for a running console: the plan, and how to start sources for the hosts it
/// finds that nothing polls yet.
pub struct Discovery {
    pub plan: crate::inventory::discover::Plan,
    pub hosts: crate::sources::host::HostSpawner,
}

#[allow(clippy::too_many_arguments)] // each is a separate service the loop drives
pub async fn run(
    mut app: App,
    instruments: Instruments,
    runtime: Arc<Runtime>,
    handoffs: Option<Arc<super::handoff::Desk>>,
    discovery: Option<Discovery>,
    backfill: Option<crate::sources::prometheus::backfill::Backfill>,
    logs: crate::engine::logs::LogReaders,
    cancel: CancellationToken,
) -> color_eyre::Result<Exit> {
    let started = *crate::STARTED.get_or_init(Instant::now);
    // Handlers first: a signal that lands between the first frame and their registration
    // would otherwise kill the process with the terminal still raw.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut term = terminal::enter()?;
    term.draw(|f| views::draw(f, &app))?;
    tracing::info!(
        first_frame_ms = started.elapsed().as_secs_f64() * 1000.0,
        "first frame drawn (since process start)"
    );

    let (specs, joining) = match instruments {
        Instruments::Poll(specs, joining) => (specs, joining),
        Instruments::Watch(joining) => (Vec::new(), Some(joining)),
    };
    let watching = joining.as_ref().is_some_and(|j| j.follow_fleet);
    let (mut feed, _) = spawn_all(specs, &cancel);
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    let mut last_draw = Instant::now();
    let mut frames: u64 = 1;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut ticks: u64 = 0;
    // The log view's reading; aborting it stops the remote journalctl.
    let mut log_read: Option<LogReading> = None;
    let (view_tx, view_rx) = tokio::sync::watch::channel(app.view.describe());
    if let Some(joining) = joining {
        let done = done_tx.clone();
        tokio::spawn(crate::live::room::join(
            joining,
            view_rx,
            cancel.clone(),
            move |event| done.send(Done::Room(event)).is_ok(),
        ));
    }
    spawn_state_refresh(&runtime, &done_tx, true);
    start_handoff(
        super::handoff::Request::Waiting,
        handoffs.as_ref(),
        &done_tx,
    );
    if let Some(backfill) = backfill {
        let done = done_tx.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                outcome = backfill.run() => {
                    let _ = done.send(Done::Backfilled(outcome));
                }
            }
        });
    }
    let host_spawner = discovery.as_ref().map(|d| d.hosts.clone());
    if let Some(Discovery { plan, .. }) = discovery {
        let done = done_tx.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = plan.run(|inv| done.send(Done::Inventory(Box::new(inv))).is_ok()) => {}
            }
        });
    }

    let exit = loop {
        let next_frame = tokio::time::Instant::from_std(last_draw + FRAME_INTERVAL);
        tokio::select! {
            biased;
            _ = sigterm.recv() => break Exit::Signal("SIGTERM"),
            _ = sighup.recv() => break Exit::Signal("SIGHUP"),
            _ = sigint.recv() => break Exit::Signal("SIGINT"),
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    match app.handle_key(key) {
                        Effect::Quit => break Exit::Quit,
                        Effect::Suspend => {
                            terminal::suspend(&mut term)?;
                            dirty = true;
                        }
                        Effect::FullRedraw => {
                            terminal::repaint(&mut term)?;
                            dirty = true;
                        }
                        Effect::Theme(name) => {
                            let loaded = app.themes.load(&name).map_err(|e| e.to_string());
                            app.theme_loaded(&name, loaded);
                            terminal::repaint(&mut term)?;
                            dirty = true;
                        }
                        Effect::None => dirty = true,
                        other if watching && refused_while_watching(&other) => {
                            app.dialog = None;
                            let why = if matches!(other, Effect::Handoff(_)) {
                                super::room::HANDOFFS_ELSEWHERE
                            } else {
                                super::room::ACTIONS_DISABLED
                            };
                            app.flash(why, Level::Warn);
                            dirty = true;
                        }
                        Effect::Logs(work) => {
                            let saving = matches!(work, crate::tui::logs::LogWork::Save { .. });
                            if !saving && let Some(old) = log_read.take() {
                                old.task.abort();
                            }
                            if let Some(reading) = start_logs(work, &logs, &done_tx, app.now) {
                                log_read = Some(reading);
                            }
                            dirty = true;
                        }
                        Effect::Handoff(request) => {
                            start_handoff(request, handoffs.as_ref(), &done_tx);
                            dirty = true;
                        }
                        other => {
                            start(other, &runtime, &done_tx);
                            dirty = true;
                        }
                    }
                }
                Some(Ok(Event::Resize(_, _))) => {
                    term.autoresize()?;
                    dirty = true;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(color_eyre::eyre::eyre!("reading the terminal failed: {e}")),
                None => break Exit::InputClosed,
            },
            _ = feed.changed() => {
                let now = SystemTime::now();
                app.now = now;
                for (id, update) in feed.drain() {
                    app.fleet.apply(&id, update.status, update.reading);
                }
                app.rebuild();
                dirty = true;
            }
            (generation, event) = next_batch(&mut log_read) => {
                app.logs.receive(generation, event);
                dirty = true;
            }
            Some(done) = done_rx.recv() => {
                match done {
                    Done::Preview(action, preview) => app.preview_ready(&action, preview),
                    Done::Ran(action, result) => {
                        app.action_done(&action, result);
                        spawn_state_refresh(&runtime, &done_tx, true);
                        if let Some(again) = app.browse_again() {
                            start(again, &runtime, &done_tx);
                        }
                    }
                    Done::Progress(action, line) => app.flow_progress(&action, line),
                    Done::Browsed(id, request, result) => app.browse_done(&id, &request, result),
                    Done::Audit(records) => app.set_audit(records),
                    Done::Backfilled(outcome) => {
                        tracing::info!(
                            queries = outcome.queries,
                            series = outcome.filled.len(),
                            errors = ?outcome.errors,
                            "trends backfilled from prometheus"
                        );
                        outcome.apply(&mut app.fleet);
                        app.rebuild();
                    }
                    Done::Freeze(freeze) => app.freeze = freeze,
                    Done::Room(event) => app.room_event(event),
                    Done::Flash(text, level) => app.flash(text, level),
                    Done::Revealed(result) => app.reveal_done(result),
                    Done::Handoff(reply) => app.handoff_done(reply),
                    Done::Runbook(event) => {
                        let finished = matches!(event, crate::runbooks::Event::Finished(_));
                        app.runbooks.event(event);
                        if finished {
                            spawn_state_refresh(&runtime, &done_tx, true);
                        }
                    }
                    Done::Inventory(inventory) => {
                        if let Some(hosts) = &host_spawner {
                            let new: Vec<_> = inventory
                                .pollable()
                                .iter()
                                .filter(|h| {
                                    let id = ComponentId::new(crate::sources::host::KIND, &h.name);
                                    app.fleet.get(&id).is_none()
                                })
                                .map(|h| hosts.spec(h))
                                .collect();
                            // A host that discovery stops listing keeps being polled: it
                            // going quiet is exactly what on-call needs to see.
                            for (meta, status) in spawn_into(&mut feed, new, &cancel) {
                                app.fleet.add(meta, status);
                            }
                        }
                        app.set_inventory(*inventory);
                    }
                }
                dirty = true;
            }
            _ = clock.tick() => {
                app.tick(SystemTime::now());
                view_tx.send_if_modified(|named| {
                    let now = app.view.describe();
                    let changed = *named != now;
                    *named = now;
                    changed
                });
                ticks += 1;
                // Other consoles may freeze or act: look every few seconds.
                if ticks.is_multiple_of(5) {
                    spawn_state_refresh(&runtime, &done_tx, app.view == View::Audit);
                }
                dirty = true;
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {
                term.draw(|f| views::draw(f, &app))?;
                frames += 1;
                dirty = false;
                last_draw = Instant::now();
            }
        }
    };
    cancel.cancel();
    terminal::leave();
    tracing::info!(frames, ?exit, "console closed");
    Ok(exit)
}

/// Starts the background work an effect asks for; the result comes back as a `Done`.
fn start(effect: Effect, runtime: &Arc<Runtime>, done: &mpsc::UnboundedSender<Done>) {
    let runtime = Arc::clone(runtime);
    let done = done.clone();
    match effect {
        Effect::Preview(action) => {
            tokio::spawn(async move {
                let executor = runtime.executor_for(&action);
                let preview = runtime.pipeline.preview(&action, executor.as_deref()).await;
                let _ = done.send(Done::Preview(action, preview));
            });
        }
        Effect::Run(action, confirmation, approval) => {
            tokio::spawn(async move {
                // A critical action waits for a second person; once approved, it runs with
                // the same confirmation, through every guard again.
                let wait = Some(runtime.approval_wait());
                runtime
                    .run_with_approval(&action, confirmation, approval.as_deref(), wait, |r| {
                        let _ = done.send(Done::Ran(action.clone(), r.clone()));
                    })
                    .await;
            });
        }
        Effect::RunFlow(action, confirmation, abort) => {
            tokio::spawn(async move {
                let report = done.clone();
                let result = retry_all::run(&runtime, &action, confirmation, &abort, |p| {
                    let _ = report.send(Done::Progress(action.clone(), p.line()));
                })
                .await;
                let _ = done.send(Done::Ran(action, result));
            });
        }
        Effect::Browse(id, request) => {
            tokio::spawn(async move {
                let result = runtime.sidekiq.browse(id.as_str(), &request).await;
                let _ = done.send(Done::Browsed(id, request, result));
            });
        }
        Effect::Freeze(reason) => {
            tokio::spawn(async move {
                let message = match runtime.set_freeze(reason).await {
                    Ok(m) => Done::Flash(m, Level::Ok),
                    Err(e) => Done::Flash(e, Level::Warn),
                };
                let _ = done.send(message);
                if let Ok(f) = runtime.freeze_state().await {
                    let _ = done.send(Done::Freeze(f));
                }
            });
        }
        Effect::Approve(id) => {
            tokio::spawn(async move {
                let message = match runtime.approve(&id).await {
                    Ok(m) => Done::Flash(m, Level::Ok),
                    Err(e) => Done::Flash(e, Level::Warn),
                };
                let _ = done.send(message);
            });
        }
        Effect::LoadAudit => spawn_state_refresh(&runtime, &done, true),
        Effect::Reveal {
            component,
            table,
            key,
            content,
        } => {
            tokio::spawn(async move {
                let title = format!("{component} · {table} · {key}");
                let result = runtime
                    .reveal(&component, &table, &key, content)
                    .await
                    .map(|content| Revealed { title, content });
                let _ = done.send(Done::Revealed(result));
            });
        }
        Effect::Runbook(start) => {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let forward = done.clone();
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    let _ = forward.send(Done::Runbook(event));
                }
            });
            tokio::spawn(async move {
                crate::runbooks::engine::execute(
                    &start.plan,
                    &runtime,
                    start.typed.as_deref(),
                    &start.control,
                    &tx,
                )
                .await;
            });
        }
        // The console carried these out already, or the loop did.
        Effect::None
        | Effect::Unhandled
        | Effect::Close
        | Effect::Open(_)
        | Effect::Flash(..)
        | Effect::Act(_)
        | Effect::Theme(_)
        | Effect::Quit
        | Effect::Suspend
        | Effect::FullRedraw
        | Effect::Handoff(_)
        | Effect::Back
        | Effect::Menu
        | Effect::Many(_)
        | Effect::Help
        | Effect::Runbooks
        | Effect::Prompt(_)
        | Effect::HandoffCommand(..)
        | Effect::OpenLogs(_)
        | Effect::Logs(_) => {}
    }
}

/// Batches of a log view's reading the console holds at most before the reader drops
/// (and counts) new ones: a flood costs bounded memory and never delays the keyboard.
pub const LOG_QUEUE: usize = 4;

/// A log view's reading: its task, and its batches, tagged with the view's generation.
struct LogReading {
    task: tokio::task::JoinHandle<()>,
    generation: u64,
    batches: mpsc::Receiver<crate::engine::logs::LogEvent>,
}

/// The next batch of the running read; never, when there is none.
async fn next_batch(reading: &mut Option<LogReading>) -> (u64, crate::engine::logs::LogEvent) {
    if let Some(r) = reading.as_mut() {
        if let Some(event) = r.batches.recv().await {
            return (r.generation, event);
        }
        *reading = None;
    }
    std::future::pending().await
}

/// Starts a log view's read (its batches come through the returned reading's bounded
/// queue) or saves what it shows. A save leaves a running read alone.
fn start_logs(
    work: crate::tui::logs::LogWork,
    readers: &crate::engine::logs::LogReaders,
    done: &mpsc::UnboundedSender<Done>,
    now: SystemTime,
) -> Option<LogReading> {
    use crate::tui::logs::LogWork;
    let done = done.clone();
    match work {
        LogWork::Stop => None,
        LogWork::Read { generation, read } => {
            let readers = readers.clone();
            let (tx, batches) = mpsc::channel(LOG_QUEUE);
            Some(LogReading {
                task: tokio::spawn(async move { readers.stream(read, tx).await }),
                generation,
                batches,
            })
        }
        LogWork::Save { stem, text, lines } => {
            let dir = readers.save_dir();
            tokio::task::spawn_blocking(move || {
                let message = match dir {
                    None => Done::Flash(
                        "cannot save the log: no data directory (set HOME or XDG_DATA_HOME)".into(),
                        Level::Warn,
                    ),
                    Some(dir) => match crate::tui::logs::save::write(&dir, &stem, &text, now) {
                        Ok(path) => Done::Flash(
                            format!("saved {lines} lines (redacted) to {}", path.display()),
                            Level::Ok,
                        ),
                        Err(e) => Done::Flash(e, Level::Warn),
                    },
                };
                let _ = done.send(message);
            });
            None
        }
    }
}

/// Reads the freeze state and, when asked, the audit history, off the event loop.
fn spawn_state_refresh(
    runtime: &Arc<Runtime>,
    done: &mpsc::UnboundedSender<Done>,
    with_audit: bool,
) {
    let runtime = Arc::clone(runtime);
    let done = done.clone();
    tokio::spawn(async move {
        if let Ok(freeze) = runtime.freeze_state().await {
            let _ = done.send(Done::Freeze(freeze));
        }
        if with_audit {
            match runtime.history(None, 500).await {
                Ok(records) => {
                    let _ = done.send(Done::Audit(records));
                }
                Err(e) => {
                    let _ = done.send(Done::Flash(
                        format!("audit history unavailable: {e}"),
                        Level::Warn,
                    ));
                }
            }
        }
    });
}

/// Hands a request to the handoff desk; without one (no data directory) says so.
fn start_handoff(
    request: super::handoff::Request,
    desk: Option<&Arc<super::handoff::Desk>>,
    done: &mpsc::UnboundedSender<Done>,
) {
    let done = done.clone();
    match desk {
        Some(desk) => super::handoff::start(request, Arc::clone(desk), move |reply| {
            let _ = done.send(Done::Handoff(reply));
        }),
        None if request != super::handoff::Request::Waiting => {
            let _ = done.send(Done::Flash(
                "handoffs are unavailable on this console: no data directory (set HOME or XDG_DATA_HOME)".into(),
                Level::Warn,
            ));
        }
        None => {}
    }
}
