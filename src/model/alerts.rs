//! Alerts as Alertmanager reports them, and the pure rules that tie each one to the
//! components it concerns and turn its severity into health.
//!
//! Label values come from outside and may hold anything (escape sequences included): they
//! are kept exactly as received, because a silence must match them byte for byte, and are
//! sanitised where they are drawn.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{ComponentId, Finding, Level};

pub type Labels = BTreeMap<String, String>;

/// Alertmanager's word for where an alert stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Firing and routed to its receivers.
    Active,
    /// Firing, but silenced or inhibited.
    Suppressed,
    /// Received, not yet through the routing tree.
    Unprocessed,
}

impl AlertState {
    pub fn word(self) -> &'static str {
        match self {
            AlertState::Active => "firing",
            AlertState::Suppressed => "suppressed",
            AlertState::Unprocessed => "unprocessed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub fingerprint: String,
    pub labels: Labels,
    pub annotations: Labels,
    #[serde(serialize_with = "ser_time", deserialize_with = "de_time", default)]
    pub starts_at: Option<SystemTime>,
    pub state: AlertState,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
    pub receivers: Vec<String>,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
    pub fn severity(&self) -> &str {
        self.labels.get("severity").map_or("", String::as_str)
    }
    /// The annotation people write for a human: `summary`, else `description`, else
    /// `message`.
    pub fn summary(&self) -> &str {
        ["summary", "description", "message"]
            .iter()
            .find_map(|k| self.annotations.get(*k))
            .map_or("", String::as_str)
    }
    pub fn is_silenced(&self) -> bool {
        !self.silenced_by.is_empty()
    }
    pub fn is_inhibited(&self) -> bool {
        !self.inhibited_by.is_empty()
    }
    /// Firing and reaching people: neither silenced nor inhibited.
    pub fn is_firing(&self) -> bool {
        self.state == AlertState::Active
    }
}

/// A routing group: the alerts Alertmanager sends together, under the labels it groups by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertGroup {
    pub labels: Labels,
    pub receiver: String,
    /// Indices into [`AlertSet::alerts`].
    pub alerts: Vec<usize>,
}

/// One label matcher of a silence or a configured route: `name="value"`, `name!="value"`,
/// `name=~"regex"`, `name!~"regex"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl Matcher {
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            value: value.into(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// Whether `labels` satisfy this matcher, as Alertmanager decides it: a missing label
    /// is the empty string, and a regex must match the whole value.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.name).map_or("", String::as_str);
        let hit = if self.is_regex {
            regex::Regex::new(&format!("^(?:{})$", self.value)).is_ok_and(|re| re.is_match(value))
        } else {
            value == self.value
        };
        hit == self.is_equal
    }

    /// `name="value"`, as amtool writes it.
    pub fn display(&self) -> String {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (true, false) => "!~",
        };
        format!("{}{op}{:?}", self.name, self.value)
    }
}

/// Whether every matcher holds for `labels` (compiling each regex once).
pub fn all_match(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// How many of `alerts` the matchers select, regexes compiled once for the whole count.
pub fn count_matching<'a>(matchers: &[Matcher], alerts: impl Iterator<Item = &'a Alert>) -> usize {
    let compiled: Vec<(&Matcher, Option<regex::Regex>)> = matchers
        .iter()
        .map(|m| {
            let re = m
                .is_regex
                .then(|| regex::Regex::new(&format!("^(?:{})$", m.value)).ok())
                .flatten();
            (m, re)
        })
        .collect();
    alerts
        .filter(|a| {
            compiled.iter().all(|(m, re)| {
                let value = a.labels.get(&m.name).map_or("", String::as_str);
                let hit = match (m.is_regex, re) {
                    (false, _) => value == m.value,
                    (true, Some(re)) => re.is_match(value),
                    (true, None) => false,
                };
                hit == m.is_equal
            })
        })
        .count()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    #[serde(serialize_with = "ser_time", deserialize_with = "de_time", default)]
    pub starts_at: Option<SystemTime>,
    #[serde(serialize_with = "ser_time", deserialize_with = "de_time", default)]
    pub ends_at: Option<SystemTime>,
    #[serde(serialize_with = "ser_time", deserialize_with = "de_time", default)]
    pub updated_at: Option<SystemTime>,
    pub created_by: String,
    pub comment: String,
    pub state: SilenceState,
}

