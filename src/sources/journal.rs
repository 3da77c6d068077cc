//! A unit's journal over SSH: `journalctl -o json` run as argv (see `logs::query`) on the
//! host's master connection, shared with the host poll when the console hands both the
//! same [`Masters`](crate::sources::host::masters::Masters), so that opening, changing the
//! window or following costs one channel on it, not a handshake.

use std::sync::Arc;
use std::time::Duration;

use openssh::{Session, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::config::{HostConfig, SshConfig};
use crate::logs::LogLine;
use crate::logs::buffer::merge;
use crate::logs::journal::{MAX_MESSAGE_BYTES, parse_all, parse_line};
use crate::logs::query::{JournalDirectory, JournalQuery, UnitPattern, Window};
use crate::sanitize::sanitize_truncated;
use crate::sources::host::command_line::command_line;
use crate::sources::host::masters::Master;
use crate::sources::host::ssh::Connector;

/// A JSON line longer than this is not journalctl's (its messages are cut before this).
const MAX_LINE_BYTES: usize = 8 * MAX_MESSAGE_BYTES;
/// Lines a follow sends in one batch at most: a flood arrives in chunks the screen can take.
const BATCH_LINES: usize = 2_000;

/// What one read of one host's journal gave.
#[derive(Debug, Default)]
pub struct JournalAnswer {
    pub lines: Vec<LogLine>,
    /// Lines that were not journalctl's JSON (counted, never shown).
    pub unreadable: usize,
}

/// One host whose journal a log view reads, and its master connection.
pub struct JournalHost {
    connector: Connector,
    directory: Option<JournalDirectory>,
    master: Arc<Master>,
}

impl JournalHost {
    pub fn new(
        host: &HostConfig,
        ssh: &SshConfig,
        connect_timeout: Duration,
        handshakes: Arc<Semaphore>,
    ) -> Result<JournalHost, String> {
        let directory = host
            .journal_directory
            .as_deref()
            .map(JournalDirectory::parse)
            .transpose()
            .map_err(|e| format!("host {}: {e}", host.name))?;
        Ok(JournalHost {
            connector: Connector::new(host, ssh, connect_timeout, handshakes),
            directory,
            master: Arc::default(),
        })
    }

    /// Reads over `master`, the host's connection shared with its poll.
    pub fn with_master(mut self, master: Arc<Master>) -> JournalHost {
        self.master = master;
        self
    }

    pub fn name(&self) -> &str {
        self.connector.host()
    }

    pub fn query(
        &self,
        units: &[UnitPattern],
        window: Window,
        max_lines: usize,
        follow: bool,
    ) -> JournalQuery {
        JournalQuery {
            units: units.to_vec(),
            window,
            max_lines,
            follow,
            directory: self.directory.clone(),
        }
    }

    async fn session(&self) -> Result<Arc<Session>, String> {
        self.master
            .connect(&self.connector)
            .await
            .map_err(|e| e.message)
    }

    /// Reads the journal once. A failed command drops the connection so the next read
    /// makes a fresh one.
    pub async fn read(
        &mut self,
        units: &[UnitPattern],
        window: Window,
        max_lines: usize,
        deadline: Duration,
    ) -> Result<JournalAnswer, String> {
        let query = self.query(units, window, max_lines, false);
        let host = self.name().to_string();
        let mut used = None;
        let attempt = async {
            let session = self.session().await?;
            used = Some(Arc::clone(&session));
            self.connector
                .run(&session, &query.argv())
                .await
                .map_err(|e| e.message)
        };
        let finished = match tokio::time::timeout(deadline, attempt).await {
            Ok(Ok(f)) => f,
            Ok(Err(e)) => {
                self.drop_session(used);
                return Err(e);
            }
            // A slow journalctl is no sign of a broken master: the poll, which shares it,
            // checks a master it suspects.
            Err(_) => {
                return Err(format!(
                    "journal of {host}: no answer from journalctl within {}",
                    humantime::format_duration(deadline)
                ));
            }
        };
        if !finished.success() {
            return Err(journalctl_failed(&host, finished.status, &finished.stderr));
        }
        let (lines, unreadable) = parse_all(&host, &finished.stdout);
        Ok(JournalAnswer { lines, unreadable })
    }

    /// Follows the journal: batches of new lines go to `tx` until the receiver is dropped
    /// or the handle aborted (the remote journalctl goes with the channel).
    pub async fn follow(
        &mut self,
        units: &[UnitPattern],
        window: Window,
        max_lines: usize,
        tx: mpsc::Sender<FollowEvent>,
    ) -> Result<Following, String> {
        let query = self.query(units, window, max_lines, true);
        let session = self.session().await?;
        let host = self.name().to_string();
        let mut child = Session::arc_raw_command(session, command_line(&query.argv()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|e| format!("journal of {host}: cannot start journalctl ({e})"))?;
        let stdout = child
            .stdout()
            .take()
            .ok_or_else(|| format!("journal of {host}: journalctl gave no output stream"))?;
        let mut stderr = child.stderr().take();
        let task = tokio::spawn(async move {
            let ended = pump(&host, stdout, &tx).await;
            let mut said = String::new();
            if let Some(err) = stderr.as_mut() {
                let _ = err.take(4096).read_to_string(&mut said).await;
            }
            let status = child.wait().await.ok().and_then(|s| s.code());
            let why = match ended {
                Err(()) => return,
                Ok(()) if status == Some(0) => format!("journal of {host}: journalctl ended"),
                Ok(()) => journalctl_failed(&host, status, &said),
            };
            let _ = tx.send(FollowEvent::Ended(why)).await;
        });
        Ok(Following { task })
    }

    /// A read that failed leaves its connection suspect: the next read makes a new one.
    fn drop_session(&self, used: Option<Arc<Session>>) {
        if let Some(s) = used {
            self.master.discard(s);
        }
    }
}

/// What a followed journal sends.
#[derive(Debug)]
pub enum FollowEvent {
    Lines {
        lines: Vec<LogLine>,
        unreadable: usize,
    },
    Ended(String),
}

/// A running follow; dropping it stops it.
pub struct Following {
    task: JoinHandle<()>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads lines until the stream ends (`Ok`) or the receiver is gone (`Err`).
async fn pump(
    host: &str,
    stdout: openssh::ChildStdout,
    tx: &mpsc::Sender<FollowEvent>,
) -> Result<(), ()> {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut raw = Vec::with_capacity(4096);
    loop {
        let mut lines = Vec::new();
        let mut unreadable = 0;
        let mut ended = false;
        loop {
            raw.clear();
            match read_capped_line(&mut reader, &mut raw).await {
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(false)) => unreadable += 1,
                Ok(Some(true)) => {
                    let text = String::from_utf8_lossy(&raw);
                    match parse_line(host, text.trim_end()) {
                        Ok(line) => lines.push(line),
                        Err(_) if text.trim().is_empty() => {}
                        Err(_) => unreadable += 1,
                    }
                }
                Err(_) => {
                    ended = true;
                    break;
                }
            }
            // Send what is already here as one batch; wait for more only when nothing is.
            if lines.len() >= BATCH_LINES || !reader.buffer().contains(&b'\n') {
                break;
            }
        }
        if (!lines.is_empty() || unreadable > 0)
            && tx
                .send(FollowEvent::Lines { lines, unreadable })
                .await
                .is_err()
        {
            return Err(());
        }
        if ended {
            return Ok(());
        }
    }
}

/// One line into `raw`: `None` at the end, `Some(false)` when it was too long (skipped).
async fn read_capped_line<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    raw: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    let n = (&mut *reader)
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', raw)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if raw.ends_with(b"\n") || n < MAX_LINE_BYTES {
        return Ok(Some(true));
    }
    // Too long: skip to its end.
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let m = (&mut *reader)
            .take(64 * 1024)
            .read_until(b'\n', &mut rest)
            .await?;
        if m == 0 || rest.ends_with(b"\n") {
            return Ok(Some(false));
        }
    }
}

