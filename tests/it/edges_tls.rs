//! Edge probes against a real nginx serving generated certificates: each certificate case
//! is reported (not just refused), cache headers are read, health is checked through the
//! edge, and a silent or closed edge is down with the phase named.

use crate::support;

use std::time::Duration;

use mastop::config::EdgeConfig;
use mastop::model::health::evaluate;
use mastop::model::{Level, Reading};
use mastop::sources::edge::{EdgeReading, EdgeSource};
use mastop::sources::{PollError, Schedule, Source};
use support::BlackHole;
use support::certs::{CertCase, Certs};
use support::nginx::{Nginx, Site};

const HOST: &str = "social.example";
/// A hang guard only: a probe against local nginx takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn edge(address: String, ca: Option<std::path::PathBuf>) -> EdgeConfig {
    EdgeConfig {
        name: "test-edge".into(),
        address,
        hostname: HOST.into(),
        region: "us-west".into(),
        tags: Vec::new(),
        tls_ca: ca,
        cadence: None,
        deadline: None,
        enabled: true,
        path: "/sounds/boop.ogg".into(),
        media_path: None,
        object_storage_url: None,
    }
}

fn schedule(deadline: Duration) -> Schedule {
    Schedule {
        cadence: Duration::from_secs(1),
        deadline,
    }
}

async fn poll(config: &EdgeConfig, deadline: Duration) -> Result<EdgeReading, PollError> {
    let mut source = EdgeSource::new(config, schedule(deadline));
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("the probe finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<EdgeReading>()
        .expect("an edge reading")
        .clone())
}

async fn probe(config: &EdgeConfig) -> EdgeReading {
    poll(config, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("probe of {} failed: {e}", config.address))
}

fn health(r: &EdgeReading) -> mastop::model::Health {
    evaluate(&r.figures(), &r.findings(), |_| None)
}

fn started() -> (Certs, Nginx) {
    let certs = Certs::generate(HOST);
    let sites = [
        Site::new(CertCase::Valid),
        Site::new(CertCase::ExpiringSoon),
        Site::new(CertCase::Expired),
        Site::new(CertCase::WrongName),
        Site::new(CertCase::Untrusted),
    ];
    let nginx = Nginx::start(&certs, &sites);
    (certs, nginx)
}

