//! One probe round against one edge: connect to its own address with the public name as
//! SNI and `Host`, time each phase on its own, read the head of the page, then check
//! Mastodon's health endpoints (and optionally a media object) through the same edge.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_rustls::TlsConnector;

use super::certificate::{self, Trust};
use super::http::{self, Head};
use super::verifier::{Presented, RecordingVerifier};
use super::{Certificate, Check, EdgeReading, MediaCheck};
use crate::net::route::Route;
use crate::sanitize::sanitize_truncated;

pub const HEALTH_PATH: &str = "/health";
pub const STREAMING_HEALTH_PATH: &str = "/api/v1/streaming/health";
/// Header values are shown in a table cell; nginx sends a word here.
const SHOWN_HEADER: usize = 60;

/// Everything a probe needs that does not change between rounds.
pub struct Prober {
    pub edge: Route,
    pub path: String,
    pub media_path: Option<String>,
    /// Object storage's own route and the path prefix its URL carries.
    pub storage: Option<(Route, String)>,
    pub webpki: Arc<WebPkiServerVerifier>,
    pub provider: Arc<CryptoProvider>,
    /// What the certificate was checked against, for messages.
    pub trust_store: String,
}

#[derive(Default, Clone, Copy)]
struct Phases {
    dns_ms: f64,
    connect_ms: f64,
    tls_ms: f64,
}

struct Fetched {
    head: Head,
    phases: Phases,
    first_byte_ms: f64,
    total_ms: f64,
    presented: Option<Presented>,
    verifier: Option<Arc<RecordingVerifier>>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// When a whole probe round must be over, and how long that was from its start.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    pub by: tokio::time::Instant,
    pub budget: Duration,
}

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        let budget = Duration::from_millis(budget.as_millis() as u64);
        Deadline {
            by: tokio::time::Instant::now() + budget,
            budget,
        }
    }

    fn missed(&self) -> String {
        format!(
            "no answer within {}",
            humantime::format_duration(self.budget)
        )
    }
}

impl Prober {
    /// One full round, finished by `by`. `Err` only when the edge itself could not be
    /// reached or did not answer HTTP: then there is nothing to show but the reason.
    pub async fn probe(&self, by: Deadline) -> Result<EdgeReading, String> {
        let route = &self.edge;
        let url = format!("https://{}{}", route.host, self.path);
        // All at once: a far edge costs four round trips per request, and in sequence the
        // checks would not fit the deadline of one poll.
        let (main, health, streaming_health, media) = tokio::join!(
            self.fetch(route, "GET", &self.path, by),
            self.check(route, "GET", HEALTH_PATH, by),
            self.check(route, "GET", STREAMING_HEALTH_PATH, by),
            self.media(by),
        );
        let main =
            main.map_err(|e| format!("edge at {} ({}): {e}", route.target.shown(), route.host))?;
        let cert = match (&main.presented, &main.verifier) {
            (Some(presented), Some(verifier)) => self.assess(presented, verifier, &route.host),
            _ => None,
        };
        let header = |name: &str| {
            main.head
                .header(name)
                .map(|v| sanitize_truncated(v, SHOWN_HEADER))
        };
        Ok(EdgeReading {
            url,
            address: route.target.shown(),
            status: Some(main.head.status),
            dns_ms: main.phases.dns_ms,
            connect_ms: main.phases.connect_ms,
            tls_ms: main.phases.tls_ms,
            first_byte_ms: main.first_byte_ms,
            cache_status: header("x-cache-status").or_else(|| header("x-cached")),
            cache_hit_ratio: None,
            cert,
            health,
            streaming_health,
            server: header("server"),
            media,
        })
    }

    async fn media(&self, by: Deadline) -> Option<MediaCheck> {
        let path = self.media_path.as_deref()?;
        let via_edge = self.check(&self.edge, "HEAD", path, by);
        let direct = async {
            let (route, prefix) = self.storage.as_ref()?;
            let full = format!("{}{}", prefix.trim_end_matches('/'), path);
            Some(self.check(route, "HEAD", &full, by).await)
        };
        let (via_edge, direct) = tokio::join!(via_edge, direct);
        Some(MediaCheck { via_edge, direct })
    }

    async fn check(&self, route: &Route, method: &str, path: &str, by: Deadline) -> Check {
        let started = Instant::now();
        let outcome = self.fetch(route, method, path, by).await;
        let ms = ms(started);
        match outcome {
            Ok(f) => {
                // Through an edge an invalid certificate is reported once, on the edge
                // itself; straight to storage it is the answer.
                let storage_cert = (!std::ptr::eq(route, &self.edge))
                    .then(|| f.presented.as_ref().and_then(|p| p.verdict.clone().err()))
                    .flatten();
                match storage_cert {
                    Some(e) => Check {
                        path: path.to_string(),
                        status: None,
                        ms,
                        error: Some(format!(
                            "certificate refused: {}",
                            sanitize_truncated(&e.to_string(), 120)
                        )),
                    },
                    None => Check {
                        path: path.to_string(),
                        status: Some(f.head.status),
                        ms: f.total_ms,
                        error: None,
                    },
                }
            }
            Err(e) => Check {
                path: path.to_string(),
                status: None,
                ms,
                error: Some(e),
            },
        }
    }

