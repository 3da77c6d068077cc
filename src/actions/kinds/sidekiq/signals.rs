//! Quiet and stop a Sidekiq process through its signals list, as Sidekiq's API does
//! (`Process#signal`): the process pops one signal per heartbeat and sends it to itself.
//!
//! Sidekiq sends whatever name it pops (`KILL` included), so the signal is a closed type
//! here: only `TSTP` (quiet) and `TERM` (stop) can ever be built.

use std::time::Duration;

use super::{Ctx, DEADLINE, Spec, argv, build, transaction};
use crate::actions::Action;
use crate::actions::action::{Check, Operation, Risk};
use crate::sources::sidekiq::{Keys, SidekiqProcess};

/// A second signal within one heartbeat would only queue behind the first.
const COOLDOWN: Duration = Duration::from_secs(10);

/// The only signals mastop sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// `TSTP`: finish running jobs, fetch no more; also stops that process's
    /// retry/scheduled poller.
    Quiet,
    /// `TERM`: shut down; unfinished jobs go back to their queues.
    Stop,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Quiet => "TSTP",
            Signal::Stop => "TERM",
        }
    }
}

/// `MULTI; LPUSH <identity>-signals SIG; EXPIRE <identity>-signals 60; EXEC`. The expiry
/// matters when the identity is a ghost: nobody pops the list, and it goes away.
pub fn signal_operations(keys: &Keys, identity: &str, signal: Signal) -> Vec<Operation> {
    let list = keys.key(&format!("{identity}-signals"));
    transaction(vec![
        argv(&["LPUSH", &list, signal.name()]),
        argv(&["EXPIRE", &list, "60"]),
    ])
}

pub(super) fn for_process(ctx: &Ctx<'_>, identity: &str) -> Vec<Action> {
    let Some(p) = ctx
        .reading
        .process_list
        .iter()
        .find(|p| p.identity == identity)
    else {
        return Vec::new();
    };
    // A ghost (hash expired, identity still listed) pops nothing: a signal would only
    // sit in its list until the expiry.
    if p.info_missing {
        return Vec::new();
    }
    let host = if p.hostname.is_empty() {
        identity
    } else {
        &p.hostname
    };
    let who = format!("Sidekiq on {host} (pid {})", p.pid);
    let stale = if p.stale {
        " [heartbeat stale: it may not answer]"
    } else {
        ""
    };
    let target = || {
        ctx.target(
            format!("process {identity}"),
            host,
            Some(identity.to_string()),
        )
    };
    let precondition = || {
        Some(Check::Redis {
            argv: argv(&["EXISTS", &ctx.keys.key(identity)]),
            expect: "1".into(),
        })
    };
    let mut out = Vec::new();
    if !p.quiet {
        let last = is_last_active(&ctx.reading.process_list, p);
        // Quieting the last active process stops all work, and with it the enqueuing of
        // retries and scheduled jobs: worth typing the host for.
        let (risk, consequence) = if last {
            (
                Risk::High,
                "it is the last active process: no job will run, and retries and scheduled jobs stop being enqueued",
            )
        } else {
            (
                Risk::Low,
                "it takes no new jobs; with every process quiet, retries and scheduled jobs stop being enqueued",
            )
        };
        out.push(build(Spec {
            kind: "sidekiq.quiet_process",
            title: format!("Quiet {who} (TSTP): {consequence}{stale}"),
            target: target(),
            risk,
            operations: signal_operations(&ctx.keys, identity, Signal::Quiet),
            precondition: precondition(),
            cooldown: COOLDOWN,
            deadline: DEADLINE,
        }));
    }
    out.push(build(Spec {
        kind: "sidekiq.stop_process",
        title: format!(
            "Stop {who} (TERM): unfinished jobs go back to their queues; Mastodon's systemd unit (Restart=always) starts it again{stale}"
        ),
        target: target(),
        risk: Risk::High,
        operations: signal_operations(&ctx.keys, identity, Signal::Stop),
        precondition: precondition(),
        cooldown: COOLDOWN,
        deadline: DEADLINE,
    }));
    out
}

/// Whether `p` is the only live process that is not quiet yet.
fn is_last_active(all: &[SidekiqProcess], p: &SidekiqProcess) -> bool {
    !all.iter()
        .any(|o| o.identity != p.identity && !o.quiet && !o.stale && !o.info_missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tstp_and_term_can_be_built() {
        let keys = Keys::new(Some("ns"));
        for (signal, name) in [(Signal::Quiet, "TSTP"), (Signal::Stop, "TERM")] {
            let shown: Vec<String> = signal_operations(&keys, "web-1:42:0123456789ab", signal)
                .iter()
                .map(Operation::display)
                .collect();
            assert_eq!(
                shown,
                [
                    "MULTI".to_string(),
                    format!("LPUSH ns:web-1:42:0123456789ab-signals {name}"),
                    "EXPIRE ns:web-1:42:0123456789ab-signals 60".to_string(),
                    "EXEC".to_string(),
                ]
            );
        }
    }
}
