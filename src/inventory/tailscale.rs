//! `tailscale status --json` (and LocalAPI `/localapi/v0/status`, the same document) and
//! `whois` responses. Tailscale calls the format subject to change, so every field is
//! optional and unknown fields are ignored.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Deserialize;

use super::Discovered;
use super::taxonomy;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Status {
    pub backend_state: String,
    #[serde(rename = "Self")]
    pub self_node: Option<Peer>,
    /// Keyed by node public key; the order carries no meaning.
    pub peer: BTreeMap<String, Peer>,
    #[serde(rename = "MagicDNSSuffix")]
    pub magic_dns_suffix: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Peer {
    pub host_name: String,
    #[serde(rename = "DNSName")]
    pub dns_name: String,
    #[serde(rename = "OS")]
    pub os: String,
    #[serde(rename = "TailscaleIPs")]
    pub tailscale_ips: Vec<String>,
    /// Absent on untagged (user-owned) devices.
    pub tags: Option<Vec<String>>,
    pub online: bool,
    /// Zero time (`0001-01-01T00:00:00Z`) unless the node is offline.
    pub last_seen: Option<String>,
}

/// Why a status document could not be used.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusError {
    Json(String),
    /// tailscaled answered, but is not connected (`NeedsLogin`, `Stopped`…).
    NotRunning(String),
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusError::Json(e) => write!(f, "tailscale status is not the expected JSON: {e}"),
            StatusError::NotRunning(state) => write!(
                f,
                "tailscale is {state}, not Running: run `tailscale up` on this machine"
            ),
        }
    }
}

pub fn parse_status(json: &[u8]) -> Result<Status, StatusError> {
    let status: Status =
        serde_json::from_slice(json).map_err(|e| StatusError::Json(e.to_string()))?;
    match status.backend_state.as_str() {
        // Older versions and hand-made documents may leave it out.
        "" | "Running" => Ok(status),
        other => Err(StatusError::NotRunning(
            crate::sanitize::sanitize(other).into_owned(),
        )),
    }
}

/// Peers carrying every tag in `require_tags`, as hosts. The console's own node is not a
/// peer and never appears.
pub fn hosts(status: &Status, require_tags: &[String]) -> Vec<Discovered> {
    status
        .peer
        .values()
        .filter(|p| taxonomy::has_all(p.tags.as_deref().unwrap_or_default(), require_tags))
        .filter_map(peer_host)
        .collect()
}

/// One peer as a host: named by its MagicDNS label (unique in the tailnet, where
/// `HostName` need not be), reached at its MagicDNS name, else its first IPv4 address.
fn peer_host(peer: &Peer) -> Option<Discovered> {
    let dns = peer
        .dns_name
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let label = dns.split('.').next().unwrap_or_default().to_string();
    let ipv4 = peer
        .tailscale_ips
        .iter()
        .find(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
        .or(peer.tailscale_ips.first())
        .cloned();
    let name = [label, peer.host_name.trim().to_ascii_lowercase()]
        .into_iter()
        .find(|n| !n.is_empty())?;
    let address = if dns.is_empty() {
        ipv4.clone().unwrap_or_else(|| name.clone())
    } else {
        dns.clone()
    };
    let tags: Vec<String> = peer
        .tags
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|t| taxonomy::bare(t))
        .collect();
    let classified = taxonomy::classify(tags.iter().map(String::as_str));
    let mut aliases: Vec<String> = Vec::new();
    for alias in std::iter::once(dns)
        .chain(std::iter::once(peer.host_name.trim().to_ascii_lowercase()))
        .chain(peer.tailscale_ips.iter().cloned())
    {
        if !alias.is_empty() && alias != name && !aliases.contains(&alias) {
            aliases.push(alias);
        }
    }
    Some(Discovered {
        name,
        address,
        roles: classified.roles,
        region: classified.region,
        provider: classified.provider,
        tags,
        aliases,
        online: Some(peer.online),
        last_seen: if peer.online {
            None
        } else {
            peer.last_seen.as_deref().and_then(parse_time)
        },
        groups: Vec::new(),
    })
}

/// A Go `time.Time` in RFC 3339; the zero time and anything unreadable are `None`.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("0001-01-01") {
        return None;
    }
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()
}

/// `/localapi/v0/whois` (and `tailscale whois --json`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WhoIs {
    pub node: WhoIsNode,
    pub user_profile: UserProfile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WhoIsNode {
    pub name: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UserProfile {
    pub login_name: String,
    pub display_name: String,
}

/// The login of the person behind a whois answer. A tagged node belongs to no person
/// (Tailscale answers `tagged-devices`), so it names nobody.
pub fn login(json: &[u8]) -> Result<Option<String>, String> {
    let whois: WhoIs = serde_json::from_slice(json).map_err(|e| format!("whois: {e}"))?;
    let login = crate::sanitize::sanitize(whois.user_profile.login_name.trim()).into_owned();
    if login.is_empty() || login == "tagged-devices" || !whois.node.tags.is_empty() {
        return Ok(None);
    }
    Ok(Some(login))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_bad_times_are_none() {
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("yesterday"), None);
        let t = parse_time("2026-11-26T07:30:00Z").expect("valid time");
        assert_eq!(
            humantime::format_rfc3339_seconds(t).to_string(),
            "2026-11-26T07:30:00Z"
        );
        assert!(parse_time("2026-11-26T07:30:00.123456789Z").is_some());
    }

    #[test]
    fn not_running_is_an_error_with_the_state() {
        let err = parse_status(br#"{"BackendState":"NeedsLogin"}"#).expect_err("not running");
        assert!(err.to_string().contains("NeedsLogin"), "{err}");
        assert!(matches!(parse_status(b"{"), Err(StatusError::Json(_))));
        assert!(parse_status(b"{}").is_ok(), "every field is optional");
    }

    #[test]
    fn tagged_nodes_name_nobody() {
        let tagged =
            br#"{"Node":{"Tags":["tag:server"]},"UserProfile":{"LoginName":"tagged-devices"}}"#;
        assert_eq!(login(tagged), Ok(None));
        let person = br#"{"UserProfile":{"LoginName":"alice@example.org\u001b[2J"}}"#;
        assert_eq!(login(person), Ok(Some("alice@example.org".into())));
        assert!(login(b"{").is_err());
        assert!(login(b"42").is_err());
    }
}
