//! "Retry all" of the retry or dead set, or of one class in it, as one operator flow: the
//! operator confirms once (typing the set's name), then batches of at most [`FLOW_BATCH`]
//! exact members run one after another, each through the guarded pipeline (checked,
//! locked and audited on its own), with progress after every batch and an abort that
//! stops after the current one.
//!
//! Nothing is lost or run twice, whatever stops the flow: each batch is one `EVAL` that
//! removes each exact member and pushes it to its queue in the same script, and a member
//! another console or Sidekiq's poller took in between is counted "already gone" and left
//! alone. Between batches there is nothing in flight, so an abort, a crash or a lost
//! connection leaves every job either still in the set or in its queue, once.
//!
//! The flow looks at no more jobs than the set held when it started, so failures arriving
//! while it runs (normal on Mastodon) cannot keep it going for ever; each read of the next
//! batch is one bounded `ZRANGE` window (see [`browse`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::jobs::{RETRY_BATCH, requeue_with};
use super::payload::Clock;
use super::{Arg, BATCH_DEADLINE, Ctx, Set, Spec, build, eval};
use crate::actions::action::{Check, Operation, Risk};
use crate::actions::audit::{GuardDecision, Outcome, new_id};
use crate::actions::runtime::Runtime;
use crate::actions::{Action, Confirmation, RunResult};
use crate::model::Unit;
use crate::model::figure::format_value;
use crate::sources::sidekiq::browse::{self, FILTER_WINDOW, SetName};
use crate::sources::sidekiq::{Keys, SetEntry, parse_job};

pub const KIND: &str = "sidekiq.retry_all";
/// Most jobs one batch moves: one script, one audit record, one lock.
pub const FLOW_BATCH: usize = 50;

/// A retry-all the operator chose: which component, set and (optionally) class.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub component: String,
    pub set: SetName,
    pub class: Option<String>,
}

impl Flow {
    /// The flow an action stands for, if it is a retry-all.
    pub fn of(action: &Action) -> Option<Flow> {
        if action.kind != KIND {
            return None;
        }
        Some(Flow {
            component: action.target.component.clone(),
            set: SetName::from_key(&action.target.name)?,
            class: action
                .target
                .object
                .split_once(" class ")
                .map(|(_, c)| c.to_string()),
        })
    }
}

/// Where a flow stands, after each batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Size of the set when the flow started.
    pub total: u64,
    pub moved: u64,
    /// Taken by someone else between the read and the batch: nothing done to them.
    pub gone: u64,
    /// Looked at and left in the set (another class, unreadable, no queue).
    pub passed: u64,
    pub batches: u64,
    pub class: Option<String>,
}

impl Progress {
    /// `moved 350 of 12,000; 3 already gone`.
    pub fn line(&self) -> String {
        let n = |v: u64| format_value(v as f64, Unit::Count);
        let mut line = match &self.class {
            None => format!("moved {} of {}", n(self.moved), n(self.total)),
            Some(c) => format!(
                "moved {} {} jobs; looked at {} of {}",
                n(self.moved),
                crate::sanitize::sanitize(c),
                n(self.looked_at()),
                n(self.total)
            ),
        };
        if self.gone > 0 {
            line.push_str(&format!("; {} already gone", n(self.gone)));
        }
        if self.class.is_none() && self.passed > 0 {
            line.push_str(&format!("; {} left (unreadable)", n(self.passed)));
        }
        line
    }

    fn looked_at(&self) -> u64 {
        self.moved + self.gone + self.passed
    }
}

/// Asks a running flow to stop after its current batch. Cloned into the console's dialog.
#[derive(Clone, Debug, Default)]
pub struct Abort(Arc<AtomicBool>);

