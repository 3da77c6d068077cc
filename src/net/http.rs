//! The one place HTTP clients are built. Every request mastop sends goes through a
//! [`Client`] made here, except the edge probe's, which times its own handshake, and a
//! websocket's upgrade ([`super::websocket`], which follows the same rules): a deadline
//! on the whole exchange, a cap on the answer's size, `mastop/<version>` as the user agent,
//! the CA of the endpoint (`tls_ca`) or the system's, no redirect followed unless asked, and
//! no proxy taken from the environment (these are internal endpoints). Failures come back
//! as an [`HttpError`] in words an operator can act on.

use std::path::PathBuf;

use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, RequestBuilder, Url};
use tokio::time::{Instant, timeout_at};

use crate::sanitize::sanitize_truncated;

pub const USER_AGENT: &str = concat!("mastop/", env!("CARGO_PKG_VERSION"));

/// How long a piece of an answer (a location, an error's cause) may be in a message.
const SHOWN: usize = 160;

/// What a client is for.
#[derive(Clone, Debug, Default)]
pub struct ClientSpec {
    /// A PEM file with the CA that signed the server's certificate, trusted instead of the
    /// system trust store.
    pub tls_ca: Option<PathBuf>,
    /// Every connection goes to this Unix socket instead of the URL's host.
    pub unix_socket: Option<PathBuf>,
    /// Keep an idle connection for the next request (a source polling every few seconds).
    /// Off, each request gets a connection of its own: what a request that changes something
    /// needs, so it is never replayed on a connection the server had already closed.
    pub keep_alive: bool,
    /// Redirects followed before the answer is taken as it is; 0 (the default) follows none,
    /// so a 301 is reported, not silently chased to another host.
    pub follow_redirects: usize,
}

/// A built client and what it trusts (for messages).
#[derive(Clone, Debug)]
pub struct Client {
    inner: reqwest::Client,
    trust: String,
}

/// One answer, read whole (within the cap).
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// `HTTP/1.1 404 Not Found`, as the server's status line would say it.
    pub status_line: String,
    pub content_type: Option<String>,
    /// Where a redirect points, sanitised.
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `HTTP 503`, or `HTTP 301, a redirect to https://… (not followed)`.
    pub fn status_text(&self) -> String {
        match (&self.location, (300..400).contains(&self.status)) {
            (Some(to), true) => format!(
                "HTTP {}, a redirect to {to} (not followed: put the final URL in the config)",
                self.status
            ),
            _ => format!("HTTP {}", self.status),
        }
    }

    /// The start of the body, fit for a message: servers put the reason for a 4xx there.
    pub fn body_excerpt(&self, max_chars: usize) -> String {
        let text = String::from_utf8_lossy(&self.body);
        sanitize_truncated(text.trim(), max_chars)
            .trim()
            .to_string()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum HttpError {
    /// The deadline passed before the whole answer was in.
    Deadline,
    /// No connection: `kind` is what the OS said (`NotFound` for a missing Unix socket).
    Connect {
        kind: Option<std::io::ErrorKind>,
        reason: String,
    },
    /// The TLS handshake failed or the certificate was refused; already in words.
    Tls(String),
    /// The answer was cut off at this many bytes.
    TooLarge(usize),
    /// The other end does not speak HTTP/1.x.
    NotHttp(String),
    /// The connection broke before the answer was complete.
    Broken(String),
    /// The request could not be made (a URL this client cannot use).
    Request(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Deadline => f.write_str("no complete answer before the deadline"),
            HttpError::Connect { reason, .. } => write!(f, "cannot connect: {reason}"),
            HttpError::Tls(reason) => f.write_str(reason),
            HttpError::TooLarge(limit) => write!(
                f,
                "the answer is larger than {}: cut off there",
                size_in_words(*limit)
            ),
            HttpError::NotHttp(why) => write!(f, "the answer is not HTTP ({why})"),
            HttpError::Broken(why) => write!(f, "the answer broke off: {why}"),
            HttpError::Request(why) => f.write_str(why),
        }
    }
}

fn size_in_words(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / 1024 / 1024)
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

impl Client {
    pub fn new(spec: &ClientSpec) -> Result<Client, String> {
        let mut tls = crate::net::tls::client_config(spec.tls_ca.as_deref())?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let redirects = match spec.follow_redirects {
            0 => reqwest::redirect::Policy::none(),
            n => reqwest::redirect::Policy::limited(n),
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(redirects)
            .no_proxy()
            .http1_only()
            // `Host:`, `User-Agent:`, as curl and browsers write them.
            .http1_title_case_headers()
            .tcp_nodelay(true)
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(if spec.keep_alive { 2 } else { 0 });
        if let Some(socket) = &spec.unix_socket {
            builder = builder.unix_socket(socket.as_path());
        }
        let inner = builder
            .build()
            .map_err(|e| format!("cannot set up an HTTP client: {}", causes(&e)))?;
        Ok(Client {
            inner,
            trust: crate::net::tls::trust_store(spec.tls_ca.as_deref()),
        })
    }

    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.request(method, url)
    }

