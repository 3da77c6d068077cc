//! The alerts view's rows, built from the fleet without drawing anything: firing alerts
//! under the Alertmanager group that holds them, silenced and inhibited ones apart, and the
//! silences themselves. Text is kept as received and sanitised when drawn.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use crate::model::alerts::{Alert, AlertSet, Labels, SilenceState};
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::figure::format_duration_secs;
use crate::model::{ComponentId, Fleet, Level, SourceState};

/// One alert of one Alertmanager.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRef {
    pub source: ComponentId,
    pub index: usize,
}

/// One silence of one Alertmanager.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceRef {
    pub source: ComponentId,
    pub index: usize,
}

#[derive(Clone, Debug, Default)]
pub struct AlertRows {
    /// Group headings and firing alerts; a heading's ref is `None`.
    pub firing: TableData,
    pub firing_refs: Vec<Option<AlertRef>>,
    pub suppressed: TableData,
    pub suppressed_refs: Vec<AlertRef>,
    pub silences: TableData,
    pub silence_refs: Vec<SilenceRef>,
    /// Alertmanagers whose alerts are not shown, and why (down, denied, not polled yet).
    pub unseen: Vec<String>,
    /// How many Alertmanagers are configured.
    pub sources: usize,
    pub firing_count: usize,
    /// Group headings among the firing rows.
    pub firing_groups: usize,
}

/// The level a severity label reads as on screen, whatever health makes of it.
pub fn severity_level(severity: &str) -> Option<Level> {
    match severity.to_ascii_lowercase().as_str() {
        "critical" | "page" | "error" | "high" => Some(Level::Crit),
        "warning" | "warn" | "medium" => Some(Level::Warn),
        _ => None,
    }
}

/// `2m 05s` since `t`, or `—`.
fn since(t: Option<SystemTime>, now: SystemTime) -> (String, Option<f64>) {
    match t {
        Some(t) => {
            let secs = now.duration_since(t).unwrap_or_default().as_secs() as f64;
            (format_duration_secs(secs), Some(secs))
        }
        None => ("—".into(), None),
    }
}

