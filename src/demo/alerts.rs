//! The demo's Alertmanager: the rules a Hachyderm-shaped Prometheus would have, firing as
//! the incident script unfolds, grouped and routed as Alertmanager does it, with the
//! silences of the script and those made in the sandbox applied.
//!
//! Labels are the ones the real exporters put on their series (`instance` with the
//! exporter's port, `job` named after the exporter), so the same rules that tie a real
//! alert to a component tie these.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::actions::executor::simulated_alertmanager::state_at;
use crate::model::alerts::{
    Alert, AlertGroup, AlertSet, AlertState, Labels, Matcher, Silence, SilenceState, all_match,
};
use crate::sources::alertmanager::{AlertmanagerReading, ServerStatus};

use super::clock::Anchor;
use super::script::{self, SearchPhase, at};

/// One alerting rule of the simulated Prometheus: its labels and whether it fires at
/// script second `s`.
struct Rule {
    name: &'static str,
    severity: &'static str,
    labels: &'static [(&'static str, &'static str)],
    summary: &'static str,
    fires: fn(f64) -> bool,
}

fn pull_over_a_minute(s: f64) -> bool {
    script::pull_latency(s) > 60.0
}
fn pull_over_five_minutes(s: f64) -> bool {
    script::pull_latency(s) > 300.0
}
fn replica_behind(s: f64) -> bool {
    // The threshold comes from a built reading: worked out once, not per script second.
    static WARN: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let warn = *WARN.get_or_init(|| super::stores::replica_lag_thresholds().0);
    script::replica_lag(s).is_some_and(|lag| lag > warn)
}
fn archive_over_85(s: f64) -> bool {
    script::wal_archive_used_pct(s) > 85.0
}
fn archive_over_90(s: f64) -> bool {
    script::wal_archive_used_pct(s) > 90.0
}
fn tokyo_under_14_days(s: f64) -> bool {
    script::tokyo_cert_days_left(s) < 14.0
}
fn tokyo_under_7_days(s: f64) -> bool {
    script::tokyo_cert_days_left(s) < 7.0
}
fn search_not_green(s: f64) -> bool {
    script::search_phase(s) != SearchPhase::Green
}
fn always(_: f64) -> bool {
    true
}

const RULES: &[Rule] = &[
    Rule {
        name: "SidekiqQueueLatency",
        severity: "warning",
        labels: &[("job", "sidekiq"), ("queue", "pull")],
        summary: "Jobs in pull have waited over a minute",
        fires: pull_over_a_minute,
    },
    Rule {
        name: "SidekiqQueueLatency",
        severity: "critical",
        labels: &[("job", "sidekiq"), ("queue", "pull")],
        summary: "Jobs in pull have waited over five minutes",
        fires: pull_over_five_minutes,
    },
    Rule {
        name: "PostgresReplicationLag",
        severity: "warning",
        labels: &[("job", "postgres_exporter"), ("instance", "db-2:9187")],
        summary: "The replica is behind the primary",
        fires: replica_behind,
    },
    Rule {
        name: "NodeFilesystemAlmostOutOfSpace",
        severity: "warning",
        labels: &[
            ("job", "node"),
            ("instance", "db-1:9100"),
            ("mountpoint", "/var/lib/postgresql/archive"),
            ("device", "/dev/sdb1"),
        ],
        summary: "Filesystem /var/lib/postgresql/archive has less than 15% space left",
        fires: archive_over_85,
    },
    Rule {
        name: "NodeFilesystemAlmostOutOfSpace",
        severity: "critical",
        labels: &[
            ("job", "node"),
            ("instance", "db-1:9100"),
            ("mountpoint", "/var/lib/postgresql/archive"),
            ("device", "/dev/sdb1"),
        ],
        summary: "Filesystem /var/lib/postgresql/archive has less than 10% space left",
        fires: archive_over_90,
    },
    Rule {
        name: "SSLCertExpiringSoon",
        severity: "warning",
        labels: &[
            ("job", "blackbox"),
            ("instance", "https://tokyo-1.hachyderm.io"),
        ],
        summary: "The certificate served expires in under 14 days",
        fires: tokyo_under_14_days,
    },
    Rule {
        name: "SSLCertExpiringSoon",
        severity: "critical",
        labels: &[
            ("job", "blackbox"),
            ("instance", "https://tokyo-1.hachyderm.io"),
        ],
        summary: "The certificate served expires in under 7 days",
        fires: tokyo_under_7_days,
    },
    Rule {
        name: "SystemdUnitNotActive",
        severity: "critical",
        labels: &[
            ("job", "node"),
            ("instance", "redis-1:9100"),
            ("name", "nftables.service"),
        ],
        summary: "nftables.service is not active: the host has no firewall",
        fires: script::nftables_down,
    },
    Rule {
        name: "ElasticsearchClusterNotGreen",
        severity: "warning",
        labels: &[("job", "elasticsearch_exporter"), ("cluster", "hachyderm")],
        summary: "Replica shards are unassigned or recovering",
        fires: search_not_green,
    },
    Rule {
        name: "Watchdog",
        severity: "none",
        labels: &[],
        summary: "Always firing: proves Prometheus reaches Alertmanager and on to the dead man's switch",
        fires: always,
    },
];

