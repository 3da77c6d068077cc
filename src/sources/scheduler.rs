//! Runs each source in its own task: poll, bound by a deadline, publish, sleep for the
//! cadence (or the backoff after refusals, see [`backoff`]). Cancelling the token stops
//! every task at once, even mid-poll, so quitting never waits on a backend.
//!
//! A failing source is logged when it starts failing and when it answers again, never on
//! each retry, so a backend that stays down for a day writes two lines.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::feed::{Feed, Publisher, Update};
use super::{PollError, SourceSpec, backoff};
pub use crate::model::Schedule;
use crate::model::{ComponentMeta, SourceState, SourceStatus};

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
/// success, a refusal, a failure and a missed deadline mean, and when the next poll is.
/// Used by the scheduler's loop and by one-shot polls alike, so `check` and the console can
/// never read a poll differently. Returns the reading a success brought.
pub fn record(
    status: &mut SourceStatus,
    started: SystemTime,
    deadline: Duration,
    outcome: Outcome,
) -> Option<std::sync::Arc<dyn crate::model::Reading>> {
    status.last_attempt = Some(started);
    let failed = |status: &mut SourceStatus, state: SourceState, error: String| {
        if !failing(status.state) {
            status.down_since = Some(started);
        }
        status.state = state;
        status.error = Some(error);
        status.consecutive_failures = status.consecutive_failures.saturating_add(1);
    };
    let reading = match outcome {
        Ok(Ok(reading)) => {
            status.state = SourceState::Ok;
            status.last_ok = Some(SystemTime::now());
            status.error = None;
            status.consecutive_failures = 0;
            status.down_since = None;
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
    };
    let wait = pause(status);
    status.retry_every = failing(status.state).then_some(wait);
    status.next_attempt = Some(SystemTime::now() + wait);
    reading
}

fn failing(state: SourceState) -> bool {
    matches!(state, SourceState::Down | SourceState::Denied)
}

/// How long the loop waits after a poll that left the source in `status`.
fn pause(status: &SourceStatus) -> Duration {
    backoff(status.cadence, status.state, status.consecutive_failures)
}

/// Logs a source starting to fail, changing how it fails, or answering again.
fn log_transition(id: &crate::model::ComponentId, before: &SourceStatus, after: &SourceStatus) {
    match (failing(before.state), failing(after.state)) {
        (false, true) => tracing::warn!(
            component = %id,
            state = after.state.word(),
            error = after.error.as_deref().unwrap_or(""),
            retry_every = %humantime::format_duration(after.retry_every.unwrap_or(after.cadence)),
            "source failing"
        ),
        (true, true) if before.state != after.state => tracing::warn!(
            component = %id,
            state = after.state.word(),
            error = after.error.as_deref().unwrap_or(""),
            "source failing differently"
        ),
        (true, false) => {
            let down_for = before
                .down_since
                .and_then(|since| SystemTime::now().duration_since(since).ok())
                .unwrap_or_default();
            tracing::info!(
                component = %id,
                down_for = %humantime::format_duration(Duration::from_secs(down_for.as_secs())),
                failed_polls = before.consecutive_failures,
                "source answering again"
            );
        }
        _ => {}
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
        let before = status.clone();
        if let Some(reading) = record(&mut status, started, deadline, outcome) {
            last_reading = Some(reading);
        }
        log_transition(&spec.meta.id, &before, &status);
        publisher.publish(Update {
            status: status.clone(),
            reading: last_reading.clone(),
        });
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(pause(&status)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(error: &str) -> Outcome {
        Ok(Err(PollError::Failed(error.into())))
    }

    #[test]
    fn a_failing_run_keeps_its_start_and_retries_on_the_cadence() {
        let cadence = Duration::from_secs(2);
        let deadline = Duration::from_secs(1);
        let mut status = SourceStatus::pending(cadence);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for i in 0..100u64 {
            let at = t0 + Duration::from_secs(2 * i);
            assert!(record(&mut status, at, deadline, failed("refused")).is_none());
            assert_eq!(status.state, SourceState::Down);
            assert_eq!(
                status.down_since,
                Some(t0),
                "the run started at the first failure"
            );
            assert_eq!(
                status.retry_every,
                Some(cadence),
                "after {} failures",
                i + 1
            );
            assert!(status.next_attempt.is_some());
        }
        assert_eq!(status.consecutive_failures, 100);
        let reading: std::sync::Arc<dyn crate::model::Reading> =
            std::sync::Arc::new(crate::sources::redis::RedisReading::default());
        assert!(record(&mut status, t0, deadline, Ok(Ok(reading))).is_some());
        assert_eq!(status.state, SourceState::Ok);
        assert_eq!(
            (
                status.down_since,
                status.retry_every,
                status.consecutive_failures
            ),
            (None, None, 0)
        );
    }

    #[test]
    fn refusals_double_the_wait_and_timeouts_count_as_down() {
        let cadence = Duration::from_secs(1);
        let mut status = SourceStatus::pending(cadence);
        let now = SystemTime::now();
        let denied = || Ok(Err(PollError::Denied("no".into())));
        record(&mut status, now, cadence, denied());
        assert_eq!(status.retry_every, Some(Duration::from_secs(2)));
        record(&mut status, now, cadence, denied());
        assert_eq!(status.retry_every, Some(Duration::from_secs(4)));
        let mut status = SourceStatus::pending(cadence);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let outcome = runtime.block_on(async {
            tokio::time::timeout(
                Duration::from_millis(1),
                std::future::pending::<crate::sources::PollResult>(),
            )
            .await
        });
        record(&mut status, now, Duration::from_millis(1), outcome);
        assert_eq!(status.state, SourceState::Down);
        assert_eq!(status.retry_every, Some(cadence));
        assert_eq!(status.error.as_deref(), Some("no answer within 1ms"));
    }
}
