//! The demo fleet: deterministic, Hachyderm-shaped, and every scripted incident shows up
//! on the component, at the time, and with the level the timeline promises.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use mastop::demo;
use mastop::model::health::evaluate;
use mastop::model::{ComponentMeta, Health, Level, Reading};
use mastop::sources::edge::EdgeReading;
use mastop::sources::host::HostReading;
use mastop::sources::postgres::PostgresReading;
use mastop::sources::sidekiq::{MASTODON_QUEUES, SidekiqReading};

fn at(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// The wall-clock moment demo second zero stands for in these tests: fixed, so readings
/// repeat exactly.
fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_773_165_600)
}

/// The fleet `secs` into the demo, started at [`start`].
fn fleet_at(secs: f64) -> Vec<(ComponentMeta, Arc<dyn Reading>)> {
    demo::readings_at(at(secs), start() + at(secs))
}

fn reading(secs: f64, id: &str) -> Arc<dyn Reading> {
    fleet_at(secs)
        .into_iter()
        .find(|(meta, _)| meta.id.as_str() == id)
        .map(|(_, reading)| reading)
        .unwrap_or_else(|| panic!("{id} is not in the demo fleet"))
}

fn health(secs: f64, id: &str) -> Health {
    let r = reading(secs, id);
    evaluate(&r.figures(), &r.findings(), |_| None)
}

fn level(secs: f64, id: &str) -> Level {
    health(secs, id).level
}

fn concrete<T: 'static + Clone>(secs: f64, id: &str) -> T {
    reading(secs, id)
        .as_any()
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("{id} has an unexpected reading type"))
        .clone()
}

fn figure(secs: f64, id: &str, key: &str) -> f64 {
    reading(secs, id)
        .figures()
        .into_iter()
        .find(|f| f.key == key)
        .unwrap_or_else(|| panic!("{id} has no figure {key}"))
        .value
}

#[test]
fn the_same_demo_second_gives_identical_json() {
    for secs in [0.0, 17.5, 260.0, 333.3, 599.9, 86_400.0] {
        let json = |rs: Vec<(ComponentMeta, Arc<dyn Reading>)>| {
            rs.into_iter()
                .map(|(meta, r)| (meta.id.to_string(), r.to_json().to_string()))
                .collect::<Vec<_>>()
        };
        let first = json(fleet_at(secs));
        let second = json(fleet_at(secs));
        assert_eq!(first, second, "demo second {secs} is not repeatable");
    }
    // ... and the screen is alive: a few seconds later something has moved.
    assert_ne!(
        reading(100.0, "host/web-1").to_json(),
        reading(103.0, "host/web-1").to_json()
    );
}

#[test]
fn the_fleet_is_hachyderm_shaped() {
    let fleet = demo::components();
    let ids: Vec<&str> = fleet.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "edge/fremont-1",
            "edge/newark-1",
            "edge/frankfurt-1",
            "edge/tokyo-1",
            "host/web-1",
            "host/web-2",
            "host/streaming-1",
            "host/sidekiq-1",
            "host/sidekiq-2",
            "host/db-1",
            "host/db-2",
            "host/redis-1",
            "sidekiq/main",
            "postgres/primary",
            "postgres/replica",
            "redis/main",
            "redis/cache",
            "elasticsearch/main",
            "alertmanager/main",
        ]
    );
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "ids are unique"
    );
    let regions: Vec<&str> = fleet
        .iter()
        .filter(|m| m.kind == "edge")
        .map(|m| m.region.as_str())
        .collect();
    assert_eq!(regions, ["us-west", "us-east", "eu-central", "apac"]);
    for meta in fleet.iter().filter(|m| m.kind != "edge") {
        assert_eq!(
            meta.region,
            demo::CORE_REGION,
            "{} lives in the core",
            meta.id
        );
        assert!(
            meta.tags.iter().any(|t| t.starts_with("role-")),
            "{} has a role tag",
            meta.id
        );
    }
    for (meta, reading) in fleet_at(0.0) {
        assert!(
            mastop::sources::KINDS.contains(&meta.kind),
            "{} has a registered kind",
            meta.id
        );
        assert_eq!(meta.id.as_str().split('/').next(), Some(meta.kind));
        assert!(!reading.summary().is_empty(), "{} has a summary", meta.id);
    }
}

