//! The host source: each poll reads one raw sample (over SSH or from node_exporter), and the
//! reading is computed from it and the previous one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::Semaphore;

use super::checks::HostChecks;
use super::drift::{DriftBoard, Report};
use super::log_signatures::SignatureWatch;
use super::masters::{Master, Masters};
use super::prometheus::PrometheusHosts;
use super::sample::{self, Sample};
use super::ssh::{Connector, SshErrorKind};
use super::{node_exporter, script};
use crate::config::{Defaults, HostConfig, MetricsVia, SshConfig};
use crate::logs::signatures::Signatures;
use crate::model::{ComponentId, ComponentMeta};
use crate::net::service::{Service, ServiceSpec};
use crate::sources::{PollError, PollResult, Source, SourceSpec, exposition};

/// A metrics page larger than this is not node_exporter (or is badly misconfigured).
const MAX_METRICS: usize = 16 * 1024 * 1024;
/// The share of the poll's deadline the page gets, so the error can say what stalled
/// before the scheduler gives up on the whole poll.
const OWN_SHARE: f64 = 0.9;
/// The share of the poll's deadline the journal read for signatures gets, once a minute.
const SIGNATURE_SHARE: f64 = 0.4;

/// Every configured host's source, sharing one bound on concurrent SSH handshakes.
pub fn specs(hosts: &[HostConfig], ssh: &SshConfig, defaults: &Defaults) -> Vec<SourceSpec> {
    let spawner = HostSpawner::new(ssh, defaults);
    hosts.iter().map(|host| spawner.spec(host)).collect()
}

/// Makes host sources that all share one bound on concurrent SSH handshakes, so hosts
/// found by discovery while the console runs count against the same `max_concurrent` as
/// the configured ones.
#[derive(Clone)]
pub struct HostSpawner {
    ssh: SshConfig,
    defaults: Defaults,
    handshakes: Arc<Semaphore>,
    /// The Prometheus hosts with `metrics = "prometheus"` are read from, shared by all.
    prometheus: Option<Arc<PrometheusHosts>>,
    /// Where SSH hosts compare `.env.production` and the deployed Mastodon.
    drift: Arc<DriftBoard>,
    /// The known log signatures SSH hosts count in their journal (or why they cannot).
    signatures: Result<Arc<Signatures>, String>,
    /// The console's SSH masters, shared with its log readers.
    masters: Arc<Masters>,
}

impl HostSpawner {
    pub fn new(ssh: &SshConfig, defaults: &Defaults) -> Self {
        Self {
            ssh: ssh.clone(),
            defaults: *defaults,
            handshakes: Arc::new(Semaphore::new(ssh.max_concurrent.max(1))),
            prometheus: None,
            drift: Arc::default(),
            signatures: Ok(Arc::new(Signatures::shipped())),
            masters: Arc::default(),
        }
    }

    /// Takes each SSH host's master connection from `masters`, which the console's log
    /// readers share.
    pub fn with_masters(mut self, masters: Arc<Masters>) -> Self {
        self.masters = masters;
        self
    }

    /// The signatures SSH hosts count in their journal: the shipped ones and the config's,
    /// or why the config's cannot be used.
    pub fn with_log_signatures(mut self, signatures: Result<Signatures, String>) -> Self {
        self.signatures = signatures.map(Arc::new);
        self
    }

    /// Hosts read from Prometheus share one refresh of this one.
    pub fn with_prometheus(mut self, hosts: Arc<PrometheusHosts>) -> Self {
        self.prometheus = Some(hosts);
        self
    }

    pub fn spec(&self, host: &HostConfig) -> SourceSpec {
        if host.metrics_via(&self.defaults) != MetricsVia::Prometheus {
            let schedule = host.schedule(&self.defaults);
            let source = HostSource::new(
                host,
                &self.ssh,
                schedule.deadline,
                Arc::clone(&self.handshakes),
            )
            .with_drift_board(Arc::clone(&self.drift))
            .with_log_signatures(host, self.signatures.clone())
            .with_master(self.masters.of(&host.name));
            return spec_with(host, &self.defaults, Box::new(source));
        }
        let schedule = host.schedule(&self.defaults);
        let source = match &self.prometheus {
            Some(feed) => HostSource::from_prometheus(host, Arc::clone(feed), schedule.deadline),
            None => HostSource::unavailable(
                host,
                schedule.deadline,
                "`metrics = \"prometheus\"` but no [[prometheus]] is enabled".into(),
            ),
        };
        spec_with(host, &self.defaults, Box::new(source))
    }
}

