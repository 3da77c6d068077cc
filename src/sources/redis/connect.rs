//! Connecting to one Redis endpoint and turning its errors into messages for people.
//! Shared by every source that reads a Redis (the instance view and Sidekiq), so a
//! password reference, a refused connection or a missing ACL grant reads the same way.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionInfo, ErrorKind, RedisError};
use secrecy::ExposeSecret;

use crate::config::{CachedSecret, SecretRef, mask_url};
use crate::sources::PollError;

#[derive(Clone)]
struct Target {
    info: ConnectionInfo,
    /// `host:port` (or the socket path) for messages.
    addr: String,
}

pub(crate) struct Connector {
    target: Result<Target, String>,
    password: CachedSecret,
    deadline: Duration,
    /// What the ACL user needs, for the NOPERM message (`+info`, `+@read`…).
    grant: &'static str,
}

impl Connector {
    pub(crate) fn new(
        url: &str,
        password: Option<SecretRef>,
        deadline: Duration,
        grant: &'static str,
    ) -> Self {
        Connector {
            target: parse_target(url),
            password: CachedSecret::new(password),
            deadline,
            grant,
        }
    }

    /// The endpoint for messages, or why the URL is unusable.
    pub(crate) fn addr(&self) -> Result<&str, PollError> {
        match &self.target {
            Ok(t) => Ok(&t.addr),
            Err(e) => Err(PollError::Failed(e.clone())),
        }
    }

    pub(crate) async fn connect(&mut self) -> Result<MultiplexedConnection, PollError> {
        let target = self.target.clone().map_err(PollError::Failed)?;
        let mut info = target.info.clone();
        let backend = format!("redis at {}", target.addr);
        if let Some(password) = self
            .password
            .get(&backend)
            .await
            .map_err(PollError::Failed)?
        {
            let settings = info
                .redis_settings()
                .clone()
                .set_password(password.expose_secret());
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(|e| self.describe("connect", &e))?;
        // The client's own timeouts default to 500 ms for answers, which would cut off a slow
        // but in-time answer. They are set past the deadline: the scheduler's deadline decides,
        // and these only stop a connection from waiting for ever when used on its own.
        let backstop = self.deadline.saturating_mul(2);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(backstop))
            .set_response_timeout(Some(backstop));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| {
                if e.kind() == ErrorKind::AuthenticationFailed {
                    // Fetch it again next time: it may have been rotated.
                    self.password.forget();
                }
                self.describe("connect", &e)
            })
    }

    /// Which backend, what was tried, what to check. Refusals of credentials or ACL
    /// permission are `Denied`; everything else is `Failed`.
    pub(crate) fn describe(&self, step: &str, e: &RedisError) -> PollError {
        let addr = match &self.target {
            Ok(t) => t.addr.as_str(),
            Err(e) => return PollError::Failed(e.clone()),
        };
        let code = e.code().unwrap_or_default();
        if e.kind() == ErrorKind::AuthenticationFailed || code == "WRONGPASS" {
            return PollError::Denied(format!(
                "redis at {addr}: authentication failed — check the password reference (and the ACL user in the url)"
            ));
        }
        if code == "NOAUTH" {
            return PollError::Denied(format!(
                "redis at {addr}: the server requires a password and none was given — set `password` for this endpoint"
            ));
        }
        if code == "NOPERM" {
            return PollError::Denied(format!(
                "redis at {addr}: the ACL user may not run {step} — grant it `{}` (e.g. ACL SETUSER … {})",
                self.grant, self.grant
            ));
        }
        if code == "LOADING" {
            return PollError::Failed(format!(
                "redis at {addr}: still loading its dataset from disk — retrying"
            ));
        }
        let what = if step == "connect" {
            format!("connect to {addr}")
        } else {
            format!("redis at {addr}: {step}")
        };
        if e.is_connection_refusal() {
            return PollError::Failed(format!(
                "{what} failed: connection refused — is Redis running and listening there?"
            ));
        }
        if e.is_timeout() {
            return PollError::Failed(format!(
                "{what} failed: no answer within {} — is the server overloaded or the network dropping packets?",
                humantime::format_duration(self.deadline.saturating_mul(2))
            ));
        }
        if connection_lost(e) {
            return PollError::Failed(format!(
                "{what} failed: the connection was cut ({e}) — the server restarted or something in between dropped it; reconnecting on the next poll"
            ));
        }
        PollError::Failed(format!("{what} failed: {e}"))
    }
}

pub(crate) fn connection_lost(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_io_error()
}

fn parse_target(url: &str) -> Result<Target, String> {
    let info = crate::config::urls::redis(url)
        .map_err(|p| format!("redis url {}: {}: {}", mask_url(url), p.message, p.hint))?;
    let info = {
        let settings = info
            .redis_settings()
            .clone()
            .set_lib_name("mastop", env!("CARGO_PKG_VERSION"));
        info.set_redis_settings(settings)
    };
    Ok(Target {
        addr: crate::sanitize::sanitize_truncated(&info.addr().to_string(), 200),
        info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_shown_with_a_password() {
        let t = parse_target("redis://:hunter2@cache.internal:6380/1").expect("valid");
        assert_eq!(t.addr, "cache.internal:6380");
        let err = parse_target("redis://:hunter2@cache.internal:notaport/")
            .err()
            .expect("invalid port");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(parse_target("http://cache.internal/").is_err());
    }

    /// The password `pa/ss` written raw: a parser that ends the authority at the first `/`
    /// saw no password and printed the URL whole in this error.
    #[test]
    fn a_raw_slash_in_the_password_is_not_echoed() {
        let err = parse_target("redis://:pa/ss@host:6379/0")
            .err()
            .expect("unparsable");
        assert!(!err.contains("pa/ss") && !err.contains("ss@host"), "{err}");
    }
}
