//! A real Prometheus (the Debian package) on a free loopback port, its TSDB in a temp dir,
//! scraping and evaluating every second so tests wait seconds, not minutes.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::process::{START_TIMEOUT, ServerProcess, free_port, log_tail};

pub const PROMETHEUS: &str = "/usr/bin/prometheus";

/// One scrape job: its name, the `host:port` targets, the path, and labels set on every
/// target (an `instance` here replaces the address).
#[derive(Clone, Debug)]
pub struct Job {
    pub name: String,
    pub targets: Vec<String>,
    pub path: String,
    pub labels: Vec<(String, String)>,
}

impl Job {
    pub fn new(name: &str, target: &str) -> Job {
        Job {
            name: name.into(),
            targets: vec![target.into()],
            path: "/metrics".into(),
            labels: Vec::new(),
        }
    }
    pub fn label(mut self, name: &str, value: &str) -> Job {
        self.labels.push((name.into(), value.into()));
        self
    }
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    pub jobs: Vec<Job>,
    /// A rules file's text (YAML), if any.
    pub rules: Option<String>,
    /// Where alerts go: an Alertmanager's port.
    pub alertmanager: Option<u16>,
}

pub struct Prometheus {
    port: u16,
    process: ServerProcess,
    dir: tempfile::TempDir,
}

fn config(options: &Options, rules: Option<&Path>) -> String {
    let mut text = String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n");
    if let Some(rules) = rules {
        let _ = writeln!(text, "rule_files:\n  - {}", rules.display());
    }
    if let Some(port) = options.alertmanager {
        let _ = writeln!(
            text,
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{port}']"
        );
    }
    text.push_str("scrape_configs:\n");
    for job in &options.jobs {
        let targets: Vec<String> = job.targets.iter().map(|t| format!("'{t}'")).collect();
        let _ = writeln!(
            text,
            "  - job_name: '{}'\n    metrics_path: '{}'\n    static_configs:\n      - targets: [{}]",
            job.name,
            job.path,
            targets.join(", ")
        );
        if !job.labels.is_empty() {
            text.push_str("        labels:\n");
            for (k, v) in &job.labels {
                let _ = writeln!(text, "          {k}: '{v}'");
            }
        }
    }
    text
}

impl Prometheus {
    pub fn start(options: Options) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: install prometheus (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = options.rules.as_ref().map(|text| {
            let path = dir.path().join("rules.yml");
            std::fs::write(&path, text).expect("write the rules");
            path
        });
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config(&options, rules.as_deref()))
            .expect("write the prometheus config");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let port = free_port();
            let log = dir.path().join("prometheus.log");
            let child = Command::new(PROMETHEUS)
                .arg(format!("--config.file={}", config_file.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // Firing alerts reach Alertmanager within a second, not a minute.
                .arg("--rules.alert.resend-delay=1s")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::File::create(&log)
                        .map(Stdio::from)
                        .unwrap_or_else(|_| Stdio::null()),
                )
                .spawn()
                .expect("start prometheus");
            let mut process = ServerProcess::new(child, Signal::SIGTERM);
            loop {
                if let Some(status) = process.exited() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("address already in use") && Instant::now() < deadline {
                        break;
                    }
                    panic!("prometheus exited ({status}) at start:\n{text}");
                }
                if super::http_get(port, "/-/ready").is_some_and(|(status, _)| status == 200) {
                    return Prometheus { port, process, dir };
                }
                assert!(
                    Instant::now() < deadline,
                    "prometheus did not come up on {port}:\n{}",
                    log_tail(&log, 20)
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An instant query's result list (panics on an error answer).
    pub fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/query?query={}", encode(expr));
        let (status, body) =
            super::http_get(self.port, &path).unwrap_or_else(|| panic!("query {expr} failed"));
        assert_eq!(status, 200, "query {expr}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("query answer is JSON");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `expr` returns at least one series (scrapes and rules take a second or
    /// two to land).
    pub fn wait_for(&self, expr: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        while self.query(expr).is_empty() {
            assert!(
                Instant::now() < deadline,
                "`{expr}` still empty after {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        log_tail(&self.dir.path().join("prometheus.log"), 30)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
