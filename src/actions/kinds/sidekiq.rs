//! Sidekiq actions, written straight to Sidekiq's Redis the way its Web UI acts
//! (sidekiq.md §3), but with every job mutation exact-member and atomic:
//!
//! | kind | on | risk | what runs |
//! |---|---|---|---|
//! | `sidekiq.retry_job` | a retry, scheduled or dead row | low | one `EVAL`: `ZREM set member`, and only if that removed it `SADD queues q` + `LPUSH queue:q json` |
//! | `sidekiq.delete_job` | a retry, scheduled or dead row | low | one `EVAL`: `ZREM set member` (+ the job's unique-jobs lock) |
//! | `sidekiq.kill_job` | a retry row | low | one `EVAL`: `ZREM retry member` → `ZADD dead now member`, Sidekiq's trims (+ lock) |
//! | `sidekiq.retry_batch` | the retry or dead set, or one class in it | high | one `EVAL` per batch of exact members |
//! | `sidekiq.retry_all` | the retry or dead set, or one class in it | high | a flow of `sidekiq.retry_batch`es, each read with one bounded `ZRANGE` ([`retry_all`]) |
//! | `sidekiq.clear_queue` | a queue row | high | `MULTI`, `UNLINK queue:q`, `SREM queues q`, `EXEC` |
//! | `sidekiq.clear_set` | the retry or dead set | high | `UNLINK retry` / `UNLINK dead` |
//! | `sidekiq.quiet_process` | a process row | low (high for the last active one) | `MULTI`, `LPUSH id-signals TSTP`, `EXPIRE id-signals 60`, `EXEC` |
//! | `sidekiq.stop_process` | a process row | high | the same with `TERM` |
//!
//! A job can be taken by Sidekiq's poller or a worker at any moment between the reading and
//! the write. The exact member is the compare-and-swap value: a script that finds it gone
//! changes nothing and says "already gone", so a job is never lost (the push happens in the
//! same script as the removal) nor duplicated (a removed member cannot be removed twice).

mod clear;
mod jobs;
mod payload;
pub mod retry_all;
mod signals;

use std::time::{Duration, SystemTime};

use crate::actions::Action;
use crate::actions::action::{Check, Operation, Risk, Target};
use crate::actions::catalog::Selected;
use crate::model::Reading;
use crate::sources::sidekiq::browse::SetName;
use crate::sources::sidekiq::{Keys, Layout, SidekiqReading};

/// Single-object actions: one script, one round trip.
const DEADLINE: Duration = Duration::from_secs(10);
/// A batch script moves up to a page of jobs, each a few kilobytes.
const BATCH_DEADLINE: Duration = Duration::from_secs(30);

/// The three sorted sets, by their Redis key names (without the namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Set {
    Retry,
    Scheduled,
    Dead,
}

impl Set {
    /// The key, and what the operator types to confirm a high-risk action on the set.
    fn key(self) -> &'static str {
        match self {
            Set::Retry => "retry",
            Set::Scheduled => "schedule",
            Set::Dead => "dead",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Set::Retry => "retry set",
            Set::Scheduled => "scheduled set",
            Set::Dead => "dead set",
        }
    }

    /// The set's detail table, by the start of its title (`Retries (first 50 of 230)`).
    fn from_table(title: &str) -> Option<Set> {
        [
            ("Retries", Set::Retry),
            ("Scheduled", Set::Scheduled),
            ("Dead", Set::Dead),
        ]
        .into_iter()
        .find_map(|(prefix, set)| title.starts_with(prefix).then_some(set))
    }

    fn name(self) -> SetName {
        match self {
            Set::Retry => SetName::Retry,
            Set::Scheduled => SetName::Scheduled,
            Set::Dead => SetName::Dead,
        }
    }

    fn from_name(name: SetName) -> Set {
        match name {
            SetName::Retry => Set::Retry,
            SetName::Scheduled => Set::Scheduled,
            SetName::Dead => Set::Dead,
        }
    }

    fn total(self, r: &SidekiqReading) -> u64 {
        match self {
            Set::Retry => r.retries,
            Set::Scheduled => r.scheduled,
            Set::Dead => r.dead,
        }
    }
}

/// What every builder needs: where the actions go, the reading they are built from, the
/// key names with the namespace, and one clock for all of them.
struct Ctx<'a> {
    component: &'a str,
    reading: &'a SidekiqReading,
    keys: Keys,
    now: SystemTime,
}

