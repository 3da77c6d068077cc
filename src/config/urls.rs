//! How mastop reads a URL: one parser (the `url` crate) for every URL in the config, with
//! the connection's own parser on top where it has one (tokio-postgres for Postgres and
//! PgBouncer, the redis crate for Redis), and one way to show a URL without its secrets.
//!
//! Hand-split URLs disagree with the drivers: `redis://:pa/ss@host:6379/0` has no password
//! for a parser that ends the authority at the first `/`, and a password for one that looks
//! for the first `@`. So nothing here splits URL text by hand, and a URL two parsers read
//! differently is refused rather than guessed at.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::percent_decode_str;
use url::Url;

/// Longest URL shown in a message; the rest is cut with `…`.
const SHOWN_MAX: usize = 200;

/// What is wrong with a URL and how to fix it. Neither ever quotes the URL's userinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlProblem {
    pub message: String,
    pub hint: String,
}

impl UrlProblem {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        UrlProblem {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl std::fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.hint)
    }
}

/// Parses `text` as mastop reads every URL. The error never quotes the text.
pub fn parse(text: &str) -> Result<Url, UrlProblem> {
    // The URL standard silently drops tabs and newlines and trims spaces; a URL that holds
    // any was not meant as written.
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(UrlProblem::new(
            "the URL holds spaces or control characters",
            "percent-encode them (a space is %20), or remove them",
        ));
    }
    Url::parse(text).map_err(|e| {
        let hint = match e {
            url::ParseError::InvalidPort => "a port is a number from 1 to 65535",
            url::ParseError::RelativeUrlWithoutBase => {
                "start with the scheme, e.g. postgres://, redis:// or http://"
            }
            url::ParseError::EmptyHost => {
                "name the host after `//`; a password never goes in the URL, give it as `password`"
            }
            _ => {
                "write it as scheme://user@host:port/path; percent-encode `@`, `/`, `:`, `?` and `#` inside a user name (e.g. %40 for `@`)"
            }
        };
        UrlProblem::new(format!("this is not a valid URL ({e})"), hint)
    })
}

/// A URL fit for the screen, logs, JSON and the audit: the password and secret-looking query
/// values replaced by `***`, control characters removed, the length capped. A URL that
/// cannot be parsed shows only its scheme, because where its userinfo ends is unknown.
pub fn mask_url(text: &str) -> String {
    let shown = match parse(text) {
        Ok(url) => masked(&url),
        Err(_) => scheme_only(text),
    };
    crate::sanitize::sanitize_truncated(&shown, SHOWN_MAX)
}

