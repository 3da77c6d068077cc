//! A websocket to a service (Loki's `tail`), opened the way its HTTP requests are: the same
//! base URL, CA and credentials, `mastop/<version>` as the user agent, no proxy, and the
//! whole handshake (connection, TLS, upgrade) finished by the caller's deadline.

use std::path::Path;
use std::sync::Arc;

use reqwest::header::HeaderMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::service::BaseUrl;
use crate::sanitize::sanitize_truncated;

/// What a websocket runs over: a plain or a TLS connection.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub type WebSocket = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// Why no websocket was opened.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The server answered the upgrade with plain HTTP: it (or a proxy before it) does not
    /// offer a websocket there.
    Refused { status: u16, excerpt: String },
    /// Anything else, in words an operator can act on.
    Failed(String),
}

/// Opens a websocket to `path_and_query` under `base`, sending `headers` (credentials) with
/// the upgrade, finished by `by`; messages larger than `max_message` bytes are refused.
pub async fn open(
    base: &BaseUrl,
    tls_ca: Option<&Path>,
    headers: HeaderMap,
    path_and_query: &str,
    max_message: usize,
    by: Instant,
) -> Result<WebSocket, OpenError> {
    timeout_at(
        by,
        handshake(base, tls_ca, headers, path_and_query, max_message),
    )
    .await
    .map_err(|_| OpenError::Failed("no websocket before the deadline".into()))?
}

async fn handshake(
    base: &BaseUrl,
    tls_ca: Option<&Path>,
    headers: HeaderMap,
    path_and_query: &str,
    max_message: usize,
) -> Result<WebSocket, OpenError> {
    let failed = |why: String| OpenError::Failed(sanitize_truncated(&why, 200));
    let mut url = base.join(path_and_query);
    let scheme = if base.is_https() { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|()| failed(format!("cannot make a {scheme}:// URL")))?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| failed(format!("cannot make the upgrade request: {e}")))?;
    request.headers_mut().extend(headers);
    request.headers_mut().insert(
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(super::http::USER_AGENT),
    );

    let host = base.host();
    let tcp = TcpStream::connect((host.as_str(), base.port()))
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                failed("cannot connect: connection refused".into())
            }
            _ => failed(format!("cannot connect: {e}")),
        })?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Io> = if base.is_https() {
        let mut tls = super::tls::client_config(tls_ca).map_err(OpenError::Failed)?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| failed(format!("`{host}` is not a TLS server name: {e}")))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .map_err(|e| match tls_verdict(&e) {
                Some(verdict) => OpenError::Failed(super::tls::refusal(
                    verdict,
                    &super::tls::trust_store(tls_ca),
                )),
                None => failed(format!("TLS handshake failed: {e}")),
            })?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    match tokio_tungstenite::client_async_with_config(request, io, Some(config)).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(answer)) => {
            let body = answer.body().as_deref().unwrap_or_default();
            Err(OpenError::Refused {
                status: answer.status().as_u16(),
                excerpt: sanitize_truncated(String::from_utf8_lossy(body).trim(), 160)
                    .trim()
                    .to_string(),
            })
        }
        Err(e) => Err(failed(format!("the websocket handshake failed: {e}"))),
    }
}

/// The rustls verdict inside a failed TLS handshake, if that is why it failed.
fn tls_verdict(error: &std::io::Error) -> Option<&rustls::Error> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
}
