//! Hosts read from the instance's Prometheus instead of each host: node_exporter's series
//! for the whole fleet in three queries per refresh, shared by every host source that
//! reads this way, turned into the same [`Sample`] the SSH script and node_exporter give,
//! so figures, rates and health are one code path.
//!
//! Prometheus sums each host's CPU seconds before answering (a thousand hosts' CPUs one by
//! one would be most of the answer), and only the unit states that matter come back: the
//! units roles imply, those configured, the firewalls, and any failed one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::node_exporter;
use super::sample::{CpuTimes, Sample};
use crate::config::{EndpointConfig, HostConfig};
use crate::model::alerts::{instance_host, kind_of_job};
use crate::net::service::Service;
use crate::sources::exposition::{Exposition, Metric};
use crate::sources::prometheus::api;

/// Series older than this (Prometheus stopped scraping, the exporter hung) are stale.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// Pseudo filesystems and virtual disks, left out at Prometheus as the SSH path leaves them.
const PSEUDO_FS: &str = "tmpfs|devtmpfs|devfs|proc|sysfs|cgroup2?|squashfs|ramfs|rootfs|nsfs|autofs|debugfs|tracefs|securityfs|pstore|bpf|efivarfs|mqueue|hugetlbfs|configfs|fusectl|binfmt_misc|fuse.lxcfs|fuse.snapfuse|devpts";
const VIRTUAL_DEVICES: &str = "(loop|ram|zram|sr|fd|nbd).*|lo";

/// The three queries of one refresh.
pub fn queries(units: &str) -> [String; 3] {
    [
        concat!(
            r#"{__name__=~"node_(load1|load5|load15|time_seconds|boot_time_seconds|uname_info|memory_(MemTotal|MemAvailable|SwapTotal|SwapFree)_bytes|pressure_(cpu|memory|io)_waiting_seconds_total)"}"#,
            r#" or label_replace(sum by (instance, job) (node_cpu_seconds_total), "mastop", "cpu_total", "", "")"#,
            r#" or label_replace(sum by (instance, job) (node_cpu_seconds_total{mode=~"idle|iowait"}), "mastop", "cpu_idle", "", "")"#,
            r#" or label_replace(count by (instance, job) (node_cpu_seconds_total{mode="idle"}), "mastop", "cpus", "", "")"#,
            r#" or label_replace(timestamp(node_time_seconds), "mastop", "scraped_at", "", "")"#,
            r#" or label_replace(up, "mastop", "up", "", "")"#,
        )
        .to_string(),
        format!(
            r#"{{__name__=~"node_filesystem_(size|free|avail)_bytes|node_filesystem_device_error", fstype!~"{PSEUDO_FS}"}}"#
        ),
        format!(
            concat!(
                r#"{{__name__=~"node_disk_(io_time_seconds|reads_completed|writes_completed)_total|node_network_(receive|transmit)_bytes_total", device!~"{devices}"}}"#,
                r#" or (node_systemd_unit_state{{name=~"{units}"}} == 1)"#,
                r#" or (node_systemd_unit_state{{state="failed"}} == 1)"#,
            ),
            devices = VIRTUAL_DEVICES,
            // A PromQL string reads backslash escapes as Go does.
            units = units.replace('\\', "\\\\")
        ),
    ]
}

/// A regex of every unit a host may be expected to run: those roles imply, those
/// configured, and the firewalls (`*` families become `.*`).
pub fn unit_regex(hosts: &[HostConfig]) -> String {
    let mut names: Vec<String> = Vec::new();
    let roles = [
        "mastodon-web",
        "mastodon-sidekiq",
        "mastodon-streaming",
        "edge",
        "postgres",
        "pgbouncer",
        "redis",
        "elasticsearch",
    ];
    let implied = roles.iter().flat_map(|r| {
        crate::config::role_units(r)
            .iter()
            .map(|u| (*u).to_string())
    });
    let configured = hosts.iter().flat_map(|h| h.expected_units());
    let firewalls = super::FIREWALL_UNITS.iter().map(|u| (*u).to_string());
    for unit in implied.chain(configured).chain(firewalls) {
        let re = regex::escape(&unit).replace("\\*", ".*");
        if !names.contains(&re) {
            names.push(re);
        }
    }
    names.join("|")
}

