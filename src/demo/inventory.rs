//! The demo's inventory: every simulated machine as config and Tailscale both know it,
//! plus one Sidekiq host that dropped off the tailnet, so the fleet view shows what an
//! offline peer looks like.

use std::time::{Duration, SystemTime};

use crate::inventory::{Inventory, InventoryHost, Origin, host_config, taxonomy};
use crate::sources::host;

use super::fleet::{CORE_REGION, MEMBERS};

/// The host that is offline in the demo, and for how long.
pub const OFFLINE_HOST: &str = "sidekiq-3";
pub const OFFLINE_FOR: Duration = Duration::from_secs(3 * 3600 + 17 * 60);

pub fn inventory(now: SystemTime) -> Inventory {
    let mut hosts: Vec<InventoryHost> = MEMBERS
        .iter()
        .filter(|m| m.kind == host::KIND)
        .map(|m| {
            let classified = taxonomy::classify(m.tags.iter().copied());
            let mut config = host_config(m.name, format!("{}.tail1234.ts.net", m.name));
            config.roles = classified.roles;
            config.region = m.region.to_string();
            config.provider = classified.provider;
            config.tags = m.tags.iter().map(|t| t.to_string()).collect();
            InventoryHost {
                config,
                origins: vec![Origin::Config, Origin::Tailscale],
                online: Some(true),
                last_seen: None,
                groups: Vec::new(),
            }
        })
        .collect();
    let mut offline = host_config(OFFLINE_HOST, format!("{OFFLINE_HOST}.tail1234.ts.net"));
    offline.roles = vec!["mastodon-sidekiq".into()];
    offline.region = CORE_REGION.into();
    offline.provider = "hetzner-cloud".into();
    hosts.push(InventoryHost {
        config: offline,
        origins: vec![Origin::Tailscale],
        online: Some(false),
        last_seen: now.checked_sub(OFFLINE_FOR),
        groups: Vec::new(),
    });
    Inventory {
        hosts,
        errors: Vec::new(),
        refreshed: Some(now),
        discovering: true,
    }
}
