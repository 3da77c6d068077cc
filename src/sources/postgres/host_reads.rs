//! The two things about a Postgres server that only its hosts know: the free space under
//! `pg_wal` (`df` on the `[[postgres]] host`) and the backups (`pgbackrest info` on the
//! backup host). Each is one fixed argv over SSH, on the slow tier, in a task of its own:
//! a slow or unreachable host never holds up the Postgres poll, which takes whatever the
//! last finished read left.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use super::backups::{self, Backups};
use super::wal_space::{self, WalSpace};
use crate::config::{BackupLimits, Config, EndpointConfig, HostConfig, SlotWalLimits, SshConfig};
use crate::sources::host::ssh::{Connector, close_in_background};

/// How one `[[postgres]]` entry reaches its hosts, resolved from the config.
#[derive(Clone, Default)]
pub struct HostLinks {
    pub wal_host: Option<HostConfig>,
    pub backup: Option<(HostConfig, String)>,
    pub ssh: SshConfig,
    pub slot_wal: SlotWalLimits,
    pub backup_limits: BackupLimits,
}

impl HostLinks {
    /// The hosts `endpoint` names, looked up among `config`'s `[[host]]` entries
    /// (validation has made sure they exist).
    pub fn from_config(config: &Config, endpoint: &EndpointConfig) -> Self {
        let find = |name: Option<&str>| {
            name.and_then(|n| config.hosts.iter().find(|h| h.name == n).cloned())
        };
        HostLinks {
            wal_host: find(endpoint.host.as_deref()),
            backup: endpoint
                .stanza
                .clone()
                .filter(|s| crate::config::is_stanza_name(s))
                .and_then(|s| find(endpoint.backup_host_name()).map(|h| (h, s))),
            ssh: config.ssh.clone(),
            slot_wal: endpoint.slot_wal_limits(),
            backup_limits: endpoint.backup_limits(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.wal_host.is_none() && self.backup.is_none()
    }
}

#[derive(Clone, Debug, Default)]
struct Latest {
    wal: Option<WalSpace>,
    backups: Option<Backups>,
}

pub struct HostReads {
    links: HostLinks,
    deadline: Duration,
    handshakes: Arc<Semaphore>,
    latest: Arc<Mutex<Latest>>,
    task: Option<tokio::task::JoinHandle<()>>,
    started_at: Option<Instant>,
}

impl HostReads {
    pub fn new(links: HostLinks, deadline: Duration) -> Self {
        let handshakes = Arc::new(Semaphore::new(links.ssh.max_concurrent.max(1)));
        HostReads {
            links,
            deadline,
            handshakes,
            latest: Arc::new(Mutex::new(Latest::default())),
            task: None,
            started_at: None,
        }
    }

    pub fn wants_wal_path(&self) -> bool {
        self.links.wal_host.is_some()
    }

    /// Starts a read when `every` has passed and none is running; returns what the last
    /// finished read found.
    pub fn refresh(
        &mut self,
        every: Duration,
        wal_path: Option<String>,
    ) -> (Option<WalSpace>, Option<Backups>) {
        if self.links.is_empty() {
            return (None, None);
        }
        let running = self.task.as_ref().is_some_and(|t| !t.is_finished());
        if !running && self.started_at.is_none_or(|at| at.elapsed() >= every) {
            self.started_at = Some(Instant::now());
            let links = self.links.clone();
            let latest = Arc::clone(&self.latest);
            let handshakes = Arc::clone(&self.handshakes);
            let deadline = self.deadline;
            self.task = Some(tokio::spawn(async move {
                let (wal, backups) = tokio::join!(
                    read_wal(&links, &handshakes, deadline, wal_path),
                    read_backups(&links, &handshakes, deadline)
                );
                if let Ok(mut l) = latest.lock() {
                    l.wal = wal.or(l.wal.take());
                    l.backups = backups.or(l.backups.take());
                }
            }));
        }
        self.latest
            .lock()
            .map(|l| (l.wal.clone(), l.backups.clone()))
            .unwrap_or_default()
    }
}

impl Drop for HostReads {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Runs `argv` on `host` with a deadline; the error is the operator's sentence.
async fn run(
    host: &HostConfig,
    ssh: &SshConfig,
    handshakes: &Arc<Semaphore>,
    deadline: Duration,
    argv: &[String],
) -> Result<String, String> {
    let connector = Connector::new(host, ssh, deadline, Arc::clone(handshakes));
    let work = async {
        let session = connector.connect().await.map_err(|e| e.message)?;
        let done = connector.run(&session, argv).await;
        close_in_background(session);
        let done = done.map_err(|e| e.message)?;
        if done.success() {
            Ok(done.stdout)
        } else {
            let said = done
                .stderr
                .lines()
                .chain(done.stdout.lines())
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!(
                "`{}` on {} exited with {}: {}",
                argv.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
                host.name,
                done.status
                    .map_or_else(|| "a signal".to_string(), |c| c.to_string()),
                crate::sanitize::sanitize_truncated(said, 200)
            ))
        }
    };
    tokio::time::timeout(deadline.saturating_mul(3), work)
        .await
        .unwrap_or_else(|_| Err(format!("ssh {}: no answer in time", host.name)))
}

async fn read_wal(
    links: &HostLinks,
    handshakes: &Arc<Semaphore>,
    deadline: Duration,
    wal_path: Option<String>,
) -> Option<WalSpace> {
    let host = links.wal_host.as_ref()?;
    let mut space = WalSpace {
        host: host.name.clone(),
        filesystem: None,
        error: None,
        limits: links.slot_wal,
    };
    match wal_path {
        None => {
            space.error =
                Some("Postgres did not say where its data directory is (grant pg_monitor)".into())
        }
        Some(path) => {
            match run(
                host,
                &links.ssh,
                handshakes,
                deadline,
                &wal_space::df_argv(&path),
            )
            .await
            .and_then(|out| wal_space::parse_df(&path, &out))
            {
                Ok(fs) => space.filesystem = Some(fs),
                Err(e) => space.error = Some(crate::sanitize::sanitize(&e).into_owned()),
            }
        }
    }
    Some(space)
}

async fn read_backups(
    links: &HostLinks,
    handshakes: &Arc<Semaphore>,
    deadline: Duration,
) -> Option<Backups> {
    let (host, stanza) = links.backup.as_ref()?;
    let mut b = Backups {
        host: host.name.clone(),
        stanza_name: stanza.clone(),
        stanza: None,
        error: None,
        limits: links.backup_limits,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match run(
        host,
        &links.ssh,
        handshakes,
        deadline,
        &backups::info_argv(stanza),
    )
    .await
    .and_then(|out| backups::parse_info(&out, stanza, now))
    {
        Ok(s) => b.stanza = Some(s),
        Err(e) => b.error = Some(crate::sanitize::sanitize(&e).into_owned()),
    }
    Some(b)
}
