//! Reading Sidekiq's JSON the way Sidekiq does, tolerant of every version's shape and of
//! whatever else may sit in its keys. Pure functions, so each layout is tested without a
//! server.
//!
//! Versions differ (reference: sidekiq.md §0–§1):
//! - timestamps are float epoch seconds up to 7.x and integer epoch milliseconds in 8.x;
//!   the unit is told by magnitude, which also copes with a mix during a rolling upgrade;
//! - process `info` gains `version` and `weights` in 7.x;
//! - a busy job's `payload` is a JSON *string* (encoded twice) in every version seen, but an
//!   object is accepted too.

use serde::Deserialize;
use serde_json::Value as Json;

/// Epoch values above this are milliseconds: in seconds it would be the year 5138.
const MILLIS_ABOVE: f64 = 1e11;

/// A timestamp in epoch seconds, from either unit.
pub fn epoch_secs(v: &Json) -> Option<f64> {
    let n = v.as_f64().filter(|n| n.is_finite())?;
    Some(if n.abs() > MILLIS_ABOVE {
        n / 1000.0
    } else {
        n
    })
}

/// Whether a timestamp is in 8.x's integer milliseconds.
pub fn is_millis(v: &Json) -> bool {
    v.as_f64().is_some_and(|n| n.abs() > MILLIS_ABOVE)
}

/// The fields of a job payload mastop shows. Everything else (notably `args` and
/// `error_message`, which can hold users' posts) is skipped while parsing, never copied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobFields {
    pub jid: String,
    pub class: String,
    /// The ActiveJob class inside `JobWrapper`/`Sidekiq::ActiveJob::Wrapper`.
    pub wrapped: Option<String>,
    pub queue: String,
    pub enqueued_at: Option<f64>,
    pub created_at: Option<f64>,
    pub failed_at: Option<f64>,
    pub error_class: Option<String>,
    pub retry_count: Option<i64>,
    /// Whether a timestamp was in integer milliseconds (8.x).
    pub millis: bool,
}

impl JobFields {
    /// What the operator knows the job as: the ActiveJob class when wrapped.
    pub fn display_class(&self) -> &str {
        self.wrapped.as_deref().unwrap_or(&self.class)
    }

    /// When the job entered its queue: 8.x falls back to `created_at`.
    pub fn queued_at(&self) -> Option<f64> {
        self.enqueued_at.or(self.created_at)
    }
}

/// Only the fields used: serde skips the others (`args`, `error_message`, backtraces)
/// without building values for them.
#[derive(Deserialize)]
struct RawJob {
    #[serde(default)]
    jid: Option<Json>,
    #[serde(default)]
    class: Option<Json>,
    #[serde(default)]
    wrapped: Option<Json>,
    #[serde(default)]
    queue: Option<Json>,
    #[serde(default)]
    enqueued_at: Option<Json>,
    #[serde(default)]
    created_at: Option<Json>,
    #[serde(default)]
    failed_at: Option<Json>,
    #[serde(default)]
    error_class: Option<Json>,
    #[serde(default)]
    retry_count: Option<Json>,
}