/// Everything one Alertmanager reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSet {
    /// Each alert once, however many groups it is in.
    pub alerts: Vec<Alert>,
    pub groups: Vec<AlertGroup>,
    pub silences: Vec<Silence>,
}

impl AlertSet {
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.is_firing())
    }
}

/// How alerts become health and to which components they belong: from `[alerts]` and the
/// configured fleet.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRules {
    /// A firing alert's severity counts in its components' health.
    pub severity_health: bool,
    /// `severity` label values that make a component CRIT, and WARN.
    pub crit: Vec<String>,
    pub warn: Vec<String>,
    /// Lowercased host name or address → the components that live there.
    pub addresses: HashMap<String, Vec<ComponentId>>,
    /// Configured routes, tried before the `instance`/`job` rules.
    pub routes: Vec<Route>,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            severity_health: true,
            crit: vec!["critical".into(), "page".into()],
            warn: vec!["warning".into()],
            addresses: HashMap::new(),
            routes: Vec::new(),
        }
    }
}

/// `[[alerts.route]]`: alerts whose labels match go to these components.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub matchers: Vec<Matcher>,
    pub components: Vec<ComponentId>,
}

impl AlertRules {
    /// The level an alert's severity is worth, when severities count at all.
    pub fn level_of(&self, alert: &Alert) -> Option<Level> {
        if !self.severity_health || !alert.is_firing() {
            return None;
        }
        let severity = alert.severity().to_ascii_lowercase();
        if self.crit.iter().any(|s| s.eq_ignore_ascii_case(&severity)) {
            Some(Level::Crit)
        } else if self.warn.iter().any(|s| s.eq_ignore_ascii_case(&severity)) {
            Some(Level::Warn)
        } else {
            None
        }
    }

    /// The components `alert` concerns, among `known` (kind and name of each component).
    ///
    /// A configured route that matches decides alone. Otherwise the `instance` label, its
    /// port stripped, is looked up among host names, addresses and endpoint hosts (also by
    /// its first DNS label: `db-1.internal:9100` is `db-1`); when `job` names a kind
    /// (`postgres_exporter` is postgres) and some matched component is of that kind, only
    /// those stay. Without an instance match, a `job` naming a kind with one component ties
    /// the alert to it.
    pub fn tie(&self, alert: &Alert, known: &Known) -> Vec<ComponentId> {
        self.tie_labels(&alert.labels, known)
    }

    /// [`AlertRules::tie`] for any labelled thing (a Prometheus series too).
    pub fn tie_labels(&self, labels: &Labels, known: &Known) -> Vec<ComponentId> {
        let routed: Vec<ComponentId> = self
            .routes
            .iter()
            .filter(|r| all_match(&r.matchers, labels))
            .flat_map(|r| r.components.iter())
            .filter(|id| known.ids.contains_key(*id))
            .cloned()
            .collect();
        if !routed.is_empty() {
            return dedup(routed);
        }
        let job_kind = labels.get("job").and_then(|j| kind_of_job(j));
        let mut found: Vec<ComponentId> = Vec::new();
        if let Some(host) = labels.get("instance").map(|i| instance_host(i)) {
            let first_label = host.split('.').next().unwrap_or(&host).to_string();
            for key in [&host, &first_label] {
                if let Some(ids) = self.addresses.get(key.as_str()) {
                    found.extend(ids.iter().filter(|id| known.ids.contains_key(*id)).cloned());
                }
                if let Some(ids) = known.by_name.get(key.as_str()) {
                    found.extend(ids.iter().cloned());
                }
                if !found.is_empty() {
                    break;
                }
            }
        }
        let mut found = dedup(found);
        if let Some(kind) = job_kind {
            let of_kind: Vec<ComponentId> = found
                .iter()
                .filter(|id| known.ids.get(*id).is_some_and(|k| *k == kind))
                .cloned()
                .collect();
            if !of_kind.is_empty() {
                found = of_kind;
            } else if found.is_empty() {
                let all: Vec<&ComponentId> = known
                    .ids
                    .iter()
                    .filter(|(_, k)| **k == kind)
                    .map(|(id, _)| id)
                    .collect();
                if let [only] = all.as_slice() {
                    found.push((*only).clone());
                }
            }
        }
        found
    }
}

