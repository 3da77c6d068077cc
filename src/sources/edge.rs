//! Edge cache nodes: the nginx VMs users actually talk to. One probe per edge, pinned to
//! the edge's own address so GeoDNS cannot hide a sick site behind a healthy one.
//!
//! A reading is what one probe round saw: timings of the page fetch, the cache header,
//! the certificate that edge serves, and `/health` plus streaming health *through* the
//! edge (a 200 from the edge alone proves nothing about the origin behind it).

mod certificate;
mod http;
mod probe;
pub mod region;
mod source;
mod verifier;

use std::any::Any;

use serde::{Deserialize, Serialize};

use crate::model::{
    Detail, Figure, Finding, Level, Reading, Threshold, Unit,
    detail::{Cell, Column, Row, TableData},
    figure::format_value,
};

pub use self::probe::{HEALTH_PATH, STREAMING_HEALTH_PATH};
pub use self::region::{RegionSummary, region_summary};
pub use self::source::{EdgeSource, spec};

pub use crate::model::kinds::edge::{FIGURES, KIND};

/// Renewal normally happens at 30 days left; 14 means automation has already failed once.
pub const CERT_WARN_DAYS: f64 = 14.0;
pub const CERT_CRIT_DAYS: f64 = 7.0;
const FIRST_BYTE: Threshold = Threshold::above(800.0, 2000.0);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeReading {
    /// The URL probed, e.g. `https://hachyderm.io/about`.
    pub url: String,
    /// The address the probe was pinned to (the edge's own, bypassing GeoDNS).
    pub address: String,
    /// HTTP status of the probe; `None` when no response arrived.
    pub status: Option<u16>,
    /// Each phase on its own, not cumulative as curl reports them.
    pub dns_ms: f64,
    pub connect_ms: f64,
    pub tls_ms: f64,
    /// From the request being sent to the first byte of the answer: the edge's own latency
    /// plus, on a cache miss, the trip to the core.
    pub first_byte_ms: f64,
    /// The cache header as sent (`X-Cache-Status`/`X-Cached`): `HIT`, `MISS`, `STALE`…
    pub cache_status: Option<String>,
    /// Share of cacheable requests served from cache over the last window, 0–1.
    pub cache_hit_ratio: Option<f64>,
    pub cert: Option<Certificate>,
    /// `GET /health` through the edge (web, and with it the database and cache).
    pub health: Check,
    /// `GET /api/v1/streaming/health` through the edge.
    pub streaming_health: Check,
    /// nginx `Server` header, when sent.
    pub server: Option<String>,
    /// HEAD of a media object through the edge and straight from object storage, when
    /// configured.
    pub media: Option<MediaCheck>,
}

/// A media object fetched both ways: a failure only through the edge is the edge's fault
/// (the 2022-12-17 western-US media 404s), a failure both ways is storage's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaCheck {
    pub via_edge: Check,
    pub direct: Option<Check>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    /// RFC 3339, as the certificate states it.
    pub not_after: String,
    /// Negative once expired.
    pub days_left: f64,
    /// subjectAltName entries (DNS names, addresses).
    pub names: Vec<String>,
    /// The public hostname the probe asked for, and whether `names` cover it.
    pub asked_for: String,
    pub name_matches: bool,
    /// `None` when the chain leads to a trusted root; otherwise why not.
    pub untrusted: Option<String>,
}

/// One health endpoint fetched through the edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub path: String,
    pub status: Option<u16>,
    pub ms: f64,
    /// Transport error when no status arrived.
    pub error: Option<String>,
}

impl Check {
    /// Mastodon's health bodies differ between versions, so only the status decides.
    pub fn ok(&self) -> bool {
        self.status == Some(200)
    }

