//! The audit log: append-only JSON Lines, each record flushed to disk (fsync) before the
//! pipeline moves on. The intent record is on disk before the first mutating byte leaves,
//! so a console killed mid-action still leaves its trace. Records hold the exact operations
//! (secrets masked, job payloads as fingerprints), never user content.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Written before execution: the action is about to run.
    Intent,
    /// Written after: how it ended (or why it never started).
    Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    /// A guard said no before anything was sent.
    Refused,
    /// The operator cancelled, or the deadline passed mid-way.
    Aborted,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Refused => "refused",
            Outcome::Aborted => "aborted",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardDecision {
    pub guard: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique per record.
    pub id: String,
    /// Shared by an action's intent and outcome records.
    pub action_id: String,
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub phase: Phase,
    pub operator: String,
    #[serde(default)]
    pub tailscale_login: Option<String>,
    pub console_host: String,
    pub console_id: String,
    pub role: String,
    pub kind: String,
    pub title: String,
    /// The target as text (`postgres/primary pid 4121`) and its lock key.
    pub target: String,
    pub target_key: String,
    pub risk: String,
    /// Exactly what was (or would have been) sent, masked.
    pub operations: Vec<String>,
    pub guards: Vec<GuardDecision>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
    /// What the executor reported (e.g. "pg_cancel_backend returned true").
    #[serde(default)]
    pub result: Option<String>,
    /// Set when the action was one step of a runbook run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<RunbookMark>,
}

/// Which runbook run an action belonged to, so a run can be followed (and reported at a
/// handoff) as one piece.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookMark {
    /// Unique per run; shared by every step's records.
    pub run: String,
    pub name: String,
    /// 1-based step number.
    pub step: usize,
    #[serde(default)]
    pub dry_run: bool,
}

impl AuditRecord {
    pub fn at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.time).ok()
    }
}

/// A random-enough unique id: time, pid and a process-wide counter, hex.
pub fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{nanos:016x}{:06x}{n:04x}", std::process::id() & 0xff_ffff)
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// The local audit file. Opened for each append (O_APPEND, 0600), so several consoles on
/// one machine interleave whole lines and a rotated file is picked up.
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$XDG_DATA_HOME/mastop/audit.jsonl`.
    pub fn default_path() -> Option<PathBuf> {
        crate::paths::data_dir().map(|d| d.join("audit.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk. An error means the record may
    /// not be durable, and the caller must not act.
    pub fn append(&self, record: &AuditRecord) -> Result<(), String> {
        let mut line =
            serde_json::to_vec(record).map_err(|e| format!("cannot encode audit record: {e}"))?;
        line.push(b'\n');
        if let Some(dir) = self.path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create audit directory {}: {e}", dir.display()))?;
        }
        let open = |read: bool| {
            std::fs::OpenOptions::new()
                .create(true)
                .read(read)
                .append(true)
                .mode(0o600)
                .open(&self.path)
        };
        // A shared log may be writable but not readable by this operator: append anyway.
        let (mut file, readable) = match open(true) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => (
                open(false)
                    .map_err(|e| format!("cannot open audit log {}: {e}", self.path.display()))?,
                false,
            ),
            Err(e) => {
                return Err(format!(
                    "cannot open audit log {}: {e}",
                    self.path.display()
                ));
            }
        };
        // A crash mid-write leaves a torn last line; glued to it, this record would be
        // unreadable too. An empty line (when another console appended in between) is
        // harmless: readers skip it.
        if readable
            && !crate::actions::store::local::ends_with_newline(&file)
                .map_err(|e| format!("cannot read audit log {}: {e}", self.path.display()))?
        {
            line.insert(0, b'\n');
        }
        file.write_all(&line)
            .map_err(|e| format!("cannot write audit log {}: {e}", self.path.display()))?;
        file.sync_data().map_err(|e| {
            format!(
                "cannot flush audit log {} to disk: {e}",
                self.path.display()
            )
        })?;
        Ok(())
    }

    /// Records at or after `since`, oldest first. Lines that do not parse are counted, not
    /// fatal: a torn last line from a crash must not hide the rest of the history.
    pub fn read_since(
        &self,
        since: Option<SystemTime>,
    ) -> Result<(Vec<AuditRecord>, usize), String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => {
                return Err(format!(
                    "cannot read audit log {}: {e}",
                    self.path.display()
                ));
            }
        };
        let mut records = Vec::new();
        let mut unreadable = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<AuditRecord>(line) {
                Ok(r) if since.is_none_or(|s| r.at().is_some_and(|t| t >= s)) => records.push(r),
                Ok(_) => {}
                Err(_) => unreadable += 1,
            }
        }
        Ok((records, unreadable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn sample(phase: Phase, outcome: Option<Outcome>) -> AuditRecord {
        AuditRecord {
            id: new_id(),
            action_id: "a1".into(),
            time: now_rfc3339(),
            phase,
            operator: "kris".into(),
            tailscale_login: None,
            console_host: "laptop".into(),
            console_id: "laptop:1:x".into(),
            role: "oncall".into(),
            kind: "demo.restart_unit".into(),
            title: "Restart".into(),
            target: "host/web-1 mastodon-web".into(),
            target_key: "host/web-1#mastodon-web".into(),
            risk: "high".into(),
            operations: vec!["(simulated) systemctl restart mastodon-web".into()],
            guards: vec![],
            outcome,
            duration_ms: None,
            error: None,
            result: None,
            runbook: None,
        }
    }

    #[test]
    fn appends_whole_lines_and_reads_them_back_skipping_torn_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("sub/audit.jsonl"));
        log.append(&sample(Phase::Intent, None))
            .expect("append intent");
        log.append(&sample(Phase::Outcome, Some(Outcome::Ok)))
            .expect("append outcome");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .expect("open");
        f.write_all(b"{\"id\":\"torn").expect("torn write");
        let (records, unreadable) = log.read_since(None).expect("read");
        assert_eq!(records.len(), 2);
        assert_eq!(unreadable, 1);
        assert_eq!(records[1].outcome, Some(Outcome::Ok));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(log.path())
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the audit log is private to the operator");
    }

    #[test]
    fn a_record_after_a_torn_line_starts_its_own_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = AuditLog::new(dir.path().join("audit.jsonl"));
        log.append(&sample(Phase::Intent, None))
            .expect("append intent");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .expect("open");
        f.write_all(b"{\"id\":\"torn").expect("torn write");
        log.append(&sample(Phase::Outcome, Some(Outcome::Ok)))
            .expect("append after the torn line");
        let (records, unreadable) = log.read_since(None).expect("read");
        assert_eq!(unreadable, 1, "only the torn line is lost");
        assert_eq!(records.len(), 2, "the record after it is readable");
        assert_eq!(records[1].outcome, Some(Outcome::Ok));
        let text = std::fs::read_to_string(log.path()).expect("read text");
        assert!(text.ends_with('\n'));
        assert_eq!(
            text.lines().count(),
            3,
            "no empty line between whole records"
        );
    }

    #[test]
    fn a_full_disk_is_an_error_not_a_silent_loss() {
        let log = AuditLog::new("/dev/full");
        let err = log
            .append(&sample(Phase::Intent, None))
            .expect_err("/dev/full cannot take writes");
        assert!(err.contains("/dev/full"), "{err}");
    }

    #[test]
    fn ids_are_unique() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
