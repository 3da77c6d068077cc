//! A certificate verifier that lets every handshake finish and remembers what it saw, so an
//! expired, misnamed or untrusted certificate is reported with its dates and names instead
//! of ending in a bare handshake error.
//!
//! Only the certificate *verdict* is deferred: handshake signatures are still checked by
//! the real verifier, so the recorded chain is the one the peer holds the key for. Nothing
//! but headers and status codes is ever read over these connections.

use std::sync::{Arc, Mutex};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// What one handshake presented, and what the real verifier thought of it.
#[derive(Clone, Debug)]
pub struct Presented {
    /// Leaf first, then the intermediates in the order sent.
    pub chain: Vec<CertificateDer<'static>>,
    pub verdict: Result<(), rustls::Error>,
}

#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    presented: Mutex<Option<Presented>>,
}

/// The real verifier against `roots`, built once per edge and shared by its handshakes.
pub fn webpki(
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| format!("cannot set up certificate verification: {e}"))
}

impl RecordingVerifier {
    pub fn new(inner: Arc<WebPkiServerVerifier>) -> Self {
        RecordingVerifier {
            inner,
            presented: Mutex::new(None),
        }
    }

    /// What the last handshake presented; `None` before one reached the certificate.
    pub fn presented(&self) -> Option<Presented> {
        self.presented.lock().ok().and_then(|p| p.clone())
    }

    /// The real verifier's verdict on `chain` as of `at`: used to ask whether an expired
    /// certificate would chain to a trusted root at a moment it was still valid.
    pub fn verdict_at(
        &self,
        chain: &[CertificateDer<'static>],
        name: &ServerName<'_>,
        at: UnixTime,
    ) -> Result<(), rustls::Error> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or(rustls::Error::NoCertificatesPresented)?;
        self.inner
            .verify_server_cert(leaf, intermediates, name, &[], at)
            .map(|_| ())
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ());
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(Presented { chain, verdict });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
