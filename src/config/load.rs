//! Reading a config: file, then `MASTOP_*` environment overrides, then validation. Every
//! problem found is reported with where it came from; nothing is silently dropped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, FileError, closest};
use super::locate::{Seg, line_col, locate, path_at, render_path};
use super::types::{Config, EndpointConfig};

/// A loaded config and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The file read, or `None` when no file exists and built-in defaults apply.
    pub path: Option<PathBuf>,
    /// Environment variables that overrode the file.
    pub env_overrides: Vec<String>,
}

/// Environment variables with the `MASTOP_` prefix that are not config keys.
const NON_CONFIG_ENV: &[&str] = &["MASTOP_LOG", "MASTOP_CONFIG"];

/// Settings the environment may not override: a variable must never turn a shadow
/// session into an on-call one.
const FILE_ONLY_ENV: &[&str] = &["MASTOP_ROLE"];

/// Loads `explicit` if given (it must exist), else the default path if it exists, else
/// built-in defaults; then applies `env` overrides (`MASTOP_UI__THEME=light`).
pub fn load(
    explicit: Option<&Path>,
    default: Option<&Path>,
    env: &[(String, String)],
) -> Result<Loaded, ConfigError> {
    let (path, text) = match (explicit, default) {
        (Some(p), _) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                FileError::new(
                    p.display().to_string(),
                    format!("cannot read config file: {e}"),
                )
                .hint("check the path given to --config")
            })?;
            (Some(p.to_path_buf()), text)
        }
        (None, Some(p)) if p.exists() => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                FileError::new(
                    p.display().to_string(),
                    format!("cannot read config file: {e}"),
                )
            })?;
            (Some(p.to_path_buf()), text)
        }
        _ => (None, String::new()),
    };
    let origin = path.as_ref().map_or_else(
        || "built-in defaults".to_string(),
        |p| p.display().to_string(),
    );
    let (config, env_overrides) = load_str(&text, &origin, env)?;
    Ok(Loaded {
        config,
        path,
        env_overrides,
    })
}

/// Parses and validates config text. `origin` names it in errors.
pub fn load_str(
    text: &str,
    origin: &str,
    env: &[(String, String)],
) -> Result<(Config, Vec<String>), ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
    let overrides: Vec<&(String, String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("MASTOP_") && !NON_CONFIG_ENV.contains(&k.as_str()))
        .collect();
    let mut applied = Vec::new();
    if !overrides.is_empty() {
        let mut doc: toml::Table =
            toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        for (name, value) in overrides {
            if FILE_ONLY_ENV.contains(&name.as_str()) {
                return Err(FileError::new(
                    env_origin(name),
                    "the role can only be set in the config file",
                )
                .key("role")
                .hint(format!(
                    "unset {name}; use --readonly to lower a session to shadow"
                ))
                .into());
            }
            let path = env_path(name);
            set_path(&mut doc, &path, env_value(value))
                .map_err(|m| FileError::new(env_origin(name), m))?;
            config = Config::deserialize_from(&doc).map_err(|e| {
                FileError::new(env_origin(name), e)
                    .key(render_path(&path))
                    .hint(format!(
                        "unset {name} or fix its value; config keys map to MASTOP_SECTION__KEY"
                    ))
            })?;
            applied.push((name.clone(), path));
        }
    }
    let errors = validate(&config);
    if errors.is_empty() {
        return Ok((config, applied.into_iter().map(|(n, _)| n).collect()));
    }
    Err(ConfigError {
        errors: errors
            .into_iter()
            .map(|(path, message, hint)| {
                let key = render_path(&path);
                let from_env = applied
                    .iter()
                    .find(|(_, p)| key.starts_with(&render_path(p)));
                let error = match from_env {
                    Some((name, _)) => FileError::new(env_origin(name), message),
                    None => FileError::new(origin, message).at(locate(text, &path)),
                };
                let error = error.key(key);
                match hint {
                    Some(h) => error.hint(h),
                    None => error,
                }
            })
            .collect(),
    })
}

impl Config {
    fn deserialize_from(doc: &toml::Table) -> Result<Config, String> {
        let text = toml::to_string(doc).map_err(|e| e.to_string())?;
        toml::from_str(&text).map_err(|e: toml::de::Error| e.message().to_string())
    }
}

fn env_origin(name: &str) -> String {
    format!("environment variable {name}")
}

