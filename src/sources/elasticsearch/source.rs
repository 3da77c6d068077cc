//! Polling one Elasticsearch endpoint: `_cluster/health` decides; the index list and the
//! version are extras whose failure is shown, not fatal.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::KIND;
use super::parse::{parse_cat_indices, parse_cluster_health, parse_version};
use crate::config::{Defaults, EndpointConfig};
use crate::net::service::Service;
use crate::sources::{PollError, PollResult, Schedule, Source, SourceSpec};

/// `_cat/indices` for a few hundred indices is well under this.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(ElasticsearchSource::new(config, schedule))
    })
}

pub struct ElasticsearchSource {
    service: Result<Service, String>,
    schedule: Schedule,
}

impl ElasticsearchSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        ElasticsearchSource {
            service: Service::for_endpoint("elasticsearch", config, MAX_BODY),
            schedule,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let service = self
            .service
            .as_mut()
            .map_err(|e| PollError::Failed(e.clone()))?;
        let at = format!("elasticsearch at {}", service.base.shown());
        let by = tokio::time::Instant::now() + self.schedule.deadline.mul_f64(0.9);
        let auth = service
            .authorization(&at)
            .await
            .map_err(PollError::Failed)?;
        let health = service
            .get("/_cluster/health", &auth, by)
            .await
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match health.status {
            200 => {}
            401 | 403 => {
                service.refused();
                return Err(PollError::Denied(format!(
                    "{at}: HTTP {} for _cluster/health — check the user in url and `password`, or `bearer_token` (it needs the `monitor` cluster privilege)",
                    health.status
                )));
            }
            _ => {
                return Err(PollError::Failed(format!(
                    "{at}: _cluster/health answered {}",
                    health.status_text()
                )));
            }
        }
        let mut reading = parse_cluster_health(&health.body)
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        let service = &*service;
        let (indices, root) = tokio::join!(
            service.get("/_cat/indices?format=json&bytes=b", &auth, by),
            service.get("/", &auth, by)
        );
        match indices {
            Ok(answer) if answer.status == 200 => match parse_cat_indices(&answer.body) {
                Ok(list) => reading.indices = list,
                Err(e) => reading.indices_error = Some(e),
            },
            Ok(answer) => {
                reading.indices_error =
                    Some(format!("_cat/indices answered {}", answer.status_text()))
            }
            Err(e) => reading.indices_error = Some(format!("_cat/indices: {e}")),
        }
        if let Ok(answer) = root
            && answer.status == 200
        {
            reading.version = parse_version(&answer.body);
        }
        Ok(Arc::new(reading))
    }
}

impl Source for ElasticsearchSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}
