//! Mastodon 4.4+'s web metrics read straight from the exporter's page (served here from a
//! static file in the exporter's format): Puma backlog and thread pool, request queue
//! time, database pool waits, per process, judged into health; and what is not Mastodon's
//! exporter said so.

use crate::support;

use mastop::engine::{Engine, Options};
use mastop::model::{ComponentId, Level, SourceState};
use mastop::sources::web::WebReading;
use support::observability::MASTODON_METRICS;
use support::scripted_http::{Reply, ScriptedHttp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_web_tier_is_critical_with_its_reasons_per_process() {
    let server = ScriptedHttp::start();
    server.route(
        "/metrics",
        Reply::Body(
            200,
            "text/plain; version=0.0.4",
            MASTODON_METRICS.as_bytes().to_vec(),
        ),
    );
    server.route(
        "/other",
        Reply::Body(200, "text/plain", b"node_load1 1\n".to_vec()),
    );
    let cfg = mastop::config::load_str(
        &format!(
            "[[web]]\nname = \"web-1\"\nurl = \"{0}/metrics\"\n[[web]]\nname = \"not-mastodon\"\nurl = \"{0}/other\"\n",
            server.url()
        ),
        "t.toml",
        &[],
    )
    .expect("valid")
    .0;
    let fleet = Engine::new(cfg, Options::default()).poll_once().await;
    let web = fleet.get(&ComponentId::new("web", "web-1")).expect("web-1");
    assert_eq!(web.status.state, SourceState::Ok, "{:?}", web.status);
    assert_eq!(web.health.level, Level::Crit);
    assert_eq!(web.health.reasons[0], "DB pool in use 100% ≥ 100%");
    assert!(
        web.health
            .reasons
            .contains(&"requests in Puma's backlog 7 ≥ 1".to_string()),
        "{:?}",
        web.health
    );
    let reading = web
        .reading
        .as_ref()
        .and_then(|r| r.as_any().downcast_ref::<WebReading>())
        .expect("a web reading");
    assert_eq!(reading.processes[0].backlog, 7.0);
    assert_eq!(reading.pools[0].waiting, 3.0);
    assert_eq!(web.key_figure().map(|f| f.key), Some("puma_backlog"));

    let other = fleet
        .get(&ComponentId::new("web", "not-mastodon"))
        .expect("not-mastodon");
    assert_eq!(other.status.state, SourceState::Down);
    assert!(
        other
            .status
            .error
            .as_deref()
            .is_some_and(|e| e.contains("is this Mastodon's exporter")),
        "{:?}",
        other.status
    );
}
