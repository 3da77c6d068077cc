//! `[[host]]` entries and the `[ssh]` table: the machines under Mastodon and how to reach them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::types::{Defaults, de_opt_duration};

/// One machine, polled over SSH (the default) or through its node_exporter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Short unique name, e.g. `db-primary-1`, `cdn-fremont-1`.
    pub name: String,
    /// DNS name or IP address to connect to (a Tailscale name works).
    pub address: String,
    /// What runs there, in the `tag:role-…` vocabulary: `mastodon-web`, `mastodon-sidekiq`,
    /// `mastodon-streaming`, `postgres-primary`, `redis`, `edge-cdn`…
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// systemd units that must be running here, on top of those implied by `roles`.
    #[serde(default)]
    pub units: Vec<String>,
    /// Mount point → what lives there (`"/var/lib/postgresql/archive" = "WAL archive"`),
    /// named in alerts because a full WAL volume stops the primary.
    #[serde(default)]
    pub mounts: HashMap<String, String>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub cadence: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub deadline: Option<Duration>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl HostConfig {
    pub fn schedule(&self, defaults: &Defaults) -> crate::sources::Schedule {
        crate::sources::Schedule {
            cadence: self.cadence.unwrap_or(defaults.cadence),
            deadline: self.deadline.unwrap_or(defaults.deadline),
        }
    }
}

/// How every SSH connection is made.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// A known_hosts file of the console's own, instead of `~/.ssh/known_hosts`.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
}

fn yes() -> bool {
    true
}
