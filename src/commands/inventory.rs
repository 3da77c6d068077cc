//! Wiring the inventory into a run: the operator's identity and the first host list at
//! start, discovery in the background, and `mastop inventory` for scripts.

use std::process::ExitCode;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::engine::Engine;
use crate::inventory::Inventory;

/// `mastop inventory [--json]`: one discovery, printed. Exit 1 when a source failed, so a
/// cron job notices; the hosts that were found are printed all the same.
pub(super) fn print(engine: &Engine, as_json: bool) -> color_eyre::Result<ExitCode> {
    let rt = super::runtime()?;
    let inventory = rt.block_on(engine.discover());
    let now = SystemTime::now();
    if as_json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&to_json(&inventory, now))?
        );
    } else {
        for line in table(&inventory, now) {
            crate::outln!("{line}");
        }
    }
    for e in &inventory.errors {
        crate::errln!("warning: {}", crate::sanitize::sanitize(e));
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
            crate::tui::rows::fleet::seen_text(h.online, h.last_seen, now),
            h.origins
                .iter()
                .map(|o| o.word())
                .collect::<Vec<_>>()
                .join("+"),
        ));
    }
    lines
}
