//! Runs a plan: preconditions, then each step in order, every action through the guarded
//! pipeline (so each is refused, locked, audited exactly like a single action), waits and
//! health gates polled until they hold or time out. The first failure ends the run.
//!
//! Pause lets the current step finish and holds before the next one (or the next host of a
//! rolling step); abort stops there for good. Neither interrupts an action mid-flight: a
//! half-sent operation is worse than a finished one.

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::plan::{Mode, Plan, Wait, Work};
use crate::actions::audit::{RunbookMark, new_id};
use crate::actions::runtime::Runtime;
use crate::actions::{Action, Confirmation, Outcome, Risk, Role};

/// What the operator (or a test) can do to a run in progress. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Control {
    paused: watch::Sender<bool>,
    abort: CancellationToken,
}

impl Default for Control {
    fn default() -> Self {
        Self::new()
    }
}

impl Control {
    pub fn new() -> Control {
        Control {
            paused: watch::channel(false).0,
            abort: CancellationToken::new(),
        }
    }

    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }

    pub fn abort(&self) {
        self.abort.cancel();
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    pub fn is_aborted(&self) -> bool {
        self.abort.is_cancelled()
    }
}

/// Progress, as it happens, for the console's run view and the CLI's output.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Started {
        run: String,
        runbook: String,
        dry_run: bool,
    },
    Precondition {
        title: String,
        ok: bool,
        detail: String,
    },
    StepStarted {
        number: usize,
        title: String,
    },
    ActionStarted {
        number: usize,
        title: String,
        operations: Vec<String>,
    },
    ActionFinished {
        number: usize,
        title: String,
        outcome: Outcome,
        message: String,
    },
    /// One unanswered question of a wait or gate.
    Waiting {
        number: usize,
        title: String,
        attempt: u32,
        detail: String,
    },
    WaitFinished {
        number: usize,
        title: String,
        ok: bool,
        detail: String,
    },
    StepSkipped {
        number: usize,
        would: Vec<String>,
    },
    /// Held before step `before`.
    Paused {
        before: usize,
    },
    Resumed,
    Finished(Summary),
}

