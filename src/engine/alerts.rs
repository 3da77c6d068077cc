//! `[alerts]` and the configured fleet turned into the rules that tie Alertmanager's alerts
//! to components: every name and address a component is known by.

use std::collections::HashMap;

use crate::config::{Config, EndpointConfig};
use crate::model::ComponentId;
use crate::model::alerts::{AlertRules, Route};

pub fn alert_rules(cfg: &Config) -> AlertRules {
    let mut addresses: HashMap<String, Vec<ComponentId>> = HashMap::new();
    let mut add = |key: &str, id: &ComponentId| {
        let key = crate::model::alerts::instance_host(key);
        if key.is_empty() {
            return;
        }
        let ids = addresses.entry(key).or_default();
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    };
    let endpoints: [(&'static str, &Vec<EndpointConfig>); 9] = [
        (crate::sources::web::KIND, &cfg.web),
        (crate::sources::postgres::KIND, &cfg.postgres),
        (crate::sources::redis::KIND, &cfg.redis),
        (crate::sources::sidekiq::KIND, &cfg.sidekiq),
        (crate::sources::pgbouncer::KIND, &cfg.pgbouncer),
        (crate::sources::elasticsearch::KIND, &cfg.elasticsearch),
        (crate::sources::streaming::KIND, &cfg.streaming),
        (crate::sources::prometheus::KIND, &cfg.prometheus),
        (crate::sources::alertmanager::KIND, &cfg.alertmanager),
    ];
    for (kind, list) in endpoints {
        for ep in list {
            if let Some(host) = url_host(&ep.url) {
                add(&host, &ComponentId::new(kind, &ep.name));
            }
        }
    }
    for edge in &cfg.edges {
        let id = ComponentId::new(crate::sources::edge::KIND, &edge.name);
        add(&edge.address, &id);
    }
    for host in &cfg.hosts {
        let id = ComponentId::new(crate::sources::host::KIND, &host.name);
        add(&host.name, &id);
        add(&host.address, &id);
    }
    // A host's name and its address are one place: whatever lives at either lives at both,
    // so `instance="db-1:9187"` finds the Postgres configured at db-1.tailnet.example.
    for host in &cfg.hosts {
        let keys = [
            crate::model::alerts::instance_host(&host.name),
            crate::model::alerts::instance_host(&host.address),
        ];
        let mut merged: Vec<ComponentId> = Vec::new();
        for key in &keys {
            for id in addresses.get(key).into_iter().flatten() {
                if !merged.contains(id) {
                    merged.push(id.clone());
                }
            }
        }
        for key in keys {
            addresses.insert(key, merged.clone());
        }
    }
    AlertRules {
        severity_health: cfg.alerts.severity_health,
        crit: cfg.alerts.crit_severities.clone(),
        warn: cfg.alerts.warn_severities.clone(),
        addresses,
        routes: cfg
            .alerts
            .routes
            .iter()
            .map(|r| Route {
                matchers: r.matchers(),
                components: r
                    .components
                    .iter()
                    .filter_map(|c| c.split_once('/'))
                    .map(|(kind, name)| ComponentId::new(kind, name))
                    .collect(),
            })
            .collect(),
    }
}

/// The host of an endpoint URL (`postgres://u@db-1:5432/x` → `db-1`), when it has one.
fn url_host(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_and_the_services_at_its_address_are_found_by_either_name() {
        let (cfg, _) = crate::config::load_str(
            r#"
[[postgres]]
name = "primary"
url = "postgres://mon@db-1.tailnet.example:5432/mastodon"
[[host]]
name = "db-1"
address = "db-1.tailnet.example"
[[host]]
name = "web-1"
address = "10.0.0.7"
[alerts]
severity_health = false
[[alerts.route]]
match = { alertname = "~Sidekiq.*" }
components = ["sidekiq/main"]
"#,
            "test.toml",
            &[],
        )
        .expect("valid");
        let rules = alert_rules(&cfg);
        let ids =
            |k: &str| -> Vec<String> { rules.addresses[k].iter().map(|i| i.to_string()).collect() };
        assert_eq!(ids("db-1"), ["host/db-1", "postgres/primary"]);
        assert_eq!(
            ids("db-1.tailnet.example"),
            ["host/db-1", "postgres/primary"]
        );
        assert_eq!(ids("10.0.0.7"), ["host/web-1"]);
        assert!(!rules.severity_health);
        assert!(rules.routes[0].matchers[0].is_regex);
    }
}
