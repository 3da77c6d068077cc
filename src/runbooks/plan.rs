//! Expansion: a runbook plus checked parameter values plus the fleet gives a plan, every
//! step as the exact actions the pipeline will run (one per host for SSH steps). The
//! preview shows a plan, and the engine runs the same plan, so what is approved is what runs.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::{Condition, DryRun, DurationSpec, HostSelector, Probe, Runbook, Step, StepOp};
use super::params::{self, ParamError};
use super::template::{HOST_SLOTS, Template, url_encode};
use super::{Inventory, InventoryHost};
use crate::actions::action::Check;
use crate::actions::{Action, Operation, Risk, Target};

/// How long each simulated operation takes in the demo, so progress is visible.
const SIMULATED_MS: u64 = 600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every step as written.
    Run,
    /// Dry-run forms where a step has one, read-only steps as written, the rest skipped.
    DryRun,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub runbook: String,
    pub title: String,
    pub risk: Risk,
    pub mode: Mode,
    /// The checked values, as passed on (durations in seconds).
    pub values: BTreeMap<String, String>,
    pub preconditions: Vec<Wait>,
    pub steps: Vec<PlannedStep>,
}

#[derive(Clone, Debug)]
pub struct PlannedStep {
    /// 1-based, as shown.
    pub number: usize,
    pub title: String,
    pub work: Work,
}

#[derive(Clone, Debug)]
pub enum Work {
    /// Actions in order. `gates` is empty, or holds one wait per action that must pass
    /// after it before anything further runs (the health gate of a rolling step).
    Actions {
        actions: Vec<Action>,
        gates: Vec<Wait>,
        /// Run on all hosts at once (an SSH step without `one_at_a_time`).
        together: bool,
    },
    Wait(Box<Wait>),
    /// Not run in this mode; what it would have run.
    Skip {
        would: Vec<String>,
    },
}

/// A condition made concrete: the read-only action whose precondition is asked, or none
/// for a plain delay.
#[derive(Clone, Debug)]
pub struct Wait {
    pub title: String,
    pub shown: String,
    pub probe: Option<Action>,
    pub timeout: Duration,
    pub interval: Duration,
}

impl Plan {
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps.iter().flat_map(|s| match &s.work {
            Work::Actions { actions, .. } => actions.as_slice(),
            _ => &[],
        })
    }

    /// The whole plan as text: every operation exactly as it will be sent.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for w in &self.preconditions {
            out.push(format!("before: {} ({})", w.title, w.shown));
        }
        for s in &self.steps {
            out.push(format!("{}. {}", s.number, s.title));
            match &s.work {
                Work::Actions { actions, gates, .. } => {
                    for (i, a) in actions.iter().enumerate() {
                        for op in &a.operations {
                            out.push(format!("   {}", op.display()));
                        }
                        if let Some(g) = gates.get(i) {
                            let then = if i + 1 < actions.len() {
                                "before the next host"
                            } else {
                                "after the last host"
                            };
                            out.push(format!(
                                "   gate {then}: {} within {}",
                                g.shown,
                                humantime::format_duration(g.timeout)
                            ));
                        }
                    }
                }
                Work::Wait(w) if w.probe.is_none() => out.push(format!("   wait: {}", w.shown)),
                Work::Wait(w) => out.push(format!(
                    "   wait: {} within {}",
                    w.shown,
                    humantime::format_duration(w.timeout)
                )),
                Work::Skip { would } => {
                    for line in would {
                        out.push(format!("   skipped in a dry run: {line}"));
                    }
                }
            }
        }
        out
    }
}

/// Why a runbook could not be expanded.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpandError {
    Params(Vec<ParamError>),
    /// A step that cannot be made concrete (no host matches, no such component).
    Step {
        number: usize,
        message: String,
    },
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Params(errors) => {
                let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                f.write_str(&lines.join("\n"))
            }
            ExpandError::Step { number, message } => write!(f, "step {number}: {message}"),
        }
    }
}

