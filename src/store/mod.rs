//! The ops store: a PostgreSQL database of mastop's own (never Mastodon's) that every
//! console shares. Actions keep their locks, the freeze, four-eyes approvals and the
//! shared audit history here; handoffs their shift log and reports.
//!
//! mastop keeps the schema itself: the numbered files of `migrations/`, one folder for the
//! whole database, run at connect in one transaction under an advisory lock, so consoles
//! started together apply each migration once. A database whose schema is newer than this
//! binary is refused rather than written to.

mod action_queries;
mod actions;
pub mod deferred;
mod failure;
pub mod handoffs;
pub mod leadership;
pub mod live;
mod migrate;
pub mod room;
mod session;

/// The grants for the store's three kinds of client (collector, on-call, watcher), to run
/// as the tables' owner; README's "Live room" section says how.
pub const GRANTS: &str = include_str!("grants.sql");

pub use self::deferred::Deferred;
pub use self::handoffs::SharedHandoffs;
pub use self::migrate::{MIGRATIONS, schema_version};
pub use self::session::{Listening, PgStore};
