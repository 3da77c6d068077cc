//! The one way anything is changed. Guards run in a fixed order and the first refusal ends
//! the run; every run, refused or not, leaves an audit record.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;

use super::action::{Action, Risk};
use super::audit::{
    AuditLog, AuditRecord, GuardDecision, Outcome, Phase, RunbookMark, new_id, now_rfc3339,
};
use super::executor::Executor;
use super::role::{Role, Session};
use super::store::{Approval, OpsStore};

/// What the operator did in the confirmation dialog.
#[derive(Clone, Debug, PartialEq)]
pub enum Confirmation {
    /// Nothing yet (preview).
    None,
    /// Chose Run (enough for low risk).
    Confirmed,
    /// Typed this text (high and critical risk need the target's name).
    Typed(String),
}

/// Guard decisions without executing anything.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub decisions: Vec<GuardDecision>,
    /// Exactly what would be sent, masked.
    pub operations: Vec<String>,
    /// Whether every guard that can be judged before confirmation passed.
    pub runnable: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    pub action_id: String,
    pub outcome: Outcome,
    /// One line for the operator.
    pub message: String,
    pub decisions: Vec<GuardDecision>,
    /// Set when a critical action is waiting for a second console: the approval's id.
    pub awaiting_approval: Option<String>,
}

pub struct Pipeline {
    session: Session,
    store: Arc<dyn OpsStore>,
    audit: AuditLog,
    lock_ttl: Duration,
    approval_ttl: Duration,
}

/// A store call that takes longer than this is treated as a failed call, so a hanging
/// store can delay an action, never freeze the console.
const STORE_DEADLINE: Duration = Duration::from_secs(10);

async fn bounded<T>(what: &str, call: BoxFuture<'_, Result<T, String>>) -> Result<T, String> {
    match tokio::time::timeout(STORE_DEADLINE, call).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{what}: the ops store gave no answer within {}s",
            STORE_DEADLINE.as_secs()
        )),
    }
}

