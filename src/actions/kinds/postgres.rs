//! PostgreSQL actions on one backend, or on every blocker of a lock tree:
//!
//! | kind | on | risk | what runs |
//! |---|---|---|---|
//! | `postgres.cancel_query` | an activity or blocking row running a statement | low | [`signal_sql`] with `pg_cancel_backend` |
//! | `postgres.terminate_backend` | an activity or blocking row | high, type the pid | [`signal_sql`] with `pg_terminate_backend` |
//! | `postgres.cancel_blockers` | the root of a blocking tree, itself running a statement | high, type the root's pid | one cancel per blocker running a statement |
//! | `postgres.terminate_blockers` | the root of a blocking tree | high, type the root's pid | one terminate per blocker |
//!
//! A pid alone names nothing: it is reused, and the dialog may stay open while the
//! session ends. Every statement carries the pid *and* `backend_start` (and, for a cancel,
//! `query_start`) in its `WHERE`, and the precondition re-checks the same before anything
//! is confirmed, adding what the statement cannot say in words: whether the connecting
//! role may signal that session at all (a superuser's session needs a superuser; anyone
//! else's needs membership in the owner's role or `pg_signal_backend`).
//!
//! Only client sessions are ever offered or signalled. Autovacuum, walsenders and
//! background workers are the server's own: an anti-wraparound vacuum killed restarts from
//! zero, and a killed walsender drops a replica.
//!
//! A lock tree's blockers are signalled deepest first, the root last: every waiter is
//! still waiting when it is signalled, so none gets the lock for an instant and is then
//! interrupted halfway through its work.

pub mod signal;

use std::time::Duration;

use self::signal::{Signal, signal_sql};
use crate::actions::Action;
use crate::actions::action::{Check, Operation, Risk, Target};
use crate::actions::catalog::Selected;
use crate::model::Reading;
use crate::sources::postgres::{Backend, PostgresReading, blocking_chains};

/// Two presses of the same key on the same backend are one decision, not two.
const COOLDOWN: Duration = Duration::from_secs(5);
/// Connecting, re-checking and one signal.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long `pg_terminate_backend(pid, 5000)` may wait for each backend to exit.
const TERMINATE_WAIT: Duration = Duration::from_secs(5);

/// What the precondition answers when every chosen backend is still the same client
/// session and the connecting role may signal it; anything else names what changed.
pub const STILL_SIGNALLABLE: &str = "the same client session(s), and this role may signal them";

/// The actions on the selected activity or blocking row.
pub fn offer(
    component: &str,
    reading: &dyn Reading,
    selected: Option<Selected<'_>>,
) -> Vec<Action> {
    let Some(reading) = reading.as_any().downcast_ref::<PostgresReading>() else {
        return Vec::new();
    };
    let Some(selected) = selected else {
        return Vec::new();
    };
    if !(selected.table.starts_with("activity") || selected.table.starts_with("blocking")) {
        return Vec::new();
    }
    let Some(activity) = reading.views.activity.as_ref() else {
        return Vec::new();
    };
    let Some(backend) = activity
        .backends
        .iter()
        .find(|b| b.key() == selected.key)
        .filter(|b| b.is_client())
    else {
        return Vec::new();
    };
    let version = reading.server.version_num;
    let mut out = Vec::new();
    if running(backend) {
        out.push(one(component, version, Signal::Cancel, backend));
    }
    out.push(one(component, version, Signal::Terminate, backend));
    let blockers = tree_blockers(&activity.backends, backend.pid);
    // A tree with one blocker is the root alone: the actions above already cover it.
    if blockers.len() >= 2 {
        let running_blockers: Vec<&Backend> =
            blockers.iter().copied().filter(|b| running(b)).collect();
        // An idle root keeps its locks whatever happens to the waiters behind it.
        if running(backend) {
            out.push(tree(
                component,
                version,
                Signal::Cancel,
                backend,
                &running_blockers,
            ));
        }
        out.push(tree(
            component,
            version,
            Signal::Terminate,
            backend,
            &blockers,
        ));
    }
    out
}

/// A cancel interrupts a running statement only; a session idle in a transaction ignores it.
fn running(b: &Backend) -> bool {
    matches!(b.state.as_str(), "active" | "fastpath function call") && b.query_start_us.is_some()
}