pub fn journalctl_failed(host: &str, status: Option<i32>, stderr: &str) -> String {
    let said = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    let hint = if status == Some(127) || said.contains("not found") {
        " (is journalctl installed and on the SSH user's PATH?)"
    } else if said.contains("Failed to open") {
        " (does the host's `journal_directory` exist there?)"
    } else if said.contains("ermission denied") || said.contains("No journal files") {
        " (the SSH user needs to be in the `systemd-journal` or `adm` group to read the journal)"
    } else {
        ""
    };
    let status = status.map_or_else(|| "was killed".to_string(), |s| format!("exited {s}"));
    format!(
        "journal of {host}: journalctl {status}: {}{hint}",
        sanitize_truncated(said, 200)
    )
}

/// Every host's journal at once, merged by time. Errors are per host: one dead host does
/// not hide the others' lines.
pub async fn read_hosts(
    hosts: &mut [JournalHost],
    units: &[UnitPattern],
    window: Window,
    max_lines: usize,
    deadline: Duration,
) -> (Vec<LogLine>, usize, Vec<String>) {
    let reads = hosts
        .iter_mut()
        .map(|h| h.read(units, window, max_lines, deadline));
    let results = futures_util::future::join_all(reads).await;
    let mut batches = Vec::new();
    let mut unreadable = 0;
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(a) => {
                unreadable += a.unreadable;
                batches.push(a.lines);
            }
            Err(e) => errors.push(e),
        }
    }
    (merge(batches), unreadable, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journalctl_failures_say_what_to_check_without_escapes() {
        let m = journalctl_failed("web-1", Some(127), "sh: 1: journalctl: not found\n");
        assert!(m.contains("on the SSH user's PATH"), "{m}");
        let m = journalctl_failed(
            "web-1",
            Some(1),
            "No journal files were found.\u{1b}]0;x\u{7}",
        );
        assert!(
            m.contains("systemd-journal") && !m.contains('\u{1b}'),
            "{m}"
        );
        assert!(journalctl_failed("h", None, "").contains("was killed"));
        let m = journalctl_failed("h", Some(1), "Failed to open /x: No such file or directory");
        assert!(m.contains("journal_directory"), "{m}");
    }

    #[tokio::test]
    async fn capped_lines_skip_what_is_too_long() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"a\":1}\n");
        let mut reader = BufReader::new(&input[..]);
        let mut raw = Vec::new();
        assert_eq!(
            read_capped_line(&mut reader, &mut raw).await.unwrap(),
            Some(false)
        );
        raw.clear();
        assert_eq!(
            read_capped_line(&mut reader, &mut raw).await.unwrap(),
            Some(true)
        );
        assert_eq!(raw, b"{\"a\":1}\n");
        raw.clear();
        assert_eq!(read_capped_line(&mut reader, &mut raw).await.unwrap(), None);
    }
}