    fn outcome(&self) -> String {
        match (self.status, &self.error) {
            (Some(code), _) => format!("{code} in {}", format_value(self.ms, Unit::Millis)),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

impl Certificate {
    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        if self.days_left < 0.0 {
            findings.push(Finding::crit(format!(
                "certificate {} ({})",
                certificate::expired_ago(self.days_left),
                self.not_after.get(..10).unwrap_or(&self.not_after)
            )));
        }
        if !self.name_matches {
            findings.push(Finding::crit(format!(
                "name mismatch: cert is for {}, not {}",
                certificate::names_list(&self.names),
                self.asked_for
            )));
        }
        if let Some(reason) = &self.untrusted {
            findings.push(Finding::crit(format!("certificate not trusted: {reason}")));
        }
        findings
    }
}

impl MediaCheck {
    fn findings(&self) -> Vec<Finding> {
        let path = &self.via_edge.path;
        match (self.via_edge.ok(), self.direct.as_ref()) {
            (true, Some(direct)) if !direct.ok() => vec![Finding::warn(format!(
                "media {path} from object storage: {} (the edge still serves it)",
                direct.outcome()
            ))],
            (true, _) => Vec::new(),
            (false, Some(direct)) if direct.ok() => vec![Finding::crit(format!(
                "media {path} through the edge: {}, while object storage answers {}",
                self.via_edge.outcome(),
                direct.outcome()
            ))],
            (false, Some(direct)) => vec![Finding::crit(format!(
                "media {path} fails through the edge ({}) and at object storage ({})",
                self.via_edge.outcome(),
                direct.outcome()
            ))],
            (false, None) => vec![Finding::crit(format!(
                "media {path} through the edge: {}",
                self.via_edge.outcome()
            ))],
        }
    }
}

impl EdgeReading {
    fn cert_figure_is_key(&self) -> bool {
        // Expiry is silent until the day it is not; once it is near, it matters more on the
        // overview than latency does.
        self.cert
            .as_ref()
            .is_some_and(|c| c.days_left <= CERT_WARN_DAYS * 2.0)
    }
}

impl Reading for EdgeReading {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = vec![
            Figure::new(
                "first_byte_ms",
                "first byte",
                self.first_byte_ms,
                Unit::Millis,
            )
            .with_threshold(FIRST_BYTE),
            Figure::new("dns_ms", "DNS", self.dns_ms, Unit::Millis),
            Figure::new("connect_ms", "connect", self.connect_ms, Unit::Millis),
            Figure::new("tls_ms", "TLS handshake", self.tls_ms, Unit::Millis),
        ];
        if let Some(ratio) = self.cache_hit_ratio {
            figures.push(Figure::new(
                "cache_hit_pct",
                "cache hits",
                ratio * 100.0,
                Unit::Percent,
            ));
        }
        if let Some(cert) = &self.cert {
            let figure = Figure::new("cert_days_left", "certificate", cert.days_left, Unit::Days);
            // Once expired, a finding says so in words ("expired 3 days ago") instead of
            // the threshold's "certificate -3 d ≤ 7 d".
            figures.push(if cert.days_left < 0.0 {
                figure
            } else {
                figure.with_threshold(Threshold::below(CERT_WARN_DAYS, CERT_CRIT_DAYS))
            });
        }
        figures
    }

    fn key_figure(&self) -> Option<&'static str> {
        Some(if self.cert_figure_is_key() {
            "cert_days_left"
        } else {
            "first_byte_ms"
        })
    }

    fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        match self.status {
            None => findings.push(Finding::crit(format!("no response from {}", self.address))),
            Some(code) if code >= 400 => {
                findings.push(Finding::crit(format!("probe answered HTTP {code}")))
            }
            Some(_) => {}
        }
        if !self.health.ok() {
            findings.push(Finding::crit(format!(
                "{} through the edge: {}",
                self.health.path,
                self.health.outcome()
            )));
        }
        if !self.streaming_health.ok() {
            findings.push(Finding::crit(format!(
                "streaming health through the edge: {}",
                self.streaming_health.outcome()
            )));
        }
        if let Some(cert) = &self.cert {
            findings.extend(cert.findings());
        }
        if let Some(media) = &self.media {
            findings.extend(media.findings());
        }
        if self.cert.is_none() && self.url.starts_with("https://") {
            findings.push(Finding::warn(
                "no certificate information from the TLS handshake",
            ));
        }
        findings
    }

    fn summary(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "no answer".to_string(), |s| s.to_string());
        let cache = self.cache_status.as_deref().unwrap_or("no cache header");
        match &self.cert {
            Some(cert) if cert.days_left < 0.0 => format!(
                "{status} · {cache} · cert {}",
                certificate::expired_ago(cert.days_left)
            ),
            Some(cert) if self.cert_figure_is_key() => format!(
                "{status} · {cache} · cert expires {}",
                cert.not_after.get(..10).unwrap_or(&cert.not_after)
            ),
            _ => format!(
                "{status} · {cache} · {}",
                format_value(self.first_byte_ms, Unit::Millis)
            ),
        }
    }

    fn detail(&self) -> Detail {
        let ms = |v: f64| format_value(v, Unit::Millis);
        let mut detail = Detail::default().pairs(
            "Probe",
            vec![
                ("url", self.url.clone()),
                ("address", self.address.clone()),
                (
                    "status",
                    self.status
                        .map_or_else(|| "no answer".to_string(), |s| s.to_string()),
                ),
                ("server", self.server.clone().unwrap_or_else(|| "—".into())),
                (
                    "cache status",
                    self.cache_status.clone().unwrap_or_else(|| "—".into()),
                ),
                (
                    "cache hit ratio",
                    self.cache_hit_ratio
                        .map_or_else(|| "—".into(), |r| format_value(r * 100.0, Unit::Percent)),
                ),
            ],
        );
        let timing = [
            ("DNS", self.dns_ms),
            ("connect", self.connect_ms),
            ("TLS handshake", self.tls_ms),
            ("first byte", self.first_byte_ms),
        ];
        detail = detail.table(
            "Timing",
            TableData {
                columns: vec![Column::text("phase", 14), Column::number("ms", 8)],
                rows: timing
                    .iter()
                    .map(|&(phase, v)| Row {
                        key: None,
                        cells: vec![Cell::text(phase), Cell::number(ms(v), v)],
                        level: None,
                    })
                    .collect(),
            },
        );
        if let Some(cert) = &self.cert {
            detail = detail.pairs(
                "Certificate",
                vec![
                    ("subject", cert.subject.clone()),
                    ("issuer", cert.issuer.clone()),
                    ("not after", cert.not_after.clone()),
                    ("days left", format!("{:.1}", cert.days_left)),
                    ("names", certificate::names_list(&cert.names)),
                    (
                        "covers",
                        if cert.name_matches {
                            format!("{} ✓", cert.asked_for)
                        } else {
                            format!("not {}", cert.asked_for)
                        },
                    ),
                    (
                        "trust",
                        cert.untrusted
                            .clone()
                            .unwrap_or_else(|| "chains to a trusted root".into()),
                    ),
                ],
            );
        }
        let check_row = |name: &str, check: &Check| Row {
            key: None,
            cells: vec![
                Cell::text(name),
                Cell::text(check.path.clone()),
                Cell::text(check.outcome()),
            ],
            level: Some(if check.ok() { Level::Ok } else { Level::Crit }),
        };
        let mut rows = vec![
            check_row("web", &self.health),
            check_row("streaming", &self.streaming_health),
        ];
        if let Some(media) = &self.media {
            rows.push(check_row("media", &media.via_edge));
            if let Some(direct) = &media.direct {
                rows.push(check_row("storage", direct));
            }
        }
        detail.table(
            "Health through the edge",
            TableData {
                columns: vec![
                    Column::text("check", 10),
                    Column::text("path", 28),
                    Column::text("result", 20),
                ],
                rows,
            },
        )
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::health::evaluate;

    fn probe(days_left: f64) -> EdgeReading {
        let check = |path: &str| Check {
            path: path.into(),
            status: Some(200),
            ms: 40.0,
            error: None,
        };
        EdgeReading {
            url: "https://example.social/sounds/boop.ogg".into(),
            address: "192.0.2.1".into(),
            status: Some(200),
            dns_ms: 3.0,
            connect_ms: 10.0,
            tls_ms: 12.0,
            first_byte_ms: 15.0,
            cache_status: Some("HIT".into()),
            cache_hit_ratio: Some(0.95),
            cert: Some(Certificate {
                subject: "CN=example.social".into(),
                issuer: "CN=R11".into(),
                not_after: "2026-04-01T00:00:00Z".into(),
                days_left,
                names: vec!["example.social".into()],
                asked_for: "example.social".into(),
                name_matches: true,
                untrusted: None,
            }),
            health: check("/health"),
            streaming_health: check("/api/v1/streaming/health"),
            server: None,
            media: None,
        }
    }

    fn level(r: &EdgeReading) -> Level {
        evaluate(&r.figures(), &r.findings(), |_| None).level
    }

    #[test]
    fn certificate_expiry_warns_at_14_days_and_is_critical_at_7() {
        assert_eq!(level(&probe(60.0)), Level::Ok);
        assert_eq!(probe(60.0).key_figure(), Some("first_byte_ms"));
        assert_eq!(level(&probe(14.0)), Level::Warn);
        assert_eq!(probe(14.0).key_figure(), Some("cert_days_left"));
        assert_eq!(level(&probe(7.0)), Level::Crit);
    }

    #[test]
    fn a_failing_health_check_through_the_edge_is_critical() {
        let mut r = probe(60.0);
        r.streaming_health.status = Some(502);
        assert_eq!(level(&r), Level::Crit);
        let mut r = probe(60.0);
        r.health.status = None;
        r.health.error = Some("connection reset".into());
        let health = evaluate(&r.figures(), &r.findings(), |_| None);
        assert_eq!(health.level, Level::Crit);
        assert!(health.reasons[0].contains("connection reset"));
    }
}