impl Pipeline {
    pub fn new(
        session: Session,
        store: Arc<dyn OpsStore>,
        audit: AuditLog,
        lock_ttl: Duration,
        approval_ttl: Duration,
    ) -> Self {
        Self {
            session,
            store,
            audit,
            lock_ttl,
            approval_ttl,
        }
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn store(&self) -> &Arc<dyn OpsStore> {
        &self.store
    }

    pub fn approval_ttl(&self) -> Duration {
        self.approval_ttl
    }

    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// What would happen, without running anything. A shadow session contacts no backend;
    /// on-call re-checks the target read-only when it has an executor for it.
    pub async fn preview(&self, action: &Action, executor: Option<&dyn Executor>) -> Preview {
        let mut decisions = Vec::new();
        let mut runnable = true;
        let mut note = |guard: &str, passed: bool, detail: String| {
            runnable &= passed;
            decisions.push(GuardDecision {
                guard: guard.into(),
                passed,
                detail,
            });
        };
        match self.session.role {
            Role::Shadow => note(
                "role",
                false,
                "read-only: shadowing, this session can preview but never run".into(),
            ),
            Role::Oncall => note("role", true, format!("on-call: {}", self.session.who())),
        }
        match bounded("freeze", self.store.freeze()).await {
            Ok(None) => note("freeze", true, "no freeze".into()),
            Ok(Some(f)) => note(
                "freeze",
                false,
                format!("frozen by {} since {}: {}", f.by, f.since, f.reason),
            ),
            Err(e) => note("freeze", false, e),
        }
        if self.session.role == Role::Oncall {
            match (executor, &action.precondition) {
                (Some(exec), Some(_)) => {
                    match tokio::time::timeout(action.deadline, exec.recheck(action)).await {
                        Ok(Ok(detail)) => note("precondition", true, detail),
                        Ok(Err(e)) => note("precondition", false, e),
                        Err(_) => note(
                            "precondition",
                            false,
                            "the target did not answer in time".into(),
                        ),
                    }
                }
                (None, Some(_)) => note(
                    "precondition",
                    false,
                    "no executor for this component".into(),
                ),
                (_, None) => note("precondition", true, "nothing to re-check".into()),
            }
        }
        let needs = match action.risk {
            Risk::Low => "choose Run".to_string(),
            Risk::High => format!("type `{}`", action.target.name),
            Risk::Critical => format!(
                "type `{}`, then a second on-call console approves",
                action.target.name
            ),
        };
        decisions.push(GuardDecision {
            guard: "confirm".into(),
            passed: true,
            detail: needs,
        });
        if action.risk == Risk::Critical && !self.store.is_shared() {
            runnable = false;
            decisions.push(GuardDecision {
                guard: "four-eyes".into(),
                passed: false,
                detail: "needs a shared ops store ([ops_store] in the config)".into(),
            });
        }
        if let Ok(Some(last)) = bounded(
            "cooldown",
            self.store.last_run(&action.kind, &action.target.lock_key()),
        )
        .await
        {
            let since = SystemTime::now().duration_since(last).unwrap_or_default();
            if since < action.cooldown {
                runnable = false;
                decisions.push(GuardDecision {
                    guard: "cooldown".into(),
                    passed: false,
                    detail: format!(
                        "ran {} ago; wait {}",
                        secs(since),
                        secs(action.cooldown - since)
                    ),
                });
            }
        }
        Preview {
            decisions,
            operations: action.operations.iter().map(|o| o.display()).collect(),
            runnable,
        }
    }

    /// Runs the guards, then the action. `approval` names a four-eyes approval granted by
    /// another console (critical actions); without one a request is filed and its id
    /// returned in `awaiting_approval`.
    pub async fn run(
        &self,
        action: &Action,
        confirmation: Confirmation,
        approval: Option<&str>,
        executor: Option<&dyn Executor>,
    ) -> RunResult {
        self.run_marked(action, confirmation, approval, executor, None)
            .await
    }

    /// Like [`Pipeline::run`], for one step of a runbook run: every record carries `mark`.
    pub async fn run_marked(
        &self,
        action: &Action,
        confirmation: Confirmation,
        approval: Option<&str>,
        executor: Option<&dyn Executor>,
        mark: Option<&RunbookMark>,
    ) -> RunResult {
        let action_id = new_id();
        let mut run = Run {
            pipeline: self,
            action,
            action_id: action_id.clone(),
            decisions: Vec::new(),
            mark,
        };

        // 1. role and capability: a shadow session never has an executor, and stops here.
        if self.session.role != Role::Oncall {
            return run
                .refuse(
                    "role",
                    "read-only: shadowing, this session cannot run actions".into(),
                )
                .await;
        }
        let Some(executor) = executor else {
            return run
                .refuse(
                    "role",
                    format!("no executor can act on {}", action.target.component),
                )
                .await;
        };
        run.pass("role", format!("on-call: {}", self.session.who()));

        // 2. freeze
        match bounded("freeze", self.store.freeze()).await {
            Ok(None) => run.pass("freeze", "no freeze".into()),
            Ok(Some(f)) => {
                return run
                    .refuse(
                        "freeze",
                        format!("frozen by {} since {}: {}", f.by, f.since, f.reason),
                    )
                    .await;
            }
            Err(e) => {
                return run
                    .refuse("freeze", format!("cannot read the freeze state: {e}"))
                    .await;
            }
        }

        // 3. the target is still the object the operator chose
        if action.precondition.is_some() {
            match tokio::time::timeout(action.deadline, executor.recheck(action)).await {
                Ok(Ok(detail)) => run.pass("precondition", detail),
                Ok(Err(e)) => return run.refuse("precondition", e).await,
                Err(_) => {
                    return run
                        .refuse(
                            "precondition",
                            "the target did not answer the re-check in time".into(),
                        )
                        .await;
                }
            }
        }

        // 4. confirmation, and four-eyes for critical actions
        match (action.risk, &confirmation) {
            (Risk::Low, Confirmation::Confirmed | Confirmation::Typed(_)) => {
                run.pass("confirm", "confirmed".into())
            }
            (_, Confirmation::Typed(typed)) if *typed == action.target.name => {
                run.pass("confirm", format!("typed `{typed}`"));
            }
            (_, Confirmation::Typed(typed)) => {
                return run
                    .refuse(
                        "confirm",
                        format!(
                            "typed `{typed}`, but this needs the target's name `{}`",
                            action.target.name
                        ),
                    )
                    .await;
            }
            (risk, _) => {
                return run
                    .refuse(
                        "confirm",
                        format!("a {} risk action needs confirmation", risk.word()),
                    )
                    .await;
            }
        }
        if action.risk == Risk::Critical {
            match self.four_eyes(action, approval).await {
                Ok(detail) => run.pass("four-eyes", detail),
                Err(FourEyes::Requested(id)) => {
                    let mut result = run
                        .refuse(
                            "four-eyes",
                            format!("approval {id} requested: a second on-call console runs `mastop approve {id}`"),
                        )
                        .await;
                    result.awaiting_approval = Some(id);
                    return result;
                }
                Err(FourEyes::Refused(e)) => return run.refuse("four-eyes", e).await,
            }
        }

        // 5. one console at a time on a target
        let key = action.target.lock_key();
        match bounded(
            "lock",
            self.store
                .try_lock(&key, &self.session.console_id, self.lock_ttl),
        )
        .await
        {
            Ok(Ok(())) => run.pass("lock", format!("holding {key}")),
            Ok(Err(held)) => {
                return run
                    .refuse(
                        "lock",
                        format!(
                            "{key} is locked by {} (until {})",
                            held.holder, held.expires
                        ),
                    )
                    .await;
            }
            Err(e) => {
                return run
                    .refuse("lock", format!("cannot take the lock: {e}"))
                    .await;
            }
        }
        let result = self.locked(&mut run, executor).await;
        if let Err(e) = bounded("unlock", self.store.unlock(&key, &self.session.console_id)).await {
            tracing::warn!(%key, error = %e, "could not release lock; it lapses at its expiry");
        }
        result
    }

    /// Steps 6 to 10, with the target's lock held.
    async fn locked(&self, run: &mut Run<'_>, executor: &dyn Executor) -> RunResult {
        let action = run.action;
        // 6. cooldown
        match bounded(
            "cooldown",
            self.store.last_run(&action.kind, &action.target.lock_key()),
        )
        .await
        {
            Ok(Some(last)) => {
                let since = SystemTime::now().duration_since(last).unwrap_or_default();
                if since < action.cooldown {
                    return run
                        .refuse(
                            "cooldown",
                            format!(
                                "ran {} ago; wait {}",
                                secs(since),
                                secs(action.cooldown - since)
                            ),
                        )
                        .await;
                }
                run.pass("cooldown", format!("last run {} ago", secs(since)));
            }
            Ok(None) => run.pass("cooldown", "not run before".into()),
            Err(e) => {
                return run
                    .refuse("cooldown", format!("cannot read the last run: {e}"))
                    .await;
            }
        }

        // 7. intent, durably, before the first mutating byte
        let intent = run.record(Phase::Intent, None, None, None, None);
        if let Err(e) = self.write_local(intent.clone()).await {
            return run.refuse_unaudited(
                "audit",
                format!("intent not recorded, nothing was run: {e}"),
            );
        }
        if self.store.is_shared()
            && let Err(e) = bounded("audit", self.store.record(&intent)).await
        {
            return run
                .refuse(
                    "audit",
                    format!("shared audit unavailable, nothing was run: {e}"),
                )
                .await;
        }

        // 8. execute within the deadline
        let started = Instant::now();
        let (outcome, result, error) =
            match tokio::time::timeout(action.deadline, executor.execute(action)).await {
                Ok(Ok(result)) => (Outcome::Ok, Some(result), None),
                Ok(Err(e)) => (Outcome::Failed, None, Some(e)),
                Err(_) => (
                    Outcome::Aborted,
                    None,
                    Some(format!(
                        "no answer within {}; the operation may still complete on the server",
                        secs(action.deadline)
                    )),
                ),
            };
        let took = started.elapsed();

        // 9. outcome
        let record = run.record(
            Phase::Outcome,
            Some(outcome),
            Some(took),
            error.clone(),
            result.clone(),
        );
        let mut audit_problem = None;
        if let Err(e) = self.write_local(record.clone()).await {
            audit_problem = Some(e);
        }
        if self.store.is_shared()
            && let Err(e) = bounded("audit", self.store.record(&record)).await
        {
            audit_problem = Some(e);
        }

        // 10. tell the operator
        let mut message = match (outcome, &result, &error) {
            (Outcome::Ok, Some(r), _) => format!("{}: done ({r})", action.title),
            (_, _, Some(e)) => format!("{}: {} ({e})", action.title, outcome.word()),
            _ => format!("{}: {}", action.title, outcome.word()),
        };
        if let Some(e) = audit_problem {
            message.push_str(&format!("; outcome not fully recorded: {e}"));
        }
        RunResult {
            action_id: run.action_id.clone(),
            outcome,
            message,
            decisions: run.decisions.clone(),
            awaiting_approval: None,
        }
    }

    async fn write_local(&self, record: AuditRecord) -> Result<(), String> {
        let log = self.audit.clone();
        tokio::task::spawn_blocking(move || log.append(&record))
            .await
            .map_err(|e| format!("audit writer failed: {e}"))?
    }

    async fn four_eyes(&self, action: &Action, approval: Option<&str>) -> Result<String, FourEyes> {
        if !self.store.is_shared() {
            return Err(FourEyes::Refused(
                "four-eyes approval needs a shared ops store ([ops_store] in the config)".into(),
            ));
        }
        let fingerprint = fingerprint(action);
        let Some(id) = approval else {
            let now = SystemTime::now();
            let request = Approval {
                id: new_id(),
                fingerprint,
                summary: format!(
                    "{} · {} · {}",
                    action.title,
                    action.target,
                    action.risk.word()
                ),
                requested_by: self.session.who(),
                requested_console: self.session.console_id.clone(),
                requested_at: now_rfc3339(),
                approved_by: None,
                approved_console: None,
                approved_at: None,
                expires: humantime::format_rfc3339_millis(now + self.approval_ttl).to_string(),
            };
            return match bounded("approval", self.store.request_approval(&request)).await {
                Ok(()) => Err(FourEyes::Requested(request.id)),
                Err(e) => Err(FourEyes::Refused(format!(
                    "cannot file the approval request: {e}"
                ))),
            };
        };
        let found = bounded("approval", self.store.approval(id))
            .await
            .map_err(FourEyes::Refused)?;
        let Some(found) = found else {
            return Err(FourEyes::Refused(format!("there is no approval {id}")));
        };
        if found.fingerprint != fingerprint {
            return Err(FourEyes::Refused(format!(
                "approval {id} was given for a different action"
            )));
        }
        let expired =
            humantime::parse_rfc3339(&found.expires).map_or(true, |t| t < SystemTime::now());
        if expired {
            return Err(FourEyes::Refused(format!(
                "approval {id} has expired; request a new one"
            )));
        }
        match (&found.approved_by, &found.approved_console) {
            (Some(by), Some(console)) if *console != self.session.console_id => {
                Ok(format!("approved by {by}"))
            }
            (Some(_), _) => Err(FourEyes::Refused(
                "an action cannot be approved from the console that asked".into(),
            )),
            (None, _) => Err(FourEyes::Refused(format!(
                "approval {id} is still waiting for a second console"
            ))),
        }
    }
}

enum FourEyes {
    Requested(String),
    Refused(String),
}

/// Identifies an action exactly: an approval for one action cannot be spent on another.
pub fn fingerprint(action: &Action) -> String {
    let ops: Vec<String> = action.operations.iter().map(|o| o.display()).collect();
    let text = format!(
        "{}\u{0}{}\u{0}{:?}\u{0}{}",
        action.kind,
        action.target.lock_key(),
        action.target.identity,
        ops.join("\u{0}")
    );
    // FNV-1a: stable across processes and versions, unlike the std hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

fn secs(d: Duration) -> String {
    crate::model::figure::format_duration_secs(d.as_secs_f64().ceil())
}

/// One run's bookkeeping: the decisions so far and how to record them.
struct Run<'a> {
    pipeline: &'a Pipeline,
    action: &'a Action,
    action_id: String,
    decisions: Vec<GuardDecision>,
    mark: Option<&'a RunbookMark>,
}

impl Run<'_> {
    fn pass(&mut self, guard: &str, detail: String) {
        self.decisions.push(GuardDecision {
            guard: guard.into(),
            passed: true,
            detail,
        });
    }

