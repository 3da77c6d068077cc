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
use super::decode::{Failure, col};
use super::replication::{Standby, decode_standbys};
use super::sessions::Sessions;

/// Which part of the answer a row belongs to (the `part` column).
const SUMMARY: i32 = 0;
const GROUP: i32 = 1;
const BACKEND: i32 = 2;
const STANDBY: i32 = 3;

// One row per part, in one shape: each part fills its own columns and leaves the rest NULL.
// The array is read with `pg_stat_get_activity(NULL)`, the function behind
// `pg_stat_activity`, so that role and database names are looked up only for the rows
// listed, not for every connection. Rows of other roles this role may not see have a NULL
// backend_type and state; those with a database are sessions, so they still count. The
// summary is summed from the groups (by role, application, and whether the session is
// mastop's own), so the copy is aggregated once. Idle sessions are counted but never
// listed (on a busy instance they are most of the rows and say nothing), so their query
// text is not even copied. `pg_blocking_pids` takes the lock manager's locks: it is called
// only for backends waiting on a lock. Queries of any mastop console are left out of the
// list by their tag. In the summary, `idle_in_xact` counts exactly "idle in transaction";
// in the groups it includes the aborted ones. Ages are read against one clock reading per
// part, as floats (`date_part`, not `extract`, which computes in numeric). On a cascading
// standby the WAL position a standby's lag is measured against is what this node has
// received.
pub(super) const BACKENDS_SQL: &str = "/* mastop */ WITH a AS (
    SELECT pid, datid, usesysid, application_name, client_addr, backend_type, state,
        wait_event_type, wait_event, backend_start, xact_start, query_start, state_change,
        backend_xmin,
        CASE WHEN state IS DISTINCT FROM 'idle' THEN query END AS query,
        backend_type = 'client backend' OR (backend_type IS NULL AND datid IS NOT NULL) AS session,
        pid = pg_backend_pid() AS me
    FROM pg_stat_get_activity(NULL)
), g AS (
    SELECT usesysid, coalesce(application_name, '') AS application_name, me,
        count(*) AS total,
        count(*) FILTER (WHERE backend_type IS NULL) AS hidden,
        count(*) FILTER (WHERE state = 'active') AS active,
        count(*) FILTER (WHERE state = 'idle') AS idle,
        count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_xact,
        count(*) FILTER (WHERE state = 'idle in transaction (aborted)') AS idle_in_xact_aborted,
        count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting_on_lock,
        min(xact_start) AS oldest_xact,
        min(state_change) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_xact_since
    FROM a WHERE session
    GROUP BY usesysid, coalesce(application_name, ''), me
)
SELECT 0 AS part,
    NULL::int4 AS pid, NULL::int8 AS backend_start_us, NULL::int8 AS query_start_us,
    NULL::text AS usename, NULL::text AS application_name, NULL::text AS client,
    NULL::text AS datname, NULL::text AS backend_type, NULL::text AS state,
    NULL::text AS wait_event_type, NULL::text AS wait_event,
    NULL::float8 AS xact_age_s, NULL::float8 AS query_age_s, NULL::float8 AS state_age_s,
    NULL::int8 AS xmin_age, NULL::int4[] AS blocked_by, NULL::text AS query,
    coalesce(sum(total), 0)::int8 AS total,
    coalesce(sum(hidden), 0)::int8 AS hidden,
    coalesce(sum(active) FILTER (WHERE NOT me), 0)::int8 AS active,
    coalesce(sum(idle) FILTER (WHERE NOT me), 0)::int8 AS idle,
    coalesce(sum(idle_in_xact) FILTER (WHERE NOT me), 0)::int8 AS idle_in_xact,
    coalesce(sum(idle_in_xact_aborted) FILTER (WHERE NOT me), 0)::int8 AS idle_in_xact_aborted,
    coalesce(sum(waiting_on_lock) FILTER (WHERE NOT me), 0)::int8 AS waiting_on_lock,
    date_part('epoch', clock_timestamp() - min(oldest_xact) FILTER (WHERE NOT me)) AS longest_xact_s,
    date_part('epoch', clock_timestamp() - min(idle_in_xact_since) FILTER (WHERE NOT me)) AS idle_in_xact_max_s,
    NULL::text AS sync_state, NULL::float8 AS pending_bytes, NULL::float8 AS replay_bytes,
    NULL::float8 AS write_lag_s, NULL::float8 AS flush_lag_s, NULL::float8 AS replay_lag_s
FROM g
UNION ALL
(SELECT 1, NULL, NULL, NULL,
    coalesce(pg_get_userbyid(g.usesysid)::text, ''), g.application_name, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    g.total, NULL, g.active, g.idle, g.idle_in_xact + g.idle_in_xact_aborted, NULL, NULL, NULL,
    date_part('epoch', (SELECT clock_timestamp()) - g.idle_in_xact_since),
    NULL, NULL, NULL, NULL, NULL, NULL
 FROM g
 WHERE NOT g.me
 ORDER BY g.total DESC, 5, 6
 LIMIT 50)
UNION ALL
(SELECT 2, a.pid,
    (extract(epoch FROM a.backend_start) * 1000000)::int8,
    (extract(epoch FROM a.query_start) * 1000000)::int8,
    pg_get_userbyid(a.usesysid)::text, coalesce(a.application_name, ''), host(a.client_addr),
    d.datname::text, coalesce(a.backend_type, ''), a.state, a.wait_event_type, a.wait_event,
    date_part('epoch', (SELECT clock_timestamp()) - a.xact_start),
    date_part('epoch', (SELECT clock_timestamp()) - a.query_start),
    date_part('epoch', (SELECT clock_timestamp()) - a.state_change),
    age(a.backend_xmin)::int8,
    CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END,
    coalesce(a.query, ''),
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL
 FROM (SELECT * FROM a
       WHERE NOT me AND state IS NOT NULL AND state <> 'idle'
         AND coalesce(query, '') NOT LIKE '/* mastop */%'
       ORDER BY coalesce(xact_start, query_start) NULLS LAST
       LIMIT 200) a
 LEFT JOIN pg_database d ON d.oid = a.datid
 ORDER BY coalesce(a.xact_start, a.query_start) NULLS LAST)
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
    date_part('epoch', w.write_lag),
    date_part('epoch', w.flush_lag),
    date_part('epoch', w.replay_lag)
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
