//! The live operating room: one collector polls production and publishes every
//! component's status, redacted reading and recent history to the ops store; watching
//! consoles draw the fleet from there and never touch production.
//!
//! [`publish`] turns a component into what may leave the collector, [`watch`] turns it
//! back into the fleet a console draws; the SQL lives in `crate::store::live`.

pub mod collector;
pub mod leadership;
pub mod publish;
pub mod room;
#[cfg(test)]
mod stored_readings;
pub mod watch;

pub use publish::{LiveComponent, LivePast, LiveStatus, WITHHELD};
