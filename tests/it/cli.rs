//! The headless commands: `snapshot --json`, `check`, `demo --snapshot --json` and
//! `config check`, run as a user would run them, against real servers.

use crate::support;

use std::process::{Command, Output};

use serde_json::Value;

fn mastop(home: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop")
}

fn write_config(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("mastop.toml");
    std::fs::write(&path, text).expect("write config");
    path.to_str().expect("utf-8 path").to_string()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn component<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no component {id} in {doc:#}"))
}

#[test]
fn demo_snapshot_json_has_the_versioned_schema() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = mastop(home.path(), &["demo", "--snapshot", "--json", "--at", "4m"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["mode"], "demo");
    assert_eq!(doc["components"].as_array().map(Vec::len), Some(19));
    let sidekiq = component(&doc, "sidekiq/main");
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
        assert!(
            sidekiq["data"][key].is_u64(),
            "sidekiq data.{key} missing: {sidekiq:#}"
        );
    }
    let queue = &sidekiq["data"]["queues"][0];
    assert!(
        queue["name"].is_string() && queue["size"].is_u64() && queue["latency_s"].is_number(),
        "{queue:#}"
    );
    let tokyo = component(&doc, "edge/tokyo-1");
    assert_eq!(
        tokyo["health"]["level"], "CRIT",
        "4m into the script tokyo's certificate is critical"
    );
    assert_eq!(tokyo["source"]["state"], "ok");
    assert!(tokyo["figures"]["cert_days_left"].is_number());
    assert_eq!(doc["worst"], "CRIT");
}

#[test]
fn snapshot_and_check_against_real_servers() {
    let pg = support::Postgres::start();
    let redis = support::Redis::start();
    let hole = support::BlackHole::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "[defaults]\ndeadline = \"1s\"\n\n\
             [[postgres]]\nname = \"primary\"\nregion = \"eu-central\"\nurl = \"{}\"\n\n\
             [[redis]]\nname = \"sidekiq\"\nurl = \"{}\"\n\n\
             [[redis]]\nname = \"cache\"\nurl = \"redis://127.0.0.1:{}/0\"\nenabled = false\n",
            pg.url(),
            redis.url(),
            hole.port(),
        ),
    );
    let out = mastop(dir.path(), &["--config", &config, "snapshot", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(doc["mode"], "live");
    let primary = component(&doc, "postgres/primary");
    assert_eq!(primary["source"]["state"], "ok", "{primary:#}");
    assert_eq!(primary["region"], "eu-central");
    assert!(primary["figures"]["connections_used_pct"].is_number());
    let sidekiq = component(&doc, "redis/sidekiq");
    assert_eq!(sidekiq["source"]["state"], "ok", "{sidekiq:#}");
    assert_eq!(sidekiq["health"]["level"], "OK");
    let cache = component(&doc, "redis/cache");
    assert_eq!(
        cache["source"]["state"], "disabled",
        "a disabled source is never contacted"
    );
    assert_eq!(hole.accepted(), 0, "the disabled source must not connect");

    let out = mastop(dir.path(), &["--config", &config, "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "all enabled components OK:\n{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("OK postgres/primary - connections used")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("DISABLED redis/cache")),
        "{stdout}"
    );
}

#[test]
fn check_exits_2_when_a_backend_is_unreachable_and_3_without_components() {
    let hole = support::BlackHole::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            "[defaults]\ndeadline = \"300ms\"\n\n[[redis]]\nname = \"main\"\nurl = \"redis://127.0.0.1:{}/0\"\n",
            hole.port()
        ),
    );
    let out = mastop(dir.path(), &["--config", &config, "check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert_eq!(
        stdout.trim(),
        "CRIT redis/main - unreachable: no answer within 300ms"
    );

    let empty = write_config(dir.path(), "");
    let out = mastop(dir.path(), &["--config", &empty, "check"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "nothing configured is UNKNOWN, not OK"
    );
}

#[test]
fn config_check_accepts_the_example_and_rejects_mistakes_with_exit_2() {
    let home = tempfile::tempdir().expect("tempdir");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mastop.toml");
    let out = mastop(home.path(), &["--config", example, "config", "check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("config OK") && stdout.contains("2 postgres, 2 redis"),
        "{stdout}"
    );

    let bad = write_config(home.path(), "[ui]\ntheme = \"nope\"\n");
    let out = mastop(home.path(), &["--config", &bad, "config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ui.theme") && stderr.contains("nope"),
        "{stderr}"
    );

    // a broken user keymap in the config dir is reported with its file and line
    let keymap_dir = home.path().join(".config/mastop");
    std::fs::create_dir_all(&keymap_dir).expect("config dir");
    std::fs::write(
        keymap_dir.join("keymap.toml"),
        "[global]\n\"q\" = \"quitt\"\n",
    )
    .expect("keymap");
    let out = mastop(home.path(), &["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("keymap.toml:2:"), "{stderr}");
    assert!(stderr.contains("did you mean `quit`?"), "{stderr}");
}

#[test]
fn env_override_reaches_the_running_config() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args(["config", "check"])
        .env_clear()
        .env("HOME", home.path())
        .env("MASTOP_UI__THEME", "light")
        .output()
        .expect("run mastop");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("theme light") && stdout.contains("MASTOP_UI__THEME"),
        "{stdout}"
    );
}
