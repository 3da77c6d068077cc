//! Hosts read through a real node_exporter instead of SSH: the same reading from the same
//! machine, rates from its own clock, unit states honestly unknown without the systemd
//! collector, and a page that is not node_exporter (or never comes) reported as such.

use crate::support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use mastop::config::{Defaults, HostConfig, MetricsVia, SshConfig};
use mastop::model::{ComponentId, Level, Reading, SourceState};
use mastop::sources::host::{self, HostReading, HostSource};
use mastop::sources::{PollError, Source};
use support::BlackHole;
use support::node_exporter::NodeExporter;
use tokio::sync::Semaphore;

const DEADLINE: Duration = Duration::from_secs(8);

fn host(url: &str) -> HostConfig {
    let mut h = HostConfig::new("cdn-fremont-1", "127.0.0.1");
    h.roles = vec!["edge-cdn".into()];
    h.metrics = Some(MetricsVia::NodeExporter);
    h.node_exporter_url = Some(url.to_string());
    h
}

fn source(h: &HostConfig) -> HostSource {
    HostSource::new(
        h,
        &SshConfig::default(),
        DEADLINE,
        Arc::new(Semaphore::new(1)),
    )
}

async fn read(source: &mut HostSource) -> Result<HostReading, PollError> {
    let r = tokio::time::timeout(DEADLINE * 2, source.poll())
        .await
        .expect("poll hung")?;
    Ok(r.as_any()
        .downcast_ref::<HostReading>()
        .expect("host reading")
        .clone())
}

fn local(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_node_exporter_gives_the_same_reading_as_proc() {
    let exporter = NodeExporter::start();
    let mut source = source(&host(&exporter.url()));
    let first = read(&mut source).await.expect("first scrape");
    assert_eq!(first.hostname, local("/proc/sys/kernel/hostname").trim());
    assert_eq!(
        first.kernel.as_deref(),
        Some(local("/proc/sys/kernel/osrelease").trim())
    );
    let cpus = local("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(first.cpus as usize, cpus);
    let mem_kib: u64 = local("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("MemTotal");
    assert_eq!(first.memory_total_bytes, mem_kib * 1024);
    assert!(
        first.filesystems.iter().any(|f| f.mount == "/"),
        "{:?}",
        first.filesystems
    );
    assert_eq!(first.rate_window_s, None);
    // No systemd collector here: unknown, and said so, rather than "firewall missing".
    assert!(first.units.is_empty());
    let why = first.units_unreadable.clone().expect("units are unknown");
    assert!(why.contains("--collector.systemd"), "{why}");
    assert!(
        first
            .findings()
            .iter()
            .any(|f| f.level == Level::Warn && f.message.starts_with("unit states unknown")),
        "{:?}",
        first.findings()
    );

    std::thread::sleep(Duration::from_millis(1100));
    let second = read(&mut source).await.expect("second scrape");
    assert!(second.rate_window_s.is_some_and(|w| w > 0.0));
    assert!((0.0..=100.0).contains(&second.cpu_busy_pct));
    assert!(second.figures().iter().any(|f| f.key == "cpu_busy_pct"));
}

/// Answers every connection with `response`, once.
fn serve(response: &'static str) -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(response.as_bytes());
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_is_not_node_exporter_or_never_comes_is_reported() {
    let html = serve(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>\u{1b}[2Jwelcome to nginx</html>",
    );
    let err = read(&mut source(&host(&format!(
        "http://127.0.0.1:{html}/metrics"
    ))))
    .await
    .expect_err("not node_exporter");
    assert!(err.to_string().contains("is this node_exporter?"), "{err}");

    let missing = serve("HTTP/1.1 404 Not Found\r\n\r\n404 page not found\n");
    let err = read(&mut source(&host(&format!(
        "http://127.0.0.1:{missing}/metrics"
    ))))
    .await
    .expect_err("404");
    assert!(
        err.to_string()
            .contains("answered `HTTP/1.1 404 Not Found`"),
        "{err}"
    );

    let hole = BlackHole::start();
    let mut hung = host(&format!("http://127.0.0.1:{}/metrics", hole.port()));
    hung.deadline = Some(Duration::from_secs(2));
    let fleet = mastop::engine::poll::poll_once(
        host::specs(&[hung], &SshConfig::default(), &Defaults::default()),
        Default::default(),
    )
    .await;
    let state = fleet
        .get(&ComponentId::new(host::KIND, "cdn-fremont-1"))
        .expect("in the fleet");
    assert_eq!(state.status.state, SourceState::Down);
    // The page gets most of the poll's deadline, so the error names what stalled before the
    // scheduler gives up on the whole poll.
    assert_eq!(
        state.status.error.as_deref(),
        Some(
            format!(
                "node_exporter at 127.0.0.1:{}: no complete answer before the deadline",
                hole.port()
            )
            .as_str()
        )
    );
}
