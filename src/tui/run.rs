//! The event loop. It waits on keys, source updates, a one-second clock (for data ages)
//! and signals; it draws only when something changed, at most once per frame interval.
//! The first frame is drawn before any source is started, so the screen appears at once
//! even when every backend is unreachable.

use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::app::{App, Effect};
use super::terminal;
use super::views;
use crate::sources::{SourceSpec, spawn_all};

/// At most one frame per this interval, however fast updates arrive.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// What ended the loop, for the exit message and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Quit,
    Signal(&'static str),
    InputClosed,
}

pub async fn run(
    mut app: App,
    specs: Vec<SourceSpec>,
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

    let (mut feed, _) = spawn_all(specs, &cancel);
    let mut events = EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    let mut last_draw = Instant::now();
    let mut frames: u64 = 1;

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
                        Effect::None => dirty = true,
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
            _ = clock.tick() => {
                app.tick(SystemTime::now());
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
