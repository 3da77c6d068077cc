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
use crate::sources::loki::{LokiReader, TailError, TailRefusal};

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
        /// Lines dropped at the reader before this batch because the view's queue was
        /// full (the console could not keep up); counted, never shown.
        dropped: u64,
    },
    /// A host or reader failed; the others go on.
    Failed(String),
    /// Nothing more will come (a one-off read finished, or following stopped), and why.
    Ended(String),
}

/// How often the demo (and a Loki that offers no tail) is asked for new lines while
/// following.
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
        let _ = tx
            .send(LogEvent::Lines {
                lines,
                unreadable,
                dropped: 0,
            })
            .await;
        let _ = tx.send(LogEvent::Ended("read once".into())).await;
        return;
    }
    let mut out = Outlet::new(tx);
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
                let _ = out.send(LogEvent::Failed(e)).await;
            }
            Err(_) => {
                let _ = out
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
        && out
            .send(LogEvent::Lines {
                lines: Vec::new(),
                unreadable: 0,
                dropped: 0,
            })
            .await
            .is_err()
    {
        return;
    }
    while running > 0 {
        // While lines flow the count of dropped ones rides on the next batch that fits;
        // once the hosts are quiet it goes on its own, as soon as the view has room.
        let event = if out.owes() {
            tokio::select! {
                biased;
                event = follow_rx.recv() => event,
                settled = out.settle() => {
                    if settled.is_err() {
                        return;
                    }
                    continue;
                }
            }
        } else {
            follow_rx.recv().await
        };
        let Some(event) = event else {
            break;
        };
        let sent = match event {
            FollowEvent::Lines { lines, unreadable } => out.offer(lines, unreadable),
            FollowEvent::Ended(why) => {
                running -= 1;
                out.send(LogEvent::Failed(why)).await
            }
        };
        if sent.is_err() {
            return;
        }
    }
    let _ = out
        .send(LogEvent::Ended("no host is followed any more".into()))
        .await;
}

/// The view went away: nothing more to send.
#[derive(Debug, PartialEq, Eq)]
pub struct Gone;

/// How a followed log hands its batches to a view that may fall behind. The view's queue
/// is bounded: a batch it has no room for is dropped here and counted, and the count goes
/// with the next batch that fits (or on its own, see [`Outlet::settle`]), so the console's
/// memory stays bounded and the view's dropped count honest.
pub struct Outlet {
    tx: mpsc::Sender<LogEvent>,
    dropped: u64,
    unreadable: usize,
}

impl Outlet {
    pub fn new(tx: mpsc::Sender<LogEvent>) -> Outlet {
        Outlet {
            tx,
            dropped: 0,
            unreadable: 0,
        }
    }

    /// Hands over a batch if the view has room, else drops and counts it.
    pub fn offer(&mut self, lines: Vec<LogLine>, unreadable: usize) -> Result<(), Gone> {
        let n = lines.len() as u64;
        let event = LogEvent::Lines {
            lines,
            unreadable: self.unreadable + unreadable,
            dropped: self.dropped,
        };
        match self.tx.try_send(event) {
            Ok(()) => {
                self.dropped = 0;
                self.unreadable = 0;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped += n;
                self.unreadable += unreadable;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Gone),
        }
    }

    /// Counts lines lost before they reached this reader (those Loki dropped itself): they
    /// are told with the ones dropped here.
    pub fn lost(&mut self, n: u64) {
        self.dropped += n;
    }

    /// Whether dropped lines (or unreadable ones) have not been told to the view yet.
    pub fn owes(&self) -> bool {
        self.dropped > 0 || self.unreadable > 0
    }

    /// Waits for room and tells the view what it is owed. Cancel-safe: the count is kept
    /// until it is sent.
    pub async fn settle(&mut self) -> Result<(), Gone> {
        if !self.owes() {
            return Ok(());
        }
        let permit = self.tx.reserve().await.map_err(|_| Gone)?;
        permit.send(LogEvent::Lines {
            lines: Vec::new(),
            unreadable: self.unreadable,
            dropped: self.dropped,
        });
        self.dropped = 0;
        self.unreadable = 0;
        Ok(())
    }

