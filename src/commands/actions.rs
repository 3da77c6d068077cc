//! `mastop action …`, `approve`, `approvals`, `freeze`, `unfreeze` and `audit tail`: the
//! guarded pipeline from the command line, for scripts, chat bots and a second console.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::actions::runtime::Runtime;
use crate::actions::{Action, Confirmation, Outcome, Risk};
use crate::cli::{ActionCommand, ActionTarget, AuditCommand};
use crate::config::Config;
use crate::model::Fleet;

/// Exit codes: 0 done, 1 failed or aborted, 2 usage or config error, 3 refused by a guard.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_REFUSED: u8 = 3;

fn runtime_for(cfg: &Config, readonly: bool, demo: bool) -> Runtime {
    let mut session =
        crate::actions::Session::current(super::effective_role(cfg, readonly, demo), readonly);
    session.tailscale_login = super::inventory::login_blocking(cfg);
    let ledger =
        demo.then(|| Arc::new(Mutex::new(crate::actions::executor::DemoLedger::default())));
    Runtime::new(super::pipeline(cfg, session), cfg, ledger)
}

/// The fleet the catalog looks at: one poll of the configured sources, or the demo.
async fn fleet(cfg: &Config, demo: bool) -> Fleet {
    if demo {
        let now = SystemTime::now();
        crate::headless::fleet_from(crate::demo::readings_at(Duration::ZERO, now), now)
    } else {
        crate::headless::poll_once(crate::sources::build(cfg)).await
    }
}

