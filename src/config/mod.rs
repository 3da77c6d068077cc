//! Configuration: the file format, layering (defaults < file < `MASTOP_*` env), validation
//! with locations, and secret references.

mod error;
mod load;
mod locate;
mod secret;
mod types;

pub use error::{ConfigError, FileError};
pub use load::{Loaded, load, load_str, parse_duration};
pub use locate::{Location, line_col};
pub use secret::{SecretRef, mask_url};
pub use types::*;
