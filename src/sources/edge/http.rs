//! One request over a connection the probe opened and timed itself, with hyper's HTTP/1
//! client reading the answer's head. `Connection: close`, so the handshake being timed is
//! the one that served the request, and no body beyond the head is ever read.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{ACCEPT, CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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

/// Sends `method path` with `host` as `Host` and reads the answer's head. Returns it with
/// the time from the request being written to the first byte of the answer, in
/// milliseconds.
pub async fn exchange<S>(
    stream: S,
    method: &str,
    path: &str,
    host: &str,
) -> Result<(Head, f64), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let marks = Arc::new(Mutex::new(Marks::default()));
    let io = TokioIo::new(Timed {
        inner: stream,
        marks: Arc::clone(&marks),
    });
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host)
        .header(USER_AGENT, crate::net::http::USER_AGENT)
        .header(ACCEPT, "*/*")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("cannot make the request: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .title_case_headers(true)
        // A header line HTTP forbids (control bytes in its value) is dropped, not the whole
        // answer: the edge still answered, and what it sent never reaches the screen.
        .ignore_invalid_headers_in_responses(true)
        .handshake(io)
        .await
        .map_err(|e| describe(&e))?;
    let response = sender.send_request(request);
    tokio::pin!(response, connection);
    let response = tokio::select! {
        biased;
        answer = &mut response => answer,
        ended = &mut connection => {
            ended.map_err(|e| describe(&e))?;
            (&mut response).await
        }
    }
    .map_err(|e| describe(&e))?;
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let first_byte_ms = marks.lock().map_or(0.0, |m| m.first_byte_ms());
    Ok((
        Head {
            status: response.status().as_u16(),
            headers,
        },
        first_byte_ms,
    ))
}

fn describe(error: &hyper::Error) -> String {
    // hyper says which parse error it was only in words without its server half.
    if error.is_parse() && error.to_string().contains("too large") {
        return format!("the headers are longer than {} KiB", MAX_HEAD / 1024);
    }
    if error.is_parse() || error.is_parse_status() {
        return format!("the answer is not HTTP/1.x ({error})");
    }
    if error.is_incomplete_message() || error.is_canceled() {
        return "the edge closed the connection without answering".into();
    }
    let mut text = error.to_string();
    if let Some(cause) = std::error::Error::source(error) {
        text = format!("{text}: {cause}");
    }
    format!(
        "reading the answer failed: {}",
        crate::sanitize::sanitize_truncated(&text, 160)
    )
}

/// When the request went out and the answer's first byte came back.
#[derive(Default)]
struct Marks {
    sent: Option<Instant>,
    first_byte: Option<Instant>,
}

impl Marks {
    fn first_byte_ms(&self) -> f64 {
        match (self.sent, self.first_byte) {
            (Some(sent), Some(first)) => {
                first.saturating_duration_since(sent).as_secs_f64() * 1000.0
            }
            _ => 0.0,
        }
    }
}

/// The connection, noting the moment of the last write before the answer began and of the
/// answer's first byte.
struct Timed<S> {
    inner: S,
    marks: Arc<Mutex<Marks>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(())))
            && buf.filled().len() > before
            && let Ok(mut marks) = self.marks.lock()
        {
            marks.first_byte.get_or_insert_with(Instant::now);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0)
            && let Ok(mut marks) = self.marks.lock()
            && marks.first_byte.is_none()
        {
            marks.sent = Some(Instant::now());
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn heads_split_across_reads_name_the_public_host() {
        let (client, mut server) = tokio::io::duplex(64);
        let serve = tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 256];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = server.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
            }
            for part in [
                "HTTP/1.1 503 Service",
                " Unavailable\r\nX-Cached: MISS\r",
                "\n\r\nbody",
            ] {
                server.write_all(part.as_bytes()).await.unwrap();
                server.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            String::from_utf8(request).unwrap()
        });
        let (head, _) = exchange(client, "HEAD", "/health", "example.social")
            .await
            .unwrap();
        assert_eq!((head.status, head.header("x-cached")), (503, Some("MISS")));
        let request = serve.await.unwrap();
        assert!(
            request.starts_with("HEAD /health HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("Host: example.social\r\n"), "{request}");
        assert!(request.contains("Connection: close\r\n"), "{request}");
    }

    #[tokio::test]
    async fn not_http_and_oversized_heads_are_errors() {
        for (answer, expected) in [
            (b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec(), "not HTTP/1.x"),
            (
                {
                    let mut big = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
                    big.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
                    big
                },
                "longer than 16 KiB",
            ),
            (Vec::new(), "closed the connection without answering"),
        ] {
            let (client, mut server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                let mut req = [0u8; 512];
                let _ = server.read(&mut req).await;
                let _ = server.write_all(&answer).await;
                let _ = server.shutdown().await;
            });
            let err = exchange(client, "GET", "/", "h").await.unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }
}
