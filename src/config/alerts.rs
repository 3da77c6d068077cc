//! `[alerts]`: how Alertmanager's alerts are tied to components and count in their health,
//! and the defaults of a silence made from the console. `[[prometheus]]` and
//! `[[alertmanager]]` themselves are HTTP endpoints like `[[elasticsearch]]`.
//!
//! ```toml
//! [alerts]
//! severity_health = true            # a firing alert's severity counts in health
//! crit_severities = ["critical", "page"]
//! warn_severities = ["warning"]
//! silence_duration = "2h"           # prefilled in a new silence
//!
//! [[alerts.route]]                  # alerts whose labels match belong to these components
//! match = { alertname = "SidekiqQueueLatencyHigh" }
//! components = ["sidekiq/main"]
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::locate::Seg;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    #[serde(default = "yes")]
    pub severity_health: bool,
    #[serde(default = "default_crit")]
    pub crit_severities: Vec<String>,
    #[serde(default = "default_warn")]
    pub warn_severities: Vec<String>,
    #[serde(default = "default_silence_duration", deserialize_with = "de_duration")]
    pub silence_duration: Duration,
    #[serde(default, rename = "route")]
    pub routes: Vec<AlertRoute>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            severity_health: true,
            crit_severities: default_crit(),
            warn_severities: default_warn(),
            silence_duration: default_silence_duration(),
            routes: Vec::new(),
        }
    }
}

/// `[[alerts.route]]`: label matchers (`"value"` exactly, `"~regex"` as a regex) and the
/// components (`kind/name`) the matching alerts belong to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRoute {
    #[serde(rename = "match")]
    pub matchers: BTreeMap<String, String>,
    pub components: Vec<String>,
}

impl AlertRoute {
    pub fn matchers(&self) -> Vec<crate::model::alerts::Matcher> {
        self.matchers
            .iter()
            .map(|(name, value)| match value.strip_prefix('~') {
                Some(re) => crate::model::alerts::Matcher {
                    name: name.clone(),
                    value: re.to_string(),
                    is_regex: true,
                    is_equal: true,
                },
                None => crate::model::alerts::Matcher::equal(name, value),
            })
            .collect()
    }
}

fn yes() -> bool {
    true
}
fn default_crit() -> Vec<String> {
    vec!["critical".into(), "page".into()]
}
fn default_warn() -> Vec<String> {
    vec!["warning".into()]
}
fn default_silence_duration() -> Duration {
    Duration::from_secs(2 * 3600)
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    super::parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Problems in `[alerts]`: routes that match nothing or name no component in the usual form,
/// regexes that do not compile, a silence too short or too long to mean anything.
pub(super) fn validate(config: &AlertsConfig) -> Vec<super::rules::Problem> {
    let mut problems = Vec::new();
    let at = |keys: Vec<Seg>| {
        std::iter::once(Seg::Key("alerts".into()))
            .chain(keys)
            .collect::<Vec<_>>()
    };
    if config.silence_duration < Duration::from_secs(60)
        || config.silence_duration > Duration::from_secs(30 * 86_400)
    {
        problems.push((
            at(vec![Seg::Key("silence_duration".into())]),
            format!(
                "a silence of {} is not useful",
                humantime::format_duration(config.silence_duration)
            ),
            Some("use between \"1m\" and \"30d\", e.g. \"2h\"".into()),
        ));
    }
    for (key, list) in [
        ("crit_severities", &config.crit_severities),
        ("warn_severities", &config.warn_severities),
    ] {
        if list.iter().any(|s| s.trim().is_empty()) {
            problems.push((
                at(vec![Seg::Key(key.into())]),
                "an empty severity matches alerts without a severity label".into(),
                Some("remove the empty entry".into()),
            ));
        }
    }
    for (i, route) in config.routes.iter().enumerate() {
        let here = |k: &str| {
            at(vec![
                Seg::Key("route".into()),
                Seg::Index(i),
                Seg::Key(k.into()),
            ])
        };
        if route.matchers.is_empty() {
            problems.push((
                here("match"),
                "a route without matchers would take every alert".into(),
                Some("add a label, e.g. match = { alertname = \"HostDown\" }".into()),
            ));
        }
        for m in route.matchers() {
            if m.is_regex && regex::Regex::new(&m.value).is_err() {
                problems.push((
                    here("match"),
                    format!("`{}` is not a regular expression", m.value.escape_debug()),
                    Some("a value starting with `~` is read as a regex (RE2 syntax, as Alertmanager)".into()),
                ));
            }
        }
        if route.components.is_empty() {
            problems.push((
                here("components"),
                "a route must name at least one component".into(),
                Some("components are written kind/name, e.g. \"postgres/primary\"".into()),
            ));
        }
        for c in &route.components {
            let ok = c
                .split_once('/')
                .is_some_and(|(kind, name)| !kind.is_empty() && !name.is_empty());
            if !ok {
                problems.push((
                    here("components"),
                    format!("`{}` is not a component", c.escape_debug()),
                    Some("write kind/name, e.g. \"postgres/primary\" or \"host/db-1\"".into()),
                ));
            }
        }
    }
    problems
}