pub fn spec(
    host: &HostConfig,
    ssh: &SshConfig,
    defaults: &Defaults,
    handshakes: Arc<Semaphore>,
) -> SourceSpec {
    let schedule = host.schedule(defaults);
    spec_with(
        host,
        defaults,
        Box::new(HostSource::new(host, ssh, schedule.deadline, handshakes)),
    )
}

fn spec_with(host: &HostConfig, defaults: &Defaults, source: Box<HostSource>) -> SourceSpec {
    let schedule = host.schedule(defaults);
    let mut tags = host.tags.clone();
    tags.extend(host.roles.iter().map(|r| format!("role:{r}")));
    SourceSpec {
        meta: ComponentMeta {
            id: ComponentId::new(super::KIND, &host.name),
            kind: super::KIND,
            region: host.region.clone(),
            tags,
        },
        schedule,
        enabled: host.enabled,
        source,
    }
}

enum Reader {
    Ssh {
        connector: Box<Connector>,
        /// Shared with the log readers of the same host, when the console hands it over.
        master: Arc<Master>,
    },
    NodeExporter {
        service: Box<Result<Service, String>>,
    },
    /// The shared refresh, and the names the host's series may carry as `instance`.
    Prometheus {
        feed: Arc<PrometheusHosts>,
        names: Vec<String>,
    },
    /// Why this host cannot be read at all.
    Unavailable(String),
}

pub struct HostSource {
    reader: Reader,
    expected_units: Vec<String>,
    mounts: HashMap<String, String>,
    roles: Vec<String>,
    production: bool,
    previous: Option<Sample>,
    /// The sample before `previous`, which rates are computed against: a sample read twice
    /// (Prometheus has not scraped since) gives the same rates, not none.
    prior: Option<Sample>,
    /// Set while a poll runs: still set at the next poll means the scheduler dropped the
    /// last one at its deadline, and its connection cannot be trusted.
    in_flight: bool,
    deadline: Duration,
    /// How long a suspect master connection gets to prove it is alive.
    check_budget: Duration,
    name: String,
    /// Mastodon's checkout on the host, read by the SSH script.
    live_dir: String,
    /// Shared with the other SSH hosts of the console, so drift can be compared.
    drift: Arc<DriftBoard>,
    /// Known log signatures in the journal, counted on a slower tier (SSH hosts only).
    log_signatures: Option<SignatureWatch>,
}

impl HostSource {
    pub fn new(
        host: &HostConfig,
        ssh: &SshConfig,
        deadline: Duration,
        handshakes: Arc<Semaphore>,
    ) -> Self {
        let reader = match host.metrics.unwrap_or_default() {
            MetricsVia::Ssh => Reader::Ssh {
                // ssh gives up a little before the poll's deadline, so its own (clearer)
                // error wins over "no answer within".
                connector: Box::new(Connector::new(host, ssh, deadline.mul_f64(0.8), handshakes)),
                master: Arc::default(),
            },
            MetricsVia::NodeExporter => Reader::NodeExporter {
                service: Box::new(node_exporter_service(host)),
            },
            MetricsVia::Prometheus => Reader::Unavailable(
                "hosts read from Prometheus are made by the host spawner".into(),
            ),
        };
        Self::with_reader(host, reader, deadline)
    }

    /// A host whose node_exporter series are read from Prometheus through `feed`.
    pub fn from_prometheus(
        host: &HostConfig,
        feed: Arc<PrometheusHosts>,
        deadline: Duration,
    ) -> Self {
        let mut names = vec![host.name.clone()];
        if host.address != host.name {
            names.push(host.address.clone());
        }
        Self::with_reader(host, Reader::Prometheus { feed, names }, deadline)
    }

    fn unavailable(host: &HostConfig, deadline: Duration, why: String) -> Self {
        Self::with_reader(host, Reader::Unavailable(why), deadline)
    }

    fn with_reader(host: &HostConfig, reader: Reader, deadline: Duration) -> Self {
        HostSource {
            reader,
            expected_units: host.expected_units(),
            mounts: host.mounts.clone(),
            roles: host.roles.clone(),
            production: host.production,
            previous: None,
            prior: None,
            in_flight: false,
            deadline,
            check_budget: deadline / 4,
            name: host.name.clone(),
            live_dir: host.mastodon_dir.clone(),
            drift: Arc::default(),
            log_signatures: None,
        }
    }