fn string_of(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

/// Parses a job payload. `None` when it is not a JSON object (binary junk, a bare string,
/// truncated text): the caller shows it as unparseable and keeps counting.
pub fn parse_job(bytes: &[u8]) -> Option<JobFields> {
    // serde would also read a struct from a JSON array, by position; a job is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let raw: RawJob = serde_json::from_slice(bytes).ok()?;
    let millis = [&raw.enqueued_at, &raw.created_at, &raw.failed_at]
        .into_iter()
        .flatten()
        .any(is_millis);
    let wrapped = string_of(raw.wrapped.as_ref()).filter(|w| !w.is_empty());
    Some(JobFields {
        jid: string_of(raw.jid.as_ref()).unwrap_or_default(),
        class: string_of(raw.class.as_ref()).unwrap_or_default(),
        wrapped,
        queue: string_of(raw.queue.as_ref()).unwrap_or_default(),
        enqueued_at: raw.enqueued_at.as_ref().and_then(epoch_secs),
        created_at: raw.created_at.as_ref().and_then(epoch_secs),
        failed_at: raw.failed_at.as_ref().and_then(epoch_secs),
        error_class: string_of(raw.error_class.as_ref()),
        retry_count: raw.retry_count.as_ref().and_then(Json::as_i64),
        millis,
    })
}

/// Queue latency as Sidekiq computes it from the oldest job (`LINDEX queue:N -1`):
/// `now - (enqueued_at || created_at)`; 0 for an empty queue, and 0 (Stats' rescue) for a
/// job that cannot be read. The flag says the job could not be read.
pub fn latency(oldest: Option<&[u8]>, now: f64) -> (f64, bool) {
    let Some(bytes) = oldest else {
        return (0.0, false);
    };
    match parse_job(bytes) {
        Some(job) => match job.queued_at() {
            Some(at) => (now - at, false),
            None => (0.0, false),
        },
        None => (0.0, true),
    }
}

/// A process's `info` hash field, as far as it parses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessInfo {
    pub hostname: String,
    pub pid: u32,
    pub tag: String,
    pub concurrency: u32,
    pub queues: Vec<String>,
    /// `(queue, weight)` from 7.x's `weights`, merged over capsules.
    pub weights: Vec<(String, i64)>,
    pub version: Option<String>,
    pub started_at: Option<f64>,
    pub embedded: bool,
    /// Capsules (7.x+ `weights` entries, 8.x `capsules`); 1 for a 6.x process.
    pub capsules: u32,
    /// The database pool the process says it has, from a `db_pool=N` (or `db_pool:N`)
    /// label. Sidekiq does not report it itself; operators who label their processes
    /// with it get the pool-versus-concurrency check.
    pub db_pool: Option<u32>,
}

/// Parses `info`. `None` when it is not a JSON object.
pub fn parse_process_info(bytes: &[u8]) -> Option<ProcessInfo> {
    let json: Json = serde_json::from_slice(bytes).ok()?;
    let obj = json.as_object()?;
    let text = |k: &str| string_of(obj.get(k)).unwrap_or_default();
    let queues: Vec<String> = obj
        .get("queues")
        .and_then(Json::as_array)
        .map(|qs| qs.iter().filter_map(|q| string_of(Some(q))).collect())
        .unwrap_or_default();
    let mut weights: Vec<(String, i64)> = Vec::new();
    let mut add_weights = |map: &serde_json::Map<String, Json>| {
        for (queue, w) in map {
            if !weights.iter().any(|(q, _)| q == queue) {
                weights.push((queue.clone(), w.as_i64().unwrap_or(0)));
            }
        }
    };
    let mut capsules = 0u32;
    match obj.get("weights") {
        Some(Json::Array(list)) => list.iter().filter_map(Json::as_object).for_each(|m| {
            capsules += 1;
            add_weights(m);
        }),
        Some(Json::Object(map)) => {
            capsules += 1;
            add_weights(map);
        }
        _ => {}
    }
    // 8.x: `capsules` is name → {concurrency, mode, weights}; 8.1 drops the top-level
    // `queues` and `weights`, so the capsules are the only account of what is served.
    let mut capsule_queues: Vec<String> = Vec::new();
    if let Some(Json::Object(caps)) = obj.get("capsules") {
        capsules = 0;
        for cap in caps.values().filter_map(Json::as_object) {
            capsules += 1;
            if let Some(Json::Object(map)) = cap.get("weights") {
                capsule_queues.extend(map.keys().cloned());
                add_weights(map);
            }
        }
    }
    let queues = if queues.is_empty() {
        // JSON objects come back in key order, so Mastodon's priority order is restored.
        let mut q = capsule_queues;
        q.sort_by_key(|name| {
            let rank = super::queues::MASTODON_QUEUES
                .iter()
                .position(|m| m == name);
            (rank.unwrap_or(usize::MAX), name.clone())
        });
        q.dedup();
        q
    } else {
        queues
    };
    // JSON objects come back in key order here, so the priority order is taken from the
    // `queues` list, which Sidekiq writes in the order it was configured.
    let rank = |q: &str| queues_rank(&queues, q);
    weights.sort_by_key(|(q, w)| (rank(q), std::cmp::Reverse(*w)));
    Some(ProcessInfo {
        hostname: text("hostname"),
        pid: obj
            .get("pid")
            .and_then(Json::as_u64)
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(0),
        tag: text("tag"),
        concurrency: obj
            .get("concurrency")
            .and_then(Json::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0),
        queues,
        weights,
        version: string_of(obj.get("version")).filter(|v| !v.is_empty()),
        started_at: obj.get("started_at").and_then(epoch_secs),
        embedded: obj.get("embedded").and_then(Json::as_bool).unwrap_or(false),
        capsules: capsules.max(1),
        db_pool: obj
            .get("labels")
            .and_then(Json::as_array)
            .and_then(|labels| {
                labels
                    .iter()
                    .filter_map(Json::as_str)
                    .find_map(db_pool_label)
            }),
    })
}

