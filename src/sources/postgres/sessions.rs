//! Client sessions by state: counted from the backend array on every poll, shown in the
//! summary and used by the views to judge idle transactions.

use serde::{Deserialize, Serialize};

/// Client sessions by state, mastop's own excluded.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Sessions {
    pub active: i64,
    pub idle: i64,
    pub idle_in_transaction: i64,
    pub idle_in_transaction_aborted: i64,
    pub waiting_on_lock: i64,
    /// Sessions of other roles whose state this role may not see (it lacks
    /// `pg_read_all_stats`); the counts above then miss them.
    pub hidden: i64,
    pub longest_xact_s: Option<f64>,
    pub idle_in_xact_max_s: Option<f64>,
}
