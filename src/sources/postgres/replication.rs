//! Standbys as the primary sees them, replication slots, and everything that holds back
//! vacuum's horizon (old transactions, standbys with feedback, slots).

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::activity::{Activity, Backend};
use super::decode::{Failure, col};
use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::{Level, TableData, Unit};

pub(super) const SLOTS_SQL: &str = "/* mastop */ SELECT slot_name::text AS slot_name,
    slot_type,
    coalesce(database::text, '') AS database,
    active,
    wal_status,
    safe_wal_size::int8 AS safe_wal_size,
    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                         ELSE pg_current_wal_lsn() END, restart_lsn)::float8 AS retained_bytes,
    age(xmin)::int8 AS xmin_age,
    age(catalog_xmin)::int8 AS catalog_xmin_age
FROM pg_replication_slots
ORDER BY slot_name";

/// A standby connected to this node, from `pg_stat_replication`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standby {
    pub pid: i32,
    pub backend_start_us: i64,
    pub name: String,
    pub client: Option<String>,
    /// `startup`, `catchup`, `streaming`, `backup`, `stopping`.
    pub state: Option<String>,
    /// `async`, `potential`, `sync`, `quorum`.
    pub sync_state: Option<String>,
    /// WAL not yet sent to it.
    pub pending_bytes: Option<f64>,
    /// WAL it has not replayed yet: grows while its replay is paused.
    pub replay_bytes: Option<f64>,
    pub write_lag_s: Option<f64>,
    pub flush_lag_s: Option<f64>,
    /// Measured when the standby last reported replay; 0 once it has replayed everything,
    /// because PostgreSQL's own column goes NULL (not 0) on an idle primary.
    pub replay_lag_s: Option<f64>,
    /// The horizon its `hot_standby_feedback` holds on this node.
    pub xmin_age: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub name: String,
    pub slot_type: String,
    pub database: String,
    pub active: bool,
    /// `reserved`, `extended`, `unreserved`, `lost` (PostgreSQL 13+).
    pub wal_status: Option<String>,
    pub safe_wal_size: Option<i64>,
    /// WAL kept on disk for this slot.
    pub retained_bytes: Option<f64>,
    pub xmin_age: Option<i64>,
    pub catalog_xmin_age: Option<i64>,
}

pub(super) fn decode_standbys(rows: &[Row]) -> Result<Vec<Standby>, Failure> {
    const STEP: &str = "read pg_stat_replication";
    rows.iter()
        .map(|row| {
            let replay_bytes: Option<f64> = col(row, STEP, "replay_bytes")?;
            let replay_lag: Option<f64> = col(row, STEP, "replay_lag_s")?;
            Ok(Standby {
                pid: col(row, STEP, "pid")?,
                backend_start_us: col(row, STEP, "backend_start_us")?,
                name: col(row, STEP, "application_name")?,
                client: col(row, STEP, "client")?,
                state: col(row, STEP, "state")?,
                sync_state: col(row, STEP, "sync_state")?,
                pending_bytes: col(row, STEP, "pending_bytes")?,
                replay_bytes,
                write_lag_s: col(row, STEP, "write_lag_s")?,
                flush_lag_s: col(row, STEP, "flush_lag_s")?,
                replay_lag_s: match (replay_lag, replay_bytes) {
                    (None, Some(b)) if b <= 0.0 => Some(0.0),
                    (lag, _) => lag,
                },
                xmin_age: col(row, STEP, "xmin_age")?,
            })
        })
        .collect()
}

pub(super) fn decode_slots(rows: &[Row]) -> Result<Vec<Slot>, Failure> {
    const STEP: &str = "read pg_replication_slots";
    rows.iter()
        .map(|row| {
            Ok(Slot {
                name: col(row, STEP, "slot_name")?,
                slot_type: col::<Option<String>>(row, STEP, "slot_type")?.unwrap_or_default(),
                database: col(row, STEP, "database")?,
                active: col(row, STEP, "active")?,
                wal_status: col(row, STEP, "wal_status")?,
                safe_wal_size: col(row, STEP, "safe_wal_size")?,
                retained_bytes: col(row, STEP, "retained_bytes")?,
                xmin_age: col(row, STEP, "xmin_age")?,
                catalog_xmin_age: col(row, STEP, "catalog_xmin_age")?,
            })
        })
        .collect()
}

