//! Polling one Alertmanager: the alert groups decide; the silences and the status are
//! asked at the same time, and their failure is shown, not fatal.

use std::sync::Arc;
use std::time::SystemTime;

use futures_util::future::BoxFuture;

use super::parse::{parse_groups, parse_silences, parse_status};
use super::{AlertmanagerReading, KIND};
use crate::config::{Defaults, EndpointConfig};
use crate::net::http::{Answer, HttpError};
use crate::net::service::Service;
use crate::sources::{PollError, PollResult, Schedule, Source, SourceSpec};

/// Ten thousand alerts with their labels and annotations are about 10 MiB; a larger answer
/// is cut off with an error rather than read into memory.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(AlertmanagerSource::new(config, schedule))
    })
}

pub struct AlertmanagerSource {
    service: Result<Service, String>,
    schedule: Schedule,
}

impl AlertmanagerSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        AlertmanagerSource {
            service: Service::for_endpoint("alertmanager", config, MAX_BODY),
            schedule,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let service = self
            .service
            .as_mut()
            .map_err(|e| PollError::Failed(e.clone()))?;
        let at = format!("alertmanager at {}", service.base.shown());
        let by = tokio::time::Instant::now() + self.schedule.deadline.mul_f64(0.9);
        let auth = service
            .authorization(&at)
            .await
            .map_err(PollError::Failed)?;
        let (groups, silences, status) = {
            let service = &*service;
            tokio::join!(
                service.get("/api/v2/alerts/groups", &auth, by),
                service.get("/api/v2/silences", &auth, by),
                service.get("/api/v2/status", &auth, by),
            )
        };
        let groups = groups.map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match groups.status {
            200 => {}
            401 | 403 => {
                service.refused();
                return Err(PollError::Denied(format!(
                    "{at}: HTTP {} for /api/v2/alerts/groups — check the user in url and `password`, or `bearer_token`",
                    groups.status
                )));
            }
            _ => {
                return Err(PollError::Failed(format!(
                    "{at}: /api/v2/alerts/groups answered {}{}",
                    groups.status_text(),
                    excerpt(&groups)
                )));
            }
        }
        let set =
            parse_groups(&groups.body).map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        let now = SystemTime::now();
        let mut reading = AlertmanagerReading {
            server: Default::default(),
            set,
            at: now,
            silences_error: None,
            status_error: None,
        };
        match extra(silences, "/api/v2/silences") {
            Ok(body) => match parse_silences(&body, now) {
                Ok(list) => reading.set.silences = list,
                Err(e) => reading.silences_error = Some(e),
            },
            Err(e) => reading.silences_error = Some(e),
        }
        match extra(status, "/api/v2/status") {
            Ok(body) => match parse_status(&body) {
                Ok(s) => reading.server = s,
                Err(e) => reading.status_error = Some(e),
            },
            Err(e) => reading.status_error = Some(e),
        }
        Ok(Arc::new(reading))
    }
}

fn extra(answer: Result<Answer, HttpError>, page: &str) -> Result<Vec<u8>, String> {
    match answer {
        Ok(a) if a.status == 200 => Ok(a.body),
        Ok(a) => Err(format!("{page} answered {}", a.status_text())),
        Err(e) => Err(format!("{page}: {e}")),
    }
}

/// The reason a server gave in its body, when short enough to be a reason.
fn excerpt(answer: &Answer) -> String {
    let text = answer.body_excerpt(120);
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

impl Source for AlertmanagerSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}
