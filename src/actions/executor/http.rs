//! HTTP requests for runbook steps and health gates: the status is what counts (Mastodon's
//! `/health` says `OK` or `{"status":"UP"}` depending on the version), and the body is read
//! only up to a small cap.
//!
//! `http://` or `https://`; an https server's certificate is verified against
//! `[runbooks] tls_ca` when set, else the system trust store. Requests go unauthenticated:
//! credentials in a runbook's URL are refused rather than sent.

use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::{Method, Url};

use super::Executor;
use crate::actions::action::{Action, Check, Operation};
use crate::actions::role::WriteCapability;
use crate::config::mask_url;
use crate::net::http::{Client, ClientSpec};

/// A request that has not finished by then has failed; a gate asks again on its own
/// interval, and a step must not hang a runbook.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);
/// Health pages are a few bytes; the rest of an answer is not needed.
const MAX_BODY: usize = 64 * 1024;

pub struct HttpExecutor {
    /// A client that could not be built (an unreadable `tls_ca`) fails each request with
    /// the reason, rather than stopping the console.
    client: Result<Client, String>,
    _write: WriteCapability,
}

impl HttpExecutor {
    pub fn new(write: &WriteCapability, tls_ca: Option<&Path>) -> Self {
        Self {
            client: Client::new(&ClientSpec {
                tls_ca: tls_ca.map(Path::to_path_buf),
                ..ClientSpec::default()
            })
            .map_err(|e| format!("runbook HTTP requests: {e}")),
            _write: write.clone(),
        }
    }

    /// Sends one request and returns the status code.
    async fn request(&self, method: &str, url: &str) -> Result<u16, String> {
        let shown = mask_url(url);
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
        let url = parse(url).map_err(|e| format!("{shown}: {e}"))?;
        let by = tokio::time::Instant::now() + REQUEST_DEADLINE;
        let answer = client
            .fetch(client.request(method, url), by, MAX_BODY)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
        Ok(answer.status)
    }
}

fn parse(url: &str) -> Result<Url, String> {
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the URL holds spaces or control characters".into());
    }
    let parsed = Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("the URL must start with http:// or https://".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials in the URL are not sent; runbook requests go unauthenticated".into(),
        );
    }
    Ok(parsed)
}

impl Executor for HttpExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(Check::Http { url, status }) = &action.precondition else {
                return Ok("nothing to re-check".into());
            };
            let got = self.request("GET", url).await?;
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
                let status = self.request(method, url).await?;
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
    fn urls_are_checked_before_anything_is_sent() {
        let url = parse("http://[::1]:8080?x=1#f").expect("parses");
        assert_eq!(
            (url.host_str(), url.port(), url.path(), url.query()),
            (Some("[::1]"), Some(8080), "/", Some("x=1"))
        );
        assert!(parse("https://web-1:3000/health").is_ok());
        assert!(parse("ftp://h/").is_err());
        assert!(parse("http://u:p@h/").is_err());
        assert!(parse("http://u@h/").is_err());
        assert!(parse("http://h/\r\nX-Evil: 1").is_err());
        assert!(parse("http://h:99999/").is_err());
    }
}
