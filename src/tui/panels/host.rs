//! Hosts, wide: CPU, load, memory, disk and network trends across the top, in their units;
//! the system panel beside the filesystem, disk, network and unit tables below.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::{ChartSpec, Panels};

const CHARTS: [ChartSpec; 5] = [
    ChartSpec {
        title: "CPU busy",
        series: &[("cpu_busy_pct", "")],
        overlay: false,
    },
    ChartSpec {
        title: "load per CPU",
        series: &[("load_per_cpu", "")],
        overlay: false,
    },
    ChartSpec {
        title: "memory",
        series: &[("memory_used_pct", "used"), ("swap_used_pct", "swap")],
        overlay: true,
    },
    ChartSpec {
        title: "disk busy",
        series: &[("disk_util_pct", "")],
        overlay: false,
    },
    ChartSpec {
        title: "network",
        series: &[("net_rx_bytes_per_s", "in"), ("net_tx_bytes_per_s", "out")],
        overlay: true,
    },
];

pub fn draw(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>) {
    let charts = p.present(&CHARTS);
    let chart_height = if charts.is_empty() {
        0
    } else {
        (area.height / 3).clamp(7, 16)
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Length(chart_height), Constraint::Fill(1)]).areas(area);
    super::draw_chart_row(frame, top, p, &charts);

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
