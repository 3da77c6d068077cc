//! Runs each source in its own task: poll, bound by a deadline, publish, sleep for the
//! cadence (or the backoff after failures). Cancelling the token stops every task at once,
//! even mid-poll, so quitting never waits on a backend.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::feed::{Feed, Publisher, Update};
use super::{PollError, SourceSpec, backoff};
use crate::model::{ComponentMeta, SourceState, SourceStatus};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub cadence: Duration,
    pub deadline: Duration,
}

/// Spawns one task per enabled source; disabled ones are published once as disabled.
/// Returns the feed and the component list in config order.
pub fn spawn_all(
    specs: Vec<SourceSpec>,
    cancel: &CancellationToken,
) -> (Feed, Vec<(ComponentMeta, SourceStatus)>) {
    let mut feed = Feed::new();
    let metas = spawn_into(&mut feed, specs, cancel);
    (feed, metas)
}

/// Starts more sources on a running feed (hosts found by discovery after start).
pub fn spawn_into(
    feed: &mut Feed,
    specs: Vec<SourceSpec>,
    cancel: &CancellationToken,
) -> Vec<(ComponentMeta, SourceStatus)> {
    let mut metas = Vec::with_capacity(specs.len());
    for spec in specs {
        let status = spec.first_status();
        let publisher = feed.add(
            spec.meta.id.clone(),
            Update {
                status: status.clone(),
                reading: None,
            },
        );
        metas.push((spec.meta.clone(), status));
        if spec.enabled {
            tokio::spawn(run(spec, publisher, cancel.child_token()));
        }
    }
    metas
}

/// What one bounded poll came to: a reading, an error from the source, or no answer
/// within the deadline.
pub type Outcome = Result<super::PollResult, tokio::time::error::Elapsed>;

/// Polls a source once, bounded by its deadline.
pub async fn poll_bounded(spec: &mut SourceSpec) -> Outcome {
    tokio::time::timeout(spec.schedule.deadline, spec.source.poll()).await
}

/// Folds one poll's outcome into the source's status: the one place that decides what a
/// success, a refusal, a failure and a missed deadline mean. Used by the scheduler's loop
/// and by one-shot polls alike, so `check` and the console can never read a poll
/// differently. Returns the reading a success brought.
pub fn record(
    status: &mut SourceStatus,
    started: SystemTime,
    deadline: Duration,
    outcome: Outcome,
) -> Option<std::sync::Arc<dyn crate::model::Reading>> {
    status.last_attempt = Some(started);
    let failed = |status: &mut SourceStatus, state: SourceState, error: String| {
        status.state = state;
        status.error = Some(error);
        status.consecutive_failures = status.consecutive_failures.saturating_add(1);
    };
    match outcome {
        Ok(Ok(reading)) => {
            status.state = SourceState::Ok;
            status.last_ok = Some(SystemTime::now());
            status.error = None;
            status.consecutive_failures = 0;
            Some(reading)
        }
        Ok(Err(PollError::Denied(e))) => {
            failed(status, SourceState::Denied, e);
            None
        }
        Ok(Err(PollError::Failed(e))) => {
            failed(status, SourceState::Down, e);
            None
        }
        Err(_) => {
            let error = format!("no answer within {}", humantime::format_duration(deadline));
            failed(status, SourceState::Down, error);
            None
        }
    }
}

async fn run(mut spec: SourceSpec, publisher: Publisher, cancel: CancellationToken) {
    let Schedule { cadence, deadline } = spec.schedule;
    let mut status = SourceStatus::pending(cadence);
    let mut last_reading = None;
    loop {
        let started = SystemTime::now();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = poll_bounded(&mut spec) => r,
        };
        if let Some(reading) = record(&mut status, started, deadline, outcome) {
            last_reading = Some(reading);
        }
        if status.state != SourceState::Ok {
            tracing::debug!(component = %spec.meta.id, error = ?status.error, "poll failed");
        }
        publisher.publish(Update {
            status: status.clone(),
            reading: last_reading.clone(),
        });
        let pause = backoff(cadence, status.consecutive_failures);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
