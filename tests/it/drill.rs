//! The demo's training drill: the simulated fleet resolves the incident after the right
//! runbook operation and only then, and a newcomer walks it end to end in the real binary.

use crate::pty;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mastop::actions::executor::DemoLedger;
use mastop::demo::drill::{self, Phase};
use mastop::model::{Fleet, Level, Reading, SourceState, SourceStatus};
use mastop::sources::host::HostReading;
use mastop::sources::sidekiq::SidekiqReading;

const RESTART: &str = "ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq-default.service";

/// The wall-clock moment these readings happen at: fixed, so they repeat exactly.
fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000)
}

fn done(entries: &[(f64, &str)]) -> Vec<(f64, String)> {
    entries.iter().map(|(t, s)| (*t, s.to_string())).collect()
}

fn reading_of<T: 'static + Clone>(
    readings: &[(mastop::model::ComponentMeta, Arc<dyn Reading>)],
    id: &str,
) -> T {
    readings
        .iter()
        .find(|(m, _)| m.id.as_str() == id)
        .and_then(|(_, r)| r.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| panic!("{id} has no reading of that type"))
        .clone()
}

/// (default queue latency, the default process's pid and staleness, the unit's states) as
/// the console would read them `since` seconds into the drill.
fn observe(since: f64, entries: &[(f64, String)]) -> (f64, Option<(u32, bool)>, (String, String)) {
    let t = Duration::from_secs_f64(since);
    let readings = drill::readings_at(t, since, entries, wall());
    let sidekiq: SidekiqReading = reading_of(&readings, "sidekiq/main");
    let host: HostReading = reading_of(&readings, "host/sidekiq-1");
    let latency = sidekiq
        .queues
        .iter()
        .find(|q| q.name == "default")
        .map(|q| q.latency_s)
        .expect("default queue");
    let process = sidekiq
        .process_list
        .iter()
        .find(|p| p.hostname == "sidekiq-1" && p.queues == ["default"])
        .map(|p| (p.pid, p.stale));
    let unit = host
        .units
        .iter()
        .find(|u| u.name == drill::UNIT)
        .map(|u| (u.active_state.clone(), u.sub_state.clone()))
        .expect("the unit is listed");
    (latency, process, unit)
}

#[test]
fn untouched_the_queue_climbs_and_the_process_stays_silent() {
    let (early, process, unit) = observe(5.0, &[]);
    let (late, later_process, _) = observe(300.0, &[]);
    assert!(late > early + 290.0, "{early} → {late}");
    assert_eq!(process, Some((1187, true)));
    assert_eq!(later_process, Some((1187, true)));
    // systemd does not notice a wedged process: the lesson is to look past "active".
    assert_eq!(unit, ("active".into(), "running".into()));
    assert_eq!(drill::moment(300.0, &[]).phase, Phase::Stuck);
}

#[test]
fn restarting_the_wedged_unit_resolves_the_incident_over_the_next_polls() {
    let entries = done(&[
        (
            20.0,
            "ssh sidekiq-1 -- systemctl status --no-pager --lines=20 mastodon-sidekiq-default.service",
        ),
        (20.5, RESTART),
    ]);
    let (before, _, _) = observe(20.0, &entries);
    let (_, gone, stopping) = observe(22.0, &entries);
    assert_eq!(
        gone, None,
        "the old process is gone while the unit restarts"
    );
    assert_eq!(stopping, ("deactivating".into(), "stop-sigterm".into()));
    let (_, _, starting) = observe(27.0, &entries);
    assert_eq!(starting, ("activating".into(), "start".into()));

    // Poll by poll after the new process beats: latency only falls, the unit is active.
    let mut last = f64::INFINITY;
    let mut resolved_at = None;
    for poll in 0..60 {
        let since = 31.0 + f64::from(poll);
        let (latency, process, unit) = observe(since, &entries);
        assert_eq!(unit, ("active".into(), "running".into()), "at {since}");
        assert_eq!(process.map(|p| p.1), Some(false), "a fresh beat at {since}");
        assert_ne!(process.map(|p| p.0), Some(1187), "a new pid at {since}");
        // Once resolved the queue is back to its everyday noise.
        if drill::moment(since, &entries).phase == Phase::Resolved {
            resolved_at.get_or_insert(since);
        } else {
            assert!(
                latency <= last,
                "latency rose at {since}: {last} → {latency}"
            );
        }
        last = latency;
    }
    let resolved_at = resolved_at.expect("the drill resolves");
    assert!(before > 50.0, "{before}");
    assert!(last < 2.0, "back to everyday latency: {last}");
    assert!(
        drill::moment(resolved_at - 1.0, &entries).phase == Phase::Draining,
        "draining comes before resolved"
    );
}

