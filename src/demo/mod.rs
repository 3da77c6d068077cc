//! `mastop demo`: a simulated Hachyderm-shaped fleet producing the same reading types the
//! real sources produce, with scripted incidents unfolding over a ten-minute loop.
//!
//! Every value is a pure function of (demo time, component): the same second always shows
//! the same fleet, so snapshots are stable and `--at 5m` lands mid-incident. Nothing here
//! touches the network.
//!
//! - [`clock`]: demo time, the loop, and the fast calendar certificates age by.
//! - [`script`]: the incidents and the human-readable [`timeline`].
//! - [`drill`]: `mastop demo --drill`, one incident the newcomer resolves with a runbook;
//!   the fleet reacts to what the demo executor did.
//! - `fleet`: who is in the fleet; `edges`, `hosts`, `sidekiq`, `stores`, `search` build
//!   each kind's reading; `alerts` is the simulated Alertmanager, whose silences live in
//!   the demo executor's ledger and nowhere else.

mod alerts;
pub mod clock;
pub mod drill;
mod edges;
mod fleet;
mod hosts;
mod inventory;
pub mod logs;
mod noise;
mod post_mortems;
pub mod script;
mod search;
mod sidekiq;
mod stores;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;

use crate::actions::executor::DemoLedger;
use crate::model::{ComponentMeta, Reading};
use crate::sources::{PollResult, Schedule, Source, SourceSpec};

pub use clock::CYCLE;
pub use fleet::CORE_REGION;
pub use inventory::inventory;
pub use noise::samples_drawn;

/// One source per demo component. Each poll returns the reading for
/// `offset + started.elapsed()`; `offset` is how `mastop demo --at 5m` starts mid-incident.
/// Dates follow the clock: the demo time of this call is now.
pub fn specs(cadence: Duration, started: Instant, offset: Duration) -> Vec<SourceSpec> {
    specs_with(cadence, started, offset, Arc::default())
}

/// [`specs`], with the ledger the demo executor records into: silences made in the
/// sandbox show in the simulated Alertmanager's next poll.
pub fn specs_with(
    cadence: Duration,
    started: Instant,
    offset: Duration,
    ledger: Arc<Mutex<DemoLedger>>,
) -> Vec<SourceSpec> {
    let anchor = clock::Anchor::new(demo_time(started, offset), SystemTime::now());
    fleet::MEMBERS
        .iter()
        .map(|member| SourceSpec {
            meta: member.meta(),
            // A demo poll is answered from memory, so the cadence is all the deadline it needs.
            schedule: Schedule {
                cadence,
                deadline: cadence,
            },
            enabled: true,
            source: Box::new(DemoSource {
                member: *member,
                started,
                offset,
                anchor,
                ledger: Arc::clone(&ledger),
            }),
        })
        .collect()
}

/// How the demo's alerts are tied to its components: the built-in severities and the
/// demo hosts' addresses, as a console running the demo uses them.
pub fn alert_rules() -> crate::model::alerts::AlertRules {
    crate::model::alerts::AlertRules {
        addresses: alert_addresses(),
        ..Default::default()
    }
}

/// Each demo host's name and address, with the components that live there, for tying
/// alerts: what [`crate::model::alerts::AlertRules::addresses`] holds for a real fleet.
pub fn alert_addresses() -> HashMap<String, Vec<crate::model::ComponentId>> {
    use crate::model::ComponentId;
    let mut addresses: HashMap<String, Vec<ComponentId>> = HashMap::new();
    for member in fleet::MEMBERS {
        if let fleet::Model::Host(machine) = member.model {
            let mut ids = vec![ComponentId::new(member.kind, member.name)];
            for (host, services) in fleet::PLACES {
                if *host == machine.name {
                    ids.extend(services.iter().map(|(k, n)| ComponentId::new(k, n)));
                }
            }
            addresses.insert(machine.name.to_string(), ids.clone());
            addresses.insert(format!("{}.hachyderm.internal", machine.name), ids);
        }
    }
    addresses
}

/// Every component and its reading at demo time `t`, happening at wall-clock `now` (its
/// dates follow `now`), in fleet order: for tests, snapshots and
/// `mastop demo --snapshot --json`.
pub fn readings_at(t: Duration, now: SystemTime) -> Vec<(ComponentMeta, Arc<dyn Reading>)> {
    let anchor = clock::Anchor::new(t, now);
    fleet::MEMBERS
        .iter()
        .map(|member| (member.meta(), member.reading(t, anchor)))
        .collect()
}

