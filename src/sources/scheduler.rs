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
        let status = if spec.enabled {
            SourceStatus::pending(spec.schedule.cadence)
        } else {
            SourceStatus::disabled("in config")
        };
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

async fn run(mut spec: SourceSpec, publisher: Publisher, cancel: CancellationToken) {
    let Schedule { cadence, deadline } = spec.schedule;
    let mut status = SourceStatus::pending(cadence);
    let mut last_reading = None;
    loop {
        let started = SystemTime::now();
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(deadline, spec.source.poll()) => r,
        };
        status.last_attempt = Some(started);
        match outcome {
            Ok(Ok(reading)) => {
                status.state = SourceState::Ok;
                status.last_ok = Some(SystemTime::now());
                status.error = None;
                status.consecutive_failures = 0;
                last_reading = Some(reading);
            }
            Ok(Err(PollError::Denied(e))) => {
                status.state = SourceState::Denied;
                status.error = Some(e);
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            }
            Ok(Err(PollError::Failed(e))) => {
                status.state = SourceState::Down;
                status.error = Some(e);
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            }
            Err(_) => {
                status.state = SourceState::Down;
                status.error = Some(format!(
                    "no answer within {}",
                    humantime::format_duration(deadline)
                ));
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
            }
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
