//! Every front end tells the same truth. For one config, with the operator's thresholds
//! overridden in each direction, against a real Redis and a real PostgreSQL: the console's
//! overview rows (drawn on a test terminal from the engine's scheduler), `mastop check`'s
//! lines and exit code, and `mastop snapshot --json`'s health agree, component by
//! component, on the level and the reason.

use crate::support;

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::SystemTime;

use mastop::engine::{Engine, Options};
use mastop::model::SourceState;
use mastop::tui::app::App;
use mastop::tui::keymap::Keymap;
use mastop::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// What one front end says of one component: its level word and its first reason.
#[derive(Debug, Clone, PartialEq)]
struct Verdict {
    level: String,
    reason: Option<String>,
}

struct Fixture {
    home: tempfile::TempDir,
    config: std::path::PathBuf,
}

impl Fixture {
    fn new(pg: &support::Postgres, redis: &support::Redis, thresholds: &str) -> Fixture {
        let home = tempfile::tempdir().expect("temp dir");
        let config = home.path().join("mastop.toml");
        // A long cadence: the console's scheduler polls each source once in this test,
        // as `check` and `snapshot` do, so all three judge a first reading.
        let text = format!(
            r#"
[defaults]
cadence = "10m"
deadline = "10s"

[[postgres]]
name = "primary"
url = "{pg}"

[[redis]]
name = "main"
url = "{redis}"

{thresholds}
"#,
            pg = pg.url(),
            redis = redis.url(),
        );
        std::fs::write(&config, text).expect("write config");
        Fixture { home, config }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mastop"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("run mastop")
    }

    fn config(&self) -> mastop::config::Config {
        let env: Vec<(String, String)> = Vec::new();
        mastop::config::load(Some(&self.config), None, &env)
            .expect("config loads")
            .config
    }
}

/// The console: the engine's sources run by the real scheduler into the engine's fleet,
/// drawn on a 200-column test terminal; each overview row read back from the screen.
fn console(fixture: &Fixture) -> BTreeMap<String, Verdict> {
    let engine = Engine::new(fixture.config(), Options::default());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let fleet = rt.block_on(async {
        let specs = engine.sources();
        let mut fleet = engine.fleet_for(&specs);
        let cancel = CancellationToken::new();
        let (mut feed, _) = mastop::sources::spawn_all(specs, &cancel);
        while fleet
            .components()
            .iter()
            .any(|c| c.status.state == SourceState::Pending)
        {
            feed.changed().await;
            for (id, update) in feed.drain() {
                fleet.apply(&id, update.status, update.reading);
            }
        }
        cancel.cancel();
        fleet
    });
    let mut app = App::new(
        fleet,
        Keymap::builtin("default").expect("keymap"),
        Theme::builtin("dark").expect("theme"),
        SystemTime::now(),
    );
    app.rebuild();
    let mut term = Terminal::new(TestBackend::new(240, 30)).expect("terminal");
    term.draw(|f| mastop::tui::views::draw(f, &app))
        .expect("draw");
    let buffer = term.backend().buffer().clone();
    let width = buffer.area.width as usize;
    let lines: Vec<String> = buffer
        .content
        .chunks(width)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect();
    let mut out = BTreeMap::new();
    for c in app.fleet.components() {
        let id = c.meta.id.as_str();
        let line = lines
            .iter()
            .find(|l| l.split_whitespace().any(|w| w == id))
            .unwrap_or_else(|| panic!("no row for {id} on screen:\n{}", lines.join("\n")));
        let words: Vec<&str> = line
            .trim_matches(|ch: char| ch == '│' || ch.is_whitespace())
            .split_whitespace()
            .collect();
        // "✖ CRIT postgres/primary …": the symbol, then the word.
        let level = words.get(1).copied().unwrap_or_default().to_string();
        let reason = c.health.reasons.first().cloned();
        if let Some(r) = &reason {
            assert!(
                line.contains(r.as_str()),
                "the console row for {id} does not show its reason {r:?}:\n{line}"
            );
        }
        out.insert(id.to_string(), Verdict { level, reason });
    }
    out
}