fn dedup(mut ids: Vec<ComponentId>) -> Vec<ComponentId> {
    ids.sort();
    ids.dedup();
    ids
}

/// The components an alert may be tied to: id → kind, and lowercased name → ids.
#[derive(Clone, Debug, Default)]
pub struct Known {
    pub ids: HashMap<ComponentId, &'static str>,
    pub by_name: HashMap<String, Vec<ComponentId>>,
}

impl Known {
    pub fn new<'a>(components: impl Iterator<Item = (&'a ComponentId, &'static str)>) -> Known {
        let mut known = Known::default();
        for (id, kind) in components {
            known.ids.insert(id.clone(), kind);
            known
                .by_name
                .entry(id.name().to_ascii_lowercase())
                .or_default()
                .push(id.clone());
        }
        known
    }
}

/// `10.0.0.5:9100` → `10.0.0.5`, `[2001:db8::1]:9100` → `2001:db8::1`, `db-1` → `db-1`;
/// lowercased, without a scheme or path if an exporter put a URL there.
pub fn instance_host(instance: &str) -> String {
    let text = instance.trim();
    let text = text.split_once("://").map_or(text, |(_, rest)| rest);
    let text = text.split('/').next().unwrap_or(text);
    let host = if let Some(rest) = text.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else if text.matches(':').count() == 1 {
        text.split(':').next().unwrap_or(text)
    } else {
        text
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The component kind a Prometheus `job` name points at, from the usual exporter names.
pub fn kind_of_job(job: &str) -> Option<&'static str> {
    let job = job.to_ascii_lowercase();
    let has = |w: &str| job.contains(w);
    Some(if has("node") {
        "host"
    } else if has("pgbouncer") {
        "pgbouncer"
    } else if has("postgres") || has("pg_") || job == "pg" {
        "postgres"
    } else if has("sidekiq") {
        "sidekiq"
    } else if has("redis") {
        "redis"
    } else if has("elastic") || has("opensearch") {
        "elasticsearch"
    } else if has("streaming") {
        "streaming"
    } else if has("nginx") || has("edge") || has("cdn") || has("blackbox") {
        "edge"
    } else if has("alertmanager") {
        "alertmanager"
    } else if has("prometheus") {
        "prometheus"
    } else {
        return None;
    })
}

/// What the alerts say about one component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Firing and not suppressed.
    pub firing: u32,
    /// Silenced or inhibited.
    pub suppressed: u32,
    /// Severity findings, worst first (empty when severities do not count).
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// One alert and the components it is tied to, as the fleet holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Tied {
    /// The Alertmanager component that reported it.
    pub source: ComponentId,
    pub index: usize,
    pub components: Vec<ComponentId>,
}