impl Abort {
    pub fn new() -> Abort {
        Abort::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl PartialEq for Abort {
    fn eq(&self, other: &Abort) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The retry-all offered in the menu. Its operations are what every batch runs: the read
/// of the next members, then the script with those exact members (shown whole here, with
/// its members in each batch's own audit record). Run on its own, outside a flow, the
/// script has no members and changes nothing.
pub(super) fn plan(ctx: &Ctx<'_>, set: Set, class: Option<&str>) -> Option<Action> {
    let total = set.total(ctx.reading);
    if total == 0 {
        return None;
    }
    let name = set.name();
    let key = ctx.keys.key(set.key());
    let window = if class.is_some() {
        FILTER_WINDOW
    } else {
        FLOW_BATCH
    };
    let read = Operation::redis(vec![
        if name.newest_first() {
            "ZREVRANGE"
        } else {
            "ZRANGE"
        }
        .into(),
        key.clone(),
        "0".into(),
        (window - 1).to_string(),
        "WITHSCORES".into(),
    ]);
    let n = format_value(total as f64, Unit::Count);
    let (object, title) = match class {
        None => (
            set.label().to_string(),
            format!(
                "Retry all {n} jobs of the {} now, {FLOW_BATCH} at a time (progress shown; esc stops after the current batch)",
                set.label()
            ),
        ),
        Some(c) => (
            format!("{} class {c}", set.label()),
            format!(
                "Retry every {c} job in the {} now (looking through {n}), {FLOW_BATCH} at a time (esc stops after the current batch)",
                set.label()
            ),
        ),
    };
    Some(build(Spec {
        kind: KIND,
        title,
        target: ctx.target(object, set.key(), None),
        risk: Risk::High,
        operations: vec![
            read,
            eval(
                RETRY_BATCH,
                vec![key.clone(), ctx.keys.key("queues")],
                Vec::new(),
            ),
        ],
        precondition: Some(Check::Redis {
            argv: vec!["EXISTS".into(), key],
            expect: "1".into(),
        }),
        cooldown: Duration::ZERO,
        deadline: BATCH_DEADLINE,
    }))
}

/// 8.x writes integer milliseconds: the job's own timestamps say which unit it uses.
fn clock_of(member: &str) -> Clock {
    if parse_job(member.as_bytes()).is_some_and(|j| j.millis) {
        Clock::Millis
    } else {
        Clock::Seconds
    }
}

/// One batch: the exact members, each with its queue and rewritten JSON.
fn batch_action(
    flow: &Flow,
    keys: &Keys,
    items: &[(String, String, String)],
    number: u64,
    progress: &Progress,
) -> Action {
    let set = Set::from_name(flow.set);
    let mut script_keys = vec![keys.key(set.key()), keys.key("queues")];
    let mut args = Vec::new();
    for (member, queue, json) in items {
        script_keys.push(keys.queue(queue));
        args.extend([
            Arg::Job(member.clone()),
            Arg::Shown(queue.clone()),
            Arg::Job(json.clone()),
        ]);
    }
    let object = match &flow.class {
        None => set.label().to_string(),
        Some(c) => format!("{} class {c}", set.label()),
    };
    build(Spec {
        kind: "sidekiq.retry_batch",
        title: format!(
            "Retry all of the {}{}, batch {number}: {} jobs ({} so far)",
            set.label(),
            flow.class
                .as_ref()
                .map(|c| format!(" class {c}"))
                .unwrap_or_default(),
            items.len(),
            progress.line()
        ),
        target: crate::actions::action::Target {
            component: flow.component.clone(),
            object,
            name: set.key().to_string(),
            identity: None,
        },
        risk: Risk::High,
        operations: vec![eval(RETRY_BATCH, script_keys, args)],
        precondition: Some(Check::Redis {
            argv: vec!["EXISTS".into(), keys.key(set.key())],
            expect: "1".into(),
        }),
        cooldown: Duration::ZERO,
        deadline: BATCH_DEADLINE,
    })
}

/// `(moved, gone)` from the batch script's reply (`enqueued 48, already gone 2`).
pub fn batch_counts(message: &str) -> Option<(u64, u64)> {
    let number_after = |label: &str| -> Option<u64> {
        let at = message.rfind(label)? + label.len();
        let digits: String = message[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some((number_after("enqueued ")?, number_after("already gone ")?))
}

/// Whether the flow takes this entry: readable, with a queue, of the class if one is set.
fn takes(flow: &Flow, e: &SetEntry) -> bool {
    !e.unreadable && !e.queue.is_empty() && flow.class.as_ref().is_none_or(|c| e.class == *c)
}

fn finished(
    action: &Action,
    outcome: Outcome,
    message: String,
    last: Option<RunResult>,
) -> RunResult {
    let (action_id, decisions) = match last {
        Some(r) => (r.action_id, r.decisions),
        None => (new_id(), Vec::<GuardDecision>::new()),
    };
    RunResult {
        action_id,
        outcome,
        message: format!("{}: {message}", action.title),
        decisions,
        awaiting_approval: None,
    }
}

/// Runs the flow `action` stands for: reads the next batch, runs it through the pipeline
/// with the operator's one confirmation, reports, and goes on until the set (or class) is
/// done, a batch is refused or fails, or `abort` is set. `progress` is called after every
/// batch.
pub async fn run(
    runtime: &Runtime,
    action: &Action,
    confirmation: Confirmation,
    abort: &Abort,
    mut progress: impl FnMut(&Progress),
) -> RunResult {
    let Some(flow) = Flow::of(action) else {
        return finished(
            action,
            Outcome::Refused,
            "not a retry-all action".into(),
            None,
        );
    };
    let mut p = Progress {
        class: flow.class.clone(),
        ..Progress::default()
    };
    let window = if flow.class.is_some() {
        FILTER_WINDOW
    } else {
        FLOW_BATCH
    };
    // Rank of the first member not yet looked at and left in the set.
    let mut cursor = 0u64;
    let mut started = false;
    let mut last = None;
    loop {
        if abort.stopped() {
            let message = format!(
                "stopped by the operator after {} batches: {}",
                p.batches,
                p.line()
            );
            return finished(action, Outcome::Aborted, message, last);
        }
        let read = async {
            let (mut connection, keys) = runtime.sidekiq.connection(&flow.component).await?;
            let w = browse::set_window(&mut connection, &keys, flow.set, cursor, window)
                .await
                .map_err(|e| e.to_string());
            if w.is_err() {
                runtime.sidekiq.forget(&flow.component).await;
            }
            w.map(|w| (w, keys))
        };
        let (w, keys) =
            match tokio::time::timeout(crate::sources::sidekiq::BROWSE_DEADLINE, read).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    let message = format!("reading the next batch failed ({e}); {}", p.line());
                    return finished(action, Outcome::Failed, message, last);
                }
                Err(_) => {
                    runtime.sidekiq.forget(&flow.component).await;
                    let message = format!("reading the next batch took too long; {}", p.line());
                    return finished(action, Outcome::Failed, message, last);
                }
            };
        if !started {
            p.total = w.total;
            started = true;
        }
        if w.entries.is_empty() || p.looked_at() >= p.total {
            let message = format!("done in {} batches: {}", p.batches, p.line());
            return finished(action, Outcome::Ok, message, last);
        }
        let budget = usize::try_from(p.total - p.looked_at()).unwrap_or(usize::MAX);
        let entries = &w.entries[..w.entries.len().min(budget)];
        let (taken, examined) = browse::take_matching(entries, FLOW_BATCH, |e| takes(&flow, e));
        let now = SystemTime::now();
        let set = Set::from_name(flow.set);
        let items: Vec<(String, String, String)> = taken
            .iter()
            .filter_map(|e| {
                let member = std::str::from_utf8(e.member.reveal()).ok()?;
                let (queue, json) = requeue_with(set, e, member, clock_of(member), now)?;
                Some((member.to_string(), queue, json))
            })
            .collect();
        // Looked at and staying in the set: the next read starts after them.
        let stays = (examined - items.len()) as u64;
        p.passed += stays;
        cursor += stays;
        if items.is_empty() {
            continue;
        }
        let batch = batch_action(&flow, &keys, &items, p.batches + 1, &p);
        let executor = runtime.executor_for(&batch);
        let result = runtime
            .pipeline
            .run(&batch, confirmation.clone(), None, executor.as_deref())
            .await;
        if result.outcome != Outcome::Ok {
            let message = format!(
                "batch {} did not run: {}; {}",
                p.batches + 1,
                result.message,
                p.line()
            );
            let outcome = result.outcome;
            return finished(action, outcome, message, Some(result));
        }
        let Some((moved, gone)) = batch_counts(&result.message) else {
            let message = format!(
                "batch {} ran but its result could not be read ({}); stopped: {}",
                p.batches + 1,
                result.message,
                p.line()
            );
            return finished(action, Outcome::Failed, message, Some(result));
        };
        p.moved += moved;
        p.gone += gone;
        p.batches += 1;
        progress(&p);
        last = Some(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_replies_are_read_back() {
        assert_eq!(
            batch_counts("Retry all …, batch 3: 50 jobs: done (enqueued 48, already gone 2)"),
            Some((48, 2))
        );
        assert_eq!(batch_counts("refused"), None);
    }

    #[test]
    fn progress_reads_like_the_operator_says_it() {
        let p = Progress {
            total: 12_000,
            moved: 350,
            gone: 3,
            ..Progress::default()
        };
        assert_eq!(
            p.line(),
            format!(
                "moved 350 of {}; 3 already gone",
                format_value(12_000.0, Unit::Count)
            )
        );
    }

    #[test]
    fn a_flow_is_named_by_its_action() {
        let action = Action {
            kind: KIND.into(),
            title: "t".into(),
            target: crate::actions::action::Target {
                component: "sidekiq/main".into(),
                object: "dead set class Mail\u{1b}er".into(),
                name: "dead".into(),
                identity: None,
            },
            risk: Risk::High,
            operations: Vec::new(),
            precondition: None,
            cooldown: Duration::ZERO,
            deadline: Duration::ZERO,
        };
        let flow = Flow::of(&action).expect("a flow");
        assert_eq!(flow.set, SetName::Dead);
        assert_eq!(flow.class.as_deref(), Some("Mail\u{1b}er"));
        let mut other = action.clone();
        other.kind = "sidekiq.retry_batch".into();
        assert_eq!(Flow::of(&other), None);
    }

    #[test]
    fn an_abort_is_shared_by_its_clones() {
        let a = Abort::new();
        let b = a.clone();
        b.stop();
        assert!(a.stopped());
        assert_eq!(a, b);
        assert_ne!(a, Abort::new());
    }
}
