//! WAL archiver health from `pg_stat_archiver`: failures since the last read, the last WAL
//! that failed, and how old the last archived WAL is. A query of its own on the slow tier,
//! kept apart from the main poll queries.
//!
//! Incident (Hachyderm, mastodon-ops.md): the WAL archive filled the database server's
//! root disk. While `archive_command` fails, Postgres keeps every WAL segment in `pg_wal`
//! until it succeeds, so a failing archiver is a disk filling up at the write rate.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, Row};

use crate::model::figure::format_value;
use crate::model::{Finding, Unit};

/// One row; ages come from the server's clock, so the console's clock does not matter.
/// `clock_timestamp()` rather than `now()`: the statistics are read after the transaction
/// began, so a WAL archived in between would otherwise come out younger than zero (and
/// `greatest` of the moments, not of the ages, keeps a missing moment NULL).
/// Sent unnamed (`query_typed`), like every poll query: PgBouncer in transaction mode
/// cannot keep named prepared statements.
pub const ARCHIVER_SQL: &str = "/* mastop */ SELECT current_setting('archive_mode') AS archive_mode, \
     archived_count, last_archived_wal, \
     EXTRACT(EPOCH FROM greatest(clock_timestamp(), last_archived_time) - last_archived_time)::float8 AS last_archived_age_s, \
     failed_count, last_failed_wal, \
     EXTRACT(EPOCH FROM greatest(clock_timestamp(), last_failed_time) - last_failed_time)::float8 AS last_failed_age_s \
     FROM pg_stat_archiver";

