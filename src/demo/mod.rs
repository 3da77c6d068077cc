//! `mastop demo`: a simulated Hachyderm-shaped fleet producing the same reading types the
//! real sources produce, with scripted incidents unfolding over a ten-minute loop.
//!
//! Every value is a pure function of (demo time, component): the same second always shows
//! the same fleet, so snapshots are stable and `--at 5m` lands mid-incident. Nothing here
//! touches the network.
//!
//! - [`clock`]: demo time, the loop, and the fast calendar certificates age by.
//! - [`script`]: the incidents and the human-readable [`timeline`].
//! - `fleet`: who is in the fleet; `edges`, `hosts`, `sidekiq`, `stores`, `search` build
//!   each kind's reading.

pub mod clock;
mod edges;
mod fleet;
mod hosts;
mod inventory;
mod noise;
pub mod script;
mod search;
mod sidekiq;
mod stores;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use crate::model::{ComponentMeta, Reading};
use crate::sources::{PollResult, Schedule, Source, SourceSpec};

pub use clock::CYCLE;
pub use fleet::CORE_REGION;
pub use inventory::inventory;
pub use noise::samples_drawn;

/// One source per demo component. Each poll returns the reading for
/// `offset + started.elapsed()`; `offset` is how `mastop demo --at 5m` starts mid-incident.
pub fn specs(cadence: Duration, started: Instant, offset: Duration) -> Vec<SourceSpec> {
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
            }),
        })
        .collect()
}

/// Every component and its reading at demo time `t`, in fleet order: for tests,
/// snapshots and `mastop demo --snapshot --json`.
pub fn readings_at(t: Duration) -> Vec<(ComponentMeta, Arc<dyn Reading>)> {
    fleet::MEMBERS
        .iter()
        .map(|member| (member.meta(), member.reading(t)))
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

struct DemoSource {
    member: fleet::Member,
    started: Instant,
    offset: Duration,
}

impl Source for DemoSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        let reading = self.member.reading(demo_time(self.started, self.offset));
        Box::pin(std::future::ready(Ok(reading)))
    }
}
