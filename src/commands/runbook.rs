//! `mastop runbook list|show|run`: runbooks from the command line, through the same engine
//! and pipeline as the console.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;

use crate::actions::{Risk, Role};
use crate::cli::RunbookCommand;
use crate::engine::Engine;
use crate::runbooks::engine::execute;
use crate::runbooks::{Control, Mode, RunEnd, describe, expand};
use crate::sanitize::sanitize;

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_REFUSED: u8 = 3;

fn usage(message: impl std::fmt::Display) -> color_eyre::Result<ExitCode> {
    crate::errln!("error: {message}");
    Ok(ExitCode::from(EXIT_USAGE))
}

/// `--param days=7 --param domain=x` as a map; a repeated name is a mistake, not an
/// override.
pub fn parse_params(given: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for item in given {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("--param {item}: write NAME=VALUE"));
        };
        if out.insert(k.trim().to_string(), v.to_string()).is_some() {
            return Err(format!("--param {k} given twice"));
        }
    }
    Ok(out)
}

pub fn runbook(mut engine: Engine, command: RunbookCommand) -> color_eyre::Result<ExitCode> {
    let library = engine.runbooks();
    for e in &library.errors {
        crate::errln!("{e}");
    }
    match command {
        RunbookCommand::List { verbose } => {
            for r in &library.runbooks {
                let from = if verbose {
                    format!("  ({})", r.origin)
                } else {
                    String::new()
                };
                crate::outln!(
                    "{:<24} {:<8} {}{from}",
                    r.name,
                    r.risk.word(),
                    sanitize(&r.title)
                );
            }
            Ok(if library.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_USAGE)
            })
        }
        RunbookCommand::Show { name, params, .. } => {
            let Some(r) = library.get(&name) else {
                return usage(format!(
                    "no runbook called {name}; see `mastop runbook list`"
                ));
            };
            let given = match parse_params(&params) {
                Ok(g) => g,
                Err(e) => return usage(e),
            };
            for line in describe::lines(r) {
                crate::outln!("{}", sanitize(&line));
            }
            let needs_values = r.params.iter().any(|p| p.required && p.default.is_none());
            if needs_values && given.is_empty() {
                crate::outln!("");
                crate::outln!(
                    "Give the parameters (--param NAME=VALUE) to see every operation it would run."
                );
                return Ok(ExitCode::SUCCESS);
            }
            match expand(r, &given, &engine.runbook_hosts(), Mode::Run, false) {
                Ok(plan) => {
                    crate::outln!("");
                    crate::outln!("Would run:");
                    for line in plan.lines() {
                        crate::outln!("  {}", sanitize(&line));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => usage(e),
            }
        }
        RunbookCommand::Run {
            name,
            params,
            dry_run,
            yes,
            ..
        } => {
            let Some(r) = library.get(&name).cloned() else {
                return usage(format!(
                    "no runbook called {name}; see `mastop runbook list`"
                ));
            };
            let given = match parse_params(&params) {
                Ok(g) => g,
                Err(e) => return usage(e),
            };
            let mode = if dry_run { Mode::DryRun } else { Mode::Run };
            let demo = engine.demo().is_some();
            let plan = match expand(&r, &given, &engine.runbook_hosts(), mode, demo) {
                Ok(p) => p,
                Err(e) => return usage(e),
            };
            crate::outln!(
                "{} — {}{}",
                r.name,
                sanitize(&r.title),
                if dry_run { " (dry run)" } else { "" }
            );
            for line in plan.lines() {
                crate::outln!("  {}", sanitize(&line));
            }
            let rt = super::runtime()?;
            rt.block_on(engine.identify());
            let session = engine.session();
            let needs_typing = plan.actions().any(|a| a.risk != Risk::Low);
            let typed = if session.role != Role::Oncall {
                // The engine refuses and audits the attempt.
                None
            } else if needs_typing && yes {
                return usage(format!(
                    "{} is {} risk: --yes is only for low-risk runbooks and dry runs; type the name when asked",
                    r.name,
                    r.risk.word()
                ));
            } else if needs_typing {
                crate::err!("Type the runbook's name ({}) to run it: ", r.name);
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Some(line.trim().to_string())
            } else {
                None
            };
            let ops = engine.actions();
            let end = rt.block_on(async move {
                let control = Control::new();
                let stopper = control.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        crate::errln!("stopping before the next step (the current one finishes)…");
                        stopper.abort();
                    }
                });
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<crate::runbooks::Event>();
                let printer = tokio::spawn(async move {
                    while let Some(e) = rx.recv().await {
                        crate::outln!("{}", sanitize(&e.line()));
                    }
                });
                let summary = execute(&plan, &ops, typed.as_deref(), &control, &tx).await;
                drop(tx);
                let _ = printer.await;
                summary.end
            });
            Ok(ExitCode::from(match end {
                RunEnd::Completed => 0,
                RunEnd::Refused { .. } => EXIT_REFUSED,
                RunEnd::Failed { .. } | RunEnd::Aborted { .. } => EXIT_FAILED,
            }))
        }
    }
}
