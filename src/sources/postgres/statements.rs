//! Top queries from `pg_stat_statements`, as deltas between two samples. The counters are
//! read with `showtext = false` (the server then skips its query-text file); texts are
//! fetched once per new queryid and redacted like any other query text, because utility
//! statements and comments keep their literals even after the server normalises them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::decode::{Failure, col};
use super::redact::redact;
use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::{TableData, Unit};

pub(super) const STATEMENTS_SQL: &str = "/* mastop */ SELECT queryid,
    calls::int8 AS calls,
    total_exec_time::float8 AS total_ms,
    rows::int8 AS rows,
    shared_blks_hit::int8 AS hit,
    shared_blks_read::int8 AS read,
    temp_blks_written::int8 AS temp_written
FROM pg_stat_statements(false)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND queryid IS NOT NULL
ORDER BY total_exec_time DESC
LIMIT 100";

pub(super) const TEXTS_SQL: &str = "/* mastop */ SELECT queryid, query
FROM pg_stat_statements(true)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND queryid = ANY($1)";

/// Whether `pg_stat_statements(boolean)` can be called from here now, asked of the catalog
/// so that the answer is never an error in the server log.
pub(super) const PROBE_SQL: &str =
    "/* mastop */ SELECT to_regprocedure('pg_stat_statements(boolean)') IS NOT NULL AS ready";

/// How many statements the view shows.
const SHOWN: usize = 15;
/// Texts kept for queryids no longer in the top list, before the cache is trimmed.
const TEXT_CACHE_MAX: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Counters {
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
    pub hit: i64,
    pub read: i64,
    pub temp_written: i64,
}

pub(super) fn decode_counters(rows: &[Row]) -> Result<Vec<(i64, Counters)>, Failure> {
    const STEP: &str = "read pg_stat_statements";
    rows.iter()
        .map(|row| {
            Ok((
                col(row, STEP, "queryid")?,
                Counters {
                    calls: col(row, STEP, "calls")?,
                    total_ms: col(row, STEP, "total_ms")?,
                    rows: col(row, STEP, "rows")?,
                    hit: col(row, STEP, "hit")?,
                    read: col(row, STEP, "read")?,
                    temp_written: col(row, STEP, "temp_written")?,
                },
            ))
        })
        .collect()
}

/// One statement's line in the top list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub queryid: i64,
    /// Normalised by the server, then redacted; `None` until the text has been fetched.
    pub query: Option<String>,
    /// Over the interval between the last two samples; cumulative on the first sample.
    pub calls: i64,
    pub total_ms: f64,
    pub rows: i64,
    pub hit_pct: Option<f64>,
    pub temp_blocks_written: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopStatements {
    /// Whether the numbers are deltas between two samples or totals since reset.
    pub interval: bool,
    pub statements: Vec<Statement>,
}

/// Sample history and the text cache.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    previous: HashMap<i64, Counters>,
    texts: HashMap<i64, Option<String>>,
}

/// A text that is mastop's own: left out of the list like mastop's sessions are.
fn is_own(text: &str) -> bool {
    text.trim_start().starts_with("/* mastop */")
}

