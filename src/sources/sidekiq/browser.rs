//! A read-only connection per Sidekiq endpoint for requests the operator makes (a page of
//! a set, a page of busy jobs, the next batch of a retry-all), kept apart from the poll's
//! connection so browsing never delays a refresh. Any role may browse: it reads what the
//! set tables already show, with the same redaction.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use super::browse::{self, BrowseRequest, Browsed};
use super::fetch::{self, Keys};
use crate::config::{Config, EndpointConfig};
use crate::model::ComponentId;
use crate::model::kinds::sidekiq::KIND;
use crate::sources::redis::{Connector, connection_lost};

/// How long one browse request may take before it is given up.
pub const BROWSE_DEADLINE: Duration = Duration::from_secs(10);

struct Endpoint {
    connector: Connector,
    connection: Option<MultiplexedConnection>,
    keys: Keys,
}

#[derive(Default)]
pub struct Browser {
    endpoints: HashMap<String, Mutex<Endpoint>>,
}

impl Browser {
    pub fn new(cfg: &Config) -> Browser {
        Browser::for_endpoints(&cfg.sidekiq)
    }

    pub fn for_endpoints(endpoints: &[EndpointConfig]) -> Browser {
        let endpoints = endpoints
            .iter()
            .map(|ep| {
                let namespace = ep.namespace.as_deref().filter(|n| !n.is_empty());
                (
                    ComponentId::new(KIND, &ep.name).to_string(),
                    Mutex::new(Endpoint {
                        connector: Connector::new(
                            &ep.url,
                            ep.password.clone(),
                            BROWSE_DEADLINE,
                            "+@read",
                        ),
                        connection: None,
                        keys: Keys::new(namespace),
                    }),
                )
            })
            .collect();
        Browser { endpoints }
    }

    /// A connection to the component's Redis and its key names; connects on first use.
    pub async fn connection(
        &self,
        component: &str,
    ) -> Result<(MultiplexedConnection, Keys), String> {
        let endpoint = self
            .endpoints
            .get(component)
            .ok_or_else(|| format!("{component} is not a configured Sidekiq endpoint"))?;
        let mut endpoint = endpoint.lock().await;
        if let Some(c) = &endpoint.connection {
            return Ok((c.clone(), endpoint.keys.clone()));
        }
        let connection = endpoint
            .connector
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        endpoint.connection = Some(connection.clone());
        Ok((connection, endpoint.keys.clone()))
    }

    /// Forgets a connection that failed, so the next request connects afresh.
    pub async fn forget(&self, component: &str) {
        if let Some(endpoint) = self.endpoints.get(component) {
            endpoint.lock().await.connection = None;
        }
    }

    /// One browse request, within [`BROWSE_DEADLINE`]; a connection found dropped is
    /// replaced once.
    pub async fn browse(
        &self,
        component: &str,
        request: &BrowseRequest,
    ) -> Result<Browsed, String> {
        let attempt = async {
            let mut retried = false;
            loop {
                let (mut connection, keys) = self.connection(component).await?;
                match self::read(&mut connection, &keys, request).await {
                    Ok(b) => return Ok(b),
                    Err(e) if connection_lost(&e) && !retried => {
                        retried = true;
                        self.forget(component).await;
                    }
                    Err(e) => {
                        self.forget(component).await;
                        return Err(format!("reading {component} failed: {e}"));
                    }
                }
            }
        };
        match tokio::time::timeout(BROWSE_DEADLINE, attempt).await {
            Ok(r) => r,
            Err(_) => {
                self.forget(component).await;
                Err(format!(
                    "{component} did not answer within {}s",
                    BROWSE_DEADLINE.as_secs()
                ))
            }
        }
    }
}

async fn read(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    request: &BrowseRequest,
) -> Result<Browsed, redis::RedisError> {
    match request {
        BrowseRequest::Set {
            set,
            page,
            from,
            class,
        } => browse::set_page(connection, keys, *set, *page, *from, class.as_deref())
            .await
            .map(Browsed::Set),
        BrowseRequest::Busy {
            page,
            identities,
            suffixes,
        } => browse::busy_page(
            connection,
            keys,
            identities,
            suffixes,
            *page,
            fetch::epoch_now(),
        )
        .await
        .map(Browsed::Busy),
    }
}
