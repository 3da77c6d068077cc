//! A console for action tests: a runtime with a local store and its own audit file in a
//! temp dir, and the confirmation an operator would give in the dialog.

use std::sync::Arc;
use std::time::Duration;

use mastop::actions::audit::AuditLog;
use mastop::actions::runtime::Runtime;
use mastop::actions::store::local::LocalStore;
use mastop::actions::{Action, Confirmation, Pipeline, Risk, Role, RunResult, Session};
use mastop::config::Config;

/// Longer than any action under test may take; a bound against hangs, not a timing claim.
const ACTION_HANG_GUARD: Duration = Duration::from_secs(60);

pub struct Console {
    pub runtime: Runtime,
    pub audit: AuditLog,
    _dir: tempfile::TempDir,
}

impl Console {
    /// A console of `role` for the endpoints in `cfg`, auditing to its own temp file, or to
    /// `audit_path` when given (e.g. `/dev/full`).
    pub fn new(role: Role, cfg: &Config, audit_path: Option<&str>) -> Console {
        let dir = tempfile::tempdir().expect("tempdir");
        let audit =
            AuditLog::new(audit_path.map_or_else(|| dir.path().join("audit.jsonl"), Into::into));
        let store = Arc::new(LocalStore::new(dir.path().join("state"), audit.clone()));
        let session = Session::current(Some(role), false);
        let pipeline = Pipeline::new(
            session,
            store,
            audit.clone(),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        Console {
            runtime: Runtime::new(pipeline, cfg, None),
            audit,
            _dir: dir,
        }
    }
}

/// What the operator does in the dialog: Run for low risk, the target's name otherwise.
pub fn confirmed(a: &Action) -> Confirmation {
    match a.risk {
        Risk::Low => Confirmation::Confirmed,
        _ => Confirmation::Typed(a.target.name.clone()),
    }
}

pub async fn run_with(c: &Console, a: &Action, confirmation: Confirmation) -> RunResult {
    let executor = c.runtime.executor_for(a);
    tokio::time::timeout(
        ACTION_HANG_GUARD,
        c.runtime
            .pipeline
            .run(a, confirmation, None, executor.as_deref()),
    )
    .await
    .expect("the action hung past the hang guard")
}

pub async fn run(c: &Console, a: &Action) -> RunResult {
    run_with(c, a, confirmed(a)).await
}
