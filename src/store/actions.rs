//! Locks, the freeze, four-eyes approvals and the shared audit history in the ops store:
//! the actions pipeline's side of the shared database.

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use tokio_postgres::types::{ToSql, Type};

use super::PgStore;
use super::action_queries::{
    APPROVAL_COLUMNS, approval_from, approve, get, parse_time, read_approval, rfc3339, storable,
    take_lock,
};
use super::failure::Failure;
use crate::actions::audit::{AuditRecord, Phase};
use crate::actions::store::{Approval, Freeze, LockHeld, OpsStore, StoreResult};

impl OpsStore for PgStore {
    fn describe(&self) -> String {
        format!("ops store {}", self.target.url)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn freeze(&self) -> BoxFuture<'_, StoreResult<Option<Freeze>>> {
        Box::pin(self.call("read the freeze", |c| async move {
            const STEP: &str = "read the freeze";
            let row = c
                .query_typed_opt("SELECT frozen_by, reason, since FROM mastop_freeze", &[])
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            row.map(|row| {
                Ok(Freeze {
                    by: get(&row, STEP, "frozen_by")?,
                    reason: get(&row, STEP, "reason")?,
                    since: rfc3339(get(&row, STEP, "since")?),
                })
            })
            .transpose()
        }))
    }

    fn set_freeze(&self, freeze: Option<Freeze>) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            let Some(freeze) = freeze else {
                return self
                    .call("lift the freeze", |c| async move {
                        c.query_typed("DELETE FROM mastop_freeze", &[])
                            .await
                            .map(drop)
                            .map_err(|error| Failure::Driver {
                                step: "lift the freeze",
                                error,
                            })
                    })
                    .await;
            };
            let since = parse_time("freeze since", &freeze.since)?;
            let freeze = &freeze;
            self.call("set the freeze", |c| async move {
                c.query_typed(
                    "INSERT INTO mastop_freeze (singleton, frozen_by, reason, since) VALUES (true, $1, $2, $3) \
                     ON CONFLICT (singleton) DO UPDATE \
                     SET frozen_by = EXCLUDED.frozen_by, reason = EXCLUDED.reason, since = EXCLUDED.since",
                    &[(&freeze.by, Type::TEXT), (&freeze.reason, Type::TEXT), (&since, Type::TIMESTAMPTZ)],
                )
                .await
                .map(drop)
                .map_err(|error| Failure::Driver { step: "set the freeze", error })
            })
            .await
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<Result<(), LockHeld>>> {
        Box::pin(self.call("take a lock", move |c| async move {
            take_lock(&c, key, holder, ttl).await
        }))
    }

