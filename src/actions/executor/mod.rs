//! Executors carry out an action's exact operations on one backend. Each is built from a
//! [`WriteCapability`], which only an on-call session can produce.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::action::{Action, Check, Operation};
use super::role::WriteCapability;

pub trait Executor: Send + Sync {
    /// Asks live state whether the target is still the object the operator chose; changes
    /// nothing. `Ok` carries what was found, for the audit record.
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>>;

    /// Performs the operations, in order, stopping at the first failure.
    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>>;
}

/// What the demo's simulated fleet has had done to it, newest last.
#[derive(Debug, Default)]
pub struct DemoLedger {
    pub done: Vec<(std::time::SystemTime, String)>,
    /// Silences made in the demo's simulated Alertmanager (never a real one).
    pub silences: Vec<crate::model::alerts::Silence>,
}

/// Acts on the simulation: records what was done, and takes as long as the operation
/// says, so a newcomer sees locks and progress exactly as with real backends.
pub struct DemoExecutor {
    ledger: Arc<Mutex<DemoLedger>>,
    _write: WriteCapability,
}

impl DemoExecutor {
    pub fn new(write: &WriteCapability, ledger: Arc<Mutex<DemoLedger>>) -> Self {
        Self {
            ledger,
            _write: write.clone(),
        }
    }
}

impl Executor for DemoExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            match &action.precondition {
                Some(Check::Simulated { description }) => Ok(format!("{description}: still true")),
                Some(Check::SilenceLive { id }) => {
                    let live = self.ledger.lock().is_ok_and(|l| {
                        simulated_alertmanager::is_live(
                            &l.silences,
                            id,
                            std::time::SystemTime::now(),
                        )
                    });
                    if live {
                        Ok(format!("silence {id} is still live"))
                    } else {
                        Err(format!("silence {id} is no longer live"))
                    }
                }
                Some(_) => Err("the demo can only check simulated conditions".into()),
                None => Ok("nothing to re-check".into()),
            }
        })
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let mut done = Vec::new();
            for op in &action.operations {
                if let Operation::Alertmanager { method, path, body } = op {
                    let mut ledger = self
                        .ledger
                        .lock()
                        .map_err(|_| "the demo's Alertmanager is unavailable".to_string())?;
                    let said = simulated_alertmanager::apply(
                        &mut ledger.silences,
                        method,
                        path,
                        body.as_deref(),
                        std::time::SystemTime::now(),
                    )?;
                    done.push(said);
                    continue;
                }
                let Operation::Simulated {
                    description,
                    takes_ms,
                } = op
                else {
                    return Err(format!("the demo cannot run `{}`", op.display()));
                };
                tokio::time::sleep(Duration::from_millis(*takes_ms)).await;
                if let Ok(mut ledger) = self.ledger.lock() {
                    ledger
                        .done
                        .push((std::time::SystemTime::now(), description.clone()));
                }
                done.push(description.clone());
            }
            Ok(format!("simulated: {}", done.join("; ")))
        })
    }
}

mod alertmanager;
mod http;
mod postgres;
mod redis;
pub mod simulated_alertmanager;
mod ssh;

pub use alertmanager::AlertmanagerExecutor;
pub use http::HttpExecutor;
pub use postgres::PostgresExecutor;
pub use redis::RedisExecutor;
pub use ssh::SshExecutor;
