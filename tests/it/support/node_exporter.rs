//! A real Prometheus node_exporter (the Debian package) on a free loopback port, reading
//! this machine's /proc and /sys.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::process::{START_TIMEOUT, ServerProcess, free_port};

pub const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

pub struct NodeExporter {
    port: u16,
    process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl NodeExporter {
    pub fn start() -> NodeExporter {
        assert!(
            Path::new(NODE_EXPORTER).exists(),
            "{NODE_EXPORTER} is missing: install prometheus-node-exporter (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let port = free_port();
            let log = dir.path().join("node_exporter.log");
            let child = Command::new(NODE_EXPORTER)
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                // The textfile directory of the package would read the machine's own files.
                .arg(format!(
                    "--collector.textfile.directory={}",
                    dir.path().display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(
                    std::fs::File::create(&log)
                        .map(Stdio::from)
                        .unwrap_or_else(|_| Stdio::null()),
                )
                .spawn()
                .expect("start node_exporter");
            let mut process = ServerProcess::new(child, Signal::SIGTERM);
            loop {
                if let Some(status) = process.exited() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("address already in use") && Instant::now() < deadline {
                        break;
                    }
                    panic!("node_exporter exited ({status}) at start:\n{text}");
                }
                if metrics_served(port) {
                    return NodeExporter {
                        port,
                        process,
                        _dir: dir,
                    };
                }
                assert!(
                    Instant::now() < deadline,
                    "node_exporter did not come up on {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }
}

fn metrics_served(port: u16) -> bool {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 32];
    stream.read(&mut buf).is_ok_and(|n| {
        buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200")
    })
}
