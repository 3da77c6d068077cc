//! The Sidekiq detail view: totals, then one table per thing an operator acts on. Row keys
//! name the exact object (queue name, process identity, `score-jid` of a set member) so a
//! later action chosen on a row hits exactly that object. Error messages and arguments
//! are never put on screen.

use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::figure::{format_duration_secs, format_value};
use crate::model::health::figure_level;
use crate::model::{Detail, Level, Unit};

use super::browse::PAGE;
use super::metrics::{ClassMetrics, JobMetrics};
use super::reading::{QUEUE_LATENCY, SetPage, SidekiqReading};

const UNREADABLE: &str = "unparseable";
/// Width of the history bars, in cells.
const BAR_WIDTH: usize = 20;

fn count(v: u64) -> String {
    format_value(v as f64, Unit::Count)
}

fn secs_cell(secs: f64) -> Cell {
    Cell::number(format_value(secs, Unit::Seconds), secs)
}

pub(super) fn detail(r: &SidekiqReading) -> Detail {
    let rate = |v: Option<f64>| v.map_or_else(|| "—".into(), |r| format_value(r, Unit::PerSecond));
    let mut stats = vec![
        ("version", r.version.clone().unwrap_or_else(|| "—".into())),
        ("processed", count(r.processed)),
        ("failed", count(r.failed)),
        ("processed rate", rate(r.processed_per_s)),
        ("failed rate", rate(r.failed_per_s)),
        ("enqueued", count(r.enqueued)),
        ("busy", count(r.busy)),
        ("scheduled", count(r.scheduled)),
        ("retries", count(r.retries)),
        ("dead", count(r.dead)),
        ("processes", count(r.processes)),
        (
            "default latency",
            format_value(r.default_queue_latency_s, Unit::Seconds),
        ),
        ("layout", r.layout.clone()),
    ];
    if let Some(ns) = &r.namespace {
        stats.push(("namespace", ns.clone()));
    }
    let mut detail = Detail::default()
        .pairs("Stats", stats)
        .table("Queues", queues(r))
        .table("Processes", processes(r))
        .table("Queue coverage", super::coverage::table(r));
    if !r.busy_jobs.is_empty() || r.retry_set.is_some() || r.busy_view.is_some() {
        detail = detail.table(&busy_title(r), busy(r));
    }
    for (title, page, when) in [
        ("Retries", &r.retry_set, "next try"),
        ("Scheduled", &r.scheduled_set, "runs"),
        ("Dead", &r.dead_set, "died"),
    ] {
        if let Some(page) = page {
            detail = detail.table(&set_title(title, page), set_table(page, when, r.read_at));
        }
    }
    if !r.classes.is_empty() {
        detail = detail.table("Classes (sampled)", classes(r));
    }
    if !r.history.is_empty() {
        detail = detail.table("History (UTC days)", history(r));
    }
    if let Some(m) = &r.job_metrics {
        detail = job_metrics(detail, m);
    }
    detail
}

/// `Busy`, or which page of them is shown: `Busy (page 2 of 4 · 51–100 of 180)`.
fn busy_title(r: &SidekiqReading) -> String {
    match &r.busy_view {
        None if (r.busy_jobs.len() as u64) < r.busy => {
            format!("Busy (first {} of {})", r.busy_jobs.len(), count(r.busy))
        }
        None => "Busy".to_string(),
        Some(v) => {
            let pages = (v.total as usize).div_ceil(PAGE).max(1);
            let first = v.page * PAGE;
            format!(
                "Busy (page {} of {pages} · {} of {})",
                v.page + 1,
                span(first, r.busy_jobs.len()),
                count(v.total)
            )
        }
    }
}

/// `51–100`, or `none` for an empty page.
fn span(first: usize, shown: usize) -> String {
    if shown == 0 {
        "none".to_string()
    } else {
        format!(
            "{}–{}",
            count(first as u64 + 1),
            count((first + shown) as u64)
        )
    }
}

