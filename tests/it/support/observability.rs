//! The instance's own observability, for real: a node_exporter and a static page of
//! Mastodon 4.4-shaped metrics, scraped every second by a Prometheus whose rules send one
//! alert that fires at once (and one that never does) to an Alertmanager.

use std::time::{Duration, Instant};

use super::Alertmanager;
use super::node_exporter::NodeExporter;
use super::prometheus::{Job, Options, Prometheus};
use super::scripted_http::{Reply, ScriptedHttp};

pub const MASTODON_METRICS: &str = include_str!("../../fixtures/mastodon/metrics.txt");

/// Two fire at once, about host db-1; the third never fires.
pub const RULES: &str = r#"groups:
  - name: mastop-test
    rules:
      - alert: DiskAlmostFull
        expr: vector(1)
        labels:
          instance: "db-1:9100"
          job: node
          severity: critical
        annotations:
          summary: "/ on db-1 is 97% full"
      - alert: SwapInUse
        expr: vector(1)
        labels:
          instance: "db-1:9100"
          job: node
          severity: warning
        annotations:
          summary: "db-1 is swapping"
      - alert: NeverFires
        expr: vector(1) > 2
        labels:
          instance: "web-1:9394"
          job: mastodon
          severity: critical
"#;

pub struct Stack {
    pub node: NodeExporter,
    pub mastodon: ScriptedHttp,
    pub alertmanager: Alertmanager,
    pub prometheus: Prometheus,
}

impl Stack {
    pub fn start() -> Stack {
        let node = NodeExporter::start();
        let mastodon = ScriptedHttp::start();
        mastodon.route(
            "/metrics",
            Reply::Body(
                200,
                "text/plain; version=0.0.4",
                MASTODON_METRICS.as_bytes().to_vec(),
            ),
        );
        let alertmanager = Alertmanager::start();
        let address = |url: &str| {
            url.trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let prometheus = Prometheus::start(Options {
            jobs: vec![
                Job::new("node", &address(&node.url())).label("instance", "db-1:9100"),
                // The same exporter again, as a second host: one query answers for both.
                Job::new("node-web", &address(&node.url())).label("instance", "web-1:9100"),
                Job::new("mastodon", &address(&mastodon.url())).label("instance", "web-1:9394"),
            ],
            rules: Some(RULES.into()),
            alertmanager: Some(alertmanager.port()),
        });
        let stack = Stack {
            node,
            mastodon,
            alertmanager,
            prometheus,
        };
        stack.prometheus.wait_for("up{job=\"node\"} == 1");
        stack.prometheus.wait_for("up{job=\"mastodon\"} == 1");
        stack.wait_for_alert("DiskAlmostFull");
        stack.wait_for_alert("SwapInUse");
        stack
    }

    /// Waits until Alertmanager lists an alert of this name.
    pub fn wait_for_alert(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let alerts = self.alertmanager.get("/api/v2/alerts");
            let found = alerts
                .as_array()
                .is_some_and(|list| list.iter().any(|a| a["labels"]["alertname"] == name));
            if found {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached alertmanager:\n{}\n{}",
                self.prometheus.log(),
                self.alertmanager.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A config with this stack's Prometheus and Alertmanager and host db-1 read from the
    /// node_exporter, plus `extra` TOML.
    pub fn config(&self, extra: &str) -> mastop::config::Config {
        let text = format!(
            r#"
[defaults]
deadline = "8s"

[[prometheus]]
name = "main"
url = "{}"

[[alertmanager]]
name = "main"
url = "{}"

[[host]]
name = "db-1"
address = "db-1.test"
metrics = "node_exporter"
node_exporter_url = "{}"
firewall_unit = ""
{extra}
"#,
            self.prometheus.url(),
            self.alertmanager.url(),
            self.node.url()
        );
        mastop::config::load_str(&text, "test.toml", &[])
            .unwrap_or_else(|e| panic!("{e}"))
            .0
    }
}
