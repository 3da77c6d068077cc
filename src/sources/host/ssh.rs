//! SSH to one configured host: a multiplexed master connection (one handshake, then each
//! command is a channel on it), strict host-key checking, and errors an operator can act on.
//! Shared by the metrics poll and the action executor.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder};
use tokio::sync::Semaphore;

use super::command_line::command_line;
use crate::config::{HostConfig, SshConfig};

/// What a remote command left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// How to reach one host; cheap to clone.
#[derive(Clone)]
pub struct Connector {
    name: String,
    address: String,
    builder: SessionBuilder,
    known_hosts: Option<PathBuf>,
    /// Bounds how many handshakes run at once across the whole fleet.
    handshakes: Arc<Semaphore>,
}

impl Connector {
    pub fn new(
        host: &HostConfig,
        ssh: &SshConfig,
        connect_timeout: Duration,
        handshakes: Arc<Semaphore>,
    ) -> Self {
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(KnownHosts::Strict)
            .connect_timeout(connect_timeout.max(Duration::from_secs(1)))
            .server_alive_interval(Duration::from_secs(15))
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::new(usize::try_from(ssh.control_persist.as_secs()).unwrap_or(60))
                    .unwrap_or(NonZeroUsize::MIN),
            ))
            .control_directory(control_dir(ssh));
        if let Some(port) = host.port {
            builder.port(port);
        }
        if let Some(user) = host.user.as_ref().or(ssh.user.as_ref()) {
            builder.user(user.clone());
        }
        if let Some(key) = &ssh.identity_file {
            builder.keyfile(key);
        }
        if let Some(file) = &ssh.known_hosts {
            builder.user_known_hosts_file(file);
        }
        if let Some(file) = &ssh.config_file {
            builder.config_file(file);
        }
        Connector {
            name: host.name.clone(),
            address: host.address.clone(),
            builder,
            known_hosts: ssh.known_hosts.clone(),
            handshakes,
        }
    }

    pub fn host(&self) -> &str {
        &self.name
    }

    /// Opens the master connection. Waits its turn behind the fleet-wide handshake bound.
    pub async fn connect(&self) -> Result<Session, SshError> {
        let _permit = self
            .handshakes
            .acquire()
            .await
            .map_err(|_| SshError::other(&self.name, "the console is shutting down"))?;
        self.builder
            .connect_mux(&self.address)
            .await
            .map_err(|e| self.describe(&e))
    }

    /// Runs `argv` exactly: each element reaches the remote program as one argument,
    /// whatever quotes, spaces or `;` it holds. The line sent is [`command_line`]'s, the
    /// same text the audit records.
    pub async fn run(&self, session: &Session, argv: &[String]) -> Result<Finished, SshError> {
        if argv.is_empty() {
            return Err(SshError::other(&self.name, "empty command"));
        }
        let output = session
            .raw_command(command_line(argv))
            .output()
            .await
            .map_err(|e| self.describe(&e))?;
        Ok(Finished {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn describe(&self, error: &openssh::Error) -> SshError {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(e) = source {
            text.push_str(": ");
            text.push_str(&e.to_string());
            source = e.source();
        }
        classify(
            &self.name,
            &self.address,
            self.known_hosts.as_deref(),
            &text,
        )
    }
}

/// Closes a session without blocking the caller: `Session`'s own drop waits on the master.
pub fn close_in_background(session: Session) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let _ = session.close().await;
        });
    }
}

