//! What a log view or `mastop logs` reads with: the journal readers of the configured
//! hosts, the Loki readers, and the signatures (shipped and configured).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::Engine;
use crate::logs::signatures::{SignatureSpec, Signatures};
use crate::sources::journal::JournalHost;
use crate::sources::loki::LokiReader;

/// How long a log read may take before it is reported as hung.
pub const LOG_DEADLINE: Duration = Duration::from_secs(15);

impl Engine {
    /// Journal readers for `target`: a `[[host]]` name, or `role:NAME` for every enabled
    /// host with that role. Hosts that are not configured are an error naming them.
    pub fn journal_hosts(&self, target: &str) -> Result<Vec<JournalHost>, String> {
        let cfg = self.config();
        let chosen: Vec<_> = match target.strip_prefix("role:") {
            Some(role) => cfg
                .hosts
                .iter()
                .filter(|h| h.enabled && h.roles.iter().any(|r| r == role))
                .collect(),
            None => cfg.hosts.iter().filter(|h| h.name == target).collect(),
        };
        if chosen.is_empty() {
            return Err(format!(
                "`{}` is not a configured [[host]] (or `role:NAME` of one)",
                crate::sanitize::sanitize_truncated(target, 80)
            ));
        }
        let handshakes = Arc::new(Semaphore::new(cfg.ssh.max_concurrent.max(1)));
        chosen
            .into_iter()
            .map(|h| JournalHost::new(h, &cfg.ssh, LOG_DEADLINE / 2, Arc::clone(&handshakes)))
            .collect()
    }

    /// The `[[loki]]` reader named `name`, or the first one.
    pub fn loki_reader(&self, name: Option<&str>) -> Result<LokiReader, String> {
        let cfg = self.config();
        let entry = match name {
            Some(n) => cfg.loki.iter().find(|l| l.name == n),
            None => cfg.loki.iter().find(|l| l.enabled),
        }
        .ok_or_else(|| "no such [[loki]] entry in the config".to_string())?;
        LokiReader::new(entry, &cfg.logs)
    }

    /// The shipped signatures and the config's `[[logs.signature]]`.
    pub fn log_signatures(&self) -> Result<Signatures, String> {
        let extra: Vec<SignatureSpec> = self
            .config()
            .logs
            .signature
            .iter()
            .map(|s| SignatureSpec {
                name: s.name.clone(),
                pattern: s.pattern.clone(),
                warn_per_min: s.warn_per_min,
                crit_per_min: s.crit_per_min,
            })
            .collect();
        Signatures::with(&extra)
    }
}
