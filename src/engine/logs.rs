//! What a log view or `mastop logs` reads with: the journal readers of the configured
//! hosts, the Loki readers, and the signatures (shipped and configured).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::Engine;
use crate::config::Config;
use crate::logs::LogLine;
use crate::logs::query::{UnitPattern, Window};
use crate::logs::signatures::Signatures;
use crate::sources::host::masters::Masters;
use crate::sources::journal::{FollowEvent, JournalHost};
use crate::sources::loki::LokiReader;

/// How long a log read may take before it is reported as hung.
pub const LOG_DEADLINE: Duration = Duration::from_secs(15);

impl Engine {
    /// Journal readers for `target`: a `[[host]]` name, or `role:NAME` for every enabled
    /// host with that role. Hosts that are not configured are an error naming them.
    pub fn journal_hosts(&self, target: &str) -> Result<Vec<JournalHost>, String> {
        journal_hosts(self.config(), target, &self.masters)
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

    /// What the console's log view reads with: this config's hosts and Loki, or the demo's
    /// journals.
    pub fn log_readers(&self) -> LogReaders {
        LogReaders {
            config: Arc::new(self.config().clone()),
            demo: self.demo().map(|d| (std::time::Instant::now(), d.at)),
            masters: Arc::clone(&self.masters),
        }
    }

    /// The shipped signatures and the config's `[[logs.signature]]`.
    pub fn log_signatures(&self) -> Result<Signatures, String> {
        crate::logs::signatures::configured(&self.config().logs)
    }
}

/// `target`: a `[[host]]` name, several joined by `,`, or `role:NAME` for every enabled
/// host with that role. Every name must be configured.
fn journal_hosts(
    cfg: &Config,
    target: &str,
    masters: &Masters,
) -> Result<Vec<JournalHost>, String> {
    let chosen: Vec<_> = match target.strip_prefix("role:") {
        Some(role) => cfg
            .hosts
            .iter()
            .filter(|h| h.enabled && h.roles.iter().any(|r| r == role))
            .collect(),
        None => {
            let names: Vec<&str> = target.split(',').collect();
            let chosen: Vec<_> = cfg
                .hosts
                .iter()
                .filter(|h| h.enabled && names.contains(&h.name.as_str()))
                .collect();
            if chosen.len() < names.len() {
                Vec::new()
            } else {
                chosen
            }
        }
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
        .map(|h| {
            JournalHost::new(h, &cfg.ssh, LOG_DEADLINE / 2, Arc::clone(&handshakes))
                .map(|j| j.with_master(masters.of(&h.name)))
        })
        .collect()
}

/// One log read a view asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRead {
    /// Hosts' names joined by `,`, or `role:NAME`.
    pub target: String,
    pub units: Vec<UnitPattern>,
    pub window: Window,
    pub max_lines: usize,
    pub follow: bool,
}

/// What a read sends back, in order, until it ends or its receiver goes.
#[derive(Debug)]
pub enum LogEvent {
    Lines {
        lines: Vec<LogLine>,
        unreadable: usize,
    },
    /// A host or reader failed; the others go on.
    Failed(String),
    /// Nothing more will come (a one-off read finished, or following stopped), and why.
    Ended(String),
}

/// How often the demo and Loki are asked for new lines while following.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The readers behind the console's log view, cheap to clone into a task.
#[derive(Clone)]
pub struct LogReaders {
    config: Arc<Config>,
    /// When the demo started and how far into its script, to place its journals in time.
    demo: Option<(std::time::Instant, Duration)>,
    /// The hosts' master connections, shared with the host poll of the same engine.
    masters: Arc<Masters>,
}

impl LogReaders {
    /// Readers of the demo's journals, starting `offset` into its script now.
    pub fn demo(offset: Duration) -> LogReaders {
        LogReaders {
            config: Arc::new(Config::default()),
            demo: Some((std::time::Instant::now(), offset)),
            masters: Arc::default(),
        }
    }

    /// Readers of `config`'s hosts and Loki.
    pub fn live(config: Config) -> LogReaders {
        LogReaders {
            config: Arc::new(config),
            demo: None,
            masters: Arc::default(),
        }
    }

    pub fn is_demo(&self) -> bool {
        self.demo.is_some()
    }

    /// Where a saved log goes: the data directory's `logs/`, or in the demo (a sandbox) a
    /// directory under the system's temporary one.
    pub fn save_dir(&self) -> Option<std::path::PathBuf> {
        match self.demo {
            Some(_) => Some(std::env::temp_dir().join("mastop-demo-logs")),
            None => crate::paths::data_dir().map(|d| d.join("logs")),
        }
    }

