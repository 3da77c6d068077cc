//! Checks of values the file format alone cannot catch, section by section. Every value is
//! judged by the same rule wherever it is written (see `rules`), and every URL is read as
//! its connection will read it (see `urls`).

use std::collections::HashSet;
use std::time::Duration;

use super::error::closest;
use super::locate::Seg;
use super::rules::{self, Problem};
use super::secret::SECRET_FORMS;
use super::types::{Config, EndpointConfig, OpsStoreConfig};
use super::urls;

/// How the URLs of a kind are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UrlKind {
    Postgres,
    Redis,
    Http,
}

pub(super) fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    ui(config, &mut problems);
    defaults(config, &mut problems);
    if let Some(ops) = &config.ops_store {
        ops_store(ops, &mut problems);
    }
    endpoints(
        "postgres",
        &config.postgres,
        UrlKind::Postgres,
        &mut problems,
    );
    super::postgres_host::validate(config, &mut problems);
    endpoints("redis", &config.redis, UrlKind::Redis, &mut problems);
    endpoints("sidekiq", &config.sidekiq, UrlKind::Redis, &mut problems);
    endpoints(
        "pgbouncer",
        &config.pgbouncer,
        UrlKind::Postgres,
        &mut problems,
    );
    super::edges::validate_edges(&config.edges, &mut problems);
    super::edges::validate_http_endpoints("elasticsearch", &config.elasticsearch, &mut problems);
    super::edges::validate_http_endpoints("streaming", &config.streaming, &mut problems);
    super::edges::validate_http_endpoints("web", &config.web, &mut problems);
    super::edges::validate_http_endpoints("prometheus", &config.prometheus, &mut problems);
    super::edges::validate_http_endpoints("alertmanager", &config.alertmanager, &mut problems);
    problems.extend(super::alerts::validate(&config.alerts));
    problems.extend(super::logs::validate(&config.logs));
    let prometheus = config.prometheus.iter().any(|p| p.enabled);
    problems.extend(super::hosts::validate(
        &config.hosts,
        &config.ssh,
        &config.defaults,
        prometheus,
    ));
    if config.defaults.host_metrics == Some(super::hosts::MetricsVia::Prometheus) && !prometheus {
        problems.push((
            vec![Seg::Key("defaults".into()), Seg::Key("host_metrics".into())],
            "`host_metrics = \"prometheus\"` needs a `[[prometheus]]` to read from".into(),
            Some("add a [[prometheus]] entry, or remove host_metrics".into()),
        ));
    }
    thresholds(config, &mut problems);
    problems.extend(super::inventory::validate(&config.inventory));
    problems.extend(super::runbooks::validate(&config.runbooks));
    problems.extend(super::handoff::validate(&config.handoff));
    problems.extend(super::live::validate(
        &config.live,
        config.ops_store.is_some(),
    ));
    problems
}

fn ui(config: &Config, problems: &mut Vec<Problem>) {
    let at = |k: &str| vec![Seg::Key("ui".into()), Seg::Key(k.into())];
    rules::file_stem(at("theme"), "theme", &config.ui.theme, problems);
    rules::file_stem(at("keymap"), "keymap", &config.ui.keymap, problems);
}

fn defaults(config: &Config, problems: &mut Vec<Problem>) {
    let at = |k: &str| vec![Seg::Key("defaults".into()), Seg::Key(k.into())];
    let d = &config.defaults;
    let before = problems.len();
    rules::schedule(
        &at,
        Some(d.cadence),
        Some(d.deadline),
        rules::MIN_CADENCE,
        problems,
    );
    let cadence_refused = problems[before..]
        .iter()
        .any(|(p, _, _)| p.last() == Some(&Seg::Key("cadence".into())));
    let hosts_on_default = config
        .hosts
        .iter()
        .filter(|h| h.enabled && h.cadence.is_none())
        .count();
    if !cadence_refused && hosts_on_default > 0 && d.cadence < rules::MIN_HOST_CADENCE {
        problems.push((
            at("cadence"),
            format!(
                "{hosts_on_default} [[host]] entries without their own cadence would poll every {}, and a host cadence under 1s costs the host more than it tells you",
                humantime::format_duration(d.cadence)
            ),
            Some("set `cadence = \"10s\"` on those hosts, or raise this to 1s or more".into()),
        ));
    }
}

fn ops_store(ops: &OpsStoreConfig, problems: &mut Vec<Problem>) {
    let at = |k: &str| vec![Seg::Key("ops_store".into()), Seg::Key(k.into())];
    if let Some((message, hint)) = check_url("ops store", &ops.url, UrlKind::Postgres, "password") {
        problems.push((at("url"), message, Some(hint)));
    }
    rules::schedule(&at, None, Some(ops.deadline), rules::MIN_CADENCE, problems);
    for (key, ttl) in [
        ("lock_ttl", ops.lock_ttl),
        ("approval_ttl", ops.approval_ttl),
    ] {
        if ttl < Duration::from_secs(1) {
            problems.push((
                at(key),
                format!("a `{key}` under 1s expires before anyone can act on it"),
                Some(if key == "lock_ttl" {
                    "use a few minutes (the default is \"2m\")".into()
                } else {
                    "use e.g. \"15m\" (the default)".into()
                }),
            ));
        }
    }
}

