//! Which optional queries run on this poll. Each view beyond what every poll reads (the
//! server's settings and counters, and the backend array) is a feature with its own cadence
//! tier; a feature the server refuses (no privilege, missing extension, too old a version)
//! switches itself off with a note and is tried again only after a long pause, so a
//! restricted role never fills the server log with the same error.
//!
//! Some refusals can be re-checked without an error: a missing pg_stat_statements is looked
//! up in the catalog on a slow cadence, and the feature runs again on the poll after it
//! appears. A server that restarted (perhaps with new `shared_preload_libraries`) or
//! failed over has every refused feature tried once more.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;

/// How often each tier runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tiers {
    /// Tables, progress views, slots, pg_stat_statements.
    pub medium: Duration,
    /// Database sizes and the WAL directory: these stat files on disk.
    pub slow: Duration,
    /// After the server refused a feature: privileges and extensions change rarely.
    pub retry_refused: Duration,
    /// After a feature failed for another reason (a timeout, an odd answer).
    pub retry_failed: Duration,
    /// How often a refusal that can be re-checked cheaply (an extension not installed) is
    /// looked up again.
    pub probe_refused: Duration,
}

impl Default for Tiers {
    fn default() -> Self {
        Tiers {
            medium: Duration::from_secs(30),
            slow: Duration::from_secs(300),
            retry_refused: Duration::from_secs(1800),
            retry_failed: Duration::from_secs(60),
            probe_refused: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tier {
    Medium,
    Slow,
}

/// The optional views, in the order their queries go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Feature {
    Slots,
    Wraparound,
    Vacuum,
    DeadTuples,
    Statements,
    Sizes,
    WalDir,
}

impl Feature {
    pub(super) const ALL: [Feature; 7] = [
        Feature::Slots,
        Feature::Wraparound,
        Feature::Vacuum,
        Feature::DeadTuples,
        Feature::Statements,
        Feature::Sizes,
        Feature::WalDir,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Feature::Slots => "replication slots",
            Feature::Wraparound => "wraparound",
            Feature::Vacuum => "vacuum progress",
            Feature::DeadTuples => "dead tuples",
            Feature::Statements => "top queries",
            Feature::Sizes => "database sizes",
            Feature::WalDir => "WAL directory",
        }
    }

    pub(super) fn tier(self) -> Tier {
        match self {
            Feature::Slots
            | Feature::Wraparound
            | Feature::Vacuum
            | Feature::DeadTuples
            | Feature::Statements => Tier::Medium,
            Feature::Sizes | Feature::WalDir => Tier::Slow,
        }
    }

    /// What to do about a refusal, in the operator's terms.
    fn remedy(self, code: &SqlState) -> &'static str {
        match self {
            Feature::Statements
                if *code == SqlState::UNDEFINED_FUNCTION || *code == SqlState::UNDEFINED_TABLE =>
            {
                "pg_stat_statements is not installed in this database: add it to shared_preload_libraries and run CREATE EXTENSION pg_stat_statements"
            }
            Feature::Statements if *code == SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE => {
                "pg_stat_statements is installed but not loaded: add it to shared_preload_libraries and restart"
            }
            _ if *code == SqlState::INSUFFICIENT_PRIVILEGE => "grant the role pg_monitor",
            _ if *code == SqlState::UNDEFINED_COLUMN
                || *code == SqlState::UNDEFINED_FUNCTION
                || *code == SqlState::UNDEFINED_TABLE =>
            {
                "this PostgreSQL version lacks it (PostgreSQL 13 or newer is needed)"
            }
            _ => "",
        }
    }
}

/// A catalog lookup that says, without an error, whether a refusal with `code` still holds:
/// it answers one boolean column, `ready`.
fn probe(feature: Feature, code: &SqlState) -> Option<&'static str> {
    match feature {
        Feature::Statements
            if *code == SqlState::UNDEFINED_FUNCTION || *code == SqlState::UNDEFINED_TABLE =>
        {
            Some(super::statements::PROBE_SQL)
        }
        _ => None,
    }
}

/// Errors that mean "this will keep failing until someone changes the server".
fn is_refusal(code: &SqlState) -> bool {
    [
        SqlState::INSUFFICIENT_PRIVILEGE,
        SqlState::UNDEFINED_FUNCTION,
        SqlState::UNDEFINED_TABLE,
        SqlState::UNDEFINED_COLUMN,
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
        SqlState::FEATURE_NOT_SUPPORTED,
    ]
    .contains(code)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureState {
    On,
    /// Refused by the server; tried again after `Tiers::retry_refused`.
    Off,
    /// Failed last time for another reason; tried again after `Tiers::retry_failed`.
    Failing,
}

/// A feature as the reading reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatus {
    pub name: std::borrow::Cow<'static, str>,
    pub state: FeatureState,
    /// Why it is off or failing, and what to do about it.
    pub note: Option<String>,
    /// Queries sent for this feature since the source started.
    pub attempts: u64,
}

