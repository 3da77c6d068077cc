//! Logs from the instance's Loki: `GET /loki/api/v1/query_range` with the LogQL selector
//! the `[logs]` mapping makes for a unit on hosts, through the shared HTTP client (deadline,
//! answer cap, credentials), and `GET /loki/api/v1/tail`, the websocket that streams new
//! lines as Loki takes them in, opened with the same credentials.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::config::{EndpointConfig, LogsConfig};
use crate::logs::LogLine;
use crate::logs::loki::{SelectorMapping, TailBatch, parse_query_range, parse_tail};
use crate::logs::query::{UnitPattern, Window};
use crate::net::service::Service;
use crate::net::websocket::{OpenError, WebSocket};

/// The largest answer read: 5,000 lines of 16 KiB and their JSON.
pub const MAX_ANSWER: usize = 96 * 1024 * 1024;
/// How far back `tail` looks on Loki, which has no "last N whatever their age".
const TAIL_SPAN: Duration = Duration::from_secs(24 * 3600);
/// The largest `tail` message read: Loki sends what it has every few hundred milliseconds.
pub const MAX_TAIL_MESSAGE: usize = 16 * 1024 * 1024;

pub struct LokiReader {
    pub name: String,
    service: Service,
    mapping: SelectorMapping,
}

/// What one query gave.
#[derive(Debug, Default)]
pub struct LokiAnswer {
    pub lines: Vec<LogLine>,
    pub unreadable: usize,
    /// The newest line's time in nanoseconds.
    pub newest_ns: Option<i128>,
}

/// Why no `tail` websocket was opened.
#[derive(Debug, PartialEq, Eq)]
pub enum TailRefusal {
    /// Loki (or a proxy before it) answered the upgrade with plain HTTP: there is no tail
    /// to be had there, polling `query_range` is what is left.
    NoTail(String),
    /// Anything else (no connection, credentials refused, a server error): worth trying
    /// again.
    Failed(String),
}

impl LokiReader {
    pub fn new(config: &EndpointConfig, logs: &LogsConfig) -> Result<LokiReader, String> {
        LokiReader::with_cap(config, logs, MAX_ANSWER)
    }

    /// Like [`LokiReader::new`], reading answers of at most `max_answer` bytes.
    pub fn with_cap(
        config: &EndpointConfig,
        logs: &LogsConfig,
        max_answer: usize,
    ) -> Result<LokiReader, String> {
        Ok(LokiReader {
            name: config.name.clone(),
            service: Service::for_endpoint("loki", config, max_answer)?,
            mapping: SelectorMapping {
                selector: logs.loki_selector.clone(),
                host_label: logs.loki_host_label.clone(),
                unit_label: logs.loki_unit_label.clone(),
            },
        })
    }

    /// The path and query of a `query_range` for `units` on `hosts` in `window` ending at
    /// `end_ns`, newest first, at most `limit` lines.
    pub fn path(
        &self,
        hosts: &[String],
        units: &[UnitPattern],
        window: Window,
        end_ns: i128,
        limit: usize,
    ) -> String {
        let span = match window {
            Window::Tail => TAIL_SPAN,
            Window::Last(d) => d,
        };
        let start_ns = end_ns - i128::try_from(span.as_nanos()).unwrap_or(i128::MAX / 2);
        let selector = self.mapping.selector(hosts, units);
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("query", &selector)
            .append_pair("start", &start_ns.to_string())
            .append_pair("end", &end_ns.to_string())
            .append_pair("limit", &limit.clamp(1, 100_000).to_string())
            .append_pair("direction", "backward")
            .finish();
        format!("/loki/api/v1/query_range?{query}")
    }

    /// The path and query of a `tail` of `units` on `hosts` from `start_ns` on; Loki first
    /// sends what it holds from then (at most `limit` lines), then lines as they come in.
    pub fn tail_path(
        &self,
        hosts: &[String],
        units: &[UnitPattern],
        start_ns: i128,
        limit: usize,
    ) -> String {
        let selector = self.mapping.selector(hosts, units);
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("query", &selector)
            .append_pair("start", &start_ns.to_string())
            .append_pair("limit", &limit.clamp(1, 100_000).to_string())
            .finish();
        format!("/loki/api/v1/tail?{query}")
    }

