//! The fleet's host list: `[[host]]` entries from config, peers from Tailscale, hosts from
//! `ansible-inventory --list`, merged into one list with where each host came from.
//!
//! - [`taxonomy`]: Hachyderm's tag vocabulary (`tag:role-*`, `tag:region-*`, …).
//! - [`tailscale`], [`ansible`]: pure parsers from their JSON into [`Discovered`] hosts.
//! - [`merge`]: one host list from all sources; config wins field by field.
//! - [`localapi`]: tailscaled's LocalAPI over its Unix socket.
//! - [`discover`]: the I/O that fetches every source within a deadline.
//! - [`identity`]: the operator's Tailscale login, for audit records and the header.

pub mod ansible;
pub mod discover;
pub mod identity;
pub mod localapi;
pub mod merge;
pub mod tailscale;
pub mod taxonomy;

use std::time::SystemTime;

use serde::Serialize;

use crate::config::HostConfig;

pub use merge::merge;

/// Where a host in the merged list was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Config,
    Tailscale,
    Ansible,
}

impl Origin {
    pub fn word(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Tailscale => "tailscale",
            Origin::Ansible => "ansible",
        }
    }
}

/// A host as one discovery source describes it, before merging.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Discovered {
    pub name: String,
    /// What to connect to: a MagicDNS name, `ansible_host`, or an address.
    pub address: String,
    pub roles: Vec<String>,
    pub region: String,
    pub provider: String,
    pub tags: Vec<String>,
    /// Other names and addresses this host answers to (DNS name, Tailscale IPs), for
    /// recognising it in another source.
    pub aliases: Vec<String>,
    /// Tailscale's view: whether the coordination server sees the node.
    pub online: Option<bool>,
    /// When an offline node was last seen.
    pub last_seen: Option<SystemTime>,
    /// Ansible groups the host is in.
    pub groups: Vec<String>,
}

/// One host of the merged list: its config for the host sources, plus what discovery knows.
#[derive(Clone, Debug)]
pub struct InventoryHost {
    pub config: HostConfig,
    /// Every source that named this host, config first.
    pub origins: Vec<Origin>,
    /// `Some(false)` for a Tailscale peer that is offline: shown flagged, never polled.
    pub online: Option<bool>,
    pub last_seen: Option<SystemTime>,
    pub groups: Vec<String>,
}

impl InventoryHost {
    /// Whether the host sources should poll it: offline Tailscale peers are not polled.
    pub fn pollable(&self) -> bool {
        self.config.enabled && self.online != Some(false)
    }
}

/// The latest discovery: merged hosts and whatever went wrong, for the fleet view header.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub hosts: Vec<InventoryHost>,
    /// One line per failed source; discovery never fails as a whole.
    pub errors: Vec<String>,
    /// When discovery last returned; `None` before the first run.
    pub refreshed: Option<SystemTime>,
    /// Whether any discovery (Tailscale, Ansible) is configured at all.
    pub discovering: bool,
}

impl Inventory {
    /// The host list from config alone, for the first frame before discovery returns.
    pub fn from_config(hosts: &[HostConfig], discovering: bool) -> Self {
        Inventory {
            hosts: merge(hosts, &[], &[]),
            errors: Vec::new(),
            refreshed: None,
            discovering,
        }
    }

    /// Configs of the hosts the host sources should poll.
    pub fn pollable(&self) -> Vec<HostConfig> {
        self.hosts
            .iter()
            .filter(|h| h.pollable())
            .map(|h| h.config.clone())
            .collect()
    }

    /// The host named `name`, ignoring case.
    pub fn host(&self, name: &str) -> Option<&InventoryHost> {
        self.hosts
            .iter()
            .find(|h| h.config.name.eq_ignore_ascii_case(name))
    }
}

/// A `HostConfig` as a `[[host]]` table with only `name` and `address` would give.
pub(crate) fn host_config(name: impl Into<String>, address: impl Into<String>) -> HostConfig {
    HostConfig::new(name, address)
}
