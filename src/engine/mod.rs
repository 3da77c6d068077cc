//! The engine: built once from the config and the command line, it is the only place that
//! assembles the sources, the fleet with the operator's thresholds, the session and its
//! role, the action runtime, the inventory and the stores. The console, `snapshot`,
//! `check` and every other command take these from here and build none of them
//! themselves, so no front end can come to judge the fleet differently from another.
//!
//! In the demo (and its drill) the engine swaps the backends for the simulation and the
//! stores for a sandbox of their own: a simulated action is audited and handed over in the
//! sandbox, never in the operator's real audit log, shift log or ops store.

pub mod alerts;
pub mod logs;
pub mod poll;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::actions::executor::DemoLedger;
use crate::actions::runtime::Runtime;
use crate::actions::store::local::LocalStore;
use crate::actions::{AuditLog, OpsStore, Pipeline, Role, Session};
use crate::config::{Config, OpsStoreConfig};
use crate::handoff::Shift;
use crate::inventory::Inventory;
use crate::model::Fleet;
use crate::model::fleet::ThresholdOverrides;
use crate::sources::{self, SourceSpec};

/// The simulated fleet instead of the configured one.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Demo {
    /// How far into the scripted incidents the simulation starts.
    pub at: Duration,
    /// The training drill: one incident to resolve with a runbook, then a handoff.
    pub drill: bool,
}

/// What the command line adds to the config.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    /// `--readonly`: shadow, whatever the config says.
    pub readonly: bool,
    pub demo: Option<Demo>,
}

/// Where this run keeps what it writes.
#[derive(Clone, Debug)]
pub struct Places {
    /// The local audit log (JSON Lines).
    pub audit: PathBuf,
    /// Local locks, freeze and approvals when there is no shared store.
    pub state: PathBuf,
    /// The local shift log and handoff reports; `None` when this machine has no data
    /// directory.
    pub handoffs: Option<PathBuf>,
    /// The shared ops store, when configured (never in the demo).
    pub ops_store: Option<OpsStoreConfig>,
}

impl Places {
    /// The operator's real files, as the config and XDG directories say.
    pub fn real(cfg: &Config) -> Places {
        Places {
            audit: cfg
                .audit
                .file
                .clone()
                .or_else(AuditLog::default_path)
                .unwrap_or_else(|| PathBuf::from("mastop-audit.jsonl")),
            state: LocalStore::default_dir().unwrap_or_else(|| PathBuf::from("mastop-state")),
            handoffs: crate::handoff::store::local::LocalHandoffs::default_dir(),
            ops_store: cfg.ops_store.clone(),
        }
    }

    /// The demo's sandbox: a directory of its own beside the real data (or in the temp
    /// directory when there is no data directory), and no shared store.
    pub fn sandbox() -> Places {
        let dir = crate::paths::data_dir()
            .map(|d| d.join("demo"))
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("mastop-demo-{}", nix::unistd::getuid()))
            });
        Places {
            audit: dir.join("audit.jsonl"),
            state: dir.clone(),
            handoffs: Some(dir.join("handoff")),
            ops_store: None,
        }
    }
}

pub struct Engine {
    config: Config,
    demo: Option<Demo>,
    session: Session,
    places: Places,
    /// The demo's record of simulated actions, which the simulated fleet reacts to.
    ledger: Option<Arc<Mutex<DemoLedger>>>,
    /// When the run started, for the demo's clock.
    started: (Instant, SystemTime),
    /// One SSH master per host, shared by the host poll and the log readers.
    masters: Arc<sources::host::masters::Masters>,
}

impl Engine {
    pub fn new(config: Config, options: Options) -> Engine {
        let demo = options.demo;
        let session = Session::current(
            role(&config, options.readonly, demo.is_some()),
            options.readonly,
        );
        let places = match demo {
            Some(_) => Places::sandbox(),
            None => Places::real(&config),
        };
        Engine {
            ledger: demo.map(|_| Arc::new(Mutex::new(DemoLedger::default()))),
            config,
            demo,
            session,
            places,
            started: (Instant::now(), SystemTime::now()),
            masters: Arc::default(),
        }
    }

