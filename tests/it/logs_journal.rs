//! A unit's journal over SSH, for real: journal files built by `systemd-journal-remote`
//! from Mastodon-shaped entries (priorities, units, hostile text), read by a real
//! `journalctl --directory` through the harness's real sshd.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use mastop::logs::buffer::LogBuffer;
use mastop::logs::query::{UnitPattern, Window};
use mastop::logs::signatures::Signatures;
use mastop::logs::{LogLine, Priority};
use mastop::sources::host::command_line::command_line;
use mastop::sources::journal::{FollowEvent, JournalHost, read_hosts};
use support::Sshd;
use support::journal::{Entry, now_us, write_journal};
use tokio::sync::{Semaphore, mpsc};

const DEADLINE: Duration = Duration::from_secs(10);
const MIN: i64 = 60_000_000;

fn journal_host(sshd: &Sshd, name: &str, dir: &std::path::Path) -> JournalHost {
    let mut host = sshd.host(name);
    host.journal_directory = Some(dir.display().to_string());
    JournalHost::new(
        &host,
        &sshd.ssh_config(),
        DEADLINE,
        Arc::new(Semaphore::new(4)),
    )
    .expect("a valid journal directory")
}

fn units(names: &[&str]) -> Vec<UnitPattern> {
    names
        .iter()
        .map(|n| UnitPattern::parse(n).expect("unit name"))
        .collect()
}

fn window(text: &str) -> Window {
    Window::parse(text).expect("window")
}

