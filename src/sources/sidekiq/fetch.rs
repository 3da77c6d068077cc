//! The Redis round trips behind a Sidekiq reading, and the decoding of their answers.
//!
//! Cost per poll (P processes, Q queues in the `queues` set):
//! - **stats refresh, every poll: exactly 2 round trips**, whatever P, Q or the job counts.
//!   1. `GET stat:processed`, `GET stat:failed`, `ZCARD schedule|retry|dead`,
//!      `SCARD processes`, `SMEMBERS processes`, `SMEMBERS queues` (9 commands);
//!   2. `HMGET <identity> info busy beat quiet rss rtt_us` per process, and `LLEN` plus
//!      `LINDEX -1` per queue, `default` always included (P + 2·Q' commands, Q' = Q ∪
//!      {default}). Each is O(1) except SMEMBERS, O(P + Q).
//! - **extras, every [`EXTRAS_INTERVAL`](super::EXTRAS_INTERVAL): 1 round trip**:
//!   `HGETALL <identity>:work` (and `:workers` while the layout is unknown) for up to
//!   [`MAX_WORK_PROCESSES`] processes (O(concurrency) each), `ZRANGE … 0 49 WITHSCORES` on
//!   retry and schedule, `ZREVRANGE dead 0 49 WITHSCORES` (O(log n + 50) each), and
//!   `LRANGE queue:N 0 49` for up to [`MAX_SAMPLED_QUEUES`] non-empty queues (O(50) each,
//!   from the head, never walking the list).
//! - **history, every [`HISTORY_INTERVAL`](super::HISTORY_INTERVAL): 1 round trip**: two
//!   `MGET`s of 30 daily keys.
//!
//! Bytes are bounded by count, not size: `LINDEX -1` returns the whole oldest job, as
//! Sidekiq's own latency check does, so a 10 MB job at a queue's tail costs 10 MB per poll
//! until it is taken (only a Lua script could read one field of it).
//!
//! No KEYS, no SCAN. Every pipeline runs with `ignore_errors`, so a key of the wrong type
//! answers that one command with WRONGTYPE and the rest of the reading stands.

use std::collections::{BTreeMap, HashMap};

use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};

use super::jobs::{BusyJob, ClassCount, DailyStat, Private, SetEntry};
use super::parse::{self, JobFields};

/// Entries read from the head of each sorted set.
pub const SET_PAGE: isize = 50;
/// Jobs sampled from the head (newest end) of each queue for the class breakdown.
pub const CLASS_SAMPLE: isize = 50;
pub const MAX_SAMPLED_QUEUES: usize = 32;
/// Processes whose work hashes are read per extras round.
pub const MAX_WORK_PROCESSES: usize = 64;
pub const MAX_BUSY_JOBS: usize = 200;
/// Members of `processes` looked at per refresh. Sidekiq itself walks all of them, but a
/// Redis that lost TTLs once held ~24k ghosts (sidekiq#6127).
pub const MAX_PROCESSES: usize = 2000;
pub const HISTORY_DAYS: u64 = 30;

/// Key names with the optional namespace prefix. Set members are never prefixed.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(namespace: Option<&str>) -> Self {
        Keys {
            prefix: namespace
                .filter(|n| !n.is_empty())
                .map(|n| format!("{n}:"))
                .unwrap_or_default(),
        }
    }
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
    pub fn queue(&self, name: &str) -> String {
        format!("{}queue:{name}", self.prefix)
    }
}

pub(super) fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes()),
        _ => None,
    }
}

pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Double(d) => Some(*d as i64),
        other => std::str::from_utf8(bytes(other)?).ok()?.trim().parse().ok(),
    }
}

fn text(v: &Value) -> Option<String> {
    bytes(v).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn members(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) | Value::Set(items) => items.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

/// `(member, score)` pairs from a WITHSCORES answer, flat (RESP2) or paired (RESP3).
fn scored(v: &Value) -> Vec<(&[u8], String)> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    let score_text = |s: &Value| match s {
        Value::Double(d) => Some(d.to_string()),
        other => text(other),
    };
    if items.iter().all(|i| matches!(i, Value::Array(_))) {
        items
            .iter()
            .filter_map(|pair| match pair {
                Value::Array(p) => Some((bytes(p.first()?)?, score_text(p.get(1)?)?)),
                _ => None,
            })
            .collect()
    } else {
        items
            .chunks_exact(2)
            .filter_map(|c| Some((bytes(&c[0])?, score_text(&c[1])?)))
            .collect()
    }
}

