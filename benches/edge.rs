//! What one edge probe round costs: three TLS connections (the page, `/health`, streaming
//! health) against a real nginx on loopback, with the certificate recorded and assessed.
//! Loopback leaves only mastop's own work and nginx's, so this is the floor under the
//! network time a real edge adds. Run with `cargo bench --bench edge`.

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mastop::config::EdgeConfig;
use mastop::sources::edge::EdgeSource;
use mastop::sources::{Schedule, Source};
use support::certs::{CertCase, Certs};
use support::nginx::{Nginx, Site};

fn config(address: String, certs: &Certs) -> EdgeConfig {
    EdgeConfig {
        name: "bench".into(),
        address,
        hostname: certs.hostname.clone(),
        region: String::new(),
        tags: Vec::new(),
        tls_ca: Some(certs.ca()),
        cadence: None,
        deadline: None,
        enabled: true,
        path: "/sounds/boop.ogg".into(),
        media_path: None,
        object_storage_url: None,
    }
}

fn probe(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let certs = Certs::generate("social.example");
    let nginx = Nginx::start(
        &certs,
        &[Site::new(CertCase::Valid), Site::new(CertCase::Expired)],
    );
    let schedule = Schedule {
        cadence: Duration::from_secs(2),
        deadline: Duration::from_secs(10),
    };
    let mut group = c.benchmark_group("edge_probe_round");
    group.measurement_time(Duration::from_secs(5));
    for (label, site) in [("valid_cert", 0), ("expired_cert", 1)] {
        let mut source = EdgeSource::new(&config(nginx.address(site), &certs), schedule);
        rt.block_on(source.poll()).expect("first probe");
        group.bench_function(label, |b| {
            b.iter(|| black_box(rt.block_on(source.poll()).expect("probe")))
        });
    }
    group.finish();
}

criterion_group!(benches, probe);
criterion_main!(benches);