/// Alertmanager groups by alert name under each receiver.
const GROUP_BY: &str = "alertname";

fn receiver(severity: &str) -> &'static str {
    match severity {
        "critical" => "oncall-page",
        "warning" => "ops-chat",
        _ => "deadman-switch",
    }
}

/// The silence a teammate set before the planned Elasticsearch restart, so its alert is
/// shown suppressed rather than paging.
const PLANNED_SILENCE_AT: f64 = at::ES_NODE_LEFT - 10.0;
const PLANNED_SILENCE_FOR: Duration = Duration::from_secs(1800);

fn planned_silence(t: Duration, s: f64, anchor: Anchor) -> Option<Silence> {
    if s < PLANNED_SILENCE_AT {
        return None;
    }
    let start = unix_time(anchor.wall_unix(t) - (s - PLANNED_SILENCE_AT));
    Some(Silence {
        id: "4b1c7e2a-9d0f-4c55-8a3e-2f6d0e9b1c11".into(),
        matchers: vec![Matcher::equal("alertname", "ElasticsearchClusterNotGreen")],
        starts_at: Some(start),
        ends_at: Some(start + PLANNED_SILENCE_FOR),
        updated_at: Some(start),
        created_by: "kris on console-3".into(),
        comment: "es-2 kernel update: planned restart, shards will recover".into(),
        state: SilenceState::Active,
    })
}

fn unix_time(secs: f64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0))
}

/// Script second at which a rule that fires at `s` started firing this cycle.
fn fired_since(rule: &Rule, s: f64) -> f64 {
    let mut start = s;
    while start >= 1.0 && (rule.fires)(start - 1.0) {
        start -= 1.0;
    }
    start.floor().max(0.0)
}

/// Alertmanager's fingerprint: FNV-1a over the sorted label pairs.
fn fingerprint(labels: &Labels) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for byte in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// What the demo's Alertmanager reports at demo time `t` (script second `s`), with
/// `sandbox` the silences made in this demo session.
pub fn reading(t: Duration, s: f64, anchor: Anchor, sandbox: &[Silence]) -> AlertmanagerReading {
    let now = unix_time(anchor.wall_unix(t));
    let mut silences: Vec<Silence> = planned_silence(t, s, anchor)
        .into_iter()
        .chain(sandbox.iter().cloned())
        .map(|mut silence| {
            silence.state = state_at(&silence, now);
            silence
        })
        .collect();
    silences.sort_by_key(|s| std::cmp::Reverse(s.starts_at));
    let mut alerts: Vec<Alert> = RULES
        .iter()
        .filter(|rule| (rule.fires)(s))
        .map(|rule| {
            let mut labels: Labels = rule
                .labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect();
            labels.insert("alertname".into(), rule.name.into());
            labels.insert("severity".into(), rule.severity.into());
            let silenced_by: Vec<String> = silences
                .iter()
                .filter(|x| x.state == SilenceState::Active && all_match(&x.matchers, &labels))
                .map(|x| x.id.clone())
                .collect();
            let since = anchor.wall_unix(t) - (s - fired_since(rule, s));
            Alert {
                fingerprint: fingerprint(&labels),
                annotations: [("summary".to_string(), rule.summary.to_string())].into(),
                starts_at: Some(unix_time(since)),
                state: if silenced_by.is_empty() {
                    AlertState::Active
                } else {
                    AlertState::Suppressed
                },
                silenced_by,
                inhibited_by: Vec::new(),
                receivers: vec![receiver(rule.severity).to_string()],
                labels,
            }
        })
        .collect();
    // Alertmanager inhibits a warning while the critical alert of the same name and
    // target fires: the page says it all.
    let critical: Vec<(String, Labels)> = alerts
        .iter()
        .filter(|a| a.severity() == "critical")
        .map(|a| (a.fingerprint.clone(), without_severity(&a.labels)))
        .collect();
    for alert in alerts.iter_mut().filter(|a| a.severity() == "warning") {
        let same = without_severity(&alert.labels);
        if let Some((by, _)) = critical.iter().find(|(_, l)| *l == same) {
            alert.inhibited_by.push(by.clone());
            alert.state = AlertState::Suppressed;
        }
    }
    let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
    for (i, alert) in alerts.iter().enumerate() {
        let name = alert.labels.get(GROUP_BY).cloned().unwrap_or_default();
        groups
            .entry((alert.receivers[0].clone(), name))
            .or_default()
            .push(i);
    }
    let groups = groups
        .into_iter()
        .map(|((receiver, name), alerts)| AlertGroup {
            labels: [(GROUP_BY.to_string(), name)].into(),
            receiver,
            alerts,
        })
        .collect();
    AlertmanagerReading {
        server: ServerStatus {
            version: Some("0.27.0".into()),
            cluster: Some("disabled".into()),
            peers: 0,
        },
        set: AlertSet {
            alerts,
            groups,
            silences,
        },
        at: now,
        silences_error: None,
        status_error: None,
    }
}