fn bytes(v: Option<f64>) -> Cell {
    match v {
        Some(b) => Cell::number(format_value(b, Unit::Bytes), b),
        None => Cell::text(""),
    }
}

fn secs(v: Option<f64>) -> Cell {
    match v {
        Some(s) => Cell::number(format_value(s, Unit::Seconds), s),
        None => Cell::text(""),
    }
}

fn xids(v: Option<i64>) -> Cell {
    match v {
        Some(n) => Cell::number(format_value(n as f64, Unit::Count), n as f64),
        None => Cell::text(""),
    }
}

pub(super) fn standbys_table(standbys: &[Standby], lag_warn_s: f64) -> TableData {
    let rows = standbys
        .iter()
        .map(|s| {
            let streaming = s.state.as_deref() == Some("streaming");
            let lagging = s.replay_lag_s.is_some_and(|l| l >= lag_warn_s);
            let level = (!streaming || lagging).then_some(Level::Warn);
            TableRow {
                key: Some(super::activity::backend_key(s.pid, s.backend_start_us)),
                cells: vec![
                    Cell::text(s.name.clone()),
                    Cell::text(s.client.clone().unwrap_or_default()),
                    Cell::text(s.state.clone().unwrap_or_default()),
                    Cell::text(s.sync_state.clone().unwrap_or_default()),
                    bytes(s.pending_bytes),
                    bytes(s.replay_bytes),
                    secs(s.replay_lag_s),
                    xids(s.xmin_age),
                ],
                level,
            }
        })
        .collect();
    TableData {
        columns: vec![
            Column::text("standby", 16),
            Column::text("client", 15).optional(2),
            Column::text("state", 10),
            Column::text("sync", 9),
            Column::number("unsent", 10).optional(1),
            Column::number("unreplayed", 10),
            Column::number("replay lag", 10),
            Column::number("xmin age", 9).optional(3),
        ],
        rows,
    }
}

pub(super) fn slots_table(slots: &[Slot]) -> TableData {
    let rows = slots
        .iter()
        .map(|s| TableRow {
            key: Some(format!("slot:{}", s.name)),
            cells: vec![
                Cell::text(s.name.clone()),
                Cell::text(s.slot_type.clone()),
                Cell::text(if s.active { "active" } else { "inactive" }),
                Cell::text(s.wal_status.clone().unwrap_or_default()),
                bytes(s.retained_bytes),
                bytes(s.safe_wal_size.map(|v| v as f64)),
                xids(s.xmin_age.max(s.catalog_xmin_age)),
            ],
            level: slot_level(s),
        })
        .collect();
    TableData {
        columns: vec![
            Column::text("slot", 20),
            Column::text("type", 8),
            Column::text("active", 8),
            Column::text("wal status", 10),
            Column::number("retained", 10),
            Column::number("safe size", 10).optional(1),
            Column::number("xmin age", 9).optional(2),
        ],
        rows,
    }
}

pub(super) fn slot_level(s: &Slot) -> Option<Level> {
    match s.wal_status.as_deref() {
        Some("lost") => Some(Level::Crit),
        Some("unreserved") => Some(Level::Warn),
        _ if !s.active => Some(Level::Warn),
        _ => None,
    }
}

/// Something holding back the oldest snapshot vacuum must respect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HorizonHolder {
    /// `session`, `standby`, `slot`.
    pub kind: &'static str,
    pub name: String,
    pub key: Option<String>,
    pub state: String,
    pub xact_age_s: Option<f64>,
    pub xmin_age: Option<i64>,
}

