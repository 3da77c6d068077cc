//! History at start: a fresh console's trends come from a real Prometheus that has been
//! scraping a real node_exporter, one `query_range` per figure for the whole fleet (counted
//! at Prometheus itself), and a Prometheus that fails is a note, not a stall.

use crate::support;

use std::time::Duration;

use mastop::engine::{Engine, Options};
use mastop::model::ComponentId;
use mastop::sources::prometheus::backfill::{MAPPINGS, RANGE, mappings_for, step};
use support::observability::Stack;

/// Prometheus's own count of range queries it has answered.
fn range_queries(stack: &Stack) -> f64 {
    let (_, body) =
        support::http_get(stack.prometheus.port(), "/metrics").expect("prometheus /metrics");
    body.lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && l.contains("handler=\"/api/v1/query_range\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_fleet_gets_the_last_hour_in_one_query_per_figure() {
    let stack = Stack::start();
    // Enough scrapes for rates over two minutes to have two samples.
    stack
        .prometheus
        .wait_for("count_over_time(node_load1{instance=\"web-1:9100\"}[1m]) > 3");
    let engine = Engine::new(
        stack.config(&format!(
            "[[host]]\nname = \"web-1\"\naddress = \"web-1.test\"\nenabled = false\n[[web]]\nname = \"web-1\"\nurl = \"{}/metrics\"\n",
            stack.mastodon.url()
        )),
        Options::default(),
    );
    let mut fleet = engine.fleet_for(&engine.sources());
    let db = ComponentId::new("host", "db-1");
    let web = ComponentId::new("host", "web-1");
    assert!(
        fleet.get(&db).and_then(|c| c.history("load_1")).is_none(),
        "nothing polled yet"
    );
    let backfill = engine.backfill(&fleet).expect("a prometheus is configured");
    let host_figures = MAPPINGS
        .iter()
        .filter(|m| m.kind == "host" || m.kind == "web")
        .count();
    assert_eq!(backfill.mappings, mappings_for(&fleet));
    assert_eq!(
        backfill.mappings.len(),
        host_figures,
        "only the kinds this fleet has"
    );

    let end = backfill.end;
    let before = range_queries(&stack);
    let outcome = backfill.run().await;
    let sent = range_queries(&stack) - before;
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(outcome.queries, host_figures);
    assert_eq!(
        sent as usize, host_figures,
        "one query per figure, not per host"
    );

    outcome.apply(&mut fleet);
    // Points keep Prometheus's moments: within the hour before the backfill's end, one
    // step apart (or a whole number of steps where the exporter had no sample).
    let moments: Vec<std::time::SystemTime> = fleet
        .get(&db)
        .and_then(|c| c.history("load_1"))
        .expect("db-1 load")
        .points()
        .map(|p| p.at)
        .collect();
    assert!(!moments.is_empty());
    // Prometheus reads the range's ends as seconds with a fraction: a point may land a hair
    // past `end`.
    let slack = Duration::from_millis(1);
    for at in &moments {
        assert!(
            *at <= end + slack && end.duration_since(*at).unwrap_or_default() < RANGE,
            "{at:?} outside the hour before {end:?}"
        );
    }
    for pair in moments.windows(2) {
        let gap = pair[1].duration_since(pair[0]).expect("oldest first");
        assert!(
            gap.as_secs() > 0 && gap.as_millis() % step().as_millis() == 0,
            "{gap:?} is not a whole number of {:?} steps",
            step()
        );
    }
    for id in [&db, &web] {
        let c = fleet.get(id).expect("host");
        for key in [
            "load_1",
            "memory_used_pct",
            "disk_used_pct",
            "cpu_busy_pct",
            "net_rx_bytes_per_s",
        ] {
            let ring = c
                .history(key)
                .unwrap_or_else(|| panic!("{id} {key} has no history: {:?}", outcome.filled));
            assert!(!ring.is_empty(), "{id} {key}");
            assert!(ring.values().all(f64::is_finite), "{id} {key}");
        }
        let memory: Vec<f64> = c
            .history("memory_used_pct")
            .expect("memory")
            .values()
            .collect();
        assert!(
            memory.iter().all(|v| (0.0..=100.0).contains(v)),
            "{memory:?}"
        );
        let busy: Vec<f64> = c.history("cpu_busy_pct").expect("cpu").values().collect();
        assert!(busy.iter().all(|v| (0.0..=100.0).contains(v)), "{busy:?}");
    }
    // Mastodon 4.4's own metrics, scraped from the static page, fill the web trends.
    let web_component = fleet.get(&ComponentId::new("web", "web-1")).expect("web-1");
    for (key, value) in [
        ("puma_backlog", 7.0),
        ("threads_busy_pct", 90.0),
        ("request_queue_p99_s", 0.35),
        ("db_pool_waiting", 3.0),
        ("db_pool_busy_pct", 100.0),
    ] {
        let values: Vec<f64> = web_component
            .history(key)
            .unwrap_or_else(|| panic!("web {key}: {:?}", outcome.filled))
            .values()
            .collect();
        assert!(!values.is_empty(), "{key}");
        assert!(
            values.iter().all(|v| (v - value).abs() < 1e-9),
            "{key}: {values:?}"
        );
    }
    // The trend the overview draws is there on the first frame after the backfill.
    let overview = mastop::tui::rows::overview::list(&fleet, std::time::SystemTime::now());
    let row = overview
        .ids
        .iter()
        .position(|i| *i == db)
        .expect("db-1 on the overview");
    assert!(
        overview.table.rows[row]
            .cells
            .iter()
            .any(|c| c.text.chars().any(|ch| ('▁'..='█').contains(&ch))),
        "a sparkline for db-1: {:?}",
        overview.table.rows[row]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prometheus_that_fails_leaves_notes_and_no_history() {
    let hole = support::BlackHole::start();
    let server = support::scripted_http::ScriptedHttp::start();
    for (url, expect) in [
        (
            format!("http://127.0.0.1:{}", hole.port()),
            "no complete answer before the deadline",
        ),
        (server.url(), "HTTP 404"),
    ] {
        let cfg = mastop::config::load_str(
            &format!(
                "[[prometheus]]\nname = \"p\"\nurl = \"{url}\"\n[[host]]\nname = \"db-1\"\naddress = \"db-1.test\"\nenabled = false\n"
            ),
            "t.toml",
            &[],
        )
        .expect("valid")
        .0;
        let engine = Engine::new(cfg, Options::default());
        let mut fleet = engine.fleet_for(&engine.sources());
        let mut backfill = engine.backfill(&fleet).expect("planned");
        backfill.deadline = Duration::from_millis(500);
        let outcome = tokio::time::timeout(Duration::from_secs(30), backfill.run())
            .await
            .expect("bounded by its deadline");
        assert!(outcome.filled.is_empty());
        assert_eq!(outcome.errors.len(), outcome.queries);
        assert!(
            outcome.errors.iter().all(|e| e.contains(expect)),
            "{:?}",
            outcome.errors
        );
        outcome.apply(&mut fleet);
        assert!(
            fleet
                .get(&ComponentId::new("host", "db-1"))
                .and_then(|c| c.history("load_1"))
                .is_none()
        );
    }
}
