//! The ops store without an `[ops_store]`: state that only consoles on this machine share.
//!
//! Locks are `flock(2)` locks on one file per key, so a console that crashes (or is killed)
//! while holding one releases it at once: the kernel drops the lock with the last open file
//! description. The file also says who holds it and until when, for the "held by …"
//! message. That expiry is informational here: a live holder keeps its lock until it
//! unlocks or exits, and a dead one has already lost it. A lock file is never deleted, because deleting a file another console is about
//! to lock would let two consoles lock two different inodes for one key.
//!
//! The freeze is a small JSON file replaced atomically. History and cooldowns come from the
//! local audit file, which the pipeline writes itself. Four-eyes approval cannot work here:
//! no other console could ever see the request.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{Approval, Freeze, LockHeld, OpsStore, StoreResult};
use crate::actions::audit::{AuditLog, AuditRecord, Phase};

/// How much of the end of the audit file `last_run` reads. Records are well under 4 KiB,
/// so this holds thousands of actions: far more than any cooldown window spans. An action
/// whose intent lies further back than this counts as never run.
pub const LAST_RUN_SCAN_BYTES: u64 = 8 * 1024 * 1024;

/// What every approval call on this store answers.
pub const APPROVAL_NEEDS_SHARED_STORE: &str = "four-eyes approval needs a shared ops store: \
this console keeps its state on this machine, where no second on-call console can see the \
request — set [ops_store] in the config (a PostgreSQL database every console uses)";

/// What a lock file says about its holder.
#[derive(Debug, Serialize, Deserialize)]
struct LockNote {
    key: String,
    holder: String,
    acquired: String,
    expires: String,
}

struct HeldLock {
    holder: String,
    file: Flock<File>,
}

pub struct LocalStore {
    dir: PathBuf,
    audit: AuditLog,
    /// Locks this store holds, kept open until `unlock`: closing the file would release it.
    held: Mutex<HashMap<String, HeldLock>>,
}

impl LocalStore {
    /// `dir` holds `locks/` and `freeze.json`; it is created (0700) when first needed.
    pub fn new(dir: PathBuf, audit: AuditLog) -> Self {
        LocalStore {
            dir,
            audit,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// `$XDG_DATA_HOME/mastop`, next to the local audit log.
    pub fn default_dir() -> Option<PathBuf> {
        crate::paths::data_dir()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file whose `flock` stands for the lock on `key`. Another tool may take the same
    /// lock with `flock(1)` on this path.
    pub fn lock_path(&self, key: &str) -> PathBuf {
        self.dir.join("locks").join(lock_file_name(key))
    }

    fn freeze_path(&self) -> PathBuf {
        self.dir.join("freeze.json")
    }

    fn read_freeze(&self) -> StoreResult<Option<Freeze>> {
        let path = self.freeze_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "local store: cannot read the freeze file {}: {e}",
                    path.display()
                ));
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            format!(
                "local store: the freeze file {} is not valid ({e}) — lift the freeze again to rewrite it, or remove the file",
                path.display()
            )
        })
    }

    fn write_freeze(&self, freeze: Option<&Freeze>) -> StoreResult<()> {
        let path = self.freeze_path();
        let Some(freeze) = freeze else {
            return match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!(
                    "local store: cannot remove the freeze file {}: {e}",
                    path.display()
                )),
            };
        };
        create_private_dir(&self.dir)?;
        let text = serde_json::to_vec_pretty(freeze)
            .map_err(|e| format!("local store: cannot encode the freeze: {e}"))?;
        write_atomically(&path, &text)
    }

    fn lock_now(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<Result<(), LockHeld>> {
        let mut held = self
            .held
            .lock()
            .map_err(|_| "local store: the lock table is poisoned".to_string())?;
        let path = self.lock_path(key);
        if let Some(mine) = held.get_mut(key) {
            if mine.holder != holder {
                return Ok(Err(read_note(&mut mine.file, &path)));
            }
            // Renewal: the flock is already ours, only the note changes.
            write_note(&mut mine.file, &path, key, holder, ttl)?;
            return Ok(Ok(()));
        }
        if let Some(locks) = path.parent() {
            create_private_dir(locks)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                format!(
                    "local store: cannot open the lock file {}: {e}",
                    path.display()
                )
            })?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => return Ok(Err(read_note(&mut file, &path))),
            Err((_, errno)) => {
                return Err(format!(
                    "local store: cannot lock {}: {}",
                    path.display(),
                    errno.desc()
                ));
            }
        };
        write_note(&mut file, &path, key, holder, ttl)?;
        held.insert(
            key.to_string(),
            HeldLock {
                holder: holder.to_string(),
                file,
            },
        );
        Ok(Ok(()))
    }

    fn unlock_now(&self, key: &str, holder: &str) -> StoreResult<()> {
        let mut held = self
            .held
            .lock()
            .map_err(|_| "local store: the lock table is poisoned".to_string())?;
        if held.get(key).is_none_or(|mine| mine.holder != holder) {
            return Ok(());
        }
        if let Some(mine) = held.remove(key) {
            // Cleared while still locked, so no reader sees a stale holder after release.
            // Failing to clear is harmless: the note is only read while someone holds it.
            let _ = mine.file.set_len(0);
            drop(mine);
        }
        Ok(())
    }
}