/// The component list without readings, in fleet order.
pub fn components() -> Vec<ComponentMeta> {
    fleet::MEMBERS.iter().map(fleet::Member::meta).collect()
}

/// What happens in one cycle of the script and when (offsets into the cycle), for the UI
/// to show beside the fleet. Times where the replica changes colour follow the Postgres
/// source's built-in replication-lag thresholds.
pub fn timeline() -> Vec<(Duration, &'static str)> {
    let (warn, crit) = stores::replica_lag_thresholds();
    script::timeline_with(warn, crit)
}

/// Position of demo time `t` in the script, for a "you are here" marker on the timeline.
pub fn script_position(t: Duration) -> Duration {
    Duration::from_secs_f64(clock::script_secs(t))
}

/// Demo time for a run started at `started` with `offset`: what a poll right now shows.
pub fn demo_time(started: Instant, offset: Duration) -> Duration {
    offset.saturating_add(started.elapsed())
}

/// The drill's sources: the fleet held calm with the drill's incident on it, plus the step
/// card. Each poll reads what the demo executor has done so far (`ledger`), so the fleet
/// reacts to the newcomer's actions. `started_wall` is the same moment as `started`.
pub fn drill_specs(
    cadence: Duration,
    started: Instant,
    started_wall: SystemTime,
    ledger: Arc<Mutex<DemoLedger>>,
) -> Vec<SourceSpec> {
    let schedule = Schedule {
        cadence,
        deadline: cadence,
    };
    let member_specs = fleet::MEMBERS.iter().map(|member| SourceSpec {
        meta: member.meta(),
        schedule,
        enabled: true,
        source: Box::new(DrillSource {
            member: Some(*member),
            started,
            started_wall,
            ledger: Arc::clone(&ledger),
        }) as Box<dyn Source>,
    });
    let card = SourceSpec {
        meta: drill::card_meta(),
        schedule,
        enabled: true,
        source: Box::new(DrillSource {
            member: None,
            started,
            started_wall,
            ledger: Arc::clone(&ledger),
        }),
    };
    member_specs.chain(std::iter::once(card)).collect()
}

/// What the demo executor did, as (seconds since `started_wall`, operation).
pub fn drill_done(ledger: &DemoLedger, started_wall: SystemTime) -> Vec<(f64, String)> {
    ledger
        .done
        .iter()
        .map(|(at, what)| {
            let since = at
                .duration_since(started_wall)
                .map_or(0.0, |d| d.as_secs_f64());
            (since, what.clone())
        })
        .collect()
}

struct DrillSource {
    /// `None` for the step card.
    member: Option<fleet::Member>,
    started: Instant,
    started_wall: SystemTime,
    ledger: Arc<Mutex<DemoLedger>>,
}

impl Source for DrillSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        let since = self.started.elapsed();
        let (done, sandbox) = self
            .ledger
            .lock()
            .map(|l| (drill_done(&l, self.started_wall), l.silences.clone()))
            .unwrap_or_default();
        let now = drill::moment(since.as_secs_f64(), &done);
        let reading: Arc<dyn Reading> = match &self.member {
            Some(member) => drill::member_reading(
                member,
                since,
                &now,
                clock::Anchor::new(Duration::ZERO, self.started_wall),
                &sandbox,
            ),
            None => Arc::new(drill::DrillReading::new(since.as_secs_f64(), now)),
        };
        Box::pin(std::future::ready(Ok(reading)))
    }
}

struct DemoSource {
    member: fleet::Member,
    started: Instant,
    offset: Duration,
    anchor: clock::Anchor,
    ledger: Arc<Mutex<DemoLedger>>,
}

impl Source for DemoSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        let t = demo_time(self.started, self.offset);
        let sandbox = match self.member.model {
            fleet::Model::Alertmanager => self
                .ledger
                .lock()
                .map(|l| l.silences.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let reading = self
            .member
            .reading_with(t, clock::script_secs(t), self.anchor, &sandbox);
        Box::pin(std::future::ready(Ok(reading)))
    }
}