impl Ctx<'_> {
    fn target(&self, object: String, name: &str, identity: Option<String>) -> Target {
        Target {
            component: self.component.to_string(),
            object,
            name: name.to_string(),
            identity,
        }
    }

    /// 8.x writes integer milliseconds; a job already written that way keeps the unit even
    /// before the layout is known (no live process yet).
    fn clock_for(&self, member: &str) -> payload::Clock {
        let job_millis =
            crate::sources::sidekiq::parse_job(member.as_bytes()).is_some_and(|j| j.millis);
        if job_millis || self.reading.layout == Layout::V8.describe() {
            payload::Clock::Millis
        } else {
            payload::Clock::Seconds
        }
    }
}

/// The actions on the Sidekiq component: the selected row's first (a job, a queue, a
/// process), then those on the whole retry and dead sets.
pub fn offer(
    component: &str,
    reading: &dyn Reading,
    selected: Option<Selected<'_>>,
) -> Vec<Action> {
    let Some(reading) = reading.as_any().downcast_ref::<SidekiqReading>() else {
        return Vec::new();
    };
    let ctx = Ctx {
        component,
        reading,
        keys: Keys::new(reading.namespace.as_deref()),
        now: SystemTime::now(),
    };
    let mut out = Vec::new();
    if let Some(selected) = selected {
        if let Some(set) = Set::from_table(selected.table) {
            out.extend(jobs::for_row(&ctx, set, selected.key));
        } else if selected.table.starts_with("Queues") {
            out.extend(clear::queue(&ctx, selected.key));
        } else if selected.table.starts_with("Processes") {
            out.extend(signals::for_process(&ctx, selected.key));
        }
    }
    for set in [Set::Retry, Set::Dead] {
        out.extend(retry_all::plan(&ctx, set, None));
        out.extend(jobs::whole_set_batch(&ctx, set));
        out.extend(clear::set(&ctx, set));
    }
    out
}

struct Spec {
    kind: &'static str,
    title: String,
    target: Target,
    risk: Risk,
    operations: Vec<Operation>,
    precondition: Option<Check>,
    cooldown: Duration,
    deadline: Duration,
}

fn build(s: Spec) -> Action {
    Action {
        kind: s.kind.into(),
        title: s.title,
        target: s.target,
        risk: s.risk,
        operations: s.operations,
        precondition: s.precondition,
        cooldown: s.cooldown,
        deadline: s.deadline,
    }
}

fn redis(argv: Vec<String>) -> Operation {
    Operation::redis(argv)
}

/// An argument of a script: mastop's own (a queue name, a lock digest) shown as it is, or
/// a job's exact JSON, members' data, sent as it is and shown only by its fingerprint.
enum Arg {
    Shown(String),
    Job(String),
}

/// `EVAL script numkeys keys… args…`, with the positions of job payloads marked private.
fn eval(script: &str, keys: Vec<String>, args: Vec<Arg>) -> Operation {
    let first_arg = 3 + keys.len();
    let private = args
        .iter()
        .enumerate()
        .filter(|(_, a)| matches!(a, Arg::Job(_)))
        .map(|(i, _)| first_arg + i)
        .collect();
    let args = args
        .into_iter()
        .map(|a| match a {
            Arg::Shown(s) | Arg::Job(s) => s,
        })
        .collect();
    Operation::Redis {
        argv: eval_argv(script, keys, args),
        private,
    }
}

fn eval_argv(script: &str, keys: Vec<String>, args: Vec<String>) -> Vec<String> {
    let mut argv = vec![
        "EVAL".to_string(),
        script.to_string(),
        keys.len().to_string(),
    ];
    argv.extend(keys);
    argv.extend(args);
    argv
}

/// `MULTI`, the commands, `EXEC`: how Sidekiq's own API sends these (each run opens its own
/// connection, so nothing else can slip into the transaction).
fn transaction(commands: Vec<Vec<String>>) -> Vec<Operation> {
    let mut ops = vec![redis(vec!["MULTI".into()])];
    ops.extend(commands.into_iter().map(redis));
    ops.push(redis(vec!["EXEC".into()]));
    ops
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_tables_are_told_apart_by_their_titles() {
        assert_eq!(
            Set::from_table("Retries (first 50 of 230)"),
            Some(Set::Retry)
        );
        assert_eq!(
            Set::from_table("Scheduled (first 1 of 1)"),
            Some(Set::Scheduled)
        );
        assert_eq!(Set::from_table("Dead (first 2 of 2)"), Some(Set::Dead));
        assert_eq!(Set::from_table("Queues"), None);
        assert_eq!(Set::Scheduled.key(), "schedule");
    }

    #[test]
    fn eval_counts_its_keys() {
        let op = eval(
            "return 1",
            vec!["a".into(), "b".into()],
            vec![Arg::Shown("x".into()), Arg::Job("y@example.org".into())],
        );
        assert_eq!(
            op.display(),
            format!(
                "EVAL «return 1» 2 a b x {}",
                crate::actions::fingerprint::of("y@example.org")
            )
        );
    }
}
