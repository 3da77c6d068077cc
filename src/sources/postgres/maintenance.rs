//! Vacuum's side of the house: transaction-ID wraparound per database, vacuums in progress,
//! the tables with the most dead tuples, and what the databases and WAL take on disk.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::decode::{Failure, col};
use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::{Level, TableData, Unit};

pub(super) const WRAPAROUND_SQL: &str = "/* mastop */ SELECT datname::text AS datname,
    age(datfrozenxid)::int8 AS xid_age,
    mxid_age(datminmxid)::int8 AS mxid_age,
    current_setting('autovacuum_freeze_max_age')::int8 AS freeze_max_age,
    current_setting('autovacuum_multixact_freeze_max_age')::int8 AS mxid_freeze_max_age
FROM pg_database WHERE datallowconn ORDER BY 2 DESC";

// The boolean is computed on the server so the autovacuum's query text never leaves it.
pub(super) const VACUUM_SQL: &str = "/* mastop */ SELECT p.pid,
    p.datname::text AS datname,
    p.relid::regclass::text AS relation,
    p.phase,
    p.heap_blks_total::int8 AS heap_blks_total,
    p.heap_blks_scanned::int8 AS heap_blks_scanned,
    p.heap_blks_vacuumed::int8 AS heap_blks_vacuumed,
    p.index_vacuum_count::int8 AS index_vacuum_count,
    extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS running_s,
    coalesce(a.query LIKE '%(to prevent wraparound)%', false) AS anti_wraparound,
    coalesce(a.backend_type = 'autovacuum worker', false) AS autovacuum
FROM pg_stat_progress_vacuum p LEFT JOIN pg_stat_activity a USING (pid)
ORDER BY running_s DESC NULLS LAST";

pub(super) const DEAD_TUPLES_SQL: &str = "/* mastop */ SELECT relid::regclass::text AS relation,
    n_live_tup::int8 AS live,
    n_dead_tup::int8 AS dead,
    extract(epoch FROM clock_timestamp() - greatest(last_autovacuum, last_vacuum))::float8 AS since_vacuum_s,
    (autovacuum_count + vacuum_count)::int8 AS vacuums
FROM pg_stat_user_tables
WHERE n_dead_tup > 0
ORDER BY n_dead_tup DESC
LIMIT 15";

pub(super) const SIZES_SQL: &str = "/* mastop */ SELECT datname::text AS datname,
    pg_database_size(oid)::int8 AS size,
    datname = current_database() AS current
FROM pg_database
WHERE datallowconn AND has_database_privilege(oid, 'CONNECT')
ORDER BY 2 DESC";

pub(super) const WAL_DIR_SQL: &str = "/* mastop */ SELECT coalesce(sum(size), 0)::int8 AS bytes,
    count(*)::int8 AS files
