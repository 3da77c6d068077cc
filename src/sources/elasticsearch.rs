//! Elasticsearch (or OpenSearch) behind Mastodon's full-text search, from
//! `_cluster/health` and `_cat/indices`.
//!
//! Search is optional for Mastodon, so this is rarely the fire; but a red cluster means
//! search silently returns nothing, and users notice before operators do.

mod parse;
mod source;

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::model::{
    Detail, Figure, Finding, Level, Reading, Unit,
    detail::{Cell, Column, Row, TableData},
    figure::format_value,
};

pub use self::parse::{parse_cat_indices, parse_cluster_health, parse_version};
pub use self::source::{ElasticsearchSource, spec};

pub use crate::model::kinds::elasticsearch::{FIGURES, KIND};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterStatus {
    Green,
    Yellow,
    Red,
}

impl ClusterStatus {
    pub fn word(self) -> &'static str {
        match self {
            ClusterStatus::Green => "green",
            ClusterStatus::Yellow => "yellow",
            ClusterStatus::Red => "red",
        }
    }
    pub fn level(self) -> Level {
        match self {
            ClusterStatus::Green => Level::Ok,
            ClusterStatus::Yellow => Level::Warn,
            ClusterStatus::Red => Level::Crit,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElasticsearchReading {
    pub cluster_name: String,
    pub version: Option<String>,
    pub status: ClusterStatus,
    pub nodes: u32,
    pub data_nodes: u32,
    pub active_primary_shards: u32,
    pub active_shards: u32,
    pub relocating_shards: u32,
    pub initializing_shards: u32,
    pub unassigned_shards: u32,
    pub pending_tasks: u32,
    pub active_shards_pct: f64,
    pub indices: Vec<IndexInfo>,
    /// Why the index list is missing, when `_cat/indices` failed but the health did not.
    pub indices_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexInfo {
    pub name: String,
    pub status: ClusterStatus,
    pub docs: u64,
    pub size_bytes: u64,
}

impl ElasticsearchReading {
    fn status_findings(&self, unassigned: &str) -> Vec<Finding> {
        match self.status {
            ClusterStatus::Green => Vec::new(),
            ClusterStatus::Yellow => vec![Finding::warn(format!(
                "cluster is yellow: replicas missing{unassigned}"
            ))],
            ClusterStatus::Red => vec![Finding::crit(format!(
                "cluster is red: primary shards missing, searches are incomplete{unassigned}"
            ))],
        }
    }
}

impl Reading for ElasticsearchReading {
    fn figures(&self) -> Vec<Figure> {
        // Health comes from the cluster's own status (a finding), not from thresholds on
        // these counts: one unassigned replica is yellow, one unassigned primary is red.
        vec![
            Figure::new(
                "unassigned_shards",
                "unassigned shards",
                f64::from(self.unassigned_shards),
                Unit::Count,
            ),
            Figure::new(
                "active_shards_pct",
                "active shards",
                self.active_shards_pct,
                Unit::Percent,
            ),
            Figure::new("nodes", "nodes", f64::from(self.nodes), Unit::Count),
            Figure::new(
                "data_nodes",
                "data nodes",
                f64::from(self.data_nodes),
                Unit::Count,
            ),
            Figure::new(
                "active_shards",
                "active shards",
                f64::from(self.active_shards),
                Unit::Count,
            ),
            Figure::new(
                "relocating_shards",
                "relocating shards",
                f64::from(self.relocating_shards),
                Unit::Count,
            ),
            Figure::new(
                "initializing_shards",
                "initializing shards",
                f64::from(self.initializing_shards),
                Unit::Count,
            ),
            Figure::new(
                "pending_tasks",
                "pending tasks",
                f64::from(self.pending_tasks),
                Unit::Count,
            ),
        ]
    }

    fn findings(&self) -> Vec<Finding> {
        let unassigned = if self.unassigned_shards > 0 {
            format!(", {} shards unassigned", self.unassigned_shards)
        } else {
            String::new()
        };
        let mut findings = self.status_findings(&unassigned);
        if let Some(e) = &self.indices_error {
            findings.push(Finding::warn(format!("index list unavailable: {e}")));
        }
        findings
    }

    fn summary(&self) -> String {
        format!(
            "{} · {} nodes{}",
            self.status.word(),
            self.nodes,
            self.version
                .as_deref()
                .map_or_else(String::new, |v| format!(" · {v}"))
        )
    }
    fn detail(&self) -> Detail {
        let count = |v: u32| v.to_string();
        let detail = Detail::default().pairs(
            "Cluster",
            vec![
                ("name", self.cluster_name.clone()),
                (
                    "version",
                    self.version.clone().unwrap_or_else(|| "—".into()),
                ),
                ("status", self.status.word().into()),
                ("nodes", count(self.nodes)),
                ("data nodes", count(self.data_nodes)),
                ("active primary shards", count(self.active_primary_shards)),
                ("active shards", count(self.active_shards)),
                ("relocating shards", count(self.relocating_shards)),
                ("initializing shards", count(self.initializing_shards)),
                ("unassigned shards", count(self.unassigned_shards)),
                ("pending tasks", count(self.pending_tasks)),
                (
                    "active shards %",
                    format_value(self.active_shards_pct, Unit::Percent),
                ),
            ],
        );
        detail.table(
            "Indices",
            TableData {
                columns: vec![
                    Column::text("index", 28),
                    Column::text("status", 7),
                    Column::number("docs", 9),
                    Column::number("size", 10),
                ],
                rows: self
                    .indices
                    .iter()
                    .map(|i| Row {
                        key: None,
                        cells: vec![
                            Cell::text(i.name.clone()),
                            Cell::text(i.status.word()),
                            Cell::number(format_value(i.docs as f64, Unit::Count), i.docs as f64),
                            Cell::number(
                                format_value(i.size_bytes as f64, Unit::Bytes),
                                i.size_bytes as f64,
                            ),
                        ],
                        level: Some(i.status.level()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::evaluate;

    #[test]
    fn cluster_colour_decides_the_level() {
        let mut r = ElasticsearchReading {
            cluster_name: "search".into(),
            version: None,
            status: ClusterStatus::Green,
            nodes: 3,
            data_nodes: 3,
            active_primary_shards: 12,
            active_shards: 24,
            relocating_shards: 0,
            initializing_shards: 0,
            unassigned_shards: 0,
            pending_tasks: 0,
            active_shards_pct: 100.0,
            indices: Vec::new(),
            indices_error: None,
        };
        let level =
            |r: &ElasticsearchReading| evaluate(&r.figures(), &r.findings(), |_| None).level;
        assert_eq!(level(&r), Level::Ok);
        r.status = ClusterStatus::Yellow;
        assert_eq!(level(&r), Level::Warn);
        r.status = ClusterStatus::Red;
        assert_eq!(level(&r), Level::Crit);
        assert_eq!(r.to_json()["status"], "red");
    }
}
