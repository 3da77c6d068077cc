//! Guarded actions. Every mutating thing mastop does goes through one pipeline:
//!
//! ```text
//! role/capability → freeze → live precondition re-check → confirmation (typed for high
//! risk, four-eyes for critical) → lock across consoles → cooldown → audit intent (durable)
//! → execute with a deadline → audit outcome → result to the operator
//! ```
//!
//! Write access is a type: an [`executor`] that can mutate a backend is only built from a
//! [`WriteCapability`], and only an on-call [`Session`] hands one out.

pub mod action;
pub mod audit;
pub mod catalog;
pub mod executor;
pub mod fingerprint;
pub mod kinds;
pub mod pipeline;
pub mod role;
pub mod runtime;
pub mod store;

pub use action::{Action, Operation, Risk, Target};
pub use audit::{AuditLog, AuditRecord, GuardDecision, Outcome, Phase};
pub use pipeline::{Confirmation, Pipeline, Preview, RunResult};
pub use role::{Role, Session, WriteCapability};
pub use store::{Freeze, LockHeld, OpsStore};
