//! Where consoles share state: locks on targets, the global freeze, four-eyes approvals,
//! cooldowns and the shared audit history. Without an `[ops_store]` it is local to this
//! machine; with one it is the shared ops store (`crate::store`) that every console in
//! every region uses.

pub mod local;

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::audit::AuditRecord;

/// A global stop on all actions, for maintenance or during a handoff.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Freeze {
    pub by: String,
    pub reason: String,
    /// RFC 3339 UTC.
    pub since: String,
}

/// Someone else holds the lock on a target.
#[derive(Clone, Debug, PartialEq)]
pub struct LockHeld {
    pub holder: String,
    /// RFC 3339 UTC; after it a crashed holder's lock lapses.
    pub expires: String,
}

/// A critical action waiting for a second on-call console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    /// Identifies the exact action (kind, target, operations) so an approval cannot be
    /// reused for a different one.
    pub fingerprint: String,
    pub summary: String,
    pub requested_by: String,
    pub requested_console: String,
    pub requested_at: String,
    pub approved_by: Option<String>,
    pub approved_console: Option<String>,
    pub approved_at: Option<String>,
    /// RFC 3339 UTC; an approval not used by then is void.
    pub expires: String,
}

pub type StoreResult<T> = Result<T, String>;

pub trait OpsStore: Send + Sync {
    /// For people: "local (this machine)" or "ops store postgres://…@ops-db/mastop".
    fn describe(&self) -> String;

    /// Whether other consoles see what this store holds (needed for four-eyes).
    fn is_shared(&self) -> bool;

    fn freeze(&self) -> BoxFuture<'_, StoreResult<Option<Freeze>>>;

    /// Sets (`Some`) or lifts (`None`) the freeze.
    fn set_freeze(&self, freeze: Option<Freeze>) -> BoxFuture<'_, StoreResult<()>>;

    /// Takes the lock on `key` for `holder` unless someone else holds an unexpired one.
    /// Taking a lock one already holds renews it.
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<Result<(), LockHeld>>>;

    fn unlock<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, StoreResult<()>>;

    /// When an action of `kind` last ran (intent recorded) on `key`, for cooldowns.
    fn last_run<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SystemTime>>>;

    /// Adds a record to the shared history (the local file is written separately, always).
    fn record<'a>(&'a self, record: &'a AuditRecord) -> BoxFuture<'a, StoreResult<()>>;

    /// Shared history since `since`, oldest first, at most `limit` records.
    fn audit_since(
        &self,
        since: Option<SystemTime>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<AuditRecord>>>;

    fn request_approval<'a>(&'a self, approval: &'a Approval) -> BoxFuture<'a, StoreResult<()>>;

    fn approval<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Approval>>>;

    /// Records `approver` (on `console`) as approving `id`. Refuses the requesting console
    /// itself and expired requests.
    fn approve<'a>(
        &'a self,
        id: &'a str,
        approver: &'a str,
        console: &'a str,
    ) -> BoxFuture<'a, StoreResult<Approval>>;

    fn pending_approvals(&self) -> BoxFuture<'_, StoreResult<Vec<Approval>>>;
}
