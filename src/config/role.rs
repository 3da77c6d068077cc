//! Who is at the console: set in the config file only, so nothing else can raise a shadow
//! session to on-call. What a role may do is decided by `actions`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May run actions (each still guarded).
    Oncall,
    /// Sees everything on-call sees, minus private content; can preview, never run.
    Shadow,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Oncall => "oncall",
            Role::Shadow => "shadow",
        }
    }
}