/// Ties every alert of every set and counts them per component. An alert tied to nothing
/// is counted on the Alertmanager that reported it, so no firing alert goes unseen.
pub fn tally<'a>(
    rules: &AlertRules,
    sets: impl Iterator<Item = (&'a ComponentId, &'a AlertSet)>,
    known: &Known,
) -> (HashMap<ComponentId, Tally>, Vec<Tied>) {
    let mut tallies: HashMap<ComponentId, Tally> = HashMap::new();
    let mut tied = Vec::new();
    for (source, set) in sets {
        for (index, alert) in set.alerts.iter().enumerate() {
            let components = rules.tie(alert, known);
            let counted_on: Vec<&ComponentId> = if components.is_empty() {
                vec![source]
            } else {
                components.iter().collect()
            };
            for id in counted_on {
                let t = tallies.entry(id.clone()).or_default();
                if alert.is_firing() {
                    t.firing += 1;
                } else if alert.state == AlertState::Suppressed {
                    t.suppressed += 1;
                }
                if let Some(level) = rules.level_of(alert) {
                    t.findings.push(Finding {
                        level,
                        message: finding_text(alert, components.is_empty()),
                    });
                }
            }
            tied.push(Tied {
                source: source.clone(),
                index,
                components,
            });
        }
    }
    for t in tallies.values_mut() {
        t.findings.sort_by_key(|f| std::cmp::Reverse(f.level));
        // A hundred alerts on one host say no more than the first few and a count.
        if t.findings.len() > 3 {
            let more = t.findings.len() - 3;
            t.findings.truncate(3);
            t.findings.push(Finding {
                level: t.findings[2].level,
                message: format!("and {more} more firing alerts"),
            });
        }
    }
    (tallies, tied)
}

fn finding_text(alert: &Alert, unattached: bool) -> String {
    let severity = alert.severity();
    let name = alert.name();
    let name = if name.is_empty() { "unnamed" } else { name };
    let on = if unattached {
        alert
            .labels
            .get("instance")
            .map_or(String::new(), |i| format!(" on {i}"))
    } else {
        String::new()
    };
    if severity.is_empty() {
        format!("alert {name} firing{on}")
    } else {
        format!("alert {name} firing ({severity}){on}")
    }
}

fn ser_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&humantime::format_rfc3339_seconds(*t).to_string()),
        None => s.serialize_none(),
    }
}

