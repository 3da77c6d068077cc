//! The Elasticsearch source against a scripted HTTP server serving Elasticsearch's answers
//! (no Elasticsearch can be installed here): green, yellow and red clusters, the index list,
//! basic auth, garbage, a chunked body, and a cluster that hangs past the deadline.

use crate::support;

use std::time::Duration;

use mastop::config::{EndpointConfig, SecretRef};
use mastop::model::health::evaluate;
use mastop::model::{Level, Reading};
use mastop::sources::elasticsearch::{ClusterStatus, ElasticsearchReading, ElasticsearchSource};
use mastop::sources::{PollError, Schedule, Source};
use support::scripted_http::{Reply, ScriptedHttp};

const HANG_GUARD: Duration = Duration::from_secs(30);
const HEALTH: &str = "/_cluster/health";
const INDICES: &str = "/_cat/indices?format=json&bytes=b";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/elasticsearch/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn cluster(health: &str) -> ScriptedHttp {
    let es = ScriptedHttp::start();
    es.route(HEALTH, Reply::json(fixture(health)));
    es.route(INDICES, Reply::json(fixture("cat_indices.json")));
    es.route("/", Reply::json(fixture("root.json")));
    es
}

async fn poll_with(
    endpoint: EndpointConfig,
    deadline: Duration,
) -> Result<ElasticsearchReading, PollError> {
    let mut source = ElasticsearchSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline,
        },
    );
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("the poll finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<ElasticsearchReading>()
        .expect("an Elasticsearch reading")
        .clone())
}

async fn poll(url: String) -> Result<ElasticsearchReading, PollError> {
    poll_with(EndpointConfig::new("search", url), Duration::from_secs(5)).await
}

fn level(r: &ElasticsearchReading) -> (Level, Vec<String>) {
    let h = evaluate(&r.figures(), &r.findings(), |_| None);
    (h.level, h.reasons)
}

#[tokio::test]
async fn green_yellow_and_red_clusters() {
    let green = cluster("health_green.json");
    let r = poll(green.url()).await.expect("green cluster");
    assert_eq!(
        (r.status, r.nodes, r.unassigned_shards),
        (ClusterStatus::Green, 3, 0)
    );
    assert_eq!(r.version.as_deref(), Some("Elasticsearch 7.17.9"));
    assert_eq!(level(&r).0, Level::Ok);
    // Worst index first, then the biggest.
    let names: Vec<&str> = r.indices.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "statuses",
            "public_statuses",
            "accounts",
            "tags",
            "instances"
        ]
    );
    assert_eq!(r.indices[0].docs, 18_342_211);
    assert_eq!(r.indices[0].size_bytes, 9_821_331_211);

    let yellow = cluster("health_yellow.json");
    let r = poll(yellow.url()).await.expect("yellow cluster");
    let (lvl, reasons) = level(&r);
    assert_eq!(lvl, Level::Warn);
    assert_eq!(
        reasons[0],
        "cluster is yellow: replicas missing, 15 shards unassigned"
    );

    let red = cluster("health_red.json");
    let r = poll(red.url()).await.expect("red cluster");
    let (lvl, reasons) = level(&r);
    assert_eq!(lvl, Level::Crit);
    assert!(reasons[0].starts_with("cluster is red"), "{reasons:?}");
    assert_eq!(
        (r.unassigned_shards, r.pending_tasks, r.initializing_shards),
        (4, 3, 2)
    );
}

#[tokio::test]
async fn basic_auth_from_the_url_user_and_a_password_reference() {
    let es = cluster("health_green.json");
    // elastic:s3cret
    es.require_auth("Basic ZWxhc3RpYzpzM2NyZXQ=");
    let url = es.url().replacen("http://", "http://elastic@", 1);

    let denied = poll(url.clone()).await.expect_err("no password");
    assert!(
        matches!(&denied, PollError::Denied(m) if m.contains("HTTP 401")),
        "{denied:?}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("es-password");
    std::fs::write(&secret, "s3cret\n").expect("write the password file");
    let endpoint = EndpointConfig {
        password: Some(SecretRef::File(secret)),
        ..EndpointConfig::new("search", url)
    };
    let r = poll_with(endpoint, Duration::from_secs(5))
        .await
        .expect("authorised");
    assert_eq!(r.status, ClusterStatus::Green);
    assert!(
        es.requests().iter().all(|h| !h.contains("s3cret")),
        "the password is only sent encoded"
    );
}

#[tokio::test]
async fn garbage_and_errors_are_precise_and_the_index_list_is_optional() {
    let es = ScriptedHttp::start();
    es.route(
        HEALTH,
        Reply::Body(
            200,
            "text/html",
            b"<html>\x1b[2J502 Bad Gateway</html>".to_vec(),
        ),
    );
    let err = poll(es.url()).await.expect_err("garbage");
    let text = err.to_string();
    assert!(
        text.contains("_cluster/health is not the JSON Elasticsearch sends"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text:?}");

    es.route(HEALTH, Reply::Body(503, "application/json", b"{}".to_vec()));
    let err = poll(es.url()).await.expect_err("503");
    assert!(err.to_string().contains("answered HTTP 503"), "{err}");

    // Health fine, index list broken: a reading with the problem stated, not a failure.
    es.route(HEALTH, Reply::Chunked(200, fixture("health_green.json")));
    es.route(INDICES, Reply::json(b"[{\"index\": 5".to_vec()));
    let r = poll(es.url()).await.expect("health is enough");
    assert_eq!(r.status, ClusterStatus::Green);
    assert!(r.indices.is_empty());
    let (lvl, reasons) = level(&r);
    assert_eq!(lvl, Level::Warn);
    assert!(
        reasons[0].starts_with("index list unavailable: _cat/indices is not the JSON"),
        "{reasons:?}"
    );
    assert_eq!(r.version, None);
}

#[tokio::test]
async fn a_cluster_that_hangs_is_down_within_the_deadline() {
    let es = ScriptedHttp::start();
    es.route(HEALTH, Reply::Hang);
    let err = poll_with(
        EndpointConfig::new("search", es.url()),
        Duration::from_millis(400),
    )
    .await
    .expect_err("hung");
    assert!(
        matches!(&err, PollError::Failed(m) if m.contains("no complete answer before the deadline")),
        "{err:?}"
    );

    let closed = support::free_port();
    let err = poll(format!("http://127.0.0.1:{closed}"))
        .await
        .expect_err("closed");
    assert!(err.to_string().contains("connect"), "{err}");
}
