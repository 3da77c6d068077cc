//! `[live]`: where the console's fleet comes from, and how long a standby collector waits
//! on a silent leader.
//!
//! ```toml
//! [live]
//! from = "ops_store"        # watch the room the collector publishes; "production" polls directly
//! leader_timeout = "10s"    # a leading collector silent this long is replaced by a standby
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::locate::Seg;

/// Where a console reads the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveFrom {
    /// Poll the configured backends directly.
    #[default]
    Production,
    /// Draw what `mastop collect` publishes to the ops store; contact no backend.
    OpsStore,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfig {
    #[serde(default)]
    pub from: LiveFrom,
    /// How old the leading collector's beat may grow before a standby ends its store
    /// session and takes over.
    #[serde(
        default = "default_leader_timeout",
        deserialize_with = "super::types::de_duration"
    )]
    pub leader_timeout: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            from: LiveFrom::default(),
            leader_timeout: default_leader_timeout(),
        }
    }
}

/// Five beats at the default cadence: a leader that misses one or two beats (a slow store
/// call) keeps the lead, one that misses five is replaced.
fn default_leader_timeout() -> Duration {
    Duration::from_secs(10)
}

/// Shorter than this, a leader's beats (a quarter of the timeout apart at the most, and
/// never closer than the smallest cadence) would crowd the store.
pub const MIN_LEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Longer than this, a hung collector leaves the room frozen for too long.
pub const MAX_LEADER_TIMEOUT: Duration = Duration::from_secs(600);

/// What in `config` reaches production with credentials of its own: the entries a
/// watching console must not hold, as `[[postgres]] primary`. Edge probes are left out:
/// they read the public site, as any visitor does.
pub fn production_access(config: &super::Config) -> Vec<String> {
    let endpoints = [
        ("postgres", &config.postgres),
        ("pgbouncer", &config.pgbouncer),
        ("redis", &config.redis),
        ("sidekiq", &config.sidekiq),
        ("elasticsearch", &config.elasticsearch),
        ("streaming", &config.streaming),
        ("web", &config.web),
        ("prometheus", &config.prometheus),
        ("alertmanager", &config.alertmanager),
        ("loki", &config.loki),
    ];
    let mut out: Vec<String> = endpoints
        .iter()
        .flat_map(|(section, entries)| {
            entries
                .iter()
                .filter(|e| e.enabled)
                .map(move |e| format!("[[{section}]] {}", crate::sanitize::sanitize(&e.name)))
        })
        .collect();
    out.extend(
        config
            .hosts
            .iter()
            .filter(|h| h.enabled)
            .map(|h| format!("[[host]] {}", crate::sanitize::sanitize(&h.name))),
    );
    out
}