/// `MASTOP_POSTGRES__0__URL` → `postgres[0].url`.
fn env_path(name: &str) -> Vec<Seg> {
    name.trim_start_matches("MASTOP_")
        .split("__")
        .map(|part| match part.parse::<usize>() {
            Ok(i) => Seg::Index(i),
            Err(_) => Seg::Key(part.to_ascii_lowercase()),
        })
        .collect()
}

/// An env value as TOML when it parses as a TOML value (`5`, `true`, `["a"]`), else a string.
fn env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(doc: &mut toml::Table, path: &[Seg], value: toml::Value) -> Result<(), String> {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return Err("the variable does not name a setting (it must end in a key)".into());
    };
    let mut table = doc;
    let mut segs = parents.iter().peekable();
    while let Some(seg) = segs.next() {
        let Seg::Key(k) = seg else {
            return Err("an index must follow a key".into());
        };
        let entry = table
            .entry(k.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match (entry, segs.peek()) {
            (toml::Value::Array(items), Some(Seg::Index(i))) => {
                let len = items.len();
                segs.next();
                match items.get_mut(*i) {
                    Some(toml::Value::Table(t)) => t,
                    _ => return Err(format!("`{k}` has {len} entries; there is no entry {i}")),
                }
            }
            (toml::Value::Table(t), _) => t,
            _ => return Err(format!("`{k}` is not a table")),
        };
    }
    table.insert(last.clone(), value);
    Ok(())
}

/// Turns a TOML/serde error into a located, hinted error.
fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> ConfigError {
    let position = e.span().map(|s| line_col(text, s.start));
    let key = e
        .span()
        .map(|s| render_path(&path_at(text, s.start)))
        .filter(|k| !k.is_empty());
    let message = e.message().trim().to_string();
    let mut error = FileError::new(origin, message.clone()).at(position);
    if let Some(k) = key {
        error = error.key(k);
    }
    if let Some(hint) = hint_for(&message) {
        error = error.hint(hint);
    }
    error.into()
}

