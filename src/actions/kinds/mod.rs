//! Per-backend action builders: from a reading (and a selected row), the exact actions a
//! backend offers, with their operations and the live precondition to re-check.

mod host;
pub mod postgres;
mod sidekiq;
pub mod silences;

pub use sidekiq::retry_all;

use super::Action;
use super::catalog::Selected;
use crate::model::Reading;

/// The actions `component` (of `kind`) offers.
pub fn offer(
    component: &str,
    kind: &str,
    reading: &dyn Reading,
    selected: Option<Selected<'_>>,
) -> Vec<Action> {
    match kind {
        crate::sources::sidekiq::KIND => sidekiq::offer(component, reading, selected),
        crate::sources::postgres::KIND => postgres::offer(component, reading, selected),
        crate::sources::host::KIND => host::offer(component, reading, selected),
        crate::sources::alertmanager::KIND => silences::offer(component, reading, selected),
        _ => Vec::new(),
    }
}
