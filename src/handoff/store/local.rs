//! Shift logs and handoffs on this machine, without an `[ops_store]`, and the copy every
//! console keeps of its own notes before sending them anywhere.
//!
//! The shift log is JSON Lines appended with O_APPEND and flushed to disk per entry, like
//! the audit log. Each report is a file written atomically; its acknowledgement is a second
//! file created exclusively, so of two consoles acknowledging at once exactly one wins.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures_util::future::BoxFuture;

use super::{HandoffStore, StoreResult, check_ack};
use crate::actions::store::local::{create_private_dir, ends_with_newline, write_atomically};
use crate::handoff::report::{Acknowledgement, Handoff};
use crate::handoff::shift_log::{ShiftEntry, merge};

pub struct LocalHandoffs {
    dir: PathBuf,
}

impl LocalHandoffs {
    /// `dir` holds `shift.jsonl` and `reports/`; created (0700) when first needed.
    pub fn new(dir: PathBuf) -> Self {
        LocalHandoffs { dir }
    }

    /// `$XDG_DATA_HOME/mastop/handoff`.
    pub fn default_dir() -> Option<PathBuf> {
        crate::paths::data_dir().map(|d| d.join("handoff"))
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("shift.jsonl")
    }

    fn reports(&self) -> PathBuf {
        self.dir.join("reports")
    }

    fn report_path(&self, id: &str) -> StoreResult<PathBuf> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "`{}` is not a handoff id (ids are letters and digits, as `mastop handoff show` prints them)",
                crate::sanitize::sanitize(id)
            ));
        }
        Ok(self.reports().join(format!("{id}.json")))
    }

    pub fn add_entry_now(&self, entry: &ShiftEntry) -> StoreResult<()> {
        let mut line = serde_json::to_vec(entry)
            .map_err(|e| format!("local handoff store: cannot encode the entry: {e}"))?;
        line.push(b'\n');
        create_private_dir(&self.dir)?;
        let path = self.log_path();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot open the shift log {}: {e}", path.display()))?;
        if !ends_with_newline(&file)
            .map_err(|e| format!("cannot read the shift log {}: {e}", path.display()))?
        {
            line.insert(0, b'\n');
        }
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot write the shift log {}: {e}", path.display()))
    }

    pub fn entries_since_now(&self, since: SystemTime) -> StoreResult<Vec<ShiftEntry>> {
        let path = self.log_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read the shift log {}: {e}", path.display())),
        };
        // A torn last line from a crash must not hide the rest of the log.
        let entries = text
            .lines()
            .filter_map(|l| serde_json::from_str::<ShiftEntry>(l).ok())
            .filter(|e| e.at().is_some_and(|t| t >= since))
            .collect();
        Ok(merge(entries))
    }

    fn read_report(&self, path: &Path) -> StoreResult<Option<Handoff>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read handoff {}: {e}", path.display())),
        };
        let mut handoff: Handoff = serde_json::from_str(&text)
            .map_err(|e| format!("handoff {} is not readable: {e}", path.display()))?;
        let ack_path = path.with_extension("ack.json");
        match std::fs::read_to_string(&ack_path) {
            Ok(text) => {
                handoff.acknowledged = Some(serde_json::from_str(&text).map_err(|e| {
                    format!(
                        "acknowledgement {} is not readable: {e}",
                        ack_path.display()
                    )
                })?);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "cannot read acknowledgement {}: {e}",
                    ack_path.display()
                ));
            }
        }
        Ok(Some(handoff))
    }

    pub fn publish_now(&self, handoff: &Handoff) -> StoreResult<()> {
        let path = self.report_path(&handoff.id)?;
        create_private_dir(&self.reports())?;
        let mut stored = handoff.clone();
        stored.acknowledged = None;
        let bytes = serde_json::to_vec_pretty(&stored)
            .map_err(|e| format!("cannot encode handoff {}: {e}", handoff.id))?;
        write_atomically(&path, &bytes)
    }

    pub fn handoff_now(&self, id: &str) -> StoreResult<Option<Handoff>> {
        self.read_report(&self.report_path(id)?)
    }

    pub fn latest_now(&self) -> StoreResult<Option<Handoff>> {
        let dir = self.reports();
        let listing = match std::fs::read_dir(&dir) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
        };
        let mut latest: Option<Handoff> = None;
        for entry in listing.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".json") || name.ends_with(".ack.json") || name.starts_with('.') {
                continue;
            }
            // One unreadable file must not hide the others.
            let Ok(Some(h)) = self.read_report(&path) else {
                continue;
            };
            let newer = latest
                .as_ref()
                .is_none_or(|l| (h.written(), &h.id) > (l.written(), &l.id));
            if newer {
                latest = Some(h);
            }
        }
        Ok(latest)
    }

    pub fn acknowledge_now(&self, id: &str, ack: &Acknowledgement) -> StoreResult<Handoff> {
        let path = self.report_path(id)?;
        let Some(handoff) = self.read_report(&path)? else {
            return Err(format!("no handoff {id} on this machine"));
        };
        check_ack(&handoff, ack)?;
        if handoff.acknowledged.is_some() {
            return Ok(handoff);
        }
        let ack_path = path.with_extension("ack.json");
        let bytes = serde_json::to_vec_pretty(ack)
            .map_err(|e| format!("cannot encode the acknowledgement: {e}"))?;
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&ack_path);
        match created {
            Ok(mut file) => file
                .write_all(&bytes)
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", ack_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another console won the race; say who.
                let Some(handoff) = self.read_report(&path)? else {
                    return Err(format!("handoff {id} disappeared"));
                };
                check_ack(&handoff, ack)?;
                return Ok(handoff);
            }
            Err(e) => return Err(format!("cannot write {}: {e}", ack_path.display())),
        }
        self.read_report(&path)?
            .ok_or_else(|| format!("handoff {id} disappeared"))
    }
}

