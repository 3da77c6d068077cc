//! Who is in the demo fleet: a Hachyderm-shaped instance with edge caches on three
//! continents and the core in one German data centre. Tags follow Hachyderm's Tailscale
//! taxonomy so tag filters behave as they would on the real thing.

use std::sync::Arc;
use std::time::Duration;

use crate::model::alerts::Silence;
use crate::model::{ComponentId, ComponentMeta, Reading};
use crate::sources::{alertmanager, edge, elasticsearch, host, postgres, redis, sidekiq};

use super::{alerts, clock, edges, hosts, search, sidekiq as sidekiq_model, stores};

/// The core's region: web, Sidekiq, databases and search all live here.
pub const CORE_REGION: &str = "eu-central";

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Model {
    Edge(&'static edges::Site),
    Host(&'static hosts::Machine),
    Sidekiq,
    Postgres(stores::PgRole),
    Redis(stores::RedisRole),
    Elasticsearch,
    Alertmanager,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    pub kind: &'static str,
    pub name: &'static str,
    pub region: &'static str,
    pub tags: &'static [&'static str],
    pub model: Model,
}

impl Member {
    pub fn meta(&self) -> ComponentMeta {
        ComponentMeta {
            id: ComponentId::new(self.kind, self.name),
            kind: self.kind,
            region: self.region.to_string(),
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// The reading this member shows at demo time `t`, with `anchor` placing it on the
    /// calendar.
    pub fn reading(&self, t: Duration, anchor: clock::Anchor) -> Arc<dyn Reading> {
        self.reading_in(t, clock::script_secs(t), anchor)
    }

    /// The reading at demo time `t` with the incident script at second `s`: counters and
    /// noise follow `t`, incidents follow `s` (a drill holds the script at a calm second).
    pub fn reading_in(&self, t: Duration, s: f64, anchor: clock::Anchor) -> Arc<dyn Reading> {
        self.reading_with(t, s, anchor, &[])
    }

    /// [`Member::reading_in`], with the silences made in this demo session's sandbox
    /// (only the Alertmanager reads them).
    pub fn reading_with(
        &self,
        t: Duration,
        s: f64,
        anchor: clock::Anchor,
        sandbox: &[Silence],
    ) -> Arc<dyn Reading> {
        match self.model {
            Model::Edge(site) => Arc::new(edges::reading(site, t, s, anchor)),
            Model::Host(machine) => Arc::new(hosts::reading(machine, t, s)),
            Model::Sidekiq => Arc::new(sidekiq_model::reading(t, s, anchor)),
            Model::Postgres(role) => Arc::new(stores::postgres(role, t, s, anchor)),
            Model::Redis(role) => Arc::new(stores::redis(role, t, s)),
            Model::Elasticsearch => Arc::new(search::reading(t, s)),
            Model::Alertmanager => Arc::new(alerts::reading(t, s, anchor, sandbox)),
        }
    }
}

const fn edge(site: &'static edges::Site) -> Member {
    Member {
        kind: edge::KIND,
        name: site.name,
        region: site.region,
        tags: &["role-edge-cdn", "provider-linode", "env-prod"],
        model: Model::Edge(site),
    }
}

const fn machine(m: &'static hosts::Machine) -> Member {
    Member {
        kind: host::KIND,
        name: m.name,
        region: CORE_REGION,
        tags: m.tags,
        model: Model::Host(m),
    }
}

const fn core(
    kind: &'static str,
    name: &'static str,
    tags: &'static [&'static str],
    model: Model,
) -> Member {
    Member {
        kind,
        name,
        region: CORE_REGION,
        tags,
        model,
    }
}

/// Every member, traffic path first (edges, hosts), then the services behind them.
pub(crate) const MEMBERS: &[Member] = &[
    edge(&edges::SITES[0]),
    edge(&edges::SITES[1]),
    edge(&edges::SITES[2]),
    edge(&edges::SITES[3]),
    machine(&hosts::MACHINES[0]),
    machine(&hosts::MACHINES[1]),
    machine(&hosts::MACHINES[2]),
    machine(&hosts::MACHINES[3]),
    machine(&hosts::MACHINES[4]),
    machine(&hosts::MACHINES[5]),
    machine(&hosts::MACHINES[6]),
    machine(&hosts::MACHINES[7]),
    core(
        sidekiq::KIND,
        "main",
        &["role-mastodon-sidekiq", "env-prod"],
        Model::Sidekiq,
    ),
    core(
        postgres::KIND,
        "primary",
        &["role-postgres-primary", "env-prod"],
        Model::Postgres(stores::PgRole::Primary),
    ),
    core(
        postgres::KIND,
        "replica",
        &["role-postgres-replica", "env-prod"],
        Model::Postgres(stores::PgRole::Replica),
    ),
    core(
        redis::KIND,
        "main",
        &["role-redis", "env-prod"],
        Model::Redis(stores::RedisRole::Main),
    ),
    core(
        redis::KIND,
        "cache",
        &["role-redis", "env-prod"],
        Model::Redis(stores::RedisRole::Cache),
    ),
    core(
        elasticsearch::KIND,
        "main",
        &["role-elasticsearch", "env-prod"],
        Model::Elasticsearch,
    ),
    core(
        alertmanager::KIND,
        "main",
        &["role-monitoring", "env-prod"],
        Model::Alertmanager,
    ),
];

/// Which components live on which demo host, as an alert's `instance` names them: the
/// demo's counterpart of the addresses a config gives.
pub(crate) const PLACES: &[(&str, &[(&str, &str)])] = &[
    ("db-1", &[(postgres::KIND, "primary")]),
    ("db-2", &[(postgres::KIND, "replica")]),
    ("redis-1", &[(redis::KIND, "main"), (redis::KIND, "cache")]),
];
