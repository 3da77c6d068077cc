//! One console's session with the ops store. Every call has the configured deadline,
//! enforced here and by `statement_timeout`, and uses unnamed statements, so nothing is
//! left prepared on the server. One session per console; a broken one is replaced on the
//! next call (or at once, when a reused session turns out to be dead). Every call is safe to
//! repeat, which is what makes that retry safe.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tokio::time::{Instant, timeout_at};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::failure::{CallResult, Failure, explain};
use super::migrate::migrate;
use crate::actions::store::StoreResult;
use crate::config::{OpsStoreConfig, SecretRef, mask_url};
use crate::net::postgres as tls;

const APPLICATION_NAME: &str = "mastop-ops";

/// A listening session and what it hears; dropping it closes the session.
pub struct Listening {
    _session: Session,
    pub notices: tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
}

/// One open session; dropping it ends the connection task and closes the socket.
pub(super) struct Session {
    pub(super) client: Arc<Client>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Default)]
struct Conn {
    session: Option<Session>,
    /// Kept between sessions; dropped after a login refusal, since it may have been rotated.
    password: Option<SecretString>,
}

pub(super) struct Target {
    pub(super) config: tokio_postgres::Config,
    /// The url with any password masked, for `describe`.
    pub(super) url: String,
    /// `host:port`, for messages.
    pub(super) addr: String,
    pub(super) user: String,
    pub(super) database: String,
    /// The CA that must have signed the server's certificate, instead of the system roots.
    pub(super) tls_ca: Option<PathBuf>,
}

pub struct PgStore {
    pub(super) target: Target,
    password_ref: Option<SecretRef>,
    lock_ttl: Duration,
    approval_ttl: Duration,
    deadline: Duration,
    conn: tokio::sync::Mutex<Conn>,
}

impl PgStore {
    /// Connects to the ops database and brings its schema up to date. Fails when the
    /// database cannot be reached within the deadline, refuses the login, or holds a newer
    /// schema than this mastop knows.
    pub async fn connect(config: &OpsStoreConfig) -> Result<PgStore, String> {
        let target = parse_target(&config.url, config.tls_ca.as_deref(), config.deadline)?;
        let store = PgStore {
            target,
            password_ref: config.password.clone(),
            lock_ttl: config.lock_ttl,
            approval_ttl: config.approval_ttl,
            deadline: config.deadline,
            conn: tokio::sync::Mutex::new(Conn::default()),
        };
        let mut conn = store.conn.lock().await;
        // The secret is fetched outside the deadline: `op read` may wait for a human.
        if let Some(secret) = &store.password_ref {
            conn.password = Some(store.resolve_password(secret).await?);
        }
        let deadline = Instant::now() + store.deadline;
        let session =
            match timeout_at(deadline, store.open_session(conn.password.as_ref(), None)).await {
                Ok(Ok(session)) => session,
                Ok(Err(failure)) => return Err(store.explain(&failure)),
                Err(_) => return Err(store.no_answer("connect")),
            };
        // Migrations get a deadline of their own: the first console may have to wait for
        // another one that is applying them.
        let deadline = Instant::now() + store.deadline;
        match timeout_at(deadline, migrate(&session.client)).await {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => return Err(store.explain(&failure)),
            Err(_) => return Err(store.no_answer("bring the schema up to date")),
        }
        conn.session = Some(session);
        drop(conn);
        Ok(store)
    }

    /// How long a lock outlives a console that crashed while holding it.
    pub fn lock_ttl(&self) -> Duration {
        self.lock_ttl
    }

