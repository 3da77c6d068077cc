//! The Mastodon-aware part of a host's reading: datastore ports open beyond loopback and
//! the tailnet, the deployed version and revision, `REDIS_NAMESPACE` on a Mastodon that
//! refuses it, and drift from the other hosts of the same roles. Key names appear here;
//! values and their hashes never do.

use serde::{Deserialize, Serialize};

use super::drift::{Drift, deploy_text};
use super::mastodon::{Exposed, HostFacts};
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::{Detail, Finding, Level};
use crate::sanitize::sanitize_truncated;

/// The title of the detail table that lists these checks.
pub const CHECKS_TABLE: &str = "Mastodon checks";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostChecks {
    /// `None` when `ss` did not answer (unknown); empty when nothing is exposed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed: Option<Vec<Exposed>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mastodon_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mastodon_revision: Option<String>,
    /// How many keys `.env.production` has (0 when none was readable).
    #[serde(skip_serializing_if = "is_zero")]
    pub env_keys: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redis_namespace_refused: bool,
    /// Differences from the hosts of the same roles, as of the last comparison; `None`
    /// before one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<Vec<Drift>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl HostChecks {
    pub fn from_facts(facts: &HostFacts, drift: Option<Vec<Drift>>) -> HostChecks {
        HostChecks {
            exposed: facts.exposed.clone(),
            mastodon_version: facts.version.clone(),
            mastodon_revision: facts.revision.clone(),
            env_keys: facts.env.len(),
            redis_namespace_refused: facts.redis_namespace_refused(),
            drift,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == HostChecks::default()
    }

    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in self.exposed.iter().flatten() {
            out.push(Finding::crit(format!(
                "{} listens on {}, beyond loopback and the tailnet (open to the internet if \
                 the firewall is down: the Redis hijack)",
                sanitize_truncated(&e.service, 32),
                sanitize_truncated(&e.address, 64)
            )));
        }
        if self.redis_namespace_refused {
            out.push(Finding::crit(format!(
                "REDIS_NAMESPACE is set in .env.production and Mastodon {} refuses to boot with it",
                sanitize_truncated(self.mastodon_version.as_deref().unwrap_or("4.5+"), 32)
            )));
        }
        let drift = self.drift.iter().flatten();
        let keys: Vec<&Drift> = drift.clone().filter(|d| d.what == "env").collect();
        if !keys.is_empty() {
            let names: Vec<String> = keys
                .iter()
                .take(8)
                .map(|d| sanitize_truncated(&d.subject, 48))
                .collect();
            let more = keys.len().saturating_sub(names.len());
            out.push(Finding::warn(format!(
                ".env.production differs from the same role's hosts in {}{} (config drift)",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )));
        }
        for d in drift.filter(|d| d.what == "deploy") {
            out.push(Finding::warn(format!(
                "runs Mastodon {} unlike {} (a half-finished deploy?)",
                sanitize_truncated(&d.subject, 64),
                d.others
                    .iter()
                    .take(8)
                    .map(|o| sanitize_truncated(o, 64))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        out
    }

    /// The checks as one table of the host's detail view.
    pub fn add_to(&self, detail: Detail) -> Detail {
        if self.is_empty() {
            return detail;
        }
        let mut rows = Vec::new();
        let mut row = |check: &str, value: String, level: Level| {
            rows.push(Row {
                key: None,
                cells: vec![Cell::text(check), Cell::text(value)],
                level: Some(level),
            });
        };
        if self.mastodon_version.is_some() || self.mastodon_revision.is_some() {
            row(
                "deployed",
                deploy_text(&self.mastodon_version, &self.mastodon_revision),
                Level::Ok,
            );
        }
        match &self.exposed {
            None => row("datastore ports", "unknown (no ss)".into(), Level::Unknown),
            Some(e) if e.is_empty() => row(
                "datastore ports",
                "loopback or tailnet only".into(),
                Level::Ok,
            ),
            Some(e) => {
                for x in e {
                    row(
                        "exposed",
                        format!("{} on {}", x.service, x.address),
                        Level::Crit,
                    );
                }
            }
        }
        if self.env_keys > 0 {
            row(
                ".env.production",
                format!("{} keys (values stay on the host)", self.env_keys),
                Level::Ok,
            );
        }
        if self.redis_namespace_refused {
            row(
                "REDIS_NAMESPACE",
                "set: Mastodon 4.5+ refuses to boot".into(),
                Level::Crit,
            );
        }
        match &self.drift {
            None if self.env_keys > 0 => row("drift", "not compared yet".into(), Level::Unknown),
            None => {}
            Some(d) if d.is_empty() => {
                row("drift", "same as the role's other hosts".into(), Level::Ok)
            }
            Some(d) => {
                for x in d {
                    let what = if x.what == "env" {
                        format!("key {}", sanitize_truncated(&x.subject, 48))
                    } else {
                        format!("deploy {}", x.subject)
                    };
                    row(
                        "drift",
                        format!("{what} differs from {}", x.others.join(", ")),
                        Level::Warn,
                    );
                }
            }
        }
        detail.table(
            CHECKS_TABLE,
            TableData {
                columns: vec![Column::text("check", 16), Column::text("finding", 60)],
                rows,
            },
        )
    }
}
