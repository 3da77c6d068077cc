//! `[[host]]` entries and the `[ssh]` table: the machines under Mastodon and how to reach them.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::locate::Seg;
use super::secret::SecretRef;
use super::types::{Defaults, de_opt_duration};

/// How a host's metrics are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsVia {
    /// One fixed read-only command over SSH per poll (the default).
    #[default]
    Ssh,
    /// A Prometheus node_exporter's `/metrics`, for hosts where polling over SSH is not
    /// allowed. Actions on such a host still need SSH.
    NodeExporter,
    /// node_exporter's series as the instance's Prometheus holds them: one set of queries
    /// per refresh answers for every such host. Actions still need SSH.
    Prometheus,
}

/// One machine, polled over SSH (the default) or through its node_exporter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Short unique name, e.g. `db-primary-1`, `cdn-fremont-1`.
    pub name: String,
    /// DNS name or IP address to connect to (a Tailscale name works).
    pub address: String,
    /// What runs there, in the `tag:role-…` vocabulary: `mastodon-web`, `mastodon-sidekiq`,
    /// `mastodon-streaming`, `postgres-primary`, `redis`, `edge-cdn`…
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// systemd units that must be running here, on top of those implied by `roles`. A
    /// trailing `*` matches a family (`mastodon-sidekiq-*`).
    #[serde(default)]
    pub units: Vec<String>,
    /// The unit that holds this host's firewall. A host without a running firewall is
    /// critical: Hachyderm's Redis sat open for a week after nftables did not come back.
    #[serde(default = "default_firewall_unit")]
    pub firewall_unit: String,
    /// Mount point → what lives there (`"/var/lib/postgresql/archive" = "WAL archive"`),
    /// named in alerts because a full WAL volume stops the primary.
    #[serde(default)]
    pub mounts: HashMap<String, String>,
    /// `ssh`, `node_exporter` or `prometheus`; unset, `[defaults] host_metrics` decides
    /// (else `ssh`).
    #[serde(default)]
    pub metrics: Option<MetricsVia>,
    /// `http(s)://[user@]host:9100/metrics`; required when `metrics = "node_exporter"`.
    #[serde(default)]
    pub node_exporter_url: Option<String>,
    /// The CA that signed node_exporter's certificate (its `tls_server_config`), trusted
    /// instead of the system roots for an `https://` url.
    #[serde(default)]
    pub node_exporter_tls_ca: Option<PathBuf>,
    /// The password of the user in `node_exporter_url` (its `basic_auth_users`), as a secret
    /// reference.
    #[serde(default)]
    pub node_exporter_password: Option<SecretRef>,
    /// A bearer token sent to node_exporter (a proxy in front of it), as a secret reference.
    #[serde(default)]
    pub node_exporter_bearer_token: Option<SecretRef>,
    /// Mastodon's checkout on this host (its `live` directory), where the poll reads the
    /// deployed version and revision and hashes `.env.production`.
    #[serde(default = "default_live_dir")]
    pub mastodon_dir: String,
    /// SSH port when not 22 (or not what `~/.ssh/config` says).
    #[serde(default)]
    pub port: Option<u16>,
    /// SSH user when not `[ssh] user` (or what `~/.ssh/config` says).
    #[serde(default)]
    pub user: Option<String>,
    /// Actions on a production host need the host's name typed to confirm.
    #[serde(default = "yes")]
    pub production: bool,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub cadence: Option<Duration>,
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub deadline: Option<Duration>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Read logs from this directory of journal files (`journalctl --directory`) instead of
    /// the host's own journal: a container's bind-mounted journal. An absolute plain path.
    #[serde(default)]
    pub journal_directory: Option<String>,
    /// The units whose journal is read for known log signatures (a slow read, once a
    /// minute, over the poll's own SSH connection). Unset: the units its roles imply and
    /// its own `units`; `[]` reads none.
    #[serde(default)]
    pub log_units: Option<Vec<String>>,
}

fn default_live_dir() -> String {
    "/home/mastodon/live".into()
}

