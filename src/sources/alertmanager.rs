//! The instance's Alertmanager, through API v2: what is firing (as Alertmanager groups
//! it), what is silenced or inhibited, the silences themselves, and the server's own
//! status. The fleet ties each alert to the components it concerns
//! ([`crate::model::alerts`]); the alerts view draws the groups.

pub mod parse;
mod source;

use std::any::Any;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::model::alerts::{AlertSet, SilenceState};
use crate::model::{
    Detail, Figure, Finding, Level, Reading, Unit,
    detail::{Cell, Column, Row, TableData},
    figure::format_duration_secs,
};

pub use self::parse::ServerStatus;
pub use self::source::{AlertmanagerSource, spec};

pub use crate::model::kinds::alertmanager::{FIGURES, KIND};

/// The detail table whose rows are silences (expire is offered on its rows).
pub const SILENCES_TABLE: &str = "Silences";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertmanagerReading {
    pub server: ServerStatus,
    #[serde(flatten)]
    pub set: AlertSet,
    /// When the reading was taken, for "since" columns.
    #[serde(with = "crate::model::serde_time")]
    pub at: SystemTime,
    /// Why the silences or the status are missing when the alerts are not.
    pub silences_error: Option<String>,
    pub status_error: Option<String>,
}

impl AlertmanagerReading {
    pub fn firing(&self) -> usize {
        self.set.firing().count()
    }
    pub fn suppressed(&self) -> usize {
        self.set.alerts.iter().filter(|a| !a.is_firing()).count()
    }
    pub fn silences_active(&self) -> usize {
        self.set
            .silences
            .iter()
            .filter(|s| s.state == SilenceState::Active)
            .count()
    }

    fn since(&self, t: Option<SystemTime>) -> String {
        t.map_or_else(
            || "—".into(),
            |t| format_duration_secs(self.at.duration_since(t).unwrap_or_default().as_secs() as f64),
        )
    }
}

impl Reading for AlertmanagerReading {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = vec![
            Figure::new("firing", "firing alerts", self.firing() as f64, Unit::Count),
            Figure::new(
                "suppressed",
                "silenced or inhibited",
                self.suppressed() as f64,
                Unit::Count,
            ),
            Figure::new(
                "silences_active",
                "active silences",
                self.silences_active() as f64,
                Unit::Count,
            ),
        ];
        if self
            .server
            .cluster
            .as_deref()
            .is_some_and(|c| c != "disabled")
        {
            figures.push(Figure::new(
                "peers",
                "cluster peers",
                f64::from(self.server.peers),
                Unit::Count,
            ));
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some("firing")
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if let Some(e) = &self.silences_error {
            findings.push(Finding::warn(format!("silences unavailable: {e}")));
        }
        if let Some(e) = &self.status_error {
            findings.push(Finding::warn(format!("status unavailable: {e}")));
        }
        if self.server.cluster.as_deref() == Some("settling") {
            findings.push(Finding::warn(
                "cluster settling: silences may not have reached every peer yet",
            ));
        }
        findings
    }

    fn summary(&self) -> String {
        format!(
            "{} firing · {} silenced or inhibited · {} silences{}",
            self.firing(),
            self.suppressed(),
            self.silences_active(),
            self.server
                .version
                .as_deref()
                .map_or_else(String::new, |v| format!(" · {v}"))
        )
    }

    fn detail(&self) -> Detail {
        let detail = Detail::default().pairs(
            "Alertmanager",
            vec![
                (
                    "version",
                    self.server.version.clone().unwrap_or_else(|| "—".into()),
                ),
                (
                    "cluster",
                    self.server.cluster.clone().unwrap_or_else(|| "—".into()),
                ),
                ("peers", self.server.peers.to_string()),
                ("firing", self.firing().to_string()),
                ("silenced or inhibited", self.suppressed().to_string()),
                ("groups", self.set.groups.len().to_string()),
            ],
        );
        let rows = self
            .set
            .silences
            .iter()
            .map(|s| Row {
                key: (s.state != SilenceState::Expired).then(|| s.id.clone()),
                cells: vec![
                    Cell::text(match s.state {
                        SilenceState::Active => "active",
                        SilenceState::Pending => "pending",
                        SilenceState::Expired => "expired",
                    }),
                    Cell::text(
                        s.matchers
                            .iter()
                            .map(|m| m.display())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    Cell::text(s.ends_at.map_or_else(
                        || "—".into(),
                        |t| humantime::format_rfc3339_seconds(t).to_string(),
                    )),
                    Cell::text(s.created_by.clone()),
                    Cell::text(s.comment.clone()),
                    Cell::text(s.id.clone()),
                ],
                level: Some(match s.state {
                    SilenceState::Active => Level::Warn,
                    _ => Level::Unknown,
                }),
            })
            .collect();
        let detail = detail.table(
            SILENCES_TABLE,
            TableData {
                columns: vec![
                    Column::text("state", 8),
                    Column::text("matchers", 36),
                    Column::text("until (UTC)", 20),
                    Column::text("by", 12),
                    Column::text("comment", 20),
                    Column::text("id", 36).optional(1),
                ],
                rows,
            },
        );
        let rows = self
            .set
            .alerts
            .iter()
            .map(|a| Row {
                key: Some(a.fingerprint.clone()),
                cells: vec![
                    Cell::text(a.state.word()),
                    Cell::text(a.name()),
                    Cell::text(a.severity()),
                    Cell::text(self.since(a.starts_at)),
                    Cell::text(a.labels.get("instance").cloned().unwrap_or_default()),
                    Cell::text(a.summary()),
                ],
                level: Some(if a.is_firing() {
                    Level::Crit
                } else {
                    Level::Unknown
                }),
            })
            .collect();
        detail.table(
            "Alerts",
            TableData {
                columns: vec![
                    Column::text("state", 11),
                    Column::text("alert", 24),
                    Column::text("severity", 9),
                    Column::text("since", 8),
                    Column::text("instance", 20).optional(1),
                    Column::text("summary", 30),
                ],
                rows,
            },
        )
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn alerts(&self) -> Option<&AlertSet> {
        Some(&self.set)
    }
}
