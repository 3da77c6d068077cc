//! What the host script reports about Mastodon itself and the ports it exposes: the
//! datastores listening beyond loopback and the tailnet, the version and git revision in
//! the live directory, and `.env.production` as key names with salted hashes of each line.
//!
//! The values of `.env.production` never leave the host: the script hashes each
//! `KEY=VALUE` line with a salt mastop picks, and only the key and the hash travel. The
//! hashes are compared and dropped; they are never shown, logged or serialised.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// Datastore ports that must not face the internet: Redis, Postgres, PgBouncer.
pub const GUARDED_PORTS: &[(u16, &str)] =
    &[(6379, "Redis"), (5432, "Postgres"), (6432, "PgBouncer")];

/// Where a standard Mastodon install keeps its checkout.
pub const DEFAULT_LIVE_DIR: &str = "/home/mastodon/live";

/// A datastore port listening where the internet may reach it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposed {
    pub service: String,
    /// The local address as `ss` printed it (`0.0.0.0:6379`, `[::]:5432`).
    pub address: String,
}

/// What the script found about this host beyond its counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostFacts {
    /// `None` when `ss` printed nothing (not installed): unknown, not "nothing exposed".
    pub exposed: Option<Vec<Exposed>>,
    pub version: Option<String>,
    pub revision: Option<String>,
    /// Key → salted hash of its line; empty when there is no readable `.env.production`.
    pub env: BTreeMap<String, String>,
    /// The salt the hashes were made with, so only hashes of one salt are compared.
    pub salt: String,
}

impl HostFacts {
    /// Mastodon 4.5 refuses to boot with `REDIS_NAMESPACE` set.
    pub fn redis_namespace_refused(&self) -> bool {
        self.env.contains_key("REDIS_NAMESPACE")
            && self
                .version
                .as_deref()
                .and_then(major_minor)
                .is_some_and(|v| v >= (4, 5))
    }
}

fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

/// `ss -ltnH`: `LISTEN 0 511 0.0.0.0:6379 0.0.0.0:*` (the process column, when present,
/// is ignored). Only the guarded ports on an address that is not loopback or tailnet.
pub fn parse_listeners(text: &str) -> Option<Vec<Exposed>> {
    if text.trim().is_empty() {
        return None;
    }
    let mut out: Vec<Exposed> = Vec::new();
    for line in text.lines() {
        let Some(local) = line.split_whitespace().nth(3) else {
            continue;
        };
        let Some((host, port)) = local.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let Some((_, service)) = GUARDED_PORTS.iter().find(|(p, _)| *p == port) else {
            continue;
        };
        if !faces_outside(host) {
            continue;
        }
        let address = crate::sanitize::sanitize_truncated(local, 64);
        if !out.iter().any(|e| e.address == address) {
            out.push(Exposed {
                service: service.to_string(),
                address,
            });
        }
    }
    Some(out)
}

/// Whether a listening address can be reached from beyond loopback and the tailnet:
/// wildcards can, and so can any address outside 127/8, ::1, 100.64/10 and
/// fd7a:115c:a1e0::/48. An address `ss` prints in a form not understood counts as facing
/// outside: unknown is not safe.
pub fn faces_outside(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // `127.0.0.53%lo`: the interface scope does not change the address.
    let host = host.split('%').next().unwrap_or(host);
    if host == "*" {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => !(v4.is_loopback() || in_cgnat_tailnet(v4)),
        Ok(IpAddr::V6(v6)) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return !(v4.is_loopback() || in_cgnat_tailnet(v4));
            }
            !(v6.is_loopback() || in_tailnet_v6(v6))
        }
        Err(_) => true,
    }
}

fn in_cgnat_tailnet(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 100 && (64..128).contains(&b)
}

fn in_tailnet_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    s[0] == 0xfd7a && s[1] == 0x115c && s[2] == 0xa1e0
}

