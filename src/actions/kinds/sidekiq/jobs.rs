//! Actions on jobs in the retry, scheduled and dead sets: one job by its exact member, or a
//! batch of exact members from the page on screen.
//!
//! **Bulk retries are bounded batches.** A batch moves the members on the page the
//! operator sees (at most [`BATCH`]) with one script, as its own guarded, audited action. A
//! class batch takes only that class's jobs on the page. Retrying a whole set or class is
//! the retry-all flow ([`super::retry_all`]): one confirmation, then batches one after
//! another, each read afresh.

use std::time::Duration;

use super::payload::{self, Clock};
use super::{Arg, BATCH_DEADLINE, Ctx, DEADLINE, Set, Spec, build, eval, eval_argv};
use crate::actions::Action;
use crate::actions::action::{Check, Risk};
use crate::sources::sidekiq::{Keys, SetEntry};

/// Most jobs one batch moves. The reading's page ([`crate::sources::sidekiq::SET_PAGE`]) is
/// smaller today, so in practice a batch is that page.
pub const BATCH: usize = 100;

// Each script opens with a comment of exactly the length `Operation::display` keeps of a
// long argument, so the confirmation and the audit log say which script runs.

/// Precondition of a single-job action: the exact member is still in the set at the score
/// it had when selected. Scores are compared as numbers, because Redis prints them with 17
/// digits (or, from 7.2, the shortest form) while the row key uses Ruby's shortest form.
const STILL_THERE: &str = "\
-- member still at score
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s then return 'gone' end
if tonumber(s) == tonumber(ARGV[2]) then return 'at score ' .. ARGV[2] end
return 'moved to score ' .. s";

/// KEYS: set, queues, queue:q. ARGV: member, q, new job JSON.
const RETRY: &str = "\
-- if ZREM ok SADD+LPUSH
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 'already gone: nothing changed' end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[3])
return 'enqueued 1 job to ' .. KEYS[3]";

/// KEYS: set, queues, then queue:q of each job. ARGV: (member, q, new job JSON) per job.
pub(super) const RETRY_BATCH: &str = "\
-- each: if ZREM: LPUSH.
local moved, gone = 0, 0
for i = 1, #ARGV, 3 do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('SADD', KEYS[2], ARGV[i + 1])
    redis.call('LPUSH', KEYS[2 + (i + 2) / 3], ARGV[i + 2])
    moved = moved + 1
  else
    gone = gone + 1
  end
end
return 'enqueued ' .. moved .. ', already gone ' .. gone";

/// KEYS: set, then optionally the lock's digests set and its five keys. ARGV: member, digest.
const DELETE: &str = "\
-- ZREM member, its lock
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 'already gone: nothing changed' end
if #KEYS > 1 then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('UNLINK', unpack(KEYS, 3))
  return 'deleted 1 job and its unique-jobs lock'
end
return 'deleted 1 job'";

/// Sidekiq's `DeadSet#kill`: the member is added as it is, scored with the time of death,
/// then the set is trimmed to 180 days and 9,999 entries. The lock goes as Mastodon's death
/// handler (sidekiq-unique-jobs) would remove it. KEYS: retry, dead, then optionally the
/// lock's digests set and its five keys. ARGV: member, digest.
const KILL: &str = "\
-- if ZREM: ZADD to dead
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 'already gone: nothing changed' end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[2], string.format('%.6f', now), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.6f', now - 15552000))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -10000)
if #KEYS > 2 then
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('UNLINK', unpack(KEYS, 4))
  return 'moved 1 job to the dead set and removed its unique-jobs lock'
end
return 'moved 1 job to the dead set'";

/// A sidekiq-unique-jobs lock a job holds (`lock_digest`, e.g. `uniquejobs:<md5>`): left in
/// place after a raw delete it refuses identical jobs until the reaper finds it.
#[derive(Clone, Debug, PartialEq)]
enum Lock {
    None,
    /// The digest, and the keys to remove: its digests set first, then the lock keys.
    Held {
        digest: String,
        keys: Vec<String>,
    },
    /// A `lock_digest` that does not look like one; its keys are not derived from it.
    Unrecognised,
}