#[tokio::test]
async fn every_certificate_case_is_reported_with_its_dates_names_and_trust() {
    let (certs, nginx) = started();
    let ca = Some(certs.ca());

    let valid = probe(&edge(nginx.address(0), ca.clone())).await;
    let cert = valid.cert.as_ref().expect("certificate recorded");
    assert_eq!(valid.status, Some(200), "{}", nginx.error_log());
    assert!(
        (89.0..=90.0).contains(&cert.days_left),
        "{}",
        cert.days_left
    );
    assert!(cert.name_matches && cert.untrusted.is_none(), "{cert:?}");
    assert!(cert.issuer.contains("mastop test CA"), "{}", cert.issuer);
    assert_eq!(cert.names, [HOST]);
    assert!(
        valid.health.ok() && valid.streaming_health.ok(),
        "{valid:?}"
    );
    assert_eq!(health(&valid).level, Level::Ok, "{:?}", health(&valid));

    let soon = probe(&edge(nginx.address(1), ca.clone())).await;
    let cert = soon.cert.as_ref().expect("certificate recorded");
    assert!((4.0..=5.0).contains(&cert.days_left), "{}", cert.days_left);
    assert!(cert.untrusted.is_none() && cert.name_matches);
    let h = health(&soon);
    assert_eq!(h.level, Level::Crit);
    assert!(h.reasons[0].starts_with("certificate "), "{:?}", h.reasons);
    assert_eq!(soon.key_figure(), Some("cert_days_left"));

    let expired = probe(&edge(nginx.address(2), ca.clone())).await;
    let cert = expired
        .cert
        .as_ref()
        .expect("an expired certificate is still recorded");
    assert!(
        (-4.0..=-3.0).contains(&cert.days_left),
        "{}",
        cert.days_left
    );
    // Expiry is set aside when judging the chain: it was issued by the trusted CA.
    assert!(cert.untrusted.is_none(), "{cert:?}");
    let h = health(&expired);
    assert_eq!(h.level, Level::Crit);
    assert!(
        h.reasons[0].starts_with("certificate expired 3 days ago"),
        "{:?}",
        h.reasons
    );
    assert!(expired.summary().contains("expired 3 days ago"));

    let wrong = probe(&edge(nginx.address(3), ca.clone())).await;
    let cert = wrong.cert.as_ref().expect("certificate recorded");
    assert!(!cert.name_matches && cert.untrusted.is_none(), "{cert:?}");
    let h = health(&wrong);
    assert_eq!(h.level, Level::Crit);
    assert!(
        h.reasons
            .contains(&"name mismatch: cert is for other.example, not social.example".to_string()),
        "{:?}",
        h.reasons
    );

    let rogue = probe(&edge(nginx.address(4), ca.clone())).await;
    let cert = rogue.cert.as_ref().expect("certificate recorded");
    let why = cert.untrusted.as_deref().expect("untrusted");
    assert!(
        why.contains("nobody trusts this CA") && why.contains("tls_ca"),
        "{why}"
    );
    assert!(
        health(&rogue)
            .reasons
            .iter()
            .any(|r| r.starts_with("certificate not trusted: issuer")),
        "{:?}",
        health(&rogue).reasons
    );

    // Without tls_ca the test CA is unknown to the system trust store, and that is said.
    let system = probe(&edge(nginx.address(0), None)).await;
    let why = system.cert.as_ref().and_then(|c| c.untrusted.clone());
    assert!(
        why.as_deref()
            .is_some_and(|w| w.contains("the system trust store")),
        "{why:?}"
    );
}

#[tokio::test]
async fn the_cache_header_goes_from_miss_to_hit_and_phases_are_timed() {
    let certs = Certs::generate(HOST);
    let mut mastodon_style = Site::new(CertCase::Valid);
    mastodon_style.cache_header = "X-Cached";
    let nginx = Nginx::start(&certs, &[Site::new(CertCase::Valid), mastodon_style]);
    let config = edge(nginx.address(0), Some(certs.ca()));
    let first = probe(&config).await;
    let second = probe(&config).await;
    assert_eq!(first.cache_status.as_deref(), Some("MISS"));
    assert_eq!(second.cache_status.as_deref(), Some("HIT"));
    assert!(
        second
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("nginx"))
    );
    assert_eq!(second.url, "https://social.example/sounds/boop.ogg");
    assert_eq!(second.address, nginx.address(0));
    // A literal address needs no lookup; the other phases happened and were measured.
    assert_eq!(second.dns_ms, 0.0);
    assert!(second.connect_ms > 0.0 && second.tls_ms > 0.0 && second.first_byte_ms > 0.0);

    let other = edge(nginx.address(1), Some(certs.ca()));
    probe(&other).await;
    assert_eq!(probe(&other).await.cache_status.as_deref(), Some("HIT"));
}

