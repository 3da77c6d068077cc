//! Everything a poll learns from the server's backend array, in one statement: the session
//! counts, sessions by user and application, the non-idle backends and the standbys.
//!
//! Every read of `pg_stat_activity` or `pg_stat_replication` walks the whole array (copying
//! each backend's status and query text), which at hundreds of connections costs about a
//! millisecond each time. Here the array is read once, into a CTE, and each part is cut from
//! that copy. Standbys are the backends `pg_stat_get_wal_senders()` names, joined to the
//! same copy, so a server without standbys pays only for that (empty) function.

use tokio_postgres::Row;

use super::activity::{Activity, SessionGroup, decode_activity, decode_sessions_by};
use super::queries::{Failure, col};
use super::reading::Sessions;
use super::replication::{Standby, decode_standbys};

/// Which part of the answer a row belongs to (the `part` column).
const SUMMARY: i32 = 0;
const GROUP: i32 = 1;
const BACKEND: i32 = 2;
const STANDBY: i32 = 3;

// One row per part, in one shape: each part fills its own columns and leaves the rest NULL.
// Rows of other roles this role may not see have a NULL backend_type; those with a database
// are sessions, so they still count. Idle sessions are counted but never listed (on a busy
// instance they are most of the rows and say nothing), so their query text is not even
// copied. `pg_blocking_pids` takes the lock manager's locks: it is called only for
// backends waiting on a lock. Queries of any mastop console are left out of the list by
// their tag. In the summary, `idle_in_xact` counts exactly "idle in transaction"; in the
// groups it includes the aborted ones. On a cascading standby the WAL position a standby's
// lag is measured against is what this node has received.
pub(super) const BACKENDS_SQL: &str = "/* mastop */ WITH a AS (
    SELECT pid, datid, usename::text AS usename, application_name, client_addr,
        datname::text AS datname, backend_type, state, wait_event_type, wait_event,
        backend_start, xact_start, query_start, state_change, backend_xmin,
        CASE WHEN state IS DISTINCT FROM 'idle' THEN query END AS query,
        backend_type = 'client backend' OR (backend_type IS NULL AND datid IS NOT NULL) AS session,
        pid = pg_backend_pid() AS me
    FROM pg_stat_activity
)
SELECT 0 AS part,
    NULL::int4 AS pid, NULL::int8 AS backend_start_us, NULL::int8 AS query_start_us,
    NULL::text AS usename, NULL::text AS application_name, NULL::text AS client,
    NULL::text AS datname, NULL::text AS backend_type, NULL::text AS state,
    NULL::text AS wait_event_type, NULL::text AS wait_event,
    NULL::float8 AS xact_age_s, NULL::float8 AS query_age_s, NULL::float8 AS state_age_s,
    NULL::int8 AS xmin_age, NULL::int4[] AS blocked_by, NULL::text AS query,
    count(*) FILTER (WHERE session) AS total,
    count(*) FILTER (WHERE backend_type IS NULL AND datid IS NOT NULL) AS hidden,
    count(*) FILTER (WHERE mine AND state = 'active') AS active,
    count(*) FILTER (WHERE mine AND state = 'idle') AS idle,
    count(*) FILTER (WHERE mine AND state = 'idle in transaction') AS idle_in_xact,
    count(*) FILTER (WHERE mine AND state = 'idle in transaction (aborted)') AS idle_in_xact_aborted,
    count(*) FILTER (WHERE mine AND wait_event_type = 'Lock') AS waiting_on_lock,
    max(extract(epoch FROM clock_timestamp() - xact_start)::float8) FILTER (WHERE mine) AS longest_xact_s,
    max(extract(epoch FROM clock_timestamp() - state_change)::float8)
        FILTER (WHERE mine AND state LIKE 'idle in transaction%') AS idle_in_xact_max_s,
    NULL::text AS sync_state, NULL::float8 AS pending_bytes, NULL::float8 AS replay_bytes,
    NULL::float8 AS write_lag_s, NULL::float8 AS flush_lag_s, NULL::float8 AS replay_lag_s