    /// Puts the engine's stores somewhere else (tests, and the drill's own sandbox).
    pub fn with_places(mut self, places: Places) -> Engine {
        self.places = places;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn demo(&self) -> Option<Demo> {
        self.demo
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn places(&self) -> &Places {
        &self.places
    }

    /// The demo's ledger of simulated actions, shared with the simulated fleet.
    pub fn ledger(&self) -> Option<&Arc<Mutex<DemoLedger>>> {
        self.ledger.as_ref()
    }

    /// Looks up the operator's Tailscale login (bounded by
    /// [`identity::DEADLINE`](crate::inventory::identity::DEADLINE)), so audit records,
    /// locks and approvals carry it. `None` without a tailnet.
    pub async fn identify(&mut self) -> Option<String> {
        let login = crate::inventory::identity::login_or_none(
            &self.config.inventory.identity_socket(),
            crate::inventory::identity::DEADLINE,
        )
        .await;
        self.session.tailscale_login = login.clone();
        login
    }

    /// The operator's thresholds, with each figure's direction filled in from its kind.
    pub fn thresholds(&self) -> ThresholdOverrides {
        threshold_overrides(&self.config)
    }

    /// Every source to poll: the configured backends, or the simulation.
    pub fn sources(&self) -> Vec<SourceSpec> {
        self.sources_sharing().0
    }

    /// [`Engine::sources`], with the spawner that hosts found later by discovery share
    /// with the configured ones (none in the demo).
    pub fn sources_sharing(&self) -> (Vec<SourceSpec>, Option<sources::host::HostSpawner>) {
        let cadence = self.config.defaults.cadence;
        match (self.demo, &self.ledger) {
            (Some(demo), Some(ledger)) if demo.drill => (
                crate::demo::drill_specs(
                    cadence,
                    self.started.0,
                    self.started.1,
                    Arc::clone(ledger),
                ),
                None,
            ),
            (Some(demo), Some(ledger)) => (
                crate::demo::specs_with(cadence, self.started.0, demo.at, Arc::clone(ledger)),
                None,
            ),
            (Some(demo), None) => (crate::demo::specs(cadence, self.started.0, demo.at), None),
            (None, _) => {
                let (specs, hosts) =
                    sources::build_sharing_masters(&self.config, Arc::clone(&self.masters));
                (specs, Some(hosts))
            }
        }
    }

    /// The fleet before any poll, judged by the operator's thresholds. The demo's comes
    /// with its past already filled in, so trends are drawn from the first frame.
    pub fn fleet_for(&self, specs: &[SourceSpec]) -> Fleet {
        let mut fleet =
            poll::fleet_of(specs, self.thresholds()).with_alert_rules(self.alert_rules());
        if let Some(demo) = self.demo {
            prefill_demo_history(
                &mut fleet,
                demo.at,
                self.config.defaults.cadence,
                SystemTime::now(),
            );
        }
        fleet
    }

    /// Every source polled once, each within its deadline, judged by the operator's
    /// thresholds: what `check`, `snapshot` and the command-line catalog see.
    pub async fn poll_once(&self) -> Fleet {
        let fleet = match self.demo {
            Some(demo) => {
                let now = SystemTime::now();
                poll::fleet_from(
                    crate::demo::readings_at(demo.at, now),
                    now,
                    self.config.defaults.cadence,
                    self.thresholds(),
                )
            }
            None => poll::poll_once(self.sources(), self.thresholds()).await,
        };
        fleet.with_alert_rules(self.alert_rules())
    }

    /// The last hour of every figure Prometheus has a series for, for `fleet`'s components:
    /// from the first enabled `[[prometheus]]`, none in the demo (its past is simulated).
    pub fn backfill(&self, fleet: &Fleet) -> Option<sources::prometheus::backfill::Backfill> {
        use sources::prometheus::backfill::{Backfill, mappings_for};
        if self.demo.is_some() {
            return None;
        }
        let config = self.config.prometheus.iter().find(|p| p.enabled)?;
        let service = match sources::prometheus::service(config) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no backfill");
                return None;
            }
        };
        let mappings = mappings_for(fleet);
        if mappings.is_empty() {
            return None;
        }
        Some(Backfill {
            service,
            mappings,
            rules: self.alert_rules(),
            known: crate::model::alerts::Known::new(
                fleet.components().iter().map(|c| (&c.meta.id, c.meta.kind)),
            ),
            end: SystemTime::now(),
            deadline: BACKFILL_DEADLINE,
        })
    }

    /// How alerts are tied to components and count in their health: `[alerts]`, and every
    /// name and address the configured fleet is known by.
    pub fn alert_rules(&self) -> crate::model::alerts::AlertRules {
        let mut rules = alerts::alert_rules(&self.config);
        if self.demo.is_some() {
            // The demo's alerts name its simulated hosts, never the config's.
            rules.addresses = crate::demo::alert_addresses();
        }
        rules
    }

    /// The guarded-action pipeline: the shared ops store when configured (never in the
    /// demo), else a local one, and the local audit log.
    pub fn pipeline(&self) -> Pipeline {
        let audit = AuditLog::new(self.places.audit.clone());
        let (store, lock_ttl, approval_ttl): (Arc<dyn OpsStore>, _, _) =
            match &self.places.ops_store {
                Some(ops) => (
                    Arc::new(crate::store::Deferred::new(ops.clone())),
                    ops.lock_ttl,
                    ops.approval_ttl,
                ),
                None => (
                    Arc::new(LocalStore::new(self.places.state.clone(), audit.clone())),
                    Duration::from_secs(120),
                    Duration::from_secs(900),
                ),
            };
        Pipeline::new(self.session.clone(), store, audit, lock_ttl, approval_ttl)
    }