#[test]
fn the_fleet_starts_healthy() {
    for (meta, r) in fleet_at(0.0) {
        let h = evaluate(&r.figures(), &r.findings(), |_| None);
        assert_eq!(h.level, Level::Ok, "{} at t=0: {:?}", meta.id, h.reasons);
    }
}

#[test]
fn pull_backlog_takes_sidekiq_to_warn_then_crit_then_drains() {
    assert_eq!(level(5.0, "sidekiq/main"), Level::Ok);
    assert_eq!(level(30.0, "sidekiq/main"), Level::Warn);
    assert_eq!(level(260.0, "sidekiq/main"), Level::Crit);
    assert_eq!(
        level(300.0, "sidekiq/main"),
        Level::Warn,
        "draining after scale-up"
    );
    assert_eq!(level(460.0, "sidekiq/main"), Level::Ok);

    let peak: SidekiqReading = concrete(265.0, "sidekiq/main");
    let slowest = peak.slowest_queue().expect("queues are listed");
    assert_eq!(slowest.name, "pull");
    assert!(
        slowest.size > 30_000,
        "a real backlog, not a blip: {}",
        slowest.size
    );
    assert_eq!(peak.processes, 5);
    let scaled: SidekiqReading = concrete(300.0, "sidekiq/main");
    assert_eq!(
        scaled.processes, 7,
        "two extra pull processes while draining"
    );
    assert!(
        figure(300.0, "sidekiq/main", "queue_latency_s")
            < figure(265.0, "sidekiq/main", "queue_latency_s")
    );
}

#[test]
fn replica_lag_climbs_past_both_thresholds_then_recovers() {
    let lag = |secs| {
        concrete::<PostgresReading>(secs, "postgres/replica")
            .replica
            .and_then(|r| r.lag_s)
            .expect("a replica reports its lag")
    };
    assert!(lag(5.0) < 1.0);
    let mut previous = lag(20.0);
    for secs in (30..=370).step_by(20) {
        let now = lag(f64::from(secs));
        assert!(
            now > previous,
            "lag climbs steadily: {now} after {previous} at {secs}s"
        );
        previous = now;
    }
    assert_eq!(level(10.0, "postgres/replica"), Level::Ok);
    assert_eq!(level(60.0, "postgres/replica"), Level::Warn);
    assert_eq!(level(200.0, "postgres/replica"), Level::Crit);
    assert_eq!(level(420.0, "postgres/replica"), Level::Ok);
    // The primary never shows a lag figure of its own.
    assert!(
        reading(200.0, "postgres/primary")
            .figures()
            .iter()
            .all(|f| f.key != "replication_lag_s")
    );
}

#[test]
fn tokyo_certificate_goes_warn_then_crit_then_is_renewed() {
    let days = |secs| {
        concrete::<EdgeReading>(secs, "edge/tokyo-1")
            .cert
            .expect("an HTTPS edge reports its certificate")
            .days_left
    };
    assert!(days(0.0) > 14.0);
    assert!(days(60.0) < days(30.0), "the simulated calendar runs fast");
    assert_eq!(level(30.0, "edge/tokyo-1"), Level::Ok);
    assert_eq!(level(60.0, "edge/tokyo-1"), Level::Warn);
    assert_eq!(level(220.0, "edge/tokyo-1"), Level::Crit);
    assert_eq!(level(310.0, "edge/tokyo-1"), Level::Ok);
    assert!(days(310.0) > 30.0);
    assert_eq!(
        reading(60.0, "edge/tokyo-1").key_figure(),
        Some("cert_days_left")
    );
    for edge in ["edge/fremont-1", "edge/newark-1", "edge/frankfurt-1"] {
        for secs in [30.0, 60.0, 220.0, 310.0] {
            assert_eq!(level(secs, edge), Level::Ok, "{edge} at {secs}s");
        }
    }
}

