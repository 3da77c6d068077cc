//! Typed runbook parameters. A value is checked against its type before anything is
//! expanded, and what comes out is a canonical string that only ever fills one argv element,
//! one SQL `$n` parameter or one Redis argument.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

use super::Inventory;

#[derive(Clone, Debug)]
pub struct Param {
    pub name: String,
    pub description: String,
    pub kind: ParamKind,
    /// Already valid for `kind` (checked when the file is read).
    pub default: Option<String>,
    /// Optional parameters may stay unset; a host filter naming one is then dropped.
    pub required: bool,
}

#[derive(Clone, Debug)]
pub enum ParamKind {
    /// Free text, bounded: by an allowed list, or a pattern that must match all of it.
    /// Control characters are refused whatever the pattern says.
    Text {
        allowed: Vec<String>,
        pattern: Option<Regex>,
        max_length: usize,
    },
    Integer {
        min: i64,
        max: i64,
    },
    /// Written `90s`, `5m`, `1h`; filled in as whole seconds.
    Duration {
        min: Duration,
        max: Duration,
    },
    Bool,
    /// One of a fixed list.
    Choice {
        values: Vec<String>,
    },
    /// A configured host, optionally only those with a role.
    Host {
        role: Option<String>,
    },
    /// A configured component of one kind (`postgres`, `redis`, `sidekiq`), by endpoint
    /// name; filled in as the endpoint name.
    Endpoint {
        kind: String,
    },
}

pub const DEFAULT_MAX_LENGTH: usize = 256;

/// A pattern as its author wrote it, without the anchoring added when it was read.
fn pattern_source(p: &Regex) -> &str {
    let s = p.as_str();
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

impl ParamKind {
    pub fn word(&self) -> String {
        match self {
            ParamKind::Text {
                allowed, pattern, ..
            } => match (allowed.is_empty(), pattern) {
                (false, _) => format!("string, one of {}", allowed.join(" | ")),
                (true, Some(p)) => format!("string matching {}", pattern_source(p)),
                (true, None) => "string".into(),
            },
            ParamKind::Integer { min, max } => format!("integer {min}..={max}"),
            ParamKind::Duration { min, max } => format!(
                "duration {}..={}",
                humantime::format_duration(*min),
                humantime::format_duration(*max)
            ),
            ParamKind::Bool => "true | false".into(),
            ParamKind::Choice { values } => values.join(" | "),
            ParamKind::Host { role: Some(r) } => format!("host with role {r}"),
            ParamKind::Host { role: None } => "host".into(),
            ParamKind::Endpoint { kind } => format!("{kind} endpoint"),
        }
    }

    /// Checks `raw` and returns the value as it will be passed on. `inventory` is only
    /// needed for host and endpoint parameters (`None` while reading the file).
    pub fn check(&self, raw: &str, inventory: Option<&Inventory>) -> Result<String, String> {
        match self {
            ParamKind::Text {
                allowed,
                pattern,
                max_length,
            } => {
                if let Some(c) = raw.chars().find(|c| c.is_control()) {
                    return Err(format!(
                        "holds the control character U+{:04X}; runbook values are one line of plain text",
                        u32::from(c)
                    ));
                }
                if raw.chars().count() > *max_length {
                    return Err(format!("is longer than {max_length} characters"));
                }
                if !allowed.is_empty() && !allowed.iter().any(|a| a == raw) {
                    return Err(format!("must be one of {}", allowed.join(", ")));
                }
                if let Some(p) = pattern
                    && !p
                        .find(raw)
                        .is_some_and(|m| m.start() == 0 && m.end() == raw.len())
                {
                    return Err(format!("must match {}", pattern_source(p)));
                }
                Ok(raw.to_string())
            }
            ParamKind::Integer { min, max } => {
                let n: i64 = raw
                    .trim()
                    .parse()
                    .map_err(|_| "must be a whole number".to_string())?;
                if n < *min || n > *max {
                    return Err(format!("must be between {min} and {max}"));
                }
                Ok(n.to_string())
            }
            ParamKind::Duration { min, max } => {
                let d = crate::config::parse_duration(raw.trim())
                    .map_err(|e| format!("is not a duration ({e}); write e.g. 90s, 5m, 1h"))?;
                if d < *min || d > *max {
                    return Err(format!(
                        "must be between {} and {}",
                        humantime::format_duration(*min),
                        humantime::format_duration(*max)
                    ));
                }
                Ok(d.as_secs().to_string())
            }
            ParamKind::Bool => match raw.trim() {
                "true" | "yes" => Ok("true".into()),
                "false" | "no" => Ok("false".into()),
                _ => Err("must be true or false".into()),
            },
            ParamKind::Choice { values } => {
                if values.iter().any(|v| v == raw) {
                    Ok(raw.to_string())
                } else {
                    Err(format!("must be one of {}", values.join(", ")))
                }
            }
            ParamKind::Host { role } => {
                let Some(inventory) = inventory else {
                    return Ok(raw.to_string());
                };
                let candidates: Vec<&str> = inventory
                    .hosts
                    .iter()
                    .filter(|h| role.as_ref().is_none_or(|r| h.roles.contains(r)))
                    .map(|h| h.name.as_str())
                    .collect();
                if candidates.contains(&raw) {
                    Ok(raw.to_string())
                } else if candidates.is_empty() {
                    Err(format!(
                        "no configured host{} to choose from",
                        role.as_ref()
                            .map(|r| format!(" has the role {r}"))
                            .unwrap_or_default()
                    ))
                } else {
                    Err(format!("must be one of {}", candidates.join(", ")))
                }
            }
            ParamKind::Endpoint { kind } => {
                let Some(inventory) = inventory else {
                    return Ok(raw.to_string());
                };
                let names: Vec<&str> = inventory
                    .components
                    .iter()
                    .filter_map(|c| c.strip_prefix(kind.as_str())?.strip_prefix('/'))
                    .collect();
                if names.contains(&raw) {
                    Ok(raw.to_string())
                } else if names.is_empty() {
                    Err(format!("no {kind} endpoint is configured"))
                } else {
                    Err(format!("must be one of {}", names.join(", ")))
                }
            }
        }
    }

    /// What a form offers to pick from, when the choice is closed.
    pub fn choices(&self, inventory: &Inventory) -> Vec<String> {
        match self {
            ParamKind::Text { allowed, .. } => allowed.clone(),
            ParamKind::Bool => vec!["true".into(), "false".into()],
            ParamKind::Choice { values } => values.clone(),
            ParamKind::Host { role } => inventory
                .hosts
                .iter()
                .filter(|h| role.as_ref().is_none_or(|r| h.roles.contains(r)))
                .map(|h| h.name.clone())
                .collect(),
            ParamKind::Endpoint { kind } => inventory
                .components
                .iter()
                .filter_map(|c| c.strip_prefix(kind.as_str())?.strip_prefix('/'))
                .map(str::to_string)
                .collect(),
            ParamKind::Integer { .. } | ParamKind::Duration { .. } => Vec::new(),
        }
    }
}

/// A refused value: which parameter, what was wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parameter `{}` {}", self.param, self.message)
    }
}

