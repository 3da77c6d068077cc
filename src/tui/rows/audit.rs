//! The audit history: every action and refusal, newest first.

use super::ListData;
use crate::actions::{AuditRecord, Outcome, Phase};
use crate::model::Level;
use crate::model::detail::{Cell, Column, Row, TableData};

pub fn list(records: &[AuditRecord]) -> ListData {
    let columns = vec![
        Column::text("TIME (UTC)", 19),
        Column::text("OUTCOME", 8),
        Column::text("WHO", 14).optional(2),
        Column::text("ROLE", 7).optional(4),
        Column::text("ACTION", 30),
        Column::text("TARGET", 22).optional(3),
        Column::text("DETAIL", 20),
    ];
    let rows = records
        .iter()
        .map(|r| {
            let (word, level) = match (r.phase, r.outcome) {
                (Phase::Intent, _) => ("started", Level::Unknown),
                (_, Some(Outcome::Ok)) => ("ok", Level::Ok),
                (_, Some(Outcome::Refused)) => ("refused", Level::Warn),
                (_, Some(o)) => (o.word(), Level::Crit),
                (_, None) => ("?", Level::Unknown),
            };
            let detail = r
                .error
                .clone()
                .or_else(|| r.result.clone())
                .unwrap_or_else(|| r.operations.join("; "));
            Row {
                key: Some(r.action_id.clone()),
                cells: vec![
                    Cell::text(r.time.get(..19).unwrap_or(&r.time).replace('T', " ")),
                    Cell::text(word),
                    Cell::text(format!("{}@{}", r.operator, r.console_host)),
                    Cell::text(r.role.clone()),
                    Cell::text(r.title.clone()),
                    Cell::text(r.target.clone()),
                    Cell::text(detail),
                ],
                level: Some(level),
            }
        })
        .collect();
    ListData {
        table: TableData { columns, rows },
        ids: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phase: &str, outcome: Option<&str>, error: Option<&str>) -> AuditRecord {
        serde_json::from_value(serde_json::json!({
            "id": "r1", "action_id": "a1", "time": "2026-01-15T10:05:00.123Z",
            "phase": phase, "operator": "alex", "console_host": "laptop",
            "console_id": "c1", "role": "oncall", "kind": "pg_cancel",
            "title": "Cancel query", "target": "postgres/primary pid 4121",
            "target_key": "postgres/primary", "risk": "low",
            "operations": ["SELECT pg_cancel_backend(4121)"], "guards": [],
            "outcome": outcome, "error": error,
        }))
        .expect("a well-formed record")
    }

    #[test]
    fn outcomes_become_words_and_levels() {
        let data = list(&[
            record("intent", None, None),
            record("outcome", Some("ok"), None),
            record("outcome", Some("refused"), Some("frozen by kris")),
        ]);
        let words: Vec<_> = data
            .table
            .rows
            .iter()
            .map(|r| r.cells[1].text.clone())
            .collect();
        assert_eq!(words, ["started", "ok", "refused"]);
        let levels: Vec<_> = data.table.rows.iter().map(|r| r.level).collect();
        assert_eq!(
            levels,
            [Some(Level::Unknown), Some(Level::Ok), Some(Level::Warn)]
        );
        let first = &data.table.rows[0];
        assert_eq!(first.cells[0].text, "2026-01-15 10:05:00");
        assert_eq!(first.cells[6].text, "SELECT pg_cancel_backend(4121)");
        assert_eq!(data.table.rows[2].cells[6].text, "frozen by kris");
        assert_eq!(first.key.as_deref(), Some("a1"));
    }
}
