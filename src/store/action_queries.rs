//! The statements behind locks and approvals, and the conversions between rows, records
//! and the RFC 3339 strings the store's types carry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

use super::failure::{CallResult, Failure};
use crate::actions::audit::AuditRecord;
use crate::actions::store::{Approval, LockHeld, StoreResult};

pub(super) const APPROVAL_COLUMNS: &str = "id, fingerprint, summary, requested_by, requested_console, requested_at, \
     approved_by, approved_console, approved_at, expires_at";

pub(super) async fn take_lock(
    c: &Client,
    key: &str,
    holder: &str,
    ttl: Duration,
) -> CallResult<Result<(), LockHeld>> {
    const STEP: &str = "take a lock";
    let ttl_s = ttl.as_secs_f64();
    // Another console may release or take the lock between the two statements; a few
    // rounds settle it either way.
    for _ in 0..3 {
        // Expiry is judged by the database's clock, the one clock all consoles share.
        let taken = c
            .query_typed_opt(
                "INSERT INTO mastop_locks AS l (key, holder, acquired_at, expires_at) \
                 VALUES ($1, $2, now(), now() + $3 * interval '1 second') \
                 ON CONFLICT (key) DO UPDATE SET \
                   holder = EXCLUDED.holder, \
                   acquired_at = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at >= now() \
                                      THEN l.acquired_at ELSE EXCLUDED.acquired_at END, \
                   expires_at = EXCLUDED.expires_at \
                 WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder \
                 RETURNING holder",
                &[
                    (&key, Type::TEXT),
                    (&holder, Type::TEXT),
                    (&ttl_s, Type::FLOAT8),
                ],
            )
            .await
            .map_err(|error| Failure::Driver { step: STEP, error })?;
        if taken.is_some() {
            return Ok(Ok(()));
        }
        let row = c
            .query_typed_opt(
                "SELECT holder, expires_at FROM mastop_locks WHERE key = $1",
                &[(&key, Type::TEXT)],
            )
            .await
            .map_err(|error| Failure::Driver { step: STEP, error })?;
        if let Some(row) = row {
            return Ok(Err(LockHeld {
                holder: get(&row, STEP, "holder")?,
                expires: rfc3339(get(&row, STEP, "expires_at")?),
            }));
        }
    }
    Err(Failure::Answer {
        step: STEP,
        detail: format!("the lock on {key} kept changing hands; try again"),
    })
}

pub(super) async fn read_approval(
    c: &Client,
    step: &'static str,
    id: &str,
) -> CallResult<Option<Approval>> {
    let sql = format!("SELECT {APPROVAL_COLUMNS} FROM mastop_approvals WHERE id = $1");
    let row = c
        .query_typed_opt(&sql, &[(&id, Type::TEXT)])
        .await
        .map_err(|error| Failure::Driver { step, error })?;
    row.map(|row| approval_from(&row, step)).transpose()
}

