//! `[handoff]`: follow-the-sun shift handoffs.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffConfig {}