/// One (instance, job) pair's series: one node_exporter target as Prometheus scrapes it.
#[derive(Debug, Default)]
pub struct Target {
    pub instance: String,
    pub job: String,
    pub page: Exposition,
    cpu_total: Option<f64>,
    cpu_idle: Option<f64>,
    cpus: Option<f64>,
    pub up: Option<f64>,
    /// When Prometheus last scraped it (seconds since the epoch).
    pub scraped_at: Option<f64>,
}

impl Target {
    fn is_node_exporter(&self) -> bool {
        self.page.value("node_load1").is_some()
            || (self.page.metrics.is_empty() && kind_of_job(&self.job) == Some("host"))
    }
}

/// Every target of one refresh, found by the host part of its instance.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// When Prometheus evaluated the queries.
    pub at: f64,
    pub targets: Vec<Target>,
    /// Lowercased instance host (and its first DNS label) → targets.
    by_host: HashMap<String, Vec<usize>>,
}

/// Adds the answer of one query to the snapshot, by target.
fn add(
    snapshot: &mut Snapshot,
    index: &mut HashMap<(String, String), usize>,
    samples: Vec<api::Sample>,
) {
    for mut s in samples {
        snapshot.at = snapshot.at.max(s.at);
        let instance = s.metric.remove("instance").unwrap_or_default();
        let job = s.metric.remove("job").unwrap_or_default();
        let i = *index
            .entry((instance.clone(), job.clone()))
            .or_insert_with(|| {
                snapshot.targets.push(Target {
                    instance,
                    job,
                    ..Target::default()
                });
                snapshot.targets.len() - 1
            });
        let target = &mut snapshot.targets[i];
        match s.metric.remove("mastop").as_deref() {
            Some("cpu_total") => target.cpu_total = Some(s.value),
            Some("cpu_idle") => target.cpu_idle = Some(s.value),
            Some("cpus") => target.cpus = Some(s.value),
            Some("up") => target.up = Some(s.value),
            Some("scraped_at") => target.scraped_at = Some(s.value),
            _ => {
                let name = s.metric.remove("__name__").unwrap_or_default();
                target.page.metrics.push(Metric {
                    name,
                    labels: s.metric.into_iter().collect(),
                    value: s.value,
                });
            }
        }
    }
}

/// The three answers as one snapshot. Pure, for the benchmark and the tests.
pub fn snapshot(answers: [Vec<api::Sample>; 3]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    let mut index = HashMap::new();
    for answer in answers {
        add(&mut snapshot, &mut index, answer);
    }
    for (i, t) in snapshot.targets.iter().enumerate() {
        let host = instance_host(&t.instance);
        let first = host.split('.').next().unwrap_or(&host).to_string();
        snapshot.by_host.entry(host.clone()).or_default().push(i);
        if first != host {
            snapshot.by_host.entry(first).or_default().push(i);
        }
    }
    snapshot
}

impl Snapshot {
    /// The node_exporter target of a host known by these names (its name, its address).
    /// `Err` says why there is no usable sample: down, stale, or not scraped at all.
    pub fn sample_for(&self, names: &[&str]) -> Result<Sample, String> {
        let mut found: Vec<&Target> = Vec::new();
        for name in names {
            let key = instance_host(name);
            let first = key.split('.').next().unwrap_or(&key).to_string();
            for k in [key, first] {
                for &i in self.by_host.get(&k).into_iter().flatten() {
                    let t = &self.targets[i];
                    if t.is_node_exporter() && !found.iter().any(|f| std::ptr::eq(*f, t)) {
                        found.push(t);
                    }
                }
            }
        }
        // A target with series beats one known only by `up`.
        found.sort_by_key(|t| t.page.metrics.is_empty());
        let Some(target) = found.first() else {
            return Err(format!(
                "Prometheus has no node_exporter series for instance {}",
                names.join(" or ")
            ));
        };
        let shown = format!("{} (job {})", target.instance, target.job);
        if target.up == Some(0.0) {
            return Err(format!("Prometheus cannot scrape {shown}: up == 0"));
        }
        if target.page.metrics.is_empty() {
            return Err(format!("Prometheus holds no current series for {shown}"));
        }
        if let Some(scraped) = target.scraped_at {
            let age = self.at - scraped;
            if age > STALE_AFTER.as_secs_f64() {
                return Err(format!(
                    "the series of {shown} are stale: last scraped {} ago",
                    crate::model::figure::format_duration_secs(age.round())
                ));
            }
        }
        let cpu = match (target.cpu_total, target.cpu_idle) {
            (Some(total), Some(idle)) => Some(CpuTimes {
                busy: total - idle,
                total,
            }),
            _ => None,
        };
        let cpus = target.cpus.map_or(1, |n| n.max(1.0) as u32);
        node_exporter::sample_with_cpu(&target.page, (cpu, cpus))
            .map_err(|e| format!("{shown}: {e}"))
    }
}

