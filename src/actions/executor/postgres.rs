//! Runs SQL operations on one PostgreSQL node, over a connection opened for the action
//! with the endpoint's write credentials (`write_url`, else `url`).

use futures_util::future::BoxFuture;
use secrecy::ExposeSecret;
use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};

use super::Executor;
use crate::actions::action::{Action, Check, Operation};
use crate::actions::role::WriteCapability;
use crate::config::{EndpointConfig, mask_url};
use crate::net::postgres as tls;

pub struct PostgresExecutor {
    endpoint: EndpointConfig,
    _write: WriteCapability,
}

impl PostgresExecutor {
    pub fn new(write: &WriteCapability, endpoint: EndpointConfig) -> Self {
        Self {
            endpoint,
            _write: write.clone(),
        }
    }

    fn url(&self) -> &str {
        self.endpoint
            .write_url
            .as_deref()
            .unwrap_or(&self.endpoint.url)
    }

    async fn connect(&self, action: &Action) -> Result<Client, String> {
        let shown = mask_url(self.url());
        let mut config = crate::config::urls::postgres(self.url())
            .map_err(|p| format!("postgres {shown}: bad URL: {}", p.message))?
            .config;
        config.application_name("mastop-action");
        let secret = self
            .endpoint
            .write_password
            .as_ref()
            .or(self.endpoint.password.as_ref());
        if let Some(secret) = secret {
            let password = secret
                .resolve()
                .await
                .map_err(|e| format!("postgres {shown}: {e}"))?;
            config.password(password.expose_secret().as_bytes());
        }
        let tls_ca = self.endpoint.tls_ca.as_deref();
        // The task ends by itself once the client is dropped after the action.
        let (client, _task) = tls::connect(&config, tls_ca, &format!("postgres action {shown}"))
            .await
            .map_err(|e| match e {
                tls::ConnectError::Setup(text) => format!("postgres {shown}: {text}"),
                tls::ConnectError::Driver(e) => match tls::explain(&e, tls_ca) {
                    Some(hint) => format!("postgres {shown}: cannot connect: {hint}"),
                    None => format!("postgres {shown}: cannot connect: {e}"),
                },
            })?;
        // The server gives up on its own when the action's deadline has passed.
        let ms = action.deadline.as_millis().max(1);
        client
            .simple_query(&format!(
                "SET statement_timeout = {ms}; SET lock_timeout = {ms}"
            ))
            .await
            .map_err(|e| format!("postgres {shown}: cannot set timeouts: {e}"))?;
        Ok(client)
    }
}

/// Runs `text` with every parameter sent as text (the SQL casts it, e.g. `$1::int`), as an
/// unnamed statement, and returns the first column of the first row as text.
async fn first_value(
    client: &Client,
    text: &str,
    params: &[String],
) -> Result<Option<String>, String> {
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|p| (p as &(dyn ToSql + Sync), Type::TEXT))
        .collect();
    let rows = client
        .query_typed(text, &typed)
        .await
        .map_err(|e| match e.as_db_error() {
            Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
            None => e.to_string(),
        })?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    if row.is_empty() {
        return Ok(None);
    }
    // Render the common result types as text without assuming one.
    let value = row
        .try_get::<_, Option<String>>(0)
        .map(|v| v.unwrap_or_else(|| "null".into()))
        .or_else(|_| {
            row.try_get::<_, Option<bool>>(0)
                .map(|v| v.map_or("null".into(), |b| b.to_string()))
        })
        .or_else(|_| {
            row.try_get::<_, Option<i64>>(0)
                .map(|v| v.map_or("null".into(), |n| n.to_string()))
        })
        .or_else(|_| {
            row.try_get::<_, Option<i32>>(0)
                .map(|v| v.map_or("null".into(), |n| n.to_string()))
        })
        .unwrap_or_else(|_| "(value)".into());
    Ok(Some(value))
}

impl Executor for PostgresExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(Check::Sql {
                text,
                params,
                expect,
            }) = &action.precondition
            else {
                return Ok("nothing to re-check".into());
            };
            let client = self.connect(action).await?;
            let found = first_value(&client, text, params).await?;
            match found {
                Some(v) if v == *expect => Ok(format!("still {expect}")),
                Some(v) => Err(format!("the target changed: expected {expect}, found {v}")),
                None => Err("the target is gone".into()),
            }
        })
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let client = self.connect(action).await?;
            let mut results = Vec::new();
            for op in &action.operations {
                let Operation::Sql { text, params } = op else {
                    return Err(format!("a Postgres executor cannot run `{}`", op.display()));
                };
                let value = first_value(&client, text, params).await?;
                results.push(value.unwrap_or_else(|| "no rows".into()));
            }
            Ok(results.join("; "))
        })
    }
}
