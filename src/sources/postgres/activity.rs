//! Who is doing what: the non-idle backends with their ages and waits, sessions grouped by
//! user and application, and blocking chains built from `pg_blocking_pids()`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::decode::{Failure, col};
use super::redact::redact;
use crate::model::detail::{Cell, Column, Row as TableRow};
use crate::model::figure::format_value;
use crate::model::{Level, TableData, Unit};

/// How many non-idle backends one poll fetches, oldest transaction first (the `LIMIT` in
/// [`BACKENDS_SQL`](super::backends::BACKENDS_SQL)). Beyond this the view says how many it
/// left out; the counts in the sessions table stay exact.
pub(super) const ACTIVITY_LIMIT: usize = 200;

/// Query text exactly as the server sent it. It can hold users' posts and e-mail
/// addresses, so it is never serialised, never shown by `Debug`, and never put in a detail
/// view; only a future, audited on-call reveal reads it.
#[derive(Clone, Default, PartialEq)]
pub struct RawQuery(String);

impl RawQuery {
    pub fn new(text: String) -> Self {
        RawQuery(text)
    }
    /// The unredacted text. For the audited reveal only.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RawQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawQuery(<{} bytes withheld>)", self.0.len())
    }
}

/// One non-idle backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    pub pid: i32,
    /// `backend_start` in microseconds since the epoch: with the pid it names exactly this
    /// backend, even after the pid is reused.
    pub backend_start_us: i64,
    pub query_start_us: Option<i64>,
    pub user: Option<String>,
    pub application: String,
    pub client: Option<String>,
    pub database: Option<String>,
    pub backend_type: String,
    pub state: String,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    pub xact_age_s: Option<f64>,
    pub query_age_s: Option<f64>,
    /// Time in the current state: for a lock waiter, how long it has waited.
    pub state_age_s: Option<f64>,
    /// Age of the snapshot horizon this backend holds, in transactions.
    pub xmin_age: Option<i64>,
    /// Backends this one waits for; empty unless it waits on a lock.
    pub blocked_by: Vec<i32>,
    /// Literals replaced, comments dropped.
    pub query: String,
    #[serde(skip)]
    pub raw_query: RawQuery,
}

impl Backend {
    /// `pid:backend_start_us`, the row key actions act on.
    pub fn key(&self) -> String {
        backend_key(self.pid, self.backend_start_us)
    }
    pub fn is_client(&self) -> bool {
        self.backend_type == "client backend"
    }
}

pub fn backend_key(pid: i32, backend_start_us: i64) -> String {
    format!("{pid}:{backend_start_us}")
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Non-idle backends, oldest transaction first.
    pub backends: Vec<Backend>,
    /// The fetch hit [`ACTIVITY_LIMIT`]: older or newer backends may be missing.
    pub truncated: bool,
}

/// Client sessions of one user and application.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionGroup {
    pub user: String,
    pub application: String,
    pub total: i64,
    pub active: i64,
    pub idle: i64,
    pub idle_in_xact: i64,
    pub idle_in_xact_max_s: Option<f64>,
}

pub(super) fn decode_activity(rows: &[Row]) -> Result<Activity, Failure> {
    const STEP: &str = "read activity";
    let mut backends = Vec::with_capacity(rows.len());
    for row in rows {
        let raw: String = col(row, STEP, "query")?;
        backends.push(Backend {
            pid: col(row, STEP, "pid")?,
            backend_start_us: col(row, STEP, "backend_start_us")?,
            query_start_us: col(row, STEP, "query_start_us")?,
            user: col(row, STEP, "usename")?,
            application: col(row, STEP, "application_name")?,
            client: col(row, STEP, "client")?,
            database: col(row, STEP, "datname")?,
            backend_type: col(row, STEP, "backend_type")?,
            state: col(row, STEP, "state")?,
            wait_event_type: col(row, STEP, "wait_event_type")?,
            wait_event: col(row, STEP, "wait_event")?,
            xact_age_s: col(row, STEP, "xact_age_s")?,
            query_age_s: col(row, STEP, "query_age_s")?,
            state_age_s: col(row, STEP, "state_age_s")?,
            xmin_age: col(row, STEP, "xmin_age")?,
            blocked_by: col::<Option<Vec<i32>>>(row, STEP, "blocked_by")?.unwrap_or_default(),
            query: redact(&raw),
            raw_query: RawQuery::new(raw),
        });
    }
    Ok(Activity {
        truncated: backends.len() >= ACTIVITY_LIMIT,
        backends,
    })
}

