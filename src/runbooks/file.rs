//! The runbook file format (TOML; see runbooks/README.md) and its checks. Every problem
//! names the file, the line and the key, and all problems of a file are reported at once.

use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::model::{
    Condition, DryRun, DurationSpec, FanOut, HostSelector, Probe, Runbook, Step, StepOp,
};
use super::params::{DEFAULT_MAX_LENGTH, Param, ParamKind};
use super::template::{HOST_SLOTS, Template};
use crate::actions::{Risk, Role};
use crate::config::{FileError, Seg, line_col, locate, path_at, render_path};

/// How long a step may run unless it says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    name: String,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    role: Option<String>,
    risk: String,
    #[serde(default)]
    rollback: String,
    #[serde(default, rename = "param")]
    params: Vec<RawParam>,
    #[serde(default, rename = "precondition")]
    preconditions: Vec<RawCondition>,
    #[serde(default, rename = "step")]
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    default: Option<toml::Value>,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    allowed: Vec<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    max_length: Option<usize>,
    #[serde(default)]
    min: Option<toml::Value>,
    #[serde(default)]
    max: Option<toml::Value>,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    component: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    title: String,
    #[serde(default)]
    ssh: Option<Vec<String>>,
    #[serde(default)]
    hosts: Option<RawHosts>,
    #[serde(default)]
    one_at_a_time: bool,
    #[serde(default)]
    gate: Option<RawCondition>,
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    params: Option<Vec<String>>,
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    redis: Option<Vec<String>>,
    #[serde(default)]
    http: Option<String>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    wait: Option<RawCondition>,
    #[serde(default)]
    dry_run: Option<RawDryRun>,
    #[serde(default)]
    read_only: bool,
    #[serde(default)]
    deadline: Option<String>,
    #[serde(default)]
    cooldown: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDryRun {
    Argv(Vec<String>),
    Sql {
        sql: String,
        #[serde(default)]
        params: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHosts {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    http: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    sql: Option<String>,
    #[serde(default)]
    params: Vec<String>,
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    redis: Option<Vec<String>>,
    #[serde(default)]
    expect: Option<String>,
    #[serde(default)]
    delay: Option<String>,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    interval: Option<String>,
}

fn yes() -> bool {
    true
}

/// Reads one runbook file. `origin` names it in errors (a path, or `shipped:NAME.toml`).
pub fn parse(origin: &str, text: &str) -> Result<Runbook, Vec<FileError>> {
    let raw: RawRunbook = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (position, key) = match e.span() {
                Some(span) => (
                    Some(line_col(text, span.start)),
                    Some(render_path(&path_at(text, span.start))).filter(|k| !k.is_empty()),
                ),
                None => (None, None),
            };
            let mut err = FileError::new(origin, e.message().trim().to_string()).at(position);
            if let Some(key) = key {
                err = err.key(key);
            }
            return Err(vec![err]);
        }
    };
    let mut check = Checker {
        origin,
        text,
        path: Vec::new(),
        errors: Vec::new(),
        params: Vec::new(),
    };
    let runbook = check.runbook(raw);
    if check.errors.is_empty() {
        Ok(runbook)
    } else {
        Err(check.errors)
    }
}

/// Walks the raw file, keeping the key path so each problem can be located.
struct Checker<'a> {
    origin: &'a str,
    text: &'a str,
    path: Vec<Seg>,
    errors: Vec<FileError>,
    /// The parameters read so far, for checking placeholders.
    params: Vec<Param>,
}