#[tokio::test]
async fn failing_health_through_the_edge_and_media_checks() {
    let certs = Certs::generate(HOST);
    let mut sick = Site::new(CertCase::Valid);
    sick.health = 503;
    sick.streaming = 502;
    let nginx = Nginx::start(&certs, &[Site::new(CertCase::Valid), sick]);

    let r = probe(&edge(nginx.address(1), Some(certs.ca()))).await;
    assert_eq!(
        (r.health.status, r.streaming_health.status),
        (Some(503), Some(502))
    );
    let h = health(&r);
    assert_eq!(h.level, Level::Crit);
    assert!(
        h.reasons
            .iter()
            .any(|r| r.starts_with("/health through the edge: 503"))
    );
    assert!(
        h.reasons
            .iter()
            .any(|r| r.starts_with("streaming health through the edge: 502"))
    );

    let mut media = edge(nginx.address(0), Some(certs.ca()));
    media.media_path = Some("/system/media/cat.png".into());
    media.object_storage_url = Some(nginx.origin_url());
    let r = probe(&media).await;
    let m = r.media.as_ref().expect("media checked");
    assert_eq!(m.via_edge.status, Some(200));
    assert_eq!(m.direct.as_ref().and_then(|d| d.status), Some(200));
    assert_eq!(health(&r).level, Level::Ok, "{:?}", health(&r));

    media.media_path = Some("/system/media/gone.png".into());
    let r = probe(&media).await;
    let h = health(&r);
    assert_eq!(h.level, Level::Crit);
    assert!(
        h.reasons
            .iter()
            .any(|r| r.contains("fails through the edge (404")
                && r.contains("and at object storage (404")),
        "{:?}",
        h.reasons
    );
}

#[tokio::test]
async fn an_edge_that_accepts_and_never_speaks_is_down_naming_the_handshake() {
    let hole = BlackHole::start();
    let config = edge(hole.addr().to_string(), None);
    let err = poll(&config, Duration::from_millis(500))
        .await
        .expect_err("no reading from a silent edge");
    let PollError::Failed(message) = err else {
        panic!("a silent edge is down, not denied: {err:?}");
    };
    assert!(
        message.contains("TLS handshake: no answer within 450ms"),
        "{message}"
    );
    assert!(message.contains(&hole.addr().to_string()) && message.contains(HOST));
    // The page and both health checks went out together, and all three were cut off. The
    // listener thread may still be picking up the last of them.
    for _ in 0..200 {
        if hole.accepted() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hole.accepted(), 3);
}

#[tokio::test]
async fn a_refused_port_is_down_with_the_reason() {
    let port = support::free_port();
    let err = poll(
        &edge(format!("127.0.0.1:{port}"), None),
        Duration::from_secs(5),
    )
    .await
    .expect_err("nothing listens");
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn escape_sequences_in_headers_never_reach_the_reading() {
    let certs = Certs::generate(HOST);
    // Bytes HTTP allows in a header value but a terminal must not see: stripped.
    let mut bidi = Site::new(CertCase::Valid);
    bidi.cache_value = Some("\u{202e}HIT\u{2066}".into());
    // Control bytes HTTP forbids there: the header is dropped, the probe still reads.
    let mut escapes = Site::new(CertCase::Valid);
    escapes.cache_value = Some("\u{1b}]0;owned\u{7}HIT\u{1b}[2J\u{202e}".into());
    let nginx = Nginx::start(&certs, &[bidi, escapes]);
    let r = probe(&edge(nginx.address(0), Some(certs.ca()))).await;
    assert_eq!(
        r.cache_status.as_deref(),
        Some("HIT"),
        "{:?}",
        r.cache_status
    );
    let r = probe(&edge(nginx.address(1), Some(certs.ca()))).await;
    assert_eq!(r.status, Some(200));
    assert_eq!(r.cache_status, None);
    assert!(!r.summary().contains('\u{1b}'));
    assert!(!r.to_json().to_string().contains("owned"));
}

#[tokio::test]
async fn a_setup_problem_is_reported_on_every_poll_without_touching_the_network() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing-ca.pem");
    let config = edge("127.0.0.1:9".into(), Some(missing));
    let mut source = EdgeSource::new(&config, schedule(Duration::from_secs(1)));
    for _ in 0..2 {
        let err = tokio::time::timeout(HANG_GUARD, source.poll())
            .await
            .expect("finished")
            .expect_err("no CA, no probe");
        assert!(
            err.to_string()
                .starts_with("edge test-edge: cannot read tls_ca")
                && err.to_string().contains("missing-ca.pem"),
            "{err}"
        );
    }
}