impl Lock {
    fn of(keys: &Keys, member: &str) -> Lock {
        let Ok(job) = serde_json::from_str::<serde_json::Value>(member) else {
            return Lock::None;
        };
        let Some(value) = job.get("lock_digest") else {
            return Lock::None;
        };
        let Some(digest) = value.as_str() else {
            return Lock::Unrecognised;
        };
        // `<lock_prefix>:<hex digest>`; anything else would have mastop delete keys named
        // by whatever the payload says.
        let valid = digest.rsplit_once(':').is_some_and(|(prefix, hash)| {
            !prefix.is_empty()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-:".contains(c))
                && (16..=128).contains(&hash.len())
                && hash.chars().all(|c| c.is_ascii_hexdigit())
        });
        let Some((prefix, _)) = digest.rsplit_once(':').filter(|_| valid) else {
            return Lock::Unrecognised;
        };
        let mut lock_keys = vec![keys.key(&format!("{prefix}:digests"))];
        lock_keys.extend(
            ["", ":QUEUED", ":PRIMED", ":LOCKED", ":INFO"]
                .iter()
                .map(|suffix| keys.key(&format!("{digest}{suffix}"))),
        );
        Lock::Held {
            digest: digest.to_string(),
            keys: lock_keys,
        }
    }

    /// Extra KEYS and ARGV for a script that removes the lock with the job.
    fn script_parts(&self) -> (Vec<String>, Vec<String>) {
        match self {
            Lock::Held { digest, keys } => (keys.clone(), vec![digest.clone()]),
            _ => (Vec::new(), Vec::new()),
        }
    }

    fn title_note(&self) -> &'static str {
        match self {
            Lock::None => "",
            Lock::Held { .. } => ", with its unique-jobs lock",
            Lock::Unrecognised => {
                " (its lock_digest is not recognised: the lock is left to the unique-jobs reaper)"
            }
        }
    }
}

/// How a job is named in titles: class and jid, never its arguments.
fn job_name(e: &SetEntry) -> String {
    let class = if e.class.is_empty() {
        "unreadable"
    } else {
        &e.class
    };
    let jid = if e.jid.is_empty() { "?" } else { &e.jid };
    format!("{class} job {jid}")
}

fn still_there(ctx: &Ctx<'_>, set: Set, member: &str, e: &SetEntry) -> Check {
    let key = ctx.keys.key(set.key());
    // Short enough that the executor's reply text (cut at 80 characters) is never cut.
    let expect = format!("at score {}", e.score_text);
    Check::Redis {
        argv: eval_argv(
            STILL_THERE,
            vec![key],
            vec![member.to_string(), e.score_text.clone()],
        ),
        expect,
    }
}

/// The queue a retried job goes to and its new JSON; `None` when the job cannot be
/// rewritten exactly (unreadable, no queue).
fn requeue(ctx: &Ctx<'_>, set: Set, e: &SetEntry, member: &str) -> Option<(String, String)> {
    if e.unreadable || e.queue.is_empty() {
        return None;
    }
    requeue_with(set, e, member, ctx.clock_for(member), ctx.now)
}

/// [`requeue`] with the clock chosen by the caller.
pub(super) fn requeue_with(
    set: Set,
    e: &SetEntry,
    member: &str,
    clock: Clock,
    now: std::time::SystemTime,
) -> Option<(String, String)> {
    if e.unreadable || e.queue.is_empty() {
        return None;
    }
    // Sidekiq's `SortedEntry#retry` lowers the count (a manual retry is not a failure);
    // `add_to_queue` for scheduled jobs does not.
    let decrement = set != Set::Scheduled;
    let json = payload::requeued(member, decrement, clock, now)?;
    Some((e.queue.clone(), json))
}

