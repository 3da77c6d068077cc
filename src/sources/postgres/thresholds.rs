//! Built-in health thresholds of a PostgreSQL node, used by the reading and by the views
//! that colour their rows the same way. Config may override them per figure.

use crate::model::Threshold;

/// Percent of the slots ordinary roles may use.
pub(super) const CONNECTIONS_USED: Threshold = Threshold::above(80.0, 95.0);
/// Long transactions hold back vacuum's horizon and bloat Mastodon's hot tables.
pub(super) const LONGEST_XACT: Threshold = Threshold::above(300.0, 1800.0);
/// An idle transaction holds its locks and snapshot while doing nothing.
pub(super) const IDLE_IN_XACT: Threshold = Threshold::above(60.0, 600.0);
/// Mastodon stops sending reads to a replica that lags more than a few seconds.
pub(super) const REPLICATION_LAG: Threshold = Threshold::above(5.0, 30.0);
pub(super) const LOCK_WAITING: Threshold = Threshold::above(5.0, 20.0);
pub(super) const CACHE_HIT: Threshold = Threshold::below(95.0, 90.0);