impl OpsStore for LocalStore {
    fn describe(&self) -> String {
        "local (this machine)".to_string()
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn freeze(&self) -> BoxFuture<'_, StoreResult<Option<Freeze>>> {
        Box::pin(async move { self.read_freeze() })
    }

    fn set_freeze(&self, freeze: Option<Freeze>) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move { self.write_freeze(freeze.as_ref()) })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<Result<(), LockHeld>>> {
        Box::pin(async move { self.lock_now(key, holder, ttl) })
    }

    fn unlock<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.unlock_now(key, holder) })
    }

    fn last_run<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SystemTime>>> {
        let path = self.audit.path().to_path_buf();
        let (kind, key) = (kind.to_string(), key.to_string());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                last_intent(&path, &kind, &key, LAST_RUN_SCAN_BYTES)
            })
            .await
            .map_err(|e| format!("local store: reading the audit log stopped: {e}"))?
        })
    }

    fn record<'a>(&'a self, _record: &'a AuditRecord) -> BoxFuture<'a, StoreResult<()>> {
        // The pipeline appends every record to the local audit file itself; that file is
        // this store's history, so there is nothing more to write.
        Box::pin(async { Ok(()) })
    }

    fn audit_since(
        &self,
        since: Option<SystemTime>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<AuditRecord>>> {
        let path = self.audit.path().to_path_buf();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || records_since(&path, since, limit))
                .await
                .map_err(|e| format!("local store: reading the audit log stopped: {e}"))?
        })
    }

    fn request_approval<'a>(&'a self, _approval: &'a Approval) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async { Err(APPROVAL_NEEDS_SHARED_STORE.to_string()) })
    }

    fn approval<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, StoreResult<Option<Approval>>> {
        Box::pin(async { Err(APPROVAL_NEEDS_SHARED_STORE.to_string()) })
    }

    fn approve<'a>(
        &'a self,
        _id: &'a str,
        _approver: &'a str,
        _console: &'a str,
    ) -> BoxFuture<'a, StoreResult<Approval>> {
        Box::pin(async { Err(APPROVAL_NEEDS_SHARED_STORE.to_string()) })
    }

    fn pending_approvals(&self) -> BoxFuture<'_, StoreResult<Vec<Approval>>> {
        Box::pin(async { Err(APPROVAL_NEEDS_SHARED_STORE.to_string()) })
    }
}

/// A readable prefix (for whoever lists the directory) and a 128-bit FNV-1a hash of the
/// whole key. The hash is spelled out here rather than taken from std, whose hasher may
/// change between Rust releases: two mastop builds on one machine must agree on the name.
fn lock_file_name(key: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let hash = key
        .bytes()
        .fold(OFFSET, |h, b| (h ^ u128::from(b)).wrapping_mul(PRIME));
    let readable: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("{readable}-{hash:032x}.lock")
}

/// Whether the file is empty or its last byte ends a line: an append after a torn last
/// line (a crash mid-write) must start a new line, or it becomes unreadable too.
pub(crate) fn ends_with_newline(file: &std::fs::File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] == b'\n')
}

pub(crate) fn create_private_dir(dir: &Path) -> StoreResult<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("local store: cannot create {}: {e}", dir.display()))
}