/// Retry now, delete, kill (retry set only) and the class batch, for the row `key`.
pub(super) fn for_row(ctx: &Ctx<'_>, set: Set, key: &str) -> Vec<Action> {
    let members = ctx.reading.members_for_action(set.key());
    let Some(&(e, member)) = members.iter().find(|(e, _)| e.key() == key) else {
        return Vec::new();
    };
    let set_key = ctx.keys.key(set.key());
    let object = format!("{} {}", set.key(), e.key());
    let target = || ctx.target(object.clone(), set.key(), Some(e.key()));
    let name = job_name(e);
    let lock = Lock::of(&ctx.keys, member);
    let mut out = Vec::new();

    if let Some((queue, json)) = requeue(ctx, set, e, member) {
        let title = match set {
            Set::Scheduled => format!("Enqueue scheduled {name} now, into queue {queue}"),
            _ => format!(
                "Retry {name} now: from the {} into queue {queue}",
                set.label()
            ),
        };
        out.push(build(Spec {
            kind: "sidekiq.retry_job",
            title,
            target: target(),
            risk: Risk::Low,
            operations: vec![eval(
                RETRY,
                vec![
                    set_key.clone(),
                    ctx.keys.key("queues"),
                    ctx.keys.queue(&queue),
                ],
                vec![
                    Arg::Job(member.to_string()),
                    Arg::Shown(queue.clone()),
                    Arg::Job(json),
                ],
            )],
            precondition: Some(still_there(ctx, set, member, e)),
            cooldown: Duration::ZERO,
            deadline: DEADLINE,
        }));
    }

    // One job, named by class and jid in the title: a single confirmation is enough, as in
    // Sidekiq's Web UI; the blast radius is that job.
    let (lock_keys, lock_args) = lock.script_parts();
    let mut keys = vec![set_key.clone()];
    keys.extend(lock_keys.iter().cloned());
    let mut args = vec![Arg::Job(member.to_string())];
    args.extend(lock_args.iter().cloned().map(Arg::Shown));
    out.push(build(Spec {
        kind: "sidekiq.delete_job",
        title: format!(
            "Delete {name} from the {}{}",
            set.label(),
            lock.title_note()
        ),
        target: target(),
        risk: Risk::Low,
        operations: vec![eval(DELETE, keys, args)],
        precondition: Some(still_there(ctx, set, member, e)),
        cooldown: Duration::ZERO,
        deadline: DEADLINE,
    }));

    if set == Set::Retry {
        // Low risk: the job is not lost, it can be retried from the dead set.
        let mut keys = vec![set_key.clone(), ctx.keys.key("dead")];
        keys.extend(lock_keys);
        let mut args = vec![Arg::Job(member.to_string())];
        args.extend(lock_args.into_iter().map(Arg::Shown));
        out.push(build(Spec {
            kind: "sidekiq.kill_job",
            title: format!(
                "Kill {name}: move it from the retry set to the dead set{}",
                lock.title_note()
            ),
            target: target(),
            risk: Risk::Low,
            operations: vec![eval(KILL, keys, args)],
            precondition: Some(still_there(ctx, set, member, e)),
            cooldown: Duration::ZERO,
            deadline: DEADLINE,
        }));
    }

    if set != Set::Scheduled && !e.class.is_empty() && !e.unreadable {
        out.extend(super::retry_all::plan(ctx, set, Some(&e.class)));
        out.extend(batch(ctx, set, Some(&e.class)));
    }
    out
}

/// The next batch of the whole retry or dead set.
pub(super) fn whole_set_batch(ctx: &Ctx<'_>, set: Set) -> Option<Action> {
    batch(ctx, set, None)
}

