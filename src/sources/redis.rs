//! Redis, one instance: memory against its limit, clients, throughput, hit ratio, keys,
//! persistence health and replication, all from a single `INFO` per poll.
//!
//! `INFO` is O(1) for the server and answers everything the basic view needs, so a poll
//! costs Redis exactly one command. The text is parsed by [`parse_info`], a pure function,
//! so every field and every malformed line is unit-tested without a server.

mod connect;
mod extras;
mod info;
pub mod known;
mod reading;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};

pub(crate) use self::connect::{Connector, connection_lost};
pub use self::extras::{LatencyEvent, RedisExtras, SLOWLOG_ENTRIES, SlowlogEntry};
use self::info::apply_interval_ratio;
pub use self::info::parse_info;
pub use self::reading::{KeyspaceDb, Persistence, RedisReading, ReplicaLink, Replication};
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{Defaults, EndpointConfig};

pub use crate::model::kinds::redis::{FIGURES, KIND};

/// How often the slow log and latency monitor are read. They change slowly and are
/// looked at rarely, so the fast poll stays one `INFO`.
pub const EXTRAS_INTERVAL: Duration = Duration::from_secs(30);

pub struct RedisSource {
    connector: Connector,
    connection: Option<MultiplexedConnection>,
    previous_hits: Option<(u64, u64)>,
    extras_interval: Duration,
    extras: Option<RedisExtras>,
    extras_read_at: Option<Instant>,
    known: known::KnownPeers,
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    spec_knowing(config, defaults, known::KnownPeers::default())
}

/// [`spec`] for an endpoint whose neighbours the configuration names.
pub fn spec_knowing(
    config: &EndpointConfig,
    defaults: &Defaults,
    known: known::KnownPeers,
) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        let mut source = RedisSource::new(config, schedule);
        source.set_known(known.clone());
        Box::new(source)
    })
}

impl RedisSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        RedisSource {
            connector: Connector::new(
                &config.url,
                config.password.clone(),
                schedule.deadline,
                "+info",
            ),
            connection: None,
            previous_hits: None,
            extras_interval: EXTRAS_INTERVAL,
            extras: None,
            extras_read_at: None,
            known: known::KnownPeers::default(),
        }
    }

    /// The configured neighbours a reading is judged against (masters, Sidekiq).
    pub fn set_known(&mut self, known: known::KnownPeers) {
        self.known = known;
    }

    /// Changes how often the slow log and latency monitor are read (tests read them on
    /// every poll to count their commands).
    pub fn set_extras_interval(&mut self, interval: Duration) {
        self.extras_interval = interval;
    }

    async fn poll_once(&mut self) -> PollResult {
        let addr = self.connector.addr()?.to_string();
        let reused = self.connection.is_some();
        // Taken out for the duration of the poll: if the scheduler drops this future at the
        // deadline, the connection goes with it (its task ends) and the next poll reconnects
        // instead of queueing behind an answer that may never come.
        let mut connection = match self.connection.take() {
            Some(c) => c,
            None => self.connector.connect().await?,
        };
        let mut result = info(&mut connection).await;
        if reused && matches!(&result, Err(e) if connection_lost(e)) {
            // Dropped since the last poll (server restart, idle timeout): one fresh try.
            drop(connection);
            connection = self.connector.connect().await?;
            result = info(&mut connection).await;
        }
        let text = result.map_err(|e| self.connector.describe("INFO", &e))?;
        let mut reading = parse_info(&text).map_err(|e| {
            PollError::Failed(format!(
                "redis at {addr}: INFO answered something else ({e}) — is this a Redis server, not a proxy?"
            ))
        })?;
        let due = self
            .extras_read_at
            .is_none_or(|at| at.elapsed() >= self.extras_interval);
        if due {
            match read_extras(&mut connection).await {
                Ok(extras) => {
                    self.extras = Some(extras);
                    self.extras_read_at = Some(Instant::now());
                }
                Err(e) => return Err(self.connector.describe("SLOWLOG GET", &e)),
            }
        }
        self.connection = Some(connection);
        apply_interval_ratio(&mut reading, self.previous_hits);
        self.previous_hits = Some((reading.keyspace_hits, reading.keyspace_misses));
        reading.extras = self.extras.clone();
        reading.known = self.known.clone();
        Ok(Arc::new(reading))
    }
}

impl Source for RedisSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

/// The one command a fast poll sends.
async fn info(connection: &mut MultiplexedConnection) -> Result<String, RedisError> {
    redis::cmd("INFO").query_async::<String>(connection).await
}

/// Why an extra is missing, in words an operator can act on.
fn unavailable(what: &str, command: &str, grant: &str, e: &redis::ServerError) -> String {
    if e.code() == "NOPERM" {
        format!(
            "{what} unavailable: the ACL user may not run {command} — grant it `{grant}` to see it"
        )
    } else {
        format!("{what} unavailable: {command} answered {e}")
    }
}

/// `SLOWLOG GET n` and `LATENCY LATEST` in one round trip. A refusal of either (an ACL
/// without `+slowlog`, a managed Redis that renames them) is kept as a note and the rest of
/// the reading goes on; only a lost connection fails the poll.
async fn read_extras(connection: &mut MultiplexedConnection) -> Result<RedisExtras, RedisError> {
    let answers: Vec<Value> = redis::pipe()
        .cmd("SLOWLOG")
        .arg("GET")
        .arg(SLOWLOG_ENTRIES)
        .cmd("LATENCY")
        .arg("LATEST")
        .ignore_errors()
        .query_async(connection)
        .await?;
    let mut extras = RedisExtras::default();
    match answers.first() {
        Some(Value::ServerError(e)) => {
            extras
                .notes
                .push(unavailable("slow log", "SLOWLOG GET", "+slowlog", e))
        }
        Some(v) => extras.slowlog = Some(extras::parse_slowlog(v)),
        None => {}
    }
    match answers.get(1) {
        Some(Value::ServerError(e)) => extras.notes.push(unavailable(
            "latency monitor",
            "LATENCY LATEST",
            "+latency",
            e,
        )),
        Some(v) => extras.latency = Some(extras::parse_latency(v)),
        None => {}
    }
    Ok(extras)
}
