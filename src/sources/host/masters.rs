//! One SSH master connection per host for the whole process: the host poll and the log
//! readers of a console take their channels from the same master, so opening a unit's log
//! on a polled host costs a channel on a connection that is already up, not a handshake.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use openssh::Session;

use super::ssh::{Connector, SshError, close_in_background};

/// The masters of one console (or one command), by host name. Cheap to share.
#[derive(Default)]
pub struct Masters {
    by_host: Mutex<HashMap<String, Arc<Master>>>,
}

impl Masters {
    /// The slot of `host`'s master, made on first use.
    pub fn of(&self, host: &str) -> Arc<Master> {
        let mut by_host = self.by_host.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(by_host.entry(host.to_string()).or_default())
    }
}

/// One host's master connection, while it is up.
#[derive(Default)]
pub struct Master {
    current: Mutex<Option<Arc<Session>>>,
    /// Held while a connection is being made, so two users never make two.
    opening: tokio::sync::Mutex<()>,
}

impl Master {
    /// The connection now up, if one is.
    pub fn current(&self) -> Option<Arc<Session>> {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The connection now up, or a new one made with `connector`.
    pub async fn connect(&self, connector: &Connector) -> Result<Arc<Session>, SshError> {
        if let Some(up) = self.current() {
            return Ok(up);
        }
        let _opening = self.opening.lock().await;
        if let Some(up) = self.current() {
            return Ok(up);
        }
        let fresh = Arc::new(connector.connect().await?);
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Forgets `broken` if it is still the current connection; it is closed once its last
    /// user lets go. A connection someone else has replaced meanwhile is left alone.
    pub fn discard(&self, broken: Arc<Session>) {
        {
            let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &broken)) {
                *current = None;
            }
        }
        if let Ok(session) = Arc::try_unwrap(broken) {
            close_in_background(session);
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        let current = self
            .current
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(session) = current.and_then(|s| Arc::try_unwrap(s).ok()) {
            close_in_background(session);
        }
    }
}
