//! The overview board's rows: every component with its health, key figure, a short trend,
//! the age of its data and why it is not OK.

use std::time::SystemTime;

use super::{ListData, age_text, level_rank};
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::history::sparkline;
use crate::model::{Fleet, SourceState};

const TREND_WIDTH: usize = 16;

pub fn list(fleet: &Fleet, now: SystemTime) -> ListData {
    // Alerts are counted only where an Alertmanager is configured to count them.
    let alerts = fleet
        .components()
        .iter()
        .any(|c| c.meta.kind == crate::sources::alertmanager::KIND);
    let mut columns = vec![
        Column::text("HEALTH", 9),
        Column::text("COMPONENT", 20),
        Column::text("REGION", 10).optional(5),
        Column::number("VALUE", 9),
        Column::text("FIGURE", 20).optional(2),
        Column::text("TREND", TREND_WIDTH as u16).optional(4),
        Column::number("AGE", 5).optional(3),
        Column::text("WHY", 24),
    ];
    if alerts {
        columns.insert(2, Column::number("ALERTS", 6).optional(1));
    }
    let mut rows = Vec::with_capacity(fleet.components().len());
    let mut ids = Vec::with_capacity(fleet.components().len());
    for c in fleet.components() {
        let state = c.status.effective_state(now);
        let (value_text, label, figure_value, trend) = match c.key_figure() {
            Some(f) => (
                f.display_value(),
                f.label,
                f.value,
                c.history(f.key)
                    .map(|h| sparkline(h.values(), TREND_WIDTH))
                    .unwrap_or_default(),
            ),
            // Before the first poll there is no figure yet, but a backfilled history of
            // the kind's usual key figure may already be there to draw.
            None => (
                String::new(),
                "",
                f64::NAN,
                crate::sources::trend_key(c.meta.kind)
                    .and_then(|key| c.history(key))
                    .map(|h| sparkline(h.values(), TREND_WIDTH))
                    .unwrap_or_default(),
            ),
        };
        let why = match (c.health.reasons.first(), state) {
            (Some(reason), _) => reason.clone(),
            (None, SourceState::Ok) => c.reading.as_ref().map(|r| r.summary()).unwrap_or_default(),
            (None, other) => other.word().to_string(),
        };
        let age = c.status.age(now);
        let mut cells = vec![
            Cell::number(
                format!("{} {}", c.health.level.symbol(), c.health.level.word()),
                level_rank(c.health.level),
            ),
            Cell::text(c.meta.id.as_str()),
            Cell::text(c.meta.region.as_str()),
            Cell {
                text: value_text,
                sort: figure_value.is_finite().then_some(figure_value),
            },
            Cell::text(label),
            Cell::text(trend),
            Cell {
                text: age_text(age),
                sort: age.map(|a| a.as_secs_f64()),
            },
            Cell::text(why),
        ];
        if alerts {
            let firing = c.alerts.firing;
            let text = match (firing, c.alerts.suppressed) {
                (0, 0) => String::new(),
                (0, s) => format!("({s})"),
                (f, _) => f.to_string(),
            };
            cells.insert(
                2,
                Cell {
                    text,
                    sort: Some(f64::from(firing)),
                },
            );
        }
        rows.push(Row {
            key: None,
            cells,
            level: Some(c.health.level),
        });
        ids.push(c.meta.id.clone());
    }
    ListData {
        table: TableData { columns, rows },
        ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::rows::testing::{demo_fleet, now, pending};

    fn column_names(data: &ListData) -> Vec<&str> {
        data.table
            .columns
            .iter()
            .map(|c| c.title.as_str())
            .collect()
    }

    #[test]
    fn one_row_per_component_in_fleet_order_with_its_id() {
        let fleet = demo_fleet();
        let data = list(&fleet, now());
        assert_eq!(data.table.rows.len(), fleet.components().len());
        let ids: Vec<_> = fleet
            .components()
            .iter()
            .map(|c| c.meta.id.clone())
            .collect();
        assert_eq!(data.ids, ids);
        for (row, c) in data.table.rows.iter().zip(fleet.components()) {
            assert_eq!(row.level, Some(c.health.level));
            assert_eq!(row.cells[0].sort, Some(level_rank(c.health.level)));
            assert_eq!(row.cells[1].text, c.meta.id.as_str());
            assert_eq!(row.cells.len(), data.table.columns.len());
        }
        assert!(
            data.table.rows.iter().any(|r| r.cells[0].text == "✖ CRIT"),
            "four minutes into the demo something is critical"
        );
    }

    #[test]
    fn before_the_first_poll_a_row_says_so_and_has_no_age() {
        let data = list(&pending(&[("redis", "main")]), now());
        let row = &data.table.rows[0];
        let age = column_names(&data).iter().position(|c| *c == "AGE");
        assert_eq!(age.map(|i| row.cells[i].text.as_str()), Some("—"));
        assert!(!row.cells[column_names(&data).len() - 1].text.is_empty());
        assert!(
            row.cells[3].sort.is_none(),
            "no figure yet: nothing to sort by"
        );
    }

    #[test]
    fn the_alerts_column_appears_only_with_an_alertmanager() {
        let without = list(&pending(&[("redis", "main")]), now());
        assert!(!column_names(&without).contains(&"ALERTS"));
        let with = list(
            &pending(&[("redis", "main"), ("alertmanager", "am")]),
            now(),
        );
        assert_eq!(column_names(&with)[2], "ALERTS");
        assert!(with.table.rows.iter().all(|r| r.cells.len() == 9));
    }
}