    /// Opens a `tail` from `start_ns`, the handshake finished within `deadline`; the tail
    /// reports a hang when neither a message nor an answer to a ping came within it.
    pub async fn tail(
        &mut self,
        hosts: &[String],
        units: &[UnitPattern],
        start_ns: i128,
        limit: usize,
        deadline: Duration,
    ) -> Result<LokiTail, TailRefusal> {
        let backend = format!("loki {}", self.name);
        let by = Instant::now() + deadline;
        let auth = self
            .service
            .authorization(&backend)
            .await
            .map_err(TailRefusal::Failed)?;
        let path = self.tail_path(hosts, units, start_ns, limit);
        match self
            .service
            .websocket(&path, &auth, MAX_TAIL_MESSAGE, by)
            .await
        {
            Ok(socket) => Ok(LokiTail {
                socket,
                deadline,
                name: self.name.clone(),
                backend,
                mapping: self.mapping.clone(),
            }),
            Err(OpenError::Refused { status, excerpt }) => {
                let said = if excerpt.is_empty() {
                    String::new()
                } else {
                    format!(" ({excerpt})")
                };
                let why = format!("{backend}: the tail websocket was refused: HTTP {status}{said}");
                match status {
                    401 | 403 => {
                        self.service.refused();
                        Err(TailRefusal::Failed(why))
                    }
                    500.. => Err(TailRefusal::Failed(why)),
                    _ => Err(TailRefusal::NoTail(why)),
                }
            }
            Err(OpenError::Failed(why)) => Err(TailRefusal::Failed(format!("{backend}: {why}"))),
        }
    }

    /// Reads the lines; the error names this Loki and what went wrong, never a line.
    pub async fn read(
        &mut self,
        hosts: &[String],
        units: &[UnitPattern],
        window: Window,
        end_ns: i128,
        limit: usize,
        deadline: Duration,
    ) -> Result<LokiAnswer, String> {
        let backend = format!("loki {}", self.name);
        let by = Instant::now() + deadline;
        let auth = self.service.authorization(&backend).await?;
        let path = self.path(hosts, units, window, end_ns, limit);
        let answer = self
            .service
            .get(&path, &auth, by)
            .await
            .map_err(|e| format!("{backend}: {e}"))?;
        if answer.status == 401 || answer.status == 403 {
            self.service.refused();
        }
        if answer.status != 200 {
            return Err(format!(
                "{backend}: {} ({})",
                answer.status_text(),
                answer.body_excerpt(160)
            ));
        }
        let fallback = self.name.clone();
        let entries = parse_query_range(&answer.body, &self.mapping, &fallback)
            .map_err(|e| format!("{backend}: {e}"))?;
        Ok(LokiAnswer {
            lines: entries.lines,
            unreadable: entries.unreadable,
            newest_ns: entries.newest_ns,
        })
    }
}

/// An open `tail` websocket.
pub struct LokiTail {
    socket: WebSocket,
    deadline: Duration,
    /// Names lines whose stream has no host label.
    name: String,
    backend: String,
    mapping: SelectorMapping,
}

/// What went wrong on an open tail.
#[derive(Debug, PartialEq, Eq)]
pub enum TailError {
    /// A message that is not Loki's tail JSON; the socket goes on.
    Garbage(String),
    /// The socket broke or hung: it is of no more use.
    Broken(String),
}

impl LokiTail {
    /// The next message's lines; `Ok(None)` once Loki closed the socket. Pings Loki when it
    /// has been quiet for half the deadline, and gives up on it when the ping is not
    /// answered (nor anything else said) by the end of the deadline.
    pub async fn next(&mut self) -> Result<Option<TailBatch>, TailError> {
        let quiet = self.deadline / 2;
        let mut pinged = false;
        loop {
            let message = match timeout(quiet, self.socket.next()).await {
                Ok(message) => message,
                Err(_) if pinged => {
                    return Err(TailError::Broken(format!(
                        "{}: the tail said nothing and answered no ping for {}",
                        self.backend,
                        humantime::format_duration(self.deadline)
                    )));
                }
                Err(_) => {
                    pinged = true;
                    let sent =
                        timeout(quiet, self.socket.send(Message::Ping(Vec::new().into()))).await;
                    if let Ok(Err(e)) = sent {
                        return Err(self.broken(&e));
                    }
                    continue;
                }
            };
            let text = match message {
                None | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Err(e)) => return Err(self.broken(&e)),
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Binary(_))) => {
                    return Err(TailError::Garbage(format!(
                        "{}: a binary message, not Loki's tail JSON",
                        self.backend
                    )));
                }
                // Pings are answered by the socket itself; any frame shows Loki is there.
                Some(Ok(_)) => {
                    pinged = false;
                    continue;
                }
            };
            return parse_tail(text.as_bytes(), &self.mapping, &self.name)
                .map(Some)
                .map_err(|e| TailError::Garbage(format!("{}: {e}", self.backend)));
        }
    }

    fn broken(&self, error: &tokio_tungstenite::tungstenite::Error) -> TailError {
        TailError::Broken(format!(
            "{}: the tail broke off: {}",
            self.backend,
            crate::sanitize::sanitize_truncated(&error.to_string(), 160)
        ))
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(0))
        .unwrap_or(0)
}
