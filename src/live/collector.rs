//! The collector's loop. Two collectors may run; one leads. The leader polls the engine's
//! sources with the console's scheduler, folds them into the same fleet, and publishes
//! every component that changed through its seat (the store session holding the lead). A
//! publication that fails (the store restarting) is kept and sent again with the next
//! one, so watchers catch up once the store is back.
//!
//! A standby does not poll production: the room exists so that production carries one
//! console's load however many watch, and a second poller would double it for the rare
//! moment it is needed. What a standby gives up is a warm fleet: after a takeover its
//! first readings arrive within one cadence, and until then watchers keep the old
//! leader's last publication (a component already in the room is republished only once
//! polled, never as "pending"). So a takeover costs one cadence on top of the leader
//! timeout, which is the target. The standby asks the store once per cadence —
//! one try for the lock, one beat row update — which costs the store, not production.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::LiveComponent;
use super::leadership::{Loudness, Standing, change};
use crate::config::Config;
use crate::engine::Engine;
use crate::model::{ComponentId, Fleet};
use crate::sources::scheduler;
use crate::store::PgStore;
use crate::store::leadership::{Attempt, CollectorId, EndFailure, Refusal, Seat};

/// What one run of the collector did, for its log and for tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    /// Components stored (each announced with one notification).
    pub published: usize,
    /// Rounds whose publication failed and was carried over.
    pub failed_rounds: usize,
    /// Times this collector took the lead.
    pub took_lead: usize,
    /// Times it lost the lead (another collector leads, or the store stayed away).
    pub lost_lead: usize,
}

/// How often a collector speaks and how long a leader may stay silent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How often a leader beats and a standby tries for the lead: the polling cadence, or
    /// more often when the leader timeout would otherwise hold fewer than
    /// [`BEATS_PER_TIMEOUT`] beats (a fleet polled every 10 minutes still has its leader
    /// judged within the timeout).
    pub cadence: Duration,
    pub leader_timeout: Duration,
}

/// Beats a leader gives within its timeout at the least: one or two late beats (a slow
/// store call) never hand the lead over.
pub const BEATS_PER_TIMEOUT: u32 = 4;

impl Timing {
    pub fn of(config: &Config) -> Timing {
        let leader_timeout = config.live.leader_timeout;
        Timing {
            cadence: config
                .defaults
                .cadence
                .min(leader_timeout / BEATS_PER_TIMEOUT)
                .max(Duration::from_millis(200)),
            leader_timeout,
        }
    }
}

/// A collector's standing in the store, kept across config reloads so a reload does not
/// hand the lead to the standby.
pub struct Collector<'a> {
    store: &'a PgStore,
    me: CollectorId,
    seat: Option<Seat<'a>>,
    leading: bool,
    standing: Option<Standing>,
    /// The standby the leader last logged (`Some(None)`: none).
    standby: Option<Option<CollectorId>>,
    started: SystemTime,
}

/// Polls the engine's fleet and publishes it while leading, or stands by, until `cancel`.
pub async fn collect(
    engine: &Engine,
    store: &PgStore,
    host: &str,
    cancel: &CancellationToken,
) -> Tally {
    Collector::new(store, host).run(engine, cancel).await
}

enum Published {
    Done,
    /// Another session holds the lead.
    NotLeading,
    /// The seat's session is gone; the lead with it.
    Unseated,
}