/// `(field, value)` pairs from HGETALL, flat (RESP2) or a map (RESP3).
pub(super) fn hash_pairs(v: &Value) -> Vec<(String, &[u8])> {
    match v {
        Value::Map(pairs) => pairs
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, bytes(v)?)))
            .collect(),
        Value::Array(items) => items
            .chunks_exact(2)
            .filter_map(|c| Some((text(&c[0])?, bytes(&c[1])?)))
            .collect(),
        _ => Vec::new(),
    }
}

fn is_wrongtype(v: &Value) -> bool {
    matches!(v, Value::ServerError(e) if e.code() == "WRONGTYPE")
}

/// Collects what could not be read, per kind, so a thousand bad entries make one line.
#[derive(Default)]
pub struct Problems(BTreeMap<String, u64>);

impl Problems {
    pub fn add(&mut self, what: impl Into<String>) {
        *self.0.entry(what.into()).or_default() += 1;
    }
    /// A server error answering one command (WRONGTYPE, NOPERM…), kept as a problem.
    pub(super) fn check(&mut self, key: &str, v: &Value) {
        if let Value::ServerError(e) = v {
            if is_wrongtype(v) {
                self.add(format!("{key} holds the wrong type of value for Sidekiq"));
            } else {
                self.add(format!("{key}: {e}"));
            }
        }
    }
    pub fn into_lines(self) -> Vec<String> {
        self.0
            .into_iter()
            .map(|(what, n)| {
                if n > 1 {
                    format!("{what} (×{n})")
                } else {
                    what
                }
            })
            .collect()
    }
}

/// The counters and membership lists of round 1.
#[derive(Debug, Default)]
pub struct Round1 {
    pub processed: u64,
    pub failed: u64,
    pub scheduled: u64,
    pub retries: u64,
    pub dead: u64,
    pub processes: u64,
    pub identities: Vec<String>,
    pub queue_names: Vec<String>,
}

/// One process's heartbeat hash, from round 2.
#[derive(Debug, Default)]
pub struct Heartbeat {
    pub identity: String,
    pub info: Option<Vec<u8>>,
    pub busy: u64,
    pub beat: Option<f64>,
    pub quiet: bool,
    pub rss_kb: u64,
    pub rtt_us: Option<u64>,
}

/// One queue, from round 2.
#[derive(Debug, Default)]
pub struct QueueRaw {
    pub name: String,
    pub size: u64,
    pub oldest: Option<Vec<u8>>,
    /// Whether it is in the `queues` set (only those count towards `enqueued`).
    pub listed: bool,
}

pub struct Refresh {
    pub round1: Round1,
    pub heartbeats: Vec<Heartbeat>,
    pub queues: Vec<QueueRaw>,
}

pub(super) async fn run(
    pipe: &mut redis::Pipeline,
    connection: &mut MultiplexedConnection,
) -> Result<Vec<Value>, RedisError> {
    pipe.ignore_errors().query_async(connection).await
}