impl Event {
    /// One line of a run's log, as the console and the CLI show it.
    pub fn line(&self) -> String {
        let mark = |ok: bool| if ok { "✔" } else { "✖" };
        match self {
            Event::Started { run, dry_run, .. } => {
                format!("run {run}{}", if *dry_run { " (dry run)" } else { "" })
            }
            Event::Precondition { title, ok, detail } => {
                format!("{} before: {title}: {detail}", mark(*ok))
            }
            Event::StepStarted { number, title } => format!("step {number}: {title}"),
            Event::ActionStarted { operations, .. } => format!("  → {}", operations.join("; ")),
            Event::ActionFinished {
                message, outcome, ..
            } => format!("  {} {message}", mark(*outcome == Outcome::Ok)),
            Event::Waiting {
                attempt, detail, ..
            } => format!("  … try {attempt}: {detail}"),
            Event::WaitFinished {
                title, ok, detail, ..
            } => format!("  {} {title}: {detail}", mark(*ok)),
            Event::StepSkipped { would, .. } => {
                format!("  skipped in a dry run: {}", would.join("; "))
            }
            Event::Paused { before } => format!("paused before step {before}"),
            Event::Resumed => "resumed".into(),
            Event::Finished(summary) => summary.line(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum RunEnd {
    Completed,
    /// A guard refused before anything ran (shadow session, wrong confirmation).
    Refused {
        reason: String,
    },
    /// Step `step` failed (0 for the preconditions); nothing after it ran.
    Failed {
        step: usize,
        reason: String,
    },
    /// Stopped by the operator before step `before`.
    Aborted {
        before: usize,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub run: String,
    pub runbook: String,
    pub end: RunEnd,
    /// Actions that went through the pipeline and ended ok.
    pub actions_ok: usize,
}

impl Summary {
    pub fn line(&self) -> String {
        match &self.end {
            RunEnd::Completed => format!(
                "{}: completed ({} action{} ok), run {}",
                self.runbook,
                self.actions_ok,
                if self.actions_ok == 1 { "" } else { "s" },
                self.run
            ),
            RunEnd::Refused { reason } => format!("{}: refused: {reason}", self.runbook),
            RunEnd::Failed { step: 0, reason } => {
                format!("{}: a precondition failed: {reason}", self.runbook)
            }
            RunEnd::Failed { step, reason } => {
                format!("{}: stopped at step {step}: {reason}", self.runbook)
            }
            RunEnd::Aborted { before } => {
                format!("{}: aborted before step {before}", self.runbook)
            }
        }
    }
}

struct Engine<'a> {
    plan: &'a Plan,
    runtime: &'a Runtime,
    typed: Option<&'a str>,
    control: &'a Control,
    events: &'a mpsc::UnboundedSender<Event>,
    run: String,
    actions_ok: usize,
}

/// Runs `plan`. `typed` is what the operator typed to confirm (the runbook's name; needed
/// unless every action is low risk). Events go to `events`; the summary is also the last
/// event.
pub async fn execute(
    plan: &Plan,
    runtime: &Runtime,
    typed: Option<&str>,
    control: &Control,
    events: &mpsc::UnboundedSender<Event>,
) -> Summary {
    let mut engine = Engine {
        plan,
        runtime,
        typed,
        control,
        events,
        run: new_id(),
        actions_ok: 0,
    };
    let end = engine.go().await;
    let summary = Summary {
        run: engine.run.clone(),
        runbook: plan.runbook.clone(),
        end,
        actions_ok: engine.actions_ok,
    };
    engine.emit(Event::Finished(summary.clone()));
    summary
}

impl Engine<'_> {
    fn emit(&self, event: Event) {
        // A closed receiver means nobody watches any more; the run itself goes on.
        let _ = self.events.send(event);
    }

    fn mark(&self, step: usize) -> RunbookMark {
        RunbookMark {
            run: self.run.clone(),
            name: self.plan.runbook.clone(),
            step,
            dry_run: self.plan.mode == Mode::DryRun,
        }
    }

    fn confirmation(&self, action: &Action) -> Confirmation {
        match (action.risk, self.typed) {
            (_, Some(t)) => Confirmation::Typed(t.to_string()),
            (Risk::Low, None) => Confirmation::Confirmed,
            (_, None) => Confirmation::None,
        }
    }

    async fn go(&mut self) -> RunEnd {
        self.emit(Event::Started {
            run: self.run.clone(),
            runbook: self.plan.runbook.clone(),
            dry_run: self.plan.mode == Mode::DryRun,
        });
        if let Some(end) = self.refused_up_front().await {
            return end;
        }
        for w in &self.plan.preconditions {
            let result = self.wait(w, 0).await;
            let (ok, detail) = match &result {
                Ok(d) => (true, d.clone()),
                Err(WaitEnd::Failed(e)) => (false, e.clone()),
                Err(WaitEnd::Aborted) => return RunEnd::Aborted { before: 1 },
            };
            self.emit(Event::Precondition {
                title: w.title.clone(),
                ok,
                detail: detail.clone(),
            });
            if !ok {
                return RunEnd::Failed {
                    step: 0,
                    reason: format!("{}: {detail}", w.title),
                };
            }
        }
        for step in &self.plan.steps {
            if let Some(end) = self.checkpoint(step.number).await {
                return end;
            }
            self.emit(Event::StepStarted {
                number: step.number,
                title: step.title.clone(),
            });
            match &step.work {
                Work::Skip { would } => self.emit(Event::StepSkipped {
                    number: step.number,
                    would: would.clone(),
                }),
                Work::Wait(w) => match self.wait(w, step.number).await {
                    Ok(_) => {}
                    Err(WaitEnd::Aborted) => {
                        return RunEnd::Aborted {
                            before: step.number + 1,
                        };
                    }
                    Err(WaitEnd::Failed(reason)) => {
                        return RunEnd::Failed {
                            step: step.number,
                            reason,
                        };
                    }
                },
                Work::Actions {
                    actions,
                    gates,
                    together,
                } => {
                    if let Some(end) = self.actions(step.number, actions, gates, *together).await {
                        return end;
                    }
                }
            }
        }
        RunEnd::Completed
    }

    /// A shadow session, or a confirmation that does not match, ends the run before
    /// anything is asked of any backend. The refusal is still audited: the first action
    /// that would have been refused goes through the pipeline, which records why.
    async fn refused_up_front(&mut self) -> Option<RunEnd> {
        let session = self.runtime.pipeline.session();
        let needs_typing = self.plan.actions().any(|a| a.risk != Risk::Low);
        let wrong_typing =
            needs_typing && self.typed.is_none_or(|t| t != self.plan.runbook.as_str());
        if session.role == Role::Oncall && !wrong_typing {
            return None;
        }
        let first = self
            .plan
            .actions()
            .find(|a| session.role != Role::Oncall || a.risk != Risk::Low);
        let reason = match first {
            Some(action) => {
                let number = self.step_of(action);
                let executor = self.runtime.executor_for(action);
                let result = self
                    .runtime
                    .pipeline
                    .run_marked(
                        action,
                        self.confirmation(action),
                        None,
                        executor.as_deref(),
                        Some(&self.mark(number)),
                    )
                    .await;
                result.message
            }
            None => "read-only: shadowing, this session cannot run runbooks".into(),
        };
        Some(RunEnd::Refused { reason })
    }

    fn step_of(&self, action: &Action) -> usize {
        self.plan
            .steps
            .iter()
            .find(|s| match &s.work {
                Work::Actions { actions, .. } => actions.iter().any(|a| std::ptr::eq(a, action)),
                _ => false,
            })
            .map_or(0, |s| s.number)
    }

    /// Holds while paused; ends the run when aborted.
    async fn checkpoint(&self, before: usize) -> Option<RunEnd> {
        if self.control.is_aborted() {
            return Some(RunEnd::Aborted { before });
        }
        if !self.control.is_paused() {
            return None;
        }
        self.emit(Event::Paused { before });
        let mut paused = self.control.paused.subscribe();
        tokio::select! {
            () = self.control.abort.cancelled() => return Some(RunEnd::Aborted { before }),
            changed = paused.wait_for(|p| !*p) => {
                if changed.is_err() {
                    return Some(RunEnd::Aborted { before });
                }
            }
        }
        self.emit(Event::Resumed);
        None
    }

    async fn actions(
        &mut self,
        number: usize,
        actions: &[Action],
        gates: &[Wait],
        together: bool,
    ) -> Option<RunEnd> {
        if together {
            let runs = actions.iter().map(|a| self.one(number, a));
            let results = futures_util::future::join_all(runs).await;
            let mut failed = None;
            for (a, r) in actions.iter().zip(results) {
                match r {
                    Ok(()) => self.actions_ok += 1,
                    Err(reason) => {
                        failed.get_or_insert(format!("{}: {reason}", a.title));
                    }
                }
            }
            return failed.map(|reason| RunEnd::Failed {
                step: number,
                reason,
            });
        }
        for (i, action) in actions.iter().enumerate() {
            if i > 0
                && let Some(end) = self.checkpoint(number).await
            {
                return Some(end);
            }
            if let Err(reason) = self.one(number, action).await {
                return Some(RunEnd::Failed {
                    step: number,
                    reason,
                });
            }
            self.actions_ok += 1;
            if let Some(gate) = gates.get(i) {
                match self.wait(gate, number).await {
                    Ok(_) => {}
                    Err(WaitEnd::Aborted) => return Some(RunEnd::Aborted { before: number }),
                    Err(WaitEnd::Failed(reason)) => {
                        let next = actions
                            .get(i + 1)
                            .map(|a| format!("; {} not started", a.title))
                            .unwrap_or_default();
                        return Some(RunEnd::Failed {
                            step: number,
                            reason: format!("health gate after {}: {reason}{next}", action.title),
                        });
                    }
                }
            }
        }
        None
    }

    /// One action through the pipeline.
    async fn one(&self, number: usize, action: &Action) -> Result<(), String> {
        self.emit(Event::ActionStarted {
            number,
            title: action.title.clone(),
            operations: action.operations.iter().map(|o| o.display()).collect(),
        });
        let executor = self.runtime.executor_for(action);
        let result = self
            .runtime
            .pipeline
            .run_marked(
                action,
                self.confirmation(action),
                None,
                executor.as_deref(),
                Some(&self.mark(number)),
            )
            .await;
        self.emit(Event::ActionFinished {
            number,
            title: action.title.clone(),
            outcome: result.outcome,
            message: result.message.clone(),
        });
        if result.outcome == Outcome::Ok {
            Ok(())
        } else {
            Err(result.message)
        }
    }

    /// Asks the wait's question every interval until it holds or the timeout passes.
    async fn wait(&self, w: &Wait, number: usize) -> Result<String, WaitEnd> {
        let Some(probe) = &w.probe else {
            tokio::select! {
                () = self.control.abort.cancelled() => return Err(WaitEnd::Aborted),
                () = tokio::time::sleep(w.timeout) => {}
            }
            let detail = format!("waited {}", humantime::format_duration(w.timeout));
            self.emit(Event::WaitFinished {
                number,
                title: w.title.clone(),
                ok: true,
                detail: detail.clone(),
            });
            return Ok(detail);
        };
        let Some(executor) = self.runtime.executor_for(probe) else {
            let detail = format!("nothing can ask {}", probe.target.component);
            self.emit(Event::WaitFinished {
                number,
                title: w.title.clone(),
                ok: false,
                detail: detail.clone(),
            });
            return Err(WaitEnd::Failed(detail));
        };
        let until = tokio::time::Instant::now() + w.timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = tokio::select! {
                () = self.control.abort.cancelled() => return Err(WaitEnd::Aborted),
                answer = tokio::time::timeout(probe.deadline, executor.recheck(probe)) => answer,
            };
            let last = match answer {
                Ok(Ok(detail)) => {
                    self.emit(Event::WaitFinished {
                        number,
                        title: w.title.clone(),
                        ok: true,
                        detail: detail.clone(),
                    });
                    return Ok(detail);
                }
                Ok(Err(e)) => e,
                Err(_) => format!(
                    "no answer within {}",
                    humantime::format_duration(probe.deadline)
                ),
            };
            self.emit(Event::Waiting {
                number,
                title: w.title.clone(),
                attempt,
                detail: last.clone(),
            });
            if tokio::time::Instant::now() + w.interval > until {
                let detail = format!(
                    "{} did not hold within {} ({attempt} tries; last: {last})",
                    w.shown,
                    humantime::format_duration(w.timeout)
                );
                self.emit(Event::WaitFinished {
                    number,
                    title: w.title.clone(),
                    ok: false,
                    detail: detail.clone(),
                });
                return Err(WaitEnd::Failed(detail));
            }
            tokio::select! {
                () = self.control.abort.cancelled() => return Err(WaitEnd::Aborted),
                () = tokio::time::sleep(w.interval) => {}
            }
        }
    }
}

enum WaitEnd {
    Failed(String),
    Aborted,
}

/// Runs a plan to its end and collects every event: for the CLI and tests.
pub async fn execute_collecting(
    plan: &Plan,
    runtime: &Runtime,
    typed: Option<&str>,
    control: &Control,
) -> (Summary, Vec<Event>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let summary = execute(plan, runtime, typed, control, &tx).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (summary, events)
}
