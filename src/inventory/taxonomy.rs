//! Hachyderm's Tailscale tag taxonomy: `tag:server`, `tag:env-{dev,prod}`, `tag:role-…`,
//! `tag:region-…`, `tag:provider-…`. The same words classify Ansible groups and config
//! tags, so one vocabulary describes the fleet whatever it was read from.

/// What a set of tags says about a host.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Classified {
    pub roles: Vec<String>,
    /// The first `region-*` tag; a host lives in one place.
    pub region: String,
    pub provider: String,
    pub env: Vec<String>,
}

/// A tag without Tailscale's `tag:` prefix, lowercased: `tag:Role-Redis` → `role-redis`.
pub fn bare(tag: &str) -> String {
    tag.trim()
        .strip_prefix("tag:")
        .unwrap_or(tag.trim())
        .to_ascii_lowercase()
}

/// Sorts tags into roles, region, provider and environment.
pub fn classify<'a>(tags: impl IntoIterator<Item = &'a str>) -> Classified {
    let mut out = Classified::default();
    for tag in tags {
        let tag = bare(tag);
        if let Some(role) = tag.strip_prefix("role-").filter(|r| !r.is_empty()) {
            if !out.roles.iter().any(|r| r == role) {
                out.roles.push(role.to_string());
            }
        } else if let Some(region) = tag.strip_prefix("region-").filter(|r| !r.is_empty()) {
            if out.region.is_empty() {
                out.region = region.to_string();
            }
        } else if let Some(provider) = tag.strip_prefix("provider-").filter(|p| !p.is_empty()) {
            if out.provider.is_empty() {
                out.provider = provider.to_string();
            }
        } else if let Some(env) = tag.strip_prefix("env-").filter(|e| !e.is_empty())
            && !out.env.iter().any(|e| e == env)
        {
            out.env.push(env.to_string());
        }
    }
    out
}

/// Whether `tags` carry every tag in `required` (compared without `tag:` and case).
pub fn has_all(tags: &[String], required: &[String]) -> bool {
    let have: Vec<String> = tags.iter().map(|t| bare(t)).collect();
    required.iter().all(|r| have.contains(&bare(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_the_taxonomy() {
        let c = classify([
            "tag:server",
            "tag:env-prod",
            "tag:role-mastodon-web",
            "tag:role-mastodon-streaming",
            "tag:region-emea-central",
            "tag:region-namer-east",
            "tag:provider-hetzner-robot",
        ]);
        assert_eq!(c.roles, ["mastodon-web", "mastodon-streaming"]);
        assert_eq!(c.region, "emea-central", "first region wins");
        assert_eq!(c.provider, "hetzner-robot");
        assert_eq!(c.env, ["prod"]);
    }

    #[test]
    fn prefix_and_case_do_not_matter() {
        let c = classify(["Role-Redis", "tag:REGION-apac", "role-redis", "role-"]);
        assert_eq!(c.roles, ["redis"], "duplicates and empty roles dropped");
        assert_eq!(c.region, "apac");
        assert!(has_all(
            &["tag:server".into(), "tag:env-prod".into()],
            &["server".into(), "tag:ENV-prod".into()]
        ));
        assert!(!has_all(&["tag:server".into()], &["tag:env-prod".into()]));
        assert!(has_all(&[], &[]));
    }
}
