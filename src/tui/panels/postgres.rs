//! Postgres, wide: what is running and who blocks whom side by side on top; the trends of
//! throughput, connections, replication and the longest transaction across the middle; the
//! server and throughput panels beside the remaining tables below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::{ChartSpec, Panels};

const CHARTS: [ChartSpec; 4] = [
    ChartSpec {
        title: "transactions",
        series: &[("xact_per_sec", "")],
        overlay: false,
    },
    ChartSpec {
        title: "connections used",
        series: &[("connections_used_pct", "")],
        overlay: false,
    },
    ChartSpec {
        title: "replication lag",
        series: &[("replication_lag_s", ""), ("standby_lag_s", "")],
        overlay: false,
    },
    ChartSpec {
        title: "longest transaction",
        series: &[("longest_xact_s", "")],
        overlay: false,
    },
];

pub fn draw(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>) {
    let charts = p.present(&CHARTS);
    let chart_height = if charts.is_empty() {
        0
    } else {
        (area.height / 4).clamp(7, 12)
    };
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Fill(2),
        Constraint::Length(chart_height),
        Constraint::Fill(3),
    ])
    .areas(area);

    let activity = p.table("activity");
    let blocking = p.table("blocking");
    let placed: Vec<usize> = activity.into_iter().chain(blocking).collect();
    let [left, right] = Layout::horizontal([Constraint::Fill(3), Constraint::Fill(2)]).areas(top);
    match (activity, blocking) {
        (Some(a), Some(b)) => {
            super::draw_table(frame, left, p, a);
            super::draw_table(frame, right, p, b);
        }
        (Some(one), None) | (None, Some(one)) => super::draw_table(frame, top, p, one),
        (None, None) => {}
    }
    super::draw_chart_row(frame, middle, p, &charts);

    let pairs = p.pairs();
    let server: Vec<_> = pairs
        .iter()
        .filter(|(t, _)| *t == "server")
        .copied()
        .collect();
    let rest_pairs: Vec<_> = pairs
        .iter()
        .filter(|(t, _)| *t != "server")
        .copied()
        .collect();
    let others = super::others(p, &placed);
    let [server_area, throughput_area, tables_area] = Layout::horizontal([
        Constraint::Fill(if server.is_empty() { 0 } else { 1 }),
        Constraint::Fill(if rest_pairs.is_empty() { 0 } else { 1 }),
        Constraint::Fill(if others.is_empty() { 0 } else { 2 }),
    ])
    .areas(bottom);
    super::draw_pairs_column(frame, server_area, p, &server);
    super::draw_pairs_column(frame, throughput_area, p, &rest_pairs);
    super::draw_tables(frame, tables_area, p, &others);
}
