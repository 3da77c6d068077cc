//! The views beyond the basic counters, as one part of the reading: their figures,
//! findings and detail sections. Each view is `None` until its query first answers.

use serde::{Deserialize, Serialize};

use super::activity::{
    Activity, SessionGroup, activity_table, blocking_chains, blocking_table, sessions_by_table,
};
use super::features::{FeatureState, FeatureStatus};
use super::maintenance::{
    DatabaseSize, DeadTuples, VacuumProgress, WalDir, Wraparound, dead_tuples_table, sizes_table,
    vacuum_table, wraparound_table,
};
use super::replication::{Slot, Standby, horizon, horizon_table, slots_table, standbys_table};
use super::sessions::Sessions;
use super::statements::{TopStatements, statements_table};
use super::thresholds::{IDLE_IN_XACT, LONGEST_XACT, REPLICATION_LAG};
use crate::model::figure::format_value;
use crate::model::{Detail, Figure, Finding, Threshold, Unit};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

/// check_postgres's wraparound limits: far past `autovacuum_freeze_max_age` (whose
/// forced vacuums are routine), well before the 2^31 stop.
pub(super) const XID_AGE: Threshold = Threshold::above(1.3e9, 1.4e9);
/// A snapshot this old keeps every dead row since it was taken (about 2 h at 2,500 tps).
const OLDEST_XMIN: Threshold = Threshold::above(2e7, 1e8);
/// A blocker whose transaction is this old has had waiters piling up behind it.
const BLOCKER_AGE: Threshold = Threshold::above(30.0, 300.0);
const STANDBY_LAG_BYTES: Threshold = Threshold::above(64.0 * MIB, GIB);
/// WAL a slot keeps on the primary's disk; past this it is eating the disk.
const SLOT_RETAINED: Threshold = Threshold::above(8.0 * GIB, 32.0 * GIB);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Views {
    pub activity: Option<Activity>,
    pub sessions_by: Option<Vec<SessionGroup>>,
    pub standbys: Option<Vec<Standby>>,
    pub slots: Option<Vec<Slot>>,
    pub wraparound: Option<Vec<Wraparound>>,
    pub vacuum: Option<Vec<VacuumProgress>>,
    pub dead_tuples: Option<Vec<DeadTuples>>,
    pub database_sizes: Option<Vec<DatabaseSize>>,
    pub wal_dir: Option<WalDir>,
    pub top_statements: Option<TopStatements>,
    /// `pg_stat_archiver`, read on the slow tier by its own query.
    pub archiver: Option<super::archiver::Archiver>,
    /// The filesystem under pg_wal, read over SSH on the `[[postgres]] host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_space: Option<super::wal_space::WalSpace>,
    /// `pgbackrest info` on the backup host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backups: Option<super::backups::Backups>,
    /// Which optional queries run, and why any is off.
    pub features: Vec<FeatureStatus>,
}

impl Views {
    fn feature(&self, name: &str) -> Option<&FeatureStatus> {
        self.features.iter().find(|f| f.name == name)
    }

    pub(super) fn figures(&self) -> Vec<Figure> {
        let mut figures = Vec::new();
        if let Some(activity) = &self.activity {
            let roots: Vec<f64> = blocking_chains(&activity.backends)
                .iter()
                .filter(|n| n.depth == 0)
                .filter_map(|n| activity.backends.iter().find(|b| b.pid == n.pid))
                .filter_map(|b| b.xact_age_s)
                .collect();
            figures.push(
                Figure::new(
                    "lock_blocker_age_s",
                    "oldest lock blocker",
                    roots.into_iter().fold(0.0, f64::max),
                    Unit::Seconds,
                )
                .with_threshold(BLOCKER_AGE),
            );
        }
        let holders = horizon(
            self.activity.as_ref(),
            self.standbys.as_deref().unwrap_or_default(),
            self.slots.as_deref().unwrap_or_default(),
        );
        if self.activity.is_some() || self.standbys.is_some() || self.slots.is_some() {
            let oldest = holders.iter().filter_map(|h| h.xmin_age).max().unwrap_or(0);
            figures.push(
                Figure::new("oldest_xmin_age", "oldest xmin", oldest as f64, Unit::Count)
                    .with_threshold(OLDEST_XMIN),
            );
        }
        if let Some(standbys) = self.standbys.as_ref().filter(|s| !s.is_empty()) {
            let bytes = standbys
                .iter()
                .filter_map(|s| s.replay_bytes)
                .fold(0.0, f64::max);
            let secs = standbys
                .iter()
                .filter_map(|s| s.replay_lag_s)
                .fold(0.0, f64::max);
            figures.push(
                Figure::new(
                    "standby_lag_bytes",
                    "standby replay lag",
                    bytes,
                    Unit::Bytes,
                )
                .with_threshold(STANDBY_LAG_BYTES),
            );
            figures.push(
                Figure::new("standby_lag_s", "standby replay lag", secs, Unit::Seconds)
                    .with_threshold(REPLICATION_LAG),
            );
        }
        if let Some(slots) = self.slots.as_ref().filter(|s| !s.is_empty()) {
            let retained = slots
                .iter()
                .filter_map(|s| s.retained_bytes)
                .fold(0.0, f64::max);
            figures.push(
                Figure::new(
                    "slot_retained_bytes",
                    "WAL kept by slots",
                    retained,
                    Unit::Bytes,
                )
                .with_threshold(SLOT_RETAINED),
            );
        }
        if let Some(w) = self.wraparound.as_ref().filter(|w| !w.is_empty()) {
            let xid = w.iter().map(|d| d.xid_age).max().unwrap_or(0);
            let mxid = w.iter().map(|d| d.mxid_age).max().unwrap_or(0);
            figures.push(
                Figure::new("xid_age", "transaction ID age", xid as f64, Unit::Count)
                    .with_threshold(XID_AGE),
            );
            figures.push(
                Figure::new("mxid_age", "multixact ID age", mxid as f64, Unit::Count)
                    .with_threshold(XID_AGE),
            );
        }
        if let Some(wal) = &self.wal_dir {
            figures.push(Figure::new(
                "wal_dir_bytes",
                "WAL on disk",
                wal.bytes as f64,
                Unit::Bytes,
            ));
        }
        figures
    }