/// `db_pool=25`, `db_pool:25` or `DB_POOL=25` as a process label.
fn db_pool_label(label: &str) -> Option<u32> {
    let (name, value) = label.split_once(['=', ':'])?;
    if !name.trim().eq_ignore_ascii_case("db_pool") {
        return None;
    }
    value.trim().parse().ok()
}

fn queues_rank(queues: &[String], queue: &str) -> usize {
    queues.iter().position(|q| q == queue).unwrap_or(usize::MAX)
}

/// One entry of `IDENTITY:work(ers)`: `{"queue":…,"payload":"<job JSON>","run_at":…}`.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkEntry {
    pub queue: String,
    pub run_at: Option<f64>,
    /// `None` when the payload does not parse.
    pub job: Option<JobFields>,
}

pub fn parse_work(bytes: &[u8]) -> Option<WorkEntry> {
    let json: Json = serde_json::from_slice(bytes).ok()?;
    let obj = json.as_object()?;
    let job = match obj.get("payload") {
        Some(Json::String(s)) => parse_job(s.as_bytes()),
        Some(Json::Object(_)) => obj
            .get("payload")
            .and_then(|p| serde_json::to_vec(p).ok())
            .and_then(|b| parse_job(&b)),
        _ => None,
    };
    Some(WorkEntry {
        queue: string_of(obj.get("queue")).unwrap_or_default(),
        run_at: obj.get("run_at").and_then(epoch_secs),
        job,
    })
}

