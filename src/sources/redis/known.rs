//! What the configuration says about a Redis's neighbours: the Redis and Sidekiq endpoints
//! and hosts it names, so a reading can tell a master it knows from one it does not, and
//! whether Sidekiq keeps its jobs here.
//!
//! Incident (Hachyderm, mastodon-ops.md): nftables did not come back after a reboot, Redis
//! sat open to the internet and was made a replica of an attacker's host. A replica
//! follows whatever `REPLICAOF` said last, so the master it names must be one of ours.

use serde::{Deserialize, Serialize};

use crate::config::{Config, EndpointConfig};

/// The neighbours one Redis endpoint is judged against.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KnownPeers {
    /// `(host, port)` of every configured Redis and Sidekiq endpoint, host lower-cased.
    pub endpoints: Vec<(String, u16)>,
    /// Names and addresses of configured hosts (any port on them is ours).
    pub hosts: Vec<String>,
    /// A `[[sidekiq]]` endpoint points at this Redis.
    pub used_by_sidekiq: bool,
}

/// `(host, port)` of a `redis://` URL, the port defaulting to 6379.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let parsed = crate::config::urls::parse(url).ok()?;
    let host = parsed
        .host_str()?
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    Some((host, parsed.port().unwrap_or(6379)))
}

impl KnownPeers {
    /// From the configuration, for the endpoint `this`. Hosts found later by discovery
    /// (Tailscale, Ansible) are not known here: only configured names count.
    pub fn from_config(config: &Config, this: &EndpointConfig) -> Self {
        let endpoints: Vec<(String, u16)> = config
            .redis
            .iter()
            .chain(&config.sidekiq)
            .filter_map(|e| host_port(&e.url))
            .collect();
        let hosts = config
            .hosts
            .iter()
            .flat_map(|h| [h.name.to_ascii_lowercase(), h.address.to_ascii_lowercase()])
            .collect();
        let me = host_port(&this.url);
        let used_by_sidekiq =
            me.is_some() && config.sidekiq.iter().any(|s| host_port(&s.url) == me);
        KnownPeers {
            endpoints,
            hosts,
            used_by_sidekiq,
        }
    }

    /// Whether anything is known at all: a source built without the configuration (a
    /// test, a one-off probe) does not judge masters.
    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty() && self.hosts.is_empty()
    }

    /// Nothing to carry: no neighbours and no Sidekiq.
    pub fn is_unset(&self) -> bool {
        self.is_empty() && !self.used_by_sidekiq
    }

    /// Whether `host:port` is a configured endpoint or on a configured host.
    pub fn knows(&self, host: &str, port: u16) -> bool {
        let host = host.trim().trim_matches(['[', ']']).to_ascii_lowercase();
        self.endpoints.iter().any(|(h, p)| *h == host && *p == port)
            || self
                .hosts
                .iter()
                .any(|h| *h == host || h.split('.').next() == Some(host.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(
            host_port("redis://:pw@Redis-1.tail.ts.net:6380/0"),
            Some(("redis-1.tail.ts.net".into(), 6380))
        );
        assert_eq!(
            host_port("redis://10.0.0.5/1"),
            Some(("10.0.0.5".into(), 6379))
        );
        assert_eq!(host_port("not a url"), None);
    }

    #[test]
    fn a_master_is_known_by_endpoint_or_by_host() {
        let k = KnownPeers {
            endpoints: vec![("127.0.0.1".into(), 6400)],
            hosts: vec![
                "redis-2".into(),
                "redis-2.tail.ts.net".into(),
                "10.0.0.7".into(),
            ],
            used_by_sidekiq: false,
        };
        assert!(k.knows("127.0.0.1", 6400));
        assert!(
            !k.knows("127.0.0.1", 6401),
            "another port on a shared address is not ours"
        );
        assert!(k.knows("10.0.0.7", 6379));
        assert!(k.knows("REDIS-2", 6379));
        assert!(!k.knows("203.0.113.66", 6379));
    }
}
