//! The runbook file format (TOML; see runbooks/README.md) and its checks. Every problem
//! names the file, the line and the key, and all problems of a file are reported at once.

mod raw;
mod steps;

use std::time::Duration;

use regex::Regex;

use raw::{RawParam, RawRunbook};

use super::model::{DurationSpec, Runbook};
use super::params::{DEFAULT_MAX_LENGTH, Param, ParamKind};
use super::template::{HOST_SLOTS, Template};
use crate::actions::{Risk, Role};
use crate::config::{FileError, Seg, line_col, locate, path_at, render_path};

/// How long a step may run unless it says otherwise.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

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
}