impl Tracker {
    /// Queryids in `sample` whose text is not known yet.
    pub(super) fn missing_texts(&self, sample: &[(i64, Counters)]) -> Vec<i64> {
        sample
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| !self.texts.contains_key(id))
            .collect()
    }

    pub(super) fn add_texts(&mut self, rows: &[Row], asked: &[i64]) {
        for id in asked {
            self.texts.entry(*id).or_insert(None);
        }
        for row in rows {
            let (Ok(id), Ok(text)) = (
                row.try_get::<_, i64>("queryid"),
                row.try_get::<_, Option<String>>("query"),
            ) else {
                continue;
            };
            self.texts.insert(id, text);
        }
        if self.texts.len() > TEXT_CACHE_MAX {
            let keep: std::collections::HashSet<i64> = asked.iter().copied().collect();
            self.texts.retain(|id, _| keep.contains(id));
        }
    }

    /// Turns a sample into the top list and remembers it for the next delta.
    pub(super) fn top(&mut self, sample: Vec<(i64, Counters)>) -> TopStatements {
        let interval = !self.previous.is_empty();
        let mut statements: Vec<Statement> = sample
            .iter()
            .filter(|(id, _)| {
                !self
                    .texts
                    .get(id)
                    .and_then(|t| t.as_deref())
                    .is_some_and(is_own)
            })
            .filter_map(|(id, now)| {
                let delta = match self.previous.get(id) {
                    // A reset (or an evicted and re-added entry) shows as totals again.
                    Some(prev) if now.calls >= prev.calls => Counters {
                        calls: now.calls - prev.calls,
                        total_ms: now.total_ms - prev.total_ms,
                        rows: now.rows - prev.rows,
                        hit: now.hit - prev.hit,
                        read: now.read - prev.read,
                        temp_written: now.temp_written - prev.temp_written,
                    },
                    _ => *now,
                };
                if interval && delta.calls == 0 {
                    return None;
                }
                let blocks = delta.hit + delta.read;
                Some(Statement {
                    queryid: *id,
                    query: self.texts.get(id).cloned().flatten().map(|t| redact(&t)),
                    calls: delta.calls,
                    total_ms: delta.total_ms,
                    rows: delta.rows,
                    hit_pct: (blocks > 0).then(|| delta.hit as f64 * 100.0 / blocks as f64),
                    temp_blocks_written: delta.temp_written,
                })
            })
            .collect();
        statements.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
        statements.truncate(SHOWN);
        self.previous = sample.into_iter().collect();
        TopStatements {
            interval,
            statements,
        }
    }
}

pub(super) fn statements_table(top: &TopStatements) -> TableData {
    let ms = |v: f64| Cell::number(format_value(v, Unit::Millis), v);
    TableData {
        columns: vec![
            Column::number("calls", 8),
            Column::number("total", 9),
            Column::number("mean", 9),
            Column::number("rows", 8).optional(2),
            Column::number("hit", 6).optional(1),
            Column::number("temp blks", 8).optional(3),
            Column::text("query", 70),
        ],
        rows: top
            .statements
            .iter()
            .map(|s| {
                let mean = if s.calls > 0 {
                    s.total_ms / s.calls as f64
                } else {
                    0.0
                };
                TableRow {
                    key: Some(format!("queryid:{}", s.queryid)),
                    cells: vec![
                        Cell::number(format_value(s.calls as f64, Unit::Count), s.calls as f64),
                        ms(s.total_ms),
                        ms(mean),
                        Cell::number(format_value(s.rows as f64, Unit::Count), s.rows as f64),
                        match s.hit_pct {
                            Some(p) => Cell::number(format_value(p, Unit::Percent), p),
                            None => Cell::text(""),
                        },
                        Cell::number(
                            s.temp_blocks_written.to_string(),
                            s.temp_blocks_written as f64,
                        ),
                        Cell::text(
                            s.query
                                .clone()
                                .unwrap_or_else(|| format!("(queryid {})", s.queryid)),
                        ),
                    ],
                    level: None,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(calls: i64, total_ms: f64) -> Counters {
        Counters {
            calls,
            total_ms,
            rows: calls,
            hit: 10,
            read: 0,
            temp_written: 0,
        }
    }

    #[test]
    fn the_second_sample_shows_deltas_and_drops_quiet_statements() {
        let mut t = Tracker::default();
        let first = t.top(vec![(1, c(10, 100.0)), (2, c(5, 500.0))]);
        assert!(!first.interval);
        assert_eq!(first.statements[0].queryid, 2, "ordered by total time");
        let second = t.top(vec![(1, c(30, 400.0)), (2, c(5, 500.0))]);
        assert!(second.interval);
        assert_eq!(second.statements.len(), 1, "statement 2 did not run");
        assert_eq!(second.statements[0].calls, 20);
        assert_eq!(second.statements[0].total_ms, 300.0);
    }

    #[test]
    fn own_statements_are_hidden_and_texts_redacted() {
        let mut t = Tracker::default();
        t.texts.insert(1, Some("/* mastop */ SELECT 1".into()));
        t.texts
            .insert(2, Some("SET search_path = 'secret_schema'".into()));
        let top = t.top(vec![(1, c(1, 1.0)), (2, c(1, 1.0))]);
        assert_eq!(top.statements.len(), 1);
        assert_eq!(
            top.statements[0].query.as_deref(),
            Some("SET search_path = ?")
        );
    }
}