/// The set table's title. It starts with the set's word (`Retries`), which names the set
/// for actions and reveals, then says which part of the set is on screen.
fn set_title(title: &str, page: &SetPage) -> String {
    let shown = page.entries.len();
    let Some(view) = &page.view else {
        return format!("{title} (first {shown} of {})", page.total);
    };
    match &view.class {
        None => {
            let pages = (page.total as usize).div_ceil(PAGE).max(1);
            format!(
                "{title} (page {} of {pages} · {} of {})",
                view.page + 1,
                span(view.from as usize, shown),
                count(page.total)
            )
        }
        Some(class) => {
            let class = crate::sanitize::sanitize(class);
            let scanned = view.next.min(page.total);
            if view.scan_cut_short(shown, page.total) {
                format!(
                    "{title} (class ~ {class} · page {} · {shown} found · scanned {} of {}: n for more)",
                    view.page + 1,
                    count(scanned),
                    count(page.total)
                )
            } else {
                format!(
                    "{title} (class ~ {class} · page {} · {shown} found · scanned {} of {})",
                    view.page + 1,
                    count(scanned),
                    count(page.total)
                )
            }
        }
    }
}

fn queues(r: &SidekiqReading) -> TableData {
    TableData {
        columns: vec![
            Column::text("queue", 12),
            Column::number("size", 9),
            Column::number("latency", 10),
            Column::number("share", 7).optional(1),
        ],
        rows: r
            .queues
            .iter()
            .map(|q| {
                let share = if r.enqueued > 0 {
                    q.size as f64 * 100.0 / r.enqueued as f64
                } else {
                    0.0
                };
                Row {
                    key: Some(q.name.clone()),
                    cells: vec![
                        Cell::text(q.name.clone()),
                        Cell::number(count(q.size), q.size as f64),
                        if q.unreadable {
                            Cell::number(UNREADABLE, f64::NAN)
                        } else {
                            secs_cell(q.latency_s)
                        },
                        Cell::number(format_value(share, Unit::Percent), share),
                    ],
                    level: Some(if q.unreadable {
                        Level::Unknown
                    } else {
                        figure_level(q.latency_s, &QUEUE_LATENCY)
                    }),
                }
            })
            .collect(),
    }
}