/// Problems in the entries of one kind: names, URLs, schedules, and keys that belong to
/// other kinds.
pub(super) fn endpoints(
    kind: &str,
    endpoints: &[EndpointConfig],
    url_kind: UrlKind,
    problems: &mut Vec<Problem>,
) {
    let mut seen = HashSet::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let at = |k: &str| vec![Seg::Key(kind.into()), Seg::Index(i), Seg::Key(k.into())];
        rules::name(kind, &ep.name, at("name"), &mut seen, problems);
        let urls = [
            ("url", "password", Some(ep.url.as_str())),
            ("write_url", "write_password", ep.write_url.as_deref()),
        ];
        for (key, password_key, url) in urls {
            let Some(url) = url else { continue };
            if let Some((message, hint)) = check_url(kind, url, url_kind, password_key) {
                problems.push((at(key), message, Some(hint)));
            }
        }
        rules::schedule(&at, ep.cadence, ep.deadline, rules::MIN_CADENCE, problems);
        rules::plain_text(at("region"), &ep.region, problems);
        for (t, tag) in ep.tags.iter().enumerate() {
            let mut path = at("tags");
            path.push(Seg::Index(t));
            rules::plain_text(path, tag, problems);
        }
        if url_kind == UrlKind::Redis && ep.tls_ca.is_some() {
            problems.push((
                at("tls_ca"),
                format!("`tls_ca` does not apply to [[{kind}]]: mastop speaks plain Redis"),
                Some("remove it; reach Redis over a private network or a TLS tunnel".into()),
            ));
        }
        if url_kind != UrlKind::Http && ep.bearer_token.is_some() {
            problems.push((
                at("bearer_token"),
                format!("`bearer_token` is for HTTP services, not [[{kind}]]"),
                Some("remove it; give the password as `password`".into()),
            ));
        }
        if kind != "postgres" {
            for (key, set) in [
                ("host", ep.host.is_some()),
                ("backup_host", ep.backup_host.is_some()),
                ("stanza", ep.stanza.is_some()),
                ("slot_wal_warn_pct", ep.slot_wal_warn_pct.is_some()),
                ("slot_wal_crit_pct", ep.slot_wal_crit_pct.is_some()),
                ("backup_full_max_age", ep.backup_full_max_age.is_some()),
                ("backup_max_age", ep.backup_max_age.is_some()),
            ] {
                if set {
                    problems.push((
                        at(key),
                        format!("`{key}` is for [[postgres]] entries, not [[{kind}]]"),
                        Some("remove it".into()),
                    ));
                }
            }
        }
        if kind != "sidekiq" && url_kind != UrlKind::Http && ep.namespace.is_some() {
            problems.push((
                at("namespace"),
                format!("`namespace` is for [[sidekiq]] entries, not [[{kind}]]"),
                Some("remove it, or move this entry to [[sidekiq]]".into()),
            ));
        }
    }
}

/// Whether `url` is a usable URL of this kind without a password in it: (problem, hint).
/// Never quotes the URL: the key and line say which one.
pub(super) fn check_url(
    kind: &str,
    url: &str,
    url_kind: UrlKind,
    password_key: &str,
) -> Option<(String, String)> {
    if let Err(p) = urls::parse(url) {
        return Some((p.message, p.hint));
    }
    if urls::carries_password(url) {
        return Some((
            "the URL contains a password".into(),
            format!("remove it from the URL and set `{password_key}`: {SECRET_FORMS}"),
        ));
    }
    let checked = match url_kind {
        UrlKind::Postgres => urls::postgres(url).map(|_| ()),
        UrlKind::Redis => urls::redis(url).map(|_| ()),
        UrlKind::Http => crate::net::service::BaseUrl::parse(url)
            .map(|_| ())
            .map_err(|message| urls::UrlProblem {
                message,
                hint: format!("write the {kind} URL as http://[user@]host:port/path, or https://…"),
            }),
    };
    checked.err().map(|p| (p.message, p.hint))
}

fn thresholds(config: &Config, problems: &mut Vec<Problem>) {
    for (kind, figures) in &config.thresholds {
        let here = |k: &str| {
            vec![
                Seg::Key("thresholds".into()),
                Seg::Key(kind.clone()),
                Seg::Key(k.into()),
            ]
        };
        let Some(specs) = crate::model::kinds::figure_specs(kind) else {
            let kinds = crate::model::kinds::KINDS;
            problems.push((
                vec![Seg::Key("thresholds".into()), Seg::Key(kind.clone())],
                format!("no component kind called `{}`", super::quote(kind)),
                Some(match closest(kind, kinds.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("kinds: {}", kinds.join(", ")),
                }),
            ));
            continue;
        };
        for (key, t) in figures {
            let Some(spec) = specs.iter().find(|s| s.key == key) else {
                let keys: Vec<&str> = specs.iter().map(|s| s.key).collect();
                problems.push((
                    here(key),
                    format!("`{kind}` has no figure called `{}`", super::quote(key)),
                    Some(match closest(key, keys.iter().copied()) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!("figures of {kind}: {}", keys.join(", ")),
                    }),
                ));
                continue;
            };
            let inverted = match spec.direction {
                crate::model::Direction::HigherIsWorse => t.warn > t.crit,
                crate::model::Direction::LowerIsWorse => t.warn < t.crit,
            };
            if inverted || !t.warn.is_finite() || !t.crit.is_finite() {
                let order = match spec.direction {
                    crate::model::Direction::HigherIsWorse => {
                        "higher is worse here, so warn must be ≤ crit"
                    }
                    crate::model::Direction::LowerIsWorse => {
                        "lower is worse here, so warn must be ≥ crit"
                    }
                };
                problems.push((
                    here(key),
                    format!("warn {} and crit {} are in the wrong order", t.warn, t.crit),
                    Some(order.into()),
                ));
            }
        }
    }
}
