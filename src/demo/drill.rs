//! The training drill (`mastop demo --drill`): one scripted incident a newcomer resolves
//! with a shipped runbook, against a fleet that reacts to what was done.
//!
//! The incident: the Sidekiq process behind `mastodon-sidekiq-default.service` on sidekiq-1
//! is wedged. systemd still calls the unit active, but the process stopped beating and the
//! `default` queue's oldest job ages with the clock. Restarting that unit on that host
//! (`restart-sidekiq-unit`, or the unit's own restart action) brings a fresh process that
//! drains the backlog; any other action leaves the incident where it is.
//!
//! Everything here is a pure function of (seconds since the drill began, what the demo
//! executor did and when), so a drill replays the same way every time and tests need no
//! clock. The rest of the fleet is held at a calm second of the incident script, so the
//! drill is the only thing on fire.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::model::{ComponentId, ComponentMeta, Detail, Figure, Finding, Reading, Unit};
use crate::sources::host::HostReading;
use crate::sources::sidekiq::SidekiqReading;

use super::clock::Anchor;
use super::fleet::{MEMBERS, Member, Model};
use super::noise::round;

/// The shipped runbook that resolves the drill.
pub const RUNBOOK: &str = "restart-sidekiq-unit";
/// Where the wedged process runs.
pub const HOST: &str = "sidekiq-1";
pub const UNIT: &str = "mastodon-sidekiq-default.service";
pub const QUEUE: &str = "default";
/// The drill's own component: its reading is the step card.
pub const KIND: &str = "drill";
pub const NAME: &str = "training";

/// The script second the rest of the fleet is held at: every scripted incident is over
/// (pull drained and unscaled, replica caught up, archive cleaned, search green).
pub const CALM_SCRIPT_S: f64 = 595.0;

/// Age of the oldest `default` job when the drill starts; it grows one second per second.
const STUCK_FOR_AT_START: f64 = 40.0;
/// Seconds since the wedged process last beat when the drill starts (Sidekiq calls a
/// process stale after 60 s).
const SILENT_FOR_AT_START: f64 = 75.0;
/// Jobs arriving on `default` per second: the queue holds this many per second of latency.
const ARRIVALS_PER_S: f64 = 90.0;
/// systemd waits this long for the wedged process to stop (its shutdown timeout).
const STOPPING_S: f64 = 4.0;
/// Booting Rails and connecting to Redis, until the new process beats.
const STARTING_S: f64 = 6.0;
/// How fast the oldest job's age falls once a fresh process works the backlog.
const DRAIN_RATE: f64 = 5.0;
/// The queue's everyday latency: the drill is over once it is back here.
const QUIET_LATENCY_S: f64 = 0.4;
/// The replacement process's pid.
const NEW_PID: u32 = 51_877;
const WEDGED_PID: u32 = 1187;

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The process is wedged; nothing that would fix it has been done.
    Stuck,
    /// The unit is being stopped and started again.
    Restarting,
    /// A fresh process is working off the backlog.
    Draining,
    /// The queue is back to normal: time to hand over.
    Resolved,
}

/// The incident at one moment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Moment {
    pub phase: Phase,
    /// Age of the oldest job in `default`, in seconds.
    pub latency_s: f64,
    /// Seconds since the drill began at which the unit was restarted.
    pub restarted_at: Option<f64>,
    /// systemd's (ActiveState, SubState) for the unit.
    pub unit_state: (&'static str, &'static str),
}

/// Whether a demo-executor ledger entry restarts the wedged unit on its host. The entry is
/// the operation as displayed: `ssh sidekiq-1 -- sudo systemctl restart UNIT`.
pub fn restarts_the_stuck_unit(done: &str) -> bool {
    let Some((host, command)) = done
        .strip_prefix("ssh ")
        .and_then(|rest| rest.split_once(" -- "))
    else {
        return false;
    };
    let mut argv: Vec<&str> = command.split_whitespace().collect();
    if argv.first() == Some(&"sudo") {
        argv.remove(0);
    }
    host.trim() == HOST && argv == ["systemctl", "restart", UNIT]
}

/// When (seconds since the drill began) the wedged unit was first restarted, counting only
/// what had been done by `t`.
pub fn restarted_at(t: f64, done: &[(f64, String)]) -> Option<f64> {
    done.iter()
        .filter(|(at, what)| (0.0..=t).contains(at) && restarts_the_stuck_unit(what))
        .map(|(at, _)| *at)
        .min_by(f64::total_cmp)
}