impl HandoffStore for LocalHandoffs {
    fn describe(&self) -> String {
        format!("local ({})", self.dir.display())
    }

    fn add_entry<'a>(&'a self, entry: &'a ShiftEntry) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.add_entry_now(entry) })
    }

    fn entries_since(&self, since: SystemTime) -> BoxFuture<'_, StoreResult<Vec<ShiftEntry>>> {
        Box::pin(async move { self.entries_since_now(since) })
    }

    fn publish<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.publish_now(handoff) })
    }

    fn handoff<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Handoff>>> {
        Box::pin(async move { self.handoff_now(id) })
    }

    fn latest(&self) -> BoxFuture<'_, StoreResult<Option<Handoff>>> {
        Box::pin(async move { self.latest_now() })
    }

    fn acknowledge<'a>(
        &'a self,
        id: &'a str,
        ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, StoreResult<Handoff>> {
        Box::pin(async move { self.acknowledge_now(id, ack) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::shift_log::EntryKind;

    fn note(text: &str) -> ShiftEntry {
        ShiftEntry {
            id: crate::actions::audit::new_id(),
            kind: EntryKind::Note,
            time: crate::actions::audit::now_rfc3339(),
            author: "kris".into(),
            console_host: "laptop".into(),
            text: text.into(),
            owner: None,
            until: None,
            closes: None,
        }
    }

    #[test]
    fn an_entry_after_a_torn_line_starts_its_own_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalHandoffs::new(dir.path().join("handoff"));
        store.add_entry_now(&note("first")).expect("first entry");
        let mut f = OpenOptions::new()
            .append(true)
            .open(store.log_path())
            .expect("open");
        f.write_all(b"{\"id\":\"torn").expect("torn write");
        store.add_entry_now(&note("second")).expect("second entry");
        let texts: Vec<String> = store
            .entries_since_now(SystemTime::UNIX_EPOCH)
            .expect("read")
            .into_iter()
            .map(|e| e.text)
            .collect();
        assert_eq!(texts, ["first", "second"]);
    }
}