fn find(fleet: &Fleet, target: &ActionTarget) -> Result<Action, String> {
    let component = fleet
        .components()
        .iter()
        .find(|c| c.meta.id.as_str() == target.component)
        .ok_or_else(|| format!("no component called {}", target.component))?;
    let selected = match (&target.table, &target.row) {
        (Some(table), Some(key)) => Some(crate::actions::catalog::Selected { table, key }),
        _ => None,
    };
    let offered = crate::actions::catalog::for_component(component, selected, target.demo);
    let matching: Vec<&Action> = offered
        .iter()
        .filter(|a| {
            a.kind == target.kind && target.object.as_ref().is_none_or(|o| *o == a.target.object)
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "{} offers no {}{}; see `mastop action list --component {}`",
            target.component,
            target.kind,
            target
                .object
                .as_ref()
                .map(|o| format!(" on {o}"))
                .unwrap_or_default(),
            target.component
        )),
        many => Err(format!(
            "{} offers {} on several objects ({}); choose one with --object",
            target.component,
            target.kind,
            many.iter()
                .map(|a| a.target.object.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

pub fn action(
    cfg: &Config,
    command: ActionCommand,
    readonly: bool,
) -> color_eyre::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        match command {
            ActionCommand::List { component, demo } => {
                let fleet = fleet(cfg, demo).await;
                for c in fleet.components() {
                    if component.as_ref().is_some_and(|want| want != c.meta.id.as_str()) {
                        continue;
                    }
                    for a in crate::actions::catalog::for_component(c, None, demo) {
                        println!("{:<24} {:<26} {:<8} {}  [{}]", c.meta.id, a.kind, a.risk.word(), a.title, a.target.object);
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            ActionCommand::Preview(target) => {
                let ops = runtime_for(cfg, readonly, target.demo);
                let action = match find(&fleet(cfg, target.demo).await, &target) {
                    Ok(a) => a,
                    Err(e) => return usage(e),
                };
                let executor = ops.executor_for(&action);
                let preview = ops.pipeline.preview(&action, executor.as_deref()).await;
                println!("{} · {} · risk {}", action.title, action.target, action.risk.word());
                println!("would run:");
                for op in &preview.operations {
                    println!("  {op}");
                }
                println!("guards:");
                for d in &preview.decisions {
                    println!("  {} {:<13} {}", if d.passed { "ok " } else { "NO " }, d.guard, d.detail);
                }
                Ok(ExitCode::SUCCESS)
            }
            ActionCommand::Run { target, yes, confirm, approval, wait_approval } => {
                let ops = runtime_for(cfg, readonly, target.demo);
                let action = match find(&fleet(cfg, target.demo).await, &target) {
                    Ok(a) => a,
                    Err(e) => return usage(e),
                };
                let confirmation = match (confirm, yes) {
                    (Some(typed), _) => Confirmation::Typed(typed),
                    (None, true) if action.risk == Risk::Low => Confirmation::Confirmed,
                    (None, true) => {
                        return usage(format!(
                            "{} is {} risk: confirm with --confirm {}",
                            action.title,
                            action.risk.word(),
                            action.target.name
                        ));
                    }
                    (None, false) => Confirmation::None,
                };
                if crate::actions::kinds::retry_all::Flow::of(&action).is_some() {
                    let result = super::retry_all::run(&ops, &action, confirmation).await;
                    println!("{}", result.message);
                    return Ok(exit_code(result.outcome));
                }
                let executor = ops.executor_for(&action);
                let mut result = ops.pipeline.run(&action, confirmation.clone(), approval.as_deref(), executor.as_deref()).await;
                if let (Some(id), Some(wait)) = (result.awaiting_approval.clone(), wait_approval) {
                    eprintln!("approval {id} requested; a second on-call console runs: mastop approve {id}");
                    let until = Instant::now() + wait;
                    loop {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        let approved = matches!(ops.pipeline.store().approval(&id).await, Ok(Some(a)) if a.approved_by.is_some());
                        if approved {
                            result = ops.pipeline.run(&action, confirmation.clone(), Some(&id), executor.as_deref()).await;
                            break;
                        }
                        if Instant::now() >= until {
                            eprintln!("no approval for {id} within {}", humantime::format_duration(wait));
                            break;
                        }
                    }
                }
                println!("{}", result.message);
                Ok(exit_code(result.outcome))
            }
        }
    })
}

fn exit_code(outcome: Outcome) -> ExitCode {
    ExitCode::from(match outcome {
        Outcome::Ok => 0,
        Outcome::Refused => EXIT_REFUSED,
        Outcome::Failed | Outcome::Aborted => EXIT_FAILED,
    })
}

fn usage(message: String) -> color_eyre::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(EXIT_USAGE))
}

fn report(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(m) => {
            println!("{m}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("refused: {e}");
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

pub fn approve(cfg: &Config, id: &str, readonly: bool) -> color_eyre::Result<ExitCode> {
    let ops = runtime_for(cfg, readonly, false);
    Ok(report(super::runtime()?.block_on(ops.approve(id))))
}

pub fn approvals(cfg: &Config, readonly: bool) -> color_eyre::Result<ExitCode> {
    let ops = runtime_for(cfg, readonly, false);
    match super::runtime()?.block_on(ops.pipeline.store().pending_approvals()) {
        Ok(list) => {
            for a in list {
                println!(
                    "{}  {}  asked by {} at {}, open until {}",
                    a.id, a.summary, a.requested_by, a.requested_at, a.expires
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

pub fn freeze(
    cfg: &Config,
    reason: Option<String>,
    readonly: bool,
) -> color_eyre::Result<ExitCode> {
    let ops = runtime_for(cfg, readonly, false);
    Ok(report(super::runtime()?.block_on(ops.set_freeze(reason))))
}

pub fn audit(cfg: &Config, command: AuditCommand, readonly: bool) -> color_eyre::Result<ExitCode> {
    let AuditCommand::Tail { since, json, limit } = command;
    let ops = runtime_for(cfg, readonly, false);
    let since = since.map(|d| SystemTime::now() - d);
    let records = match super::runtime()?.block_on(ops.history(since, limit)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    for r in records {
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            let outcome = match (r.phase, r.outcome) {
                (crate::actions::Phase::Intent, _) => "started".to_string(),
                (_, Some(o)) => o.word().to_string(),
                (_, None) => "?".to_string(),
            };
            let detail = r.error.clone().or(r.result.clone()).unwrap_or_default();
            println!(
                "{}  {:<8} {:<7} {}@{}  {} · {}  {}",
                r.time,
                outcome,
                r.role,
                r.operator,
                r.console_host,
                r.title,
                r.target,
                crate::sanitize::sanitize(&detail)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