/// The incident `t` seconds into the drill, given the ledger entries (seconds since the
/// drill began, description).
pub fn moment(t: f64, done: &[(f64, String)]) -> Moment {
    let t = t.max(0.0);
    let Some(r) = restarted_at(t, done) else {
        return Moment {
            phase: Phase::Stuck,
            latency_s: STUCK_FOR_AT_START + t,
            restarted_at: None,
            unit_state: ("active", "running"),
        };
    };
    let back = r + STOPPING_S + STARTING_S;
    let peak = STUCK_FOR_AT_START + back;
    let (phase, latency_s, unit_state) = if t < r + STOPPING_S {
        (
            Phase::Restarting,
            STUCK_FOR_AT_START + t,
            ("deactivating", "stop-sigterm"),
        )
    } else if t < back {
        (
            Phase::Restarting,
            STUCK_FOR_AT_START + t,
            ("activating", "start"),
        )
    } else {
        let latency = (peak - DRAIN_RATE * (t - back)).max(QUIET_LATENCY_S);
        let phase = if latency > QUIET_LATENCY_S {
            Phase::Draining
        } else {
            Phase::Resolved
        };
        (phase, latency, ("active", "running"))
    };
    Moment {
        phase,
        latency_s,
        restarted_at: Some(r),
        unit_state,
    }
}

/// The drill's components: the whole demo fleet plus the step card, in fleet order.
pub fn components() -> Vec<ComponentMeta> {
    MEMBERS
        .iter()
        .map(Member::meta)
        .chain(std::iter::once(card_meta()))
        .collect()
}

pub(crate) fn card_meta() -> ComponentMeta {
    ComponentMeta {
        id: ComponentId::new(KIND, NAME),
        kind: KIND,
        region: super::CORE_REGION.to_string(),
        tags: vec!["demo-drill".into()],
    }
}

/// Every component's reading at demo time `t`, `since_start` seconds into the drill,
/// happening at wall-clock `wall` (its dates follow it).
pub fn readings_at(
    t: Duration,
    since_start: f64,
    done: &[(f64, String)],
    wall: SystemTime,
) -> Vec<(ComponentMeta, Arc<dyn Reading>)> {
    let now = moment(since_start, done);
    let anchor = Anchor::new(t, wall);
    MEMBERS
        .iter()
        .map(|m| (m.meta(), member_reading(m, t, &now, anchor, &[])))
        .chain(std::iter::once((
            card_meta(),
            Arc::new(DrillReading::new(since_start, now.clone())) as Arc<dyn Reading>,
        )))
        .collect()
}

/// One member's reading during the drill.
pub(crate) fn member_reading(
    member: &Member,
    t: Duration,
    now: &Moment,
    anchor: Anchor,
    sandbox: &[crate::model::alerts::Silence],
) -> Arc<dyn Reading> {
    match member.model {
        Model::Sidekiq => {
            let mut r = super::sidekiq::reading(t, CALM_SCRIPT_S, anchor);
            overlay_sidekiq(&mut r, now, t.as_secs_f64());
            Arc::new(r)
        }
        Model::Host(m) if m.name == HOST => {
            let mut r = super::hosts::reading(m, t, CALM_SCRIPT_S);
            overlay_host(&mut r, now);
            Arc::new(r)
        }
        _ => member.reading_with(t, CALM_SCRIPT_S, anchor, sandbox),
    }
}

fn overlay_host(r: &mut HostReading, now: &Moment) {
    for unit in r.units.iter_mut().filter(|u| u.name == UNIT) {
        unit.active_state = now.unit_state.0.into();
        unit.sub_state = now.unit_state.1.into();
    }
}

fn overlay_sidekiq(r: &mut SidekiqReading, now: &Moment, wall_t: f64) {
    if now.phase != Phase::Resolved {
        for q in r.queues.iter_mut().filter(|q| q.name == QUEUE) {
            q.latency_s = round(now.latency_s, 3);
            q.size = (now.latency_s * ARRIVALS_PER_S).round() as u64;
        }
    }
    let wedged = format!(":{WEDGED_PID}:");
    match now.phase {
        Phase::Stuck => {
            let silent = SILENT_FOR_AT_START + (now.latency_s - STUCK_FOR_AT_START);
            for p in r.process_list.iter_mut().filter(|p| p.pid == WEDGED_PID) {
                p.busy = p.concurrency;
                p.beat_age_s = round(silent, 1);
                p.stale = true;
            }
            // Every thread sits on a job that will never finish.
            for j in r
                .busy_jobs
                .iter_mut()
                .filter(|j| j.process.contains(&wedged))
            {
                j.running_s = Some(round(silent, 1));
            }
        }
        Phase::Restarting => {
            r.process_list.retain(|p| p.pid != WEDGED_PID);
            r.busy_jobs.retain(|j| !j.process.contains(&wedged));
        }
        Phase::Draining | Phase::Resolved => {
            let since_back = now
                .restarted_at
                .map_or(0.0, |at| wall_t.max(0.0) - at - STOPPING_S - STARTING_S);
            for p in r.process_list.iter_mut().filter(|p| p.pid == WEDGED_PID) {
                p.identity = format!("{HOST}:{NEW_PID}:9b1e04d7c3fa");
                p.pid = NEW_PID;
                if now.phase == Phase::Draining {
                    p.busy = p.concurrency;
                }
                p.beat_age_s = round(since_back.rem_euclid(10.0), 1);
                p.stale = false;
            }
            for j in r
                .busy_jobs
                .iter_mut()
                .filter(|j| j.process.contains(&wedged))
            {
                j.process = format!("{HOST}:{NEW_PID}:9b1e04d7c3fa");
            }
        }
    }
    r.default_queue_latency_s = r.queues.first().map_or(0.0, |q| q.latency_s);
    r.enqueued = r.queues.iter().map(|q| q.size).sum();
    r.busy = r.process_list.iter().map(|p| u64::from(p.busy)).sum();
    r.processes = r.process_list.len() as u64;
}