/// One batch of exact members from the page, all of them or one class's. High risk: many
/// jobs run again at once (a retry storm against remote servers on Mastodon), so the
/// operator types the set's name.
fn batch(ctx: &Ctx<'_>, set: Set, class: Option<&str>) -> Option<Action> {
    let members = ctx.reading.members_for_action(set.key());
    let mut keys = vec![ctx.keys.key(set.key()), ctx.keys.key("queues")];
    let mut args = Vec::new();
    for (e, member) in members
        .iter()
        .filter(|(e, _)| class.is_none_or(|c| e.class == c))
        .take(BATCH)
    {
        let Some((queue, json)) = requeue(ctx, set, e, member) else {
            continue;
        };
        keys.push(ctx.keys.queue(&queue));
        args.extend([
            Arg::Job(member.to_string()),
            Arg::Shown(queue),
            Arg::Job(json),
        ]);
    }
    let count = args.len() / 3;
    if count == 0 {
        return None;
    }
    let total = set.total(ctx.reading);
    let (object, what) = match class {
        Some(c) => (
            format!("{} class {c}", set.label()),
            format!(
                "the {count} {c} jobs on the first page of the {}",
                set.label()
            ),
        ),
        None => (
            set.label().to_string(),
            format!("the next {count} jobs of the {}", set.label()),
        ),
    };
    let more = if total > count as u64 {
        format!(" ({total} in the set; one batch of at most {BATCH}: run again for the next)")
    } else {
        format!(" ({total} in the set)")
    };
    Some(build(Spec {
        kind: "sidekiq.retry_batch",
        title: format!("Retry {what} now{more}"),
        target: ctx.target(object, set.key(), None),
        risk: Risk::High,
        operations: vec![eval(RETRY_BATCH, keys, args)],
        precondition: Some(Check::Redis {
            argv: vec!["EXISTS".into(), ctx.keys.key(set.key())],
            expect: "1".into(),
        }),
        cooldown: Duration::ZERO,
        deadline: BATCH_DEADLINE,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_script_opens_with_its_summary_and_is_shown_whole() {
        for (script, shown) in [
            (STILL_THERE, "-- member still at score"),
            (RETRY, "-- if ZREM ok SADD+LPUSH"),
            (RETRY_BATCH, "-- each: if ZREM: LPUSH."),
            (DELETE, "-- ZREM member, its lock"),
            (KILL, "-- if ZREM: ZADD to dead"),
        ] {
            let op =
                crate::actions::Operation::redis(eval_argv(script, vec!["retry".into()], vec![]));
            // The confirmation shows the whole script, opening with its one-line summary.
            assert_eq!(op.display(), format!("EVAL «{script}» 1 retry"));
            assert!(script.starts_with(shown), "{script}");
        }
    }

    #[test]
    fn a_lock_digest_names_its_keys_under_the_namespace() {
        let keys = Keys::new(Some("mastodon"));
        let member = r#"{"class":"X","lock":"until_executed","lock_digest":"uniquejobs:0f1e2d3c4b5a69788796a5b4c3d2e1f0"}"#;
        let d = "uniquejobs:0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        assert_eq!(
            Lock::of(&keys, member),
            Lock::Held {
                digest: d.into(),
                keys: vec![
                    "mastodon:uniquejobs:digests".into(),
                    format!("mastodon:{d}"),
                    format!("mastodon:{d}:QUEUED"),
                    format!("mastodon:{d}:PRIMED"),
                    format!("mastodon:{d}:LOCKED"),
                    format!("mastodon:{d}:INFO"),
                ],
            }
        );
    }

    #[test]
    fn a_strange_lock_digest_names_no_keys() {
        let keys = Keys::new(None);
        for digest in [
            "\"queues\"",
            "\"uniquejobs:\"",
            "\"uniquejobs:not-hex-at-all-zzzzzzzzzzzz\"",
            "\":0f1e2d3c4b5a69788796a5b4c3d2e1f0\"",
            "\"uniquejobs:0f1e* 2d3c4b5a69788796a5b4c3d2e1f0\"",
            "42",
        ] {
            let member = format!(r#"{{"class":"X","lock_digest":{digest}}}"#);
            assert_eq!(Lock::of(&keys, &member), Lock::Unrecognised, "{digest}");
        }
        assert_eq!(Lock::of(&keys, r#"{"class":"X"}"#), Lock::None);
        assert_eq!(Lock::of(&keys, "not json"), Lock::None);
    }
}
