//! `mastop action run sidekiq.retry_all …`: the retry-all flow from the command line, with
//! a progress line per batch on stderr; ctrl-c stops it after the current batch.

use crate::actions::kinds::retry_all::{self, Abort};
use crate::actions::runtime::Runtime;
use crate::actions::{Action, Confirmation, RunResult};

pub async fn run(ops: &Runtime, action: &Action, confirmation: Confirmation) -> RunResult {
    let abort = Abort::new();
    let on_interrupt = abort.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::errln!("stopping after the current batch…");
            on_interrupt.stop();
        }
    });
    let result = retry_all::run(ops, action, confirmation, &abort, |p| {
        crate::errln!("batch {}: {}", p.batches, p.line());
    })
    .await;
    watcher.abort();
    result
}
