//! One kind's components side by side, their figures as columns.

use std::time::SystemTime;

use super::{ListData, age_text, level_rank};
use crate::model::Fleet;
use crate::model::detail::{Cell, Column, Row, TableData};

pub fn list(fleet: &Fleet, kind: &str, now: SystemTime) -> ListData {
    let members: Vec<_> = fleet
        .components()
        .iter()
        .filter(|c| c.meta.kind == kind)
        .collect();
    // Columns are the union of figure keys in first-seen order, so a component missing a
    // figure (a primary has no replay lag) leaves a blank rather than shifting columns.
    let mut keys: Vec<(&'static str, &'static str)> = Vec::new();
    for c in &members {
        for f in &c.figures {
            if !keys.iter().any(|(k, _)| *k == f.key) {
                keys.push((f.key, f.label));
            }
        }
    }
    let mut columns = vec![
        Column::text("HEALTH", 9),
        Column::text("NAME", 14),
        Column::text("REGION", 10).optional(200),
    ];
    // Figures further right are dropped first on narrow screens; the first ones matter most.
    columns.extend(keys.iter().enumerate().map(|(i, (_, label))| {
        Column::number(label.to_uppercase(), (label.len() as u16 + 1).max(7)).optional(10 + i as u8)
    }));
    columns.push(Column::number("AGE", 5).optional(199));
    columns.push(Column::text("WHY", 16));
    let mut rows = Vec::with_capacity(members.len());
    let mut ids = Vec::with_capacity(members.len());
    for c in members {
        let mut cells = vec![
            Cell::number(
                format!("{} {}", c.health.level.symbol(), c.health.level.word()),
                level_rank(c.health.level),
            ),
            Cell::text(c.meta.id.name()),
            Cell::text(c.meta.region.as_str()),
        ];
        for (key, _) in &keys {
            cells.push(match c.figures.iter().find(|f| f.key == *key) {
                Some(f) => Cell::number(f.display_value(), f.value),
                None => Cell::text(""),
            });
        }
        let age = c.status.age(now);
        cells.push(Cell {
            text: age_text(age),
            sort: age.map(|a| a.as_secs_f64()),
        });
        // Why it is not OK, else what it is: the same rule as the overview's last column.
        let why = match c.health.reasons.first() {
            Some(reason) => reason.clone(),
            None => c
                .reading
                .as_ref()
                .map(|r| r.summary())
                .unwrap_or_else(|| c.status.effective_state(now).word().to_string()),
        };
        cells.push(Cell::text(why));
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
    use crate::tui::rows::testing::{demo_fleet, now};

    #[test]
    fn only_the_kind_with_its_figures_as_columns() {
        let fleet = demo_fleet();
        let data = list(&fleet, "postgres", now());
        let members: Vec<_> = fleet
            .components()
            .iter()
            .filter(|c| c.meta.kind == "postgres")
            .collect();
        assert!(members.len() >= 2, "the demo has a primary and a replica");
        assert_eq!(data.table.rows.len(), members.len());
        assert!(
            data.ids
                .iter()
                .all(|id| id.as_str().starts_with("postgres/"))
        );
        let titles: Vec<_> = data.table.columns.iter().map(|c| c.title.clone()).collect();
        assert_eq!(&titles[..2], ["HEALTH", "NAME"]);
        assert_eq!(titles.last().map(String::as_str), Some("WHY"));
        for c in &members {
            for f in &c.figures {
                assert!(titles.contains(&f.label.to_uppercase()), "{}", f.label);
            }
        }
        for row in &data.table.rows {
            assert_eq!(
                row.cells.len(),
                titles.len(),
                "a missing figure is a blank cell"
            );
        }
    }

    #[test]
    fn an_unknown_kind_has_no_rows() {
        let data = list(&demo_fleet(), "nothing", now());
        assert!(data.table.rows.is_empty());
        assert!(data.ids.is_empty());
    }
}