/// The stats refresh: two pipelined round trips.
pub async fn refresh(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    problems: &mut Problems,
) -> Result<Refresh, RedisError> {
    let mut pipe = redis::pipe();
    pipe.get(keys.key("stat:processed"))
        .get(keys.key("stat:failed"))
        .zcard(keys.key("schedule"))
        .zcard(keys.key("retry"))
        .zcard(keys.key("dead"))
        .scard(keys.key("processes"))
        .smembers(keys.key("processes"))
        .smembers(keys.key("queues"));
    let answers = run(&mut pipe, connection).await?;
    let names = [
        "stat:processed",
        "stat:failed",
        "schedule",
        "retry",
        "dead",
        "processes",
        "processes",
        "queues",
    ];
    for (name, answer) in names.iter().zip(&answers) {
        problems.check(&keys.key(name), answer);
    }
    let at = |i: usize| answers.get(i).unwrap_or(&Value::Nil);
    // Sidekiq's `.to_i`: nil and junk are 0.
    let counter = |i: usize| int(at(i)).and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let mut identities = members(at(6));
    identities.sort();
    if identities.len() > MAX_PROCESSES {
        problems.add(format!(
            "{} members in processes: only the first {MAX_PROCESSES} are read (stale identities? see sidekiq#6127)",
            identities.len()
        ));
        identities.truncate(MAX_PROCESSES);
    }
    let round1 = Round1 {
        processed: counter(0),
        failed: counter(1),
        scheduled: counter(2),
        retries: counter(3),
        dead: counter(4),
        processes: counter(5),
        identities,
        queue_names: members(at(7)),
    };

    let mut queue_names = round1.queue_names.clone();
    queue_names.sort();
    queue_names.dedup();
    let default_listed = queue_names.iter().any(|q| q == "default");
    let mut queues: Vec<QueueRaw> = queue_names
        .iter()
        .map(|name| QueueRaw {
            name: name.clone(),
            listed: true,
            ..QueueRaw::default()
        })
        .collect();
    if !default_listed {
        // Stats#default_queue_latency reads queue:default whether or not it is listed.
        queues.push(QueueRaw {
            name: "default".into(),
            ..QueueRaw::default()
        });
    }

    let mut pipe = redis::pipe();
    for id in &round1.identities {
        pipe.cmd("HMGET")
            .arg(keys.key(id))
            .arg(&["info", "busy", "beat", "quiet", "rss", "rtt_us"]);
    }
    for q in &queues {
        pipe.llen(keys.queue(&q.name))
            .lindex(keys.queue(&q.name), -1);
    }
    let answers = run(&mut pipe, connection).await?;
    let mut answers = answers.into_iter();
    let mut heartbeats = Vec::with_capacity(round1.identities.len());
    for id in &round1.identities {
        let answer = answers.next().unwrap_or(Value::Nil);
        problems.check(&keys.key(id), &answer);
        let fields = match &answer {
            Value::Array(f) => f.as_slice(),
            _ => &[],
        };
        let field = |i: usize| fields.get(i).unwrap_or(&Value::Nil);
        heartbeats.push(Heartbeat {
            identity: id.clone(),
            info: bytes(field(0)).map(<[u8]>::to_vec),
            busy: int(field(1))
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            beat: text(field(2)).and_then(|b| b.trim().parse::<f64>().ok()),
            quiet: bytes(field(3)) == Some(b"true"),
            rss_kb: int(field(4))
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            rtt_us: int(field(5)).and_then(|n| u64::try_from(n).ok()),
        });
    }
    for q in &mut queues {
        let len = answers.next().unwrap_or(Value::Nil);
        let oldest = answers.next().unwrap_or(Value::Nil);
        problems.check(&keys.queue(&q.name), &len);
        q.size = int(&len).and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        q.oldest = bytes(&oldest).map(<[u8]>::to_vec);
    }
    Ok(Refresh {
        round1,
        heartbeats,
        queues,
    })
}

/// What the extras round read.
#[derive(Debug, Default)]
pub struct Extras {
    pub busy_jobs: Vec<BusyJob>,
    pub retry: Vec<SetEntry>,
    pub scheduled: Vec<SetEntry>,
    pub dead: Vec<SetEntry>,
    pub classes: Vec<ClassCount>,
    /// Which work-hash suffix answered: `Some(":workers")` for ≤ 6.4.1.
    pub work_suffix: Option<&'static str>,
    /// A timestamp in integer milliseconds was seen (8.x).
    pub millis: bool,
    pub problems: Vec<String>,
}