/// `lib/mastodon/version.rb` as `grep -A1 'def major'…` prints it: each method name line
/// followed by its value line.
pub fn parse_version(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let value = |name: &str| -> Option<u32> {
        let at = lines.iter().position(|l| *l == format!("def {name}"))?;
        lines.get(at + 1)?.parse().ok()
    };
    Some(format!(
        "{}.{}.{}",
        value("major")?,
        value("minor")?,
        value("patch")?
    ))
}

/// A git object name: 40 (SHA-1) or 64 (SHA-256) hex digits, anything else ignored.
pub fn parse_revision(text: &str) -> Option<String> {
    let rev = text.lines().next()?.trim();
    ((rev.len() == 40 || rev.len() == 64) && rev.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| rev.to_ascii_lowercase())
}

/// `KEY HASH` lines. A key must be a shell-style name and the hash hex, so nothing else a
/// broken host prints can pass for a key.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let (key, hash) = line.split_once(' ')?;
            let key_ok = !key.is_empty()
                && key.len() <= 128
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !key.starts_with(|c: char| c.is_ascii_digit());
            let hash = hash.trim();
            let hash_ok =
                (16..=64).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit());
            (key_ok && hash_ok).then(|| (key.to_string(), hash.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_datastores_beyond_loopback_and_the_tailnet_are_exposed() {
        let ss = "LISTEN 0 511 0.0.0.0:6379 0.0.0.0:*\n\
                  LISTEN 0 244 127.0.0.1:5432 0.0.0.0:*\n\
                  LISTEN 0 244 100.101.102.103:5432 0.0.0.0:*\n\
                  LISTEN 0 128 [fd7a:115c:a1e0::1]:6432 [::]:*\n\
                  LISTEN 0 128 [::]:6432 [::]:* users:((\"pgbouncer\",pid=1,fd=3))\n\
                  LISTEN 0 128 10.0.0.5:5432 0.0.0.0:*\n\
                  LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:*\n\
                  LISTEN 0 511 0.0.0.0:443 0.0.0.0:*\n\
                  garbage\n";
        let exposed = parse_listeners(ss).expect("ss ran");
        let got: Vec<(&str, &str)> = exposed
            .iter()
            .map(|e| (e.service.as_str(), e.address.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("Redis", "0.0.0.0:6379"),
                ("PgBouncer", "[::]:6432"),
                ("Postgres", "10.0.0.5:5432")
            ]
        );
        assert_eq!(parse_listeners(""), None, "no ss: unknown");
        assert!(faces_outside("*"));
        assert!(faces_outside("[::ffff:8.8.8.8]"));
        assert!(!faces_outside("[::ffff:127.0.0.1]"));
        assert!(!faces_outside("[::1]"));
        assert!(faces_outside("100.128.0.1"), "outside 100.64/10");
        assert!(faces_outside("\u{1b}[31m"));
    }

    #[test]
    fn version_revision_and_env_lines_are_read_strictly() {
        let rb = "    def major\n      4\n--\n    def minor\n      5\n--\n    def patch\n      0\n";
        assert_eq!(parse_version(rb).as_deref(), Some("4.5.0"));
        assert_eq!(parse_version("def major\n x\n"), None);
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(parse_revision(&format!("{sha}\n")).as_deref(), Some(sha));
        assert_eq!(parse_revision("ref: refs/heads/main"), None);
        let env = parse_env(
            "LOCAL_DOMAIN 0123456789abcdef0123456789abcdef\nBAD-KEY 0123456789abcdef\n\
             \u{1b}]0;x 0123456789abcdef\nS3_ENABLED nothex\n",
        );
        assert_eq!(env.keys().collect::<Vec<_>>(), ["LOCAL_DOMAIN"]);
        let facts = HostFacts {
            version: Some("4.5.0-beta.1".into()),
            env: [("REDIS_NAMESPACE".to_string(), "00".repeat(8))].into(),
            ..HostFacts::default()
        };
        assert!(facts.redis_namespace_refused());
        let older = HostFacts {
            version: Some("4.4.3".into()),
            ..facts
        };
        assert!(!older.redis_namespace_refused());
    }
}
