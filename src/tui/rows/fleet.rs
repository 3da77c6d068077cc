//! The fleet by role, then region: every component and every inventory host, with a
//! roll-up line per role and region. A host with several roles appears under each of
//! them, so whoever looks at one role sees every machine doing that job; the roll-up
//! counts it in each. Enter opens the host's detail view.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use super::{age_text, level_rank};
use crate::inventory::{Inventory, InventoryHost, taxonomy};
use crate::model::detail::{Cell, Column, Row, TableData};
use crate::model::{ComponentId, ComponentState, Fleet, Level, SourceState};

/// Roles along the path a request takes, then the stores behind; others follow by name.
const ROLE_ORDER: &[&str] = &[
    "edge-cdn",
    "mastodon-web",
    "mastodon-streaming",
    "mastodon-sidekiq",
    "postgres-primary",
    "postgres-replica",
    "postgres-backup",
    "redis",
    "elasticsearch",
];

/// What a fleet row stands for, for Enter.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A roll-up line.
    Group,
    Component(ComponentId),
    /// An inventory host nothing polls (offline, or not configured as a host source).
    Host(String),
}

#[derive(Clone, Debug, Default)]
pub struct FleetList {
    pub table: TableData,
    pub targets: Vec<Target>,
}

/// One member of a role-and-region group.
struct Entry<'a> {
    role: String,
    region: String,
    name: String,
    component: Option<&'a ComponentState>,
    host: Option<&'a InventoryHost>,
}

impl Entry<'_> {
    fn level(&self) -> Level {
        match (self.component, self.host) {
            (Some(c), _) => c.health.level,
            (None, Some(h)) if h.online == Some(false) => Level::Warn,
            _ => Level::Unknown,
        }
    }
    fn offline(&self) -> bool {
        self.host.is_some_and(|h| h.online == Some(false))
    }
}

pub fn list(fleet: &Fleet, inventory: &Inventory, now: SystemTime) -> FleetList {
    let mut entries = entries(fleet, inventory);
    entries.sort_by(|a, b| {
        (role_rank(&a.role), &a.role, &a.region, &a.name).cmp(&(
            role_rank(&b.role),
            &b.role,
            &b.region,
            &b.name,
        ))
    });
    // At 80 columns: health, name, key figure and why; wider adds the rest, least
    // needed last.
    let columns = vec![
        Column::text("HEALTH", 9),
        Column::text("ROLE · REGION / NAME", 33),
        Column::number("KEY", 8).optional(1),
        Column::text("FIGURE", 18).optional(4),
        Column::number("AGE", 5).optional(2),
        Column::text("TAILSCALE", 26).optional(3),
        Column::text("FROM", 16).optional(5),
        Column::text("WHY", 23),
    ];
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let (role, region) = (&entries[start].role, &entries[start].region);
        let end = start
            + entries[start..]
                .iter()
                .take_while(|e| &e.role == role && &e.region == region)
                .count();
        let group = &entries[start..end];
        rows.push(rollup(role, region, group));
        targets.push(Target::Group);
        for entry in group {
            rows.push(member(entry, now));
            targets.push(match entry.component {
                Some(c) => Target::Component(c.meta.id.clone()),
                None => Target::Host(
                    entry
                        .host
                        .map_or_else(String::new, |h| h.config.name.clone()),
                ),
            });
        }
        start = end;
    }
    FleetList {
        table: TableData { columns, rows },
        targets,
    }
}

