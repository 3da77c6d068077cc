//! Hosts read from a real Prometheus scraping a real node_exporter: the same figures as
//! reading that node_exporter directly and as /proc says, rates from the second refresh,
//! three queries per refresh however many hosts (counted at Prometheus itself), and a
//! target Prometheus cannot scrape or has never heard of shown as such.

use crate::support;

use std::time::Duration;

use mastop::engine::{Engine, Options};
use mastop::model::Reading;
use mastop::sources::host::HostReading;
use mastop::sources::{PollError, PollResult};
use support::node_exporter::NodeExporter;
use support::prometheus::{Job, Options as PromOptions, Prometheus};

fn queries(prometheus: &Prometheus) -> f64 {
    let (_, body) = support::http_get(prometheus.port(), "/metrics").expect("/metrics");
    body.lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && l.contains("handler=\"/api/v1/query\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn host(result: &PollResult) -> HostReading {
    match result {
        Ok(r) => r
            .as_any()
            .downcast_ref::<HostReading>()
            .expect("a host reading")
            .clone(),
        Err(e) => panic!("no reading: {e}"),
    }
}

fn local(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_from_prometheus_match_the_machine_in_three_queries_per_refresh() {
    let node = NodeExporter::start();
    let target = node
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();
    let closed = format!("127.0.0.1:{}", support::free_port());
    let prometheus = Prometheus::start(PromOptions {
        jobs: vec![
            Job::new("node", &target).label("instance", "db-1:9100"),
            Job::new("node-web", &target).label("instance", "10.9.8.7:9100"),
            Job::new("node-down", &closed).label("instance", "down-1:9100"),
        ],
        rules: None,
        alertmanager: None,
    });
    prometheus.wait_for("count_over_time(node_load1{instance=\"10.9.8.7:9100\"}[1m]) > 2");
    prometheus.wait_for("up{instance=\"down-1:9100\"} == 0");
    let config = format!(
        r#"
[defaults]
deadline = "8s"
host_metrics = "prometheus"

[[prometheus]]
name = "main"
url = "{}"

[[host]]
name = "db-1"
address = "db-1.test"
metrics = "prometheus"
firewall_unit = ""

[[host]]
name = "web-1"
address = "10.9.8.7"
firewall_unit = ""

[[host]]
name = "down-1"
address = "down-1.test"
firewall_unit = ""

[[host]]
name = "gone-1"
address = "gone-1.test"
firewall_unit = ""

[[host]]
name = "direct"
address = "127.0.0.1"
metrics = "node_exporter"
node_exporter_url = "{}"
firewall_unit = ""
"#,
        prometheus.url(),
        node.url()
    );
    let cfg = mastop::config::load_str(&config, "t.toml", &[])
        .unwrap_or_else(|e| panic!("{e}"))
        .0;
    let engine = Engine::new(cfg, Options::default());
    let mut specs = engine.sources();
    let mut rounds = Vec::new();
    for round in 0..2 {
        if round > 0 {
            // A later refresh: Prometheus has scraped again, the shared answer is old.
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        let before = queries(&prometheus);
        let mut results = std::collections::HashMap::new();
        for spec in specs.iter_mut().filter(|s| s.meta.kind == "host") {
            let result = tokio::time::timeout(Duration::from_secs(30), spec.source.poll())
                .await
                .expect("bounded");
            results.insert(spec.meta.id.name().to_string(), result);
        }
        let sent = queries(&prometheus) - before;
        assert_eq!(sent, 3.0, "round {round}: three queries for four hosts");
        rounds.push(results);
    }

    let db = host(&rounds[1]["db-1"]);
    let web = host(&rounds[1]["web-1"]);
    let direct = host(&rounds[1]["direct"]);
    for r in [&db, &web] {
        assert_eq!(r.hostname, local("/proc/sys/kernel/hostname").trim());
        assert_eq!(
            r.kernel.as_deref(),
            Some(local("/proc/sys/kernel/osrelease").trim())
        );
        assert_eq!(r.cpus, direct.cpus);
        assert_eq!(r.memory_total_bytes, direct.memory_total_bytes);
        let mounts = |h: &HostReading| -> Vec<String> {
            h.filesystems.iter().map(|f| f.mount.clone()).collect()
        };
        assert_eq!(mounts(r), mounts(&direct));
        for (a, b) in r.filesystems.iter().zip(&direct.filesystems) {
            assert_eq!(a.size_bytes, b.size_bytes, "{}", a.mount);
            // A scrape apart: a busy disk may have moved a little.
            assert!(
                (a.used_pct - b.used_pct).abs() < 1.0,
                "{} {} {}",
                a.mount,
                a.used_pct,
                b.used_pct
            );
        }
        assert!((r.memory_used_pct - direct.memory_used_pct).abs() < 5.0);
        assert!(
            (r.load_1 - direct.load_1).abs() < 2.0,
            "{} {}",
            r.load_1,
            direct.load_1
        );
        assert!(r.rate_window_s.is_some(), "rates from the second refresh");
        assert!(
            (0.0..=100.0).contains(&r.cpu_busy_pct),
            "{}",
            r.cpu_busy_pct
        );
        let keys: Vec<&str> = r.figures().iter().map(|f| f.key).collect();
        let direct_keys: Vec<&str> = direct.figures().iter().map(|f| f.key).collect();
        assert_eq!(keys, direct_keys, "the same figures either way");
    }
    let cpus = local("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(db.cpus as usize, cpus);

    match &rounds[1]["down-1"] {
        Err(PollError::Failed(e)) => assert_eq!(
            e,
            "Prometheus cannot scrape down-1:9100 (job node-down): up == 0"
        ),
        other => panic!("down-1 should be down: {other:?}"),
    }
    match &rounds[1]["gone-1"] {
        Err(PollError::Failed(e)) => assert!(
            e.contains("Prometheus has no node_exporter series for instance gone-1 or gone-1.test"),
            "{e}"
        ),
        other => panic!("gone-1 should be down: {other:?}"),
    }
}