/// The client sessions in `root`'s tree that have someone waiting behind them, deepest
/// first, the root last. Empty unless `root` is the root of a tree.
fn tree_blockers(backends: &[Backend], root: i32) -> Vec<&Backend> {
    let nodes = blocking_chains(backends);
    let Some(start) = nodes.iter().position(|n| n.depth == 0 && n.pid == root) else {
        return Vec::new();
    };
    let tree = nodes[start..]
        .iter()
        .enumerate()
        .take_while(|(i, n)| *i == 0 || n.depth > 0)
        .map(|(_, n)| n);
    let mut blockers: Vec<(usize, &Backend)> = tree
        .filter(|n| n.behind > 0)
        .filter_map(|n| {
            backends
                .iter()
                .find(|b| b.pid == n.pid && b.is_client())
                .map(|b| (n.depth, b))
        })
        .collect();
    // Stable: equally deep blockers keep the tree's order.
    blockers.sort_by_key(|(depth, _)| std::cmp::Reverse(*depth));
    blockers.into_iter().map(|(_, b)| b).collect()
}

fn who(b: &Backend) -> String {
    match (b.user.as_deref(), b.application.as_str()) {
        (Some(user), "") => format!(" ({user})"),
        (Some(user), app) => format!(" ({user}, {app})"),
        (None, "") => String::new(),
        (None, app) => format!(" ({app})"),
    }
}

fn target(component: &str, b: &Backend) -> Target {
    Target {
        component: component.to_string(),
        object: format!("pid {}", b.pid),
        // The pid is what the row shows and what differs between two sessions of one app.
        name: b.pid.to_string(),
        identity: Some(b.key()),
    }
}

/// The operation for one backend: the statement and its exact parameters.
fn signal_op(version: i32, signal: Signal, b: &Backend) -> Operation {
    let mut params = vec![b.pid.to_string(), b.backend_start_us.to_string()];
    if signal == Signal::Cancel
        && let Some(q) = b.query_start_us
    {
        params.push(q.to_string());
    }
    Operation::Sql {
        text: signal_sql(signal, version),
        params,
    }
}

fn one(component: &str, version: i32, signal: Signal, b: &Backend) -> Action {
    let (kind, title, risk, deadline) = match signal {
        Signal::Cancel => (
            "postgres.cancel_query",
            format!("Cancel the running query of pid {}{}", b.pid, who(b)),
            Risk::Low,
            DEADLINE,
        ),
        Signal::Terminate => (
            "postgres.terminate_backend",
            format!(
                "Terminate pid {}{}: end the session and roll back its transaction",
                b.pid,
                who(b)
            ),
            Risk::High,
            DEADLINE + TERMINATE_WAIT,
        ),
    };
    Action {
        kind: kind.into(),
        title,
        target: target(component, b),
        risk,
        operations: vec![signal_op(version, signal, b)],
        precondition: Some(precondition(signal, &[b])),
        cooldown: COOLDOWN,
        deadline,
    }
}

fn tree(
    component: &str,
    version: i32,
    signal: Signal,
    root: &Backend,
    blockers: &[&Backend],
) -> Action {
    let n = blockers.len();
    let (kind, title, per_blocker) = match signal {
        Signal::Cancel => (
            "postgres.cancel_blockers",
            format!(
                "Cancel the running queries of {n} blockers in the lock tree of pid {}{}",
                root.pid,
                who(root)
            ),
            Duration::ZERO,
        ),
        Signal::Terminate => (
            "postgres.terminate_blockers",
            format!(
                "Terminate all {n} blockers in the lock tree of pid {}{}",
                root.pid,
                who(root)
            ),
            TERMINATE_WAIT,
        ),
    };
    Action {
        kind: kind.into(),
        title,
        target: target(component, root),
        // Every blocker loses its statement, or its session and transaction.
        risk: Risk::High,
        operations: blockers
            .iter()
            .map(|b| signal_op(version, signal, b))
            .collect(),
        precondition: Some(precondition(signal, blockers)),
        cooldown: COOLDOWN,
        deadline: DEADLINE + per_blocker * n as u32,
    }
}

/// The live re-check of every chosen backend, as one value: [`STILL_SIGNALLABLE`], or
/// what changed for each backend that no longer qualifies.
fn precondition(signal: Signal, backends: &[&Backend]) -> Check {
    let array = |values: Vec<String>| format!("{{{}}}", values.join(","));
    let mut params = vec![
        array(backends.iter().map(|b| b.pid.to_string()).collect()),
        array(
            backends
                .iter()
                .map(|b| b.backend_start_us.to_string())
                .collect(),
        ),
    ];
    if signal == Signal::Cancel {
        params.push(array(
            backends
                .iter()
                .map(|b| b.query_start_us.map_or("NULL".into(), |q| q.to_string()))
                .collect(),
        ));
    }
    Check::Sql {
        text: precondition_sql(signal),
        params,
        expect: STILL_SIGNALLABLE.into(),
    }
}