    /// Counts `signatures` in the journal of the host's `log_units` once a minute, over
    /// the poll's connection. Only hosts read over SSH have a journal to read.
    pub fn with_log_signatures(
        mut self,
        host: &HostConfig,
        signatures: Result<Arc<Signatures>, String>,
    ) -> Self {
        if matches!(self.reader, Reader::Ssh { .. }) {
            self.log_signatures = SignatureWatch::new(host, signatures);
        }
        self
    }

    /// Reads over `master`, the host's connection shared with its log readers.
    pub fn with_master(mut self, shared: Arc<Master>) -> Self {
        if let Reader::Ssh { master, .. } = &mut self.reader {
            *master = shared;
        }
        self
    }

    /// Compares this host with the others on `board` (every SSH host of one console).
    pub fn with_drift_board(mut self, board: Arc<DriftBoard>) -> Self {
        board.join(&self.name);
        self.drift = board;
        self
    }

    async fn poll_once(&mut self) -> PollResult {
        let cut_off = std::mem::replace(&mut self.in_flight, true);
        if cut_off
            && let Reader::Ssh { master, .. } = &self.reader
            && let Some(suspect) = master.current()
        {
            // A poll cut off at its deadline may have left the master hung, or only slow (a
            // loaded host). A quick check keeps a live master: reconnecting every slow host
            // would add a handshake storm to whatever made it slow.
            match tokio::time::timeout(self.check_budget, suspect.check()).await {
                Ok(Ok(())) => {}
                _ => master.discard(suspect),
            }
        }
        let current = match &mut self.reader {
            Reader::Ssh { connector, master } => {
                let salt = self.drift.salt();
                let mut sample = read_over_ssh(
                    connector,
                    master,
                    &[salt.clone(), self.live_dir.clone()],
                    &self.expected_units,
                    self.deadline,
                )
                .await?;
                if let Some(facts) = sample.facts.as_mut() {
                    facts.salt = salt;
                }
                if let (Some(watch), Some(live)) = (self.log_signatures.as_mut(), master.current())
                    && watch.due(tokio::time::Instant::now())
                {
                    watch
                        .read(connector, &live, self.deadline.mul_f64(SIGNATURE_SHARE))
                        .await;
                }
                sample
            }
            Reader::NodeExporter { service } => {
                let service = service
                    .as_mut()
                    .as_mut()
                    .map_err(|e| PollError::Failed(e.clone()))?;
                read_node_exporter(service, self.deadline.mul_f64(OWN_SHARE)).await?
            }
            Reader::Prometheus { feed, names } => {
                let by = tokio::time::Instant::now() + self.deadline.mul_f64(OWN_SHARE);
                let snapshot = feed.latest(by).await.map_err(PollError::Failed)?;
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                snapshot.sample_for(&names).map_err(PollError::Failed)?
            }
            Reader::Unavailable(why) => return Err(PollError::Failed(why.clone())),
        };
        self.in_flight = false;
        let advanced = self
            .previous
            .as_ref()
            .is_none_or(|p| p.clock_s != current.clock_s);
        if advanced {
            self.prior = self.previous.replace(current);
        }
        let Some(current) = self.previous.as_ref() else {
            return Err(PollError::Failed("no sample".into()));
        };
        let mut reading = sample::reading(
            self.prior.as_ref(),
            current,
            &self.expected_units,
            &self.mounts,
        );
        reading.roles.clone_from(&self.roles);
        reading.production = self.production;
        if let Some(watch) = &self.log_signatures {
            watch.apply(&mut reading);
        }
        if let Some(facts) = current.facts.as_ref() {
            let mut roles = self.roles.clone();
            roles.sort();
            self.drift.report(
                &self.name,
                &facts.salt,
                Report {
                    roles,
                    env: facts.env.clone(),
                    version: facts.version.clone(),
                    revision: facts.revision.clone(),
                },
            );
            reading.checks = HostChecks::from_facts(facts, self.drift.drift_for(&self.name));
        }
        // The hashes were for the comparison only: they are not kept past this poll.
        if let Some(facts) = self.previous.as_mut().and_then(|s| s.facts.as_mut()) {
            facts.env.clear();
        }
        Ok(Arc::new(reading))
    }
}

fn node_exporter_service(host: &HostConfig) -> Result<Service, String> {
    let url = host
        .node_exporter_url
        .as_deref()
        .ok_or_else(|| format!("host {}: no node_exporter_url", host.name))?;
    Service::new(ServiceSpec {
        url,
        tls_ca: host.node_exporter_tls_ca.as_deref(),
        password: host.node_exporter_password.clone(),
        bearer_token: host.node_exporter_bearer_token.clone(),
        max_body: MAX_METRICS,
    })
    .map_err(|e| format!("host {}: node_exporter_url: {e}", host.name))
}

