//! Alerts from a real Prometheus and Alertmanager: Prometheus scrapes a real node_exporter
//! and a page of Mastodon-shaped metrics, its rule fires at once, Alertmanager holds the
//! alert, and mastop ties it to the host it names, in the console's fleet, `check` and
//! `snapshot --json` alike. Then the bad inputs: down, hung, garbage, huge, ten thousand
//! alerts and hostile label values.

use crate::support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::engine::{Engine, Options};
use mastop::model::alerts::AlertState;
use mastop::model::{ComponentId, Level, Reading, SourceState};
use mastop::sources::alertmanager::{AlertmanagerReading, AlertmanagerSource};
use mastop::sources::prometheus::PrometheusReading;
use mastop::sources::{PollError, Schedule, Source};
use support::BlackHole;
use support::observability::Stack;
use support::scripted_http::{Reply, ScriptedHttp};

const HANG_GUARD: Duration = Duration::from_secs(30);

fn id(kind: &str, name: &str) -> ComponentId {
    ComponentId::new(kind, name)
}

fn alertmanager_reading(fleet: &mastop::model::Fleet) -> AlertmanagerReading {
    fleet
        .get(&id("alertmanager", "main"))
        .and_then(|c| c.reading.clone())
        .and_then(|r| r.as_any().downcast_ref::<AlertmanagerReading>().cloned())
        .expect("an alertmanager reading")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_firing_alert_lands_on_its_host_in_every_front_end() {
    let stack = Stack::start();
    let engine = Engine::new(stack.config(""), Options::default());
    let fleet = engine.poll_once().await;

    let prometheus = fleet.get(&id("prometheus", "main")).expect("prometheus");
    assert_eq!(
        prometheus.status.state,
        SourceState::Ok,
        "{:?}",
        prometheus.status
    );
    let p = prometheus
        .reading
        .as_ref()
        .and_then(|r| r.as_any().downcast_ref::<PrometheusReading>())
        .expect("a prometheus reading");
    assert_eq!((p.targets_up, p.targets_down), (3, 0), "{p:?}");
    assert_eq!((p.rules, p.rules_failing, p.alert_rules_firing), (3, 0, 2));
    assert!(
        p.version.as_deref().is_some_and(|v| v.starts_with("2.")),
        "{p:?}"
    );

    let am = alertmanager_reading(&fleet);
    let mut names: Vec<&str> = am.set.alerts.iter().map(|a| a.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["DiskAlmostFull", "SwapInUse"],
        "the rule that never fires is absent"
    );
    let alert = am
        .set
        .alerts
        .iter()
        .find(|a| a.name() == "DiskAlmostFull")
        .expect("DiskAlmostFull");
    assert_eq!(alert.state, AlertState::Active);
    assert_eq!(alert.severity(), "critical");
    assert_eq!(alert.summary(), "/ on db-1 is 97% full");
    assert!(alert.starts_at.is_some());
    assert_eq!(am.server.cluster.as_deref(), Some("disabled"));
    assert!(
        am.server
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with("0."))
    );

    let host = fleet.get(&id("host", "db-1")).expect("host db-1");
    assert_eq!(host.status.state, SourceState::Ok, "{:?}", host.status);
    assert_eq!((host.alerts.firing, host.alerts.suppressed), (2, 0));
    assert_eq!(host.health.level, Level::Crit, "{:?}", host.health);
    assert!(
        host.health
            .reasons
            .contains(&"alert DiskAlmostFull firing (critical)".to_string()),
        "{:?}",
        host.health
    );
    assert!(
        host.health
            .reasons
            .contains(&"alert SwapInUse firing (warning)".to_string()),
        "{:?}",
        host.health
    );
    let am_component = fleet.get(&id("alertmanager", "main")).expect("am");
    assert_eq!(
        am_component.alerts.firing, 0,
        "the alert is tied, not left over"
    );

    let snapshot = mastop::headless::snapshot(&fleet, "live", std::time::SystemTime::now());
    let alerts = snapshot["alerts"]
        .as_array()
        .expect("alerts in the snapshot");
    assert_eq!(alerts.len(), 2);
    let disk = alerts
        .iter()
        .find(|a| a["name"] == "DiskAlmostFull")
        .expect("DiskAlmostFull in the snapshot");
    assert_eq!(disk["components"], serde_json::json!(["host/db-1"]));
    assert_eq!(disk["labels"]["instance"], "db-1:9100");
    assert_eq!(disk["state"], "active");
    let db = snapshot["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "host/db-1"))
        .expect("db-1 in the snapshot");
    assert_eq!(db["alerts"]["firing"], 2);
    assert_eq!(db["health"]["level"], "CRIT");

    let (lines, code) = mastop::headless::check(&fleet);
    let line = lines
        .iter()
        .find(|l| l.contains("host/db-1"))
        .expect("a check line for db-1");
    assert!(line.starts_with("CRIT host/db-1"), "{line}");
    assert!(
        line.contains("alert DiskAlmostFull firing (critical)"),
        "{line}"
    );
    assert_eq!(code, 2);

    // The console draws it in the alerts view, on the right host.
    let keymap = mastop::tui::keymap::Keymap::builtin("default").expect("keymap");
    let theme = mastop::tui::theme::Theme::builtin("dark").expect("theme");
    let mut app =
        mastop::tui::app::App::new(fleet.clone(), keymap, theme, std::time::SystemTime::now());
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Char('0'),
    ));
    let mut terminal =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 60)).expect("terminal");
    terminal
        .draw(|f| mastop::tui::views::draw(f, &app))
        .expect("draw");
    let screen = terminal.backend().to_string();
    let row = screen
        .lines()
        .find(|l| l.contains("DiskAlmostFull") && l.contains("critical"))
        .unwrap_or_else(|| panic!("no firing row:\n{screen}"));
    assert!(row.contains("host/db-1"), "{row}");
    assert!(row.contains("/ on db-1 is 97% full"), "{row}");
    assert!(!screen.contains("NeverFires"), "{screen}");
    assert!(screen.contains("Firing · 2 alerts · 2 groups"), "{screen}");

    // The same fleet with severities left out of health: counted, not judged.
    let engine = Engine::new(
        stack.config("[alerts]\nseverity_health = false\n"),
        Options::default(),
    );
    let fleet = engine.poll_once().await;
    let host = fleet.get(&id("host", "db-1")).expect("host db-1");
    assert_eq!(host.alerts.firing, 2);
    assert!(
        !host
            .health
            .reasons
            .iter()
            .any(|r| r.contains("DiskAlmostFull")),
        "{:?}",
        host.health
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_route_takes_the_alert_elsewhere() {
    let stack = Stack::start();
    let extra = r#"
[[streaming]]
name = "streaming"
url = "http://127.0.0.1:1/metrics"
enabled = false

[[alerts.route]]
match = { alertname = "~Disk.*" }
components = ["streaming/streaming"]
"#;
    let engine = Engine::new(stack.config(extra), Options::default());
    let fleet = engine.poll_once().await;
    let streaming = fleet.get(&id("streaming", "streaming")).expect("streaming");
    assert_eq!(streaming.alerts.firing, 1);
    assert_eq!(
        fleet.get(&id("host", "db-1")).expect("db-1").alerts.firing,
        1,
        "SwapInUse is not routed and stays on db-1"
    );
    assert_eq!(
        streaming.health.level,
        Level::Crit,
        "{:?}",
        streaming.health
    );
}

fn source(url: &str, deadline: Duration) -> AlertmanagerSource {
    AlertmanagerSource::new(
        &EndpointConfig::new("main", url),
        Schedule {
            cadence: Duration::from_secs(1),
            deadline,
        },
    )
}

async fn poll(url: &str, deadline: Duration) -> Result<AlertmanagerReading, PollError> {
    let mut source = source(url, deadline);
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("the poll finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<AlertmanagerReading>()
        .expect("an alertmanager reading")
        .clone())
}

fn failed(result: Result<AlertmanagerReading, PollError>) -> String {
    match result {
        Err(PollError::Failed(e)) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// `n` alerts in one group, each with a distinct fingerprint.
pub fn many_alerts(n: usize) -> String {
    let alerts: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"fingerprint":"f{i:05}","labels":{{"alertname":"Load{}","instance":"host-{i}:9100","severity":"warning"}},"annotations":{{"summary":"load on host-{i}"}},"startsAt":"2024-05-01T10:00:00Z","status":{{"state":"active","silencedBy":[],"inhibitedBy":[]}},"receivers":[{{"name":"chat"}}]}}"#,
                i % 7
            )
        })
        .collect();
    format!(
        r#"[{{"labels":{{"alertname":"Load"}},"receiver":{{"name":"chat"}},"alerts":[{}]}}]"#,
        alerts.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_are_clear_and_the_rest_still_polls() {
    // Down: nothing listens.
    let port = support::free_port();
    let e = failed(poll(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).await);
    assert!(e.contains("alertmanager at 127.0.0.1"), "{e}");
    assert!(e.contains("connection refused"), "{e}");

    // Hung past the deadline.
    let hole = BlackHole::start();
    let e = failed(
        poll(
            &format!("http://127.0.0.1:{}", hole.port()),
            Duration::from_millis(500),
        )
        .await,
    );
    assert!(e.contains("no complete answer before the deadline"), "{e}");

    // Garbage, and an error page.
    let server = ScriptedHttp::start();
    server.route(
        "/api/v2/alerts/groups",
        Reply::Body(200, "text/html", b"<html>\x1b[2Jhi</html>".to_vec()),
    );
    let e = failed(poll(&server.url(), Duration::from_secs(5)).await);
    assert!(e.contains("is not Alertmanager's API v2 answer"), "{e}");
    assert!(!e.contains('\u{1b}'), "{e:?}");
    server.route(
        "/api/v2/alerts/groups",
        Reply::Body(503, "text/plain", b"\x1b]0;pwned\x07busy".to_vec()),
    );
    let e = failed(poll(&server.url(), Duration::from_secs(5)).await);
    assert!(e.contains("answered HTTP 503: busy"), "{e}");
    assert!(!e.contains('\u{1b}') && !e.contains('\u{7}'), "{e:?}");

    // 50 MB.
    let huge = format!("[{}]", " ".repeat(50 * 1024 * 1024));
    server.route("/api/v2/alerts/groups", Reply::json(huge));
    let e = failed(poll(&server.url(), Duration::from_secs(20)).await);
    assert!(e.contains("larger than 32 MiB"), "{e}");

    // Ten thousand alerts: all read; the extras missing are findings, not failures.
    server.route("/api/v2/alerts/groups", Reply::json(many_alerts(10_000)));
    let r = poll(&server.url(), Duration::from_secs(20))
        .await
        .expect("10,000 alerts read");
    assert_eq!(r.set.alerts.len(), 10_000);
    assert_eq!(r.firing(), 10_000);
    let findings: Vec<String> = r.findings().into_iter().map(|f| f.message).collect();
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("silences unavailable")),
        "{findings:?}"
    );

    // A hung Alertmanager does not hold up a Prometheus polled with it.
    let stack_less = format!(
        r#"
[defaults]
deadline = "1s"
[[alertmanager]]
name = "main"
url = "http://127.0.0.1:{}"
[[prometheus]]
name = "main"
url = "{}"
"#,
        hole.port(),
        server.url()
    );
    server.route(
        "/api/v1/targets?state=active",
        Reply::json(r#"{"status":"success","data":{"activeTargets":[]}}"#),
    );
    let cfg = mastop::config::load_str(&stack_less, "t.toml", &[])
        .expect("valid")
        .0;
    let fleet = Engine::new(cfg, Options::default()).poll_once().await;
    let am = fleet.get(&id("alertmanager", "main")).expect("am");
    assert_eq!(am.status.state, SourceState::Down);
    assert_eq!(am.health.level, Level::Crit);
    let prom = fleet.get(&id("prometheus", "main")).expect("prometheus");
    assert_eq!(prom.status.state, SourceState::Ok, "{:?}", prom.status);
}