pub(super) fn decode_sessions_by(rows: &[Row]) -> Result<Vec<SessionGroup>, Failure> {
    const STEP: &str = "read sessions by user";
    rows.iter()
        .map(|row| {
            Ok(SessionGroup {
                user: col(row, STEP, "usename")?,
                application: col(row, STEP, "application_name")?,
                total: col(row, STEP, "total")?,
                active: col(row, STEP, "active")?,
                idle: col(row, STEP, "idle")?,
                idle_in_xact: col(row, STEP, "idle_in_xact")?,
                idle_in_xact_max_s: col(row, STEP, "idle_in_xact_max_s")?,
            })
        })
        .collect()
}

/// One line of a blocking tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockingNode {
    pub pid: i32,
    /// 0 for a root blocker (it waits for nobody), 1 for what it blocks directly, …
    pub depth: usize,
    /// Everything `pg_blocking_pids` named for this backend.
    pub blocked_by: Vec<i32>,
    /// How many backends wait, directly or not, behind this one.
    pub behind: usize,
}

/// Blocking chains as trees, flattened in display order: each root blocker followed by
/// the backends waiting behind it, most-blocking root first.
///
/// `pg_blocking_pids` names every backend a waiter conflicts with, including those ahead
/// of it in the lock queue: with A holding a lock, B queued for it and C queued after B,
/// C names both A and B. The tree shows C under B, the deepest backend it waits for, so a
/// chain reads as a chain. A waiter whose blockers wait on each other in a cycle (a
/// deadlock the server has not broken yet) is shown as a root.
pub fn blocking_chains(backends: &[Backend]) -> Vec<BlockingNode> {
    let waits: HashMap<i32, &[i32]> = backends
        .iter()
        .filter(|b| !b.blocked_by.is_empty())
        .map(|b| (b.pid, b.blocked_by.as_slice()))
        .collect();
    if waits.is_empty() {
        return Vec::new();
    }
    let mut depth: HashMap<i32, usize> = HashMap::new();
    for &pid in waits.keys() {
        depth_of(pid, &waits, &mut depth, &mut HashSet::new());
    }
    // Each waiter hangs under the deepest backend it waits for.
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let mut has_parent: HashSet<i32> = HashSet::new();
    for (&pid, blockers) in &waits {
        let own = depth.get(&pid).copied().unwrap_or(0);
        let parent = blockers
            .iter()
            .copied()
            .filter(|b| *b != pid && depth.get(b).copied().unwrap_or(0) < own)
            .max_by_key(|b| (depth.get(b).copied().unwrap_or(0), std::cmp::Reverse(*b)));
        if let Some(parent) = parent {
            children.entry(parent).or_default().push(pid);
            has_parent.insert(pid);
        }
    }
    for list in children.values_mut() {
        list.sort_unstable();
    }
    let mut roots: Vec<i32> = waits
        .values()
        .flat_map(|b| b.iter().copied())
        .chain(waits.keys().copied())
        .filter(|p| !has_parent.contains(p))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let behind = |pid: i32| count_behind(pid, &children, &mut HashSet::new());
    roots.sort_by_key(|&p| (std::cmp::Reverse(behind(p)), p));

    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for root in roots {
        push_tree(root, 0, &waits, &children, &mut seen, &mut out);
    }
    out
}

fn depth_of(
    pid: i32,
    waits: &HashMap<i32, &[i32]>,
    memo: &mut HashMap<i32, usize>,
    on_path: &mut HashSet<i32>,
) -> usize {
    if let Some(&d) = memo.get(&pid) {
        return d;
    }
    let Some(blockers) = waits.get(&pid) else {
        memo.insert(pid, 0);
        return 0;
    };
    if !on_path.insert(pid) {
        // A cycle: stop here rather than loop.
        return 0;
    }
    let mut d = 0;
    for &b in blockers.iter() {
        if !on_path.contains(&b) {
            d = d.max(depth_of(b, waits, memo, on_path) + 1);
        }
    }
    on_path.remove(&pid);
    memo.insert(pid, d);
    d
}

fn count_behind(pid: i32, children: &BTreeMap<i32, Vec<i32>>, seen: &mut HashSet<i32>) -> usize {
    let Some(kids) = children.get(&pid) else {
        return 0;
    };
    let mut total = 0;
    for &k in kids {
        if seen.insert(k) {
            total += 1 + count_behind(k, children, seen);
        }
    }
    total
}