/// `mastop check`: "LEVEL id - figure - reason; reason" per component, and the exit
/// code. The reason is taken to be the one the line ends with, when it names one of the
/// component's reasons as the other front ends state them.
fn check(
    fixture: &Fixture,
    reasons: &BTreeMap<String, Verdict>,
) -> (BTreeMap<String, Verdict>, i32) {
    let out = fixture.run(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let mut verdicts = BTreeMap::new();
    for line in stdout.lines() {
        let mut words = line.splitn(3, ' ');
        let level = words.next().unwrap_or_default().to_string();
        let id = words.next().unwrap_or_default().to_string();
        let rest = words.next().unwrap_or_default();
        let reason = rest
            .rsplit(" - ")
            .next()
            .and_then(|tail| tail.split("; ").next())
            .filter(|first| {
                reasons
                    .get(&id)
                    .and_then(|v| v.reason.as_deref())
                    .is_some_and(|r| r == *first)
            })
            .map(str::to_string);
        verdicts.insert(id, Verdict { level, reason });
    }
    assert!(
        !verdicts.is_empty(),
        "check printed nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (verdicts, out.status.code().expect("exit code"))
}

/// `mastop snapshot --json`: each component's health.
fn snapshot(fixture: &Fixture) -> BTreeMap<String, Verdict> {
    let out = fixture.run(&["snapshot", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "snapshot is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    doc["components"]
        .as_array()
        .expect("components")
        .iter()
        .map(|c| {
            let level = c["health"]["level"]
                .as_str()
                .expect("level")
                .to_ascii_uppercase();
            let reason = c["health"]["reasons"]
                .as_array()
                .and_then(|r| r.first())
                .and_then(Value::as_str)
                .map(str::to_string);
            (
                c["id"].as_str().expect("id").to_string(),
                Verdict { level, reason },
            )
        })
        .collect()
}

fn exit_code(level: &str) -> i32 {
    match level {
        "OK" => 0,
        "WARN" => 1,
        "CRIT" => 2,
        _ => 3,
    }
}

fn severity(level: &str) -> u8 {
    match level {
        "OK" => 0,
        "WARN" => 1,
        "CRIT" => 3,
        _ => 2,
    }
}

/// One threshold case: the config's `[thresholds]`, and the level the overridden
/// component must be judged at by every front end.
fn agree(
    pg: &support::Postgres,
    redis: &support::Redis,
    thresholds: &str,
    component: &str,
    expected: &str,
) {
    let fixture = Fixture::new(pg, redis, thresholds);
    let console = console(&fixture);
    let (check, code) = check(&fixture, &console);
    let snapshot = snapshot(&fixture);
    assert_eq!(
        console, check,
        "console and check disagree with {thresholds}"
    );
    assert_eq!(
        console, snapshot,
        "console and snapshot disagree with {thresholds}"
    );
    let verdict = &console[component];
    assert_eq!(
        verdict.level, expected,
        "{component} with {thresholds}: {verdict:?}"
    );
    let worst = console
        .values()
        .map(|v| v.level.as_str())
        .max_by_key(|l| severity(l))
        .expect("components");
    assert_eq!(
        code,
        exit_code(worst),
        "check's exit code with {thresholds}"
    );
}

#[test]
fn console_check_and_snapshot_judge_alike_in_both_directions() {
    let pg = support::Postgres::start();
    let redis = support::Redis::start();
    // One hit and one miss: a 50% hit ratio on Redis's first reading.
    redis.cli(&["SET", "present", "1"]);
    redis.cli(&["GET", "present"]);
    redis.cli(&["GET", "absent"]);

    // Rising figures: a threshold the live value is at or above.
    agree(
        &pg,
        &redis,
        "[thresholds.redis]\nconnected_clients = { warn = 0, crit = 0 }",
        "redis/main",
        "CRIT",
    );
    agree(
        &pg,
        &redis,
        "[thresholds.postgres]\nconnections = { warn = 1, crit = 100000 }",
        "postgres/primary",
        "WARN",
    );
    // Falling figures: a threshold the live value is at or below.
    agree(
        &pg,
        &redis,
        "[thresholds.redis]\nhit_ratio_pct = { warn = 60, crit = 40 }",
        "redis/main",
        "WARN",
    );
    agree(
        &pg,
        &redis,
        "[thresholds.postgres]\ncache_hit_pct = { warn = 200, crit = 150 }",
        "postgres/primary",
        "CRIT",
    );
    // And without overrides, the built-in thresholds find a fresh server healthy.
    agree(&pg, &redis, "", "redis/main", "OK");
}

/// A host's known-signature rate, read from its journal over SSH, is judged alike too:
/// a MISCONF flood past its configured line is the host's first reason everywhere, and
/// no line of the journal reaches any of them.
#[test]
fn a_hosts_log_signature_rate_is_judged_alike_and_no_line_leaks() {
    use support::journal::{Entry, now_us, write_journal};
    let sshd = support::Sshd::start(&[
        ("mastodon-web.service", "active", "running"),
        ("nftables.service", "active", "exited"),
    ]);
    let journal = sshd.dir().join("journal");
    let now = now_us();
    let mut entries: Vec<Entry> = (0..120)
        .map(|i| {
            Entry::new(
                now - 50_000_000 + i * 300_000,
                "mastodon-web.service",
                3,
                "MISCONF Redis is configured to save RDB snapshots (alice@example.org)",
            )
        })
        .collect();
    entries.push(Entry::new(
        now - 1_000_000,
        "mastodon-web.service",
        6,
        "Delivered mail to bob@example.net",
    ));
    write_journal(&journal, &entries);
    let home = tempfile::tempdir().expect("temp dir");
    let config = home.path().join("mastop.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\ncadence = \"10m\"\ndeadline = \"10s\"\n\n{}journal_directory = \"{}\"\n\n\
             [[logs.signature]]\nname = \"Redis MISCONF\"\npattern = \"MISCONF Redis\"\n\
             warn_per_min = 10\ncrit_per_min = 100\n\n\
             # The test machine's own load and memory are not what is judged here.\n\
             [thresholds.host]\nload_per_cpu = {{ warn = 1000, crit = 2000 }}\n\
             memory_used_pct = {{ warn = 101, crit = 102 }}\n\
             swap_used_pct = {{ warn = 101, crit = 102 }}\n",
            sshd.config_toml("web-1", &["mastodon-web"]),
            journal.display()
        ),
    )
    .expect("write config");
    let fixture = Fixture { home, config };
    let console = console(&fixture);
    let (check, code) = check(&fixture, &console);
    let snapshot = snapshot(&fixture);
    assert_eq!(console, check, "console and check disagree");
    assert_eq!(console, snapshot, "console and snapshot disagree");
    assert_eq!(
        console["host/web-1"],
        Verdict {
            level: "CRIT".into(),
            reason: Some("120 Redis MISCONF/min".into()),
        }
    );
    assert_eq!(code, 2);
    let json = fixture.run(&["snapshot", "--json"]);
    let text = String::from_utf8_lossy(&json.stdout);
    assert!(text.contains("\"log_signature_per_min\""), "{text}");
    for leak in ["alice", "bob@", "RDB snapshots", "Delivered"] {
        assert!(!text.contains(leak), "{leak} in the snapshot");
    }
}
