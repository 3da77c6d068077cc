//! A watching console's fleet, built from what the collector published: no source, no
//! connection to production. Each published component is applied to the fleet the way a
//! poll's update is, so health, history and every view come out as from a direct poll.

use std::collections::HashMap;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::LiveComponent;
use crate::model::alerts::AlertRules;
use crate::model::fleet::ThresholdOverrides;
use crate::model::{ComponentId, ComponentMeta, Fleet, Reading};
use crate::store::PgStore;
use crate::store::live::{CHANNEL, Published};

/// One published component, decoded and ready to apply to a fleet: what a poll's update
/// is to a directly polling console, plus who the component is (a watcher's fleet starts
/// empty) and, the first time it is seen, the past the collector kept.
pub struct Change {
    pub meta: ComponentMeta,
    pub status: crate::model::SourceStatus,
    /// `None` when the publication carries the reading already applied.
    pub reading: Option<Arc<dyn Reading>>,
    /// Figure key → its points before the latest, on the component's first appearance.
    pub past: Option<Vec<(&'static str, Vec<crate::model::history::Point>)>>,
    /// The same for each name of a figure's breakdown (each queue's latency).
    pub past_breakdown: Vec<(&'static str, String, Vec<crate::model::history::Point>)>,
}

impl Change {
    /// Applies the change as the event loop applies a poll: add the component if new,
    /// give it its past, then the status and reading.
    pub fn apply_to(self, fleet: &mut Fleet) {
        let id = self.meta.id.clone();
        let new = fleet.add(self.meta, self.status.clone());
        if new && let Some(past) = self.past {
            for (key, points) in past {
                fleet.backfill_points(&id, key, points);
            }
            for (key, name, points) in self.past_breakdown {
                fleet.backfill_breakdown(&id, key, &name, points);
            }
        }
        fleet.apply(&id, self.status, self.reading);
    }
}

/// What a watcher has seen of the room: the last change and each component's last
/// reading. Turns publications into [`Change`]s for any fleet.
#[derive(Default)]
pub struct Follower {
    last_seq: i64,
    /// The `last_ok` of the reading each component last brought: a publication with the
    /// same one carries the reading already applied (a failed poll keeps it), which must
    /// not count twice in history.
    readings: HashMap<ComponentId, Option<u64>>,
    /// The published ids of the components held: their past is not fetched again.
    known: Vec<String>,
}

impl Follower {
    /// The sequence number of the last change decoded; the next fetch asks for later ones.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Decodes published components, oldest change first, skipping those already seen.
    pub fn changes(&mut self, mut published: Vec<Published>) -> Vec<Change> {
        published.sort_by_key(|p| p.seq);
        let mut out = Vec::new();
        for p in published {
            if p.seq <= self.last_seq {
                continue;
            }
            self.last_seq = p.seq;
            out.push(self.change(p.component));
        }
        out
    }

    fn change(&mut self, live: LiveComponent) -> Change {
        let kind = crate::sources::KINDS
            .iter()
            .copied()
            .find(|k| *k == live.kind)
            .unwrap_or("unknown");
        let name = live.id.split_once('/').map_or(live.id.as_str(), |(_, n)| n);
        let id = ComponentId::new(&live.kind, name);
        let status = live.status.status();
        let new = !self.readings.contains_key(&id);
        if new {
            self.known.push(live.id.clone());
        }
        // The past the collector saw, minus the latest value the reading adds.
        let (past, past_breakdown) = if new {
            let (past, breakdown) = live.figures(kind, usize::from(live.reading.is_some()));
            (Some(past), breakdown)
        } else {
            (None, Vec::new())
        };
        let same = self.readings.get(&id) == Some(&live.status.last_ok_ms);
        let reading: Option<Arc<dyn Reading>> = match &live.reading {
            Some(stored) if !same || new => Some(stored.decode()),
            _ => None,
        };
        if reading.is_some() || new {
            self.readings.insert(id.clone(), live.status.last_ok_ms);
        }
        Change {
            meta: ComponentMeta {
                id,
                kind,
                region: live.region,
                tags: live.tags,
            },
            status,
            reading,
            past,
            past_breakdown,
        }
    }

    /// Fetches and decodes whatever changed since the last fetch.
    pub async fn fetch(&mut self, store: &PgStore) -> Result<Vec<Change>, String> {
        let published = store.live_since(self.last_seq, &self.known).await?;
        Ok(self.changes(published))
    }
}

/// A follower with a fleet of its own, for headless watching and tests.
pub struct Watcher {
    fleet: Fleet,
    follower: Follower,
}

impl Watcher {
    /// An empty room, judged by this console's own thresholds and alert rules.
    pub fn new(thresholds: ThresholdOverrides, rules: AlertRules) -> Watcher {
        Watcher {
            fleet: Fleet::new(Vec::new(), thresholds).with_alert_rules(rules),
            follower: Follower::default(),
        }
    }

    /// The room as `engine`'s config judges it. Builds no source: a watcher's config may
    /// name production backends, and none of them is ever contacted.
    pub fn for_engine(engine: &crate::engine::Engine) -> Watcher {
        Watcher::new(engine.thresholds(), engine.alert_rules())
    }

    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// The sequence number of the last change applied; the next fetch asks for later ones.
    pub fn last_seq(&self) -> i64 {
        self.follower.last_seq()
    }

    /// Applies published components, oldest change first. Returns how many changed.
    pub fn apply(&mut self, published: Vec<Published>) -> usize {
        let changes = self.follower.changes(published);
        let n = changes.len();
        for change in changes {
            change.apply_to(&mut self.fleet);
        }
        n
    }

    /// Fetches and applies whatever changed since the last fetch.
    pub async fn catch_up(&mut self, store: &PgStore) -> Result<usize, String> {
        let changes = self.follower.fetch(store).await?;
        let n = changes.len();
        for change in changes {
            change.apply_to(&mut self.fleet);
        }
        Ok(n)
    }
}

/// Follows the room until `cancel`: listens, catches up, and after each notification
/// fetches what changed and calls `changed` with the fleet. A lost listening session is
/// opened again and followed by a catch-up, so nothing published meanwhile is missed.
pub async fn follow(
    store: &PgStore,
    watcher: &mut Watcher,
    cancel: &CancellationToken,
    mut changed: impl FnMut(&Fleet),
) -> Result<(), String> {
    loop {
        let mut listening = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            l = store.listen(CHANNEL) => l?,
        };
        // Listen first, then fetch: a change published between the two is fetched now and
        // announced again, never lost.
        if watcher.catch_up(store).await? > 0 {
            changed(watcher.fleet());
        }
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                notice = listening.notices.recv() => {
                    if notice.is_none() {
                        tracing::warn!("lost the ops store's notifications; listening again");
                        break;
                    }
                    // Several notifications may have queued up: one fetch answers them all.
                    while listening.notices.try_recv().is_ok() {}
                    match watcher.catch_up(store).await {
                        Ok(0) => {}
                        Ok(_) => changed(watcher.fleet()),
                        Err(e) => tracing::warn!(error = %e, "cannot read the live fleet"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn published(fleet: &Fleet, seq: i64) -> Vec<Published> {
        fleet
            .components()
            .iter()
            .enumerate()
            .map(|(i, c)| Published {
                seq: seq + i as i64,
                position: i32::try_from(i).unwrap_or(i32::MAX),
                component: LiveComponent::of(c),
            })
            .collect()
    }

    #[test]
    fn a_republished_reading_is_not_counted_twice_and_old_changes_are_ignored() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let direct = crate::engine::poll::fleet_from(
            crate::demo::readings_at(Duration::from_secs(60), now),
            now,
            Duration::from_secs(2),
            Default::default(),
        );
        let n = direct.components().len();
        let mut watcher = Watcher::new(Default::default(), Default::default());
        assert_eq!(watcher.apply(published(&direct, 1)), n);
        let lengths = |w: &Watcher| -> Vec<usize> {
            w.fleet()
                .components()
                .iter()
                .filter_map(|c| {
                    c.key_figure()
                        .and_then(|f| c.history(f.key))
                        .map(|r| r.len())
                })
                .collect()
        };
        let before = lengths(&watcher);
        assert!(before.iter().all(|&l| l == 1), "{before:?}");
        // The same readings again (a failed poll republishes the kept one): no new history.
        assert_eq!(watcher.apply(published(&direct, 1 + n as i64)), n);
        assert_eq!(lengths(&watcher), before);
        // Changes older than the last one seen are already applied.
        assert_eq!(watcher.apply(published(&direct, 1)), 0);
        assert_eq!(watcher.last_seq(), 2 * n as i64);
    }
}
