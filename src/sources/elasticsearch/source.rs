//! Polling one Elasticsearch endpoint: `_cluster/health` decides; the index list and the
//! version are extras whose failure is shown, not fatal.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::KIND;
use super::parse::{parse_cat_indices, parse_cluster_health, parse_version};
use crate::config::{CachedSecret, Defaults, EndpointConfig};
use crate::sources::edge::web::WebEndpoint;
use crate::sources::{PollError, PollResult, Schedule, Source, SourceSpec};

/// `_cat/indices` for a few hundred indices is well under this.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub fn spec(config: &EndpointConfig, defaults: &Defaults) -> SourceSpec {
    SourceSpec::for_endpoint(KIND, config, defaults, |schedule| {
        Box::new(ElasticsearchSource::new(config, schedule))
    })
}

pub struct ElasticsearchSource {
    endpoint: Result<WebEndpoint, String>,
    password: CachedSecret,
    schedule: Schedule,
}

impl ElasticsearchSource {
    pub fn new(config: &EndpointConfig, schedule: Schedule) -> Self {
        ElasticsearchSource {
            endpoint: WebEndpoint::parse(&config.url, config.tls_ca.as_deref())
                .map_err(|e| format!("elasticsearch {}: {e}", config.name)),
            password: CachedSecret::new(config.password.clone()),
            schedule,
        }
    }

    async fn poll_once(&mut self) -> PollResult {
        let endpoint = self
            .endpoint
            .as_ref()
            .map_err(|e| PollError::Failed(e.clone()))?;
        let at = format!("elasticsearch at {}", endpoint.shown());
        let by = tokio::time::Instant::now() + self.schedule.deadline.mul_f64(0.9);
        let password = self
            .password
            .get(&at)
            .await
            .map_err(PollError::Failed)?
            .cloned();
        let get = |path: &'static str| endpoint.get(path, password.as_ref(), by, MAX_BODY);
        let (head, body) = get("/_cluster/health")
            .await
            .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        match head.status {
            200 => {}
            401 | 403 => {
                self.password.forget();
                return Err(PollError::Denied(format!(
                    "{at}: HTTP {} for _cluster/health — check the user in url and `password` (it needs the `monitor` cluster privilege)",
                    head.status
                )));
            }
            code => {
                return Err(PollError::Failed(format!(
                    "{at}: _cluster/health answered HTTP {code}"
                )));
            }
        }
        let mut reading =
            parse_cluster_health(&body).map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
        let (indices, root) = tokio::join!(get("/_cat/indices?format=json&bytes=b"), get("/"));
        match indices {
            Ok((head, body)) if head.status == 200 => match parse_cat_indices(&body) {
                Ok(list) => reading.indices = list,
                Err(e) => reading.indices_error = Some(e),
            },
            Ok((head, _)) => {
                reading.indices_error = Some(format!("_cat/indices answered HTTP {}", head.status))
            }
            Err(e) => reading.indices_error = Some(format!("_cat/indices: {e}")),
        }
        if let Ok((head, body)) = root
            && head.status == 200
        {
            reading.version = parse_version(&body);
        }
        Ok(Arc::new(reading))
    }
}

impl Source for ElasticsearchSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}