fn masked(url: &Url) -> String {
    let mut out = format!("{}:", url.scheme());
    if url.has_authority() {
        out.push_str("//");
        if !url.username().is_empty() || url.password().is_some() {
            out.push_str(url.username());
            if url.password().is_some() {
                out.push_str(":***");
            }
            out.push('@');
        }
        out.push_str(url.host_str().unwrap_or(""));
        if let Some(port) = url.port() {
            let _ = write!(out, ":{port}");
        }
    }
    // An `@` after the authority is where another parser (tokio-postgres looks for the
    // first `@` anywhere) would see userinfo, so nothing after the host is shown then.
    let tail = [Some(url.path()), url.query(), url.fragment()];
    if tail.iter().flatten().any(|part| part.contains('@')) {
        if url.has_authority() {
            return format!("{}:…", url.scheme());
        }
        out.push('…');
        return out;
    }
    out.push_str(url.path());
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(&masked_query(query));
    }
    if let Some(fragment) = url.fragment() {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `a=1&password=x` → `a=1&password=***`.
fn masked_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_key(key) => Cow::Owned(format!("{key}=***")),
            _ => Cow::Borrowed(pair),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Query keys whose value may be a credential: `password` (libpq), `pass` (redis+unix),
/// tokens, keys and signatures of object-storage links.
fn is_secret_key(key: &str) -> bool {
    let key = percent_decode_str(key)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    ["pass", "secret", "token", "key", "auth", "sig", "cred"]
        .iter()
        .any(|word| key.contains(word))
}

fn scheme_only(text: &str) -> String {
    match text.split_once(':') {
        Some((scheme, _)) if is_scheme(scheme) => format!("{scheme}:…"),
        _ => "…".to_string(),
    }
}

fn is_scheme(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// Whether the URL carries a password anywhere a driver would read one: the userinfo (as the
/// `url` crate and as tokio-postgres read it) or a `password`/`pass` query parameter.
pub fn carries_password(text: &str) -> bool {
    let by_url = parse(text).is_ok_and(|url| {
        url.password().is_some()
            || url
                .query_pairs()
                .any(|(k, _)| matches!(k.to_ascii_lowercase().as_str(), "password" | "pass"))
    });
    let by_postgres = text
        .parse::<tokio_postgres::Config>()
        .is_ok_and(|c| c.get_password().is_some());
    by_url || by_postgres
}

/// A driver's error message made fit to show: any part of `url` that a parser could take
/// for userinfo is cut out, control characters are removed and the length is capped.
pub fn scrub(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    for secret in userinfo_candidates(url) {
        if secret.len() >= 2 {
            out = out.replace(&secret, "***");
        }
    }
    crate::sanitize::sanitize_truncated(&out, SHOWN_MAX)
}

/// Every stretch of `url` that some parser could read as userinfo: from after `://` to each
/// `@`, and the part of each after its first `:`; raw and percent-decoded.
fn userinfo_candidates(url: &str) -> Vec<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let mut out = Vec::new();
    for (at, _) in rest.match_indices('@') {
        let creds = &rest[..at];
        let mut pieces = vec![creds];
        if let Some((_, password)) = creds.split_once(':') {
            pieces.push(password);
        }
        for piece in pieces {
            out.push(piece.to_string());
            out.push(percent_decode_str(piece).decode_utf8_lossy().into_owned());
        }
    }
    // Longest first, so a shorter piece never leaves the tail of a longer one behind.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// An error and its causes, `outer: inner: innermost` (tokio-postgres keeps the useful part
/// in the cause).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// A Postgres or PgBouncer URL as the connection reads it.
pub struct PostgresUrl {
    pub config: tokio_postgres::Config,
    pub user: String,
    pub database: String,
    /// `host:port` (or the socket path), for messages.
    pub addr: String,
}

const POSTGRES_EXAMPLE: &str = "write it as postgres://user@host:5432/database";

/// Reads a Postgres URL with both the `url` crate and tokio-postgres (which connects with
/// it), and refuses it unless both read the same user, host, port and database.
pub fn postgres(text: &str) -> Result<PostgresUrl, UrlProblem> {
    use tokio_postgres::config::Host;
    let url = parse(text)?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(UrlProblem::new(
            "this is not a postgres URL",
            "it must start with postgres:// or postgresql://",
        ));
    }
    let config: tokio_postgres::Config = text.parse().map_err(|e: tokio_postgres::Error| {
        let said = scrub(&with_causes(&e), text);
        let hint = if said.contains("`sslmode`") {
            "sslmode takes disable, prefer or require; require already verifies the certificate and host name (libpq's verify-ca and verify-full are not accepted)".to_string()
        } else if said.contains("`port`") {
            "a port is a number from 1 to 65535".to_string()
        } else if said.contains("unknown option") {
            "remove the parameter; see libpq's connection parameters for the names tokio-postgres knows".to_string()
        } else {
            POSTGRES_EXAMPLE.to_string()
        };
        UrlProblem::new(format!("the PostgreSQL driver refuses this URL: {said}"), hint)
    })?;
    let disagree = |what: &str| {
        UrlProblem::new(
            format!(
                "the {what} in this URL reads differently to mastop and to the PostgreSQL driver"
            ),
            "percent-encode `@`, `/`, `:`, `?` and `#` inside the user name and database name (e.g. %40 for `@`)",
        )
    };
    let hosts = config.get_hosts();
    if hosts.len() > 1 {
        return Err(UrlProblem::new(
            "this URL names several hosts",
            "give each node its own entry with one host, so each is watched on its own",
        ));
    }
    let Some(host) = hosts.first() else {
        return Err(UrlProblem::new("this URL names no host", POSTGRES_EXAMPLE));
    };
    let url_host = url
        .host_str()
        .map(|h| percent_decode_str(h).decode_utf8_lossy().into_owned())
        .unwrap_or_default();
    if !url_host.is_empty() {
        let same = match host {
            Host::Tcp(name) => name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .eq_ignore_ascii_case(url_host.trim_start_matches('[').trim_end_matches(']')),
            Host::Unix(dir) => dir.as_os_str() == std::ffi::OsStr::new(&url_host),
        };
        if !same {
            return Err(disagree("host"));
        }
    }
    let ports = config.get_ports();
    if let Some(port) = url.port()
        && ports.first() != Some(&port)
    {
        return Err(disagree("port"));
    }
    if !url.username().is_empty()
        && config.get_user() != Some(&*percent_decode_str(url.username()).decode_utf8_lossy())
    {
        return Err(disagree("user"));
    }
    let url_database = percent_decode_str(url.path().trim_start_matches('/')).decode_utf8_lossy();
    if !url_database.is_empty() && config.get_dbname() != Some(&*url_database) {
        return Err(disagree("database"));
    }
    let Some(user) = config
        .get_user()
        .filter(|u| !u.is_empty())
        .map(str::to_string)
    else {
        return Err(UrlProblem::new("this URL names no user", POSTGRES_EXAMPLE));
    };
    let database = config.get_dbname().unwrap_or(&user).to_string();
    let port = ports.first().copied().unwrap_or(5432);
    let addr = match host {
        Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
        Host::Tcp(name) => format!("{name}:{port}"),
        Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
    };
    Ok(PostgresUrl {
        config,
        user,
        database,
        addr: crate::sanitize::sanitize_truncated(&addr, SHOWN_MAX),
    })
}

/// Reads a Redis URL with the redis crate's parser, which connects with it.
pub fn redis(text: &str) -> Result<redis::ConnectionInfo, UrlProblem> {
    use redis::IntoConnectionInfo;
    let url = parse(text)?;
    if matches!(url.scheme(), "rediss" | "valkeys") {
        return Err(UrlProblem::new(
            "TLS to Redis is not supported",
            "use redis:// over a private network (e.g. a tailnet) or a TLS tunnel",
        ));
    }
    text.into_connection_info().map_err(|e| {
        let said = e.detail().map_or_else(|| e.to_string(), str::to_string);
        if said.contains("did not parse") || said.contains("not a redis URL") {
            return UrlProblem::new(
                "this is not a Redis URL",
                "it must start with redis://, redis+unix:// or unix://",
            );
        }
        UrlProblem::new(
            format!("the Redis client refuses this URL: {}", scrub(&said, text)),
            "write it as redis://[user@]host:6379/0, the database a number",
        )
    })
}

/// An `http(s)://` URL: where to connect and what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub tls: bool,
    pub user: Option<String>,
    pub has_password: bool,
    /// `host:port` (IPv6 in brackets), the port filled in from the scheme when not given.
    pub authority: String,
    pub host: String,
    pub port: u16,
    /// The path as written, or `None` when the URL ends at the authority.
    pub path: Option<String>,
    pub query: Option<String>,
    pub fragment: Option<String>,
}

