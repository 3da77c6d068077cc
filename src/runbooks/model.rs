//! A runbook as mastop understands it once its file has been checked: every template parsed,
//! every placeholder known, every step one of the kinds the engine can run.

use std::time::Duration;

use super::params::Param;
use super::template::Template;
use crate::actions::{Risk, Role};

#[derive(Clone, Debug)]
pub struct Runbook {
    /// What the operator types: `rolling-reload-web`.
    pub name: String,
    pub title: String,
    pub description: String,
    /// Who may run it.
    pub role: Role,
    pub risk: Risk,
    /// What to do if it goes wrong, for people: no step runs it.
    pub rollback: String,
    pub params: Vec<Param>,
    /// Asked of live state before the first step; the run starts only if all hold.
    pub preconditions: Vec<Condition>,
    pub steps: Vec<Step>,
    /// The file it came from (`shipped:rolling-reload-web.toml` for shipped ones).
    pub origin: String,
}

impl Runbook {
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Step {
    pub title: String,
    pub op: StepOp,
    /// Once per selected host (always for SSH; optional for Redis and HTTP steps).
    pub fan_out: Option<FanOut>,
    pub dry_run: DryRun,
    /// The runbook's risk, or low for a step that changes nothing.
    pub risk: Risk,
    pub deadline: Duration,
    pub cooldown: Duration,
}

/// What `--dry-run` does with a step.
#[derive(Clone, Debug, PartialEq)]
pub enum DryRun {
    /// Nothing: the step is shown and skipped.
    Skip,
    /// The step changes nothing and runs as written (`nginx -t`, a read query).
    Same,
    /// This argv instead (SSH or Redis), e.g. the same `tootctl` call with `--dry-run`.
    Argv(Vec<Template>),
    /// This query instead.
    Sql { text: String, params: Vec<Template> },
}

#[derive(Clone, Debug)]
pub enum StepOp {
    /// An argv on each selected host.
    Ssh {
        argv: Vec<Template>,
    },
    /// One statement on a Postgres component; parameters only as `$n`.
    Sql {
        on: Template,
        text: String,
        params: Vec<Template>,
    },
    /// One command on a Redis or Sidekiq component.
    Redis {
        on: Template,
        argv: Vec<Template>,
    },
    Http {
        method: String,
        url: Template,
    },
    /// Poll until the condition holds or its timeout passes.
    Wait(Condition),
}

impl StepOp {
    pub fn word(&self) -> &'static str {
        match self {
            StepOp::Ssh { .. } => "ssh",
            StepOp::Sql { .. } => "sql",
            StepOp::Redis { .. } => "redis",
            StepOp::Http { .. } => "http",
            StepOp::Wait(_) => "wait",
        }
    }
}

/// A step repeated for each selected host: all at once, or host after host with a gate
/// (if any) that must hold after each before the next is touched.
#[derive(Clone, Debug)]
pub struct FanOut {
    pub hosts: HostSelector,
    pub one_at_a_time: bool,
    pub gate: Option<Condition>,
}

/// Which configured hosts a step runs on: all filters must match.
#[derive(Clone, Debug, Default)]
pub struct HostSelector {
    pub role: Option<Template>,
    pub tag: Option<Template>,
    /// Usually a host parameter; a placeholder whose optional parameter is unset drops the
    /// filter (all hosts of the role).
    pub name: Option<Template>,
    /// At most this many, in config order (`1` for "one host with role X").
    pub limit: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Condition {
    pub title: String,
    pub probe: Probe,
    pub timeout: DurationSpec,
    pub interval: Duration,
}

#[derive(Clone, Debug)]
pub enum Probe {
    /// The URL answers with this status.
    Http { url: Template, status: u16 },
    /// The first column of the first row, as text, equals `expect`.
    Sql {
        on: Template,
        text: String,
        params: Vec<Template>,
        expect: Template,
    },
    /// The reply, as text, equals `expect`.
    Redis {
        on: Template,
        argv: Vec<Template>,
        expect: Template,
    },
    /// Nothing to ask: just let the time pass (a unit settling after a restart).
    Delay,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DurationSpec {
    Fixed(Duration),
    /// The value of a duration parameter.
    Param(String),
}