/// `k=v k2=v2`, without the labels already in their own columns.
pub fn label_text(labels: &Labels) -> String {
    labels
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "alertname" | "severity"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A firing alert's row, grouped or not; an alert without a severity label says so.
fn firing_row(a: &Alert, tied: Option<&Vec<ComponentId>>, now: SystemTime) -> Row {
    let (since_text, since_secs) = since(a.starts_at, now);
    let severity = if a.severity().is_empty() {
        "—"
    } else {
        a.severity()
    };
    Row {
        key: Some(a.fingerprint.clone()),
        cells: vec![
            Cell::text(severity),
            Cell {
                text: since_text,
                sort: since_secs,
            },
            Cell::text(a.name()),
            Cell::text(on_text(a, tied)),
            Cell::text(a.summary()),
            Cell::text(label_text(&a.labels)),
        ],
        level: Some(severity_level(a.severity()).unwrap_or(Level::Unknown)),
    }
}

fn on_text(alert: &Alert, tied: Option<&Vec<ComponentId>>) -> String {
    match tied {
        Some(ids) if !ids.is_empty() => ids
            .iter()
            .map(ComponentId::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        _ => alert
            .labels
            .get("instance")
            .or_else(|| alert.labels.get("job"))
            .cloned()
            .unwrap_or_default(),
    }
}

fn firing_columns() -> Vec<Column> {
    vec![
        Column::text("SEVERITY", 10),
        Column::number("SINCE", 8),
        Column::text("ALERT", 26),
        Column::text("ON", 22),
        Column::text("SUMMARY", 34),
        Column::text("LABELS", 30).optional(1),
    ]
}

fn suppressed_columns() -> Vec<Column> {
    vec![
        Column::text("STATE", 10),
        Column::number("SINCE", 8),
        Column::text("ALERT", 26),
        Column::text("ON", 22),
        Column::text("BY", 18).optional(2),
        Column::text("SUMMARY", 30),
    ]
}

fn silence_columns() -> Vec<Column> {
    vec![
        Column::text("STATE", 8),
        Column::number("LEFT", 8),
        Column::number("SILENCING", 9),
        Column::text("BY", 14),
        Column::text("MATCHERS", 36),
        Column::text("COMMENT", 24).optional(1),
        Column::text("ID", 36).optional(2),
    ]
}

pub fn build(fleet: &Fleet, now: SystemTime) -> AlertRows {
    let mut rows = AlertRows {
        firing: TableData {
            columns: firing_columns(),
            rows: Vec::new(),
        },
        suppressed: TableData {
            columns: suppressed_columns(),
            rows: Vec::new(),
        },
        silences: TableData {
            columns: silence_columns(),
            rows: Vec::new(),
        },
        ..AlertRows::default()
    };
    let tied: HashMap<(&ComponentId, usize), &Vec<ComponentId>> = fleet
        .alerts()
        .map(|(_, t)| ((&t.source, t.index), &t.components))
        .collect();
    for c in fleet.components() {
        if c.meta.kind != crate::sources::alertmanager::KIND {
            continue;
        }
        rows.sources += 1;
        let state = c.status.effective_state(now);
        let set = c.reading.as_ref().and_then(|r| r.alerts());
        match (state, set) {
            (SourceState::Ok | SourceState::Stale, Some(set)) => {
                if state == SourceState::Stale {
                    rows.unseen
                        .push(format!("{}: data is stale, shown as last read", c.meta.id));
                }
                add_set(&mut rows, &c.meta.id, set, &tied, now);
            }
            (other, _) => rows.unseen.push(format!(
                "{}: {}{}",
                c.meta.id,
                other.word(),
                c.status
                    .error
                    .as_deref()
                    .map_or_else(String::new, |e| format!(" ({e})"))
            )),
        }
    }
    rows
}

fn add_set(
    rows: &mut AlertRows,
    source: &ComponentId,
    set: &AlertSet,
    tied: &HashMap<(&ComponentId, usize), &Vec<ComponentId>>,
    now: SystemTime,
) {
    let several = rows.sources > 1;
    // An alert routed to two receivers is in two groups: it is listed under the first.
    let mut listed: HashSet<usize> = HashSet::new();
    for group in &set.groups {
        let firing: Vec<usize> = group
            .alerts
            .iter()
            .copied()
            .filter(|&i| {
                set.alerts
                    .get(i)
                    .is_some_and(|a| a.state != crate::model::alerts::AlertState::Suppressed)
            })
            .filter(|i| !listed.contains(i))
            .collect();
        if firing.is_empty() {
            continue;
        }
        let heading = if group.labels.is_empty() {
            "(ungrouped)".to_string()
        } else {
            group
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let from = if several {
            format!(" · {source}")
        } else {
            String::new()
        };
        rows.firing.rows.push(Row {
            key: None,
            cells: vec![
                Cell::text("▾ group"),
                Cell::text(""),
                Cell::text(heading),
                Cell::text(format!("→ {}{from}", group.receiver)),
                Cell::text(format!("{} firing", firing.len())),
                Cell::text(""),
            ],
            level: None,
        });
        rows.firing_refs.push(None);
        rows.firing_groups += 1;
        for i in firing {
            listed.insert(i);
            let a = &set.alerts[i];
            rows.firing_count += 1;
            rows.firing
                .rows
                .push(firing_row(a, tied.get(&(source, i)).copied(), now));
            rows.firing_refs.push(Some(AlertRef {
                source: source.clone(),
                index: i,
            }));
        }
    }
    // Firing alerts in no group (an answer cut short) are still listed.
    for (i, a) in set.alerts.iter().enumerate() {
        if a.state == crate::model::alerts::AlertState::Suppressed {
            let (since_text, since_secs) = since(a.starts_at, now);
            let (word, by) = if a.is_silenced() {
                ("silenced", a.silenced_by.join(", "))
            } else {
                ("inhibited", a.inhibited_by.join(", "))
            };
            rows.suppressed.rows.push(Row {
                key: Some(a.fingerprint.clone()),
                cells: vec![
                    Cell::text(word),
                    Cell {
                        text: since_text,
                        sort: since_secs,
                    },
                    Cell::text(a.name()),
                    Cell::text(on_text(a, tied.get(&(source, i)).copied())),
                    Cell::text(by),
                    Cell::text(a.summary()),
                ],
                level: Some(Level::Unknown),
            });
            rows.suppressed_refs.push(AlertRef {
                source: source.clone(),
                index: i,
            });
        } else if !listed.contains(&i) {
            listed.insert(i);
            rows.firing_count += 1;
            rows.firing
                .rows
                .push(firing_row(a, tied.get(&(source, i)).copied(), now));
            rows.firing_refs.push(Some(AlertRef {
                source: source.clone(),
                index: i,
            }));
        }
    }
    let mut silencing: HashMap<&str, usize> = HashMap::new();
    for a in &set.alerts {
        for id in &a.silenced_by {
            *silencing.entry(id.as_str()).or_default() += 1;
        }
    }
    for (i, s) in set.silences.iter().enumerate() {
        let left = s
            .ends_at
            .and_then(|t| t.duration_since(now).ok())
            .map(|d| d.as_secs() as f64);
        let (word, level) = match s.state {
            SilenceState::Active => ("active", Level::Warn),
            SilenceState::Pending => ("pending", Level::Unknown),
            SilenceState::Expired => ("expired", Level::Ok),
        };
        let count = silencing.get(s.id.as_str()).copied().unwrap_or(0);
        rows.silences.rows.push(Row {
            key: Some(s.id.clone()),
            cells: vec![
                Cell::text(word),
                Cell {
                    text: match (s.state, left) {
                        (SilenceState::Expired, _) | (_, None) => "—".into(),
                        (_, Some(secs)) => format_duration_secs(secs),
                    },
                    sort: left,
                },
                Cell::number(count.to_string(), count as f64),
                Cell::text(s.created_by.clone()),
                Cell::text(
                    s.matchers
                        .iter()
                        .map(|m| m.display())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Cell::text(s.comment.clone()),
                Cell::text(s.id.clone()),
            ],
            level: Some(level),
        });
        rows.silence_refs.push(SilenceRef {
            source: source.clone(),
            index: i,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alerts::{Alert, AlertGroup, AlertState, Silence};
    use crate::model::{ComponentMeta, SourceStatus};
    use crate::sources::alertmanager::AlertmanagerReading;
    use std::sync::Arc;
    use std::time::Duration;

    pub fn alert(fp: &str, name: &str, severity: &str, state: AlertState) -> Alert {
        Alert {
            fingerprint: fp.into(),
            labels: [
                ("alertname".to_string(), name.to_string()),
                ("severity".to_string(), severity.to_string()),
                ("instance".to_string(), "db-1:9100".to_string()),
            ]
            .into(),
            annotations: [("summary".to_string(), format!("{name} summary"))].into(),
            starts_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000)),
            state,
            silenced_by: if state == AlertState::Suppressed {
                vec!["s1".into()]
            } else {
                Vec::new()
            },
            inhibited_by: Vec::new(),
            receivers: vec!["chat".into()],
        }
    }

    fn fleet(set: AlertSet) -> Fleet {
        let meta = |kind: &'static str, name: &str| ComponentMeta {
            id: ComponentId::new(kind, name),
            kind,
            region: String::new(),
            tags: Vec::new(),
        };
        let cadence = Duration::from_secs(2);
        let mut fleet = Fleet::new(
            vec![
                (meta("host", "db-1"), SourceStatus::pending(cadence)),
                (meta("alertmanager", "am"), SourceStatus::pending(cadence)),
            ],
            Default::default(),
        );
        let reading = AlertmanagerReading {
            server: Default::default(),
            set,
            at: SystemTime::UNIX_EPOCH,
            silences_error: None,
            status_error: None,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_125);
        fleet.apply(
            &ComponentId::new("alertmanager", "am"),
            crate::engine::poll::answered(now, cadence),
            Some(Arc::new(reading)),
        );
        fleet
    }

    #[test]
    fn firing_alerts_sit_under_their_group_and_suppressed_ones_apart() {
        let mut set = AlertSet::default();
        set.alerts
            .push(alert("a", "HostDown", "critical", AlertState::Active));
        set.alerts
            .push(alert("b", "HostDown", "warning", AlertState::Suppressed));
        set.alerts
            .push(alert("c", "Lag", "warning", AlertState::Active));
        set.groups.push(AlertGroup {
            labels: [("alertname".to_string(), "HostDown".to_string())].into(),
            receiver: "chat".into(),
            alerts: vec![0, 1],
        });
        set.groups.push(AlertGroup {
            labels: [("alertname".to_string(), "HostDown".to_string())].into(),
            receiver: "pager".into(),
            alerts: vec![0],
        });
        set.groups.push(AlertGroup {
            labels: [("alertname".to_string(), "Lag".to_string())].into(),
            receiver: "chat".into(),
            alerts: vec![2],
        });
        set.silences.push(Silence {
            id: "s1".into(),
            matchers: vec![crate::model::alerts::Matcher::equal(
                "alertname",
                "HostDown",
            )],
            starts_at: None,
            ends_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_125 + 3_600)),
            updated_at: None,
            created_by: "mei".into(),
            comment: "reboot".into(),
            state: SilenceState::Active,
        });
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_125);
        let rows = build(&fleet(set), now);
        let text = |t: &TableData, r: usize, c: usize| t.rows[r].cells[c].text.clone();
        assert_eq!(
            rows.firing.rows.len(),
            4,
            "two headings, two alerts, none twice"
        );
        assert_eq!(text(&rows.firing, 0, 2), "alertname=HostDown");
        assert_eq!(text(&rows.firing, 0, 3), "→ chat");
        assert_eq!(text(&rows.firing, 1, 0), "critical");
        assert_eq!(text(&rows.firing, 1, 1), "2m 05s");
        assert_eq!(text(&rows.firing, 1, 3), "host/db-1");
        assert_eq!(text(&rows.firing, 1, 5), "instance=db-1:9100");
        assert_eq!(rows.firing.rows[1].level, Some(Level::Crit));
        assert_eq!(rows.firing_refs[0], None);
        assert_eq!(rows.firing_refs[3].as_ref().map(|r| r.index), Some(2));
        assert_eq!(rows.firing_count, 2);
        assert_eq!(rows.suppressed.rows.len(), 1);
        assert_eq!(text(&rows.suppressed, 0, 0), "silenced");
        assert_eq!(text(&rows.suppressed, 0, 4), "s1");
        assert_eq!(text(&rows.silences, 0, 1), "1h 00m");
        assert_eq!(text(&rows.silences, 0, 2), "1");
        assert_eq!(text(&rows.silences, 0, 4), "alertname=\"HostDown\"");
        assert!(rows.unseen.is_empty());
    }

    #[test]
    fn an_alertmanager_that_is_down_is_named_not_hidden() {
        let mut fleet = fleet(AlertSet::default());
        let id = ComponentId::new("alertmanager", "am");
        let mut status = SourceStatus::pending(Duration::from_secs(2));
        status.state = SourceState::Down;
        status.error = Some("connection refused".into());
        fleet.apply(&id, status, None);
        let rows = build(&fleet, SystemTime::now());
        assert_eq!(rows.unseen, ["alertmanager/am: down (connection refused)"]);
    }
}
