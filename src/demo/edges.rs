//! Demo edge caches. Timings are as seen from an operator in Europe: Frankfurt is next
//! door, Tokyo a quarter of a second away, and health checks pay the extra trip from the
//! edge back to the core in Germany.

use std::time::Duration;

use crate::sources::edge::{Certificate, Check, EdgeReading};

use super::clock;
use super::noise::{around, round, smooth};
use super::script;

#[derive(Debug, PartialEq)]
pub(crate) struct Site {
    pub name: &'static str,
    pub region: &'static str,
    pub address: &'static str,
    /// Round trip from the operator to this edge.
    pub rtt_ms: f64,
    /// Round trip from this edge back to the core.
    pub origin_rtt_ms: f64,
    pub hit_ratio: f64,
}

/// Addresses are from the documentation ranges (RFC 5737).
pub(crate) const SITES: [Site; 4] = [
    Site {
        name: "fremont-1",
        region: "us-west",
        address: "192.0.2.10",
        rtt_ms: 148.0,
        origin_rtt_ms: 152.0,
        hit_ratio: 0.94,
    },
    Site {
        name: "newark-1",
        region: "us-east",
        address: "192.0.2.20",
        rtt_ms: 86.0,
        origin_rtt_ms: 90.0,
        hit_ratio: 0.95,
    },
    Site {
        name: "frankfurt-1",
        region: "eu-central",
        address: "198.51.100.30",
        rtt_ms: 6.0,
        origin_rtt_ms: 4.0,
        hit_ratio: 0.97,
    },
    Site {
        name: "tokyo-1",
        region: "apac",
        address: "203.0.113.40",
        rtt_ms: 232.0,
        origin_rtt_ms: 238.0,
        hit_ratio: 0.89,
    },
];

const ISSUER: &str = "C=US, O=Let's Encrypt, CN=R11";

pub(crate) fn reading(site: &Site, t: Duration, s: f64, anchor: clock::Anchor) -> EdgeReading {
    let now = t.as_secs_f64();
    let key = |what: &str| format!("edge/{}:{what}", site.name);
    let rtt = around(&key("rtt"), now, site.rtt_ms, 0.06);
    // Mastodon's app answers /health in about 15 ms; the edge adds the trip to the core.
    let through_edge = |what: &str| {
        round(
            rtt + around(&key(what), now, site.origin_rtt_ms + 15.0, 0.1),
            1,
        )
    };
    let days_left = if site.name == "tokyo-1" {
        script::tokyo_cert_days_left(s)
    } else {
        script::fleet_cert_days_left(s)
    };
    // The expiry is that many days from the moment of this reading, on the real calendar.
    let not_after = anchor.wall_unix(t) + days_left * 86_400.0;
    // Every few probes land on an object that just fell out of the cache.
    let cache_status = if smooth(&key("cache"), now, 3.0) > 0.75 {
        "MISS"
    } else {
        "HIT"
    };
    EdgeReading {
        url: "https://hachyderm.io/sounds/boop.ogg".into(),
        address: site.address.into(),
        status: Some(200),
        dns_ms: round(around(&key("dns"), now, 5.0, 0.4), 1),
        connect_ms: round(rtt, 1),
        tls_ms: round(rtt + around(&key("tls"), now, 3.0, 0.5), 1),
        first_byte_ms: round(rtt + around(&key("ttfb"), now, 2.5, 0.6), 1),
        cache_status: Some(cache_status.into()),
        cache_hit_ratio: Some(round(
            (site.hit_ratio + 0.02 * smooth(&key("hits"), now, 60.0)).min(1.0),
            3,
        )),
        cert: Some(Certificate {
            subject: "CN=hachyderm.io".into(),
            issuer: ISSUER.into(),
            not_after: clock::rfc3339(not_after),
            days_left: round(days_left, 2),
            names: vec!["hachyderm.io".into(), "*.hachyderm.io".into()],
            asked_for: "hachyderm.io".into(),
            name_matches: true,
            untrusted: None,
        }),
        health: Check {
            path: "/health".into(),
            status: Some(200),
            ms: through_edge("health"),
            error: None,
        },
        streaming_health: Check {
            path: "/api/v1/streaming/health".into(),
            status: Some(200),
            ms: through_edge("streaming"),
            error: None,
        },
        server: Some("nginx".into()),
        media: None,
    }
}