#[test]
fn the_wal_archive_volume_on_db1_crosses_90_percent_then_is_cleaned() {
    let host = |secs| concrete::<HostReading>(secs, "host/db-1");
    let fullest = host(200.0)
        .fullest_filesystem()
        .cloned()
        .expect("db-1 has filesystems");
    assert_eq!(fullest.mount, "/var/lib/postgresql/archive");
    assert_eq!(fullest.note.as_deref(), Some("WAL archive"));
    assert!(fullest.used_pct >= 90.0);

    assert_eq!(level(0.0, "host/db-1"), Level::Ok);
    assert_eq!(level(100.0, "host/db-1"), Level::Warn);
    assert_eq!(level(200.0, "host/db-1"), Level::Crit);
    // Cleaned at 330 s; Postgres's "slots reserved" stay in the last minute's count until
    // a minute later.
    assert_eq!(level(360.0, "host/db-1"), Level::Crit);
    assert_eq!(level(400.0, "host/db-1"), Level::Ok);
    assert!(figure(100.0, "host/db-1", "disk_used_pct") >= 85.0);
    assert_eq!(
        reading(0.0, "host/db-1").key_figure(),
        Some("disk_used_pct")
    );
}

#[test]
fn a_host_without_its_firewall_is_critical() {
    let h = health(500.0, "host/redis-1");
    assert_eq!(h.level, Level::Crit);
    assert!(
        h.reasons.iter().any(|r| r.contains("nftables")),
        "{:?}",
        h.reasons
    );
    let rebooted: HostReading = concrete(500.0, "host/redis-1");
    assert!(rebooted.uptime_s < 60.0, "the reboot shows in uptime");
    assert_eq!(level(560.0, "host/redis-1"), Level::Ok);
}

#[test]
fn elasticsearch_goes_yellow_while_a_node_restarts() {
    assert_eq!(level(480.0, "elasticsearch/main"), Level::Ok);
    assert_eq!(level(520.0, "elasticsearch/main"), Level::Warn);
    assert!(figure(520.0, "elasticsearch/main", "unassigned_shards") > 0.0);
    assert_eq!(
        level(565.0, "elasticsearch/main"),
        Level::Warn,
        "still recovering"
    );
    assert_eq!(level(590.0, "elasticsearch/main"), Level::Ok);
    let json = reading(520.0, "elasticsearch/main").to_json();
    assert_eq!(json["status"], "yellow");
}

#[test]
fn sidekiq_json_uses_the_stable_names() {
    let json = reading(120.0, "sidekiq/main").to_json();
    for key in [
        "processed",
        "failed",
        "enqueued",
        "busy",
        "scheduled",
        "retries",
        "dead",
        "processes",
    ] {
        assert!(json[key].is_u64(), "{key} is a count in {json}");
    }
    let queues = json["queues"].as_array().expect("queues is a list");
    let names: Vec<&str> = queues.iter().filter_map(|q| q["name"].as_str()).collect();
    assert_eq!(names, MASTODON_QUEUES);
    for q in queues {
        assert!(q["size"].is_u64() && q["latency_s"].is_number(), "{q}");
    }
    let enqueued: u64 = queues.iter().filter_map(|q| q["size"].as_u64()).sum();
    assert_eq!(json["enqueued"].as_u64(), Some(enqueued));
}

#[test]
fn counters_keep_rising_across_the_loop() {
    let processed = |secs| concrete::<SidekiqReading>(secs, "sidekiq/main").processed;
    let cycle = demo::CYCLE.as_secs_f64();
    assert!(processed(cycle - 1.0) < processed(cycle + 1.0));
    assert!(processed(10.0) < processed(cycle * 5.0 + 10.0));
    let rate = concrete::<SidekiqReading>(cycle + 1.0, "sidekiq/main")
        .processed_per_s
        .expect("demo rates are always known");
    assert!(rate > 0.0);
}

#[test]
fn the_script_loops() {
    let cycle = demo::CYCLE.as_secs_f64();
    for secs in [5.0, 60.0, 260.0, 500.0] {
        for meta in demo::components() {
            let id = meta.id.as_str();
            assert_eq!(
                level(secs, id),
                level(secs + 3.0 * cycle, id),
                "{id} at {secs}s into the cycle"
            );
        }
    }
    assert_eq!(demo::script_position(at(cycle + 42.0)), at(42.0));
}

