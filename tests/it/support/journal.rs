//! Real journal files: entries in journald's export format turned into a `.journal` file by
//! `systemd-journal-remote` (Debian `systemd-journal-remote`), for a real `journalctl
//! --directory` to read, on the harness's sshd or locally.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

/// One journal entry as journald's export format describes it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub at_us: i64,
    pub hostname: String,
    pub unit: String,
    pub priority: u8,
    /// Raw bytes: not UTF-8 and control bytes are written as a binary field.
    pub message: Vec<u8>,
}

impl Entry {
    pub fn new(at_us: i64, unit: &str, priority: u8, message: impl Into<Vec<u8>>) -> Entry {
        Entry {
            at_us,
            hostname: "journal-host".into(),
            unit: unit.into(),
            priority,
            message: message.into(),
        }
    }

    fn export(&self, out: &mut Vec<u8>) {
        let text = |out: &mut Vec<u8>, k: &str, v: &str| {
            out.extend_from_slice(format!("{k}={v}\n").as_bytes());
        };
        text(out, "__REALTIME_TIMESTAMP", &self.at_us.to_string());
        text(
            out,
            "__MONOTONIC_TIMESTAMP",
            &self.at_us.rem_euclid(1_000_000_000_000).to_string(),
        );
        text(out, "_BOOT_ID", "0123456789abcdef0123456789abcdef");
        text(out, "_HOSTNAME", &self.hostname);
        text(out, "_SYSTEMD_UNIT", &self.unit);
        text(out, "PRIORITY", &self.priority.to_string());
        let plain =
            std::str::from_utf8(&self.message).is_ok_and(|s| !s.chars().any(char::is_control));
        if plain {
            out.extend_from_slice(b"MESSAGE=");
            out.extend_from_slice(&self.message);
            out.push(b'\n');
        } else {
            // The export format's binary field: name, newline, little-endian length, bytes.
            out.extend_from_slice(b"MESSAGE\n");
            out.extend_from_slice(&(self.message.len() as u64).to_le_bytes());
            out.extend_from_slice(&self.message);
            out.push(b'\n');
        }
        out.push(b'\n');
    }
}

static FILES: AtomicUsize = AtomicUsize::new(0);

/// Writes `entries` as a new journal file in `dir` (created if missing); returns its path.
pub fn write_journal(dir: &Path, entries: &[Entry]) -> PathBuf {
    assert!(
        Path::new(JOURNAL_REMOTE).exists(),
        "{JOURNAL_REMOTE} is missing: install systemd-journal-remote (scripts/test.sh does)"
    );
    std::fs::create_dir_all(dir).expect("journal dir");
    let n = FILES.fetch_add(1, Ordering::Relaxed);
    let file = dir.join(format!("part-{}-{n}.journal", std::process::id()));
    let mut export = Vec::new();
    for e in entries {
        e.export(&mut export);
    }
    let mut child = Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", file.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start systemd-journal-remote");
    child
        .stdin
        .take()
        .expect("journal-remote stdin")
        .write_all(&export)
        .expect("feed journal-remote");
    let out = child.wait_with_output().expect("journal-remote");
    assert!(
        out.status.success(),
        "systemd-journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

/// Microseconds since the epoch, now.
pub fn now_us() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_micros()).expect("time fits")
}
