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
