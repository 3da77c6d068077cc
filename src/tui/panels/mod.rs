//! Detail views for wide terminals: several tables, key/value panels and charts at once,
//! arranged per kind for the questions asked during an incident. Each layout draws from a
//! [`Panels`] (the component's detail, its trends, the table views and which has focus),
//! never from the whole application state.

pub mod chart;
pub mod generic;
pub mod host;
pub mod kv;
pub mod postgres;
pub mod sidekiq;

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use crate::model::detail::{SectionBody, TableData};
use crate::model::history::History;
use crate::model::{Detail, Figure};
use crate::tui::table::TableView;
use crate::tui::theme::{Theme, Token};
use crate::tui::widgets::data_table::{self, TableFrame};
use chart::Series;

/// The narrowest terminal that gets the multi-panel layout; narrower ones keep the
/// focused table and its strip of names.
pub const MIN_WIDTH: u16 = 120;

/// Everything a wide detail layout draws from.
pub struct Panels<'a> {
    pub kind: &'a str,
    pub detail: &'a Detail,
    /// One view per table section, in section order.
    pub views: &'a [TableView],
    /// The index of the table the keys act on.
    pub focus: usize,
    /// False while an overlay has the keys, so no table looks focused.
    pub show_focus: bool,
    /// The component's figures with their history.
    pub trends: &'a [(&'a Figure, &'a History)],
    /// The component, for histories beyond its figures (a figure's breakdown per queue).
    pub component: &'a crate::model::ComponentState,
    pub now: SystemTime,
    pub theme: &'a Theme,
    /// The key that moves focus to the next table, for the strip's hint.
    pub next_key: Option<String>,
}

/// A chart on a layout: a title and the figures drawn on it.
pub struct ChartSpec {
    pub title: &'static str,
    /// Figure keys with the short name the title gives each. Overlaid, they share a unit
    /// and are all drawn; otherwise they are alternatives and the first reported is drawn.
    pub series: &'static [(&'static str, &'static str)],
    pub overlay: bool,
}

/// Each table needs its borders, a header and a few rows to be worth showing.
const MIN_TABLE_HEIGHT: u16 = 6;

/// Draws the layout for the component's kind into `area`.
pub fn draw(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>) {
    if p.detail.sections.is_empty() {
        frame.render_widget(
            Line::from(Span::styled(" no data yet", p.theme.style(Token::Muted))),
            area,
        );
        return;
    }
    match p.kind {
        "postgres" => postgres::draw(frame, area, p),
        "sidekiq" => sidekiq::draw(frame, area, p),
        "host" => host::draw(frame, area, p),
        _ => generic::draw(frame, area, p),
    }
}

impl<'a> Panels<'a> {
    /// The detail's tables, in section order (the order of `views`).
    pub fn tables(&self) -> Vec<(&'a str, &'a TableData)> {
        self.detail
            .sections
            .iter()
            .filter_map(|s| match &s.body {
                SectionBody::Table(t) => Some((s.title.as_str(), t)),
                SectionBody::Pairs(_) => None,
            })
            .collect()
    }

    /// The index of the first table whose title starts with `prefix`.
    pub fn table(&self, prefix: &str) -> Option<usize> {
        self.tables()
            .iter()
            .position(|(t, _)| t.starts_with(prefix))
    }

    /// The key/value sections, in order.
    pub fn pairs(&self) -> Vec<(&'a str, &'a [(String, String)])> {
        self.detail
            .sections
            .iter()
            .filter_map(|s| match &s.body {
                SectionBody::Pairs(p) => Some((s.title.as_str(), p.as_slice())),
                SectionBody::Table(_) => None,
            })
            .collect()
    }

    pub fn trend(&self, key: &str) -> Option<(&'a Figure, &'a History)> {
        self.trends.iter().find(|(f, _)| f.key == key).copied()
    }

    /// The charts of `specs` whose figures this component reports.
    pub fn present<'s>(&self, specs: &'s [ChartSpec]) -> Vec<&'s ChartSpec> {
        specs
            .iter()
            .filter(|s| s.series.iter().any(|(k, _)| self.trend(k).is_some()))
            .collect()
    }
}

const SERIES_TOKENS: [Token; 3] = [Token::Accent, Token::Ok, Token::Warn];

/// One chart of figures from the component's trends.
pub fn draw_chart(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>, spec: &ChartSpec) {
    let take = if spec.overlay { SERIES_TOKENS.len() } else { 1 };
    let series: Vec<Series<'_>> = spec
        .series
        .iter()
        .filter_map(|(k, short)| Some((p.trend(k)?, *short)))
        .take(take)
        .zip(SERIES_TOKENS)
        .map(|(((figure, history), short), token)| Series {
            label: short,
            unit: figure.unit,
            history,
            token,
        })
        .collect();
    if series.is_empty() {
        chart::missing(frame, area, spec.title, "not reported", p.theme);
        return;
    }
    chart::render(frame, area, spec.title, &series, p.now, p.theme);
}

