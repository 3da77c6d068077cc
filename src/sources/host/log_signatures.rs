//! The host poll's slow tier: once a minute, the last minute of the journal of the host's
//! `log_units`, read over the poll's own master connection (one more channel, no
//! handshake) and reduced at once to known-signature counts. The lines never leave this
//! module: only signature names and counts enter the reading.

use std::sync::Arc;
use std::time::Duration;

use openssh::Session;
use tokio::time::Instant;

use super::HostReading;
use super::ssh::Connector;
use crate::config::HostConfig;
use crate::logs::journal::parse_all;
use crate::logs::query::{JournalDirectory, JournalQuery, UnitPattern, Window};
use crate::logs::signatures::{SignatureRates, Signatures};

/// How often the journal is read for signatures: its counts are per minute.
pub const EVERY: Duration = Duration::from_secs(60);
/// The window read, matching the counts' unit.
const WINDOW: Duration = Duration::from_secs(60);
/// Most lines one read takes: a flood is counted up to here (and shown as "≥").
pub const MAX_LINES: usize = 5_000;

/// A host's signature counts, and when they are next due.
pub struct SignatureWatch {
    signatures: Result<Arc<Signatures>, String>,
    query: Result<JournalQuery, String>,
    name: String,
    last_read: Option<Instant>,
    rates: Option<SignatureRates>,
    unread: Option<String>,
}

impl SignatureWatch {
    /// `None` when the host names no unit to watch (`log_units = []`, or no role that
    /// implies one).
    pub fn new(
        host: &HostConfig,
        signatures: Result<Arc<Signatures>, String>,
    ) -> Option<SignatureWatch> {
        let units = host.signature_units();
        if units.is_empty() {
            return None;
        }
        Some(SignatureWatch {
            signatures,
            query: query(host, &units),
            name: host.name.clone(),
            last_read: None,
            rates: None,
            unread: None,
        })
    }

    pub fn due(&self, now: Instant) -> bool {
        self.last_read
            .is_none_or(|at| now.duration_since(at) >= EVERY)
    }

    /// The command a read sends: the journal query, ended on the host at `budget` too.
    pub fn argv(&self, budget: Duration) -> Option<Vec<String>> {
        let query = self.query.as_ref().ok()?;
        let mut argv = vec![
            "timeout".to_string(),
            "--kill-after=1".to_string(),
            budget.as_secs().max(1).to_string(),
        ];
        argv.extend(query.argv());
        Some(argv)
    }

    /// Reads and counts the last minute, within `budget`. A failure is kept to be shown,
    /// never a reason to fail the poll: the host's own figures were read.
    pub async fn read(&mut self, connector: &Connector, session: &Session, budget: Duration) {
        self.last_read = Some(Instant::now());
        let outcome = self.count(connector, session, budget).await;
        match outcome {
            Ok(rates) => {
                self.rates = Some(rates);
                self.unread = None;
            }
            Err(why) => {
                tracing::debug!(host = %self.name, error = %why, "log signatures unread");
                self.rates = None;
                self.unread = Some(why);
            }
        }
    }

    async fn count(
        &self,
        connector: &Connector,
        session: &Session,
        budget: Duration,
    ) -> Result<SignatureRates, String> {
        let signatures = self.signatures.as_ref().map_err(Clone::clone)?;
        self.query.as_ref().map_err(Clone::clone)?;
        let argv = self.argv(budget).unwrap_or_default();
        let finished = tokio::time::timeout(budget, connector.run(session, &argv))
            .await
            .map_err(|_| {
                format!(
                    "journalctl gave no answer within {}",
                    humantime::format_duration(budget)
                )
            })?
            .map_err(|e| e.message)?;
        if !finished.success() {
            return Err(crate::sources::journal::journalctl_failed(
                &self.name,
                finished.status,
                &finished.stderr,
            ));
        }
        let (lines, _) = parse_all(&self.name, &finished.stdout);
        Ok(signatures.rates(lines.iter().map(|l| l.message.as_str()), MAX_LINES))
    }

    /// Puts the latest counts (or why there are none) into `reading`.
    pub fn apply(&self, reading: &mut HostReading) {
        reading.log_signatures.clone_from(&self.rates);
        reading.log_signatures_unread.clone_from(&self.unread);
    }
}

fn query(host: &HostConfig, units: &[String]) -> Result<JournalQuery, String> {
    let units = units
        .iter()
        .map(|u| UnitPattern::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let directory = host
        .journal_directory
        .as_deref()
        .map(JournalDirectory::parse)
        .transpose()?;
    Ok(JournalQuery {
        units,
        window: Window::Last(WINDOW),
        max_lines: MAX_LINES,
        follow: false,
        directory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_is_the_journal_query_of_the_log_units_bounded_on_the_host() {
        let mut host = HostConfig::new("web-1", "10.0.0.1");
        host.roles = vec!["mastodon-web".into()];
        host.journal_directory = Some("/var/log/journal/remote".into());
        let watch = SignatureWatch::new(&host, Ok(Arc::new(Signatures::shipped()))).unwrap();
        let argv = watch.argv(Duration::from_secs(5)).unwrap();
        assert_eq!(&argv[..4], ["timeout", "--kill-after=1", "5", "journalctl"]);
        assert!(argv.contains(&"--unit=mastodon-web.service".to_string()));
        assert!(argv.contains(&"--since=-60s".to_string()));
        assert!(argv.contains(&format!("--lines={MAX_LINES}")));
        assert!(argv.contains(&"--directory=/var/log/journal/remote".to_string()));
        assert!(!argv.contains(&"--follow".to_string()));
        let now = Instant::now();
        assert!(watch.due(now));

        host.log_units = Some(Vec::new());
        assert!(SignatureWatch::new(&host, Ok(Arc::new(Signatures::shipped()))).is_none());
    }
}
