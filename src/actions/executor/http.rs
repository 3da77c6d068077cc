//! HTTP requests for runbook steps and health gates: one request per connection, the status
//! line read and the body ignored (Mastodon's `/health` says `OK` or `{"status":"UP"}`
//! depending on the version; only the status matters).
//!
//! Plain `http://` only: health gates ask a web host's own port across the tailnet, which is
//! not TLS. An `https://` URL is refused with that explanation rather than sent unverified.

use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Executor;
use crate::actions::action::{Action, Check, Operation};
use crate::actions::role::WriteCapability;
use crate::config::mask_url;

pub struct HttpExecutor {
    _write: WriteCapability,
}

impl HttpExecutor {
    pub fn new(write: &WriteCapability) -> Self {
        Self {
            _write: write.clone(),
        }
    }
}

/// The parts of a URL a request needs.
#[derive(Debug, PartialEq)]
struct Parsed {
    host: String,
    port: u16,
    path: String,
}

fn parse(url: &str) -> Result<Parsed, String> {
    let parsed = crate::config::urls::http(url).map_err(|p| p.message)?;
    if parsed.tls {
        return Err("https is not supported for runbook requests; ask the host's own http port over the tailnet (e.g. http://web-1:3000/health)".into());
    }
    if parsed.user.is_some() || parsed.has_password {
        return Err(
            "credentials in the URL are not sent; runbook requests go unauthenticated".into(),
        );
    }
    let mut path = parsed.path.unwrap_or_else(|| "/".to_string());
    if let Some(query) = parsed.query {
        path.push('?');
        path.push_str(&query);
    }
    Ok(Parsed {
        host: parsed.host,
        port: parsed.port,
        path,
    })
}

/// Sends one request and returns the status code.
async fn request(method: &str, url: &str) -> Result<u16, String> {
    let shown = mask_url(url);
    let p = parse(url).map_err(|e| format!("{shown}: {e}"))?;
    let mut stream = TcpStream::connect((p.host.as_str(), p.port))
        .await
        .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
    let host_header = if p.host.contains(':') {
        format!("[{}]:{}", p.host, p.port)
    } else {
        format!("{}:{}", p.host, p.port)
    };
    let head = format!(
        "{method} {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: mastop\r\nAccept: */*\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        p.path
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("{shown}: cannot send: {e}"))?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader
        .read_line(&mut status_line)
        .await
        .map_err(|e| format!("{shown}: no answer: {e}"))?;
    status_code(&status_line).ok_or_else(|| {
        format!(
            "{shown}: not an HTTP answer: {}",
            crate::sanitize::sanitize_truncated(status_line.trim(), 60)
        )
    })
}

fn status_code(line: &str) -> Option<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

impl Executor for HttpExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(Check::Http { url, status }) = &action.precondition else {
                return Ok("nothing to re-check".into());
            };
            let got = request("GET", url).await?;
            if got == *status {
                Ok(format!("{} answered {got}", mask_url(url)))
            } else {
                Err(format!(
                    "{} answered {got}, expected {status}",
                    mask_url(url)
                ))
            }
        })
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let mut results = Vec::new();
            for op in &action.operations {
                let Operation::Http { method, url } = op else {
                    return Err(format!("an HTTP executor cannot run `{}`", op.display()));
                };
                let status = request(method, url).await?;
                if !(200..300).contains(&status) {
                    return Err(format!("{method} {} answered {status}", mask_url(url)));
                }
                results.push(format!("{method} {} answered {status}", mask_url(url)));
            }
            Ok(results.join("; "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_what_a_request_needs() {
        assert_eq!(
            parse("http://web-1:3000/health"),
            Ok(Parsed {
                host: "web-1".into(),
                port: 3000,
                path: "/health".into()
            })
        );
        assert_eq!(
            parse("http://[::1]:8080?x=1#f").map(|p| (p.host, p.port, p.path)),
            Ok(("::1".into(), 8080, "/?x=1".into()))
        );
        assert_eq!(parse("http://h").map(|p| p.port), Ok(80));
        assert!(parse("https://h/").is_err());
        assert!(parse("http://u:p@h/").is_err());
        assert!(parse("http://h/\r\nX-Evil: 1").is_err());
        assert!(parse("http://h:99999/").is_err());
        assert_eq!(
            status_code("HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code("SSH-2.0-OpenSSH\r\n"), None);
    }
}