    /// Reads `read` into `tx`: the window first, then (following) new lines as they come,
    /// until `tx`'s receiver is dropped. The journal of a configured host is read over SSH;
    /// a target no `[[host]]` names is asked of the first `[[loki]]`, when there is one.
    pub async fn stream(&self, read: LogRead, tx: mpsc::Sender<LogEvent>) {
        if let Some((started, offset)) = self.demo {
            return demo_stream(started, offset, read, tx).await;
        }
        match journal_hosts(&self.config, &read.target, &self.masters) {
            Ok(hosts) => journal_stream(hosts, read, tx).await,
            Err(e) => match self.config.loki.iter().find(|l| l.enabled) {
                Some(entry) => match LokiReader::new(entry, &self.config.logs) {
                    Ok(reader) => {
                        let hosts = loki_hosts(&self.config, &read.target);
                        loki_stream(reader, hosts, read, tx).await
                    }
                    Err(e) => {
                        let _ = tx.send(LogEvent::Ended(e)).await;
                    }
                },
                None => {
                    let _ = tx.send(LogEvent::Ended(e)).await;
                }
            },
        }
    }
}

async fn journal_stream(mut hosts: Vec<JournalHost>, read: LogRead, tx: mpsc::Sender<LogEvent>) {
    if !read.follow {
        let (lines, unreadable, errors) = crate::sources::journal::read_hosts(
            &mut hosts,
            &read.units,
            read.window,
            read.max_lines,
            LOG_DEADLINE,
        )
        .await;
        for e in errors {
            let _ = tx.send(LogEvent::Failed(e)).await;
        }
        let _ = tx.send(LogEvent::Lines { lines, unreadable }).await;
        let _ = tx.send(LogEvent::Ended("read once".into())).await;
        return;
    }
    let (follow_tx, mut follow_rx) = mpsc::channel(8);
    // Held until this task ends: dropping them stops the remote journalctl.
    let mut following = Vec::new();
    for host in &mut hosts {
        let name = host.name().to_string();
        let started = tokio::time::timeout(
            LOG_DEADLINE,
            host.follow(&read.units, read.window, read.max_lines, follow_tx.clone()),
        )
        .await;
        match started {
            Ok(Ok(f)) => following.push(f),
            Ok(Err(e)) => {
                let _ = tx.send(LogEvent::Failed(e)).await;
            }
            Err(_) => {
                let _ = tx
                    .send(LogEvent::Failed(format!(
                        "journal of {name}: no answer within {}",
                        humantime::format_duration(LOG_DEADLINE)
                    )))
                    .await;
            }
        }
    }
    drop(follow_tx);
    let mut running = following.len();
    // journalctl says nothing when the window is empty: an empty batch tells the view that
    // the reading has started, so it stops saying it is waiting.
    if running > 0
        && tx
            .send(LogEvent::Lines {
                lines: Vec::new(),
                unreadable: 0,
            })
            .await
            .is_err()
    {
        return;
    }
    while running > 0 {
        let Some(event) = follow_rx.recv().await else {
            break;
        };
        let sent = match event {
            FollowEvent::Lines { lines, unreadable } => {
                tx.send(LogEvent::Lines { lines, unreadable }).await
            }
            FollowEvent::Ended(why) => {
                running -= 1;
                tx.send(LogEvent::Failed(why)).await
            }
        };
        if sent.is_err() {
            return;
        }
    }
    let _ = tx
        .send(LogEvent::Ended("no host is followed any more".into()))
        .await;
}

/// The host label values a Loki read asks for: the role's configured hosts (none
/// configured: every host), or the names given.
fn loki_hosts(cfg: &Config, target: &str) -> Vec<String> {
    match target.strip_prefix("role:") {
        Some(role) => cfg
            .hosts
            .iter()
            .filter(|h| h.roles.iter().any(|r| r == role))
            .map(|h| h.name.clone())
            .collect(),
        None => target.split(',').map(str::to_string).collect(),
    }
}

async fn loki_stream(
    mut reader: LokiReader,
    hosts: Vec<String>,
    read: LogRead,
    tx: mpsc::Sender<LogEvent>,
) {
    let mut window = read.window;
    let mut newest = i64::MIN;
    loop {
        let answer = reader
            .read(
                &hosts,
                &read.units,
                window,
                crate::sources::loki::now_ns(),
                read.max_lines,
                LOG_DEADLINE,
            )
            .await;
        let sent = match answer {
            Ok(a) => {
                let mut lines: Vec<LogLine> =
                    a.lines.into_iter().filter(|l| l.at_us > newest).collect();
                lines.sort_by_key(|l| l.at_us);
                newest = lines.last().map_or(newest, |l| l.at_us);
                tx.send(LogEvent::Lines {
                    lines,
                    unreadable: a.unreadable,
                })
                .await
            }
            Err(e) => tx.send(LogEvent::Failed(e)).await,
        };
        if sent.is_err() || !read.follow {
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
        // Overlap the last read so that a line Loki ingested late is not missed.
        window = Window::Last(Duration::from_secs(10));
    }
    let _ = tx.send(LogEvent::Ended("read once".into())).await;
}

async fn demo_stream(
    started: std::time::Instant,
    offset: Duration,
    read: LogRead,
    tx: mpsc::Sender<LogEvent>,
) {
    use crate::demo::clock::Anchor;
    let hosts = match crate::demo::logs::resolve(&read.target) {
        Ok(h) => h,
        Err(e) => {
            let _ = tx.send(LogEvent::Ended(e)).await;
            return;
        }
    };
    let anchor = Anchor::new(
        crate::demo::demo_time(started, offset),
        std::time::SystemTime::now(),
    );
    let now_us = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    };
    let mut until = now_us();
    let mut lines = match read.window {
        Window::Tail => crate::demo::logs::tail(&hosts, &read.units, anchor, until, read.max_lines),
        Window::Last(d) => crate::demo::logs::between(
            &hosts,
            &read.units,
            anchor,
            until - i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2),
            until,
        ),
    };
    let excess = lines.len().saturating_sub(read.max_lines);
    lines.drain(..excess);
    if tx
        .send(LogEvent::Lines {
            lines,
            unreadable: 0,
        })
        .await
        .is_err()
        || !read.follow
    {
        let _ = tx.send(LogEvent::Ended("read once".into())).await;
        return;
    }
    loop {
        tokio::time::sleep(POLL_EVERY).await;
        let now = now_us();
        let lines = crate::demo::logs::between(&hosts, &read.units, anchor, until, now);
        until = now;
        if tx
            .send(LogEvent::Lines {
                lines,
                unreadable: 0,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}
