//! Logs from the instance's Loki: `GET /loki/api/v1/query_range` with the LogQL selector
//! the `[logs]` mapping makes for a unit on hosts, through the shared HTTP client (deadline,
//! answer cap, credentials).

use std::time::Duration;

use tokio::time::Instant;

use crate::config::{EndpointConfig, LogsConfig};
use crate::logs::LogLine;
use crate::logs::loki::{SelectorMapping, parse_query_range};
use crate::logs::query::{UnitPattern, Window};
use crate::net::service::Service;

/// The largest answer read: 5,000 lines of 16 KiB and their JSON.
pub const MAX_ANSWER: usize = 96 * 1024 * 1024;
/// How far back `tail` looks on Loki, which has no "last N whatever their age".
const TAIL_SPAN: Duration = Duration::from_secs(24 * 3600);

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
        let (lines, unreadable) = parse_query_range(&answer.body, &self.mapping, &fallback)
            .map_err(|e| format!("{backend}: {e}"))?;
        Ok(LokiAnswer { lines, unreadable })
    }
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i128::try_from(d.as_nanos()).unwrap_or(0))
        .unwrap_or(0)
}
