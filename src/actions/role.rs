//! Who is at the console, and whether they may write.

use serde::Serialize;

pub use crate::config::Role;

/// Proof that this session may send mutating commands. It cannot be built outside this
/// module, and only [`Session::write_capability`] returns one, for on-call sessions. Every
/// executor that mutates a backend takes one in its constructor, so a shadow session has
/// no way to hold such an executor at all.
#[derive(Debug, Clone)]
pub struct WriteCapability {
    _private: (),
}

/// The person and console behind every action and audit record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub role: Role,
    /// The OS user running mastop.
    pub operator: String,
    /// The operator's Tailscale login, when known (filled in by the fleet integration).
    pub tailscale_login: Option<String>,
    /// This console's host name.
    pub console_host: String,
    /// Unique per running console, so two consoles of one operator are still two holders.
    pub console_id: String,
}

impl Session {
    /// The session for this process. `role` comes from config (default shadow) and
    /// `force_readonly` from `--readonly`; nothing can raise shadow to on-call here.
    pub fn current(configured: Option<Role>, force_readonly: bool) -> Session {
        let role = match (configured, force_readonly) {
            (Some(Role::Oncall), false) => Role::Oncall,
            _ => Role::Shadow,
        };
        let operator = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()));
        let console_host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown-host".into());
        let console_id = format!(
            "{console_host}:{}:{}",
            std::process::id(),
            crate::actions::audit::new_id()
        );
        Session {
            role,
            operator,
            tailscale_login: None,
            console_host,
            console_id,
        }
    }

    pub fn write_capability(&self) -> Option<WriteCapability> {
        (self.role == Role::Oncall).then_some(WriteCapability { _private: () })
    }

    /// How the operator is named in locks, approvals and freezes.
    pub fn who(&self) -> String {
        match &self.tailscale_login {
            Some(login) => format!("{} ({login}) on {}", self.operator, self.console_host),
            None => format!("{} on {}", self.operator, self.console_host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_oncall_without_readonly_gets_write_capability() {
        assert!(
            Session::current(Some(Role::Oncall), false)
                .write_capability()
                .is_some()
        );
        assert!(
            Session::current(Some(Role::Oncall), true)
                .write_capability()
                .is_none()
        );
        assert!(
            Session::current(Some(Role::Shadow), false)
                .write_capability()
                .is_none()
        );
        assert!(
            Session::current(None, false).write_capability().is_none(),
            "unset role is shadow"
        );
    }

    #[test]
    fn console_ids_differ_between_sessions() {
        let a = Session::current(None, false);
        let b = Session::current(None, false);
        assert_ne!(a.console_id, b.console_id);
    }
}