fn processes(r: &SidekiqReading) -> TableData {
    TableData {
        columns: vec![
            Column::text("host", 14),
            Column::number("pid", 7),
            Column::text("tag", 10).optional(3),
            Column::number("busy", 9),
            Column::text("queues", 30),
            Column::number("RSS", 9).optional(2),
            Column::number("RTT", 7).optional(4),
            Column::text("version", 7).optional(5),
            Column::number("beat", 6),
            Column::text("state", 7),
        ],
        rows: r
            .process_list
            .iter()
            .map(|p| {
                let queues = if p.weights.is_empty() {
                    p.queues.join(",")
                } else {
                    p.weights
                        .iter()
                        .map(|(q, w)| format!("{q}:{w}"))
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let state = if p.info_missing {
                    "gone"
                } else if p.stale {
                    "stale"
                } else if p.quiet {
                    "quiet"
                } else {
                    "running"
                };
                Row {
                    key: Some(p.identity.clone()),
                    cells: vec![
                        Cell::text(p.hostname.clone()),
                        Cell::number(p.pid.to_string(), f64::from(p.pid)),
                        Cell::text(p.tag.clone()),
                        Cell::number(format!("{}/{}", p.busy, p.concurrency), f64::from(p.busy)),
                        Cell::text(queues),
                        Cell::number(
                            format_value(p.rss_kb as f64 * 1024.0, Unit::Bytes),
                            p.rss_kb as f64,
                        ),
                        p.rtt_us.map_or_else(
                            || Cell::text("—"),
                            |us| {
                                Cell::number(
                                    format_value(us as f64 / 1000.0, Unit::Millis),
                                    us as f64,
                                )
                            },
                        ),
                        Cell::text(p.version.clone().unwrap_or_else(|| "—".into())),
                        secs_cell(p.beat_age_s),
                        Cell::text(state),
                    ],
                    level: Some(if p.stale { Level::Warn } else { Level::Ok }),
                }
            })
            .collect(),
    }
}

fn busy(r: &SidekiqReading) -> TableData {
    TableData {
        columns: vec![
            Column::text("class", 30),
            Column::text("queue", 10),
            Column::number("running", 9),
            Column::text("process", 26).optional(1),
            Column::text("jid", 24).optional(2),
        ],
        rows: r
            .busy_jobs
            .iter()
            .map(|j| Row {
                key: Some(format!("{}/{}", j.process, j.thread)),
                cells: vec![
                    Cell::text(if j.unreadable {
                        UNREADABLE.to_string()
                    } else {
                        j.class.clone()
                    }),
                    Cell::text(j.queue.clone()),
                    j.running_s.map_or_else(|| Cell::text("—"), secs_cell),
                    Cell::text(j.process.clone()),
                    Cell::text(j.jid.clone()),
                ],
                level: j.unreadable.then_some(Level::Unknown),
            })
            .collect(),
    }
}

/// `in 3m 12s` for the future, `4m 01s ago` for the past.
fn relative(at: f64, now: f64) -> String {
    let d = at - now;
    if d >= 0.0 {
        format!("in {}", format_duration_secs(d))
    } else {
        format!("{} ago", format_duration_secs(-d))
    }
}

fn set_table(page: &SetPage, when: &str, now: f64) -> TableData {
    TableData {
        columns: vec![
            Column::text(when, 12),
            Column::text("class", 30),
            Column::text("queue", 10),
            Column::text("error", 20),
            Column::number("retries", 7).optional(1),
            Column::text("jid", 24).optional(2),
        ],
        rows: page
            .entries
            .iter()
            .map(|e| Row {
                key: Some(e.key()),
                cells: vec![
                    Cell::number(relative(e.score, now), e.score),
                    Cell::text(if e.unreadable {
                        UNREADABLE.to_string()
                    } else {
                        e.class.clone()
                    }),
                    Cell::text(e.queue.clone()),
                    Cell::text(e.error_class.clone().unwrap_or_default()),
                    e.retry_count
                        .map_or_else(|| Cell::text(""), |c| Cell::number(c.to_string(), c as f64)),
                    Cell::text(e.jid.clone()),
                ],
                level: e.unreadable.then_some(Level::Unknown),
            })
            .collect(),
    }
}

fn classes(r: &SidekiqReading) -> TableData {
    TableData {
        columns: vec![
            Column::text("queue", 12),
            Column::text("class", 34),
            Column::number("in sample", 9),
            Column::number("share", 7),
        ],
        rows: r
            .classes
            .iter()
            .map(|c| {
                let share = if c.sampled > 0 {
                    c.count as f64 * 100.0 / c.sampled as f64
                } else {
                    0.0
                };
                Row {
                    key: Some(format!("{}/{}", c.queue, c.class)),
                    cells: vec![
                        Cell::text(c.queue.clone()),
                        Cell::text(c.class.clone()),
                        Cell::number(format!("{}/{}", c.count, c.sampled), c.count as f64),
                        Cell::number(format_value(share, Unit::Percent), share),
                    ],
                    level: None,
                }
            })
            .collect(),
    }
}

/// Classes shown in each job metrics table.
const METRICS_ROWS: usize = 20;

/// The job metrics: what was read and from which layout, the top classes by time, the top
/// classes by failures.
fn job_metrics(detail: Detail, m: &JobMetrics) -> Detail {
    let window = format!("last {} min", m.window_minutes);
    let mut pairs = vec![
        (
            "layout",
            m.layout.map_or_else(
                || "none found".to_string(),
                |l| format!("Sidekiq {}", l.word()),
            ),
        ),
        ("window", window.clone()),
        ("classes", count(m.classes.len() as u64)),
        (
            "cost",
            format!("{} round trips · {} commands", m.round_trips, m.commands),
        ),
    ];
    if let Some(why) = &m.absent {
        pairs.push(("note", why.clone()));
    }
    if m.classes_without_histogram > 0 {
        pairs.push((
            "no percentiles",
            format!(
                "{} classes beyond the first {}",
                m.classes_without_histogram,
                super::metrics::MAX_CLASSES
            ),
        ));
    }
    let mut detail = detail.pairs("Job metrics", pairs);
    if m.classes.is_empty() {
        return detail;
    }
    detail = detail.table(
        &format!("Job time ({window})"),
        metrics_table(&m.top_by_time(METRICS_ROWS)),
    );
    let failing = m.top_by_failures(METRICS_ROWS);
    if !failing.is_empty() {
        detail = detail.table(&format!("Job failures ({window})"), metrics_table(&failing));
    }
    detail
}

fn metrics_table(rows: &[&ClassMetrics]) -> TableData {
    let opt = |v: &Option<String>| Cell::text(v.clone().unwrap_or_else(|| "—".into()));
    TableData {
        columns: vec![
            Column::text("class", 30),
            Column::number("processed", 9),
            Column::number("failed", 7),
            Column::number("total", 9),
            Column::number("mean", 8),
            Column::text("p50", 9).optional(2),
            Column::text("p95", 9).optional(1),
        ],
        rows: rows
            .iter()
            .map(|c| Row {
                key: Some(c.class.clone()),
                cells: vec![
                    Cell::text(c.class.clone()),
                    Cell::number(count(c.processed), c.processed as f64),
                    Cell::number(count(c.failed), c.failed as f64),
                    secs_cell(c.total_ms as f64 / 1000.0),
                    c.mean_ms.map_or_else(
                        || Cell::text("—"),
                        |ms| Cell::number(format_value(ms, Unit::Millis), ms),
                    ),
                    opt(&c.p50),
                    opt(&c.p95),
                ],
                level: Some(if c.failed > 0 { Level::Warn } else { Level::Ok }),
            })
            .collect(),
    }
}

fn history(r: &SidekiqReading) -> TableData {
    let max = r.history.iter().map(|d| d.processed).max().unwrap_or(0);
    let bar = |v: u64| {
        if max == 0 {
            String::new()
        } else {
            let n = ((v as f64 / max as f64) * BAR_WIDTH as f64).round() as usize;
            "█".repeat(n.min(BAR_WIDTH))
        }
    };
    TableData {
        columns: vec![
            Column::text("day", 10),
            Column::number("processed", 10),
            Column::number("failed", 9),
            Column::text("processed", BAR_WIDTH as u16).optional(1),
        ],
        rows: r
            .history
            .iter()
            .rev()
            .map(|d| Row {
                key: Some(d.date.clone()),
                cells: vec![
                    Cell::text(d.date.clone()),
                    Cell::number(count(d.processed), d.processed as f64),
                    Cell::number(count(d.failed), d.failed as f64),
                    Cell::text(bar(d.processed)),
                ],
                level: None,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::detail::SectionBody;
    use crate::sources::sidekiq::jobs::{Private, SetEntry};

    #[test]
    fn set_rows_are_keyed_by_score_and_jid_and_hide_private_data() {
        let r = SidekiqReading {
            read_at: 1000.0,
            retry_set: Some(SetPage {
                total: 2,
                entries: vec![
                    SetEntry {
                        score_text: "1060.25".into(),
                        score: 1060.25,
                        jid: "j1".into(),
                        class: "FlakyJob".into(),
                        error_class: Some("ArgumentError".into()),
                        member: Private::new(br#"{"error_message":"boom with a private toot"}"#),
                        ..SetEntry::default()
                    },
                    SetEntry {
                        score_text: "1070".into(),
                        score: 1070.0,
                        unreadable: true,
                        ..SetEntry::default()
                    },
                ],
                view: None,
            }),
            ..SidekiqReading::default()
        };
        let d = detail(&r);
        let table = d
            .sections
            .iter()
            .find_map(|s| match &s.body {
                SectionBody::Table(t) if s.title.starts_with("Retries") => Some(t),
                _ => None,
            })
            .expect("a retries table");
        assert_eq!(table.rows[0].key.as_deref(), Some("1060.25-j1"));
        assert_eq!(table.rows[0].cells[0].text, "in 1m 00s");
        assert_eq!(table.rows[1].cells[1].text, UNREADABLE);
        assert!(!format!("{d:?}").contains("private toot"));
    }
}