FROM pg_ls_waldir()";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wraparound {
    pub database: String,
    pub xid_age: i64,
    pub mxid_age: i64,
    pub freeze_max_age: i64,
    pub mxid_freeze_max_age: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VacuumProgress {
    pub pid: i32,
    pub database: Option<String>,
    pub relation: Option<String>,
    pub phase: Option<String>,
    pub heap_blks_total: Option<i64>,
    pub heap_blks_scanned: Option<i64>,
    pub heap_blks_vacuumed: Option<i64>,
    pub index_vacuum_count: Option<i64>,
    pub running_s: Option<f64>,
    /// Forced by `autovacuum_freeze_max_age`: it cannot be skipped and must not be killed.
    pub anti_wraparound: bool,
    pub autovacuum: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadTuples {
    pub relation: String,
    pub live: i64,
    pub dead: i64,
    pub since_vacuum_s: Option<f64>,
    pub vacuums: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSize {
    pub database: String,
    pub bytes: i64,
    /// The database mastop is connected to.
    pub current: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalDir {
    pub bytes: i64,
    pub files: i64,
}

pub(super) fn decode_wraparound(rows: &[Row]) -> Result<Vec<Wraparound>, Failure> {
    const STEP: &str = "read pg_database ages";
    rows.iter()
        .map(|row| {
            Ok(Wraparound {
                database: col(row, STEP, "datname")?,
                xid_age: col(row, STEP, "xid_age")?,
                mxid_age: col(row, STEP, "mxid_age")?,
                freeze_max_age: col(row, STEP, "freeze_max_age")?,
                mxid_freeze_max_age: col(row, STEP, "mxid_freeze_max_age")?,
            })
        })
        .collect()
}

pub(super) fn decode_vacuum(rows: &[Row]) -> Result<Vec<VacuumProgress>, Failure> {
    const STEP: &str = "read pg_stat_progress_vacuum";
    rows.iter()
        .map(|row| {
            Ok(VacuumProgress {
                pid: col(row, STEP, "pid")?,
                database: col(row, STEP, "datname")?,
                relation: col(row, STEP, "relation")?,
                phase: col(row, STEP, "phase")?,
                heap_blks_total: col(row, STEP, "heap_blks_total")?,
                heap_blks_scanned: col(row, STEP, "heap_blks_scanned")?,
                heap_blks_vacuumed: col(row, STEP, "heap_blks_vacuumed")?,
                index_vacuum_count: col(row, STEP, "index_vacuum_count")?,
                running_s: col(row, STEP, "running_s")?,
                anti_wraparound: col(row, STEP, "anti_wraparound")?,
                autovacuum: col(row, STEP, "autovacuum")?,
            })
        })
        .collect()
}

pub(super) fn decode_dead_tuples(rows: &[Row]) -> Result<Vec<DeadTuples>, Failure> {
    const STEP: &str = "read pg_stat_user_tables";
    rows.iter()
        .map(|row| {
            Ok(DeadTuples {
                relation: col(row, STEP, "relation")?,
                live: col(row, STEP, "live")?,
                dead: col(row, STEP, "dead")?,
                since_vacuum_s: col(row, STEP, "since_vacuum_s")?,
                vacuums: col(row, STEP, "vacuums")?,
            })
        })
        .collect()
}

pub(super) fn decode_sizes(rows: &[Row]) -> Result<Vec<DatabaseSize>, Failure> {
    const STEP: &str = "read database sizes";
    rows.iter()
        .map(|row| {
            Ok(DatabaseSize {
                database: col(row, STEP, "datname")?,
                bytes: col(row, STEP, "size")?,
                current: col(row, STEP, "current")?,
            })
        })
        .collect()
}

pub(super) fn decode_wal_dir(rows: &[Row]) -> Result<WalDir, Failure> {
    const STEP: &str = "read pg_ls_waldir";
    let row = rows.first().ok_or_else(|| Failure::Answer {
        step: STEP,
        detail: "no rows".into(),
    })?;
    Ok(WalDir {
        bytes: col(row, STEP, "bytes")?,
        files: col(row, STEP, "files")?,
    })
}

fn count(v: i64) -> Cell {
    Cell::number(format_value(v as f64, Unit::Count), v as f64)
}

fn secs(v: Option<f64>) -> Cell {
    match v {
        Some(s) => Cell::number(format_value(s, Unit::Seconds), s),
        None => Cell::text(""),
    }
}

fn pct(part: f64, whole: f64) -> Cell {
    if whole <= 0.0 {
        return Cell::text("");
    }
    let p = part * 100.0 / whole;
    Cell::number(format_value(p, Unit::Percent), p)
}

/// The wraparound level of one age: past the freeze limit autovacuum is already forcing
/// scans; the crit threshold is where check_postgres pages someone.
pub(super) fn age_level(age: i64, warn: f64, crit: f64) -> Option<Level> {
    let age = age as f64;
    if age >= crit {
        Some(Level::Crit)
    } else if age >= warn {
        Some(Level::Warn)
    } else {
        None
    }
}

pub(super) fn wraparound_table(rows: &[Wraparound], warn: f64, crit: f64) -> TableData {
    TableData {
        columns: vec![
            Column::text("database", 24),
            Column::number("xid age", 10),
            Column::number("of freeze max", 8),
            Column::number("mxid age", 10),
            Column::number("of mxid freeze max", 8).optional(1),
        ],
        rows: rows
            .iter()
            .map(|w| TableRow {
                key: None,
                cells: vec![
                    Cell::text(w.database.clone()),
                    count(w.xid_age),
                    pct(w.xid_age as f64, w.freeze_max_age as f64),
                    count(w.mxid_age),
                    pct(w.mxid_age as f64, w.mxid_freeze_max_age as f64),
                ],
                level: age_level(w.xid_age.max(w.mxid_age), warn, crit),
            })
            .collect(),
    }
}

pub(super) fn vacuum_table(rows: &[VacuumProgress]) -> TableData {
    TableData {
        columns: vec![
            Column::number("pid", 7),
            Column::text("relation", 28),
            Column::text("kind", 22),
            Column::text("phase", 22),
            Column::number("scanned", 8),
            Column::number("index passes", 6).optional(1),
            Column::number("running", 9),
        ],
        rows: rows
            .iter()
            .map(|v| {
                let kind = match (v.autovacuum, v.anti_wraparound) {
                    (true, true) => "autovacuum (wraparound)",
                    (true, false) => "autovacuum",
                    (false, true) => "vacuum (wraparound)",
                    (false, false) => "vacuum",
                };
                TableRow {
                    key: None,
                    cells: vec![
                        Cell::number(v.pid.to_string(), f64::from(v.pid)),
                        Cell::text(v.relation.clone().unwrap_or_default()),
                        Cell::text(kind),
                        Cell::text(v.phase.clone().unwrap_or_default()),
                        match (v.heap_blks_scanned, v.heap_blks_total) {
                            (Some(s), Some(t)) => pct(s as f64, t as f64),
                            _ => Cell::text(""),
                        },
                        v.index_vacuum_count.map_or(Cell::text(""), count),
                        secs(v.running_s),
                    ],
                    level: v.anti_wraparound.then_some(Level::Warn),
                }
            })
            .collect(),
    }
}

pub(super) fn dead_tuples_table(rows: &[DeadTuples]) -> TableData {
    TableData {
        columns: vec![
            Column::text("table", 32),
            Column::number("dead", 10),
            Column::number("live", 10),
            Column::number("dead %", 7),
            Column::number("since vacuum", 10).optional(1),
            Column::number("vacuums", 8).optional(2),
        ],
        rows: rows
            .iter()
            .map(|t| TableRow {
                key: None,
                cells: vec![
                    Cell::text(t.relation.clone()),
                    count(t.dead),
                    count(t.live),
                    pct(t.dead as f64, (t.dead + t.live) as f64),
                    secs(t.since_vacuum_s),
                    count(t.vacuums),
                ],
                level: None,
            })
            .collect(),
    }
}

pub(super) fn sizes_table(rows: &[DatabaseSize]) -> TableData {
    TableData {
        columns: vec![Column::text("database", 24), Column::number("size", 10)],
        rows: rows
            .iter()
            .map(|d| TableRow {
                key: None,
                cells: vec![
                    Cell::text(d.database.clone()),
                    Cell::number(format_value(d.bytes as f64, Unit::Bytes), d.bytes as f64),
                ],
                level: None,
            })
            .collect(),
    }
}
