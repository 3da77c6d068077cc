//! One engineer's shift at one console: writing the shift log (on this machine first, then
//! in the shared store), writing the handoff report, and acknowledging the one handed to
//! them. Shadow sessions read; they never write or acknowledge.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::report::{self, Acknowledgement, ComponentProblem, Handoff, Person};
use super::shift_log::{EntryKind, ShiftEntry, check};
use super::store::HandoffStore;
use super::store::local::LocalHandoffs;
use super::zone::Zone;
use crate::actions::audit::{AuditLog, AuditRecord, new_id};
use crate::actions::{OpsStore, Role, Session};
use crate::config::Config;
use crate::store::SharedHandoffs;

/// How far back the shift log is read for items still open: anything older and not closed
/// is stale enough to have been handed over many times already.
pub const OPEN_ITEMS_LOOKBACK: Duration = Duration::from_secs(30 * 24 * 3600);

/// The most audit records one report reads from the shared history.
pub const AUDIT_LIMIT: usize = 10_000;

pub struct Shift {
    session: Session,
    zone: Zone,
    local: LocalHandoffs,
    shared: Option<Arc<dyn HandoffStore>>,
}

/// An entry kept: always on this machine, and in the shared store unless `shared_error`
/// says why not.
#[derive(Debug)]
pub struct Saved {
    pub entry: ShiftEntry,
    pub shared_error: Option<String>,
}

/// What a new report needs beyond the shift log.
pub struct Draft {
    pub to: Person,
    pub window: (SystemTime, SystemTime),
    pub fleet_source: String,
    pub not_ok: Vec<ComponentProblem>,
    pub audit: Vec<AuditRecord>,
    /// What the fleet's Alertmanagers hold ([`report::silences_of`]).
    pub alertmanager_silences: Option<Vec<report::SilenceTaken>>,
    pub gaps: Vec<String>,
}

impl Shift {
    pub fn new(
        session: Session,
        zone: Zone,
        local: LocalHandoffs,
        shared: Option<Arc<dyn HandoffStore>>,
    ) -> Shift {
        Shift {
            session,
            zone,
            local,
            shared,
        }
    }

