//! Runs Redis commands (including Lua scripts via EVAL) on one instance, over a connection
//! opened for the action with the endpoint's write credentials.

use futures_util::future::BoxFuture;
use redis::Value;
use secrecy::ExposeSecret;

use super::Executor;
use crate::actions::action::{Action, Check, Operation};
use crate::actions::role::WriteCapability;
use crate::config::{EndpointConfig, mask_url};

pub struct RedisExecutor {
    endpoint: EndpointConfig,
    _write: WriteCapability,
}

impl RedisExecutor {
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

    async fn connect(&self, action: &Action) -> Result<redis::aio::MultiplexedConnection, String> {
        let shown = mask_url(self.url());
        let mut info = crate::config::urls::redis(self.url())
            .map_err(|p| format!("redis {shown}: bad URL: {}", p.message))?;
        let secret = self
            .endpoint
            .write_password
            .as_ref()
            .or(self.endpoint.password.as_ref());
        if let Some(secret) = secret {
            let password = secret
                .resolve()
                .await
                .map_err(|e| format!("redis {shown}: {e}"))?;
            let settings = info
                .redis_settings()
                .clone()
                .set_password(password.expose_secret());
            info = info.set_redis_settings(settings);
        }
        let client = redis::Client::open(info).map_err(|e| format!("redis {shown}: {e}"))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(action.deadline))
            .set_response_timeout(Some(action.deadline));
        client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| format!("redis {shown}: cannot connect: {e}"))
    }
}

async fn send(
    conn: &mut redis::aio::MultiplexedConnection,
    argv: &[String],
) -> Result<String, String> {
    let Some((name, args)) = argv.split_first() else {
        return Err("empty command".into());
    };
    let value: Value = redis::cmd(name)
        .arg(args)
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(show(&value))
}

/// A reply as short text for the operator and the audit record.
fn show(value: &Value) -> String {
    match value {
        Value::Nil => "nil".into(),
        Value::Int(n) => n.to_string(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".into(),
        Value::BulkString(b) => String::from_utf8_lossy(b).chars().take(80).collect(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => format!("{other:?}").chars().take(80).collect(),
    }
}

impl Executor for RedisExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(Check::Redis { argv, expect }) = &action.precondition else {
                return Ok("nothing to re-check".into());
            };
            let mut conn = self.connect(action).await?;
            let found = send(&mut conn, argv).await?;
            if found == *expect {
                Ok(format!("still {expect}"))
            } else {
                Err(format!(
                    "the target changed: expected {expect}, found {found}"
                ))
            }
        })
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let mut conn = self.connect(action).await?;
            let mut results = Vec::new();
            for op in &action.operations {
                let Operation::Redis { argv, .. } = op else {
                    return Err(format!("a Redis executor cannot run `{}`", op.display()));
                };
                results.push(send(&mut conn, argv).await?);
            }
            Ok(results.join("; "))
        })
    }
}