fn push_tree(
    pid: i32,
    depth: usize,
    waits: &HashMap<i32, &[i32]>,
    children: &BTreeMap<i32, Vec<i32>>,
    seen: &mut HashSet<i32>,
    out: &mut Vec<BlockingNode>,
) {
    if !seen.insert(pid) {
        return;
    }
    out.push(BlockingNode {
        pid,
        depth,
        blocked_by: waits.get(&pid).map(|b| b.to_vec()).unwrap_or_default(),
        behind: count_behind(pid, children, &mut HashSet::new()),
    });
    for &child in children.get(&pid).into_iter().flatten() {
        push_tree(child, depth + 1, waits, children, seen, out);
    }
}

fn age(v: Option<f64>) -> Cell {
    match v {
        Some(s) => Cell::number(format_value(s, Unit::Seconds), s),
        None => Cell::text(""),
    }
}

fn opt_text(v: &Option<String>) -> Cell {
    Cell::text(v.clone().unwrap_or_default())
}

fn wait(b: &Backend) -> String {
    match (&b.wait_event_type, &b.wait_event) {
        (Some(t), Some(e)) => format!("{t}:{e}"),
        (Some(t), None) => t.clone(),
        _ => String::new(),
    }
}

pub(super) fn activity_table(activity: &Activity, idle_in_xact_warn: f64) -> TableData {
    let rows = activity
        .backends
        .iter()
        .map(|b| {
            let idle_too_long = b.state.starts_with("idle in transaction")
                && b.state_age_s.is_some_and(|s| s >= idle_in_xact_warn);
            let level = (!b.blocked_by.is_empty() || idle_too_long).then_some(Level::Warn);
            TableRow {
                key: Some(b.key()),
                cells: vec![
                    Cell::number(b.pid.to_string(), f64::from(b.pid)),
                    opt_text(&b.user),
                    Cell::text(b.application.clone()),
                    opt_text(&b.client),
                    Cell::text(b.backend_type.clone()),
                    Cell::text(b.state.clone()),
                    Cell::text(wait(b)),
                    age(b.xact_age_s),
                    age(b.query_age_s),
                    Cell::text(b.query.clone()),
                ],
                level,
            }
        })
        .collect();
    TableData {
        columns: vec![
            Column::number("pid", 7),
            Column::text("user", 12),
            Column::text("application", 14).optional(2),
            Column::text("client", 15).optional(3),
            Column::text("type", 14).optional(4),
            Column::text("state", 13),
            Column::text("wait", 18).optional(1),
            Column::number("xact age", 9),
            Column::number("query age", 9),
            Column::text("query", 60),
        ],
        rows,
    }
}

pub(super) fn blocking_table(activity: &Activity) -> TableData {
    let by_pid: HashMap<i32, &Backend> = activity.backends.iter().map(|b| (b.pid, b)).collect();
    let rows = blocking_chains(&activity.backends)
        .into_iter()
        .map(|node| {
            let b = by_pid.get(&node.pid);
            let label = if node.depth == 0 {
                node.pid.to_string()
            } else {
                format!("{}└─ {}", "   ".repeat(node.depth - 1), node.pid)
            };
            let blocked_by = node
                .blocked_by
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let (state, user, xact, waited, query) = match b {
                Some(b) => (
                    b.state.clone(),
                    b.user.clone().unwrap_or_default(),
                    age(b.xact_age_s),
                    if node.depth > 0 {
                        age(b.state_age_s)
                    } else {
                        Cell::text("")
                    },
                    b.query.clone(),
                ),
                None if node.pid == 0 => (
                    "prepared transaction".to_string(),
                    String::new(),
                    Cell::text(""),
                    Cell::text(""),
                    String::new(),
                ),
                None => (
                    "not visible (idle, or another role's)".to_string(),
                    String::new(),
                    Cell::text(""),
                    Cell::text(""),
                    String::new(),
                ),
            };
            TableRow {
                key: b.map(|b| b.key()),
                cells: vec![
                    Cell::number(label, f64::from(node.pid)),
                    Cell::text(blocked_by),
                    Cell::number(node.behind.to_string(), node.behind as f64),
                    Cell::text(user),
                    Cell::text(state),
                    xact,
                    waited,
                    Cell::text(query),
                ],
                level: (node.depth == 0).then_some(Level::Crit),
            }
        })
        .collect();
    TableData {
        columns: vec![
            Column::text("pid", 14),
            Column::text("blocked by", 12).optional(2),
            Column::number("behind", 6),
            Column::text("user", 12).optional(1),
            Column::text("state", 13),
            Column::number("xact age", 9),
            Column::number("waiting", 9),
            Column::text("query", 60),
        ],
        rows,
    }
}

