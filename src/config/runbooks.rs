//! `[runbooks]`: where runbook files are found besides the shipped ones.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbooksConfig {}
