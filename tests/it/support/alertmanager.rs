//! A real Alertmanager (the Debian `prometheus-alertmanager`) on a free loopback port, with
//! its data in a temp dir and clustering off.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::process::{START_TIMEOUT, ServerProcess, free_port, log_tail};

pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// Groups by alert name and sends nowhere: the API is what the tests read.
const CONFIG: &str = "route:
  receiver: nowhere
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
receivers:
  - name: nowhere
";

pub struct Alertmanager {
    port: u16,
    process: ServerProcess,
    dir: tempfile::TempDir,
}

impl Alertmanager {
    pub fn start() -> Alertmanager {
        assert!(
            Path::new(ALERTMANAGER).exists(),
            "{ALERTMANAGER} is missing: install prometheus-alertmanager (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, CONFIG).expect("write the alertmanager config");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let port = free_port();
            let log = dir.path().join("alertmanager.log");
            let child = Command::new(ALERTMANAGER)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // Empty: no gossip port, no peers.
                .arg("--cluster.listen-address=")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::File::create(&log)
                        .map(Stdio::from)
                        .unwrap_or_else(|_| Stdio::null()),
                )
                .spawn()
                .expect("start alertmanager");
            let mut process = ServerProcess::new(child, Signal::SIGTERM);
            loop {
                if let Some(status) = process.exited() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("address already in use") && Instant::now() < deadline {
                        break;
                    }
                    panic!("alertmanager exited ({status}) at start:\n{text}");
                }
                if super::http_get(port, "/-/ready").is_some_and(|(status, _)| status == 200) {
                    return Alertmanager { port, process, dir };
                }
                assert!(
                    Instant::now() < deadline,
                    "alertmanager did not come up on {port}:\n{}",
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

    /// The body of a GET on the API, as JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let (status, body) = super::http_get(self.port, path)
            .unwrap_or_else(|| panic!("GET {path} from alertmanager failed"));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub fn log(&self) -> String {
        log_tail(&self.dir.path().join("alertmanager.log"), 30)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}