/// The step card: what the newcomer should look at next. Guidance, not keystrokes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DrillReading {
    pub since_start_s: f64,
    pub moment: Moment,
    pub step: usize,
    pub title: String,
    pub lines: Vec<String>,
}

/// How many steps the card counts.
pub const STEPS: usize = 3;

impl DrillReading {
    pub fn new(since_start_s: f64, moment: Moment) -> Self {
        let (step, title, lines) = card(&moment);
        Self {
            since_start_s: round(since_start_s, 1),
            moment,
            step,
            title,
            lines,
        }
    }
}

fn card(m: &Moment) -> (usize, String, Vec<String>) {
    let age = humantime::format_duration(Duration::from_secs(m.latency_s as u64)).to_string();
    match m.phase {
        Phase::Stuck => (
            1,
            "find what is stuck".into(),
            vec![
                format!(
                    "sidekiq/main: the {QUEUE} queue's oldest job is {age} old and climbing, and one \
                     process has stopped beating."
                ),
                format!(
                    "Look at sidekiq/main (processes, queues) and host/{HOST} (units): which unit \
                     runs that process?"
                ),
                format!(
                    "Resolve it with a shipped runbook (:runbooks → {RUNBOOK}); restarting the \
                     wrong unit will not help."
                ),
            ],
        ),
        Phase::Restarting | Phase::Draining => (
            2,
            "watch it recover".into(),
            vec![
                format!(
                    "{UNIT} on {HOST} was restarted; systemd says {}.",
                    m.unit_state.0
                ),
                format!(
                    "The {QUEUE} queue's oldest job is {age} old: a fresh process should beat \
                     again and drain it."
                ),
                "Stay with it until the queue is back to normal.".into(),
            ],
        ),
        Phase::Resolved => (
            3,
            "hand over".into(),
            vec![
                format!("Resolved: {HOST} beats again and the {QUEUE} queue is back to normal."),
                "Write the handoff for the next shift: :handoff write NAME (their name).".into(),
                format!(
                    "The report lists what you ran, each action marked with runbook {RUNBOOK}'s \
                     step."
                ),
            ],
        ),
    }
}

impl Reading for DrillReading {
    fn figures(&self) -> Vec<Figure> {
        vec![Figure::new(
            "default_queue_latency_s",
            "default latency",
            round(self.moment.latency_s, 1),
            Unit::Seconds,
        )]
    }

    fn findings(&self) -> Vec<Finding> {
        match self.moment.phase {
            Phase::Stuck => vec![Finding::crit(format!(
                "drill: the {QUEUE} queue on {HOST} has stopped moving"
            ))],
            Phase::Restarting | Phase::Draining => vec![Finding::warn(format!(
                "drill: {UNIT} restarted, the {QUEUE} queue is draining"
            ))],
            Phase::Resolved => Vec::new(),
        }
    }

    fn summary(&self) -> String {
        format!("step {}/{STEPS}: {}", self.step, self.title)
    }

    fn detail(&self) -> Detail {
        Detail::default().pairs(
            "Training drill",
            std::iter::once(("step", format!("{}/{STEPS}: {}", self.step, self.title)))
                .chain(self.lines.iter().map(|l| ("", l.clone())))
                .collect(),
        )
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The card to draw in place of the script's timeline, when the fleet has a drill.
pub fn card_of(fleet: &crate::model::Fleet) -> Option<&DrillReading> {
    fleet
        .get(&ComponentId::new(KIND, NAME))
        .and_then(|c| c.reading.as_ref())
        .and_then(|r| r.as_any().downcast_ref::<DrillReading>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_restart_of_the_wedged_unit_on_its_host_counts() {
        assert!(restarts_the_stuck_unit(
            "ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq-default.service"
        ));
        assert!(restarts_the_stuck_unit(
            "ssh sidekiq-1 -- systemctl restart mastodon-sidekiq-default.service"
        ));
        for wrong in [
            "ssh sidekiq-2 -- sudo systemctl restart mastodon-sidekiq-default.service",
            "ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq-ingress.service",
            "ssh sidekiq-1 -- sudo systemctl reload mastodon-sidekiq-default.service",
            "ssh sidekiq-1 -- systemctl status mastodon-sidekiq-default.service",
            "ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq-default.service extra",
            "sidekiq-1 restart mastodon-sidekiq-default.service",
            "",
        ] {
            assert!(!restarts_the_stuck_unit(wrong), "{wrong}");
        }
    }
}