/// No WAL archived for this long while archiving is on: either nothing is written (an
/// idle server without `archive_timeout`) or the archiver is stuck.
pub const ARCHIVED_STALE_S: f64 = 3600.0;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Archiver {
    /// `off`, `on` or `always`.
    pub archive_mode: String,
    pub archived_count: i64,
    pub failed_count: i64,
    /// Failures since the previous read; `None` on the first read or after a stats reset.
    pub failed_since_last: Option<i64>,
    pub last_archived_wal: Option<String>,
    pub last_archived_age_s: Option<f64>,
    pub last_failed_wal: Option<String>,
    pub last_failed_age_s: Option<f64>,
    /// The query failed (privilege, version); the rest is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Archiver {
    pub fn enabled(&self) -> bool {
        self.error.is_none() && self.archive_mode != "off" && !self.archive_mode.is_empty()
    }

    /// The last attempt failed: a failure newer than the last success.
    pub fn failing(&self) -> bool {
        match (self.last_failed_age_s, self.last_archived_age_s) {
            (Some(failed), Some(archived)) => failed < archived,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// Decodes the one row.
pub fn decode(row: &Row, previous_failed: Option<i64>) -> Result<Archiver, tokio_postgres::Error> {
    let failed_count: i64 = row.try_get("failed_count")?;
    Ok(Archiver {
        archive_mode: row.try_get("archive_mode")?,
        archived_count: row.try_get("archived_count")?,
        failed_count,
        failed_since_last: previous_failed
            .filter(|p| *p <= failed_count)
            .map(|p| failed_count - p),
        last_archived_wal: row.try_get("last_archived_wal")?,
        last_archived_age_s: row.try_get("last_archived_age_s")?,
        last_failed_wal: row.try_get("last_failed_wal")?,
        last_failed_age_s: row.try_get("last_failed_age_s")?,
        error: None,
    })
}

/// The archiver read and its cadence, owned by the Postgres source.
#[derive(Debug, Default)]
pub struct ArchiverWatch {
    latest: Option<Archiver>,
    read_at: Option<Instant>,
}

impl ArchiverWatch {
    /// Reads `pg_stat_archiver` when `every` has passed since the last read and returns
    /// the latest answer. A refused query is kept as a note, never fails the poll.
    pub async fn refresh(&mut self, client: &Client, every: Duration) -> Option<Archiver> {
        if self.read_at.is_none_or(|at| at.elapsed() >= every) {
            let previous = self
                .latest
                .as_ref()
                .filter(|a| a.error.is_none())
                .map(|a| a.failed_count);
            let answer = client.query_typed(ARCHIVER_SQL, &[]).await;
            self.latest = Some(
                match answer.and_then(|rows| match rows.first() {
                    Some(row) => decode(row, previous).map(Some),
                    None => Ok(None),
                }) {
                    Ok(Some(a)) => a,
                    Ok(None) => Archiver {
                        error: Some("pg_stat_archiver returned no row".to_string()),
                        ..Archiver::default()
                    },
                    Err(e) => Archiver {
                        error: Some(match e.as_db_error() {
                            Some(db) => crate::sanitize::sanitize(db.message()).into_owned(),
                            None => "the archiver query failed".to_string(),
                        }),
                        ..Archiver::default()
                    },
                },
            );
            self.read_at = Some(Instant::now());
        }
        self.latest.clone()
    }
}

pub fn findings(a: &Archiver) -> Vec<Finding> {
    let mut out = Vec::new();
    if !a.enabled() {
        return out;
    }
    let wal = |w: &Option<String>| {
        crate::sanitize::sanitize(w.as_deref().unwrap_or("(none yet)")).into_owned()
    };
    if a.failing() {
        let since = a
            .failed_since_last
            .map(|n| format!(", {n} failures since the last read"))
            .unwrap_or_default();
        out.push(Finding::crit(format!(
            "WAL archiving is failing (last failed WAL {}{since}): pg_wal keeps every segment until archive_command succeeds and fills its disk (WAL archive filled the root disk)",
            wal(&a.last_failed_wal)
        )));
    } else if a.failed_since_last.is_some_and(|n| n > 0) {
        out.push(Finding::warn(format!(
            "WAL archiving failed {} times since the last read before succeeding again (last failed WAL {})",
            a.failed_since_last.unwrap_or(0),
            wal(&a.last_failed_wal)
        )));
    }
    if let Some(age) = a.last_archived_age_s
        && age > ARCHIVED_STALE_S
        && !a.failing()
    {
        out.push(Finding::warn(format!(
            "no WAL archived for {}: is the archiver stuck, or archive_timeout unset on a quiet server?",
            format_value(age, Unit::Seconds)
        )));
    }
    out
}

/// The detail view's lines.
pub fn pairs(a: &Archiver) -> Vec<(&'static str, String)> {
    if let Some(e) = &a.error {
        return vec![("archiver", format!("not readable: {e}"))];
    }
    let age = |v: Option<f64>| {
        v.map_or_else(
            || "never".to_string(),
            |s| format!("{} ago", format_value(s, Unit::Seconds)),
        )
    };
    let wal =
        |w: &Option<String>| crate::sanitize::sanitize(w.as_deref().unwrap_or("—")).into_owned();
    vec![
        ("archive_mode", a.archive_mode.clone()),
        (
            "last archived",
            format!(
                "{} · {}",
                wal(&a.last_archived_wal),
                age(a.last_archived_age_s)
            ),
        ),
        (
            "last failed",
            format!("{} · {}", wal(&a.last_failed_wal), age(a.last_failed_age_s)),
        ),
        (
            "failures",
            match a.failed_since_last {
                Some(n) => format!("{n} since the last read · {} in all", a.failed_count),
                None => format!("{} in all", a.failed_count),
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archiver(failed_age: Option<f64>, archived_age: Option<f64>) -> Archiver {
        Archiver {
            archive_mode: "on".into(),
            archived_count: 3,
            failed_count: 7,
            failed_since_last: Some(2),
            last_archived_wal: Some("000000010000000000000003".into()),
            last_archived_age_s: archived_age,
            last_failed_wal: Some("000000010000000000000004".into()),
            last_failed_age_s: failed_age,
            error: None,
        }
    }

    #[test]
    fn a_failure_newer_than_the_last_success_is_critical() {
        let f = findings(&archiver(Some(5.0), Some(600.0)));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].level, crate::model::Level::Crit);
        assert!(
            f[0].message
                .contains("000000010000000000000004, 2 failures since the last read")
        );
        let f = findings(&archiver(Some(5.0), None));
        assert_eq!(f[0].level, crate::model::Level::Crit);
    }

    #[test]
    fn recovered_failures_warn_and_archiving_off_says_nothing() {
        let f = findings(&archiver(Some(60.0), Some(5.0)));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].level, crate::model::Level::Warn);
        let mut off = archiver(Some(5.0), None);
        off.archive_mode = "off".into();
        assert!(findings(&off).is_empty());
        let stale = Archiver {
            failed_since_last: Some(0),
            ..archiver(None, Some(7200.0))
        };
        assert!(
            findings(&stale)[0]
                .message
                .contains("no WAL archived for 2h")
        );
    }
}
