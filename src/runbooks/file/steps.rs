//! Checking steps and conditions: one kind of work per step, placeholders that exist,
//! SQL text that is never filled in.

use std::time::Duration;

use super::raw::{RawCondition, RawDryRun, RawHosts, RawStep};
use super::{Checker, DEFAULT_DEADLINE, DEFAULT_INTERVAL};
use crate::actions::Risk;
use crate::runbooks::model::{Condition, DryRun, FanOut, HostSelector, Probe, Step, StepOp};
use crate::runbooks::template::Template;

impl Checker<'_> {
    pub(super) fn condition(&mut self, raw: RawCondition, host_slots: bool) -> Option<Condition> {
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

    pub(super) fn step(&mut self, raw: RawStep, runbook_risk: Risk) -> Option<Step> {
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