#[derive(Debug)]
struct Gate {
    feature: Feature,
    state: FeatureState,
    note: Option<String>,
    last_run: Option<Instant>,
    not_before: Option<Instant>,
    attempts: u64,
    /// The catalog lookup that can tell when the refusal no longer holds, and when it last ran.
    probe: Option<&'static str>,
    last_probe: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct Gates {
    gates: Vec<Gate>,
    pub(super) tiers: Tiers,
}

impl Gates {
    pub(super) fn new(tiers: Tiers) -> Self {
        Gates {
            gates: Feature::ALL
                .iter()
                .map(|&feature| Gate {
                    feature,
                    state: FeatureState::On,
                    note: None,
                    last_run: None,
                    not_before: None,
                    attempts: 0,
                    probe: None,
                    last_probe: None,
                })
                .collect(),
            tiers,
        }
    }

    /// The features to query now; each is counted as attempted.
    pub(super) fn due(&mut self, now: Instant) -> Vec<Feature> {
        let tiers = self.tiers;
        self.gates
            .iter_mut()
            .filter(|g| {
                if g.not_before.is_some_and(|t| now < t) {
                    return false;
                }
                let every = match g.feature.tier() {
                    Tier::Medium => tiers.medium,
                    Tier::Slow => tiers.slow,
                };
                g.state != FeatureState::On
                    || g.last_run.is_none_or(|t| now.duration_since(t) >= every)
            })
            .map(|g| {
                g.attempts += 1;
                g.last_run = Some(now);
                g.feature
            })
            .collect()
    }

    fn gate(&mut self, feature: Feature) -> Option<&mut Gate> {
        self.gates.iter_mut().find(|g| g.feature == feature)
    }

    pub(super) fn succeeded(&mut self, feature: Feature) {
        if let Some(g) = self.gate(feature) {
            g.state = FeatureState::On;
            g.note = None;
            g.not_before = None;
            g.probe = None;
        }
    }

    /// The catalog lookups due now, for refused features that have one.
    pub(super) fn probes_due(&mut self, now: Instant) -> Vec<(Feature, &'static str)> {
        let every = self.tiers.probe_refused;
        self.gates
            .iter_mut()
            .filter(|g| g.state == FeatureState::Off)
            .filter(|g| g.last_probe.is_none_or(|t| now.duration_since(t) >= every))
            .filter_map(|g| {
                let sql = g.probe?;
                g.last_probe = Some(now);
                Some((g.feature, sql))
            })
            .collect()
    }

    /// What a probe said: when the refusal no longer holds, the feature runs on the next
    /// poll instead of after the long pause.
    pub(super) fn probed(&mut self, feature: Feature, ready: bool) {
        if let Some(g) = self.gate(feature)
            && ready
            && g.state == FeatureState::Off
        {
            g.not_before = None;
        }
    }

    /// The server restarted: it may have other libraries or settings now, so every refused
    /// feature is tried once more.
    pub(super) fn reopen_refused(&mut self) {
        for g in &mut self.gates {
            if g.state == FeatureState::Off {
                g.not_before = None;
            }
        }
    }

    /// Records a server error for `feature`: a refusal turns it off for a long while,
    /// anything else for a short one.
    pub(super) fn failed(
        &mut self,
        feature: Feature,
        code: Option<&SqlState>,
        message: &str,
        now: Instant,
    ) {
        let tiers = self.tiers;
        let Some(g) = self.gate(feature) else { return };
        match code {
            Some(code) if is_refusal(code) => {
                let code = code.clone();
                let remedy = feature.remedy(&code);
                g.state = FeatureState::Off;
                g.note = Some(if remedy.is_empty() {
                    format!("{message} (SQLSTATE {})", code.code())
                } else {
                    format!("{message} (SQLSTATE {}) — {remedy}", code.code())
                });
                g.not_before = Some(now + tiers.retry_refused);
                g.probe = probe(feature, &code);
                g.last_probe = Some(now);
            }
            _ => {
                g.state = FeatureState::Failing;
                g.note = Some(message.to_string());
                g.not_before = Some(now + tiers.retry_failed);
            }
        }
    }

    /// For answers the client could not decode: the feature is broken, not the session.
    pub(super) fn unreadable(&mut self, feature: Feature, detail: String, now: Instant) {
        let retry = self.tiers.retry_failed;
        if let Some(g) = self.gate(feature) {
            g.state = FeatureState::Failing;
            g.note = Some(format!("unexpected answer: {detail}"));
            g.not_before = Some(now + retry);
        }
    }

    pub(super) fn is_on(&self, feature: Feature) -> bool {
        self.gates
            .iter()
            .any(|g| g.feature == feature && g.state == FeatureState::On)
    }

