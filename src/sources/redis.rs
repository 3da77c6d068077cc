//! Redis, one instance: memory against its limit, clients, throughput, hit ratio, keys,
//! persistence health and replication, all from a single `INFO` per poll.
//!
//! `INFO` is O(1) for the server and answers everything the basic view needs, so a poll
//! costs Redis exactly one command. The text is parsed by [`parse_info`], a pure function,
//! so every field and every malformed line is unit-tested without a server.

mod info;
mod reading;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError};
use secrecy::{ExposeSecret, SecretString};

use self::info::apply_interval_ratio;
pub use self::info::parse_info;
pub use self::reading::{KeyspaceDb, Persistence, RedisReading, ReplicaLink, Replication};
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{Defaults, EndpointConfig, SecretRef, mask_url};
use crate::model::{ComponentId, ComponentMeta, FigureSpec};

pub const KIND: &str = "redis";

pub const FIGURES: &[FigureSpec] = &[
    FigureSpec::up("memory_used_pct"),
    FigureSpec::up("used_memory_bytes"),
    FigureSpec::up("connected_clients"),
    FigureSpec::up("blocked_clients"),
    FigureSpec::up("ops_per_sec"),
    FigureSpec::down("hit_ratio_pct"),
    FigureSpec::up("evicted_keys"),
    FigureSpec::up("fragmentation_ratio"),
    FigureSpec::up("master_last_io_s"),
    FigureSpec::up("replica_lag_s"),
];

#[derive(Clone)]
struct Target {
    info: ConnectionInfo,
    /// `host:port` (or the socket path) for messages.
    addr: String,
}

pub struct RedisSource {
    target: Result<Target, String>,
    password: Option<SecretRef>,
    resolved_password: Option<SecretString>,
    deadline: Duration,
    connection: Option<MultiplexedConnection>,
    previous_hits: Option<(u64, u64)>,
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    let schedule = config.schedule(defaults);
    SourceSpec {
        meta: ComponentMeta {
            id: ComponentId::new(KIND, &config.name),
            kind: KIND,
            region: config.region.clone(),
            tags: config.tags.clone(),
        },
        schedule,
        enabled: config.enabled,
        source: Box::new(RedisSource::new(config, schedule)),
    }
}

impl RedisSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        RedisSource {
            target: parse_target(&config.url),
            password: config.password.clone(),
            resolved_password: None,
            deadline: schedule.deadline,
            connection: None,
            previous_hits: None,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let target = self.target.clone().map_err(PollError::Failed)?;
        let reused = self.connection.is_some();
        // Taken out for the duration of the poll: if the scheduler drops this future at the
        // deadline, the connection goes with it (its task ends) and the next poll reconnects
        // instead of queueing behind an answer that may never come.
        let mut connection = match self.connection.take() {
            Some(c) => c,
            None => self.connect(&target).await?,
        };
        let mut result = info(&mut connection).await;
        if reused && matches!(&result, Err(e) if connection_lost(e)) {
            // Dropped since the last poll (server restart, idle timeout): one fresh try.
            drop(connection);
            connection = self.connect(&target).await?;
            result = info(&mut connection).await;
        }
        let text = result.map_err(|e| self.describe(&target, "INFO", &e))?;
        self.connection = Some(connection);
        let mut reading = parse_info(&text).map_err(|e| {
            PollError::Failed(format!(
                "redis at {}: INFO answered something else ({e}) — is this a Redis server, not a proxy?",
                target.addr
            ))
        })?;
        apply_interval_ratio(&mut reading, self.previous_hits);
        self.previous_hits = Some((reading.keyspace_hits, reading.keyspace_misses));
        Ok(Arc::new(reading))
    }

    async fn connect(&mut self, target: &Target) -> Result<MultiplexedConnection, PollError> {
        let mut info = target.info.clone();
        if let Some(secret) = &self.password {
            if self.resolved_password.is_none() {
                let password = secret.resolve().await.map_err(|e| {
                    PollError::Failed(format!(
                        "redis at {}: cannot get the password from {secret}: {e}",
                        target.addr
                    ))
                })?;
                self.resolved_password = Some(password);
            }
            if let Some(password) = &self.resolved_password {
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_password(password.expose_secret());
                info = info.set_redis_settings(settings);
            }
        }
        let client = redis::Client::open(info).map_err(|e| self.describe(target, "connect", &e))?;
        // The client's own timeouts default to 500 ms for answers, which would cut off a slow
        // but in-time INFO. They are set past the deadline: the scheduler's deadline decides,
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
                    self.resolved_password = None;
                }
                self.describe(target, "connect", &e)
            })
    }

    /// Which backend, what was tried, what to check. Refusals of credentials or ACL
    /// permission are `Denied`; everything else is `Failed`.
    fn describe(&self, target: &Target, step: &str, e: &RedisError) -> PollError {
        let addr = &target.addr;
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
                "redis at {addr}: the ACL user may not run {step} — grant it `+info` (e.g. ACL SETUSER … +info)"
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

impl Source for RedisSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

/// The one command a poll sends.
async fn info(connection: &mut MultiplexedConnection) -> Result<String, RedisError> {
    redis::cmd("INFO").query_async::<String>(connection).await
}

fn connection_lost(e: &RedisError) -> bool {
    e.is_connection_dropped() || e.is_io_error()
}

fn parse_target(url: &str) -> Result<Target, String> {
    let masked = mask_url(url);
    let info = url.into_connection_info().map_err(|e| {
        format!(
            "redis url {masked} is not valid ({}): use redis://host:6379/0",
            e.detail().unwrap_or("unparsable")
        )
    })?;
    let info = {
        let settings = info
            .redis_settings()
            .clone()
            .set_lib_name("mastop", env!("CARGO_PKG_VERSION"));
        info.set_redis_settings(settings)
    };
    Ok(Target {
        addr: info.addr().to_string(),
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
}