#[test]
fn wrong_actions_leave_the_incident_in_place() {
    let wrong = done(&[
        (
            10.0,
            "ssh sidekiq-2 -- sudo systemctl restart mastodon-sidekiq-default.service",
        ),
        (
            11.0,
            "ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq-ingress.service",
        ),
        (
            12.0,
            "ssh sidekiq-1 -- systemctl reload mastodon-sidekiq-default.service",
        ),
        (
            13.0,
            "ssh sidekiq-1 -- systemctl status --no-pager --lines=20 mastodon-sidekiq-default.service",
        ),
        (
            14.0,
            "ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq.service",
        ),
        (15.0, "retry every LinkCrawlWorker job in the retry set"),
    ]);
    let (latency, process, unit) = observe(200.0, &wrong);
    assert_eq!(drill::moment(200.0, &wrong).phase, Phase::Stuck);
    assert!(latency > 200.0, "{latency}");
    assert_eq!(process, Some((1187, true)));
    assert_eq!(unit, ("active".into(), "running".into()));
}

#[test]
fn the_past_does_not_see_an_action_that_comes_later() {
    let entries = done(&[(100.0, RESTART)]);
    assert_eq!(drill::moment(99.0, &entries), drill::moment(99.0, &[]));
    assert_eq!(drill::moment(100.0, &entries).phase, Phase::Restarting);
    // And the same inputs give the same fleet.
    assert_eq!(
        format!(
            "{:?}",
            drill::readings_at(Duration::from_secs(130), 130.0, &entries, wall())
        ),
        format!(
            "{:?}",
            drill::readings_at(Duration::from_secs(130), 130.0, &entries, wall())
        ),
    );
}

#[test]
fn the_ledger_is_read_relative_to_the_drill_start() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
    let ledger = DemoLedger {
        done: vec![
            (start + Duration::from_millis(42_500), RESTART.to_string()),
            (start - Duration::from_secs(5), "earlier".to_string()),
        ],
        ..DemoLedger::default()
    };
    let entries = mastop::demo::drill_done(&ledger, start);
    assert_eq!(entries[0], (42.5, RESTART.to_string()));
    assert_eq!(drill::restarted_at(60.0, &entries), Some(42.5));
    assert_eq!(drill::restarted_at(42.0, &entries), None);
}

fn health(readings: Vec<(mastop::model::ComponentMeta, Arc<dyn Reading>)>) -> Fleet {
    let metas = readings
        .iter()
        .map(|(m, _)| (m.clone(), SourceStatus::pending(Duration::from_secs(2))))
        .collect();
    let mut fleet = Fleet::new(metas, Default::default());
    let now = SystemTime::now();
    for (meta, reading) in readings {
        let status = SourceStatus {
            state: SourceState::Ok,
            last_ok: Some(now),
            last_attempt: Some(now),
            ..SourceStatus::pending(Duration::from_secs(2))
        };
        fleet.apply(&meta.id, status, Some(reading));
    }
    fleet
}