    pub(super) fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for v in self.vacuum.iter().flatten().filter(|v| v.anti_wraparound) {
            findings.push(Finding::warn(format!(
                "anti-wraparound vacuum of {} running for {}: let it finish",
                v.relation.as_deref().unwrap_or("a table"),
                format_value(v.running_s.unwrap_or(0.0), Unit::Seconds)
            )));
        }
        findings.extend(self.archiver.iter().flat_map(super::archiver::findings));
        if let Some(space) = &self.wal_space {
            findings.extend(super::wal_space::findings(
                self.slots.as_deref().unwrap_or_default(),
                space,
            ));
        }
        findings.extend(self.backups.iter().flat_map(super::backups::findings));
        for s in self.slots.iter().flatten() {
            match s.wal_status.as_deref() {
                Some("lost") => findings.push(Finding::crit(format!(
                    "replication slot {} lost the WAL its consumer needs: it must be recreated",
                    crate::sanitize::sanitize_truncated(&s.name, 64)
                ))),
                _ if !s.active => findings.push(Finding::warn(format!(
                    "replication slot {} is inactive and keeps {} of WAL",
                    crate::sanitize::sanitize_truncated(&s.name, 64),
                    format_value(s.retained_bytes.unwrap_or(0.0), Unit::Bytes)
                ))),
                _ => {}
            }
        }
        for s in self.standbys.iter().flatten() {
            if s.state.as_deref().is_some_and(|st| st != "streaming") {
                findings.push(Finding::warn(format!(
                    "standby {} is {}, not streaming",
                    s.name,
                    s.state.as_deref().unwrap_or("")
                )));
            }
        }
        findings
    }

    /// Appends this part's sections to the detail view.
    pub(super) fn sections(
        &self,
        mut detail: Detail,
        sessions: &Sessions,
        throughput: Vec<(&str, String)>,
    ) -> Detail {
        let iit_warn = IDLE_IN_XACT.warn;
        detail = self.section(
            detail,
            "sessions by user and application",
            "sessions by user",
            &self.sessions_by,
            |g| sessions_by_table(g, iit_warn),
        );
        let activity_title = match &self.activity {
            Some(a) => format!(
                "activity: {} non-idle{}, {} idle not listed",
                a.backends.len(),
                if a.truncated { " (oldest shown)" } else { "" },
                sessions.idle
            ),
            None => "activity".to_string(),
        };
        detail = self.section(detail, &activity_title, "activity", &self.activity, |a| {
            activity_table(a, iit_warn)
        });
        detail = self.section(
            detail,
            "blocking",
            "activity",
            &self.activity,
            blocking_table,
        );
        let holders = horizon(
            self.activity.as_ref(),
            self.standbys.as_deref().unwrap_or_default(),
            self.slots.as_deref().unwrap_or_default(),
        );
        detail = detail.table("horizon", horizon_table(&holders, LONGEST_XACT.warn));
        detail = self.section(detail, "standbys", "standbys", &self.standbys, |s| {
            standbys_table(s, REPLICATION_LAG.warn)
        });
        detail = self.section(
            detail,
            "replication slots",
            "replication slots",
            &self.slots,
            |s| slots_table(s),
        );
        detail = self.section(detail, "wraparound", "wraparound", &self.wraparound, |w| {
            wraparound_table(w, XID_AGE.warn, XID_AGE.crit)
        });
        detail = self.section(
            detail,
            "vacuum progress",
            "vacuum progress",
            &self.vacuum,
            |v| vacuum_table(v),
        );
        detail = self.section(
            detail,
            "dead tuples",
            "dead tuples",
            &self.dead_tuples,
            |t| dead_tuples_table(t),
        );
        let mut throughput = throughput;
        if let Some(wal) = &self.wal_dir {
            throughput.push((
                "WAL on disk",
                format!(
                    "{} in {} files",
                    format_value(wal.bytes as f64, Unit::Bytes),
                    wal.files
                ),
            ));
        }
        detail = detail.pairs("throughput", throughput);
        // One section for both host reads: narrow screens have little room for sections.
        let mut host_read = Vec::new();
        if let Some(space) = &self.wal_space {
            host_read.extend(super::wal_space::pairs(
                self.slots.as_deref().unwrap_or_default(),
                space,
            ));
        }
        if let Some(b) = &self.backups {
            host_read.extend(super::backups::pairs(b));
        }
        if !host_read.is_empty() {
            detail = detail.pairs("WAL space and backups", host_read);
        }
        if let Some(a) = &self.archiver {
            detail = detail.pairs("WAL archiver", super::archiver::pairs(a));
        }
        detail = self.section(
            detail,
            "database sizes",
            "database sizes",
            &self.database_sizes,
            |d| sizes_table(d),
        );
        let top_title = match &self.top_statements {
            Some(t) if t.interval => "top queries (since the previous sample)",
            Some(_) => "top queries (totals; deltas from the next sample)",
            None => "top queries",
        };
        detail = self.section(
            detail,
            top_title,
            "top queries",
            &self.top_statements,
            statements_table,
        );
        let notes: Vec<(&str, String)> = self
            .features
            .iter()
            .filter(|f| f.state != FeatureState::On)
            .map(|f| {
                let word = if f.state == FeatureState::Off {
                    "off"
                } else {
                    "failing"
                };
                (
                    f.name.as_ref(),
                    format!("{word}: {}", f.note.as_deref().unwrap_or("")),
                )
            })
            .collect();
        if !notes.is_empty() {
            detail = detail.pairs("monitoring", notes);
        }
        detail
    }

    /// A view's table, or why there is none.
    fn section<T>(
        &self,
        detail: Detail,
        title: &str,
        feature: &str,
        data: &Option<T>,
        table: impl Fn(&T) -> crate::model::TableData,
    ) -> Detail {
        if let Some(data) = data {
            return detail.table(title, table(data));
        }
        let note = match self.feature(feature) {
            Some(f) if f.state != FeatureState::On => {
                f.note.clone().unwrap_or_else(|| "unavailable".into())
            }
            _ => "not read yet".to_string(),
        };
        detail.pairs(title, vec![("unavailable", note)])
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sources::postgres::activity::Backend;
    use crate::sources::postgres::activity::RawQuery;

    /// Views with every part present, so every figure shows.
    pub(crate) fn full_views() -> Views {
        let blocker = Backend {
            pid: 1,
            backend_start_us: 1,
            query_start_us: None,
            user: None,
            application: String::new(),
            client: None,
            database: None,
            backend_type: "client backend".into(),
            state: "idle in transaction".into(),
            wait_event_type: None,
            wait_event: None,
            xact_age_s: Some(40.0),
            query_age_s: None,
            state_age_s: None,
            xmin_age: Some(3),
            blocked_by: Vec::new(),
            query: String::new(),
            raw_query: RawQuery::default(),
        };
        let waiter = Backend {
            pid: 2,
            blocked_by: vec![1],
            ..blocker.clone()
        };
        Views {
            activity: Some(Activity {
                backends: vec![blocker, waiter],
                truncated: false,
            }),
            standbys: Some(vec![Standby {
                pid: 3,
                backend_start_us: 1,
                name: "replica".into(),
                client: None,
                state: Some("streaming".into()),
                sync_state: Some("async".into()),
                pending_bytes: Some(0.0),
                replay_bytes: Some(10.0),
                write_lag_s: None,
                flush_lag_s: None,
                replay_lag_s: Some(0.1),
                xmin_age: None,
            }]),
            slots: Some(vec![Slot {
                name: "replica".into(),
                slot_type: "physical".into(),
                database: String::new(),
                active: true,
                wal_status: Some("reserved".into()),
                safe_wal_size: None,
                retained_bytes: Some(100.0),
                xmin_age: None,
                catalog_xmin_age: None,
            }]),
            wraparound: Some(vec![Wraparound {
                database: "mastodon".into(),
                xid_age: 1000,
                mxid_age: 10,
                freeze_max_age: 200_000_000,
                mxid_freeze_max_age: 400_000_000,
            }]),
            wal_dir: Some(WalDir {
                bytes: 16 << 20,
                files: 1,
            }),
            ..Views::default()
        }
    }

    #[test]
    fn a_blocker_and_its_age_show_as_a_figure() {
        let views = full_views();
        let age = views
            .figures()
            .into_iter()
            .find(|f| f.key == "lock_blocker_age_s")
            .map(|f| f.value);
        assert_eq!(age, Some(40.0));
    }

    #[test]
    fn an_unavailable_view_says_why() {
        let views = Views {
            features: vec![FeatureStatus {
                name: "top queries".into(),
                state: FeatureState::Off,
                note: Some("pg_stat_statements is not installed".into()),
                attempts: 1,
            }],
            ..Views::default()
        };
        let detail = views.sections(Detail::default(), &Sessions::default(), Vec::new());
        let text = format!("{detail:?}");
        assert!(
            text.contains("pg_stat_statements is not installed"),
            "{text}"
        );
        assert!(detail.sections.iter().any(|s| s.title == "monitoring"));
    }
}