/// Reads an `http://` or `https://` URL.
pub fn http(text: &str) -> Result<HttpUrl, UrlProblem> {
    let url = parse(text)?;
    let tls = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => {
            return Err(UrlProblem::new(
                "this is not an http(s) URL",
                "it must start with http:// or https://",
            ));
        }
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => {
            return Err(UrlProblem::new(
                "this URL names no host",
                "write it as http://host:port/path",
            ));
        }
    };
    let port = url
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let authority = match url.host() {
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    // The `url` crate gives `/` for `http://host` too; whether a path was written matters
    // to node_exporter URLs, whose default path is /metrics.
    let after_scheme = text.split_once("://").map_or("", |(_, rest)| rest);
    let written_path = after_scheme.contains('/');
    Ok(HttpUrl {
        tls,
        user: (!url.username().is_empty()).then(|| {
            percent_decode_str(url.username())
                .decode_utf8_lossy()
                .into_owned()
        }),
        has_password: url.password().is_some(),
        authority,
        host,
        port,
        path: written_path.then(|| url.path().to_string()),
        query: url.query().map(str::to_string),
        fragment: url.fragment().map(str::to_string),
    })
}

/// `host[:port]` of a URL for naming a component, or `?` when it cannot be parsed.
pub fn authority(text: &str) -> String {
    match parse(text) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            let shown = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
            crate::sanitize::sanitize_truncated(&shown, SHOWN_MAX)
        }
        Err(_) => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_and_keeps_the_rest() {
        assert_eq!(
            mask_url("postgres://mon:pw@db:5432/x"),
            "postgres://mon:***@db:5432/x"
        );
        assert_eq!(mask_url("redis://:pw@r:6379/0"), "redis://:***@r:6379/0");
        assert_eq!(mask_url("postgres://mon@db/x"), "postgres://mon@db/x");
        assert_eq!(
            mask_url("unix:///run/redis.sock?db=1&pass=s3cret"),
            "unix:///run/redis.sock?db=1&pass=***"
        );
        assert_eq!(
            mask_url("postgres://mon@db/x?password=s3cret&sslmode=require"),
            "postgres://mon@db/x?password=***&sslmode=require"
        );
        assert_eq!(mask_url("not a url"), "…");
    }

    /// The defect: the authority was cut at the first `/`, so this passed as password-free
    /// and was printed whole.
    #[test]
    fn a_slash_in_the_password_is_never_shown() {
        let shown = mask_url("redis://:pa/ss@host:6379/0");
        assert!(!shown.contains("pa") && !shown.contains("ss"), "{shown}");
        assert!(carries_password("redis://:pa%2Fss@host:6379/0"));
        assert!(parse("redis://:pa/ss@host:6379/0").is_err());
        for url in [
            "redis://x:1234/ss@host/0",
            "postgres://u:12?ss=x@h/db",
            "postgres://u:12#ss@h/db",
        ] {
            let shown = mask_url(url);
            assert!(!shown.contains("1234") && !shown.contains("ss"), "{shown}");
        }
    }

    #[test]
    fn postgres_urls_are_read_as_the_driver_reads_them() {
        let ok = postgres("postgres://mon@db.internal:5433/mastodon").expect("valid");
        assert_eq!(
            (ok.user.as_str(), ok.database.as_str(), ok.addr.as_str()),
            ("mon", "mastodon", "db.internal:5433")
        );
        let socket = postgres("postgres://mon@%2Frun%2Fpostgresql/x").expect("socket");
        assert_eq!(socket.addr, "/run/postgresql/.s.PGSQL.5432");
        let by_param = postgres("postgres:///x?host=/run/postgresql&user=mon").expect("socket");
        assert_eq!(by_param.addr, "/run/postgresql/.s.PGSQL.5432");
        for (url, expected) in [
            ("postgres://u@h:99999/db", "not a valid URL"),
            ("postgres://u@h/db?sslmode=verify-full", "refuses"),
            ("postgres://u@h/db?nonsense=1", "unknown option"),
            ("postgres://h/db?application_name=a@b", "reads differently"),
            ("postgres://u@h1,h2/db", "several hosts"),
            ("postgres://h/db", "no user"),
            ("mysql://u@h/db", "not a postgres URL"),
        ] {
            let problem = postgres(url)
                .err()
                .unwrap_or_else(|| panic!("{url} accepted"));
            assert!(problem.message.contains(expected), "{url}: {problem}");
        }
        let sslmode = postgres("postgres://u@h/db?sslmode=verify-full").err();
        assert!(
            sslmode.is_some_and(|p| p.hint.contains("require already verifies")),
            "sslmode hint"
        );
    }

    #[test]
    fn redis_urls_are_read_by_the_redis_client() {
        let info = redis("redis://cache.internal:6380/1").expect("valid");
        assert_eq!(info.addr().to_string(), "cache.internal:6380");
        for (url, expected) in [
            ("redis://h:abc/0", "not a valid URL"),
            ("redis://h/abc", "refuses"),
            ("rediss://h/0", "TLS"),
            ("http://h/0", "not a Redis URL"),
        ] {
            let problem = redis(url).err().unwrap_or_else(|| panic!("{url} accepted"));
            assert!(problem.message.contains(expected), "{url}: {problem}");
        }
    }

    #[test]
    fn http_urls_keep_what_was_written() {
        let u = http("http://elastic@es-1:9200").expect("valid");
        assert_eq!(
            (u.user.as_deref(), u.authority.as_str(), u.path.as_deref()),
            (Some("elastic"), "es-1:9200", None)
        );
        let u = http("https://[2001:db8::1]/metrics").expect("valid");
        assert_eq!((u.authority.as_str(), u.tls), ("[2001:db8::1]:443", true));
        assert!(http("ftp://h/").is_err());
        assert!(http("http://es:9200/a b").is_err());
    }

    #[test]
    fn scrub_cuts_any_reading_of_the_userinfo() {
        let said = scrub(
            "invalid connection string: unknown option `pa/ss`",
            "postgres://u:pa/ss@h/db",
        );
        assert!(!said.contains("pa/ss"), "{said}");
        let said = scrub("bad \u{1b}]0;title\u{7} thing", "redis://h/0");
        assert_eq!(said, "bad  thing");
    }
}
