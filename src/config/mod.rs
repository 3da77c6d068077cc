//! Configuration: the file format, layering (defaults < file < `MASTOP_*` env), validation
//! with locations, and secret references.

mod alerts;
mod edges;
mod error;
mod handoff;
mod hosts;
mod inventory;
mod load;
mod locate;
mod runbooks;
pub mod secret;
mod types;

pub use alerts::{AlertRoute, AlertsConfig};
pub use edges::EdgeConfig;
pub use error::{ConfigError, FileError, closest};
pub use handoff::HandoffConfig;
pub use hosts::{HostConfig, MetricsVia, SshConfig, is_unit_name, role_units};
pub use inventory::{
    AnsibleInventory, DEFAULT_TAILSCALE_SOCKET, InventoryConfig, TailscaleInventory,
};
pub use load::{Loaded, load, load_str, parse_duration};
pub use locate::{Location, Seg, line_col, locate, path_at, render_path};
pub use runbooks::RunbooksConfig;
pub use secret::{CachedSecret, SecretRef, mask_url};
pub use types::*;

/// `$XDG_CONFIG_HOME/mastop/config.toml`.
pub fn default_path() -> Option<std::path::PathBuf> {
    crate::paths::default_config_file()
}
