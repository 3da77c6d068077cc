//! Follow-the-sun handoffs: the shift log an engineer keeps (notes, open items,
//! mitigations, silenced alerts), the handoff report built from it, the audit history and
//! the fleet, its Markdown form, and the acknowledgement by the next console.
//!
//! The report is pure data built by pure functions (`report`), rendered by a pure function
//! (`markdown`); storage (`store`) and the session rules (`shift`) are the edges.

pub mod markdown;
pub mod report;
pub mod shift;
pub mod shift_log;
pub mod store;
pub use crate::config::zone;

pub use report::{Acknowledgement, ActionTaken, ComponentProblem, Handoff, Person};
pub use shift::Shift;
pub use shift_log::{EntryKind, ShiftEntry};
