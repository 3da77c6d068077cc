//! Clearing a queue, the retry set or the dead set, exactly as Sidekiq's Web UI does it.
//!
//! Jobs cleared this way may hold sidekiq-unique-jobs locks. Finding them would mean reading
//! every job of the queue or set inside Redis (Mastodon's own patch turns `Queue#clear`
//! into one `LREM` per job), which blocks Redis for as long as the queue is big; the locks
//! are instead left to the unique-jobs reaper (Mastodon: 1,000 every 10 minutes), and the
//! title says so. Deleting a single job removes its lock at once.

use std::time::Duration;

use super::{Ctx, DEADLINE, Set, Spec, argv, build, redis, transaction};
use crate::actions::Action;
use crate::actions::action::{Check, Risk};

/// Two clears of the same thing within this long are almost certainly a double keypress.
const COOLDOWN: Duration = Duration::from_secs(10);

const LOCKS_NOTE: &str = "unique-jobs locks of the cleared jobs are left to the reaper";

/// `MULTI; UNLINK queue:q; SREM queues q; EXEC` (`Queue#clear`). Offered for any queue in
/// the `queues` set, empty ones included: that is how a stale name leaves the set.
pub(super) fn queue(ctx: &Ctx<'_>, name: &str) -> Option<Action> {
    let q = ctx.reading.queues.iter().find(|q| q.name == name)?;
    let queues = ctx.keys.key("queues");
    let list = ctx.keys.queue(name);
    Some(build(Spec {
        kind: "sidekiq.clear_queue",
        title: format!(
            "Clear queue {name}: drop its {} waiting jobs (running jobs finish; {LOCKS_NOTE})",
            q.size
        ),
        target: ctx.target(format!("queue {name}"), name, None),
        risk: Risk::High,
        operations: transaction(vec![
            argv(&["UNLINK", &list]),
            argv(&["SREM", &queues, name]),
        ]),
        precondition: Some(Check::Redis {
            argv: argv(&["SISMEMBER", &queues, name]),
            expect: "1".into(),
        }),
        cooldown: COOLDOWN,
        deadline: DEADLINE,
    }))
}

/// `UNLINK retry` / `UNLINK dead` (`JobSet#clear`), when the reading counted any.
pub(super) fn set(ctx: &Ctx<'_>, set: Set) -> Option<Action> {
    let total = set.total(ctx.reading);
    if total == 0 {
        return None;
    }
    let key = ctx.keys.key(set.key());
    Some(build(Spec {
        kind: "sidekiq.clear_set",
        title: format!(
            "Clear the {}: drop all {total} jobs in it ({LOCKS_NOTE})",
            set.label()
        ),
        target: ctx.target(set.label().to_string(), set.key(), None),
        risk: Risk::High,
        operations: vec![redis(argv(&["UNLINK", &key]))],
        precondition: Some(Check::Redis {
            argv: argv(&["EXISTS", &key]),
            expect: "1".into(),
        }),
        cooldown: COOLDOWN,
        deadline: DEADLINE,
    }))
}