    /// How long a four-eyes request stays open.
    pub fn approval_ttl(&self) -> Duration {
        self.approval_ttl
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    async fn resolve_password(&self, secret: &SecretRef) -> Result<SecretString, String> {
        secret.resolve().await.map_err(|e| {
            format!(
                "ops store at {}: cannot get the password from {secret}: {e} — check the [ops_store] password reference",
                self.target.addr
            )
        })
    }

    pub(super) async fn open_session(
        &self,
        password: Option<&SecretString>,
        notices: Option<tls::Notices>,
    ) -> CallResult<Session> {
        let mut config = self.target.config.clone();
        if let Some(password) = password {
            config.password(password.expose_secret().as_bytes());
        }
        let addr = &self.target.addr;
        let (client, task) = tls::connect_listening(
            &config,
            self.target.tls_ca.as_deref(),
            &format!("ops store {addr}"),
            notices,
        )
        .await
        .map_err(|error| match error {
            tls::ConnectError::Setup(text) => Failure::Told(format!(
                "ops store at {addr}: {text} — check [ops_store] tls_ca"
            )),
            tls::ConnectError::Driver(error) => Failure::Driver {
                step: "connect",
                error,
            },
        })?;
        let session = Session {
            client: Arc::new(client),
            task,
        };
        let statement_ms = self.deadline.as_millis().max(1);
        let lock_ms = (statement_ms / 2).max(1);
        // Server-side backstops for the client's deadline: a call abandoned mid-way must not
        // leave a query running or a transaction (and its locks) open.
        let set = format!(
            "SET statement_timeout = {statement_ms}; SET lock_timeout = {lock_ms}; \
             SET idle_in_transaction_session_timeout = {statement_ms}"
        );
        session
            .client
            .batch_execute(&set)
            .await
            .map_err(|error| Failure::Driver {
                step: "set session timeouts",
                error,
            })?;
        Ok(session)
    }

    /// The live session, opening one when there is none or the old one has closed.
    async fn client(&self, conn: &mut Conn) -> CallResult<Arc<Client>> {
        if let Some(session) = &conn.session
            && !session.client.is_closed()
        {
            return Ok(Arc::clone(&session.client));
        }
        conn.session = None;
        if conn.password.is_none()
            && let Some(secret) = &self.password_ref
        {
            conn.password = Some(self.resolve_password(secret).await.map_err(Failure::Told)?);
        }
        match self.open_session(conn.password.as_ref(), None).await {
            Ok(session) => {
                let client = Arc::clone(&session.client);
                conn.session = Some(session);
                Ok(client)
            }
            Err(failure) => {
                if let Failure::Driver { error, .. } = &failure
                    && error.code() == Some(&SqlState::INVALID_PASSWORD)
                {
                    conn.password = None;
                }
                Err(failure)
            }
        }
    }

    /// Runs `op` on the session within the deadline. A reused session found dead is
    /// replaced and `op` tried once more; any other failure drops a broken session so the
    /// next call starts clean.
    pub(super) async fn call<T, F, Fut>(&self, what: &'static str, op: F) -> StoreResult<T>
    where
        F: Fn(Arc<Client>) -> Fut + Send + Sync,
        Fut: Future<Output = CallResult<T>> + Send,
        T: Send,
    {
        let deadline = Instant::now() + self.deadline;
        let Ok(mut conn) = timeout_at(deadline, self.conn.lock()).await else {
            return Err(format!(
                "ops store at {}: {what}: an earlier call from this console still holds the connection after {} — the ops database is slow or unreachable",
                self.target.addr,
                humantime::format_duration(self.deadline)
            ));
        };
        let attempt = async {
            let reused = conn.session.as_ref().is_some_and(|s| !s.client.is_closed());
            let client = self.client(&mut conn).await?;
            match op(client).await {
                Err(failure) if failure.connection_lost() && reused => {
                    conn.session = None;
                    let client = self.client(&mut conn).await?;
                    op(client).await
                }
                other => other,
            }
        };
        match timeout_at(deadline, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(failure)) => {
                if failure.connection_lost() {
                    conn.session = None;
                }
                Err(self.explain(&failure))
            }
            Err(_) => {
                // The session may be stuck mid-answer; the server ends the abandoned query
                // itself (statement_timeout), and the next call connects afresh.
                conn.session = None;
                Err(self.no_answer(what))
            }
        }
    }

    /// Runs `op` against the ops database with this store's deadline, reconnection and
    /// error explanations, for records other modules keep in the same database
    /// (handoffs). `op` must be safe to repeat.
    pub async fn with_session<T, F, Fut>(&self, what: &'static str, op: F) -> StoreResult<T>
    where
        F: Fn(Arc<Client>) -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send,
        T: Send,
    {
        self.call(what, |c| {
            let query = op(c);
            async move {
                query
                    .await
                    .map_err(|error| Failure::Driver { step: what, error })
            }
        })
        .await
    }

    /// A session of its own that receives the notifications of `channel`, for a watching
    /// console: the calls of this store keep their own session meanwhile.
    pub async fn listen(&self, channel: &str) -> StoreResult<Listening> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let password = self.password().await;
        let deadline = Instant::now() + self.deadline;
        let open = async {
            let session = self.open_session(password.as_ref(), Some(tx)).await?;
            // The channel is ours, never an operator's text: quoting it is enough.
            let sql = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
            session
                .client
                .batch_execute(&sql)
                .await
                .map_err(|error| Failure::Driver {
                    step: "listen for changes",
                    error,
                })?;
            Ok(session)
        };
        match timeout_at(deadline, open).await {
            Ok(Ok(session)) => Ok(Listening {
                _session: session,
                notices: rx,
            }),
            Ok(Err(failure)) => Err(self.explain(&failure)),
            Err(_) => Err(self.no_answer("listen for changes")),
        }
    }

    /// The password the current session logged in with, for a session of another kind.
    pub(super) async fn password(&self) -> Option<SecretString> {
        self.conn.lock().await.password.clone()
    }

    /// The password for a new session, fetched again if a refused login dropped it.
    pub(super) async fn login_password(&self) -> CallResult<Option<SecretString>> {
        let mut conn = self.conn.lock().await;
        if conn.password.is_none()
            && let Some(secret) = &self.password_ref
        {
            conn.password = Some(self.resolve_password(secret).await.map_err(Failure::Told)?);
        }
        Ok(conn.password.clone())
    }

    pub(super) fn no_answer(&self, what: &str) -> String {
        format!(
            "ops store at {}: {what}: no answer within {} — check that the ops database is up and reachable from this console (host, port, firewall); the next call reconnects",
            self.target.addr,
            humantime::format_duration(self.deadline)
        )
    }

    pub(super) fn explain(&self, failure: &Failure) -> String {
        explain(&self.target, self.deadline, failure)
    }
}

fn parse_target(url: &str, tls_ca: Option<&Path>, deadline: Duration) -> Result<Target, String> {
    let masked = mask_url(url);
    let parsed = crate::config::urls::postgres(url)
        .map_err(|p| format!("[ops_store] url {masked}: {}: {}", p.message, p.hint))?;
    let mut config = parsed.config;
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    // A backstop; the call deadline is what decides.
    config.connect_timeout(deadline.saturating_mul(2));
    Ok(Target {
        config,
        url: masked,
        addr: parsed.addr,
        user: parsed.user,
        database: parsed.database,
        tls_ca: tls_ca.map(Path::to_path_buf),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_masked_and_tagged() {
        let t = parse_target(
            "postgres://ops:hunter2@ops-db:5433/mastop_ops",
            None,
            Duration::from_secs(1),
        )
        .expect("valid");
        assert_eq!(t.addr, "ops-db:5433");
        assert_eq!(t.database, "mastop_ops");
        assert_eq!(t.config.get_application_name(), Some(APPLICATION_NAME));
        assert!(!t.url.contains("hunter2"), "{}", t.url);
        let err = parse_target("postgres://:hunter2@ops-db/x", None, Duration::from_secs(1))
            .err()
            .expect("no user");
        assert!(
            err.contains("[ops_store]") && !err.contains("hunter2"),
            "{err}"
        );
    }
}
