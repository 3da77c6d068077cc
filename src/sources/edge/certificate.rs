//! What an edge's certificate says and what is wrong with it: expiry, the names it covers
//! against the hostname users type, and whether it chains to a trusted root. Pure
//! functions over the DER the handshake presented, so every case is testable offline.

use rustls::CertificateError;
use x509_cert::Certificate as X509;
use x509_cert::der::Decode;
use x509_cert::der::oid::db::rfc4519::CN;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use super::Certificate;
use crate::sanitize::sanitize_truncated;

/// The fields of a leaf certificate that matter to an operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    pub subject: String,
    pub issuer: String,
    /// subjectAltName DNS names and addresses; the subject CN only when there is no SAN.
    pub names: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
}

const SHOWN_FIELD: usize = 200;
/// A certificate may carry hundreds of names; more than this adds nothing on screen.
const MAX_NAMES: usize = 50;

pub fn parse(der: &[u8]) -> Result<Facts, String> {
    let cert = X509::from_der(der)
        .map_err(|e| format!("the edge sent a certificate that does not parse: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let mut names = Vec::new();
    // A certificate with two SAN extensions is malformed; it is shown without names.
    if let Ok(Some((_, san))) = tbs.get::<SubjectAltName>() {
        for name in &san.0 {
            match name {
                GeneralName::DnsName(dns) => {
                    names.push(sanitize_truncated(dns.as_str(), SHOWN_FIELD));
                }
                GeneralName::IpAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes.as_bytes()) {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
            if names.len() >= MAX_NAMES {
                break;
            }
        }
    }
    if names.is_empty()
        && let Some(cn) = common_name(&tbs.subject)
    {
        names.push(sanitize_truncated(&cn, SHOWN_FIELD));
    }
    let unix = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
    Ok(Facts {
        subject: sanitize_truncated(&shown_name(&tbs.subject), SHOWN_FIELD),
        issuer: sanitize_truncated(&shown_name(&tbs.issuer), SHOWN_FIELD),
        names,
        not_before: unix(tbs.validity.not_before),
        not_after: unix(tbs.validity.not_after),
    })
}

/// `C=US, O=Let's Encrypt, CN=R3`: in the certificate's own order, as `openssl x509` shows
/// it, rather than RFC 4514's reversed one.
fn shown_name(name: &Name) -> String {
    name.0
        .iter()
        .map(|rdn| rdn.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn common_name(name: &Name) -> Option<String> {
    let atv = name
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == CN)?;
    let text = atv.to_string();
    text.split_once('=').map(|(_, value)| value.to_string())
}

fn ip_from_bytes(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

/// Whether `hostname` is covered by one of `names` (`*.example.social` covers exactly one
/// label, as browsers apply it).
pub fn covers(names: &[String], hostname: &str) -> bool {
    let host = hostname.trim_end_matches('.').to_ascii_lowercase();
    names.iter().any(|name| {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(parent) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
            None => name == host,
        }
    })
}

/// The chain's standing, once expiry and the name are set aside.
#[derive(Clone, Debug, PartialEq)]
pub enum Trust {
    Trusted,
    /// Why the chain does not lead to a trusted root, for people.
    Untrusted(String),
}

/// Whether a verifier error is about expiry or the name, which [`assess`] reports itself.
pub fn is_time_or_name(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
                | CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// Puts a verifier error into words; `trust_store` names what was trusted
/// (`the system trust store`, `tls_ca /etc/mastop/ca.pem`).
pub fn untrusted_reason(error: &rustls::Error, issuer: &str, trust_store: &str) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            format!("issuer {issuer} is not in {trust_store}")
        }
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "the chain's signatures do not verify".into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => "it is revoked".into(),
        rustls::Error::InvalidCertificate(CertificateError::InvalidPurpose)
        | rustls::Error::InvalidCertificate(CertificateError::InvalidPurposeContext { .. }) => {
            "it is not issued for TLS servers".into()
        }
        other => sanitize_truncated(&format!("{other:?}"), SHOWN_FIELD),
    }
}

/// The certificate as shown: dates, names and what is wrong, judged at `now` (Unix seconds).
pub fn assess(facts: &Facts, hostname: &str, trust: Trust, now: f64) -> Certificate {
    Certificate {
        subject: facts.subject.clone(),
        issuer: facts.issuer.clone(),
        not_after: crate::calendar::rfc3339(facts.not_after as f64),
        days_left: (facts.not_after as f64 - now) / 86_400.0,
        name_matches: covers(&facts.names, hostname),
        names: facts.names.clone(),
        asked_for: hostname.to_string(),
        untrusted: match trust {
            Trust::Trusted => None,
            Trust::Untrusted(reason) => Some(reason),
        },
    }
}

/// "expired 3 days ago", "expired 5 hours ago".
pub fn expired_ago(days_left: f64) -> String {
    let days = -days_left;
    if days >= 1.0 {
        let n = days.floor() as i64;
        format!("expired {n} day{} ago", if n == 1 { "" } else { "s" })
    } else {
        let hours = (days * 24.0).floor().max(0.0) as i64;
        match hours {
            0 => "expired less than an hour ago".into(),
            1 => "expired 1 hour ago".into(),
            n => format!("expired {n} hours ago"),
        }
    }
}

/// "a.example, b.example and 3 more".
pub fn names_list(names: &[String]) -> String {
    match names.len() {
        0 => "no name at all".into(),
        1..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn wildcards_cover_one_label_only() {
        let n = names(&["*.example.social", "example.social"]);
        assert!(covers(&n, "media.example.social"));
        assert!(covers(&n, "Example.Social."));
        assert!(!covers(&n, "a.media.example.social"));
        assert!(!covers(&names(&["*.example.social"]), "example.social"));
        assert!(!covers(&names(&["other.example"]), "example.social"));
        assert!(!covers(&[], "example.social"));
    }

    #[test]
    fn expiry_is_said_in_days_or_hours() {
        assert_eq!(expired_ago(-3.2), "expired 3 days ago");
        assert_eq!(expired_ago(-1.0), "expired 1 day ago");
        assert_eq!(expired_ago(-0.3), "expired 7 hours ago");
        assert_eq!(expired_ago(-0.01), "expired less than an hour ago");
    }

    #[test]
    fn long_name_lists_are_cut() {
        assert_eq!(names_list(&names(&["a", "b"])), "a, b");
        assert_eq!(
            names_list(&names(&["a", "b", "c", "d", "e"])),
            "a, b, c and 2 more"
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(b"not a certificate").is_err());
        assert!(parse(&[]).is_err());
    }
}