async fn read_node_exporter(service: &mut Service, budget: Duration) -> Result<Sample, PollError> {
    let at = format!("node_exporter at {}", service.base.shown());
    let by = tokio::time::Instant::now() + budget;
    let auth = service
        .authorization(&at)
        .await
        .map_err(PollError::Failed)?;
    let answer = service
        .get("", &auth, by)
        .await
        .map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
    match answer.status {
        200 => {}
        401 | 403 => {
            service.refused();
            return Err(PollError::Denied(format!(
                "{at}: answered `{}` — check the user in node_exporter_url and node_exporter_password, or node_exporter_bearer_token",
                answer.status_line
            )));
        }
        _ if answer.location.is_some() => {
            return Err(PollError::Failed(format!(
                "{at}: answered {}",
                answer.status_text()
            )));
        }
        _ => {
            return Err(PollError::Failed(format!(
                "{at}: answered `{}`",
                answer.status_line
            )));
        }
    }
    let text = String::from_utf8(answer.body)
        .map_err(|_| PollError::Failed(format!("{at}: the page is not UTF-8 text")))?;
    let page = exposition::parse(&text);
    let sample =
        node_exporter::sample(&page).map_err(|e| PollError::Failed(format!("{at}: {e}")))?;
    if let Some(skipped) = &sample.skipped_lines {
        tracing::debug!(source = %at, %skipped, "unreadable metrics lines");
    }
    Ok(sample)
}

async fn read_over_ssh(
    connector: &Connector,
    master: &Master,
    leading: &[String],
    units: &[String],
    deadline: Duration,
) -> Result<Sample, PollError> {
    // The session stays in the shared slot while in use: if the scheduler drops this
    // future at the deadline, the master connection survives for the next poll to check.
    let reused = master.current().is_some();
    let mut session = master.connect(connector).await.map_err(refused)?;
    let argv = poll_command_with(leading, units, deadline);
    let mut result = connector.run(&session, &argv).await;
    if reused && result.is_err() {
        // The master went away since the last poll (idle exit, host reboot): one fresh try.
        master.discard(session);
        session = master.connect(connector).await.map_err(refused)?;
        result = connector.run(&session, &argv).await;
    }
    let finished = match result {
        Ok(f) => f,
        Err(e) => {
            master.discard(session);
            return Err(refused(e));
        }
    };
    script::parse(&finished.stdout).map_err(|e| {
        let stderr = crate::sanitize::sanitize_truncated(finished.stderr.trim(), 160);
        let also = if stderr.is_empty() {
            String::new()
        } else {
            format!(" (stderr: {stderr})")
        };
        PollError::Failed(format!("ssh {}: {e}{also}", connector.host()))
    })
}

/// `timeout N sh -c SCRIPT mastop-poll UNIT…`: the script is fixed text, the units its
/// arguments. A poll the console gave up on must not keep running on the host (a hung
/// systemctl, a slow /proc on a thrashing box), so the host ends it at the same deadline.
pub fn poll_command(units: &[String], deadline: Duration) -> Vec<String> {
    let leading = [String::new(), super::mastodon::DEFAULT_LIVE_DIR.to_string()];
    poll_command_with(&leading, units, deadline)
}

/// [`poll_command`] with the script's leading arguments: the salt for `.env.production`'s
/// hashes and Mastodon's live directory.
fn poll_command_with(leading: &[String], units: &[String], deadline: Duration) -> Vec<String> {
    let mut argv = vec![
        "timeout".to_string(),
        "--kill-after=1".to_string(),
        deadline.as_secs().max(1).to_string(),
        "sh".to_string(),
        "-c".to_string(),
        script::SCRIPT.to_string(),
        script::SCRIPT_NAME.to_string(),
    ];
    argv.extend(leading.iter().cloned());
    argv.extend(units.iter().cloned());
    argv
}

/// A key or authentication problem will not fix itself on the next try: shown as denied.
fn refused(e: super::ssh::SshError) -> PollError {
    match e.kind {
        SshErrorKind::UnknownHostKey | SshErrorKind::ChangedHostKey | SshErrorKind::AuthFailed => {
            PollError::Denied(e.message)
        }
        _ => PollError::Failed(e.message),
    }
}

impl Source for HostSource {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        Box::pin(self.poll_once())
    }
}