fn incident(now: i64) -> Vec<Entry> {
    vec![
        Entry::new(now - 2 * 60 * MIN, "mastodon-web.service", 6, "two hours ago"),
        Entry::new(
            now - 3 * MIN,
            "mastodon-web.service",
            3,
            "MISCONF Redis is configured to save RDB snapshots",
        ),
        Entry::new(
            now - 2 * MIN,
            "mastodon-web.service",
            3,
            "MISCONF Redis is configured to save RDB snapshots",
        ),
        Entry::new(
            now - 2 * MIN + 1,
            "mastodon-sidekiq-default.service",
            4,
            b"mail to alice@example.org from 203.0.113.7 \x1b]52;c;cHduZWQ=\x07\x1b[2J token=abcd1234 \xff"
                .to_vec(),
        ),
        Entry::new(
            now - MIN,
            "mastodon-sidekiq-push.service",
            3,
            "Redis::CannotConnectError: Error connecting to Redis",
        ),
        Entry::new(now - MIN + 5, "nginx.service", 4, "upstream timed out"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_journal_is_read_over_ssh_redacted_and_sanitised() {
    let sshd = Sshd::start_logging_commands(&[]);
    let dir = sshd.dir().join("journal");
    let now = now_us();
    write_journal(&dir, &incident(now));
    let mut host = journal_host(&sshd, "web-1", &dir);

    let web = host
        .read(
            &units(&["mastodon-web.service"]),
            window("15m"),
            1000,
            DEADLINE,
        )
        .await
        .expect("read the web unit");
    assert_eq!(web.unreadable, 0);
    let messages: Vec<&str> = web.lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(web.lines.iter().all(|l| l.priority == Priority::new(3)));
    assert!(web.lines.iter().all(|l| l.host == "web-1"));
    assert!(web.lines[0].at_us < web.lines[1].at_us);

    // `tail` is not bounded by time: the two-hour-old line is there.
    let tail = host
        .read(
            &units(&["mastodon-web.service"]),
            Window::Tail,
            1000,
            DEADLINE,
        )
        .await
        .expect("tail");
    assert_eq!(tail.lines.len(), 3);
    assert_eq!(tail.lines[0].message, "two hours ago");

    // A glob as journalctl takes it: both Sidekiq units, the hostile line among them.
    let sidekiq = host
        .read(&units(&["mastodon-sidekiq*"]), window("1h"), 1000, DEADLINE)
        .await
        .expect("sidekiq glob");
    let names: Vec<&str> = sidekiq.lines.iter().map(|l| l.unit.as_str()).collect();
    assert_eq!(
        names,
        [
            "mastodon-sidekiq-default.service",
            "mastodon-sidekiq-push.service"
        ]
    );
    let hostile = &sidekiq.lines[0];
    assert!(
        hostile.message.contains("alice@example.org"),
        "raw kept in memory"
    );
    let shown = hostile.shown(false);
    for secret in ["alice", "example.org", "203.0.113.7", "abcd1234", "cHduZWQ"] {
        assert!(!shown.contains(secret), "{secret} shown in {shown:?}");
    }
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    assert!(shown.starts_with("mail to ‹email› from ‹ip›"), "{shown:?}");

    // Every read went over the one master connection, as the argv built for it.
    assert_eq!(sshd.open_masters(), 1);
    let sent = sshd.command_lines();
    assert_eq!(sent.len(), 3);
    let expected = host
        .query(&units(&["mastodon-sidekiq*"]), window("1h"), 1000, false)
        .argv();
    assert_eq!(sent[2], command_line(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_merge_by_time_and_signatures_are_counted_per_minute() {
    let a = Sshd::start(&[]);
    let b = Sshd::start(&[]);
    let now = now_us();
    let minute = now.div_euclid(MIN) * MIN - 10 * MIN;
    let dir_a = a.dir().join("journal");
    let dir_b = b.dir().join("journal");
    write_journal(
        &dir_a,
        &(0..40)
            .map(|i| {
                Entry::new(
                    minute + i * 2_000_000,
                    "mastodon-streaming.service",
                    3,
                    "ERR! Tried writing to closed socket",
                )
            })
            .collect::<Vec<_>>(),
    );
    write_journal(
        &dir_b,
        &(0..20)
            .map(|i| {
                Entry::new(
                    minute + 1_000_000 + i * 4_000_000,
                    "mastodon-streaming.service",
                    6,
                    "GET /api/v1/streaming 101",
                )
            })
            .collect::<Vec<_>>(),
    );
    let mut hosts = vec![
        journal_host(&a, "streaming-1", &dir_a),
        journal_host(&b, "streaming-2", &dir_b),
    ];
    let (lines, unreadable, errors) = read_hosts(
        &mut hosts,
        &units(&["mastodon-streaming.service"]),
        window("1h"),
        1000,
        DEADLINE,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(unreadable, 0);
    assert_eq!(lines.len(), 60);
    assert!(lines.windows(2).all(|w| w[0].at_us <= w[1].at_us));
    let hosts_in_order: Vec<&str> = lines.iter().take(4).map(|l| l.host.as_str()).collect();
    assert_eq!(
        hosts_in_order,
        ["streaming-1", "streaming-2", "streaming-1", "streaming-1"]
    );

    let signatures = Signatures::shipped();
    let mut buffer = LogBuffer::new(10_000);
    buffer.extend(lines, &signatures);
    let closed = signatures
        .list()
        .iter()
        .position(|s| s.name == "streaming closed socket")
        .expect("shipped signature");
    let m = minute.div_euclid(MIN);
    assert_eq!(buffer.counts().count(m, closed), 30);
    assert_eq!(buffer.counts().count(m + 1, closed), 10);
    // 30 a minute is below the flood threshold (60): counted, a figure, no finding yet.
    assert!(
        buffer
            .counts()
            .findings(&signatures, m, "streaming")
            .is_empty()
    );
    assert_eq!(buffer.counts().figure(&signatures, m).value, 30.0);

    // One host down: the other's lines still come, with the error beside them.
    let mut broken = a.host("streaming-3");
    broken.journal_directory = Some("/nonexistent/journal".into());
    hosts.push(
        JournalHost::new(
            &broken,
            &a.ssh_config(),
            DEADLINE,
            Arc::new(Semaphore::new(2)),
        )
        .expect("host"),
    );
    let (lines, _, errors) = read_hosts(
        &mut hosts,
        &units(&["mastodon-streaming.service"]),
        window("1h"),
        1000,
        DEADLINE,
    )
    .await;
    assert_eq!(lines.len(), 60);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("journal of streaming-3: journalctl exited 1: Failed to open"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("journal_directory"), "{}", errors[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_streams_new_lines_and_a_flood_is_capped_with_an_honest_count() {
    let sshd = Sshd::start(&[]);
    let dir = sshd.dir().join("journal");
    let now = now_us();
    // A flood: 20,000 lines written within two seconds.
    let flood: Vec<Entry> = (0..20_000)
        .map(|i| {
            Entry::new(
                now - 5 * MIN + i * 100,
                "mastodon-streaming.service",
                3,
                format!("Tried writing to closed socket #{i}"),
            )
        })
        .collect();
    write_journal(&dir, &flood);
    let mut host = journal_host(&sshd, "streaming-1", &dir);
    let (tx, mut rx) = mpsc::channel(4);
    let _following = host
        .follow(
            &units(&["mastodon-streaming.service"]),
            window("15m"),
            20_000,
            tx,
        )
        .await
        .expect("follow");

    let signatures = Signatures::shipped();
    let mut buffer = LogBuffer::new(5_000);
    let mut batches = 0;
    while buffer.received() < 20_000 {
        match tokio::time::timeout(DEADLINE, rx.recv()).await {
            Ok(Some(FollowEvent::Lines { lines, unreadable })) => {
                assert_eq!(unreadable, 0);
                batches += 1;
                buffer.extend(lines, &signatures);
            }
            other => panic!("follow stopped early: {other:?}"),
        }
    }
    assert!(batches > 1, "a flood arrives in batches");
    assert_eq!(buffer.len(), 5_000);
    assert_eq!(buffer.dropped(), 15_000);
    assert_eq!(
        buffer.lines().back().map(|l| l.message.as_str()),
        Some("Tried writing to closed socket #19999")
    );

    // A line written now arrives through the same follow.
    write_journal(
        &dir,
        &[Entry::new(
            now_us(),
            "mastodon-streaming.service",
            2,
            "appended while following",
        )],
    );
    let next: Vec<LogLine> = match tokio::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(FollowEvent::Lines { lines, .. })) => lines,
        other => panic!("no appended line: {other:?}"),
    };
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].message, "appended while following");
    assert_eq!(next[0].priority, Priority::new(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_directories_and_missing_journals_are_named() {
    let sshd = Sshd::start(&[]);
    let mut host = sshd.host("web-1");
    host.journal_directory = Some("relative/../journal".into());
    let err = JournalHost::new(
        &host,
        &sshd.ssh_config(),
        DEADLINE,
        Arc::new(Semaphore::new(1)),
    )
    .err()
    .expect("a relative directory is refused");
    assert!(err.starts_with("host web-1: journal directory"), "{err}");

    let empty = sshd.dir().join("empty-journal");
    std::fs::create_dir_all(&empty).expect("dir");
    let mut reader = journal_host(&sshd, "web-1", &empty);
    let answer = reader
        .read(
            &units(&["mastodon-web.service"]),
            Window::Tail,
            100,
            DEADLINE,
        )
        .await;
    let answer = answer.expect("an empty journal directory is no error");
    assert!(answer.lines.is_empty());
    assert_eq!(answer.unreadable, 0);

    // Unit names that are not systemd's never reach a command line.
    for bad in ["--directory=/", "web;id", "$(id)", "a b"] {
        assert!(UnitPattern::parse(bad).is_err(), "{bad}");
    }
}

fn mastop(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop")
}

#[test]
fn the_logs_command_prints_redacted_lines_and_exit_codes() {
    let sshd = Sshd::start(&[]);
    let dir = sshd.dir().join("journal");
    write_journal(&dir, &incident(now_us()));
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("mastop.toml");
    std::fs::write(
        &config,
        format!(
            "{}journal_directory = \"{}\"\n",
            sshd.config_toml("web-1", &["mastodon-web", "mastodon-sidekiq"]),
            dir.display()
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8 path");

    let out = mastop(
        home.path(),
        &[
            "--config",
            config,
            "logs",
            "web-1",
            "mastodon-sidekiq*",
            "--json",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["host"], "web-1");
    assert_eq!(lines[0]["unit"], "mastodon-sidekiq-default.service");
    assert_eq!(lines[0]["priority"], 4);
    assert_eq!(lines[1]["signatures"][0], "Sidekiq cannot reach Redis");
    for secret in ["alice", "203.0.113.7", "abcd1234", "\u{1b}"] {
        assert!(!stdout.contains(secret), "{secret} in {stdout}");
    }

    let out = mastop(
        home.path(),
        &[
            "--config",
            config,
            "logs",
            "role:mastodon-web",
            "mastodon-web",
            "--since",
            "1h",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout
            .lines()
            .all(|l| l.contains(" web-1 mastodon-web.service err MISCONF")
                && l.ends_with("[Redis MISCONF]")),
        "{stdout}"
    );

    let out = mastop(
        home.path(),
        &["--config", config, "logs", "db-9", "postgresql"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`db-9` is not a configured [[host]]"));
    let out = mastop(home.path(), &["--config", config, "logs", "web-1", "a;b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// The console's host poll and its log view share one master per host: with web-1 polled
/// through a counting proxy, reading and then following its journal opens no connection
/// and sends one command each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_read_on_a_polled_host_rides_the_polls_master() {
    use mastop::engine::logs::{LogEvent, LogRead};
    use mastop::engine::{Engine, Options};
    use mastop::sources::scheduler::poll_bounded;

    let sshd = Sshd::start_logging_commands(&[
        ("mastodon-web.service", "active", "running"),
        ("nftables.service", "active", "exited"),
    ]);
    let proxy = support::Proxy::start(sshd.port());
    let key = std::fs::read_to_string(sshd.dir().join("host_key.pub")).expect("host key");
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    std::fs::write(
        sshd.known_hosts(),
        format!("[127.0.0.1]:{} {}\n", proxy.port(), key.join(" ")),
    )
    .expect("known_hosts for the proxy");
    let dir = sshd.dir().join("journal");
    write_journal(&dir, &incident(now_us()));
    let text = format!(
        "{}journal_directory = \"{}\"\nlog_units = []\n",
        sshd.config_toml("web-1", &["mastodon-web"]).replace(
            &format!("port = {}\n", sshd.port()),
            &format!("port = {}\n", proxy.port())
        ),
        dir.display()
    );
    let env: Vec<(String, String)> = Vec::new();
    let config = mastop::config::load_str(&text, "mastop.toml", &env)
        .expect("config")
        .0;
    let engine = Engine::new(config, Options::default());
    let mut specs = engine.sources();
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id.as_str() == "host/web-1")
        .expect("web-1's source");
    poll_bounded(spec)
        .await
        .expect("poll within its deadline")
        .expect("poll ok");
    assert_eq!(proxy.connections(), 1, "the poll's handshake");
    let masters = sshd.master_dirs();
    assert_eq!(masters.len(), 1);
    let polled = sshd.command_lines().len();

    let readers = engine.log_readers();
    let read = |follow: bool| LogRead {
        target: "web-1".into(),
        units: units(&["mastodon-web.service"]),
        window: window("15m"),
        max_lines: 1000,
        follow,
    };
    let (tx, mut rx) = mpsc::channel(16);
    tokio::time::timeout(DEADLINE, readers.stream(read(false), tx))
        .await
        .expect("read within its deadline");
    let mut lines = Vec::new();
    while let Some(event) = rx.recv().await {
        match event {
            LogEvent::Lines { lines: batch, .. } => lines.extend(batch),
            LogEvent::Failed(e) => panic!("read failed: {e}"),
            LogEvent::Ended(_) => break,
        }
    }
    assert_eq!(lines.len(), 2, "the last 15 minutes of mastodon-web");
    assert_eq!(proxy.connections(), 1, "no new connection for the read");
    assert_eq!(sshd.master_dirs(), masters);
    assert_eq!(sshd.command_lines().len(), polled + 1, "one round trip");

    // Following too: one more channel on the same master.
    let (tx, mut rx) = mpsc::channel(16);
    let following = tokio::spawn({
        let readers = readers.clone();
        async move { readers.stream(read(true), tx).await }
    });
    let mut followed = 0;
    while followed < 2 {
        match tokio::time::timeout(DEADLINE, rx.recv()).await {
            Ok(Some(LogEvent::Lines { lines, .. })) => followed += lines.len(),
            other => panic!("follow stopped early: {other:?}"),
        }
    }
    following.abort();
    assert_eq!(proxy.connections(), 1, "no new connection for following");
    assert_eq!(sshd.master_dirs(), masters);
    assert_eq!(sshd.command_lines().len(), polled + 2);
}
