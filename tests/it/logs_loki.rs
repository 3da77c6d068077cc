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

// Following: Loki's `tail` websocket, from a stand-in that speaks its documented protocol.

mod tail {
    use std::time::Duration;

    use mastop::config::{Config, EndpointConfig, LogsConfig, SecretRef};
    use mastop::engine::logs::{LogEvent, LogRead, LogReaders};
    use mastop::logs::LogLine;
    use mastop::logs::query::{UnitPattern, Window};
    use mastop::sources::loki::{LokiReader, TailError};
    use tokio::sync::mpsc;
    use tokio_tungstenite::tungstenite::Message;

    use crate::support::loki_tail::{LokiTailServer, Session, Step, param};

    /// The newest line `query_range` gives; the tail goes on right after it.
    const Q0: i128 = 1_700_000_000_000_000_000;
    const HANG_GUARD: Duration = Duration::from_secs(30);

    fn query_range(lines: &[(i128, &str)]) -> String {
        let values: Vec<String> = lines
            .iter()
            .map(|(ns, line)| format!(r#"["{ns}","{line}"]"#))
            .collect();
        format!(
            r#"{{"status":"success","data":{{"resultType":"streams","result":[{{"stream":{{"host":"web-1","unit":"mastodon-web.service"}},"values":[{}]}}]}}}}"#,
            values.join(",")
        )
    }

    fn tail_message(lines: &[(i128, &str)]) -> Step {
        let values: Vec<String> = lines
            .iter()
            .map(|(ns, line)| format!(r#"["{ns}","{line}"]"#))
            .collect();
        Step::Send(Message::text(format!(
            r#"{{"streams":[{{"stream":{{"host":"web-1","unit":"mastodon-web.service"}},"values":[{}]}}]}}"#,
            values.join(",")
        )))
    }

    /// Follows `mastodon-web` on `web-1` (no `[[host]]`: Loki is asked) with a bearer token.
    fn follow(
        server: &LokiTailServer,
        token: &tempfile::NamedTempFile,
    ) -> mpsc::Receiver<LogEvent> {
        let mut entry = EndpointConfig::new("main", server.url());
        entry.bearer_token = Some(SecretRef::File(token.path().to_path_buf()));
        let mut config = Config::default();
        config.loki.push(entry);
        let readers = LogReaders::live(config);
        let (tx, rx) = mpsc::channel(64);
        let read = LogRead {
            target: "web-1".into(),
            units: vec![UnitPattern::parse("mastodon-web").expect("unit")],
            window: Window::Tail,
            max_lines: 500,
            follow: true,
        };
        tokio::spawn(async move { readers.stream(read, tx).await });
        rx
    }

    fn token() -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("token file");
        std::fs::write(file.path(), "tail-token-7\n").expect("write token");
        file
    }

    #[derive(Default, Debug)]
    struct Seen {
        lines: Vec<LogLine>,
        notes: Vec<String>,
        dropped: u64,
        unreadable: usize,
    }

    impl Seen {
        fn shown(&self) -> Vec<String> {
            self.lines.iter().map(|l| l.shown(false)).collect()
        }

        fn has(&self, text: &str) -> bool {
            self.shown().iter().any(|s| s.contains(text))
        }
    }

    /// Takes events until `done` holds of what was seen (checked also while nothing comes).
    async fn until(
        rx: &mut mpsc::Receiver<LogEvent>,
        seen: &mut Seen,
        done: impl Fn(&Seen) -> bool,
    ) {
        let guard = tokio::time::Instant::now() + HANG_GUARD;
        while !done(seen) {
            assert!(
                tokio::time::Instant::now() < guard,
                "hang guard; seen so far: {seen:?}"
            );
            match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
                Ok(Some(LogEvent::Lines {
                    lines,
                    unreadable,
                    dropped,
                })) => {
                    seen.lines.extend(lines);
                    seen.unreadable += unreadable;
                    seen.dropped += dropped;
                }
                Ok(Some(LogEvent::Failed(why))) => seen.notes.push(why),
                Ok(Some(LogEvent::Ended(why))) => panic!("the follow ended: {why}"),
                Ok(None) => panic!("the reading went away"),
                Err(_) => {}
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn following_reads_the_tail_redacted_and_counts_loki_s_dropped_entries() {
        let server = LokiTailServer::start(&query_range(&[(Q0, "booted")])).await;
        server.then(Session::Steps(vec![Step::Send(Message::text(format!(
            r#"{{"streams":[{{"stream":{{"host":"web-1\u001b]0;pwned\u0007","unit":"mastodon-web.service\u001b[31m","level":"error"}},
              "values":[["{}","Completed 401 for 198.51.100.23 user=dana@example.net"],
                        ["{}","GET /api/v1/timelines/home?access_token=Zx81secret \u001b[2J"],
                        ["{}","Authorization: Bearer abcdef0123456789abcdef \u001b]8;;http://evil/\u0007x"]]}}],
              "dropped_entries":[{{"labels":{{"host":"web-1"}},"timestamp":"{}"}},
                                 {{"labels":{{"host":"web-1"}},"timestamp":"{}"}}]}}"#,
            Q0 + 5,
            Q0 + 6,
            Q0 + 7,
            Q0 + 2,
            Q0 + 3
        )))]));
        let token = token();
        let mut rx = follow(&server, &token);
        let mut seen = Seen::default();
        until(&mut rx, &mut seen, |s| s.lines.len() == 4 && s.dropped == 2).await;

        assert_eq!(seen.dropped, 2, "Loki's dropped entries are counted");
        assert!(seen.notes.is_empty(), "{:?}", seen.notes);
        let shown = seen.shown();
        assert_eq!(shown[0], "booted");
        assert_eq!(shown[1], "Completed 401 for ‹ip› user=‹email›");
        assert_eq!(shown[2], "GET /api/v1/timelines/home?access_token=‹…› ");
        for (line, text) in seen.lines.iter().zip(&shown) {
            assert!(!line.host.contains('\u{1b}') && !line.unit.contains('\u{1b}'));
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{text:?}"
            );
            for secret in ["dana@", "198.51.100.23", "Zx81secret", "abcdef0123456789"] {
                assert!(!text.contains(secret), "{secret} in {text:?}");
            }
        }
        assert_eq!(seen.lines[1].host, "web-1");
        assert_eq!(seen.lines[1].unit, "mastodon-web.service");

