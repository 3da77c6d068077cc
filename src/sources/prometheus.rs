//! The instance's Prometheus: whether it is scraping what it should (`/api/v1/targets`),
//! whether its rules evaluate (`/api/v1/rules`), and its version. Its query API
//! ([`api`]) also fills trends at start ([`backfill`]).

pub mod api;
pub mod backfill;
mod source;

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::model::{
    Detail, Figure, Finding, Level, Reading, Unit,
    detail::{Cell, Column, Row, TableData},
};

pub use self::source::{PrometheusSource, service, spec};

pub use crate::model::kinds::prometheus::{FIGURES, KIND};

/// How many down targets and failing rules a reading keeps to show; the counts are exact.
pub const KEPT: usize = 500;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrometheusReading {
    pub version: Option<String>,
    pub targets_up: u32,
    pub targets_down: u32,
    pub targets_unknown: u32,
    /// The first [`KEPT`] targets that are down, with why.
    pub down: Vec<DownTarget>,
    pub rules: u32,
    pub rules_failing: u32,
    pub alert_rules_firing: u32,
    pub alert_rules_pending: u32,
    /// The first [`KEPT`] rules that fail to evaluate.
    pub failing: Vec<FailingRule>,
    /// Why the rules or the version are missing when the targets are not.
    pub rules_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownTarget {
    pub job: String,
    pub instance: String,
    pub error: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailingRule {
    pub group: String,
    pub name: String,
    pub error: String,
}

impl Reading for PrometheusReading {
    fn figures(&self) -> Vec<Figure> {
        vec![
            Figure::new(
                "targets_down",
                "targets down",
                f64::from(self.targets_down),
                Unit::Count,
            ),
            Figure::new(
                "targets_up",
                "targets up",
                f64::from(self.targets_up),
                Unit::Count,
            ),
            Figure::new(
                "rules_failing",
                "rules failing",
                f64::from(self.rules_failing),
                Unit::Count,
            ),
            Figure::new(
                "alert_rules_firing",
                "alert rules firing",
                f64::from(self.alert_rules_firing),
                Unit::Count,
            ),
        ]
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some("targets_down")
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.targets_down > 0 {
            let first = self.down.first().map_or(String::new(), |t| {
                format!(", e.g. {} {}", t.job, t.instance)
            });
            findings.push(Finding::warn(format!(
                "{} scrape targets down{first}",
                self.targets_down
            )));
        }
        if self.rules_failing > 0 {
            findings.push(Finding::warn(format!(
                "{} rules fail to evaluate: their alerts cannot fire",
                self.rules_failing
            )));
        }
        if let Some(e) = &self.rules_error {
            findings.push(Finding::warn(format!("rules unavailable: {e}")));
        }
        findings
    }

    fn summary(&self) -> String {
        format!(
            "{} of {} targets up · {} rules{}",
            self.targets_up,
            self.targets_up + self.targets_down + self.targets_unknown,
            self.rules,
            self.version
                .as_deref()
                .map_or_else(String::new, |v| format!(" · {v}"))
        )
    }

    fn detail(&self) -> Detail {
        let detail = Detail::default().pairs(
            "Prometheus",
            vec![
                (
                    "version",
                    self.version.clone().unwrap_or_else(|| "—".into()),
                ),
                ("targets up", self.targets_up.to_string()),
                ("targets down", self.targets_down.to_string()),
                ("targets unknown", self.targets_unknown.to_string()),
                ("rules", self.rules.to_string()),
                ("rules failing", self.rules_failing.to_string()),
                ("alert rules firing", self.alert_rules_firing.to_string()),
                ("alert rules pending", self.alert_rules_pending.to_string()),
            ],
        );
        let detail = detail.table(
            "Targets down",
            TableData {
                columns: vec![
                    Column::text("job", 16),
                    Column::text("instance", 24),
                    Column::text("error", 40),
                ],
                rows: self
                    .down
                    .iter()
                    .map(|t| Row {
                        key: None,
                        cells: vec![
                            Cell::text(t.job.clone()),
                            Cell::text(t.instance.clone()),
                            Cell::text(t.error.clone()),
                        ],
                        level: Some(Level::Warn),
                    })
                    .collect(),
            },
        );
        detail.table(
            "Rules failing",
            TableData {
                columns: vec![
                    Column::text("group", 16),
                    Column::text("rule", 24),
                    Column::text("error", 40),
                ],
                rows: self
                    .failing
                    .iter()
                    .map(|r| Row {
                        key: None,
                        cells: vec![
                            Cell::text(r.group.clone()),
                            Cell::text(r.name.clone()),
                            Cell::text(r.error.clone()),
                        ],
                        level: Some(Level::Warn),
                    })
                    .collect(),
            },
        )
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
