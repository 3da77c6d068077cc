//! Edges grouped by region, worst first, so "the western US edge is broken" is one line.
//! A pure function over components and their health: it knows nothing edge-specific and
//! serves any kind that is spread over regions.

use std::collections::BTreeMap;

use crate::model::{ComponentMeta, Health, Level};

/// One region's line: its worst level, how many members share it, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionSummary {
    /// As configured; empty when the member has no region.
    pub region: String,
    pub level: Level,
    pub members: usize,
    /// Members at `level`.
    pub at_level: usize,
    /// The first reason of the first member at `level`, prefixed with its name.
    pub reason: Option<String>,
}

impl RegionSummary {
    /// `us-west ✖ 1/2 edges CRIT: fremont-1: certificate expired 3 days ago`.
    /// The region as shown: `(no region)` for members without one.
    pub fn region_name(&self) -> &str {
        if self.region.is_empty() {
            "(no region)"
        } else {
            &self.region
        }
    }

    pub fn line(&self, noun: &str) -> String {
        let region = self.region_name();
        let plural = if self.members == 1 { "" } else { "s" };
        let head = if self.level == Level::Ok {
            format!(
                "{region} {} {} {noun}{plural} OK",
                self.level.symbol(),
                self.members
            )
        } else {
            format!(
                "{region} {} {}/{} {noun}{plural} {}",
                self.level.symbol(),
                self.at_level,
                self.members,
                self.level.word()
            )
        };
        match &self.reason {
            Some(reason) if self.level != Level::Ok => format!("{head}: {reason}"),
            _ => head,
        }
    }
}

/// Regions worst first, then by name.
pub fn region_summary(members: &[(&ComponentMeta, &Health)]) -> Vec<RegionSummary> {
    let mut regions: BTreeMap<&str, RegionSummary> = BTreeMap::new();
    for (meta, health) in members {
        let entry = regions
            .entry(meta.region.as_str())
            .or_insert_with(|| RegionSummary {
                region: meta.region.clone(),
                level: Level::Ok,
                members: 0,
                at_level: 0,
                reason: None,
            });
        entry.members += 1;
        let reason = || {
            health
                .reasons
                .first()
                .map(|r| format!("{}: {r}", meta.id.name()))
        };
        if entry.members == 1 || health.level > entry.level {
            entry.level = health.level;
            entry.at_level = 1;
            entry.reason = reason();
        } else if health.level == entry.level {
            entry.at_level += 1;
        }
    }
    let mut out: Vec<RegionSummary> = regions.into_values().collect();
    out.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.region.cmp(&b.region)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ComponentId;

    fn meta(name: &str, region: &str) -> ComponentMeta {
        ComponentMeta {
            id: ComponentId::new("edge", name),
            kind: "edge",
            region: region.into(),
            tags: Vec::new(),
        }
    }

    fn health(level: Level, reason: &str) -> Health {
        Health {
            level,
            reasons: if reason.is_empty() {
                Vec::new()
            } else {
                vec![reason.into()]
            },
        }
    }

    #[test]
    fn the_broken_region_comes_first_with_its_reason() {
        let metas = [
            meta("frankfurt-1", "eu-central"),
            meta("fremont-1", "us-west"),
            meta("fremont-2", "us-west"),
            meta("tokyo-1", "apac"),
            meta("lab", ""),
        ];
        let healths = [
            health(Level::Ok, ""),
            health(Level::Ok, ""),
            health(Level::Crit, "certificate expired 3 days ago (2026-11-23)"),
            health(Level::Warn, "certificate 10 d ≤ 14 d"),
            health(Level::Unknown, "waiting for first poll"),
        ];
        let members: Vec<_> = metas.iter().zip(healths.iter()).collect();
        let summary = region_summary(&members);
        let lines: Vec<String> = summary.iter().map(|s| s.line("edge")).collect();
        assert_eq!(
            lines,
            [
                "us-west ✖ 1/2 edges CRIT: fremont-2: certificate expired 3 days ago (2026-11-23)",
                "apac ▲ 1/1 edge WARN: tokyo-1: certificate 10 d ≤ 14 d",
                "(no region) ? 1/1 edge UNKNOWN: lab: waiting for first poll",
                "eu-central ✔ 1 edge OK",
            ]
        );
    }

    #[test]
    fn members_at_the_same_worst_level_are_counted_and_the_first_explains() {
        let metas = [meta("a", "r"), meta("b", "r"), meta("c", "r")];
        let healths = [
            health(Level::Crit, "down"),
            health(Level::Crit, "also down"),
            health(Level::Ok, ""),
        ];
        let members: Vec<_> = metas.iter().zip(healths.iter()).collect();
        let s = &region_summary(&members)[0];
        assert_eq!((s.members, s.at_level, s.level), (3, 2, Level::Crit));
        assert_eq!(s.reason.as_deref(), Some("a: down"));
        assert!(region_summary(&[]).is_empty());
    }
}
