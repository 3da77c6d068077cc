//! `mastop action …`, `approve`, `approvals`, `freeze`, `unfreeze` and `audit tail`: the
//! guarded pipeline from the command line, for scripts, chat bots and a second console.

use std::process::ExitCode;
use std::time::SystemTime;

use crate::actions::{Action, Confirmation, Outcome, Risk};
use crate::cli::{ActionCommand, ActionTarget, AuditCommand};
use crate::engine::Engine;
use crate::model::Fleet;

/// Exit codes: 0 done, 1 failed or aborted, 2 usage or config error, 3 refused by a guard.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_REFUSED: u8 = 3;

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

pub fn action(mut engine: Engine, command: ActionCommand) -> color_eyre::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(async move {
        match command {
            ActionCommand::List { component, .. } => {
                let fleet = engine.poll_once().await;
                let demo = engine.demo().is_some();
                for c in fleet.components() {
                    if component.as_ref().is_some_and(|want| want != c.meta.id.as_str()) {
                        continue;
                    }
                    for line in listing(c, demo) {
                        crate::outln!("{line}");
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            ActionCommand::Preview(target) => {
                engine.identify().await;
                let ops = engine.actions();
                let action = match find(&engine.poll_once().await, &target) {
                    Ok(a) => a,
                    Err(e) => return usage(e),
                };
                let executor = ops.executor_for(&action);
                let preview = ops.pipeline.preview(&action, executor.as_deref()).await;
                crate::outln!("{} · {} · risk {}", action.title, action.target, action.risk.word());
                crate::outln!("would run:");
                for op in &preview.operations {
                    crate::outln!("  {op}");
                }
                crate::outln!("guards:");
                for d in &preview.decisions {
                    crate::outln!("  {} {:<13} {}", if d.passed { "ok " } else { "NO " }, d.guard, d.detail);
                }
                Ok(ExitCode::SUCCESS)
            }
            ActionCommand::Run { target, yes, confirm, approval, wait_approval } => {
                engine.identify().await;
                let ops = engine.actions();
                let action = match find(&engine.poll_once().await, &target) {
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
                    crate::outln!("{}", result.message);
                    return Ok(exit_code(result.outcome));
                }
                let result = ops
                    .run_with_approval(&action, confirmation, approval.as_deref(), wait_approval, |r| {
                        if let Some(id) = &r.awaiting_approval {
                            crate::errln!("approval {id} requested; a second on-call console runs: mastop approve {id}");
                        }
                    })
                    .await;
                if let (Some(id), Some(wait)) = (&result.awaiting_approval, wait_approval) {
                    crate::errln!("no approval for {id} within {}", humantime::format_duration(wait));
                }
                crate::outln!("{}", result.message);
                Ok(exit_code(result.outcome))
            }
        }
    })
}

/// `action list` lines for one component: its own actions, then those on each row of its
/// tables, each with the exact `--table … --row …` that `action preview` and `action run`
/// need to find it again.
fn listing(c: &crate::model::ComponentState, demo: bool) -> Vec<String> {
    let line = |a: &Action, row: Option<(&str, &str)>| {
        let select = row
            .map(|(table, key)| {
                format!("  --table {} --row {}", shell_word(table), shell_word(key))
            })
            .unwrap_or_default();
        crate::sanitize::sanitize(&format!(
            "{:<24} {:<26} {:<8} {}  [{}]{select}",
            c.meta.id.as_str(),
            a.kind,
            a.risk.word(),
            a.title,
            a.target.object
        ))
        .into_owned()
    };
    let own = crate::actions::catalog::for_component(c, None, demo);
    let mut lines: Vec<String> = own.iter().map(|a| line(a, None)).collect();
    let Some(reading) = c.reading.as_deref() else {
        return lines;
    };
    let mut seen: std::collections::HashSet<(String, String)> = own
        .iter()
        .map(|a| (a.kind.clone(), a.target.object.clone()))
        .collect();
    for section in reading.detail().sections {
        let crate::model::SectionBody::Table(table) = &section.body else {
            continue;
        };
        for key in table.rows.iter().filter_map(|r| r.key.as_deref()) {
            let selected = crate::actions::catalog::Selected {
                table: &section.title,
                key,
            };
            for a in crate::actions::catalog::for_component(c, Some(selected), demo) {
                if seen.insert((a.kind.clone(), a.target.object.clone())) {
                    lines.push(line(&a, Some((&section.title, key))));
                }
            }
        }
    }
    lines
}

/// A word the shell passes through unchanged: bare when it is plain, else single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@%+=,".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn exit_code(outcome: Outcome) -> ExitCode {
    ExitCode::from(match outcome {
        Outcome::Ok => 0,
        Outcome::Refused => EXIT_REFUSED,
        Outcome::Failed | Outcome::Aborted => EXIT_FAILED,
    })
}

fn usage(message: String) -> color_eyre::Result<ExitCode> {
    crate::errln!("error: {message}");
    Ok(ExitCode::from(EXIT_USAGE))
}

fn report(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(m) => {
            crate::outln!("{m}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::errln!("refused: {e}");
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

pub fn approve(mut engine: Engine, id: &str) -> color_eyre::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(engine.identify());
    Ok(report(rt.block_on(engine.actions().approve(id))))
}

pub fn approvals(engine: &Engine) -> color_eyre::Result<ExitCode> {
    let ops = engine.actions();
    match super::runtime()?.block_on(ops.pipeline.store().pending_approvals()) {
        Ok(list) => {
            for a in list {
                crate::outln!(
                    "{}  {}  asked by {} at {}, open until {}",
                    a.id,
                    a.summary,
                    a.requested_by,
                    a.requested_at,
                    a.expires
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

pub fn freeze(mut engine: Engine, reason: Option<String>) -> color_eyre::Result<ExitCode> {
    let rt = super::runtime()?;
    rt.block_on(engine.identify());
    Ok(report(rt.block_on(engine.actions().set_freeze(reason))))
}

pub fn audit(engine: &Engine, command: AuditCommand) -> color_eyre::Result<ExitCode> {
    let AuditCommand::Tail { since, json, limit } = command;
    let ops = engine.actions();
    let since = since.map(|d| SystemTime::now() - d);
    let records = match super::runtime()?.block_on(ops.history(since, limit)) {
        Ok(r) => r,
        Err(e) => {
            crate::errln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    for r in records {
        if json {
            crate::outln!("{}", serde_json::to_string(&r)?);
        } else {
            let outcome = match (r.phase, r.outcome) {
                (crate::actions::Phase::Intent, _) => "started".to_string(),
                (_, Some(o)) => o.word().to_string(),
                (_, None) => "?".to_string(),
            };
            let detail = r.error.clone().or(r.result.clone()).unwrap_or_default();
            crate::outln!(
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
