//! The operator's Tailscale login: whois on the console's own node. It names the person
//! in audit records and the header. Any failure means "no tailnet identity", logged at
//! debug, never an error: many consoles run where Tailscale does not.

use std::path::Path;
use std::time::Duration;

use super::localapi::LocalApi;
use super::tailscale;

/// How long startup may wait for the identity.
pub const DEADLINE: Duration = Duration::from_millis(800);

/// `Self.TailscaleIPs[0]` from the status, then whois of that address.
pub async fn login(socket: &Path, deadline: Duration) -> Result<Option<String>, String> {
    let api = LocalApi::new(socket, deadline);
    let status = api
        .get("/localapi/v0/status?peers=false")
        .await
        .map_err(|e| e.to_string())?;
    let status = tailscale::parse_status(&status).map_err(|e| e.to_string())?;
    let ip = status
        .self_node
        .as_ref()
        .and_then(|n| n.tailscale_ips.first())
        .ok_or("tailscale status names no address for this node")?;
    let whois = api.whois(ip).await.map_err(|e| e.to_string())?;
    tailscale::login(&whois)
}

/// [`login`], with failures logged and turned into `None`.
pub async fn login_or_none(socket: &Path, deadline: Duration) -> Option<String> {
    match login(socket, deadline).await {
        Ok(Some(login)) => Some(login),
        Ok(None) => {
            tracing::debug!("no tailnet identity: this node is tagged, not a person's");
            None
        }
        Err(e) => {
            tracing::debug!(error = %e, "no tailnet identity");
            None
        }
    }
}
