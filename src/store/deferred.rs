//! Connects to the shared ops store on first use rather than at start-up, so the console's
//! first frame never waits for it, and retries the connection on later calls if the
//! store was unreachable. Until it connects, every call fails with the reason, and the
//! pipeline refuses actions that need it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use super::PgStore;
use crate::actions::audit::AuditRecord;
use crate::actions::store::{Approval, Freeze, LockHeld, OpsStore, StoreResult};
use crate::config::{OpsStoreConfig, mask_url};

pub struct Deferred {
    config: OpsStoreConfig,
    store: OnceCell<Arc<PgStore>>,
}

impl Deferred {
    pub fn new(config: OpsStoreConfig) -> Self {
        Self {
            config,
            store: OnceCell::new(),
        }
    }

    async fn get(&self) -> StoreResult<&Arc<PgStore>> {
        self.store
            .get_or_try_init(|| async { PgStore::connect(&self.config).await.map(Arc::new) })
            .await
            .map_err(|e| format!("ops store unreachable: {e}"))
    }
}

impl OpsStore for Deferred {
    fn describe(&self) -> String {
        format!("ops store {}", mask_url(&self.config.url))
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn freeze(&self) -> BoxFuture<'_, StoreResult<Option<Freeze>>> {
        Box::pin(async move { self.get().await?.freeze().await })
    }

    fn set_freeze(&self, freeze: Option<Freeze>) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move { self.get().await?.set_freeze(freeze).await })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<Result<(), LockHeld>>> {
        Box::pin(async move { self.get().await?.try_lock(key, holder, ttl).await })
    }

    fn unlock<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.get().await?.unlock(key, holder).await })
    }

    fn last_run<'a>(
        &'a self,
        kind: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, StoreResult<Option<SystemTime>>> {
        Box::pin(async move { self.get().await?.last_run(kind, key).await })
    }

    fn record<'a>(&'a self, record: &'a AuditRecord) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.get().await?.record(record).await })
    }

    fn audit_since(
        &self,
        since: Option<SystemTime>,
        limit: usize,
    ) -> BoxFuture<'_, StoreResult<Vec<AuditRecord>>> {
        Box::pin(async move { self.get().await?.audit_since(since, limit).await })
    }

    fn request_approval<'a>(&'a self, approval: &'a Approval) -> BoxFuture<'a, StoreResult<()>> {
        Box::pin(async move { self.get().await?.request_approval(approval).await })
    }

    fn approval<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Approval>>> {
        Box::pin(async move { self.get().await?.approval(id).await })
    }

    fn approve<'a>(
        &'a self,
        id: &'a str,
        approver: &'a str,
        console: &'a str,
    ) -> BoxFuture<'a, StoreResult<Approval>> {
        Box::pin(async move { self.get().await?.approve(id, approver, console).await })
    }

    fn pending_approvals(&self) -> BoxFuture<'_, StoreResult<Vec<Approval>>> {
        Box::pin(async move { self.get().await?.pending_approvals().await })
    }
}