        // One window read, then one tail from right after its newest line, with the
        // endpoint's credentials on the upgrade.
        assert_eq!(server.requests_to("query_range").len(), 1);
        let tails = server.requests_to("tail");
        assert_eq!(tails.len(), 1);
        assert_eq!(server.tail_starts(), [Q0 + 1]);
        assert!(
            tails[0]
                .lines()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer tail-token-7")),
            "{}",
            tails[0]
        );
        assert_eq!(
            param(&tails[0], "query").as_deref(),
            Some(r#"{unit=~"mastodon-web(\\.service)?", host=~"web-1"}"#)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_closed_tail_is_reopened_after_the_newest_line_without_duplicates() {
        let server = LokiTailServer::start(&query_range(&[(Q0, "booted")])).await;
        server.then(Session::Steps(vec![
            tail_message(&[(Q0 + 10, "first")]),
            tail_message(&[(Q0 + 20, "second")]),
            Step::Close,
        ]));
        // Loki sends what it holds from `start` on: a start at or before "second" would
        // send it again.
        server.then(Session::Steps(vec![tail_message(&[
            (Q0 + 10, "first"),
            (Q0 + 20, "second"),
            (Q0 + 30, "third"),
        ])]));
        let token = token();
        let mut rx = follow(&server, &token);
        let mut seen = Seen::default();
        until(&mut rx, &mut seen, |s| s.has("third")).await;
        assert_eq!(seen.shown(), ["booted", "first", "second", "third"]);
        assert_eq!(server.tail_starts(), [Q0 + 1, Q0 + 21]);
        assert_eq!(server.requests_to("query_range").len(), 1, "no poll");
        assert!(
            seen.notes.is_empty(),
            "a close is not a failure: {:?}",
            seen.notes
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_upgrade_falls_back_to_polling_said_once() {
        let server = LokiTailServer::start(&query_range(&[(Q0, "booted")])).await;
        server.otherwise(Session::Refuse(404));
        let token = token();
        let mut rx = follow(&server, &token);
        let mut seen = Seen::default();
        // The window read and two polls.
        until(&mut rx, &mut seen, |_| {
            server.requests_to("query_range").len() >= 3
        })
        .await;
        server.set_query_range(&query_range(&[(Q0 + 5_000, "polled"), (Q0, "booted")]));
        until(&mut rx, &mut seen, |s| s.has("polled")).await;
        let polls = server.requests_to("query_range").len();
        until(&mut rx, &mut seen, |_| {
            server.requests_to("query_range").len() >= polls + 2
        })
        .await;

        assert_eq!(seen.shown(), ["booted", "polled"], "each line once");
        assert_eq!(
            server.requests_to("tail").len(),
            1,
            "the tail is asked once"
        );
        assert_eq!(seen.notes.len(), 1, "{:?}", seen.notes);
        assert_eq!(
            seen.notes[0],
            "loki main: the tail websocket was refused: HTTP 404 (404 page not found): \
             following by asking query_range every second instead"
        );
        // Polls carry the same credentials, and the last seconds.
        let last = server.requests_to("query_range").pop().expect("a poll");
        assert!(last.contains("direction=backward"), "{last}");
        assert!(
            last.lines()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer tail-token-7")),
            "{last}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_on_the_tail_is_named_and_the_follow_goes_on() {
        let server = LokiTailServer::start(&query_range(&[(Q0, "booted")])).await;
        server.then(Session::Steps(vec![
            Step::Send(Message::text("<html>\u{1b}[2J not json")),
            Step::Send(Message::binary(vec![0u8, 159, 146, 150])),
            Step::Send(Message::text(
                r#"{"streams":[{"stream":{},"values":[["x","y"]]}]"#,
            )),
            Step::Send(Message::text(r#"{"streams":{"oops":1}}"#)),
            tail_message(&[(Q0 + 9, "after the garbage")]),
        ]));
        let token = token();
        let mut rx = follow(&server, &token);
        let mut seen = Seen::default();
        until(&mut rx, &mut seen, |s| s.has("after the garbage")).await;
        assert_eq!(seen.shown(), ["booted", "after the garbage"]);
        assert_eq!(seen.notes.len(), 4, "{:?}", seen.notes);
        assert!(
            seen.notes[0].starts_with("loki main: a message is not Loki's tail JSON"),
            "{:?}",
            seen.notes
        );
        assert_eq!(
            seen.notes[1],
            "loki main: a binary message, not Loki's tail JSON"
        );
        assert!(seen.notes.iter().all(|n| !n.contains('\u{1b}')));
        assert_eq!(server.requests_to("tail").len(), 1, "the socket went on");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_tail_is_pinged_and_a_mute_one_is_found_hung() {
        let server = LokiTailServer::start(&query_range(&[])).await;
        server.then(Session::Steps(vec![
            Step::Listen(Duration::from_millis(1500)),
            tail_message(&[(Q0 + 1, "still here")]),
        ]));
        server.then(Session::Steps(vec![Step::Mute]));
        let mut reader = LokiReader::new(
            &EndpointConfig::new("main", server.url()),
            &LogsConfig::default(),
        )
        .expect("a loki reader");
        let hosts = vec!["web-1".to_string()];
        let units = vec![UnitPattern::parse("mastodon-web").expect("unit")];
        let deadline = Duration::from_millis(500);

        let mut quiet = reader
            .tail(&hosts, &units, Q0, 100, deadline)
            .await
            .expect("a tail");
        let batch = tokio::time::timeout(HANG_GUARD, quiet.next())
            .await
            .expect("hang guard")
            .expect("no error")
            .expect("a message");
        assert_eq!(batch.entries.lines[0].shown(false), "still here");
        assert!(server.pings() >= 1, "the quiet tail was pinged");

        let mut mute = reader
            .tail(&hosts, &units, Q0, 100, deadline)
            .await
            .expect("a tail");
        let err = tokio::time::timeout(HANG_GUARD, mute.next())
            .await
            .expect("hang guard")
            .err();
        assert_eq!(
            err,
            Some(TailError::Broken(
                "loki main: the tail said nothing and answered no ping for 500ms".into()
            ))
        );
    }
}
