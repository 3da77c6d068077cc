//! Prometheus at fleet scale: one refresh of 1,000 hosts read from Prometheus (the three
//! answers parsed, split by host, each turned into a reading with rates), and the backfill
//! of an hour for 200 hosts (fifteen range answers parsed and tied to their hosts).
//! Queries sent are fixed by construction and counted at a real Prometheus in
//! tests/it/hosts_prometheus.rs and tests/it/backfill.rs: 3 per refresh, 15 per backfill.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::model::ComponentId;
use mastop::model::alerts::{AlertRules, Known};
use mastop::sources::host::prometheus::snapshot;
use mastop::sources::host::sample;
use mastop::sources::prometheus::api::{parse_matrix, parse_vector};
use mastop::sources::prometheus::backfill::{MAPPINGS, resolve};

const HOSTS: usize = 1_000;
const BACKFILL_HOSTS: usize = 200;

fn vector(series: &[(String, f64)]) -> String {
    let mut out = String::from(r#"{"status":"success","data":{"resultType":"vector","result":["#);
    for (i, (labels, value)) in series.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"metric":{{{labels}}},"value":[1795000000.123,"{value}"]}}"#
        );
    }
    out.push_str("]}}");
    out
}

/// The three answers of one refresh for `n` hosts, shaped like node_exporter 1.5 on a
/// 16-CPU machine with four filesystems, two disks, two interfaces and six units.
fn answers(n: usize, t: f64) -> [String; 3] {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for h in 0..n {
        let id = format!(r#""instance":"host-{h}:9100","job":"node""#);
        for (name, v) in [
            ("node_load1", 1.5),
            ("node_load5", 1.2),
            ("node_load15", 1.0),
            ("node_time_seconds", t),
            ("node_boot_time_seconds", 1_700_000_000.0),
            ("node_memory_MemTotal_bytes", 64e9),
            ("node_memory_MemAvailable_bytes", 20e9),
            ("node_memory_SwapTotal_bytes", 4e9),
            ("node_memory_SwapFree_bytes", 3e9),
            ("node_pressure_cpu_waiting_seconds_total", t / 100.0),
            ("node_pressure_memory_waiting_seconds_total", t / 1000.0),
            ("node_pressure_io_waiting_seconds_total", t / 200.0),
        ] {
            a.push((format!(r#""__name__":"{name}",{id}"#), v));
        }
        a.push((
            format!(r#""__name__":"node_uname_info",{id},"nodename":"host-{h}","release":"6.1.0-18-amd64""#),
            1.0,
        ));
        for (tag, v) in [
            ("cpu_total", t * 16.0),
            ("cpu_idle", t * 12.0),
            ("cpus", 16.0),
            ("scraped_at", t),
            ("up", 1.0),
        ] {
            a.push((format!(r#"{id},"mastop":"{tag}""#), v));
        }
        for (mount, dev) in [
            ("/", "sda1"),
            ("/var", "sda2"),
            ("/var/lib/postgresql", "nvme0n1"),
            ("/boot", "sda3"),
        ] {
            let l = format!(r#"{id},"mountpoint":"{mount}","device":"/dev/{dev}","fstype":"ext4""#);
            b.push((
                format!(r#""__name__":"node_filesystem_size_bytes",{l}"#),
                1e12,
            ));
            b.push((
                format!(r#""__name__":"node_filesystem_free_bytes",{l}"#),
                4e11,
            ));
            b.push((
                format!(r#""__name__":"node_filesystem_avail_bytes",{l}"#),
                3.5e11,
            ));
            b.push((
                format!(r#""__name__":"node_filesystem_device_error",{l}"#),
                0.0,
            ));
        }
        for dev in ["sda", "nvme0n1"] {
            for name in [
                "node_disk_io_time_seconds_total",
                "node_disk_reads_completed_total",
                "node_disk_writes_completed_total",
            ] {
                c.push((
                    format!(r#""__name__":"{name}",{id},"device":"{dev}""#),
                    t / 10.0,
                ));
            }
        }
        for dev in ["eth0", "tailscale0"] {
            for name in [
                "node_network_receive_bytes_total",
                "node_network_transmit_bytes_total",
            ] {
                c.push((
                    format!(r#""__name__":"{name}",{id},"device":"{dev}""#),
                    t * 1000.0,
                ));
            }
        }
        for unit in [
            "nginx.service",
            "nftables.service",
            "mastodon-web.service",
            "mastodon-sidekiq-default.service",
            "mastodon-streaming.service",
            "redis-server.service",
        ] {
            c.push((
                format!(r#""__name__":"node_systemd_unit_state",{id},"name":"{unit}","state":"active","type":"simple""#),
                1.0,
            ));
        }
    }
    [vector(&a), vector(&b), vector(&c)]
}

fn matrix(n: usize) -> String {
    let mut out = String::from(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for h in 0..n {
        if h > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"metric":{{"instance":"host-{h}:9100","job":"node"}},"values":["#
        );
        for k in 0..60 {
            if k > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                r#"[{},"{}"]"#,
                1_795_000_000 + k * 60,
                1.0 + (k % 7) as f64 / 10.0
            );
        }
        out.push_str("]}");
    }
    out.push_str("]}}");
    out
}

fn benches(c: &mut Criterion) {
    let before = answers(HOSTS, 1_795_000_000.0);
    let after = answers(HOSTS, 1_795_000_015.0);
    let bytes: usize = after.iter().map(String::len).sum();
    eprintln!(
        "one refresh for {HOSTS} hosts: 3 answers, {} KiB",
        bytes / 1024
    );
    let names: Vec<String> = (0..HOSTS).map(|h| format!("host-{h}")).collect();
    let parse = |answers: &[String; 3]| {
        let [a, b, c] = answers;
        snapshot([
            parse_vector(a.as_bytes()).expect("a"),
            parse_vector(b.as_bytes()).expect("b"),
            parse_vector(c.as_bytes()).expect("c"),
        ])
    };
    let first = parse(&before);
    let previous: Vec<sample::Sample> = names
        .iter()
        .map(|n| first.sample_for(&[n]).expect("a sample"))
        .collect();
    let expected = vec!["nginx.service".to_string(), "nftables.service".to_string()];
    let mounts = HashMap::new();
    c.bench_function("prometheus_hosts_refresh_parse_and_apply_1000", |b| {
        b.iter(|| {
            let snap = parse(black_box(&after));
            let readings: Vec<_> = names
                .iter()
                .zip(&previous)
                .map(|(n, p)| {
                    let current = snap.sample_for(&[n]).expect("a sample");
                    sample::reading(Some(p), &current, &expected, &mounts)
                })
                .collect();
            assert_eq!(readings.len(), HOSTS);
            black_box(readings)
        })
    });

    let known = Known::new(
        (0..BACKFILL_HOSTS)
            .map(|h| ComponentId::new("host", &format!("host-{h}")))
            .collect::<Vec<_>>()
            .iter()
            .map(|id| (id, "host")),
    );
    let rules = AlertRules::default();
    let answer = matrix(BACKFILL_HOSTS);
    let host_mappings: Vec<_> = MAPPINGS.iter().filter(|m| m.kind == "host").collect();
    eprintln!(
        "backfill of 1 h for {BACKFILL_HOSTS} hosts: {} queries, {} KiB each",
        host_mappings.len(),
        answer.len() / 1024
    );
    c.bench_function("prometheus_backfill_parse_and_tie_200_hosts", |b| {
        b.iter(|| {
            let mut filled = 0;
            for m in &host_mappings {
                let series = parse_matrix(black_box(answer.as_bytes())).expect("matrix");
                filled += resolve(m, &series, &rules, &known).len();
            }
            assert_eq!(filled, host_mappings.len() * BACKFILL_HOSTS);
            black_box(filled)
        })
    });
}

criterion_group!(prometheus, benches);
criterion_main!(prometheus);
