//! The I/O of discovery: ask tailscaled (socket, else the `tailscale` command) and read the
//! Ansible inventory (file or command), each within the deadline, then merge with config.
//! A source that fails leaves an error line and the others still count; discovery as a
//! whole never fails.

use std::process::Stdio;
use std::time::{Duration, SystemTime};

use super::localapi::{LocalApi, LocalApiError};
use super::{Discovered, Inventory, ansible, merge, tailscale};
use crate::config::{AnsibleInventory, HostConfig, InventoryConfig, TailscaleInventory};

/// Runs every configured discovery source concurrently and merges the results.
pub async fn discover(hosts: &[HostConfig], config: &InventoryConfig) -> Inventory {
    let deadline = config.deadline();
    let ts = async {
        match &config.tailscale {
            Some(ts) if ts.enabled => Some(tailscale_hosts(ts, deadline).await),
            _ => None,
        }
    };
    let an = async {
        match &config.ansible {
            Some(an) => Some(ansible_hosts(an, deadline).await),
            None => None,
        }
    };
    let (ts, an) = tokio::join!(ts, an);
    let mut errors = Vec::new();
    let mut keep = |result: Option<Result<Vec<Discovered>, String>>| match result {
        Some(Ok(found)) => found,
        Some(Err(e)) => {
            errors.push(e);
            Vec::new()
        }
        None => Vec::new(),
    };
    let (ts, an) = (keep(ts), keep(an));
    Inventory {
        hosts: merge(hosts, &ts, &an),
        errors,
        refreshed: Some(SystemTime::now()),
        discovering: config.discovers(),
    }
}

/// Tagged peers from the LocalAPI, or from `tailscale status --json` when there is no
/// socket (a macOS GUI install, a container with the CLI but not the socket mounted).
pub async fn tailscale_hosts(
    config: &TailscaleInventory,
    deadline: Duration,
) -> Result<Vec<Discovered>, String> {
    let api = LocalApi::new(&config.socket, deadline);
    let json = match api.status().await {
        Ok(json) => json,
        Err(LocalApiError::NoSocket(_)) if !config.command.is_empty() => {
            run(&config.command, deadline).await?
        }
        Err(e) => return Err(e.to_string()),
    };
    let status = tailscale::parse_status(&json).map_err(|e| e.to_string())?;
    Ok(tailscale::hosts(&status, &config.require_tags))
}

pub async fn ansible_hosts(
    config: &AnsibleInventory,
    deadline: Duration,
) -> Result<Vec<Discovered>, String> {
    let json = match &config.file {
        // A file on a hung network mount must not hold discovery up either.
        Some(path) => match tokio::time::timeout(deadline, tokio::fs::read(path)).await {
            Ok(read) => read.map_err(|e| format!("ansible inventory {}: {e}", path.display()))?,
            Err(_) => {
                return Err(format!(
                    "ansible inventory {}: not read within {}",
                    path.display(),
                    humantime::format_duration(deadline)
                ));
            }
        },
        None => run(&config.command, deadline).await?,
    };
    ansible::hosts(&json, &config.roles)
}

/// Runs `argv` (no shell) and returns its standard output, or why not.
pub async fn run(argv: &[String], deadline: Duration) -> Result<Vec<u8>, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no command configured".into());
    };
    let shown = crate::sanitize::sanitize_truncated(&argv.join(" "), 80);
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(deadline, child).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "`{shown}`: {program} is not installed or not on PATH"
            ));
        }
        Ok(Err(e)) => return Err(format!("`{shown}`: {e}")),
        Err(_) => {
            return Err(format!(
                "`{shown}` did not finish within {}",
                humantime::format_duration(deadline)
            ));
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            crate::sanitize::sanitize_truncated(first.trim(), 160)
        ));
    }
    Ok(output.stdout)
}

/// What the console needs to rediscover the fleet on its own cadence.
#[derive(Debug, Clone)]
pub struct Plan {
    pub hosts: Vec<HostConfig>,
    pub config: InventoryConfig,
}

impl Plan {
    /// Discovers now, then every `refresh`, handing each result to `deliver` until it
    /// returns false (the console has gone). Each round is bounded by the deadline.
    pub async fn run(self, mut deliver: impl FnMut(Inventory) -> bool) {
        let refresh = self.config.refresh();
        loop {
            let inventory = discover(&self.hosts, &self.config).await;
            for e in &inventory.errors {
                tracing::warn!(error = %e, "inventory discovery");
            }
            if !deliver(inventory) {
                return;
            }
            tokio::time::sleep(refresh).await;
        }
    }
}
