//! Where shift logs and handoff reports live: on this machine, or in the shared ops store
//! (the same PostgreSQL database as locks and the shared audit history) so the console in
//! the next region sees them.

pub mod local;

use std::time::SystemTime;

use futures_util::future::BoxFuture;

use super::report::{Acknowledgement, Handoff};
use super::shift_log::ShiftEntry;
pub use crate::actions::store::StoreResult;

pub trait HandoffStore: Send + Sync {
    /// For people: "local (…/handoff)" or "ops store postgres://…".
    fn describe(&self) -> String;

    /// Adds one shift-log entry. Adding the same entry twice is not an error.
    fn add_entry<'a>(&'a self, entry: &'a ShiftEntry) -> BoxFuture<'a, StoreResult<()>>;

    /// Entries written at or after `since`, oldest first.
    fn entries_since(&self, since: SystemTime) -> BoxFuture<'_, StoreResult<Vec<ShiftEntry>>>;

    /// Stores a written report. Storing the same report again is not an error.
    fn publish<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, StoreResult<()>>;

    fn handoff<'a>(&'a self, id: &'a str) -> BoxFuture<'a, StoreResult<Option<Handoff>>>;

    /// The most recently written report, acknowledged or not.
    fn latest(&self) -> BoxFuture<'_, StoreResult<Option<Handoff>>>;

    /// Records the acknowledgement of `id`. Refuses a report already acknowledged by
    /// another console, and the console that wrote it.
    fn acknowledge<'a>(
        &'a self,
        id: &'a str,
        ack: &'a Acknowledgement,
    ) -> BoxFuture<'a, StoreResult<Handoff>>;
}

/// The rules every store applies to an acknowledgement, so both tell the same story.
pub(crate) fn check_ack(handoff: &Handoff, ack: &Acknowledgement) -> StoreResult<()> {
    if handoff.console_id == ack.console_id {
        return Err(format!(
            "handoff {} was written on this console; the incoming engineer acknowledges it from theirs",
            handoff.id
        ));
    }
    match &handoff.acknowledged {
        Some(done) if done.console_id != ack.console_id => Err(format!(
            "handoff {} was already acknowledged by {} on {} at {}",
            handoff.id, done.by, done.console_host, done.at
        )),
        _ => Ok(()),
    }
}
