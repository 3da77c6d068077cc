//! Discovery and fleet-view cost for a large tailnet: parsing a 2,000-peer
//! `tailscale status --json`, merging it with 1,000 `[[host]]` entries, and building the
//! fleet view's rows (done on every poll) for 2,000 hosts.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::config::HostConfig;
use mastop::inventory::{Inventory, merge, tailscale};
use mastop::model::{ComponentId, ComponentMeta, Fleet, SourceStatus};

const PEERS: usize = 2000;
const ROLES: &[&str] = &[
    "mastodon-web",
    "mastodon-sidekiq",
    "mastodon-streaming",
    "edge-cdn",
];
const REGIONS: &[&str] = &["emea-central", "namer-east", "namer-west", "apac"];

fn status_json() -> Vec<u8> {
    let peers: Vec<String> = (0..PEERS)
        .map(|i| {
            format!(
                r#""nodekey:{i:04x}": {{"HostName": "node-{i}", "DNSName": "node-{i}.tail1234.ts.net.",
                "TailscaleIPs": ["100.64.{}.{}", "fd7a:115c:a1e0::{i:x}"],
                "Tags": ["tag:server", "tag:env-prod", "tag:role-{}", "tag:region-{}", "tag:provider-linode"],
                "Online": {}, "LastSeen": "2026-11-26T07:00:00Z"}}"#,
                i / 250,
                i % 250,
                ROLES[i % ROLES.len()],
                REGIONS[i % REGIONS.len()],
                i % 50 != 0
            )
        })
        .collect();
    format!(
        r#"{{"BackendState": "Running", "Peer": {{{}}}}}"#,
        peers.join(",")
    )
    .into_bytes()
}

fn config_hosts() -> Vec<HostConfig> {
    let text: String = (0..PEERS / 2)
        .map(|i| format!("[[host]]\nname = \"node-{i}\"\naddress = \"node-{i}.tail1234.ts.net\"\n"))
        .collect();
    let config: mastop::config::Config = toml::from_str(&text).expect("hosts");
    config.hosts
}

fn bench(c: &mut Criterion) {
    let json = status_json();
    let required = vec!["tag:server".to_string(), "tag:env-prod".to_string()];
    c.bench_function("tailscale status parse + tag filter, 2000 peers", |b| {
        b.iter(|| {
            let status = tailscale::parse_status(black_box(&json)).expect("parses");
            black_box(tailscale::hosts(&status, &required))
        })
    });
    let status = tailscale::parse_status(&json).expect("parses");
    let found = tailscale::hosts(&status, &required);
    let hosts = config_hosts();
    c.bench_function("merge 1000 config hosts with 2000 peers", |b| {
        b.iter(|| black_box(merge(black_box(&hosts), black_box(&found), &[])))
    });
    let inventory = Inventory {
        hosts: merge(&hosts, &found, &[]),
        errors: Vec::new(),
        refreshed: None,
        discovering: true,
    };
    let metas = inventory
        .hosts
        .iter()
        .map(|h| {
            let meta = ComponentMeta {
                id: ComponentId::new("host", &h.config.name),
                kind: "host",
                region: h.config.region.clone(),
                tags: h.config.tags.clone(),
            };
            (meta, SourceStatus::pending(Duration::from_secs(2)))
        })
        .collect();
    let fleet = Fleet::new(metas, Default::default());
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    c.bench_function("fleet view rows, 2000 hosts", |b| {
        b.iter(|| black_box(mastop::tui::rows::fleet::list(&fleet, &inventory, now)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
