//! What can go wrong talking to the ops store, and how it is told to an operator: which
//! store, what was tried, what to check.

use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::session::Target;
use crate::sources::postgres::{error_chain, io_cause, network_hint};

/// What went wrong in one step of a call.
pub(super) enum Failure {
    Driver {
        step: &'static str,
        error: tokio_postgres::Error,
    },
    /// The server answered, but not with what mastop expects (or refused what it sent).
    Answer { step: &'static str, detail: String },
    /// Already a message for people.
    Told(String),
}

impl Failure {
    pub(super) fn connection_lost(&self) -> bool {
        match self {
            Failure::Driver { error, .. } => connection_lost(error),
            _ => false,
        }
    }
}

pub(super) type CallResult<T> = Result<T, Failure>;

/// Turns a failure into a message for people. Passwords never appear: the target holds
/// only the address, user and database.
pub(super) fn explain(target: &Target, deadline: Duration, failure: &Failure) -> String {
    let addr = &target.addr;
    let (step, error) = match failure {
        Failure::Told(text) => return text.clone(),
        Failure::Answer { step, detail } => {
            return format!("ops store at {addr}: {step}: {detail}");
        }
        Failure::Driver { step, error } => (*step, error),
    };
    let who = format!("user {} on database {}", target.user, target.database);
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        let (msg, sqlstate) = (db.message(), code.code());
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            return format!(
                "ops store at {addr}: login refused for {who}: {msg} (SQLSTATE {sqlstate}) — check the user in the [ops_store] url, the password reference and pg_hba.conf"
            );
        }
        let hint = if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            format!(
                " — {who} needs to read and write mastop's tables (and, until the schema exists, CREATE on the schema)"
            )
        } else if *code == SqlState::QUERY_CANCELED {
            format!(
                " — cancelled by statement_timeout ({}): the ops database is overloaded or the query waited on a lock",
                humantime::format_duration(deadline)
            )
        } else if *code == SqlState::LOCK_NOT_AVAILABLE {
            " — another session holds a lock mastop needs; try again".to_string()
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            " — check the database name in the [ops_store] url (the database must exist)"
                .to_string()
        } else if *code == SqlState::TOO_MANY_CONNECTIONS {
            " — every connection slot on the ops database is taken".to_string()
        } else if *code == SqlState::UNDEFINED_TABLE {
            " — mastop's tables are missing; restart mastop so it can recreate the schema"
                .to_string()
        } else if *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::ADMIN_SHUTDOWN {
            " — the ops database is starting up or shutting down".to_string()
        } else {
            String::new()
        };
        return format!("ops store at {addr}: {step} failed: {msg} (SQLSTATE {sqlstate}){hint}");
    }
    if let Some(hint) = crate::net::postgres::explain(error, target.tls_ca.as_deref()) {
        return format!("ops store at {addr}: {step} failed: {hint}");
    }
    if error.is_closed() {
        return format!(
            "ops store at {addr}: {step} failed: the connection was closed (server restart or network) — the next call reconnects"
        );
    }
    let what = if step == "connect" {
        format!("ops store: connect to {addr} as {who}")
    } else {
        format!("ops store at {addr}: {step}")
    };
    if let Some(io) = io_cause(error) {
        let hint = network_hint(io, "the [ops_store] url").unwrap_or_else(|| io.to_string());
        return format!("{what} failed: {hint}");
    }
    format!("{what} failed: {}", error_chain(error))
}

/// The session is gone (server restart, terminated backend, cut network), as opposed to a
/// server that answered with an error.
pub(super) fn connection_lost(error: &tokio_postgres::Error) -> bool {
    error.is_closed()
        || io_cause(error).is_some()
        || matches!(error.code(), Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN)
}
