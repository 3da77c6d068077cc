//! Just enough HTTP/1.1 to ask an edge for one path and read its status line and headers:
//! one request per connection (`Connection: close`), so the handshake being timed is the
//! one that served the request, and no body beyond the head is ever read.

use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// An edge that sends more header than this is not answering like nginx does.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub status: u16,
    /// Names lower-cased, values as sent (not yet fit for the screen).
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn request(method: &str, path: &str, host: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mastop\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The end of the head (after the blank line) in `buf`, if it has arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a response head (status line and headers, through the blank line).
pub fn parse_head(head: &[u8]) -> Result<Head, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!(
            "the answer is not HTTP/1.x (it starts {:?})",
            crate::sanitize::sanitize_truncated(status_line, 40)
        ));
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..=999).contains(code))
        .ok_or_else(|| {
            format!(
                "the status line has no status code: {:?}",
                crate::sanitize::sanitize_truncated(status_line, 60)
            )
        })?;
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Ok(Head { status, headers })
}

/// Sends `request` and reads the answer's head. Returns it with the time from the request
/// being written to the first byte of the answer, in milliseconds.
pub async fn exchange<S>(stream: &mut S, request: &[u8]) -> Result<(Head, f64), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(|e| format!("sending the request failed: {e}"))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("sending the request failed: {e}"))?;
    let sent = Instant::now();
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let mut first_byte_ms = None;
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "the edge closed the connection without answering".into()
            } else {
                "the edge closed the connection in the middle of the headers".into()
            });
        }
        first_byte_ms.get_or_insert_with(|| sent.elapsed().as_secs_f64() * 1000.0);
        let search_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head_end(&buf[search_from..]).map(|e| e + search_from) {
            let head = parse_head(&buf[..end])?;
            return Ok((head, first_byte_ms.unwrap_or_default()));
        }
        if buf.len() > MAX_HEAD {
            return Err(format!(
                "the headers are longer than {} KiB",
                MAX_HEAD / 1024
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_nginx_head() {
        let head = parse_head(
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nX-Cache-Status: HIT\r\nX-Empty:\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.header("x-cache-status"), Some("HIT"));
        assert_eq!(head.header("Server"), Some("nginx/1.22.1"));
        assert_eq!(head.header("x-empty"), Some(""));
        assert_eq!(head.header("x-cached"), None);
    }

    #[test]
    fn not_http_is_an_error() {
        assert!(parse_head(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 42 Odd\r\n\r\n").is_err());
        assert!(parse_head(b"").is_err());
    }

    #[test]
    fn the_request_names_the_public_host() {
        let r = String::from_utf8(request("HEAD", "/health", "example.social")).unwrap();
        assert!(r.starts_with("HEAD /health HTTP/1.1\r\nHost: example.social\r\n"));
        assert!(r.ends_with("Connection: close\r\n\r\n"));
    }

    #[tokio::test]
    async fn heads_split_across_reads_and_oversized_heads() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let serve = tokio::spawn(async move {
            let mut req = [0u8; 256];
            let _ = server.read(&mut req).await;
            for part in [
                "HTTP/1.1 503 Service",
                " Unavailable\r\nX-Cached: MISS\r",
                "\n\r\nbody",
            ] {
                server.write_all(part.as_bytes()).await.unwrap();
                server.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let (head, _) = exchange(&mut client, &request("GET", "/", "h"))
            .await
            .unwrap();
        assert_eq!((head.status, head.header("x-cached")), (503, Some("MISS")));
        serve.await.unwrap();

        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut req = [0u8; 256];
            let _ = server.read(&mut req).await;
            let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
            big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
            let _ = server.write_all(&big).await;
        });
        let err = exchange(&mut client, &request("GET", "/", "h"))
            .await
            .unwrap_err();
        assert!(err.contains("longer than 16 KiB"), "{err}");
    }
}
