//! One-shot polls, for the front ends that need the fleet once (`check`, `snapshot`, the
//! action catalog on the command line, the handoff report). The outcome of each poll is
//! read by the scheduler's own [`record`](crate::sources::scheduler::record), so a one-shot
//! poll and the console's loop can never disagree about what a poll meant.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::fleet::ThresholdOverrides;
use crate::model::{ComponentMeta, Fleet, Reading, SourceState, SourceStatus};
use crate::sources::SourceSpec;
use crate::sources::scheduler::{poll_bounded, record};

/// The fleet before any poll: every component, pending or disabled, judged by `thresholds`.
pub fn fleet_of(specs: &[SourceSpec], thresholds: ThresholdOverrides) -> Fleet {
    let metas = specs
        .iter()
        .map(|s| (s.meta.clone(), s.first_status()))
        .collect();
    Fleet::new(metas, thresholds)
}

/// Polls every enabled source once, all at the same time, each within its deadline.
pub async fn poll_once(specs: Vec<SourceSpec>, thresholds: ThresholdOverrides) -> Fleet {
    let mut fleet = fleet_of(&specs, thresholds);
    let polls = specs
        .into_iter()
        .filter(|s| s.enabled)
        .map(|mut spec| async move {
            let started = SystemTime::now();
            let outcome = poll_bounded(&mut spec).await;
            let mut status = spec.first_status();
            let reading = record(&mut status, started, spec.schedule.deadline, outcome);
            (spec.meta.id, status, reading)
        });
    for (id, status, reading) in futures_util::future::join_all(polls).await {
        fleet.apply(&id, status, reading);
    }
    fleet
}

/// A fleet from readings already in hand (the demo at one moment), judged by `thresholds`.
pub fn fleet_from(
    readings: Vec<(ComponentMeta, Arc<dyn Reading>)>,
    at: SystemTime,
    cadence: Duration,
    thresholds: ThresholdOverrides,
) -> Fleet {
    let mut fleet = Fleet::new(
        readings
            .iter()
            .map(|(m, _)| (m.clone(), SourceStatus::pending(cadence)))
            .collect(),
        thresholds,
    );
    for (meta, reading) in readings {
        fleet.apply(&meta.id, answered(at, cadence), Some(reading));
    }
    fleet
}

/// The status of a source that answered at `at`.
pub fn answered(at: SystemTime, cadence: Duration) -> SourceStatus {
    SourceStatus {
        state: SourceState::Ok,
        last_ok: Some(at),
        last_attempt: Some(at),
        ..SourceStatus::pending(cadence)
    }
}
