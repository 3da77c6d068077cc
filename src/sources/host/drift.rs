//! Drift between hosts of the same roles: `.env.production` keys whose lines differ, and
//! a Mastodon version or revision that differs from the role's others (a half-finished
//! deploy). Hosts are polled one by one, so their reports meet on a board shared by every
//! SSH host; the salt the hosts hash with is the board's, renewed once every host has
//! reported under it (or after [`ROUND_LIMIT`], so a host that is down cannot hold the
//! others back). Hashes of a round are compared, then dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How long a round waits for hosts that do not report before comparing those that did.
pub const ROUND_LIMIT: Duration = Duration::from_secs(120);

/// Roles whose hosts run the Mastodon checkout and so must agree with each other.
pub const MASTODON_ROLES: &[&str] = &["mastodon-web", "mastodon-sidekiq", "mastodon-streaming"];

/// What one host reported in a round.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Its roles, sorted: hosts are compared with hosts of exactly the same roles.
    pub roles: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub version: Option<String>,
    pub revision: Option<String>,
}

/// One way a host differs from the others of its roles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// `env` (a `.env.production` key) or `deploy` (version and revision).
    pub what: String,
    /// The key, or the version and short revision this host runs.
    pub subject: String,
    /// The hosts of the same roles that disagree with this one.
    pub others: Vec<String>,
}

/// Compares the reports of one round: per group of hosts with the same roles, each key
/// whose hash is not the same on every host (missing counts as a value), and each host
/// whose version or revision is not the group's most common one.
pub fn compare(reports: &BTreeMap<String, Report>) -> HashMap<String, Vec<Drift>> {
    let mut groups: BTreeMap<&[String], Vec<&str>> = BTreeMap::new();
    for (host, r) in reports {
        if r.roles
            .iter()
            .any(|role| MASTODON_ROLES.contains(&role.as_str()))
        {
            groups.entry(r.roles.as_slice()).or_default().push(host);
        }
    }
    let mut out: HashMap<String, Vec<Drift>> = HashMap::new();
    for hosts in groups.values().filter(|h| h.len() > 1) {
        let with_env: Vec<&str> = hosts
            .iter()
            .copied()
            .filter(|h| !reports[*h].env.is_empty())
            .collect();
        let keys: BTreeSet<&String> = with_env
            .iter()
            .flat_map(|h| reports[*h].env.keys())
            .collect();
        for key in keys {
            let value = |h: &str| reports[h].env.get(key);
            for host in &with_env {
                let others: Vec<String> = with_env
                    .iter()
                    .filter(|o| value(o) != value(host))
                    .map(|o| o.to_string())
                    .collect();
                if !others.is_empty() {
                    out.entry(host.to_string()).or_default().push(Drift {
                        what: "env".to_string(),
                        subject: key.clone(),
                        others,
                    });
                }
            }
        }
        let deployed = |h: &str| (reports[h].version.clone(), reports[h].revision.clone());
        let known: Vec<&str> = hosts
            .iter()
            .copied()
            .filter(|h| deployed(h) != (None, None))
            .collect();
        let mut counts: BTreeMap<(Option<String>, Option<String>), usize> = BTreeMap::new();
        for h in &known {
            *counts.entry(deployed(h)).or_default() += 1;
        }
        if counts.len() < 2 {
            continue;
        }
        let most = counts.values().copied().max().unwrap_or(0);
        let tied = counts.values().filter(|c| **c == most).count() > 1;
        for host in &known {
            let mine = deployed(host);
            if !tied && counts[&mine] == most {
                continue;
            }
            let others = known
                .iter()
                .filter(|o| deployed(o) != mine)
                .map(|o| o.to_string())
                .collect();
            out.entry(host.to_string()).or_default().push(Drift {
                what: "deploy".to_string(),
                subject: deploy_text(&mine.0, &mine.1),
                others,
            });
        }
    }
    out
}

/// `4.3.2 (0a1b2c3d)`, or what part of it is known.
pub fn deploy_text(version: &Option<String>, revision: &Option<String>) -> String {
    // By characters: a byte index could fall inside one and panic.
    let short = revision
        .as_deref()
        .map(|r| crate::sanitize::sanitize(&r.chars().take(8).collect::<String>()).into_owned());
    let version = version
        .as_deref()
        .map(|v| crate::sanitize::sanitize_truncated(v, 32));
    match (version.as_deref(), short.as_deref()) {
        (Some(v), Some(r)) => format!("{v} ({r})"),
        (Some(v), None) => v.to_string(),
        (None, Some(r)) => r.to_string(),
        (None, None) => "unknown".into(),
    }
}

struct Round {
    salt: String,
    started: Instant,
    reports: BTreeMap<String, Report>,
}

