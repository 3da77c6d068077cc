//! The exact SQL for cancelling or terminating a backend, for the guarded action pipeline
//! to run. Nothing here executes anything: these are pure builders and a pure judgement
//! of the live re-check.
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

/// Exactly one backend, as the operator saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub pid: i32,
    pub backend_start_us: i64,
    /// The query the operator chose; a cancel is refused once another one runs.
    pub query_start_us: Option<i64>,
}

impl Target {
    /// Reads a `pid:backend_start_us` row key from the activity or blocking view.
    pub fn from_key(key: &str, query_start_us: Option<i64>) -> Option<Target> {
        let (pid, start) = key.split_once(':')?;
        Some(Target {
            pid: pid.parse().ok()?,
            backend_start_us: start.parse().ok()?,
            query_start_us,
        })
    }
}

/// The live re-check. Parameters, sent as text and cast here: `$1` pid, `$2`
/// backend_start_us.
pub const RECHECK_SQL: &str = "/* mastop */ SELECT backend_type,
    (extract(epoch FROM query_start) * 1000000)::int8 AS query_start_us
FROM pg_stat_activity
WHERE pid = $1::int4 AND (extract(epoch FROM backend_start) * 1000000)::int8 = $2::int8";

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

/// What the re-check found for the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub backend_type: Option<String>,
    pub query_start_us: Option<i64>,
}

/// Why an action must not go ahead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No backend with that pid and start time: it ended (and the pid may be reused).
    Gone,
    /// Not a client session: autovacuum, walsender, background worker…
    NotClient(String),
    /// The chosen query finished; another one runs now.
    QueryChanged,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Gone => f.write_str("that session has ended; nothing was signalled"),
            Refusal::NotClient(kind) => write!(
                f,
                "pid belongs to a {kind}, not a client session; mastop only signals client sessions"
            ),
            Refusal::QueryChanged => f.write_str(
                "the query you chose has finished and another one is running; nothing was cancelled",
            ),
        }
    }
}

/// Judges the re-check row (`None` when it returned no row).
pub fn judge(signal: Signal, target: &Target, observed: Option<&Observed>) -> Result<(), Refusal> {
    let observed = observed.ok_or(Refusal::Gone)?;
    match observed.backend_type.as_deref() {
        Some("client backend") => {}
        Some(other) => return Err(Refusal::NotClient(other.to_string())),
        None => return Err(Refusal::NotClient("backend this role may not see".into())),
    }
    if signal == Signal::Cancel && observed.query_start_us != target.query_start_us {
        return Err(Refusal::QueryChanged);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            pid: 4242,
            backend_start_us: 1_700_000_000_123_456,
            query_start_us: Some(1_700_000_100_000_000),
        }
    }

    #[test]
    fn row_keys_parse_back_into_targets() {
        assert_eq!(
            Target::from_key("4242:1700000000123456", Some(1_700_000_100_000_000)),
            Some(target())
        );
        assert_eq!(Target::from_key("4242", None), None);
        assert_eq!(Target::from_key("x:1", None), None);
    }

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
        assert!(RECHECK_SQL.contains("pid = $1"));
    }

    #[test]
    fn the_recheck_refuses_stale_and_non_client_targets() {
        let t = target();
        let client = Observed {
            backend_type: Some("client backend".into()),
            query_start_us: t.query_start_us,
        };
        assert_eq!(judge(Signal::Cancel, &t, Some(&client)), Ok(()));
        assert_eq!(judge(Signal::Cancel, &t, None), Err(Refusal::Gone));
        let later = Observed {
            query_start_us: Some(1_700_000_200_000_000),
            ..client.clone()
        };
        assert_eq!(
            judge(Signal::Cancel, &t, Some(&later)),
            Err(Refusal::QueryChanged)
        );
        assert_eq!(judge(Signal::Terminate, &t, Some(&later)), Ok(()));
        let autovacuum = Observed {
            backend_type: Some("autovacuum worker".into()),
            ..client
        };
        assert_eq!(
            judge(Signal::Terminate, &t, Some(&autovacuum)),
            Err(Refusal::NotClient("autovacuum worker".into()))
        );
    }
}