impl HostConfig {
    /// An enabled production host polled over SSH with the default schedule, as a
    /// `[[host]]` table with only `name` and `address` would give.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
            roles: Vec::new(),
            region: String::new(),
            provider: String::new(),
            tags: Vec::new(),
            units: Vec::new(),
            firewall_unit: default_firewall_unit(),
            mounts: HashMap::new(),
            metrics: None,
            node_exporter_url: None,
            node_exporter_tls_ca: None,
            node_exporter_password: None,
            node_exporter_bearer_token: None,
            mastodon_dir: default_live_dir(),
            port: None,
            user: None,
            production: true,
            cadence: None,
            deadline: None,
            enabled: true,
            journal_directory: None,
            log_units: None,
        }
    }

    pub fn schedule(&self, defaults: &Defaults) -> crate::model::Schedule {
        crate::model::Schedule {
            cadence: self.cadence.unwrap_or(defaults.cadence),
            deadline: self.deadline.unwrap_or(defaults.deadline),
        }
    }

    /// How this host's metrics are read: its own `metrics`, else the fleet's default.
    pub fn metrics_via(&self, defaults: &Defaults) -> MetricsVia {
        self.metrics.or(defaults.host_metrics).unwrap_or_default()
    }

    /// The units this host must run: those its roles imply, its own `units`, and the
    /// firewall, without repeats, in that order.
    pub fn expected_units(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let implied = self.roles.iter().flat_map(|r| role_units(r).iter());
        let own = self.units.iter().map(|u| with_suffix(u));
        let firewall = (!self.firewall_unit.is_empty()).then(|| with_suffix(&self.firewall_unit));
        for unit in implied.map(|u| (*u).to_string()).chain(own).chain(firewall) {
            if !out.contains(&unit) {
                out.push(unit);
            }
        }
        out
    }
}

impl HostConfig {
    /// The units whose journal is counted for known log signatures: `log_units` when set,
    /// else the units its roles imply and its own `units` (the firewall logs nothing of
    /// Mastodon's), without repeats.
    pub fn signature_units(&self) -> Vec<String> {
        if let Some(units) = &self.log_units {
            let mut out: Vec<String> = Vec::new();
            for unit in units.iter().map(|u| with_suffix(u)) {
                if !out.contains(&unit) {
                    out.push(unit);
                }
            }
            return out;
        }
        let mut out: Vec<String> = Vec::new();
        let implied = self.roles.iter().flat_map(|r| role_units(r).iter());
        let own = self.units.iter().map(|u| with_suffix(u));
        for unit in implied.map(|u| (*u).to_string()).chain(own) {
            if !out.contains(&unit) {
                out.push(unit);
            }
        }
        out
    }
}

/// The units a role implies. Sidekiq and streaming are often split into several units
/// (per queue, per port), so those are families.
pub fn role_units(role: &str) -> &'static [&'static str] {
    match role {
        "mastodon-web" => &["mastodon-web.service"],
        "mastodon-sidekiq" => &["mastodon-sidekiq*.service"],
        "mastodon-streaming" => &["mastodon-streaming*.service"],
        "edge" | "edge-cdn" | "nginx" => &["nginx.service"],
        "postgres" | "postgres-primary" | "postgres-replica" => &["postgresql*.service"],
        "pgbouncer" => &["pgbouncer.service"],
        "redis" => &["redis*.service"],
        "elasticsearch" => &["elasticsearch.service"],
        _ => &[],
    }
}

fn with_suffix(unit: &str) -> String {
    if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    }
}

/// How every SSH connection is made.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// A known_hosts file of the console's own, instead of `~/.ssh/known_hosts`.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// An ssh_config file to use instead of `~/.ssh/config`.
    #[serde(default)]
    pub config_file: Option<PathBuf>,
    /// A private key to use (and only it); without one the agent and ssh's defaults apply.
    #[serde(default)]
    pub identity_file: Option<PathBuf>,
    #[serde(default)]
    pub user: Option<String>,
    /// At most this many SSH handshakes run at once, however large the fleet.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// An idle master connection exits after this long, so a console that was killed
    /// leaves no ssh processes behind for longer than this.
    #[serde(default = "default_control_persist", deserialize_with = "de_duration")]
    pub control_persist: Duration,
    /// Where the control sockets live. Socket paths are limited to ~100 bytes, so keep it
    /// short; the default is `$XDG_RUNTIME_DIR`, else `/tmp`.
    #[serde(default)]
    pub control_dir: Option<PathBuf>,
}

impl Default for SshConfig {
    fn default() -> Self {
        Self {
            known_hosts: None,
            config_file: None,
            identity_file: None,
            user: None,
            max_concurrent: default_max_concurrent(),
            control_persist: default_control_persist(),
            control_dir: None,
        }
    }
}

fn default_max_concurrent() -> usize {
    16
}

fn default_control_persist() -> Duration {
    Duration::from_secs(60)
}

fn default_firewall_unit() -> String {
    "nftables.service".into()
}

fn yes() -> bool {
    true
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    super::load::parse_duration(&text).map_err(serde::de::Error::custom)
}

