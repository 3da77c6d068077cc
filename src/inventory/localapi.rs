//! tailscaled's LocalAPI: plain HTTP/1.0 over its Unix socket. Read endpoints need no
//! root. Every call is bounded by a deadline and a response-size cap, so a wedged
//! tailscaled or a wrong socket can neither hang nor flood the console.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// A status document for a few thousand peers fits well within this.
const MAX_RESPONSE: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum LocalApiError {
    /// No socket at the path: Tailscale is not installed or not running here.
    NoSocket(PathBuf),
    /// The socket exists but connecting or talking failed.
    Io(String),
    /// tailscaled answered with an HTTP error.
    Status(u16, String),
    /// Not an HTTP response.
    Protocol(String),
    Timeout(Duration),
}

impl std::fmt::Display for LocalApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalApiError::NoSocket(p) => write!(
                f,
                "no tailscaled socket at {}: is Tailscale running on this machine?",
                p.display()
            ),
            LocalApiError::Io(e) => write!(f, "tailscaled LocalAPI: {e}"),
            LocalApiError::Status(code, body) if body.is_empty() => {
                write!(f, "tailscaled LocalAPI answered HTTP {code}")
            }
            LocalApiError::Status(code, body) => {
                write!(f, "tailscaled LocalAPI answered HTTP {code}: {body}")
            }
            LocalApiError::Protocol(e) => write!(f, "tailscaled LocalAPI: {e}"),
            LocalApiError::Timeout(d) => write!(
                f,
                "tailscaled LocalAPI did not answer within {}",
                humantime::format_duration(*d)
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LocalApi {
    socket: PathBuf,
    deadline: Duration,
}

impl LocalApi {
    pub fn new(socket: impl Into<PathBuf>, deadline: Duration) -> Self {
        Self {
            socket: socket.into(),
            deadline,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `GET /localapi/v0/status`.
    pub async fn status(&self) -> Result<Vec<u8>, LocalApiError> {
        self.get("/localapi/v0/status").await
    }

    /// `GET /localapi/v0/whois?addr=<ip>`.
    pub async fn whois(&self, addr: &str) -> Result<Vec<u8>, LocalApiError> {
        let addr: String = addr
            .chars()
            .filter(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':'))
            .collect();
        self.get(&format!("/localapi/v0/whois?addr={addr}")).await
    }

    /// One GET, body returned on 200.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, LocalApiError> {
        match tokio::time::timeout(self.deadline, self.exchange(path)).await {
            Ok(result) => result,
            Err(_) => Err(LocalApiError::Timeout(self.deadline)),
        }
    }

    async fn exchange(&self, path: &str) -> Result<Vec<u8>, LocalApiError> {
        let mut stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                LocalApiError::NoSocket(self.socket.clone())
            } else {
                LocalApiError::Io(format!("connecting to {}: {e}", self.socket.display()))
            }
        })?;
        // HTTP/1.0: the server closes after one response, so reading to the end is the
        // whole response. No Origin or Referer, which tailscaled refuses.
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: local-tailscaled.sock\r\nUser-Agent: mastop\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| LocalApiError::Io(format!("sending request: {e}")))?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(MAX_RESPONSE + 1)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| LocalApiError::Io(format!("reading response: {e}")))?;
        if raw.len() as u64 > MAX_RESPONSE {
            return Err(LocalApiError::Protocol(format!(
                "response larger than {} MiB",
                MAX_RESPONSE / 1024 / 1024
            )));
        }
        parse_response(&raw)
    }
}

/// Status line, headers and body of an HTTP/1.x response; chunked bodies are decoded.
pub fn parse_response(raw: &[u8]) -> Result<Vec<u8>, LocalApiError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| LocalApiError::Protocol("response ended before its headers did".into()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or_default(), parts.next());
    let code: u16 = match (version.starts_with("HTTP/1."), code.map(str::parse)) {
        (true, Some(Ok(code))) => code,
        _ => {
            return Err(LocalApiError::Protocol(format!(
                "not an HTTP response: {}",
                crate::sanitize::sanitize_truncated(status_line, 60)
            )));
        }
    };
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    if code != 200 {
        let text = crate::sanitize::sanitize_truncated(&String::from_utf8_lossy(&body), 120);
        return Err(LocalApiError::Status(code, text.trim().to_string()));
    }
    Ok(body)
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, LocalApiError> {
    let bad = || LocalApiError::Protocol("malformed chunked body".into());
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| bad())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad())?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or_else(bad)?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or_else(bad)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_bodies() {
        let plain = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}";
        assert_eq!(parse_response(plain), Ok(b"{}".to_vec()));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=1\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok(b"{\"a\":1}".to_vec()));
        let truncated = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab";
        assert!(matches!(
            parse_response(truncated),
            Err(LocalApiError::Protocol(_))
        ));
    }

    #[test]
    fn errors_carry_the_code_and_a_clean_message() {
        let denied = b"HTTP/1.0 403 Forbidden\r\n\r\nforbidden\x1b[31m\n";
        assert_eq!(
            parse_response(denied),
            Err(LocalApiError::Status(403, "forbidden".into()))
        );
        assert!(matches!(
            parse_response(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(LocalApiError::Protocol(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.0 200"),
            Err(LocalApiError::Protocol(_))
        ));
    }
}
