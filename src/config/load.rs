//! Reading a config: file, then `MASTOP_*` environment overrides, then validation, then
//! (for a real file) the files it names. Every problem found is reported, in file order,
//! with where it came from; nothing is silently dropped and one mistake hides no other.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::document::{Document, Finding, Place, SyntaxError, read};
use super::error::{ConfigError, FileError, closest, quote};
use super::locate::{Seg, locate, render_path};
use super::types::Config;

/// A loaded config and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The file read, or `None` when no file exists and built-in defaults apply.
    pub path: Option<PathBuf>,
    /// Environment variables that overrode the file.
    pub env_overrides: Vec<String>,
    /// The file's text, to point later errors (an unknown theme) at their line.
    text: String,
    /// Key path each applied variable set.
    env_paths: Vec<(String, Vec<Seg>)>,
}

impl Loaded {
    /// Where the value at `key` came from: the variable that set it, or the file and the
    /// value's line and column, or the built-in defaults.
    pub fn place_of(&self, key: &[Seg]) -> (String, Option<(usize, usize)>) {
        let rendered = render_path(key);
        if let Some((name, _)) = self
            .env_paths
            .iter()
            .rev()
            .find(|(_, p)| rendered.starts_with(&render_path(p)))
        {
            return (env_origin(name), None);
        }
        match &self.path {
            Some(path) => match locate(&self.text, key) {
                Some(position) => (path.display().to_string(), Some(position)),
                None => (
                    format!("{} (not set there; built-in default)", path.display()),
                    None,
                ),
            },
            None => ("built-in defaults".to_string(), None),
        }
    }
}

impl Loaded {
    /// Points an error about the theme or keymap name (origin `config`, key `ui.theme` or
    /// `ui.keymap`, as the theme and keymap loaders give it) at where the name was set: the
    /// command line, a variable, or the file's line. Other errors are returned as they are.
    pub fn place_ui_error(&self, error: FileError, running: &Config) -> FileError {
        if error.origin != "config" {
            return error;
        }
        let (key, flag, from_flag) = match error.key.as_deref() {
            Some("ui.theme") => ("theme", "--theme", running.ui.theme != self.config.ui.theme),
            Some("ui.keymap") => (
                "keymap",
                "--keymap",
                running.ui.keymap != self.config.ui.keymap,
            ),
            _ => return error,
        };
        let (origin, position) = if from_flag {
            (format!("command-line option {flag}"), None)
        } else {
            self.place_of(&[Seg::Key("ui".into()), Seg::Key(key.into())])
        };
        FileError {
            origin,
            position,
            ..error
        }
    }
}