use super::error::quote;
use super::rules::{self, Problem};

/// Whether `unit` is a systemd unit name (optionally ending in a `*` family), so that it
/// can be passed to `systemctl` as one argument with no surprises.
pub fn is_unit_name(unit: &str) -> bool {
    let name = unit.strip_suffix(".service").unwrap_or(unit);
    !unit.is_empty()
        && !unit.starts_with('-')
        && unit.len() <= 256
        && !name.is_empty()
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\*".contains(c))
}

/// Problems in `[[host]]` and `[ssh]`, with where they are and how to fix them.
pub(super) fn validate(
    hosts: &[HostConfig],
    ssh: &SshConfig,
    defaults: &Defaults,
    prometheus: bool,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (i, host) in hosts.iter().enumerate() {
        let at = |k: &str| vec![Seg::Key("host".into()), Seg::Index(i), Seg::Key(k.into())];
        rules::name("host", &host.name, at("name"), &mut seen, &mut problems);
        if host.address.is_empty()
            || host.address.starts_with('-')
            || host.address.chars().any(|c| c.is_whitespace() || c == '@')
        {
            problems.push((
                at("address"),
                format!("`{}` is not a host address", quote(&host.address)),
                Some("a DNS name or IP address; put the user in `user`".into()),
            ));
        }
        if let Some(user) = &host.user
            && !is_plain_word(user)
        {
            problems.push((
                at("user"),
                format!("`{}` is not a user name", quote(user)),
                Some("letters, digits, `-`, `_` and `.`".into()),
            ));
        }
        for unit in host.log_units.iter().flatten() {
            if !is_unit_name(unit) {
                problems.push((
                    at("log_units"),
                    format!("`{}` is not a systemd unit name", quote(unit)),
                    Some("e.g. `mastodon-web.service` or `mastodon-sidekiq-*`".into()),
                ));
            }
        }
        for unit in host
            .units
            .iter()
            .chain(std::iter::once(&host.firewall_unit))
        {
            if (unit.is_empty() && std::ptr::eq(unit, &host.firewall_unit)) || is_unit_name(unit) {
                continue;
            }
            let key = if std::ptr::eq(unit, &host.firewall_unit) {
                "firewall_unit"
            } else {
                "units"
            };
            problems.push((
                at(key),
                format!("`{}` is not a systemd unit name", quote(unit)),
                Some("e.g. `mastodon-sidekiq-pull.service` or `mastodon-sidekiq-*`".into()),
            ));
        }
        if let Some(dir) = &host.journal_directory
            && (!dir.starts_with('/')
                || dir.split('/').any(|p| p == "..")
                || !dir
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c)))
        {
            problems.push((
                at("journal_directory"),
                format!("`{}` is not a journal directory", quote(dir)),
                Some("an absolute path of letters, digits and `/-_.`, e.g. `/var/log/journal/remote`".into()),
            ));
        }
        if host.metrics_via(defaults) == MetricsVia::Prometheus && !prometheus {
            problems.push((
                at("metrics"),
                "`metrics = \"prometheus\"` needs a `[[prometheus]]` to read from".into(),
                Some(
                    "add a [[prometheus]] entry, or read this host over ssh or node_exporter"
                        .into(),
                ),
            ));
        }
        match (host.metrics_via(defaults), &host.node_exporter_url) {
            (MetricsVia::NodeExporter, None) => problems.push((
                at("node_exporter_url"),
                "`metrics = \"node_exporter\"` needs `node_exporter_url`".into(),
                Some("e.g. `node_exporter_url = \"http://10.0.0.5:9100/metrics\"`".into()),
            )),
            (_, Some(url)) => match crate::net::service::BaseUrl::parse(url) {
                Err(e) => problems.push((
                    at("node_exporter_url"),
                    e,
                    Some(
                        "e.g. `http://host:9100/metrics`, or https:// with `node_exporter_tls_ca`"
                            .into(),
                    ),
                )),
                Ok(base) => {
                    use crate::net::service::{Setting, option_problems};
                    let found = option_problems(
                        &base,
                        host.node_exporter_tls_ca.is_some(),
                        host.node_exporter_password.is_some(),
                        host.node_exporter_bearer_token.is_some(),
                    );
                    for (setting, problem, fix) in found {
                        let key = match setting {
                            Setting::TlsCa => "node_exporter_tls_ca",
                            Setting::Password => "node_exporter_password",
                            Setting::BearerToken => "node_exporter_bearer_token",
                        };
                        problems.push((at(key), problem.into(), Some(fix.into())));
                    }
                }
            },
            (_, None) => {
                for (key, set) in [
                    ("node_exporter_tls_ca", host.node_exporter_tls_ca.is_some()),
                    (
                        "node_exporter_password",
                        host.node_exporter_password.is_some(),
                    ),
                    (
                        "node_exporter_bearer_token",
                        host.node_exporter_bearer_token.is_some(),
                    ),
                ] {
                    if set {
                        problems.push((
                            at(key),
                            format!("`{key}` is only used with `node_exporter_url`"),
                            Some("add `node_exporter_url`, or remove it".into()),
                        ));
                    }
                }
            }
        }
        rules::schedule(
            &at,
            host.cadence,
            host.deadline,
            rules::MIN_HOST_CADENCE,
            &mut problems,
        );
        for (key, text) in [("region", &host.region), ("provider", &host.provider)] {
            rules::plain_text(at(key), text, &mut problems);
        }
        for (t, tag) in host.tags.iter().chain(&host.roles).enumerate() {
            let (key, index) = if t < host.tags.len() {
                ("tags", t)
            } else {
                ("roles", t - host.tags.len())
            };
            let mut path = at(key);
            path.push(Seg::Index(index));
            rules::plain_text(path, tag, &mut problems);
        }
    }
    let at = |k: &str| vec![Seg::Key("ssh".into()), Seg::Key(k.into())];
    if ssh.max_concurrent == 0 {
        problems.push((
            at("max_concurrent"),
            "`max_concurrent = 0` would never connect to any host".into(),
            Some("use 16 (the default) or more for large fleets".into()),
        ));
    }
    if ssh.control_persist < Duration::from_secs(1) {
        problems.push((
            at("control_persist"),
            "`control_persist` under 1s closes the connection between polls".into(),
            Some("use a minute (the default): longer than the host cadence".into()),
        ));
    }
    if let Some(user) = &ssh.user
        && !is_plain_word(user)
    {
        problems.push((
            at("user"),
            format!("`{}` is not a user name", quote(user)),
            Some("letters, digits, `-`, `_` and `.`".into()),
        ));
    }
    problems
}

