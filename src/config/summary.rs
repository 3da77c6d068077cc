//! What `mastop config check` says about a valid config: every section it read, so the
//! operator sees what mastop will watch and how, not only that the file parsed.

use std::path::Path;

use super::hosts::MetricsVia;
use super::types::{Config, EndpointConfig};
use super::urls::mask_url;

/// Entries named per section before the rest are counted.
const NAMED: usize = 6;

/// One line per section, the first saying the config is OK and counting the components.
pub fn summary(cfg: &Config, path: Option<&Path>, env_overrides: &[String]) -> Vec<String> {
    let origin = path.map_or_else(
        || "no config file (built-in defaults)".to_string(),
        |p| p.display().to_string(),
    );
    let mut lines = vec![format!(
        "config OK: {}: {} postgres, {} redis, {} sidekiq, {} pgbouncer, {} hosts, {} edges, {} elasticsearch, {} streaming; keymap {}, theme {}",
        clean(&origin),
        cfg.postgres.len(),
        cfg.redis.len(),
        cfg.sidekiq.len(),
        cfg.pgbouncer.len(),
        cfg.hosts.len(),
        cfg.edges.len(),
        cfg.elasticsearch.len(),
        cfg.streaming.len(),
        clean(&cfg.ui.keymap),
        clean(&cfg.ui.theme),
    )];
    let mut line = |section: &str, text: String| lines.push(format!("  {section:<14} {text}"));
    line(
        "role",
        match cfg.role {
            Some(super::Role::Oncall) => "on-call (may run guarded actions)".into(),
            _ => "shadow (read-only)".into(),
        },
    );
    line(
        "defaults",
        format!(
            "poll every {}, deadline {}",
            duration(cfg.defaults.cadence),
            duration(cfg.defaults.deadline)
        ),
    );
    for (kind, list) in [
        ("postgres", &cfg.postgres),
        ("redis", &cfg.redis),
        ("sidekiq", &cfg.sidekiq),
        ("pgbouncer", &cfg.pgbouncer),
        ("elasticsearch", &cfg.elasticsearch),
        ("streaming", &cfg.streaming),
        ("web", &cfg.web),
        ("prometheus", &cfg.prometheus),
        ("alertmanager", &cfg.alertmanager),
    ] {
        line(kind, named(list.iter().map(|ep| endpoint(ep, cfg))));
    }
    let ssh_hosts = cfg
        .hosts
        .iter()
        .filter(|h| h.metrics_via(&cfg.defaults) == MetricsVia::Ssh)
        .count();
    line(
        "hosts",
        named(cfg.hosts.iter().map(|h| {
            let via = match h.metrics_via(&cfg.defaults) {
                MetricsVia::Ssh => "ssh",
                MetricsVia::NodeExporter => "node_exporter",
                MetricsVia::Prometheus => "prometheus",
            };
            let off = if h.enabled { "" } else { ", disabled" };
            format!("{} ({via}{off})", clean(&h.name))
        })),
    );
    if !cfg.hosts.is_empty() {
        let known_hosts = cfg.ssh.known_hosts.as_ref().map_or_else(
            || "~/.ssh/known_hosts".to_string(),
            |p| clean(&p.display().to_string()),
        );
        line(
            "ssh",
            format!(
                "{ssh_hosts} hosts over ssh, host keys from {known_hosts}, at most {} handshakes at once",
                cfg.ssh.max_concurrent
            ),
        );
    }
    line(
        "edges",
        named(cfg.edges.iter().map(|e| {
            format!(
                "{} ({} as {})",
                clean(&e.name),
                clean(&e.address),
                clean(&e.hostname)
            )
        })),
    );
    let mut discovery = Vec::new();
    if let Some(ts) = cfg.inventory.tailscale.as_ref().filter(|t| t.enabled) {
        discovery.push(format!(
            "tailscale (peers tagged {})",
            clean(&ts.require_tags.join(", "))
        ));
    }
    if let Some(ansible) = &cfg.inventory.ansible {
        discovery.push(match &ansible.file {
            Some(file) => format!("ansible ({})", clean(&file.display().to_string())),
            None => "ansible (command)".to_string(),
        });
    }
    line(
        "inventory",
        if discovery.is_empty() {
            "[[host]] entries only".to_string()
        } else {
            format!(
                "{}, every {}",
                discovery.join(", "),
                duration(cfg.inventory.refresh())
            )
        },
    );
    line(
        "runbooks",
        format!(
            "{}, {} more directories",
            if cfg.runbooks.shipped {
                "shipped"
            } else {
                "shipped ones hidden"
            },
            cfg.runbooks.dirs.len()
        ),
    );
    line(
        "handoff",
        format!(
            "zone {}, shift {}, {} people",
            clean(cfg.handoff.zone.as_deref().unwrap_or("UTC")),
            duration(cfg.handoff.shift),
            cfg.handoff.people.len()
        ),
    );
    line(
        "ops store",
        match &cfg.ops_store {
            Some(ops) => format!(
                "{} (locks last {}, approvals {})",
                mask_url(&ops.url),
                duration(ops.lock_ttl),
                duration(ops.approval_ttl)
            ),
            None => "none: locks, approvals and freeze are this machine's own".to_string(),
        },
    );
    line("live", live(cfg));
    line(
        "audit",
        cfg.audit.file.as_ref().map_or_else(
            || "$XDG_DATA_HOME/mastop/audit.jsonl".to_string(),
            |p| clean(&p.display().to_string()),
        ),
    );
    let mut overridden: Vec<String> = cfg
        .thresholds
        .iter()
        .flat_map(|(kind, figures)| figures.keys().map(move |f| format!("{kind}.{f}")))
        .map(|s| clean(&s))
        .collect();
    overridden.sort();
    line(
        "thresholds",
        if overridden.is_empty() {
            "built-in".to_string()
        } else {
            format!("{} overridden: {}", overridden.len(), overridden.join(", "))
        },
    );
    if !env_overrides.is_empty() {
        lines.push(format!(
            "overridden by: {}",
            env_overrides
                .iter()
                .map(|n| clean(n))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    lines
}

/// Where the fleet comes from, and whether `watch` would start with this file.
fn live(cfg: &Config) -> String {
    match cfg.live.from {
        super::LiveFrom::Production => {
            "from production: this console polls the backends above itself".to_string()
        }
        super::LiveFrom::OpsStore => {
            let mut out = "from the ops store: draws the room `mastop collect` publishes, \
                           contacting no backend"
                .to_string();
            let access = super::production_access(cfg);
            if !access.is_empty() {
                // Said here too: the watching console refuses such a file at start.
                out.push_str(&format!(
                    "; refused at start while the file also reaches production ({})",
                    named(access.into_iter())
                ));
            }
            out
        }
    }
}

fn endpoint(ep: &EndpointConfig, cfg: &Config) -> String {
    let mut out = format!("{} {}", clean(&ep.name), mask_url(&ep.url));
    let schedule = ep.schedule(&cfg.defaults);
    if ep.cadence.is_some() {
        out.push_str(&format!(" every {}", duration(schedule.cadence)));
    }
    if ep.write_url.is_some() {
        out.push_str(" +write");
    }
    if !ep.enabled {
        out.push_str(" (disabled)");
    }
    out
}

fn named(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.len() {
        0 => "none".to_string(),
        n if n <= NAMED => items.join(", "),
        n => format!("{} and {} more", items[..NAMED].join(", "), n - NAMED),
    }
}

fn duration(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn clean(text: &str) -> String {
    crate::sanitize::sanitize_truncated(text, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_is_summarised() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mastop.toml"))
                .expect("example");
        let (cfg, _) = super::super::load_str(&text, "example", &[]).expect("valid");
        let lines = summary(&cfg, Some(Path::new("/x/mastop.toml")), &[]);
        let all = lines.join("\n");
        assert!(lines[0].starts_with("config OK: /x/mastop.toml: 2 postgres, 2 redis"));
        for section in [
            "role",
            "defaults",
            "postgres",
            "redis",
            "sidekiq",
            "pgbouncer",
            "hosts",
            "ssh",
            "edges",
            "elasticsearch",
            "streaming",
            "inventory",
            "runbooks",
            "handoff",
            "ops store",
            "live",
            "audit",
            "thresholds",
        ] {
            assert!(
                lines.iter().any(|l| l.trim_start().starts_with(section)),
                "{section} in\n{all}"
            );
        }
        assert!(all.contains("cdn-fremont-1 (node_exporter)"), "{all}");
        assert!(
            all.contains("fremont-1 (203.0.113.10 as hachyderm.io)"),
            "{all}"
        );
        assert!(all.contains("2 overridden"), "{all}");
        assert!(all.contains("from production"), "{all}");
    }

    #[test]
    fn a_watching_config_says_so_and_whether_it_would_be_refused() {
        let watching =
            "[live]\nfrom = \"ops_store\"\n[ops_store]\nurl = \"postgres://ops@db/mastop_ops\"\n";
        let (cfg, _) = super::super::load_str(watching, "t.toml", &[]).expect("valid");
        let all = summary(&cfg, None, &[]).join("\n");
        assert!(all.contains("from the ops store"), "{all}");
        assert!(!all.contains("refused"), "{all}");
        let mixed = format!("{watching}[[redis]]\nname = \"cache\"\nurl = \"redis://r:6379/0\"\n");
        let (cfg, _) = super::super::load_str(&mixed, "t.toml", &[]).expect("valid");
        let all = summary(&cfg, None, &[]).join("\n");
        assert!(
            all.contains(
                "refused at start while the file also reaches production ([[redis]] cache)"
            ),
            "{all}"
        );
    }
}
