use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::time::SystemTime;

use super::*;
use crate::config::TailscaleInventory;

/// Answers `answers.len()` requests on a Unix socket, one answer each, in order.
fn serve(socket: &std::path::Path, answers: Vec<&'static [u8]>) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(socket).expect("bind");
    std::thread::spawn(move || {
        for body in answers {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).expect("read") == 1 {
                head.push(byte[0]);
            }
            let reply = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            stream.write_all(reply.as_bytes()).expect("write");
            stream.write_all(body).expect("write");
        }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_tailnet_login_lands_in_the_session() {
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("tailscaled.sock");
    let server = serve(
        &socket,
        vec![
            br#"{"BackendState":"Running","Self":{"TailscaleIPs":["100.64.0.7"]}}"#,
            br#"{"UserProfile":{"LoginName":"alice@example.org"}}"#,
        ],
    );
    let mut cfg = Config::default();
    cfg.inventory.tailscale = Some(TailscaleInventory {
        socket,
        ..TailscaleInventory::default()
    });
    let mut engine = Engine::new(cfg, Options::default());
    let login = runtime().block_on(engine.identify());
    server.join().expect("server");
    assert_eq!(login.as_deref(), Some("alice@example.org"));
    let session = engine.session();
    assert_eq!(
        session.tailscale_login.as_deref(),
        Some("alice@example.org")
    );
    assert!(
        session.who().contains("(alice@example.org)"),
        "{}",
        session.who()
    );
    // what the pipeline and the shift are built with carries it too
    assert!(
        engine
            .pipeline()
            .session()
            .who()
            .contains("alice@example.org")
    );
    assert!(
        engine.discovery().is_some(),
        "tailscale discovery is configured"
    );
}

#[test]
fn without_tailscale_the_config_hosts_are_the_inventory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = Config::default();
    cfg.inventory.tailscale = Some(TailscaleInventory {
        socket: dir.path().join("absent.sock"),
        enabled: false,
        ..TailscaleInventory::default()
    });
    cfg.hosts = vec![crate::inventory::host_config("web-1", "10.0.0.1")];
    let mut engine = Engine::new(cfg.clone(), Options::default());
    assert_eq!(runtime().block_on(engine.identify()), None);
    assert!(engine.discovery().is_none(), "nothing to discover");
    let inventory = engine.inventory_at_start(SystemTime::now());
    assert_eq!(inventory.hosts.len(), 1);
    assert!(!inventory.discovering);

    let demo = Engine::new(
        cfg,
        Options {
            readonly: false,
            demo: Some(Demo::default()),
        },
    );
    assert!(demo.discovery().is_none());
    assert!(
        demo.inventory_at_start(SystemTime::now())
            .hosts
            .iter()
            .any(|h| h.online == Some(false)),
        "the demo shows an offline peer"
    );
}

#[test]
fn only_the_config_makes_on_call_and_readonly_always_lowers_it() {
    let mut cfg = Config::default();
    let role = |cfg: &Config, readonly: bool, demo: bool| {
        let demo = demo.then(Demo::default);
        Engine::new(cfg.clone(), Options { readonly, demo })
            .session()
            .role
    };
    assert_eq!(role(&cfg, false, false), Role::Shadow);
    assert_eq!(
        role(&cfg, false, true),
        Role::Oncall,
        "the demo acts on its simulation"
    );
    assert_eq!(role(&cfg, true, true), Role::Shadow);
    cfg.role = Some(Role::Oncall);
    assert_eq!(role(&cfg, false, false), Role::Oncall);
    assert_eq!(role(&cfg, true, false), Role::Shadow);
}

#[test]
fn the_demo_keeps_its_stores_apart_from_the_real_ones() {
    let mut cfg = Config::default();
    cfg.audit.file = Some("/var/lib/mastop/audit.jsonl".into());
    cfg.ops_store =
        Some(toml::from_str(r#"url = "postgres://mastop@ops-db/mastop_ops""#).expect("ops store"));
    let real = Engine::new(cfg.clone(), Options::default());
    let demo = Engine::new(
        cfg,
        Options {
            readonly: false,
            demo: Some(Demo::default()),
        },
    );
    let (real, demo) = (real.places(), demo.places());
    assert!(real.ops_store.is_some());
    assert!(
        demo.ops_store.is_none(),
        "the demo never touches [ops_store]"
    );
    assert_ne!(demo.audit, real.audit);
    assert_ne!(demo.state, real.state);
    assert_ne!(demo.handoffs, real.handoffs);
    for p in [&demo.audit, &demo.state] {
        assert!(
            !real.state.starts_with(p),
            "{} holds real state",
            p.display()
        );
    }
}

#[test]
fn the_demo_starts_with_a_whole_script_of_past() {
    let demo = Engine::new(
        Config::default(),
        Options {
            readonly: false,
            // Ten seconds in: most of the past comes from the previous cycle.
            demo: Some(Demo {
                at: std::time::Duration::from_secs(10),
                ..Demo::default()
            }),
        },
    );
    let fleet = demo.fleet_for(&demo.sources());
    let cadence = demo
        .config
        .defaults
        .cadence
        .max(std::time::Duration::from_millis(500));
    let pg = crate::model::ComponentId::new("postgres", "primary");
    let history = fleet
        .get(&pg)
        .and_then(|c| c.history("connections_used_pct"))
        .expect("the demo's primary has a connections trend");
    let moments: Vec<SystemTime> = history.points().map(|p| p.at).collect();
    let first = moments.first().expect("points");
    let last = moments.last().expect("points");
    let span = last.duration_since(*first).expect("oldest first");
    assert!(
        span >= crate::demo::CYCLE - std::time::Duration::from_secs(60),
        "the past covers the script: {span:?}"
    );
    // The sparkline's cells are the most recent points, at the poll's own cadence.
    let recent: Vec<std::time::Duration> = moments
        .windows(2)
        .rev()
        .take(crate::model::history::HISTORY_LEN - 1)
        .map(|w| w[1].duration_since(w[0]).expect("oldest first"))
        .collect();
    assert!(recent.iter().all(|gap| *gap == cadence), "{recent:?}");
}