/// Longest transactions and every xmin holder, worst first.
pub fn horizon(
    activity: Option<&Activity>,
    standbys: &[Standby],
    slots: &[Slot],
) -> Vec<HorizonHolder> {
    let mut holders: Vec<HorizonHolder> = Vec::new();
    let session = |b: &Backend| HorizonHolder {
        kind: "session",
        name: format!(
            "{} {} {}",
            b.pid,
            b.user.as_deref().unwrap_or(""),
            b.application
        )
        .trim()
        .to_string(),
        key: Some(b.key()),
        state: b.state.clone(),
        xact_age_s: b.xact_age_s,
        xmin_age: b.xmin_age,
    };
    if let Some(activity) = activity {
        holders.extend(
            activity
                .backends
                .iter()
                .filter(|b| b.xmin_age.is_some() || b.xact_age_s.is_some())
                .filter(|b| b.backend_type != "walsender")
                .map(session),
        );
    }
    holders.extend(
        standbys
            .iter()
            .filter(|s| s.xmin_age.is_some())
            .map(|s| HorizonHolder {
                kind: "standby",
                name: s.name.clone(),
                key: Some(super::activity::backend_key(s.pid, s.backend_start_us)),
                state: s.state.clone().unwrap_or_default(),
                xact_age_s: None,
                xmin_age: s.xmin_age,
            }),
    );
    holders.extend(slots.iter().filter_map(|s| {
        let age = s.xmin_age.max(s.catalog_xmin_age)?;
        Some(HorizonHolder {
            kind: "slot",
            name: s.name.clone(),
            key: Some(format!("slot:{}", s.name)),
            state: if s.active { "active" } else { "inactive" }.into(),
            xact_age_s: None,
            xmin_age: Some(age),
        })
    }));
    holders.sort_by(|a, b| {
        b.xmin_age
            .unwrap_or(-1)
            .cmp(&a.xmin_age.unwrap_or(-1))
            .then(
                b.xact_age_s
                    .unwrap_or(-1.0)
                    .total_cmp(&a.xact_age_s.unwrap_or(-1.0)),
            )
    });
    holders.truncate(20);
    holders
}

pub(super) fn horizon_table(holders: &[HorizonHolder], xact_warn_s: f64) -> TableData {
    let rows = holders
        .iter()
        .map(|h| TableRow {
            key: h.key.clone(),
            cells: vec![
                Cell::text(h.kind),
                Cell::text(h.name.clone()),
                Cell::text(h.state.clone()),
                xids(h.xmin_age),
                secs(h.xact_age_s),
            ],
            level: (h.xact_age_s.is_some_and(|s| s >= xact_warn_s)
                || (h.kind == "slot" && h.state == "inactive"))
                .then_some(Level::Warn),
        })
        .collect();
    TableData {
        columns: vec![
            Column::text("holder", 8),
            Column::text("who", 30),
            Column::text("state", 20),
            Column::number("xmin age", 10),
            Column::number("xact age", 10),
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_horizon_lists_slots_and_standbys_with_sessions_worst_first() {
        let standby = Standby {
            pid: 7,
            backend_start_us: 1,
            name: "replica-1".into(),
            client: None,
            state: Some("streaming".into()),
            sync_state: Some("async".into()),
            pending_bytes: Some(0.0),
            replay_bytes: Some(0.0),
            write_lag_s: None,
            flush_lag_s: None,
            replay_lag_s: Some(0.0),
            xmin_age: Some(500),
        };
        let slot = Slot {
            name: "debezium".into(),
            slot_type: "logical".into(),
            database: "mastodon".into(),
            active: false,
            wal_status: Some("extended".into()),
            safe_wal_size: None,
            retained_bytes: Some(1e9),
            xmin_age: None,
            catalog_xmin_age: Some(90_000),
        };
        let holders = horizon(None, &[standby], std::slice::from_ref(&slot));
        let kinds: Vec<&str> = holders.iter().map(|h| h.kind).collect();
        assert_eq!(kinds, ["slot", "standby"]);
        assert_eq!(slot_level(&slot), Some(Level::Warn));
    }
}