    /// The shift for this console: the `[handoff]` zone, the local shift log in `dir`, and
    /// the shared store when there is one.
    pub fn open(
        cfg: &Config,
        session: Session,
        dir: std::path::PathBuf,
        ops_store: Option<&crate::config::OpsStoreConfig>,
    ) -> Result<Shift, String> {
        let zone = match &cfg.handoff.zone {
            Some(name) => Zone::named(name).map_err(|e| format!("[handoff] zone: {e}"))?,
            None => Zone::utc(),
        };
        let shared = ops_store
            .map(|ops| Arc::new(SharedHandoffs::new(ops.clone())) as Arc<dyn HandoffStore>);
        Ok(Shift::new(session, zone, LocalHandoffs::new(dir), shared))
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// Where reports are read from and written to: the shared store when there is one.
    pub fn store(&self) -> &dyn HandoffStore {
        match &self.shared {
            Some(shared) => shared.as_ref(),
            None => &self.local,
        }
    }

    pub fn local(&self) -> &LocalHandoffs {
        &self.local
    }

    fn require_oncall(&self, what: &str) -> Result<(), String> {
        match self.session.role {
            Role::Oncall => Ok(()),
            Role::Shadow => Err(format!(
                "shadow sessions can read handoffs but not {what}: this console runs read-only \
                 (set role = \"oncall\" in the config and drop --readonly to take a shift)"
            )),
        }
    }

    /// A new entry by this console, written now.
    pub fn entry(
        &self,
        kind: EntryKind,
        text: &str,
        owner: Option<String>,
        until: Option<SystemTime>,
        closes: Option<String>,
    ) -> ShiftEntry {
        ShiftEntry {
            id: new_id(),
            kind,
            time: report::rfc3339(SystemTime::now()),
            author: self.session.operator.clone(),
            console_host: self.session.console_host.clone(),
            text: text.trim().to_string(),
            owner,
            until: until.map(report::rfc3339),
            closes,
        }
    }

    /// Keeps `entry`: on this machine first, so nothing is lost when the shared store does
    /// not answer, then in the shared store.
    pub async fn add(&self, entry: ShiftEntry) -> Result<Saved, String> {
        self.require_oncall("write the shift log")?;
        check(&entry)?;
        self.local.add_entry_now(&entry)?;
        let shared_error = match &self.shared {
            Some(shared) => shared.add_entry(&entry).await.err().map(|e| {
                format!(
                    "kept on this machine ({}) but not shared: {e}",
                    self.local.log_path().display()
                )
            }),
            None => None,
        };
        Ok(Saved {
            entry,
            shared_error,
        })
    }

    /// The shift log since `since` from this machine and the shared store, each entry
    /// once; the second value says what could not be read.
    pub async fn entries_since(&self, since: SystemTime) -> (Vec<ShiftEntry>, Vec<String>) {
        let mut gaps = Vec::new();
        let mut entries = match self.local.entries_since_now(since) {
            Ok(e) => e,
            Err(e) => {
                gaps.push(e);
                Vec::new()
            }
        };
        if let Some(shared) = &self.shared {
            match shared.entries_since(since).await {
                Ok(more) => entries.extend(more),
                Err(e) => gaps.push(format!(
                    "the shared shift log (only this machine's entries are included): {e}"
                )),
            }
        }
        (super::shift_log::merge(entries), gaps)
    }

    /// Where the shift being handed over began: the last handoff this engineer received,
    /// when it is recent, otherwise one shift length ago.
    pub async fn window_start(&self, shift: Duration, now: SystemTime) -> SystemTime {
        let default = now.checked_sub(shift).unwrap_or(SystemTime::UNIX_EPOCH);
        match self.store().latest().await {
            Ok(Some(h)) if h.from.name != self.session.operator => h
                .written()
                .filter(|t| *t > now.checked_sub(shift * 2).unwrap_or(SystemTime::UNIX_EPOCH))
                .filter(|t| *t < now)
                .unwrap_or(default),
            _ => default,
        }
    }

    /// Builds the report from `draft` and the shift log and stores it (on this machine, and
    /// in the shared store when there is one).
    pub async fn write(&self, draft: Draft) -> Result<Handoff, String> {
        self.require_oncall("write a handoff")?;
        let now = SystemTime::now();
        let since = draft
            .window
            .0
            .checked_sub(OPEN_ITEMS_LOOKBACK)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let (entries, mut gaps) = self.entries_since(since).await;
        gaps.extend(draft.gaps);
        let handoff = report::build(report::Inputs {
            id: new_id(),
            written_at: now,
            from: Person {
                name: self.session.operator.clone(),
                zone: self.zone.name().to_string(),
            },
            to: draft.to,
            console_host: self.session.console_host.clone(),
            console_id: self.session.console_id.clone(),
            window: draft.window,
            fleet_source: draft.fleet_source,
            not_ok: draft.not_ok,
            audit: &draft.audit,
            entries: &entries,
            alertmanager_silences: draft.alertmanager_silences,
            gaps,
        });
        self.local.publish_now(&handoff)?;
        if let Some(shared) = &self.shared {
            shared.publish(&handoff).await.map_err(|e| {
                format!(
                    "handoff {} is saved on this machine but NOT shared, so the next console will not see it: {e}",
                    handoff.id
                )
            })?;
        }
        Ok(handoff)
    }

    /// The latest handoff when it still waits for acknowledgement and was written on
    /// another console: what the next console shows at start.
    pub async fn waiting(&self) -> Result<Option<Handoff>, String> {
        Ok(self
            .store()
            .latest()
            .await?
            .filter(|h| h.acknowledged.is_none() && h.console_id != self.session.console_id))
    }

    /// Records that this engineer has read and taken over handoff `id`.
    pub async fn acknowledge(&self, id: &str) -> Result<Handoff, String> {
        self.require_oncall("acknowledge a handoff")?;
        let ack = Acknowledgement {
            by: self.session.operator.clone(),
            console_host: self.session.console_host.clone(),
            console_id: self.session.console_id.clone(),
            at: report::rfc3339(SystemTime::now()),
        };
        self.store().acknowledge(id, &ack).await
    }
}

/// The incoming engineer: `zone` when given, else their `[handoff.people]` entry.
pub fn incoming(cfg: &Config, name: &str, zone: Option<&str>) -> Result<Person, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("say whom the shift goes to: --to NAME".into());
    }
    let zone = match zone.or_else(|| cfg.handoff.people.get(name).map(String::as_str)) {
        Some(z) => Zone::named(z)?,
        None => {
            return Err(format!(
                "no time zone for {}: pass --to-zone (e.g. America/New_York) or add it under [handoff.people]",
                crate::sanitize::sanitize(name)
            ));
        }
    };
    Ok(Person {
        name: name.to_string(),
        zone: zone.name().to_string(),
    })
}

/// The audit records a report covers: the local audit file, and the shared history when
/// the ops store is shared. The second value says what could not be read.
pub async fn audit_since(
    local: &AuditLog,
    ops: &dyn OpsStore,
    since: SystemTime,
) -> (Vec<AuditRecord>, Vec<String>) {
    let mut gaps = Vec::new();
    let mut records = match local.read_since(Some(since)) {
        Ok((records, 0)) => records,
        Ok((records, unreadable)) => {
            gaps.push(format!(
                "{unreadable} unreadable line(s) in the audit log {}",
                local.path().display()
            ));
            records
        }
        Err(e) => {
            gaps.push(e);
            Vec::new()
        }
    };
    if ops.is_shared() {
        match ops.audit_since(Some(since), AUDIT_LIMIT).await {
            Ok(shared) => {
                if shared.len() >= AUDIT_LIMIT {
                    gaps.push(format!(
                        "the shared audit history holds more than {AUDIT_LIMIT} records for this shift; only the first {AUDIT_LIMIT} are included"
                    ));
                }
                records.extend(shared);
            }
            Err(e) => gaps.push(format!(
                "the shared audit history (only this console's actions are included): {e}"
            )),
        }
    }
    (records, gaps)
}
