//! `[[edge]]` entries: the nginx cache nodes users talk to, each probed at its own address.
//! Also the checks for `[[elasticsearch]]` and `[[streaming]]`, the other HTTP backends.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::locate::Seg;
use super::types::{Defaults, EndpointConfig, de_opt_duration};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Short unique name, e.g. `cdn-fremont-1`.
    pub name: String,
    /// The edge's own address (IP or name, optionally `:port`; 443 when omitted),
    /// bypassing GeoDNS.
    pub address: String,
    /// The public hostname sent as SNI and `Host`, e.g. `hachyderm.io`.
    pub hostname: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A PEM file with a CA to trust instead of the system roots.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub cadence: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub deadline: Option<Duration>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The page fetched for timings and the cache header; a cacheable asset shows whether
    /// the cache works (`/sounds/boop.ogg`), `/` shows what users see first.
    #[serde(default = "default_path")]
    pub path: String,
    /// A media object (e.g. `/system/media_attachments/files/…/original/x.png`) checked with
    /// HEAD through the edge and, when `object_storage_url` is set, straight from storage.
    #[serde(default)]
    pub media_path: Option<String>,
    /// Object storage's own base URL (`https://bucket.region.digitaloceanspaces.com`): a
    /// media failure at the edge with storage fine is the edge's fault.
    #[serde(default)]
    pub object_storage_url: Option<String>,
}

impl EdgeConfig {
    pub fn schedule(&self, defaults: &Defaults) -> crate::model::Schedule {
        crate::model::Schedule {
            cadence: self.cadence.unwrap_or(defaults.cadence),
            deadline: self.deadline.unwrap_or(defaults.deadline),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_path() -> String {
    "/".into()
}

use super::error::quote;
use super::rules::{self, Problem};

/// Problems in `[[edge]]`: names, addresses, hostnames, paths and schedules.
pub(super) fn validate_edges(edges: &[EdgeConfig], problems: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    for (i, edge) in edges.iter().enumerate() {
        let at = |k: &str| vec![Seg::Key("edge".into()), Seg::Index(i), Seg::Key(k.into())];
        rules::name("edge", &edge.name, at("name"), &mut seen, problems);
        if let Err(e) = crate::net::route::EdgeTarget::parse(&edge.address) {
            problems.push((
                at("address"),
                e,
                Some("write an IP or DNS name, optionally with :port, e.g. \"192.0.2.10\" or \"cdn-1.example:8443\"".into()),
            ));
        }
        if !is_hostname(&edge.hostname) {
            problems.push((
                at("hostname"),
                format!("`{}` is not a host name", quote(&edge.hostname)),
                Some(
                    "the public name users type, without scheme or path, e.g. \"hachyderm.io\""
                        .into(),
                ),
            ));
        }
        for (key, path) in [
            ("path", Some(&edge.path)),
            ("media_path", edge.media_path.as_ref()),
        ] {
            if let Some(path) = path
                && !is_request_path(path)
            {
                problems.push((
                    at(key),
                    format!(
                        "`{}` is not a request path",
                        quote(&path.escape_debug().to_string())
                    ),
                    Some("it must start with `/` and hold no spaces or control characters".into()),
                ));
            }
        }
        if let Some(url) = &edge.object_storage_url {
            if let Err(e) = crate::net::route::storage_route(url) {
                problems.push((
                    at("object_storage_url"),
                    e,
                    Some("e.g. \"https://files.example.social\"".into()),
                ));
            }
            if edge.media_path.is_none() {
                problems.push((
                    at("object_storage_url"),
                    "object_storage_url is only used together with media_path".into(),
                    Some("add `media_path = \"/…\"`, the object to check".into()),
                ));
            }
        }
        rules::schedule(
            &at,
            edge.cadence,
            edge.deadline,
            rules::MIN_CADENCE,
            problems,
        );
        rules::plain_text(at("region"), &edge.region, problems);
        for (t, tag) in edge.tags.iter().enumerate() {
            let mut path = at("tags");
            path.push(Seg::Index(t));
            rules::plain_text(path, tag, problems);
        }
    }
}

/// Problems in `[[elasticsearch]]`, `[[streaming]]`, `[[prometheus]]` and `[[alertmanager]]`:
/// HTTP endpoints with the usual name, URL and schedule rules; none takes Postgres- or
/// Sidekiq-only keys.
pub(super) fn validate_http_endpoints(
    kind: &str,
    endpoints: &[EndpointConfig],
    problems: &mut Vec<Problem>,
) {
    super::validate::endpoints(kind, endpoints, super::validate::UrlKind::Http, problems);
    for (i, ep) in endpoints.iter().enumerate() {
        let at = |k: &str| vec![Seg::Key(kind.into()), Seg::Index(i), Seg::Key(k.into())];
        for (key, set) in [
            ("namespace", ep.namespace.is_some()),
            ("write_url", ep.write_url.is_some()),
            ("write_password", ep.write_password.is_some()),
        ] {
            if set && kind == "alertmanager" {
                problems.push((
                    at(key),
                    format!("`{key}` does not apply to [[{kind}]]"),
                    Some("silences are sent to `url` with its credentials; remove it".into()),
                ));
            } else if set {
                problems.push((
                    at(key),
                    format!("`{key}` does not apply to [[{kind}]]: mastop only reads it"),
                    Some("remove it".into()),
                ));
            }
        }
        if let Ok(base) = crate::net::service::BaseUrl::parse(&ep.url) {
            use crate::net::service::{Setting, option_problems};
            let found = option_problems(
                &base,
                ep.tls_ca.is_some(),
                ep.password.is_some(),
                ep.bearer_token.is_some(),
            );
            for (setting, problem, fix) in found {
                let key = match setting {
                    Setting::TlsCa => "tls_ca",
                    Setting::Password => "password",
                    Setting::BearerToken => "bearer_token",
                };
                problems.push((at(key), problem.into(), Some(fix.into())));
            }
        }
    }
}

fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_request_path(path: &str) -> bool {
    path.starts_with('/') && !path.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_paths() {
        assert!(is_hostname("hachyderm.io"));
        assert!(is_hostname("media-1.example"));
        assert!(!is_hostname("https://hachyderm.io"));
        assert!(!is_hostname("bad..name"));
        assert!(!is_hostname(""));
        assert!(is_request_path("/health"));
        assert!(!is_request_path("health"));
        assert!(!is_request_path("/a b"));
        assert!(!is_request_path("/a\r\nX-Injected: 1"));
    }
}