/// Checks every given value and fills in defaults. Unknown names, missing required values
/// and bad values are all reported, not just the first.
pub fn resolve(
    params: &[Param],
    given: &BTreeMap<String, String>,
    inventory: &Inventory,
) -> Result<BTreeMap<String, String>, Vec<ParamError>> {
    let mut errors = Vec::new();
    let mut values = BTreeMap::new();
    for name in given.keys() {
        if !params.iter().any(|p| p.name == *name) {
            let known: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            errors.push(ParamError {
                param: name.clone(),
                message: if known.is_empty() {
                    "is unknown: this runbook takes no parameters".into()
                } else {
                    format!("is unknown; this runbook takes {}", known.join(", "))
                },
            });
        }
    }
    for p in params {
        let raw = given.get(&p.name).or(p.default.as_ref());
        match raw {
            Some(raw) => match p.kind.check(raw, Some(inventory)) {
                Ok(v) => {
                    values.insert(p.name.clone(), v);
                }
                Err(message) => errors.push(ParamError {
                    param: p.name.clone(),
                    message,
                }),
            },
            None if p.required => errors.push(ParamError {
                param: p.name.clone(),
                message: format!("is required ({})", p.kind.word()),
            }),
            None => {}
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(pattern: &str) -> ParamKind {
        ParamKind::Text {
            allowed: vec![],
            pattern: Some(Regex::new(pattern).expect("pattern")),
            max_length: DEFAULT_MAX_LENGTH,
        }
    }

    #[test]
    fn hostile_text_is_refused_before_anything_is_built() {
        let domain = text(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?");
        assert_eq!(
            domain.check("spam.example", None).as_deref(),
            Ok("spam.example")
        );
        for bad in [
            "a.example; rm -rf /",
            "$(reboot)",
            "`id`",
            "x' OR '1'='1",
            "a\nb",
            "\x1b[2Jx",
            "spam.example ",
        ] {
            assert!(domain.check(bad, None).is_err(), "{bad:?} passed");
        }
        let free = ParamKind::Text {
            allowed: vec![],
            pattern: None,
            max_length: 8,
        };
        assert!(free.check("a\nb", None).is_err(), "newline");
        assert!(free.check("\x1b]0;x\x07", None).is_err(), "OSC escape");
        assert!(free.check("123456789", None).is_err(), "too long");
        assert_eq!(free.check("$(x);'q'", None).as_deref(), Ok("$(x);'q'"));
    }

    #[test]
    fn numbers_and_durations_come_out_canonical() {
        let n = ParamKind::Integer { min: 1, max: 90 };
        assert_eq!(n.check(" 7 ", None).as_deref(), Ok("7"));
        assert!(n.check("0", None).is_err());
        assert!(n.check("7; DROP TABLE x", None).is_err());
        let d = ParamKind::Duration {
            min: Duration::from_secs(10),
            max: Duration::from_secs(3600),
        };
        assert_eq!(d.check("5m", None).as_deref(), Ok("300"));
        assert!(d.check("2h", None).is_err());
        assert!(d.check("soon", None).is_err());
    }
}