    /// The action runtime: the pipeline and, for an on-call session only, the executors.
    pub fn actions(&self) -> Runtime {
        Runtime::new(self.pipeline(), &self.config, self.ledger.clone())
    }

    /// This console's shift: the `[handoff]` zone, the local shift log, the shared store.
    pub fn shift(&self) -> Result<Shift, String> {
        let dir =
            self.places.handoffs.clone().ok_or(
                "cannot find a data directory for the shift log: set HOME or XDG_DATA_HOME",
            )?;
        Shift::open(
            &self.config,
            self.session.clone(),
            dir,
            self.places.ops_store.as_ref(),
        )
    }

    /// The runbooks the operator may run: shipped, then their own.
    pub fn runbooks(&self) -> crate::runbooks::Library {
        crate::runbooks::load_library(&self.config)
    }

    /// The hosts runbook steps may address: the simulated ones in the demo.
    pub fn runbook_hosts(&self) -> crate::runbooks::Inventory {
        match self.demo {
            Some(_) => crate::runbooks::Inventory::demo(),
            None => crate::runbooks::Inventory::from_config(&self.config),
        }
    }

    /// The inventory for the first frame: the config's hosts (or the demo's), before any
    /// discovery has answered.
    pub fn inventory_at_start(&self, now: SystemTime) -> Inventory {
        match self.demo {
            Some(_) => crate::demo::inventory(now),
            None => Inventory::from_config(&self.config.hosts, self.config.inventory.discovers()),
        }
    }

    /// Background discovery, when the config asks for it (never in the demo).
    pub fn discovery(&self) -> Option<crate::inventory::discover::Plan> {
        (self.demo.is_none() && self.config.inventory.discovers()).then(|| {
            crate::inventory::discover::Plan {
                hosts: self.config.hosts.clone(),
                config: self.config.inventory.clone(),
            }
        })
    }

    /// One discovery, now.
    pub async fn discover(&self) -> Inventory {
        crate::inventory::discover::discover(&self.config.hosts, &self.config.inventory).await
    }
}

/// A backfill that has not finished by then is given up: live polls have filled in.
const BACKFILL_DEADLINE: Duration = Duration::from_secs(20);

/// The role for this run: the config's, lowered by `--readonly`. The demo acts only on its
/// own simulation, so it runs as on-call unless `--readonly` asks otherwise.
fn role(cfg: &Config, readonly: bool, demo: bool) -> Option<Role> {
    match (readonly, demo) {
        (true, _) => Some(Role::Shadow),
        (false, true) => Some(Role::Oncall),
        (false, false) => cfg.role,
    }
}

/// Config threshold overrides with each figure's direction filled in from its kind.
pub fn threshold_overrides(cfg: &Config) -> ThresholdOverrides {
    let mut out = ThresholdOverrides::new();
    for (kind, figures) in &cfg.thresholds {
        let Some(specs) = sources::figure_specs(kind) else {
            continue;
        };
        for (key, t) in figures {
            if let Some(spec) = specs.iter().find(|s| s.key == key) {
                out.entry(kind.clone()).or_default().insert(
                    key.clone(),
                    crate::model::Threshold {
                        warn: t.warn,
                        crit: t.crit,
                        direction: spec.direction,
                    },
                );
            }
        }
    }
    out
}

/// Gives the demo a past, so trends and charts are drawn from the first frame instead of
/// filling in over minutes: the last minutes at the poll's cadence (what sparklines show),
/// and before them the rest of one whole script at a coarser step (what charts show). The
/// simulation is a pure function of time, so the past is exact; before the script's start
/// it is the previous cycle's end.
fn prefill_demo_history(fleet: &mut Fleet, at: Duration, cadence: Duration, now: SystemTime) {
    let cadence = cadence.max(Duration::from_millis(500));
    let recent = cadence * crate::model::history::HISTORY_LEN as u32;
    let coarse = cadence.max(DEMO_PAST_STEP);
    let older = (recent.as_millis()..crate::demo::CYCLE.as_millis())
        .step_by(
            usize::try_from(coarse.as_millis())
                .unwrap_or(usize::MAX)
                .max(1),
        )
        .skip(1)
        .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)));
    let mut backs: Vec<Duration> = older
        .chain((1..=crate::model::history::HISTORY_LEN as u32).map(|k| cadence * k))
        .collect();
    backs.sort_unstable_by(|a, b| b.cmp(a));
    for back in backs {
        // Before the script's start, the previous cycle: the simulation repeats, though
        // its noise does not, so only the past that needs it is taken from there.
        let Some(t) = at
            .checked_sub(back)
            .or_else(|| (at + crate::demo::CYCLE).checked_sub(back))
        else {
            continue;
        };
        for (meta, reading) in crate::demo::readings_at(t, now - back) {
            fleet.apply(&meta.id, poll::answered(now - back, cadence), Some(reading));
        }
    }
}

/// How far apart the demo's older past is laid, beyond the cadence-spaced recent minutes.
const DEMO_PAST_STEP: Duration = Duration::from_secs(5);