/// Parameters, sent as text and cast here: `$1` pids (int4[]), `$2` their
/// backend_start_us (int8[]) and, for a cancel, `$3` their query_start_us (int8[]).
///
/// Privilege is judged as the server judges it when signalling: a superuser's session
/// only by a superuser, anyone else's by a role with that role's privileges or those of
/// `pg_signal_backend`.
pub fn precondition_sql(signal: Signal) -> String {
    let (query_start, query_check) = match signal {
        Signal::Cancel => (
            "$3::int8[]",
            "
    WHEN (extract(epoch FROM a.query_start) * 1000000)::int8 IS DISTINCT FROM c.query_start_us
      THEN 'pid ' || c.pid || ' finished the query you chose and runs another'",
        ),
        Signal::Terminate => ("NULL::int8[]", ""),
    };
    format!(
        "/* mastop */ SELECT coalesce(string_agg(problem, '; ' ORDER BY n), '{STILL_SIGNALLABLE}')
FROM (
  SELECT c.n, CASE
    WHEN a.pid IS NULL THEN 'pid ' || c.pid || ' has ended'
    WHEN a.backend_start IS NULL
      THEN 'pid ' || c.pid || ' is hidden from ' || current_user || ', which needs pg_read_all_stats to re-check it'
    WHEN (extract(epoch FROM a.backend_start) * 1000000)::int8 <> c.backend_start_us
      THEN 'pid ' || c.pid || ' now belongs to another session, started ' || a.backend_start
    WHEN a.backend_type IS DISTINCT FROM 'client backend'
      THEN 'pid ' || c.pid || ' is a ' || coalesce(a.backend_type, 'server process') || ', not a client session'{query_check}
    WHEN r.rolsuper AND NOT me.rolsuper
      THEN 'pid ' || c.pid || ' is a superuser''s session; only a superuser may signal it'
    WHEN NOT (pg_has_role(a.usesysid, 'USAGE') OR pg_has_role('pg_signal_backend', 'USAGE'))
      THEN 'pid ' || c.pid || ' belongs to ' || coalesce(a.usename::text, 'another role') || '; '
        || current_user || ' needs that role or pg_signal_backend to signal it'
  END AS problem
  FROM unnest($1::int4[], $2::int8[], {query_start})
    WITH ORDINALITY AS c(pid, backend_start_us, query_start_us, n)
  LEFT JOIN pg_stat_activity a ON a.pid = c.pid
  LEFT JOIN pg_roles r ON r.oid = a.usesysid
  CROSS JOIN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) me
) checked"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::postgres::{
        Activity, Connections, DatabaseStats, RawQuery, ServerInfo, Sessions, Views,
    };

    fn backend(pid: i32, state: &str, blocked_by: &[i32]) -> Backend {
        Backend {
            pid,
            backend_start_us: 1_700_000_000_000_000 + i64::from(pid),
            query_start_us: Some(1_700_000_100_000_000 + i64::from(pid)),
            user: Some("mastodon".into()),
            application: "puma".into(),
            client: None,
            database: Some("mastodon".into()),
            backend_type: "client backend".into(),
            state: state.into(),
            wait_event_type: (!blocked_by.is_empty()).then(|| "Lock".into()),
            wait_event: None,
            xact_age_s: Some(1.0),
            query_age_s: Some(1.0),
            state_age_s: Some(1.0),
            xmin_age: None,
            blocked_by: blocked_by.to_vec(),
            query: "SELECT ?".into(),
            raw_query: RawQuery::new("SELECT 'private toot'".into()),
        }
    }

    fn reading(backends: Vec<Backend>) -> PostgresReading {
        PostgresReading {
            server: ServerInfo {
                version: "15.8".into(),
                version_num: 150_008,
                database: "mastodon".into(),
                in_recovery: false,
                uptime_s: 1.0,
            },
            connections: Connections {
                total: 1,
                max_connections: 100,
                reserved: 3,
                used_pct: 1.0,
            },
            sessions: Sessions::default(),
            database: DatabaseStats::default(),
            replica: None,
            views: Views {
                activity: Some(Activity {
                    backends,
                    truncated: false,
                }),
                ..Views::default()
            },
        }
    }

    fn offered(r: &PostgresReading, table: &str, key: &str) -> Vec<Action> {
        offer("postgres/primary", r, Some(Selected { table, key }))
    }

    fn kinds(actions: &[Action]) -> Vec<&str> {
        actions.iter().map(|a| a.kind.as_str()).collect()
    }

    #[test]
    fn a_running_client_gets_cancel_and_terminate_pinned_to_its_start() {
        let b = backend(4121, "active", &[]);
        let r = reading(vec![b.clone()]);
        let actions = offered(&r, "activity: 1 non-idle, 0 idle not listed", &b.key());
        assert_eq!(
            kinds(&actions),
            ["postgres.cancel_query", "postgres.terminate_backend"]
        );
        let cancel = &actions[0];
        assert_eq!(cancel.risk, Risk::Low);
        assert_eq!(cancel.target.object, "pid 4121");
        assert_eq!(cancel.target.identity.as_deref(), Some(b.key().as_str()));
        assert_eq!(
            cancel.operations,
            [Operation::Sql {
                text: signal_sql(Signal::Cancel, 150_008),
                params: vec![
                    "4121".into(),
                    "1700000000004121".into(),
                    "1700000100004121".into()
                ],
            }]
        );
        let terminate = &actions[1];
        assert_eq!(terminate.risk, Risk::High);
        assert_eq!(terminate.target.name, "4121");
        let Some(Check::Sql { params, expect, .. }) = &terminate.precondition else {
            panic!("terminate re-checks over SQL");
        };
        assert_eq!(params, &["{4121}", "{1700000000004121}"]);
        assert_eq!(expect, STILL_SIGNALLABLE);
        for a in &actions {
            let text = format!("{a:?}");
            assert!(!text.contains("private toot"), "{text}");
        }
    }

    #[test]
    fn idle_transactions_only_terminate_and_server_processes_get_nothing() {
        let idle = backend(10, "idle in transaction", &[]);
        let mut walsender = backend(11, "streaming", &[]);
        walsender.backend_type = "walsender".into();
        let mut hidden = backend(12, "active", &[]);
        hidden.backend_type = String::new();
        let r = reading(vec![idle.clone(), walsender.clone(), hidden.clone()]);
        assert_eq!(
            kinds(&offered(&r, "activity", &idle.key())),
            ["postgres.terminate_backend"]
        );
        assert!(offered(&r, "activity", &walsender.key()).is_empty());
        assert!(offered(&r, "activity", &hidden.key()).is_empty());
        // A stale key: same pid, another start.
        assert!(offered(&r, "activity", "10:1").is_empty());
        assert!(offered(&r, "horizon", &idle.key()).is_empty());
        assert!(offer("postgres/primary", &r, None).is_empty());
    }

    #[test]
    fn a_tree_root_signals_every_blocker_deepest_first() {
        // 10 holds; 20 waits for it; 30 waits for 20 (queued) and 10; 40 waits for 10.
        let root = backend(10, "active", &[]);
        let r = reading(vec![
            root.clone(),
            backend(20, "active", &[10]),
            backend(30, "active", &[10, 20]),
            backend(40, "active", &[10]),
        ]);
        let actions = offered(&r, "blocking", &root.key());
        assert_eq!(
            kinds(&actions),
            [
                "postgres.cancel_query",
                "postgres.terminate_backend",
                "postgres.cancel_blockers",
                "postgres.terminate_blockers"
            ]
        );
        for a in &actions[2..] {
            let pids: Vec<&str> = a
                .operations
                .iter()
                .map(|op| match op {
                    Operation::Sql { params, .. } => params[0].as_str(),
                    _ => "",
                })
                .collect();
            assert_eq!(pids, ["20", "10"], "{}", a.kind);
            assert_eq!(a.risk, Risk::High);
            assert_eq!(a.target.name, "10");
        }
        assert_eq!(actions[3].deadline, DEADLINE + TERMINATE_WAIT * 2);
        // A waiter is no root: its own actions only.
        assert_eq!(
            kinds(&offered(&r, "blocking", &backend(20, "", &[]).key())),
            ["postgres.cancel_query", "postgres.terminate_backend"]
        );
    }

    #[test]
    fn an_idle_root_offers_no_tree_cancel() {
        let root = backend(10, "idle in transaction", &[]);
        let r = reading(vec![
            root.clone(),
            backend(20, "active", &[10]),
            backend(30, "active", &[10, 20]),
        ]);
        assert_eq!(
            kinds(&offered(&r, "blocking", &root.key())),
            ["postgres.terminate_backend", "postgres.terminate_blockers"]
        );
    }

    #[test]
    fn the_recheck_covers_start_type_query_and_privilege() {
        let cancel = precondition_sql(Signal::Cancel);
        let terminate = precondition_sql(Signal::Terminate);
        for sql in [&cancel, &terminate] {
            assert!(sql.starts_with("/* mastop */"));
            assert!(sql.contains("<> c.backend_start_us"));
            assert!(sql.contains("'client backend'"));
            assert!(sql.contains("r.rolsuper AND NOT me.rolsuper"));
            assert!(sql.contains("pg_signal_backend"));
        }
        assert!(cancel.contains("$3::int8[]") && cancel.contains("query_start"));
        assert!(!terminate.contains("$3"));
    }
}
