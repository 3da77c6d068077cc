//! `[inventory]`: where hosts come from besides `[[host]]` entries (Tailscale, Ansible).
//!
//! ```toml
//! [inventory]
//! refresh = "5m"          # discovery runs at start, then this often
//! deadline = "5s"         # each discovery gives up after this long
//!
//! [inventory.tailscale]
//! socket = "/var/run/tailscale/tailscaled.sock"
//! command = ["tailscale", "status", "--json"]   # used when the socket is missing
//! require_tags = ["tag:server", "tag:env-prod"]
//!
//! [inventory.ansible]
//! file = "/srv/ansible/inventory.json"          # saved `ansible-inventory --list` output
//! # command = ["ansible-inventory", "-i", "/srv/ansible/hosts.yml", "--list"]
//! roles = { primary = "postgres-primary", replica = "postgres-replica" }
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::locate::Seg;
use super::types::de_opt_duration;

/// Where tailscaled listens on Linux.
pub const DEFAULT_TAILSCALE_SOCKET: &str = "/var/run/tailscale/tailscaled.sock";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    /// How often discovery runs again after the first time (default 5 minutes).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub refresh: Option<Duration>,
    /// How long one discovery may take (default 5 seconds).
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub deadline: Option<Duration>,
    #[serde(default)]
    pub tailscale: Option<TailscaleInventory>,
    #[serde(default)]
    pub ansible: Option<AnsibleInventory>,
}

impl InventoryConfig {
    pub fn refresh(&self) -> Duration {
        self.refresh.unwrap_or(Duration::from_secs(300))
    }
    pub fn deadline(&self) -> Duration {
        self.deadline.unwrap_or(Duration::from_secs(5))
    }
    /// Whether any discovery is configured (config `[[host]]` entries need none).
    pub fn discovers(&self) -> bool {
        self.tailscale.as_ref().is_some_and(|t| t.enabled) || self.ansible.is_some()
    }
    /// The LocalAPI socket used for the operator's identity: the configured one, else the
    /// platform default (identity is looked up even without `[inventory.tailscale]`).
    pub fn identity_socket(&self) -> PathBuf {
        self.tailscale.as_ref().map_or_else(
            || PathBuf::from(DEFAULT_TAILSCALE_SOCKET),
            |t| t.socket.clone(),
        )
    }
}

/// Peers of the tailnet as hosts, classified by Hachyderm's tag taxonomy
/// (`tag:role-*`, `tag:region-*`, `tag:provider-*`, `tag:env-*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailscaleInventory {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// tailscaled's LocalAPI socket; read access needs no root.
    #[serde(default = "default_socket")]
    pub socket: PathBuf,
    /// Run when the socket does not exist (argv, no shell). Empty: socket only.
    #[serde(default = "default_status_command")]
    pub command: Vec<String>,
    /// A peer must carry every one of these tags. The default keeps people's laptops and
    /// phones out of the fleet.
    #[serde(default = "default_require_tags")]
    pub require_tags: Vec<String>,
}

impl Default for TailscaleInventory {
    fn default() -> Self {
        Self {
            enabled: true,
            socket: default_socket(),
            command: default_status_command(),
            require_tags: default_require_tags(),
        }
    }
}

/// Hosts from `ansible-inventory --list` JSON. Groups become roles by this convention: a
/// group named in `roles` maps to that role; otherwise a group named `role_X` (or `role-X`)
/// is role `X` with `_` read as `-`. Groups `region_X` and `provider_X` set the region and
/// provider. Hostvars `ansible_host`, `region` and `provider` fill those fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnsibleInventory {
    /// A file holding saved `ansible-inventory --list` output.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Or the command that prints it (argv, no shell).
    #[serde(default)]
    pub command: Vec<String>,
    /// Group name → role, for groups not named by the `role_` convention.
    #[serde(default)]
    pub roles: HashMap<String, String>,
}

fn yes() -> bool {
    true
}
fn default_socket() -> PathBuf {
    PathBuf::from(DEFAULT_TAILSCALE_SOCKET)
}
fn default_status_command() -> Vec<String> {
    ["tailscale", "status", "--json"].map(String::from).to_vec()
}
fn default_require_tags() -> Vec<String> {
    vec!["tag:server".into()]
}

/// Problems in `[inventory]`, located by key path.
pub(super) fn validate(config: &InventoryConfig) -> Vec<(Vec<Seg>, String, Option<String>)> {
    let mut problems = Vec::new();
    let at = |keys: &[&str]| -> Vec<Seg> {
        std::iter::once("inventory")
            .chain(keys.iter().copied())
            .map(|k| Seg::Key(k.into()))
            .collect()
    };
    if config.refresh.is_some_and(|r| r < Duration::from_secs(30)) {
        problems.push((
            at(&["refresh"]),
            "discovery more often than every 30s only loads tailscaled and the inventory".into(),
            Some("use \"1m\" or more; config [[host]] entries never need a refresh".into()),
        ));
    }
    let key = |k: &str| at(&[k]);
    super::rules::schedule(
        &key,
        None,
        config.deadline,
        super::rules::MIN_CADENCE,
        &mut problems,
    );
    if let Some(ts) = &config.tailscale {
        for (i, tag) in ts.require_tags.iter().enumerate() {
            let bare = tag.strip_prefix("tag:").unwrap_or(tag);
            if bare.is_empty() || bare.chars().any(|c| c.is_whitespace() || c == ',') {
                let mut path = at(&["tailscale", "require_tags"]);
                path.push(Seg::Index(i));
                problems.push((
                    path,
                    format!("`{}` is not a Tailscale tag", super::quote(tag)),
                    Some("tags look like \"tag:server\" or \"tag:env-prod\"".into()),
                ));
            }
        }
        if ts.command.first().is_some_and(|c| c.trim().is_empty()) {
            problems.push((
                at(&["tailscale", "command"]),
                "the command's program is empty".into(),
                Some(
                    "e.g. [\"tailscale\", \"status\", \"--json\"], or [] for the socket only"
                        .into(),
                ),
            ));
        }
    }
    if let Some(ansible) = &config.ansible {
        match (&ansible.file, ansible.command.is_empty()) {
            (Some(_), false) => problems.push((
                at(&["ansible"]),
                "give either `file` or `command`, not both".into(),
                Some("keep the one you want mastop to read".into()),
            )),
            (None, true) => problems.push((
                at(&["ansible"]),
                "[inventory.ansible] needs `file` or `command`".into(),
                Some(
                    "file = \"inventory.json\" (saved `ansible-inventory --list`), or \
                     command = [\"ansible-inventory\", \"-i\", \"hosts.yml\", \"--list\"]"
                        .into(),
                ),
            )),
            _ => {}
        }
        if ansible.command.first().is_some_and(|c| c.trim().is_empty()) {
            problems.push((
                at(&["ansible", "command"]),
                "the command's program is empty".into(),
                Some("e.g. [\"ansible-inventory\", \"-i\", \"hosts.yml\", \"--list\"]".into()),
            ));
        }
        for (group, role) in &ansible.roles {
            if role.trim().is_empty() {
                problems.push((
                    at(&["ansible", "roles", group]),
                    format!("group `{}` maps to an empty role", super::quote(group)),
                    Some("name a role like \"mastodon-web\" or \"postgres-primary\"".into()),
                ));
            }
        }
    }
    problems
}
