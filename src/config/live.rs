//! `[live]`: where the console's fleet comes from.
//!
//! ```toml
//! [live]
//! from = "ops_store"   # watch the room the collector publishes; "production" polls directly
//! ```

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfig {
    #[serde(default)]
    pub from: LiveFrom,
}

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

/// Problems in `[live]`: watching needs a store to watch.
pub(super) fn validate(
    config: &LiveConfig,
    has_ops_store: bool,
) -> Vec<(Vec<Seg>, String, Option<String>)> {
    if config.from == LiveFrom::OpsStore && !has_ops_store {
        return vec![(
            vec![Seg::Key("live".into()), Seg::Key("from".into())],
            "`from = \"ops_store\"` watches the ops store, but no [ops_store] is configured".into(),
            Some(
                "add an [ops_store] section with the store's url, or set from = \"production\""
                    .into(),
            ),
        )];
    }
    Vec::new()
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
}
