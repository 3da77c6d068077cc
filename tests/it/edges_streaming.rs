//! The streaming source against a scripted server serving the streaming server's
//! `/metrics` (Mastodon's Node process is not installable here).

use crate::support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::Reading;
use mastop::sources::streaming::{StreamingReading, StreamingSource};
use mastop::sources::{PollError, Schedule, Source};
use support::scripted_http::{Reply, ScriptedHttp};

const HANG_GUARD: Duration = Duration::from_secs(30);

fn metrics() -> String {
    let path = format!(
        "{}/tests/fixtures/streaming/metrics.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn text(body: String) -> Reply {
    Reply::Body(200, "text/plain; version=0.0.4", body.into_bytes())
}

fn source(url: String, deadline: Duration) -> StreamingSource {
    StreamingSource::new(
        &EndpointConfig::new("streaming-1", url),
        Schedule {
            cadence: Duration::from_secs(1),
            deadline,
        },
    )
}

async fn poll(source: &mut StreamingSource) -> Result<StreamingReading, PollError> {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("the poll finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<StreamingReading>()
        .expect("a streaming reading")
        .clone())
}

#[tokio::test]
async fn clients_channels_and_a_message_rate_from_two_polls() {
    let server = ScriptedHttp::start();
    server.route("/metrics", text(metrics()));
    // No path in the url: /metrics is asked for.
    let mut s = source(server.url(), Duration::from_secs(5));
    let first = poll(&mut s).await.expect("first poll");
    assert_eq!(
        (first.websocket_clients, first.eventsource_clients),
        (812.0, 37.0)
    );
    assert_eq!(first.connected_channels, 875.0);
    assert_eq!(first.messages_per_sec, None, "no rate from one sample");
    assert!(
        first
            .figures()
            .iter()
            .any(|f| f.key == "connected_clients" && f.value == 849.0)
    );

    let later = metrics().replace("} 102345", "} 102945");
    server.route("/metrics", text(later));
    let second = poll(&mut s).await.expect("second poll");
    assert!(
        second.messages_per_sec.is_some_and(|r| r > 0.0),
        "{second:?}"
    );

    // A restarted process resets its counters: no negative rate.
    server.route("/metrics", text(metrics().replace("} 102345", "} 5")));
    let third = poll(&mut s).await.expect("third poll");
    assert_eq!(third.messages_per_sec, None);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.starts_with("GET /metrics HTTP/1.1"))
    );
}

#[tokio::test]
async fn not_a_streaming_server_not_found_and_a_hang() {
    let server = ScriptedHttp::start();
    server.route("/metrics", text("node_load1 0.42\n\u{1b}[31mjunk\n".into()));
    let mut s = source(format!("{}/metrics", server.url()), Duration::from_secs(5));
    let err = poll(&mut s)
        .await
        .expect_err("node_exporter is not streaming");
    assert!(
        err.to_string().contains("no connected_clients metric"),
        "{err}"
    );

    let mut s = source(
        format!("{}/elsewhere", server.url()),
        Duration::from_secs(5),
    );
    let err = poll(&mut s).await.expect_err("404");
    assert!(err.to_string().contains("answered HTTP 404"), "{err}");

    server.route("/metrics", Reply::Hang);
    let mut s = source(server.url(), Duration::from_millis(300));
    let err = poll(&mut s).await.expect_err("hang");
    assert!(
        matches!(&err, PollError::Failed(m) if m.contains("before the deadline")),
        "{err:?}"
    );
}
