//! The edge source: one [`Prober`] per `[[edge]]`, polled by the scheduler.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::probe::{Deadline, Prober};
use super::{KIND, verifier};
use crate::config::{Defaults, EdgeConfig};
use crate::model::{ComponentId, ComponentMeta};
use crate::net::route::{EdgeTarget, Route, storage_route};
use crate::sources::{PollError, PollResult, Schedule, Source, SourceSpec};

/// The share of the scheduler's deadline the probe gives itself, so it can say which phase
/// stalled before the scheduler gives up on the whole poll.
const OWN_SHARE: f64 = 0.9;

pub fn spec(config: &EdgeConfig, defaults: &Defaults) -> SourceSpec {
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
        source: Box::new(EdgeSource::new(config, schedule)),
    }
}

pub struct EdgeSource {
    /// A setup problem (bad address, unreadable `tls_ca`) is reported on every poll rather
    /// than stopping mastop: the other edges keep working.
    prober: Result<Prober, String>,
    schedule: Schedule,
}

impl EdgeSource {
    pub fn new(config: &EdgeConfig, schedule: Schedule) -> Self {
        EdgeSource {
            prober: prober(config),
            schedule,
        }
    }
}

fn prober(config: &EdgeConfig) -> Result<Prober, String> {
    let label = format!("edge {}", config.name);
    let target = EdgeTarget::parse(&config.address).map_err(|e| format!("{label}: {e}"))?;
    let roots =
        crate::net::tls::roots(config.tls_ca.as_deref()).map_err(|e| format!("{label}: {e}"))?;
    let trust_store = crate::net::tls::trust_store(config.tls_ca.as_deref());
    let provider = crate::net::tls::provider();
    let webpki = verifier::webpki(roots, provider.clone()).map_err(|e| format!("{label}: {e}"))?;
    let storage = match &config.object_storage_url {
        Some(url) => Some(storage_route(url).map_err(|e| format!("{label}: {e}"))?),
        None => None,
    };
    Ok(Prober {
        edge: Route {
            target,
            host: config.hostname.clone(),
            host_header: config.hostname.clone(),
            tls: true,
        },
        path: config.path.clone(),
        media_path: config.media_path.clone(),
        storage,
        webpki,
        provider,
        trust_store,
    })
}

impl Source for EdgeSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(async move {
            let prober = self
                .prober
                .as_ref()
                .map_err(|e| PollError::Failed(e.clone()))?;
            let by = Deadline::after(self.schedule.deadline.mul_f64(OWN_SHARE));
            let reading = prober.probe(by).await.map_err(PollError::Failed)?;
            Ok(Arc::new(reading) as Arc<dyn crate::model::Reading>)
        })
    }
}