/// What one refresh came to.
type Refreshed = Result<Arc<Snapshot>, String>;

/// The latest refresh, shared by every host read from one Prometheus: the first poll of a
/// cadence asks, the others take its answer.
pub struct PrometheusHosts {
    service: Result<Mutex<Service>, String>,
    queries: [String; 3],
    /// A refresh younger than this is reused.
    fresh_for: Duration,
    latest: Mutex<Option<(Instant, Refreshed)>>,
    /// Refreshes sent so far, for tests and the log.
    refreshes: std::sync::atomic::AtomicU64,
}

impl PrometheusHosts {
    pub fn new(config: &EndpointConfig, hosts: &[HostConfig], cadence: Duration) -> Self {
        PrometheusHosts {
            service: crate::sources::prometheus::service(config).map(Mutex::new),
            queries: queries(&unit_regex(hosts)),
            fresh_for: cadence / 2,
            latest: Mutex::new(None),
            refreshes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current snapshot: reused when fresh, else asked for, finished by `by`.
    pub async fn latest(&self, by: Instant) -> Result<Arc<Snapshot>, String> {
        let mut latest = self.latest.lock().await;
        if let Some((at, result)) = latest.as_ref()
            && at.elapsed() < self.fresh_for
        {
            return result.clone();
        }
        let result = self.refresh(by).await;
        *latest = Some((Instant::now(), result.clone()));
        result
    }

    async fn refresh(&self, by: Instant) -> Result<Arc<Snapshot>, String> {
        let service = self.service.as_ref().map_err(Clone::clone)?;
        let mut service = service.lock().await;
        let at = format!("prometheus at {}", service.base.shown());
        let auth = service.authorization(&at).await?;
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let service = &*service;
        let [a, b, c] = &self.queries;
        let (a, b, c) = tokio::join!(
            api::query(service, a, &auth, by),
            api::query(service, b, &auth, by),
            api::query(service, c, &auth, by),
        );
        let answers = [a, b, c].map(|r| r.map_err(|e| format!("{at}: {e}")));
        let [a, b, c] = answers;
        Ok(Arc::new(snapshot([a?, b?, c?])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alerts::Labels;

    fn sample(labels: &[(&str, &str)], value: f64) -> api::Sample {
        api::Sample {
            metric: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<Labels>(),
            at: 1_000.0,
            value,
        }
    }

    fn host(instance: &str, load: f64) -> Vec<api::Sample> {
        let l = |name: &'static str| [("__name__", name), ("instance", instance), ("job", "node")];
        vec![
            sample(&l("node_load1"), load),
            sample(&l("node_load5"), 0.5),
            sample(&l("node_load15"), 0.25),
            sample(&l("node_time_seconds"), 999.0),
            sample(&l("node_boot_time_seconds"), 100.0),
            sample(&l("node_memory_MemTotal_bytes"), 8e9),
            sample(&l("node_memory_MemAvailable_bytes"), 2e9),
            sample(
                &[
                    ("instance", instance),
                    ("job", "node"),
                    ("mastop", "cpu_total"),
                ],
                400.0,
            ),
            sample(
                &[
                    ("instance", instance),
                    ("job", "node"),
                    ("mastop", "cpu_idle"),
                ],
                300.0,
            ),
            sample(
                &[("instance", instance), ("job", "node"), ("mastop", "cpus")],
                4.0,
            ),
            sample(
                &[
                    ("instance", instance),
                    ("job", "node"),
                    ("mastop", "scraped_at"),
                ],
                998.0,
            ),
            sample(
                &[("instance", instance), ("job", "node"), ("mastop", "up")],
                1.0,
            ),
        ]
    }

    #[test]
    fn one_refresh_gives_each_host_its_own_sample() {
        let mut first = host("db-1.internal:9100", 1.5);
        first.extend(host("10.0.0.7:9100", 3.0));
        first.push(sample(
            &[
                ("instance", "db-1.internal:9187"),
                ("job", "postgres"),
                ("mastop", "up"),
            ],
            1.0,
        ));
        first.push(sample(
            &[("instance", "gone:9100"), ("job", "node"), ("mastop", "up")],
            0.0,
        ));
        let fs = vec![
            sample(
                &[
                    ("__name__", "node_filesystem_size_bytes"),
                    ("instance", "db-1.internal:9100"),
                    ("job", "node"),
                    ("mountpoint", "/"),
                    ("fstype", "ext4"),
                    ("device", "/dev/sda1"),
                ],
                100.0,
            ),
            sample(
                &[
                    ("__name__", "node_filesystem_free_bytes"),
                    ("instance", "db-1.internal:9100"),
                    ("job", "node"),
                    ("mountpoint", "/"),
                    ("fstype", "ext4"),
                    ("device", "/dev/sda1"),
                ],
                10.0,
            ),
            sample(
                &[
                    ("__name__", "node_filesystem_avail_bytes"),
                    ("instance", "db-1.internal:9100"),
                    ("job", "node"),
                    ("mountpoint", "/"),
                    ("fstype", "ext4"),
                    ("device", "/dev/sda1"),
                ],
                5.0,
            ),
        ];
        let units = vec![sample(
            &[
                ("__name__", "node_systemd_unit_state"),
                ("instance", "db-1.internal:9100"),
                ("job", "node"),
                ("name", "nftables.service"),
                ("state", "active"),
                ("type", "oneshot"),
            ],
            1.0,
        )];
        let snap = snapshot([first, fs, units]);
        let db = snap
            .sample_for(&["db-1", "db-1.internal"])
            .expect("db-1 sample");
        assert_eq!(db.load, [1.5, 0.5, 0.25]);
        assert_eq!(db.cpus, 4);
        assert_eq!(
            db.cpu,
            Some(CpuTimes {
                busy: 100.0,
                total: 400.0
            })
        );
        assert_eq!(db.uptime_s, 899.0);
        assert_eq!(db.filesystems.len(), 1);
        assert_eq!(db.filesystems[0].used_bytes, 90);
        let super::super::sample::UnitStates::Read(units) = &db.units else {
            panic!("{:?}", db.units)
        };
        assert_eq!(units[0].name, "nftables.service");
        let web = snap
            .sample_for(&["web-1", "10.0.0.7"])
            .expect("web-1 by address");
        assert_eq!(web.load[0], 3.0);
        let e = snap.sample_for(&["gone"]).unwrap_err();
        assert_eq!(e, "Prometheus cannot scrape gone:9100 (job node): up == 0");
        let e = snap.sample_for(&["nowhere"]).unwrap_err();
        assert!(
            e.contains("no node_exporter series for instance nowhere"),
            "{e}"
        );
    }

    #[test]
    fn old_series_are_stale() {
        let mut samples = host("db-1:9100", 1.0);
        for s in &mut samples {
            s.at = 2_000.0;
        }
        let snap = snapshot([samples, Vec::new(), Vec::new()]);
        let e = snap.sample_for(&["db-1"]).unwrap_err();
        assert_eq!(
            e,
            "the series of db-1:9100 (job node) are stale: last scraped 16m 42s ago"
        );
    }

    #[test]
    fn the_unit_regex_covers_roles_configured_units_and_firewalls() {
        let mut h = HostConfig::new("w", "w");
        h.units = vec!["mastodon-sidekiq-*".into(), "odd+unit.service".into()];
        let re = regex::Regex::new(&format!("^(?:{})$", unit_regex(&[h]))).expect("compiles");
        for unit in [
            "nginx.service",
            "mastodon-sidekiq-pull.service",
            "nftables.service",
            "odd+unit.service",
            "postgresql@15-main.service",
        ] {
            assert!(re.is_match(unit), "{unit}");
        }
        assert!(!re.is_match("cron.service"));
    }
}