fn control_dir(ssh: &SshConfig) -> PathBuf {
    ssh.control_dir
        .clone()
        .or_else(|| std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SshErrorKind {
    /// The host's key is not in known_hosts: someone must verify and add it.
    UnknownHostKey,
    /// The host's key differs from the one recorded: possibly an attack.
    ChangedHostKey,
    /// The host refused our key.
    AuthFailed,
    Refused,
    TimedOut,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshError {
    pub kind: SshErrorKind,
    pub message: String,
}

impl SshError {
    fn other(host: &str, why: &str) -> Self {
        SshError {
            kind: SshErrorKind::Other,
            message: format!("ssh {host}: {why}"),
        }
    }
}

impl std::fmt::Display for SshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Turns ssh's own words into what happened and what to do about it.
pub fn classify(host: &str, address: &str, known_hosts: Option<&Path>, ssh_said: &str) -> SshError {
    let said = ssh_said.to_ascii_lowercase();
    let file = known_hosts.map_or_else(
        || "~/.ssh/known_hosts".to_string(),
        |p| p.display().to_string(),
    );
    let last_words = crate::sanitize::sanitize_truncated(
        ssh_said
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or(ssh_said),
        160,
    );
    let (kind, message) = if said.contains("remote host identification has changed")
        || said.contains("host key for") && said.contains("has changed")
    {
        (
            SshErrorKind::ChangedHostKey,
            format!(
                "ssh {host}: THE HOST KEY OF {address} HAS CHANGED since it was recorded in {file}. \
                 This is either a rebuilt host or someone intercepting the connection: \
                 do not connect until the new key is verified out of band, then replace the old line"
            ),
        )
    } else if said.contains("host key verification failed")
        || said.contains("no matching host key")
        || said.contains("is known for") && said.contains("strict checking")
    {
        (
            SshErrorKind::UnknownHostKey,
            format!(
                "ssh {host}: the host key of {address} is not in {file}; verify it \
                 (e.g. compare `ssh-keyscan {address}` with the host's own \
                 `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) and add it to {file}"
            ),
        )
    } else if said.contains("permission denied")
        || said.contains("too many authentication failures")
    {
        (
            SshErrorKind::AuthFailed,
            format!(
                "ssh {host}: {address} refused our key ({last_words}); check the user, the \
                 agent or `[ssh] identity_file`, and the host's authorized_keys"
            ),
        )
    } else if said.contains("connection refused") {
        (
            SshErrorKind::Refused,
            format!(
                "ssh {host}: {address} refused the connection; is sshd running and the port right?"
            ),
        )
    } else if said.contains("timed out") || said.contains("timeout") {
        (
            SshErrorKind::TimedOut,
            format!(
                "ssh {host}: no SSH answer from {address} in time (host down, firewall, or network)"
            ),
        )
    } else {
        (SshErrorKind::Other, format!("ssh {host}: {last_words}"))
    };
    SshError { kind, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(said: &str) -> SshErrorKind {
        classify("db-1", "10.0.0.1", None, said).kind
    }

    #[test]
    fn ssh_messages_become_actionable_errors() {
        assert_eq!(
            kind(
                "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed."
            ),
            SshErrorKind::UnknownHostKey
        );
        assert_eq!(
            kind(
                "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n...\nHost key verification failed."
            ),
            SshErrorKind::ChangedHostKey
        );
        assert_eq!(
            kind(
                "failed to connect to the remote host: root@127.0.0.1: Permission denied (publickey)."
            ),
            SshErrorKind::AuthFailed
        );
        assert_eq!(
            kind("connect to host 127.0.0.1 port 1: Connection refused"),
            SshErrorKind::Refused
        );
        assert_eq!(
            kind("Connection timed out during banner exchange"),
            SshErrorKind::TimedOut
        );
        let unknown = classify(
            "db-1",
            "10.0.0.1",
            Some(Path::new("/etc/mastop/known_hosts")),
            "Host key verification failed.",
        );
        assert!(
            unknown.message.contains("/etc/mastop/known_hosts"),
            "{}",
            unknown.message
        );
        assert!(
            unknown.message.contains("ssh-keyscan 10.0.0.1"),
            "{}",
            unknown.message
        );
    }

    #[test]
    fn escape_sequences_in_what_ssh_said_never_reach_the_message() {
        let e = classify("h", "a", None, "banner \u{1b}]0;pwned\u{7} \u{1b}[31mred");
        assert!(!e.message.contains('\u{1b}'), "{:?}", e.message);
    }
}
