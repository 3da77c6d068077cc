//! One host list from every source. A `[[host]]` entry wins field by field over what
//! discovery says about the same host; discovery fills the fields config leaves empty, and
//! adds what only it knows (online, last seen, groups). Two entries are the same host when
//! a name, address, MagicDNS name or Tailscale IP of one is a name or address of the other,
//! compared without case or a trailing dot.

use std::collections::{BTreeSet, HashMap};

use super::{Discovered, InventoryHost, Origin, host_config};
use crate::config::HostConfig;

/// Config hosts first, in config order, then hosts only Tailscale knows, then hosts only
/// Ansible knows, each by name.
pub fn merge(
    config: &[HostConfig],
    tailscale: &[Discovered],
    ansible: &[Discovered],
) -> Vec<InventoryHost> {
    let mut merged: Vec<InventoryHost> = Vec::with_capacity(config.len() + tailscale.len());
    // Every name and address seen → the merged host it belongs to; the first host to
    // claim a key keeps it, so a config duplicate never steals another entry's matches.
    let mut index: HashMap<String, usize> = HashMap::new();
    for c in config {
        for key in [normal(&c.name), normal(&c.address)] {
            if !key.is_empty() {
                index.entry(key).or_insert(merged.len());
            }
        }
        merged.push(InventoryHost {
            config: c.clone(),
            origins: vec![Origin::Config],
            online: None,
            last_seen: None,
            groups: Vec::new(),
        });
    }
    for (origin, found) in [(Origin::Tailscale, tailscale), (Origin::Ansible, ansible)] {
        let mut found: Vec<&Discovered> = found.iter().collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        for d in found {
            let keys = keys_of(d);
            // The earliest merged host any key points at: config order, then discovery.
            let target = keys.iter().filter_map(|k| index.get(k).copied()).min();
            let at = match target {
                Some(at) => at,
                None => {
                    let mut config = host_config(d.name.clone(), d.address.clone());
                    // Typed confirmation guards production hosts; a host tagged only for
                    // another environment (env-dev, env-staging) is not one.
                    let envs: Vec<&str> = d
                        .tags
                        .iter()
                        .filter_map(|t| t.strip_prefix("env-"))
                        .collect();
                    config.production = envs.is_empty() || envs.contains(&"prod");
                    merged.push(InventoryHost {
                        config,
                        origins: Vec::new(),
                        online: None,
                        last_seen: None,
                        groups: Vec::new(),
                    });
                    merged.len() - 1
                }
            };
            fill(&mut merged[at], d, origin);
            for key in keys {
                index.entry(key).or_insert(at);
            }
        }
    }
    merged
}