/// The extras round: busy jobs, set first pages and class samples, one round trip.
/// `suffixes` are the work-hash suffixes to try (`:work`, and `:workers` unless the layout
/// is known to be 6.4.2 or later).
pub async fn extras(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    identities: &[String],
    sample_queues: &[String],
    suffixes: &[&'static str],
    now: f64,
) -> Result<Extras, RedisError> {
    let identities = &identities[..identities.len().min(MAX_WORK_PROCESSES)];
    let sample_queues = &sample_queues[..sample_queues.len().min(MAX_SAMPLED_QUEUES)];
    let mut pipe = redis::pipe();
    for id in identities {
        for suffix in suffixes {
            pipe.hgetall(keys.key(&format!("{id}{suffix}")));
        }
    }
    pipe.cmd("ZRANGE")
        .arg(keys.key("retry"))
        .arg(0)
        .arg(SET_PAGE - 1)
        .arg("WITHSCORES")
        .cmd("ZRANGE")
        .arg(keys.key("schedule"))
        .arg(0)
        .arg(SET_PAGE - 1)
        .arg("WITHSCORES")
        .cmd("ZREVRANGE")
        .arg(keys.key("dead"))
        .arg(0)
        .arg(SET_PAGE - 1)
        .arg("WITHSCORES");
    for q in sample_queues {
        pipe.lrange(keys.queue(q), 0, CLASS_SAMPLE - 1);
    }
    let answers = run(&mut pipe, connection).await?;
    let mut answers = answers.into_iter();
    let mut out = Extras::default();
    let mut problems = Problems::default();

    for id in identities {
        for suffix in suffixes {
            let answer = answers.next().unwrap_or(Value::Nil);
            problems.check(&keys.key(&format!("{id}{suffix}")), &answer);
            let pairs = hash_pairs(&answer);
            if !pairs.is_empty() {
                out.work_suffix = Some(suffix);
            }
            for (thread, value) in pairs {
                if out.busy_jobs.len() >= MAX_BUSY_JOBS {
                    break;
                }
                let (job, millis) = busy_job(id, thread, value, now, &mut problems);
                out.millis |= millis;
                out.busy_jobs.push(job);
            }
        }
    }
    for (name, slot) in [("retry", 0), ("schedule", 1), ("dead", 2)] {
        let answer = answers.next().unwrap_or(Value::Nil);
        problems.check(&keys.key(name), &answer);
        let (entries, millis) = set_entries(name, &answer, &mut problems);
        out.millis |= millis;
        match slot {
            0 => out.retry = entries,
            1 => out.scheduled = entries,
            _ => out.dead = entries,
        }
    }
    for q in sample_queues {
        let answer = answers.next().unwrap_or(Value::Nil);
        problems.check(&keys.queue(q), &answer);
        let jobs = match &answer {
            Value::Array(items) => items.as_slice(),
            _ => &[],
        };
        let mut counts: HashMap<String, u64> = HashMap::new();
        for job in jobs {
            let class = bytes(job)
                .and_then(parse::parse_job)
                .map(|f: JobFields| {
                    out.millis |= f.millis;
                    f.display_class().to_string()
                })
                .unwrap_or_else(|| "unparseable".to_string());
            *counts.entry(class).or_default() += 1;
        }
        let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out.classes
            .extend(counts.into_iter().map(|(class, count)| ClassCount {
                queue: q.clone(),
                class,
                count,
                sampled: jobs.len() as u64,
            }));
    }
    out.problems = problems.into_lines();
    Ok(out)
}

/// One busy job from a work-hash field; the flag says whether 8.x milliseconds were seen.
pub(super) fn busy_job(
    process: &str,
    thread: String,
    value: &[u8],
    now: f64,
    problems: &mut Problems,
) -> (BusyJob, bool) {
    match parse::parse_work(value) {
        Some(work) => {
            let fields = work.job.clone().unwrap_or_default();
            let job = BusyJob {
                process: process.to_string(),
                thread,
                queue: work.queue,
                class: fields.display_class().to_string(),
                jid: fields.jid.clone(),
                running_s: work.run_at.map(|at| now - at),
                unreadable: work.job.is_none(),
            };
            (job, fields.millis)
        }
        None => {
            problems.add("busy job entries could not be read");
            let job = BusyJob {
                process: process.to_string(),
                thread,
                unreadable: true,
                ..BusyJob::default()
            };
            (job, false)
        }
    }
}

/// The entries of a `ZRANGE … WITHSCORES` answer on the set `name`, in the answer's order,
/// with the exact members kept private; the flag says whether 8.x milliseconds were seen.
pub(super) fn set_entries(
    name: &str,
    answer: &Value,
    problems: &mut Problems,
) -> (Vec<SetEntry>, bool) {
    let mut millis = false;
    let entries = scored(answer)
        .into_iter()
        .map(|(member, score_text)| {
            let job = parse::parse_job(member);
            if job.is_none() {
                problems.add(format!("{name} entries could not be read"));
            }
            let fields = job.clone().unwrap_or_default();
            millis |= fields.millis;
            let score: f64 = score_text.parse().unwrap_or(f64::NAN);
            SetEntry {
                score,
                score_text: ruby_float(score),
                jid: fields.jid.clone(),
                class: fields.display_class().to_string(),
                queue: fields.queue.clone(),
                error_class: fields.error_class.clone(),
                retry_count: fields.retry_count,
                unreadable: job.is_none(),
                member: Private::new(member),
            }
        })
        .collect();
    (entries, millis)
}

/// A score as Ruby's `Float#to_s` prints it (shortest round-trip digits, `.0` on whole
/// numbers), which is how Sidekiq's Web UI names an entry: Redis itself answers with 17
/// significant digits (`1795679279.1229999` for `1795679279.123`), the same double.
pub fn ruby_float(score: f64) -> String {
    if score.is_finite() && score.fract() == 0.0 && score.abs() < 1e16 {
        format!("{score:.1}")
    } else {
        score.to_string()
    }
}

/// `YYYY-MM-DD` (UTC) of the day `days_ago` before `now`.
pub fn utc_date(now_epoch: u64, days_ago: u64) -> String {
    let day = (now_epoch / 86_400).saturating_sub(days_ago);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(day * 86_400);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .chars()
        .take(10)
        .collect()
}

/// Daily history, oldest first: two MGETs of [`HISTORY_DAYS`] keys, as the Web UI's
/// dashboard does.
pub async fn history(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    now_epoch: u64,
) -> Result<Vec<DailyStat>, RedisError> {
    let dates: Vec<String> = (0..HISTORY_DAYS)
        .rev()
        .map(|d| utc_date(now_epoch, d))
        .collect();
    let mut pipe = redis::pipe();
    for stat in ["processed", "failed"] {
        let names: Vec<String> = dates
            .iter()
            .map(|d| keys.key(&format!("stat:{stat}:{d}")))
            .collect();
        pipe.mget(names);
    }
    let answers = run(&mut pipe, connection).await?;
    let column = |i: usize| -> Vec<u64> {
        match answers.get(i) {
            Some(Value::Array(values)) => values
                .iter()
                .map(|v| int(v).and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
                .collect(),
            _ => Vec::new(),
        }
    };
    let (processed, failed) = (column(0), column(1));
    Ok(dates
        .into_iter()
        .enumerate()
        .map(|(i, date)| DailyStat {
            date,
            processed: processed.get(i).copied().unwrap_or(0),
            failed: failed.get(i).copied().unwrap_or(0),
        })
        .collect())
}

/// Now, in epoch seconds: the time latencies and ages of one read are judged at.
pub(super) fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_keys_prefix_names_but_not_members() {
        let k = Keys::new(Some("mastodon"));
        assert_eq!(k.key("stat:processed"), "mastodon:stat:processed");
        assert_eq!(k.queue("pull"), "mastodon:queue:pull");
        assert_eq!(Keys::new(None).queue("pull"), "queue:pull");
        assert_eq!(Keys::new(Some("")).key("retry"), "retry");
    }

    #[test]
    fn scores_print_like_ruby_floats() {
        assert_eq!(
            ruby_float("1795679279.1229999".parse().unwrap_or(0.0)),
            "1795679279.123"
        );
        assert_eq!(ruby_float(1795679279.0), "1795679279.0");
        assert_eq!(ruby_float(0.5), "0.5");
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(utc_date(0, 0), "1970-01-01");
        assert_eq!(utc_date(86_400 * 31 + 5, 1), "1970-01-31");
        assert_eq!(utc_date(5, 3), "1970-01-01", "never before the epoch");
    }

    #[test]
    fn scored_answers_in_both_protocols() {
        let flat = Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"1.5".to_vec()),
            Value::BulkString(b"b".to_vec()),
        ]);
        assert_eq!(scored(&flat), vec![(&b"a"[..], "1.5".to_string())]);
        let paired = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"a".to_vec()),
            Value::Double(2.0),
        ])]);
        assert_eq!(scored(&paired), vec![(&b"a"[..], "2".to_string())]);
    }

    #[test]
    fn problems_collapse_per_kind() {
        let mut p = Problems::default();
        p.add("retry entries could not be read");
        p.add("retry entries could not be read");
        p.add("queue:x holds the wrong type of value for Sidekiq");
        assert_eq!(
            p.into_lines(),
            vec![
                "queue:x holds the wrong type of value for Sidekiq",
                "retry entries could not be read (×2)"
            ]
        );
    }
}
