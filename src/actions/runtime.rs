//! What a running console needs to act: the pipeline, an executor per component (only
//! when the session may write), and the console-level operations (freeze, approve,
//! history) that are themselves guarded by role and audited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::action::{Check, Operation};
use super::audit::{AuditRecord, GuardDecision, Outcome, Phase, new_id, now_rfc3339};
use super::executor::{
    AlertmanagerExecutor, DemoExecutor, DemoLedger, Executor, HttpExecutor, PostgresExecutor,
    RedisExecutor, SshExecutor,
};
use super::{Action, Confirmation, Freeze, Pipeline, Role, RunResult};
use crate::config::Config;
use crate::model::ComponentId;

/// How often a console asks the store whether a second person has approved.
pub const APPROVAL_POLL: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Runtime {
    pub pipeline: Arc<Pipeline>,
    executors: HashMap<String, Arc<dyn Executor>>,
    /// In the demo every component is simulated and one executor acts for all of them.
    demo: Option<Arc<dyn Executor>>,
    /// HTTP requests (runbook steps and health gates) go to whatever URL they name.
    http: Option<Arc<dyn Executor>>,
    /// Read-only connections for browsing Sidekiq's sets and reading retry-all batches.
    pub sidekiq: Arc<crate::sources::sidekiq::Browser>,
    /// Runs `Operation::Ssh` on any configured host, whoever built the action.
    ssh: Option<Arc<dyn Executor>>,
}

impl Runtime {
    /// Executors are built only if the session holds a write capability: a shadow
    /// console ends up with none, and so cannot reach any backend's write path.
    pub fn new(pipeline: Pipeline, cfg: &Config, demo: Option<Arc<Mutex<DemoLedger>>>) -> Runtime {
        let mut executors: HashMap<String, Arc<dyn Executor>> = HashMap::new();
        let mut demo_executor: Option<Arc<dyn Executor>> = None;
        let mut http: Option<Arc<dyn Executor>> = None;
        let mut ssh: Option<Arc<dyn Executor>> = None;
        if let Some(write) = pipeline.session().write_capability() {
            http = Some(Arc::new(HttpExecutor::new(
                &write,
                cfg.runbooks.tls_ca.as_deref(),
            )));
            match demo {
                Some(ledger) => demo_executor = Some(Arc::new(DemoExecutor::new(&write, ledger))),
                None => {
                    ssh = Some(Arc::new(SshExecutor::new(&write, &cfg.hosts, &cfg.ssh)));
                    for ep in &cfg.postgres {
                        let id = ComponentId::new(crate::sources::postgres::KIND, &ep.name);
                        executors.insert(
                            id.to_string(),
                            Arc::new(PostgresExecutor::new(&write, ep.clone())),
                        );
                    }
                    for ep in &cfg.redis {
                        let id = ComponentId::new(crate::sources::redis::KIND, &ep.name);
                        executors.insert(
                            id.to_string(),
                            Arc::new(RedisExecutor::new(&write, ep.clone())),
                        );
                    }
                    for ep in &cfg.sidekiq {
                        let id = ComponentId::new(crate::sources::sidekiq::KIND, &ep.name);
                        executors.insert(
                            id.to_string(),
                            Arc::new(RedisExecutor::new(&write, ep.clone())),
                        );
                    }
                    for ep in &cfg.alertmanager {
                        let id = ComponentId::new(crate::sources::alertmanager::KIND, &ep.name);
                        executors.insert(
                            id.to_string(),
                            Arc::new(AlertmanagerExecutor::new(&write, ep)),
                        );
                    }
                }
            }
        }
        Runtime {
            pipeline: Arc::new(pipeline),
            executors,
            demo: demo_executor,
            http,
            sidekiq: Arc::new(crate::sources::sidekiq::Browser::new(cfg)),
            ssh,
        }
    }

    /// How long a console waits for a four-eyes approval before giving up.
    pub fn approval_wait(&self) -> std::time::Duration {
        self.pipeline.approval_ttl()
    }

    pub fn executor_for(&self, action: &Action) -> Option<Arc<dyn Executor>> {
        if self.demo.is_some() {
            return self.demo.clone();
        }
        let over_ssh = !action.operations.is_empty()
            && action
                .operations
                .iter()
                .all(|op| matches!(op, Operation::Ssh { .. }));
        if over_ssh {
            return self.ssh.clone();
        }
        let is_http = matches!(action.operations.first(), Some(Operation::Http { .. }))
            || matches!(action.precondition, Some(Check::Http { .. }));
        if is_http {
            return self.http.clone();
        }
        self.executors.get(&action.target.component).cloned()
    }