fn is_plain_word(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_imply_units_and_the_firewall_is_always_expected() {
        let mut host = HostConfig::new("web-1", "10.0.0.1");
        host.roles = vec!["mastodon-web".into(), "mastodon-sidekiq".into()];
        host.units = vec!["mastodon-web".into(), "node-exporter".into()];
        assert_eq!(
            host.expected_units(),
            vec![
                "mastodon-web.service",
                "mastodon-sidekiq*.service",
                "node-exporter.service",
                "nftables.service",
            ]
        );
        host.firewall_unit = String::new();
        assert!(!host.expected_units().iter().any(|u| u.contains("nftables")));
    }

    #[test]
    fn signature_units_default_to_the_roles_and_own_units_and_log_units_replace_them() {
        let mut host = HostConfig::new("web-1", "10.0.0.1");
        host.roles = vec!["mastodon-web".into(), "redis".into()];
        host.units = vec!["mastodon-web".into(), "node-exporter".into()];
        assert_eq!(
            host.signature_units(),
            vec![
                "mastodon-web.service",
                "redis*.service",
                "node-exporter.service"
            ]
        );
        host.log_units = Some(vec!["mastodon-web".into(), "mastodon-web.service".into()]);
        assert_eq!(host.signature_units(), vec!["mastodon-web.service"]);
        host.log_units = Some(Vec::new());
        assert!(host.signature_units().is_empty());
        host.log_units = Some(vec!["web;id".into()]);
        let problems = validate(&[host], &SshConfig::default(), &Defaults::default(), false);
        assert!(
            problems
                .iter()
                .any(
                    |(p, m, _)| super::super::locate::render_path(p).ends_with("log_units")
                        && m.contains("not a systemd unit name")
                ),
            "{problems:?}"
        );
    }

    #[test]
    fn unit_names_are_checked_before_they_reach_systemctl() {
        assert!(is_unit_name("mastodon-sidekiq-pull.service"));
        assert!(is_unit_name("mastodon-streaming@4000.service"));
        assert!(is_unit_name("mastodon-sidekiq*"));
        assert!(!is_unit_name("nginx; rm -rf /"));
        assert!(!is_unit_name("--now"));
        assert!(!is_unit_name("a b"));
        assert!(!is_unit_name(""));
    }

    #[test]
    fn broken_host_entries_are_named_precisely() {
        let mut bad = HostConfig::new("db 1", "-oProxyCommand=x");
        bad.units = vec!["nginx;reboot".into()];
        bad.metrics = Some(MetricsVia::NodeExporter);
        let mut dup = HostConfig::new("web-1", "10.0.0.2");
        dup.node_exporter_url = Some("http://10.0.0.2:9100/metrics".into());
        dup.node_exporter_tls_ca = Some("/etc/mastop/node-ca.pem".into());
        let hosts = vec![bad, HostConfig::new("web-1", "10.0.0.1"), dup];
        let ssh = SshConfig {
            max_concurrent: 0,
            ..SshConfig::default()
        };
        let problems = validate(&hosts, &ssh, &Defaults::default(), false);
        let keys: Vec<String> = problems
            .iter()
            .map(|(p, _, _)| super::super::locate::render_path(p))
            .collect();
        for expected in [
            "host[0].name",
            "host[0].address",
            "host[0].units",
            "host[0].node_exporter_url",
            "host[2].name",
            "host[2].node_exporter_tls_ca",
            "ssh.max_concurrent",
        ] {
            assert!(keys.iter().any(|k| k == expected), "{expected} in {keys:?}");
        }
        assert_eq!(problems.len(), 7, "{problems:?}");
    }

    #[test]
    fn node_exporter_over_tls_with_basic_auth_or_a_token() {
        let ssh = SshConfig::default();
        let mut host = HostConfig::new("cdn-1", "10.0.0.9");
        host.metrics = Some(MetricsVia::NodeExporter);
        host.node_exporter_url = Some("https://prometheus@10.0.0.9:9100/metrics".into());
        host.node_exporter_tls_ca = Some("/etc/mastop/node-ca.pem".into());
        host.node_exporter_password = Some(SecretRef::Env("NODE_PASSWORD".into()));
        assert!(
            validate(
                std::slice::from_ref(&host),
                &ssh,
                &Defaults::default(),
                false
            )
            .is_empty()
        );

        host.node_exporter_bearer_token = Some(SecretRef::Env("NODE_TOKEN".into()));
        let keys = |h: &HostConfig| -> Vec<String> {
            validate(std::slice::from_ref(h), &ssh, &Defaults::default(), false)
                .iter()
                .map(|(p, _, _)| super::super::locate::render_path(p))
                .collect()
        };
        assert_eq!(keys(&host), ["host[0].node_exporter_bearer_token"]);

        host.node_exporter_bearer_token = None;
        host.node_exporter_url = Some("https://10.0.0.9:9100/metrics".into());
        assert_eq!(keys(&host), ["host[0].node_exporter_password"]);

        let mut stray = HostConfig::new("db-1", "10.0.0.5");
        stray.node_exporter_tls_ca = Some("/etc/mastop/node-ca.pem".into());
        assert_eq!(keys(&stray), ["host[0].node_exporter_tls_ca"]);
    }

    #[test]
    fn a_config_file_with_hosts_loads_and_its_mistakes_are_located() {
        let good = r#"
[ssh]
known_hosts = "/etc/mastop/known_hosts"
max_concurrent = 32
control_persist = "2m"

[[host]]
name = "db-primary-1"
address = "10.0.0.5"
roles = ["postgres-primary"]
mounts = { "/var/lib/postgresql/archive" = "WAL archive" }

[[host]]
name = "cdn-fremont-1"
address = "cdn-fremont-1.tailnet.ts.net"
roles = ["edge-cdn"]
metrics = "node_exporter"
node_exporter_url = "http://cdn-fremont-1.tailnet.ts.net:9100/metrics"
production = false
"#;
        let (config, _) = crate::config::load_str(good, "mastop.toml", &[]).expect("loads");
        assert_eq!(config.ssh.max_concurrent, 32);
        assert_eq!(config.ssh.control_persist, Duration::from_secs(120));
        assert_eq!(config.hosts[1].metrics, Some(MetricsVia::NodeExporter));
        assert_eq!(
            config.hosts[0].expected_units(),
            ["postgresql*.service", "nftables.service"]
        );
        let bad = good.replace("roles = [\"edge-cdn\"]", "units = [\"nginx; reboot\"]");
        let err = crate::config::load_str(&bad, "mastop.toml", &[])
            .expect_err("a bad unit name")
            .to_string();
        assert!(err.contains("host[1].units"), "{err}");
        assert!(err.contains("is not a systemd unit name"), "{err}");
        let typo = good.replace("metrics = \"node_exporter\"", "metrics = \"snmp\"");
        assert!(crate::config::load_str(&typo, "mastop.toml", &[]).is_err());
    }
}