/// Write to a temp file in the same directory, flush it to disk, then rename over the
/// target: a reader sees the old file or the new one, never half of one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> StoreResult<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", crate::actions::audit::new_id()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("local store: cannot write {}: {e}", path.display()));
    }
    if let Some(dir) = path.parent() {
        // Makes the rename itself durable; a failure here leaves the new file readable.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

fn write_note(
    file: &mut File,
    path: &Path,
    key: &str,
    holder: &str,
    ttl: Duration,
) -> StoreResult<()> {
    let now = SystemTime::now();
    let note = LockNote {
        key: key.to_string(),
        holder: holder.to_string(),
        acquired: humantime::format_rfc3339_millis(now).to_string(),
        expires: humantime::format_rfc3339_millis(now + ttl).to_string(),
    };
    let text = serde_json::to_vec(&note)
        .map_err(|e| format!("local store: cannot encode a lock note: {e}"))?;
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(&text));
    written.map_err(|e| {
        format!(
            "local store: cannot write the lock file {}: {e}",
            path.display()
        )
    })
}

/// Who holds a lock we could not take. The holder may be between taking the flock and
/// writing its note, so an unreadable note still means "held".
fn read_note(file: &mut File, path: &Path) -> LockHeld {
    let mut text = String::new();
    let note = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text))
        .ok()
        .and_then(|_| serde_json::from_str::<LockNote>(&text).ok());
    match note {
        Some(note) => LockHeld {
            holder: note.holder,
            expires: note.expires,
        },
        None => LockHeld {
            holder: format!(
                "another mastop console on this machine (lock file {})",
                path.display()
            ),
            expires: "when that console lets go or exits".to_string(),
        },
    }
}

/// The time of the latest intent record of `kind` on `key`, scanning only the last
/// `scan_bytes` of the file, newest line first.
fn last_intent(
    path: &Path,
    kind: &str,
    key: &str,
    scan_bytes: u64,
) -> StoreResult<Option<SystemTime>> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "local store: cannot open the audit log {}: {e}",
                path.display()
            ));
        }
    };
    let read = |file: &mut File| -> std::io::Result<(Vec<u8>, bool)> {
        let len = file.metadata()?.len();
        let start = len.saturating_sub(scan_bytes);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        Read::by_ref(file).take(scan_bytes).read_to_end(&mut tail)?;
        Ok((tail, start > 0))
    };
    let (tail, cut) = read(&mut file).map_err(|e| {
        format!(
            "local store: cannot read the audit log {}: {e}",
            path.display()
        )
    })?;
    let mut lines = tail.split(|b| *b == b'\n').collect::<Vec<_>>();
    if cut && !lines.is_empty() {
        // The scan began mid-line.
        lines.remove(0);
    }
    for line in lines.into_iter().rev() {
        let Ok(record) = serde_json::from_slice::<AuditRecord>(line) else {
            continue;
        };
        if record.phase == Phase::Intent && record.kind == kind && record.target_key == key {
            return Ok(record.at());
        }
    }
    Ok(None)
}

/// Records at or after `since`, oldest first, at most `limit`, read line by line so memory
/// follows the answer rather than the size of the file. Torn or foreign lines are skipped.
fn records_since(
    path: &Path,
    since: Option<SystemTime>,
    limit: usize,
) -> StoreResult<Vec<AuditRecord>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(format!(
                "local store: cannot open the audit log {}: {e}",
                path.display()
            ));
        }
    };
    let mut records = Vec::new();
    let mut line = Vec::new();
    let mut reader = BufReader::new(file);
    while records.len() < limit {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| {
            format!(
                "local store: cannot read the audit log {}: {e}",
                path.display()
            )
        })?;
        if n == 0 {
            break;
        }
        let Ok(record) = serde_json::from_slice::<AuditRecord>(&line) else {
            continue;
        };
        if since.is_none_or(|s| record.at().is_some_and(|t| t >= s)) {
            records.push(record);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_names_are_stable_distinct_and_safe() {
        let a = lock_file_name("host/web-1#mastodon-web");
        assert_eq!(a, lock_file_name("host/web-1#mastodon-web"));
        assert_ne!(a, lock_file_name("host/web-1#mastodon-sidekiq"));
        assert!(a.starts_with("host_web-1_mastodon-web-"), "{a}");
        let long = lock_file_name(&"../".repeat(200));
        assert!(!long.contains('/') && long.len() < 100, "{long}");
        assert_ne!(lock_file_name(""), lock_file_name("_"));
    }

    #[test]
    fn last_intent_skips_a_partial_first_line_of_the_scanned_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let mut file = File::create(&path).expect("create");
        file.write_all(b"{\"id\":\"garbage that a mid-line cut would leave\"}\n")
            .expect("write");
        assert_eq!(last_intent(&path, "k", "t", 10).expect("scan"), None);
        assert_eq!(
            last_intent(&dir.path().join("missing"), "k", "t", 10).expect("scan"),
            None
        );
    }
}
