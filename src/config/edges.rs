//! `[[edge]]` entries: the nginx cache nodes users talk to, each probed at its own address.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::types::{Defaults, de_opt_duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Short unique name, e.g. `cdn-fremont-1`.
    pub name: String,
    /// The edge's own address (IP or name), bypassing GeoDNS.
    pub address: String,
    /// The public hostname sent as SNI and `Host`, e.g. `hachyderm.io`.
    pub hostname: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A PEM file with a CA to trust instead of the system roots.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub cadence: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub deadline: Option<Duration>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl EdgeConfig {
    pub fn schedule(&self, defaults: &Defaults) -> crate::sources::Schedule {
        crate::sources::Schedule {
            cadence: self.cadence.unwrap_or(defaults.cadence),
            deadline: self.deadline.unwrap_or(defaults.deadline),
        }
    }
}

fn yes() -> bool {
    true
}
