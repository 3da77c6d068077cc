//! A console in the live room: it announces itself every heartbeat, hears the collector's
//! changes and the audit's new records on the room's channel, and reads the collector's
//! age, handing each to the console as a [`RoomEvent`]. A watching console also takes its
//! fleet from here; every console reads only the ops store, never production.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::watch::{Change, Follower};
use crate::actions::AuditRecord;
use crate::store::PgStore;
use crate::store::live::CHANNEL;
use crate::store::room::{CollectorState, Presence};

/// Notifications of new audit records carry this prefix before the record's number.
pub const AUDIT_PREFIX: &str = "audit/";

/// How many of the latest actions the room keeps on screen.
pub const ACTIONS_SHOWN: usize = 20;

/// What the room task tells the console.
pub enum RoomEvent {
    /// Components the collector published, to apply to the fleet.
    Changes(Vec<Change>),
    /// The collector's last beat (none if no collector ever ran).
    Collector(Option<CollectorState>),
    /// Everyone who beat within the presence window.
    Present(Vec<Presence>),
    /// Audit records new since the last ones sent, oldest first.
    Actions(Vec<AuditRecord>),
    /// The store failed; the task keeps trying.
    Trouble(String),
}

/// How often the room is asked what it knows.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub heartbeat: Duration,
    /// Presence rows older than this are no longer in the room.
    pub presence_window: Duration,
    /// How often the collector's age is read.
    pub collector_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat: Duration::from_secs(10),
            presence_window: Duration::from_secs(30),
            collector_every: Duration::from_secs(2),
        }
    }
}

/// The ops store a console joins through.
pub enum Store {
    Connected(Arc<PgStore>),
    /// Connected by the room task, so a slow or absent store never holds up the console.
    At(crate::config::OpsStoreConfig),
}

/// A console joining the room.
pub struct Joining {
    pub store: Store,
    pub me: Presence,
    /// Take the fleet from the collector (a watching console).
    pub follow_fleet: bool,
    pub timing: Timing,
}

/// Runs the console's side of the room until `cancel` or until `send` says the console is
/// gone. `view` names the view on screen for the next heartbeat.
pub async fn join(
    joining: Joining,
    view: tokio::sync::watch::Receiver<String>,
    cancel: CancellationToken,
    send: impl Fn(RoomEvent) -> bool,
) {
    let Joining {
        store,
        mut me,
        follow_fleet,
        timing,
    } = joining;
    let store = match store {
        Store::Connected(store) => store,
        Store::At(config) => loop {
            match PgStore::connect(&config).await {
                Ok(store) => break Arc::new(store),
                Err(e) => {
                    if !send(RoomEvent::Trouble(e)) {
                        return;
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(timing.heartbeat) => {}
                    }
                }
            }
        },
    };
    let mut follower = Follower::default();
    let mut audit_seen = std::collections::BTreeSet::new();
    let mut heartbeat = tokio::time::interval(timing.heartbeat);
    let mut collector = tokio::time::interval(timing.collector_every);
    for tick in [&mut heartbeat, &mut collector] {
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        let mut listening = tokio::select! {
            _ = cancel.cancelled() => return,
            l = store.listen(CHANNEL) => match l {
                Ok(l) => l,
                Err(e) => {
                    if !send(RoomEvent::Trouble(e)) {
                        return;
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(timing.collector_every) => continue,
                    }
                }
            },
        };
        // Listen first, then read: anything written between the two is read now and
        // announced again, never lost.
        let alive = (!follow_fleet || fleet(&store, &mut follower, &send).await)
            && actions(&store, &mut audit_seen, &send).await;
        if !alive {
            return;
        }
        loop {
            let ok = tokio::select! {
                _ = cancel.cancelled() => return,
                notice = listening.notices.recv() => {
                    let Some(first) = notice else {
                        tracing::warn!("lost the ops store's notifications; listening again");
                        break;
                    };
                    // Queued notifications are answered by one read of each kind.
                    let (mut live, mut audit) = (false, false);
                    let mut note = |payload: &str| {
                        if payload.starts_with(AUDIT_PREFIX) {
                            audit = true;
                        } else {
                            live = true;
                        }
                    };
                    note(first.payload());
                    while let Ok(n) = listening.notices.try_recv() {
                        note(n.payload());
                    }
                    (!(live && follow_fleet) || fleet(&store, &mut follower, &send).await)
                        && (!audit || actions(&store, &mut audit_seen, &send).await)
                }
                _ = heartbeat.tick() => {
                    me.view = view.borrow().clone();
                    beat(&store, &me, timing.presence_window, &send).await
                }
                // Only a console drawing the collector's fleet cares whether it is alive.
                _ = collector.tick(), if follow_fleet => {
                    match store.collector_state().await {
                        Ok(state) => send(RoomEvent::Collector(state)),
                        Err(e) => send(RoomEvent::Trouble(e)),
                    }
                }
            };
            if !ok {
                return;
            }
        }
    }
}

async fn fleet(
    store: &PgStore,
    follower: &mut Follower,
    send: &impl Fn(RoomEvent) -> bool,
) -> bool {
    match follower.fetch(store).await {
        Ok(changes) if changes.is_empty() => true,
        Ok(changes) => send(RoomEvent::Changes(changes)),
        Err(e) => send(RoomEvent::Trouble(e)),
    }
}

/// Reads the latest records and sends those not seen yet. Reading the latest rather than
/// those after the last number seen keeps a record whose transaction committed after a
/// later-numbered one from being skipped.
async fn actions(
    store: &PgStore,
    seen: &mut std::collections::BTreeSet<i64>,
    send: &impl Fn(RoomEvent) -> bool,
) -> bool {
    match store.audit_after(i64::MIN, ACTIONS_SHOWN).await {
        Ok(records) => {
            let new: Vec<AuditRecord> = records
                .into_iter()
                .filter(|(seq, _)| seen.insert(*seq))
                .map(|(_, r)| r)
                .collect();
            // Only numbers that can still come back among the latest need remembering.
            while seen.len() > ACTIONS_SHOWN * 4 {
                seen.pop_first();
            }
            new.is_empty() || send(RoomEvent::Actions(new))
        }
        Err(e) => send(RoomEvent::Trouble(e)),
    }
}

/// Refreshes this console's presence and reads who else is there: one write, one read.
pub async fn beat(
    store: &PgStore,
    me: &Presence,
    window: Duration,
    send: &impl Fn(RoomEvent) -> bool,
) -> bool {
    if let Err(e) = store.heartbeat(me).await {
        return send(RoomEvent::Trouble(e));
    }
    match store.present(window).await {
        Ok(present) => send(RoomEvent::Present(present)),
        Err(e) => send(RoomEvent::Trouble(e)),
    }
}