    /// Runs `action` through the pipeline. When it waits for a second person's approval
    /// and `wait` is given, asks the store every [`APPROVAL_POLL`] until it is approved or
    /// `wait` has passed, then runs it again, through every guard, with the same
    /// confirmation. `report` sees each result as it comes; the last one is returned (still
    /// awaiting approval when none came in time).
    pub async fn run_with_approval(
        &self,
        action: &Action,
        confirmation: Confirmation,
        approval: Option<&str>,
        wait: Option<std::time::Duration>,
        mut report: impl FnMut(&RunResult),
    ) -> RunResult {
        let executor = self.executor_for(action);
        let result = self
            .pipeline
            .run(action, confirmation.clone(), approval, executor.as_deref())
            .await;
        report(&result);
        let (Some(id), Some(wait)) = (result.awaiting_approval.clone(), wait) else {
            return result;
        };
        let until = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(APPROVAL_POLL).await;
            let approved = matches!(
                self.pipeline.store().approval(&id).await,
                Ok(Some(a)) if a.approved_by.is_some()
            );
            if approved {
                let result = self
                    .pipeline
                    .run(action, confirmation, Some(&id), executor.as_deref())
                    .await;
                report(&result);
                return result;
            }
        }
        result
    }

    /// Sets or lifts the global freeze. On-call only, and audited like any action.
    pub async fn set_freeze(&self, reason: Option<String>) -> Result<String, String> {
        let session = self.pipeline.session();
        let (kind, title) = match &reason {
            Some(r) => ("console.freeze", format!("Freeze all actions: {r}")),
            None => ("console.unfreeze", "Lift the freeze".to_string()),
        };
        if session.role != Role::Oncall {
            self.note(
                kind,
                &title,
                Outcome::Refused,
                Some("read-only: shadowing".into()),
            )
            .await;
            return Err("read-only: shadowing, only on-call can freeze or unfreeze".into());
        }
        let freeze = reason.map(|reason| Freeze {
            by: session.who(),
            reason,
            since: now_rfc3339(),
        });
        let result = self.pipeline.store().set_freeze(freeze).await;
        let outcome = if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Failed
        };
        self.note(kind, &title, outcome, result.as_ref().err().cloned())
            .await;
        result.map(|()| title)
    }

    /// Approves another console's critical action. On-call only, and audited.
    pub async fn approve(&self, id: &str) -> Result<String, String> {
        let session = self.pipeline.session();
        let title = format!("Approve {id}");
        if session.role != Role::Oncall {
            self.note(
                "console.approve",
                &title,
                Outcome::Refused,
                Some("read-only: shadowing".into()),
            )
            .await;
            return Err("read-only: shadowing, only on-call can approve".into());
        }
        let result = self
            .pipeline
            .store()
            .approve(id, &session.who(), &session.console_id)
            .await;
        let outcome = if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Refused
        };
        self.note(
            "console.approve",
            &title,
            outcome,
            result.as_ref().err().cloned(),
        )
        .await;
        result.map(|a| format!("approved {}: {}", a.id, a.summary))
    }

    /// Shows one item of private content (a raw query, a job's arguments) to on-call, after
    /// recording who revealed what (never the content itself). Shadow is refused, and the
    /// attempt recorded too.
    pub async fn reveal(
        &self,
        component: &str,
        table: &str,
        key: &str,
        content: Option<String>,
    ) -> Result<String, String> {
        let session = self.pipeline.session();
        let title = format!("Reveal private content: {component}, {table}, {key}");
        if session.role != Role::Oncall {
            self.note(
                "reveal",
                &title,
                Outcome::Refused,
                Some("read-only: shadowing".into()),
            )
            .await;
            return Err("read-only: shadowing, only on-call can reveal private content".into());
        }
        let Some(content) = content else {
            return Err("this row holds nothing private to reveal".into());
        };
        // Recorded before it is shown: if it cannot be recorded, it is not shown.
        self.note_durably("reveal", &title, Outcome::Ok)
            .await
            .map_err(|e| format!("not revealed: {e}"))?;
        Ok(content)
    }

    pub async fn freeze_state(&self) -> Result<Option<Freeze>, String> {
        self.pipeline.store().freeze().await
    }

    /// The history this console can see: the shared one with an ops store, else the local
    /// file. Oldest first.
    pub async fn history(
        &self,
        since: Option<SystemTime>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, String> {
        let store = self.pipeline.store();
        if store.is_shared() {
            return store.audit_since(since, limit).await;
        }
        let log = self.pipeline.audit_log().clone();
        let (mut records, _unreadable) = tokio::task::spawn_blocking(move || log.read_since(since))
            .await
            .map_err(|e| format!("audit reader failed: {e}"))??;
        let excess = records.len().saturating_sub(limit);
        records.drain(..excess);
        Ok(records)
    }

    /// Records a console-level operation (freeze, approve, reveal) in the audit history.
    async fn note(&self, kind: &str, title: &str, outcome: Outcome, error: Option<String>) {
        let _ = self.write_note(kind, title, outcome, error).await;
    }

    /// Like `note`, but fails when the local record could not be made durable.
    async fn note_durably(&self, kind: &str, title: &str, outcome: Outcome) -> Result<(), String> {
        self.write_note(kind, title, outcome, None).await
    }

    async fn write_note(
        &self,
        kind: &str,
        title: &str,
        outcome: Outcome,
        error: Option<String>,
    ) -> Result<(), String> {
        let session = self.pipeline.session();
        let record = AuditRecord {
            id: new_id(),
            action_id: new_id(),
            time: now_rfc3339(),
            phase: Phase::Outcome,
            operator: session.operator.clone(),
            tailscale_login: session.tailscale_login.clone(),
            console_host: session.console_host.clone(),
            console_id: session.console_id.clone(),
            role: session.role.word().into(),
            kind: kind.into(),
            title: title.into(),
            target: "all consoles".into(),
            target_key: "console".into(),
            risk: "low".into(),
            operations: vec![format!("ops store: {}", self.pipeline.store().describe())],
            guards: vec![GuardDecision {
                guard: "role".into(),
                passed: session.role == Role::Oncall,
                detail: session.role.word().into(),
            }],
            outcome: Some(outcome),
            duration_ms: None,
            error,
            result: None,
            runbook: None,
        };
        let log = self.pipeline.audit_log().clone();
        let local = record.clone();
        tokio::task::spawn_blocking(move || log.append(&local))
            .await
            .map_err(|e| format!("audit writer failed: {e}"))??;
        if self.pipeline.store().is_shared() {
            let _ = self.pipeline.store().record(&record).await;
        }
        Ok(())
    }
}