#[test]
fn the_drill_is_the_only_thing_on_fire_and_the_card_follows_it() {
    let fleet = health(drill::readings_at(
        Duration::from_secs(30),
        30.0,
        &[],
        wall(),
    ));
    let unhealthy: Vec<String> = fleet
        .components()
        .iter()
        .filter(|c| c.health.level != Level::Ok)
        .map(|c| {
            format!(
                "{} {:?} {:?}",
                c.meta.id.as_str(),
                c.health.level,
                c.health.reasons
            )
        })
        .collect();
    assert!(
        unhealthy
            .iter()
            .all(|c| c.starts_with("sidekiq/main") || c.starts_with("drill/")),
        "{unhealthy:#?}"
    );
    assert!(
        unhealthy.iter().any(|c| c.starts_with("sidekiq/main")),
        "{unhealthy:#?}"
    );
    let card = drill::card_of(&fleet).expect("a card");
    assert_eq!(card.step, 1);
    assert!(
        card.lines.iter().any(|l| l.contains(drill::RUNBOOK)),
        "{card:?}"
    );

    let entries = done(&[(30.0, RESTART)]);
    let fleet = health(drill::readings_at(
        Duration::from_secs(200),
        200.0,
        &entries,
        wall(),
    ));
    let unhealthy: Vec<String> = fleet
        .components()
        .iter()
        .filter(|c| c.health.level != Level::Ok)
        .map(|c| format!("{} {:?}", c.meta.id.as_str(), c.health.reasons))
        .collect();
    assert!(unhealthy.is_empty(), "{unhealthy:#?}");
    let card = drill::card_of(&fleet).expect("a card");
    assert_eq!(card.step, 3);
    assert!(
        card.lines.iter().any(|l| l.contains(":handoff write")),
        "{card:?}"
    );
}

#[test]
fn a_newcomer_resolves_the_drill_with_the_runbook_and_hands_over() {
    let mut c = pty::Console::start(&["demo", "--drill"], 140, 50);
    // The card's lines may reach the terminal in a later write than its title.
    c.wait_for("the drill's first card", |s| {
        s.contains("Training drill · step 1/3") && s.contains("restart-sidekiq-unit")
    });
    c.send(b":runbooks\r");
    c.wait_for_text("Runbooks (10)");
    // restart-sidekiq-unit is eighth in name order.
    c.send(b"jjjjjjj");
    c.wait_for_text("▶ restart-sidekiq-unit");
    c.send(b"\r");
    c.wait_for_text("Rollback:");
    c.send(b"\r");
    c.wait_for_text("The Sidekiq host");
    c.send(b"\t");
    c.wait_for_text("sidekiq-1█");
    // The unit field holds the generic default; the incident is on the default queue's unit.
    c.send(b"\x1b[B\x15mastodon-sidekiq-default.service");
    c.wait_for_text("mastodon-sidekiq-default.service█");
    c.send(b"\r");
    let preview = c.wait_for_text("Will run exactly:");
    assert!(
        preview.contains(
            "(simulated) ssh sidekiq-1 -- sudo systemctl restart mastodon-sidekiq-default.service"
        ),
        "{preview}"
    );
    c.send(b"restart-sidekiq-unit");
    c.wait_for_text("to run: restart-sidekiq-unit");
    c.send(b"\r");
    c.wait_for_text("restart-sidekiq-unit: completed");
    c.send(b"\x1b");
    c.wait_for_text("Runbooks (10)");
    c.send(b"\x1b");
    let resolved = c.wait_for_text("Training drill · step 3/3");
    assert!(resolved.contains(":handoff write"), "{resolved}");

    c.send(b":handoff\r");
    let report = c.wait_for_text("from runbook restart-sidekiq-unit, step 2");
    assert!(report.contains("Actions during the shift"), "{report}");
    c.send(b":handoff write alex America/New_York\r");
    c.wait_for_text("waiting for alex to acknowledge");
    c.send(b"q");
    assert!(c.wait_exit());
    let audit = c.demo_audit().expect("the run was audited");
    assert!(
        audit.lines().any(
            |l| l.contains("systemctl restart mastodon-sidekiq-default.service")
                && l.contains(r#""phase":"outcome""#)
        ),
        "{audit}"
    );
}
