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
//! The crypto provider (ring) is passed to rustls explicitly rather than installed as the
//! process default, so nothing depends on which provider another crate compiled in.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};
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
    let mode = config.get_ssl_mode();
    if mode == SslMode::Disable {
        return open(config, NoTls, label).await;
    }
    let tls = MakeRustlsConnect::new(client_config(tls_ca).map_err(ConnectError::Setup)?);
    match open(config, tls, label).await {
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
            open(config, NoTls, label).await
        }
        other => other,
    }
}

async fn open<T>(
    config: &Config,
    tls: T,
    label: &str,
) -> Result<(Client, JoinHandle<()>), ConnectError>
where
    T: MakeTlsConnect<Socket> + Send,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let (client, connection) = config.connect(tls).await.map_err(ConnectError::Driver)?;
    let label = label.to_string();
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(endpoint = %label, error = %e, "connection ended");
        }
    });
    Ok((client, task))
}

fn client_config(tls_ca: Option<&Path>) -> Result<ClientConfig, String> {
    let roots = match tls_ca {
        Some(path) => Arc::new(ca_roots(path)?),
        None => system_roots(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

pub(crate) fn ca_roots(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("cannot read tls_ca {shown}: {e}"))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("tls_ca {shown} is not valid PEM: {e}"))?;
        roots.add(cert).map_err(|e| {
            format!("tls_ca {shown} holds a certificate rustls cannot use as a CA: {e}")
        })?;
    }
    if roots.is_empty() {
        return Err(format!(
            "tls_ca {shown} holds no certificate — it must be PEM with a BEGIN CERTIFICATE block"
        ));
    }
    Ok(roots)
}

/// The OS trust store, read once: it does not change while mastop runs, and reading it
/// parses a few hundred certificates.
pub(crate) fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::debug!(error = %error, "skipping part of the system trust store");
            }
            let mut roots = RootCertStore::empty();
            let (_, ignored) = roots.add_parsable_certificates(found.certs);
            if ignored > 0 {
                tracing::debug!(ignored, "system trust store certificates rustls cannot use");
            }
            Arc::new(roots)
        })
        .clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_ca_without_certificates_is_named_and_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&missing)).expect_err("missing file");
        assert!(
            err.contains("cannot read tls_ca") && err.contains("missing.pem"),
            "{err}"
        );

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = client_config(Some(&empty)).expect_err("no certificate");
        assert!(err.contains("holds no certificate"), "{err}");
    }

    #[test]
    fn system_roots_need_no_installed_provider() {
        // Building without tls_ca must not depend on a process-wide default provider.
        assert!(client_config(None).is_ok());
    }
}