impl<'a> Collector<'a> {
    pub fn new(store: &'a PgStore, host: &str) -> Collector<'a> {
        Collector {
            store,
            me: CollectorId::this_process(host),
            seat: None,
            leading: false,
            standing: None,
            standby: None,
            started: SystemTime::now(),
        }
    }

    /// Gives up the lead, if held, for a collector that is stopping.
    pub async fn resign(&mut self) {
        let Some(seat) = self.seat.take() else { return };
        if !self.leading {
            return;
        }
        self.leading = false;
        match seat.resign().await {
            Ok(()) => tracing::info!(collector = %self.me, "stopping: gave up the lead"),
            Err(e) => {
                tracing::warn!(collector = %self.me, error = %e, "stopping; the store will free the lead when this session closes")
            }
        }
    }

    /// Stands by until it leads, leads until it loses the lead, and so on until `cancel`.
    /// A run cancelled while leading keeps the lead for the next run (a reload).
    pub async fn run(&mut self, engine: &Engine, cancel: &CancellationToken) -> Tally {
        let timing = Timing::of(engine.config());
        let mut tally = Tally::default();
        while self.stand_by(&timing, cancel, &mut tally).await {
            self.lead(engine, &timing, cancel, &mut tally).await;
        }
        tally
    }

    fn say(&mut self, to: Standing, timing: &Timing, detail: Option<&str>) {
        let idle_cut = timing.leader_timeout.saturating_mul(2);
        if let Some((loudness, line)) = change(self.standing.as_ref(), &to, idle_cut) {
            let who = self.me.to_string();
            match (loudness, detail) {
                (Loudness::Info, _) => tracing::info!(collector = %who, "{line}"),
                (Loudness::Warn, Some(error)) => {
                    tracing::warn!(collector = %who, error, "{line}")
                }
                (Loudness::Warn, None) => tracing::warn!(collector = %who, "{line}"),
            }
        }
        self.standing = Some(to);
    }

    /// Waits for the lead: `false` when cancelled first.
    async fn stand_by(
        &mut self,
        timing: &Timing,
        cancel: &CancellationToken,
        tally: &mut Tally,
    ) -> bool {
        if self.leading && self.seat.as_ref().is_some_and(Seat::is_open) {
            return !cancel.is_cancelled();
        }
        self.leading = false;
        let mut tick = tokio::time::interval(timing.cadence);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return false,
                _ = tick.tick() => {}
            }
            if self.try_lead(timing).await {
                tally.took_lead += 1;
                return true;
            }
        }
    }

    /// An open seat, opening one if there is none.
    async fn seat(&mut self, timing: &Timing) -> Result<&mut Seat<'a>, String> {
        if !self.seat.as_ref().is_some_and(Seat::is_open) {
            self.seat = None;
            let seat = self
                .store
                .seat(self.me.clone(), timing.leader_timeout)
                .await?;
            self.seat = Some(seat);
        }
        self.seat
            .as_mut()
            .ok_or_else(|| "the collector's seat could not be kept".to_string())
    }

    /// One standby round: try for the lead and, when the leader's beat is older than the
    /// leader timeout, end its session and try again. `true` once this collector leads.
    async fn try_lead(&mut self, timing: &Timing) -> bool {
        let attempt = match self.seat(timing).await {
            Ok(seat) => seat.try_lead().await,
            Err(e) => Err(e),
        };
        let beat = match attempt {
            Ok(Attempt::Leads) => return self.took_lead(timing),
            Ok(Attempt::StandsBy(beat)) => beat,
            Err(e) => {
                self.say(Standing::Unreachable, timing, Some(&e));
                return false;
            }
        };
        let leader = beat.as_ref().map(|b| b.who.clone());
        if let Some(beat) = beat
            && beat.holds_lock
            && beat.age > timing.leader_timeout
        {
            let ended = match self.seat(timing).await {
                Ok(seat) => seat.end_hung_leader().await,
                Err(e) => Err(EndFailure::Store(e)),
            };
            match ended {
                Ok(Some(ended)) => {
                    tracing::warn!(
                        collector = %self.me,
                        "taking over: {ended} has not beaten for {} (leader timeout {}); ended its store session",
                        humantime::format_duration(tenths(beat.age)),
                        humantime::format_duration(timing.leader_timeout)
                    );
                    if let Ok(seat) = self.seat(timing).await
                        && seat.try_lead().await == Ok(Attempt::Leads)
                    {
                        return self.took_lead(timing);
                    }
                }
                Ok(None) => {}
                Err(EndFailure::NotPermitted(e)) => {
                    self.say(Standing::CannotEnd(beat.who), timing, Some(&e));
                    return false;
                }
                Err(EndFailure::Store(e)) => {
                    tracing::warn!(collector = %self.me, error = %e, "cannot end the silent leader's session");
                }
            }
        }
        self.say(Standing::StandingBy(leader), timing, None);
        false
    }

    fn took_lead(&mut self, timing: &Timing) -> bool {
        self.leading = true;
        self.standby = None;
        self.say(Standing::Leading, timing, None);
        true
    }

    /// Polls and publishes until `cancel` (still leading) or the lead is lost.
    async fn lead(
        &mut self,
        engine: &Engine,
        timing: &Timing,
        cancel: &CancellationToken,
        tally: &mut Tally,
    ) {
        let led_since = SystemTime::now();
        let (specs, _hosts) = engine.sources_sharing();
        let mut fleet = engine.fleet_for(&specs);
        let mut dirty = self.inherit(&mut fleet).await;
        let polls = cancel.child_token();
        let (mut feed, _) = scheduler::spawn_all(specs, &polls);
        // The first tick is at once: the beat row names this leader before anything else.
        let mut beat = tokio::time::interval(timing.cadence);
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut unseated_since: Option<Instant> = None;
        loop {
            if unseated_since.is_none() {
                let published = self.publish(&fleet, &mut dirty, tally).await;
                if !self.heed(published, &mut unseated_since, timing, tally) {
                    break;
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = feed.changed() => {
                    for (id, update) in feed.drain() {
                        fleet.apply(&id, update.status, update.reading);
                        dirty.insert(id);
                    }
                }
                _ = beat.tick() => {
                    if let Some(since) = unseated_since {
                        match self.lead_again(timing).await {
                            Ok(Ok(())) => unseated_since = None,
                            Ok(Err(leader)) => {
                                self.lose(Standing::StandingBy(leader), timing, tally, None);
                                break;
                            }
                            // Past the leader timeout a standby may lead; this one stops
                            // polling rather than poll for nobody.
                            Err(e) if since.elapsed() > timing.leader_timeout => {
                                self.lose(Standing::Unreachable, timing, tally, Some(&e));
                                break;
                            }
                            Err(_) => {}
                        }
                        continue;
                    }
                    let beaten = self.beat(timing, led_since).await;
                    if !self.heed(beaten, &mut unseated_since, timing, tally) {
                        break;
                    }
                }
            }
        }
        polls.cancel();
    }

    /// Acts on what a publication or beat found: `false` once the lead is lost. A lost
    /// session is noted in `unseated_since`, and the lead asked for again at the next beat.
    fn heed(
        &mut self,
        outcome: Published,
        unseated_since: &mut Option<Instant>,
        timing: &Timing,
        tally: &mut Tally,
    ) -> bool {
        match outcome {
            Published::Done => true,
            Published::NotLeading => {
                self.lose(Standing::StandingBy(None), timing, tally, None);
                false
            }
            Published::Unseated => {
                *unseated_since = Some(Instant::now());
                self.say(Standing::Unseated, timing, None);
                true
            }
        }
    }

    fn lose(&mut self, to: Standing, timing: &Timing, tally: &mut Tally, detail: Option<&str>) {
        self.leading = false;
        self.seat = None;
        tally.lost_lead += 1;
        self.say(to, timing, detail);
    }

    /// Asks for the lead on a new session after the old one was lost: `Ok(Err(leader))`
    /// when another collector took it meanwhile.
    async fn lead_again(
        &mut self,
        timing: &Timing,
    ) -> Result<Result<(), Option<CollectorId>>, String> {
        match self.seat(timing).await?.try_lead().await? {
            Attempt::Leads => {
                self.say(Standing::Leading, timing, None);
                Ok(Ok(()))
            }
            Attempt::StandsBy(beat) => Ok(Err(beat.map(|b| b.who))),
        }
    }

    /// Takes the past the room holds into `fleet`, so that a takeover does not cut every
    /// trend short for the watchers who join after it, and returns the components the room
    /// does not have yet: shown at once (as pending) to a watcher joining. Those it has
    /// keep their last publication until this collector polls them.
    async fn inherit(&mut self, fleet: &mut Fleet) -> BTreeSet<ComponentId> {
        let held = match self.store.live_since(0, &[]).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(collector = %self.me, error = %e, "cannot read the room's past; trends start afresh");
                Vec::new()
            }
        };
        let mut present = BTreeSet::new();
        for published in held {
            let live = published.component;
            let Some(kind) = fleet
                .components()
                .iter()
                .find(|c| c.meta.id.as_str() == live.id)
                .map(|c| c.meta.kind)
            else {
                continue;
            };
            let id = ComponentId::new(kind, live.id.split_once('/').map_or("", |(_, n)| n));
            let (history, breakdown) = live.figures(kind, 0);
            for (key, points) in history {
                fleet.backfill_points(&id, key, points);
            }
            for (key, name, points) in breakdown {
                fleet.backfill_breakdown(&id, key, &name, points);
            }
            present.insert(id);
        }
        fleet
            .components()
            .iter()
            .map(|c| &c.meta.id)
            .filter(|id| !present.contains(*id))
            .cloned()
            .collect()
    }

    async fn beat(&mut self, timing: &Timing, led_since: SystemTime) -> Published {
        let started = self.started;
        // Only the session that took the lead may beat: a new one would not hold it.
        let Some(seat) = self.seat.as_mut().filter(|s| s.is_open()) else {
            return Published::Unseated;
        };
        let result = seat.beat(started, led_since, timing.cadence).await;
        match result {
            Ok(standby) => {
                if self.standby.as_ref() != Some(&standby) {
                    match &standby {
                        Some(s) => tracing::info!(collector = %self.me, "standby ready: {s}"),
                        None => tracing::info!(
                            collector = %self.me,
                            "no standby: nothing takes over if this collector stops"
                        ),
                    }
                    self.standby = Some(standby);
                }
                Published::Done
            }
            Err(Refusal::NotLeading) => Published::NotLeading,
            Err(Refusal::Store(e)) => {
                if self.seat.as_ref().is_some_and(Seat::is_open) {
                    tracing::warn!(collector = %self.me, error = %e, "cannot record the collector's beat");
                    Published::Done
                } else {
                    Published::Unseated
                }
            }
        }
    }

    async fn publish(
        &mut self,
        fleet: &Fleet,
        dirty: &mut BTreeSet<ComponentId>,
        tally: &mut Tally,
    ) -> Published {
        if dirty.is_empty() {
            return Published::Done;
        }
        let batch: Vec<(i32, LiveComponent)> = fleet
            .components()
            .iter()
            .enumerate()
            .filter(|(_, c)| dirty.contains(&c.meta.id))
            .map(|(i, c)| (i32::try_from(i).unwrap_or(i32::MAX), LiveComponent::of(c)))
            .collect();
        let Some(seat) = self.seat.as_mut().filter(|s| s.is_open()) else {
            tally.failed_rounds += 1;
            return Published::Unseated;
        };
        match seat.publish_live(&batch).await {
            Ok(n) => {
                tally.published += n;
                dirty.clear();
                Published::Done
            }
            Err(Refusal::NotLeading) => Published::NotLeading,
            Err(Refusal::Store(e)) => {
                tally.failed_rounds += 1;
                tracing::warn!(collector = %self.me, error = %e, pending = dirty.len(), "cannot publish; will send again");
                if seat.is_open() {
                    Published::Done
                } else {
                    Published::Unseated
                }
            }
        }
    }
}

/// Tenths of a second read better in a log line than nanoseconds.
fn tenths(d: Duration) -> Duration {
    Duration::from_millis(u64::try_from(d.as_millis() / 100 * 100).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(toml: &str) -> Timing {
        let (cfg, _) = crate::config::load_str(toml, "t.toml", &[]).expect("valid");
        Timing::of(&cfg)
    }

    #[test]
    fn a_collector_beats_at_its_cadence_or_four_times_within_the_timeout() {
        let t = timing("");
        assert_eq!(t.cadence, Duration::from_secs(2));
        assert_eq!(t.leader_timeout, Duration::from_secs(10));
        let t = timing("[defaults]\ncadence = \"10m\"\n");
        assert_eq!(t.cadence, Duration::from_millis(2500));
        let t = timing("[defaults]\ncadence = \"1s\"\n");
        assert_eq!(t.cadence, Duration::from_secs(1));
        let t = timing("[defaults]\ncadence = \"250ms\"\n[live]\nleader_timeout = \"1s\"\n");
        assert_eq!(t.cadence, Duration::from_millis(250));
    }
}
