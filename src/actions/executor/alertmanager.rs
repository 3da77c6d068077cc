//! Silences: created and expired on the Alertmanager an action targets, with its configured
//! URL and credentials. Built only from a write capability, so a shadow console has none
//! and sends Alertmanager nothing.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Method;

use super::Executor;
use crate::actions::action::{Action, Check, Operation};
use crate::actions::role::WriteCapability;
use crate::config::EndpointConfig;
use crate::net::service::{Service, ServiceSpec};
use tokio::sync::Mutex;

/// A silence's answer is a few hundred bytes; its list is read by the source, not here.
const MAX_BODY: usize = 1024 * 1024;
const REQUEST_DEADLINE: Duration = Duration::from_secs(15);

pub struct AlertmanagerExecutor {
    name: String,
    service: Result<Mutex<Service>, String>,
    _write: WriteCapability,
}

impl AlertmanagerExecutor {
    pub fn new(write: &WriteCapability, config: &EndpointConfig) -> Self {
        AlertmanagerExecutor {
            name: config.name.clone(),
            service: Service::for_changes(ServiceSpec {
                url: &config.url,
                tls_ca: config.tls_ca.as_deref(),
                password: config.password.clone(),
                bearer_token: config.bearer_token.clone(),
                max_body: MAX_BODY,
            })
            .map(Mutex::new)
            .map_err(|e| format!("alertmanager {}: {e}", config.name)),
            _write: write.clone(),
        }
    }

    /// Sends one request; the status and the body (trimmed, sanitised) come back.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, Vec<u8>), String> {
        let service = self.service.as_ref().map_err(Clone::clone)?;
        let mut service = service.lock().await;
        let at = format!("alertmanager {} at {}", self.name, service.base.shown());
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let auth = service.authorization(&at).await?;
        let by = tokio::time::Instant::now() + REQUEST_DEADLINE;
        let answer = service
            .send(method, path, body.map(|b| b.as_bytes().to_vec()), &auth, by)
            .await
            .map_err(|e| format!("{at}: {e}"))?;
        if matches!(answer.status, 401 | 403) {
            service.refused();
        }
        if !(200..300).contains(&answer.status) {
            let why = answer.body_excerpt(160);
            return Err(format!(
                "{at}: {path} answered {}{}",
                answer.status_text(),
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            ));
        }
        Ok((answer.status, answer.body))
    }
}

impl Executor for AlertmanagerExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(Check::SilenceLive { id }) = &action.precondition else {
                return match &action.precondition {
                    None => Ok("nothing to re-check".into()),
                    Some(_) => Err("an Alertmanager can only re-check silences".into()),
                };
            };
            let (_, body) = self
                .send(
                    "GET",
                    &format!(
                        "/api/v2/silence/{}",
                        crate::sources::prometheus::api::encode(id)
                    ),
                    None,
                )
                .await?;
            let state = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["status"]["state"].as_str().map(str::to_string))
                .unwrap_or_default();
            match state.as_str() {
                "active" | "pending" => Ok(format!("silence {id} is {state}")),
                "expired" => Err(format!("silence {id} has already expired")),
                _ => Err(format!("silence {id}: Alertmanager did not say its state")),
            }
        })
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let mut done = Vec::new();
            for op in &action.operations {
                let Operation::Alertmanager { method, path, body } = op else {
                    return Err(format!(
                        "an Alertmanager executor cannot run `{}`",
                        op.display()
                    ));
                };
                let (status, answer) = self.send(method, path, body.as_deref()).await?;
                let id = serde_json::from_slice::<serde_json::Value>(&answer)
                    .ok()
                    .and_then(|v| v["silenceID"].as_str().map(str::to_string));
                done.push(match id {
                    Some(id) => format!(
                        "silence {} created",
                        crate::sanitize::sanitize_truncated(&id, 64)
                    ),
                    None => format!("{method} {path} answered {status}"),
                });
            }
            Ok(done.join("; "))
        })
    }
}
