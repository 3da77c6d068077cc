//! Sidekiq, wide: the queues (with their latency) beside the processes; the trends of
//! latency, backlog and busy workers across the middle; the stats beside the remaining
//! tables (busy jobs, retries, coverage) below. A set the operator focuses (to page or
//! filter it) takes the top in their place: it is what they are reading.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use super::{ChartSpec, Panels};

const CHARTS: [ChartSpec; 3] = [
    ChartSpec {
        title: "queue latency",
        series: &[("queue_latency_s", "")],
        overlay: false,
    },
    ChartSpec {
        title: "enqueued",
        series: &[("enqueued", "")],
        overlay: false,
    },
    ChartSpec {
        title: "busy",
        series: &[("busy", "")],
        overlay: false,
    },
];

pub fn draw(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>) {
    let mut queues = p.table("Queues");
    let mut processes = p.table("Processes");
    let focused = (p.show_focus && p.focus < p.tables().len()).then_some(p.focus);
    if focused.is_some() && focused != queues && focused != processes {
        queues = focused;
        processes = None;
    }
    let placed: Vec<usize> = queues.into_iter().chain(processes).collect();
    let others = super::others(p, &placed);
    let charts = p.present(&CHARTS);
    let chart_height = if charts.is_empty() {
        0
    } else {
        (area.height / 4).clamp(7, 12)
    };
    let [top, middle, bottom] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(chart_height),
        Constraint::Fill(1),
    ])
    .areas(area);

    let [queues_area, processes_area] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(top);
    match (queues, processes) {
        (Some(q), Some(pr)) => {
            super::draw_table(frame, queues_area, p, q);
            super::draw_table(frame, processes_area, p, pr);
        }
        (Some(one), None) | (None, Some(one)) => super::draw_table(frame, top, p, one),
        (None, None) => {}
    }
    // The latency chart draws each queue's line: which queue is behind is the question.
    if let [latency, rest @ ..] = charts.as_slice()
        && latency.title == CHARTS[0].title
        && !middle.is_empty()
    {
        let areas = Layout::horizontal(vec![Constraint::Fill(1); charts.len()]).split(middle);
        super::draw_breakdown_chart(frame, areas[0], p, latency);
        for (spec, area) in rest.iter().zip(areas.iter().skip(1)) {
            super::draw_chart(frame, *area, p, spec);
        }
    } else {
        super::draw_chart_row(frame, middle, p, &charts);
    }

    let pairs = p.pairs();
    let [pairs_area, tables_area] = Layout::horizontal([
        Constraint::Fill(if pairs.is_empty() { 0 } else { 1 }),
        Constraint::Fill(if others.is_empty() { 0 } else { 3 }),
    ])
    .areas(bottom);
    super::draw_pairs_column(frame, pairs_area, p, &pairs);
    super::draw_tables(frame, tables_area, p, &others);
}