#[test]
fn every_spec_polls_at_once_and_offset_starts_mid_incident() {
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let cadence = Duration::from_secs(2);
    let mut specs = demo::specs(cadence, Instant::now(), at(260.0));
    assert_eq!(specs.len(), demo::components().len());
    for spec in &mut specs {
        assert!(spec.enabled);
        assert_eq!(spec.schedule.cadence, cadence);
        let mut poll = spec.source.poll();
        // Ready on the very first poll: nothing to wait for, no I/O behind it.
        let Poll::Ready(result) = poll.as_mut().poll(&mut cx) else {
            panic!("{} did not answer at once", spec.meta.id);
        };
        let reading = result.unwrap_or_else(|e| panic!("{} failed: {e}", spec.meta.id));
        let health = evaluate(&reading.figures(), &reading.findings(), |_| None);
        if spec.meta.id.as_str() == "sidekiq/main" {
            assert_eq!(
                health.level,
                Level::Crit,
                "--at 260s lands in the pull backlog"
            );
        }
    }
}

#[test]
fn poll_cost_does_not_grow_with_demo_time() {
    let cost = |t: Duration| {
        let before = demo::samples_drawn();
        let readings = demo::readings_at(t, start() + t);
        (demo::samples_drawn() - before, readings.len())
    };
    let early = cost(at(20.0));
    let late = cost(at(20.0) + demo::CYCLE * 1000);
    assert_eq!(
        early, late,
        "a reading costs the same on day one as a week later"
    );
    let per_component = early.0 as f64 / early.1 as f64;
    assert!(
        per_component < 60.0,
        "{per_component} noise samples per component"
    );
}

#[test]
fn the_timeline_is_ordered_and_incidents_start_early() {
    let timeline = demo::timeline();
    assert!(timeline.windows(2).all(|w| w[0].0 <= w[1].0), "in order");
    assert_eq!(timeline.first().map(|e| e.0), Some(Duration::ZERO));
    assert!(timeline.iter().all(|(t, _)| *t <= demo::CYCLE));
    let early = timeline
        .iter()
        .filter(|(t, _)| *t <= Duration::from_secs(60))
        .count();
    assert!(
        early >= 4,
        "a newcomer sees incidents within a minute ({early} events)"
    );
}

/// Every timeline line that names a component and a level is true a few seconds later.
#[test]
fn the_timeline_tells_the_truth() {
    let ids: Vec<String> = demo::components()
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    let mut checked = 0;
    for (t, text) in demo::timeline() {
        let Some(id) = ids.iter().find(|id| text.contains(id.as_str())) else {
            continue;
        };
        let expected = match text.rsplit(' ').next() {
            Some("OK") => Level::Ok,
            Some("WARN") => Level::Warn,
            Some("CRIT") => Level::Crit,
            _ => continue,
        };
        let secs = t.as_secs_f64() + 5.0;
        let h = health(secs, id);
        assert_eq!(h.level, expected, "{text:?} at {secs}s: {:?}", h.reasons);
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} timeline lines could be checked"
    );
}

#[test]
fn every_reading_explains_itself() {
    for secs in [0.0, 100.0, 265.0, 500.0, 560.0] {
        for (meta, r) in fleet_at(secs) {
            let figures = r.figures();
            if let Some(key) = r.key_figure() {
                assert!(
                    figures.iter().any(|f| f.key == key),
                    "{}: key figure {key} exists",
                    meta.id
                );
            }
            assert!(
                !r.detail().sections.is_empty(),
                "{} has a detail view",
                meta.id
            );
            assert!(r.to_json().is_object(), "{} has JSON", meta.id);
            for f in &figures {
                assert!(f.value.is_finite(), "{} {} is a number", meta.id, f.key);
            }
        }
    }
}

#[test]
fn every_figure_is_declared_for_config_thresholds() {
    for secs in [0.0, 265.0, 500.0] {
        for (meta, r) in fleet_at(secs) {
            let specs = mastop::sources::figure_specs(meta.kind).expect("kind is registered");
            for f in r.figures() {
                let spec = specs
                    .iter()
                    .find(|s| s.key == f.key)
                    .unwrap_or_else(|| panic!("{} figure {} is not in FIGURES", meta.kind, f.key));
                if let Some(threshold) = f.threshold {
                    assert_eq!(
                        spec.direction, threshold.direction,
                        "{} {}",
                        meta.kind, f.key
                    );
                }
            }
        }
    }
}