pub(super) fn sessions_by_table(groups: &[SessionGroup], idle_in_xact_warn: f64) -> TableData {
    let count = |v: i64| Cell::number(v.to_string(), v as f64);
    let rows = groups
        .iter()
        .map(|g| TableRow {
            key: None,
            cells: vec![
                Cell::text(g.user.clone()),
                Cell::text(g.application.clone()),
                count(g.total),
                count(g.active),
                count(g.idle),
                count(g.idle_in_xact),
                age(g.idle_in_xact_max_s),
            ],
            level: g
                .idle_in_xact_max_s
                .is_some_and(|s| s >= idle_in_xact_warn)
                .then_some(Level::Warn),
        })
        .collect();
    TableData {
        columns: vec![
            Column::text("user", 16),
            Column::text("application", 20),
            Column::number("total", 6),
            Column::number("active", 6),
            Column::number("idle", 6),
            Column::number("idle in xact", 12),
            Column::number("longest idle in xact", 12).optional(1),
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(pid: i32, blocked_by: &[i32]) -> Backend {
        Backend {
            pid,
            backend_start_us: 1_700_000_000_000_000 + i64::from(pid),
            query_start_us: None,
            user: Some("mastodon".into()),
            application: String::new(),
            client: None,
            database: None,
            backend_type: "client backend".into(),
            state: "active".into(),
            wait_event_type: (!blocked_by.is_empty()).then(|| "Lock".into()),
            wait_event: None,
            xact_age_s: Some(1.0),
            query_age_s: Some(1.0),
            state_age_s: Some(1.0),
            xmin_age: None,
            blocked_by: blocked_by.to_vec(),
            query: "SELECT ?".into(),
            raw_query: RawQuery::new("SELECT 'secret'".into()),
        }
    }

    fn shape(nodes: &[BlockingNode]) -> Vec<(i32, usize)> {
        nodes.iter().map(|n| (n.pid, n.depth)).collect()
    }

    #[test]
    fn a_queue_reads_as_a_chain() {
        // A holds; B waits for A; C waits for A and for B, queued ahead of it.
        let nodes =
            blocking_chains(&[backend(10, &[]), backend(20, &[10]), backend(30, &[10, 20])]);
        assert_eq!(shape(&nodes), [(10, 0), (20, 1), (30, 2)]);
        assert_eq!(nodes[0].behind, 2);
    }

    #[test]
    fn roots_with_more_behind_them_come_first_and_invisible_roots_show() {
        let nodes = blocking_chains(&[
            backend(20, &[10]),
            backend(40, &[99]),
            backend(41, &[99]),
            backend(42, &[41]),
        ]);
        assert_eq!(
            shape(&nodes),
            [(99, 0), (40, 1), (41, 1), (42, 2), (10, 0), (20, 1)]
        );
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let nodes = blocking_chains(&[backend(1, &[2]), backend(2, &[1])]);
        let pids: HashSet<i32> = nodes.iter().map(|n| n.pid).collect();
        assert_eq!(pids, HashSet::from([1, 2]));
    }

    #[test]
    fn the_tree_table_indents_and_highlights_the_root() {
        let activity = Activity {
            backends: vec![backend(10, &[]), backend(20, &[10]), backend(30, &[10, 20])],
            truncated: false,
        };
        let table = blocking_table(&activity);
        let labels: Vec<&str> = table
            .rows
            .iter()
            .map(|r| r.cells[0].text.as_str())
            .collect();
        assert_eq!(labels, ["10", "└─ 20", "   └─ 30"]);
        assert_eq!(table.rows[0].level, Some(Level::Crit));
        assert_eq!(table.rows[1].level, None);
        assert_eq!(table.rows[2].key.as_deref(), Some("30:1700000000000030"));
    }

    #[test]
    fn raw_text_never_shows_in_debug_or_json() {
        let b = backend(1, &[]);
        assert!(!format!("{b:?}").contains("secret"));
        let json = serde_json::to_string(&b).unwrap_or_default();
        assert!(
            !json.contains("secret") && json.contains("SELECT ?"),
            "{json}"
        );
        assert_eq!(b.raw_query.reveal(), "SELECT 'secret'");
    }
}
