//! A plain HTTP/1.0 GET, enough for node_exporter's `/metrics`: one request per
//! connection, no redirects, no TLS, the body bounded in size.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A metrics page larger than this is not node_exporter (or is badly misconfigured).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    /// `http://host[:port][/path]`; the path is `/metrics` when none is written.
    pub fn parse(url: &str) -> Result<Url, String> {
        let shown = crate::config::mask_url(url);
        let parsed =
            crate::config::urls::http(url).map_err(|p| format!("`{shown}`: {}", p.message))?;
        if parsed.tls {
            return Err(format!(
                "`{shown}` is not an http:// URL (node_exporter is read over plain HTTP)"
            ));
        }
        if parsed.user.is_some() || parsed.has_password {
            return Err(format!(
                "`{shown}`: credentials in the URL are not supported"
            ));
        }
        let mut path = parsed.path.unwrap_or_else(|| "/metrics".to_string());
        if let Some(query) = parsed.query {
            path.push('?');
            path.push_str(&query);
        }
        Ok(Url {
            host: parsed.host,
            port: parsed.port,
            path,
        })
    }
}

/// GETs `url` and returns the body of a 200 answer.
pub async fn get(url: &Url) -> Result<String, String> {
    let shown = format!("http://{}:{}{}", url.host, url.port, url.path);
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: mastop\r\nAccept: text/plain\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        url.path, url.host
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut raw = Vec::new();
    let mut limited = (&mut stream).take((MAX_BODY + 64 * 1024) as u64);
    limited
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("{shown}: {e}"))?;
    let header_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{shown}: the answer is not HTTP"))?;
    let head = String::from_utf8_lossy(&raw[..header_end]);
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if !status_line.starts_with("HTTP/") {
        return Err(format!("{shown}: the answer is not HTTP"));
    }
    if status != "200" {
        let shown_status = crate::sanitize::sanitize_truncated(status_line, 80);
        return Err(format!("{shown}: answered `{shown_status}`"));
    }
    let body = &raw[header_end + 4..];
    if body.len() > MAX_BODY {
        return Err(format!(
            "{shown}: the page is larger than {} MiB",
            MAX_BODY / 1024 / 1024
        ));
    }
    String::from_utf8(body.to_vec()).map_err(|_| format!("{shown}: the page is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_why_not() {
        assert_eq!(
            Url::parse("http://10.0.0.5:9100/metrics"),
            Ok(Url {
                host: "10.0.0.5".into(),
                port: 9100,
                path: "/metrics".into()
            })
        );
        assert_eq!(
            Url::parse("http://node").map(|u| (u.port, u.path)),
            Ok((80, "/metrics".into()))
        );
        assert_eq!(
            Url::parse("http://[::1]:9100/m").map(|u| u.host),
            Ok("::1".into())
        );
        assert!(Url::parse("https://x:9100/metrics").is_err());
        assert!(Url::parse("http://x:port/metrics").is_err());
        assert!(Url::parse("http://u:p@x:9100/").is_err());
        assert!(Url::parse("http://x:9100/a b").is_err());
        assert!(Url::parse("http://:9100/").is_err());
    }
}