    /// Sends an event that must arrive (a failure, the end, the first batch), after what
    /// the view is owed.
    pub async fn send(&mut self, event: LogEvent) -> Result<(), Gone> {
        self.settle().await?;
        self.tx.send(event).await.map_err(|_| Gone)
    }
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
    let mut out = Outlet::new(tx);
    let end_ns = crate::sources::loki::now_ns();
    let answer = reader
        .read(
            &hosts,
            &read.units,
            read.window,
            end_ns,
            read.max_lines,
            LOG_DEADLINE,
        )
        .await;
    let mut newest_ns = None;
    let sent = match answer {
        Ok(a) => {
            newest_ns = a.newest_ns;
            out.send(LogEvent::Lines {
                lines: a.lines,
                unreadable: a.unreadable,
                dropped: 0,
            })
            .await
        }
        Err(e) => out.send(LogEvent::Failed(e)).await,
    };
    if sent.is_err() {
        return;
    }
    if read.follow {
        // The tail starts right after the newest line read, so lines that came in
        // meanwhile are sent first.
        let start_ns = newest_ns.map_or(end_ns, |n| n + 1);
        let Ok(polled_from) = loki_tail(&mut reader, &hosts, &read, start_ns, &mut out).await
        else {
            return;
        };
        if loki_poll(&mut reader, &hosts, &read, polled_from, &mut out)
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = out.send(LogEvent::Ended("read once".into())).await;
}

/// The longest wait before a tail that failed to open (or said nothing) is opened again.
const TAIL_RETRY_CAP: Duration = Duration::from_secs(30);

/// Follows Loki's `tail` websocket from `start_ns`, opening it again from just after the
/// newest line seen when it closes or hangs, until the view goes. When Loki offers no
/// tail, says so once and gives back where polling should go on from.
async fn loki_tail(
    reader: &mut LokiReader,
    hosts: &[String],
    read: &LogRead,
    mut start_ns: i128,
    out: &mut Outlet,
) -> Result<i128, Gone> {
    // Opens in a row that brought no line: each waits twice as long as the one before.
    let mut fruitless = 0u32;
    loop {
        let opened = reader
            .tail(hosts, &read.units, start_ns, read.max_lines, LOG_DEADLINE)
            .await;
        let mut tail = match opened {
            Ok(tail) => tail,
            Err(TailRefusal::NoTail(why)) => {
                out.send(LogEvent::Failed(format!(
                    "{why}: following by asking query_range every second instead"
                )))
                .await?;
                return Ok(start_ns);
            }
            Err(TailRefusal::Failed(why)) => {
                out.send(LogEvent::Failed(why)).await?;
                fruitless += 1;
                pause_for(out, retry_after(fruitless)).await?;
                continue;
            }
        };
        let mut heard = false;
        loop {
            // While lines flow Loki's and the reader's dropped counts ride on the next batch
            // that fits; when Loki is quiet they go on their own once the view has room.
            let next = if out.owes() {
                tokio::select! {
                    biased;
                    next = tail.next() => next,
                    settled = out.settle() => {
                        settled?;
                        continue;
                    }
                }
            } else {
                tail.next().await
            };
            match next {
                Ok(Some(batch)) => {
                    heard = true;
                    if let Some(newest) = batch.entries.newest_ns {
                        start_ns = start_ns.max(newest + 1);
                    }
                    out.lost(batch.dropped);
                    out.offer(batch.entries.lines, batch.entries.unreadable)?;
                }
                Ok(None) => break,
                Err(TailError::Garbage(why)) => out.send(LogEvent::Failed(why)).await?,
                Err(TailError::Broken(why)) => {
                    out.send(LogEvent::Failed(why)).await?;
                    break;
                }
            }
        }
        if heard {
            fruitless = 0;
        } else {
            fruitless += 1;
            pause_for(out, retry_after(fruitless)).await?;
        }
    }
}

/// 1 s, 2 s, 4 s … up to [`TAIL_RETRY_CAP`].
fn retry_after(fruitless: u32) -> Duration {
    POLL_EVERY
        .saturating_mul(1 << fruitless.saturating_sub(1).min(8))
        .min(TAIL_RETRY_CAP)
}

/// Follows by asking `query_range` for the last seconds every [`POLL_EVERY`], keeping the
/// lines newer than those held (everything from `from_ns` on).
async fn loki_poll(
    reader: &mut LokiReader,
    hosts: &[String],
    read: &LogRead,
    from_ns: i128,
    out: &mut Outlet,
) -> Result<(), Gone> {
    let mut newest = i64::try_from((from_ns - 1).div_euclid(1000)).unwrap_or(i64::MIN);
    loop {
        pause(out).await?;
        let answer = reader
            .read(
                hosts,
                &read.units,
                // Overlap the last read so that a line Loki ingested late is not missed.
                Window::Last(Duration::from_secs(10)),
                crate::sources::loki::now_ns(),
                read.max_lines,
                LOG_DEADLINE,
            )
            .await;
        match answer {
            Ok(a) => {
                let mut lines: Vec<LogLine> =
                    a.lines.into_iter().filter(|l| l.at_us > newest).collect();
                lines.sort_by_key(|l| l.at_us);
                newest = lines.last().map_or(newest, |l| l.at_us);
                out.offer(lines, a.unreadable)?;
            }
            Err(e) => out.send(LogEvent::Failed(e)).await?,
        }
    }
}

/// Waits until the next poll of a followed log, telling the view meanwhile what it is
/// owed as soon as it has room.
async fn pause(out: &mut Outlet) -> Result<(), Gone> {
    pause_for(out, POLL_EVERY).await
}

/// Waits `wait`, telling the view meanwhile what it is owed as soon as it has room.
async fn pause_for(out: &mut Outlet, wait: Duration) -> Result<(), Gone> {
    let wake = tokio::time::Instant::now() + wait;
    if let Ok(Err(Gone)) = tokio::time::timeout_at(wake, out.settle()).await {
        return Err(Gone);
    }
    tokio::time::sleep_until(wake).await;
    Ok(())
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
    let mut out = Outlet::new(tx);
    if out
        .send(LogEvent::Lines {
            lines,
            unreadable: 0,
            dropped: 0,
        })
        .await
        .is_err()
        || !read.follow
    {
        let _ = out.send(LogEvent::Ended("read once".into())).await;
        return;
    }
    loop {
        if pause(&mut out).await.is_err() {
            return;
        }
        let now = now_us();
        let lines = crate::demo::logs::between(&hosts, &read.units, anchor, until, now);
        until = now;
        if out.offer(lines, 0).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Vec<LogLine> {
        (0..n)
            .map(|i| LogLine {
                at_us: i as i64,
                host: "streaming-1".into(),
                unit: "mastodon-streaming.service".into(),
                priority: None,
                message: format!("line {i}"),
            })
            .collect()
    }

    fn lines_of(event: Option<LogEvent>) -> (usize, usize, u64) {
        match event {
            Some(LogEvent::Lines {
                lines,
                unreadable,
                dropped,
            }) => (lines.len(), unreadable, dropped),
            other => panic!("expected lines, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_full_queue_drops_batches_at_the_reader_and_counts_them_exactly() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut out = Outlet::new(tx);
        out.offer(batch(100), 0).unwrap();
        assert!(!out.owes());
        // The view takes nothing: nine batches have no room.
        for _ in 0..9 {
            out.offer(batch(100), 1).unwrap();
        }
        assert!(out.owes());
        assert_eq!(lines_of(rx.recv().await), (100, 0, 0));
        // The next batch that fits carries the count.
        out.offer(batch(7), 0).unwrap();
        assert_eq!(lines_of(rx.recv().await), (7, 9, 900));
        assert!(!out.owes());
        // Quiet hosts: the count goes on its own once there is room.
        out.offer(batch(5), 0).unwrap();
        out.offer(batch(50), 0).unwrap();
        let settling = tokio::spawn(async move {
            out.settle().await.unwrap();
            out
        });
        assert_eq!(lines_of(rx.recv().await), (5, 0, 0));
        assert_eq!(lines_of(rx.recv().await), (0, 0, 50));
        let mut out = settling.await.unwrap();
        assert!(!out.owes());
        // An event that must arrive goes after what is owed.
        out.offer(batch(3), 0).unwrap();
        out.offer(batch(3), 0).unwrap();
        drop(rx.recv().await);
        let sending = tokio::spawn(async move {
            out.send(LogEvent::Ended("done".into())).await.unwrap();
            out
        });
        assert_eq!(lines_of(rx.recv().await), (0, 0, 3));
        assert!(matches!(rx.recv().await, Some(LogEvent::Ended(_))));
        let mut out = sending.await.unwrap();
        drop(rx);
        assert_eq!(out.offer(batch(1), 0), Err(Gone));
    }
}
