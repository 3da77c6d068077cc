//! Runbooks: written-down procedures (TOML files) that mastop expands into guarded actions.
//!
//! ```text
//! file ──parse──► Runbook ──expand(values, fleet)──► Plan ──engine──► pipeline, step by step
//! ```
//!
//! - [`file`]: the format and its checks, with file, line and key in every error.
//! - [`params`]: typed parameters; values are checked before anything is built.
//! - [`plan`]: expansion into the exact actions (one per host for SSH steps).
//! - [`engine`]: runs a plan through the pipeline, with waits, health gates, pause and abort.
//! - [`library`]: the shipped runbooks and the instance's own.

pub mod describe;
pub mod engine;
pub mod file;
pub mod library;
pub mod model;
pub mod params;
pub mod plan;
pub mod template;

pub use engine::{Control, Event, RunEnd, Summary};
pub use library::{Library, load_library};
pub use model::Runbook;
pub use plan::{ExpandError, Mode, Plan, PlannedStep, Wait, Work, expand};

use crate::config::Config;

/// What a runbook can be expanded against: the hosts it may select and the components
/// (`postgres/primary`, `sidekiq/main`) its SQL and Redis steps may name.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub hosts: Vec<InventoryHost>,
    pub components: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InventoryHost {
    pub name: String,
    pub address: String,
    pub roles: Vec<String>,
    pub tags: Vec<String>,
}

impl Inventory {
    /// The configured fleet: enabled `[[host]]` entries and every Postgres, Redis and
    /// Sidekiq endpoint.
    pub fn from_config(cfg: &Config) -> Inventory {
        let hosts = cfg
            .hosts
            .iter()
            .filter(|h| h.enabled)
            .map(|h| InventoryHost {
                name: h.name.clone(),
                address: h.address.clone(),
                roles: h.roles.clone(),
                tags: h.tags.clone(),
            })
            .collect();
        let mut components = Vec::new();
        for (kind, list) in [
            (crate::sources::postgres::KIND, &cfg.postgres),
            (crate::sources::redis::KIND, &cfg.redis),
            (crate::sources::sidekiq::KIND, &cfg.sidekiq),
        ] {
            for ep in list.iter().filter(|e| e.enabled) {
                components.push(format!("{kind}/{}", ep.name));
            }
        }
        Inventory { hosts, components }
    }

    /// The demo's simulated fleet: its hosts and edge nodes by their `role-…` tags, and
    /// its data stores.
    pub fn demo() -> Inventory {
        let mut inventory = Inventory::default();
        for meta in crate::demo::components() {
            let id = meta.id.to_string();
            let Some((kind, name)) = id.split_once('/') else {
                continue;
            };
            if kind == "host" || kind == "edge" {
                inventory.hosts.push(InventoryHost {
                    name: name.to_string(),
                    address: format!("{name}.demo.internal"),
                    roles: meta
                        .tags
                        .iter()
                        .filter_map(|t| t.strip_prefix("role-").map(str::to_string))
                        .collect(),
                    tags: meta.tags.clone(),
                });
            } else {
                inventory.components.push(id);
            }
        }
        inventory
    }
}