/// Problems in `[live]`: watching needs a store to watch, and a leader timeout must be
/// neither too short to beat within nor so long that a hung leader freezes the room.
pub(super) fn validate(
    config: &LiveConfig,
    has_ops_store: bool,
) -> Vec<(Vec<Seg>, String, Option<String>)> {
    let at = |key: &str| vec![Seg::Key("live".into()), Seg::Key(key.into())];
    let mut problems = Vec::new();
    if config.from == LiveFrom::OpsStore && !has_ops_store {
        problems.push((
            at("from"),
            "`from = \"ops_store\"` watches the ops store, but no [ops_store] is configured".into(),
            Some(
                "add an [ops_store] section with the store's url, or set from = \"production\""
                    .into(),
            ),
        ));
    }
    let shown = |d: Duration| humantime::format_duration(d).to_string();
    if config.leader_timeout < MIN_LEADER_TIMEOUT {
        problems.push((
            at("leader_timeout"),
            format!(
                "leader_timeout {} leaves a leader no time to beat: one slow store call would hand the lead over",
                shown(config.leader_timeout)
            ),
            Some(format!(
                "set leader_timeout to at least {} (the default is 10s)",
                shown(MIN_LEADER_TIMEOUT)
            )),
        ));
    } else if config.leader_timeout > MAX_LEADER_TIMEOUT {
        problems.push((
            at("leader_timeout"),
            format!(
                "leader_timeout {} leaves a hung collector's room frozen for too long",
                shown(config.leader_timeout)
            ),
            Some(format!(
                "set leader_timeout to at most {}",
                shown(MAX_LEADER_TIMEOUT)
            )),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_access_names_every_backend_but_the_public_edges() {
        let text = "[ops_store]\nurl = \"postgres://m@127.0.0.1:5/ops\"\n\
                    [[redis]]\nname = \"main\"\nurl = \"redis://127.0.0.1:6379/0\"\n\
                    [[postgres]]\nname = \"primary\"\nurl = \"postgres://m@127.0.0.1:5432/db\"\n";
        let (cfg, _) = crate::config::load_str(text, "t.toml", &[]).expect("loads");
        assert_eq!(
            production_access(&cfg),
            ["[[postgres]] primary", "[[redis]] main"]
        );
        let (store_only, _) = crate::config::load_str(
            "[ops_store]\nurl = \"postgres://m@127.0.0.1:5/ops\"\n",
            "t.toml",
            &[],
        )
        .expect("loads");
        assert!(production_access(&store_only).is_empty());
    }

    #[test]
    fn watching_needs_an_ops_store_and_production_is_the_default() {
        let (cfg, _) = crate::config::load_str("", "t.toml", &[]).expect("empty config loads");
        assert_eq!(cfg.live.from, LiveFrom::Production);
        let err = crate::config::load_str("[live]\nfrom = \"ops_store\"\n", "t.toml", &[])
            .map(drop)
            .expect_err("watching without a store is refused")
            .to_string();
        assert!(
            err.contains("live.from") && err.contains("[ops_store]"),
            "{err}"
        );
        let (cfg, _) = crate::config::load_str(
            "[live]\nfrom = \"ops_store\"\n[ops_store]\nurl = \"postgres://ops@db/mastop_ops\"\n",
            "t.toml",
            &[],
        )
        .expect("watching with a store loads");
        assert_eq!(cfg.live.from, LiveFrom::OpsStore);
        let err = crate::config::load_str("[live]\nfrom = \"elsewhere\"\n", "t.toml", &[])
            .map(drop)
            .expect_err("an unknown source is refused")
            .to_string();
        assert!(err.contains("ops_store"), "{err}");
    }

    #[test]
    fn the_leader_timeout_defaults_to_ten_seconds_and_is_bounded_whatever_the_cadence() {
        let (cfg, _) = crate::config::load_str("", "t.toml", &[]).expect("empty config loads");
        assert_eq!(cfg.live.leader_timeout, Duration::from_secs(10));
        // A slow fleet is no reason to refuse the default: the collector beats more often
        // than it polls.
        let (cfg, _) = crate::config::load_str("[defaults]\ncadence = \"10m\"\n", "t.toml", &[])
            .expect("a ten-minute cadence with the default leader timeout");
        assert_eq!(cfg.live.leader_timeout, Duration::from_secs(10));
        let (cfg, _) = crate::config::load_str(
            "[defaults]\ncadence = \"250ms\"\n[live]\nleader_timeout = \"1s\"\n",
            "t.toml",
            &[],
        )
        .expect("the shortest leader timeout");
        assert_eq!(cfg.live.leader_timeout, Duration::from_secs(1));
        let err = crate::config::load_str("[live]\nleader_timeout = \"500ms\"\n", "t.toml", &[])
            .map(drop)
            .expect_err("no time to beat")
            .to_string();
        assert!(
            err.contains("live.leader_timeout") && err.contains("at least 1s"),
            "{err}"
        );
        let err = crate::config::load_str("[live]\nleader_timeout = \"1h\"\n", "t.toml", &[])
            .map(drop)
            .expect_err("an hour of a frozen room")
            .to_string();
        assert!(err.contains("at most 10m"), "{err}");
    }
}
