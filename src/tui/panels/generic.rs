//! Every other kind, wide: the trends of its most telling figures across the top (the key
//! figure first, then those with a threshold), its key/value panels beside its tables below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::Panels;

/// At most this many charts share the top row.
const MAX_CHARTS: usize = 4;

/// The figures worth a chart: the key figure (the first the reading lists), then those the
/// reading judges against a threshold, then the rest, in the reading's order.
pub fn chosen<'a>(p: &Panels<'a>) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::new();
    let trends = p.trends;
    if !trends.is_empty() {
        order.push(0);
    }
    for (i, (f, _)) in trends.iter().enumerate() {
        if f.threshold.is_some() && !order.contains(&i) {
            order.push(i);
        }
    }
    for i in 0..trends.len() {
        if !order.contains(&i) {
            order.push(i);
        }
    }
    order.truncate(MAX_CHARTS);
    order
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>) {
    let charts = chosen(p);
    let chart_height = if charts.is_empty() {
        0
    } else {
        (area.height / 3).clamp(7, 14)
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(chart_height), Constraint::Fill(1)]).areas(area);
    if !charts.is_empty() {
        let areas = Layout::horizontal(vec![Constraint::Fill(1); charts.len()]).split(top);
        for (i, area) in charts.iter().zip(areas.iter()) {
            if let Some((figure, history)) = p.trends.get(*i) {
                let series = [super::chart::Series {
                    label: figure.label,
                    unit: figure.unit,
                    history,
                    token: crate::tui::theme::Token::Accent,
                }];
                super::chart::render(frame, *area, figure.label, &series, p.now, p.theme);
            }
        }
    }

    let pairs = p.pairs();
    let tables = super::others(p, &[]);
    let [pairs_area, tables_area] = Layout::horizontal([
        Constraint::Fill(if pairs.is_empty() { 0 } else { 1 }),
        Constraint::Fill(if tables.is_empty() { 0 } else { 2 }),
    ])
    .areas(bottom);
    super::draw_pairs_column(frame, pairs_area, p, &pairs);
    super::draw_tables(frame, tables_area, p, &tables);
}