fn without_severity(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    labels.remove("severity");
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_s(s: f64) -> AlertmanagerReading {
        let anchor = Anchor::new(Duration::ZERO, SystemTime::UNIX_EPOCH);
        reading(Duration::from_secs_f64(s), s, anchor, &[])
    }

    fn names(r: &AlertmanagerReading) -> Vec<(String, String, AlertState)> {
        r.set
            .alerts
            .iter()
            .map(|a| (a.name().to_string(), a.severity().to_string(), a.state))
            .collect()
    }

    #[test]
    fn a_calm_fleet_has_only_the_watchdog() {
        let r = at_s(0.0);
        assert_eq!(
            names(&r),
            [("Watchdog".into(), "none".into(), AlertState::Active)]
        );
        assert_eq!(r.set.groups.len(), 1);
    }

    #[test]
    fn incidents_fire_their_alerts_and_the_page_inhibits_the_warning() {
        let r = at_s(260.0);
        let fired = names(&r);
        let has = |name: &str, sev: &str, state: AlertState| {
            fired
                .iter()
                .any(|(n, s, st)| n == name && s == sev && *st == state)
        };
        assert!(has("SidekiqQueueLatency", "critical", AlertState::Active));
        assert!(has(
            "SidekiqQueueLatency",
            "warning",
            AlertState::Suppressed
        ));
        assert!(has(
            "NodeFilesystemAlmostOutOfSpace",
            "critical",
            AlertState::Active
        ));
        assert!(has("SSLCertExpiringSoon", "critical", AlertState::Active));
        let group = r
            .set
            .groups
            .iter()
            .find(|g| g.labels["alertname"] == "SidekiqQueueLatency" && g.receiver == "ops-chat")
            .expect("the warning's group");
        assert_eq!(group.alerts.len(), 1);
        let since = r
            .set
            .alerts
            .iter()
            .find(|a| a.name() == "SidekiqQueueLatency" && a.severity() == "warning")
            .and_then(|a| a.starts_at)
            .expect("since");
        assert_eq!(
            since,
            SystemTime::UNIX_EPOCH + Duration::from_secs(11),
            "the pull latency passed a minute at second 10"
        );
    }

    #[test]
    fn the_planned_restart_is_silenced_and_sandbox_silences_apply() {
        let r = at_s(at::ES_NODE_LEFT + 5.0);
        let es = r
            .set
            .alerts
            .iter()
            .find(|a| a.name() == "ElasticsearchClusterNotGreen")
            .expect("fires");
        assert_eq!(es.state, AlertState::Suppressed);
        assert_eq!(es.silenced_by.len(), 1);
        let anchor = Anchor::new(Duration::ZERO, SystemTime::UNIX_EPOCH);
        let s = at::REDIS_HOST_REBOOT + 10.0;
        let mine = Silence {
            id: "sandbox-1".into(),
            matchers: vec![Matcher::equal("instance", "redis-1:9100")],
            starts_at: Some(unix_time(s - 5.0)),
            ends_at: Some(unix_time(s + 3600.0)),
            updated_at: None,
            created_by: "demo".into(),
            comment: "firewall".into(),
            state: SilenceState::Active,
        };
        let r = reading(Duration::from_secs_f64(s), s, anchor, &[mine]);
        let unit = r
            .set
            .alerts
            .iter()
            .find(|a| a.name() == "SystemdUnitNotActive")
            .expect("fires");
        assert_eq!(unit.silenced_by, ["sandbox-1"]);
        assert_eq!(r.silences_active(), 2);
    }
}
