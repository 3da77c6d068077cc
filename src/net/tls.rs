//! TLS settings shared by every client mastop opens (HTTP services, Postgres, the edge
//! probe): which roots are trusted, and a refused certificate put into words.
//!
//! The crypto provider (ring) is passed to rustls explicitly rather than installed as the
//! process default, so nothing depends on which provider another crate compiled in.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The roots a client trusts: the CA in `tls_ca` alone when it is set, else the system's.
pub fn roots(tls_ca: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    match tls_ca {
        Some(path) => Ok(Arc::new(ca_roots(path)?)),
        None => Ok(system_roots()),
    }
}

/// A client configuration that verifies the server against [`roots`].
pub fn client_config(tls_ca: Option<&Path>) -> Result<ClientConfig, String> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots(tls_ca)?)
        .with_no_client_auth())
}

/// What was trusted, for messages: `tls_ca /etc/mastop/ca.pem` or the system trust store.
pub fn trust_store(tls_ca: Option<&Path>) -> String {
    match tls_ca {
        Some(path) => format!("tls_ca {}", path.display()),
        None => "the system trust store".to_string(),
    }
}

pub fn ca_roots(path: &Path) -> Result<RootCertStore, String> {
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
pub fn system_roots() -> Arc<RootCertStore> {
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

/// Why a server's certificate was refused, and what to check; `trust` is what
/// [`trust_store`] says.
pub fn refusal(error: &rustls::Error, trust: &str) -> String {
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                "certificate refused: it is not signed by a CA in {trust} — set tls_ca to the CA that issued it"
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "certificate refused: it does not name the host in the url — use a name its subjectAltName lists".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "certificate refused: it has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "certificate refused: it is not valid yet — check the clocks on both machines"
                    .into()
            }
            other => format!("certificate refused ({other:?}), checked against {trust}"),
        },
        other => format!("TLS handshake failed: {other}"),
    }
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

    #[test]
    fn refusals_say_what_to_check() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let text = refusal(&unknown, "tls_ca /etc/mastop/ca.pem");
        assert!(
            text.contains("not signed by a CA in tls_ca /etc/mastop/ca.pem"),
            "{text}"
        );
        let name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert!(refusal(&name, "x").contains("does not name the host"));
    }
}
