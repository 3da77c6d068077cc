//! Logs from Loki. Loki cannot run here (no Debian package), so a harness HTTP server
//! answers with `query_range`'s documented JSON, including escape sequences in labels and
//! lines, garbage, a server that never answers and an answer past the cap.

use crate::support;

use std::time::Duration;

use mastop::config::{EndpointConfig, LogsConfig};
use mastop::logs::Priority;
use mastop::logs::query::{UnitPattern, Window};
use mastop::sources::loki::LokiReader;
use support::scripted_http::{Reply, ScriptedHttp};

const DEADLINE: Duration = Duration::from_secs(3);
const END: i128 = 1_700_000_900_000_000_000;

/// Recorded in the shape of Loki 2.9's `query_range` answer (streams newest first within
/// each, as `direction=backward` gives them).
const ANSWER: &str = r#"{"status":"success","data":{"resultType":"streams","result":[
 {"stream":{"host":"web-1","unit":"mastodon-web.service","level":"error","job":"systemd-journal"},
  "values":[["1700000800000000000","MISCONF Redis is configured to save RDB snapshots"],
            ["1700000700000000000","Completed 401 for 198.51.100.23 user=dana@example.net"]]},
 {"stream":{"host":"web-2\u001b]0;pwned\u0007","unit":"mastodon-web.service","priority":"6"},
  "values":[["1700000750000000000","GET /api/v1/timelines/home?access_token=Zx81secret \u001b[2J"]]}
 ]},"stats":{"summary":{"bytesProcessedPerSecond":1}}}"#;

fn reader(server: &ScriptedHttp, logs: &LogsConfig) -> LokiReader {
    LokiReader::with_cap(&EndpointConfig::new("main", server.url()), logs, 64 * 1024)
        .expect("a loki reader")
}

fn args() -> (Vec<String>, Vec<UnitPattern>) {
    (
        vec!["web-1".into(), "web-2".into()],
        vec![UnitPattern::parse("mastodon-web.service").expect("unit")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_range_answer_becomes_merged_redacted_lines() {
    let server = ScriptedHttp::start();
    let logs = LogsConfig::default();
    let mut loki = reader(&server, &logs);
    let (hosts, units) = args();
    let window = Window::parse("15m").expect("window");
    let path = loki.path(&hosts, &units, window, END, 500);
    server.route(&path, Reply::json(ANSWER));

    let answer = loki
        .read(&hosts, &units, window, END, 500, DEADLINE)
        .await
        .expect("read");
    assert_eq!(answer.unreadable, 0);
    let lines = &answer.lines;
    assert_eq!(lines.len(), 3);
    assert!(lines.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    assert_eq!(lines[0].host, "web-1");
    assert_eq!(
        lines[1].host, "web-2",
        "the label's escape sequence is gone"
    );
    assert_eq!(lines[1].priority, Priority::new(6));
    assert_eq!(lines[2].priority, Priority::new(3));
    let shown: Vec<String> = lines.iter().map(|l| l.shown(false)).collect();
    assert_eq!(shown[0], "Completed 401 for ‹ip› user=‹email›");
    assert_eq!(shown[1], "GET /api/v1/timelines/home?access_token=‹…› ");
    assert_eq!(
        shown[2],
        "MISCONF Redis is configured to save RDB snapshots"
    );

    // The selector the mapping made, as Loki received it.
    let head = &server.requests()[0];
    let decoded: String = url::form_urlencoded::parse(
        head.split_whitespace()
            .nth(1)
            .and_then(|p| p.split_once('?'))
            .map(|(_, q)| q)
            .unwrap_or("")
            .as_bytes(),
    )
    .filter(|(k, _)| k == "query")
    .map(|(_, v)| v.into_owned())
    .collect();
    assert_eq!(
        decoded,
        r#"{unit=~"mastodon-web\\.service", host=~"web-1|web-2"}"#
    );
    assert!(head.contains("start=1700000000000000000"), "{head}");
    assert!(head.contains("direction=backward"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_mapping_changes_the_selector_and_labels() {
    let server = ScriptedHttp::start();
    let logs = LogsConfig {
        loki_selector: r#"{service_name=~"$unit", instance=~"$host", env="prod"}"#.into(),
        loki_host_label: "instance".into(),
        loki_unit_label: "service_name".into(),
        ..LogsConfig::default()
    };
    let mut loki = reader(&server, &logs);
    let (hosts, units) = args();
    let path = loki.path(&hosts, &units, Window::Tail, END, 10);
    assert!(path.contains("env%3D%22prod%22"), "{path}");
    server.route(
        &path,
        Reply::json(
            r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"instance":"web-9","service_name":"mastodon-web"},"values":[["1700000000000000001","ok"]]}]}}"#,
        ),
    );
    let answer = loki
        .read(&hosts, &units, Window::Tail, END, 10, DEADLINE)
        .await
        .expect("read");
    assert_eq!(answer.lines[0].host, "web-9");
    assert_eq!(answer.lines[0].unit, "mastodon-web");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_errors_a_hung_server_and_a_huge_answer_are_named() {
    let server = ScriptedHttp::start();
    let logs = LogsConfig::default();
    let mut loki = reader(&server, &logs);
    let (hosts, units) = args();
    let read = |w: &str| Window::parse(w).expect("window");

    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "1m",
            Reply::json("<html>not json</html>"),
            "loki main: not Loki's query_range JSON",
        ),
        (
            "5m",
            Reply::Body(
                400,
                "text/plain",
                b"parse error at line 1, col 2: syntax error\x1b[2J".to_vec(),
            ),
            "loki main: HTTP 400 (parse error at line 1, col 2: syntax error)",
        ),
        (
            "15m",
            Reply::Hang,
            "loki main: no complete answer before the deadline",
        ),
        (
            "1h",
            Reply::json(format!(
                r#"{{"status":"success","data":{{"resultType":"streams","result":[{{"stream":{{}},"values":[["1","{}"]]}}]}}}}"#,
                "x".repeat(1024 * 1024)
            )),
            "loki main: the answer is larger than 64 KiB",
        ),
    ];
    for (window, reply, expected) in cases {
        let path = loki.path(&hosts, &units, read(window), END, 100);
        server.route(&path, reply);
        let err = loki
            .read(
                &hosts,
                &units,
                read(window),
                END,
                100,
                Duration::from_millis(800),
            )
            .await
            .expect_err(window);
        assert!(err.starts_with(expected), "{window}: {err}");
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