FROM (SELECT *, backend_type = 'client backend' AND NOT me AS mine FROM a) s
UNION ALL
(SELECT 1, NULL, NULL, NULL,
    coalesce(usename, ''), coalesce(application_name, ''), NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    count(*), NULL,
    count(*) FILTER (WHERE state = 'active'),
    count(*) FILTER (WHERE state = 'idle'),
    count(*) FILTER (WHERE state LIKE 'idle in transaction%'),
    NULL, NULL, NULL,
    max(extract(epoch FROM clock_timestamp() - state_change)::float8)
        FILTER (WHERE state LIKE 'idle in transaction%'),
    NULL, NULL, NULL, NULL, NULL, NULL
 FROM a
 WHERE session AND NOT me
 GROUP BY coalesce(usename, ''), coalesce(application_name, '')
 ORDER BY count(*) DESC, coalesce(usename, ''), coalesce(application_name, '')
 LIMIT 50)
UNION ALL
(SELECT 2, pid,
    (extract(epoch FROM backend_start) * 1000000)::int8,
    (extract(epoch FROM query_start) * 1000000)::int8,
    usename, coalesce(application_name, ''), host(client_addr),
    datname, coalesce(backend_type, ''), state, wait_event_type, wait_event,
    extract(epoch FROM clock_timestamp() - xact_start)::float8,
    extract(epoch FROM clock_timestamp() - query_start)::float8,
    extract(epoch FROM clock_timestamp() - state_change)::float8,
    age(backend_xmin)::int8,
    CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END,
    coalesce(query, ''),
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL
 FROM a
 WHERE NOT me AND state IS NOT NULL AND state <> 'idle'
   AND coalesce(query, '') NOT LIKE '/* mastop */%'
 ORDER BY coalesce(xact_start, query_start) NULLS LAST
 LIMIT 200)
UNION ALL
(SELECT 3, a.pid,
    (extract(epoch FROM a.backend_start) * 1000000)::int8, NULL,
    NULL, coalesce(a.application_name, ''), host(a.client_addr),
    NULL, NULL, w.state, NULL, NULL, NULL, NULL, NULL,
    age(a.backend_xmin)::int8, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    w.sync_state,
    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                         ELSE pg_current_wal_lsn() END, w.sent_lsn)::float8,
    pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                         ELSE pg_current_wal_lsn() END, w.replay_lsn)::float8,
    extract(epoch FROM w.write_lag)::float8,
    extract(epoch FROM w.flush_lag)::float8,
    extract(epoch FROM w.replay_lag)::float8
 FROM a JOIN pg_stat_get_wal_senders() w ON w.pid = a.pid
 ORDER BY coalesce(a.application_name, ''), a.pid)";

/// The backend array, decoded.
pub(super) struct Backends {
    /// Client connections, mastop's own included (it takes a slot too).
    pub connections: i64,
    pub sessions: Sessions,
    pub groups: Vec<SessionGroup>,
    pub activity: Activity,
    pub standbys: Vec<Standby>,
}

pub(super) fn decode(rows: &[Row]) -> Result<Backends, Failure> {
    const STEP: &str = "read pg_stat_activity";
    let (mut summary, mut groups, mut backends, mut standbys) = (vec![], vec![], vec![], vec![]);
    for row in rows {
        let part: i32 = col(row, STEP, "part")?;
        let rows = match part {
            SUMMARY => &mut summary,
            GROUP => &mut groups,
            BACKEND => &mut backends,
            STANDBY => &mut standbys,
            other => {
                return Err(Failure::Answer {
                    step: STEP,
                    detail: format!("a row of unknown part {other}"),
                });
            }
        };
        rows.push(row.clone());
    }
    let [summary] = summary.as_slice() else {
        return Err(Failure::Answer {
            step: STEP,
            detail: format!("{} summary rows instead of one", summary.len()),
        });
    };
    Ok(Backends {
        connections: col(summary, STEP, "total")?,
        sessions: Sessions {
            active: col(summary, STEP, "active")?,
            idle: col(summary, STEP, "idle")?,
            idle_in_transaction: col(summary, STEP, "idle_in_xact")?,
            idle_in_transaction_aborted: col(summary, STEP, "idle_in_xact_aborted")?,
            waiting_on_lock: col(summary, STEP, "waiting_on_lock")?,
            hidden: col(summary, STEP, "hidden")?,
            longest_xact_s: col(summary, STEP, "longest_xact_s")?,
            idle_in_xact_max_s: col(summary, STEP, "idle_in_xact_max_s")?,
        },
        groups: decode_sessions_by(&groups)?,
        activity: decode_activity(&backends)?,
        standbys: decode_standbys(&standbys)?,
    })
}