/// The major version from `"7.3.9"`.
pub fn major_version(version: &str) -> Option<u32> {
    version.split('.').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From sidekiq.md §1, as Debian's 6.4.1 wrote it.
    const RETRY_6: &str = r#"{"retry":3,"queue":"default","backtrace":5,"class":"FlakyJob","args":[1],"jid":"c4f32d1938b9d4f7e11b7c04","created_at":1795678279.5153036,"enqueued_at":1795678279.5153086,"error_message":"boom 1","error_class":"ArgumentError","failed_at":1795678279.5242548,"retry_count":0,"error_backtrace":"eJy1z2EO"}"#;

    #[test]
    fn a_6x_retry_entry_gives_its_fields_and_nothing_private() {
        let job = parse_job(RETRY_6.as_bytes()).expect("valid job");
        assert_eq!(job.jid, "c4f32d1938b9d4f7e11b7c04");
        assert_eq!(job.class, "FlakyJob");
        assert_eq!(job.display_class(), "FlakyJob");
        assert_eq!(job.queue, "default");
        assert_eq!(job.error_class.as_deref(), Some("ArgumentError"));
        assert_eq!(job.retry_count, Some(0));
        assert_eq!(job.enqueued_at, Some(1795678279.5153086));
        assert!(!job.millis);
        assert!(!format!("{job:?}").contains("boom"));
    }

    #[test]
    fn an_8x_job_in_milliseconds_falls_back_to_created_at() {
        let job = br#"{"class":"Sidekiq::ActiveJob::Wrapper","wrapped":"ActionMailer::MailDeliveryJob","queue":"mailers","jid":"a","created_at":1795678279515,"args":[{"arguments":["x@example.org"]}]}"#;
        let fields = parse_job(job).expect("valid");
        assert!(fields.millis);
        assert_eq!(fields.display_class(), "ActionMailer::MailDeliveryJob");
        assert_eq!(fields.queued_at(), Some(1795678279.515));
        let (lat, bad) = latency(Some(job), 1795678289.515);
        assert!(!bad);
        assert!((lat - 10.0).abs() < 1e-6, "{lat}");
    }

    #[test]
    fn unreadable_oldest_jobs_count_as_zero_latency_and_are_flagged() {
        assert_eq!(latency(None, 100.0), (0.0, false));
        assert_eq!(latency(Some(b"not json"), 100.0), (0.0, true));
        assert_eq!(latency(Some(b"\xff\xfe\x00binary"), 100.0), (0.0, true));
        assert_eq!(latency(Some(b"[1,2]"), 100.0), (0.0, true));
        assert_eq!(latency(Some(b"\"a string\""), 100.0), (0.0, true));
        assert_eq!(latency(Some(br#"{"class":"X"}"#), 100.0), (0.0, false));
        assert_eq!(
            latency(Some(br#"{"enqueued_at":"yesterday"}"#), 100.0),
            (0.0, false)
        );
    }

    #[test]
    fn process_info_from_6x_and_7x() {
        let six = br#"{"hostname":"vm","started_at":1795678279.5176704,"pid":23445,"tag":"harness","concurrency":5,"queues":["default","mailers"],"labels":[],"identity":"vm:23445:f2cf2950b719"}"#;
        let p = parse_process_info(six).expect("valid");
        assert_eq!(
            (p.hostname.as_str(), p.pid, p.tag.as_str(), p.concurrency),
            ("vm", 23445, "harness", 5)
        );
        assert_eq!(p.queues, ["default", "mailers"]);
        assert!(p.version.is_none() && p.weights.is_empty());

        let seven = br#"{"hostname":"w1","pid":7,"tag":"mastodon","concurrency":25,"queues":["default","push","pull"],"weights":[{"default":8,"push":6,"pull":0}],"version":"7.3.9","embedded":false,"labels":[]}"#;
        let p = parse_process_info(seven).expect("valid");
        assert_eq!(p.version.as_deref(), Some("7.3.9"));
        assert_eq!(
            p.weights,
            vec![
                ("default".into(), 8),
                ("push".into(), 6),
                ("pull".into(), 0)
            ]
        );
        assert_eq!(major_version("7.3.9"), Some(7));
        assert!(parse_process_info(b"garbage").is_none());
    }

    #[test]
    fn process_info_from_8x_capsules_without_top_level_queues() {
        let eight = br#"{"hostname":"w2","pid":9,"tag":"","concurrency":30,"capsules":{"default":{"concurrency":25,"mode":"weighted","weights":{"default":8,"push":6,"pull":0}},"single":{"concurrency":5,"mode":"strict","weights":{"scheduler":0}}},"labels":["db_pool=20"],"version":"8.1.6","embedded":false}"#;
        let p = parse_process_info(eight).expect("valid");
        assert_eq!(p.capsules, 2);
        assert_eq!(p.queues, ["default", "push", "pull", "scheduler"]);
        assert!(p.weights.contains(&("pull".into(), 0)));
        assert!(p.weights.contains(&("default".into(), 8)));
        assert_eq!(p.db_pool, Some(20));
        assert_eq!(db_pool_label("DB_POOL: 7"), Some(7));
        assert_eq!(db_pool_label("pool=7"), None);
        assert_eq!(db_pool_label("db_pool=lots"), None);
    }

    #[test]
    fn work_entries_with_a_string_or_an_object_payload() {
        let entry = br#"{"queue":"default","payload":"{\"class\":\"SlowJob\",\"jid\":\"j1\",\"args\":[120],\"queue\":\"default\"}","run_at":1795678279}"#;
        let w = parse_work(entry).expect("valid");
        assert_eq!(w.queue, "default");
        assert_eq!(w.run_at, Some(1795678279.0));
        assert_eq!(w.job.expect("payload parses").class, "SlowJob");
        let entry = br#"{"queue":"q","payload":{"class":"Obj","jid":"j2"},"run_at":1795678279000}"#;
        let w = parse_work(entry).expect("valid");
        assert_eq!(w.run_at, Some(1795678279.0));
        assert_eq!(w.job.expect("payload parses").class, "Obj");
        let w = parse_work(br#"{"queue":"q","payload":"junk","run_at":1}"#).expect("valid");
        assert!(w.job.is_none());
    }
}