fn hint_for(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`')?;
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        return Some(match closest(field, candidates.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None if candidates.is_empty() => "this table takes no keys".into(),
            None => format!("valid keys here: {}", candidates.join(", ")),
        });
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next()?;
        return Some(format!("add `{field} = …` to this table"));
    }
    if message.contains("duration") {
        return Some("durations are written like \"500ms\", \"2s\" or \"5m\"".into());
    }
    None
}

pub(super) type Problem = (Vec<Seg>, String, Option<String>);

const REDIS_SCHEMES: &[&str] = &["redis", "rediss", "unix", "redis+unix"];

fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    problems.extend(super::runbooks::validate(&config.runbooks));
    problems.extend(super::inventory::validate(&config.inventory));
    validate_endpoints(
        "postgres",
        &config.postgres,
        &["postgres", "postgresql"],
        &mut problems,
    );
    validate_endpoints("redis", &config.redis, REDIS_SCHEMES, &mut problems);
    validate_endpoints("sidekiq", &config.sidekiq, REDIS_SCHEMES, &mut problems);
    validate_endpoints(
        "pgbouncer",
        &config.pgbouncer,
        &["postgres", "postgresql"],
        &mut problems,
    );
    super::edges::validate_edges(&config.edges, &mut problems);
    super::edges::validate_http_endpoints("elasticsearch", &config.elasticsearch, &mut problems);
    super::edges::validate_http_endpoints("streaming", &config.streaming, &mut problems);
    super::edges::validate_http_endpoints("web", &config.web, &mut problems);
    super::edges::validate_http_endpoints("prometheus", &config.prometheus, &mut problems);
    super::edges::validate_http_endpoints("alertmanager", &config.alertmanager, &mut problems);
    problems.extend(super::alerts::validate(&config.alerts));
    let not_sidekiq = [
        ("postgres", &config.postgres),
        ("redis", &config.redis),
        ("pgbouncer", &config.pgbouncer),
    ];
    for (kind, list) in not_sidekiq {
        for (i, ep) in list.iter().enumerate() {
            if ep.namespace.is_some() {
                problems.push((
                    vec![
                        Seg::Key(kind.into()),
                        Seg::Index(i),
                        Seg::Key("namespace".into()),
                    ],
                    format!("`namespace` is for [[sidekiq]] entries, not [[{kind}]]"),
                    Some("remove it, or move this entry to [[sidekiq]]".into()),
                ));
            }
        }
    }
    let not_http = [
        ("postgres", &config.postgres),
        ("redis", &config.redis),
        ("pgbouncer", &config.pgbouncer),
        ("sidekiq", &config.sidekiq),
    ];
    for (kind, list) in not_http {
        for (i, ep) in list.iter().enumerate() {
            if ep.bearer_token.is_some() {
                problems.push((
                    vec![
                        Seg::Key(kind.into()),
                        Seg::Index(i),
                        Seg::Key("bearer_token".into()),
                    ],
                    format!("`bearer_token` is for HTTP services, not [[{kind}]]"),
                    Some("remove it; give the password as `password`".into()),
                ));
            }
        }
    }
    problems.extend(super::hosts::validate(
        &config.hosts,
        &config.ssh,
        &config.defaults,
        config.prometheus.iter().any(|p| p.enabled),
    ));
    if config.defaults.host_metrics == Some(super::hosts::MetricsVia::Prometheus)
        && !config.prometheus.iter().any(|p| p.enabled)
    {
        problems.push((
            vec![Seg::Key("defaults".into()), Seg::Key("host_metrics".into())],
            "`host_metrics = \"prometheus\"` needs a `[[prometheus]]` to read from".into(),
            Some("add a [[prometheus]] entry, or remove host_metrics".into()),
        ));
    }
    for (kind, figures) in &config.thresholds {
        let here = |k: &str| {
            vec![
                Seg::Key("thresholds".into()),
                Seg::Key(kind.clone()),
                Seg::Key(k.into()),
            ]
        };
        let Some(specs) = crate::sources::figure_specs(kind) else {
            let kinds = crate::sources::KINDS;
            problems.push((
                vec![Seg::Key("thresholds".into()), Seg::Key(kind.clone())],
                format!("no component kind called `{kind}`"),
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
                    format!("`{kind}` has no figure called `{key}`"),
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
    problems.extend(super::handoff::validate(&config.handoff));
    problems
}

pub(super) fn validate_endpoints(
    kind: &str,
    endpoints: &[EndpointConfig],
    schemes: &[&str],
    problems: &mut Vec<Problem>,
) {
    let mut seen = HashSet::new();
    for (i, ep) in endpoints.iter().enumerate() {
        let at = |k: &str| vec![Seg::Key(kind.into()), Seg::Index(i), Seg::Key(k.into())];
        if ep.name.is_empty()
            || !ep
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            problems.push((
                at("name"),
                format!("`{}` is not a usable name", ep.name),
                Some("use letters, digits, `-`, `_` and `.`".into()),
            ));
        } else if !seen.insert(ep.name.as_str()) {
            problems.push((
                at("name"),
                format!("another {kind} is already called `{}`", ep.name),
                Some("names must be unique within a kind".into()),
            ));
        }
        let urls = std::iter::once(("url", "password", Some(ep.url.as_str()))).chain(
            std::iter::once(("write_url", "write_password", ep.write_url.as_deref())),
        );
        for (key, password_key, url) in urls {
            let Some(url) = url else { continue };
            if let Some(problem) = check_url(kind, url, schemes, password_key) {
                problems.push((at(key), problem.0, Some(problem.1)));
            }
        }
        if let Some(c) = ep.cadence
            && c < Duration::from_millis(250)
        {
            problems.push((
                at("cadence"),
                "polling faster than every 250ms would load production".into(),
                Some("use \"1s\" or more".into()),
            ));
        }
        if let Some(d) = ep.deadline
            && d < Duration::from_millis(50)
        {
            problems.push((
                at("deadline"),
                "a deadline under 50ms fails on any real network".into(),
                None,
            ));
        }
    }
}

/// Whether `url` is a URL of this kind without a password in it: (problem, hint).
fn check_url(
    kind: &str,
    url: &str,
    schemes: &[&str],
    password_key: &str,
) -> Option<(String, String)> {
    match url.split_once("://") {
        Some((scheme, rest)) if schemes.contains(&scheme) => {
            let authority = rest.split(['/', '?']).next().unwrap_or("");
            let has_password = authority
                .rsplit_once('@')
                .is_some_and(|(userinfo, _)| userinfo.contains(':'));
            has_password.then(|| {
                (
                    "the URL contains a password".into(),
                    format!(
                        "remove it from the URL and set `{password_key}`: {}",
                        super::secret::SECRET_FORMS
                    ),
                )
            })
        }
        _ => Some((
            format!("`{}` is not a {kind} URL", super::secret::mask_url(url)),
            format!(
                "it must start with {}",
                schemes
                    .iter()
                    .map(|s| format!("{s}://"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )),
    }
}

/// `"500ms"`, `"2s"`, `"5m"`, `"1h 30m"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("`{text}` is not a duration ({e})"))
}
