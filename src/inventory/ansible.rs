//! `ansible-inventory --list` JSON: groups as `{hosts, vars, children}` plus
//! `_meta.hostvars`. Whatever the inventory's source format (INI, YAML, a dynamic plugin),
//! this is the one shape Ansible prints.
//!
//! Groups become roles, regions and providers by the convention documented on
//! [`AnsibleInventory`](crate::config::AnsibleInventory).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::{Discovered, taxonomy};

/// Groups every inventory has; they say nothing about a host.
const IMPLICIT_GROUPS: &[&str] = &["all", "ungrouped"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Group {
    hosts: Vec<String>,
    children: Vec<String>,
}

/// Hosts of an `ansible-inventory --list` document. `roles` maps group names to roles for
/// groups outside the `role_` convention.
pub fn hosts(json: &[u8], roles: &HashMap<String, String>) -> Result<Vec<Discovered>, String> {
    let doc: BTreeMap<String, Value> = serde_json::from_slice(json)
        .map_err(|e| format!("ansible inventory is not `ansible-inventory --list` JSON: {e}"))?;
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    let mut hostvars: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for (name, value) in &doc {
        if name == "_meta" {
            if let Some(vars) = value.get("hostvars").and_then(Value::as_object) {
                for (host, v) in vars {
                    hostvars.insert(host.clone(), v.as_object().cloned().unwrap_or_default());
                }
            }
            continue;
        }
        let group: Group = serde_json::from_value(value.clone())
            .map_err(|e| format!("ansible inventory: group `{name}`: {e}"))?;
        groups.insert(name.as_str(), group);
    }

    // Every host with the groups it belongs to, directly or through child groups.
    let mut membership: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for host in hostvars.keys() {
        membership.entry(host.clone()).or_default();
    }
    for name in groups.keys() {
        for host in members(name, &groups) {
            let entry = membership.entry(host).or_default();
            if !IMPLICIT_GROUPS.contains(name) {
                entry.insert((*name).to_string());
            }
        }
    }

    Ok(membership
        .into_iter()
        .filter(|(name, _)| !name.trim().is_empty())
        .map(|(name, groups)| host(name, groups, &hostvars, roles))
        .collect())
}

/// Hosts of `group` and of its children, transitively; a cycle is walked once.
fn members(group: &str, groups: &BTreeMap<&str, Group>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![group.to_string()];
    while let Some(g) = stack.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        if let Some(group) = groups.get(g.as_str()) {
            out.extend(group.hosts.iter().cloned());
            stack.extend(group.children.iter().cloned());
        }
    }
    out
}

fn host(
    name: String,
    groups: BTreeSet<String>,
    hostvars: &BTreeMap<String, serde_json::Map<String, Value>>,
    roles: &HashMap<String, String>,
) -> Discovered {
    let empty = serde_json::Map::new();
    let vars = hostvars.get(&name).unwrap_or(&empty);
    let text = |key: &str| {
        vars.get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut tags = Vec::new();
    for group in &groups {
        if let Some(role) = roles.get(group) {
            tags.push(format!("role-{}", role.trim().to_ascii_lowercase()));
        } else {
            tags.push(group.to_ascii_lowercase().replace('_', "-"));
        }
    }
    let classified = taxonomy::classify(tags.iter().map(String::as_str));
    let address = text("ansible_host");
    let region = Some(text("region"))
        .filter(|r| !r.is_empty())
        .unwrap_or(classified.region);
    let provider = Some(text("provider"))
        .filter(|p| !p.is_empty())
        .unwrap_or(classified.provider);
    let aliases = if address.is_empty() {
        Vec::new()
    } else {
        vec![name.to_ascii_lowercase()]
    };
    Discovered {
        address: if address.is_empty() {
            name.clone()
        } else {
            address
        },
        name,
        roles: classified.roles,
        region,
        provider,
        tags: classified.env.iter().map(|e| format!("env-{e}")).collect(),
        aliases,
        online: None,
        last_seen: None,
        groups: groups.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_pass_membership_up_and_cycles_end() {
        let json = br#"{
            "_meta": {"hostvars": {"db1": {"ansible_host": "10.0.0.5"}}},
            "all": {"children": ["ungrouped", "databases"]},
            "databases": {"children": ["primary", "databases"]},
            "primary": {"hosts": ["db1"]},
            "ungrouped": {"hosts": ["lonely"]}
        }"#;
        let roles = HashMap::from([("primary".to_string(), "postgres-primary".to_string())]);
        let hosts = hosts(json, &roles).expect("parses");
        let db1 = hosts.iter().find(|h| h.name == "db1").expect("db1");
        assert_eq!(db1.groups, ["databases", "primary"]);
        assert_eq!(db1.roles, ["postgres-primary"]);
        assert_eq!(db1.address, "10.0.0.5");
        let lonely = hosts.iter().find(|h| h.name == "lonely").expect("lonely");
        assert!(lonely.groups.is_empty(), "implicit groups are not groups");
        assert_eq!(lonely.address, "lonely");
    }

    #[test]
    fn garbage_is_a_precise_error() {
        let roles = HashMap::new();
        assert!(hosts(b"not json", &roles).is_err());
        let err = hosts(br#"{"web": {"hosts": "web1"}}"#, &roles).expect_err("bad group");
        assert!(err.contains("group `web`"), "{err}");
        assert_eq!(hosts(b"{}", &roles), Ok(Vec::new()));
    }
}
