//! Jobs as read from Sidekiq's Redis: running ones, entries of the retry, scheduled and dead
//! sets, class samples and daily counts. Shared by the poll, the browser and the reading.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BusyJob {
    pub process: String,
    /// The worker thread id (the work hash's field).
    pub thread: String,
    pub queue: String,
    /// The wrapped ActiveJob class when there is one.
    pub class: String,
    pub jid: String,
    /// Seconds since the job started; `None` when `run_at` is missing.
    pub running_s: Option<f64>,
    pub unreadable: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetEntry {
    /// The score as Sidekiq's Web UI prints it (Ruby's `Float#to_s`); it parses back to
    /// exactly the stored double.
    pub score_text: String,
    /// Epoch seconds: next run (retry, scheduled) or time of death (dead).
    pub score: f64,
    pub jid: String,
    pub class: String,
    pub queue: String,
    pub error_class: Option<String>,
    pub retry_count: Option<i64>,
    pub unreadable: bool,
    /// The exact member, kept for an audited reveal and for exact-member actions. Holds
    /// arguments and error messages, so it is never serialised or shown.
    #[serde(skip)]
    pub member: Private,
}

impl SetEntry {
    /// `score-jid`, as the Web UI identifies an entry.
    pub fn key(&self) -> String {
        format!("{}-{}", self.score_text, self.jid)
    }
}

/// Bytes that may hold users' content. `Debug` shows only their length, and nothing
/// serialises them; [`Private::reveal`] is the one way to read them.
#[derive(Clone, Default, PartialEq)]
pub struct Private(Arc<[u8]>);

impl Private {
    pub fn new(bytes: &[u8]) -> Self {
        Private(Arc::from(bytes))
    }
    /// For the audited reveal path only.
    pub fn reveal(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Private {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "‹{} bytes redacted›", self.0.len())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    pub queue: String,
    pub class: String,
    pub count: u64,
    /// How many jobs of the queue were sampled.
    pub sampled: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DailyStat {
    /// `YYYY-MM-DD`, UTC, as in the `stat:processed:DATE` keys.
    pub date: String,
    pub processed: u64,
    pub failed: u64,
}
