//! Small documents over HTTP(S) from the services behind the edges (Elasticsearch's JSON,
//! the streaming server's `/metrics`): one GET per connection, certificate verified as
//! usual, body read to a bound. No pool, so a dead service costs one connect per poll.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use super::http::{Head, MAX_HEAD, parse_head};
use super::target::EdgeTarget;
use crate::sanitize::sanitize_truncated;

/// A service's base URL, parsed once.
#[derive(Clone)]
pub struct WebEndpoint {
    pub target: EdgeTarget,
    pub host: String,
    /// Path the URL carries (`/metrics`, or a prefix like `/es`), without a trailing `/`.
    pub path: String,
    pub user: Option<String>,
    tls: Option<Arc<ClientConfig>>,
}

/// Where a service's base URL points, read without any I/O (so config checks use it too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebAddress {
    pub tls: bool,
    pub target: EdgeTarget,
    pub user: Option<String>,
    /// Without a trailing `/`.
    pub path: String,
}

/// `http(s)://[user@]host[:port][/path]`, with no password, query or fragment.
pub fn web_address(url: &str) -> Result<WebAddress, String> {
    let shown = crate::config::mask_url(url);
    let parsed = crate::config::urls::http(url).map_err(|p| format!("`{shown}`: {}", p.message))?;
    if parsed.query.is_some() || parsed.fragment.is_some() {
        return Err(format!(
            "`{shown}` carries a query or fragment: give the base URL only"
        ));
    }
    if parsed.has_password {
        return Err(format!("`{shown}` holds a password: give it as `password`"));
    }
    let target = EdgeTarget::parse_with_default(&parsed.authority, parsed.port)
        .map_err(|e| format!("`{shown}`: {e}"))?;
    Ok(WebAddress {
        tls: parsed.tls,
        target,
        user: parsed.user,
        path: parsed
            .path
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string(),
    })
}

impl WebEndpoint {
    /// `http(s)://[user@]host[:port][/path]`; `tls_ca` replaces the system roots.
    pub fn parse(url: &str, tls_ca: Option<&std::path::Path>) -> Result<Self, String> {
        let WebAddress {
            tls,
            target,
            user,
            path,
        } = web_address(url)?;
        let tls = if tls {
            let roots = match tls_ca {
                Some(path) => Arc::new(crate::sources::postgres::tls::ca_roots(path)?),
                None => crate::sources::postgres::tls::system_roots(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("cannot set up TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(Arc::new(config))
        } else {
            None
        };
        Ok(WebEndpoint {
            host: target.host.clone(),
            target,
            path,
            user,
            tls,
        })
    }

    /// `host:port`, for messages.
    pub fn shown(&self) -> String {
        self.target.shown()
    }

    /// GETs `path` (relative to the URL's own path), finished by `by`; the body is cut off
    /// with an error past `max_body` bytes.
    pub async fn get(
        &self,
        path: &str,
        password: Option<&SecretString>,
        by: Instant,
        max_body: usize,
    ) -> Result<(Head, Vec<u8>), String> {
        let full = format!("{}{path}", self.path);
        let mut request = format!(
            "GET {full} HTTP/1.1\r\nHost: {}\r\nUser-Agent: mastop\r\nAccept: application/json, text/plain\r\nConnection: close\r\n",
            self.host
        );
        if let Some(user) = &self.user {
            let pass = password.map_or("", |p| p.expose_secret());
            request.push_str(&format!(
                "Authorization: Basic {}\r\n",
                base64(format!("{user}:{pass}").as_bytes())
            ));
        }
        request.push_str("\r\n");
        let work = async {
            let tcp = match self.target.ip {
                Some(ip) => TcpStream::connect((ip, self.target.port)).await,
                None => TcpStream::connect((self.target.host.as_str(), self.target.port)).await,
            }
            .map_err(|e| format!("connect: {}", sanitize_truncated(&e.to_string(), 120)))?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => exchange(tcp, request.as_bytes(), max_body).await,
                Some(config) => {
                    let name = ServerName::try_from(self.host.clone())
                        .map_err(|_| format!("`{}` cannot be a TLS server name", self.host))?;
                    let tls = TlsConnector::from(config.clone())
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS handshake failed: {e}"))?;
                    exchange(tls, request.as_bytes(), max_body).await
                }
            }
        };
        timeout_at(by, work)
            .await
            .map_err(|_| "no complete answer before the deadline".to_string())?
    }
}

async fn exchange<S>(
    mut stream: S,
    request: &[u8],
    max_body: usize,
) -> Result<(Head, Vec<u8>), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("sending the request failed: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let limit = MAX_HEAD + max_body;
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > limit {
            return Err(format!("the answer is larger than {} KiB", limit / 1024));
        }
    }
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .ok_or_else(|| {
            if buf.is_empty() {
                "the connection closed without an answer".to_string()
            } else {
                "the answer ended inside its headers".to_string()
            }
        })?;
    let head = parse_head(&buf[..end])?;
    let raw = buf.split_off(end);
    let body = if head
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        dechunk(&raw)?
    } else {
        match head
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok())
        {
            Some(len) if raw.len() < len => {
                return Err(format!(
                    "the answer ended after {} of {len} bytes",
                    raw.len()
                ));
            }
            Some(len) => raw[..len].to_vec(),
            None => raw,
        }
    };
    Ok((head, body))
}

/// Decodes a chunked body.
pub fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk header is cut off")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {:?}", sanitize_truncated(size_text, 20)))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if raw.len() < size {
            return Err("a chunk is cut off".into());
        }
        out.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encoding() {
        assert_eq!(base64(b"elastic:changeme"), "ZWxhc3RpYzpjaGFuZ2VtZQ==");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n").unwrap(),
            b"Wikipedia"
        );
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"10\r\nshort").is_err());
    }

    #[test]
    fn urls() {
        let ep = WebEndpoint::parse("http://elastic@es-1:9200/", None).unwrap();
        assert_eq!(
            (ep.shown(), ep.user.as_deref(), ep.path.as_str()),
            ("es-1:9200".into(), Some("elastic"), "")
        );
        let ep = WebEndpoint::parse("http://127.0.0.1:4000/metrics", None).unwrap();
        assert_eq!(ep.path, "/metrics");
        assert!(WebEndpoint::parse("http://u:p@es:9200", None).is_err());
        assert!(WebEndpoint::parse("es:9200", None).is_err());
        assert!(WebEndpoint::parse("http://es:9200/a b", None).is_err());
        assert!(WebEndpoint::parse("http://es:9200/\r\nX: y", None).is_err());
        assert!(WebEndpoint::parse("http://es:9200/?pretty", None).is_err());
    }
}
