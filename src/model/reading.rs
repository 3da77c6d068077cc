//! One poll's worth of typed data from one backend.
//!
//! Each backend module defines its own reading type (a Postgres reading, a Redis reading…)
//! and implements this trait, so the overview, `check`, `snapshot --json` and the generic
//! detail view work for a new backend without touching them.

use std::any::Any;
use std::fmt::Debug;

use super::alerts::AlertSet;
use super::{Detail, Figure, Finding};

pub trait Reading: Send + Sync + Debug + 'static {
    /// Figures that can carry thresholds and history. The first is the key figure shown on
    /// the overview unless [`Reading::key_figure`] says otherwise.
    fn figures(&self) -> Vec<Figure>;

    /// Key of the figure the overview shows and charts.
    fn key_figure(&self) -> Option<&'static str> {
        None
    }

    /// Problems the reading states about itself, beyond thresholds.
    fn findings(&self) -> Vec<Finding> {
        Vec::new()
    }

    /// A short line for the overview (version, role…), drawn after sanitising.
    fn summary(&self) -> String {
        String::new()
    }

    /// Sections for the component's detail view.
    fn detail(&self) -> Detail;

    /// The backend-specific part of `snapshot --json`, under stable names.
    fn to_json(&self) -> serde_json::Value;

    /// For views that know the concrete type (a blocking tree needs the Postgres reading).
    fn as_any(&self) -> &dyn Any;

    /// The private content behind one row (a query's literals, a job's arguments and error
    /// message), for the audited reveal only: never drawn otherwise, never in JSON.
    /// `table` is the detail table's title, `key` the row's key.
    fn private(&self, table: &str, key: &str) -> Option<String> {
        let _ = (table, key);
        None
    }

    /// Values of one figure broken down by a name the reading knows (each queue's latency):
    /// `(figure key, name, value)`. The fleet keeps a history per name, so a chart can draw
    /// one line per queue; names a new reading no longer has are forgotten.
    fn breakdown(&self) -> Vec<(&'static str, String, f64)> {
        Vec::new()
    }

    /// The alerts this reading reports (an Alertmanager's): the fleet ties them to the
    /// components they concern.
    fn alerts(&self) -> Option<&AlertSet> {
        None
    }
}