/// Checks the values and builds the plan. `simulate` turns every operation into a
/// simulated one for the demo fleet.
pub fn expand(
    runbook: &Runbook,
    given: &BTreeMap<String, String>,
    inventory: &Inventory,
    mode: Mode,
    simulate: bool,
) -> Result<Plan, ExpandError> {
    let values = params::resolve(&runbook.params, given, inventory).map_err(ExpandError::Params)?;
    let ctx = Ctx {
        runbook,
        values: &values,
        inventory,
        simulate,
    };
    let preconditions = runbook
        .preconditions
        .iter()
        .map(|c| ctx.wait(c, &values, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut steps = Vec::new();
    for (i, step) in runbook.steps.iter().enumerate() {
        let number = i + 1;
        let work = ctx
            .step(step, number, mode)
            .map_err(|message| ExpandError::Step { number, message })?;
        steps.push(PlannedStep {
            number,
            title: step.title.clone(),
            work,
        });
    }
    Ok(Plan {
        runbook: runbook.name.clone(),
        title: runbook.title.clone(),
        risk: runbook.risk,
        mode,
        values,
        preconditions,
        steps,
    })
}

struct Ctx<'a> {
    runbook: &'a Runbook,
    values: &'a BTreeMap<String, String>,
    inventory: &'a Inventory,
    simulate: bool,
}

fn fill_all(ts: &[Template], values: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    ts.iter().map(|t| t.fill(values)).collect()
}

impl Ctx<'_> {
    fn step(&self, step: &Step, number: usize, mode: Mode) -> Result<Work, String> {
        let dry = mode == Mode::DryRun;
        let risk = if dry { Risk::Low } else { step.risk };
        if let StepOp::Wait(c) = &step.op {
            let wait = self.wait(c, self.values, number).map_err(err_text)?;
            return Ok(if dry {
                Work::Skip {
                    would: vec![format!("wait: {}", wait.shown)],
                }
            } else {
                Work::Wait(Box::new(wait))
            });
        }
        // A step that does not fan out runs once, for no host.
        let hosts: Vec<Option<&InventoryHost>> = match &step.fan_out {
            Some(f) => self.select(&f.hosts)?.into_iter().map(Some).collect(),
            None => vec![None],
        };
        let mut actions = Vec::new();
        let mut would = Vec::new();
        for host in &hosts {
            let values = match host {
                Some(h) => self.with_host(h),
                None => self.values.clone(),
            };
            let (component, on, real, dry_form) =
                self.operations(&step.op, &step.dry_run, &values, *host)?;
            match (dry, dry_form) {
                (false, _) => actions.push(self.action(step, number, risk, component, &on, real)),
                (true, Some(op)) => {
                    actions.push(self.action(step, number, risk, component, &on, op))
                }
                (true, None) => would.push(format!("{component}: {}", real.display())),
            }
        }
        if actions.is_empty() {
            return Ok(Work::Skip { would });
        }
        let mut gates = Vec::new();
        if let Some(gate) = step.fan_out.as_ref().and_then(|f| f.gate.as_ref())
            && !dry
        {
            // One gate per host, asked of the host just handled.
            for host in hosts.iter().flatten() {
                gates.push(
                    self.wait(gate, &self.with_host(host), number)
                        .map_err(err_text)?,
                );
            }
        }
        let together = step.fan_out.as_ref().is_some_and(|f| !f.one_at_a_time) && actions.len() > 1;
        Ok(Work::Actions {
            actions,
            gates,
            together,
        })
    }

    /// For one pass of a step: the component it acts on, how the action names it, the
    /// operation as written, and the operation a dry run sends (if any).
    fn operations(
        &self,
        op: &StepOp,
        dry_run: &DryRun,
        values: &BTreeMap<String, String>,
        host: Option<&InventoryHost>,
    ) -> Result<(String, String, Operation, Option<Operation>), String> {
        match op {
            StepOp::Ssh { argv } => {
                let host = host.ok_or("an ssh step runs on selected hosts")?;
                let ssh = |argv: &[Template]| -> Result<Operation, String> {
                    Ok(Operation::Ssh {
                        host: host.name.clone(),
                        argv: fill_all(argv, values)?,
                    })
                };
                let real = ssh(argv)?;
                let dry = match dry_run {
                    DryRun::Same => Some(real.clone()),
                    DryRun::Argv(d) => Some(ssh(d)?),
                    _ => None,
                };
                Ok((format!("host/{}", host.name), host.name.clone(), real, dry))
            }
            StepOp::Sql { on, text, params } => {
                let component = self.component(on, "postgres")?;
                let real = Operation::Sql {
                    text: text.clone(),
                    params: fill_all(params, values)?,
                };
                let dry = match dry_run {
                    DryRun::Same => Some(real.clone()),
                    DryRun::Sql { text, params } => Some(Operation::Sql {
                        text: text.clone(),
                        params: fill_all(params, values)?,
                    }),
                    _ => None,
                };
                Ok((component.clone(), component, real, dry))
            }
            StepOp::Redis { on, argv } => {
                let component = self.component(on, "redis")?;
                let real = Operation::redis(fill_all(argv, values)?);
                let dry = match dry_run {
                    DryRun::Same => Some(real.clone()),
                    DryRun::Argv(d) => Some(Operation::redis(fill_all(d, values)?)),
                    _ => None,
                };
                let on = match host {
                    Some(h) => format!("{component} for {}", h.name),
                    None => component.clone(),
                };
                Ok((component, on, real, dry))
            }
            StepOp::Http { method, url } => {
                let url = url.fill_with(values, |name, v| {
                    if HOST_SLOTS.contains(&name) {
                        v.to_string()
                    } else {
                        url_encode(v)
                    }
                })?;
                let real = Operation::Http {
                    method: method.clone(),
                    url: url.clone(),
                };
                let dry = (*dry_run == DryRun::Same).then(|| real.clone());
                let on = crate::config::mask_url(&url);
                Ok((format!("http/{}", authority(&url)), on, real, dry))
            }
            StepOp::Wait(_) => Err("a wait is not an operation".into()),
        }
    }

    fn with_host(&self, host: &InventoryHost) -> BTreeMap<String, String> {
        let mut values = self.values.clone();
        values.insert(HOST_SLOTS[0].into(), host.name.clone());
        values.insert(HOST_SLOTS[1].into(), host.address.clone());
        values
    }

    fn select(&self, sel: &HostSelector) -> Result<Vec<&InventoryHost>, String> {
        // A filter naming an optional parameter that was left unset is dropped.
        let filter = |t: &Option<Template>| -> Result<Option<String>, String> {
            match t {
                None => Ok(None),
                Some(t) if t.slots().any(|s| !self.values.contains_key(s)) => {
                    let optional = t.slots().all(|s| {
                        self.values.contains_key(s)
                            || self.runbook.param(s).is_some_and(|p| !p.required)
                    });
                    if optional {
                        Ok(None)
                    } else {
                        t.fill(self.values).map(Some)
                    }
                }
                Some(t) => t.fill(self.values).map(Some),
            }
        };
        let role = filter(&sel.role)?;
        let tag = filter(&sel.tag)?;
        let name = filter(&sel.name)?;
        let mut chosen: Vec<&InventoryHost> = self
            .inventory
            .hosts
            .iter()
            .filter(|h| role.as_ref().is_none_or(|r| h.roles.contains(r)))
            .filter(|h| tag.as_ref().is_none_or(|t| h.tags.contains(t)))
            .filter(|h| name.as_ref().is_none_or(|n| h.name == *n))
            .collect();
        if let Some(limit) = sel.limit {
            chosen.truncate(limit);
        }
        if chosen.is_empty() {
            let mut said = Vec::new();
            for (k, v) in [("role", role), ("tag", tag), ("name", name)] {
                if let Some(v) = v {
                    said.push(format!("{k} {v}"));
                }
            }
            return Err(format!(
                "no configured host matches {} (see [[host]] in the config)",
                said.join(", ")
            ));
        }
        Ok(chosen)
    }

    /// `postgres/{database}` made concrete, and known to the fleet.
    fn component(&self, on: &Template, expected_kind: &str) -> Result<String, String> {
        let id = on.fill(self.values)?;
        let kind = id.split('/').next().unwrap_or_default();
        let fits = match expected_kind {
            "redis" => kind == "redis" || kind == "sidekiq",
            k => kind == k,
        };
        if !fits {
            return Err(format!("`{id}` is not a {expected_kind} component"));
        }
        if !self.inventory.components.contains(&id) {
            return Err(format!("no component {id} is configured"));
        }
        Ok(id)
    }

    fn action(
        &self,
        step: &Step,
        number: usize,
        risk: Risk,
        component: String,
        on: &str,
        op: Operation,
    ) -> Action {
        let op = self.maybe_simulated(op);
        Action {
            kind: format!("runbook.{}", self.runbook.name),
            title: format!("{} · {on}", step.title),
            target: Target {
                component,
                object: format!("runbook {} step {number}", self.runbook.name),
                // Typing the runbook's name confirms each of its steps: the operator
                // approved the whole expanded plan at once.
                name: self.runbook.name.clone(),
                identity: None,
            },
            risk,
            operations: vec![op],
            precondition: None,
            cooldown: step.cooldown,
            deadline: step.deadline,
        }
    }

    fn maybe_simulated(&self, op: Operation) -> Operation {
        if self.simulate {
            Operation::Simulated {
                description: op.display(),
                takes_ms: SIMULATED_MS,
            }
        } else {
            op
        }
    }

    fn wait(
        &self,
        c: &Condition,
        values: &BTreeMap<String, String>,
        number: usize,
    ) -> Result<Wait, ExpandError> {
        let fail = |message: String| ExpandError::Step { number, message };
        let timeout = match &c.timeout {
            DurationSpec::Fixed(d) => *d,
            DurationSpec::Param(name) => values
                .get(name)
                .and_then(|s| s.parse::<u64>().ok())
                .map(Duration::from_secs)
                .ok_or_else(|| fail(format!("`{{{name}}}` has no value")))?,
        };
        let (check, component, shown) = match &c.probe {
            Probe::Delay => {
                return Ok(Wait {
                    title: c.title.clone(),
                    shown: format!("let {} pass", humantime::format_duration(timeout)),
                    probe: None,
                    timeout,
                    interval: c.interval,
                });
            }
            Probe::Http { url, status } => {
                let url = url
                    .fill_with(values, |name, v| {
                        if HOST_SLOTS.contains(&name) {
                            v.to_string()
                        } else {
                            url_encode(v)
                        }
                    })
                    .map_err(fail)?;
                let shown = format!("GET {} answers {status}", crate::config::mask_url(&url));
                let component = format!("http/{}", authority(&url));
                (
                    Check::Http {
                        url,
                        status: *status,
                    },
                    component,
                    shown,
                )
            }
            Probe::Sql {
                on,
                text,
                params,
                expect,
            } => {
                let component = self.component(on, "postgres").map_err(fail)?;
                let params = fill_all(params, values).map_err(fail)?;
                let expect = expect.fill(values).map_err(fail)?;
                let shown = format!(
                    "{component}: {} returns {expect}",
                    Operation::Sql {
                        text: text.clone(),
                        params: params.clone()
                    }
                    .display()
                );
                (
                    Check::Sql {
                        text: text.clone(),
                        params,
                        expect,
                    },
                    component,
                    shown,
                )
            }
            Probe::Redis { on, argv, expect } => {
                let component = self.component(on, "redis").map_err(fail)?;
                let argv = fill_all(argv, values).map_err(fail)?;
                let expect = expect.fill(values).map_err(fail)?;
                let shown = format!(
                    "{component}: {} replies {expect}",
                    Operation::redis(argv.clone()).display()
                );
                (Check::Redis { argv, expect }, component, shown)
            }
        };
        let check = if self.simulate {
            Check::Simulated {
                description: shown.clone(),
            }
        } else {
            check
        };
        Ok(Wait {
            title: c.title.clone(),
            probe: Some(Action {
                kind: format!("runbook.{}.probe", self.runbook.name),
                title: c.title.clone(),
                target: Target {
                    component,
                    object: String::new(),
                    name: self.runbook.name.clone(),
                    identity: None,
                },
                risk: Risk::Low,
                operations: Vec::new(),
                precondition: Some(check),
                cooldown: Duration::ZERO,
                // One question may take at most one interval (and never less than a
                // second), so a hanging backend cannot stretch the wait past its timeout.
                deadline: c
                    .interval
                    .max(Duration::from_secs(1))
                    .min(timeout.max(Duration::from_secs(1))),
            }),
            shown,
            timeout,
            interval: c.interval,
        })
    }
}

fn err_text(e: ExpandError) -> String {
    match e {
        ExpandError::Step { message, .. } => message,
        other => other.to_string(),
    }
}

/// `host:port` of a URL, for naming the component an HTTP step acts on.
fn authority(url: &str) -> String {
    crate::config::urls::authority(url)
}