struct State {
    members: BTreeSet<String>,
    round: Round,
    /// What the last completed round found, per host.
    last: HashMap<String, Vec<Drift>>,
    completed: u64,
}

/// The board every SSH host of one console reports to.
pub struct DriftBoard {
    state: Mutex<State>,
}

impl Default for DriftBoard {
    fn default() -> Self {
        DriftBoard {
            state: Mutex::new(State {
                members: BTreeSet::new(),
                round: new_round(),
                last: HashMap::new(),
                completed: 0,
            }),
        }
    }
}

fn new_round() -> Round {
    Round {
        salt: new_salt(),
        started: Instant::now(),
        reports: BTreeMap::new(),
    }
}

/// 32 hex digits from the OS's random source (through the std hasher's random keys, mixed
/// with the time), never the same twice in a process.
fn new_salt() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

impl DriftBoard {
    /// A host that will report: rounds wait for it (up to [`ROUND_LIMIT`]).
    pub fn join(&self, host: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.members.insert(host.to_string());
        }
    }

    /// The salt to hash with now.
    pub fn salt(&self) -> String {
        self.state
            .lock()
            .map(|s| s.round.salt.clone())
            .unwrap_or_default()
    }

    /// Files `host`'s report made with `salt`. A report of an older round (the salt was
    /// renewed while the host was polled) is dropped: its hashes cannot be compared.
    pub fn report(&self, host: &str, salt: &str, report: Report) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if s.round.salt != salt {
            return;
        }
        s.round.reports.insert(host.to_string(), report);
        let everyone = s.members.iter().all(|m| s.round.reports.contains_key(m));
        let overdue = s.round.started.elapsed() >= ROUND_LIMIT && s.round.reports.len() > 1;
        if everyone || overdue {
            let round = std::mem::replace(&mut s.round, new_round());
            s.last = compare(&round.reports);
            s.completed += 1;
        }
    }

    /// What the last completed round found for `host`; `None` before any round completed.
    pub fn drift_for(&self, host: &str) -> Option<Vec<Drift>> {
        let s = self.state.lock().ok()?;
        (s.completed > 0).then(|| s.last.get(host).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(roles: &[&str], env: &[(&str, &str)], version: &str) -> Report {
        Report {
            roles: roles.iter().map(|r| r.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            version: Some(version.into()),
            revision: None,
        }
    }

    #[test]
    fn keys_and_deploys_that_differ_within_a_role_are_named() {
        let web = ["mastodon-web"];
        let reports: BTreeMap<String, Report> = [
            (
                "web-1",
                report(&web, &[("A", "1"), ("S3_ENABLED", "2")], "4.3.2"),
            ),
            (
                "web-2",
                report(&web, &[("A", "1"), ("S3_ENABLED", "3")], "4.3.2"),
            ),
            (
                "web-3",
                report(&web, &[("A", "1"), ("S3_ENABLED", "2")], "4.3.1"),
            ),
            (
                "db-1",
                report(&["postgres-primary"], &[("A", "9")], "4.3.0"),
            ),
        ]
        .into_iter()
        .map(|(h, r)| (h.to_string(), r))
        .collect();
        let drift = compare(&reports);
        assert!(!drift.contains_key("db-1"), "not a Mastodon role");
        let web2 = &drift["web-2"];
        assert_eq!(web2.len(), 1);
        assert_eq!(web2[0].subject, "S3_ENABLED");
        assert_eq!(web2[0].others, ["web-1", "web-3"]);
        let web3 = &drift["web-3"];
        assert_eq!(web3[0].what, "env");
        assert_eq!(web3[1].what, "deploy");
        assert_eq!(web3[1].subject, "4.3.1");
        assert_eq!(web3[1].others, ["web-1", "web-2"]);
        assert!(drift["web-1"].iter().all(|d| d.what == "env"));
    }

    #[test]
    fn a_round_completes_when_every_member_reported_under_its_salt() {
        let board = DriftBoard::default();
        board.join("web-1");
        board.join("web-2");
        let salt = board.salt();
        board.report(
            "web-1",
            &salt,
            report(&["mastodon-web"], &[("A", "1")], "4.3.2"),
        );
        assert_eq!(board.drift_for("web-1"), None, "the round is still open");
        assert_eq!(board.salt(), salt);
        board.report(
            "web-2",
            "stale",
            report(&["mastodon-web"], &[("A", "2")], "4.3.2"),
        );
        assert_eq!(
            board.drift_for("web-1"),
            None,
            "an old salt's report is dropped"
        );
        board.report(
            "web-2",
            &salt,
            report(&["mastodon-web"], &[("A", "2")], "4.3.2"),
        );
        assert_ne!(board.salt(), salt, "a new round, a new salt");
        assert_eq!(board.drift_for("web-1").expect("compared")[0].subject, "A");
    }
}