    fn unlock<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(self.call("release a lock", move |c| async move {
            // Only the holder's own row: a lock that lapsed and was taken by another
            // console stays theirs.
            c.query_typed(
                "DELETE FROM mastop_locks WHERE key = $1 AND holder = $2",
                &[(&key, Type::TEXT), (&holder, Type::TEXT)],
            )
            .await
            .map(drop)
            .map_err(|error| Failure::Driver {
                step: "release a lock",
                error,
            })
        }))
    }

    fn last_run<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SystemTime>>> {
        Box::pin(self.call("read when the action last ran", move |c| async move {
            const STEP: &str = "read when the action last ran";
            let row = c
                .query_typed_one(
                    "SELECT max(time) AS last FROM mastop_audit WHERE kind = $1 AND target_key = $2 AND phase = 'intent'",
                    &[(&kind, Type::TEXT), (&key, Type::TEXT)],
                )
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            get::<Option<SystemTime>>(&row, STEP, "last")
        }))
    }

    fn record<'a>(&'a self, record: &'a AuditRecord) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let record = storable(record)?;
            let Some(time) = record.at() else {
                return Err(format!(
                    "ops store: audit record {} has a time that is not RFC 3339 UTC: {}",
                    record.id, record.time
                ));
            };
            let json = serde_json::to_string(&record)
                .map_err(|e| format!("ops store: cannot encode audit record {}: {e}", record.id))?;
            let phase = match record.phase {
                Phase::Intent => "intent",
                Phase::Outcome => "outcome",
            };
            let (record, json) = (&record, &json);
            self.call("write the shared audit history", move |c| async move {
                let r = record;
                let params: [(&(dyn ToSql + Sync), Type); 13] = [
                    (&r.id, Type::TEXT),
                    (&r.action_id, Type::TEXT),
                    (&time, Type::TIMESTAMPTZ),
                    (&phase, Type::TEXT),
                    (&r.operator, Type::TEXT),
                    (&r.console_host, Type::TEXT),
                    (&r.console_id, Type::TEXT),
                    (&r.role, Type::TEXT),
                    (&r.kind, Type::TEXT),
                    (&r.target, Type::TEXT),
                    (&r.target_key, Type::TEXT),
                    (&r.risk, Type::TEXT),
                    (json, Type::TEXT),
                ];
                // Idempotent, so a call retried after a lost answer does not fail.
                c.query_typed(
                    "INSERT INTO mastop_audit \
                     (id, action_id, time, phase, operator, console_host, console_id, role, kind, target, target_key, risk, record) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb) \
                     ON CONFLICT (id) DO NOTHING",
                    &params,
                )
                .await
                .map(drop)
                .map_err(|error| Failure::Driver { step: "write the shared audit history", error })
            })
            .await
        })
    }

    fn audit_since(
        &self,
        since: Option<SystemTime>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<AuditRecord>>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Box::pin(self.call("read the shared audit history", move |c| async move {
            const STEP: &str = "read the shared audit history";
            let rows = c
                .query_typed(
                    "SELECT record::text AS record FROM mastop_audit \
                     WHERE $1::timestamptz IS NULL OR time >= $1 \
                     ORDER BY time, id LIMIT $2",
                    &[(&since, Type::TIMESTAMPTZ), (&limit, Type::INT8)],
                )
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            rows.iter()
                .map(|row| {
                    let text: String = get(row, STEP, "record")?;
                    serde_json::from_str(&text).map_err(|e| Failure::Answer {
                        step: STEP,
                        detail: format!("a record is not one this mastop can read ({e}) — is a newer mastop writing here?"),
                    })
                })
                .collect()
        }))
    }

    fn request_approval<'a>(&'a self, approval: &'a Approval) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move {
            let requested_at = parse_time("approval requested_at", &approval.requested_at)?;
            let expires = parse_time("approval expires", &approval.expires)?;
            self.call("request an approval", move |c| async move {
                const STEP: &str = "request an approval";
                let a = approval;
                let inserted = c
                    .query_typed_opt(
                        "INSERT INTO mastop_approvals \
                         (id, fingerprint, summary, requested_by, requested_console, requested_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING id",
                        &[
                            (&a.id, Type::TEXT),
                            (&a.fingerprint, Type::TEXT),
                            (&a.summary, Type::TEXT),
                            (&a.requested_by, Type::TEXT),
                            (&a.requested_console, Type::TEXT),
                            (&requested_at, Type::TIMESTAMPTZ),
                            (&expires, Type::TIMESTAMPTZ),
                        ],
                    )
                    .await
                    .map_err(|error| Failure::Driver { step: STEP, error })?;
                if inserted.is_some() {
                    return Ok(());
                }
                // The id exists: fine if it is this very request again (a retried call).
                match read_approval(&c, STEP, &a.id).await? {
                    Some(existing)
                        if existing.fingerprint == a.fingerprint && existing.requested_console == a.requested_console =>
                    {
                        Ok(())
                    }
                    _ => Err(Failure::Answer {
                        step: STEP,
                        detail: format!("approval id {} is already used by another request", a.id),
                    }),
                }
            })
            .await
        })
    }

    fn approval<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Approval>>> {
        Box::pin(self.call("read an approval", move |c| async move {
            read_approval(&c, "read an approval", id).await
        }))
    }

    fn approve<'a>(
        &'a self,
        id: &'a str,
        approver: &'a str,
        console: &'a str,
    ) -> BoxFuture<'a, StoreResult<Approval>> {
        Box::pin(self.call("approve", move |c| async move {
            approve(&c, id, approver, console).await
        }))
    }

    fn pending_approvals(&self) -> BoxFuture<'_, StoreResult<Vec<Approval>>> {
        Box::pin(self.call("list pending approvals", |c| async move {
            const STEP: &str = "list pending approvals";
            let sql = format!(
                "SELECT {APPROVAL_COLUMNS} FROM mastop_approvals \
                 WHERE approved_at IS NULL AND expires_at > now() ORDER BY requested_at, id"
            );
            let rows = c
                .query_typed(&sql, &[])
                .await
                .map_err(|error| Failure::Driver { step: STEP, error })?;
            rows.iter().map(|row| approval_from(row, STEP)).collect()
        }))
    }
}
