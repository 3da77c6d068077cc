//! Configuration: the file format, layering (defaults < file < `MASTOP_*` env), validation
//! with locations, and secret references.

mod alerts;
mod document;
mod edges;
mod error;
mod files;
mod handoff;
mod hosts;
mod inventory;
mod live;
mod load;
mod locate;
mod logs;
mod postgres_host;
mod role;
mod rules;
mod runbooks;
pub mod secret;
mod summary;
mod types;
pub mod urls;
mod validate;
pub mod zone;

pub use alerts::{AlertRoute, AlertsConfig};
pub use edges::EdgeConfig;
pub use error::{ConfigError, FileError, QUOTE_MAX, closest, quote};
pub use handoff::HandoffConfig;
pub use hosts::{HostConfig, MetricsVia, SshConfig, is_unit_name, role_units};
pub use inventory::{
    AnsibleInventory, DEFAULT_TAILSCALE_SOCKET, InventoryConfig, TailscaleInventory,
};
pub use live::{LiveConfig, LiveFrom, production_access};
pub use load::{Loaded, environment, load, load_str, parse_duration};
pub use locate::{Location, Seg, line_col, locate, path_at, render_path};
pub use logs::{LogsConfig, SignatureConfig};
pub use postgres_host::{BackupLimits, SlotWalLimits, is_stanza_name};
pub use role::Role;
pub use runbooks::RunbooksConfig;
pub use secret::{CachedSecret, SecretRef};
pub use summary::summary;
pub use types::*;
pub use urls::mask_url;

/// `$XDG_CONFIG_HOME/mastop/config.toml`.
pub fn default_path() -> Option<std::path::PathBuf> {
    crate::paths::default_config_file()
}