fn member<T: 'static + Clone>(fleet: &[(ComponentMeta, Arc<dyn Reading>)], id: &str) -> T {
    fleet
        .iter()
        .find(|(meta, _)| meta.id.as_str() == id)
        .and_then(|(_, r)| r.as_any().downcast_ref::<T>().cloned())
        .unwrap_or_else(|| panic!("{id} is in the demo fleet"))
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// Every absolute date the demo shows follows the clock: at two moments years apart,
/// tokyo-1's certificate expires its days-left after that moment (and the overview line
/// says so), Sidekiq's history ends that day and its sets are scored around it, and the
/// database sessions began shortly before.
#[test]
fn demo_dates_follow_the_clock() {
    let day = |unix: f64| demo::clock::rfc3339(unix)[..10].to_string();
    let mut expiries = Vec::new();
    for now in [1_773_165_600u64, 1_940_653_800] {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(now);
        for secs in [0.0, 200.0] {
            let fleet = demo::readings_at(at(secs), now);
            let tokyo: EdgeReading = member(&fleet, "edge/tokyo-1");
            let cert = tokyo.cert.clone().expect("tokyo-1 serves a certificate");
            let expires = unix(now) + cert.days_left * 86_400.0;
            let not_after = humantime::parse_rfc3339(&cert.not_after).expect("RFC 3339");
            assert!(
                (unix(not_after) - expires).abs() < 86_400.0 * 0.01 + 1.0,
                "at {}: {} days left, but it expires {}",
                day(unix(now)),
                cert.days_left,
                cert.not_after
            );
            let summary = tokyo.summary();
            assert!(
                summary.contains(&format!("cert expires {}", day(unix(not_after)))),
                "{summary}"
            );
            if secs == 0.0 {
                expiries.push(cert.not_after.clone());
            }

            let sidekiq: SidekiqReading = member(&fleet, "sidekiq/main");
            assert_eq!(sidekiq.read_at, unix(now), "read now");
            let history: Vec<&str> = sidekiq.history.iter().map(|d| d.date.as_str()).collect();
            assert_eq!(history.last().copied(), Some(day(unix(now)).as_str()));
            assert_eq!(
                history.first().copied(),
                Some(day(unix(now) - 29.0 * 86_400.0).as_str())
            );
            let scores = sidekiq
                .retry_set
                .iter()
                .chain(&sidekiq.dead_set)
                .flat_map(|p| &p.entries)
                .map(|e| e.score);
            for score in scores {
                assert!((score - unix(now)).abs() < 86_400.0, "score {score}");
            }

            let primary: PostgresReading = member(&fleet, "postgres/primary");
            let started = primary
                .views
                .activity
                .as_ref()
                .expect("activity")
                .backends
                .iter()
                .map(|b| b.backend_start_us as f64 / 1e6);
            for s in started {
                let before = unix(now) - s;
                assert!(
                    (0.0..7.0 * 86_400.0).contains(&before),
                    "a session started {before}s before now"
                );
            }
        }
    }
    assert_ne!(expiries[0], expiries[1], "the date moved with the clock");
}

/// What `mastop demo` runs dates its certificates from today, whenever today is.
#[test]
fn the_running_demo_takes_its_dates_from_the_real_clock() {
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut specs = demo::specs(Duration::from_secs(2), Instant::now(), at(0.0));
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id.as_str() == "edge/tokyo-1")
        .expect("tokyo-1");
    let mut poll = spec.source.poll();
    let Poll::Ready(Ok(reading)) = poll.as_mut().poll(&mut cx) else {
        panic!("tokyo-1 answers at once");
    };
    let tokyo = reading
        .as_any()
        .downcast_ref::<EdgeReading>()
        .expect("an edge reading")
        .clone();
    let cert = tokyo.cert.expect("a certificate");
    let not_after = humantime::parse_rfc3339(&cert.not_after).expect("RFC 3339");
    let expected = unix(SystemTime::now()) + cert.days_left * 86_400.0;
    // The reading was taken a moment ago: a minute is a bound against a slow machine.
    assert!(
        (unix(not_after) - expected).abs() < 60.0,
        "{} days left, expires {}, today is {}",
        cert.days_left,
        cert.not_after,
        demo::clock::rfc3339(unix(SystemTime::now()))
    );
}
