//! A detail view's tables, in section order: what the keys select, page and sort.

use crate::model::Detail;
use crate::model::detail::{SectionBody, TableData};

/// The titles of the detail's tables, in the same order as [`tables`].
pub fn table_titles(detail: &Detail) -> Vec<&str> {
    detail
        .sections
        .iter()
        .filter(|s| matches!(s.body, SectionBody::Table(_)))
        .map(|s| s.title.as_str())
        .collect()
}

/// The detail's tables in section order; index `i` matches `DetailState::tables[i]`.
pub fn tables(detail: &Detail) -> impl Iterator<Item = &TableData> {
    detail.sections.iter().filter_map(|s| match &s.body {
        SectionBody::Table(t) => Some(t),
        SectionBody::Pairs(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::detail::Section;

    #[test]
    fn tables_and_their_titles_line_up_without_the_pairs() {
        let table = |n: usize| TableData {
            columns: Vec::new(),
            rows: vec![
                crate::model::detail::Row {
                    key: None,
                    cells: Vec::new(),
                    level: None
                };
                n
            ],
        };
        let detail = Detail {
            sections: vec![
                Section {
                    title: "Server".into(),
                    body: SectionBody::Pairs(vec![("version".into(), "16".into())]),
                },
                Section {
                    title: "Activity".into(),
                    body: SectionBody::Table(table(2)),
                },
                Section {
                    title: "Locks".into(),
                    body: SectionBody::Table(table(5)),
                },
            ],
        };
        assert_eq!(table_titles(&detail), ["Activity", "Locks"]);
        let sizes: Vec<_> = tables(&detail).map(|t| t.rows.len()).collect();
        assert_eq!(sizes, [2, 5]);
    }
}