pub(super) async fn approve(
    c: &Client,
    id: &str,
    approver: &str,
    console: &str,
) -> CallResult<Approval> {
    const STEP: &str = "approve";
    // Requester and approver must differ by console and by person: one operator on two
    // consoles is still one pair of eyes.
    let sql = format!(
        "UPDATE mastop_approvals SET approved_by = $2, approved_console = $3, approved_at = now() \
         WHERE id = $1 AND approved_at IS NULL AND expires_at > now() \
           AND requested_console <> $3 AND requested_by <> $2 \
         RETURNING {APPROVAL_COLUMNS}"
    );
    let updated = c
        .query_typed_opt(
            &sql,
            &[
                (&id, Type::TEXT),
                (&approver, Type::TEXT),
                (&console, Type::TEXT),
            ],
        )
        .await
        .map_err(|error| Failure::Driver { step: STEP, error })?;
    if let Some(row) = updated {
        return approval_from(&row, STEP);
    }
    // Not approved now: find out why, for the operator.
    let row = c
        .query_typed_opt(
            &format!("SELECT {APPROVAL_COLUMNS}, expires_at <= now() AS expired FROM mastop_approvals WHERE id = $1"),
            &[(&id, Type::TEXT)],
        )
        .await
        .map_err(|error| Failure::Driver { step: STEP, error })?;
    let refuse = |detail: String| Err(Failure::Answer { step: STEP, detail });
    let Some(row) = row else {
        return refuse(format!("there is no approval request {id}"));
    };
    let approval = approval_from(&row, STEP)?;
    let expired: bool = get(&row, STEP, "expired")?;
    if approval.approved_by.as_deref() == Some(approver)
        && approval.approved_console.as_deref() == Some(console)
    {
        return Ok(approval);
    }
    if let Some(by) = &approval.approved_by {
        return refuse(format!("request {id} is already approved by {by}"));
    }
    if approval.requested_console == console || approval.requested_by == approver {
        return refuse(format!(
            "request {id} was made by {} on this console or by this operator — a second on-call person must approve it from their own console",
            approval.requested_by
        ));
    }
    if expired {
        return refuse(format!(
            "request {id} expired at {} — the requester must ask again",
            approval.expires
        ));
    }
    refuse(format!(
        "request {id} changed while approving it; try again"
    ))
}

pub(super) fn approval_from(row: &Row, step: &'static str) -> CallResult<Approval> {
    Ok(Approval {
        id: get(row, step, "id")?,
        fingerprint: get(row, step, "fingerprint")?,
        summary: get(row, step, "summary")?,
        requested_by: get(row, step, "requested_by")?,
        requested_console: get(row, step, "requested_console")?,
        requested_at: rfc3339(get(row, step, "requested_at")?),
        approved_by: get(row, step, "approved_by")?,
        approved_console: get(row, step, "approved_console")?,
        approved_at: get::<Option<SystemTime>>(row, step, "approved_at")?.map(rfc3339),
        expires: rfc3339(get(row, step, "expires_at")?),
    })
}

pub(super) fn get<T>(row: &Row, step: &'static str, column: &str) -> CallResult<T>
where
    T: for<'r> tokio_postgres::types::FromSql<'r>,
{
    row.try_get(column).map_err(|e| Failure::Answer {
        step,
        detail: format!(
            "unexpected value in column {column} ({e}) — was mastop's schema changed by hand?"
        ),
    })
}

/// RFC 3339 UTC with milliseconds, like every other time mastop writes. Times outside what
/// the format can spell (before 1970, after 9999) are clamped rather than trusted.
pub(super) fn rfc3339(time: SystemTime) -> String {
    const LAST: Duration = Duration::from_secs(253_402_300_799);
    let time = time.clamp(UNIX_EPOCH, UNIX_EPOCH + LAST);
    humantime::format_rfc3339_millis(time).to_string()
}

pub(super) fn parse_time(what: &str, text: &str) -> StoreResult<SystemTime> {
    humantime::parse_rfc3339_weak(text)
        .map_err(|e| format!("ops store: {what} `{text}` is not an RFC 3339 UTC time ({e})"))
}

/// PostgreSQL text (and jsonb) cannot hold NUL characters. They never belong in a record,
/// but one must not make the shared history refuse it, so they become U+FFFD.
pub(super) fn storable(record: &AuditRecord) -> StoreResult<AuditRecord> {
    fn scrub(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
            serde_json::Value::Array(items) => items.iter_mut().for_each(scrub),
            serde_json::Value::Object(map) => map.values_mut().for_each(scrub),
            _ => {}
        }
    }
    let encode =
        |e: serde_json::Error| format!("ops store: cannot encode audit record {}: {e}", record.id);
    let mut value = serde_json::to_value(record).map_err(encode)?;
    scrub(&mut value);
    serde_json::from_value(value).map_err(encode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_rfc3339_are_clamped_not_panicked_on() {
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000Z"
        );
        assert!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(400_000_000_000)).starts_with("9999-12-31")
        );
    }
}
