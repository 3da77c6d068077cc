//! A Sidekiq process on a host whose roles leave out `mastodon-sidekiq` (a CDN node running
//! Sidekiq was one of Hachyderm's incidents) is critical, in `check` as in the console: the
//! engine hands the configured hosts to the Sidekiq source.

use crate::support;

use std::process::Command;
use std::time::Duration;

fn check(home: &std::path::Path, config: &str) -> (String, Option<i32>) {
    let path = home.join("mastop.toml");
    std::fs::write(&path, config).expect("write config");
    let out = Command::new(env!("CARGO_BIN_EXE_mastop"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn sidekiq_on_a_host_without_the_sidekiq_role_is_critical() {
    let redis = support::Redis::start();
    let mut peer = support::sidekiq::SidekiqPeer::new(&redis);
    peer.run(&["default"], 1);
    peer.wait_for(
        "the Sidekiq process to register",
        Duration::from_secs(60),
        || redis.cli(&["SCARD", "processes"]).trim() == "1",
    );
    // Sidekiq names its process after the machine it runs on: this one.
    let hostname = nix::unistd::gethostname()
        .expect("hostname")
        .into_string()
        .expect("utf-8 hostname");
    let home = tempfile::tempdir().expect("temp HOME");
    let config = |roles: &str| {
        format!(
            "[[sidekiq]]\nname = \"main\"\nurl = \"{}\"\n\n\
             [[host]]\nname = \"{hostname}\"\naddress = \"127.0.0.1\"\nport = {}\nroles = [{roles}]\n\
             deadline = \"1s\"\nenabled = false\n",
            redis.url(),
            support::free_port(),
        )
    };

    let (out, _) = check(home.path(), &config("\"edge-cdn\""));
    let line = out
        .lines()
        .find(|l| l.contains("sidekiq/main"))
        .unwrap_or_else(|| panic!("no sidekiq line:\n{out}"));
    assert!(line.starts_with("CRIT "), "{line}");
    assert!(
        line.contains(&format!(
            "Sidekiq runs on {hostname} whose roles are edge-cdn"
        )),
        "{line}"
    );

    let (out, _) = check(home.path(), &config("\"mastodon-sidekiq\""));
    let line = out
        .lines()
        .find(|l| l.contains("sidekiq/main"))
        .unwrap_or_else(|| panic!("no sidekiq line:\n{out}"));
    assert!(!line.contains("Sidekiq runs on"), "{line}");
}