/// `Prod-Web01.tail1234.ts.net.` → `prod-web01.tail1234.ts.net`.
fn normal(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn keys_of(d: &Discovered) -> BTreeSet<String> {
    std::iter::once(&d.name)
        .chain(std::iter::once(&d.address))
        .chain(&d.aliases)
        .map(|k| normal(k))
        .filter(|k| !k.is_empty())
        .collect()
}

/// Adds what `d` knows to `host` without overwriting anything already set: config was
/// there first, and an earlier source wins over a later one.
fn fill(host: &mut InventoryHost, d: &Discovered, origin: Origin) {
    let c = &mut host.config;
    if c.address.trim().is_empty() {
        c.address = d.address.clone();
    }
    let roles_from_config = host.origins.contains(&Origin::Config) && !c.roles.is_empty();
    if !roles_from_config {
        for role in &d.roles {
            if !c.roles.contains(role) {
                c.roles.push(role.clone());
            }
        }
    }
    if c.region.trim().is_empty() {
        c.region = d.region.clone();
    }
    if c.provider.trim().is_empty() {
        c.provider = d.provider.clone();
    }
    for tag in &d.tags {
        if !c.tags.contains(tag) {
            c.tags.push(tag.clone());
        }
    }
    if host.online.is_none() {
        host.online = d.online;
        host.last_seen = d.last_seen;
    }
    for group in &d.groups {
        if !host.groups.contains(group) {
            host.groups.push(group.clone());
        }
    }
    if !host.origins.contains(&origin) {
        host.origins.push(origin);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn configured(name: &str, address: &str) -> HostConfig {
        host_config(name, address)
    }

    fn peer(name: &str, online: bool) -> Discovered {
        Discovered {
            name: name.into(),
            address: format!("{name}.tail1234.ts.net"),
            roles: vec!["mastodon-web".into()],
            region: "emea-central".into(),
            provider: "hetzner-robot".into(),
            tags: vec!["server".into(), "env-prod".into()],
            aliases: vec![format!("{name}.tail1234.ts.net"), "100.64.0.10".into()],
            online: Some(online),
            last_seen: (!online).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1000)),
            groups: Vec::new(),
        }
    }

    fn grouped(name: &str, address: &str, groups: &[&str]) -> Discovered {
        Discovered {
            name: name.into(),
            address: address.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            roles: vec!["mastodon-sidekiq".into()],
            region: "namer-east".into(),
            ..Discovered::default()
        }
    }

    #[test]
    fn config_wins_field_by_field_and_discovery_fills_the_rest() {
        let mut web = configured("web-1", "Prod-Web01.TAIL1234.ts.net.");
        web.region = "eu-central".into();
        web.roles = vec!["mastodon-streaming".into()];
        let hosts = merge(&[web], &[peer("prod-web01", true)], &[]);
        assert_eq!(hosts.len(), 1, "matched by address despite case and dot");
        let h = &hosts[0];
        assert_eq!(h.config.name, "web-1", "config's name kept");
        assert_eq!(h.config.region, "eu-central", "config's region wins");
        assert_eq!(h.config.roles, ["mastodon-streaming"], "config's roles win");
        assert_eq!(h.config.provider, "hetzner-robot", "empty field filled");
        assert_eq!(h.config.tags, ["server", "env-prod"]);
        assert_eq!(h.origins, [Origin::Config, Origin::Tailscale]);
        assert_eq!(h.online, Some(true));
    }

    #[test]
    fn matches_by_tailscale_ip_and_by_name() {
        let by_ip = configured("db", "100.64.0.10");
        let by_name = configured("PROD-WEB02", "10.1.1.1");
        let mut other = peer("prod-web02", true);
        other.aliases = vec!["100.64.0.11".into()];
        let hosts = merge(&[by_ip, by_name], &[peer("prod-web01", true), other], &[]);
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].origins, [Origin::Config, Origin::Tailscale]);
        assert_eq!(hosts[1].origins, [Origin::Config, Origin::Tailscale]);
        assert_eq!(hosts[1].config.address, "10.1.1.1", "config address kept");
    }

    #[test]
    fn offline_peers_are_kept_flagged_with_last_seen_and_not_polled() {
        let hosts = merge(&[], &[peer("prod-web03", false)], &[]);
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].online, Some(false));
        assert_eq!(
            hosts[0].last_seen,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1000))
        );
        assert!(!hosts[0].pollable());
        assert_eq!(hosts[0].origins, [Origin::Tailscale]);
    }

    #[test]
    fn ansible_adds_groups_and_joins_tailscale_hosts() {
        let ts = peer("prod-sidekiq01", true);
        let same = grouped("prod-sidekiq01", "203.0.113.9", &["sidekiq", "prod"]);
        let only = grouped("backup-1", "198.51.100.7", &["backup"]);
        let hosts = merge(&[], &[ts], &[only, same]);
        assert_eq!(hosts.len(), 2);
        let h = &hosts[0];
        assert_eq!(h.origins, [Origin::Tailscale, Origin::Ansible]);
        assert_eq!(h.groups, ["sidekiq", "prod"]);
        assert_eq!(h.config.address, "prod-sidekiq01.tail1234.ts.net");
        assert_eq!(h.config.region, "emea-central", "tailscale came first");
        assert_eq!(
            h.config.roles,
            ["mastodon-web", "mastodon-sidekiq"],
            "discovered roles add up"
        );
        assert_eq!(hosts[1].config.name, "backup-1");
        assert_eq!(hosts[1].origins, [Origin::Ansible]);
        assert_eq!(hosts[1].online, None, "ansible knows nothing of liveness");
    }

    #[test]
    fn duplicates_within_a_source_collapse_and_config_duplicates_stay() {
        let a = grouped("cache-1", "10.0.0.1", &["a"]);
        let b = grouped("CACHE-1", "10.0.0.2", &["b"]);
        let hosts = merge(&[], &[], &[a, b]);
        assert_eq!(hosts.len(), 1, "same name in another case is one host");
        assert_eq!(hosts[0].groups, ["b", "a"]);
        assert_eq!(
            hosts[0].config.address, "10.0.0.2",
            "sorted by name: CACHE-1 first"
        );

        let twice = [configured("x", "10.0.0.9"), configured("x", "10.0.0.9")];
        let hosts = merge(&twice, &[peer("x", true)], &[]);
        assert_eq!(hosts.len(), 2, "config is taken as written");
        assert_eq!(hosts[0].origins, [Origin::Config, Origin::Tailscale]);
        assert_eq!(hosts[1].origins, [Origin::Config]);
    }

    #[test]
    fn empty_sources_give_an_empty_list() {
        assert!(merge(&[], &[], &[]).is_empty());
    }
}