/// One line per name of a figure's breakdown (each queue's latency), the names with the
/// highest latest value first; the figure's own trend where the reading breaks it down by
/// nothing.
pub fn draw_breakdown_chart(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>, spec: &ChartSpec) {
    let Some(&(key, _)) = spec.series.first() else {
        return;
    };
    let Some((figure, _)) = p.trend(key) else {
        chart::missing(frame, area, spec.title, "not reported", p.theme);
        return;
    };
    let mut named = p.component.breakdown(key);
    if named.is_empty() {
        draw_chart(frame, area, p, spec);
        return;
    }
    let latest = |h: &History| h.latest().map_or(f64::NEG_INFINITY, |pt| pt.value);
    named.sort_by(|a, b| latest(b.1).total_cmp(&latest(a.1)).then(a.0.cmp(b.0)));
    let labels: Vec<String> = named
        .iter()
        .take(SERIES_TOKENS.len())
        .map(|(name, _)| crate::sanitize::sanitize(name).chars().take(12).collect())
        .collect();
    let series: Vec<Series<'_>> = named
        .iter()
        .zip(&labels)
        .zip(SERIES_TOKENS)
        .map(|(((_, history), label), token)| Series {
            label,
            unit: figure.unit,
            history,
            token,
        })
        .collect();
    // The names in the title say it is per queue; the title itself stays short for them.
    chart::render(frame, area, "latency", &series, p.now, p.theme);
}

/// Charts side by side across `area`.
pub fn draw_chart_row(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>, specs: &[&ChartSpec]) {
    if specs.is_empty() {
        return;
    }
    let areas = Layout::horizontal(vec![Constraint::Fill(1); specs.len()]).split(area);
    for (spec, area) in specs.iter().zip(areas.iter()) {
        draw_chart(frame, *area, p, spec);
    }
}

/// Charts stacked down `area`.
pub fn draw_chart_column(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>, specs: &[&ChartSpec]) {
    if specs.is_empty() {
        return;
    }
    let areas = Layout::vertical(vec![Constraint::Fill(1); specs.len()]).split(area);
    for (spec, area) in specs.iter().zip(areas.iter()) {
        draw_chart(frame, *area, p, spec);
    }
}

/// Table `i`, marked when it has the keys.
pub fn draw_table(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>, i: usize) {
    let tables = p.tables();
    let Some((title, data)) = tables.get(i) else {
        return;
    };
    let focused = i == p.focus && p.show_focus;
    let fallback;
    let view = match p.views.get(i) {
        Some(view) => view,
        None => {
            let mut v = TableView::default();
            v.refresh(data);
            fallback = v;
            &fallback
        }
    };
    let spec = TableFrame {
        title: if focused && tables.len() > 1 {
            format!("▶ {title}")
        } else {
            (*title).to_string()
        },
        data,
        view,
        focused,
        empty: "nothing here",
    };
    data_table::render(frame, area, &spec, p.theme);
}

/// The tables `indices` in `area`: stacked when each gets a useful height (the focused one
/// the most), otherwise a strip of their names over one of them: the focused one when it
/// is among them, else the first.
pub fn draw_tables(frame: &mut Frame<'_>, area: Rect, p: &Panels<'_>, indices: &[usize]) {
    let Some(&first) = indices.first() else {
        return;
    };
    if area.height / (indices.len() as u16) >= MIN_TABLE_HEIGHT {
        let weights: Vec<Constraint> = indices
            .iter()
            .map(|i| Constraint::Fill(if *i == p.focus { 3 } else { 1 }))
            .collect();
        let areas = Layout::vertical(weights).split(area);
        for (i, area) in indices.iter().zip(areas.iter()) {
            draw_table(frame, *area, p, *i);
        }
        return;
    }
    let shown = if indices.contains(&p.focus) {
        p.focus
    } else {
        first
    };
    let [strip, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(area);
    let theme = p.theme;
    let tables = p.tables();
    let mut spans = vec![Span::styled(" tables: ", theme.style(Token::Muted))];
    for i in indices {
        let Some((title, data)) = tables.get(*i) else {
            continue;
        };
        let style = if *i == shown {
            theme.style(Token::Selection)
        } else {
            theme.style(Token::Text)
        };
        spans.push(crate::tui::widgets::safe_owned(
            format!(" {title} ({}) ", data.rows.len()),
            style,
        ));
    }
    if let Some(key) = &p.next_key {
        spans.push(Span::styled(
            format!("  {key} next"),
            theme.style(Token::Muted),
        ));
    }
    frame.render_widget(Line::from(spans), strip);
    draw_table(frame, rest, p, shown);
}

/// Key/value panels stacked down `area`, each as tall as its wrapped lines where there is
/// room, the last taking what is left.
pub fn draw_pairs_column(
    frame: &mut Frame<'_>,
    area: Rect,
    p: &Panels<'_>,
    sections: &[(&str, &[(String, String)])],
) {
    if sections.is_empty() {
        return;
    }
    let inner_width = area.width.saturating_sub(2);
    let constraints: Vec<Constraint> = sections
        .iter()
        .enumerate()
        .map(|(n, (_, pairs))| {
            if n + 1 == sections.len() {
                Constraint::Min(3)
            } else {
                let lines = kv::lines(pairs, inner_width, p.theme).len() as u16;
                Constraint::Max(lines + 2)
            }
        })
        .collect();
    let areas = Layout::vertical(constraints).split(area);
    for ((title, pairs), area) in sections.iter().zip(areas.iter()) {
        kv::render(frame, *area, title, pairs, p.theme);
    }
}

/// The indices of every table not in `placed`.
pub fn others(p: &Panels<'_>, placed: &[usize]) -> Vec<usize> {
    (0..p.tables().len())
        .filter(|i| !placed.contains(i))
        .collect()
}