    /// Ends the run at a guard: audited (local file, and the shared store if there is one),
    /// nothing executed.
    async fn refuse(&mut self, guard: &str, detail: String) -> RunResult {
        self.decisions.push(GuardDecision {
            guard: guard.into(),
            passed: false,
            detail: detail.clone(),
        });
        let record = self.record(
            Phase::Outcome,
            Some(Outcome::Refused),
            None,
            Some(detail.clone()),
            None,
        );
        let mut message = format!("refused by {guard}: {detail}");
        if let Err(e) = self.pipeline.write_local(record.clone()).await {
            message.push_str(&format!(" (and the refusal could not be recorded: {e})"));
        }
        if self.pipeline.store.is_shared() && guard != "audit" {
            let _ = bounded("audit", self.pipeline.store.record(&record)).await;
        }
        self.result(Outcome::Refused, message)
    }

    /// A refusal that cannot be recorded, because recording is what failed.
    fn refuse_unaudited(&mut self, guard: &str, detail: String) -> RunResult {
        self.decisions.push(GuardDecision {
            guard: guard.into(),
            passed: false,
            detail: detail.clone(),
        });
        self.result(Outcome::Refused, format!("refused by {guard}: {detail}"))
    }

    fn result(&self, outcome: Outcome, message: String) -> RunResult {
        RunResult {
            action_id: self.action_id.clone(),
            outcome,
            message,
            decisions: self.decisions.clone(),
            awaiting_approval: None,
        }
    }

    fn record(
        &self,
        phase: Phase,
        outcome: Option<Outcome>,
        took: Option<Duration>,
        error: Option<String>,
        result: Option<String>,
    ) -> AuditRecord {
        let session = &self.pipeline.session;
        let action = self.action;
        AuditRecord {
            id: new_id(),
            action_id: self.action_id.clone(),
            time: now_rfc3339(),
            phase,
            operator: session.operator.clone(),
            tailscale_login: session.tailscale_login.clone(),
            console_host: session.console_host.clone(),
            console_id: session.console_id.clone(),
            role: session.role.word().into(),
            kind: action.kind.clone(),
            title: action.title.clone(),
            target: action.target.to_string(),
            target_key: action.target.lock_key(),
            risk: action.risk.word().into(),
            operations: action.operations.iter().map(|o| o.display()).collect(),
            guards: self.decisions.clone(),
            outcome,
            duration_ms: took.map(|d| d.as_millis() as u64),
            error,
            result,
            runbook: self.mark.cloned(),
        }
    }
}