fn entries<'a>(fleet: &'a Fleet, inventory: &'a Inventory) -> Vec<Entry<'a>> {
    let mut out = Vec::new();
    let host_kind = crate::sources::host::KIND;
    // Rebuilt on every poll, so lookups by name go through maps, not scans.
    let mut by_name: HashMap<String, &InventoryHost> = HashMap::new();
    for h in &inventory.hosts {
        by_name.entry(h.config.name.to_lowercase()).or_insert(h);
    }
    let mut polled: HashSet<String> = HashSet::new();
    for c in fleet.components() {
        let host = if c.meta.kind == host_kind {
            let name = c.meta.id.name().to_lowercase();
            let host = by_name.get(&name).copied();
            polled.insert(name);
            host
        } else {
            None
        };
        let mut roles: Vec<String> = taxonomy::classify(c.meta.tags.iter().map(String::as_str))
            .roles
            .iter()
            .map(|r| clean(r))
            .collect();
        for role in host.map_or(&[][..], |h| &h.config.roles[..]) {
            let role = clean(role);
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        if roles.is_empty() {
            roles.push(c.meta.kind.to_string());
        }
        let region = clean(
            Some(c.meta.region.as_str())
                .filter(|r| !r.is_empty())
                .or_else(|| host.map(|h| h.config.region.as_str()))
                .unwrap_or_default(),
        );
        for role in roles {
            out.push(Entry {
                role,
                region: region.clone(),
                name: c.meta.id.as_str().to_string(),
                component: Some(c),
                host,
            });
        }
    }
    for h in &inventory.hosts {
        if polled.contains(&h.config.name.to_lowercase()) {
            continue;
        }
        let roles = if h.config.roles.is_empty() {
            vec!["unassigned".to_string()]
        } else {
            h.config.roles.iter().map(|r| clean(r)).collect()
        };
        for role in roles {
            out.push(Entry {
                role,
                region: clean(&h.config.region),
                name: format!("{host_kind}/{}", h.config.name),
                component: None,
                host: Some(h),
            });
        }
    }
    out
}

/// Roles and regions group rows, so text from discovery is cleaned before it becomes a
/// key: a stray escape sequence must not split one role into two groups.
fn clean(text: &str) -> String {
    crate::sanitize::sanitize(text).trim().to_string()
}

fn role_rank(role: &str) -> usize {
    ROLE_ORDER
        .iter()
        .position(|r| *r == role)
        .unwrap_or(ROLE_ORDER.len())
}

fn rollup(role: &str, region: &str, group: &[Entry<'_>]) -> Row {
    let worst = group.iter().map(Entry::level).max().unwrap_or(Level::Ok);
    let count = |level: Level| group.iter().filter(|e| e.level() == level).count();
    let mut parts = vec![format!(
        "{} {}",
        group.len(),
        if group.len() == 1 {
            "member"
        } else {
            "members"
        }
    )];
    for (level, word) in [
        (Level::Crit, "crit"),
        (Level::Warn, "warn"),
        (Level::Unknown, "unknown"),
    ] {
        let n = count(level);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let offline = group.iter().filter(|e| e.offline()).count();
    if offline > 0 {
        parts.push(format!("{offline} offline"));
    }
    let region = if region.is_empty() {
        "no region"
    } else {
        region
    };
    Row {
        key: None,
        cells: vec![
            Cell::number(
                format!("{} {}", worst.symbol(), worst.word()),
                level_rank(worst),
            ),
            Cell::text(format!("▾ {role} · {region}")),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::text(""),
            Cell::text(parts.join(", ")),
        ],
        level: Some(worst),
    }
}

fn member(entry: &Entry<'_>, now: SystemTime) -> Row {
    let level = entry.level();
    let (key, figure) = match entry.component.and_then(ComponentState::key_figure) {
        Some(f) => (
            Cell::number(f.display_value(), f.value),
            Cell::text(f.label),
        ),
        None => (Cell::text(""), Cell::text("")),
    };
    let age = entry.component.and_then(|c| c.status.age(now));
    let why = match (entry.component, entry.host) {
        (Some(c), _) => match (c.health.reasons.first(), c.status.effective_state(now)) {
            (Some(reason), _) => reason.clone(),
            (None, SourceState::Ok) => c.reading.as_ref().map(|r| r.summary()).unwrap_or_default(),
            (None, other) => other.word().to_string(),
        },
        (None, Some(h)) if h.online == Some(false) => "offline in Tailscale: not polled".into(),
        (None, Some(_)) => "discovered, not polled".into(),
        (None, None) => String::new(),
    };
    let (online, last_seen) = entry.host.map_or((None, None), |h| (h.online, h.last_seen));
    let from = entry.host.map_or_else(String::new, |h| {
        h.origins
            .iter()
            .map(|o| o.word())
            .collect::<Vec<_>>()
            .join("+")
    });
    Row {
        key: None,
        cells: vec![
            Cell::number(
                format!("{} {}", level.symbol(), level.word()),
                level_rank(level),
            ),
            Cell::text(format!("  {}", entry.name)),
            key,
            figure,
            Cell {
                text: age_text(age),
                sort: age.map(|a| a.as_secs_f64()),
            },
            Cell::text(seen_text(online, last_seen, now)),
            Cell::text(from),
            Cell::text(why),
        ],
        level: Some(level),
    }
}

/// `offline · last seen 3h ago`, `online`, or nothing for hosts Tailscale does not know.
pub fn seen_text(online: Option<bool>, last_seen: Option<SystemTime>, now: SystemTime) -> String {
    match (online, last_seen) {
        (None, _) => String::new(),
        (Some(true), _) => "online".into(),
        (Some(false), None) => "offline".into(),
        (Some(false), Some(at)) => {
            let ago = now.duration_since(at).unwrap_or(Duration::ZERO);
            format!("offline · last seen {} ago", rough(ago))
        }
    }
}

/// The largest unit only: `45s`, `12m`, `3h`, `2d`.
fn rough(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The line above the table: where the host list came from, and what went wrong.
pub fn status_line(inventory: &Inventory, identity: Option<&str>, now: SystemTime) -> String {
    let mut parts = Vec::new();
    let mut by_origin: Vec<(&str, usize)> = Vec::new();
    for h in &inventory.hosts {
        for o in &h.origins {
            match by_origin.iter_mut().find(|(w, _)| *w == o.word()) {
                Some((_, n)) => *n += 1,
                None => by_origin.push((o.word(), 1)),
            }
        }
    }
    let sources = if by_origin.is_empty() {
        "no inventory hosts".to_string()
    } else {
        let listed: Vec<String> = by_origin.iter().map(|(w, n)| format!("{n} {w}")).collect();
        format!("{} hosts ({})", inventory.hosts.len(), listed.join(", "))
    };
    parts.push(sources);
    let offline = inventory
        .hosts
        .iter()
        .filter(|h| h.online == Some(false))
        .count();
    if offline > 0 {
        parts.push(format!("{offline} offline"));
    }
    match (inventory.discovering, inventory.refreshed) {
        (false, _) => parts.push("discovery off".into()),
        (true, None) => parts.push("discovering…".into()),
        (true, Some(at)) => parts.push(format!(
            "found {} ago",
            rough(now.duration_since(at).unwrap_or(Duration::ZERO))
        )),
    }
    parts.push(identity.map_or_else(
        || "no tailnet identity".to_string(),
        |l| format!("you are {l}"),
    ));
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::rows::testing::{now, pending};

    #[test]
    fn a_roll_up_line_leads_each_group_and_rows_know_their_target() {
        let fleet = pending(&[("postgres", "primary"), ("redis", "main")]);
        let data = list(&fleet, &Inventory::default(), now());
        assert_eq!(data.table.rows.len(), data.targets.len());
        let components = data
            .targets
            .iter()
            .filter(|t| matches!(t, Target::Component(_)))
            .count();
        assert_eq!(components, 2);
        assert_eq!(data.targets.first(), Some(&Target::Group));
        for (row, target) in data.table.rows.iter().zip(&data.targets) {
            assert_eq!(row.cells.len(), data.table.columns.len());
            if let Target::Component(id) = target {
                assert!(
                    row.cells[1].text.contains(id.name()),
                    "{}",
                    row.cells[1].text
                );
            }
        }
    }

    #[test]
    fn an_offline_host_says_since_when() {
        let seen = now() - Duration::from_secs(3 * 3600 + 120);
        assert!(seen_text(Some(false), Some(seen), now()).starts_with("offline"));
        assert_eq!(seen_text(None, None, now()), "");
    }
}
