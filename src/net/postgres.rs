//! Opening a PostgreSQL session, with TLS when the url's `sslmode` asks for it. Shared by
//! the Postgres and PgBouncer sources, the action executor and the ops store.
//!
//! - `sslmode=disable`: plain TCP.
//! - `sslmode=prefer` (the default): TLS when the server offers it and its certificate
//!   verifies; plain otherwise. Like libpq's `prefer`, this protects against nothing.
//! - `sslmode=require`: TLS or no connection, and the certificate must verify against
//!   `tls_ca` when set, else against the system trust store. There is deliberately no mode
//!   that skips verification: a private CA goes into `tls_ca` instead.
//!
//! Roots and the crypto provider come from [`crate::net::tls`], as for every other client.

use std::path::Path;

use rustls::CertificateError;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

pub(crate) enum ConnectError {
    /// A problem with the TLS settings, found before anything went on the wire; already a
    /// message for people, without the endpoint (the caller adds it).
    Setup(String),
    Driver(tokio_postgres::Error),
}

/// Connects as `config` says and spawns the connection task; aborting the returned handle
/// closes the socket. `label` names the endpoint in the debug log.
pub(crate) async fn connect(
    config: &Config,
    tls_ca: Option<&Path>,
    label: &str,
) -> Result<(Client, JoinHandle<()>), ConnectError> {
    connect_listening(config, tls_ca, label, None).await
}

/// [`connect`], handing every `NOTIFY` the session receives (after its `LISTEN`) to
/// `notices`.
pub(crate) async fn connect_listening(
    config: &Config,
    tls_ca: Option<&Path>,
    label: &str,
    notices: Option<Notices>,
) -> Result<(Client, JoinHandle<()>), ConnectError> {
    let mode = config.get_ssl_mode();
    if mode == SslMode::Disable {
        return open(config, NoTls, label, notices.clone()).await;
    }
    let tls = MakeRustlsConnect::new(
        crate::net::tls::client_config(tls_ca).map_err(ConnectError::Setup)?,
    );
    match open(config, tls, label, notices.clone()).await {
        Err(ConnectError::Driver(error))
            if mode == SslMode::Prefer && handshake(&error).is_some() =>
        {
            // `prefer` accepts a plain session; the failed handshake only means this server's
            // certificate is not one mastop can trust, which `require` would refuse.
            tracing::warn!(
                endpoint = %label,
                error = %chain(&error),
                "TLS handshake failed; sslmode=prefer continues without TLS (use sslmode=require and tls_ca to insist on it)"
            );
            open(config, NoTls, label, notices.clone()).await
        }
        other => other,
    }
}

/// Where a listening session's notifications go.
pub(crate) type Notices = tokio::sync::mpsc::UnboundedSender<tokio_postgres::Notification>;

async fn open<T>(
    config: &Config,
    tls: T,
    label: &str,
    notices: Option<Notices>,
) -> Result<(Client, JoinHandle<()>), ConnectError>
where
    T: MakeTlsConnect<Socket> + Send,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, mut connection) = config.connect(tls).await.map_err(ConnectError::Driver)?;
    let label = label.to_string();
    if let Some(notices) = notices {
        let task = tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        let _ = notices.send(n);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(endpoint = %label, error = %e, "connection ended");
                        break;
                    }
                }
            }
        });
        return Ok((client, task));
    }
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(endpoint = %label, error = %e, "connection ended");
        }
    });
    Ok((client, task))
}

/// The rustls verdict behind a failed handshake, if that is what failed.
fn handshake(error: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error's `source` skips the error it wraps, which is where tokio-rustls puts
        // the rustls verdict.
        if let Some(tls) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        source = s.source();
    }
    None
}

fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What an operator should check when `error` is a TLS failure; `None` for anything else.
pub(crate) fn explain(error: &tokio_postgres::Error, tls_ca: Option<&Path>) -> Option<String> {
    if let Some(tls) = handshake(error) {
        let trust = match tls_ca {
            Some(path) => format!("tls_ca {}", path.display()),
            None => "the system trust store".to_string(),
        };
        let fix = match tls_ca {
            Some(_) => "check that tls_ca holds the CA that issued the server's ssl_cert_file",
            None => {
                "set tls_ca to the CA that issued it (a private or self-signed CA usually is not in the system store)"
            }
        };
        return Some(match tls {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    format!("the server's certificate is not signed by {trust} — {fix}")
                }
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "the server's certificate does not name the host in the url — connect by a name (or IP) its subjectAltName lists, or reissue it".to_string()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    "the server's certificate has expired — renew ssl_cert_file on the server".to_string()
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "the server's certificate is not valid yet — check the clocks on both machines".to_string()
                }
                other => format!(
                    "the server's certificate was rejected ({other:?}) — check the server's ssl_cert_file against {trust}"
                ),
            },
            other => format!("the TLS handshake failed: {other}"),
        });
    }
    let text = chain(error);
    if text.contains("server does not support TLS") {
        return Some(
            "the server does not accept TLS and the url says sslmode=require — turn ssl on in postgresql.conf (or PgBouncer's client_tls_sslmode), or lower sslmode".to_string(),
        );
    }
    if text.contains("no hostname provided for TLS handshake") {
        return Some(
            "TLS needs a host name to verify, and this is a Unix socket — use a TCP host, or sslmode=disable for the socket".to_string(),
        );
    }
    None
}