impl Checker<'_> {
    fn at<T>(&mut self, seg: Seg, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(seg);
        let out = f(self);
        self.path.pop();
        out
    }

    fn key<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at(Seg::Key(key.into()), f)
    }

    fn fail(&mut self, message: impl Into<String>, hint: Option<&str>) {
        // The innermost part of the path that exists in the file gives the position.
        let mut position = None;
        for len in (0..=self.path.len()).rev() {
            if let Some(p) = locate(self.text, &self.path[..len]) {
                position = Some(p);
                break;
            }
        }
        let mut err = FileError::new(self.origin, message).at(position);
        if !self.path.is_empty() {
            err = err.key(render_path(&self.path));
        }
        if let Some(hint) = hint {
            err = err.hint(hint);
        }
        self.errors.push(err);
    }

    fn runbook(&mut self, raw: RawRunbook) -> Runbook {
        let name_ok = Regex::new(r"^[a-z0-9][a-z0-9-]{0,62}$").is_ok_and(|r| r.is_match(&raw.name));
        if !name_ok {
            self.key("name", |c| {
                c.fail(
                    format!("`{}` is not a runbook name", raw.name),
                    Some("lowercase letters, digits and dashes, e.g. \"rolling-reload-web\""),
                )
            });
        }
        let role = match raw.role.as_deref() {
            None | Some("oncall") => Role::Oncall,
            Some(other) => {
                self.key("role", |c| {
                    c.fail(
                        format!("`{other}` cannot run runbooks"),
                        Some("only \"oncall\" runs runbooks; shadow reads and previews them"),
                    )
                });
                Role::Oncall
            }
        };
        let risk = self.key("risk", |c| c.risk(&raw.risk));
        let params: Vec<Param> = raw
            .params
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| self.key("param", |c| c.at(Seg::Index(i), |c| c.param(p))))
            .collect();
        for (i, p) in params.iter().enumerate() {
            if params[..i].iter().any(|q| q.name == p.name) {
                self.key("param", |c| {
                    c.at(Seg::Index(i), |c| {
                        c.key("name", |c| {
                            c.fail(format!("a second parameter called `{}`", p.name), None)
                        })
                    })
                });
            }
        }
        self.params = params.clone();
        let preconditions = raw
            .preconditions
            .into_iter()
            .enumerate()
            .filter_map(|(i, p)| {
                self.key("precondition", |c| {
                    c.at(Seg::Index(i), |c| c.condition(p, false))
                })
            })
            .collect();
        if raw.steps.is_empty() {
            self.fail(
                "a runbook needs at least one step",
                Some("add a [[step]] table"),
            );
        }
        let steps = raw
            .steps
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| self.key("step", |c| c.at(Seg::Index(i), |c| c.step(s, risk))))
            .collect();
        Runbook {
            name: raw.name,
            title: raw.title,
            description: raw.description,
            role,
            risk,
            rollback: raw.rollback,
            params,
            preconditions,
            steps,
            origin: self.origin.to_string(),
        }
    }

    fn risk(&mut self, word: &str) -> Risk {
        match word {
            "low" => Risk::Low,
            "high" => Risk::High,
            "critical" => Risk::Critical,
            other => {
                self.fail(
                    format!("`{other}` is not a risk level"),
                    Some("low, high or critical"),
                );
                Risk::High
            }
        }
    }

    fn duration(&mut self, key: &str, text: &str) -> Option<Duration> {
        match crate::config::parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.key(key, |c| {
                    c.fail(
                        format!("`{text}` is not a duration: {e}"),
                        Some("e.g. \"30s\", \"5m\""),
                    )
                });
                None
            }
        }
    }

    fn param(&mut self, raw: RawParam) -> Option<Param> {
        let name_ok = Regex::new(r"^[a-z_][a-z0-9_]{0,31}$").is_ok_and(|r| r.is_match(&raw.name));
        if !name_ok {
            self.key("name", |c| {
                c.fail(
                    format!("`{}` is not a parameter name", raw.name),
                    Some("lowercase letters, digits and underscores, e.g. \"days\""),
                )
            });
            return None;
        }
        let kind = match raw.kind.as_str() {
            "string" => {
                let pattern = match &raw.pattern {
                    // Anchored here so a pattern always has to match the whole value.
                    Some(p) => match Regex::new(&format!("^(?:{p})$")) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            self.key("pattern", |c| {
                                c.fail(format!("not a regular expression: {e}"), None)
                            });
                            return None;
                        }
                    },
                    None => None,
                };
                if raw.allowed.is_empty() && pattern.is_none() {
                    self.key("type", |c| {
                        c.fail(
                            "a string parameter needs `allowed` values or a `pattern`",
                            Some("values reach commands on production hosts; say what they may look like"),
                        )
                    });
                    return None;
                }
                ParamKind::Text {
                    allowed: raw.allowed,
                    pattern,
                    max_length: raw.max_length.unwrap_or(DEFAULT_MAX_LENGTH),
                }
            }
            "integer" => {
                let bound = |v: &Option<toml::Value>, fallback: i64| match v {
                    None => Some(fallback),
                    Some(toml::Value::Integer(n)) => Some(*n),
                    Some(_) => None,
                };
                let (Some(min), Some(max)) = (bound(&raw.min, i64::MIN), bound(&raw.max, i64::MAX))
                else {
                    self.fail("`min` and `max` of an integer must be integers", None);
                    return None;
                };
                if min > max {
                    self.key("min", |c| c.fail("`min` is above `max`", None));
                    return None;
                }
                ParamKind::Integer { min, max }
            }
            "duration" => {
                let mut bound = |key: &str, v: &Option<toml::Value>, fallback: Duration| match v {
                    None => Some(fallback),
                    Some(toml::Value::String(s)) => self.duration(key, s),
                    Some(_) => {
                        self.key(key, |c| {
                            c.fail("a duration bound is written as text, e.g. \"10s\"", None)
                        });
                        None
                    }
                };
                let min = bound("min", &raw.min, Duration::ZERO)?;
                let max = bound("max", &raw.max, Duration::from_secs(7 * 86_400))?;
                ParamKind::Duration { min, max }
            }
            "bool" => ParamKind::Bool,
            "enum" => {
                if raw.values.is_empty() {
                    self.key("values", |c| c.fail("an enum needs `values`", None));
                    return None;
                }
                ParamKind::Choice { values: raw.values }
            }
            "host" => ParamKind::Host { role: raw.role },
            "endpoint" => {
                let Some(kind) = raw.component else {
                    self.fail(
                        "an endpoint parameter needs `component`",
                        Some("component = \"postgres\", \"redis\" or \"sidekiq\""),
                    );
                    return None;
                };
                ParamKind::Endpoint { kind }
            }
            other => {
                self.key("type", |c| {
                    c.fail(
                        format!("`{other}` is not a parameter type"),
                        Some("string, integer, duration, bool, enum, host or endpoint"),
                    )
                });
                return None;
            }
        };
        let default = match raw.default {
            None => None,
            Some(v) => {
                let text = match v {
                    toml::Value::String(s) => s,
                    toml::Value::Integer(n) => n.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    other => other.to_string(),
                };
                match kind.check(&text, None) {
                    Ok(_) => Some(text),
                    Err(e) => {
                        self.key("default", |c| c.fail(format!("the default {e}"), None));
                        return None;
                    }
                }
            }
        };
        Some(Param {
            name: raw.name,
            description: raw.description,
            kind,
            default,
            required: raw.required,
        })
    }

    /// Parses a template and checks each placeholder names a parameter (or, with
    /// `host_slots`, the host the step runs on).
    fn template(&mut self, text: &str, host_slots: bool) -> Option<Template> {
        let t = match Template::parse(text) {
            Ok(t) => t,
            Err(e) => {
                self.fail(e, None);
                return None;
            }
        };
        for slot in t.slots() {
            let known = self.params.iter().any(|p| p.name == slot)
                || (host_slots && HOST_SLOTS.contains(&slot));
            if !known {
                let hint = if HOST_SLOTS.contains(&slot) {
                    "`{host.name}` and `{host.address}` exist only in SSH steps and their gates"
                        .to_string()
                } else {
                    let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                    format!("declare it as a [[param]]; known: {}", names.join(", "))
                };
                self.fail(
                    format!("`{{{slot}}}` names no parameter"),
                    Some(hint.as_str()),
                );
                return None;
            }
        }
        Some(t)
    }

    /// An argv: the program (or Redis command) is written out, never a placeholder.
    fn argv(&mut self, key: &str, argv: &[String], host_slots: bool) -> Option<Vec<Template>> {
        self.key(key, |c| {
            if argv.is_empty() {
                c.fail("an empty command", None);
                return None;
            }
            let mut out = Vec::new();
            for (i, a) in argv.iter().enumerate() {
                let t = c.at(Seg::Index(i), |c| c.template(a, host_slots))?;
                if i == 0 && t.slots().next().is_some() {
                    c.at(Seg::Index(0), |c| {
                        c.fail(
                            "the command itself cannot be a placeholder",
                            Some("write the program out; parameters go in later arguments"),
                        )
                    });
                    return None;
                }
                out.push(t);
            }
            Some(out)
        })
    }

    /// SQL text is sent as written: a placeholder in it is a mistake, not a feature.
    fn sql(&mut self, key: &str, text: &str, params: &[String]) -> Option<(String, Vec<Template>)> {
        let named: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{{{}}}", p.name))
            .filter(|slot| text.contains(slot.as_str()))
            .collect();
        if let Some(slot) = named.first() {
            self.key(key, |c| {
                c.fail(
                    format!("{slot} inside SQL text"),
                    Some("SQL text is never filled in: write $1 and add params = [\"{name}\"]"),
                )
            });
            return None;
        }
        let params = self.key("params", |c| {
            params
                .iter()
                .enumerate()
                .map(|(i, p)| c.at(Seg::Index(i), |c| c.template(p, false)))
                .collect::<Option<Vec<_>>>()
        })?;
        Some((text.to_string(), params))
    }

    fn duration_spec(&mut self, key: &str, text: &str) -> Option<DurationSpec> {
        if let Ok(t) = Template::parse(text)
            && let Some(slot) = t.sole_slot()
        {
            let is_duration = self
                .params
                .iter()
                .any(|p| p.name == slot && matches!(p.kind, ParamKind::Duration { .. }));
            if !is_duration {
                self.key(key, |c| {
                    c.fail(format!("`{{{slot}}}` is not a duration parameter"), None)
                });
                return None;
            }
            return Some(DurationSpec::Param(slot.to_string()));
        }
        self.duration(key, text).map(DurationSpec::Fixed)
    }

    fn condition(&mut self, raw: RawCondition, host_slots: bool) -> Option<Condition> {
        let given = [
            raw.http.is_some(),
            raw.sql.is_some(),
            raw.redis.is_some(),
            raw.delay.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            self.fail(
                "a condition asks exactly one of `http`, `sql`, `redis`, or is a `delay`",
                None,
            );
            return None;
        }
        let interval = match &raw.interval {
            Some(t) => self.duration("interval", t)?,
            None => DEFAULT_INTERVAL,
        };
        if let Some(delay) = &raw.delay {
            let timeout = self.duration_spec("delay", delay)?;
            return Some(Condition {
                title: raw.title.unwrap_or_else(|| format!("wait {delay}")),
                probe: Probe::Delay,
                timeout,
                interval,
            });
        }
        let Some(timeout) = &raw.timeout else {
            self.fail(
                "a condition needs a `timeout`",
                Some("how long to keep asking, e.g. timeout = \"60s\""),
            );
            return None;
        };
        let timeout = self.duration_spec("timeout", timeout)?;
        let expect = |c: &mut Self| -> Option<Template> {
            let Some(e) = &raw.expect else {
                c.fail("an `sql` or `redis` condition needs `expect`", None);
                return None;
            };
            c.key("expect", |c| c.template(e, host_slots))
        };
        let (probe, shown) = if let Some(url) = &raw.http {
            let url_t = self.key("http", |c| c.template(url, host_slots))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.key("http", |c| {
                    c.fail("the URL must start with http:// or https://", None)
                });
                return None;
            }
            let status = raw.status.unwrap_or(200);
            (
                Probe::Http { url: url_t, status },
                format!("GET {url} answers {status}"),
            )
        } else if let Some(text) = &raw.sql {
            let on = self.on(raw.on.as_deref())?;
            let (text, params) = self.sql("sql", text, &raw.params)?;
            let expect = expect(self)?;
            let shown = format!("`{text}` returns {}", expect.source);
            (
                Probe::Sql {
                    on,
                    text,
                    params,
                    expect,
                },
                shown,
            )
        } else if let Some(argv) = &raw.redis {
            let on = self.on(raw.on.as_deref())?;
            let argv = self.argv("redis", argv, host_slots)?;
            let expect = expect(self)?;
            let shown = format!(
                "`{}` replies {}",
                argv.iter()
                    .map(|a| a.source.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                expect.source
            );
            (Probe::Redis { on, argv, expect }, shown)
        } else {
            return None;
        };
        Some(Condition {
            title: raw.title.unwrap_or(shown),
            probe,
            timeout,
            interval,
        })
    }

    /// The component a SQL or Redis step acts on: `postgres/primary`, `sidekiq/{sidekiq}`.
    fn on(&mut self, on: Option<&str>) -> Option<Template> {
        let Some(on) = on else {
            self.fail(
                "needs `on`, the component to act on",
                Some("e.g. on = \"postgres/{database}\" or on = \"sidekiq/main\""),
            );
            return None;
        };
        let t = self.key("on", |c| c.template(on, false))?;
        let kind = on.split('/').next().unwrap_or_default();
        if !on.contains('/') || kind.is_empty() || kind.contains('{') {
            self.key("on", |c| {
                c.fail(
                    format!("`{on}` is not a component"),
                    Some("KIND/NAME, e.g. \"postgres/primary\""),
                )
            });
            return None;
        }
        Some(t)
    }

    fn step(&mut self, raw: RawStep, runbook_risk: Risk) -> Option<Step> {
        let kinds = [
            ("ssh", raw.ssh.is_some()),
            ("sql", raw.sql.is_some()),
            ("redis", raw.redis.is_some()),
            ("http", raw.http.is_some()),
            ("wait", raw.wait.is_some()),
        ];
        let given: Vec<&str> = kinds.iter().filter(|k| k.1).map(|k| k.0).collect();
        if given.len() != 1 {
            self.fail(
                format!(
                    "a step does exactly one of ssh, sql, redis, http or wait (this one: {})",
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join(", ")
                    }
                ),
                None,
            );
            return None;
        }
        let kind = given[0];
        let per_host = matches!(kind, "ssh" | "redis" | "http");
        let misplaced = [
            (
                "hosts",
                raw.hosts.is_some(),
                per_host,
                "ssh, redis and http",
            ),
            (
                "one_at_a_time",
                raw.one_at_a_time,
                per_host,
                "ssh, redis and http",
            ),
            ("gate", raw.gate.is_some(), per_host, "ssh, redis and http"),
            ("method", raw.method.is_some(), kind == "http", "http"),
            ("params", raw.params.is_some(), kind == "sql", "sql"),
            (
                "on",
                raw.on.is_some(),
                matches!(kind, "sql" | "redis"),
                "sql and redis",
            ),
        ];
        for (key, present, fits, belongs) in misplaced {
            if present && !fits {
                self.key(key, |c| {
                    c.fail(
                        format!("`{key}` belongs to {belongs} steps, not {kind}"),
                        None,
                    )
                });
                return None;
            }
        }
        if kind == "ssh" && raw.hosts.is_none() {
            self.fail(
                "an ssh step needs `hosts`",
                Some("e.g. hosts = { role = \"mastodon-web\" }"),
            );
            return None;
        }
        let fan_out = match raw.hosts {
            Some(hosts) => {
                let hosts = self.key("hosts", |c| c.hosts(hosts))?;
                let gate = match raw.gate {
                    Some(g) => Some(self.key("gate", |c| c.condition(g, true))?),
                    None => None,
                };
                if gate.is_some() && !raw.one_at_a_time {
                    self.key("gate", |c| {
                        c.fail(
                            "a gate holds between hosts, so it needs one_at_a_time = true",
                            None,
                        )
                    });
                    return None;
                }
                Some(FanOut {
                    hosts,
                    one_at_a_time: raw.one_at_a_time,
                    gate,
                })
            }
            None if raw.gate.is_some() || raw.one_at_a_time => {
                self.fail(
                    "`one_at_a_time` and `gate` need `hosts` to go through one at a time",
                    None,
                );
                return None;
            }
            None => None,
        };
        let host_slots = fan_out.is_some();
        let op = if let Some(argv) = &raw.ssh {
            StepOp::Ssh {
                argv: self.argv("ssh", argv, true)?,
            }
        } else if let Some(text) = &raw.sql {
            let on = self.on(raw.on.as_deref())?;
            let (text, params) =
                self.sql("sql", text, raw.params.as_deref().unwrap_or_default())?;
            StepOp::Sql { on, text, params }
        } else if let Some(argv) = &raw.redis {
            let on = self.on(raw.on.as_deref())?;
            let argv = self.argv("redis", argv, host_slots)?;
            StepOp::Redis { on, argv }
        } else if let Some(url) = &raw.http {
            let method = raw.method.clone().unwrap_or_else(|| "POST".into());
            if !["GET", "POST", "PUT", "DELETE", "HEAD"].contains(&method.as_str()) {
                self.key("method", |c| {
                    c.fail(
                        format!("`{method}` is not a method mastop sends"),
                        Some("GET, POST, PUT, DELETE or HEAD"),
                    )
                });
                return None;
            }
            let url = self.key("http", |c| c.template(url, host_slots))?;
            StepOp::Http { method, url }
        } else if let Some(wait) = raw.wait {
            StepOp::Wait(self.key("wait", |c| c.condition(wait, false))?)
        } else {
            return None;
        };
        let dry_run = match (raw.read_only, raw.dry_run, &op) {
            (true, Some(_), _) => {
                self.key("dry_run", |c| {
                    c.fail(
                        "a read_only step runs as written in a dry run; it needs no dry_run",
                        None,
                    )
                });
                return None;
            }
            (true, None, _) => DryRun::Same,
            (false, None, _) => DryRun::Skip,
            (false, Some(RawDryRun::Argv(argv)), StepOp::Ssh { .. } | StepOp::Redis { .. }) => {
                DryRun::Argv(self.argv("dry_run", &argv, host_slots)?)
            }
            (false, Some(RawDryRun::Sql { sql, params }), StepOp::Sql { .. }) => {
                let (text, params) = self.key("dry_run", |c| c.sql("sql", &sql, &params))?;
                DryRun::Sql { text, params }
            }
            (false, Some(_), op) => {
                self.key("dry_run", |c| {
                    c.fail(
                        format!("this dry_run does not fit a {} step", op.word()),
                        Some("an argv list for ssh and redis steps, { sql = \"…\", params = […] } for sql steps"),
                    )
                });
                return None;
            }
        };
        let risk = if raw.read_only || matches!(op, StepOp::Wait(_)) {
            Risk::Low
        } else {
            runbook_risk
        };
        let deadline = match &raw.deadline {
            Some(t) => self.duration("deadline", t)?,
            None => DEFAULT_DEADLINE,
        };
        let cooldown = match &raw.cooldown {
            Some(t) => self.duration("cooldown", t)?,
            None => Duration::ZERO,
        };
        Some(Step {
            title: raw.title,
            op,
            fan_out,
            dry_run,
            risk,
            deadline,
            cooldown,
        })
    }

    fn hosts(&mut self, raw: RawHosts) -> Option<HostSelector> {
        if raw.role.is_none() && raw.tag.is_none() && raw.name.is_none() {
            self.fail(
                "select hosts by `role`, `tag` or `name`",
                Some("a step never runs on every host by accident"),
            );
            return None;
        }
        let mut one = |key: &str, v: Option<String>| -> Option<Option<Template>> {
            match v {
                Some(v) => self.key(key, |c| c.template(&v, false)).map(Some),
                None => Some(None),
            }
        };
        let role = one("role", raw.role)?;
        let tag = one("tag", raw.tag)?;
        let name = one("name", raw.name)?;
        if raw.limit == Some(0) {
            self.key("limit", |c| c.fail("a limit of 0 selects nothing", None));
            return None;
        }
        Some(HostSelector {
            role,
            tag,
            name,
            limit: raw.limit,
        })
    }
}
