//! A service mastop reads over HTTP(S) (Elasticsearch, the streaming server's `/metrics`,
//! node_exporter): its base URL checked once, the client made for it, and its credentials
//! (the user in the URL with a password reference, or a bearer token reference), fetched on
//! first use and again after the server refused them.

use std::path::{Path, PathBuf};

use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::http::{Answer, Client, ClientSpec, HttpError};
use crate::config::{CachedSecret, SecretRef, mask_url};

/// `http(s)://[user@]host[:port][/path]`: a base URL with no query, fragment or password.
#[derive(Clone, Debug)]
pub struct BaseUrl {
    /// Without the user.
    url: Url,
    pub user: Option<String>,
    /// The URL's own path (`/metrics`, or a prefix like `/es`) without a trailing `/`.
    pub path: String,
}

impl BaseUrl {
    pub fn parse(text: &str) -> Result<BaseUrl, String> {
        let shown = mask_url(text);
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "`{}` holds spaces or control characters",
                shown.escape_debug()
            ));
        }
        if text.contains(['?', '#']) {
            return Err(format!(
                "`{shown}` carries a query or fragment: give the base URL only"
            ));
        }
        let mut url = Url::parse(text).map_err(|e| format!("`{shown}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{shown}` is not an http(s) URL"));
        }
        if url.password().is_some() {
            return Err(format!(
                "`{shown}` holds a password: give it as a secret reference instead"
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{shown}` names no host"));
        }
        let user = (!url.username().is_empty()).then(|| url.username().to_string());
        url.set_username("")
            .map_err(|()| format!("`{shown}` cannot carry a user"))?;
        let path = url.path().trim_end_matches('/').to_string();
        Ok(BaseUrl { url, user, path })
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The host as a TLS server name or for a lookup: an IPv6 literal without brackets.
    pub fn host(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    }

    pub fn port(&self) -> u16 {
        self.url.port_or_known_default().unwrap_or_default()
    }

    /// What a request's `Host` header says: the port only when it is not the scheme's own,
    /// an IPv6 literal in brackets.
    pub fn authority(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// `host:port`, for messages: `es-1:9200`, `[2001:db8::1]:9100`.
    pub fn shown(&self) -> String {
        // `host_str` keeps an IPv6 literal's brackets.
        let port = self.url.port_or_known_default().unwrap_or_default();
        format!("{}:{port}", self.url.host_str().unwrap_or_default())
    }

    /// The URL of `path_and_query` under the base path (`/_cat/indices?format=json`).
    pub fn join(&self, path_and_query: &str) -> Url {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let mut url = self.url.clone();
        url.set_path(&format!("{}{path}", self.path));
        url.set_query(query);
        url
    }
}

/// An option of a service that can contradict its URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    TlsCa,
    Password,
    BearerToken,
}

/// Where the options set for a service contradict its URL or each other: (the option at
/// fault, the problem, the fix). Shared by config validation and [`Service::new`].
pub fn option_problems(
    base: &BaseUrl,
    tls_ca: bool,
    password: bool,
    bearer_token: bool,
) -> Vec<(Setting, &'static str, &'static str)> {
    let mut problems = Vec::new();
    if tls_ca && !base.is_https() {
        problems.push((
            Setting::TlsCa,
            "a CA is set but the url is plain http://",
            "use an https:// url, or remove the CA",
        ));
    }
    if bearer_token && (base.user.is_some() || password) {
        problems.push((
            Setting::BearerToken,
            "a bearer token and a user or password are both set",
            "keep one: a user in the url with a password, or a bearer token",
        ));
    } else if password && base.user.is_none() {
        problems.push((
            Setting::Password,
            "a password is set but the url names no user",
            "write the url as http(s)://user@host…",
        ));
    }
    problems
}

/// What a request carries to prove who asks.
pub enum Authorization {
    None,
    Basic {
        user: String,
        password: Option<SecretString>,
    },
    Bearer(SecretString),
}

/// How to reach one service.
pub struct ServiceSpec<'a> {
    pub url: &'a str,
    pub tls_ca: Option<&'a Path>,
    /// With the user in `url`: basic auth.
    pub password: Option<SecretRef>,
    pub bearer_token: Option<SecretRef>,
    /// The largest answer read; a larger one is an error.
    pub max_body: usize,
}

pub struct Service {
    pub base: BaseUrl,
    client: Client,
    tls_ca: Option<PathBuf>,
    password: CachedSecret,
    token: CachedSecret,
    max_body: usize,
}

impl Service {
    /// The client for one `[[kind]]` HTTP endpoint of the config: its URL, CA, password or
    /// bearer token, and a cap on answers. The error names the entry.
    pub fn for_endpoint(
        kind: &str,
        config: &crate::config::EndpointConfig,
        max_body: usize,
    ) -> Result<Service, String> {
        Service::new(ServiceSpec {
            url: &config.url,
            tls_ca: config.tls_ca.as_deref(),
            password: config.password.clone(),
            bearer_token: config.bearer_token.clone(),
            max_body,
        })
        .map_err(|e| format!("{kind} {}: {e}", config.name))
    }

    pub fn new(spec: ServiceSpec<'_>) -> Result<Service, String> {
        Service::build(spec, true)
    }

    /// A service for requests that change something: each gets a connection of its own,
    /// so none is ever replayed on a connection the server had already closed.
    pub fn for_changes(spec: ServiceSpec<'_>) -> Result<Service, String> {
        Service::build(spec, false)
    }

    fn build(spec: ServiceSpec<'_>, keep_alive: bool) -> Result<Service, String> {
        let base = BaseUrl::parse(spec.url)?;
        let problems = option_problems(
            &base,
            spec.tls_ca.is_some(),
            spec.password.is_some(),
            spec.bearer_token.is_some(),
        );
        if let Some((_, problem, fix)) = problems.first() {
            return Err(format!("{problem}: {fix}"));
        }
        let client = Client::new(&ClientSpec {
            tls_ca: spec.tls_ca.map(Path::to_path_buf),
            keep_alive,
            ..ClientSpec::default()
        })?;
        Ok(Service {
            base,
            client,
            tls_ca: spec.tls_ca.map(Path::to_path_buf),
            password: CachedSecret::new(spec.password),
            token: CachedSecret::new(spec.bearer_token),
            max_body: spec.max_body,
        })
    }

    /// The credentials to send, resolved on first use; `backend` names the service in an
    /// error (`elasticsearch at es-1:9200`).
    pub async fn authorization(&mut self, backend: &str) -> Result<Authorization, String> {
        if let Some(token) = self.token.get(backend).await? {
            return Ok(Authorization::Bearer(token.clone()));
        }
        let Some(user) = self.base.user.clone() else {
            return Ok(Authorization::None);
        };
        let password = self.password.get(backend).await?.cloned();
        Ok(Authorization::Basic { user, password })
    }

    /// The server refused the credentials: fetch them again next time (they may have been
    /// rotated).
    pub fn refused(&mut self) {
        self.password.forget();
        self.token.forget();
    }

    /// GETs `path_and_query` under the base URL, finished by `by`.
    pub async fn get(
        &self,
        path_and_query: &str,
        auth: &Authorization,
        by: Instant,
    ) -> Result<Answer, HttpError> {
        self.send(Method::GET, path_and_query, None, auth, by).await
    }

    /// Sends `method` to `path_and_query` under the base URL, with a JSON `body` if given,
    /// finished by `by`.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        auth: &Authorization,
        by: Instant,
    ) -> Result<Answer, HttpError> {
        let mut request = self
            .client
            .request(method, self.base.join(path_and_query))
            .header(reqwest::header::ACCEPT, "application/json, text/plain");
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let request = with_auth(request, auth);
        self.client.fetch(request, by, self.max_body).await
    }

    /// Opens a websocket to `path_and_query` under the base URL with the same CA and
    /// credentials as its requests, the handshake finished by `by`.
    pub async fn websocket(
        &self,
        path_and_query: &str,
        auth: &Authorization,
        max_message: usize,
        by: Instant,
    ) -> Result<super::websocket::WebSocket, super::websocket::OpenError> {
        // reqwest writes the credentials' header exactly as it does for a request.
        let headers = with_auth(
            self.client
                .request(Method::GET, self.base.join(path_and_query)),
            auth,
        )
        .build()
        .map(|r| r.headers().clone())
        .map_err(|_| {
            super::websocket::OpenError::Failed("cannot write the credentials' header".into())
        })?;
        super::websocket::open(
            &self.base,
            self.tls_ca.as_deref(),
            headers,
            path_and_query,
            max_message,
            by,
        )
        .await
    }
}

fn with_auth(request: reqwest::RequestBuilder, auth: &Authorization) -> reqwest::RequestBuilder {
    match auth {
        Authorization::None => request,
        Authorization::Basic { user, password } => {
            request.basic_auth(user, password.as_ref().map(|p| p.expose_secret()))
        }
        Authorization::Bearer(token) => request.bearer_auth(token.expose_secret()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ep = BaseUrl::parse("http://elastic@es-1:9200/").unwrap();
        assert_eq!(
            (ep.shown(), ep.user.as_deref(), ep.path.as_str()),
            ("es-1:9200".into(), Some("elastic"), "")
        );
        assert_eq!(
            ep.join("/_cat/indices?format=json&bytes=b").as_str(),
            "http://es-1:9200/_cat/indices?format=json&bytes=b"
        );
        let ep = BaseUrl::parse("http://127.0.0.1:4000/metrics").unwrap();
        assert_eq!(ep.path, "/metrics");
        assert_eq!(ep.join("").as_str(), "http://127.0.0.1:4000/metrics");
        let ep = BaseUrl::parse("https://[::1]/es/").unwrap();
        assert_eq!(ep.shown(), "[::1]:443");
        assert_eq!(
            ep.join("/_cluster/health").as_str(),
            "https://[::1]/es/_cluster/health"
        );
        assert!(BaseUrl::parse("http://u:p@es:9200").is_err());
        assert!(BaseUrl::parse("es:9200").is_err());
        assert!(BaseUrl::parse("ftp://es:9200").is_err());
        assert!(BaseUrl::parse("http://es:9200/a b").is_err());
        assert!(BaseUrl::parse("http://es:9200/\r\nX: y").is_err());
        assert!(BaseUrl::parse("http://es:9200/?pretty").is_err());
        assert!(BaseUrl::parse("http://es:99999/").is_err());
    }

    #[test]
    fn conflicting_credentials_and_a_ca_for_plain_http_are_refused() {
        let spec = |url, tls_ca, password: Option<&str>, token: Option<&str>| ServiceSpec {
            url,
            tls_ca,
            password: password.map(|p| p.parse().expect("reference")),
            bearer_token: token.map(|t| t.parse().expect("reference")),
            max_body: 1024,
        };
        let ca = Path::new("/etc/mastop/ca.pem");
        let err = |s| Service::new(s).err().unwrap_or_default();
        assert!(err(spec("http://es:9200", Some(ca), None, None)).contains("plain http://"));
        assert!(err(spec("http://u@es:9200", None, None, Some("env:T"))).contains("both set"));
        assert!(err(spec("http://es:9200", None, Some("env:P"), None)).contains("names no user"));
        assert!(Service::new(spec("http://u@es:9200", None, Some("env:P"), None)).is_ok());
        assert!(Service::new(spec("https://es:9200", None, None, Some("env:T"))).is_ok());
    }
}