/// Reads back what [`ser_time`] wrote (and any RFC 3339 moment), so alerts survive the ops
/// store.
fn de_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    text.map(|t| humantime::parse_rfc3339_weak(&t).map_err(serde::de::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)]) -> Alert {
        Alert {
            fingerprint: "f".into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            annotations: Labels::new(),
            starts_at: None,
            state: AlertState::Active,
            silenced_by: Vec::new(),
            inhibited_by: Vec::new(),
            receivers: Vec::new(),
        }
    }

    fn known() -> Known {
        let ids = [
            (ComponentId::new("host", "db-1"), "host"),
            (ComponentId::new("host", "web-1"), "host"),
            (ComponentId::new("postgres", "primary"), "postgres"),
            (ComponentId::new("sidekiq", "main"), "sidekiq"),
            (ComponentId::new("alertmanager", "am"), "alertmanager"),
        ];
        Known::new(ids.iter().map(|(id, k)| (id, *k)))
    }

    fn rules() -> AlertRules {
        let mut rules = AlertRules::default();
        rules.addresses.insert(
            "10.0.0.5".into(),
            vec![
                ComponentId::new("host", "db-1"),
                ComponentId::new("postgres", "primary"),
            ],
        );
        rules
    }

    #[test]
    fn instances_lose_their_port_and_scheme() {
        assert_eq!(instance_host("10.0.0.5:9100"), "10.0.0.5");
        assert_eq!(instance_host("[2001:DB8::1]:9100"), "2001:db8::1");
        assert_eq!(instance_host("2001:db8::1"), "2001:db8::1");
        assert_eq!(instance_host("DB-1.internal."), "db-1.internal");
        assert_eq!(instance_host("http://web-1:3000/metrics"), "web-1");
    }

    #[test]
    fn instance_and_job_tie_an_alert_to_its_components() {
        let (r, k) = (rules(), known());
        let ids = |labels: &[(&str, &str)]| -> Vec<String> {
            r.tie(&alert(labels), &k)
                .iter()
                .map(|i| i.to_string())
                .collect()
        };
        assert_eq!(ids(&[("instance", "db-1.internal:9100")]), ["host/db-1"]);
        assert_eq!(
            ids(&[("instance", "10.0.0.5:9100")]),
            ["host/db-1", "postgres/primary"]
        );
        assert_eq!(
            ids(&[("instance", "10.0.0.5:9187"), ("job", "postgres_exporter")]),
            ["postgres/primary"]
        );
        assert_eq!(
            ids(&[("instance", "10.0.0.5:9100"), ("job", "node")]),
            ["host/db-1"]
        );
        assert_eq!(ids(&[("job", "sidekiq")]), ["sidekiq/main"]);
        assert!(ids(&[("instance", "elsewhere:9100")]).is_empty());
        assert!(ids(&[("job", "node")]).is_empty(), "two hosts: ambiguous");
    }

    #[test]
    fn a_configured_route_decides_alone() {
        let mut r = rules();
        r.routes.push(Route {
            matchers: vec![Matcher {
                name: "alertname".into(),
                value: "Sidekiq.*".into(),
                is_regex: true,
                is_equal: true,
            }],
            components: vec![ComponentId::new("sidekiq", "main")],
        });
        let a = alert(&[("alertname", "SidekiqQueueLatency"), ("instance", "db-1")]);
        assert_eq!(r.tie(&a, &known()), [ComponentId::new("sidekiq", "main")]);
    }

    #[test]
    fn severity_decides_the_level_and_unattached_alerts_stay_visible() {
        let r = rules();
        let mut set = AlertSet::default();
        set.alerts.push(alert(&[
            ("alertname", "Disk"),
            ("severity", "critical"),
            ("instance", "db-1"),
        ]));
        set.alerts.push(alert(&[
            ("alertname", "Lag"),
            ("severity", "warning"),
            ("instance", "db-1"),
        ]));
        let mut silenced = alert(&[
            ("alertname", "Old"),
            ("severity", "critical"),
            ("instance", "db-1"),
        ]);
        silenced.state = AlertState::Suppressed;
        silenced.silenced_by = vec!["s1".into()];
        set.alerts.push(silenced);
        set.alerts.push(alert(&[
            ("alertname", "Lost"),
            ("severity", "info"),
            ("instance", "gone:1"),
        ]));
        let am = ComponentId::new("alertmanager", "am");
        let (tallies, tied) = tally(&r, std::iter::once((&am, &set)), &known());
        let db = &tallies[&ComponentId::new("host", "db-1")];
        assert_eq!((db.firing, db.suppressed), (2, 1));
        assert_eq!(db.findings[0].level, Level::Crit);
        assert_eq!(db.findings[0].message, "alert Disk firing (critical)");
        assert_eq!(db.findings[1].level, Level::Warn);
        assert_eq!(
            db.findings.len(),
            2,
            "silenced and info alerts do not count"
        );
        assert_eq!(
            tallies[&am].firing, 1,
            "the lost alert is counted on its Alertmanager"
        );
        assert!(tied[3].components.is_empty());
        let off = AlertRules {
            severity_health: false,
            ..rules()
        };
        let (tallies, _) = tally(&off, std::iter::once((&am, &set)), &known());
        assert!(
            tallies[&ComponentId::new("host", "db-1")]
                .findings
                .is_empty()
        );
    }

    #[test]
    fn matchers_follow_alertmanager() {
        let labels: Labels = [("job".to_string(), "node".to_string())].into();
        assert!(Matcher::equal("job", "node").matches(&labels));
        assert!(
            Matcher::equal("instance", "").matches(&labels),
            "missing is empty"
        );
        let re = Matcher {
            name: "job".into(),
            value: "no".into(),
            is_regex: true,
            is_equal: true,
        };
        assert!(!re.matches(&labels), "a regex is anchored");
        let not = Matcher {
            is_equal: false,
            ..Matcher::equal("job", "node")
        };
        assert!(!not.matches(&labels));
        assert_eq!(not.display(), "job!=\"node\"");
        let alerts = [alert(&[("job", "node")]), alert(&[("job", "nodes")])];
        let node_re = Matcher {
            value: "node.*".into(),
            ..re
        };
        assert_eq!(count_matching(&[node_re], alerts.iter()), 2);
    }
}