    /// `None` when the edge sent nothing parseable (reported as missing certificate data).
    fn assess(
        &self,
        presented: &Presented,
        verifier: &RecordingVerifier,
        host: &str,
    ) -> Option<Certificate> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let leaf = presented.chain.first()?;
        let facts = match certificate::parse(leaf) {
            Ok(facts) => facts,
            Err(e) => {
                tracing::debug!(host, error = %e, "edge certificate does not parse");
                return None;
            }
        };
        let trust = match &presented.verdict {
            Ok(()) => Trust::Trusted,
            Err(e) if certificate::is_time_or_name(e) => {
                // Set expiry and name aside (reported on their own) and ask whether the
                // chain would be trusted at a moment the leaf was valid.
                let mid = (facts.not_before / 2 + facts.not_after / 2).max(0) as u64;
                let at = UnixTime::since_unix_epoch(Duration::from_secs(mid));
                match ServerName::try_from(host.to_string()) {
                    Ok(name) => match verifier.verdict_at(&presented.chain, &name, at) {
                        Ok(()) => Trust::Trusted,
                        Err(e) if certificate::is_time_or_name(&e) => match e {
                            rustls::Error::InvalidCertificate(
                                rustls::CertificateError::NotValidForName
                                | rustls::CertificateError::NotValidForNameContext { .. },
                            ) => Trust::Trusted,
                            _ => Trust::Untrusted(
                                "another certificate in the chain is outside its validity period"
                                    .into(),
                            ),
                        },
                        Err(e) => Trust::Untrusted(certificate::untrusted_reason(
                            &e,
                            &facts.issuer,
                            &self.trust_store,
                        )),
                    },
                    Err(_) => Trust::Trusted,
                }
            }
            Err(e) => Trust::Untrusted(certificate::untrusted_reason(
                e,
                &facts.issuer,
                &self.trust_store,
            )),
        };
        Some(certificate::assess(&facts, host, trust, now))
    }

    /// One request on a fresh connection, every phase bounded by `by`.
    async fn fetch(
        &self,
        route: &Route,
        method: &str,
        path: &str,
        by: Deadline,
    ) -> Result<Fetched, String> {
        let started = Instant::now();
        let mut phases = Phases::default();
        let addr = match route.target.ip {
            Some(ip) => std::net::SocketAddr::new(ip, route.target.port),
            None => {
                let t = Instant::now();
                let found = timeout_at(
                    by.by,
                    tokio::net::lookup_host((route.target.host.as_str(), route.target.port)),
                )
                .await
                .map_err(|_| format!("DNS lookup of {}: {}", route.target.host, by.missed()))?
                .map_err(|e| format!("DNS lookup of {} failed: {e}", route.target.host))?
                .next()
                .ok_or_else(|| format!("DNS lookup of {} found no address", route.target.host))?;
                phases.dns_ms = ms(t);
                found
            }
        };
        let t = Instant::now();
        let tcp = timeout_at(by.by, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("TCP connect to {addr}: {}", by.missed()))?
            .map_err(|e| format!("TCP connect to {addr}: {}", io_reason(&e)))?;
        phases.connect_ms = ms(t);
        let _ = tcp.set_nodelay(true);
        if !route.tls {
            let (head, first_byte_ms) =
                timeout_at(by.by, http::exchange(tcp, method, path, &route.host_header))
                    .await
                    .map_err(|_| format!("waiting for the answer: {}", by.missed()))??;
            return Ok(Fetched {
                head,
                phases,
                first_byte_ms,
                total_ms: ms(started),
                presented: None,
                verifier: None,
            });
        }
        let verifier = Arc::new(RecordingVerifier::new(self.webpki.clone()));
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = ServerName::try_from(route.host.clone())
            .map_err(|_| format!("`{}` cannot be sent as a TLS server name", route.host))?;
        let t = Instant::now();
        let tls = timeout_at(
            by.by,
            TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| format!("TLS handshake: {}", by.missed()))?
        .map_err(|e| format!("TLS handshake failed: {}", io_reason(&e)))?;
        phases.tls_ms = ms(t);
        let (head, first_byte_ms) =
            timeout_at(by.by, http::exchange(tls, method, path, &route.host_header))
                .await
                .map_err(|_| format!("waiting for the answer: {}", by.missed()))??;
        Ok(Fetched {
            head,
            phases,
            first_byte_ms,
            total_ms: ms(started),
            presented: verifier.presented(),
            verifier: Some(verifier),
        })
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused (is nginx running?)".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by the edge".into(),
        std::io::ErrorKind::UnexpectedEof => "the edge closed the connection".into(),
        _ => sanitize_truncated(&e.to_string(), 160),
    }
}
