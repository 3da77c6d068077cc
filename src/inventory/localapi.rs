//! tailscaled's LocalAPI: plain HTTP over its Unix socket. Read endpoints need no root.
//! Every call is bounded by a deadline and a response-size cap, so a wedged tailscaled or
//! a wrong socket can neither hang nor flood the console.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::{Method, Url};

use crate::net::http::{Client, ClientSpec, HttpError};

/// A status document for a few thousand peers fits well within this.
const MAX_RESPONSE: usize = 32 * 1024 * 1024;
/// The name tailscaled expects in `Host`; it refuses requests with an `Origin` or
/// `Referer`, which are never sent.
const HOST: &str = "local-tailscaled.sock";

#[derive(Debug, Clone, PartialEq)]
pub enum LocalApiError {
    /// No socket at the path: Tailscale is not installed or not running here.
    NoSocket(PathBuf),
    /// The socket exists but connecting or talking failed.
    Io(String),
    /// tailscaled answered with an HTTP error.
    Status(u16, String),
    /// Not an HTTP response.
    Protocol(String),
    Timeout(Duration),
}

impl std::fmt::Display for LocalApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalApiError::NoSocket(p) => write!(
                f,
                "no tailscaled socket at {}: is Tailscale running on this machine?",
                p.display()
            ),
            LocalApiError::Io(e) => write!(f, "tailscaled LocalAPI: {e}"),
            LocalApiError::Status(code, body) if body.is_empty() => {
                write!(f, "tailscaled LocalAPI answered HTTP {code}")
            }
            LocalApiError::Status(code, body) => {
                write!(f, "tailscaled LocalAPI answered HTTP {code}: {body}")
            }
            LocalApiError::Protocol(e) => write!(f, "tailscaled LocalAPI: {e}"),
            LocalApiError::Timeout(d) => write!(
                f,
                "tailscaled LocalAPI did not answer within {}",
                humantime::format_duration(*d)
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LocalApi {
    socket: PathBuf,
    deadline: Duration,
    client: Result<Client, String>,
}

impl LocalApi {
    pub fn new(socket: impl Into<PathBuf>, deadline: Duration) -> Self {
        let socket = socket.into();
        let client = Client::new(&ClientSpec {
            unix_socket: Some(socket.clone()),
            ..ClientSpec::default()
        });
        Self {
            socket,
            deadline,
            client,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET /localapi/v0/status`.
    pub async fn status(&self) -> Result<Vec<u8>, LocalApiError> {
        self.get("/localapi/v0/status").await
    }

    /// `GET /localapi/v0/whois?addr=<ip>`.
    pub async fn whois(&self, addr: &str) -> Result<Vec<u8>, LocalApiError> {
        let addr: String = addr
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'))
            .collect();
        self.get(&format!("/localapi/v0/whois?addr={addr}")).await
    }

    /// One GET, body returned on 200.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, LocalApiError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| LocalApiError::Io(e.clone()))?;
        let url = Url::parse(&format!("http://{HOST}{path}"))
            .map_err(|e| LocalApiError::Io(format!("`{path}` is not a request path ({e})")))?;
        let by = tokio::time::Instant::now() + self.deadline;
        let answer = client
            .fetch(client.request(Method::GET, url), by, MAX_RESPONSE)
            .await
            .map_err(|e| self.error(e))?;
        if answer.status != 200 {
            return Err(LocalApiError::Status(
                answer.status,
                answer.body_excerpt(120),
            ));
        }
        Ok(answer.body)
    }

    fn error(&self, error: HttpError) -> LocalApiError {
        match error {
            HttpError::Deadline => LocalApiError::Timeout(self.deadline),
            HttpError::Connect {
                kind: Some(std::io::ErrorKind::NotFound),
                ..
            } => LocalApiError::NoSocket(self.socket.clone()),
            HttpError::Connect { reason, .. } => {
                LocalApiError::Io(format!("connecting to {}: {reason}", self.socket.display()))
            }
            HttpError::NotHttp(_) | HttpError::TooLarge(_) => {
                LocalApiError::Protocol(error.to_string())
            }
            other => LocalApiError::Io(other.to_string()),
        }
    }
}
