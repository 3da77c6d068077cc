//! Mastodon's streaming server, from its own `/metrics` (Mastodon 4.2 and later): clients
//! connected over WebSocket and EventSource, channels subscribed, and messages sent per
//! second. Scrape each streaming process directly, not through nginx, which would pick
//! one process at random.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::exposition::{self, Metric, SkippedLines};
use super::{PollError, PollResult, Schedule, Source, SourceSpec};
use crate::config::{Defaults, EndpointConfig};
use crate::model::{Detail, Figure, Finding, Reading, Unit, figure::format_value};
use crate::net::service::Service;

pub use crate::model::kinds::streaming::{FIGURES, KIND};

/// `/metrics` of one process is a few KiB; anything much larger is not this server.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamingReading {
    pub websocket_clients: f64,
    pub eventsource_clients: f64,
    pub connected_channels: f64,
    /// Messages sent to clients per second since the previous poll; `None` on the first.
    pub messages_per_sec: Option<f64>,
    pub messages_sent_total: Option<f64>,
    /// Lines of the page that could not be read.
    pub skipped_lines: Option<SkippedLines>,
}

impl StreamingReading {
    pub fn clients(&self) -> f64 {
        self.websocket_clients + self.eventsource_clients
    }

    /// From `/metrics` text; `Err` when the text has no client gauge at all (not a
    /// Mastodon streaming server, or one older than 4.2).
    pub fn from_metrics(text: &str) -> Result<Self, String> {
        let page = exposition::parse(text);
        let named = |name: &'static str| {
            page.metrics.iter().filter(move |s| {
                s.name == name || s.name.strip_prefix("mastodon_streaming_") == Some(name)
            })
        };
        let clients: Vec<&Metric> = named("connected_clients").collect();
        if clients.is_empty() {
            return Err(
                "no connected_clients metric: is this Mastodon's streaming server (4.2 or later)?"
                    .into(),
            );
        }
        let of_type = |t: &str| {
            clients
                .iter()
                .filter(|s| s.label("type") == Some(t))
                .map(|s| s.value)
                .sum::<f64>()
        };
        let sent: Vec<f64> = named("messages_sent_total").map(|s| s.value).collect();
        Ok(StreamingReading {
            websocket_clients: of_type("websocket"),
            eventsource_clients: of_type("eventsource"),
            connected_channels: named("connected_channels").map(|s| s.value).sum(),
            messages_per_sec: None,
            messages_sent_total: (!sent.is_empty()).then(|| sent.iter().sum()),
            skipped_lines: page.skipped_lines(),
        })
    }
}

impl Reading for StreamingReading {
    fn figures(&self) -> Vec<Figure> {
        let mut figures = vec![
            Figure::new("connected_clients", "clients", self.clients(), Unit::Count),
            Figure::new(
                "websocket_clients",
                "WebSocket",
                self.websocket_clients,
                Unit::Count,
            ),
            Figure::new(
                "eventsource_clients",
                "EventSource",
                self.eventsource_clients,
                Unit::Count,
            ),
            Figure::new(
                "connected_channels",
                "channels",
                self.connected_channels,
                Unit::Count,
            ),
        ];
        if let Some(rate) = self.messages_per_sec {
            figures.push(Figure::new(
                "messages_per_sec",
                "messages/s",
                rate,
                Unit::PerSecond,
            ));
        }
        figures
    }

    fn findings(&self) -> Vec<Finding> {
        if self.clients() == 0.0 {
            // A live instance always has someone on its timeline; none at all usually means
            // nginx is sending /api/v1/streaming somewhere else.
            vec![Finding::warn(
                "no clients connected: check where nginx sends /api/v1/streaming",
            )]
        } else {
            Vec::new()
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} clients · {} channels",
            format_value(self.clients(), Unit::Count),
            format_value(self.connected_channels, Unit::Count)
        )
    }

    fn detail(&self) -> Detail {
        let count = |v: f64| format_value(v, Unit::Count);
        let mut pairs = vec![
            ("WebSocket clients", count(self.websocket_clients)),
            ("EventSource clients", count(self.eventsource_clients)),
            ("channels", count(self.connected_channels)),
            (
                "messages/s",
                self.messages_per_sec
                    .map_or_else(|| "—".into(), |r| format_value(r, Unit::PerSecond)),
            ),
        ];
        if let Some(skipped) = &self.skipped_lines {
            pairs.push(("unread", skipped.to_string()));
        }
        Detail::default().pairs("Streaming", pairs)
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(StreamingSource::new(config, schedule))
    })
}

pub struct StreamingSource {
    service: Result<Service, String>,
    schedule: Schedule,
    previous: Option<(Instant, f64)>,
}

