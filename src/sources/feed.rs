//! Latest-wins delivery of source results to the UI: one `watch` slot per source and one
//! shared `Notify`, so a slow screen never queues stale snapshots and a fast source never
//! floods memory.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::model::{ComponentId, Reading, SourceStatus};

#[derive(Debug, Clone)]
pub struct Update {
    pub status: SourceStatus,
    pub reading: Option<Arc<dyn Reading>>,
}

pub struct Feed {
    slots: Vec<(ComponentId, watch::Receiver<Update>)>,
    notify: Arc<Notify>,
}

/// The sending half handed to one source task.
pub struct Publisher {
    tx: watch::Sender<Update>,
    notify: Arc<Notify>,
}

impl Publisher {
    pub fn publish(&self, update: Update) {
        self.tx.send_replace(update);
        self.notify.notify_one();
    }
}

impl Feed {
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            notify: Arc::new(Notify::new()),
        }
    }

    pub fn add(&mut self, id: ComponentId, initial: Update) -> Publisher {
        let (tx, rx) = watch::channel(initial);
        self.slots.push((id, rx));
        Publisher {
            tx,
            notify: Arc::clone(&self.notify),
        }
    }

    /// Resolves when at least one source has published since the last `drain`.
    pub async fn changed(&self) {
        self.notify.notified().await;
    }

    /// Takes every update published since the last call, at most one per source.
    pub fn drain(&mut self) -> Vec<(ComponentId, Update)> {
        let mut out = Vec::new();
        for (id, rx) in &mut self.slots {
            if rx.has_changed().unwrap_or(false) {
                out.push((id.clone(), rx.borrow_and_update().clone()));
            }
        }
        out
    }
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}
