//! The exact SQL for cancelling or terminating a backend, for the guarded action pipeline
//! to run. Nothing here executes anything.
//!
//! A pid alone is not a target: pids are reused, and the query the operator chose may have
//! finished while the confirmation dialog was open. So a target is the pid plus
//! `backend_start` (microseconds since the epoch, as in the activity view's row key) and,
//! for a cancel, `query_start`. The signalling statement repeats every condition in its
//! `WHERE`, so even a backend that changes between the re-check and the signal is left
//! alone, and it only ever touches client backends: never autovacuum (an anti-wraparound
//! run restarts from scratch), a walsender or a background worker.

/// What to do to the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Stop the running query; the session and its transaction state survive.
    Cancel,
    /// End the whole session.
    Terminate,
}

/// The signalling statement. It always answers one row, `outcome`, in words for the
/// operator: `pid N: cancel sent`, `pid N: terminated`, or why nothing was signalled
/// (the target no longer matches, or the server could not signal it). Parameters, sent as
/// text and cast here: `$1` pid, `$2` backend_start_us and, for a cancel only, `$3`
/// query_start_us.
///
/// The signal call sits inside an aggregate over the rows the `WHERE` keeps, so it runs
/// at most once, and only on a backend that still matches every condition.
pub fn signal_sql(signal: Signal, server_version_num: i32) -> String {
    let (call, query_clause, done, not_done) = match signal {
        Signal::Cancel => (
            "pg_cancel_backend(pid)",
            "\n  AND (extract(epoch FROM query_start) * 1000000)::int8 IS NOT DISTINCT FROM $3::int8",
            "cancel sent",
            "not signalled, the server could not signal the process",
        ),
        // PostgreSQL 14 can wait for the backend to exit, so the outcome is known.
        Signal::Terminate if server_version_num >= 140_000 => (
            "pg_terminate_backend(pid, 5000)",
            "",
            "terminated",
            "signalled, but the session had not exited after 5 s",
        ),
        Signal::Terminate => (
            "pg_terminate_backend(pid)",
            "",
            "terminate sent",
            "not signalled, the server could not signal the process",
        ),
    };
    let changed = match signal {
        Signal::Cancel => "that session or its query has ended",
        Signal::Terminate => "that session has ended",
    };
    format!(
        "/* mastop */ SELECT CASE
    WHEN count(*) = 0 THEN 'pid ' || $1::int4 || ': not signalled, {changed}'
    WHEN bool_and({call}) THEN 'pid ' || $1::int4 || ': {done}'
    ELSE 'pid ' || $1::int4 || ': {not_done}'
  END AS outcome
FROM pg_stat_activity
WHERE pid = $1::int4
  AND (extract(epoch FROM backend_start) * 1000000)::int8 = $2::int8{query_clause}
  AND backend_type = 'client backend'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_pin_the_backend_and_only_touch_clients() {
        let cancel = signal_sql(Signal::Cancel, 150_000);
        assert!(cancel.contains("pg_cancel_backend(pid)"));
        assert!(cancel.contains("IS NOT DISTINCT FROM $3"));
        let terminate = signal_sql(Signal::Terminate, 150_000);
        assert!(terminate.contains("pg_terminate_backend(pid, 5000)"));
        assert!(
            !terminate.contains("$3"),
            "a terminate ends the session whatever runs"
        );
        assert!(signal_sql(Signal::Terminate, 130_000).contains("pg_terminate_backend(pid)"));
        for sql in [&cancel, &terminate] {
            assert!(sql.contains("pid = $1"));
            assert!(sql.contains("::int8 = $2"));
            assert!(sql.contains("backend_type = 'client backend'"));
            assert!(sql.starts_with("/* mastop */"));
        }
    }
}
