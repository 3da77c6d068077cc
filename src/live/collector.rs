//! The collector's loop: the engine's sources, polled by the same scheduler as the
//! console, folded into the same fleet, and every component that changed published to the
//! ops store. A publication that fails (the store restarting) is kept and sent again with
//! the next one, so watchers catch up once the store is back.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::LiveComponent;
use crate::engine::Engine;
use crate::model::{ComponentId, Fleet};
use crate::sources::scheduler;
use crate::store::PgStore;

/// What one run of the collector did, for its log and for tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Components stored (each announced with one notification).
    pub published: usize,
    /// Rounds whose publication failed and was carried over.
    pub failed_rounds: usize,
}

/// Polls the engine's fleet and publishes it until `cancel`.
pub async fn collect(
    engine: &Engine,
    store: &PgStore,
    host: &str,
    cancel: &CancellationToken,
) -> Tally {
    let (specs, _hosts) = engine.sources_sharing();
    let mut fleet = engine.fleet_for(&specs);
    let cadence = engine
        .config()
        .defaults
        .cadence
        .max(Duration::from_millis(200));
    let started = SystemTime::now();
    let polls = cancel.child_token();
    let (mut feed, _) = scheduler::spawn_all(specs, &polls);
    let mut tally = Tally::default();
    // Everything once at start: a watcher joining sees the whole fleet at once.
    let mut dirty: BTreeSet<ComponentId> = fleet
        .components()
        .iter()
        .map(|c| c.meta.id.clone())
        .collect();
    let mut beat = tokio::time::interval(cadence);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        publish(store, &fleet, &mut dirty, &mut tally).await;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = feed.changed() => {
                for (id, update) in feed.drain() {
                    fleet.apply(&id, update.status, update.reading);
                    dirty.insert(id);
                }
            }
            _ = beat.tick() => {
                if let Err(e) = store.beat_collector(host, started, cadence).await {
                    tracing::warn!(error = %e, "cannot record the collector's beat");
                }
            }
        }
    }
    polls.cancel();
    tally
}

async fn publish(
    store: &PgStore,
    fleet: &Fleet,
    dirty: &mut BTreeSet<ComponentId>,
    tally: &mut Tally,
) {
    if dirty.is_empty() {
        return;
    }
    let batch: Vec<(i32, LiveComponent)> = fleet
        .components()
        .iter()
        .enumerate()
        .filter(|(_, c)| dirty.contains(&c.meta.id))
        .map(|(i, c)| (i32::try_from(i).unwrap_or(i32::MAX), LiveComponent::of(c)))
        .collect();
    match store.publish_live(&batch).await {
        Ok(n) => {
            tally.published += n;
            dirty.clear();
        }
        Err(e) => {
            tally.failed_rounds += 1;
            tracing::warn!(error = %e, pending = dirty.len(), "cannot publish; will send again");
        }
    }
}
