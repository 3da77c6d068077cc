//! Every HTTP source and runbook request through a real nginx with TLS from a test CA:
//! `tls_ca` trusted and a wrong CA refused, basic auth right and wrong (node_exporter too,
//! over TLS, as exporter-toolkit deployments serve it), a redirect reported rather than
//! followed, a body over the cap cut off, and the `Host` header nginx logged for `[::1]`
//! and non-default ports.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mastop::actions::Role;
use mastop::config::{Config, EndpointConfig, HostConfig, MetricsVia, SecretRef, SshConfig};
use mastop::net::http::{Client, ClientSpec};
use mastop::runbooks::engine::execute_collecting;
use mastop::runbooks::{Control, Inventory, InventoryHost, Mode, RunEnd, expand};
use mastop::sources::elasticsearch::{ClusterStatus, ElasticsearchReading, ElasticsearchSource};
use mastop::sources::host::{HostReading, HostSource};
use mastop::sources::streaming::{StreamingReading, StreamingSource};
use mastop::sources::{PollError, Schedule, Source};
use support::certs::Certs;
use support::console::Console;
use support::nginx_services::{BIG_METRICS, PASSWORD, ServiceNginx, TOKEN, USER};
use support::node_exporter::NodeExporter;
use tokio::sync::Semaphore;

const DEADLINE: Duration = Duration::from_secs(8);

fn schedule() -> Schedule {
    Schedule {
        cadence: Duration::from_secs(1),
        deadline: DEADLINE,
    }
}

/// A file holding `secret`, as a `file:` secret reference.
struct SecretFile {
    _dir: tempfile::TempDir,
    reference: SecretRef,
}

fn secret_file(secret: &str) -> SecretFile {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{secret}\n")).expect("write the secret");
    SecretFile {
        _dir: dir,
        reference: SecretRef::File(path),
    }
}

fn endpoint(url: String, tls_ca: Option<PathBuf>) -> EndpointConfig {
    EndpointConfig {
        tls_ca,
        ..EndpointConfig::new("svc", url)
    }
}

async fn elasticsearch(config: &EndpointConfig) -> Result<ElasticsearchReading, PollError> {
    let mut source = ElasticsearchSource::new(config, schedule());
    let reading = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("the poll finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<ElasticsearchReading>()
        .expect("an Elasticsearch reading")
        .clone())
}

async fn streaming(config: &EndpointConfig) -> Result<StreamingReading, PollError> {
    let mut source = StreamingSource::new(config, schedule());
    let reading = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("the poll finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<StreamingReading>()
        .expect("a streaming reading")
        .clone())
}

fn node_exporter_host(url: String) -> HostConfig {
    let mut h = HostConfig::new("cdn-1", "127.0.0.1");
    h.metrics = Some(MetricsVia::NodeExporter);
    h.node_exporter_url = Some(url);
    h
}