    /// Sends `request` and reads the answer, all of it finished by `by`; a body longer than
    /// `max_body` bytes is an error, read no further than that.
    pub async fn fetch(
        &self,
        request: RequestBuilder,
        by: Instant,
        max_body: usize,
    ) -> Result<Answer, HttpError> {
        timeout_at(by, self.exchange(request, max_body))
            .await
            .map_err(|_| HttpError::Deadline)?
    }

    async fn exchange(
        &self,
        request: RequestBuilder,
        max_body: usize,
    ) -> Result<Answer, HttpError> {
        let mut response = request.send().await.map_err(|e| self.classify(&e))?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v| sanitize_truncated(&String::from_utf8_lossy(v.as_bytes()), SHOWN))
        };
        let status = response.status();
        let mut answer = Answer {
            status: status.as_u16(),
            status_line: format!("{:?} {status}", response.version()),
            content_type: header(CONTENT_TYPE),
            location: header(LOCATION),
            body: Vec::new(),
        };
        if response
            .content_length()
            .is_some_and(|n| n > max_body as u64)
        {
            return Err(HttpError::TooLarge(max_body));
        }
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&e))? {
            if answer.body.len() + chunk.len() > max_body {
                return Err(HttpError::TooLarge(max_body));
            }
            answer.body.extend_from_slice(&chunk);
        }
        Ok(answer)
    }

    /// Puts a failed request into words, from the innermost cause that says most.
    fn classify(&self, error: &reqwest::Error) -> HttpError {
        let mut io_kind = None;
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        let mut hyper_error = None;
        while let Some(s) = source {
            if let Some(tls) = s.downcast_ref::<rustls::Error>() {
                return HttpError::Tls(crate::net::tls::refusal(tls, &self.trust));
            }
            // An io::Error's `source` skips the error it wraps, which is where the TLS stack
            // puts the rustls verdict (sometimes an io::Error inside another).
            let mut io = s.downcast_ref::<std::io::Error>();
            while let Some(e) = io {
                io_kind = Some(e.kind());
                let inner = e.get_ref();
                if let Some(tls) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    return HttpError::Tls(crate::net::tls::refusal(tls, &self.trust));
                }
                io = inner.and_then(|i| i.downcast_ref::<std::io::Error>());
            }
            if let Some(h) = s.downcast_ref::<hyper::Error>() {
                hyper_error.get_or_insert(h);
            }
            source = s.source();
        }
        let innermost = sanitize_truncated(&causes(error), SHOWN);
        if error.is_connect() {
            return HttpError::Connect {
                kind: io_kind,
                reason: match io_kind {
                    Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".into(),
                    Some(std::io::ErrorKind::NotFound) => "no such socket".into(),
                    _ => innermost,
                },
            };
        }
        if let Some(h) = hyper_error {
            // hyper says which parse error it was only in words without its server half.
            if h.is_parse() && h.to_string().contains("too large") {
                return HttpError::NotHttp("its headers are too large".into());
            }
            if h.is_parse() || h.is_parse_status() {
                return HttpError::NotHttp(sanitize_truncated(&h.to_string(), SHOWN));
            }
            if h.is_incomplete_message() {
                return HttpError::Broken(
                    "the connection closed before the answer was complete".into(),
                );
            }
        }
        if error.is_builder() {
            return HttpError::Request(innermost);
        }
        HttpError::Broken(innermost)
    }
}

/// The innermost cause's text: reqwest's own outer text names the URL, which the caller
/// already shows its own way.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_statuses_read_like_words() {
        assert_eq!(size_in_words(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size_in_words(16 * 1024), "16 KiB");
        assert_eq!(size_in_words(1000), "1000 bytes");
        let redirect = Answer {
            status: 301,
            status_line: "HTTP/1.1 301 Moved Permanently".into(),
            content_type: None,
            location: Some("https://es-2:9200/".into()),
            body: Vec::new(),
        };
        assert_eq!(
            redirect.status_text(),
            "HTTP 301, a redirect to https://es-2:9200/ (not followed: put the final URL in the config)"
        );
        assert_eq!(
            HttpError::TooLarge(1024).to_string(),
            "the answer is larger than 1 KiB: cut off there"
        );
    }

    #[test]
    fn the_user_agent_names_the_version() {
        assert!(USER_AGENT.starts_with("mastop/"));
        assert!(USER_AGENT.len() > "mastop/".len());
    }
}
