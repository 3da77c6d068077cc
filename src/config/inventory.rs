//! `[inventory]`: where hosts come from besides `[[host]]` entries (Tailscale, Ansible).

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {}