/// The process environment for [`load`]. Variables that are not UTF-8 are skipped (they are
/// no config of mastop's), except `MASTOP_*` ones, which keep their bytes as U+FFFD so that
/// loading refuses them by name instead of ignoring them.
pub fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let name = k.to_string_lossy();
            match (k.to_str(), v.to_str()) {
                (Some(k), Some(v)) => Some((k.to_string(), v.to_string())),
                _ if name.starts_with("MASTOP_") => {
                    Some((name.into_owned(), v.to_string_lossy().into_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Environment variables with the `MASTOP_` prefix that are not config keys.
const NON_CONFIG_ENV: &[&str] = &["MASTOP_LOG", "MASTOP_CONFIG"];

/// Settings the environment may not override: a variable must never turn a shadow
/// session into an on-call one.
const FILE_ONLY_ENV: &[&str] = &["MASTOP_ROLE"];

/// At most this many problems are listed; the rest are counted.
const MAX_SHOWN: usize = 100;

/// Loads `explicit` if given (it must exist), else the default path if it exists, else
/// built-in defaults; then applies `env` overrides (`MASTOP_UI__THEME=light`), validates,
/// and checks that the files the config names exist and can be read.
pub fn load(
    explicit: Option<&Path>,
    default: Option<&Path>,
    env: &[(String, String)],
) -> Result<Loaded, ConfigError> {
    let (path, text) = match (explicit, default) {
        (Some(p), _) => {
            let text = read_file(p).map_err(|e| {
                FileError::new(p.display().to_string(), e)
                    .hint("check the path given to --config or MASTOP_CONFIG")
            })?;
            (Some(p.to_path_buf()), text)
        }
        (None, Some(p)) if p.exists() => {
            let text = read_file(p).map_err(|e| {
                FileError::new(p.display().to_string(), e)
                    .hint("check the file's permissions, or move it away to start from defaults")
            })?;
            (Some(p.to_path_buf()), text)
        }
        _ => (None, String::new()),
    };
    let origin = path.as_ref().map_or_else(
        || "built-in defaults".to_string(),
        |p| p.display().to_string(),
    );
    let checked = check(&text, &origin, env, true)?;
    Ok(Loaded {
        config: checked.config,
        path,
        env_overrides: checked.env_paths.iter().map(|(n, _)| n.clone()).collect(),
        text,
        env_paths: checked.env_paths,
    })
}

fn read_file(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read config file: {e}"))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "the config file is not UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Parses and validates config text. `origin` names it in errors. Files the config names
/// are not looked at; [`load`] checks those.
pub fn load_str(
    text: &str,
    origin: &str,
    env: &[(String, String)],
) -> Result<(Config, Vec<String>), ConfigError> {
    let checked = check(text, origin, env, false)?;
    Ok((
        checked.config,
        checked.env_paths.into_iter().map(|(n, _)| n).collect(),
    ))
}

struct Checked {
    config: Config,
    env_paths: Vec<(String, Vec<Seg>)>,
}

/// The top-level arrays of tables. Each entry is read on its own, so one broken entry
/// neither hides the problems of the others nor shifts their numbers.
const ENTRY_KINDS: &[&str] = &[
    "postgres",
    "redis",
    "sidekiq",
    "pgbouncer",
    "elasticsearch",
    "streaming",
    "web",
    "prometheus",
    "alertmanager",
    "loki",
    "host",
    "edge",
];

fn check(
    text: &str,
    origin: &str,
    env: &[(String, String)],
    check_files: bool,
) -> Result<Checked, ConfigError> {
    let mut doc =
        Document::parse(text, MAX_SHOWN).map_err(|errors| syntax_errors(origin, errors))?;
    let mut findings = Vec::new();
    let mut env_paths = Vec::new();
    for (name, value) in env {
        if !name.starts_with("MASTOP_") || NON_CONFIG_ENV.contains(&name.as_str()) {
            continue;
        }
        let marker = doc.env_marker(name);
        if FILE_ONLY_ENV.contains(&name.as_str()) {
            findings.push(Finding {
                path: vec![Seg::Key("role".into())],
                span: Some(marker),
                message: "the role can only be set in the config file".into(),
                hint: Some(format!(
                    "unset {}; use --readonly to lower a session to shadow",
                    quote(name)
                )),
            });
            continue;
        }
        if name.contains('\u{fffd}') || value.contains('\u{fffd}') {
            findings.push(Finding {
                path: Vec::new(),
                span: Some(marker),
                message: "the variable is not valid UTF-8 text".into(),
                hint: Some("set it again as plain text, or unset it".into()),
            });
            continue;
        }
        let path = env_path(name);
        match doc.set(&path, value, &marker) {
            Ok(()) => env_paths.push((name.clone(), path)),
            Err(message) => findings.push(Finding {
                path: Vec::new(),
                span: Some(marker),
                message,
                hint: Some(
                    "config keys map to MASTOP_SECTION__KEY, array entries to MASTOP_SECTION__0__KEY"
                        .into(),
                ),
            }),
        }
    }
    let full = doc.root.clone();
    let mut entries = Vec::new();
    for kind in ENTRY_KINDS {
        let is_array = matches!(
            doc.root.get(*kind).map(toml::Spanned::get_ref),
            Some(toml::de::DeValue::Array(_))
        );
        // Anything else is left for the whole-config read to report.
        if is_array && let Some(value) = doc.take(kind) {
            entries.push((*kind, value));
        }
    }
    let mut config: Config = doc.read_root(&mut findings).unwrap_or_default();
    // Which entry of the file each entry read stands for, per kind.
    let mut numbering: Vec<(&str, Vec<usize>)> = Vec::new();
    for (kind, value) in entries {
        let toml::de::DeValue::Array(items) = value.into_inner() else {
            continue;
        };
        let mut kept = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let prefix = [Seg::Key(kind.to_string()), Seg::Index(i)];
            if read_entry(&mut config, kind, item, &prefix, &mut findings) {
                kept.push(i);
            }
        }
        numbering.push((kind, kept));
    }
    doc.root = full;
    let mut problems = super::validate::validate(&config);
    if check_files {
        problems.extend(super::files::check(&config));
    }
    for (path, message, hint) in problems {
        let path = renumber(path, &numbering);
        findings.push(Finding {
            span: doc.span_of(&path),
            path,
            message,
            hint,
        });
    }
    if findings.is_empty() {
        return Ok(Checked { config, env_paths });
    }
    Err(report(&doc, origin, findings))
}

/// Reads one `[[kind]]` entry into `config`; `false` when it could not be read.
fn read_entry(
    config: &mut Config,
    kind: &str,
    item: toml::Spanned<toml::de::DeValue<'_>>,
    prefix: &[Seg],
    findings: &mut Vec<Finding>,
) -> bool {
    fn push<T: serde::de::DeserializeOwned>(
        list: &mut Vec<T>,
        item: toml::Spanned<toml::de::DeValue<'_>>,
        prefix: &[Seg],
        findings: &mut Vec<Finding>,
    ) -> bool {
        match read(item, prefix, findings) {
            Some(entry) => {
                list.push(entry);
                true
            }
            None => false,
        }
    }
    match kind {
        "postgres" => push(&mut config.postgres, item, prefix, findings),
        "redis" => push(&mut config.redis, item, prefix, findings),
        "sidekiq" => push(&mut config.sidekiq, item, prefix, findings),
        "pgbouncer" => push(&mut config.pgbouncer, item, prefix, findings),
        "elasticsearch" => push(&mut config.elasticsearch, item, prefix, findings),
        "streaming" => push(&mut config.streaming, item, prefix, findings),
        "web" => push(&mut config.web, item, prefix, findings),
        "prometheus" => push(&mut config.prometheus, item, prefix, findings),
        "alertmanager" => push(&mut config.alertmanager, item, prefix, findings),
        "loki" => push(&mut config.loki, item, prefix, findings),
        "host" => push(&mut config.hosts, item, prefix, findings),
        "edge" => push(&mut config.edges, item, prefix, findings),
        _ => false,
    }
}

/// A path into the config read maps to the same entry's path in the file, where entries
/// that could not be read are still counted.
fn renumber(mut path: Vec<Seg>, numbering: &[(&str, Vec<usize>)]) -> Vec<Seg> {
    if let [Seg::Key(kind), Seg::Index(i), ..] = path.as_slice()
        && let Some((_, kept)) = numbering.iter().find(|(k, _)| k == kind)
        && let Some(original) = kept.get(*i)
    {
        path[1] = Seg::Index(*original);
    }
    path
}

fn syntax_errors(origin: &str, errors: Vec<SyntaxError>) -> ConfigError {
    ConfigError {
        errors: errors
            .into_iter()
            .map(|error| {
                let mut e = FileError::new(origin, format!("TOML syntax error: {}", error.message))
                    .at(Some(error.position))
                    .hint(syntax_hint(&error.message));
                if !error.path.is_empty() {
                    e = e.key(render_path(&error.path));
                }
                e
            })
            .collect(),
    }
}

fn syntax_hint(message: &str) -> String {
    if message.contains("duplicate key") {
        "a key may appear only once in a table; remove one of the two".into()
    } else if message.contains("string") {
        "text values are written in double quotes: theme = \"dark\"".into()
    } else {
        "see examples/mastop.toml for the shape of each section".into()
    }
}

/// Every finding as an error for people, in file order (then the environment's).
fn report(doc: &Document<'_>, origin: &str, findings: Vec<Finding>) -> ConfigError {
    let mut placed: Vec<(Place, FileError)> = findings
        .into_iter()
        .map(|f| {
            let place = doc.place(f.span.as_ref());
            let mut error = match &place {
                Place::Env(k) => FileError::new(env_origin(doc.env_name(*k)), f.message.clone()),
                Place::File(position) => FileError::new(origin, f.message.clone()).at(*position),
            };
            let key = render_path(&f.path);
            if !key.is_empty() {
                error = error.key(key);
            }
            if let Some(hint) = f.hint.or_else(|| hint_for(&f.message)) {
                error = error.hint(hint);
            }
            (place, error)
        })
        .collect();
    // Stable: two problems of one key keep the order they were found in.
    placed.sort_by(|a, b| a.0.cmp(&b.0));
    let total = placed.len();
    let mut errors: Vec<FileError> = placed.into_iter().map(|(_, e)| e).take(MAX_SHOWN).collect();
    if total > MAX_SHOWN {
        errors.push(
            FileError::new(
                origin,
                format!("{} more problems not shown", total - MAX_SHOWN),
            )
            .hint("fix the ones above and run `mastop config check` again"),
        );
    }
    ConfigError { errors }
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
    if message.contains("a secret must be a reference") || message.contains("needs a value after") {
        return Some(
            "keep the secret in a password manager, the environment or a file only you can read, and reference it"
                .into(),
        );
    }
    if message.starts_with("invalid type") {
        return Some(
            "check the value's type: text in quotes, numbers and true/false without".into(),
        );
    }
    if message.starts_with("unknown variant") {
        let expected = message.split_once("expected ").map(|(_, e)| e)?;
        return Some(format!("use one of {expected}"));
    }
    None
}

/// Longer than any setting needs; also keeps clock arithmetic far from overflow.
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `"500ms"`, `"2s"`, `"5m"`, `"1h 30m"`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{}` is not a duration ({e})", quote(text)))?;
    if d > MAX_DURATION {
        return Err(format!(
            "`{}` is longer than any duration mastop takes",
            quote(text)
        ));
    }
    Ok(d)
}