async fn node_exporter(host: &HostConfig) -> Result<HostReading, PollError> {
    let mut source = HostSource::new(
        host,
        &SshConfig::default(),
        DEADLINE,
        Arc::new(Semaphore::new(1)),
    );
    let reading = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("the poll finished")?;
    Ok(reading
        .as_any()
        .downcast_ref::<HostReading>()
        .expect("a host reading")
        .clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_tls_ca_is_read_and_a_wrong_ca_is_refused_with_the_reason() {
    let certs = Certs::loopback();
    let nginx = ServiceNginx::start(&certs, None);

    let es = elasticsearch(&endpoint(nginx.https("/es"), Some(certs.ca())))
        .await
        .expect("https with tls_ca");
    assert_eq!((es.status, es.nodes), (ClusterStatus::Green, 3));
    assert_eq!(es.indices.len(), 5);
    assert_eq!(es.version.as_deref(), Some("Elasticsearch 7.17.9"));

    let metrics = streaming(&endpoint(
        nginx.https("/streaming/metrics"),
        Some(certs.ca()),
    ))
    .await
    .expect("streaming over https");
    assert_eq!(metrics.websocket_clients, 812.0);
    assert_eq!(metrics.skipped_lines, None);

    let rogue = certs.rogue_ca();
    let err = elasticsearch(&endpoint(nginx.https("/es"), Some(rogue.clone())))
        .await
        .expect_err("a CA that did not sign the server's certificate");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "certificate refused: it is not signed by a CA in tls_ca {}",
            rogue.display()
        )),
        "{text}"
    );
    let err = streaming(&endpoint(nginx.https("/streaming/metrics"), None))
        .await
        .expect_err("the test CA is in no system trust store");
    assert!(
        err.to_string()
            .contains("not signed by a CA in the system trust store"),
        "{err}"
    );
    // Refused at the handshake: nothing reached nginx with the wrong CA.
    let health = nginx.logged("/es/_cluster/health");
    assert_eq!(health.len(), 1, "{health:?}");
    assert_eq!(health[0].host, format!("localhost:{}", nginx.tls_port()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_right_and_wrong_and_node_exporter_over_tls_with_basic_auth() {
    let certs = Certs::loopback();
    let exporter = NodeExporter::start();
    let upstream = exporter.url().trim_end_matches("/metrics").to_string();
    let nginx = ServiceNginx::start(&certs, Some(&upstream));
    let right = secret_file(PASSWORD);
    let wrong = secret_file("not-the-password");
    let private = nginx
        .https("/private")
        .replacen("https://", &format!("https://{USER}@"), 1);

    let es = |password: Option<&SecretFile>| EndpointConfig {
        password: password.map(|p| p.reference.clone()),
        ..endpoint(private.clone(), Some(certs.ca()))
    };
    let r = elasticsearch(&es(Some(&right)))
        .await
        .expect("right password");
    assert_eq!(r.status, ClusterStatus::Green);
    for (password, what) in [(Some(&wrong), "wrong password"), (None, "no password")] {
        let err = elasticsearch(&es(password)).await.expect_err(what);
        assert!(
            matches!(&err, PollError::Denied(m) if m.contains("HTTP 401")),
            "{what}: {err:?}"
        );
        assert!(!err.to_string().contains(PASSWORD));
    }

    let node_url =
        nginx
            .https("/node/metrics")
            .replacen("https://", &format!("https://{USER}@"), 1);
    let mut host = node_exporter_host(node_url);
    host.node_exporter_tls_ca = Some(certs.ca());
    host.node_exporter_password = Some(right.reference.clone());
    let reading = node_exporter(&host)
        .await
        .expect("node_exporter over TLS with basic auth");
    assert_eq!(
        reading.hostname,
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .expect("hostname")
            .trim()
    );
    assert!(reading.memory_total_bytes > 0);

    host.node_exporter_password = Some(wrong.reference.clone());
    let err = node_exporter(&host).await.expect_err("wrong password");
    assert!(
        matches!(&err, PollError::Denied(m) if m.contains("401 Unauthorized")),
        "{err:?}"
    );

    // nginx writes its log line after the answer has left: give the last one a moment.
    let mut statuses: Vec<u16> = Vec::new();
    for _ in 0..50 {
        statuses = nginx
            .logged("/node/metrics")
            .iter()
            .map(|l| l.status)
            .collect();
        if statuses.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(statuses, [200, 401]);
    let es_statuses: Vec<u16> = nginx
        .logged("/private/_cluster/health")
        .iter()
        .map(|l| l.status)
        .collect();
    assert_eq!(es_statuses, [200, 401, 401]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_is_sent_to_every_http_source_and_a_wrong_one_refused() {
    let certs = Certs::loopback();
    let exporter = NodeExporter::start();
    let upstream = exporter.url().trim_end_matches("/metrics").to_string();
    let nginx = ServiceNginx::start(&certs, Some(&upstream));
    let right = secret_file(TOKEN);
    let wrong = secret_file("tok-not-this-one");
    let with = |url: String, token: &SecretFile| EndpointConfig {
        bearer_token: Some(token.reference.clone()),
        ..endpoint(url, Some(certs.ca()))
    };

    let es = elasticsearch(&with(nginx.https("/token"), &right))
        .await
        .expect("Elasticsearch with the right token");
    assert_eq!(es.status, ClusterStatus::Green);
    let streaming_reading = streaming(&with(nginx.https("/token-streaming/metrics"), &right))
        .await
        .expect("streaming with the right token");
    assert!(streaming_reading.websocket_clients > 0.0);
    let mut host = node_exporter_host(nginx.https("/node-token/metrics"));
    host.node_exporter_tls_ca = Some(certs.ca());
    host.node_exporter_bearer_token = Some(right.reference.clone());
    let reading = node_exporter(&host)
        .await
        .expect("node_exporter with the right token");
    assert!(reading.memory_total_bytes > 0);

    let es_err = elasticsearch(&with(nginx.https("/token"), &wrong))
        .await
        .expect_err("a wrong token");
    let streaming_err = streaming(&with(nginx.https("/token-streaming/metrics"), &wrong))
        .await
        .expect_err("a wrong token");
    host.node_exporter_bearer_token = Some(wrong.reference.clone());
    let node_err = node_exporter(&host).await.expect_err("a wrong token");
    for err in [&es_err, &streaming_err, &node_err] {
        assert!(
            matches!(err, PollError::Denied(m) if m.contains("401")),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(TOKEN) && !text.contains("tok-not-this-one"),
            "{text}"
        );
    }
    let statuses = |uri: &str| -> Vec<u16> { nginx.logged(uri).iter().map(|l| l.status).collect() };
    assert_eq!(statuses("/token/_cluster/health"), [200, 401]);
    assert_eq!(statuses("/token-streaming/metrics"), [200, 401]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_reported_and_not_followed() {
    let certs = Certs::loopback();
    let nginx = ServiceNginx::start(&certs, None);
    let err = elasticsearch(&endpoint(nginx.https("/moved"), Some(certs.ca())))
        .await
        .expect_err("a redirect is not the answer");
    let target = nginx.https("/es/_cluster/health");
    assert!(
        err.to_string().contains(&format!(
            "_cluster/health answered HTTP 301, a redirect to {target} (not followed"
        )),
        "{err}"
    );
    assert!(
        nginx.log().iter().all(|l| l.uri != "/es/_cluster/health"),
        "the redirect was not followed: {:?}",
        nginx.log()
    );

    // Following is a choice a client is built with, never the default.
    let client = Client::new(&ClientSpec {
        tls_ca: Some(certs.ca()),
        follow_redirects: 1,
        ..ClientSpec::default()
    })
    .expect("client");
    let url = nginx.https("/moved/_cluster/health").parse().expect("url");
    let by = tokio::time::Instant::now() + DEADLINE;
    let answer = client
        .fetch(client.request(reqwest::Method::GET, url), by, 1024 * 1024)
        .await
        .expect("followed");
    assert_eq!(answer.status, 200);
    assert_eq!(nginx.logged("/es/_cluster/health").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_cap_is_cut_off_with_a_clear_error() {
    let certs = Certs::loopback();
    let nginx = ServiceNginx::start(&certs, None);

    // Sent chunked: the cap is found while reading, and reading stops there.
    let err = streaming(&endpoint(nginx.https("/big/metrics"), Some(certs.ca())))
        .await
        .expect_err("32 MiB of metrics");
    assert!(
        err.to_string()
            .contains("the answer is larger than 1 MiB: cut off there"),
        "{err}"
    );
    let big = nginx.logged("/big/metrics");
    assert!(
        big[0].bytes_sent < BIG_METRICS as u64 / 2,
        "reading stopped near the cap, not at the end: {big:?}"
    );

    // With a length up front, the index list is refused before it is read; the health
    // still makes a reading, with the reason the list is missing.
    let es = elasticsearch(&endpoint(nginx.https("/big-es"), Some(certs.ca())))
        .await
        .expect("health is enough");
    assert_eq!(es.status, ClusterStatus::Green);
    assert_eq!(
        es.indices_error.as_deref(),
        Some("_cat/indices: the answer is larger than 4 MiB: cut off there")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_literals_and_non_default_ports_reach_the_host_header() {
    let certs = Certs::loopback();
    let exporter = NodeExporter::start();
    let upstream = exporter.url().trim_end_matches("/metrics").to_string();
    let nginx = ServiceNginx::start(&certs, Some(&upstream));
    let (tls, plain) = (nginx.tls_port(), nginx.plain_port());

    elasticsearch(&endpoint(
        format!("https://[::1]:{tls}/es"),
        Some(certs.ca()),
    ))
    .await
    .expect("an IPv6 literal over https");
    elasticsearch(&endpoint(format!("http://localhost:{plain}/es"), None))
        .await
        .expect("a name and a port");
    streaming(&endpoint(
        format!("http://[::1]:{plain}/streaming/metrics"),
        None,
    ))
    .await
    .expect("streaming at an IPv6 literal");
    node_exporter(&node_exporter_host(format!(
        "http://[::1]:{plain}/node-open/metrics"
    )))
    .await
    .expect("node_exporter at an IPv6 literal");

    let hosts =
        |uri: &str| -> Vec<String> { nginx.logged(uri).into_iter().map(|l| l.host).collect() };
    assert_eq!(
        hosts("/es/_cluster/health"),
        [format!("[::1]:{tls}"), format!("localhost:{plain}")]
    );
    assert_eq!(hosts("/streaming/metrics"), [format!("[::1]:{plain}")]);
    assert_eq!(hosts("/node-open/metrics"), [format!("[::1]:{plain}")]);
}

const ROLLING_HTTPS: &str = r#"
name = "rolling-https"
title = "Rolling HTTPS reload"
risk = "high"

[[param]]
name = "port"
type = "integer"
min = 1
max = 65535

[[param]]
name = "pool"
type = "string"
allowed = ["up", "sick"]

[[step]]
title = "Reload"
http = "https://{host.address}:{port}/{pool}/reload/{host.name}"
method = "POST"
hosts = { role = "mastodon-web" }
one_at_a_time = true

[step.gate]
http = "https://{host.address}:{port}/{pool}/health/{host.name}"
timeout = "3s"
interval = "1s"
"#;

fn web_hosts(n: usize) -> Vec<InventoryHost> {
    (1..=n)
        .map(|i| InventoryHost {
            name: format!("web-{i}"),
            address: "localhost".into(),
            roles: vec!["mastodon-web".into()],
            tags: vec![],
        })
        .collect()
}

async fn rolling(console: &Console, port: u16, pool: &str) -> (RunEnd, usize) {
    let runbook =
        mastop::runbooks::file::parse("rolling-https.toml", ROLLING_HTTPS).expect("parses");
    let given: BTreeMap<String, String> = [("port", port.to_string()), ("pool", pool.into())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let inventory = Inventory {
        hosts: web_hosts(3),
        components: vec![],
    };
    let plan = expand(&runbook, &given, &inventory, Mode::Run, false).expect("expands");
    let (summary, _) = execute_collecting(
        &plan,
        &console.runtime,
        Some(runbook.name.as_str()),
        &Control::new(),
    )
    .await;
    (summary.end, summary.actions_ok)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runbook_gate_on_https_passes_and_fails_as_the_server_answers() {
    let certs = Certs::loopback();
    let nginx = ServiceNginx::start(&certs, None);
    let mut cfg = Config::default();
    cfg.runbooks.tls_ca = Some(certs.ca());
    let console = Console::new(Role::Oncall, &cfg, None);

    let (end, ok) = rolling(&console, nginx.tls_port(), "up").await;
    assert_eq!((end, ok), (RunEnd::Completed, 3));

    let (end, ok) = rolling(&console, nginx.tls_port(), "sick").await;
    let RunEnd::Failed { step: 1, reason } = &end else {
        panic!("web-2's gate stops the run: {end:?}");
    };
    assert!(reason.contains("answered 503, expected 200"), "{reason}");
    assert!(reason.contains("web-3 not started"), "{reason}");
    assert_eq!(ok, 2);
    let sick: Vec<(String, u16)> = nginx
        .log()
        .into_iter()
        .filter(|l| l.uri.starts_with("/sick/"))
        .map(|l| (format!("{} {}", l.method, l.uri), l.status))
        .collect();
    assert_eq!(
        sick[..4].to_vec(),
        [
            ("POST /sick/reload/web-1".to_string(), 200),
            ("GET /sick/health/web-1".to_string(), 200),
            ("POST /sick/reload/web-2".to_string(), 200),
            ("GET /sick/health/web-2".to_string(), 503),
        ]
    );
    assert!(
        sick[4..]
            .iter()
            .all(|(r, s)| r == "GET /sick/health/web-2" && *s == 503),
        "the gate kept asking web-2 and never reached web-3: {sick:?}"
    );

    // Without the CA the same gate is refused at the handshake, and says why.
    let untrusting = Console::new(Role::Oncall, &Config::default(), None);
    let (end, ok) = rolling(&untrusting, nginx.tls_port(), "up").await;
    let RunEnd::Failed { reason, .. } = &end else {
        panic!("an untrusted certificate stops the run: {end:?}");
    };
    assert!(
        reason.contains("not signed by a CA in the system trust store"),
        "{reason}"
    );
    assert_eq!(ok, 0);
}

/// A small seeded generator: the same hostile strings on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn hostile(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "7",
            ":",
            "@",
            "%41",
            "\"",
            "'",
            "\\",
            "/",
            "?",
            "#",
            " ",
            "\t",
            "\r\n",
            "\u{1b}[2J",
            "\u{7}",
            "\u{0}",
            "é",
            "\u{202e}",
            "😀",
            "=",
            "Bearer ",
            "Basic ",
        ];
        let len = 8 + self.next() % 16;
        let mut s = String::from("S3cr");
        for _ in 0..len {
            s.push_str(PIECES[(self.next() % PIECES.len() as u64) as usize]);
        }
        s
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_passwords_and_tokens_never_reach_an_error() {
    let certs = Certs::loopback();
    let nginx = ServiceNginx::start(&certs, None);
    let private = nginx
        .https("/private")
        .replacen("https://", &format!("https://{USER}@"), 1);
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for _ in 0..48 {
        let secret = rng.hostile();
        let file = secret_file(&secret);
        let as_password = EndpointConfig {
            password: Some(file.reference.clone()),
            ..endpoint(private.clone(), Some(certs.ca()))
        };
        let as_token = EndpointConfig {
            bearer_token: Some(file.reference.clone()),
            ..endpoint(nginx.https("/private"), Some(certs.ca()))
        };
        for config in [as_password, as_token] {
            let err = elasticsearch(&config)
                .await
                .expect_err("nginx knows no such password or token");
            let text = format!("{err} {err:?}");
            let core = secret.trim_end_matches(['\r', '\n']);
            assert!(!text.contains(core), "{text:?} holds {core:?}");
            assert!(!text.contains('\u{1b}'), "{text:?}");
        }
    }
}