impl StreamingSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        StreamingSource {
            service: Service::for_endpoint("streaming", config, MAX_BODY),
            schedule,
            previous: None,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let service = self
            .service
            .as_mut()
            .map_err(|e| PollError::Failed(e.clone()))?;
        let at = format!("streaming at {}", service.base.shown());
        let by = tokio::time::Instant::now() + self.schedule.deadline.mul_f64(0.9);
        let path = if service.base.path.is_empty() {
            "/metrics"
        } else {
            ""
        };
        let auth = service
            .authorization(&at)
            .await
            .map_err(PollError::Failed)?;
        let answer = service
            .get(path, &auth, by)
            .await
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match answer.status {
            200 => {}
            401 | 403 => {
                service.refused();
                return Err(PollError::Denied(format!(
                    "{at}: {}{path} answered HTTP {} — check the user in url and `password`, or `bearer_token`",
                    service.base.path, answer.status
                )));
            }
            _ => {
                return Err(PollError::Failed(format!(
                    "{at}: {}{path} answered {}",
                    service.base.path,
                    answer.status_text()
                )));
            }
        }
        let text = String::from_utf8_lossy(&answer.body);
        let mut reading = StreamingReading::from_metrics(&text)
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        if let Some(skipped) = &reading.skipped_lines {
            tracing::debug!(source = %at, %skipped, "unreadable metrics lines");
        }
        let now = Instant::now();
        if let Some(total) = reading.messages_sent_total {
            if let Some((then, before)) = self.previous {
                let secs = now.duration_since(then).as_secs_f64();
                // A counter that went down means the process restarted: no rate this time.
                if secs > 0.0 && total >= before {
                    reading.messages_per_sec = Some((total - before) / secs);
                }
            }
            self.previous = Some((now, total));
        }
        Ok(Arc::new(reading))
    }
}

impl Source for StreamingSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;
    use crate::model::health::evaluate;

    const METRICS: &str = "\
# HELP mastodon_streaming_connected_clients The number of clients connected to the streaming server
# TYPE mastodon_streaming_connected_clients gauge
mastodon_streaming_connected_clients{type=\"websocket\"} 812
mastodon_streaming_connected_clients{type=\"eventsource\"} 37
# TYPE mastodon_streaming_connected_channels gauge
mastodon_streaming_connected_channels{type=\"websocket\",channel=\"user\"} 790
mastodon_streaming_connected_channels{type=\"websocket\",channel=\"public\"} 55
mastodon_streaming_connected_channels{type=\"eventsource\",channel=\"user\"} 30
# TYPE mastodon_streaming_messages_sent_total counter
mastodon_streaming_messages_sent_total{type=\"websocket\"} 102345
mastodon_streaming_messages_sent_total{type=\"eventsource\"} 4000
process_cpu_user_seconds_total 12.5
";

    #[test]
    fn clients_by_type_and_channels_summed() {
        let r = StreamingReading::from_metrics(METRICS).unwrap();
        assert_eq!((r.websocket_clients, r.eventsource_clients), (812.0, 37.0));
        assert_eq!(r.connected_channels, 875.0);
        assert_eq!(r.messages_sent_total, Some(106_345.0));
        assert_eq!(
            evaluate(&r.figures(), &r.findings(), |_| None).level,
            Level::Ok
        );
    }

    #[test]
    fn unprefixed_names_and_an_idle_server() {
        let r = StreamingReading::from_metrics(
            "connected_clients{type=\"websocket\"} 0\nconnected_clients{type=\"eventsource\"} 0\nconnected_channels 0\n",
        )
        .unwrap();
        assert_eq!(r.clients(), 0.0);
        assert_eq!(
            evaluate(&r.figures(), &r.findings(), |_| None).level,
            Level::Warn
        );
    }

    #[test]
    fn unreadable_lines_are_counted_and_shown() {
        let text = format!(
            "{METRICS}mastodon_streaming_connected_channels{{type=\"x}} 1\nconnected_clients many\n"
        );
        let r = StreamingReading::from_metrics(&text).unwrap();
        assert_eq!(r.connected_channels, 875.0, "the good lines still count");
        let skipped = r.skipped_lines.clone().expect("two lines skipped");
        assert_eq!(skipped.count, 2);
        assert_eq!(r.to_json()["skipped_lines"]["count"], 2);
        assert_eq!(
            StreamingReading::from_metrics(METRICS)
                .unwrap()
                .skipped_lines,
            None
        );
    }

    #[test]
    fn another_exporter_is_refused_with_a_reason() {
        let err = StreamingReading::from_metrics("node_load1 0.5\n").unwrap_err();
        assert!(err.contains("streaming server"), "{err}");
        assert!(StreamingReading::from_metrics("").is_err());
        assert!(StreamingReading::from_metrics("\u{1b}[2J garbage {{{").is_err());
    }
}
