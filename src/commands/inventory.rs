//! Wiring the inventory into a run: the operator's identity and the first host list at
//! start, discovery in the background, and `mastop inventory` for scripts.

use std::process::ExitCode;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::actions::Session;
use crate::config::Config;
use crate::inventory::discover::Plan;
use crate::inventory::{Inventory, identity};
use crate::tui::app::App;

/// Looks up who is at the keys (bounded by [`identity::DEADLINE`]), gives the console the
/// config's hosts for its first frame, and returns the discovery to run in the background.
pub(super) fn startup(
    cfg: &Config,
    demo: bool,
    app: &mut App,
    session: &mut Session,
    rt: &tokio::runtime::Runtime,
) -> Option<Plan> {
    let login = rt.block_on(identity::login_or_none(
        &cfg.inventory.identity_socket(),
        identity::DEADLINE,
    ));
    session.tailscale_login = login.clone();
    app.identity = login;
    if demo {
        app.set_inventory(crate::demo::inventory(SystemTime::now()));
        return None;
    }
    app.set_inventory(Inventory::from_config(
        &cfg.hosts,
        cfg.inventory.discovers(),
    ));
    cfg.inventory.discovers().then(|| Plan {
        hosts: cfg.hosts.clone(),
        config: cfg.inventory.clone(),
    })
}

/// The operator's Tailscale login for a command-line run, within [`identity::DEADLINE`].
/// Runs on a thread of its own, so it works from inside or outside an async runtime.
pub(super) fn login_blocking(cfg: &Config) -> Option<String> {
    let socket = cfg.inventory.identity_socket();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        rt.block_on(identity::login_or_none(&socket, identity::DEADLINE))
    })
    .join()
    .ok()
    .flatten()
}

/// `mastop inventory [--json]`: one discovery, printed. Exit 1 when a source failed, so a
/// cron job notices; the hosts that were found are printed all the same.
pub(super) fn print(cfg: &Config, as_json: bool) -> color_eyre::Result<ExitCode> {
    let rt = super::runtime()?;
    let inventory = rt.block_on(crate::inventory::discover::discover(
        &cfg.hosts,
        &cfg.inventory,
    ));
    let now = SystemTime::now();
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&inventory, now))?
        );
    } else {
        for line in table(&inventory, now) {
            println!("{line}");
        }
    }
    for e in &inventory.errors {
        eprintln!("warning: {}", crate::sanitize::sanitize(e));
    }
    Ok(if inventory.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn to_json(inventory: &Inventory, now: SystemTime) -> Value {
    let hosts: Vec<Value> = inventory
        .hosts
        .iter()
        .map(|h| {
            json!({
                "name": h.config.name,
                "address": h.config.address,
                "roles": h.config.roles,
                "region": h.config.region,
                "provider": h.config.provider,
                "tags": h.config.tags,
                "groups": h.groups,
                "sources": h.origins,
                "online": h.online,
                "last_seen": h.last_seen.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                "last_seen_secs_ago": h.last_seen.and_then(|t| now.duration_since(t).ok()).map(|d| d.as_secs()),
                "polled": h.pollable(),
            })
        })
        .collect();
    json!({ "hosts": hosts, "errors": inventory.errors })
}

fn table(inventory: &Inventory, now: SystemTime) -> Vec<String> {
    let clean = |s: &str| crate::sanitize::sanitize(s).into_owned();
    let mut lines = vec![format!(
        "{:<28} {:<36} {:<30} {:<14} {:<22} SOURCES",
        "NAME", "ADDRESS", "ROLES", "REGION", "TAILSCALE"
    )];
    for h in &inventory.hosts {
        lines.push(format!(
            "{:<28} {:<36} {:<30} {:<14} {:<22} {}",
            clean(&h.config.name),
            clean(&h.config.address),
            clean(&h.config.roles.join(",")),
            clean(&h.config.region),
            crate::tui::views::fleet::seen_text(h.online, h.last_seen, now),
            h.origins
                .iter()
                .map(|o| o.word())
                .collect::<Vec<_>>()
                .join("+"),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::config::TailscaleInventory;
    use crate::model::Fleet;
    use crate::tui::keymap::Keymap;
    use crate::tui::theme::Theme;

    fn app() -> App {
        App::new(
            Fleet::default(),
            Keymap::builtin("default").expect("keymap"),
            Theme::builtin("dark").expect("theme"),
            SystemTime::now(),
        )
    }

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

    #[test]
    fn the_tailnet_login_lands_in_the_session_and_the_header() {
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
        let rt = super::super::runtime().expect("runtime");
        let mut app = app();
        let mut session = Session::current(None, false);
        let plan = startup(&cfg, false, &mut app, &mut session, &rt);
        server.join().expect("server");
        assert_eq!(
            session.tailscale_login.as_deref(),
            Some("alice@example.org")
        );
        assert!(
            session.who().contains("(alice@example.org)"),
            "{}",
            session.who()
        );
        assert_eq!(app.identity.as_deref(), Some("alice@example.org"));
        assert!(plan.is_some(), "tailscale discovery is configured");
    }

    #[test]
    fn without_tailscale_startup_goes_on_with_config_hosts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config::default();
        cfg.inventory.tailscale = Some(TailscaleInventory {
            socket: dir.path().join("absent.sock"),
            enabled: false,
            ..TailscaleInventory::default()
        });
        cfg.hosts = vec![crate::inventory::host_config("web-1", "10.0.0.1")];
        let rt = super::super::runtime().expect("runtime");
        let mut app = app();
        let mut session = Session::current(None, false);
        let plan = startup(&cfg, false, &mut app, &mut session, &rt);
        assert_eq!(session.tailscale_login, None);
        assert!(plan.is_none(), "nothing to discover");
        assert_eq!(app.inventory.hosts.len(), 1);
        assert!(!app.inventory.discovering);

        let plan = startup(&cfg, true, &mut app, &mut session, &rt);
        assert!(plan.is_none());
        assert!(
            app.inventory.hosts.iter().any(|h| h.online == Some(false)),
            "the demo shows an offline peer"
        );
    }
}
