//! Configuration: the file format, layering (defaults < file < `MASTOP_*` env), validation
//! with locations, and secret references.

mod error;
mod load;
mod locate;
pub mod secret;
mod types;

pub use error::{ConfigError, FileError, closest};
pub use load::{Loaded, load, load_str, parse_duration};
pub use locate::{Location, line_col};
pub use secret::{CachedSecret, SecretRef, mask_url};
pub use types::*;

/// `$XDG_CONFIG_HOME/mastop/config.toml`.
pub fn default_path() -> Option<std::path::PathBuf> {
    crate::paths::default_config_file()
}