    pub(super) fn statuses(&self) -> Vec<FeatureStatus> {
        self.gates
            .iter()
            .map(|g| FeatureStatus {
                name: g.feature.name().into(),
                state: g.state,
                note: g.note.clone(),
                attempts: g.attempts,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Tiers {
        Tiers {
            medium: Duration::from_secs(30),
            slow: Duration::from_secs(300),
            retry_refused: Duration::from_secs(1800),
            retry_failed: Duration::from_secs(60),
            probe_refused: Duration::from_secs(60),
        }
    }

    #[test]
    fn tiers_run_on_their_own_cadence() {
        let mut gates = Gates::new(tiers());
        let t0 = Instant::now();
        assert_eq!(
            gates.due(t0).len(),
            Feature::ALL.len(),
            "everything runs first"
        );
        assert_eq!(gates.due(t0 + Duration::from_secs(2)), []);
        let at_30 = gates.due(t0 + Duration::from_secs(31));
        assert!(at_30.contains(&Feature::Slots) && !at_30.contains(&Feature::Sizes));
        assert!(
            gates
                .due(t0 + Duration::from_secs(301))
                .contains(&Feature::Sizes)
        );
    }

    #[test]
    fn a_refused_feature_waits_long_a_failing_one_short() {
        let mut gates = Gates::new(tiers());
        let t0 = Instant::now();
        gates.due(t0);
        gates.failed(
            Feature::WalDir,
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "permission denied for function pg_ls_waldir",
            t0,
        );
        gates.failed(
            Feature::Slots,
            Some(&SqlState::QUERY_CANCELED),
            "canceling",
            t0,
        );
        assert!(!gates.is_on(Feature::WalDir));
        let wal = gates
            .statuses()
            .into_iter()
            .find(|s| s.name == "WAL directory")
            .expect("listed");
        assert_eq!(wal.state, FeatureState::Off);
        assert!(
            wal.note
                .as_deref()
                .is_some_and(|n| n.contains("pg_monitor"))
        );
        for secs in [2, 4, 59] {
            let due = gates.due(t0 + Duration::from_secs(secs));
            assert!(!due.contains(&Feature::WalDir) && !due.contains(&Feature::Slots));
        }
        assert!(
            gates
                .due(t0 + Duration::from_secs(61))
                .contains(&Feature::Slots)
        );
        assert!(
            !gates
                .due(t0 + Duration::from_secs(1000))
                .contains(&Feature::WalDir)
        );
        assert!(
            gates
                .due(t0 + Duration::from_secs(1801))
                .contains(&Feature::WalDir)
        );
        assert_eq!(
            gates
                .statuses()
                .iter()
                .find(|s| s.name == "WAL directory")
                .map(|s| s.attempts),
            Some(2)
        );
        gates.succeeded(Feature::WalDir);
        assert!(gates.is_on(Feature::WalDir));
    }

    #[test]
    fn a_missing_extension_is_looked_up_on_the_probe_cadence_and_runs_once_it_is_there() {
        let mut gates = Gates::new(tiers());
        let t0 = Instant::now();
        gates.due(t0);
        gates.failed(
            Feature::Statements,
            Some(&SqlState::UNDEFINED_FUNCTION),
            "function pg_stat_statements(boolean) does not exist",
            t0,
        );
        gates.failed(
            Feature::WalDir,
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "permission denied",
            t0,
        );
        assert!(gates.probes_due(t0 + Duration::from_secs(30)).is_empty());
        let probes = gates.probes_due(t0 + Duration::from_secs(61));
        assert_eq!(
            probes.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            [Feature::Statements],
            "a privilege refusal has nothing to look up"
        );
        assert!(gates.probes_due(t0 + Duration::from_secs(62)).is_empty());
        gates.probed(Feature::Statements, false);
        assert!(
            !gates
                .due(t0 + Duration::from_secs(90))
                .contains(&Feature::Statements)
        );
        gates.probed(Feature::Statements, true);
        let due = gates.due(t0 + Duration::from_secs(91));
        assert!(due.contains(&Feature::Statements) && !due.contains(&Feature::WalDir));
        gates.succeeded(Feature::Statements);
        assert!(gates.probes_due(t0 + Duration::from_secs(1000)).is_empty());

        gates.reopen_refused();
        assert!(
            gates
                .due(t0 + Duration::from_secs(92))
                .contains(&Feature::WalDir)
        );
    }

    #[test]
    fn statuses_start_on_with_no_attempts() {
        let gates = Gates::new(tiers());
        let statuses = gates.statuses();
        assert!(
            statuses
                .iter()
                .all(|s| s.state == FeatureState::On && s.attempts == 0)
        );
        assert!(gates.is_on(Feature::Statements));
    }
}
